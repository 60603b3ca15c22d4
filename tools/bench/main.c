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
    char command_line[BX_COMMAND_MAX];
    int failed;

    bx_options_default(&opt);
    bx_command_save(command_line, argc, argv);
    bx_options_parse(&opt, argc, argv);
    if (bx_plan_count(&opt) == 0) {
        /* A selection that matches no run would print an empty table and
         * "succeed": refuse it. */
        (void) fprintf(stderr, "ipckit-bench: nothing to run: no backend (-b) has a variant"
                               " (-V) measured by a metric (-m) of this selection\n");
        return 2;
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
        bx_plan_rep(&opt, selftest_job, &t, 1);
        bx_plan_idle(&opt, selftest_job, &t);
        bx_runner_close(&rn);
        (void) printf("selftest: %d runs, %d clean runs verified, %d damaged runs caught,"
                      " %d problems\n", t.checked, t.clean_ok, t.caught, t.problems);
        return t.problems == 0 && t.caught > 0 ? 0 : 1;
    }

    bx_plan_run(&opt, &rn, &cells);
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
