/*
 * ipckit backend "shm:": the layout of a ring's header, shared by the ring
 * (shm_ring.c, shm_ring_open.c, shm_ring_wait.c) and its description
 * (shm_objects.c). Not installed. The layout is a format shared between
 * processes (docs/backends/shm.md).
 */
#ifndef IPCKIT_BACKENDS_SHM_RING_H
#define IPCKIT_BACKENDS_SHM_RING_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "../os/shm_object.h"
#include "shm_bell.h"

#define RING_MAGIC IPCKIT__SHMOBJ_RING_MAGIC
#define RING_VERSION 2u
#define RING_HDR 4096u
#define RING_REC 16u
#define RING_CAP_MIN ((uint64_t) 4096)
#define RING_CAP_MAX ((uint64_t) 1 << 30)
/* A waiter's fence word: it sleeps often enough that fences cost less than
 * its barriers (cleared again after a long run without a sleep) */
#define RING_FENCE_WANT 1u
/* ... a process that cannot make the barrier waits on this index (sticky) */
#define RING_FENCE_REFUSED 2u

struct ring_hdr {
    _Atomic uint32_t magic;
    uint32_t version;
    uint32_t hdr_size;
    int32_t creator_pid;
    uint64_t capacity;
    uint64_t max_msg;
    uint64_t total_size;
    uint64_t reserved0;
    uint64_t creator_start; /* IPCKIT__SHMOBJ_CREATOR_START_OFFSET */
    /* The two locks, each on a line of its own: a lock word shares no line
     * with the index the other side polls, so that taking and giving it
     * stays in the holder's cache while the peer spins on the index. */
    alignas(64) ipckit__lock send_lock;
    alignas(64) ipckit__lock recv_lock;
    /* producers' side, written under send_lock */
    alignas(64) _Atomic uint64_t tail;
    _Atomic uint64_t msgs_in;
    _Atomic int32_t last_send_pid;
    _Atomic int32_t send_cpu; /* CPU of the last sender, plus one; 0: not known */
    /* consumers' side, written under recv_lock */
    alignas(64) _Atomic uint64_t head;
    _Atomic uint64_t msgs_out;
    _Atomic int32_t last_recv_pid;
    _Atomic int32_t recv_cpu; /* CPU of the last receiver, plus one; 0: not known */
    /* futex words and waiter flags, and how each index is published: a
     * claimed side whose process the kernel's barrier reaches stores its
     * index without a fence and says so in its nofence word; the waiters
     * of that index then make the barrier before they sleep, and ask for
     * the fence back through their fence word (RING_FENCE_*) when they
     * sleep often or cannot make it (shm_ring_wait.c) */
    alignas(64) _Atomic uint32_t data_seq;
    _Atomic uint32_t recv_sleepers;
    _Atomic uint32_t send_nofence; /* the claimed sender publishes tail without a fence */
    _Atomic uint32_t recv_fence;   /* receivers' RING_FENCE_* bits */
    alignas(64) _Atomic uint32_t space_seq;
    _Atomic uint32_t send_sleepers;
    _Atomic uint32_t recv_nofence; /* the claimed receiver publishes head without a fence */
    _Atomic uint32_t send_fence;   /* senders' RING_FENCE_* bits */
    /* the receivers' pollable descriptors (shm_bell.h) */
    alignas(64) struct ipckit__bell_shared bell;
};

_Static_assert(sizeof(struct ring_hdr) <= RING_HDR, "ring header fits its page");
/* The layout is a format shared between processes (docs/backends/shm.md). */
_Static_assert(offsetof(struct ring_hdr, creator_pid) == 12 &&
                   offsetof(struct ring_hdr, creator_start) ==
                       IPCKIT__SHMOBJ_CREATOR_START_OFFSET &&
                   offsetof(struct ring_hdr, send_lock) == 64 &&
                   offsetof(struct ring_hdr, recv_lock) == 128 &&
                   offsetof(struct ring_hdr, tail) == 192 &&
                   offsetof(struct ring_hdr, head) == 256 &&
                   offsetof(struct ring_hdr, data_seq) == 320 &&
                   offsetof(struct ring_hdr, send_nofence) == 328 &&
                   offsetof(struct ring_hdr, recv_fence) == 332 &&
                   offsetof(struct ring_hdr, space_seq) == 384 &&
                   offsetof(struct ring_hdr, recv_nofence) == 392 &&
                   offsetof(struct ring_hdr, send_fence) == 396 &&
                   offsetof(struct ring_hdr, bell) == 448,
               "ring header layout");

/* The header fields a reader relies on, read once. */
struct ring_hdr_copy {
    uint32_t magic, version, hdr_size;
    uint64_t capacity, max_msg, total_size;
};

/* Copy what a reader relies on of the header @p h (in the mapping, or a
 * private copy), once: what a racing peer writes afterwards is not seen. */
void ipckit__ring_hdr_read(const struct ring_hdr *h, struct ring_hdr_copy *c);

/* Validate a private copy of a ring header for an object of @p size bytes:
 * 0, -EINPROGRESS (not published yet), or -EBADMSG / -EPROTO with a detail. */
int ipckit__ring_hdr_valid(const struct ring_hdr_copy *c, size_t size);

/* shm_objects.c: the ipckit_stat of the ring behind @p name. */
int ipckit__shm_stat(const ipckit_name *name, ipckit_stat *out);

#endif /* IPCKIT_BACKENDS_SHM_RING_H */
