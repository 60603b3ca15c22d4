/*
 * ipckit: helpers shared by the shm: ring backend (shm.c) and the region
 * API (region.c). Not installed.
 *
 * Both keep their state in a POSIX shared-memory object (/dev/shm/NAME)
 * that starts with a header the creator writes before it publishes the
 * header's magic; an opener waits (bounded) for the magic, then validates
 * the header through a callback before using anything in the mapping.
 */
#ifndef IPCKIT_SHMEM_H
#define IPCKIT_SHMEM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../core/internal.h"

/* Longest POSIX shm name we accept, with its leading '/'. */
#define IPCKIT__SHMEM_NAME_MAX 240

struct ipckit__shmem_map {
    void *base;
    size_t size;
    bool created;
};

/*
 * Validate an attached mapping. Returns 0, -EINPROGRESS while the creator
 * has not published the header yet, or a negative errno with a detail.
 */
typedef int (*ipckit__shmem_check_fn)(void *st, void *base, size_t size, void *arg);

/* Initialise a freshly created, zeroed mapping; publish the magic last. */
typedef int (*ipckit__shmem_init_fn)(void *st, void *base, size_t size, void *arg);

/* The POSIX shm name ("/NAME") of a parsed name whose target is NAME or /NAME. */
int ipckit__shmem_posix_name(void *st, const ipckit_name *n, char *buf, size_t cap);

/*
 * Create (IPCKIT_CREATE, with IPCKIT_EXCL exclusively) or attach the object
 * @p pname. A created object gets exactly @p mode and @p create_size bytes
 * and is removed again if init fails. An attached one is mapped at its size
 * and checked; a header that stays unpublished until @p deadline (at most
 * a few seconds when NULL) gives -EBADMSG.
 */
int ipckit__shmem_map(void *st, const char *pname, unsigned flags, unsigned mode,
                      size_t create_size, ipckit__shmem_init_fn init,
                      ipckit__shmem_check_fn check, void *arg, const struct timespec *deadline,
                      struct ipckit__shmem_map *out);

/*
 * A number that changes in the child at every fork(), so that a handle can
 * tell "locked by this process" without a getpid() system call on the fast
 * path. ipckit__shmem_fork_watch() must have been called once before.
 */
extern _Atomic unsigned ipckit__shmem_fork_gen;
void ipckit__shmem_fork_watch(void);

/* shm_unlink with a detail. */
int ipckit__shmem_unlink(const char *pname);

/*
 * Both ipckit objects in /dev/shm (ring and region) record their creator:
 * the pid at offset 12 and, at this offset, the creator's start time
 * (field 22 of /proc/PID/stat, clock ticks after boot), so that a pid that
 * was reused is not mistaken for the creator. "ipckit ls" and
 * "ipckit rm --stale" read them. ipckit__proc_start_time() (core/internal.h)
 * reads the start time.
 */
#define IPCKIT__SHMEM_CREATOR_START_OFFSET 48

/* A process-shared, robust, error-checking mutex. */
int ipckit__shmem_mutex_init(pthread_mutex_t *m);

/*
 * Lock @p m until @p deadline (CLOCK_MONOTONIC; NULL forever). Returns 0,
 * -EOWNERDEAD when the previous holder died while holding it (the mutex is
 * held and marked consistent again), -EAGAIN / -ETIMEDOUT, or
 * -ENOTRECOVERABLE.
 */
int ipckit__shmem_mutex_lock(pthread_mutex_t *m, const struct timespec *deadline);

/* Unlock a mutex taken with ipckit__shmem_mutex_lock(); -EBADMSG if its
 * kind word was corrupted meanwhile. */
int ipckit__shmem_mutex_unlock(pthread_mutex_t *m);

#endif /* IPCKIT_SHMEM_H */
