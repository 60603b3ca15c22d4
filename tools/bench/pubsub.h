/*
 * ipckit-bench --pubsub: publish/subscribe, ipckit's broadcast ring
 * (shm:NAME?bcast=wait) against Eclipse iceoryx (pubsub_iox.c, when built
 * with its C binding). pubsub.c runs the measurements; a transport moves
 * the messages.
 */
#ifndef IPCKIT_BENCH_PUBSUB_H
#define IPCKIT_BENCH_PUBSUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where the run keeps its files (a private temporary directory). */
struct ps_env {
    char dir[64];
    unsigned id; /* a number unique to this run, for topic names */
};

/*
 * One way of moving the messages. Every process of a measurement is a child
 * of the benchmark: child_init() runs first in it (iceoryx: its runtime),
 * child_fini() last, before exit(). A publisher writes the sequence number
 * into the first and the last 8 bytes of a message of @p size bytes (the
 * rest as it is, in place or copied whole); a subscriber checks both.
 */
struct ps_xport {
    const char *name;
    /* parent, once per benchmark: 0 ready, 1 skipped (why in @p err) */
    int (*start)(struct ps_env *env, char *err, size_t errcap);
    void (*stop)(struct ps_env *env);
    void (*child_init)(const char *proc);
    void (*child_fini)(void);
    /* @p topic is unique per run; a publisher opens first */
    void *(*open_pub)(const char *topic, size_t size);
    void *(*open_sub)(const char *topic, size_t size);
    /* publisher: have @p n subscribers joined? */
    bool (*has_subs)(void *pub, int n);
    /* subscriber: is it connected (receives what is published from now)? */
    bool (*joined)(void *sub);
    int (*publish)(void *pub, uint64_t seq, size_t size);
    /* the next message's sequence number (both copies equal), or -1 */
    int (*receive)(void *sub, uint64_t *seq, size_t size);
    void (*close_pub)(void *pub);
    void (*close_sub)(void *sub);
};

#ifdef IPCKIT_BENCH_HAVE_ICEORYX
extern const struct ps_xport ps_iox_spin, ps_iox_ws;
#endif

/* ipckit-bench --pubsub [options]: the exit status. */
int bx_pubsub_main(int argc, char **argv);

#endif /* IPCKIT_BENCH_PUBSUB_H */
