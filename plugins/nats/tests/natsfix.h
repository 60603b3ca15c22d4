/*
 * Test fixture for the nats: backend: real nats-server processes, started
 * from the system's nats-server on free loopback ports (the server picks
 * them: "-1") in a temporary directory, and never left running: each is
 * killed when the fixture stops it, and by the kernel (PR_SET_PDEATHSIG)
 * when the process that started it dies.
 */
#ifndef IPCKIT_NATSFIX_H
#define IPCKIT_NATSFIX_H

#include <stdbool.h>
#include <sys/types.h>

#define NF_CLUSTER_MAX 3

struct nf_server {
    pid_t pid;            /* 0 when not running */
    pid_t owner;          /* the process that started it */
    int port;             /* client port on 127.0.0.1 */
    int cluster_port;     /* route port, 0 without a cluster */
    char dir[128];        /* its temporary directory: config, store, log */
    char name[16];        /* server_name */
    char extra[1024];     /* more configuration, kept for a restart */
    char routes[256];     /* "nats://127.0.0.1:P,..." for a cluster node */
};

/* The nats-server program, or NULL (and a printed reason) when there is none. */
const char *nf_program(void);

/* Exit 77 (skipped) with a reason unless nats-server can be run. Call it
 * first in main(): the servers' directories carry this process's pid, and
 * nf_cleanup() runs when this process exits. */
void nf_require_server(void);

/* Remove what tests that failed (and so ended without their teardown) left
 * in /tmp; their servers died with them. Only in the process that called
 * nf_require_server(). */
void nf_cleanup(void);

/*
 * Start a server with JetStream, @p extra appended to its configuration
 * (NULL for none). Returns 0, or -1 after printing why.
 */
int nf_start(struct nf_server *s, const char *name, const char *extra);

/* Start it again on the same ports with the same store (after nf_kill/nf_stop). */
int nf_restart(struct nf_server *s);

/* SIGKILL and reap, keeping the directory (for nf_restart). */
void nf_kill(struct nf_server *s);

/* Stop it (SIGTERM, then SIGKILL), reap it, remove its directory. */
void nf_stop(struct nf_server *s);

/* A three-node JetStream cluster on loopback; 0 or -1. */
int nf_cluster_start(struct nf_server nodes[NF_CLUSTER_MAX]);

/* Stop every server this process started and has not stopped: the
 * teardown of the suites' test cases, as a failed check ends a test
 * before its own nf_stop(). */
void nf_stop_all(void);

/* "nats://127.0.0.1:P1,127.0.0.1:P2,.../QUEUE?PARAMS" for the first @p n of
 * @p nodes; with @p queue NULL, the servers alone: a client's address. */
void nf_url(char *buf, size_t cap, const struct nf_server *nodes, int n, const char *queue,
            const char *params);

/* nf_url() with a queue name unique in this process (@p prefix, the pid, a
 * count), @p params (or NULL) and timeout_ms= for stat and unlink: 30 s
 * times nf_slow_factor(), for a slow machine (valgrind, TLS). */
void nf_name(char *buf, size_t cap, const struct nf_server *nodes, int n, const char *prefix,
             const char *params);

/* How much slower than natively the suite runs: Check's
 * CK_TIMEOUT_MULTIPLIER (10 under valgrind, 3 with the sanitizers), 1 to 10.
 * Waits that a loaded machine can stretch (a TLS handshake under valgrind
 * with three other suites on two CPUs took over 30 s) are scaled by it. */
int nf_slow_factor(void);

/* A loopback port nothing listens on at the time of the call. */
int nf_free_port(void);

#endif
