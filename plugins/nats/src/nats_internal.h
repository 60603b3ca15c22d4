/*
 * nats: declarations shared by the plug-in's files. Not installed.
 */
#ifndef IPCKIT_NATS_INTERNAL_H
#define IPCKIT_NATS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <ipckit/backend.h>

#define NQ_SERVERS_MAX 8
#define NQ_DEFAULT_PORT 4222
#define NQ_QUEUE_MAX 64
#define NQ_STREAM_MAX 64
#define NQ_PREFIX_MAX 128
#define NQ_SECRET_MAX 1024
#define NQ_REPLY_MS 2000L  /* default wait for one answer of the server */
#define NQ_ADMIN_MS 5000L  /* default timeout of stat and unlink */

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

int nq_conf_parse(const ipckit_name *name, struct nq_conf *c);
void nq_conf_free(struct nq_conf *c);
bool nq_host_loopback(const char *host);

#endif /* IPCKIT_NATS_INTERNAL_H */
