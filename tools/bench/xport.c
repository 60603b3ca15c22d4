/*
 * ipckit-bench: the table of backends, which pairs each ipckit scheme
 * with the raw mechanism it wraps (xport_raw.c, limit.c, nats.c) and its
 * ipckit variants (xport_ipckit.c), or a peer library (peers.c) with the
 * pipe; and the names each scheme's channels get.
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "bench.h"

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
      false, NULL, &bx_ipckit_claimed },
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
