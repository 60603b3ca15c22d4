/*
 * nats: declarations shared by the plug-in's files. Not installed.
 */
#ifndef IPCKIT_NATS_INTERNAL_H
#define IPCKIT_NATS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <nats/nats.h>

#include <ipckit/backend.h>

#define NQ_SERVERS_MAX 8
#define NQ_DEFAULT_PORT 4222
#define NQ_QUEUE_MAX 64
#define NQ_STREAM_MAX 64
#define NQ_PREFIX_MAX 128
#define NQ_SECRET_MAX 1024
#define NQ_REPLY_MS 2000L  /* default wait for one answer of the server */
#define NQ_ADMIN_MS 5000L  /* default timeout of stat and unlink */
/* Between tries after a failure the server may get over (no answer, no
 * leader, a full queue): 2 ms growing to 100 ms. */
#define NQ_RETRY IPCKIT_BACKOFF_INIT(0, 2000, 100000)
/* "NATS/1.0\r\n" "Nats-Msg-Id: " ID "\r\n" "\r\n": what a message adds to
 * its payload against the server's max_payload. */
#define NQ_ID_LEN 32
#define NQ_HDR_LEN (10 + 13 + NQ_ID_LEN + 2 + 2)

/* What a name says: where, which queue, how to log in. */
struct nq_conf {
    char *servers[NQ_SERVERS_MAX]; /* "nats://host:port" */
    bool loopback[NQ_SERVERS_MAX];
    int nservers;
    char queue[NQ_QUEUE_MAX + 1];
    char stream[NQ_STREAM_MAX + 8];
    char prefix[NQ_PREFIX_MAX + 1];      /* messages: PREFIX.TYPE */
    char all[NQ_PREFIX_MAX + 4];         /* PREFIX.* */
    char wake[NQ_PREFIX_MAX + 8];        /* wake-ups: PREFIX.wake.* */
    char wake_dest[NQ_PREFIX_MAX + 32];  /* the stream's republish destination */
    int replicas;
    bool memory;
    long max_msgs;                       /* -1: no limit */
    long reply_ms, admin_ms;
    bool tls, plaintext;
    char *user, *password, *token, *creds, *ca, *cert, *key;
};

/* An open channel. */
struct nq {
    struct nq_conf conf;
    unsigned flags;          /* IPCKIT_SEND | IPCKIT_RECV ... */
    pid_t pid;               /* the process whose connection this is */
    natsOptions *o;
    natsConnection *nc;
    jsCtx *js;
    natsSubscription *wake;  /* receivers, when the stream republishes */
    bool wakeups;            /* the stream republishes to conf.wake */
    size_t max_msg;
    char idpfx[17];          /* this process's message ids: idpfx, then a counter */
    unsigned long long idseq;
    /* In a forked child, the parent's client objects, left alone (their
     * threads are not in the child) but still pointed at. */
    void *parents[4];
    struct nb *bc;           /* a broadcast channel (nats_bcast.c), or NULL */
};

/* nats_name.c */
int nq_conf_parse(const ipckit_name *name, struct nq_conf *c);
void nq_conf_free(struct nq_conf *c);
bool nq_host_loopback(const char *host);
/* The type of a message from its subject, PREFIX.TYPE; 0 if it is not one. */
long nq_type_of(const struct nq *q, const char *subject);

/* nats_conn.c: errors */
const char *nq_text(natsStatus s);
/* A failure the server or the network may get over: try again. */
bool nq_transient(natsStatus s);
/* nq_transient(), or the server says that its cluster is electing a leader. */
bool nq_retryable(natsStatus s, jsErrCode je);
/* The error for a deadline that passed while the server did not answer. */
int nq_gave_up(const struct nq *q, const struct timespec *deadline, const char *op,
               natsStatus s);

/* nats_conn.c: time */
/* How long to wait for one answer: what is left, at most reply_ms. */
int64_t nq_try_ms(const struct nq *q, const struct timespec *deadline);
/* After a transient failure: wait a step and return 0 to try again, or the
 * error to return (the deadline passed, or a try-once call). */
int nq_retry_wait(const struct nq *q, ipckit_backoff *b, const struct timespec *deadline,
                  const char *op, natsStatus s);
void nq_deadline_in(struct timespec *ts, long ms);

/* nats_conn.c: messages */
/* The message of @p type with @p buf, on subject PREFIX.TYPE and with the
 * header Nats-Msg-Id: this process's id prefix and @p seq, by which the
 * server drops a repeated publish (a queue) and subscribers count losses
 * (a broadcast channel). 0, or -ENOMEM with the detail set. */
int nq_msg_new(const struct nq *q, long type, const void *buf, size_t len,
               unsigned long long seq, natsMsg **out);

/* nats_conn.c: the connection */
/* @p bytes random bytes (at most 16) as 2 * @p bytes hex digits and a NUL. */
void nq_hex(char *out, size_t bytes);
void nq_disconnect(natsOptions **o, natsConnection **nc, jsCtx **js, natsSubscription **sub);
/* Connect to one of the servers, trying again until @p deadline. */
int nq_connect(const struct nq_conf *c, const struct timespec *deadline, natsOptions **o,
               natsConnection **nc, jsCtx **js);
/* Wait until the client is connected (it reconnects by itself), so that a
 * request is not left in the client's buffer when the call gives up. */
int nq_connected(struct nq *q, const struct timespec *deadline, const char *op);

/* nats_bcast.c: broadcast channels (?bcast=), to which nats_backend.c
 * hands every operation of a channel whose q->bc is set. nb_open() frees
 * q->conf when it fails. */
int nb_open(struct nq *q, const ipckit_name *name, unsigned flags, const ipckit_opts *opts,
            const struct timespec *deadline);
int nb_close(struct nq *q);
void nb_info(struct nq *q, unsigned *caps, size_t *max_msg);
int nb_ctl(struct nq *q, int op, void *arg);
int nb_send(struct nq *q, long type, const void *buf, size_t len,
            const struct timespec *deadline);
ssize_t nb_recv(struct nq *q, long *type, void *buf, size_t cap,
                const struct timespec *deadline);

/* What tells a queue's stream from a broadcast channel's (nats_backend.c,
 * nats_bcast.c): its name in errors, how an existing one is checked beyond
 * what every stream needs (@p created: this process made it) and how one
 * is made (with nq_stream_add()). */
struct nq_stream_kind {
    const char *what;
    int (*check)(struct nq *q, const jsStreamInfo *si, bool created);
    int (*create)(struct nq *q, const ipckit_opts *opts, int64_t wait, natsStatus *st,
                  jsErrCode *je);
};
int nq_stream_setup(struct nq *q, const struct nq_stream_kind *k, unsigned flags,
                    const ipckit_opts *opts, const struct timespec *deadline);
/* Fill in what every stream has and ask the server to make it: 0, or -1
 * with @p st and @p je saying why. */
int nq_stream_add(struct nq *q, jsStreamConfig *sc, const ipckit_opts *opts, int64_t wait,
                  natsStatus *st, jsErrCode *je);

#endif /* IPCKIT_NATS_INTERNAL_H */
