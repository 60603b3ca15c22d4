/*
 * ipckit backend "shm:": a message ring in POSIX shared memory.
 *
 * Name: shm:NAME or shm:/NAME (the object /dev/shm/NAME), with an optional
 * ?spin=N (pause iterations a waiter spins before it sleeps; default 2000
 * when the process may run on more than one CPU, else 0).
 *
 * Layout: a 4096-byte header, then a ring of `capacity` bytes (a power of
 * two). Messages are records of a 16-byte header (length, check word,
 * type) and the payload padded to 16 bytes; a record never wraps: when it
 * does not fit before the end, a pad record (type 0) fills the rest.
 * head and tail are byte positions that only grow.
 *
 * Several producers and consumers: producers serialise on one lock that
 * guards tail, consumers on another that guards head (the two-lock queue),
 * so in the common one-to-one case neither lock is contended. Each lock
 * shares a cache line with the index it guards, so a message costs each
 * side one line it writes. A producer writes the record, then publishes it
 * with one store of tail; a consumer copies it out, then frees it with one
 * store of head. A producer killed mid-write never published anything; a
 * consumer killed mid-copy never freed anything (the message goes to the
 * next consumer). The locks are PI futex words (lib/os/lock.h): the kernel gives
 * a dead holder's lock to the next taker, and the ring is consistent by
 * construction, so it goes on.
 *
 * Waiting: a waiter spins on the index it waits for, then sleeps on a
 * shared futex word (data_seq for consumers, space_seq for producers).
 * Lost wake-ups: the sleeper reads the word, sets a "sleepers" flag
 * (seq_cst), re-checks the index, and sleeps only if the word still has the
 * value it read. The other side stores its index (seq_cst), then reads the
 * flag, and when it is set clears it, bumps the word and wakes everyone.
 * Either the sleeper's re-check sees the new index or the waker sees the
 * flag; a sleeper that read the word before the bump does not sleep at all.
 * Without sleepers the fast path makes no system call.
 *
 * Each side keeps the last value it read of the other side's index and
 * reads the shared one again only when that copy shows no room (producer)
 * or no data (consumer), so the two index cache lines move between CPUs
 * once per batch rather than once per message.
 *
 * Nothing in the mapping is trusted: the header is read once into a
 * private copy, which is validated and is all that is used afterwards
 * (capacity, mask, max_msg); head, tail and every record header are
 * checked against that copy before each use (-EBADMSG).
 *
 * shm:NAME?bcast=1 names a broadcast ring instead (publish/subscribe), a
 * different object: ring_open() hands such a channel to shm_bcast.c, and
 * every operation below passes it on (s->bc).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shm_ring.h"
#include "../core/objects.h"
#include "shm_bcast.h"

#define RING_CAP_DEFAULT ((uint64_t) 4 << 20)
#define RING_MSG_DEFAULT ((uint64_t) 64 << 10)
#define RING_SPIN_DEFAULT 2000L
#define RING_SPIN_LIMIT 10000000L
/* A side records its CPU (for the other side's spin) every 64 messages. */
#define RING_CPU_EVERY 63u
#define RING_YIELDS 2
#define RING_SPIN_YIELD_EVERY 256L
#define RING_SPIN_SLACK_NS 3000L
#define RING_SPIN_PROBE 64u

struct ring_rec {
    uint32_t len;
    uint32_t check;
    int64_t type; /* > 0; 0 marks a pad record */
};

struct ring {
    struct ring_hdr *hdr;
    struct ipckit__bcast *bc; /* a broadcast ring (?bcast=): shm_bcast.c does it all */
    unsigned char *ring;
    uint64_t cap, mask, max_msg;
    size_t map_size;
    long spin;          /* current spin budget, adapted between 0 and spin_max */
    long spin_max;
    unsigned spin_fails; /* spins since the last full one */
    bool auto_spin; /* no ?spin=: skip the spin when the peer shares our CPU */
    bool truncate;
    uint64_t head_seen; /* producer: a head value read before (head only grows) */
    uint64_t tail_seen; /* consumer: a tail value read before (tail only grows) */
    int32_t pid;        /* getpid(), refreshed when pid_gen shows a fork */
    unsigned pid_gen;
    char pname[IPCKIT__SHMOBJ_NAME_MAX + 2];
    /* zero copy: the slot loaned and the message borrowed, with the pid of
     * the process that holds the lock for them */
    struct ring_slot {
        uint64_t tail; /* the tail when the room was found */
        uint64_t off;  /* ring offset of the record (after the pad, if any) */
        uint64_t pad;  /* bytes of pad record before it, 0 if none */
    } loan;
    int32_t loan_pid;
    int32_t borrow_pid;
    /* ipckit_interrupt(): posted by the interrupter (any thread or a signal
     * handler), taken by the wait it ends */
    _Atomic unsigned intr_posted;
    unsigned intr_taken;
    /* ?claim=1: this handle holds its sides' locks from open to close, so a
     * message takes no lock; claim_gen tells the process that took them
     * (a forked child's copy of the handle does not hold them) */
    bool claimed_send, claimed_recv;
    unsigned claim_gen;
    uint64_t borrow_head;
    uint32_t borrow_len;
    bool receives;             /* opened with IPCKIT_RECV */
    struct ipckit__bell bell;  /* ipckit_fd() */
};

/* Sizes asked for (0: accept the existing ring's), sizes to create with,
 * and the sizes of the ring attached, from the validated private copy of
 * its header. */
struct ring_sizes {
    uint64_t cap, max_msg;
    uint64_t make_cap, make_max_msg;
    uint64_t got_cap, got_max_msg;
};

static const char *const ring_params[] = { "spin", "claim", "bcast", NULL };

static inline uint64_t
ring_rec_size(uint64_t len)
{
    return RING_REC + ((len + 15u) & ~(uint64_t) 15u);
}

static inline uint32_t
ring_check_word(uint32_t len, int64_t type)
{
    return ~len ^ (uint32_t) type ^ 0x5a17c0deu;
}

static uint64_t
ring_pow2(uint64_t v)
{
    uint64_t p = RING_CAP_MIN;
    while (p < v && p < ((uint64_t) 1 << 62))
        p <<= 1;
    return p;
}

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

static void
ring_futex_wake(_Atomic uint32_t *word)
{
    (void) syscall(SYS_futex, (uint32_t *) word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Nanoseconds of one pause, times 16; measured once per process. */
static long ring_pause_ns16 = 16;

static void
ring_pause_calibrate(void)
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
static int
ring_interrupt(void *state)
{
    struct ring *s = state;
    struct ring_hdr *h = s->hdr;
    if (s->bc != NULL)
        return ipckit__bcast_interrupt(s->bc);
    atomic_fetch_add(&s->intr_posted, 1);
    atomic_fetch_add(&h->data_seq, 1);
    ring_futex_wake(&h->data_seq);
    atomic_fetch_add(&h->space_seq, 1);
    ring_futex_wake(&h->space_seq);
    return 0;
}

/*
 * Wait until *index differs from @p seen: spin, then sleep on @p word.
 * Returns 0 when it may have changed (the caller re-checks), or the
 * deadline's error when it did not change in time.
 */
static int
ring_wait(struct ring *s, _Atomic uint64_t *index, uint64_t seen, _Atomic uint32_t *word,
          _Atomic uint32_t *sleepers, _Atomic int32_t *own_cpu, _Atomic int32_t *peer_cpu,
          const struct timespec *deadline)
{
    struct timespec t0 = { 0, 0 }, t1;
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
        if (atomic_load_explicit(index, memory_order_acquire) != seen) {
            /* A spin that ran without interruption means the peer runs on
             * another CPU: keep spinning. One that took much longer in wall
             * time than its iterations account for was preempted: the
             * machine is busy, the spin kept the peer from our CPU and a
             * sleep would have cost less. Spin less. */
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
    if (atomic_load(index) != seen)
        return 0; /* the flag stays set: at worst one wake too many */
    /* after w was read: an interrupt from now on changes the word */
    if (ring_interrupted(s))
        return -EINTR;
    rc = ring_futex_wait(word, w, deadline);
    if (rc == -ETIMEDOUT && atomic_load(index) == seen)
        return ipckit_deadline_error(deadline);
    return 0;
}

/*
 * Wake every sleeper on @p word if one may be there. The flag is cleared by
 * exchange, so of several wakers only one makes the system call; a sleeper
 * sets it again before every sleep.
 */
static inline void
ring_wake(_Atomic uint32_t *word, _Atomic uint32_t *sleepers)
{
    if (atomic_load(sleepers) != 0 && atomic_exchange(sleepers, 0) != 0) {
        atomic_fetch_add(word, 1);
        ring_futex_wake(word);
    }
}

/* ---- opening ------------------------------------------------------------- */

static int
ring_init(void *base, size_t size, void *arg)
{
    struct ring_hdr *h = base;
    struct ring_sizes *z = arg;
    h->version = RING_VERSION;
    h->hdr_size = RING_HDR;
    h->creator_pid = (int32_t) getpid();
    h->creator_start = ipckit__proc_start_time((long) getpid());
    h->capacity = z->make_cap;
    h->max_msg = z->make_max_msg;
    h->total_size = size;
    z->got_cap = z->make_cap;
    z->got_max_msg = z->make_max_msg;
    atomic_store_explicit(&h->magic, RING_MAGIC, memory_order_release);
    return 0;
}

void
ipckit__ring_hdr_read(const struct ring_hdr *h, struct ring_hdr_copy *c)
{
    c->magic = atomic_load_explicit(&h->magic, memory_order_acquire);
    /* what a racing peer writes from here on is not seen: only the copy
     * is validated and used */
    c->version = *(const volatile uint32_t *) &h->version;
    c->hdr_size = *(const volatile uint32_t *) &h->hdr_size;
    c->capacity = *(const volatile uint64_t *) &h->capacity;
    c->max_msg = *(const volatile uint64_t *) &h->max_msg;
    c->total_size = *(const volatile uint64_t *) &h->total_size;
}

int
ipckit__ring_hdr_valid(const struct ring_hdr_copy *c, size_t size)
{
    if (size < RING_HDR)
        return ipckit_backend_fail(-EBADMSG,
                                    "shm: object of %zu bytes is too small to be a ring", size);
    if (c->magic == 0)
        return -EINPROGRESS;
    if (c->magic == IPCKIT__SHMOBJ_BCAST_MAGIC)
        return ipckit_backend_fail(-EINVAL,
                                    "shm: the object is a broadcast ring, not a message queue:"
                                    " open it with ?bcast=1");
    if (c->magic != RING_MAGIC)
        return ipckit_backend_fail(-EBADMSG,
                                    "shm: not an ipckit message ring (magic %#x, want %#x)",
                                    c->magic, RING_MAGIC);
    if (c->version != RING_VERSION)
        return ipckit_backend_fail(-EPROTO,
                                    "shm: ring layout version %u, this library speaks %u",
                                    c->version, RING_VERSION);
    /* max_msg is bounded before the record size is computed from it, so
     * that nothing below can overflow. */
    if (c->hdr_size != RING_HDR || c->capacity < RING_CAP_MIN || c->capacity > RING_CAP_MAX ||
        (c->capacity & (c->capacity - 1)) != 0 || c->total_size != size ||
        size != RING_HDR + c->capacity || c->max_msg > c->capacity / 2 ||
        2 * ring_rec_size(c->max_msg) > c->capacity)
        return ipckit_backend_fail(-EBADMSG,
                                    "shm: corrupt ring header (header %u, capacity %llu, max"
                                    " message %llu, total %llu; object %zu bytes)",
                                    c->hdr_size, (unsigned long long) c->capacity,
                                    (unsigned long long) c->max_msg,
                                    (unsigned long long) c->total_size, size);
    return 0;
}

static int
ring_check(void *base, size_t size, void *arg)
{
    struct ring_sizes *want = arg;
    struct ring_hdr_copy c;
    int rc;
    if (size < RING_HDR)
        return ipckit__ring_hdr_valid(NULL, size);
    ipckit__ring_hdr_read(base, &c);
    rc = ipckit__ring_hdr_valid(&c, size);
    if (rc < 0)
        return rc;
    if (want->max_msg != 0 && want->max_msg != c.max_msg)
        return ipckit_backend_fail(-EINVAL,
                                    "shm: the ring exists with max_msg_size %llu, not %llu",
                                    (unsigned long long) c.max_msg,
                                    (unsigned long long) want->max_msg);
    if (want->cap != 0 && want->cap != c.capacity)
        return ipckit_backend_fail(-EINVAL,
                                    "shm: the ring exists with capacity %llu, not %llu",
                                    (unsigned long long) c.capacity,
                                    (unsigned long long) want->cap);
    want->got_cap = c.capacity;
    want->got_max_msg = c.max_msg;
    return 0;
}

/* Is a side's lock held by this handle's claim (in this process)? */
static inline bool
ring_claimed(const struct ring *s, bool held)
{
    return held &&
           s->claim_gen == atomic_load_explicit(&ipckit__shmobj_fork_gen, memory_order_relaxed);
}

static int ring_claim(struct ring *s, unsigned flags, const struct timespec *deadline);
static int ring_close(void *state);

static long
ring_default_spin(void)
{
    return sysconf(_SC_NPROCESSORS_ONLN) < 2 ? 0 : RING_SPIN_DEFAULT;
}

static int
ring_open(void *state, const ipckit_name *name, unsigned flags, const ipckit_opts *opts,
           const struct timespec *deadline)
{
    struct ring *s = state;
    struct ring_sizes want = { 0, 0, 0, 0, 0, 0 };
    struct ipckit__shmobj_map m;
    long spin, claim;
    int rc;

    ipckit__bell_init(&s->bell);
    s->receives = (flags & IPCKIT_RECV) != 0;
    if (ipckit_name_param(name, "bcast") != NULL) {
        rc = ipckit__shmobj_posix_name(name, s->pname, sizeof s->pname);
        if (rc < 0)
            return rc;
        return ipckit__bcast_open(&s->bc, name, s->pname, flags, opts, deadline);
    }
    rc = ipckit_name_check_params(name, ring_params);
    if (rc < 0)
        return rc;
    rc = ipckit_name_param_long(name, "spin", 0, RING_SPIN_LIMIT, -1, &spin);
    if (rc < 0)
        return rc;
    rc = ipckit_name_param_long(name, "claim", 0, 1, 0, &claim);
    if (rc < 0)
        return rc;
    s->spin_max = spin < 0 ? ring_default_spin() : spin;
    s->spin = s->spin_max;
    s->auto_spin = spin < 0;
    s->truncate = (opts->flags & IPCKIT_OPT_TRUNCATE) != 0;
    rc = ipckit__shmobj_posix_name(name, s->pname, sizeof s->pname);
    if (rc < 0)
        return rc;
    if (opts->max_msg_size > RING_CAP_MAX / 4)
        return ipckit_backend_fail(-EINVAL, "shm: max_msg_size %zu is above %llu",
                                    opts->max_msg_size,
                                    (unsigned long long) (RING_CAP_MAX / 4));
    if (opts->capacity > RING_CAP_MAX)
        return ipckit_backend_fail(-EINVAL, "shm: capacity %zu is above %llu",
                                    opts->capacity, (unsigned long long) RING_CAP_MAX);
    want.max_msg = opts->max_msg_size;
    want.cap = opts->capacity ? ring_pow2(opts->capacity) : 0;
    want.make_max_msg = want.max_msg ? want.max_msg : RING_MSG_DEFAULT;
    want.make_cap = want.cap;
    if (want.make_cap == 0) {
        want.make_cap = ring_pow2(2 * ring_rec_size(want.make_max_msg));
        if (want.make_cap < RING_CAP_DEFAULT)
            want.make_cap = RING_CAP_DEFAULT;
    }
    if (2 * ring_rec_size(want.make_max_msg) > want.make_cap)
        return ipckit_backend_fail(-EINVAL,
                                    "shm: capacity %llu is too small for messages of %llu bytes"
                                    " (it must hold two of them with their headers)",
                                    (unsigned long long) want.make_cap,
                                    (unsigned long long) want.make_max_msg);
    rc = ipckit__shmobj_map(s->pname, flags, opts, RING_HDR + want.make_cap, ring_init,
                           ring_check, &want, deadline, &m);
    if (rc < 0)
        return rc;
    s->hdr = m.base;
    s->ring = (unsigned char *) m.base + RING_HDR;
    s->map_size = m.size;
#ifdef MADV_POPULATE_WRITE
    /* Fault the whole ring in now (its size was validated), not one page
     * at a time on the first laps of the fast path: for a 4 MiB ring that
     * is 1024 faults, each clearing a page. Best effort (Linux 5.14+). */
    (void) madvise(m.base, m.size, MADV_POPULATE_WRITE);
#endif
    /* the sizes validated at attach, never the header again */
    s->cap = want.got_cap;
    s->mask = s->cap - 1;
    s->max_msg = want.got_max_msg;
    ipckit__shmobj_fork_watch();
    {
        static pthread_once_t calibrated = PTHREAD_ONCE_INIT;
        (void) pthread_once(&calibrated, ring_pause_calibrate);
    }
    s->pid_gen = atomic_load(&ipckit__shmobj_fork_gen);
    s->pid = (int32_t) getpid();
    if (claim)
        return ring_claim(s, flags, deadline);
    return 0;
}

static inline int ring_lock(struct ring *s, ipckit__lock *l, const char *what,
                     const struct timespec *deadline);

/* ?claim=1: take the locks of the sides this handle opened, for as long as it
 * is open; another handle of a claimed side waits for it (its timeout). */
static int
ring_claim(struct ring *s, unsigned flags, const struct timespec *deadline)
{
    static const struct {
        unsigned dir;
        size_t lock;
        const char *side;
    } sides[] = { { IPCKIT_SEND, offsetof(struct ring_hdr, send_lock), "send" },
                  { IPCKIT_RECV, offsetof(struct ring_hdr, recv_lock), "receive" } };
    s->claim_gen = atomic_load(&ipckit__shmobj_fork_gen);
    for (size_t i = 0; i < 2; i++) {
        ipckit__lock *l = (ipckit__lock *) (void *) ((unsigned char *) s->hdr + sides[i].lock);
        int rc;
        if (!(flags & sides[i].dir))
            continue;
        rc = ring_lock(s, l, sides[i].side, deadline);
        if (rc < 0) {
            uint32_t holder = atomic_load(l) & 0x3fffffffu;
            (void) ring_close(s);
            if (rc == -EAGAIN || rc == -ETIMEDOUT)
                return ipckit_backend_fail(rc,
                                           "shm: the %s side of \"%s\" is claimed by another"
                                           " handle (thread %u) or in use",
                                           sides[i].side, s->pname, holder);
            return rc;
        }
        if (sides[i].dir == IPCKIT_SEND)
            s->claimed_send = true;
        else
            s->claimed_recv = true;
    }
    return 0;
}

static int
ring_close(void *state)
{
    struct ring *s = state;
    if (s->bc != NULL) {
        int rc = ipckit__bcast_close(s->bc);
        s->bc = NULL;
        return rc;
    }
    if (s->hdr != NULL && ring_claimed(s, s->claimed_send))
        (void) ipckit__lock_give(&s->hdr->send_lock);
    if (s->hdr != NULL && ring_claimed(s, s->claimed_recv))
        (void) ipckit__lock_give(&s->hdr->recv_lock);
    s->claimed_send = s->claimed_recv = false;
    ipckit__bell_close(&s->bell, s->hdr != NULL ? &s->hdr->bell : NULL);
    if (s->hdr != NULL && munmap(s->hdr, s->map_size) < 0)
        return -errno;
    s->hdr = NULL;
    return 0;
}

static int
ring_unlink(const ipckit_name *name)
{
    char pname[IPCKIT__SHMOBJ_NAME_MAX + 2];
    int rc = ipckit__shmobj_posix_name(name, pname, sizeof pname);
    if (rc < 0)
        return rc;
    return ipckit__shmobj_unlink(pname, IPCKIT__SHMOBJ_ANY);
}

static void
ring_info(void *state, unsigned *caps, size_t *max_msg)
{
    struct ring *s = state;
    if (s->bc != NULL) {
        *caps &= ~(unsigned) IPCKIT_CAP_FD; /* no doorbell on a broadcast ring yet */
        ipckit__bcast_info(s->bc, caps, max_msg);
        return;
    }
    if (!s->receives)
        *caps &= ~(unsigned) IPCKIT_CAP_FD; /* only a receiver polls */
    *max_msg = (size_t) s->max_msg;
}

/* ipckit_fd(): the doorbell socket (shm_bell.h), readable at once when
 * the ring holds a message already. */
static int
ring_fd(void *state)
{
    struct ring *s = state;
    struct ring_hdr *h = s->hdr;
    bool fresh = s->bell.rx < 0;
    int fd = ipckit__bell_listen(&s->bell, &h->bell);
    if (fd < 0 || !fresh)
        return fd;
    ipckit__bell_arm(&s->bell, &h->bell);
    if (atomic_load(&h->tail) != atomic_load(&h->head))
        ipckit__bell_ring_slow(&s->bell, &h->bell);
    return fd;
}

/* This process's pid for the stat fields, without a system call. */
static inline int32_t
ring_pid(struct ring *s)
{
    unsigned gen = atomic_load_explicit(&ipckit__shmobj_fork_gen, memory_order_relaxed);
    if (s->pid_gen != gen) {
        s->pid_gen = gen;
        s->pid = (int32_t) getpid();
    }
    return s->pid;
}

/* Record the CPU this side runs on, for the other side's spin decision.
 * sched_getcpu() reads the rseq area: no system call. The word shares a
 * cache line with this side's index, which is written anyway. */
static inline void
ring_note_cpu(_Atomic int32_t *cpu)
{
    int me = sched_getcpu();
    if (me >= 0 && atomic_load_explicit(cpu, memory_order_relaxed) != me + 1)
        atomic_store_explicit(cpu, me + 1, memory_order_relaxed);
}

static int
ring_corrupt(struct ring *s, const char *what, uint64_t head, uint64_t tail)
{
    return ipckit_backend_fail(-EBADMSG,
                                "shm: ring \"%s\" is corrupt: %s (head %llu, tail %llu,"
                                " capacity %llu)",
                                s->pname, what, (unsigned long long) head,
                                (unsigned long long) tail, (unsigned long long) s->cap);
}

static int ring_lock_failed(struct ring *s, ipckit__lock *l, const char *what, int rc);

static inline __attribute__((always_inline)) int
ring_lock(struct ring *s, ipckit__lock *l, const char *what, const struct timespec *deadline)
{
    int rc = ipckit__lock_take(l, deadline);
    if (rc == 0 || rc == -EOWNERDEAD)
        return 0; /* a dead holder published nothing half-done */
    return ring_lock_failed(s, l, what, rc);
}

static int
ring_lock_failed(struct ring *s, ipckit__lock *l, const char *what, int rc)
{
    if (rc == -EAGAIN || rc == -ETIMEDOUT)
        return rc;
    if (rc == -EBADMSG)
        return ipckit_backend_fail(rc,
                                    "shm: %s lock of \"%s\" holds a value no lock could (%#x):"
                                    " a peer wrote over it",
                                    what, s->pname, (unsigned) atomic_load(l));
    return ipckit_backend_fail(rc, "shm: %s lock of \"%s\": %s", what, s->pname,
                                ipckit_strerror(rc));
}

static inline int
ring_side_take(struct ring *s, bool claimed, ipckit__lock *l, const char *what,
               const struct timespec *deadline)
{
    return ring_claimed(s, claimed) ? 0 : ring_lock(s, l, what, deadline);
}

static inline void
ring_side_give(struct ring *s, bool claimed, ipckit__lock *l)
{
    if (!ring_claimed(s, claimed))
        (void) ipckit__lock_give(l);
}

/* ---- sending ------------------------------------------------------------- */

/* With the send lock held: wait for room for a record of @p len bytes. */
/* inlined: one call per message, not five */
static inline __attribute__((always_inline)) int
ring_reserve(struct ring *s, size_t len, const struct timespec *deadline,
              struct ring_slot *slot)
{
    struct ring_hdr *h = s->hdr;
    uint64_t rec = ring_rec_size(len), head, tail, off, contig, pad;
    int rc;
    for (;;) {
        tail = atomic_load_explicit(&h->tail, memory_order_relaxed);
        off = tail & s->mask;
        contig = s->cap - off;
        pad = rec > contig ? contig : 0;
        head = s->head_seen;
        if (tail - head <= s->cap && s->cap - (tail - head) >= pad + rec && (tail & 15u) == 0)
            break;
        head = atomic_load_explicit(&h->head, memory_order_acquire);
        s->head_seen = head;
        if (tail - head > s->cap || ((tail | head) & 15u) != 0)
            return ring_corrupt(s, "bad indexes", head, tail);
        if (s->cap - (tail - head) >= pad + rec)
            break;
        rc = ring_wait(s, &h->head, head, &h->space_seq, &h->send_sleepers, &h->send_cpu,
                       &h->recv_cpu,
                        deadline);
        if (rc < 0)
            return rc;
    }
    slot->tail = tail;
    slot->off = pad != 0 ? 0 : off;
    slot->pad = pad;
    return 0;
}

/* With the send lock held: the payload is at the slot; write the headers
 * and publish the record with one store of tail. */
static inline __attribute__((always_inline)) void
ring_publish(struct ring *s, const struct ring_slot *slot, long type, size_t len)
{
    struct ring_hdr *h = s->hdr;
    struct ring_rec r;
    if (slot->pad != 0) {
        r.len = (uint32_t) (slot->pad - RING_REC);
        r.type = 0;
        r.check = ring_check_word(r.len, 0);
        memcpy(s->ring + (slot->tail & s->mask), &r, sizeof r);
    }
    r.len = (uint32_t) len;
    r.type = type;
    r.check = ring_check_word(r.len, type);
    memcpy(s->ring + slot->off, &r, sizeof r);
    uint64_t in = atomic_load_explicit(&h->msgs_in, memory_order_relaxed) + 1;
    atomic_store_explicit(&h->msgs_in, in, memory_order_relaxed);
    if (atomic_load_explicit(&h->last_send_pid, memory_order_relaxed) != ring_pid(s))
        atomic_store_explicit(&h->last_send_pid, ring_pid(s), memory_order_relaxed);
    /* the CPU now and then (and before every wait, ring_wait()): a side
     * that never waits keeps running where it runs */
    if ((in & RING_CPU_EVERY) == 0)
        ring_note_cpu(&h->send_cpu);
    /* Publish: seq_cst, ordered before the read of recv_sleepers in the wake. */
    atomic_store(&h->tail, slot->tail + slot->pad + ring_rec_size(len));
}

static int
ring_send(void *state, long type, const void *buf, size_t len, const struct timespec *deadline)
{
    struct ring *s = state;
    struct ring_hdr *h = s->hdr;
    struct ring_slot slot = { 0, 0, 0 };
    int rc;
    if (s->bc != NULL)
        return ipckit__bcast_send(s->bc, type, buf, len, deadline);
    rc = ring_side_take(s, s->claimed_send, &h->send_lock, "send", deadline);
    if (rc < 0)
        return rc;
    rc = ring_reserve(s, len, deadline, &slot);
    if (rc == 0) {
        if (len > 0)
            memcpy(s->ring + slot.off + RING_REC, buf, len);
        ring_publish(s, &slot, type, len);
    }
    ring_side_give(s, s->claimed_send, &h->send_lock);
    if (rc == 0) {
        ring_wake(&h->data_seq, &h->recv_sleepers);
        ipckit__bell_ring(&s->bell, &h->bell);
    }
    return rc;
}

/* Zero copy: the send lock stays held from loan to commit. */
static int
ring_loan(void *state, size_t len, void **buf, const struct timespec *deadline)
{
    struct ring *s = state;
    struct ring_hdr *h = s->hdr;
    int rc;
    if (s->bc != NULL)
        return ipckit__bcast_loan(s->bc, len, buf, deadline);
    rc = ring_side_take(s, s->claimed_send, &h->send_lock, "send_loan", deadline);
    if (rc < 0)
        return rc;
    rc = ring_reserve(s, len, deadline, &s->loan);
    if (rc < 0) {
        ring_side_give(s, s->claimed_send, &h->send_lock);
        return rc;
    }
    s->loan_pid = ring_pid(s);
    *buf = s->ring + s->loan.off + RING_REC;
    return 0;
}

static int
ring_commit(void *state, long type, size_t len, bool publish)
{
    struct ring *s = state;
    struct ring_hdr *h = s->hdr;
    if (s->bc != NULL)
        return ipckit__bcast_commit(s->bc, type, len, publish);
    if (s->loan_pid != ring_pid(s))
        return -EPERM; /* the parent's loan: its lock is not ours to release */
    if (publish)
        ring_publish(s, &s->loan, type, len);
    ring_side_give(s, s->claimed_send, &h->send_lock);
    if (publish) {
        ring_wake(&h->data_seq, &h->recv_sleepers);
        ipckit__bell_ring(&s->bell, &h->bell);
    }
    return 0;
}

/* ---- receiving ----------------------------------------------------------- */

/*
 * With the receive lock held: wait for the next message, skipping pad
 * records, and validate it. Fills @p head with the head it starts at and
 * @p r with its header; the payload is at s->ring + (head & mask) + REC.
 */
static inline __attribute__((always_inline)) int
ring_next(struct ring *s, const struct timespec *deadline, uint64_t *head_out,
           struct ring_rec *r)
{
    struct ring_hdr *h = s->hdr;
    uint64_t head, tail, off;
    int rc;
    for (;;) {
        head = atomic_load_explicit(&h->head, memory_order_relaxed);
        tail = s->tail_seen;
        if (tail == head || tail - head > s->cap) {
            tail = atomic_load_explicit(&h->tail, memory_order_acquire);
            s->tail_seen = tail;
        }
        if (tail - head > s->cap || ((tail | head) & 15u) != 0)
            return ring_corrupt(s, "bad indexes", head, tail);
        if (head == tail && s->bell.rx >= 0) {
            /* a poller: arm its bell, then look once more (shm_bell.h) */
            ipckit__bell_arm(&s->bell, &h->bell);
            tail = atomic_load(&h->tail);
            s->tail_seen = tail;
            if (tail != head)
                continue;
        }
        if (head == tail) {
            rc = ring_wait(s, &h->tail, tail, &h->data_seq, &h->recv_sleepers, &h->recv_cpu,
                           &h->send_cpu,
                            deadline);
            if (rc < 0)
                return rc;
            continue;
        }
        off = head & s->mask;
        memcpy(r, s->ring + off, sizeof *r);
        if (r->check != ring_check_word(r->len, r->type) || r->type < 0)
            return ring_corrupt(s, "bad record header", head, tail);
        if (r->type == 0) {
            /* pad to the end of the ring */
            if ((uint64_t) r->len + RING_REC != s->cap - off || s->cap - off > tail - head)
                return ring_corrupt(s, "bad pad record", head, tail);
            atomic_store(&h->head, head + s->cap - off);
            continue;
        }
        if (r->len > s->max_msg || ring_rec_size(r->len) > tail - head ||
            ring_rec_size(r->len) > s->cap - off)
            return ring_corrupt(s, "record length out of bounds", head, tail);
        *head_out = head;
        return 0;
    }
}

/* With the receive lock held: free the record at @p head with one store. */
static inline __attribute__((always_inline)) void
ring_consume(struct ring *s, uint64_t head, uint32_t len)
{
    struct ring_hdr *h = s->hdr;
    uint64_t out = atomic_load_explicit(&h->msgs_out, memory_order_relaxed) + 1;
    atomic_store_explicit(&h->msgs_out, out, memory_order_relaxed);
    if (atomic_load_explicit(&h->last_recv_pid, memory_order_relaxed) != ring_pid(s))
        atomic_store_explicit(&h->last_recv_pid, ring_pid(s), memory_order_relaxed);
    if ((out & RING_CPU_EVERY) == 0)
        ring_note_cpu(&h->recv_cpu);
    /* Free: seq_cst, ordered before the read of send_sleepers in the wake. */
    atomic_store(&h->head, head + ring_rec_size(len));
}

static ssize_t
ring_recv(void *state, long selector, long *type, void *buf, size_t cap,
           const struct timespec *deadline)
{
    struct ring *s = state;
    struct ring_hdr *h = s->hdr;
    struct ring_rec r = { 0, 0, 0 };
    uint64_t head = 0;
    ssize_t rc;
    size_t n;
    (void) selector;
    if (s->bc != NULL)
        return ipckit__bcast_recv(s->bc, type, buf, cap, deadline);
    rc = ring_side_take(s, s->claimed_recv, &h->recv_lock, "recv", deadline);
    if (rc < 0)
        return rc;
    rc = ring_next(s, deadline, &head, &r);
    if (rc == 0) {
        n = r.len;
        if (n > cap && !s->truncate) {
            rc = ipckit_backend_fail(-EMSGSIZE,
                                      "recv: message of %u bytes does not fit a buffer of %zu"
                                      " bytes; it stays queued",
                                      r.len, cap);
        } else {
            if (n > cap)
                n = cap;
            if (n > 0)
                memcpy(buf, s->ring + (head & s->mask) + RING_REC, n);
            *type = (long) r.type;
            ring_consume(s, head, r.len);
            rc = (ssize_t) n;
        }
    }
    ring_side_give(s, s->claimed_recv, &h->recv_lock);
    if (rc >= 0)
        ring_wake(&h->space_seq, &h->send_sleepers);
    return rc;
}

/* Zero copy: the receive lock stays held from borrow to release. */
static ssize_t
ring_borrow(void *state, long *type, const void **buf, const struct timespec *deadline)
{
    struct ring *s = state;
    struct ring_hdr *h = s->hdr;
    struct ring_rec r;
    int rc;
    if (s->bc != NULL)
        return ipckit__bcast_borrow(s->bc, type, buf, deadline);
    rc = ring_side_take(s, s->claimed_recv, &h->recv_lock, "recv_borrow", deadline);
    if (rc < 0)
        return rc;
    rc = ring_next(s, deadline, &s->borrow_head, &r);
    if (rc < 0) {
        ring_side_give(s, s->claimed_recv, &h->recv_lock);
        return rc;
    }
    s->borrow_len = r.len;
    s->borrow_pid = ring_pid(s);
    *type = (long) r.type;
    *buf = s->ring + (s->borrow_head & s->mask) + RING_REC;
    return (ssize_t) r.len;
}

static int
ring_release(void *state, bool consume)
{
    struct ring *s = state;
    struct ring_hdr *h = s->hdr;
    if (s->bc != NULL)
        return ipckit__bcast_release(s->bc, consume);
    if (s->borrow_pid != ring_pid(s))
        return -EPERM;
    if (consume)
        ring_consume(s, s->borrow_head, s->borrow_len);
    ring_side_give(s, s->claimed_recv, &h->recv_lock);
    if (consume)
        ring_wake(&h->space_seq, &h->send_sleepers);
    return 0;
}

static int
ring_ctl(void *state, int op, void *arg)
{
    struct ring *s = state;
    long v;
    if (s->bc != NULL)
        return ipckit__bcast_ctl(s->bc, op, arg);
    switch (op) {
    case IPCKIT_CTL_GET_SPIN:
        if (arg == NULL)
            return ipckit_backend_fail(-EINVAL, "ctl: IPCKIT_CTL_GET_SPIN needs a long *");
        *(long *) arg = s->spin_max;
        return 0;
    case IPCKIT_CTL_SET_SPIN:
        if (arg == NULL || (v = *(const long *) arg) < 0 || v > RING_SPIN_LIMIT)
            return ipckit_backend_fail(-EINVAL,
                                       "ctl: IPCKIT_CTL_SET_SPIN takes a long from 0 to %ld",
                                       RING_SPIN_LIMIT);
        s->spin_max = s->spin = v;
        s->auto_spin = false;
        return 0;
    default:
        return ipckit_backend_fail(-ENOTSUP, "ctl: shm: no request %d", op);
    }
}

const ipckit_backend ipckit__shm_backend = {
    .abi_version = IPCKIT_BACKEND_ABI,
    .scheme = "shm",
    .opt_flags = IPCKIT_OPT_TRUNCATE | IPCKIT_OPT_INTERRUPTIBLE /* it always is */,
    .state_size = sizeof(struct ring),
    .caps = IPCKIT_CAP_TYPED | IPCKIT_CAP_MULTI_SEND | IPCKIT_CAP_MULTI_RECV | IPCKIT_CAP_STAT |
            IPCKIT_CAP_ZEROCOPY | IPCKIT_CAP_FD,
    .open = ring_open,
    .close = ring_close,
    .unlink = ring_unlink,
    .send = ring_send,
    .recv = ring_recv,
    .stat = ipckit__shm_stat,
    .info = ring_info,
    .fd = ring_fd,
    .loan = ring_loan,
    .commit = ring_commit,
    .borrow = ring_borrow,
    .release = ring_release,
    .interrupt = ring_interrupt,
    .ctl = ring_ctl,
    .list = ipckit__shm_list,
    .describe = ipckit__shm_describe,
    .remove_stale = ipckit__shm_remove_stale,
};
