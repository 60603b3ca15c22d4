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
 * value it read. The other side stores its index, then (after a full fence:
 * ring_side_give()) reads the flag, and when it is set clears it, bumps the
 * word and wakes everyone.
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
 * different object: the open hands such a channel to shm_bcast.c, and
 * every operation below passes it on (s->bc).
 *
 * This file sends and receives and holds the operations table;
 * shm_ring_open.c opens, validates, claims and closes a ring;
 * shm_ring_wait.c waits (the spin, the futex words, the interrupt).
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "shm_ring_int.h"
#include "../core/objects.h"

/* A side records its CPU (for the other side's spin) every 64 messages. */
#define RING_CPU_EVERY 63u

/*
 * A sender that finds the ring full waits, while it spins, until 16 KiB (a
 * quarter of a smaller ring) are free, not only the room of its message.
 * Otherwise a receiver that is a little slower than its sender keeps the
 * ring full, and every record it frees is at once refilled: each message
 * then moves the cache lines of the head, the tail and the record between
 * the two CPUs (measured across two CPUs: 64-byte throughput between 5 and
 * 15 million messages per second from run to run, depending on which
 * rhythm the two fell into; with the batch, 11-12 million, and alike with
 * batches of 4 KiB, 64 KiB or a quarter of the default 4 MiB ring; the
 * smaller batch keeps a sender that holds the send lock from spinning long
 * while other senders wait for it). The batch holds only while the sender
 * spins; a spin that ends with less room takes what there is, and a
 * sleeper wakes for any room, so a receiver that frees one record and then
 * waits for the sender is never kept waiting.
 */
#define RING_ROOM_BATCH ((uint64_t) 16384)

static inline uint64_t
ring_room_batch(const struct ring *s)
{
    return s->cap / 4 < RING_ROOM_BATCH ? s->cap / 4 : RING_ROOM_BATCH;
}

struct ring_rec {
    uint32_t len;
    uint32_t check;
    int64_t type; /* > 0; 0 marks a pad record */
};

static inline uint32_t
ring_check_word(uint32_t len, int64_t type)
{
    return ~len ^ (uint32_t) type ^ 0x5a17c0deu;
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
        ipckit__ring_futex_wake(word);
    }
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

int
ipckit__ring_lock_failed(struct ring *s, ipckit__lock *l, const char *what, int rc)
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

/*
 * A side either holds its claim (no lock) or takes its lock for each
 * operation. @p locked is !ring_claimed() for that side, read once per
 * operation.
 */
static inline int
ring_side_take(struct ring *s, bool locked, ipckit__lock *l, const char *what,
               const struct timespec *deadline)
{
    return locked ? ring_lock(s, l, what, deadline) : 0;
}

/*
 * Give a side's lock back, and fence. A side publishes its index and then
 * reads the other side's sleepers flag (ring_wake()); the protocol needs a
 * full fence between the store and the load. A claimed side stores the
 * index seq_cst (an exchange on x86). A locked side gives its lock back
 * between the two, and that is a locked compare-and-swap, a full fence on
 * x86 already: so the index is a release store (a plain one on x86), and
 * the fence after the give costs nothing more there (the kernel's
 * smp_mb__after_atomic()). One locked instruction a side and message
 * fewer: 64-byte messages on one CPU 1.11-1.23 times as fast
 * (docs/backends/shm.md, "Sleeping and waking").
 */
static inline void
ring_side_give(bool locked, ipckit__lock *l)
{
    if (locked)
        ipckit__lock_give_fenced(l);
}

/*
 * May a claimed side publish direction @p dir without a fence? When its
 * process is reached by the kernel's barrier and the index's waiters have
 * not asked for the fence (shm_ring.h). A change of mode is announced in
 * the side's nofence word: before the first store without a fence, with a
 * full fence, so that a waiter that finds it clear after setting its own
 * flag is sure to be seen (Dekker's pair, as with the fence); after the
 * last one, with a release store, so that a waiter that finds it clear
 * also finds that last index.
 */
static __attribute__((noinline, cold)) void
ring_nofence_change(struct ring *s, int dir, bool want)
{
    _Atomic uint32_t *flag = ring_nofence_word(s->hdr, dir);
    if (want)
        atomic_store(flag, 1);
    else
        atomic_store_explicit(flag, 0, memory_order_release);
    s->nofence[dir] = want;
}

static inline bool
ring_nofence(struct ring *s, int dir)
{
    bool want = s->barrier_ok &&
                atomic_load_explicit(ring_fence_word(s->hdr, dir), memory_order_relaxed) == 0;
    if (__builtin_expect(want != s->nofence[dir], 0))
        ring_nofence_change(s, dir, want);
    return want;
}

/* Store a side's index (tail for RING_DATA, head for RING_SPACE): release
 * under the lock (ring_side_give() fences); for a claimed side, seq_cst,
 * or release with no fence at all when ring_nofence() says so: the loads
 * of the wake that follow may then be done before the store is seen, and
 * the waiters' barrier (ipckit__ring_before_sleep()) makes up for it. */
static inline void
ring_store_index(struct ring *s, int dir, _Atomic uint64_t *index, uint64_t v, bool locked)
{
    if (locked || ring_nofence(s, dir))
        atomic_store_explicit(index, v, memory_order_release);
    else
        atomic_store(index, v);
}

/* ---- sending ------------------------------------------------------------- */

/*
 * Keep the ring's memory in the cache when both sides share a CPU. They
 * take turns there: the sender fills the ring, the receiver drains it. With
 * the default 4 MiB ring each turn wrote, and read back, 4 MiB: more than
 * this machine's 2 MiB level 2 cache, so the receiver read records that
 * had left it and the sender wrote over lines it had to fetch again.
 * Where the receiver last ran on the sender's CPU:
 *
 * - a sender more than s->hot bytes ahead of the receiver yields the CPU
 *   once (per message), so that the receiver reads what is still cached;
 *   if it did not run, the sender goes on: the ring keeps its whole
 *   capacity for a receiver that is busy elsewhere;
 * - a sender past offset s->hot that finds the ring empty starts again at
 *   offset 0, with a pad record to the end, instead of walking on through
 *   lines last used a lap ago.
 *
 * Neither is done for a receiver on another CPU: the lines it read stay in
 * its own cache, and a sender that wrote them again soon would have to
 * take each one back from it. The fast path of ring_reserve() does not
 * change: head_seen is kept s->cap - s->fill_lim below head, so that the
 * sender comes here once it is fill_lim ahead (the whole ring while the
 * receiver runs elsewhere). s->hot: half the level 2 cache.
 *
 * @p head: just read. @p pad may be set to the pad that takes the record
 * to offset 0. True when it yielded: look again.
 */
static bool
ring_hot(struct ring *s, uint64_t tail, uint64_t head, uint64_t rec, uint64_t *pad,
         bool *yielded)
{
    uint64_t off = tail & s->mask;
    int me = sched_getcpu();
    int there = atomic_load_explicit(&s->hdr->recv_cpu, memory_order_relaxed);
    if (me >= 0 && there == me + 1) {
        s->fill_lim = s->hot;
        if (*pad == 0 && head == tail && off > s->hot && rec <= off) {
            *pad = s->cap - off;
        } else if (tail - head + *pad + rec > s->hot && !*yielded) {
            *yielded = true;
            (void) sched_yield();
            return true;
        }
    } else if (me >= 0 && there != 0) {
        s->fill_lim = s->cap; /* elsewhere: come back when the ring is full */
    }
    return false;
}

/* With the send lock held: the room ring_reserve() did not see at once
 * (head looked at again, a full ring waited for). Out of line, so that the
 * path of a message that fits stays short. */
static __attribute__((noinline)) int
ring_reserve_slow(struct ring *s, uint64_t rec, const struct timespec *deadline,
                  struct ring_slot *slot)
{
    struct ring_hdr *h = s->hdr;
    uint64_t head, tail, off, contig, pad;
    bool yielded = false;
    int rc;
    for (;;) {
        tail = atomic_load_explicit(&h->tail, memory_order_relaxed);
        off = tail & s->mask;
        contig = s->cap - off;
        pad = rec > contig ? contig : 0;
        head = atomic_load_explicit(&h->head, memory_order_acquire);
        s->head_seen = head;
        if (tail - head > s->cap || ((tail | head) & 15u) != 0)
            return ring_corrupt(s, "bad indexes", head, tail);
        if (s->cap - (tail - head) >= pad + rec) {
            if (s->hot < s->cap && ring_hot(s, tail, head, rec, &pad, &yielded))
                continue;
            s->head_seen = head - (s->cap - s->fill_lim);
            break;
        }
        if (s->hot < s->cap)
            s->fill_lim = s->hot; /* where does the receiver run? look when it made room */
        /* A full ring: while spinning, wait for a batch of room
         * (RING_ROOM_BATCH), then refill it in one run. */
        rc = ipckit__ring_wait(s, RING_SPACE, head, ring_room_batch(s), deadline);
        if (rc < 0)
            return rc;
    }
    slot->tail = tail;
    slot->off = pad != 0 ? 0 : off;
    slot->pad = pad;
    return 0;
}

/* With the send lock held: find room for a record of @p len bytes, from
 * the head seen before when there is room by it (head only grows). */
static inline __attribute__((always_inline)) int
ring_reserve(struct ring *s, size_t len, const struct timespec *deadline,
              struct ring_slot *slot)
{
    uint64_t rec = ring_rec_size(len), head = s->head_seen;
    uint64_t tail = atomic_load_explicit(&s->hdr->tail, memory_order_relaxed);
    uint64_t off = tail & s->mask, contig = s->cap - off, pad = rec > contig ? contig : 0;
    if (__builtin_expect(tail - head <= s->cap && s->cap - (tail - head) >= pad + rec &&
                             (tail & 15u) == 0,
                         1)) {
        slot->tail = tail;
        slot->off = pad != 0 ? 0 : off;
        slot->pad = pad;
        return 0;
    }
    return ring_reserve_slow(s, rec, deadline, slot);
}

/* With the send lock held: the payload is at the slot; write the headers
 * and publish the record with one store of tail. */
static inline __attribute__((always_inline)) void
ring_publish(struct ring *s, const struct ring_slot *slot, long type, size_t len, bool locked)
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
    /* the CPU now and then (and before every wait, ipckit__ring_wait()): a side
     * that never waits keeps running where it runs */
    if ((in & RING_CPU_EVERY) == 0)
        ring_note_cpu(&h->send_cpu);
    /* Publish, ordered before the read of recv_sleepers in the wake
     * (ring_side_give(), the store's own fence, or the receivers' barrier:
     * ring_store_index()). */
    ring_store_index(s, RING_DATA, &h->tail, slot->tail + slot->pad + ring_rec_size(len),
                     locked);
}

static int
ring_send(void *state, long type, const void *buf, size_t len, const struct timespec *deadline)
{
    struct ring *s = state;
    struct ring_hdr *h = s->hdr;
    struct ring_slot slot = { 0, 0, 0 };
    bool locked;
    int rc;
    if (s->bc != NULL)
        return ipckit__bcast_send(s->bc, type, buf, len, deadline);
    locked = !ring_claimed(s, s->claimed_send);
    rc = ring_side_take(s, locked, &h->send_lock, "send", deadline);
    if (rc < 0)
        return rc;
    rc = ring_reserve(s, len, deadline, &slot);
    if (rc == 0) {
        if (len > 0)
            memcpy(s->ring + slot.off + RING_REC, buf, len);
        ring_publish(s, &slot, type, len, locked);
    }
    ring_side_give(locked, &h->send_lock);
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
    bool locked;
    int rc;
    if (s->bc != NULL)
        return ipckit__bcast_loan(s->bc, len, buf, deadline);
    locked = !ring_claimed(s, s->claimed_send);
    rc = ring_side_take(s, locked, &h->send_lock, "send_loan", deadline);
    if (rc < 0)
        return rc;
    rc = ring_reserve(s, len, deadline, &s->loan);
    if (rc < 0) {
        ring_side_give(locked, &h->send_lock);
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
    bool locked;
    if (s->bc != NULL)
        return ipckit__bcast_commit(s->bc, type, len, publish);
    if (s->loan_pid != ring_pid(s))
        return -EPERM; /* the parent's loan: its lock is not ours to release */
    locked = !ring_claimed(s, s->claimed_send); /* as at the loan: same process */
    if (publish)
        ring_publish(s, &s->loan, type, len, locked);
    ring_side_give(locked, &h->send_lock);
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
            /* a poller: arm its bell, then look once more (shm_bell.h);
             * a store of tail that may not be seen yet rings it at once */
            ipckit__bell_arm(&s->bell, &h->bell);
            if (ipckit__ring_before_sleep(s, RING_DATA))
                ipckit__bell_ring_slow(&s->bell, &h->bell);
            tail = atomic_load(&h->tail);
            s->tail_seen = tail;
            if (tail != head)
                continue;
        }
        if (head == tail) {
            rc = ipckit__ring_wait(s, RING_DATA, tail, 1, deadline);
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
ring_consume(struct ring *s, uint64_t head, uint32_t len, bool locked)
{
    struct ring_hdr *h = s->hdr;
    uint64_t out = atomic_load_explicit(&h->msgs_out, memory_order_relaxed) + 1;
    atomic_store_explicit(&h->msgs_out, out, memory_order_relaxed);
    if (atomic_load_explicit(&h->last_recv_pid, memory_order_relaxed) != ring_pid(s))
        atomic_store_explicit(&h->last_recv_pid, ring_pid(s), memory_order_relaxed);
    if ((out & RING_CPU_EVERY) == 0)
        ring_note_cpu(&h->recv_cpu);
    /* Free, ordered before the read of send_sleepers in the wake
     * (ring_side_give(), the store's own fence, or the senders' barrier:
     * ring_store_index()). */
    ring_store_index(s, RING_SPACE, &h->head, head + ring_rec_size(len), locked);
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
    bool locked;
    (void) selector;
    if (s->bc != NULL)
        return ipckit__bcast_recv(s->bc, type, buf, cap, deadline);
    locked = !ring_claimed(s, s->claimed_recv);
    rc = ring_side_take(s, locked, &h->recv_lock, "recv", deadline);
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
            ring_consume(s, head, r.len, locked);
            rc = (ssize_t) n;
        }
    }
    ring_side_give(locked, &h->recv_lock);
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
    bool locked;
    int rc;
    if (s->bc != NULL)
        return ipckit__bcast_borrow(s->bc, type, buf, deadline);
    locked = !ring_claimed(s, s->claimed_recv);
    rc = ring_side_take(s, locked, &h->recv_lock, "recv_borrow", deadline);
    if (rc < 0)
        return rc;
    rc = ring_next(s, deadline, &s->borrow_head, &r);
    if (rc < 0) {
        ring_side_give(locked, &h->recv_lock);
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
    bool locked;
    if (s->bc != NULL)
        return ipckit__bcast_release(s->bc, consume);
    if (s->borrow_pid != ring_pid(s))
        return -EPERM;
    locked = !ring_claimed(s, s->claimed_recv); /* as at the borrow: same process */
    if (consume)
        ring_consume(s, s->borrow_head, s->borrow_len, locked);
    ring_side_give(locked, &h->recv_lock);
    if (consume)
        ring_wake(&h->space_seq, &h->send_sleepers);
    return 0;
}

static int
ring_ctl(void *state, int op, void *arg)
{
    struct ring *s = state;
    int rc;
    if (s->bc != NULL)
        return ipckit__bcast_ctl(s->bc, op, arg);
    rc = ipckit__shm_spin_ctl(op, arg, RING_SPIN_LIMIT, &s->spin_max, &s->spin, &s->auto_spin);
    if (rc <= 0)
        return rc;
    return ipckit_backend_fail(-ENOTSUP, "ctl: shm: no request %d", op);
}

const ipckit_backend ipckit__shm_backend = {
    .abi_version = IPCKIT_BACKEND_ABI,
    .scheme = "shm",
    .opt_flags = IPCKIT_OPT_TRUNCATE | IPCKIT_OPT_INTERRUPTIBLE /* it always is */,
    .state_size = sizeof(struct ring),
    .caps = IPCKIT_CAP_TYPED | IPCKIT_CAP_MULTI_SEND | IPCKIT_CAP_MULTI_RECV | IPCKIT_CAP_STAT |
            IPCKIT_CAP_ZEROCOPY | IPCKIT_CAP_FD,
    .open = ipckit__ring_open,
    .close = ipckit__ring_close,
    .unlink = ipckit__ring_unlink,
    .send = ring_send,
    .recv = ring_recv,
    .stat = ipckit__shm_stat,
    .info = ipckit__ring_info,
    .fd = ipckit__ring_fd,
    .loan = ring_loan,
    .commit = ring_commit,
    .borrow = ring_borrow,
    .release = ring_release,
    .interrupt = ipckit__ring_interrupt,
    .ctl = ring_ctl,
    .list = ipckit__shm_list,
    .describe = ipckit__shm_describe,
    .remove_stale = ipckit__shm_remove_stale,
};
