/*
 * ipckit-bench: the raw variants, each a kernel mechanism called directly:
 * an anonymous pipe, a FIFO, a System V queue, a POSIX queue, real-time
 * signals.
 *
 * The raw halves are what a careful programmer writes directly against the
 * kernel API for the same traffic: fixed-size messages on a pipe
 * (write/read of exactly the message size), msgsnd/msgrcv on a System V
 * queue, sigqueue/sigwaitinfo with a real-time signal. They do no framing,
 * no timeout handling and no error reporting beyond errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <mqueue.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

/* ---- raw pipe: write/read of exactly the message size -------------------- */

struct rawpipe_ep {
    int fd;
};

static int
rawpipe_prepare(struct bx_run *r)
{
    for (int c = 0; c < r->nchan; c++) {
        if (pipe2(r->fds[c], O_CLOEXEC) < 0) {
            (void) snprintf(r->err, sizeof r->err, "pipe: %s", strerror(errno));
            for (int k = 0; k < c; k++) {
                (void) close(r->fds[k][0]);
                (void) close(r->fds[k][1]);
            }
            return -1;
        }
    }
    return 0;
}

static void
rawpipe_parent_after_fork(struct bx_run *r)
{
    for (int c = 0; c < r->nchan; c++) {
        (void) close(r->fds[c][0]);
        (void) close(r->fds[c][1]);
    }
}

static int
rawpipe_open(struct bx_run *r, int chan, enum bx_dir dir, void **ep)
{
    struct rawpipe_ep *e = malloc(sizeof *e);
    if (e == NULL)
        return -ENOMEM;
    e->fd = r->fds[chan][dir == BX_SEND ? 1 : 0];
    *ep = e;
    return 0;
}

static int
rawpipe_send(void *ep, const void *buf, size_t len)
{
    const struct rawpipe_ep *e = ep;
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(e->fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        len -= (size_t) w;
    }
    return 0;
}

/* The message size is fixed and known: read exactly @p cap bytes. */
static ssize_t
rawpipe_recv(void *ep, void *buf, size_t cap)
{
    const struct rawpipe_ep *e = ep;
    char *p = buf;
    size_t got = 0;
    while (got < cap) {
        ssize_t n = read(e->fd, p + got, cap - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EPIPE;
        got += (size_t) n;
    }
    return (ssize_t) got;
}

static void
rawpipe_close(void *ep)
{
    free(ep);
}

static void
rawpipe_cleanup(struct bx_run *r)
{
    (void) r;
}

const struct bx_variant bx_raw_pipe = {
    .name = "raw",
    .prepare = rawpipe_prepare,
    .parent_after_fork = rawpipe_parent_after_fork,
    .open = rawpipe_open,
    .send = rawpipe_send,
    .recv = rawpipe_recv,
    .close = rawpipe_close,
    .cleanup = rawpipe_cleanup,
};

/* ---- raw FIFO: a named pipe, then write/read as above ----------------------- */

static int
rawfifo_prepare(struct bx_run *r)
{
    for (int c = 0; c < r->nchan; c++) {
        int n = snprintf(r->names[c], sizeof r->names[c], "%s/raw.%u.%d", r->dir, r->id, c);
        if (n < 0 || (size_t) n >= sizeof r->names[c] || mkfifo(r->names[c], 0600) < 0) {
            (void) snprintf(r->err, sizeof r->err, "mkfifo %.120s: %.100s", r->names[c],
                            strerror(errno));
            for (int k = 0; k < c; k++)
                (void) unlink(r->names[k]);
            return -1;
        }
    }
    return 0;
}

static void
rawfifo_parent_after_fork(struct bx_run *r)
{
    (void) r;
}

static int
rawfifo_open(struct bx_run *r, int chan, enum bx_dir dir, void **ep)
{
    struct rawpipe_ep *e = malloc(sizeof *e);
    if (e == NULL)
        return -ENOMEM;
    /* The reader opens without waiting for a writer, then reads block; the
     * writer's open waits for the reader. */
    do
        e->fd = open(r->names[chan], dir == BX_SEND ? O_WRONLY | O_CLOEXEC
                                                     : O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    while (e->fd < 0 && errno == EINTR);
    if (e->fd < 0 || (dir == BX_RECV && fcntl(e->fd, F_SETFL, 0) < 0)) {
        int rc = -errno;
        if (e->fd >= 0)
            (void) close(e->fd);
        free(e);
        return rc;
    }
    *ep = e;
    return 0;
}

static void
rawfifo_close(void *ep)
{
    struct rawpipe_ep *e = ep;
    (void) close(e->fd);
    free(e);
}

static void
rawfifo_cleanup(struct bx_run *r)
{
    for (int c = 0; c < r->nchan; c++)
        (void) unlink(r->names[c]);
}

const struct bx_variant bx_raw_fifo = {
    .name = "raw",
    .prepare = rawfifo_prepare,
    .parent_after_fork = rawfifo_parent_after_fork,
    .open = rawfifo_open,
    .send = rawpipe_send,
    .recv = rawpipe_recv,
    .close = rawfifo_close,
    .cleanup = rawfifo_cleanup,
};

/* ---- raw System V queue: msgsnd/msgrcv ----------------------------------- */

struct rawmq_ep {
    int qid;
    size_t cap;
    struct {
        long mtype;
        char mtext[];
    } *mb;
};

static int
rawmq_prepare(struct bx_run *r)
{
    for (int c = 0; c < r->nchan; c++) {
        r->qid[c] = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
        if (r->qid[c] < 0) {
            (void) snprintf(r->err, sizeof r->err, "msgget: %s", strerror(errno));
            for (int k = 0; k < c; k++)
                (void) msgctl(r->qid[k], IPC_RMID, NULL);
            return -1;
        }
    }
    return 0;
}

static void
rawmq_parent_after_fork(struct bx_run *r)
{
    (void) r;
}

static int
rawmq_open(struct bx_run *r, int chan, enum bx_dir dir, void **ep)
{
    struct rawmq_ep *e = malloc(sizeof *e);
    (void) dir;
    if (e == NULL)
        return -ENOMEM;
    e->qid = r->qid[chan];
    e->cap = r->size;
    e->mb = malloc(sizeof(long) + r->size);
    if (e->mb == NULL) {
        free(e);
        return -ENOMEM;
    }
    *ep = e;
    return 0;
}

static int
rawmq_send(void *ep, const void *buf, size_t len)
{
    struct rawmq_ep *e = ep;
    e->mb->mtype = 1;
    memcpy(e->mb->mtext, buf, len);
    while (msgsnd(e->qid, e->mb, len, 0) < 0)
        if (errno != EINTR)
            return -errno;
    return 0;
}

static ssize_t
rawmq_recv(void *ep, void *buf, size_t cap)
{
    struct rawmq_ep *e = ep;
    ssize_t n;
    if (cap > e->cap)
        cap = e->cap;
    while ((n = msgrcv(e->qid, e->mb, cap, 0, 0)) < 0)
        if (errno != EINTR)
            return -errno;
    memcpy(buf, e->mb->mtext, (size_t) n);
    return n;
}

static void
rawmq_close(void *ep)
{
    struct rawmq_ep *e = ep;
    free(e->mb);
    free(e);
}

static void
rawmq_cleanup(struct bx_run *r)
{
    for (int c = 0; c < r->nchan; c++)
        (void) msgctl(r->qid[c], IPC_RMID, NULL);
}

const struct bx_variant bx_raw_sysvmq = {
    .name = "raw",
    .prepare = rawmq_prepare,
    .parent_after_fork = rawmq_parent_after_fork,
    .open = rawmq_open,
    .send = rawmq_send,
    .recv = rawmq_recv,
    .close = rawmq_close,
    .cleanup = rawmq_cleanup,
};

/* ---- raw POSIX queue: mq_send/mq_receive --------------------------------- */

struct rawpmq_ep {
    mqd_t mq;
    size_t msgsize;
    char *buf; /* mq_receive wants room for the queue's largest message */
};

static int
rawpmq_prepare(struct bx_run *r)
{
    for (int c = 0; c < r->nchan; c++) {
        mqd_t mq;
        (void) snprintf(r->names[c], sizeof r->names[c], "/ipckit-bench-raw.%d.%u.%d",
                        (int) getpid(), r->id, c);
        struct mq_attr a = { .mq_maxmsg = 10, .mq_msgsize = (long) r->size };
        mq = mq_open(r->names[c], O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &a);
        if (mq == (mqd_t) -1) {
            (void) snprintf(r->err, sizeof r->err, "mq_open: %s", strerror(errno));
            for (int k = 0; k < c; k++)
                (void) mq_unlink(r->names[k]);
            return -1;
        }
        (void) mq_close(mq);
    }
    return 0;
}

static int
rawpmq_open(struct bx_run *r, int chan, enum bx_dir dir, void **ep)
{
    struct rawpmq_ep *e = malloc(sizeof *e);
    struct mq_attr a;
    if (e == NULL)
        return -ENOMEM;
    e->mq = mq_open(r->names[chan], (dir == BX_RECV ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
    if (e->mq == (mqd_t) -1 || mq_getattr(e->mq, &a) < 0) {
        int err = -errno;
        free(e);
        return err;
    }
    e->msgsize = (size_t) a.mq_msgsize;
    e->buf = malloc(e->msgsize);
    if (e->buf == NULL) {
        (void) mq_close(e->mq);
        free(e);
        return -ENOMEM;
    }
    *ep = e;
    return 0;
}

static int
rawpmq_send(void *ep, const void *buf, size_t len)
{
    struct rawpmq_ep *e = ep;
    while (mq_send(e->mq, buf, len, 0) < 0)
        if (errno != EINTR)
            return -errno;
    return 0;
}

static ssize_t
rawpmq_recv(void *ep, void *buf, size_t cap)
{
    struct rawpmq_ep *e = ep;
    ssize_t n;
    while ((n = mq_receive(e->mq, e->buf, e->msgsize, NULL)) < 0)
        if (errno != EINTR)
            return -errno;
    if ((size_t) n > cap)
        return -EMSGSIZE;
    memcpy(buf, e->buf, (size_t) n);
    return n;
}

static void
rawpmq_close(void *ep)
{
    struct rawpmq_ep *e = ep;
    (void) mq_close(e->mq);
    free(e->buf);
    free(e);
}

static void
rawpmq_cleanup(struct bx_run *r)
{
    for (int c = 0; c < r->nchan; c++)
        (void) mq_unlink(r->names[c]);
}

const struct bx_variant bx_raw_posixmq = {
    .name = "raw",
    .prepare = rawpmq_prepare,
    .parent_after_fork = rawmq_parent_after_fork,
    .open = rawpmq_open,
    .send = rawpmq_send,
    .recv = rawpmq_recv,
    .close = rawpmq_close,
    .cleanup = rawpmq_cleanup,
};

/* ---- raw real-time signals: sigqueue/sigwaitinfo ------------------------- */

struct rawsig_ep {
    int signo;
    const pid_t *peer;   /* the receiving process, known once the run starts */
    sigset_t set;
};

static sigset_t rawsig_saved;

static int
rawsig_prepare(struct bx_run *r)
{
    sigset_t set;
    /* Children inherit the mask: the signals are blocked before they can be
     * sent, so none is delivered to a default action. */
    (void) sigemptyset(&set);
    for (int c = 0; c < r->nchan; c++) {
        r->signo[c] = SIGRTMIN + 2 + c;
        (void) sigaddset(&set, r->signo[c]);
    }
    (void) sigprocmask(SIG_BLOCK, &set, &rawsig_saved);
    return 0;
}

static void
rawsig_parent_after_fork(struct bx_run *r)
{
    (void) r;
    (void) sigprocmask(SIG_SETMASK, &rawsig_saved, NULL);
}

static int
rawsig_open(struct bx_run *r, int chan, enum bx_dir dir, void **ep)
{
    struct rawsig_ep *e = malloc(sizeof *e);
    (void) dir;
    if (e == NULL)
        return -ENOMEM;
    e->signo = r->signo[chan];
    e->peer = &r->peer[chan];
    (void) sigemptyset(&e->set);
    (void) sigaddset(&e->set, e->signo);
    *ep = e;
    return 0;
}

static int
rawsig_send(void *ep, const void *buf, size_t len)
{
    const struct rawsig_ep *e = ep;
    union sigval v;
    memset(&v, 0, sizeof v);
    memcpy(&v, buf, len < sizeof v ? len : sizeof v);
    while (sigqueue(*e->peer, e->signo, v) < 0) {
        if (errno == EAGAIN)
            (void) sched_yield();   /* the kernel's queue is full: let the receiver run */
        else if (errno != EINTR)
            return -errno;
    }
    return 0;
}

static ssize_t
rawsig_recv(void *ep, void *buf, size_t cap)
{
    const struct rawsig_ep *e = ep;
    siginfo_t si;
    size_t n = cap < sizeof si.si_value ? cap : sizeof si.si_value;
    while (sigwaitinfo(&e->set, &si) < 0)
        if (errno != EINTR)
            return -errno;
    memcpy(buf, &si.si_value, n);
    return (ssize_t) n;
}

static void
rawsig_close(void *ep)
{
    free(ep);
}

static void
rawsig_cleanup(struct bx_run *r)
{
    (void) r;
}

const struct bx_variant bx_raw_rtsig = {
    .name = "raw",
    .prepare = rawsig_prepare,
    .parent_after_fork = rawsig_parent_after_fork,
    .open = rawsig_open,
    .send = rawsig_send,
    .recv = rawsig_recv,
    .close = rawsig_close,
    .cleanup = rawsig_cleanup,
};
