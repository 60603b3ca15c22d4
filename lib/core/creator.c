/*
 * ipckit: creator records for the objects whose creator the kernel does not
 * keep (System V message queues, POSIX message queues, FIFOs). The format
 * is in creator_record.h; docs/reliability.md describes it and the rule by
 * which a record is trusted.
 *
 * Nothing here can make an open or an unlink fail: a record that cannot be
 * written leaves the object with "creator unknown", which only means that
 * "ipckit rm --stale" will never remove it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "creator_record.h"

uint64_t
ipckit__proc_start_time(long pid)
{
    return (uint64_t) ipckit__crec_proc_start(pid);
}

static int
creator_path(const struct ipckit__crec *r, char *buf, size_t cap)
{
    char leaf[IPCKIT__CREC_LEAF_MAX];
    int n, rc = ipckit__crec_leaf(r, leaf, sizeof leaf);
    if (rc < 0)
        return rc;
    n = snprintf(buf, cap, "%s/%s", IPCKIT__CREC_DIR, leaf);
    return n < 0 || (size_t) n >= cap ? -ENAMETOOLONG : 0;
}

static int
write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO;
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

/*
 * Make @p path appear with @p line as its whole content, or fail with
 * -EEXIST if something is there. The record is written into an unnamed
 * file (O_TMPFILE) that is then linked under its name, so a reader never
 * sees it half written and a creator killed meanwhile leaves nothing. Where
 * O_TMPFILE or /proc is missing, the file is created exclusively and then
 * written: a reader that comes in between finds a short record and refuses
 * it, which is "creator unknown" for that moment.
 */
static int
creator_publish(const char *path, const char *line, size_t len)
{
    char proc[64];
    int fd, rc;

    fd = open(IPCKIT__CREC_DIR, O_TMPFILE | O_WRONLY | O_CLOEXEC, IPCKIT__CREC_MODE);
    if (fd >= 0) {
        /* the umask narrowed the mode; the record is meant to be readable */
        rc = fchmod(fd, IPCKIT__CREC_MODE) < 0 ? -errno : write_all(fd, line, len);
        if (rc == 0) {
            (void) snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
            rc = linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0 ? 0 : -errno;
        }
        (void) close(fd);
        if (rc != -ENOENT)
            return rc; /* done, -EEXIST, or a real failure */
        /* no /proc: fall through to the exclusive create */
    } else if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
        return -errno;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
              IPCKIT__CREC_MODE);
    if (fd < 0)
        return -errno;
    rc = fchmod(fd, IPCKIT__CREC_MODE) < 0 ? -errno : write_all(fd, line, len);
    if (rc < 0)
        (void) unlink(path);
    (void) close(fd);
    return rc;
}

/* ---- orphans ------------------------------------------------------------- */

/*
 * A record outlives its object when a program that is not ipckit removes
 * the object (PHP's msg_remove_queue(), ipcrm, rm): nothing removes the
 * record then. Each creation of an object sweeps the caller's own records
 * whose object is gone and that are older than CREATOR_ORPHAN_AGE seconds
 * (a record that young may belong to an object being removed right now, or
 * be kept on purpose by "ipckit rm --stale" users), at most once a second
 * per process. Another user's files are never touched.
 */
#define CREATOR_ORPHAN_AGE 60

/* Is the object of record @p r certainly gone? Unsure is "no". */
static bool
creator_object_gone(const struct ipckit__crec *r)
{
    struct stat sb;
    switch (r->kind) {
    case IPCKIT__CREC_MQ: {
        struct msqid_ds ds;
        if (r->id < 0 || r->id > INT32_MAX)
            return false;
        if (msgctl((int) r->id, IPC_STAT, &ds) < 0)
            return errno == EINVAL || errno == EIDRM;
        /* the id names another queue now */
        return (unsigned long) (uint32_t) ds.msg_perm.__key != r->key;
    }
    case IPCKIT__CREC_POSIXMQ: {
        mqd_t q = mq_open(r->target, O_RDONLY | O_CLOEXEC);
        bool gone;
        if (q == (mqd_t) -1)
            return errno == ENOENT;
        gone = fstat((int) q, &sb) == 0 && (unsigned long long) sb.st_ino != r->ino;
        (void) mq_close(q);
        return gone;
    }
    case IPCKIT__CREC_FIFO:
        if (lstat(r->target, &sb) < 0)
            return errno == ENOENT;
        return (unsigned long long) sb.st_dev != r->dev ||
               (unsigned long long) sb.st_ino != r->ino;
    default:
        return false;
    }
}

static void
creator_sweep(void)
{
    static _Atomic long long last; /* (pid << 32) | second of the last sweep */
    struct timespec now;
    long long stamp, seen;
    struct dirent *e;
    DIR *d;
    (void) clock_gettime(CLOCK_MONOTONIC, &now);
    stamp = ((long long) getpid() << 32) | (now.tv_sec & 0xffffffff);
    seen = atomic_load(&last);
    if (seen == stamp || !atomic_compare_exchange_strong(&last, &seen, stamp))
        return;
    d = opendir(IPCKIT__CREC_DIR);
    if (d == NULL)
        return;
    (void) clock_gettime(CLOCK_REALTIME, &now);
    while ((e = readdir(d)) != NULL) {
        char leaf[IPCKIT__CREC_LEAF_MAX];
        struct ipckit__crec r;
        struct stat sb;
        if (strncmp(e->d_name, IPCKIT__CREC_PREFIX, sizeof IPCKIT__CREC_PREFIX - 1) != 0)
            continue;
        if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISREG(sb.st_mode) || sb.st_uid != geteuid() ||
            now.tv_sec - sb.st_mtim.tv_sec < CREATOR_ORPHAN_AGE)
            continue;
        /* only a record that parses and sits under its own object's name */
        if (ipckit__crec_load(dirfd(d), e->d_name, &r, &sb) < 0 ||
            r.uid != (unsigned long) geteuid() ||
            ipckit__crec_leaf(&r, leaf, sizeof leaf) < 0 || strcmp(leaf, e->d_name) != 0)
            continue;
        if (creator_object_gone(&r))
            (void) unlinkat(dirfd(d), e->d_name, 0);
    }
    (void) closedir(d);
}

int
ipckit__creator_write(struct ipckit__crec *r)
{
    char path[sizeof IPCKIT__CREC_DIR + IPCKIT__CREC_LEAF_MAX], line[IPCKIT__CREC_MAX + 1];
    int len, rc;

    creator_sweep();
    r->pid = (long) getpid();
    r->start = (unsigned long long) ipckit__proc_start_time(r->pid);
    r->uid = (unsigned long) geteuid();
    len = ipckit__crec_format(r, line, sizeof line);
    if (len < 0)
        return -ENAMETOOLONG;
    rc = creator_path(r, path, sizeof path);
    if (rc < 0)
        return rc;
    for (int attempt = 0; attempt < 2; attempt++) {
        struct stat sb;
        rc = creator_publish(path, line, (size_t) len);
        if (rc != -EEXIST)
            return rc;
        /*
         * Something has the name already. The object was created just now,
         * so a record of ours there is an orphan of an earlier object with
         * the same identity (or garbage): replace it. Anything owned by
         * someone else is left alone and not trusted; the object then has
         * no record.
         */
        if (lstat(path, &sb) < 0) {
            if (errno == ENOENT)
                continue;
            return -errno;
        }
        if (sb.st_uid != geteuid() || S_ISDIR(sb.st_mode))
            return -EEXIST;
        if (unlink(path) < 0 && errno != ENOENT)
            return -errno;
    }
    return -EEXIST;
}

int
ipckit__creator_lookup(const struct ipckit__crec *obj, unsigned long obj_uid,
                       struct ipckit__crec *out)
{
    return ipckit__crec_lookup(obj, obj_uid, out);
}

long
ipckit__creator_pid(const struct ipckit__crec *obj, unsigned long obj_uid)
{
    struct ipckit__crec rec;
    return ipckit__creator_lookup(obj, obj_uid, &rec) == 0 ? rec.pid : -1;
}

bool
ipckit__creator_removable(const struct ipckit__crec *obj, unsigned long obj_uid)
{
    char path[sizeof IPCKIT__CREC_DIR + IPCKIT__CREC_LEAF_MAX];
    struct ipckit__crec rec;
    struct stat sb;
    if (creator_path(obj, path, sizeof path) < 0 || lstat(path, &sb) < 0 ||
        S_ISDIR(sb.st_mode))
        return false;
    /* Our own file under the object's identity goes with the object, even
     * when it does not parse. */
    if (sb.st_uid == geteuid())
        return true;
    /* Root removes another user's record only if it describes the object;
     * what another user merely put there stays. */
    return geteuid() == 0 && ipckit__creator_lookup(obj, obj_uid, &rec) == 0;
}

void
ipckit__creator_unlink(const struct ipckit__crec *obj)
{
    char path[sizeof IPCKIT__CREC_DIR + IPCKIT__CREC_LEAF_MAX];
    if (creator_path(obj, path, sizeof path) == 0)
        (void) unlink(path);
}
