/*
 * ipckit-bench: the raw twin of shm:, the limit it is measured against. A
 * plain single-producer single-consumer ring in shared memory that spins:
 * no lock, no futex, no check of what it reads, one writer and one reader
 * per ring. It is what a program that trusts its peer and owns a CPU could
 * write by hand; shm: is reported as a fraction of it and of the pipe.
 *
 * The ring: a 64-byte line for the head (written by the consumer), one for
 * the tail (written by the producer), then the bytes; a record is an 8-byte
 * length and the payload padded to 8, and a record that does not fit before
 * the end is preceded by a wrap marker. Each side keeps its view of the
 * other side's index and reads the shared one only when that view shows no
 * room or no data, as shm: does. A waiter spins on the index, yielding the
 * CPU every 64 turns so that two processes on one CPU still make progress.
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench.h"

#define LIMIT_CAP ((uint64_t) 4 << 20) /* the default size of a shm: ring */
#define LIMIT_WRAP UINT64_MAX

struct limit_ring {
    _Alignas(64) _Atomic uint64_t head;
    _Alignas(64) _Atomic uint64_t tail;
    _Alignas(64) unsigned char data[];
};

struct limit_ep {
    struct limit_ring *ring;
    uint64_t seen; /* the other side's index, as last read */
};

static size_t
limit_map_size(void)
{
    return sizeof(struct limit_ring) + LIMIT_CAP;
}

static int
limit_prepare(struct bx_run *r)
{
    if (r->multi) {
        (void) snprintf(r->err, sizeof r->err,
                        "a single-producer single-consumer ring has one of each");
        return 1;
    }
    for (int c = 0; c < r->nchan; c++) {
        void *p = mmap(NULL, limit_map_size(), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (p == MAP_FAILED) {
            (void) snprintf(r->err, sizeof r->err, "mmap: %s", strerror(errno));
            for (int k = 0; k < c; k++)
                (void) munmap(r->mem[k], limit_map_size());
            return -1;
        }
        r->mem[c] = p;
    }
    return 0;
}

static void
limit_parent_after_fork(struct bx_run *r)
{
    (void) r;
}

static int
limit_open(struct bx_run *r, int chan, enum bx_dir dir, void **ep)
{
    struct limit_ep *e = calloc(1, sizeof *e);
    (void) dir;
    if (e == NULL)
        return -ENOMEM;
    e->ring = r->mem[chan];
    *ep = e;
    return 0;
}

static inline void
limit_relax(unsigned *turns)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    if ((++*turns & 63u) == 0)
        (void) sched_yield();
}

static inline uint64_t
limit_rec(size_t len)
{
    return 8 + ((len + 7) & ~(uint64_t) 7);
}

static int
limit_send(void *ep, const void *buf, size_t len)
{
    struct limit_ep *e = ep;
    struct limit_ring *g = e->ring;
    uint64_t tail = atomic_load_explicit(&g->tail, memory_order_relaxed);
    uint64_t off = tail % LIMIT_CAP, need = limit_rec(len);
    uint64_t wrap = need > LIMIT_CAP - off ? LIMIT_CAP - off : 0;
    unsigned turns = 0;
    if (need > LIMIT_CAP / 2)
        return -EMSGSIZE;
    while (LIMIT_CAP - (tail - e->seen) < wrap + need) {
        e->seen = atomic_load_explicit(&g->head, memory_order_acquire);
        if (LIMIT_CAP - (tail - e->seen) >= wrap + need)
            break;
        limit_relax(&turns);
    }
    if (wrap != 0) {
        uint64_t mark = LIMIT_WRAP;
        memcpy(g->data + off, &mark, 8);
        off = 0;
    }
    {
        uint64_t l = len;
        memcpy(g->data + off, &l, 8);
        memcpy(g->data + off + 8, buf, len);
    }
    atomic_store_explicit(&g->tail, tail + wrap + need, memory_order_release);
    return 0;
}

static ssize_t
limit_recv(void *ep, void *buf, size_t cap)
{
    struct limit_ep *e = ep;
    struct limit_ring *g = e->ring;
    uint64_t head = atomic_load_explicit(&g->head, memory_order_relaxed), len, off;
    unsigned turns = 0;
    for (;;) {
        while (e->seen == head) {
            e->seen = atomic_load_explicit(&g->tail, memory_order_acquire);
            if (e->seen != head)
                break;
            limit_relax(&turns);
        }
        off = head % LIMIT_CAP;
        memcpy(&len, g->data + off, 8);
        if (len != LIMIT_WRAP)
            break;
        head += LIMIT_CAP - off; /* the record is at the start */
    }
    if (len > cap)
        return -EMSGSIZE;
    memcpy(buf, g->data + off + 8, len);
    atomic_store_explicit(&g->head, head + limit_rec(len), memory_order_release);
    return (ssize_t) len;
}

static void
limit_close(void *ep)
{
    free(ep);
}

static void
limit_cleanup(struct bx_run *r)
{
    for (int c = 0; c < r->nchan; c++)
        if (r->mem[c] != NULL) {
            (void) munmap(r->mem[c], limit_map_size());
            r->mem[c] = NULL;
        }
}

const struct bx_variant bx_raw_spsc = {
    .name = "raw",
    .prepare = limit_prepare,
    .parent_after_fork = limit_parent_after_fork,
    .open = limit_open,
    .send = limit_send,
    .recv = limit_recv,
    .close = limit_close,
    .cleanup = limit_cleanup,
};
