/*
 * ipckit: what the two files of the broadcast ring share (shm_bcast.c: the
 * ring itself; shm_bcast_open.c: opening, the subscriber table, requests).
 * The layout is described in shm_bcast.c and docs/backends/shm.md. Not
 * installed.
 */
#ifndef IPCKIT_BACKENDS_SHM_BCAST_INT_H
#define IPCKIT_BACKENDS_SHM_BCAST_INT_H

#include <limits.h>
#include <linux/futex.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../os/shm_object.h"
#include "shm_bcast.h"
#include "shm_bell.h"

#define BC_VERSION 1u
#define BC_HDR 4096u
#define BC_SLOT_HDR 64u
#define BC_SUB 64u
#define BC_SLOTS_MAX ((uint64_t) 1 << 20)
#define BC_DATA_MAX ((uint64_t) 1 << 30)
#define BC_DATA_DEFAULT ((uint64_t) 4 << 20)
#define BC_MSG_DEFAULT ((uint64_t) 64 << 10)
#define BC_SUBS_DEFAULT 64L
#define BC_SUBS_MAX 4096L
#define BC_SPIN_DEFAULT 2000L
#define BC_SPIN_LIMIT 10000000L
#define BC_SPIN_YIELD_EVERY 256L
#define BC_SPIN_PROBE 64u
/* A spin that ends within this many pauses is not timed (shm_ring_wait.c). */
#define BC_SPIN_UNTIMED 64L
/* wait mode: how often a publisher that waits looks for dead subscribers */
#define BC_LIVE_NS 20000000L

enum { BC_DROP = 0, BC_WAIT = 1 };

struct bc_hdr {
    _Atomic uint32_t magic;
    uint32_t version;
    uint32_t hdr_size;
    int32_t creator_pid;
    uint64_t slots;
    uint64_t max_msg;
    uint64_t total_size;
    uint64_t stride;
    uint64_t creator_start; /* IPCKIT__SHMOBJ_CREATOR_START_OFFSET */
    uint32_t mode;
    uint32_t nsubs;
    /* publishers, under pub_lock */
    alignas(64) ipckit__lock pub_lock;
    uint32_t reserved0;
    _Atomic uint64_t next;        /* the number of the next message */
    _Atomic uint64_t room;        /* wait mode: messages below it need no look at subscribers */
    _Atomic int32_t last_send_pid;
    _Atomic uint32_t subs_used;   /* entries [0, subs_used) may be in use */
    /* subscribers sleeping */
    alignas(64) _Atomic uint32_t data_seq;
    _Atomic uint32_t recv_sleepers;
    /* publishers sleeping (wait mode) */
    alignas(64) _Atomic uint32_t space_seq;
    _Atomic uint32_t send_sleepers;
    /* CPU of the last publisher, plus one: on a line of its own, written
     * only when it changes, so that a subscriber reading it before each
     * wait does not take the publishers' line from them */
    alignas(64) _Atomic int32_t pub_cpu;
    /* the subscribers' pollable descriptors (shm_bell.h): publishers load
     * `armed` after each commit; on a line of its own, written only by a
     * subscriber that found nothing new and by the publisher that rings */
    alignas(64) struct ipckit__bell_shared bell;
};

_Static_assert(sizeof(struct bc_hdr) <= BC_HDR, "broadcast header fits its page");
_Static_assert(offsetof(struct bc_hdr, creator_pid) == 12 &&
                   offsetof(struct bc_hdr, creator_start) ==
                       IPCKIT__SHMOBJ_CREATOR_START_OFFSET &&
                   offsetof(struct bc_hdr, mode) == 56 && offsetof(struct bc_hdr, pub_lock) == 64 &&
                   offsetof(struct bc_hdr, next) == 72 && offsetof(struct bc_hdr, room) == 80 &&
                   offsetof(struct bc_hdr, data_seq) == 128 &&
                   offsetof(struct bc_hdr, space_seq) == 192 &&
                   offsetof(struct bc_hdr, pub_cpu) == 256 &&
                   offsetof(struct bc_hdr, bell) == 320,
               "broadcast header layout");

/* A subscriber's entry: 0 pid when free. */
struct bc_sub {
    _Atomic uint64_t pos; /* wait mode: the next message it reads */
    _Atomic int32_t pid;
    uint32_t reserved0;
    _Atomic uint64_t start; /* its process's start time (/proc/PID/stat field 22) */
    uint64_t reserved[5];
};
_Static_assert(sizeof(struct bc_sub) == BC_SUB, "one line per subscriber");

struct bc_slot {
    _Atomic uint64_t seq; /* 2n+1: message n is being written; 2n+2: it is there */
    uint32_t len;
    uint32_t check;
    int64_t type;
};

struct ipckit__bcast {
    struct bc_hdr *hdr;
    struct bc_sub *subs;
    unsigned char *slot0;
    size_t map_size;
    /* from the validated private copy of the header */
    uint64_t slots, stride, max_msg, nsubs;
    unsigned mode;
    unsigned flags;
    bool truncate, auto_spin;
    long spin, spin_max;
    unsigned spin_fails;
    /* publisher: the last message number and slot it used */
    uint64_t pub_n, pub_idx;
    uint64_t live_next; /* CLOCK_MONOTONIC ns of the next liveness check */
    uint64_t loan_n, loan_idx;
    int32_t loan_pid;
    /* subscriber */
    uint64_t n, idx;
    struct bc_sub *me; /* its entry, NULL when not registered */
    /* the process that registered it: the entry is this handle's while it
     * still names that process (a forked child using the handle keeps the
     * parent's entry moving; an entry dropped and given to another
     * subscriber is left alone) */
    int32_t me_pid;
    uint64_t missed;
    uint64_t borrow_seq;
    int32_t borrow_pid;
    int32_t pid;
    unsigned pid_gen;
    _Atomic unsigned intr_posted;
    unsigned intr_taken;
    /* ipckit_fd() of a subscriber (rx), a publisher's socket that rings (tx) */
    struct ipckit__bell bell;
    char pname[IPCKIT__SHMOBJ_NAME_MAX + 2];
};

/* Sizes asked for (0: the existing ring's or the default) and those read. */
struct bc_want {
    uint64_t slots, max_msg, nsubs;
    int mode; /* -1: any */
    uint64_t make_slots, make_max_msg, make_nsubs;
    unsigned make_mode;
    struct bc_hdr_copy {
        uint32_t magic, version, hdr_size, mode, nsubs;
        uint64_t slots, max_msg, total_size, stride;
    } got;
};


static inline uint64_t
bc_stride(uint64_t max_msg)
{
    return BC_SLOT_HDR + ((max_msg + 63u) & ~(uint64_t) 63u);
}

static inline uint64_t
bc_slots_off(uint64_t nsubs)
{
    return BC_HDR + ((nsubs * BC_SUB + 4095u) & ~(uint64_t) 4095u);
}

static inline uint32_t
bc_check_word(uint64_t seq, uint32_t len, int64_t type)
{
    return ~len ^ (uint32_t) type ^ (uint32_t) (seq >> 1) ^ 0x6bca57edu;
}

static inline struct bc_slot *
bc_slot(const struct ipckit__bcast *b, uint64_t idx)
{
    return (struct bc_slot *) (void *) (b->slot0 + idx * b->stride);
}

static inline int32_t
bc_pid(struct ipckit__bcast *b)
{
    unsigned gen = atomic_load_explicit(&ipckit__shmobj_fork_gen, memory_order_relaxed);
    if (b->pid_gen != gen) {
        b->pid_gen = gen;
        b->pid = (int32_t) getpid();
    }
    return b->pid;
}

static inline uint64_t
bc_now_ns(void)
{
    struct timespec t;
    (void) clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t) t.tv_sec * 1000000000u + (uint64_t) t.tv_nsec;
}

static inline void
bc_futex_wake(_Atomic uint32_t *word)
{
    (void) syscall(SYS_futex, (uint32_t *) word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Wake every sleeper on @p word if one may be there (shm_ring.c's protocol). */
static inline void
bc_wake(_Atomic uint32_t *word, _Atomic uint32_t *sleepers)
{
    if (atomic_load(sleepers) != 0 && atomic_exchange(sleepers, 0) != 0) {
        atomic_fetch_add(word, 1);
        bc_futex_wake(word);
    }
}

/* shm_bcast.c: take the publish lock (after a dead holder, repair `next`). */
int ipckit__bc_lock(struct ipckit__bcast *b, const char *what, const struct timespec *deadline);
/* shm_bcast_open.c: is process @p pid, started at @p start, still there? */
bool ipckit__bc_alive(int32_t pid, uint64_t start);

#endif /* IPCKIT_BACKENDS_SHM_BCAST_INT_H */
