/*
 * ipckit backend "shm:", broadcast rings: shm:NAME?bcast=1 (or =drop,
 * =wait). Every subscriber (IPCKIT_RECV) sees every message that a
 * publisher (IPCKIT_SEND) publishes after it joined, at its own pace.
 * Design notes: docs/backends/shm.md, "Broadcast rings".
 *
 * Layout: a 4096-byte header; a table of subscriber entries (64 bytes
 * each), padded to a page; then `slots` slots of `stride` bytes: a 64-byte
 * slot header (seq, len, check, type) and the payload, room for max_msg.
 * Message number n (counted from 0) lives in slot n % slots.
 *
 * Each slot is a seqlock: a publisher writing message n stores seq = 2n+1,
 * writes the payload and the header fields, then commits with one store of
 * seq = 2n+2. A subscriber that wants message n reads seq (2n+2: there;
 * less: not yet; more: overwritten, it fell behind), copies the message,
 * and reads seq again: unchanged, the copy is whole; changed, a publisher
 * overwrote the slot while it copied, and the copy is thrown away. So a
 * torn message is never returned, whoever dies where. The next message
 * number is `next` in the header; publishers serialise on one PI futex lock
 * (lib/os/lock.h) that guards it. A publisher killed before the commit
 * store published nothing (the next publisher writes message n again); one
 * killed after it but before `next` moved is noticed by the next publisher,
 * which finds slot n committed and moves `next` on.
 *
 * Subscribers keep their position (n and its slot) in their own memory.
 * Drop mode (the default): publishers never look at subscribers; one that
 * fell more than a ring behind learns it when the slot holds a newer
 * message, moves to half a ring behind the newest, and its receive
 * returns -ENOBUFS once with the count (also in IPCKIT_CTL_MISSED). Wait
 * mode (?bcast=wait): each subscriber publishes its position in its entry
 * of the table; a publisher that would overwrite a message that a
 * registered subscriber has not read waits for it (its timeout), and drops
 * entries whose process is gone (pid and start time, /proc).
 *
 * Subscribers in event loops (ipckit_fd()) use the queue's doorbell
 * (shm_bell.h), kept in this header: a subscriber that finds its next
 * slot not committed arms it and looks once more; a publisher loads the
 * armed word after its commit and rings.
 *
 * Nothing in the mapping is trusted: the header is read once into a
 * private copy that is validated; slot and entry indexes come from private
 * counters, every length is checked against the private limit, and a
 * message is only returned when its slot's seq shows it whole.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm_bcast_int.h"

/* ---- waiting ----------------------------------------------------------- */

static int
bc_futex_wait(_Atomic uint32_t *word, uint32_t val, const struct timespec *deadline)
{
    long r = syscall(SYS_futex, (uint32_t *) word, FUTEX_WAIT_BITSET, val, deadline, NULL,
                     FUTEX_BITSET_MATCH_ANY);
    return r < 0 ? -errno : 0;
}

static inline bool
bc_interrupted(struct ipckit__bcast *b)
{
    unsigned posted = atomic_load(&b->intr_posted);
    if (posted == b->intr_taken)
        return false;
    b->intr_taken = posted;
    return true;
}

int
ipckit__bcast_interrupt(struct ipckit__bcast *b)
{
    struct bc_hdr *h = b->hdr;
    atomic_fetch_add(&b->intr_posted, 1);
    atomic_fetch_add(&h->data_seq, 1);
    bc_futex_wake(&h->data_seq);
    atomic_fetch_add(&h->space_seq, 1);
    bc_futex_wake(&h->space_seq);
    return 0;
}

/*
 * Wait until *word differs from @p seen: spin (unless the publisher last
 * ran on this CPU), then sleep on @p fseq with the sleepers flag (the
 * protocol of the queue, shm_ring_wait.c). 0 when it may have changed, -EINTR,
 * or the deadline's error.
 */
static int
bc_wait(struct ipckit__bcast *b, _Atomic uint64_t *word, uint64_t seen, _Atomic uint32_t *fseq,
        _Atomic uint32_t *sleepers, const struct timespec *deadline)
{
    long budget = b->spin;
    uint32_t w;
    int rc, yields = 0;
    if (bc_interrupted(b))
        return -EINTR;
    if (deadline != NULL && ipckit_deadline_passed(deadline))
        return atomic_load(word) != seen ? 0 : ipckit_deadline_error(deadline);
    if (b->spin_max > 0 && ++b->spin_fails >= BC_SPIN_PROBE) {
        budget = b->spin_max;
        b->spin_fails = 0;
    }
    if (b->auto_spin) {
        int me = sched_getcpu();
        if (b->spin_max == 0 ||
            (me >= 0 && atomic_load_explicit(&b->hdr->pub_cpu, memory_order_relaxed) == me + 1 &&
             fseq == &b->hdr->data_seq)) {
            budget = 0;
            yields = 2;
        }
    }
    if (budget > 0) {
        uint64_t t0 = bc_now_ns();
        for (long i = 0; i < budget; i++) {
            if (atomic_load_explicit(word, memory_order_acquire) != seen) {
                /* a spin that took much longer than its iterations was
                 * preempted: the CPUs are busy, spin less (a short spin is
                 * not timed, as in shm_ring_wait.c) */
                if (i < BC_SPIN_UNTIMED || bc_now_ns() - t0 <= (uint64_t) (i * 60 + 5000))
                    b->spin = b->spin_max;
                else
                    b->spin /= 2;
                return 0;
            }
            ipckit__cpu_relax();
            if ((i & (BC_SPIN_YIELD_EVERY - 1)) == BC_SPIN_YIELD_EVERY - 1)
                (void) sched_yield();
        }
        b->spin /= 2;
    }
    for (int i = 0; i < yields; i++) {
        (void) sched_yield();
        if (atomic_load_explicit(word, memory_order_acquire) != seen)
            return 0;
    }
    w = atomic_load(fseq);
    atomic_store(sleepers, 1);
    if (atomic_load(word) != seen)
        return 0;
    if (bc_interrupted(b))
        return -EINTR;
    rc = bc_futex_wait(fseq, w, deadline);
    if (rc == -ETIMEDOUT && atomic_load(word) == seen)
        return ipckit_deadline_error(deadline);
    return 0;
}

/*
 * With the publish lock: the lowest position of the registered subscribers
 * (UINT64_MAX: none), and the entry that has it. With @p check_live,
 * entries below @p need whose process is gone are dropped first.
 */
static uint64_t
bc_scan(struct ipckit__bcast *b, uint64_t need, bool check_live, struct bc_sub **lowest)
{
    uint64_t used = atomic_load(&b->hdr->subs_used), min = UINT64_MAX;
    if (used > b->nsubs)
        used = b->nsubs;
    *lowest = NULL;
    for (uint64_t i = 0; i < used; i++) {
        struct bc_sub *e = &b->subs[i];
        int32_t pid = atomic_load_explicit(&e->pid, memory_order_acquire);
        uint64_t p;
        if (pid == 0)
            continue;
        p = atomic_load_explicit(&e->pos, memory_order_acquire);
        if (p < need && check_live && !ipckit__bc_alive(pid, atomic_load(&e->start))) {
            (void) atomic_compare_exchange_strong(&e->pid, &pid, 0);
            continue;
        }
        if (p < min) {
            min = p;
            *lowest = e;
        }
    }
    return min;
}

/* Wait mode, with the publish lock: wait until message @p n may be
 * written (every registered subscriber has read message n - slots). */
static int
bc_make_room(struct ipckit__bcast *b, uint64_t n, const struct timespec *deadline)
{
    struct bc_hdr *h = b->hdr;
    uint64_t need = n + 1 > b->slots ? n + 1 - b->slots : 0;
    bool waited = false;
    for (;;) {
        struct bc_sub *low;
        uint64_t now = 0, min;
        bool passed = deadline != NULL && ipckit_deadline_passed(deadline), live = false;
        struct timespec near;
        const struct timespec *until = deadline;
        int rc;
        /* dead subscribers are looked for after a wait, at most every
         * BC_LIVE_NS (it reads /proc) */
        if (waited || passed) {
            now = bc_now_ns();
            live = now >= b->live_next;
            if (live)
                b->live_next = now + BC_LIVE_NS;
        }
        min = bc_scan(b, need, live, &low);
        if (min >= need) {
            uint64_t room = min == UINT64_MAX || min > UINT64_MAX - b->slots ? n + b->slots
                                                                                : min + b->slots;
            atomic_store_explicit(&h->room, room, memory_order_relaxed);
            return 0;
        }
        if (passed)
            return ipckit_backend_fail(ipckit_deadline_error(deadline),
                                       "send: a subscriber (pid %d) has not read message %llu"
                                       " yet (wait mode)",
                                       (int) atomic_load(&low->pid),
                                       (unsigned long long) min);
        /* wake now and then to look for dead subscribers */
        if (now == 0)
            now = bc_now_ns();
        now += BC_LIVE_NS;
        near.tv_sec = (time_t) (now / 1000000000u);
        near.tv_nsec = (long) (now % 1000000000u);
        if (deadline == NULL || near.tv_sec < deadline->tv_sec ||
            (near.tv_sec == deadline->tv_sec && near.tv_nsec < deadline->tv_nsec))
            until = &near;
        rc = bc_wait(b, &low->pos, min, &h->space_seq, &h->send_sleepers, until);
        if (rc == -EINTR)
            return rc;
        waited = true;
    }
}

/* ---- publishing -------------------------------------------------------- */

int
ipckit__bc_lock(struct ipckit__bcast *b, const char *what, const struct timespec *deadline)
{
    struct bc_hdr *h = b->hdr;
    int rc = ipckit__lock_take(&h->pub_lock, deadline);
    if (rc == -EOWNERDEAD) {
        /* A publisher died holding the lock: if it committed message
         * `next` but did not move `next` on, do it now. */
        uint64_t n = atomic_load(&h->next);
        struct bc_slot *sl = bc_slot(b, n % b->slots);
        if (n < (UINT64_MAX - 2) / 2 && atomic_load(&sl->seq) == 2 * n + 2)
            atomic_store(&h->next, n + 1);
        b->pub_n = UINT64_MAX;
        return 0;
    }
    if (rc == 0 || rc == -EAGAIN || rc == -ETIMEDOUT)
        return rc;
    if (rc == -EBADMSG)
        return ipckit_backend_fail(rc,
                                   "shm: %s: publish lock of \"%s\" holds a value no lock could"
                                   " (%#x): a peer wrote over it",
                                   what, b->pname, (unsigned) atomic_load(&h->pub_lock));
    return ipckit_backend_fail(rc, "shm: %s: publish lock of \"%s\": %s", what, b->pname,
                               ipckit_strerror(rc));
}

/* With the publish lock: the number and slot of the next message, room for
 * it (wait mode), and the slot marked as being written. */
static inline int
bc_reserve(struct ipckit__bcast *b, uint64_t *n_out, uint64_t *idx_out,
           const struct timespec *deadline)
{
    struct bc_hdr *h = b->hdr;
    uint64_t n = atomic_load_explicit(&h->next, memory_order_relaxed), idx;
    if (n >= (UINT64_MAX - 2) / 2)
        return ipckit_backend_fail(-EBADMSG, "shm: broadcast ring \"%s\" is corrupt: message"
                                             " number %llu",
                                   b->pname, (unsigned long long) n);
    idx = n == b->pub_n ? b->pub_idx : n % b->slots;
    if (b->mode == BC_WAIT && n >= atomic_load_explicit(&h->room, memory_order_relaxed)) {
        int rc = bc_make_room(b, n, deadline);
        if (rc < 0)
            return rc;
    }
    atomic_store_explicit(&bc_slot(b, idx)->seq, 2 * n + 1, memory_order_relaxed);
    /* the mark before any byte of the message: a subscriber that copies
     * one of them sees the mark when it looks again */
    atomic_thread_fence(memory_order_release);
    *n_out = n;
    *idx_out = idx;
    return 0;
}

/* With the publish lock: commit message @p n in slot @p idx. */
static inline void
bc_commit(struct ipckit__bcast *b, uint64_t n, uint64_t idx, long type, size_t len)
{
    struct bc_hdr *h = b->hdr;
    struct bc_slot *sl = bc_slot(b, idx);
    int32_t pid = bc_pid(b);
    sl->len = (uint32_t) len;
    sl->type = type;
    sl->check = bc_check_word(n, (uint32_t) len, type);
    /* the commit, ordered before the read of recv_sleepers in the wake by
     * the give of the publish lock between them (ipckit__lock_give_fenced(),
     * as shm_ring.c, ring_side_give()) */
    atomic_store_explicit(&sl->seq, 2 * n + 2, memory_order_release);
    atomic_store_explicit(&h->next, n + 1, memory_order_relaxed);
    if (atomic_load_explicit(&h->last_send_pid, memory_order_relaxed) != pid)
        atomic_store_explicit(&h->last_send_pid, pid, memory_order_relaxed);
    {
        /* sched_getcpu() reads the rseq area: no system call */
        int cpu = sched_getcpu();
        if (cpu >= 0 && atomic_load_explicit(&h->pub_cpu, memory_order_relaxed) != cpu + 1)
            atomic_store_explicit(&h->pub_cpu, cpu + 1, memory_order_relaxed);
    }
    b->pub_n = n + 1;
    b->pub_idx = idx + 1 == b->slots ? 0 : idx + 1;
}

int
ipckit__bcast_send(struct ipckit__bcast *b, long type, const void *buf, size_t len,
                   const struct timespec *deadline)
{
    struct bc_hdr *h = b->hdr;
    uint64_t n = 0, idx = 0;
    int rc = ipckit__bc_lock(b, "send", deadline);
    if (rc < 0)
        return rc;
    rc = bc_reserve(b, &n, &idx, deadline);
    if (rc == 0) {
        if (len > 0)
            memcpy((unsigned char *) bc_slot(b, idx) + BC_SLOT_HDR, buf, len);
        bc_commit(b, n, idx, type, len);
    }
    ipckit__lock_give_fenced(&h->pub_lock);
    if (rc == 0) {
        bc_wake(&h->data_seq, &h->recv_sleepers);
        ipckit__bell_ring(&b->bell, &h->bell);
    }
    return rc;
}

/* Zero copy: the publish lock stays held from loan to commit. */
int
ipckit__bcast_loan(struct ipckit__bcast *b, size_t len, void **buf,
                   const struct timespec *deadline)
{
    int rc = ipckit__bc_lock(b, "send_loan", deadline);
    (void) len; /* the core checked it against max_msg */
    if (rc < 0)
        return rc;
    rc = bc_reserve(b, &b->loan_n, &b->loan_idx, deadline);
    if (rc < 0) {
        (void) ipckit__lock_give(&b->hdr->pub_lock);
        return rc;
    }
    b->loan_pid = bc_pid(b);
    *buf = (unsigned char *) bc_slot(b, b->loan_idx) + BC_SLOT_HDR;
    return 0;
}

int
ipckit__bcast_commit(struct ipckit__bcast *b, long type, size_t len, bool publish)
{
    struct bc_hdr *h = b->hdr;
    if (b->loan_pid != bc_pid(b))
        return -EPERM;
    /* a cancelled loan leaves its slot marked as being written: message
     * loan_n was never published and the next publisher writes it */
    if (publish)
        bc_commit(b, b->loan_n, b->loan_idx, type, len);
    ipckit__lock_give_fenced(&h->pub_lock);
    if (publish) {
        bc_wake(&h->data_seq, &h->recv_sleepers);
        ipckit__bell_ring(&b->bell, &h->bell);
    }
    return 0;
}

/* ---- subscribing ------------------------------------------------------- */

/* This subscriber fell behind: the slot of message b->n holds a newer one.
 * Move to half a ring behind the newest message and report the gap. */
static int
bc_lapped(struct ipckit__bcast *b, const char *what)
{
    uint64_t next = atomic_load(&b->hdr->next), keep = b->slots / 2, to, lost;
    if (next < keep || next - keep <= b->n)
        return ipckit_backend_fail(-EBADMSG,
                                   "shm: broadcast ring \"%s\" is corrupt: slot of message %llu"
                                   " holds a newer one but the ring counts %llu",
                                   b->pname, (unsigned long long) b->n,
                                   (unsigned long long) next);
    to = next - keep;
    lost = to - b->n;
    b->missed += lost;
    b->n = to;
    b->idx = to % b->slots;
    if (b->me != NULL && b->mode == BC_WAIT &&
        atomic_load_explicit(&b->me->pid, memory_order_relaxed) == b->me_pid)
        atomic_store(&b->me->pos, to);
    return ipckit_backend_fail(-ENOBUFS,
                               "%s: this subscriber fell behind: %llu messages were overwritten"
                               " before it read them (%llu in all); the next receive goes on"
                               " with message %llu",
                               what, (unsigned long long) lost, (unsigned long long) b->missed,
                               (unsigned long long) to);
}

/*
 * Wait for message b->n and validate its slot header. Returns 0 with the
 * seq seen and the header's fields, -ENOBUFS when it was overwritten, or
 * the wait's error.
 */
static inline __attribute__((always_inline)) int
bc_next(struct ipckit__bcast *b, const char *what, const struct timespec *deadline,
        uint64_t *seq, uint32_t *len, int64_t *type)
{
    struct bc_hdr *h = b->hdr;
    struct bc_slot *sl = bc_slot(b, b->idx);
    uint64_t want = 2 * b->n + 2;
    for (;;) {
        uint64_t s = atomic_load_explicit(&sl->seq, memory_order_acquire);
        if (s == want) {
            *len = *(volatile uint32_t *) &sl->len;
            *type = *(volatile int64_t *) &sl->type;
            uint32_t check = *(volatile uint32_t *) &sl->check;
            if (*len > b->max_msg || *type <= 0 || check != bc_check_word(b->n, *len, *type)) {
                atomic_thread_fence(memory_order_acquire);
                if (atomic_load_explicit(&sl->seq, memory_order_relaxed) != s)
                    continue; /* overwritten under us: look again */
                return ipckit_backend_fail(-EBADMSG,
                                           "shm: broadcast ring \"%s\" is corrupt: bad header"
                                           " of message %llu (length %u)",
                                           b->pname, (unsigned long long) b->n, *len);
            }
            *seq = s;
            return 0;
        }
        if (s > want)
            return bc_lapped(b, what);
        if (b->bell.rx >= 0) {
            /* a poller found nothing new: arm its bell, then look once more
             * (the publisher commits, then loads armed; shm_bell.h) */
            ipckit__bell_arm(&b->bell, &h->bell);
            if (atomic_load(&sl->seq) != s)
                continue;
        }
        int rc = bc_wait(b, &sl->seq, s, &h->data_seq, &h->recv_sleepers, deadline);
        if (rc < 0)
            return rc;
    }
}

/* Move past message b->n; in wait mode tell the publishers. */
static inline void
bc_advance(struct ipckit__bcast *b)
{
    b->n++;
    if (++b->idx == b->slots)
        b->idx = 0;
    if (b->me != NULL && b->mode == BC_WAIT &&
        atomic_load_explicit(&b->me->pid, memory_order_relaxed) == b->me_pid) {
        atomic_store(&b->me->pos, b->n); /* seq_cst: before the read of send_sleepers */
        bc_wake(&b->hdr->space_seq, &b->hdr->send_sleepers);
    }
}

ssize_t
ipckit__bcast_recv(struct ipckit__bcast *b, long *type, void *buf, size_t cap,
                   const struct timespec *deadline)
{
    uint64_t seq = 0;
    uint32_t len = 0;
    int64_t t = 0;
    size_t n;
    for (;;) {
        int rc = bc_next(b, "recv", deadline, &seq, &len, &t);
        if (rc < 0)
            return rc;
        if (len > cap && !b->truncate)
            return ipckit_backend_fail(-EMSGSIZE,
                                       "recv: message of %u bytes does not fit a buffer of %zu"
                                       " bytes; it stays receivable",
                                       len, cap);
        n = len > cap ? cap : len;
        if (n > 0)
            memcpy(buf, (unsigned char *) bc_slot(b, b->idx) + BC_SLOT_HDR, n);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&bc_slot(b, b->idx)->seq, memory_order_relaxed) != seq)
            return bc_lapped(b, "recv"); /* overwritten while copied: the copy is dropped */
        *type = (long) t;
        bc_advance(b);
        return (ssize_t) n;
    }
}

/* Zero copy: the message stays in its slot until release. In wait mode no
 * publisher overwrites it meanwhile (the position is not moved yet); in
 * drop mode one may, and the release then says so (-ESTALE). */
ssize_t
ipckit__bcast_borrow(struct ipckit__bcast *b, long *type, const void **buf,
                     const struct timespec *deadline)
{
    uint32_t len = 0;
    int64_t t = 0;
    int rc = bc_next(b, "recv_borrow", deadline, &b->borrow_seq, &len, &t);
    if (rc < 0)
        return rc;
    b->borrow_pid = bc_pid(b);
    *type = (long) t;
    *buf = (unsigned char *) bc_slot(b, b->idx) + BC_SLOT_HDR;
    return (ssize_t) len;
}

/* ipckit_fd(): only subscribers have IPCKIT_CAP_FD (ipckit__bcast_info()). */
int
ipckit__bcast_fd(struct ipckit__bcast *b)
{
    struct bc_hdr *h = b->hdr;
    bool fresh = b->bell.rx < 0;
    int fd = ipckit__bell_listen(&b->bell, &h->bell);
    if (fd < 0 || !fresh)
        return fd;
    ipckit__bell_arm(&b->bell, &h->bell);
    if (atomic_load(&bc_slot(b, b->idx)->seq) >= 2 * b->n + 2)
        ipckit__bell_ring_slow(&b->bell, &h->bell); /* a message, or a gap to report */
    return fd;
}

int
ipckit__bcast_release(struct ipckit__bcast *b, bool consume)
{
    uint64_t seq;
    if (b->borrow_pid != bc_pid(b))
        return -EPERM;
    if (!consume)
        return 0;
    atomic_thread_fence(memory_order_acquire);
    seq = atomic_load_explicit(&bc_slot(b, b->idx)->seq, memory_order_relaxed);
    bc_advance(b);
    if (seq != b->borrow_seq) {
        b->missed++;
        return ipckit_backend_fail(-ESTALE,
                                   "recv_release: a publisher overwrote message %llu while it was"
                                   " borrowed (drop mode): what was read there may be torn",
                                   (unsigned long long) (b->n - 1));
    }
    return 0;
}
