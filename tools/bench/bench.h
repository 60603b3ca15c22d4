/*
 * ipckit-bench: shared declarations: the variants that move the messages
 * (xport_raw.c, xport_ipckit.c, peers.c; the table of backends that pairs
 * them: xport.c), then what the files of the benchmark program share.
 *
 * A "backend" row of the benchmark is one ipckit scheme together with the
 * raw kernel mechanism it wraps. A "variant" is one way of moving the same
 * traffic: "raw" (the kernel API called directly), "ipckit" (the public
 * channel API), "base" (the same calls into another build of libipckit,
 * --base=PATH), or a peer library ("nng", "zmq"). Every variant exposes the
 * same small set of operations on one-way channels, so the drivers in
 * run.c measure all of them with the same code.
 */
#ifndef IPCKIT_BENCH_H
#define IPCKIT_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- backends and variants (xport*.c, peers.c) --------------------------- */

#define BX_MAXCHAN 2      /* round trip: 0 = ping direction, 1 = pong direction */
#define BX_NAME_MAX 256
#define BX_ERR_MAX 256

enum bx_dir { BX_SEND = 1, BX_RECV = 2 };

struct bx_backend;
struct bx_variant;

/* One run of one variant: filled by the parent before fork(), read by the children. */
struct bx_run {
    const struct bx_backend *be;
    const struct bx_variant *var;
    int nchan;                       /* channels used by this run */
    size_t size;                     /* message size */
    bool multi;                      /* several senders and receivers share channel 0 */
    const char *dir;                 /* private scratch directory */
    unsigned id;                     /* unique number of this run */
    char names[BX_MAXCHAN][BX_NAME_MAX];  /* ipckit names or peer URLs */
    int fds[BX_MAXCHAN][2];          /* raw pipes */
    int qid[BX_MAXCHAN];             /* raw System V queues */
    int signo[BX_MAXCHAN];           /* raw real-time signals */
    pid_t peer[BX_MAXCHAN];          /* child: process that receives channel c (signals) */
    void *mem[BX_MAXCHAN];           /* the limit ring: anonymous shared memory */
    char err[BX_ERR_MAX];            /* why prepare failed or skipped */
};

/*
 * Operations of one variant. prepare/parent_after_fork/cleanup run in the
 * parent; open/send/recv/close in the children. send and recv block; recv
 * returns the message length or a negative errno.
 */
struct bx_variant {
    const char *name;
    /* 0: ready; 1: skipped (r->err says why); < 0: failed (r->err). */
    int (*prepare)(struct bx_run *r);
    void (*parent_after_fork)(struct bx_run *r);
    int (*open)(struct bx_run *r, int chan, enum bx_dir dir, void **ep);
    int (*send)(void *ep, const void *buf, size_t len);
    ssize_t (*recv)(void *ep, void *buf, size_t cap);
    /* Optional: receive in place: point @p msg at the next message and return
     * its length; release() then frees it. The consumer hashes the message
     * where it lies instead of in its own buffer. */
    ssize_t (*recv_view)(void *ep, const void **msg);
    void (*release)(void *ep);
    /* Optional: receive with a timeout in milliseconds (NULL: not offered). */
    ssize_t (*recv_timed)(void *ep, void *buf, size_t cap, int timeout_ms);
    void (*close)(void *ep);
    void (*cleanup)(struct bx_run *r);
    /* What the functions above share: the ipckit variants' library. */
    const void *impl;
};

/*
 * One row of the benchmark: a scheme, its raw mechanism and how to name an
 * object of that scheme. The only table to extend when a backend lands.
 */
struct bx_backend {
    const char *scheme;              /* "fifo", "mq", ... or a peer: "nng", "zmq" */
    const char *raw_what;            /* the raw mechanism, for the table */
    const struct bx_variant *raw;    /* NULL: compared with the pipe row (shm, peers) */
    const struct bx_variant *lib;    /* ipckit, a peer library, or NULL (the pipe row) */
    /* Write the name of channel @p chan of run @p r as seen from the @p dir
     * end; NULL: format not known yet. */
    int (*make_name)(const struct bx_run *r, int chan, enum bx_dir dir, char *buf, size_t cap);
    size_t (*max_size)(void);        /* largest raw message; NULL: no limit */
    bool queue;                      /* several producers and consumers per object */
    bool peer;                       /* a peer library, not an ipckit backend */
    /* No kernel object to create or remove, and the sender's name holds the
     * receiver's pid: senders open once the pids are known (signal:). */
    bool no_object;
    /* Optional: a second library variant measured for one-way throughput
     * (shm: with ipckit_send_loan/ipckit_recv_borrow). */
    const struct bx_variant *lib_zc;
    /* Optional: the library variant for runs of one sender and one
     * receiver, each holding its side (shm: and fifo:, ?claim=1), measured for round
     * trips and one-way throughput. */
    const struct bx_variant *lib_one;
};

extern const struct bx_backend bx_backends[];
extern const size_t bx_nbackends;

/* Raw and ipckit variants (xport_raw.c, xport_ipckit.c). */
extern const struct bx_variant bx_raw_pipe, bx_raw_fifo, bx_raw_sysvmq, bx_raw_posixmq,
    bx_raw_rtsig, bx_ipckit, bx_ipckit_zc, bx_ipckit_claimed;

/*
 * The same three ipckit variants through another build of the library
 * (xport_ipckit.c): "base", "base-zerocopy" and "base-claimed". bx_base_open()
 * loads it (dlopen) and says on stderr why it cannot (-1); until then, and
 * after bx_base_close(), bx_base_twin() is NULL for every variant.
 */
extern const struct bx_variant bx_base, bx_base_zc, bx_base_claimed;
int bx_base_open(const char *path);
void bx_base_close(void);
/* The base twin of an ipckit variant, when a base library is loaded; NULL otherwise. */
const struct bx_variant *bx_base_twin(const struct bx_variant *v);
/* The name of the base twin of the variant named @p variant, or NULL. */
const char *bx_base_twin_name(const char *variant);
/* Is @p variant one of the ipckit variants, of this build or of the base? */
bool bx_variant_is_ipckit(const char *variant);
/* The base library's path as loaded and its ipckit_version_string(); NULL without one. */
const char *bx_base_path(void);
const char *bx_base_version(void);

/* The raw twin of shm: (limit.c): a spinning single-producer single-consumer
 * ring in shared memory, the limit shm: is measured against. */
extern const struct bx_variant bx_raw_spsc;

/* The nats: row (nats.c), when libnats is there: the raw C client and the
 * plug-in, on a nats-server the benchmark starts. */
#ifdef IPCKIT_BENCH_HAVE_NATS
extern const struct bx_variant bx_raw_nats, bx_ipckit_nats;
int bx_nats_name(const struct bx_run *r, int chan, enum bx_dir dir, char *buf, size_t cap);
size_t bx_nats_max(void);
#endif

/* Peer variants (peers.c); NULL-free only when built with IPCKIT_BENCH_PEERS. */
#ifdef IPCKIT_BENCH_HAVE_NNG
extern const struct bx_variant bx_nng;
#endif
#ifdef IPCKIT_BENCH_HAVE_ZMQ
extern const struct bx_variant bx_zmq;
#endif

/* ---- message content and its check (content.c) --------------------------- */

void bx_fill(unsigned char *buf, size_t len, uint32_t producer, uint64_t seq);
uint64_t bx_hash(const unsigned char *buf, size_t len);
/* The message that tells consumers that every producer is done. */
uint64_t bx_stop_word(void);

/* ---- options (options.c) ------------------------------------------------- */

#define BX_MAXPROC 16         /* processes of one run */
#define BX_VARIANTS_MAX 128   /* length of a --variants list */

enum bx_metric { M_RTT, M_TPUT, M_SCALE, M_IDLE, M_IDLE_TIMED, M_COUNT };
enum bx_pin { PIN_NONE, PIN_SAME, PIN_SPLIT, PIN_COUNT };

/* The names of metrics and placements in the output (options.c). */
extern const char *const bx_metric_names[M_COUNT];
extern const char *const bx_pin_names[PIN_COUNT];

/* What to measure and how: the command line, read once, then passed along. */
struct bx_opts {
    bool backend_on[32];
    bool metric_on[M_COUNT];
    size_t sizes[8];
    int nsizes;
    size_t rtt_size;
    unsigned long rtt_count, count, scale_count;
    int reps;
    int scale_p[8], scale_c[8], nscale;
    bool pin_on[PIN_COUNT];
    int cpu_a, cpu_b;
    int idle_ms;
    unsigned timeout_s;
    const char *json, *tsv, *markdown;
    bool progress;
    bool selftest;
    bool quiet;
    char variants[BX_VARIANTS_MAX]; /* comma-separated filter, "" for all */
    const char *base;     /* --base: another libipckit to compare with, or NULL */
    bool sigpipe_default; /* children keep SIGPIPE's default action */
};

/* The defaults, then the command line over them. A bad command line
 * prints why and exits with status 2; --help exits 0. */
void bx_options_default(struct bx_opts *o);
void bx_options_parse(struct bx_opts *o, int argc, char **argv);

/* ---- one run (run.c) ----------------------------------------------------- */

/* One job: one run of one variant with one shape. */
struct bx_job {
    enum bx_metric metric;
    const struct bx_backend *be;
    const struct bx_variant *var;
    size_t size;
    enum bx_pin pin;
    int producers, consumers;
    unsigned long count;
    bool corrupt;         /* self-test: damage one message on purpose */
};

enum bx_status { ST_OK, ST_SKIP, ST_FAIL };

struct bx_shared;

/* What every run of one benchmark shares: its options, the mappings the
 * children report into, and the scratch directory. */
struct bx_runner {
    const struct bx_opts *opt;
    struct bx_shared *shared;
    double *samples;      /* round-trip samples of the pinging process, ns */
    size_t samples_cap;
    char scratch[64];     /* private directory for FIFOs and sockets */
    unsigned run_id;
};

/* bx_runner_open() makes the scratch directory and the shared
 * mappings, with room for o->rtt_count round-trip samples; -1 (said on
 * stderr) when it cannot. bx_runner_close() removes them. */
int bx_runner_open(struct bx_runner *rn, const struct bx_opts *o);
void bx_runner_close(struct bx_runner *rn);

/*
 * Run one job. On ST_OK, values[] receives the measurements (round trip:
 * one sample per message, ns; others: one value) and *nvalues their count.
 * @p note receives why a run failed or was skipped, or a remark.
 */
enum bx_status bx_run_job(struct bx_runner *rn, const struct bx_job *j, double *values,
                          size_t *nvalues, char *note, size_t notecap);

/* Ctrl-C, SIGTERM and SIGHUP abandon the current run (its objects are
 * removed) and stop the benchmark; bx_stop_requested() is then the signal. */
void bx_stop_on_signals(void);
int bx_stop_requested(void);

/* ---- cells: every (backend, variant, metric, size, pin, PxC) (cells.c) --- */

struct bx_cell {
    enum bx_metric metric;
    size_t size;
    enum bx_pin pin;
    int producers, consumers;
    const struct bx_backend *be;
    const char *variant;
    double *v;
    size_t n, cap;
    int runs, fails, skips;
    char note[BX_ERR_MAX];
    /* filled by bx_cells_summarise() */
    double median, p99, min, max;
};

/* Every cell measured so far, in the order of their first run. */
struct bx_cells {
    struct bx_cell *v;
    size_t n, cap;
};

/* The cell of job @p j and @p variant, made empty if new. */
struct bx_cell *bx_cell_get(struct bx_cells *t, const struct bx_job *j, const char *variant);
/* Add @p n values to a cell. */
void bx_cell_add(struct bx_cell *c, const double *v, size_t n);
/* Summarise every cell; the number of failed runs. */
int bx_cells_summarise(struct bx_cells *t);
void bx_cells_free(struct bx_cells *t);
/* The unit of a cell's values: "us", "MB/s", "msg/s" or "%cpu". */
const char *bx_cell_unit(const struct bx_cell *c);
/* "ok", "failed" or "skipped". */
const char *bx_cell_status(const struct bx_cell *c);
/* ipckit (or zerocopy, claimed, or a base variant) median / raw median of the
 * same backend, or NAN. */
double bx_cell_ratio(const struct bx_cells *t, const struct bx_cell *c);
/* ipckit (zerocopy, claimed) median / the median of its base twin, or NAN. */
double bx_cell_vs_base(const struct bx_cells *t, const struct bx_cell *c);
/* median / the raw pipe's median for the same metric, or NAN. */
double bx_cell_vs_pipe(const struct bx_cells *t, const struct bx_cell *c);

/* ---- output (output.c) --------------------------------------------------- */

/* The machine the results come from. */
struct bx_machine {
    long nproc;
    char cpu[128];
    char kernel[400];
    char load0[64], load1[64];
    char date[32];
};

#define BX_COMMAND_MAX 1024

/* The machine at the start; bx_machine_read_end(): its load at the end. */
void bx_machine_read(struct bx_machine *m);
void bx_machine_read_end(struct bx_machine *m);
/* Keep the command line as given (BX_COMMAND_MAX bytes at @p buf): option
 * parsing cuts lists apart in place. */
void bx_command_save(char *buf, int argc, char **argv);
/* The shape of a cell: "64 B" or "4 KiB", and " PxC" for the scale metric. */
void bx_shape_label(char *buf, size_t cap, const struct bx_cell *c);
/* Write the outputs the options ask for; a file that cannot be opened ends
 * the program with status 1. */
void bx_report(const struct bx_opts *o, const struct bx_machine *m, const char *command,
               const struct bx_cells *t);

/* ---- the plan (plan.c) --------------------------------------------------- */

typedef void (*bx_job_fn)(const struct bx_job *j, void *arg);

/* Call @p fn for every job of one repetition, in the interleaved order;
 * counts are divided by @p scale. */
void bx_plan_rep(const struct bx_opts *o, bx_job_fn fn, void *arg, unsigned long scale);
/* The blocked-receiver measurement: once, after the repetitions. */
void bx_plan_idle(const struct bx_opts *o, bx_job_fn fn, void *arg);
/* The number of jobs of one repetition and the idle measurement. */
int bx_plan_count(const struct bx_opts *o);
/* Run every repetition, then the idle measurement, into @p cells, with a
 * progress line on stderr when o->progress. */
void bx_plan_run(const struct bx_opts *o, struct bx_runner *rn, struct bx_cells *cells);

/* ---- self-test (selftest.c) ---------------------------------------------- */

/* The small counts of --selftest, set before the runner is opened. */
void bx_selftest_options(struct bx_opts *o);
/* Check that each job verifies clean and fails damaged; prints a line per
 * job and a summary; the exit status: 0 when every check held. */
int bx_selftest_run(const struct bx_opts *o, struct bx_runner *rn);

#endif /* IPCKIT_BENCH_H */
