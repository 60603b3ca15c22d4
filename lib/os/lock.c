/*
 * ipckit: the PI futex lock of lock.h.
 */
#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../core/internal.h"
#include "lock.h"
#include "shm_object.h"

/* ---- the lock ------------------------------------------------------------ */

#ifndef IPCKIT__LOCK_YIELDS
#define IPCKIT__LOCK_YIELDS 16
#endif

#ifndef FUTEX_LOCK_PI2
#define FUTEX_LOCK_PI2 13
#endif

/* This thread's id, read once per thread and again after fork(). */
_Thread_local uint32_t ipckit__lock_tid IPCKIT__TLS_IE;
_Thread_local unsigned ipckit__lock_tid_gen IPCKIT__TLS_IE;

uint32_t
ipckit__lock_self_slow(void)
{
    ipckit__lock_tid = (uint32_t) syscall(SYS_gettid);
    ipckit__lock_tid_gen = atomic_load_explicit(&ipckit__shmobj_fork_gen, memory_order_relaxed);
    return ipckit__lock_tid;
}

#define shmem_self ipckit__lock_self

static long
shmem_futex(ipckit__lock *l, int op, const struct timespec *ts)
{
    return syscall(SYS_futex, (uint32_t *) l, op, 0, ts, NULL, 0);
}

/* Has FUTEX_LOCK_PI2 (Linux 5.14, CLOCK_MONOTONIC timeouts): 1 yes, 0 no,
 * -1 not known yet. */
static _Atomic int shmem_have_pi2 = -1;

/* FUTEX_LOCK_PI until @p deadline. LOCK_PI2 takes the core's monotonic
 * deadline as it is; the older LOCK_PI measures by CLOCK_REALTIME, so the
 * time left is carried over to that clock. */
static long
shmem_lock_pi(ipckit__lock *l, const struct timespec *deadline)
{
    struct timespec now, real;
    long r;
    if (deadline == NULL || atomic_load_explicit(&shmem_have_pi2, memory_order_relaxed) != 0) {
        r = shmem_futex(l, FUTEX_LOCK_PI2, deadline);
        if (r == 0 || errno != ENOSYS)
            return r;
        atomic_store_explicit(&shmem_have_pi2, 0, memory_order_relaxed);
    }
    if (deadline == NULL)
        return shmem_futex(l, FUTEX_LOCK_PI, NULL);
    (void) clock_gettime(CLOCK_MONOTONIC, &now);
    (void) clock_gettime(CLOCK_REALTIME, &real);
    real.tv_sec += deadline->tv_sec - now.tv_sec;
    real.tv_nsec += deadline->tv_nsec - now.tv_nsec;
    if (real.tv_nsec < 0) {
        real.tv_sec--;
        real.tv_nsec += 1000000000L;
    } else if (real.tv_nsec >= 1000000000L) {
        real.tv_sec++;
        real.tv_nsec -= 1000000000L;
    }
    return shmem_futex(l, FUTEX_LOCK_PI, &real);
}

/*
 * The holder in @p seen is gone and the kernel knows no waiters (it said
 * ESRCH): take the lock over by replacing its word, unless it changed.
 */
static bool
shmem_take_over(ipckit__lock *l, uint32_t dead, uint32_t me)
{
    uint32_t v = atomic_load(l);
    /* The kernel may have set FUTEX_WAITERS meanwhile (it does before it
     * looks for the holder): keep trying while the word names the dead
     * thread. */
    while ((v & FUTEX_TID_MASK) == (dead & FUTEX_TID_MASK))
        if (atomic_compare_exchange_weak(l, &v, me | (v & FUTEX_WAITERS)))
            return true;
    return false;
}

int
ipckit__lock_take_slow(ipckit__lock *l, const struct timespec *deadline)
{
    uint32_t me = shmem_self(), v;
    bool try_once = ipckit_deadline_try_once(deadline);
    for (int spins = 0;; spins++) {
        long r;
        v = atomic_load_explicit(l, memory_order_relaxed);
        if (v == 0) {
            if (atomic_compare_exchange_weak_explicit(l, &v, me, memory_order_acquire,
                                                      memory_order_relaxed))
                return 0;
            continue;
        }
        if ((v & FUTEX_TID_MASK) == me)
            return -EDEADLK; /* this thread holds it, or the word was scribbled */
        /* Held: give the CPU a few times before sleeping. A holder that was
         * preempted, or shares our CPU, needs it; one on another CPU is
         * done by the time we look again. A sleeper is handed the lock by
         * the kernel at the next unlock (FUTEX_UNLOCK_PI), and the lock is
         * then its even before it runs, so that every taker behind it waits
         * for a context switch: sleeping only when yielding did not help
         * keeps contended senders from forming that convoy. No spin on the
         * word first: without the 64 pauses (1.7 us here) that spun there
         * before, 3 senders and 2 receivers left to the scheduler on two
         * CPUs ran 1.40-1.45 times as fast, 4 and 4 1.69-1.92 (spinners
         * kept the CPUs from preempted holders, and pulled the lock's line
         * from a holder about to give it back); on one CPU 0.98-1.01,
         * pinned apart 0.93-1.08 (docs/perf/lock-nospin.txt). */
        if (spins < IPCKIT__LOCK_YIELDS && !try_once) {
            (void) sched_yield();
            continue;
        }
        r = try_once ? shmem_futex(l, FUTEX_TRYLOCK_PI, NULL) : shmem_lock_pi(l, deadline);
        if (r == 0) {
            /* The kernel gave us the lock; it marks the word when it took
             * the lock from a holder that died. */
            v = atomic_load_explicit(l, memory_order_acquire);
            return (v & FUTEX_OWNER_DIED) ? -EOWNERDEAD : 0;
        }
        switch (errno) {
        case EINTR:
            break;
        case ESRCH:
            /* The word names a thread that no longer exists. */
            if (shmem_take_over(l, v, me))
                return -EOWNERDEAD;
            break;
        case EAGAIN: /* try once: held; else the holder is exiting right now */
            if (try_once)
                return -EAGAIN;
            (void) sched_yield();
            break;
        case ETIMEDOUT:
            return -ETIMEDOUT;
        case EDEADLK:
            return -EDEADLK;
        default: /* EINVAL, EPERM, EFAULT: a word no lock of ours could hold */
            return -EBADMSG;
        }
        if (ipckit_deadline_passed(deadline))
            return ipckit_deadline_error(deadline);
    }
}

int
ipckit__lock_give_slow(ipckit__lock *l)
{
    uint32_t me = shmem_self(), v = atomic_load_explicit(l, memory_order_relaxed);
    if ((v & FUTEX_TID_MASK) != me)
        return -EPERM; /* not ours: a peer rewrote it, or another thread holds it */
    /* Waiters sleep in the kernel (or the holder died): the kernel hands
     * the lock on. The no-op release first orders this holder's writes
     * before the handoff in the language's terms too (and shows it to
     * ThreadSanitizer, which does not see the kernel's store). */
    (void) atomic_fetch_or_explicit(l, 0, memory_order_release);
    if (shmem_futex(l, FUTEX_UNLOCK_PI, NULL) == 0)
        return 0;
    return errno == EPERM ? -EPERM : -EBADMSG;
}

