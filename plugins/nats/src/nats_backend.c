/*
 * ipckit backend "nats:": a work queue on NATS JetStream, so that senders and
 * receivers on several hosts share one queue through a server (or a
 * cluster) with persistence and replication. The plug-in library
 * libipckit-nats.so.0; libipckit itself does not depend on libnats.
 *
 * Name: nats://HOST[:PORT][,HOST[:PORT]...]/QUEUE[?key=value...]
 * (nats_name.c, ipckit-nats(7)). QUEUE is kept in the JetStream stream
 * "ipckit_QUEUE" (?stream=) on the subjects "ipckit.QUEUE.TYPE"
 * (?subject=): the type of a message is the last token of its subject, its
 * payload the message's bytes, unchanged. Any NATS client can send to the
 * queue by publishing to such a subject, and read it.
 *
 * The stream has work-queue retention, discards nothing when full (a send
 * waits), allows direct gets, and republishes the headers of every stored
 * message to "PREFIX.wake.TYPE", the wake-up of waiting receivers.
 *
 * Send: a JetStream publish that returns when the server (the stream's
 * leader, after replication) has stored the message. Each message carries a
 * Nats-Msg-Id unique to the sending process, so that a publish repeated
 * after a lost answer is stored once (the server's duplicate window).
 *
 * Receive: the first message that the selector picks is read with a direct
 * get (next message by subject), then taken with a message delete, which
 * the server grants to exactly one receiver; a receiver that loses that
 * race goes on with the next message. A receiver killed between the two
 * leaves the message queued. No consumer state is kept on the server, so
 * any selector works: 0 (every type), > 0 (that type: a subject filter),
 * < 0 (the lowest type <= -selector, from the stream's subject counts).
 * Waiting: on the wake-up subject, and every NQ_RECHECK_MS in case a
 * wake-up was missed (a reconnect, a replica that answered the get before
 * it had the message).
 *
 * Timeouts: every server request waits at most until the call's deadline
 * (and at most ?reply_ms= for one answer); on a lost connection the client
 * reconnects in the background and the call retries until its deadline. A
 * try-once call (timeout 0) makes one request and waits ?reply_ms= for its
 * answer. docs/backends/nats.md has the semantics table.
 *
 * fork(): libnats' threads do not survive it. A child that uses a channel
 * its parent opened makes a connection of its own at its first call, and
 * leaves the parent's alone; but libnats is not fork-safe (its global locks
 * may have been held by the parent's threads, and the child has no
 * collector thread to free messages): docs/backends/nats.md, fork().
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#include <ipckit/nats.h>

#include "nats_internal.h"

/* How long a waiting receiver trusts the wake-ups before it looks again. */
#define NQ_RECHECK_MS 250
/* The wake-ups a receiver keeps while it does not receive. */
#define NQ_WAKE_PENDING 256

/* ---- the channel's connection ---------------------------------------- */

static int
nq_subscribe(struct nq *q)
{
    natsStatus s;
    if (!(q->flags & IPCKIT_RECV) || !q->wakeups)
        return 0;
    s = natsConnection_SubscribeSync(&q->wake, q->nc, q->conf.wake);
    if (s == NATS_OK)
        s = natsSubscription_SetPendingLimits(q->wake, NQ_WAKE_PENDING, NQ_WAKE_PENDING * 1024);
    if (s != NATS_OK)
        return ipckit_backend_fail(-EIO, "nats: subscribe to %s: %s", q->conf.wake, nq_text(s));
    return 0;
}

/*
 * The channel's connection, in this process: a child of the process that
 * opened the channel makes its own (the parent's threads are not in the
 * child; its objects are left as they are).
 */
static int
nq_ensure(struct nq *q, const struct timespec *deadline)
{
    int rc;
    if (q->pid == getpid() && q->nc != NULL)
        return 0;
    q->parents[0] = q->o;
    q->parents[1] = q->nc;
    q->parents[2] = q->js;
    q->parents[3] = q->wake;
    q->o = NULL;
    q->nc = NULL;
    q->js = NULL;
    q->wake = NULL;
    nq_hex(q->idpfx, 8);
    q->idseq = 0;
    rc = nq_connect(&q->conf, deadline, &q->o, &q->nc, &q->js);
    if (rc < 0)
        return rc;
    q->pid = getpid();
    rc = nq_subscribe(q);
    if (rc < 0)
        nq_disconnect(&q->o, &q->nc, &q->js, &q->wake);
    return rc;
}


/* ---- the stream ------------------------------------------------------ */

static int
nq_stream_create(struct nq *q, const ipckit_opts *opts, int64_t wait, natsStatus *st,
                 jsErrCode *je)
{
    jsStreamConfig sc;
    jsRePublish rp;

    jsStreamConfig_Init(&sc);
    sc.Retention = js_WorkQueuePolicy;
    sc.Discard = js_DiscardNew;
    /* A limit in messages, never in bytes: see nq_conf_parse() on
     * max_bytes. The server refuses a message past it (discard "new"),
     * and a send waits for room. */
    sc.MaxMsgs = opts->capacity > 0
                     ? (opts->capacity < (size_t) INT64_MAX ? (int64_t) opts->capacity : INT64_MAX)
                     : q->conf.max_msgs;
    sc.AllowDirect = true;
    memset(&rp, 0, sizeof rp);
    rp.Source = q->conf.all;
    rp.Destination = q->conf.wake_dest;
    rp.HeadersOnly = true;
    sc.RePublish = &rp;
    return nq_stream_add(q, &sc, opts, wait, st, je);
}

static bool
nq_has_subject(const jsStreamConfig *cfg, const char *all, const char *prefix)
{
    char wide[NQ_PREFIX_MAX + 4];
    (void) snprintf(wide, sizeof wide, "%s.>", prefix);
    for (int i = 0; i < cfg->SubjectsLen; i++)
        if (strcmp(cfg->Subjects[i], all) == 0 || strcmp(cfg->Subjects[i], wide) == 0 ||
            strcmp(cfg->Subjects[i], ">") == 0)
            return true;
    return false;
}

/* Check that an existing stream can hold this queue (its configuration
 * and message limit: nq_stream_setup()), and whether it wakes receivers. */
static int
nq_stream_check(struct nq *q, const jsStreamInfo *si, bool created)
{
    const jsStreamConfig *cfg = si->Config;
    (void) created;
    if (cfg->Description != NULL && strncmp(cfg->Description, "ipckit broadcast", 16) == 0)
        return ipckit_backend_fail(-EINVAL,
                                   "nats: stream %s is a broadcast channel: open it with"
                                   " ?bcast=1",
                                   q->conf.stream);
    if (!nq_has_subject(cfg, q->conf.all, q->conf.prefix))
        return ipckit_backend_fail(-EINVAL,
                                   "nats: stream %s does not hold the subjects %s of queue %s",
                                   q->conf.stream, q->conf.all, q->conf.queue);
    if (!cfg->AllowDirect)
        return ipckit_backend_fail(-EINVAL,
                                   "nats: stream %s does not allow direct gets (allow_direct),"
                                   " which receivers use",
                                   q->conf.stream);
    if (cfg->DenyDelete)
        return ipckit_backend_fail(-EINVAL,
                                   "nats: stream %s denies deleting messages, which is how a"
                                   " receiver takes one",
                                   q->conf.stream);
    q->wakeups = cfg->RePublish != NULL && cfg->RePublish->Destination != NULL &&
                 strcmp(cfg->RePublish->Destination, q->conf.wake_dest) == 0;
    return 0;
}

static const struct nq_stream_kind nq_queue_kind = { "queue", nq_stream_check, nq_stream_create };

/* ---- opening --------------------------------------------------------- */

static int
nq_open(void *state, const ipckit_name *name, unsigned flags, const ipckit_opts *opts,
        const struct timespec *deadline)
{
    struct nq *q = state;
    int rc = nq_conf_parse(name, &q->conf);
    if (rc < 0)
        return rc;
    if (ipckit_name_param(name, "bcast") != NULL)
        return nb_open(q, name, flags, opts, deadline);
    if (ipckit_name_param(name, "history") != NULL) {
        nq_conf_free(&q->conf);
        return ipckit_backend_fail(-EINVAL, "nats: history= is for broadcast channels"
                                            " (?bcast=1)");
    }
    q->flags = flags;
    nq_hex(q->idpfx, 8);
    rc = nq_connect(&q->conf, deadline, &q->o, &q->nc, &q->js);
    if (rc < 0)
        goto fail;
    q->pid = getpid();
    rc = nq_stream_setup(q, &nq_queue_kind, flags, opts, deadline);
    if (rc == 0)
        rc = nq_subscribe(q);
    if (rc < 0)
        goto fail;
    return 0;
fail:
    nq_disconnect(&q->o, &q->nc, &q->js, &q->wake);
    nq_conf_free(&q->conf);
    return rc;
}

static int
nq_close(void *state)
{
    struct nq *q = state;
    if (q->bc != NULL)
        return nb_close(q);
    /* A child leaves its parent's connection alone (nq_ensure()). */
    if (q->pid == getpid())
        nq_disconnect(&q->o, &q->nc, &q->js, &q->wake);
    nq_conf_free(&q->conf);
    return 0;
}

static void
nq_info(void *state, unsigned *caps, size_t *max_msg)
{
    struct nq *q = state;
    if (q->bc != NULL)
        nb_info(q, caps, max_msg);
    else
        *max_msg = q->max_msg;
}

static int
nq_ctl(void *state, int op, void *arg)
{
    struct nq *q = state;
    if (q->bc != NULL)
        return nb_ctl(q, op, arg);
    (void) arg;
    return ipckit_backend_fail(-ENOTSUP, "ctl: nats: no request %d for a queue", op);
}

/* ---- sending --------------------------------------------------------- */

static int
nq_send(void *state, long type, const void *buf, size_t len, const struct timespec *deadline)
{
    struct nq *q = state;
    ipckit_backoff b = NQ_RETRY;
    natsMsg *m = NULL;
    natsStatus s;
    int rc;

    if (q->bc != NULL)
        return nb_send(q, type, buf, len, deadline);
    rc = nq_ensure(q, deadline);
    if (rc == 0)
        rc = nq_msg_new(q, type, buf, len, ++q->idseq, &m);
    if (rc < 0)
        return rc;
    for (;;) {
        jsPubOptions po;
        jsPubAck *pa = NULL;
        jsErrCode je = 0;

        rc = nq_connected(q, deadline, "send");
        if (rc < 0)
            break;
        jsPubOptions_Init(&po);
        po.MaxWait = nq_try_ms(q, deadline);
        s = js_PublishMsg(&pa, q->js, m, &po, &je);
        jsPubAck_Destroy(pa);
        if (s == NATS_OK) {
            rc = 0; /* stored (or stored before, and this was a repeat) */
            break;
        }
        if (s == NATS_MAX_PAYLOAD || je == JSStreamMessageExceedsMaximumErr) {
            rc = ipckit_backend_fail(-EMSGSIZE,
                                     "send: message of %zu bytes is above the limit of the"
                                     " NATS server or stream %s (max_payload %lld bytes, less"
                                     " %d of header): %s",
                                     len, q->conf.stream,
                                     (long long) natsConnection_GetMaxPayload(q->nc),
                                     NQ_HDR_LEN, nq_text(s));
            break;
        }
        if (je == JSStreamNotFoundErr) {
            rc = ipckit_backend_fail(-EIDRM, "send: stream %s was deleted", q->conf.stream);
            break;
        }
        if (je == JSStreamStoreFailedErr || je == JSStreamLimitsErr ||
            strstr(nq_text(s), "maximum") != NULL) {
            /* full: wait for room, as a local queue does */
            if (ipckit_backoff_wait(&b, deadline, -1) < 0) {
                rc = ipckit_backend_fail(ipckit_deadline_error(deadline),
                                         "send: queue %s (stream %s) is full: %s",
                                         q->conf.queue, q->conf.stream, nq_text(s));
                break;
            }
            continue;
        }
        if (!nq_retryable(s, je)) {
            rc = ipckit_backend_fail(s == NATS_NOT_PERMITTED ? -EACCES : -EIO, "send: %s",
                                     nq_text(s));
            break;
        }
        /* No answer: the same message again, with the same id; the
         * server stores it once. */
        rc = nq_retry_wait(q, &b, deadline, "send", s);
        if (rc < 0) {
            if (s == NATS_NO_RESPONDERS)
                rc = ipckit_backend_fail(rc,
                                         "send: nothing stores messages of queue %s (stream %s"
                                         " deleted, or a cluster without a leader) in time",
                                         q->conf.queue, q->conf.stream);
            else
                rc = ipckit_backend_fail(rc,
                                         "send: the NATS server did not confirm storing the"
                                         " message in time (%s); it may have been stored",
                                         nq_text(s));
            break;
        }
    }
    natsMsg_Destroy(m);
    return rc;
}

/* ---- receiving ------------------------------------------------------- */
/*
 * The lowest type <= @p max with a message queued, from the stream's
 * subject counts: 0 when there is none, or a negative errno.
 */
static long
nq_lowest(struct nq *q, long max, const struct timespec *deadline)
{
    ipckit_backoff b = NQ_RETRY;
    for (;;) {
        jsStreamInfo *si = NULL;
        jsErrCode je = 0;
        jsOptions jo;
        natsStatus s;
        long best = 0;
        int rc;

        jsOptions_Init(&jo);
        jo.Wait = nq_try_ms(q, deadline);
        jo.Stream.Info.SubjectsFilter = q->conf.all;
        s = js_GetStreamInfo(&si, q->js, q->conf.stream, &jo, &je);
        if (s == NATS_OK) {
            if (si->State.Subjects != NULL)
                for (int i = 0; i < si->State.Subjects->Count; i++) {
                    long t = nq_type_of(q, si->State.Subjects->List[i].Subject);
                    if (t > 0 && t <= max && si->State.Subjects->List[i].Msgs > 0 &&
                        (best == 0 || t < best))
                        best = t;
                }
            jsStreamInfo_Destroy(si);
            return best;
        }
        if (je == JSStreamNotFoundErr || s == NATS_NOT_FOUND)
            return ipckit_backend_fail(-EIDRM, "recv: stream %s was deleted", q->conf.stream);
        if (!nq_retryable(s, je))
            return ipckit_backend_fail(-EIO, "recv: stream %s: %s", q->conf.stream, nq_text(s));
        rc = nq_retry_wait(q, &b, deadline, "recv", s);
        if (rc < 0)
            return rc;
    }
}

/* Deleting takes the message: 1 when this receiver took it, 0 when another
 * one did, or a negative errno. */
static int
nq_take(struct nq *q, uint64_t seq, const struct timespec *deadline)
{
    ipckit_backoff b = NQ_RETRY;
    bool unsure = false;
    for (;;) {
        jsErrCode je = 0;
        jsOptions jo;
        natsStatus s;
        if (nq_connected(q, deadline, "recv") < 0)
            return unsure ? 1 : -ETIMEDOUT;
        jsOptions_Init(&jo);
        jo.Wait = nq_try_ms(q, deadline);
        s = js_DeleteMsg(q->js, q->conf.stream, seq, &jo, &je);
        if (s == NATS_OK)
            return 1;
        if (je == JSStreamMsgDeleteFailed || je == JSNoMessageFoundErr ||
            je == JSSequenceNotFoundErr)
            /* Gone. After a delete whose answer was lost, it may have been
             * this receiver's: the message is returned rather than lost
             * (it may then have gone to another receiver too). */
            return unsure ? 1 : 0;
        if (je == JSStreamNotFoundErr)
            return ipckit_backend_fail(-EIDRM, "recv: stream %s was deleted", q->conf.stream);
        if (!nq_retryable(s, je))
            return ipckit_backend_fail(-EIO, "recv: delete message %llu of stream %s: %s",
                                       (unsigned long long) seq, q->conf.stream, nq_text(s));
        if (s != NATS_NO_RESPONDERS)
            unsure = true;
        if (ipckit_deadline_try_once(deadline) || ipckit_backoff_wait(&b, deadline, -1) < 0)
            return unsure ? 1 : -ETIMEDOUT;
    }
}

/*
 * One look at the queue: take the first message @p selector picks.
 * Returns its length, -ENOMSG when there is none, or a negative errno.
 */
static ssize_t
nq_try_recv(struct nq *q, long selector, long *type, void *buf, size_t cap,
            const struct timespec *deadline)
{
    ipckit_backoff b = NQ_RETRY;
    char filter[NQ_PREFIX_MAX + 24];
    uint64_t from = 0;

    for (;;) {
        jsDirectGetMsgOptions dg;
        jsOptions jo;
        natsMsg *m = NULL;
        natsStatus s;
        uint64_t seq;
        long t;
        int len, rc;

        if (selector < 0) {
            long lowest = nq_lowest(q, selector == LONG_MIN ? LONG_MAX : -selector, deadline);
            if (lowest <= 0)
                return lowest == 0 ? -ENOMSG : lowest;
            (void) snprintf(filter, sizeof filter, "%s.%ld", q->conf.prefix, lowest);
            from = 0;
        } else if (selector > 0) {
            (void) snprintf(filter, sizeof filter, "%s.%ld", q->conf.prefix, selector);
        } else {
            (void) snprintf(filter, sizeof filter, "%s", q->conf.all);
        }
        rc = nq_connected(q, deadline, "recv");
        if (rc < 0)
            return rc;
        jsDirectGetMsgOptions_Init(&dg);
        dg.Sequence = from;
        dg.NextBySubject = filter;
        jsOptions_Init(&jo);
        jo.Wait = nq_try_ms(q, deadline);
        s = js_DirectGetMsg(&m, q->js, q->conf.stream, &jo, &dg);
        if (s == NATS_NOT_FOUND)
            return -ENOMSG;
        if (s != NATS_OK) {
            if (!nq_retryable(s, 0))
                return ipckit_backend_fail(-EIO, "recv: get from stream %s: %s", q->conf.stream,
                                           nq_text(s));
            if (s == NATS_NO_RESPONDERS) {
                /* nobody answers direct gets: deleted, or no leader yet */
                jsStreamInfo *si = NULL;
                jsErrCode je = 0;
                natsStatus s2 = js_GetStreamInfo(&si, q->js, q->conf.stream, &jo, &je);
                jsStreamInfo_Destroy(si);
                if (s2 == NATS_NOT_FOUND || je == JSStreamNotFoundErr)
                    return ipckit_backend_fail(-EIDRM, "recv: stream %s was deleted",
                                               q->conf.stream);
            }
            rc = nq_retry_wait(q, &b, deadline, "recv", s);
            if (rc < 0)
                return rc;
            continue;
        }
        seq = natsMsg_GetSequence(m);
        t = nq_type_of(q, natsMsg_GetSubject(m));
        len = natsMsg_GetDataLength(m);
        if (t == 0) {
            char subj[NQ_PREFIX_MAX + 64];
            (void) snprintf(subj, sizeof subj, "%s", natsMsg_GetSubject(m));
            natsMsg_Destroy(m);
            rc = nq_take(q, seq, deadline);
            if (rc == 0) {
                from = seq + 1;
                continue;
            }
            return ipckit_backend_fail(rc < 0 ? rc : -EBADMSG,
                                       "recv: message %llu of stream %s has the subject \"%s\","
                                       " whose last token is no type (a positive decimal"
                                       " number); it was removed",
                                       (unsigned long long) seq, q->conf.stream, subj);
        }
        if ((size_t) len > cap) {
            natsMsg_Destroy(m);
            return ipckit_backend_fail(-EMSGSIZE,
                                       "recv: message of %d bytes does not fit a buffer of %zu"
                                       " bytes; it stays queued",
                                       len, cap);
        }
        rc = nq_take(q, seq, deadline);
        if (rc == 1) {
            if (len > 0)
                memcpy(buf, natsMsg_GetData(m), (size_t) len);
            natsMsg_Destroy(m);
            *type = t;
            return len;
        }
        natsMsg_Destroy(m);
        if (rc < 0)
            return rc == -ETIMEDOUT ? nq_gave_up(q, deadline, "recv", NATS_TIMEOUT) : rc;
        from = seq + 1; /* another receiver took it: the next one */
    }
}

/* Drop the wake-ups already there: the look that follows covers them. */
static void
nq_drain(struct nq *q)
{
    natsMsg *m = NULL;
    if (q->wake == NULL)
        return;
    while (natsSubscription_NextMsg(&m, q->wake, 0) == NATS_OK) {
        natsMsg_Destroy(m);
        m = NULL;
    }
}

static ssize_t
nq_recv(void *state, long selector, long *type, void *buf, size_t cap,
        const struct timespec *deadline)
{
    struct nq *q = state;
    ssize_t n;
    int rc;
    if (q->bc != NULL)
        return nb_recv(q, type, buf, cap, deadline);
    rc = nq_ensure(q, deadline);
    if (rc < 0)
        return rc;
    for (;;) {
        int ms;
        nq_drain(q);
        n = nq_try_recv(q, selector, type, buf, cap, deadline);
        if (n != -ENOMSG)
            return n;
        if (ipckit_deadline_passed(deadline))
            return ipckit_backend_fail(ipckit_deadline_error(deadline),
                                       "recv: no message%s in queue %s (stream %s)",
                                       selector == 0 ? "" : " of the selected type",
                                       q->conf.queue, q->conf.stream);
        ms = ipckit_deadline_ms(deadline);
        if (ms < 0 || ms > NQ_RECHECK_MS)
            ms = NQ_RECHECK_MS;
        if (q->wake != NULL) {
            natsMsg *m = NULL;
            if (natsSubscription_NextMsg(&m, q->wake, ms) == NATS_OK)
                natsMsg_Destroy(m);
        } else {
            (void) ipckit_deadline_sleep(deadline, ms);
        }
    }
}

/* ---- stat and unlink ------------------------------------------------- */

/* A connection of its own for stat and unlink, which have no channel. */
static int
nq_admin(const ipckit_name *name, struct nq *q, struct timespec *ts)
{
    int rc;
    memset(q, 0, sizeof *q);
    rc = nq_conf_parse(name, &q->conf);
    if (rc < 0)
        return rc;
    nq_deadline_in(ts, q->conf.admin_ms);
    rc = nq_connect(&q->conf, ts, &q->o, &q->nc, &q->js);
    if (rc < 0)
        nq_conf_free(&q->conf);
    return rc;
}

static void
nq_admin_done(struct nq *q)
{
    nq_disconnect(&q->o, &q->nc, &q->js, NULL);
    nq_conf_free(&q->conf);
}

static int
nq_stat(const ipckit_name *name, ipckit_stat *out)
{
    struct nq q;
    struct timespec ts;
    ipckit_backoff b = NQ_RETRY;
    int rc = nq_admin(name, &q, &ts);
    if (rc < 0)
        return rc;
    for (;;) {
        jsStreamInfo *si = NULL;
        jsErrCode je = 0;
        jsOptions jo;
        natsStatus s;
        jsOptions_Init(&jo);
        jo.Wait = nq_try_ms(&q, &ts);
        s = js_GetStreamInfo(&si, q.js, q.conf.stream, &jo, &je);
        if (s == NATS_OK) {
            int64_t payload = natsConnection_GetMaxPayload(q.nc);
            out->messages = (long) si->State.Msgs;
            out->bytes = (long) si->State.Bytes;
            out->max_bytes = si->Config && si->Config->MaxBytes > 0 ? (long) si->Config->MaxBytes
                                                                    : -1;
            out->max_msg_size = payload > NQ_HDR_LEN ? (long) (payload - NQ_HDR_LEN) : -1;
            if (si->Config && si->Config->MaxMsgSize > NQ_HDR_LEN &&
                si->Config->MaxMsgSize - NQ_HDR_LEN < out->max_msg_size)
                out->max_msg_size = (long) si->Config->MaxMsgSize - NQ_HDR_LEN;
            out->mode = 0;
            jsStreamInfo_Destroy(si);
            rc = 0;
            break;
        }
        if (s == NATS_NOT_FOUND || je == JSStreamNotFoundErr) {
            rc = ipckit_backend_fail(-ENOENT, "stat: no stream %s for queue %s",
                                     q.conf.stream, q.conf.queue);
            break;
        }
        if (!nq_retryable(s, je)) {
            rc = ipckit_backend_fail(-EIO, "stat: stream %s: %s", q.conf.stream, nq_text(s));
            break;
        }
        rc = nq_retry_wait(&q, &b, &ts, "stat", s);
        if (rc < 0)
            break;
    }
    nq_admin_done(&q);
    return rc;
}

static int
nq_unlink(const ipckit_name *name)
{
    struct nq q;
    struct timespec ts;
    ipckit_backoff b = NQ_RETRY;
    int rc = nq_admin(name, &q, &ts);
    if (rc < 0)
        return rc;
    for (;;) {
        jsErrCode je = 0;
        jsOptions jo;
        natsStatus s;
        jsOptions_Init(&jo);
        jo.Wait = nq_try_ms(&q, &ts);
        s = js_DeleteStream(q.js, q.conf.stream, &jo, &je);
        if (s == NATS_OK) {
            rc = 0;
            break;
        }
        if (s == NATS_NOT_FOUND || je == JSStreamNotFoundErr) {
            rc = ipckit_backend_fail(-ENOENT, "unlink: no stream %s for queue %s",
                                     q.conf.stream, q.conf.queue);
            break;
        }
        if (!nq_retryable(s, je)) {
            rc = ipckit_backend_fail(s == NATS_NOT_PERMITTED ? -EACCES : -EIO,
                                     "unlink: stream %s: %s", q.conf.stream, nq_text(s));
            break;
        }
        rc = nq_retry_wait(&q, &b, &ts, "unlink", s);
        if (rc < 0)
            break;
    }
    nq_admin_done(&q);
    return rc;
}

/* ---- the table ------------------------------------------------------- */

static const ipckit_backend nq_backend = {
    .abi_version = IPCKIT_BACKEND_ABI,
    .scheme = "nats",
    .state_size = sizeof(struct nq),
    .caps = IPCKIT_CAP_TYPED | IPCKIT_CAP_SELECT | IPCKIT_CAP_MULTI_SEND |
            IPCKIT_CAP_MULTI_RECV | IPCKIT_CAP_STAT,
    .opt_flags = 0,
    .open = nq_open,
    .close = nq_close,
    .unlink = nq_unlink,
    .send = nq_send,
    .recv = nq_recv,
    .stat = nq_stat,
    .info = nq_info,
    .ctl = nq_ctl,
};

const ipckit_backend *
ipckit_nats_backend(void)
{
    return &nq_backend;
}

int
ipckit_nats_register(void)
{
    return ipckit_backend_register(&nq_backend);
}
