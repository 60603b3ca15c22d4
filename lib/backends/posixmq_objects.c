/*
 * ipckit backend "posixmq:": its objects (include/ipckit/object.h), the
 * POSIX message queues. They are listed from /dev/mqueue; where it is not
 * mounted, the queues named by creator records are found by name
 * (ipckit__creator_targets()), opened read-only (else write-only) and
 * closed, which moves no message. What a queue holds: its status text
 * ("QSIZE:n ...", read from the descriptor) and mq_getattr().
 *
 * The kernel keeps no creator for a queue: the core finds it in the creator
 * record, by the inode and the name given here.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/objects.h"

#define POSIXMQ_DIR "/dev/mqueue"

int
ipckit__posixmq_object(int fd, const char *qname, ipckit_object *o)
{
    char buf[256];
    struct mq_attr attr;
    struct stat sb;
    unsigned long long q;
    ssize_t n;
    o->scheme = "posixmq";
    o->kind = "posix queue";
    (void) snprintf(o->name, sizeof o->name, "posixmq:%s", qname);
    (void) snprintf(o->where, sizeof o->where, POSIXMQ_DIR "%s", qname);
    if (fstat(fd, &sb) < 0)
        return -errno;
    o->uid = (long long) sb.st_uid;
    o->gid = (long long) sb.st_gid;
    o->mode = (unsigned) sb.st_mode & 07777u;
    o->dev = (unsigned long long) sb.st_dev;
    o->ino = (unsigned long long) sb.st_ino;
    /* A descriptor of a file in /dev/mqueue is a queue descriptor too;
     * reading it gives the status text, and neither moves a message. */
    n = read(fd, buf, sizeof buf - 1);
    if (n > 0) {
        buf[n] = '\0';
        if (sscanf(buf, "QSIZE:%llu", &q) == 1 && q <= LLONG_MAX)
            o->bytes = (long long) q;
    }
    if (mq_getattr((mqd_t) fd, &attr) == 0) {
        if (attr.mq_curmsgs >= 0)
            o->messages = (long long) attr.mq_curmsgs;
        o->capacity = (long long) attr.mq_maxmsg * (long long) attr.mq_msgsize;
    }
    if (o->messages < 0) {
        /* a count is needed: a message may be empty */
        o->holds = -1;
        (void) snprintf(o->note, sizeof o->note, "cannot tell how many messages it holds");
    } else {
        o->holds = o->messages > 0 || o->bytes > 0;
    }
    return 0;
}

/* Open the queue "/NAME" @p qname to describe it: through /dev/mqueue
 * where it is mounted, else mq_open() read-only, else write-only. */
static int
posixmq_probe(const char *qname, ipckit_object *o)
{
    char path[NAME_MAX + sizeof POSIXMQ_DIR + 2];
    mqd_t mq;
    int rc;
    (void) snprintf(path, sizeof path, POSIXMQ_DIR "%s", qname);
    mq = (mqd_t) open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (mq == (mqd_t) -1) {
        mq = mq_open(qname, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (mq == (mqd_t) -1 && errno == EACCES)
            mq = mq_open(qname, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (mq == (mqd_t) -1)
            return -errno;
    }
    rc = ipckit__posixmq_object((int) mq, qname, o);
    (void) close((int) mq);
    return rc;
}

/* Is @p qname a queue name: one '/', then up to NAME_MAX bytes without '/'? */
static bool
posixmq_valid(const char *qname)
{
    return qname[0] == '/' && qname[1] != '\0' && strchr(qname + 1, '/') == NULL &&
           strlen(qname + 1) <= NAME_MAX;
}

struct posixmq_seen {
    int (*emit)(const ipckit_object *o, void *ctx);
    void *ctx;
    char **names; /* the queues emitted, so that two records of one are one */
    size_t n, cap;
    ipckit_object o;
};

static int
posixmq_recorded(const char *qname, void *arg)
{
    struct posixmq_seen *s = arg;
    char *copy;
    if (!posixmq_valid(qname))
        return 0;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->names[i], qname) == 0)
            return 0;
    ipckit__object_blank(&s->o);
    if (posixmq_probe(qname, &s->o) < 0)
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **nv = realloc(s->names, cap * sizeof *nv);
        if (nv == NULL)
            return -ENOMEM;
        s->names = nv;
        s->cap = cap;
    }
    copy = strdup(qname);
    if (copy == NULL)
        return -ENOMEM;
    s->names[s->n++] = copy;
    return s->emit(&s->o, s->ctx);
}

int
ipckit__posixmq_list(const ipckit_list_opts *opts,
                     int (*emit)(const ipckit_object *o, void *ctx), void *ctx)
{
    char qname[NAME_MAX + 2];
    struct dirent *de;
    ipckit_object o;
    DIR *d = opendir(POSIXMQ_DIR);
    int rc = 0;
    (void) opts;
    if (d == NULL) {
        /* not mounted: the queues ipckit made are found through their records */
        struct posixmq_seen *s = calloc(1, sizeof *s);
        if (s == NULL)
            return -ENOMEM;
        s->emit = emit;
        s->ctx = ctx;
        rc = ipckit__creator_targets("posixmq", posixmq_recorded, s);
        for (size_t i = 0; i < s->n; i++)
            free(s->names[i]);
        free(s->names);
        free(s);
        return rc;
    }
    while (rc == 0 && (de = readdir(d)) != NULL) {
        struct stat sb;
        int fd;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            strlen(de->d_name) > NAME_MAX)
            continue;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
            continue;
        (void) snprintf(qname, sizeof qname, "/%s", de->d_name);
        ipckit__object_blank(&o);
        fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0 || ipckit__posixmq_object(fd, qname, &o) < 0) {
            /* not readable by this process: what the directory shows */
            ipckit__object_blank(&o);
            o.scheme = "posixmq";
            o.kind = "posix queue";
            (void) snprintf(o.name, sizeof o.name, "posixmq:%s", qname);
            (void) snprintf(o.where, sizeof o.where, POSIXMQ_DIR "%s", qname);
            o.uid = (long long) sb.st_uid;
            o.gid = (long long) sb.st_gid;
            o.mode = (unsigned) sb.st_mode & 07777u;
            o.dev = (unsigned long long) sb.st_dev;
            o.ino = (unsigned long long) sb.st_ino;
        }
        if (fd >= 0)
            (void) close(fd);
        rc = emit(&o, ctx);
    }
    (void) closedir(d);
    return rc;
}

int
ipckit__posixmq_describe(const ipckit_name *name, ipckit_object *out)
{
    static const char *const none[] = { NULL };
    const char *t = ipckit_name_target(name);
    int rc = ipckit_name_check_params(name, none);
    if (rc < 0)
        return rc;
    if (!posixmq_valid(t))
        return ipckit_backend_fail(-EINVAL,
                                   "posixmq: name \"%s\" must be one '/' followed by at most %d"
                                   " bytes other than '/'",
                                   t, NAME_MAX);
    rc = posixmq_probe(t, out);
    if (rc < 0)
        return ipckit_backend_fail(rc, "posixmq: \"%s\": %s", t, strerror(-rc));
    return 0;
}

/* Remove the queue judged stale, if it still is that queue (its inode) and
 * nobody used it since (what it holds, taken again with the inode). */
int
ipckit__posixmq_remove_stale(const ipckit_object *o, unsigned flags)
{
    const char *colon = strchr(o->name, ':');
    ipckit_object now;
    int rc;
    (void) flags; /* it must hold what was judged, named or not */
    if (colon == NULL || !posixmq_valid(colon + 1))
        return ipckit_backend_fail(-EINVAL, "not a POSIX queue");
    ipckit__object_blank(&now);
    rc = posixmq_probe(colon + 1, &now);
    if (rc == -ENOENT || (rc == 0 && now.ino != o->ino))
        return ipckit_backend_fail(-ESTALE, "it was replaced meanwhile");
    if (rc < 0)
        return ipckit_backend_fail(rc, "%s", strerror(-rc));
    if (now.messages != o->messages || now.bytes != o->bytes)
        return ipckit_backend_fail(-EBUSY, "a process used it meanwhile");
    if (mq_unlink(colon + 1) < 0)
        return ipckit_backend_fail(-errno, "%s", strerror(errno));
    return 0;
}
