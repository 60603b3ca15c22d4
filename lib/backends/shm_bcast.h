/*
 * ipckit: the broadcast ring of the shm: backend (shm:NAME?bcast=...),
 * shm_bcast.c. shm_ring_open.c hands a channel over to it when the name asks
 * for a broadcast object. Not installed.
 */
#ifndef IPCKIT_BACKENDS_SHM_BCAST_H
#define IPCKIT_BACKENDS_SHM_BCAST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "../core/internal.h"

struct ipckit__bcast;

/* Open the broadcast ring @p pname for the channel; *out is a new state
 * (freed by ipckit__bcast_close()) on success, NULL on failure. */
int ipckit__bcast_open(struct ipckit__bcast **out, const ipckit_name *name, const char *pname,
                       unsigned flags, const ipckit_opts *opts, const struct timespec *deadline);
int ipckit__bcast_close(struct ipckit__bcast *b);
int ipckit__bcast_send(struct ipckit__bcast *b, long type, const void *buf, size_t len,
                       const struct timespec *deadline);
ssize_t ipckit__bcast_recv(struct ipckit__bcast *b, long *type, void *buf, size_t cap,
                           const struct timespec *deadline);
int ipckit__bcast_loan(struct ipckit__bcast *b, size_t len, void **buf,
                       const struct timespec *deadline);
int ipckit__bcast_commit(struct ipckit__bcast *b, long type, size_t len, bool publish);
ssize_t ipckit__bcast_borrow(struct ipckit__bcast *b, long *type, const void **buf,
                             const struct timespec *deadline);
int ipckit__bcast_release(struct ipckit__bcast *b, bool consume);
int ipckit__bcast_interrupt(struct ipckit__bcast *b);
int ipckit__bcast_ctl(struct ipckit__bcast *b, int op, void *arg);
/* IPCKIT_CTL_GET_SPIN and IPCKIT_CTL_SET_SPIN, for a broadcast ring and a
 * queue ring alike: the spin budget *spin_max (and *spin, the adapted one)
 * from 0 to @p limit; a set budget ends the automatic choice (*auto_spin).
 * 1 when @p op is neither (the caller goes on), else 0 or the error. */
int ipckit__shm_spin_ctl(int op, void *arg, long limit, long *spin_max, long *spin,
                         bool *auto_spin);
/* The capabilities of the handle (IPCKIT_CAP_FD: a subscriber's only). */
void ipckit__bcast_info(struct ipckit__bcast *b, unsigned *caps, size_t *max_msg);
/* ipckit_fd() of a subscriber: its doorbell socket (shm_bell.h), readable
 * at once when a message (or a gap) is there already. */
int ipckit__bcast_fd(struct ipckit__bcast *b);
/* ipckit_stat_name() of the broadcast ring @p pname, read with pread(). */
int ipckit__bcast_stat(const char *pname, ipckit_stat *out);

#endif /* IPCKIT_BACKENDS_SHM_BCAST_H */
