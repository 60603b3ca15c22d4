/*
 * ipckit-bench: the raw mechanisms, the ipckit channel API, and the table of
 * backends that pairs them.
 *
 * The raw halves are what a careful programmer writes directly against the
 * kernel API for the same traffic: fixed-size messages on a pipe
 * (write/read of exactly the message size), msgsnd/msgrcv on a System V
 * queue, sigqueue/sigwaitinfo with a real-time signal. They do no framing,
 * no timeout handling and no error reporting beyond errno.
 */
#include <dlfcn.h>
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

#include <ipckit/backend.h>
#include <ipckit/ipckit.h>

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

/* ---- ipckit: the public channel API, of this build or of --base ----------- */

/*
 * The functions the ipckit variants call, taken from one library: the
 * libipckit this program is linked with, or another build of it loaded
 * with --base=PATH. Both kinds of variant run the code below; only the
 * table differs, so "ipckit" and "base" move the same traffic through two
 * builds of the library.
 */
struct ipk_api {
    const char *what;          /* for the notes: "this libipckit" or the path */
    unsigned opts_version;     /* the ipckit_opts version to pass */
    int (*open)(ipckit_channel **, const char *, unsigned, const ipckit_opts *);
    int (*close)(ipckit_channel *);
    int (*unlink)(const char *);
    int (*send)(ipckit_channel *, const void *, size_t, int);
    ssize_t (*recv)(ipckit_channel *, void *, size_t, int);
    unsigned (*caps)(const ipckit_channel *);
    size_t (*max_msg_size)(const ipckit_channel *);
    const char *(*error_detail)(void);
    const ipckit_backend *(*backend_find)(const char *);
    const char *(*version_string)(void);
    /* Zero copy: NULL when the library has none of them. */
    int (*send_loan)(ipckit_channel *, size_t, void **, int);
    int (*send_commit)(ipckit_channel *, long, size_t);
    ssize_t (*recv_borrow)(ipckit_channel *, long *, const void **, int);
    int (*recv_release)(ipckit_channel *);
};

static const struct ipk_api ipk_linked = {
    "this libipckit", IPCKIT_OPTS_VERSION, ipckit_open, ipckit_close, ipckit_unlink,
    ipckit_send, ipckit_recv, ipckit_caps, ipckit_max_msg_size, ipckit_error_detail,
    ipckit_backend_find, ipckit_version_string, ipckit_send_loan, ipckit_send_commit,
    ipckit_recv_borrow, ipckit_recv_release,
};

/* Filled by bx_base_open(); what == NULL: no --base. */
static struct ipk_api ipk_base;
static void *ipk_base_handle;
static char ipk_base_path[PATH_MAX];

/* What one ipckit variant does with its library. */
struct ipk_impl {
    const struct ipk_api *api;
    const char *param;   /* added to every name at open ("claim=1"), or NULL */
    bool zerocopy;       /* sends with loans, receives borrowed messages */
};

/* An open channel and the library it belongs to. */
struct ipk_ep {
    const struct ipk_api *api;
    ipckit_channel *ch;
};

static const struct ipk_api *
ipk_api_of(const struct bx_run *r)
{
    return ((const struct ipk_impl *) r->var->impl)->api;
}

/* @p name with the variant's parameter added ("?claim=1", or "&claim=1"
 * after other parameters); -ENAMETOOLONG when it does not fit. */
static int
ipk_name(const struct ipk_impl *im, const char *name, char *buf, size_t cap)
{
    int n;
    if (im->param == NULL)
        n = snprintf(buf, cap, "%s", name);
    else
        n = snprintf(buf, cap, "%s%c%s", name, strchr(name, '?') != NULL ? '&' : '?',
                     im->param);
    return n < 0 || (size_t) n >= cap ? -ENAMETOOLONG : 0;
}

/*
 * A variant this library cannot run is skipped, not failed: a library
 * without the zero-copy functions or whose channels lack
 * IPCKIT_CAP_ZEROCOPY, one that refuses the variant's name parameter (an
 * older build that does not know ?claim=1). The probe opens the new object
 * once with the parameter and closes it again.
 */
static int
ipk_can_run(struct bx_run *r, const struct ipk_impl *im, ipckit_channel *ch, int c)
{
    const struct ipk_api *api = im->api;
    if (im->zerocopy && !(api->caps(ch) & IPCKIT_CAP_ZEROCOPY)) {
        (void) snprintf(r->err, sizeof r->err, "%.120s: %s: channels have no zero copy",
                        api->what, r->be->scheme);
        return 1;
    }
    if (im->param != NULL) {
        char name[BX_NAME_MAX + 16];
        ipckit_opts o = IPCKIT_OPTS_INIT;
        ipckit_channel *probe = NULL;
        int rc;
        o.version = api->opts_version;
        if (ipk_name(im, r->names[c], name, sizeof name) < 0) {
            (void) snprintf(r->err, sizeof r->err, "name of channel %d too long", c);
            return -1;
        }
        rc = api->open(&probe, name, IPCKIT_RECV, &o);
        if (rc < 0) {
            (void) snprintf(r->err, sizeof r->err, "%.60s: %s: %.160s", api->what,
                            rc == -EINVAL ? "refuses the name" : "open", api->error_detail());
            return rc == -EINVAL ? 1 : -1;
        }
        (void) api->close(probe);
    }
    return 0;
}

static int
ipk_prepare(struct bx_run *r)
{
    const struct ipk_impl *im = r->var->impl;
    const struct ipk_api *api = im->api;
    const char *scheme = r->be->scheme;
    if (r->be->make_name == NULL) {
        (void) snprintf(r->err, sizeof r->err,
                        "the %s: name format is not in the benchmark's table yet", scheme);
        return 1;
    }
    if (api->backend_find(scheme) == NULL) {
        (void) snprintf(r->err, sizeof r->err, "%.120s has no %s: backend", api->what, scheme);
        return 1;
    }
    if (im->zerocopy && api->send_loan == NULL) {
        (void) snprintf(r->err, sizeof r->err, "%.120s has no ipckit_send_loan()", api->what);
        return 1;
    }
    if (r->be->no_object)
        return 0;   /* nothing to create; the names are made at open */
    ipckit_opts o = IPCKIT_OPTS_INIT;
    /* An older library reads the fields of the version it is given. */
    o.version = api->opts_version;
    /* A POSIX queue's receiver needs a buffer of the queue's message size:
     * make the queue for the run's size, as the raw half does. */
    if (strcmp(r->be->scheme, "posixmq") == 0) {
        if (r->be->max_size != NULL && r->size > r->be->max_size()) {
            (void) snprintf(r->err, sizeof r->err, "%zu-byte messages exceed the limit of %zu",
                            r->size, r->be->max_size());
            return 1;
        }
        o.max_msg_size = r->size;
    }
    for (int c = 0; c < r->nchan; c++) {
        ipckit_channel *ch = NULL;
        int rc = -EEXIST;
        /* Create each object here, exclusively, so that a name in use by
         * someone else is never borrowed; the children open it as it is. */
        for (int attempt = 0; attempt < 64 && rc == -EEXIST; attempt++) {
            struct bx_run probe = *r;
            probe.id = r->id + (unsigned) attempt * 7919u;
            if (r->be->make_name(&probe, c, BX_RECV, r->names[c], sizeof r->names[c]) < 0) {
                (void) snprintf(r->err, sizeof r->err, "name of channel %d too long", c);
                rc = -ENAMETOOLONG;
                break;
            }
            rc = api->open(&ch, r->names[c], IPCKIT_RECV | IPCKIT_CREATE | IPCKIT_EXCL, &o);
        }
        if (rc < 0) {
            if (r->err[0] == '\0')
                (void) snprintf(r->err, sizeof r->err, "open %.100s: %.140s", r->names[c],
                                api->error_detail());
            r->names[c][0] = '\0';
            for (int k = 0; k < c; k++)
                (void) api->unlink(r->names[k]);
            return -1;
        }
        if (api->max_msg_size(ch) < r->size ||
            (r->multi && (api->caps(ch) & (IPCKIT_CAP_MULTI_SEND | IPCKIT_CAP_MULTI_RECV)) !=
                             (IPCKIT_CAP_MULTI_SEND | IPCKIT_CAP_MULTI_RECV))) {
            if (api->max_msg_size(ch) < r->size)
                (void) snprintf(r->err, sizeof r->err, "%zu-byte messages exceed the limit of %zu",
                                r->size, api->max_msg_size(ch));
            else
                (void) snprintf(r->err, sizeof r->err,
                                "%s: channels are not multi-producer/multi-consumer", scheme);
            rc = 1;
        } else {
            rc = ipk_can_run(r, im, ch, c);
        }
        (void) api->close(ch);
        if (rc != 0) {
            for (int k = 0; k <= c; k++)
                (void) api->unlink(r->names[k]);
            for (int k = 0; k < r->nchan; k++)
                r->names[k][0] = '\0';
            return rc;
        }
    }
    return 0;
}

static void
ipk_parent_after_fork(struct bx_run *r)
{
    (void) r;
}

static int
ipk_open(struct bx_run *r, int chan, enum bx_dir dir, void **ep)
{
    const struct ipk_impl *im = r->var->impl;
    const struct ipk_api *api = im->api;
    ipckit_opts o = IPCKIT_OPTS_INIT;
    struct ipk_ep *e;
    char name[BX_NAME_MAX + 16];
    int rc;
    o.version = api->opts_version;
    o.open_timeout_ms = 30000;
    if (r->be->no_object && r->be->make_name(r, chan, dir, r->names[chan],
                                             sizeof r->names[chan]) < 0)
        return -ENAMETOOLONG;
    if (ipk_name(im, r->names[chan], name, sizeof name) < 0)
        return -ENAMETOOLONG;
    e = malloc(sizeof *e);
    if (e == NULL)
        return -ENOMEM;
    e->api = api;
    rc = api->open(&e->ch, name, dir == BX_SEND ? IPCKIT_SEND : IPCKIT_RECV, &o);
    if (rc < 0) {
        (void) fprintf(stderr, "ipckit-bench: open %s: %s\n", name, api->error_detail());
        free(e);
        return rc;
    }
    *ep = e;
    return 0;
}

static int
ipk_send(void *ep, const void *buf, size_t len)
{
    const struct ipk_ep *e = ep;
    return e->api->send(e->ch, buf, len, IPCKIT_FOREVER);
}

static ssize_t
ipk_recv(void *ep, void *buf, size_t cap)
{
    const struct ipk_ep *e = ep;
    return e->api->recv(e->ch, buf, cap, IPCKIT_FOREVER);
}

static ssize_t
ipk_recv_timed(void *ep, void *buf, size_t cap, int timeout_ms)
{
    const struct ipk_ep *e = ep;
    return e->api->recv(e->ch, buf, cap, timeout_ms);
}

static void
ipk_close(void *ep)
{
    struct ipk_ep *e = ep;
    (void) e->api->close(e->ch);
    free(e);
}

static void
ipk_cleanup(struct bx_run *r)
{
    const struct ipk_api *api = ipk_api_of(r);
    for (int c = 0; c < r->nchan; c++)
        if (r->names[c][0] != '\0')
            (void) api->unlink(r->names[c]);
}

/*
 * Zero copy (backends with IPCKIT_CAP_ZEROCOPY): the sender writes its
 * message once, into a loan in the ring (the memcpy stands for building it
 * there); the receiver reads it where it lies. One copy where the pipe and
 * the ipckit variant make two.
 */
static int
ipk_send_zc(void *ep, const void *buf, size_t len)
{
    const struct ipk_ep *e = ep;
    void *room;
    int rc = e->api->send_loan(e->ch, len, &room, IPCKIT_FOREVER);
    if (rc < 0)
        return rc;
    memcpy(room, buf, len);
    return e->api->send_commit(e->ch, 1, len);
}

static ssize_t
ipk_recv_view(void *ep, const void **msg)
{
    const struct ipk_ep *e = ep;
    return e->api->recv_borrow(e->ch, NULL, msg, IPCKIT_FOREVER);
}

static void
ipk_release(void *ep)
{
    const struct ipk_ep *e = ep;
    (void) e->api->recv_release(e->ch);
}

/* The three ipckit variants, each once for this build and once for --base:
 * the public API as it is; zero copy; and one sender and one receiver,
 * each holding its side of the ring for as long as it is open (shm:,
 * ?claim=1: no lock per message). */
#define IPK_VARIANT(vname, impl_, send_, view_, release_, timed_)                             \
    {                                                                                        \
        .name = vname, .prepare = ipk_prepare, .parent_after_fork = ipk_parent_after_fork,   \
        .open = ipk_open, .send = send_, .recv = ipk_recv, .recv_view = view_,               \
        .release = release_, .recv_timed = timed_, .close = ipk_close,                       \
        .cleanup = ipk_cleanup, .impl = impl_                                                \
    }

static const struct ipk_impl im_ipckit = { &ipk_linked, NULL, false };
static const struct ipk_impl im_zc = { &ipk_linked, NULL, true };
static const struct ipk_impl im_claimed = { &ipk_linked, "claim=1", false };
static const struct ipk_impl im_base = { &ipk_base, NULL, false };
static const struct ipk_impl im_base_zc = { &ipk_base, NULL, true };
static const struct ipk_impl im_base_claimed = { &ipk_base, "claim=1", false };

const struct bx_variant bx_ipckit =
    IPK_VARIANT("ipckit", &im_ipckit, ipk_send, NULL, NULL, ipk_recv_timed);
const struct bx_variant bx_ipckit_zc =
    IPK_VARIANT("zerocopy", &im_zc, ipk_send_zc, ipk_recv_view, ipk_release, NULL);
const struct bx_variant bx_ipckit_claimed =
    IPK_VARIANT("claimed", &im_claimed, ipk_send, NULL, NULL, NULL);
const struct bx_variant bx_base =
    IPK_VARIANT("base", &im_base, ipk_send, NULL, NULL, ipk_recv_timed);
const struct bx_variant bx_base_zc =
    IPK_VARIANT("base-zerocopy", &im_base_zc, ipk_send_zc, ipk_recv_view, ipk_release, NULL);
const struct bx_variant bx_base_claimed =
    IPK_VARIANT("base-claimed", &im_base_claimed, ipk_send, NULL, NULL, NULL);

const struct bx_variant *
bx_base_twin(const struct bx_variant *v)
{
    if (ipk_base.what == NULL)
        return NULL;
    if (v == &bx_ipckit)
        return &bx_base;
    if (v == &bx_ipckit_zc)
        return &bx_base_zc;
    if (v == &bx_ipckit_claimed)
        return &bx_base_claimed;
    return NULL;
}

const char *
bx_base_twin_name(const char *variant)
{
    static const struct bx_variant *const pairs[][2] = {
        { &bx_ipckit, &bx_base },
        { &bx_ipckit_zc, &bx_base_zc },
        { &bx_ipckit_claimed, &bx_base_claimed },
    };
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++)
        if (strcmp(variant, pairs[k][0]->name) == 0)
            return pairs[k][1]->name;
    return NULL;
}

bool
bx_variant_is_ipckit(const char *variant)
{
    static const struct bx_variant *const all[] = { &bx_ipckit, &bx_ipckit_zc,
                                                    &bx_ipckit_claimed, &bx_base,
                                                    &bx_base_zc, &bx_base_claimed };
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        if (strcmp(variant, all[k]->name) == 0)
            return true;
    return false;
}

/* ---- --base: another build of libipckit, loaded beside this one ----------- */

/* dlsym() into a function pointer (ISO C has no cast between the two). */
#define IPK_SYM(field, sym, required)                                                        \
    do {                                                                                     \
        void *p_ = dlsym(h, sym);                                                            \
        _Static_assert(sizeof api.field == sizeof p_, "function and object pointers differ"); \
        if (p_ == NULL && (required)) {                                                      \
            (void) fprintf(stderr, "ipckit-bench: --base=%s: no %s in it: not a libipckit\n", \
                           path, sym);                                                       \
            (void) dlclose(h);                                                               \
            return -1;                                                                       \
        }                                                                                    \
        memcpy(&api.field, &p_, sizeof p_);                                                  \
    } while (0)

/* The runtime of these sanitizers refuses dlopen(RTLD_DEEPBIND). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define IPK_DEEPBIND_REFUSED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define IPK_DEEPBIND_REFUSED 1
#endif
#endif

int
bx_base_open(const char *path)
{
    struct ipk_api api;
    void *h;
    int n;
#ifdef IPK_DEEPBIND_REFUSED
    (void) fprintf(stderr, "ipckit-bench: --base=%s: this program is built with a sanitizer,"
                           " whose runtime refuses dlopen(RTLD_DEEPBIND); use a build"
                           " without IPCKIT_SANITIZE\n", path);
    return -1;
#endif
    /* A bare file name is a file here, not a library for the loader to look
     * for (which could find this program's own libipckit.so.0). */
    n = snprintf(ipk_base_path, sizeof ipk_base_path, "%s%s", strchr(path, '/') ? "" : "./",
                 path);
    if (n < 0 || (size_t) n >= sizeof ipk_base_path) {
        (void) fprintf(stderr, "ipckit-bench: --base: path too long\n");
        return -1;
    }
    /* Its own symbols first (RTLD_DEEPBIND): its calls into itself must
     * not land in the libipckit this program is linked with, which has the
     * same names and soname. RTLD_LOCAL: nothing else binds to it. */
    h = dlopen(ipk_base_path, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (h == NULL) {
        (void) fprintf(stderr, "ipckit-bench: --base: %s\n", dlerror());
        return -1;
    }
    memset(&api, 0, sizeof api);
    IPK_SYM(open, "ipckit_open", true);
    IPK_SYM(close, "ipckit_close", true);
    IPK_SYM(unlink, "ipckit_unlink", true);
    IPK_SYM(send, "ipckit_send", true);
    IPK_SYM(recv, "ipckit_recv", true);
    IPK_SYM(caps, "ipckit_caps", true);
    IPK_SYM(max_msg_size, "ipckit_max_msg_size", true);
    IPK_SYM(error_detail, "ipckit_error_detail", true);
    IPK_SYM(backend_find, "ipckit_backend_find", true);
    IPK_SYM(version_string, "ipckit_version_string", true);
    IPK_SYM(send_loan, "ipckit_send_loan", false);
    IPK_SYM(send_commit, "ipckit_send_commit", false);
    IPK_SYM(recv_borrow, "ipckit_recv_borrow", false);
    IPK_SYM(recv_release, "ipckit_recv_release", false);
    if (api.send_loan == NULL || api.send_commit == NULL || api.recv_borrow == NULL ||
        api.recv_release == NULL)
        api.send_loan = NULL;   /* all four or no zero copy */
    /* Every libipckit knows options version 1, which holds all the fields
     * this program sets; later versions only append fields. */
    api.opts_version = 1;
    api.what = ipk_base_path;
    if (api.open == ipckit_open)
        (void) fprintf(stderr, "ipckit-bench: --base=%s is the libipckit this program runs"
                               " with: base and ipckit measure the same code\n", path);
    ipk_base = api;
    ipk_base_handle = h;
    return 0;
}

void
bx_base_close(void)
{
    if (ipk_base_handle != NULL)
        (void) dlclose(ipk_base_handle);
    ipk_base_handle = NULL;
    memset(&ipk_base, 0, sizeof ipk_base);
}

const char *
bx_base_path(void)
{
    return ipk_base.what;
}

const char *
bx_base_version(void)
{
    return ipk_base.what != NULL ? ipk_base.version_string() : NULL;
}

/* ---- names per scheme ------------------------------------------------------ */

static int
name_fifo(const struct bx_run *r, int chan, enum bx_dir dir, char *buf, size_t cap)
{
    (void) dir;
    int n = snprintf(buf, cap, "fifo:%s/fifo.%u.%d", r->dir, r->id, chan);
    return n < 0 || (size_t) n >= cap ? -1 : 0;
}

/* mq: an explicit System V key, 0x4b (for "K") then 12 bits of our pid and 12 of the run. */
static int
name_mq(const struct bx_run *r, int chan, enum bx_dir dir, char *buf, size_t cap)
{
    unsigned key = 0x4b000000u | (((unsigned) getpid() & 0xfffu) << 12) |
                   ((r->id * 2u + (unsigned) chan) & 0xfffu);
    int n = snprintf(buf, cap, "mq:0x%08x", key);
    (void) dir;
    return n < 0 || (size_t) n >= cap ? -1 : 0;
}

/* shm: a POSIX shared-memory object, /dev/shm/ipckit-bench.PID.RUN.CHAN. */
static int
name_shm(const struct bx_run *r, int chan, enum bx_dir dir, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "shm:ipckit-bench.%d.%u.%d", (int) getpid(), r->id, chan);
    (void) dir;
    return n < 0 || (size_t) n >= cap ? -1 : 0;
}

/* posixmq: /dev/mqueue/ipckit-bench.PID.RUN.CHAN, made for the run's message
 * size and 10 messages, like the raw half's queue. */
static int
name_posixmq(const struct bx_run *r, int chan, enum bx_dir dir, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "posixmq:/ipckit-bench.%d.%u.%d", (int) getpid(), r->id, chan);
    (void) dir;
    return n < 0 || (size_t) n >= cap ? -1 : 0;
}

/* The largest message a POSIX queue may be made for (fs.mqueue.msgsize_max). */
static size_t
max_posixmq(void)
{
    FILE *f = fopen("/proc/sys/fs/mqueue/msgsize_max", "r");
    unsigned long v = 8192;
    if (f != NULL) {
        if (fscanf(f, "%lu", &v) != 1)
            v = 8192;
        (void) fclose(f);
    }
    return v;
}

/* signal: the receiver takes its own signals, the sender names the
 * receiver's pid; one real-time signal per channel. */
static int
name_signal(const struct bx_run *r, int chan, enum bx_dir dir, char *buf, size_t cap)
{
    int signo = SIGRTMIN + 5 + chan, n;
    if (dir == BX_RECV)
        n = snprintf(buf, cap, "signal:self?signo=%d", signo);
    else
        n = snprintf(buf, cap, "signal:%d?signo=%d", (int) r->peer[chan], signo);
    return n < 0 || (size_t) n >= cap ? -1 : 0;
}

static size_t
max_sysvmq(void)
{
    FILE *f = fopen("/proc/sys/kernel/msgmax", "r");
    unsigned long v = 8192;
    if (f != NULL) {
        if (fscanf(f, "%lu", &v) != 1)
            v = 8192;
        (void) fclose(f);
    }
    return v;
}

/* The payload of a signal: message: a pointer-sized sigval less the type and
 * length bytes (6 bytes on 64-bit). The raw half sends the same 6 bytes. */
static size_t
max_sigval(void)
{
    return sizeof(union sigval) - 2;
}

#ifdef IPCKIT_BENCH_HAVE_NNG
static int
name_peer_nng(const struct bx_run *r, int chan, enum bx_dir dir, char *buf, size_t cap)
{
    (void) dir;
    int n = snprintf(buf, cap, "ipc://%s/nng.%u.%d", r->dir, r->id, chan);
    return n < 0 || (size_t) n >= cap ? -1 : 0;
}
#endif
#ifdef IPCKIT_BENCH_HAVE_ZMQ
static int
name_peer_zmq(const struct bx_run *r, int chan, enum bx_dir dir, char *buf, size_t cap)
{
    (void) dir;
    int n = snprintf(buf, cap, "ipc://%s/zmq.%u.%d", r->dir, r->id, chan);
    return n < 0 || (size_t) n >= cap ? -1 : 0;
}
#endif

/*
 * The backends. A backend that lands in libipckit is measured as soon as
 * ipckit_backend_find() knows its scheme; only a missing name format keeps
 * its ipckit half out.
 */
const struct bx_backend bx_backends[] = {
    /* The reference every row is also compared with ("vs pipe"): an
     * anonymous pipe, fixed-size messages. Keep it first. */
    { "pipe", "pipe(2) write/read", &bx_raw_pipe, NULL, NULL, NULL, true, false, false, NULL, NULL },
    { "fifo", "mkfifo(3) write/read", &bx_raw_fifo, &bx_ipckit, name_fifo, NULL, false, false,
      false, NULL, NULL },
    { "mq", "msgsnd/msgrcv", &bx_raw_sysvmq, &bx_ipckit, name_mq, max_sysvmq, true, false,
      false, NULL, NULL },
    { "posixmq", "mq_send/mq_receive", &bx_raw_posixmq, &bx_ipckit, name_posixmq, max_posixmq,
      true, false, false, NULL, NULL },
    /* shm:'s raw twin is the limit: a ring that trusts its peer and spins
     * (limit.c); every row is also compared with the pipe. */
    { "shm", "SPSC ring in shared memory, spinning (the limit)", &bx_raw_spsc, &bx_ipckit,
      name_shm, NULL, true, false, false, &bx_ipckit_zc, &bx_ipckit_claimed },
    { "signal", "sigqueue/sigwaitinfo", &bx_raw_rtsig, &bx_ipckit, name_signal, max_sigval,
      false, false, true, NULL, NULL },
#ifdef IPCKIT_BENCH_HAVE_NATS
    /* nats.c: libnats by hand against the plug-in, on a server of the bench's own */
    { "nats", "JetStream publish, direct get + delete (libnats)", &bx_raw_nats, &bx_ipckit_nats,
      bx_nats_name, bx_nats_max, true, false, false, NULL, NULL },
#endif
#ifdef IPCKIT_BENCH_HAVE_NNG
    { "nng", "pair1 over ipc://", NULL, &bx_nng, name_peer_nng, NULL, false, true, false, NULL, NULL },
#endif
#ifdef IPCKIT_BENCH_HAVE_ZMQ
    { "zmq", "PAIR over ipc://", NULL, &bx_zmq, name_peer_zmq, NULL, false, true, false, NULL, NULL },
#endif
};
const size_t bx_nbackends = sizeof bx_backends / sizeof bx_backends[0];
