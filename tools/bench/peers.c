/*
 * ipckit-bench: peer libraries users would pick instead of ipckit, with the
 * same traffic: nng (pair1 over ipc://) and ZeroMQ (PAIR over ipc://).
 * Each one-way channel of a run is one socket pair: the receiver listens
 * (binds), the sender dials (connects). Built only with IPCKIT_BENCH_PEERS.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static int
peer_prepare(struct bx_run *r)
{
    for (int c = 0; c < r->nchan; c++)
        if (r->be->make_name(r, c, BX_RECV, r->names[c], sizeof r->names[c]) < 0) {
            (void) snprintf(r->err, sizeof r->err, "socket path too long");
            return -1;
        }
    if (r->multi) {
        (void) snprintf(r->err, sizeof r->err, "a pair socket has exactly two ends");
        return 1;
    }
    return 0;
}

static void
peer_parent_after_fork(struct bx_run *r)
{
    (void) r;
}

static void
peer_cleanup(struct bx_run *r)
{
    for (int c = 0; c < r->nchan; c++)
        if (strncmp(r->names[c], "ipc://", 6) == 0)
            (void) unlink(r->names[c] + 6);
}

#ifdef IPCKIT_BENCH_HAVE_NNG
#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>

struct nngx_ep {
    nng_socket s;
};

static int
nngx_open(struct bx_run *r, int chan, enum bx_dir dir, void **ep)
{
    struct nngx_ep *e = malloc(sizeof *e);
    char hello = 'h';
    size_t n = 1;
    int rv;
    if (e == NULL)
        return -ENOMEM;
    rv = nng_pair1_open(&e->s);
    if (rv == 0 && dir == BX_RECV) {
        rv = nng_listen(e->s, r->names[chan], NULL, 0);
        /* Wait for the sender's hello: the connection is up before "go". */
        if (rv == 0)
            rv = nng_recv(e->s, &hello, &n, 0);
    } else if (rv == 0) {
        /* The listener may not be up yet: retry until it is. */
        for (int k = 0; k < 10000; k++) {
            rv = nng_dial(e->s, r->names[chan], NULL, 0);
            if (rv != NNG_ECONNREFUSED && rv != NNG_ENOENT)
                break;
            (void) usleep(1000);
        }
        if (rv == 0)
            rv = nng_send(e->s, &hello, 1, 0);
    }
    if (rv != 0) {
        (void) fprintf(stderr, "ipckit-bench: nng %s: %s\n", r->names[chan], nng_strerror(rv));
        free(e);
        return -EIO;
    }
    *ep = e;
    return 0;
}

static int
nngx_send(void *ep, const void *buf, size_t len)
{
    struct nngx_ep *e = ep;
    int rv = nng_send(e->s, (void *) (uintptr_t) buf, len, 0);
    return rv == 0 ? 0 : -EIO;
}

static ssize_t
nngx_recv(void *ep, void *buf, size_t cap)
{
    struct nngx_ep *e = ep;
    size_t n = cap;
    int rv = nng_recv(e->s, buf, &n, 0);
    return rv == 0 ? (ssize_t) n : -EIO;
}

static ssize_t
nngx_recv_timed(void *ep, void *buf, size_t cap, int timeout_ms)
{
    struct nngx_ep *e = ep;
    (void) nng_socket_set_ms(e->s, NNG_OPT_RECVTIMEO, timeout_ms);
    return nngx_recv(ep, buf, cap);
}

static void
nngx_close(void *ep)
{
    struct nngx_ep *e = ep;
    (void) nng_close(e->s);
    free(e);
}

const struct bx_variant bx_nng = {
    .name = "nng",
    .prepare = peer_prepare,
    .parent_after_fork = peer_parent_after_fork,
    .open = nngx_open,
    .send = nngx_send,
    .recv = nngx_recv,
    .recv_timed = nngx_recv_timed,
    .close = nngx_close,
    .cleanup = peer_cleanup,
};
#endif

#ifdef IPCKIT_BENCH_HAVE_ZMQ
#include <zmq.h>

struct zmqx_ep {
    void *ctx;
    void *s;
};

static int
zmqx_open(struct bx_run *r, int chan, enum bx_dir dir, void **ep)
{
    struct zmqx_ep *e = calloc(1, sizeof *e);
    int rv = -1;
    if (e == NULL)
        return -ENOMEM;
    e->ctx = zmq_ctx_new();
    if (e->ctx != NULL)
        e->s = zmq_socket(e->ctx, ZMQ_PAIR);
    if (e->s != NULL)
        rv = dir == BX_RECV ? zmq_bind(e->s, r->names[chan]) : zmq_connect(e->s, r->names[chan]);
    /* A hello from the sender: the connection is up before "go". */
    if (rv == 0) {
        char hello = 'h';
        rv = dir == BX_RECV ? zmq_recv(e->s, &hello, 1, 0) : zmq_send(e->s, &hello, 1, 0);
        rv = rv == 1 ? 0 : -1;
    }
    if (rv != 0) {
        (void) fprintf(stderr, "ipckit-bench: zmq %s: %s\n", r->names[chan],
                       zmq_strerror(zmq_errno()));
        if (e->s != NULL)
            (void) zmq_close(e->s);
        if (e->ctx != NULL)
            (void) zmq_ctx_term(e->ctx);
        free(e);
        return -EIO;
    }
    *ep = e;
    return 0;
}

static int
zmqx_send(void *ep, const void *buf, size_t len)
{
    struct zmqx_ep *e = ep;
    while (zmq_send(e->s, buf, len, 0) < 0)
        if (zmq_errno() != EINTR)
            return -zmq_errno();
    return 0;
}

static ssize_t
zmqx_recv(void *ep, void *buf, size_t cap)
{
    struct zmqx_ep *e = ep;
    int n;
    while ((n = zmq_recv(e->s, buf, cap, 0)) < 0)
        if (zmq_errno() != EINTR)
            return -zmq_errno();
    return (size_t) n > cap ? -EMSGSIZE : n;
}

static ssize_t
zmqx_recv_timed(void *ep, void *buf, size_t cap, int timeout_ms)
{
    struct zmqx_ep *e = ep;
    (void) zmq_setsockopt(e->s, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    return zmqx_recv(ep, buf, cap);
}

static void
zmqx_close(void *ep)
{
    struct zmqx_ep *e = ep;
    int linger = 0;
    (void) zmq_setsockopt(e->s, ZMQ_LINGER, &linger, sizeof linger);
    (void) zmq_close(e->s);
    (void) zmq_ctx_term(e->ctx);
    free(e);
}

const struct bx_variant bx_zmq = {
    .name = "zmq",
    .prepare = peer_prepare,
    .parent_after_fork = peer_parent_after_fork,
    .open = zmqx_open,
    .send = zmqx_send,
    .recv = zmqx_recv,
    .recv_timed = zmqx_recv_timed,
    .close = zmqx_close,
    .cleanup = peer_cleanup,
};
#endif
