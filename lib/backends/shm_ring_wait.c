/*
 * ipckit backend "shm:": waiting on the message ring (shm_ring.c describes
 * the design): a waiter spins on the index it waits for, adapting its spin
 * to what the spins before it found, and where the peer last ran; then it
 * sleeps on a shared futex word. ipckit_interrupt() ends a wait.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shm_ring_int.h"
#include "../os/barrier.h"

#define RING_YIELDS 2
#define RING_SPIN_YIELD_EVERY 256L
#define RING_SPIN_SLACK_NS 3000L
#define RING_SPIN_PROBE 64u
/* A waiter that could not make the kernel's barrier sleeps this long at most
 * at a time, for a while (ipckit__ring_before_sleep()). */
#define RING_REFUSED_STEP_NS 1000000L
/* A spin that ends within this many pauses is not timed. */
#define RING_SPIN_UNTIMED 64L

/* ---- futex ------------------------------------------------------------- */

static int
ring_futex_wait(_Atomic uint32_t *word, uint32_t val, const struct timespec *deadline)
{
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time; the shared
     * (not _PRIVATE) form works across processes on a MAP_SHARED word. */
    long r = syscall(SYS_futex, (uint32_t *) word, FUTEX_WAIT_BITSET, val, deadline, NULL,
                     FUTEX_BITSET_MATCH_ANY);
    return r < 0 ? -errno : 0;
}

void
ipckit__ring_futex_wake(_Atomic uint32_t *word)
{
    (void) syscall(SYS_futex, (uint32_t *) word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Nanoseconds of one pause, times 16; measured once per process. */
static long ring_pause_ns16 = 16;

void
ipckit__ring_pause_calibrate(void)
{
    long best = LONG_MAX;
    for (int round = 0; round < 3; round++) {
        struct timespec a, b;
        long ns;
        (void) clock_gettime(CLOCK_MONOTONIC, &a);
        for (int i = 0; i < 1024; i++)
            ipckit__cpu_relax();
        (void) clock_gettime(CLOCK_MONOTONIC, &b);
        ns = (b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec);
        if (ns < best)
            best = ns;
    }
    ring_pause_ns16 = best / 64 > 0 ? best / 64 : 1;
}

/* Was the channel interrupted since the last wait that noticed it? */
static inline bool
ring_interrupted(struct ring *s)
{
    unsigned posted = atomic_load(&s->intr_posted);
    if (posted == s->intr_taken)
        return false;
    s->intr_taken = posted;
    return true;
}

/*
 * ipckit_interrupt(): post, then change both futex words and wake their
 * sleepers, so that a waiter that read a word before the post does not
 * sleep on it (others on the ring wake, find nothing new, and sleep
 * again). Async-signal-safe.
 */
int
ipckit__ring_interrupt(void *state)
{
    struct ring *s = state;
    struct ring_hdr *h = s->hdr;
    if (s->bc != NULL)
        return ipckit__bcast_interrupt(s->bc);
    atomic_fetch_add(&s->intr_posted, 1);
    atomic_fetch_add(&h->data_seq, 1);
    ipckit__ring_futex_wake(&h->data_seq);
    atomic_fetch_add(&h->space_seq, 1);
    ipckit__ring_futex_wake(&h->space_seq);
    return 0;
}

/*
 * Wait until *index differs from @p seen: spin, then sleep on @p word.
 * While it spins it waits for a move of @p batch (a sender at a full ring:
 * shm_ring.c, RING_ROOM_BATCH); a smaller move when the spin ends will do.
 * Returns 0 when it may have changed (the caller re-checks), or the
 * deadline's error when it did not change in time.
 */
int
ipckit__ring_wait(struct ring *s, int dir, uint64_t seen, uint64_t batch,
                  const struct timespec *deadline)
{
    struct ring_hdr *h = s->hdr;
    _Atomic uint64_t *index = dir == RING_DATA ? &h->tail : &h->head;
    _Atomic uint32_t *word = dir == RING_DATA ? &h->data_seq : &h->space_seq;
    _Atomic uint32_t *sleepers = dir == RING_DATA ? &h->recv_sleepers : &h->send_sleepers;
    _Atomic int32_t *own_cpu = dir == RING_DATA ? &h->recv_cpu : &h->send_cpu;
    _Atomic int32_t *peer_cpu = dir == RING_DATA ? &h->send_cpu : &h->recv_cpu;
    struct timespec t0 = { 0, 0 }, t1, step;
    const struct timespec *until = deadline;
    uint32_t w;
    long budget;
    int rc, yields = 0;
    if (ring_interrupted(s))
        return -EINTR;
    if (deadline != NULL && ipckit_deadline_passed(deadline))
        return ipckit_deadline_error(deadline);
    budget = s->spin;
    if (s->spin_max > 0 && ++s->spin_fails >= RING_SPIN_PROBE) {
        budget = s->spin_max; /* now and then try the full spin again */
        s->spin_fails = 0;
    }
    if (s->auto_spin) {
        /* The peer last ran on this CPU: while we spin it cannot run, so let
         * it have the CPU a few times, then sleep. A peer on another CPU, or
         * not seen yet, may be running now: spin. This is decided per wait,
         * not from the affinity mask: two processes pinned to different
         * CPUs have one-CPU masks and still gain from the spin. */
        int me = sched_getcpu();
        /* where this side waits, for the other side's own decision */
        if (me >= 0 && atomic_load_explicit(own_cpu, memory_order_relaxed) != me + 1)
            atomic_store_explicit(own_cpu, me + 1, memory_order_relaxed);
        if (s->spin_max == 0 ||
            (me >= 0 && atomic_load_explicit(peer_cpu, memory_order_relaxed) == me + 1)) {
            budget = 0;
            yields = RING_YIELDS;
        }
    }
    if (budget > 0)
        (void) clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < budget; i++) {
        if (atomic_load_explicit(index, memory_order_acquire) - seen >= batch) {
            /* A spin that ran without interruption means the peer runs on
             * another CPU: keep spinning. One that took much longer in wall
             * time than its iterations account for was preempted: the
             * machine is busy, the spin kept the peer from our CPU and a
             * sleep would have cost less. Spin less. A short spin is not
             * timed: the clock read would come between the message and the
             * caller (24 ns here, a round trip has two), and a preemption
             * is far likelier to land in a long spin than in a short one. */
            if (i < RING_SPIN_UNTIMED)
                t1 = t0;
            else
                (void) clock_gettime(CLOCK_MONOTONIC, &t1);
            if ((t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec) <=
                2 * (i * ring_pause_ns16 / 16) + RING_SPIN_SLACK_NS) {
                s->spin = s->spin_max;
                s->spin_fails = 0;
            } else {
                s->spin /= 2;
            }
            return 0;
        }
        ipckit__cpu_relax();
        /* Now and then let a peer that was woken on this CPU run: on a busy
         * machine it may be queued behind our spin. */
        if ((i & (RING_SPIN_YIELD_EVERY - 1)) == RING_SPIN_YIELD_EVERY - 1)
            (void) sched_yield();
    }
    /* It moved, by less than the batch: the peer runs; take what there is. */
    if (budget > 0 && atomic_load_explicit(index, memory_order_acquire) != seen)
        return 0;
    /* it did not: the peer is asleep or has no CPU; spin less next time */
    if (budget > 0)
        s->spin /= 2;
    for (int i = 0; i < yields; i++) {
        (void) sched_yield();
        if (atomic_load_explicit(index, memory_order_acquire) != seen)
            return 0;
    }
    if (ipckit_deadline_passed(deadline))
        return atomic_load(index) != seen ? 0 : ipckit_deadline_error(deadline);
    w = atomic_load(word);
    atomic_store(sleepers, 1);
    if (ipckit__ring_before_sleep(s, dir)) {
        /* a store of the index may not be seen yet: sleep a step at most */
        (void) clock_gettime(CLOCK_MONOTONIC, &step);
        step.tv_nsec += RING_REFUSED_STEP_NS;
        if (step.tv_nsec >= 1000000000L) {
            step.tv_sec++;
            step.tv_nsec -= 1000000000L;
        }
        if (deadline == NULL || step.tv_sec < deadline->tv_sec ||
            (step.tv_sec == deadline->tv_sec && step.tv_nsec < deadline->tv_nsec))
            until = &step;
    }
    if (atomic_load(index) != seen)
        return 0; /* the flag stays set: at worst one wake too many */
    /* after w was read: an interrupt from now on changes the word */
    if (ring_interrupted(s))
        return -EINTR;
    rc = ring_futex_wait(word, w, until);
    if (rc == -ETIMEDOUT && until == deadline && atomic_load(index) == seen)
        return ipckit_deadline_error(deadline);
    return 0;
}

/* ---- publishing without a fence ------------------------------------------ */

/*
 * A claimed side may store its index with no fence after it (shm_ring.c,
 * ring_nofence()); a full fence there was, across two CPUs, the largest
 * cost of a message, since it waits for the lines that a receiver close
 * behind has just read (docs/backends/shm.md, "Publishing without a
 * fence"). What the fence did, ordering that store before the publisher's
 * read of the sleepers flag, the waiter then does for it: after it sets its
 * flag and before it looks at the index once more, it has the kernel run a
 * full barrier on every CPU that runs a registered process
 * (ipckit__barrier()). Either the publisher's store is seen by that look,
 * or its read of the flag comes after the barrier and sees the flag.
 *
 * The barrier interrupts other CPUs, so it is worth making only when sleeps
 * are rare against messages: a waiter that sleeps within RING_NOFENCE_RUN
 * messages of its last sleep asks for the fence back (RING_FENCE_WANT), one
 * that sleeps after a longer run lets it go again. A process that cannot
 * make the barrier (a kernel before 4.16, a seccomp filter) marks the
 * direction RING_FENCE_REFUSED for good, at open and whenever a barrier
 * fails; its publisher fences again from its next message on. A store made
 * before it saw the mark may still be on its way: for RING_REFUSED_WINDOW_NS
 * after the failure such a waiter sleeps in steps of RING_REFUSED_STEP_NS,
 * and a poller's bell rings at once. (A store waits in a CPU's store buffer
 * for nanoseconds, and a context switch empties the buffer.)
 */
#define RING_NOFENCE_RUN 4096u
#define RING_REFUSED_WINDOW_NS 10000000L

static void
ring_fence_bits(_Atomic uint32_t *fence, uint32_t set, uint32_t clear)
{
    uint32_t v = atomic_load_explicit(fence, memory_order_relaxed);
    if ((v & set) != set)
        (void) atomic_fetch_or(fence, set);
    if ((v & clear) != 0)
        (void) atomic_fetch_and(fence, ~clear);
}

static bool
ring_refused(struct ring *s, _Atomic uint32_t *fence)
{
    struct timespec now;
    int64_t ns;
    ring_fence_bits(fence, RING_FENCE_REFUSED, 0);
    (void) clock_gettime(CLOCK_MONOTONIC, &now);
    ns = (int64_t) now.tv_sec * 1000000000 + now.tv_nsec;
    if (s->refused_ns == 0)
        s->refused_ns = ns;
    return ns - s->refused_ns < RING_REFUSED_WINDOW_NS;
}

bool
ipckit__ring_before_sleep(struct ring *s, int dir)
{
    struct ring_hdr *h = s->hdr;
    _Atomic uint32_t *nofence = ring_nofence_word(h, dir), *fence = ring_fence_word(h, dir);
    /* messages moved in this direction: the header's counts (a peer may
     * scribble on them; they only steer this choice) */
    uint64_t n = atomic_load_explicit(dir == RING_DATA ? &h->msgs_out : &h->msgs_in,
                                      memory_order_relaxed);
    bool run = n - s->wait_mark[dir] >= RING_NOFENCE_RUN;
    s->wait_mark[dir] = n;
    if (atomic_load_explicit(nofence, memory_order_acquire) == 0) {
        /* the publisher fences; a long run since the last sleep lets it stop */
        if (run)
            ring_fence_bits(fence, 0, RING_FENCE_WANT);
        return false;
    }
    if (ipckit__barrier() < 0)
        return ring_refused(s, fence);
    if (!run)
        ring_fence_bits(fence, RING_FENCE_WANT, 0);
    return false;
}

void
ipckit__ring_barrier_check(struct ring *s, bool sends, bool receives)
{
    /* asked once per process: the pid that asked, and the answer (a
     * forked child may have installed a filter since) */
    static _Atomic int asked, works;
    int me = (int) getpid();
    if (atomic_load_explicit(&asked, memory_order_acquire) != me) {
        atomic_store_explicit(&works, ipckit__barrier() == 0, memory_order_relaxed);
        atomic_store_explicit(&asked, me, memory_order_release);
    }
    if (atomic_load_explicit(&works, memory_order_relaxed))
        return;
    if (receives)
        (void) ring_refused(s, ring_fence_word(s->hdr, RING_DATA));
    if (sends)
        (void) ring_refused(s, ring_fence_word(s->hdr, RING_SPACE));
}
