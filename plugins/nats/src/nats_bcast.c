/*
 * nats: broadcast channels, nats://HOST/NAME?bcast=1: publish/subscribe on
 * NATS subjects, the pattern of shm:NAME?bcast=1 across hosts. Every
 * subscriber (IPCKIT_RECV) gets every message that publishers
 * (IPCKIT_SEND) publish after it joined. docs/backends/nats.md,
 * "Publish/subscribe", has the semantics table.
 *
 * The channel is a JetStream stream (default "ipckit_NAME") with limits
 * retention on the subjects "ipckit.NAME.TYPE": it keeps the last messages
 * (?max_msgs=, or ipckit_opts.capacity at creation) for late subscribers
 * that ask for history, and marks itself in its description so that the
 * queue and the broadcast refuse each other's stream, as shm: rings do.
 *
 * Publish: a core NATS publish to PREFIX.TYPE (the server stores it in the
 * stream and hands it to every subscription), with the header Nats-Msg-Id:
 * the publisher's random id (16 hex digits, drawn again in a forked child)
 * and its message number (16 hex digits, from 1). Publishers never wait for
 * subscribers, only for a connection to the server.
 *
 * Subscribe, ?history=0 (default): a core NATS subscription on PREFIX.*,
 * flushed to the server before open returns; no state on the server; at
 * most once. ?history=N: an ordered JetStream consumer that starts N
 * messages back in the stream; in stream order, each stored message once.
 *
 * Missed messages are never a silent gap. Two counts are kept: the gaps in
 * each publisher's message numbers (ipckit publishers; a table of the last
 * NB_PUBS seen), and either the messages the client dropped because the
 * subscriber's pending limit was full (core: natsSubscription_GetDropped)
 * or the gaps in the stream's sequence (history). Neither counts a message
 * that arrived, so the larger of the two is what is reported: a receive
 * returns -ENOBUFS once with what it grew by, in the detail and in
 * IPCKIT_CTL_MISSED, and the next receive goes on. A history subscriber
 * drops a message whose stream sequence it has had.
 *
 * fork(): as the queue, a child makes a connection of its own at its first
 * call; a subscriber resubscribes there (history: from the stream sequence
 * after the last one it returned).
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nats_internal.h"

#define NB_PUBS 64                        /* publishers a subscriber tracks */
#define NB_KEEP_DEFAULT 1024L             /* messages the stream keeps */
#define NB_KEEP_BYTES_DEFAULT (64L << 20) /* and their bytes */
#define NB_PENDING_DEFAULT 65536          /* a subscriber's client buffers */
#define NB_PENDING_BYTES (64 << 20)
#define NB_WAIT_STEP_MS 1000               /* a receive looks up at least this often */
#define NB_DESC "ipckit broadcast channel" /* the stream's description starts so */

struct nb_pub {
    uint64_t id, seq, used;
};

struct nb {
    long history;
    bool js;     /* subscriber through an ordered consumer */
    int pending; /* subscriber: messages its client buffers before it drops */
    natsSubscription *sub;
    void *parent_sub;   /* in a forked child: the parent's, left alone */
    uint64_t start;     /* js: the stream sequence to start from */
    uint64_t sseq;      /* js: the last stream sequence returned (start - 1 at first) */
    int64_t drop_base;  /* core: drops of the subscriptions before this one */
    int64_t drop_last;  /* core: the current one's drop count, last read */
    uint64_t gap_pub;   /* gaps in publishers' message numbers */
    uint64_t gap_other; /* core: dropped by the client; js: stream sequence gaps */
    uint64_t reported;  /* missed messages reported (IPCKIT_CTL_MISSED) */
    struct nb_pub pubs[NB_PUBS];
    uint64_t tick;
    unsigned last_pub;
    /* a message read but not returned yet (a gap reported first, or a
     * buffer too small): a copy of its own, so that a forked child has it */
    bool held;
    long held_type;
    size_t held_len, held_cap;
    unsigned char *held_buf;
};

/* ---- missed messages ------------------------------------------------- */

static int
nb_report(struct nq *q)
{
    struct nb *b = q->bc;
    bool pub = b->gap_pub > b->gap_other; /* else the more specific cause */
    uint64_t target = pub ? b->gap_pub : b->gap_other, lost;
    const char *why;
    if (target <= b->reported)
        return 0;
    lost = target - b->reported;
    b->reported = target;
    if (pub)
        why = "its publishers' message numbers skipped them (lost while a connection was"
              " down, or dropped by the server)";
    else if (b->js)
        why = "the stream no longer held them when this subscriber came to them (it keeps"
              " the last ?max_msgs= messages)";
    else
        why = "the client dropped them while this subscriber's pending messages were at their"
              " limit (a slow subscriber: ipckit_opts.capacity)";
    return ipckit_backend_fail(-ENOBUFS,
                               "recv: this subscriber fell behind: %llu messages were missed"
                               " (%llu in all): %s; the next receive goes on",
                               (unsigned long long) lost, (unsigned long long) b->reported, why);
}

/* Core: what the client dropped since the last look. */
static void
nb_drops(struct nq *q)
{
    struct nb *b = q->bc;
    int64_t d = 0;
    if (b->js || b->sub == NULL || natsSubscription_GetDropped(b->sub, &d) != NATS_OK)
        return;
    if (d > b->drop_last)
        b->drop_last = d;
    b->gap_other = (uint64_t) (b->drop_base + b->drop_last);
}

static bool
nb_hex16(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        int c = (unsigned char) s[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            return false;
        v = v << 4 | (uint64_t) d;
    }
    *out = v;
    return true;
}

/*
 * Account for message @p m: false when a history subscriber has had it
 * (drop it). Gaps in its publisher's numbers, and in the stream's sequence
 * for a history subscriber, are added to the counts.
 */
static bool
nb_track(struct nq *q, natsMsg *m)
{
    struct nb *b = q->bc;
    const char *id = NULL;
    uint64_t pid, seq;
    unsigned i, victim = 0;

    if (b->js) {
        jsMsgMetaData *meta = NULL;
        if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
            uint64_t s = meta->Sequence.Stream;
            jsMsgMetaData_Destroy(meta);
            if (s <= b->sseq)
                return false;
            b->gap_other += s - b->sseq - 1;
            b->sseq = s;
        }
    }
    if (natsMsgHeader_Get(m, "Nats-Msg-Id", &id) != NATS_OK || id == NULL ||
        strlen(id) != NQ_ID_LEN || !nb_hex16(id, &pid) || !nb_hex16(id + 16, &seq) || seq == 0)
        return true; /* not from an ipckit publisher: nothing to count */
    b->tick++;
    if (b->pubs[b->last_pub].id == pid && b->pubs[b->last_pub].used != 0) {
        i = b->last_pub;
    } else {
        for (i = 0; i < NB_PUBS; i++) {
            if (b->pubs[i].used != 0 && b->pubs[i].id == pid)
                break;
            if (b->pubs[i].used < b->pubs[victim].used)
                victim = i;
        }
        if (i == NB_PUBS) { /* a new one: it replaces the one seen least lately */
            b->pubs[victim].id = pid;
            b->pubs[victim].seq = seq;
            b->pubs[victim].used = b->tick;
            b->last_pub = victim;
            return true;
        }
    }
    b->last_pub = i;
    b->pubs[i].used = b->tick;
    /* A number not above the last one is not dropped: core NATS does not
     * deliver twice (and history subscribers are checked by the stream's
     * sequence above), so it can only be a client that took the id of
     * another; it starts the count again rather than hide messages. */
    if (seq > b->pubs[i].seq)
        b->gap_pub += seq - b->pubs[i].seq - 1;
    b->pubs[i].seq = seq;
    return true;
}

/* ---- the stream ------------------------------------------------------ */

static int
nb_stream_create(struct nq *q, const ipckit_opts *opts, int64_t wait, natsStatus *st, jsErrCode *je)
{
    jsStreamConfig sc;
    char desc[NQ_QUEUE_MAX + 40];

    (void) snprintf(desc, sizeof desc, "%s %s", NB_DESC, q->conf.queue);
    jsStreamConfig_Init(&sc);
    sc.Description = desc;
    sc.Retention = js_LimitsPolicy;
    sc.Discard = js_DiscardOld;
    sc.MaxMsgs = opts->capacity > 0     ? (int64_t) opts->capacity
                 : q->conf.max_msgs > 0 ? q->conf.max_msgs
                                        : NB_KEEP_DEFAULT;
    sc.MaxBytes = NB_KEEP_BYTES_DEFAULT; /* fixed: ?max_bytes= is refused (nats_name.c) */
    return nq_stream_add(q, &sc, opts, wait, st, je);
}

/* Check that an existing stream can be this channel (its configuration
 * and message limit: nq_stream_setup()); @p si gives the sequence a
 * history subscriber starts from. */
static int
nb_stream_check(struct nq *q, const jsStreamInfo *si, bool created)
{
    const jsStreamConfig *cfg = si->Config;
    struct nb *b = q->bc;

    (void) created;
    if (cfg->Retention == js_WorkQueuePolicy)
        return ipckit_backend_fail(-EINVAL,
                                   "nats: stream %s is a queue (work-queue retention), not a"
                                   " broadcast channel: open it without ?bcast",
                                   q->conf.stream);
    if (cfg->Retention != js_LimitsPolicy)
        return ipckit_backend_fail(-EINVAL,
                                   "nats: stream %s does not keep messages by limits, as a"
                                   " broadcast channel's history needs",
                                   q->conf.stream);
    /* stream sequence gaps count missed messages: nothing else may be in it */
    if (cfg->SubjectsLen != 1 || strcmp(cfg->Subjects[0], q->conf.all) != 0)
        return ipckit_backend_fail(-EINVAL,
                                   "nats: stream %s must hold the subjects %s of broadcast"
                                   " channel %s and nothing else",
                                   q->conf.stream, q->conf.all, q->conf.queue);
    /* history: the last N still kept (FirstSeq is LastSeq + 1 when none is) */
    {
        uint64_t last = si->State.LastSeq, first = si->State.FirstSeq;
        uint64_t back = (uint64_t) b->history;
        b->start = back > last ? 1 : last + 1 - back;
        if (b->start < first)
            b->start = first;
        if (b->start == 0)
            b->start = 1;
        b->sseq = b->start - 1; /* what a gap is counted from */
    }
    return 0;
}

static const struct nq_stream_kind nb_kind = { "broadcast channel", nb_stream_check,
                                              nb_stream_create };

/* ---- subscribing ----------------------------------------------------- */

static void
nb_unsubscribe(struct nq *q)
{
    struct nb *b = q->bc;
    if (b->sub == NULL)
        return;
    /* an ordered consumer is deleted by an unsubscribe, not by a destroy */
    if (b->js && natsConnection_Status(q->nc) == NATS_CONN_STATUS_CONNECTED)
        (void) natsSubscription_Unsubscribe(b->sub);
    natsSubscription_Destroy(b->sub);
    b->sub = NULL;
}

/* Core: subscribe, and make sure the server has the subscription before
 * open returns, so that a message published after it is not missed. */
static int
nb_subscribe_core(struct nq *q, const struct timespec *deadline)
{
    struct nb *b = q->bc;
    ipckit_backoff bo = NQ_RETRY;
    natsStatus s = natsConnection_SubscribeSync(&b->sub, q->nc, q->conf.all);
    if (s == NATS_OK)
        s = natsSubscription_SetPendingLimits(b->sub, b->pending, NB_PENDING_BYTES);
    if (s != NATS_OK)
        return ipckit_backend_fail(-EIO, "nats: subscribe to %s: %s", q->conf.all, nq_text(s));
    for (;;) {
        int rc = nq_connected(q, deadline, "open");
        if (rc < 0)
            return rc;
        s = natsConnection_FlushTimeout(q->nc, nq_try_ms(q, deadline));
        if (s == NATS_OK)
            return 0;
        rc = nq_retry_wait(q, &bo, deadline, "subscribe", s);
        if (rc < 0)
            return rc;
    }
}

/* History: an ordered consumer from stream sequence @p from. */
static int
nb_subscribe_js(struct nq *q, uint64_t from, const struct timespec *deadline)
{
    struct nb *b = q->bc;
    ipckit_backoff bo = NQ_RETRY;
    for (;;) {
        jsSubOptions so;
        jsOptions jo;
        jsErrCode je = 0;
        natsStatus s;
        int rc;

        jsOptions_Init(&jo);
        jo.Wait = nq_try_ms(q, deadline);
        jsSubOptions_Init(&so);
        so.Stream = q->conf.stream;
        so.Ordered = true;
        so.Config.DeliverPolicy = js_DeliverByStartSequence;
        so.Config.OptStartSeq = from;
        s = js_SubscribeSync(&b->sub, q->js, q->conf.all, &jo, &so, &je);
        if (s == NATS_OK)
            s = natsSubscription_SetPendingLimits(b->sub, b->pending, NB_PENDING_BYTES);
        if (s == NATS_OK)
            return 0;
        if (b->sub != NULL) {
            nb_unsubscribe(q);
            return ipckit_backend_fail(-EIO, "nats: consumer on stream %s: %s", q->conf.stream,
                                       nq_text(s));
        }
        b->sub = NULL;
        if (s == NATS_NOT_FOUND || je == JSStreamNotFoundErr)
            return ipckit_backend_fail(-EIDRM, "nats: stream %s was deleted", q->conf.stream);
        if (!nq_retryable(s, je))
            return ipckit_backend_fail(s == NATS_NOT_PERMITTED ? -EACCES : -EIO,
                                       "nats: consumer on stream %s: %s", q->conf.stream,
                                       nq_text(s));
        rc = nq_retry_wait(q, &bo, deadline, "subscribe", s);
        if (rc < 0)
            return rc;
    }
}

static int
nb_subscribe(struct nq *q, const struct timespec *deadline)
{
    struct nb *b = q->bc;
    if (!(q->flags & IPCKIT_RECV))
        return 0;
    if (b->js)
        return nb_subscribe_js(q, b->sseq + 1, deadline);
    return nb_subscribe_core(q, deadline);
}

/* The channel's connection and subscription in this process (fork()). */
static int
nb_ensure(struct nq *q, const struct timespec *deadline)
{
    struct nb *b = q->bc;
    int rc;
    if (q->pid == getpid() && q->nc != NULL)
        return 0;
    q->parents[0] = q->o;
    q->parents[1] = q->nc;
    q->parents[2] = q->js;
    b->parent_sub = b->sub;
    q->o = NULL;
    q->nc = NULL;
    q->js = NULL;
    b->sub = NULL;
    b->drop_base += b->drop_last; /* a new subscription counts from 0 */
    b->drop_last = 0;
    nq_hex(q->idpfx, 8);
    q->idseq = 0;
    rc = nq_connect(&q->conf, deadline, &q->o, &q->nc, &q->js);
    if (rc < 0)
        return rc;
    q->pid = getpid();
    rc = nb_subscribe(q, deadline);
    if (rc < 0) {
        nb_unsubscribe(q);
        nq_disconnect(&q->o, &q->nc, &q->js, NULL);
    }
    return rc;
}

/* ---- opening and closing --------------------------------------------- */

int
nb_open(struct nq *q, const ipckit_name *name, unsigned flags, const ipckit_opts *opts,
        const struct timespec *deadline)
{
    const char *mode = ipckit_name_param(name, "bcast");
    struct nb *b;
    long history = 0;
    int rc;

    if (strcmp(mode, "wait") == 0)
        rc = ipckit_backend_fail(-ENOTSUP,
                                 "nats: bcast=wait: NATS publishers cannot wait for the slowest"
                                 " subscriber (the server pushes messages to subscriptions"
                                 " without flow control back to publishers); use bcast=1 (or"
                                 " drop): a subscriber that falls behind is told how many"
                                 " messages it missed");
    else if (strcmp(mode, "1") != 0 && strcmp(mode, "drop") != 0)
        rc = ipckit_backend_fail(-EINVAL,
                                 "name \"%s\": bcast=%s: want 1 or drop (nats: has no"
                                 " wait mode)",
                                 ipckit_name_text(name), mode);
    else
        rc = ipckit_name_param_long(name, "history", 0, LONG_MAX, 0, &history);
    if (rc == 0 && opts->capacity > INT_MAX)
        rc = ipckit_backend_fail(-EINVAL, "nats: capacity %zu: at most %d messages", opts->capacity,
                                 INT_MAX);
    if (rc < 0) {
        nq_conf_free(&q->conf);
        return rc;
    }
    b = calloc(1, sizeof *b);
    if (b == NULL) {
        nq_conf_free(&q->conf);
        return -ENOMEM;
    }
    q->bc = b;
    q->flags = flags;
    b->history = history;
    b->js = history > 0 && (flags & IPCKIT_RECV);
    b->pending = opts->capacity > 0 ? (int) opts->capacity : NB_PENDING_DEFAULT;
    nq_hex(q->idpfx, 8);
    rc = nq_connect(&q->conf, deadline, &q->o, &q->nc, &q->js);
    if (rc < 0)
        goto fail;
    q->pid = getpid();
    rc = nq_stream_setup(q, &nb_kind, flags, opts, deadline);
    if (rc == 0)
        rc = nb_subscribe(q, deadline);
    if (rc < 0)
        goto fail;
    return 0;
fail:
    nb_unsubscribe(q);
    nq_disconnect(&q->o, &q->nc, &q->js, NULL);
    nq_conf_free(&q->conf);
    free(b);
    q->bc = NULL;
    return rc;
}

int
nb_close(struct nq *q)
{
    struct nb *b = q->bc;
    /* A child leaves its parent's connection alone (nb_ensure()). */
    if (q->pid == getpid()) {
        /* what was published reaches the server before the connection goes */
        if ((q->flags & IPCKIT_SEND) && natsConnection_Status(q->nc) == NATS_CONN_STATUS_CONNECTED)
            (void) natsConnection_FlushTimeout(q->nc, q->conf.reply_ms);
        nb_unsubscribe(q);
        nq_disconnect(&q->o, &q->nc, &q->js, NULL);
    }
    nq_conf_free(&q->conf);
    free(b->held_buf);
    free(b);
    q->bc = NULL;
    return 0;
}

void
nb_info(struct nq *q, unsigned *caps, size_t *max_msg)
{
    /* every subscriber gets every type: no selectors */
    *caps = (*caps & ~(unsigned) IPCKIT_CAP_SELECT) | IPCKIT_CAP_BROADCAST;
    *max_msg = q->max_msg;
}

int
nb_ctl(struct nq *q, int op, void *arg)
{
    if (op != IPCKIT_CTL_MISSED)
        return ipckit_backend_fail(-ENOTSUP, "ctl: nats: no request %d", op);
    if (arg == NULL)
        return ipckit_backend_fail(-EINVAL, "ctl: IPCKIT_CTL_MISSED needs an unsigned long long *");
    if (!(q->flags & IPCKIT_RECV))
        return ipckit_backend_fail(-EBADF, "ctl: IPCKIT_CTL_MISSED: not a subscriber");
    *(unsigned long long *) arg = q->bc->reported;
    return 0;
}

/* ---- publishing ------------------------------------------------------ */

int
nb_send(struct nq *q, long type, const void *buf, size_t len, const struct timespec *deadline)
{
    ipckit_backoff b = NQ_RETRY;
    natsMsg *m = NULL;
    natsStatus s;
    int rc = nb_ensure(q, deadline);
    if (rc == 0) /* the number is taken only once the message is out */
        rc = nq_msg_new(q, type, buf, len, q->idseq + 1, &m);
    if (rc < 0)
        return rc;
    for (;;) {
        rc = nq_connected(q, deadline, "send");
        if (rc < 0)
            break;
        s = natsConnection_PublishMsg(q->nc, m);
        if (s == NATS_OK) {
            q->idseq++; /* numbers count what was published: a gap is a loss */
            rc = 0;
            break;
        }
        if (s == NATS_MAX_PAYLOAD) {
            rc = ipckit_backend_fail(-EMSGSIZE,
                                     "send: message of %zu bytes is above the NATS server's"
                                     " max_payload of %lld bytes, less %d of header",
                                     len, (long long) natsConnection_GetMaxPayload(q->nc),
                                     NQ_HDR_LEN);
            break;
        }
        if (s == NATS_CONNECTION_CLOSED) {
            rc = ipckit_backend_fail(-ENOTCONN, "send: the connection to the NATS server is"
                                                " closed");
            break;
        }
        if (!nq_transient(s) && s != NATS_INSUFFICIENT_BUFFER) {
            rc = ipckit_backend_fail(s == NATS_NOT_PERMITTED ? -EACCES : -EIO, "send: %s",
                                     nq_text(s));
            break;
        }
        rc = nq_retry_wait(q, &b, deadline, "send", s);
        if (rc < 0)
            break;
    }
    natsMsg_Destroy(m);
    return rc;
}

/* ---- receiving ------------------------------------------------------- */

static int
nb_hold(struct nb *b, long type, const void *data, size_t len)
{
    if (len > b->held_cap) {
        unsigned char *nb = realloc(b->held_buf, len);
        if (nb == NULL)
            return -ENOMEM;
        b->held_buf = nb;
        b->held_cap = len;
    }
    if (len > 0)
        memcpy(b->held_buf, data, len);
    b->held_len = len;
    b->held_type = type;
    b->held = true;
    return 0;
}

static ssize_t
nb_give(struct nb *b, long *type, void *buf, size_t cap)
{
    if (b->held_len > cap)
        return ipckit_backend_fail(-EMSGSIZE,
                                   "recv: message of %zu bytes does not fit a buffer of %zu"
                                   " bytes; it is kept for the next receive",
                                   b->held_len, cap);
    if (b->held_len > 0)
        memcpy(buf, b->held_buf, b->held_len);
    *type = b->held_type;
    b->held = false;
    return (ssize_t) b->held_len;
}

/* Wait for the next message of the subscription: 0 with it in @p m, or a
 * negative errno (the deadline's error when none came). */
static int
nb_next(struct nq *q, natsMsg **m, const struct timespec *deadline)
{
    struct nb *b = q->bc;
    for (;;) {
        int64_t ms;
        natsStatus s;
        if (ipckit_deadline_try_once(deadline)) {
            ms = 0;
        } else {
            int left = ipckit_deadline_ms(deadline);
            ms = left < 0 || left > NB_WAIT_STEP_MS ? NB_WAIT_STEP_MS : left;
        }
        s = natsSubscription_NextMsg(m, b->sub, ms);
        if (s == NATS_OK)
            return 0;
        if (s == NATS_SLOW_CONSUMER || s == NATS_MISMATCH) {
            /* dropped messages, counted: say so before the next one */
            nb_drops(q);
            if (nb_report(q) < 0)
                return -ENOBUFS;
            continue;
        }
        if (s != NATS_TIMEOUT)
            return ipckit_backend_fail(s == NATS_CONNECTION_CLOSED ? -ENOTCONN : -EIO,
                                       "recv: broadcast channel %s: %s", q->conf.queue, nq_text(s));
        if (ms == 0 || ipckit_deadline_passed(deadline))
            return ipckit_backend_fail(ipckit_deadline_error(deadline),
                                       "recv: nothing published to broadcast channel %s",
                                       q->conf.queue);
    }
}

ssize_t
nb_recv(struct nq *q, long *type, void *buf, size_t cap, const struct timespec *deadline)
{
    struct nb *b = q->bc;
    int rc = nb_ensure(q, deadline);
    if (rc < 0)
        return rc;
    for (;;) {
        natsMsg *m = NULL;
        const char *data;
        size_t len;
        long t;

        if (b->held) {
            rc = nb_report(q); /* a gap that message showed */
            return rc < 0 ? rc : nb_give(b, type, buf, cap);
        }
        nb_drops(q);
        rc = nb_report(q);
        if (rc < 0)
            return rc;
        rc = nb_next(q, &m, deadline);
        if (rc < 0)
            return rc;
        if (!nb_track(q, m)) {
            natsMsg_Destroy(m); /* seen before */
            continue;
        }
        t = nq_type_of(q, natsMsg_GetSubject(m));
        if (t == 0) {
            char subj[NQ_PREFIX_MAX + 64];
            (void) snprintf(subj, sizeof subj, "%s", natsMsg_GetSubject(m));
            natsMsg_Destroy(m);
            return ipckit_backend_fail(-EBADMSG,
                                       "recv: a message on the subject \"%s\", whose last token"
                                       " is no type (a positive decimal number); dropped",
                                       subj);
        }
        data = natsMsg_GetData(m);
        len = (size_t) natsMsg_GetDataLength(m);
        if (len <= cap && b->reported >= b->gap_pub && b->reported >= b->gap_other) {
            if (len > 0)
                memcpy(buf, data, len);
            natsMsg_Destroy(m);
            *type = t;
            return (ssize_t) len;
        }
        rc = nb_hold(b, t, data, len);
        natsMsg_Destroy(m);
        if (rc < 0)
            return rc;
    }
}
