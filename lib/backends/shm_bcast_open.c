/*
 * ipckit backend "shm:", broadcast rings: opening (the header, validated
 * from a private copy), joining as a subscriber (the subscriber table and
 * the liveness of its entries), closing, ipckit_ctl() and
 * ipckit_stat_name(). The ring itself is shm_bcast.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm_bcast_int.h"

static const char *const bc_params[] = { "bcast", "spin", "history", "subs", NULL };

/* ---- subscribers' liveness (wait mode) --------------------------------- */

/*
 * Is process @p pid, started at @p start (0: not known yet), still there?
 * A zombie is not; a pid now used by another process is not.
 */
bool
ipckit__bc_alive(int32_t pid, uint64_t start)
{
    char path[48], buf[1024];
    unsigned long long st = 0;
    const char *p;
    ssize_t n;
    int fd, field;
    if (pid <= 0)
        return false; /* never kill(0) or kill(-1): a scribbled entry */
    (void) snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return false;
        return kill(pid, 0) == 0 || errno != ESRCH;
    }
    n = read(fd, buf, sizeof buf - 1);
    (void) close(fd);
    if (n <= 0)
        return false; /* exited between open and read */
    buf[n] = '\0';
    p = strrchr(buf, ')');
    if (p == NULL || p[1] != ' ')
        return true;
    if (p[2] == 'Z' || p[2] == 'X')
        return false;
    for (field = 2; *p != '\0' && field < 22; p++)
        if (*p == ' ')
            field++;
    if (field == 22 && sscanf(p, "%llu", &st) == 1 && start != 0 && st != start)
        return false;
    return true;
}

/* ---- opening ----------------------------------------------------------- */

static int
bc_init(void *base, size_t size, void *arg)
{
    struct bc_hdr *h = base;
    struct bc_want *z = arg;
    h->version = BC_VERSION;
    h->hdr_size = BC_HDR;
    h->creator_pid = (int32_t) getpid();
    h->creator_start = ipckit__proc_start_time((long) getpid());
    h->slots = z->make_slots;
    h->max_msg = z->make_max_msg;
    h->total_size = size;
    h->stride = bc_stride(z->make_max_msg);
    h->mode = z->make_mode;
    h->nsubs = (uint32_t) z->make_nsubs;
    atomic_store_explicit(&h->room, z->make_slots, memory_order_relaxed);
    z->got.slots = z->make_slots;
    z->got.max_msg = z->make_max_msg;
    z->got.stride = h->stride;
    z->got.nsubs = h->nsubs;
    z->got.mode = h->mode;
    atomic_store_explicit(&h->magic, IPCKIT__SHMOBJ_BCAST_MAGIC, memory_order_release);
    return 0;
}

static void
bc_hdr_read(const struct bc_hdr *h, struct bc_hdr_copy *c)
{
    c->magic = atomic_load_explicit(&h->magic, memory_order_acquire);
    c->version = *(const volatile uint32_t *) &h->version;
    c->hdr_size = *(const volatile uint32_t *) &h->hdr_size;
    c->mode = *(const volatile uint32_t *) &h->mode;
    c->nsubs = *(const volatile uint32_t *) &h->nsubs;
    c->slots = *(const volatile uint64_t *) &h->slots;
    c->max_msg = *(const volatile uint64_t *) &h->max_msg;
    c->total_size = *(const volatile uint64_t *) &h->total_size;
    c->stride = *(const volatile uint64_t *) &h->stride;
}

/* Validate a private copy for an object of @p size bytes. */
static int
bc_hdr_valid(const struct bc_hdr_copy *c, size_t size)
{
    if (size < BC_HDR)
        return ipckit_backend_fail(-EBADMSG,
                                   "shm: object of %zu bytes is too small to be a broadcast"
                                   " ring",
                                   size);
    if (c->magic == 0)
        return -EINPROGRESS;
    if (c->magic == IPCKIT__SHMOBJ_RING_MAGIC)
        return ipckit_backend_fail(-EINVAL,
                                   "shm: the object is a message queue, not a broadcast ring:"
                                   " open it without ?bcast");
    if (c->magic != IPCKIT__SHMOBJ_BCAST_MAGIC)
        return ipckit_backend_fail(-EBADMSG,
                                   "shm: not an ipckit broadcast ring (magic %#x, want %#x)",
                                   c->magic, IPCKIT__SHMOBJ_BCAST_MAGIC);
    if (c->version != BC_VERSION)
        return ipckit_backend_fail(-EPROTO,
                                   "shm: broadcast ring layout version %u, this library speaks"
                                   " %u",
                                   c->version, BC_VERSION);
    /* each bounded before anything is computed from it */
    if (c->hdr_size != BC_HDR || c->mode > BC_WAIT || c->nsubs < 1 ||
        c->nsubs > (uint32_t) BC_SUBS_MAX || c->slots < 2 || c->slots > BC_SLOTS_MAX ||
        c->max_msg > BC_DATA_MAX / 2 || c->stride != bc_stride(c->max_msg) ||
        c->slots * c->stride > BC_DATA_MAX ||
        c->total_size != bc_slots_off(c->nsubs) + c->slots * c->stride || c->total_size != size)
        return ipckit_backend_fail(-EBADMSG,
                                   "shm: corrupt broadcast ring header (%llu slots of %llu"
                                   " bytes, max message %llu, %u subscribers, mode %u, total"
                                   " %llu; object %zu bytes)",
                                   (unsigned long long) c->slots,
                                   (unsigned long long) c->stride,
                                   (unsigned long long) c->max_msg, c->nsubs, c->mode,
                                   (unsigned long long) c->total_size, size);
    return 0;
}

static int
bc_check(void *base, size_t size, void *arg)
{
    struct bc_want *w = arg;
    struct bc_hdr_copy c = { 0, 0, 0, 0, 0, 0, 0, 0, 0 };
    int rc;
    if (size < BC_HDR)
        return bc_hdr_valid(&c, size);
    bc_hdr_read(base, &c);
    rc = bc_hdr_valid(&c, size);
    if (rc < 0)
        return rc;
    if (w->max_msg != 0 && w->max_msg != c.max_msg)
        return ipckit_backend_fail(-EINVAL,
                                   "shm: the broadcast ring exists with max_msg_size %llu, not"
                                   " %llu",
                                   (unsigned long long) c.max_msg,
                                   (unsigned long long) w->max_msg);
    if (w->slots != 0 && w->slots != c.slots)
        return ipckit_backend_fail(-EINVAL,
                                   "shm: the broadcast ring exists with capacity %llu messages,"
                                   " not %llu",
                                   (unsigned long long) c.slots, (unsigned long long) w->slots);
    if (w->mode >= 0 && (unsigned) w->mode != c.mode)
        return ipckit_backend_fail(-EINVAL, "shm: the broadcast ring exists in mode %s, not %s",
                                   c.mode == BC_WAIT ? "wait" : "drop",
                                   w->mode == BC_WAIT ? "wait" : "drop");
    w->got = c;
    return 0;
}

/* Find an entry for this subscriber: a free one, else one whose process is
 * gone. NULL when every entry is taken by a live process. */
static struct bc_sub *
bc_claim(struct ipckit__bcast *b)
{
    int32_t me = bc_pid(b);
    uint64_t start = ipckit__proc_start_time((long) me);
    for (int pass = 0; pass < 2; pass++)
        for (uint64_t i = 0; i < b->nsubs; i++) {
            struct bc_sub *e = &b->subs[i];
            int32_t pid = atomic_load(&e->pid);
            if (pass == 0 ? pid != 0 : (pid == 0 || ipckit__bc_alive(pid, atomic_load(&e->start))))
                continue;
            if (!atomic_compare_exchange_strong(&e->pid, &pid, me))
                continue;
            atomic_store(&e->start, start);
            /* entries at and above subs_used are not scanned */
            uint32_t used = atomic_load(&b->hdr->subs_used);
            while (used < i + 1 &&
                   !atomic_compare_exchange_weak(&b->hdr->subs_used, &used, (uint32_t) i + 1))
                ;
            return e;
        }
    return NULL;
}

/* Join as a subscriber: start @p history messages back (at most what the
 * ring can still hold), and in wait mode register the position under the
 * publish lock so that no publisher overwrites it unseen. */
static int
bc_join(struct ipckit__bcast *b, long history, const struct timespec *deadline)
{
    struct bc_hdr *h = b->hdr;
    uint64_t next, lo, start;
    int rc = 0;
    if (b->mode == BC_WAIT) {
        rc = ipckit__bc_lock(b, "subscribe", deadline);
        if (rc < 0)
            return rc;
    }
    b->me = bc_claim(b);
    b->me_pid = bc_pid(b);
    if (b->me == NULL && b->mode == BC_WAIT) {
        (void) ipckit__lock_give(&h->pub_lock);
        return ipckit_backend_fail(-EUSERS,
                                   "shm: broadcast ring \"%s\" has %llu subscribers already (wait"
                                   " mode registers each; create it with a larger ?subs=)",
                                   b->pname, (unsigned long long) b->nsubs);
    }
    next = atomic_load(&h->next);
    lo = next > b->slots - 1 ? next - (b->slots - 1) : 0;
    start = (uint64_t) history >= next - lo ? lo : next - (uint64_t) history;
    b->n = start;
    b->idx = start % b->slots;
    if (b->me != NULL)
        atomic_store(&b->me->pos, start);
    if (b->mode == BC_WAIT) {
        if (atomic_load(&h->room) > start + b->slots)
            atomic_store(&h->room, start + b->slots);
        (void) ipckit__lock_give(&h->pub_lock);
    }
    return 0;
}

int
ipckit__bcast_open(struct ipckit__bcast **out, const ipckit_name *name, const char *pname,
                   unsigned flags, const ipckit_opts *opts, const struct timespec *deadline)
{
    struct ipckit__bcast *b;
    struct bc_want w;
    struct ipckit__shmobj_map m;
    const char *mode = ipckit_name_param(name, "bcast");
    long spin, history, subs;
    int rc;

    *out = NULL;
    memset(&w, 0, sizeof w);
    rc = ipckit_name_check_params(name, bc_params);
    if (rc < 0)
        return rc;
    if (strcmp(mode, "1") == 0)
        w.mode = -1;
    else if (strcmp(mode, "drop") == 0)
        w.mode = BC_DROP;
    else if (strcmp(mode, "wait") == 0)
        w.mode = BC_WAIT;
    else
        return ipckit_backend_fail(-EINVAL,
                                   "name \"%s\": bcast=%s: want 1 (any mode; drop when"
                                   " created), drop or wait",
                                   ipckit_name_text(name), mode);
    rc = ipckit_name_param_long(name, "spin", 0, BC_SPIN_LIMIT, -1, &spin);
    if (rc == 0)
        rc = ipckit_name_param_long(name, "history", 0, LONG_MAX, 0, &history);
    if (rc == 0)
        rc = ipckit_name_param_long(name, "subs", 1, BC_SUBS_MAX, 0, &subs);
    if (rc < 0)
        return rc;
    if (opts->max_msg_size > BC_DATA_MAX / 4)
        return ipckit_backend_fail(-EINVAL, "shm: max_msg_size %zu is above %llu",
                                   opts->max_msg_size, (unsigned long long) (BC_DATA_MAX / 4));
    if (opts->capacity == 1 || opts->capacity > BC_SLOTS_MAX)
        return ipckit_backend_fail(-EINVAL,
                                   "shm: a broadcast ring's capacity counts messages: 2 to %llu,"
                                   " not %zu",
                                   (unsigned long long) BC_SLOTS_MAX, opts->capacity);
    w.max_msg = opts->max_msg_size;
    w.slots = opts->capacity;
    w.nsubs = (uint64_t) subs;
    w.make_max_msg = w.max_msg ? w.max_msg : BC_MSG_DEFAULT;
    w.make_slots = w.slots;
    if (w.make_slots == 0) {
        w.make_slots = BC_DATA_DEFAULT / bc_stride(w.make_max_msg);
        if (w.make_slots < 16)
            w.make_slots = 16;
        if (w.make_slots > 65536)
            w.make_slots = 65536;
    }
    if (w.make_slots * bc_stride(w.make_max_msg) > BC_DATA_MAX)
        return ipckit_backend_fail(-EINVAL,
                                   "shm: %llu messages of %llu bytes are more than %llu bytes",
                                   (unsigned long long) w.make_slots,
                                   (unsigned long long) w.make_max_msg,
                                   (unsigned long long) BC_DATA_MAX);
    w.make_nsubs = subs ? (uint64_t) subs : (uint64_t) BC_SUBS_DEFAULT;
    w.make_mode = w.mode == BC_WAIT ? BC_WAIT : BC_DROP;

    b = calloc(1, sizeof *b);
    if (b == NULL)
        return -ENOMEM;
    ipckit__bell_init(&b->bell);
    (void) snprintf(b->pname, sizeof b->pname, "%s", pname);
    rc = ipckit__shmobj_map(pname, flags, opts,
                            (size_t) (bc_slots_off(w.make_nsubs) +
                                      w.make_slots * bc_stride(w.make_max_msg)),
                            bc_init, bc_check, &w, deadline, &m);
    if (rc < 0) {
        free(b);
        return rc;
    }
    b->hdr = m.base;
    b->map_size = m.size;
    b->slots = w.got.slots;
    b->max_msg = w.got.max_msg;
    b->stride = w.got.stride;
    b->nsubs = w.got.nsubs;
    b->mode = w.got.mode;
    b->subs = (struct bc_sub *) (void *) ((unsigned char *) m.base + BC_HDR);
    b->slot0 = (unsigned char *) m.base + bc_slots_off(b->nsubs);
    b->flags = flags;
    b->truncate = (opts->flags & IPCKIT_OPT_TRUNCATE) != 0;
    b->spin_max = spin >= 0 ? spin : sysconf(_SC_NPROCESSORS_ONLN) < 2 ? 0 : BC_SPIN_DEFAULT;
    b->spin = b->spin_max;
    b->auto_spin = spin < 0;
    b->pub_n = UINT64_MAX;
    ipckit__shmobj_fork_watch();
    b->pid_gen = atomic_load(&ipckit__shmobj_fork_gen);
    b->pid = (int32_t) getpid();
#ifdef MADV_POPULATE_WRITE
    if (m.created)
        (void) madvise(m.base, m.size, MADV_POPULATE_WRITE);
#endif
    if (flags & IPCKIT_RECV) {
        rc = bc_join(b, history, deadline);
        if (rc < 0) {
            (void) munmap(m.base, m.size);
            free(b);
            return rc;
        }
    }
    *out = b;
    return 0;
}

int
ipckit__bcast_close(struct ipckit__bcast *b)
{
    int rc = 0;
    if (b == NULL)
        return 0;
    if (b->me != NULL) {
        int32_t me = bc_pid(b);
        /* only this process's entry: a dead-looking one may be another's now */
        if (atomic_compare_exchange_strong(&b->me->pid, &me, 0))
            bc_wake(&b->hdr->space_seq, &b->hdr->send_sleepers);
    }
    ipckit__bell_close(&b->bell, &b->hdr->bell);
    if (munmap(b->hdr, b->map_size) < 0)
        rc = -errno;
    free(b);
    return rc;
}

void
ipckit__bcast_info(struct ipckit__bcast *b, unsigned *caps, size_t *max_msg)
{
    *caps |= IPCKIT_CAP_BROADCAST;
    if (!(b->flags & IPCKIT_RECV))
        *caps &= ~(unsigned) IPCKIT_CAP_FD; /* only a subscriber polls */
    *max_msg = (size_t) b->max_msg;
}


int
ipckit__shm_spin_ctl(int op, void *arg, long limit, long *spin_max, long *spin, bool *auto_spin)
{
    long v;
    switch (op) {
    case IPCKIT_CTL_GET_SPIN:
        if (arg == NULL)
            return ipckit_backend_fail(-EINVAL, "ctl: IPCKIT_CTL_GET_SPIN needs a long *");
        *(long *) arg = *spin_max;
        return 0;
    case IPCKIT_CTL_SET_SPIN:
        if (arg == NULL || (v = *(const long *) arg) < 0 || v > limit)
            return ipckit_backend_fail(-EINVAL,
                                       "ctl: IPCKIT_CTL_SET_SPIN takes a long from 0 to %ld",
                                       limit);
        *spin_max = *spin = v;
        *auto_spin = false;
        return 0;
    default:
        return 1;
    }
}

int
ipckit__bcast_ctl(struct ipckit__bcast *b, int op, void *arg)
{
    int rc = ipckit__shm_spin_ctl(op, arg, BC_SPIN_LIMIT, &b->spin_max, &b->spin, &b->auto_spin);
    if (rc <= 0)
        return rc;
    switch (op) {
    case IPCKIT_CTL_MISSED:
        if (arg == NULL)
            return ipckit_backend_fail(-EINVAL,
                                       "ctl: IPCKIT_CTL_MISSED needs an unsigned long long *");
        if (!(b->flags & IPCKIT_RECV))
            return ipckit_backend_fail(-EBADF, "ctl: IPCKIT_CTL_MISSED: not a subscriber");
        *(unsigned long long *) arg = b->missed;
        return 0;
    default:
        return ipckit_backend_fail(-ENOTSUP, "ctl: shm: no request %d", op);
    }
}

int
ipckit__bcast_stat(const char *pname, ipckit_stat *out)
{
    struct bc_hdr h;
    struct bc_hdr_copy c;
    struct stat sb;
    ssize_t n = ipckit__shmobj_peek(pname, &h, sizeof h, &sb);
    int rc;
    if (n < 0)
        return (int) n;
    if ((size_t) n < sizeof h)
        return ipckit_backend_fail(-EBADMSG, "shm: \"%s\" is not a broadcast ring (%lld bytes)",
                                   pname, (long long) sb.st_size);
    bc_hdr_read(&h, &c);
    rc = bc_hdr_valid(&c, (size_t) sb.st_size);
    if (rc == -EINPROGRESS)
        return ipckit_backend_fail(-EBADMSG, "shm: \"%s\" is not set up yet", pname);
    if (rc < 0)
        return rc;
    /* messages: those the ring still holds for a late subscriber */
    {
        uint64_t next = h.next;
        out->messages = (long) (next < c.slots - 1 ? next : c.slots - 1);
    }
    out->max_bytes = (long) (c.slots * c.max_msg);
    out->max_msg_size = (long) c.max_msg;
    out->last_send_pid = h.last_send_pid;
    out->creator_pid = h.creator_pid;
    out->mode = sb.st_mode & 07777;
    return 0;
}

