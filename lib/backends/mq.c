/*
 * ipckit backend "mq:": System V message queues (msgget, msgsnd, msgrcv,
 * msgctl), the queues PHP's msg_* functions and Python's sysv_ipc use.
 *
 * Name: mq:KEY or mq:PATH[?proj=C]. KEY is a number (decimal or 0x hex);
 * PATH goes through ftok(PATH, proj) (proj defaults to 'i'). See
 * ipckit_name_sysv_key() and ipckit-mq(7). ftok keys can collide.
 *
 * A message is the kernel's own record: a long type and the payload bytes,
 * with no ipckit header, so peers that do not use ipckit (PHP with
 * serialize=false, sysv_ipc, raw msgsnd) exchange bytes with it unchanged.
 *
 * Waiting. msgsnd and msgrcv have no timed form. A timeout of -1 is the
 * plain blocking call (as fast as raw System V). A timeout of 0 is one
 * IPC_NOWAIT call. A positive timeout polls with IPC_NOWAIT: after a miss it
 * yields the CPU up to SYSVMQ_SPINS times, then sleeps between tries, the
 * sleep growing from SYSVMQ_NAP_MIN_US to SYSVMQ_NAP_MAX_US, so a waiting
 * process uses almost no CPU and no signal
 * handler or timer is needed; the price is up to one sleep step of extra
 * latency when a message arrives during a sleep. docs/backends/mq.md has the
 * measurements and the alternatives.
 *
 * Limits. A message can be at most msgmax bytes (system-wide) and at most
 * the queue's msg_qbytes (a larger one would block msgsnd forever); the
 * channel's max_msg_size is the smaller of the two, read at open. A receive
 * buffer that is too small gives -EMSGSIZE and leaves the message queued,
 * unless the channel was opened with IPCKIT_OPT_TRUNCATE (MSG_NOERROR).
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <time.h>
#include <unistd.h>

#include "../core/internal.h"
#include "../core/objects.h"
#include "../os/records.h"
#include "mq_wake.h"

#ifndef MSG_COPY
#define MSG_COPY 040000
#endif

#ifndef SYSVMQ_NAP_MAX_US
#define SYSVMQ_NAP_MAX_US 2000L
#endif
#define SYSVMQ_NAP_MIN_US 50L
#define SYSVMQ_SPINS 16
/* After a miss: SYSVMQ_SPINS yields (a peer that answers at once, as in a
 * ping-pong, is seen without a sleep), then sleeps growing from
 * SYSVMQ_NAP_MIN_US to SYSVMQ_NAP_MAX_US. */
#define SYSVMQ_WAIT IPCKIT_BACKOFF_INIT(SYSVMQ_SPINS, SYSVMQ_NAP_MIN_US, SYSVMQ_NAP_MAX_US)
#define SYSVMQ_MSGMAX_FALLBACK 8192L

/* The kernel's message record: the type, then the payload. */
struct sysvmq_buf {
    long mtype;
    char mtext[];
};

struct sysvmq {
    int id;                  /* msqid */
    key_t key;
    int rcvflags;            /* MSG_NOERROR with IPCKIT_OPT_TRUNCATE */
    size_t max_msg;          /* largest message this channel sends */
    size_t bufcap;           /* payload bytes buf can hold: the system's msgmax */
    int waker;               /* IPCKIT_OPT_INTERRUPTIBLE without a companion: else -1 */
    struct mqw wake;         /* the companion that timed waits sleep on (mq_wake.h) */
    bool interruptible;      /* IPCKIT_OPT_INTERRUPTIBLE: -1 waits on the companion too */
    struct sysvmq_buf *buf;  /* allocated once at open; the hot path copies through it */
};

static const char *const sysvmq_params[] = { "proj", "peers", NULL };

/* ---- helpers ------------------------------------------------------------- */

/* The system's largest message (msgmax), from IPC_INFO. */
static long
sysvmq_msgmax(void)
{
    struct msginfo mi;
    memset(&mi, 0, sizeof mi);
    if (msgctl(0, IPC_INFO, (struct msqid_ds *) (void *) &mi) < 0 || mi.msgmax <= 0)
        return SYSVMQ_MSGMAX_FALLBACK;
    return mi.msgmax;
}

/* Key of @p name; on failure the thread detail (set by the core) says why. */
static int
sysvmq_key(const ipckit_name *name, key_t *key)
{
    int rc = ipckit_name_check_params(name, sysvmq_params);
    if (rc < 0)
        return rc;
    return ipckit_name_sysv_key(name, key);
}

/* The id of the existing queue with @p key, or a negative errno with a detail. */
static int
sysvmq_lookup(const ipckit_name *name, key_t key, int access)
{
    int id = msgget(key, access);
    if (id < 0) {
        int e = errno;
        if (e == ENOENT)
            return ipckit_backend_fail(-ENOENT, "mq: no queue with key %#x (%s)",
                                        (unsigned) key, ipckit_name_text(name));
        return ipckit_backend_fail(-e, "mq: msgget key %#x (%s): %s", (unsigned) key,
                                    ipckit_name_text(name), strerror(e));
    }
    return id;
}

static int
sysvmq_interrupt(void *state)
{
    struct sysvmq *q = state;
    if (q->interruptible && q->wake.m != NULL)
        return mqw_interrupt(&q->wake);
    return q->waker < 0 ? -ENOTSUP : ipckit_waker_wake(q->waker);
}

/* Error of a msgsnd/msgrcv on a queue that was open, with a detail. */
static int
sysvmq_fail(struct sysvmq *q, const char *op, int e)
{
    /* EINVAL: the id no longer names a queue (removed before the call);
     * EIDRM: removed while this call waited. Both mean the queue is gone. */
    if (e == EIDRM || e == EINVAL)
        return ipckit_backend_fail(-EIDRM, "%s: queue %#x (id %d) was removed", op,
                                    (unsigned) q->key, q->id);
    if (e == EACCES)
        return ipckit_backend_fail(-EACCES,
                                    "%s: no permission on queue %#x (id %d); its mode changed",
                                    op, (unsigned) q->key, q->id);
    return ipckit_backend_fail(-e, "%s: queue %#x (id %d): %s", op, (unsigned) q->key, q->id,
                                strerror(e));
}

/*
 * The permissions of queue @p id: IPC_STAT, or, for a queue this process may
 * not read (a sender with write permission only), MSG_STAT_ANY (Linux 4.17)
 * over the kernel's table, which reports any queue without that check.
 */
static int
sysvmq_perm(int id, struct ipc_perm *out)
{
    struct msqid_ds ds;
    int max;
    memset(&ds, 0, sizeof ds); /* valgrind does not know MSG_STAT_ANY fills it */
    if (msgctl(id, IPC_STAT, &ds) == 0) {
        *out = ds.msg_perm;
        return 0;
    }
    if (errno != EACCES)
        return -errno;
#ifdef MSG_STAT_ANY
    max = msgctl(0, MSG_INFO, (struct msqid_ds *) (void *) &(struct msginfo){ 0 });
    for (int i = 0; i <= max; i++) {
        if (msgctl(i, MSG_STAT_ANY, &ds) == id) {
            *out = ds.msg_perm;
            return 0;
        }
    }
#else
    (void) max;
#endif
    return -EACCES;
}

/* ---- opening ------------------------------------------------------------- */

static int
sysvmq_open(void *state, const ipckit_name *name, unsigned flags, const ipckit_opts *opts,
            const struct timespec *deadline)
{
    struct sysvmq *q = state;
    struct msqid_ds ds;
    int access = ((flags & IPCKIT_SEND) ? 0200 : 0) | ((flags & IPCKIT_RECV) ? 0400 : 0);
    bool created = false;
    unsigned qmode = opts->mode; /* the queue's mode, for its companion */
    const char *peers;
    long msgmax;
    size_t limit;
    int rc;

    (void) deadline; /* msgget never waits */
    q->id = -1;
    q->waker = -1;
    rc = sysvmq_key(name, &q->key);
    if (rc < 0)
        return rc;
    /* ?peers=ipckit: every sender and receiver is ipckit, so a waiter
     * sleeps until it is woken; any (the default): it also looks now and
     * then, for senders that do not wake it (PHP, Python) */
    peers = ipckit_name_param(name, "peers");
    if (peers != NULL && strcmp(peers, "ipckit") != 0 && strcmp(peers, "any") != 0)
        return ipckit_backend_fail(-EINVAL,
                                   "mq: \"%s\": peers=%s: say peers=ipckit (every peer is"
                                   " ipckit) or peers=any",
                                   ipckit_name_text(name), peers);
    q->wake.foreign = peers == NULL || strcmp(peers, "any") == 0;
    if (opts->capacity > INT_MAX)
        return ipckit_backend_fail(-EINVAL, "mq: capacity %zu is above %d bytes",
                                    opts->capacity, INT_MAX);
    q->rcvflags = (opts->flags & IPCKIT_OPT_TRUNCATE) ? MSG_NOERROR : 0;

    if (flags & IPCKIT_CREATE) {
        q->id = msgget(q->key, IPC_CREAT | IPC_EXCL | (int) (opts->mode & 0777));
        if (q->id >= 0) {
            created = true;
        } else if (errno != EEXIST || (flags & IPCKIT_EXCL)) {
            int e = errno;
            return ipckit_backend_fail(-e, "mq: create queue with key %#x (%s): %s",
                                        (unsigned) q->key, ipckit_name_text(name), strerror(e));
        }
    }
    if (q->id < 0) {
        struct ipc_perm perm = { 0 };
        char what[64];
        q->id = sysvmq_lookup(name, q->key, access);
        if (q->id < 0)
            return q->id;
        /* Someone else made it: attach only if its owner and creator are
         * trusted (docs/security.md). */
        rc = sysvmq_perm(q->id, &perm);
        if (rc < 0)
            return ipckit_backend_fail(rc,
                                        "mq: cannot tell who owns queue %#x (%s), so it is not"
                                        " trusted: %s",
                                        (unsigned) q->key, ipckit_name_text(name),
                                        strerror(-rc));
        (void) snprintf(what, sizeof what, "mq: queue %#x", (unsigned) q->key);
        rc = ipckit_backend_check_owner(state, opts, what, perm.uid, perm.cuid, perm.gid,
                                        (unsigned) perm.mode);
        if (rc < 0)
            return rc;
        qmode = (unsigned) perm.mode & 0777u;
    }

    if (created && opts->capacity > 0) {
        if (msgctl(q->id, IPC_STAT, &ds) < 0) {
            rc = ipckit_backend_fail(-errno, "mq: IPC_STAT of new queue %#x: %s",
                                      (unsigned) q->key, strerror(errno));
            goto fail;
        }
        ds.msg_qbytes = (msglen_t) opts->capacity;
        if (msgctl(q->id, IPC_SET, &ds) < 0) {
            int e = errno;
            rc = ipckit_backend_fail(-e,
                                      "mq: set capacity of queue %#x to %zu bytes: %s%s",
                                      (unsigned) q->key, opts->capacity, strerror(e),
                                      e == EPERM ? " (above msgmnb needs CAP_SYS_RESOURCE)"
                                                 : "");
            goto fail;
        }
    }
    /* The channel's limit: msgmax, the queue's capacity (when this process
     * may read it) and the caller's max_msg_size, whichever is smallest. */
    msgmax = sysvmq_msgmax();
    limit = (size_t) msgmax;
    if (msgctl(q->id, IPC_STAT, &ds) == 0 && (size_t) ds.msg_qbytes < limit)
        limit = (size_t) ds.msg_qbytes;
    if (opts->max_msg_size > limit) {
        rc = ipckit_backend_fail(-EMSGSIZE,
                                  "mq: max_msg_size %zu is above the limit of queue %#x, %zu"
                                  " bytes (msgmax %ld)",
                                  opts->max_msg_size, (unsigned) q->key, limit, msgmax);
        goto fail;
    }
    q->max_msg = opts->max_msg_size ? opts->max_msg_size : limit;
    q->bufcap = (size_t) msgmax;
    q->buf = malloc(sizeof *q->buf + q->bufcap);
    if (q->buf == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    if (created)
        mqw_sweep(q->key); /* companions of earlier queues of this key that others removed */
    mqw_attach(&q->wake, q->key, q->id, created, qmode, opts);
    if ((opts->flags & IPCKIT_OPT_INTERRUPTIBLE) && q->wake.m == NULL) {
        /* no companion: waits poll with IPC_NOWAIT and sleep on this
         * waker, even without a deadline (docs/backends/mq.md) */
        q->waker = ipckit_waker_open();
        if (q->waker < 0) {
            rc = ipckit_backend_fail(q->waker, "mq: eventfd: %s", strerror(-q->waker));
            q->waker = -1;
            free(q->buf);
            q->buf = NULL;
            mqw_detach(&q->wake);
            goto fail;
        }
    }
    q->interruptible = (opts->flags & IPCKIT_OPT_INTERRUPTIBLE) != 0;
    /* created: the core records the creator, once the queue is set up
     * (IPC_SET above changes the ctime the record holds) */
    return created ? 1 : 0;
fail:
    if (created)
        (void) msgctl(q->id, IPC_RMID, NULL);
    q->id = -1;
    return rc;
}

/*
 * A queue that a program that is not ipckit removed (PHP's
 * msg_remove_queue(), ipcrm) takes neither its wake-up companion nor its
 * creator record with it: a channel that finds it gone when it closes
 * removes them. The record's name holds the id, so it goes only when the
 * id names no queue at all (not when a queue of another key has it now).
 */
static void
sysvmq_forget_removed(struct sysvmq *q)
{
    struct msqid_ds ds;
    struct ipckit__crec r;
    bool no_queue;
    if (q->id < 0)
        return;
    if (msgctl(q->id, IPC_STAT, &ds) == 0)
        no_queue = false;
    else if (errno == EINVAL || errno == EIDRM)
        no_queue = true;
    else
        return; /* cannot tell: keep both */
    if (!no_queue && (uint32_t) ds.msg_perm.__key == (uint32_t) q->key)
        return; /* still there */
    if (q->wake.m != NULL)
        mqw_remove(q->key, q->id);
    if (!no_queue)
        return;
    memset(&r, 0, sizeof r);
    r.kind = IPCKIT__CREC_MQ;
    r.key = (unsigned long) (uint32_t) q->key;
    r.id = q->id;
    if (ipckit__creator_removable(&r, (unsigned long) geteuid()))
        ipckit__creator_unlink(&r);
}

static int
sysvmq_close(void *state)
{
    struct sysvmq *q = state;
    free(q->buf);
    q->buf = NULL;
    if (q->waker >= 0)
        (void) close(q->waker);
    q->waker = -1;
    sysvmq_forget_removed(q);
    mqw_detach(&q->wake);
    q->id = -1;
    return 0;
}

/* The queue this channel has open, for its creator record. */
static int
sysvmq_identify(void *state, ipckit_object *out)
{
    struct sysvmq *q = state;
    return ipckit__mq_object(q->id, (long long) q->key, out);
}

static int
sysvmq_unlink(const ipckit_name *name)
{
    key_t key;
    int id, rc = sysvmq_key(name, &key);
    if (rc < 0)
        return rc;
    id = sysvmq_lookup(name, key, 0);
    if (id < 0) {
        if (id == -ENOENT)
            mqw_sweep(key); /* a program that is not ipckit removed the queue */
        return id;
    }
    if (msgctl(id, IPC_RMID, NULL) < 0) {
        int e = errno;
        if (e == EINVAL || e == EIDRM) {
            mqw_remove(key, id);
            return ipckit_backend_fail(-ENOENT, "mq: queue %#x was already removed",
                                        (unsigned) key);
        }
        return ipckit_backend_fail(-e, "mq: remove queue %#x (%s): %s", (unsigned) key,
                                    ipckit_name_text(name), strerror(e));
    }
    mqw_remove(key, id);
    return 0;
}

static int
sysvmq_stat(const ipckit_name *name, ipckit_stat *out)
{
    struct msqid_ds ds;
    key_t key;
    long msgmax;
    int id, rc = sysvmq_key(name, &key);
    if (rc < 0)
        return rc;
    id = sysvmq_lookup(name, key, 0);
    if (id < 0)
        return id;
    if (msgctl(id, IPC_STAT, &ds) < 0) {
        int e = errno;
        return ipckit_backend_fail(e == EINVAL || e == EIDRM ? -ENOENT : -e,
                                    "mq: IPC_STAT of queue %#x (%s): %s", (unsigned) key,
                                    ipckit_name_text(name), strerror(e));
    }
    msgmax = sysvmq_msgmax();
    out->messages = (long) ds.msg_qnum;
    out->bytes = (long) ds.__msg_cbytes;
    out->max_bytes = (long) ds.msg_qbytes;
    out->max_msg_size = (long) ds.msg_qbytes < msgmax ? (long) ds.msg_qbytes : msgmax;
    out->last_send_pid = (long) ds.msg_lspid;
    out->last_recv_pid = (long) ds.msg_lrpid;
    /* System V keeps no creator for queues: the core reads ipckit's record */
    out->mode = (unsigned) ds.msg_perm.mode & 0777u;
    return 0;
}

static void
sysvmq_info(void *state, unsigned *caps, size_t *max_msg)
{
    (void) caps;
    *max_msg = ((struct sysvmq *) state)->max_msg;
}

/* ---- waiting ------------------------------------------------------------- */

/*
 * The wait between two IPC_NOWAIT tries of a timed or interruptible send or
 * receive: on the queue's companion when it has one (mq_wake.h), else the
 * backoff of 0.1.0 (a few yields, then naps of 50 us growing to 2 ms).
 */
struct sysvmq_wait {
    ipckit_backoff backoff;
    struct mqw_waiter companion;
};

#define SYSVMQ_WAIT_INIT { SYSVMQ_WAIT, MQW_WAITER_INIT }

static int
sysvmq_wait(struct sysvmq *q, bool data, const struct timespec *deadline, struct sysvmq_wait *w)
{
    if (q->wake.m == NULL)
        return ipckit_backoff_wait(&w->backoff, deadline, q->waker);
    return mqw_wait(&q->wake, data, deadline, &w->companion);
}

static void
sysvmq_wait_end(struct sysvmq *q, bool data, struct sysvmq_wait *w)
{
    if (w->companion.registered)
        mqw_wait_end(&q->wake, data, &w->companion);
}

/* ---- sending ------------------------------------------------------------- */

static int
sysvmq_send(void *state, long type, const void *buf, size_t len,
            const struct timespec *deadline)
{
    struct sysvmq *q = state;
    struct sysvmq_wait wait = SYSVMQ_WAIT_INIT;
    int rc, flg = deadline == NULL && !q->interruptible ? 0 : IPC_NOWAIT;

    q->buf->mtype = type;
    if (len > 0)
        memcpy(q->buf->mtext, buf, len);
    for (;;) {
        if (msgsnd(q->id, q->buf, len, flg) == 0) {
            sysvmq_wait_end(q, false, &wait);
            mqw_posted(&q->wake, true);
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN) {
            sysvmq_wait_end(q, false, &wait);
            return sysvmq_fail(q, "send", errno);
        }
        rc = sysvmq_wait(q, false, deadline, &wait);
        if (rc < 0)
            sysvmq_wait_end(q, false, &wait);
        if (rc == -EINTR)
            return ipckit_backend_fail(rc, "send: interrupted (ipckit_interrupt())");
        if (rc < 0)
            return ipckit_backend_fail(rc, "send: queue %#x is full (%zu-byte message)",
                                       (unsigned) q->key, len);
    }
}

/* ---- receiving ----------------------------------------------------------- */

/* Does a message of type @p t match @p selector (System V rules)? */
static bool
sysvmq_matches(long t, long selector, long best)
{
    if (selector == 0)
        return best == 0;
    if (selector > 0)
        return t == selector && best == 0;
    return t <= (selector == LONG_MIN ? LONG_MAX : -selector) && (best == 0 || t < best);
}

/*
 * How many queue positions sysvmq_too_big() looks at. A MSG_COPY of the
 * message at index i walks the queue from its head to i, under the queue's
 * lock, so looking at every position of a queue of n messages costs n * n / 2
 * steps: 0.8 s with 16,376 messages queued, during which senders and
 * receivers of the queue wait for the lock. 64 positions cost at most 2,080
 * steps and 64 copies of at most msgmax bytes, whatever the queue holds, and
 * cover the cases that matter: a receive with selector 0 wants position 0,
 * and a typed receive usually finds its message near the head. Past the
 * bound the detail says that the size was not found, and why.
 */
#define SYSVMQ_COPY_SCAN 64

/*
 * The message did not fit @p cap: say so, with its size when it can be read.
 * MSG_COPY reads a copy of the message at an index without removing it
 * (Linux >= 3.8 with CONFIG_CHECKPOINT_RESTORE); the first SYSVMQ_COPY_SCAN
 * positions of the queue are scanned in order for the message the selector
 * picks. Another receiver may take it in between: the size is then that of a
 * message that was there a moment ago. Without MSG_COPY, or when the message
 * is not among those positions, only a bound can be given. Not on the hot
 * path; the return code is -EMSGSIZE in every case and the message stays
 * queued.
 */
static ssize_t
sysvmq_too_big(struct sysvmq *q, long selector, size_t cap)
{
    ssize_t size = -1;
    long best = 0, i;
    bool done = false; /* the scan saw the end of the queue or the message itself */
    for (i = 0; i < SYSVMQ_COPY_SCAN; i++) {
        ssize_t n = msgrcv(q->id, q->buf, q->bufcap, i, IPC_NOWAIT | MSG_COPY | MSG_NOERROR);
        if (n < 0) {
            done = errno == ENOMSG; /* past the last message */
            break;
        }
        if (sysvmq_matches(q->buf->mtype, selector, best)) {
            best = q->buf->mtype;
            size = n;
            if (selector >= 0 || best == 1) {
                done = true;
                break;
            }
        }
    }
    if (done && size >= 0 && (size_t) size > cap)
        return ipckit_backend_fail(-EMSGSIZE,
                                    "recv: message of %zd bytes does not fit a buffer of %zu"
                                    " bytes; it stays queued",
                                    size, cap);
    if (i == SYSVMQ_COPY_SCAN)
        return ipckit_backend_fail(-EMSGSIZE,
                                    "recv: message larger than the buffer of %zu bytes; it stays"
                                    " queued (its size could not be told from the first %d"
                                    " messages of the queue)",
                                    cap, SYSVMQ_COPY_SCAN);
    return ipckit_backend_fail(-EMSGSIZE,
                                "recv: message larger than the buffer of %zu bytes; it stays"
                                " queued",
                                cap);
}

static ssize_t
sysvmq_recv(void *state, long selector, long *type, void *buf, size_t cap,
            const struct timespec *deadline)
{
    struct sysvmq *q = state;
    size_t want = cap < q->bufcap ? cap : q->bufcap;
    struct sysvmq_wait wait = SYSVMQ_WAIT_INIT;
    int rc, flg = q->rcvflags | (deadline == NULL && !q->interruptible ? 0 : IPC_NOWAIT);
    ssize_t n;

    for (;;) {
        n = msgrcv(q->id, q->buf, want, selector, flg);
        if (n >= 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno != ENOMSG) {
            int e = errno;
            sysvmq_wait_end(q, true, &wait);
            if (e == E2BIG)
                return sysvmq_too_big(q, selector, cap);
            return sysvmq_fail(q, "recv", e);
        }
        rc = sysvmq_wait(q, true, deadline, &wait);
        if (rc < 0)
            sysvmq_wait_end(q, true, &wait);
        if (rc == -EINTR)
            return ipckit_backend_fail(rc, "recv: interrupted (ipckit_interrupt())");
        if (rc < 0)
            return ipckit_backend_fail(rc, "recv: no message%s in queue %#x",
                                       selector == 0 ? "" : " of the selected type",
                                       (unsigned) q->key);
    }
    sysvmq_wait_end(q, true, &wait);
    mqw_posted(&q->wake, false);
    if (n > 0)
        memcpy(buf, q->buf->mtext, (size_t) n);
    *type = q->buf->mtype;
    return n;
}

const ipckit_backend ipckit__sysv_mq_backend = {
    .abi_version = IPCKIT_BACKEND_ABI,
    .scheme = "mq",
    .opt_flags = IPCKIT_OPT_TRUNCATE | IPCKIT_OPT_INTERRUPTIBLE,
    .state_size = sizeof(struct sysvmq),
    .caps = IPCKIT_CAP_TYPED | IPCKIT_CAP_SELECT | IPCKIT_CAP_MULTI_SEND |
            IPCKIT_CAP_MULTI_RECV | IPCKIT_CAP_STAT,
    .open = sysvmq_open,
    .close = sysvmq_close,
    .unlink = sysvmq_unlink,
    .send = sysvmq_send,
    .recv = sysvmq_recv,
    .stat = sysvmq_stat,
    .info = sysvmq_info,
    .interrupt = sysvmq_interrupt,
    .list = ipckit__mq_list,
    .describe = ipckit__mq_describe,
    .remove_stale = ipckit__mq_remove_stale,
    .identify = sysvmq_identify,
};
