/*
 * ipckit backend "posixmq:": POSIX message queues (mq_open, mq_send,
 * mq_receive, mq_timedsend, mq_timedreceive).
 *
 * Name: posixmq:/NAME, a POSIX queue name: one leading '/', no other '/',
 * at most NAME_MAX bytes. No parameters.
 *
 * Types are priorities: a message of type T is sent with priority T - 1, so
 * types run from 1 to sysconf(_SC_MQ_PRIO_MAX) (32768 on Linux). The queue
 * delivers the highest priority first, FIFO within one priority: a higher
 * type overtakes lower ones. There is no receive by type (no
 * IPCKIT_CAP_SELECT: the core answers -ENOTSUP for a selector).
 *
 * Waiting: -1 is the plain blocking call. 0 is mq_timedsend/receive with a
 * timeout that has already passed (one try). A positive timeout waits with
 * poll() on the queue descriptor against the core's CLOCK_MONOTONIC
 * deadline, then tries once, so a change of the wall clock (which
 * mq_timed* measure their timeout by) cannot stretch or cut the wait. On
 * Linux the queue descriptor is a file descriptor, which ipckit_fd() gives
 * for poll/epoll.
 *
 * Sizes: every queue has a fixed mq_msgsize, the channel's max_msg_size.
 * POSIX refuses a receive buffer smaller than mq_msgsize whatever the size
 * of the next message (EMSGSIZE, the message stays queued). With
 * IPCKIT_OPT_TRUNCATE the backend receives into its own buffer of
 * mq_msgsize bytes and returns what fits the caller's.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "../core/internal.h"
#include "../core/objects.h"

struct posixmq {
    mqd_t mq;
    long prio_max;      /* types are 1..prio_max */
    size_t msgsize;     /* the queue's mq_msgsize */
    bool truncate;
    int waker;          /* IPCKIT_OPT_INTERRUPTIBLE: ipckit_waker_open(); else -1 */
    char *tbuf;         /* IPCKIT_OPT_TRUNCATE only: msgsize bytes */
    char name[NAME_MAX + 2];
};

static const char *const posixmq_params[] = { NULL };

/* Check the name and copy it to @p out; a detail on failure. */
static int
posixmq_name(const ipckit_name *name, char *out, size_t cap)
{
    const char *t = ipckit_name_target(name);
    int rc = ipckit_name_check_params(name, posixmq_params);
    if (rc < 0)
        return rc;
    if (t[0] != '/' || t[1] == '\0' || strchr(t + 1, '/') != NULL)
        return ipckit_backend_fail(-EINVAL,
                                    "posixmq: name \"%s\" must be one '/' followed by at"
                                    " least one character other than '/'",
                                    t);
    if (strlen(t + 1) > NAME_MAX || strlcpy(out, t, cap) >= cap)
        return ipckit_backend_fail(-ENAMETOOLONG,
                                    "posixmq: name \"%s\" is longer than %d bytes", t,
                                    NAME_MAX);
    return 0;
}

static int
posixmq_open(void *state, const ipckit_name *name, unsigned flags, const ipckit_opts *opts,
             const struct timespec *deadline)
{
    struct posixmq *q = state;
    struct mq_attr attr, *ap = NULL;
    int oflag = O_CLOEXEC, rc;
    bool created = false;

    (void) deadline; /* mq_open never waits */
    q->mq = (mqd_t) -1;
    q->waker = -1;
    rc = posixmq_name(name, q->name, sizeof q->name);
    if (rc < 0)
        return rc;
    q->truncate = (opts->flags & IPCKIT_OPT_TRUNCATE) != 0;
    oflag |= (flags & IPCKIT_SEND) && (flags & IPCKIT_RECV) ? O_RDWR
             : (flags & IPCKIT_SEND)                         ? O_WRONLY
                                                             : O_RDONLY;
    if (opts->capacity > 0 || opts->max_msg_size > 0) {
        /* Only what the caller sets; the rest from the system's defaults. */
        memset(&attr, 0, sizeof attr);
        attr.mq_maxmsg = opts->capacity > 0 ? (long) (opts->capacity > LONG_MAX ? LONG_MAX
                                                                                  : opts->capacity)
                                            : 10;
        attr.mq_msgsize = opts->max_msg_size > 0
                              ? (long) (opts->max_msg_size > LONG_MAX ? LONG_MAX
                                                                      : opts->max_msg_size)
                              : 8192;
        ap = &attr;
    }

    if (flags & IPCKIT_CREATE) {
        q->mq = mq_open(q->name, oflag | O_CREAT | O_EXCL, (mode_t) opts->mode, ap);
        if (q->mq != (mqd_t) -1) {
            created = true;
        } else if (errno != EEXIST || (flags & IPCKIT_EXCL)) {
            int e = errno;
            return ipckit_backend_fail(-e, "posixmq: create \"%s\": %s%s", q->name,
                                        strerror(e),
                                        e == EINVAL ? " (capacity or max_msg_size above"
                                                      " /proc/sys/fs/mqueue limits?)"
                                        : e == EMFILE ? " (RLIMIT_MSGQUEUE reached?)"
                                                      : "");
        }
    }
    if (q->mq == (mqd_t) -1) {
        q->mq = mq_open(q->name, oflag);
        if (q->mq == (mqd_t) -1) {
            int e = errno;
            return ipckit_backend_fail(-e, "posixmq: open \"%s\": %s", q->name,
                                        strerror(e));
        }
    }
    if (!created) {
        struct stat sb;
        char what[NAME_MAX + 16];
        if (fstat((int) q->mq, &sb) < 0) {
            rc = ipckit_backend_fail(-errno, "posixmq: fstat \"%s\": %s", q->name,
                                      strerror(errno));
            goto fail;
        }
        (void) snprintf(what, sizeof what, "posixmq: \"%s\"", q->name);
        rc = ipckit_backend_check_owner(state, opts, what, sb.st_uid, sb.st_uid, sb.st_gid,
                                        (unsigned) sb.st_mode);
        if (rc < 0)
            goto fail;
    }
    /* mq_open applied the umask; set the mode the caller asked for. */
    if (created && fchmod((int) q->mq, (mode_t) opts->mode) < 0) {
        rc = ipckit_backend_fail(-errno, "posixmq: chmod \"%s\" to %#o: %s", q->name,
                                  opts->mode, strerror(errno));
        goto fail;
    }
    if (mq_getattr(q->mq, &attr) < 0) {
        rc = ipckit_backend_fail(-errno, "posixmq: mq_getattr \"%s\": %s", q->name,
                                  strerror(errno));
        goto fail;
    }
    q->msgsize = (size_t) attr.mq_msgsize;
    if (!created && opts->max_msg_size > 0 && opts->max_msg_size != q->msgsize) {
        rc = ipckit_backend_fail(-EINVAL,
                                  "posixmq: \"%s\" exists with a message size of %zu bytes,"
                                  " not %zu",
                                  q->name, q->msgsize, opts->max_msg_size);
        goto fail;
    }
    q->prio_max = sysconf(_SC_MQ_PRIO_MAX);
    if (q->prio_max <= 0)
        q->prio_max = 32;
    if (q->truncate) {
        q->tbuf = malloc(q->msgsize);
        if (q->tbuf == NULL) {
            rc = -ENOMEM;
            goto fail;
        }
    }
    if (opts->flags & IPCKIT_OPT_INTERRUPTIBLE) {
        q->waker = ipckit_waker_open();
        if (q->waker < 0) {
            rc = ipckit_backend_fail(q->waker, "posixmq: eventfd: %s",
                                      strerror(-q->waker));
            goto fail;
        }
    }
    /* created: the kernel keeps no creator, the core records it */
    return created ? 1 : 0;
fail:
    free(q->tbuf);
    q->tbuf = NULL;
    (void) mq_close(q->mq);
    q->mq = (mqd_t) -1;
    if (created)
        (void) mq_unlink(q->name);
    return rc;
}

static int
posixmq_close(void *state)
{
    struct posixmq *q = state;
    int rc = 0;
    if (q->mq != (mqd_t) -1 && mq_close(q->mq) < 0)
        rc = -errno;
    q->mq = (mqd_t) -1;
    free(q->tbuf);
    q->tbuf = NULL;
    if (q->waker >= 0)
        (void) close(q->waker);
    q->waker = -1;
    return rc;
}

/* The queue this channel has open, for its creator record. */
static int
posixmq_identify(void *state, ipckit_object *out)
{
    struct posixmq *q = state;
    return ipckit__posixmq_object((int) q->mq, q->name, out);
}

static int
posixmq_unlink(const ipckit_name *name)
{
    char n[NAME_MAX + 2];
    int rc = posixmq_name(name, n, sizeof n);
    if (rc < 0)
        return rc;
    if (mq_unlink(n) < 0) {
        int e = errno;
        return ipckit_backend_fail(-e, "posixmq: unlink \"%s\": %s", n, strerror(e));
    }
    return 0;
}

static int
posixmq_stat(const ipckit_name *name, ipckit_stat *out)
{
    char n[NAME_MAX + 2], line[160];
    struct mq_attr attr;
    struct stat sb;
    ssize_t len;
    long qsize;
    mqd_t mq;
    int rc = posixmq_name(name, n, sizeof n);
    if (rc < 0)
        return rc;
    mq = mq_open(n, O_RDONLY | O_CLOEXEC);
    if (mq == (mqd_t) -1) {
        int e = errno;
        return ipckit_backend_fail(-e, "posixmq: stat \"%s\": %s", n, strerror(e));
    }
    rc = 0;
    if (mq_getattr(mq, &attr) < 0 || fstat((int) mq, &sb) < 0) {
        rc = ipckit_backend_fail(-errno, "posixmq: stat \"%s\": %s", n, strerror(errno));
    } else {
        out->messages = attr.mq_curmsgs;
        out->max_msg_size = attr.mq_msgsize;
        out->max_bytes = attr.mq_maxmsg * attr.mq_msgsize;
        out->mode = (unsigned) sb.st_mode & 0777u;
        /* POSIX queues keep no creator: the core reads ipckit's record */
        /* On Linux, reading the descriptor gives "QSIZE:n NOTIFY:..." */
        len = read((int) mq, line, sizeof line - 1);
        if (len > 0) {
            line[len] = '\0';
            if (sscanf(line, "QSIZE:%ld", &qsize) == 1)
                out->bytes = qsize;
        }
    }
    (void) mq_close(mq);
    return rc;
}

static int
posixmq_fd(void *state)
{
    return (int) ((struct posixmq *) state)->mq;
}

static void
posixmq_info(void *state, unsigned *caps, size_t *max_msg)
{
    (void) caps;
    *max_msg = ((struct posixmq *) state)->msgsize;
}

/* Wait for @p events on the queue until the deadline, or an interrupt: 0,
 * or a negative errno (-EINTR). */
static int
posixmq_wait(struct posixmq *q, short events, const struct timespec *deadline)
{
    return ipckit_deadline_poll_wake((int) q->mq, events, q->waker, deadline, NULL);
}

static int
posixmq_interrupt(void *state)
{
    struct posixmq *q = state;
    return q->waker < 0 ? -ENOTSUP : ipckit_waker_wake(q->waker);
}

static const struct timespec posixmq_past = { 0, 0 };

static int
posixmq_send(void *state, long type, const void *buf, size_t len,
             const struct timespec *deadline)
{
    struct posixmq *q = state;
    if (type > q->prio_max)
        return ipckit_backend_fail(-EINVAL,
                                    "send: type %ld is above %ld (types are POSIX priorities"
                                    " + 1)",
                                    type, q->prio_max);
    /* glibc declares the buffer nonnull, even for an empty message */
    if (buf == NULL)
        buf = "";
    for (;;) {
        int r = deadline == NULL && q->waker < 0
                    ? mq_send(q->mq, buf, len, (unsigned) (type - 1))
                                 : mq_timedsend(q->mq, buf, len, (unsigned) (type - 1),
                                                &posixmq_past);
        if (r == 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno != ETIMEDOUT && errno != EAGAIN)
            return ipckit_backend_fail(-errno, "send: \"%s\": %s", q->name,
                                        strerror(errno));
        if (ipckit_deadline_passed(deadline))
            return ipckit_backend_fail(ipckit_deadline_error(deadline),
                                        "send: queue \"%s\" is full", q->name);
        r = posixmq_wait(q, POLLOUT, deadline);
        if (r == -EINTR)
            return ipckit_backend_fail(r, "send: interrupted (ipckit_interrupt())");
        if (r < 0)
            return ipckit_backend_fail(r, "send: queue \"%s\" is full", q->name);
    }
}

static ssize_t
posixmq_recv(void *state, long selector, long *type, void *buf, size_t cap,
             const struct timespec *deadline)
{
    struct posixmq *q = state;
    char *dst = buf;
    unsigned prio = 0;
    (void) selector;
    if (cap < q->msgsize) {
        if (!q->truncate)
            return ipckit_backend_fail(-EMSGSIZE,
                                        "recv: a buffer of %zu bytes is smaller than the"
                                        " message size of \"%s\", %zu bytes (POSIX queues need"
                                        " a buffer that large); nothing was taken",
                                        cap, q->name, q->msgsize);
        dst = q->tbuf;
    }
    for (;;) {
        ssize_t n = deadline == NULL && q->waker < 0
                        ? mq_receive(q->mq, dst, q->msgsize, &prio)
                        : mq_timedreceive(q->mq, dst, q->msgsize, &prio, &posixmq_past);
        if (n >= 0) {
            *type = (long) prio + 1;
            if (dst != buf) {
                if ((size_t) n > cap)
                    n = (ssize_t) cap;
                memcpy(buf, dst, (size_t) n);
            }
            return n;
        }
        if (errno == EINTR)
            continue;
        if (errno != ETIMEDOUT && errno != EAGAIN)
            return ipckit_backend_fail(-errno, "recv: \"%s\": %s", q->name,
                                        strerror(errno));
        if (ipckit_deadline_passed(deadline))
            return ipckit_backend_fail(ipckit_deadline_error(deadline),
                                        "recv: no message in \"%s\"", q->name);
        int r = posixmq_wait(q, POLLIN, deadline);
        if (r == -EINTR)
            return ipckit_backend_fail(r, "recv: interrupted (ipckit_interrupt())");
        if (r < 0)
            return ipckit_backend_fail(r, "recv: no message in \"%s\"", q->name);
    }
}

const ipckit_backend ipckit__posix_mq_backend = {
    .abi_version = IPCKIT_BACKEND_ABI,
    .scheme = "posixmq",
    .opt_flags = IPCKIT_OPT_TRUNCATE | IPCKIT_OPT_INTERRUPTIBLE,
    .state_size = sizeof(struct posixmq),
    .caps = IPCKIT_CAP_TYPED | IPCKIT_CAP_FD | IPCKIT_CAP_MULTI_SEND | IPCKIT_CAP_MULTI_RECV |
            IPCKIT_CAP_STAT,
    .open = posixmq_open,
    .close = posixmq_close,
    .unlink = posixmq_unlink,
    .send = posixmq_send,
    .recv = posixmq_recv,
    .fd = posixmq_fd,
    .stat = posixmq_stat,
    .interrupt = posixmq_interrupt,
    .info = posixmq_info,
    .list = ipckit__posixmq_list,
    .describe = ipckit__posixmq_describe,
    .remove_stale = ipckit__posixmq_remove_stale,
    .identify = posixmq_identify,
};
