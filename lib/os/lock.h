/*
 * ipckit: a lock in memory that other processes share and may write: a
 * Linux PI futex word. Used by the shm: ring and by regions. Not installed.
 */
#ifndef IPCKIT_OS_LOCK_H
#define IPCKIT_OS_LOCK_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

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
ipckit__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* This thread's id, cached per thread in the initial-exec TLS model and
 * read again after fork() (ipckit__lock_self_slow()). */
extern _Thread_local uint32_t ipckit__lock_tid __attribute__((tls_model("initial-exec")));
extern _Thread_local unsigned ipckit__lock_tid_gen __attribute__((tls_model("initial-exec")));
extern _Atomic unsigned ipckit__shmobj_fork_gen;
uint32_t ipckit__lock_self_slow(void);

static inline uint32_t
ipckit__lock_self(void)
{
    if (ipckit__lock_tid_gen == atomic_load_explicit(&ipckit__shmobj_fork_gen, memory_order_relaxed))
        return ipckit__lock_tid;
    return ipckit__lock_self_slow();
}

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

/*
 * Give @p l back, then a full fence: a store made under the lock is
 * ordered before every load after this (the shm: rings' sleep protocol
 * publishes an index under the lock, then reads the other side's sleepers
 * flag). As Linux's smp_mb__after_atomic(): on x86 the give's locked
 * compare-and-swap is a full fence already, whether it succeeds or not
 * (and the slow path's fetch-or is one too), so only the compiler is kept
 * from moving loads above it; elsewhere a real fence.
 */
static inline void
ipckit__lock_give_fenced(ipckit__lock *l)
{
    (void) ipckit__lock_give(l);
#if defined(__x86_64__) || defined(__i386__)
    atomic_signal_fence(memory_order_seq_cst);
#else
    atomic_thread_fence(memory_order_seq_cst);
#endif
}

#endif /* IPCKIT_OS_LOCK_H */
