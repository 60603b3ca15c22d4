/*
 * ipckit: the sysvshm: region, on PHP's own objects (sysvshm.c). region.c
 * dispatches the region API to these functions for names of the sysvshm
 * scheme. Not installed.
 */
#ifndef IPCKIT_REGION_SYSVSHM_H
#define IPCKIT_REGION_SYSVSHM_H

#include <stddef.h>
#include <sys/types.h>

#include "../core/internal.h"

struct ipckit__sysvshm;

/* The name parameters of the scheme, for ipckit_name_check_params(). */
extern const char *const ipckit__sysvshm_params[];

/* Open as ipckit_region_open() does; @p o has its defaults and the trust
 * lists merged in. A negative errno with a detail on failure. */
int ipckit__sysvshm_open(struct ipckit__sysvshm **out, const ipckit_name *n, unsigned flags,
                         size_t size, const ipckit_opts *o);
int ipckit__sysvshm_close(struct ipckit__sysvshm *s);
int ipckit__sysvshm_unlink(const ipckit_name *n);
/* The segment's and the semaphore set's keys of a sysvshm: name. */
int ipckit__sysvshm_name_keys(const ipckit_name *n, key_t *shmkey, key_t *semkey);

int ipckit__sysvshm_lock(struct ipckit__sysvshm *s, int timeout_ms);
int ipckit__sysvshm_unlock(struct ipckit__sysvshm *s);
size_t ipckit__sysvshm_size(const struct ipckit__sysvshm *s);
const char *ipckit__sysvshm_last_error(const struct ipckit__sysvshm *s);

int ipckit__sysvshm_put(struct ipckit__sysvshm *s, long key, const void *val, size_t len);
ssize_t ipckit__sysvshm_get(struct ipckit__sysvshm *s, long key, void *buf, size_t cap);
int ipckit__sysvshm_has(struct ipckit__sysvshm *s, long key);
int ipckit__sysvshm_remove(struct ipckit__sysvshm *s, long key);
ssize_t ipckit__sysvshm_keys(struct ipckit__sysvshm *s, long *keys, size_t cap);

#endif /* IPCKIT_REGION_SYSVSHM_H */
