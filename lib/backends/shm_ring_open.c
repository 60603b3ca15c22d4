/*
 * ipckit backend "shm:": opening a message ring (shm_ring.c describes the
 * design): the name's parameters, creating or attaching the object, the
 * header read once into a private copy and validated, ?claim=1; closing,
 * unlinking, and ipckit_fd()'s doorbell. A ?bcast= name goes to
 * shm_bcast_open.c.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shm_ring_int.h"
#include "../os/barrier.h"
#include "../core/objects.h"

#define RING_CAP_DEFAULT ((uint64_t) 4 << 20)
#define RING_MSG_DEFAULT ((uint64_t) 64 << 10)
#define RING_SPIN_DEFAULT 2000L

/* Sizes asked for (0: accept the existing ring's), sizes to create with,
 * and the sizes of the ring attached, from the validated private copy of
 * its header. */
struct ring_sizes {
    uint64_t cap, max_msg;
    uint64_t make_cap, make_max_msg;
    uint64_t got_cap, got_max_msg;
};

static const char *const ring_params[] = { "spin", "claim", "bcast", NULL };

static uint64_t
ring_pow2(uint64_t v)
{
    uint64_t p = RING_CAP_MIN;
    while (p < v && p < ((uint64_t) 1 << 62))
        p <<= 1;
    return p;
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

static int ring_claim(struct ring *s, unsigned flags, const struct timespec *deadline);

static long
ring_default_spin(void)
{
    return sysconf(_SC_NPROCESSORS_ONLN) < 2 ? 0 : RING_SPIN_DEFAULT;
}

/* Half the CPU's level 2 cache, at least 256 KiB; 1 MiB when it is not
 * known (shm_ring.c, ring_hot()). */
static uint64_t
ring_hot_bytes(void)
{
    long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    uint64_t hot = l2 > 0 ? (uint64_t) l2 / 2 : 1024u * 1024u;
    return hot < 256u * 1024u ? 256u * 1024u : hot;
}

int
ipckit__ring_open(void *state, const ipckit_name *name, unsigned flags, const ipckit_opts *opts,
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
    s->hot = ring_hot_bytes();
    s->fill_lim = s->cap;
    s->max_msg = want.got_max_msg;
    ipckit__shmobj_fork_watch();
    {
        static pthread_once_t calibrated = PTHREAD_ONCE_INIT;
        (void) pthread_once(&calibrated, ipckit__ring_pause_calibrate);
    }
    s->pid_gen = atomic_load(&ipckit__shmobj_fork_gen);
    s->pid = (int32_t) getpid();
    s->wait_mark[RING_DATA] = atomic_load_explicit(&s->hdr->msgs_out, memory_order_relaxed);
    s->wait_mark[RING_SPACE] = atomic_load_explicit(&s->hdr->msgs_in, memory_order_relaxed);
    ipckit__ring_barrier_check(s, (flags & IPCKIT_SEND) != 0, s->receives);
    if (claim)
        return ring_claim(s, flags, deadline);
    return 0;
}

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
            (void) ipckit__ring_close(s);
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
        /* a holder before us may have died publishing without a fence: its
         * word says nothing of us (we start with the fence) */
        atomic_store_explicit(
            ring_nofence_word(s->hdr, sides[i].dir == IPCKIT_SEND ? RING_DATA : RING_SPACE), 0,
            memory_order_release);
    }
    /* publish without a fence when the kernel's barrier reaches us */
    s->barrier_ok = ipckit__barrier_register();
    return 0;
}

int
ipckit__ring_close(void *state)
{
    struct ring *s = state;
    if (s->bc != NULL) {
        int rc = ipckit__bcast_close(s->bc);
        s->bc = NULL;
        return rc;
    }
    /* the last index this handle published is out; its waiters can stop
     * making the barrier for it */
    for (int dir = RING_DATA; dir <= RING_SPACE && s->hdr != NULL; dir++)
        if (s->nofence[dir] &&
            ring_claimed(s, dir == RING_DATA ? s->claimed_send : s->claimed_recv))
            atomic_store_explicit(ring_nofence_word(s->hdr, dir), 0, memory_order_release);
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

int
ipckit__ring_unlink(const ipckit_name *name)
{
    char pname[IPCKIT__SHMOBJ_NAME_MAX + 2];
    int rc = ipckit__shmobj_posix_name(name, pname, sizeof pname);
    if (rc < 0)
        return rc;
    return ipckit__shmobj_unlink(pname, IPCKIT__SHMOBJ_ANY);
}

void
ipckit__ring_info(void *state, unsigned *caps, size_t *max_msg)
{
    struct ring *s = state;
    if (s->bc != NULL) {
        ipckit__bcast_info(s->bc, caps, max_msg);
        return;
    }
    if (!s->receives)
        *caps &= ~(unsigned) IPCKIT_CAP_FD; /* only a receiver polls */
    *max_msg = (size_t) s->max_msg;
}

/* ipckit_fd(): the doorbell socket (shm_bell.h), readable at once when
 * the ring holds a message already. */
int
ipckit__ring_fd(void *state)
{
    struct ring *s = state;
    struct ring_hdr *h = s->hdr;
    bool fresh;
    int fd;
    if (s->bc != NULL)
        return ipckit__bcast_fd(s->bc);
    fresh = s->bell.rx < 0;
    fd = ipckit__bell_listen(&s->bell, &h->bell);
    if (fd < 0 || !fresh)
        return fd;
    ipckit__bell_arm(&s->bell, &h->bell);
    if (ipckit__ring_before_sleep(s, RING_DATA) ||
        atomic_load(&h->tail) != atomic_load(&h->head))
        ipckit__bell_ring_slow(&s->bell, &h->bell);
    return fd;
}
