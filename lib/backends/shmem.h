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

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
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
 * @p pname. A created object gets exactly @p opts->mode and @p create_size
 * bytes and is removed again if init fails. An existing one must be a
 * regular file that passes ipckit_backend_check_owner() with @p opts; it
 * is then mapped at its size and checked; a header that stays unpublished until @p deadline (at most
 * a few seconds when NULL) gives -EBADMSG.
 */
int ipckit__shmem_map(void *st, const char *pname, unsigned flags, const ipckit_opts *opts,
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

/* The magic numbers at offset 0 of the two kinds of object. */
#define IPCKIT__SHMEM_RING_MAGIC 0x52534b49u   /* "IKSR" */
#define IPCKIT__SHMEM_REGION_MAGIC 0x47524b49u /* "IKRG" */
#define IPCKIT__SHMEM_RING 1u
#define IPCKIT__SHMEM_REGION 2u
#define IPCKIT__SHMEM_ANY (IPCKIT__SHMEM_RING | IPCKIT__SHMEM_REGION)

/*
 * Read the first @p cap bytes of object @p pname into @p buf without mapping
 * it (a peer that truncates it cannot fault this process) and without
 * blocking (a FIFO planted under the name is refused), and fill @p sb.
 * Returns the bytes read, or a negative errno with a detail (-EBADMSG for
 * what is not a regular file).
 */
ssize_t ipckit__shmem_peek(const char *pname, void *buf, size_t cap, struct stat *sb);

/* Remove @p pname if it is an ipckit object of one of @p kinds
 * (IPCKIT__SHMEM_RING, _REGION): anything else in /dev/shm is refused with
 * -EINVAL and left alone. A detail on failure. */
int ipckit__shmem_unlink(const char *pname, unsigned kinds);

/*
 * Both ipckit objects in /dev/shm (ring and region) record their creator:
 * the pid at offset 12 and, at this offset, the creator's start time
 * (field 22 of /proc/PID/stat, clock ticks after boot), so that a pid that
 * was reused is not mistaken for the creator. "ipckit ls" and
 * "ipckit rm --stale" read them. ipckit__proc_start_time() (core/internal.h)
 * reads the start time.
 */
#define IPCKIT__SHMEM_CREATOR_START_OFFSET 48

/*
 * The lock of a ring side or a region: one 32-bit word in the shared
 * mapping, 0 when free, else the holder's thread id (a Linux PI futex word).
 * Taking and giving it back without contention is one compare-and-swap
 * each; a waiter sleeps in the kernel (FUTEX_LOCK_PI), which hands the lock
 * to it when the holder gives it back, and gives it to it marked
 * FUTEX_OWNER_DIED when the holder dies. The word is all a peer can touch:
 * whatever a peer writes there, the kernel and this code only read and
 * compare-and-swap that word, so a scribbled lock costs an error
 * (-EBADMSG, -EPERM) or a timeout, never a write elsewhere. (A glibc
 * robust mutex keeps list pointers in the shared mapping and writes through
 * them on unlock: docs/security.md.)
 */
typedef _Atomic uint32_t ipckit__lock;

static inline void
ipckit__shmem_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* This thread's id (cached; refreshed after fork()). */
uint32_t ipckit__lock_self(void);

int ipckit__lock_take_slow(ipckit__lock *l, const struct timespec *deadline);
int ipckit__lock_give_slow(ipckit__lock *l);

/*
 * Take @p l until @p deadline (CLOCK_MONOTONIC; NULL forever; the zero time
 * tries once). Returns 0; -EOWNERDEAD when the previous holder died
 * holding it (the lock is now the caller's); -EAGAIN / -ETIMEDOUT;
 * -EDEADLK when the word names this thread; -EBADMSG when the word holds
 * something no lock of ours could (a peer wrote it).
 */
static inline int
ipckit__lock_take(ipckit__lock *l, const struct timespec *deadline)
{
    uint32_t v = 0;
    if (atomic_compare_exchange_strong_explicit(l, &v, ipckit__lock_self(), memory_order_acquire,
                                                memory_order_relaxed))
        return 0;
    return ipckit__lock_take_slow(l, deadline);
}

/* Give @p l back: 0, or -EPERM when the word does not name this thread. */
static inline int
ipckit__lock_give(ipckit__lock *l)
{
    uint32_t v = ipckit__lock_self();
    if (atomic_compare_exchange_strong_explicit(l, &v, 0, memory_order_release,
                                                memory_order_relaxed))
        return 0;
    return ipckit__lock_give_slow(l);
}

#endif /* IPCKIT_SHMEM_H */
