/*
 * ipckit: helpers shared by the shm: ring backend (shm.c) and the region
 * API (region.c). Not installed.
 *
 * Both keep their state in a POSIX shared-memory object (/dev/shm/NAME)
 * that starts with a header the creator writes before it publishes the
 * header's magic; an opener waits (bounded) for the magic, then validates
 * the header through a callback before using anything in the mapping.
 */
#ifndef IPCKIT_OS_SHM_OBJECT_H
#define IPCKIT_OS_SHM_OBJECT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "../core/internal.h"
#include "lock.h"
#include "records.h"

/* Longest POSIX shm name we accept, with its leading '/'. */
#define IPCKIT__SHMOBJ_NAME_MAX 240

struct ipckit__shmobj_map {
    void *base;
    size_t size;
    bool created;
};

/*
 * Validate an attached mapping. Returns 0, -EINPROGRESS while the creator
 * has not published the header yet, or a negative errno with a detail.
 */
typedef int (*ipckit__shmobj_check_fn)(void *base, size_t size, void *arg);

/* Initialise a freshly created, zeroed mapping; publish the magic last. */
typedef int (*ipckit__shmobj_init_fn)(void *base, size_t size, void *arg);

/* The POSIX shm name ("/NAME") of a parsed name whose target is NAME or /NAME. */
int ipckit__shmobj_posix_name(const ipckit_name *n, char *buf, size_t cap);

/*
 * Create (IPCKIT_CREATE, with IPCKIT_EXCL exclusively) or attach the object
 * @p pname. A created object gets exactly @p opts->mode and @p create_size
 * bytes and is removed again if init fails. An existing one must be a
 * regular file that passes ipckit_backend_check_owner() with @p opts; it
 * is then mapped at its size and checked; a header that stays unpublished until @p deadline (at most
 * a few seconds when NULL) gives -EBADMSG.
 */
int ipckit__shmobj_map(const char *pname, unsigned flags, const ipckit_opts *opts,
                      size_t create_size, ipckit__shmobj_init_fn init,
                      ipckit__shmobj_check_fn check, void *arg, const struct timespec *deadline,
                      struct ipckit__shmobj_map *out);

/*
 * A number that changes in the child at every fork(), so that a handle can
 * tell "locked by this process" without a getpid() system call on the fast
 * path. ipckit__shmobj_fork_watch() must have been called once before.
 */
extern _Atomic unsigned ipckit__shmobj_fork_gen;
void ipckit__shmobj_fork_watch(void);

/* The magic numbers at offset 0 of the kinds of object. */
#define IPCKIT__SHMOBJ_RING_MAGIC 0x52534b49u   /* "IKSR" */
#define IPCKIT__SHMOBJ_REGION_MAGIC 0x47524b49u /* "IKRG" */
#define IPCKIT__SHMOBJ_BCAST_MAGIC 0x42534b49u  /* "IKSB": shm:NAME?bcast=1 */
#define IPCKIT__SHMOBJ_RING 1u   /* a message queue or a broadcast ring */
#define IPCKIT__SHMOBJ_REGION 2u
#define IPCKIT__SHMOBJ_ANY (IPCKIT__SHMOBJ_RING | IPCKIT__SHMOBJ_REGION)

/*
 * Read the first @p cap bytes of object @p pname into @p buf without mapping
 * it (a peer that truncates it cannot fault this process) and without
 * blocking (a FIFO planted under the name is refused), and fill @p sb.
 * Returns the bytes read, or a negative errno with a detail (-EBADMSG for
 * what is not a regular file).
 */
ssize_t ipckit__shmobj_peek(const char *pname, void *buf, size_t cap, struct stat *sb);

/* Remove @p pname if it is an ipckit object of one of @p kinds
 * (IPCKIT__SHMOBJ_RING, _REGION): anything else in /dev/shm is refused with
 * -EINVAL and left alone. A detail on failure. */
int ipckit__shmobj_unlink(const char *pname, unsigned kinds);

/*
 * Both ipckit objects in /dev/shm (ring and region) record their creator:
 * the pid at offset 12 and, at this offset, the creator's start time
 * (field 22 of /proc/PID/stat, clock ticks after boot), so that a pid that
 * was reused is not mistaken for the creator. The object API reads them
 * (backends/shm_objects.c). ipckit__proc_start_time() (os/records.h) reads
 * the start time.
 */
#define IPCKIT__SHMOBJ_CREATOR_START_OFFSET 48

#endif /* IPCKIT_OS_SHM_OBJECT_H */
