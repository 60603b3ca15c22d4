/*
 * ipckit-bench --selftest: every job of the plan runs twice with small
 * counts, once clean, which must verify, and once with one message damaged
 * on purpose, which must fail its verification. It proves that a run that
 * loses or corrupts a message cannot pass as a fast one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

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
        (void) printf("skip    %-8s %-7s %-13s %s\n", bx_metric_names[j.metric], j.be->scheme,
                      j.var->name, note);
        free(vals);
        return;
    }
    t->checked++;
    if (clean == ST_OK) {
        t->clean_ok++;
    } else {
        t->problems++;
        (void) printf("FAIL    %-8s %-7s %-13s clean run failed: %s\n", bx_metric_names[j.metric],
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
        (void) printf("ok      %-8s %-7s %-13s damaged message caught: %s\n",
                      bx_metric_names[j.metric], j.be->scheme, j.var->name, note);
    } else {
        t->problems++;
        (void) printf("FAIL    %-8s %-7s %-13s damaged message NOT caught (%s)\n",
                      bx_metric_names[j.metric], j.be->scheme, j.var->name,
                      bad == ST_OK ? "run passed" : note);
    }
    free(vals);
}

void
bx_selftest_options(struct bx_opts *o)
{
    /* Small counts: each run is a check, not a measurement. */
    o->rtt_count = 200;
    o->count = 500;
    o->scale_count = 300;
    o->idle_ms = 50;
    o->quiet = true;
}

int
bx_selftest_run(const struct bx_opts *o, struct bx_runner *rn)
{
    struct bx_selftest t = { 0, 0, 0, 0, rn };
    bx_plan_rep(o, selftest_job, &t, 1);
    bx_plan_idle(o, selftest_job, &t);
    (void) printf("selftest: %d runs, %d clean runs verified, %d damaged runs caught,"
                  " %d problems\n", t.checked, t.clean_ok, t.caught, t.problems);
    return t.problems == 0 && t.caught > 0 ? 0 : 1;
}
