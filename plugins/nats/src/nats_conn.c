/*
 * nats: what the plug-in's files share about talking to a server: the
 * errors of libnats and the ones a caller sees, time and retries, and the
 * connection (options, credentials, TLS, connecting and waiting for the
 * client to be connected again). Declared in nats_internal.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "nats_internal.h"

/* ---- errors ---------------------------------------------------------- */

const char *
nq_text(natsStatus s)
{
    const char *t = nats_GetLastError(NULL);
    return t != NULL && t[0] != '\0' ? t : natsStatus_GetText(s);
}

/* ---- messages -------------------------------------------------------- */

int
nq_msg_new(const struct nq *q, long type, const void *buf, size_t len,
           unsigned long long seq, natsMsg **out)
{
    char subject[NQ_PREFIX_MAX + 24], id[NQ_ID_LEN + 1];
    natsMsg *m = NULL;
    natsStatus s;
    (void) snprintf(subject, sizeof subject, "%s.%ld", q->conf.prefix, type);
    (void) snprintf(id, sizeof id, "%s%016llx", q->idpfx, seq);
    s = natsMsg_Create(&m, subject, NULL, (const char *) buf, (int) len);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
    if (s != NATS_OK) {
        natsMsg_Destroy(m);
        return ipckit_backend_fail(-ENOMEM, "send: %s", nq_text(s));
    }
    *out = m;
    return 0;
}

/* A failure the server or the network may get over: try again. */
bool
nq_transient(natsStatus s)
{
    return s == NATS_TIMEOUT || s == NATS_NO_RESPONDERS || s == NATS_CONNECTION_DISCONNECTED ||
           s == NATS_NOT_YET_CONNECTED || s == NATS_IO_ERROR || s == NATS_NO_SERVER;
}

/* nq_transient(), or the server says that its cluster is electing a leader. */
bool
nq_retryable(natsStatus s, jsErrCode je)
{
    return nq_transient(s) || je == JSClusterNotAvailErr || je == JSClusterNotLeaderErr;
}

/* The error for a deadline that passed while the server did not answer. */
int
nq_gave_up(const struct nq *q, const struct timespec *deadline, const char *op, natsStatus s)
{
    return ipckit_backend_fail(ipckit_deadline_error(deadline),
                               "%s: no answer from the NATS server for stream %s in time (%s)",
                               op, q->conf.stream, nq_text(s));
}

/* ---- time ------------------------------------------------------------ */

/* How long to wait for one answer: what is left, at most reply_ms. */
int64_t
nq_try_ms(const struct nq *q, const struct timespec *deadline)
{
    int ms;
    if (deadline == NULL || ipckit_deadline_try_once(deadline))
        return q->conf.reply_ms;
    ms = ipckit_deadline_ms(deadline);
    if (ms < 1)
        ms = 1;
    return ms < q->conf.reply_ms ? ms : q->conf.reply_ms;
}

/* After a transient failure: wait a step and return 0 to try again, or the
 * error to return (the deadline passed, or a try-once call). */
int
nq_retry_wait(const struct nq *q, ipckit_backoff *b, const struct timespec *deadline,
              const char *op, natsStatus s)
{
    if (ipckit_deadline_try_once(deadline) || ipckit_backoff_wait(b, deadline, -1) < 0)
        return nq_gave_up(q, deadline, op, s);
    return 0;
}

void
nq_deadline_in(struct timespec *ts, long ms)
{
    (void) clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* ---- the connection -------------------------------------------------- */

void
nq_hex(char *out, size_t bytes)
{
    unsigned char r[16];
    static const char digits[] = "0123456789abcdef";
    if (bytes > sizeof r)
        bytes = sizeof r;
    if (getrandom(r, bytes, 0) != (ssize_t) bytes) {
        /* no entropy source: time and pid still differ between processes */
        struct timespec ts;
        unsigned long long x;
        (void) clock_gettime(CLOCK_REALTIME, &ts);
        x = (unsigned long long) ts.tv_nsec ^ ((unsigned long long) ts.tv_sec << 20) ^
            ((unsigned long long) getpid() << 40);
        for (size_t i = 0; i < bytes; i++)
            r[i] = (unsigned char) (x >> (8 * (i % 8)));
    }
    for (size_t i = 0; i < bytes; i++) {
        out[2 * i] = digits[r[i] >> 4];
        out[2 * i + 1] = digits[r[i] & 15];
    }
    out[2 * bytes] = '\0';
}

void
nq_disconnect(natsOptions **o, natsConnection **nc, jsCtx **js, natsSubscription **sub)
{
    if (sub != NULL && *sub != NULL)
        natsSubscription_Destroy(*sub);
    if (*js != NULL)
        jsCtx_Destroy(*js);
    if (*nc != NULL)
        natsConnection_Destroy(*nc);
    if (*o != NULL)
        natsOptions_Destroy(*o);
    if (sub != NULL)
        *sub = NULL;
    *js = NULL;
    *nc = NULL;
    *o = NULL;
}

static int
nq_options(const struct nq_conf *c, natsOptions **out)
{
    natsOptions *o = NULL;
    natsStatus s;
    char inbox[40];
    const char *what = "options";

    memcpy(inbox, "_INBOX.", 7);
    nq_hex(inbox + 7, 8); /* per connection: a forked child's differ from its parent's */
    s = natsOptions_Create(&o);
    if (s == NATS_OK)
        s = natsOptions_SetServers(o, (const char **) c->servers, c->nservers);
    if (s == NATS_OK)
        s = natsOptions_SetNoRandomize(o, true);
    if (s == NATS_OK)
        s = natsOptions_SetName(o, "ipckit");
    if (s == NATS_OK)
        s = natsOptions_SetAllowReconnect(o, true);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(o, -1);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(o, 100);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectJitter(o, 50, 200);
    if (s == NATS_OK)
        s = natsOptions_SetPingInterval(o, 2000);
    if (s == NATS_OK)
        s = natsOptions_SetMaxPingsOut(o, 3);
    if (s == NATS_OK)
        s = natsOptions_SetFailRequestsOnDisconnect(o, true);
    if (s == NATS_OK)
        s = natsOptions_SetCustomInboxPrefix(o, inbox);
    if (s == NATS_OK && c->password != NULL) {
        what = "user and password";
        s = natsOptions_SetUserInfo(o, c->user, c->password);
    }
    if (s == NATS_OK && c->token != NULL) {
        what = "token";
        s = natsOptions_SetToken(o, c->token);
    }
    if (s == NATS_OK && c->creds != NULL) {
        what = "credentials file";
        s = natsOptions_SetUserCredentialsFromFiles(o, c->creds, NULL);
    }
    if (s == NATS_OK && c->tls) {
        what = "TLS";
        s = natsOptions_SetSecure(o, true);
        if (s == NATS_OK && c->ca != NULL) {
            what = "TLS CA file";
            s = natsOptions_LoadCATrustedCertificates(o, c->ca);
        }
        if (s == NATS_OK && c->cert != NULL) {
            what = "TLS certificate and key";
            s = natsOptions_LoadCertificatesChain(o, c->cert, c->key);
        }
    }
    if (s != NATS_OK) {
        int rc = ipckit_backend_fail(s == NATS_NO_MEMORY ? -ENOMEM : -EINVAL,
                                     "nats: %s: %s", what, nq_text(s));
        natsOptions_Destroy(o);
        return rc;
    }
    *out = o;
    return 0;
}

/* Connect to one of the servers, trying again until @p deadline. */
int
nq_connect(const struct nq_conf *c, const struct timespec *deadline, natsOptions **o,
           natsConnection **nc, jsCtx **js)
{
    ipckit_backoff b = IPCKIT_BACKOFF_INIT(0, 20000, 500000);
    jsOptions jo;
    natsStatus s;
    int rc = nq_options(c, o);
    if (rc < 0)
        return rc;
    for (;;) {
        int ms = deadline == NULL || ipckit_deadline_try_once(deadline)
                     ? (int) c->reply_ms
                     : ipckit_deadline_ms(deadline);
        /* the client tries each server with this timeout in turn */
        if (ms > c->reply_ms)
            ms = (int) c->reply_ms;
        ms /= c->nservers;
        if (ms < 1)
            ms = 1;
        (void) natsOptions_SetTimeout(*o, ms);
        s = natsConnection_Connect(nc, *o);
        if (s == NATS_OK)
            break;
        *nc = NULL;
        if (s == NATS_CONNECTION_AUTH_FAILED || s == NATS_NOT_PERMITTED ||
            strstr(nq_text(s), "uthorization") != NULL) {
            rc = ipckit_backend_fail(-EACCES, "nats: %s refused the credentials: %s",
                                     c->servers[0], nq_text(s));
            break;
        }
        if (s == NATS_SSL_ERROR) {
            rc = ipckit_backend_fail(-EPROTO, "nats: TLS with %s failed: %s", c->servers[0],
                                     nq_text(s));
            break;
        }
        if (!nq_transient(s) && s != NATS_ERR) {
            rc = ipckit_backend_fail(-ECONNREFUSED, "nats: connect to %s%s: %s", c->servers[0],
                                     c->nservers > 1 ? " and the others" : "", nq_text(s));
            break;
        }
        if (ipckit_deadline_try_once(deadline) || ipckit_backoff_wait(&b, deadline, -1) < 0) {
            rc = ipckit_backend_fail(ipckit_deadline_error(deadline),
                                     "nats: no server answers at %s%s in time (%s)",
                                     c->servers[0], c->nservers > 1 ? " or the others" : "",
                                     nq_text(s));
            break;
        }
    }
    if (*nc == NULL) {
        natsOptions_Destroy(*o);
        *o = NULL;
        return rc;
    }
    jsOptions_Init(&jo);
    jo.Wait = c->reply_ms;
    s = natsConnection_JetStream(js, *nc, &jo);
    if (s != NATS_OK) {
        rc = ipckit_backend_fail(-ENOMEM, "nats: JetStream context: %s", nq_text(s));
        natsConnection_Destroy(*nc);
        natsOptions_Destroy(*o);
        *nc = NULL;
        *o = NULL;
        return rc;
    }
    return 0;
}

/* Wait until the client is connected (it reconnects by itself), so that a
 * request is not left in the client's buffer when the call gives up. */
int
nq_connected(struct nq *q, const struct timespec *deadline, const char *op)
{
    ipckit_backoff b = IPCKIT_BACKOFF_INIT(0, 2000, 50000);
    for (;;) {
        natsConnStatus st = natsConnection_Status(q->nc);
        if (st == NATS_CONN_STATUS_CONNECTED)
            return 0;
        if (st == NATS_CONN_STATUS_CLOSED)
            return ipckit_backend_fail(-ENOTCONN, "%s: the connection to the NATS server is"
                                                  " closed", op);
        if (ipckit_deadline_try_once(deadline) || ipckit_backoff_wait(&b, deadline, -1) < 0)
            return ipckit_backend_fail(ipckit_deadline_error(deadline),
                                       "%s: not connected to a NATS server (%s...): it did"
                                       " not come back in time",
                                       op, q->conf.servers[0]);
    }
}

/* ---- the stream ------------------------------------------------------ */

/* Make the stream of @p q from @p sc, which holds what its kind sets
 * (retention, discard, limits...); the rest is alike for every kind: the
 * name, the one subject pattern PREFIX.*, storage and replicas as the
 * name says, and room for opts->max_msg_size with ipckit's header.
 * @p wait: how long to wait for the server's answer, in ms. */
int
nq_stream_add(struct nq *q, jsStreamConfig *sc, const ipckit_opts *opts, int64_t wait,
              natsStatus *st, jsErrCode *je)
{
    jsStreamInfo *si = NULL;
    jsOptions jo;
    const char *subjects[1] = { q->conf.all };

    sc->Name = q->conf.stream;
    sc->Subjects = subjects;
    sc->SubjectsLen = 1;
    sc->Storage = q->conf.memory ? js_MemoryStorage : js_FileStorage;
    sc->Replicas = q->conf.replicas;
    if (opts->max_msg_size > 0 && opts->max_msg_size <= (size_t) INT32_MAX - NQ_HDR_LEN)
        sc->MaxMsgSize = (int32_t) (opts->max_msg_size + NQ_HDR_LEN);
    jsOptions_Init(&jo);
    jo.Wait = wait;
    *st = js_AddStream(&si, q->js, sc, &jo, je);
    sc->Subjects = NULL; /* it pointed into this call's frame */
    if (si != NULL)
        jsStreamInfo_Destroy(si);
    return *st == NATS_OK ? 0 : -1;
}

/* The largest message of a stream with @p cfg on this connection's server,
 * into q->max_msg: the server's max_payload or the stream's max_msg_size,
 * less ipckit's header; -EMSGSIZE when @p opts asks for more. */
static int
nq_msg_limit(struct nq *q, const jsStreamConfig *cfg, const ipckit_opts *opts)
{
    int64_t payload = natsConnection_GetMaxPayload(q->nc);
    size_t limit;
    if (payload <= NQ_HDR_LEN)
        return ipckit_backend_fail(-EPROTO, "nats: the server's max_payload %lld is too small",
                                   (long long) payload);
    limit = (size_t) (payload - NQ_HDR_LEN);
    if (cfg->MaxMsgSize > 0) {
        size_t slimit = cfg->MaxMsgSize > NQ_HDR_LEN ? (size_t) cfg->MaxMsgSize - NQ_HDR_LEN : 0;
        if (slimit < limit)
            limit = slimit;
    }
    if (opts->max_msg_size > limit)
        return ipckit_backend_fail(-EMSGSIZE,
                                   "nats: max_msg_size %zu is above the limit of %zu bytes"
                                   " (the server's max_payload %lld less %d bytes of header%s)",
                                   opts->max_msg_size, limit, (long long) payload, NQ_HDR_LEN,
                                   cfg->MaxMsgSize > 0 ? ", or the stream's max_msg_size" : "");
    q->max_msg = opts->max_msg_size > 0 ? opts->max_msg_size : limit;
    return 0;
}

/* Check a stream that is there: what every kind needs (a configuration in
 * its info), what @p k needs, and the message limit it gives. */
static int
nq_stream_existing(struct nq *q, const struct nq_stream_kind *k, const jsStreamInfo *si,
                   const ipckit_opts *opts, bool created)
{
    int rc;
    if (si->Config == NULL)
        return ipckit_backend_fail(-EIO, "nats: stream %s: no configuration in its info",
                                   q->conf.stream);
    rc = k->check(q, si, created);
    return rc < 0 ? rc : nq_msg_limit(q, si->Config, opts);
}

/* Find, create or refuse the stream of a queue or a broadcast channel, as
 * @p flags say; @p k checks one that is there and makes one that is not. */
int
nq_stream_setup(struct nq *q, const struct nq_stream_kind *k, unsigned flags,
                const ipckit_opts *opts, const struct timespec *deadline)
{
    ipckit_backoff b = NQ_RETRY;
    bool created = false;
    for (;;) {
        jsStreamInfo *si = NULL;
        jsErrCode je = 0;
        jsOptions jo;
        natsStatus s;
        int rc;

        jsOptions_Init(&jo);
        jo.Wait = nq_try_ms(q, deadline);
        s = js_GetStreamInfo(&si, q->js, q->conf.stream, &jo, &je);
        if (s == NATS_OK) {
            if ((flags & IPCKIT_EXCL) && !created) {
                jsStreamInfo_Destroy(si);
                return ipckit_backend_fail(-EEXIST, "nats: stream %s (%s %s) exists",
                                           q->conf.stream, k->what, q->conf.queue);
            }
            rc = nq_stream_existing(q, k, si, opts, created);
            jsStreamInfo_Destroy(si);
            return rc;
        }
        if (s == NATS_NOT_FOUND || je == JSStreamNotFoundErr) {
            if (!(flags & IPCKIT_CREATE))
                return ipckit_backend_fail(-ENOENT,
                                           "nats: no stream %s for %s %s on %s (open with"
                                           " IPCKIT_CREATE to make it)",
                                           q->conf.stream, k->what, q->conf.queue,
                                           q->conf.servers[0]);
            je = 0;
            if (k->create(q, opts, jo.Wait, &s, &je) == 0) {
                created = true;
                continue; /* read back what the server made */
            }
            if (je == JSStreamNameExistErr) {
                if (flags & IPCKIT_EXCL)
                    return ipckit_backend_fail(-EEXIST, "nats: stream %s (%s %s) exists",
                                               q->conf.stream, k->what, q->conf.queue);
                continue;
            }
            if (je == JSStreamSubjectOverlapErr)
                return ipckit_backend_fail(-EEXIST,
                                           "nats: another stream holds the subjects %s: %s",
                                           q->conf.all, nq_text(s));
            if (je == JSStreamReplicasNotSupportedErr || je == JSInsufficientResourcesErr ||
                je == JSStreamInvalidConfig)
                return ipckit_backend_fail(-EINVAL, "nats: create stream %s: %s",
                                           q->conf.stream, nq_text(s));
        }
        if (je == JSNotEnabledErr || je == JSNotEnabledForAccountErr)
            return ipckit_backend_fail(-EPROTONOSUPPORT,
                                       "nats: JetStream is not enabled on %s: %s",
                                       q->conf.servers[0], nq_text(s));
        /* A cluster that is still forming has no leader yet, or a leader
         * that does not know every peer yet ("no suitable peers for
         * placement" for replicas it will have): wait for it, until the
         * open's deadline. */
        if (!nq_transient(s) && je != JSClusterNotAvailErr && je != JSStreamCreateErr &&
            je != JSClusterNotLeaderErr && je != JSClusterNoPeersErr)
            return ipckit_backend_fail(s == NATS_NOT_PERMITTED ? -EACCES : -EIO,
                                       "nats: stream %s: %s", q->conf.stream, nq_text(s));
        rc = nq_retry_wait(q, &b, deadline, "open", s);
        if (rc < 0)
            return rc;
    }
}
