/*
 * ipckit-bench: measures every ipckit backend against the raw kernel
 * mechanism it wraps (and, when built with IPCKIT_BENCH_PEERS, against nng
 * and ZeroMQ), in one run, interleaved: every repetition runs every variant
 * once, so slow drifts of a shared machine hit all variants alike.
 *
 * Also started as "ipckit bench ARGS": the ipckit tool runs this program
 * with the same arguments.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ipckit/ipckit.h>

#include "bench.h"

/* ---- the plan: which jobs, in which order ------------------------------------ */

static bool
backend_selected(const struct bx_opts *o, size_t k)
{
    return o->backend_on[k];
}

/* Message size of the small-message metrics for a backend (signals carry 8 bytes). */
static size_t
small_size(const struct bx_backend *be, size_t want)
{
    if (be->max_size != NULL && be->max_size() < want && be->max_size() < 1024)
        return be->max_size();
    return want;
}

typedef void (*bx_job_fn)(const struct bx_job *j, void *arg);

static bool
variant_on(const struct bx_opts *o, const struct bx_variant *v)
{
    char list[BX_VARIANTS_MAX + 2];
    char item[40];
    if (o->variants[0] == '\0')
        return true;
    (void) snprintf(list, sizeof list, ",%s,", o->variants);
    (void) snprintf(item, sizeof item, ",%s,", v->name);
    return strstr(list, item) != NULL;
}

/* Call @p fn for every job of one repetition, in the interleaved order. */
static void
plan_rep(const struct bx_opts *o, bx_job_fn fn, void *arg, unsigned long scale)
{
    for (int pin = 0; pin < PIN_COUNT; pin++) {
        if (!o->pin_on[pin])
            continue;
        for (size_t b = 0; b < bx_nbackends; b++) {
            const struct bx_backend *be = &bx_backends[b];
            struct bx_job j = { M_RTT, be, NULL, small_size(be, o->rtt_size), (enum bx_pin) pin,
                                1, 1, o->rtt_count / scale, false };
            if (!o->metric_on[M_RTT] || !backend_selected(o, b))
                continue;
            if (j.count < 10)
                j.count = 10;
            if (be->raw != NULL && variant_on(o, be->raw)) {
                j.var = be->raw;
                fn(&j, arg);
            }
            if (be->lib != NULL && variant_on(o, be->lib)) {
                j.var = be->lib;
                fn(&j, arg);
            }
        }
        for (int s = 0; s < o->nsizes; s++) {
            for (size_t b = 0; b < bx_nbackends; b++) {
                const struct bx_backend *be = &bx_backends[b];
                size_t size = o->sizes[s];
                struct bx_job j = { M_TPUT, be, NULL, size, (enum bx_pin) pin, 1, 1, 0, false };
                if (!o->metric_on[M_TPUT] || !backend_selected(o, b))
                    continue;
                if (size < 1024)
                    j.size = small_size(be, size);
                else if (be->max_size != NULL && be->max_size() < 1024)
                    continue;   /* signals: no large messages at all */
                j.count = size <= 64 ? o->count : o->count * 64 * 8 / size;
                j.count /= scale;
                if (j.count < 20)
                    j.count = 20;
                if (be->raw != NULL && variant_on(o, be->raw)) {
                    j.var = be->raw;
                    fn(&j, arg);
                }
                if (be->lib != NULL && variant_on(o, be->lib)) {
                    j.var = be->lib;
                    fn(&j, arg);
                }
                if (be->lib_zc != NULL && variant_on(o, be->lib_zc)) {
                    j.var = be->lib_zc;
                    fn(&j, arg);
                }
            }
        }
        for (int s = 0; s < o->nscale; s++) {
            for (size_t b = 0; b < bx_nbackends; b++) {
                const struct bx_backend *be = &bx_backends[b];
                struct bx_job j = { M_SCALE, be, NULL, 64, (enum bx_pin) pin, o->scale_p[s],
                                    o->scale_c[s], o->scale_count / scale, false };
                if (!o->metric_on[M_SCALE] || !backend_selected(o, b) || !be->queue)
                    continue;
                if (j.count < 50)
                    j.count = 50;
                if (be->raw != NULL && variant_on(o, be->raw)) {
                    j.var = be->raw;
                    fn(&j, arg);
                }
                if (be->lib != NULL && variant_on(o, be->lib)) {
                    j.var = be->lib;
                    fn(&j, arg);
                }
            }
        }
    }
}

/* The blocked-receiver measurement: once, after the repetitions. */
static void
plan_idle(const struct bx_opts *o, bx_job_fn fn, void *arg)
{
    for (size_t b = 0; b < bx_nbackends; b++) {
        const struct bx_backend *be = &bx_backends[b];
        struct bx_job j = { M_IDLE, be, NULL, small_size(be, 64), PIN_NONE, 1, 1, 1, false };
        if (!o->metric_on[M_IDLE] || !backend_selected(o, b))
            continue;
        if (be->raw != NULL && variant_on(o, be->raw)) {
            j.var = be->raw;
            fn(&j, arg);
        }
        if (be->lib == NULL || !variant_on(o, be->lib))
            continue;
        j.var = be->lib;
        fn(&j, arg);
        if (be->lib->recv_timed != NULL && !be->peer) {
            j.metric = M_IDLE_TIMED;
            fn(&j, arg);
        }
    }
}

static void
count_job(const struct bx_job *j, void *arg)
{
    (void) j;
    (*(int *) arg)++;
}

struct bx_progress {
    int done, total, rep;
    const struct bx_opts *opt;
    struct bx_runner *rn;
    struct bx_cells *cells;
};

static void
do_job(const struct bx_job *j, void *arg)
{
    struct bx_progress *pr = arg;
    const struct bx_opts *o = pr->opt;
    struct bx_cell *c = bx_cell_get(pr->cells, j, j->var->name);
    double *vals = malloc((j->metric == M_RTT ? j->count : 1) * sizeof *vals);
    size_t nv = 0;
    char note[BX_ERR_MAX];
    enum bx_status st;

    if (vals == NULL)
        abort();
    if (bx_stop_requested()) {
        free(vals);
        return;
    }
    pr->done++;
    if (o->progress) {
        char shape[48];
        bx_shape_label(shape, sizeof shape, c);
        (void) fprintf(stderr, "\r\033[K[%d/%d] rep %d/%d  %s %s %s %s pin=%s", pr->done,
                       pr->total, pr->rep, o->reps, bx_metric_names[j->metric], shape,
                       j->be->scheme, j->var->name, bx_pin_names[j->pin]);
        (void) fflush(stderr);
    }
    st = bx_run_job(pr->rn, j, vals, &nv, note, sizeof note);
    c->runs++;
    if (st == ST_OK)
        bx_cell_add(c, vals, nv);
    else if (st == ST_FAIL)
        c->fails++;
    else
        c->skips++;
    if (note[0] != '\0' && (st != ST_OK || c->note[0] == '\0'))
        (void) snprintf(c->note, sizeof c->note, "%s", note);
    if (st == ST_FAIL && !o->quiet && !bx_stop_requested()) {
        if (o->progress)
            (void) fprintf(stderr, "\n");
        (void) fprintf(stderr, "ipckit-bench: %s %s %s: FAILED: %s\n", bx_metric_names[j->metric],
                       j->be->scheme, j->var->name, note);
    }
    free(vals);
}

/* ---- self-test: a damaged message must be caught ------------------------------- */

struct bx_selftest {
    int checked, caught, clean_ok, problems;
    struct bx_runner *rn;
};

static void
selftest_job(const struct bx_job *jin, void *arg)
{
    struct bx_selftest *t = arg;
    struct bx_job j = *jin;
    double *vals = malloc(j.count * sizeof *vals + sizeof *vals);
    size_t nv;
    char note[BX_ERR_MAX];
    enum bx_status clean, bad;

    if (vals == NULL)
        abort();
    j.corrupt = false;
    clean = bx_run_job(t->rn, &j, vals, &nv, note, sizeof note);
    if (clean == ST_SKIP) {
        (void) printf("skip    %-8s %-6s %-7s %s\n", bx_metric_names[j.metric], j.be->scheme,
                      j.var->name, note);
        free(vals);
        return;
    }
    t->checked++;
    if (clean == ST_OK) {
        t->clean_ok++;
    } else {
        t->problems++;
        (void) printf("FAIL    %-8s %-6s %-7s clean run failed: %s\n", bx_metric_names[j.metric],
                      j.be->scheme, j.var->name, note);
    }
    if (j.metric == M_IDLE || j.metric == M_IDLE_TIMED) {
        free(vals);
        return;
    }
    j.corrupt = true;
    bad = bx_run_job(t->rn, &j, vals, &nv, note, sizeof note);
    if (bad == ST_FAIL && strstr(note, "verification failed") != NULL) {
        t->caught++;
        (void) printf("ok      %-8s %-6s %-7s damaged message caught: %s\n",
                      bx_metric_names[j.metric], j.be->scheme, j.var->name, note);
    } else {
        t->problems++;
        (void) printf("FAIL    %-8s %-6s %-7s damaged message NOT caught (%s)\n",
                      bx_metric_names[j.metric], j.be->scheme, j.var->name,
                      bad == ST_OK ? "run passed" : note);
    }
    free(vals);
}

int
main(int argc, char **argv)
{
    struct bx_opts opt;
    struct bx_runner rn;
    struct bx_cells cells = { NULL, 0, 0 };
    struct bx_machine machine;
    struct bx_progress pr = { 0, 0, 0, &opt, &rn, &cells };
    char command_line[BX_COMMAND_MAX];
    int failed;

    bx_options_default(&opt);
    bx_command_save(command_line, argc, argv);
    bx_options_parse(&opt, argc, argv);
    {
        /* A selection that matches no run would print an empty table and
         * "succeed": refuse it. */
        int runs = 0;
        plan_rep(&opt, count_job, &runs, 1);
        plan_idle(&opt, count_job, &runs);
        if (runs == 0) {
            (void) fprintf(stderr, "ipckit-bench: nothing to run: no backend (-b) has a variant"
                                   " (-V) measured by a metric (-m) of this selection\n");
            return 2;
        }
    }
    bx_machine_read(&machine);
    (void) signal(SIGPIPE, SIG_IGN);   /* a dead peer must fail a run, not the program */
    bx_stop_on_signals();
    if (opt.selftest) {
        /* Small counts: each run is a check, not a measurement. */
        opt.rtt_count = 200;
        opt.count = 500;
        opt.scale_count = 300;
        opt.idle_ms = 50;
        opt.quiet = true;
    }
    if (bx_runner_open(&rn, &opt) < 0)
        return 1;

    if (opt.selftest) {
        struct bx_selftest t = { 0, 0, 0, 0, &rn };
        plan_rep(&opt, selftest_job, &t, 1);
        plan_idle(&opt, selftest_job, &t);
        bx_runner_close(&rn);
        (void) printf("selftest: %d runs, %d clean runs verified, %d damaged runs caught,"
                      " %d problems\n", t.checked, t.clean_ok, t.caught, t.problems);
        return t.problems == 0 && t.caught > 0 ? 0 : 1;
    }

    for (int rep = 0; rep < opt.reps; rep++)
        plan_rep(&opt, count_job, &pr.total, 1);
    plan_idle(&opt, count_job, &pr.total);
    for (pr.rep = 1; pr.rep <= opt.reps; pr.rep++)
        plan_rep(&opt, do_job, &pr, 1);
    pr.rep = opt.reps;
    plan_idle(&opt, do_job, &pr);
    if (opt.progress)
        (void) fprintf(stderr, "\r\033[K");
    bx_runner_close(&rn);
    if (bx_stop_requested()) {
        (void) fprintf(stderr, "ipckit-bench: interrupted; nothing left behind\n");
        return 128 + bx_stop_requested();
    }
    bx_machine_read_end(&machine);

    failed = bx_cells_summarise(&cells);
    bx_report(&opt, &machine, command_line, &cells);
    bx_cells_free(&cells);
    return failed ? 1 : 0;
}
