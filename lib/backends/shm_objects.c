/*
 * ipckit backend "shm:": its objects (include/ipckit/object.h). Every
 * regular file in /dev/shm is listed: an ipckit ring (shm_ring.c) or region
 * (lib/region/), both named shm:/NAME, whose headers carry their creator;
 * or another program's POSIX shared memory ("posix shm", no name). POSIX
 * semaphores (sem.NAME) and creator records are not this scheme's.
 *
 * Nothing is mapped: the header, a ring's indexes and a region's variable
 * store are read with pread() from a descriptor opened O_NOFOLLOW |
 * O_NONBLOCK (a FIFO planted in /dev/shm does not block), and trusted in
 * nothing. A ring's indexes are read while it may be in use: when they make
 * no sense at that moment (head past tail, a difference above the
 * capacity) what it holds is unknown, never a wrong number.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mq_wake.h"
#include "shm_ring.h"
#include "shm_bcast.h"
#include "../core/objects.h"
#include "../region/region_format.h"

#define SHM_DIR "/dev/shm"

static const char *const shm_params[] = { "spin", NULL };

/* What a ring holds, from its header @p h read whole. */
static void
shm_ring_fields(const struct ring_hdr *h, ipckit_object *o)
{
    uint64_t cap = h->capacity, tail = h->tail, in = h->msgs_in, head = h->head,
             out = h->msgs_out;
    o->capacity = cap <= LLONG_MAX ? (long long) cap : -1;
    o->last_send_pid = h->last_send_pid;
    o->last_recv_pid = h->last_recv_pid;
    if (tail < head || tail - head > cap || in < out || in - out > cap || cap > LLONG_MAX) {
        (void) snprintf(o->note, sizeof o->note, "its indexes are out of range");
        return;
    }
    o->messages = (long long) (in - out);
    o->bytes = (long long) (tail - head);
    o->holds = o->messages > 0 || o->bytes > 0;
}

/*
 * Describe the regular file @p leaf of /dev/shm (@p dfd), found as @p sb;
 * with @p full, also what a region holds (its variable store or its data
 * area is read). 0, or a negative errno when it cannot be opened (the
 * fields of @p sb are filled all the same).
 */
static int
shm_file(int dfd, const char *leaf, const struct stat *sb, bool full, ipckit_object *o)
{
    union {
        struct ring_hdr ring;
        unsigned char b[sizeof(struct ring_hdr)];
    } h;
    struct stat now;
    uint32_t magic;
    int32_t pid;
    key_t mkey;
    int mid;
    uint64_t start;
    ssize_t n;
    int fd;

    o->scheme = "shm";
    o->kind = "posix shm";
    (void) snprintf(o->where, sizeof o->where, SHM_DIR "/%s", leaf);
    o->uid = (long long) sb->st_uid;
    o->gid = (long long) sb->st_gid;
    o->mode = (unsigned) sb->st_mode & 07777u;
    o->dev = (unsigned long long) sb->st_dev;
    o->ino = (unsigned long long) sb->st_ino;
    o->size = (long long) sb->st_size;
    fd = openat(dfd, leaf, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &now) < 0 || !S_ISREG(now.st_mode) || now.st_dev != sb->st_dev ||
        now.st_ino != sb->st_ino) {
        (void) close(fd);
        return -ESTALE; /* replaced since it was found */
    }
    o->size = (long long) now.st_size;
    memset(&h, 0, sizeof h);
    n = pread(fd, h.b, sizeof h.b, 0);
    memcpy(&magic, h.b, sizeof magic);
    if (n >= 64 && magic == MQW_MAGIC && mqw_name_parse(leaf, &mkey, &mid)) {
        /* not a channel: listed for what it is, judged with its queue */
        o->kind = "queue companion";
        o->key = (long long) (uint32_t) mkey;
        o->id = mid;
        (void) snprintf(o->note, sizeof o->note, "the wake-up companion of mq:0x%x (id %d)%s",
                        (unsigned) mkey, mid, mqw_queue_gone(mkey, mid) ? ", which is gone" : "");
        (void) close(fd);
        return 0;
    }
    if (n < 64 ||
        (magic != RING_MAGIC && magic != REGION_MAGIC && magic != IPCKIT__SHMOBJ_BCAST_MAGIC)) {
        (void) close(fd);
        return 0; /* another program's */
    }
    o->by_ipckit = true;
    (void) snprintf(o->name, sizeof o->name, "shm:/%s", leaf);
    memcpy(&pid, h.b + offsetof(struct ring_hdr, creator_pid), sizeof pid);
    memcpy(&start, h.b + IPCKIT__SHMOBJ_CREATOR_START_OFFSET, sizeof start);
    if (pid > 0) {
        o->creator_pid = pid;
        o->creator_start = start;
    }
    if (magic == IPCKIT__SHMOBJ_BCAST_MAGIC) {
        /* what is left to read is each subscriber's own: not judged */
        o->kind = "broadcast ring";
        (void) snprintf(o->name, sizeof o->name, "shm:/%s?bcast=1", leaf);
        o->holds = -1;
        (void) snprintf(o->note, sizeof o->note,
                        "a broadcast ring: what is left to read is each subscriber's own");
    } else if (magic == RING_MAGIC) {
        o->kind = "ring";
        if (n == (ssize_t) sizeof h.b)
            shm_ring_fields(&h.ring, o);
        else
            (void) snprintf(o->note, sizeof o->note, "its header cannot be read");
    } else {
        struct ipckit__region_peek g;
        o->kind = "region";
        if (ipckit__region_peek(fd, o->size, full, &g) < 0) {
            (void) snprintf(o->note, sizeof o->note, "%s (%lld bytes)", g.why, o->size);
        } else {
            o->capacity = g.data_size;
            o->messages = g.variables;
            o->bytes = g.bytes;
            o->holds = g.holds;
            if (full && g.holds < 0)
                (void) snprintf(o->note, sizeof o->note, "%s", g.why);
        }
    }
    (void) close(fd);
    return 0;
}

int
ipckit__shm_list(const ipckit_list_opts *opts, int (*emit)(const ipckit_object *o, void *ctx),
                 void *ctx)
{
    ipckit_object o;
    struct dirent *de;
    DIR *d = opendir(SHM_DIR);
    int rc = 0;
    (void) opts;
    if (d == NULL)
        return 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        struct stat sb;
        /* names that start with a dot are listed too: only . and .. are not */
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            ipckit__creator_is_record(de->d_name) || strncmp(de->d_name, "sem.", 4) == 0)
            continue;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
            continue;
        ipckit__object_blank(&o);
        if (shm_file(dirfd(d), de->d_name, &sb, false, &o) == -ESTALE)
            continue;
        rc = emit(&o, ctx);
    }
    (void) closedir(d);
    return rc;
}

/* Find @p name's object in /dev/shm: its leaf in @p leaf, @p sb, and the
 * directory's descriptor; a negative errno with a detail. */
static int
shm_find(const ipckit_name *name, char *pname, size_t cap, struct stat *sb)
{
    int dfd, rc = ipckit_name_check_params(name, shm_params);
    if (rc < 0)
        return rc;
    rc = ipckit__shmobj_posix_name(name, pname, cap);
    if (rc < 0)
        return rc;
    dfd = open(SHM_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return ipckit_backend_fail(-errno, "shm: " SHM_DIR ": %s", strerror(errno));
    if (fstatat(dfd, pname + 1, sb, AT_SYMLINK_NOFOLLOW) < 0) {
        int e = errno;
        (void) close(dfd);
        return ipckit_backend_fail(-e, "shm: \"%s\": %s", pname, strerror(e));
    }
    if (!S_ISREG(sb->st_mode)) {
        (void) close(dfd);
        return ipckit_backend_fail(-EBADMSG,
                                   "shm: \"%s\" is not a shared-memory object (file type %#o)",
                                   pname, (unsigned) (sb->st_mode & S_IFMT));
    }
    return dfd;
}

int
ipckit__shm_describe(const ipckit_name *name, ipckit_object *out)
{
    char pname[IPCKIT__SHMOBJ_NAME_MAX + 2];
    struct stat sb;
    int rc, dfd = shm_find(name, pname, sizeof pname, &sb);
    if (dfd < 0)
        return dfd;
    rc = shm_file(dfd, pname + 1, &sb, true, out);
    (void) close(dfd);
    if (rc == -ESTALE)
        rc = -ENOENT;
    if (rc < 0)
        return ipckit_backend_fail(rc, "shm: open \"%s\": %s", pname, strerror(-rc));
    return 0;
}

int
ipckit__shm_remove_stale(const ipckit_object *o, unsigned flags)
{
    const char *leaf = strrchr(o->where, '/');
    char pname[NAME_MAX + 2];
    ipckit_object now;
    struct stat sb;
    int dfd, rc = 0;
    if (leaf == NULL || strncmp(o->where, SHM_DIR "/", sizeof SHM_DIR) != 0 ||
        strlen(leaf) >= sizeof pname)
        return ipckit_backend_fail(-EINVAL, "not an object in " SHM_DIR);
    dfd = open(SHM_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return ipckit_backend_fail(-errno, "%s", strerror(errno));
    ipckit__object_blank(&now);
    if (fstatat(dfd, leaf + 1, &sb, AT_SYMLINK_NOFOLLOW) < 0)
        rc = errno == ENOENT ? ipckit_backend_fail(-ENOENT, "it is already gone")
                             : ipckit_backend_fail(-errno, "%s", strerror(errno));
    else if (!S_ISREG(sb.st_mode) || (unsigned long long) sb.st_dev != o->dev ||
             (unsigned long long) sb.st_ino != o->ino ||
             shm_file(dfd, leaf + 1, &sb, true, &now) == -ESTALE)
        rc = ipckit_backend_fail(-ESTALE, "it was replaced meanwhile");
    else if (!(flags & IPCKIT_STALE_DISCARD) && now.holds != 0)
        rc = ipckit_backend_fail(-EBUSY, "a process used it meanwhile");
    (void) close(dfd);
    if (rc < 0)
        return rc;
    (void) snprintf(pname, sizeof pname, "%s", leaf);
    if (shm_unlink(pname) < 0)
        return ipckit_backend_fail(-errno, "%s", strerror(errno));
    return 0;
}

/* The ipckit_stat of a ring (ipckit_stat_name()), from a private copy of
 * its header read with pread(): nothing is mapped. */
int
ipckit__shm_stat(const ipckit_name *name, ipckit_stat *out)
{
    char pname[IPCKIT__SHMOBJ_NAME_MAX + 2];
    struct ring_hdr h; /* a private copy, read with pread(): nothing is mapped */
    struct ring_hdr_copy c;
    struct stat sb;
    ssize_t n;
    int rc = ipckit__shmobj_posix_name(name, pname, sizeof pname);
    if (rc < 0)
        return rc;
    n = ipckit__shmobj_peek(pname, &h, sizeof h, &sb);
    if (n < 0)
        return (int) n;
    if ((size_t) n >= sizeof(uint32_t) && h.magic == IPCKIT__SHMOBJ_BCAST_MAGIC)
        return ipckit__bcast_stat(pname, out); /* a broadcast ring */
    if ((size_t) n < sizeof h)
        return ipckit_backend_fail(-EBADMSG, "shm: \"%s\" is not a ring (%lld bytes)",
                                    pname, (long long) sb.st_size);
    ipckit__ring_hdr_read(&h, &c);
    rc = ipckit__ring_hdr_valid(&c, (size_t) sb.st_size);
    if (rc == -EINPROGRESS)
        return ipckit_backend_fail(-EBADMSG, "shm: \"%s\" is not set up yet", pname);
    if (rc < 0)
        return rc;
    {
        uint64_t head = h.head, tail = h.tail, in = h.msgs_in, outm = h.msgs_out;
        out->messages = in >= outm && in - outm <= c.capacity ? (long) (in - outm) : -1;
        out->bytes = tail >= head && tail - head <= c.capacity ? (long) (tail - head) : -1;
    }
    out->max_bytes = (long) c.capacity;
    out->max_msg_size = (long) c.max_msg;
    out->last_send_pid = h.last_send_pid;
    out->last_recv_pid = h.last_recv_pid;
    out->creator_pid = h.creator_pid;
    out->mode = sb.st_mode & 07777;
    return 0;
}
