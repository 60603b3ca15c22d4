/*
 * ipckit backend "shm:": what the files of the message ring share
 * (shm_ring.c: sending and receiving, and the operations table;
 * shm_ring_open.c: opening, validating, claiming, closing; shm_ring_wait.c:
 * waiting: the spin, the futex, the interrupt). The design is described in
 * shm_ring.c and docs/backends/shm.md. Not installed.
 */
#ifndef IPCKIT_BACKENDS_SHM_RING_INT_H
#define IPCKIT_BACKENDS_SHM_RING_INT_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "shm_ring.h"
#include "shm_bcast.h"
#include "../os/lock.h"

#define RING_SPIN_LIMIT 10000000L

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
    uint64_t head_seen; /* producer: a head value read before (head only grows), less
                           cap - fill_lim */
    uint64_t hot;       /* producer: half the L2 cache (shm_ring.c, ring_hot()) */
    uint64_t fill_lim;  /* producer: how far ahead of head it writes before it looks again */
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
    /* publishing without a fence (shm_ring.h): this process is reached by
     * the kernel's barrier (registered when it claimed a side); the mode
     * each claimed side last announced (RING_DATA: tail, RING_SPACE: head) */
    bool barrier_ok;
    bool nofence[2];
    /* waiting: the message count at this handle's last sleep per direction,
     * and when it first could not make the barrier (CLOCK_MONOTONIC ns) */
    uint64_t wait_mark[2];
    int64_t refused_ns;
    bool receives;             /* opened with IPCKIT_RECV */
    struct ipckit__bell bell;  /* ipckit_fd() */
};

static inline uint64_t
ring_rec_size(uint64_t len)
{
    return RING_REC + ((len + 15u) & ~(uint64_t) 15u);
}

/* Is a side's lock held by this handle's claim (in this process)? */
static inline bool
ring_claimed(const struct ring *s, bool held)
{
    return held &&
           s->claim_gen == atomic_load_explicit(&ipckit__shmobj_fork_gen, memory_order_relaxed);
}

/* ---- shm_ring_wait.c ------------------------------------------------------ */

/* The two directions of a ring: receivers wait for data (tail, published
 * by the sender), senders for space (head, published by the receiver). */
enum { RING_DATA = 0, RING_SPACE = 1 };

/* The word in which the side that publishes direction @p dir says that it
 * does so without a fence, and the word of that direction's waiters'
 * RING_FENCE_* bits (shm_ring.h). */
static inline _Atomic uint32_t *
ring_nofence_word(struct ring_hdr *h, int dir)
{
    return dir == RING_DATA ? &h->send_nofence : &h->recv_nofence;
}

static inline _Atomic uint32_t *
ring_fence_word(struct ring_hdr *h, int dir)
{
    return dir == RING_DATA ? &h->recv_fence : &h->send_fence;
}

/*
 * Wait until the index of direction @p dir (tail for RING_DATA, head for
 * RING_SPACE) differs from @p seen: spin, then sleep on its futex word.
 * While it spins, it waits for the index to move by @p batch (1: any move);
 * when the spin ends with a smaller move, it returns at once. Returns 0
 * when it may have changed (the caller re-checks), or the deadline's error
 * when it did not change in time.
 */
int ipckit__ring_wait(struct ring *s, int dir, uint64_t seen, uint64_t batch,
                      const struct timespec *deadline);
/*
 * A waiter of @p dir has set its flag (a sleeper's, or a poller's armed
 * bell) and is about to look at the index once more before it sleeps: if
 * the index is published without a fence, make the kernel's barrier first.
 * True when it could not, and a store of the index may still be on its
 * way: then the sleep must end soon (a poller's bell rings at once).
 */
bool ipckit__ring_before_sleep(struct ring *s, int dir);
/* Open: a process that cannot make the barrier says so on the directions
 * it waits on, so that their publishers keep their fences. */
void ipckit__ring_barrier_check(struct ring *s, bool sends, bool receives);
/* Wake every sleeper on the futex @p word. */
void ipckit__ring_futex_wake(_Atomic uint32_t *word);
/* Measure the pause of the spin; once per process (pthread_once). */
void ipckit__ring_pause_calibrate(void);
/* ipckit_interrupt(). Async-signal-safe. */
int ipckit__ring_interrupt(void *state);

/* ---- shm_ring_open.c ------------------------------------------------------ */

int ipckit__ring_open(void *state, const ipckit_name *name, unsigned flags,
                      const ipckit_opts *opts, const struct timespec *deadline);
int ipckit__ring_close(void *state);
int ipckit__ring_unlink(const ipckit_name *name);
void ipckit__ring_info(void *state, unsigned *caps, size_t *max_msg);
int ipckit__ring_fd(void *state);

/* ---- shm_ring.c ----------------------------------------------------------- */

/* The detail of a lock that could not be taken (ring_lock()). */
int ipckit__ring_lock_failed(struct ring *s, ipckit__lock *l, const char *what, int rc);

static inline __attribute__((always_inline)) int
ring_lock(struct ring *s, ipckit__lock *l, const char *what, const struct timespec *deadline)
{
    int rc = ipckit__lock_take(l, deadline);
    if (rc == 0 || rc == -EOWNERDEAD)
        return 0; /* a dead holder published nothing half-done */
    return ipckit__ring_lock_failed(s, l, what, rc);
}

#endif /* IPCKIT_BACKENDS_SHM_RING_INT_H */
