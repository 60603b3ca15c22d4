/*
 * ipckit: the wake-up companion of a System V queue; see mq_wake.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <linux/futex.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../os/shm_object.h"
#include "mq_wake.h"

#define MQW_VERSION 1u
#define MQW_SIZE 4096u
#define MQW_STEP_FIRST_MS 1L
#define MQW_STEP_MAX_MS 50L
#define MQW_STEP_IPCKIT_MS 1000L

_Static_assert(sizeof(struct mqw_shared) <= MQW_SIZE, "the companion fits its page");

static void
mqw_name(key_t key, int id, char *buf, size_t cap)
{
    (void) snprintf(buf, cap, "/" MQW_PREFIX "%08x.%d", (unsigned) key, id);
}

static int
mqw_init(void *base, size_t size, void *arg)
{
    struct mqw_shared *m = base;
    (void) size;
    (void) arg;
    m->version = MQW_VERSION;
    atomic_store_explicit(&m->magic, MQW_MAGIC, memory_order_release);
    return 0;
}

static int
mqw_check(void *base, size_t size, void *arg)
{
    const struct mqw_shared *m = base;
    uint32_t magic;
    (void) arg;
    if (size != MQW_SIZE)
        return -EBADMSG;
    magic = atomic_load_explicit(&m->magic, memory_order_acquire);
    if (magic == 0)
        return -EINPROGRESS;
    return magic == MQW_MAGIC && m->version == MQW_VERSION ? 0 : -EBADMSG;
}

void
mqw_attach(struct mqw *w, key_t key, int id, bool fresh, unsigned mode, const ipckit_opts *opts)
{
    static const struct timespec now = { 0, 0 }; /* the creator's header is there, or none */
    struct ipckit__shmobj_map map;
    char pname[40];
    ipckit_opts o = *opts;
    w->m = NULL;
    mqw_name(key, id, pname, sizeof pname);
    o.mode = mode & 0777u;
    if (fresh)
        (void) shm_unlink(pname); /* of an earlier queue that had this id (wrapped) */
    /* Best effort: without a companion the waits poll. Whatever failed is
     * not the open's failure, so the detail is dropped. */
    if (ipckit__shmobj_map(pname, IPCKIT_CREATE, &o, MQW_SIZE, mqw_init, mqw_check,
                           NULL, &now, &map) == 0)
        w->m = map.base;
    ipckit__detail_clear();
}

void
mqw_detach(struct mqw *w)
{
    if (w->m != NULL)
        (void) munmap(w->m, MQW_SIZE);
    w->m = NULL;
}

void
mqw_remove(key_t key, int id)
{
    char pname[40], path[64];
    struct stat sb;
    int fd;
    mqw_name(key, id, pname, sizeof pname);
    /* Wake its sleepers first, so that they find the queue gone now. Only
     * a companion of this user or root is mapped: another user could
     * truncate it under the mapping. */
    (void) snprintf(path, sizeof path, "/dev/shm%s", pname);
    fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
        if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size == (off_t) MQW_SIZE &&
            (sb.st_uid == geteuid() || sb.st_uid == 0)) {
            struct mqw_shared *m = mmap(NULL, MQW_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            if (m != MAP_FAILED) {
                struct mqw tmp = { .m = m };
                mqw_wake_slow(&tmp, true);
                mqw_wake_slow(&tmp, false);
                (void) munmap(m, MQW_SIZE);
            }
        }
        (void) close(fd);
    }
    (void) shm_unlink(pname);
}

bool
mqw_queue_gone(key_t key, int id)
{
    struct msqid_ds ds;
    if (id < 0)
        return false;
    if (msgctl(id, IPC_STAT, &ds) < 0)
        return errno == EINVAL || errno == EIDRM;
    return (uint32_t) ds.msg_perm.__key != (uint32_t) key; /* the id names another queue now */
}

bool
mqw_name_parse(const char *leaf, key_t *key, int *id)
{
    unsigned k;
    int i;
    char end, canon[40];
    if (strncmp(leaf, MQW_PREFIX, sizeof MQW_PREFIX - 1) != 0 ||
        sscanf(leaf + sizeof MQW_PREFIX - 1, "%8x.%d%c", &k, &i, &end) != 2 || i < 0)
        return false;
    /* only the names ipckit writes: no sign, no leading zeros */
    mqw_name((key_t) k, i, canon, sizeof canon);
    if (strcmp(canon + 1, leaf) != 0)
        return false;
    *key = (key_t) k;
    *id = i;
    return true;
}

int
mqw_orphans(long long key, int (*fn)(const struct mqw_orphan *o, void *arg), void *arg)
{
    struct mqw_orphan o;
    struct dirent *e;
    int rc = 0;
    DIR *d = opendir("/dev/shm");
    if (d == NULL)
        return 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (!mqw_name_parse(e->d_name, &o.key, &o.id) ||
            (key >= 0 && (unsigned long long) key != (uint32_t) o.key))
            continue;
        if (fstatat(dirfd(d), e->d_name, &o.sb, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISREG(o.sb.st_mode) || !mqw_queue_gone(o.key, o.id))
            continue;
        mqw_name(o.key, o.id, o.path + 8, sizeof o.path - 8);
        memcpy(o.path, "/dev/shm", 8);
        rc = fn(&o, arg);
    }
    (void) closedir(d);
    return rc;
}

static int
mqw_sweep_one(const struct mqw_orphan *o, void *arg)
{
    (void) arg;
    if (o->sb.st_uid == geteuid())
        mqw_remove(o->key, o->id);
    return 0;
}

void
mqw_sweep(key_t key)
{
    (void) mqw_orphans((long long) (uint32_t) key, mqw_sweep_one, NULL);
}

static void
mqw_futex_wake(_Atomic uint32_t *word)
{
    (void) syscall(SYS_futex, (uint32_t *) word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

void
mqw_wake_slow(struct mqw *w, bool data)
{
    _Atomic uint32_t *word = data ? &w->m->data_seq : &w->m->space_seq;
    atomic_fetch_add(word, 1);
    mqw_futex_wake(word);
}

int
mqw_interrupt(struct mqw *w)
{
    atomic_fetch_add(&w->intr_posted, 1);
    if (w->m != NULL) {
        mqw_wake_slow(w, true);
        mqw_wake_slow(w, false);
    }
    return 0;
}

static bool
mqw_interrupted(struct mqw *w)
{
    unsigned posted = atomic_load(&w->intr_posted);
    if (posted == w->intr_taken)
        return false;
    w->intr_taken = posted;
    return true;
}

int
mqw_wait(struct mqw *w, bool data, const struct timespec *deadline, struct mqw_waiter *s)
{
    _Atomic uint32_t *word = data ? &w->m->data_seq : &w->m->space_seq;
    struct timespec until;
    if (mqw_interrupted(w))
        return -EINTR;
    if (ipckit_deadline_passed(deadline))
        return ipckit_deadline_error(deadline);
    if (s->yields > 0) {
        s->yields--;
        (void) sched_yield();
        return 0;
    }
    if (!s->registered) {
        /* say that someone waits, then let the caller try once more: a
         * sender that comes after the try sees the count and wakes us */
        s->seq = atomic_load(word);
        atomic_fetch_add(data ? &w->m->data_waiters : &w->m->space_waiters, 1);
        s->registered = true;
        s->step_ms = w->foreign ? MQW_STEP_FIRST_MS : MQW_STEP_IPCKIT_MS;
        return 0;
    }
    /* A sender that is not ipckit does not wake us: with peers=any, look
     * again now and then, sooner at first. With peers=ipckit, once a second
     * all the same: a queue that was removed (by ipcrm, or an unlink that
     * could not wake us) must not keep us until the deadline. */
    (void) clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += s->step_ms / 1000;
    until.tv_nsec += (s->step_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    if (deadline == NULL || deadline->tv_sec > until.tv_sec ||
        (deadline->tv_sec == until.tv_sec && deadline->tv_nsec > until.tv_nsec))
        deadline = &until;
    if (w->foreign && s->step_ms < MQW_STEP_MAX_MS)
        s->step_ms = s->step_ms * 2 > MQW_STEP_MAX_MS ? MQW_STEP_MAX_MS : s->step_ms * 2;
    (void) syscall(SYS_futex, (uint32_t *) word, FUTEX_WAIT_BITSET, s->seq, deadline, NULL,
                   FUTEX_BITSET_MATCH_ANY);
    s->seq = atomic_load(word); /* before the caller's next try */
    return 0;
}

void
mqw_wait_end(struct mqw *w, bool data, struct mqw_waiter *s)
{
    if (s->registered)
        atomic_fetch_sub(data ? &w->m->data_waiters : &w->m->space_waiters, 1);
    s->registered = false;
}
