/*
 * ipckit-bench: the plan: which jobs run, in which order. Every repetition
 * runs every selected (pin, metric, size, backend, variant) once, in the
 * same order (an ipckit variant and its base twin one after the other), so
 * that slow drifts of a shared machine hit all variants alike; the
 * blocked-receiver measurement runs once, after them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

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

/* Job @p j with library variant @p v, then with its base twin (the same
 * traffic through the --base library), each when selected. */
static void
run_lib(const struct bx_opts *o, bx_job_fn fn, void *arg, struct bx_job *j,
        const struct bx_variant *v)
{
    const struct bx_variant *twin = v != NULL ? bx_base_twin(v) : NULL;
    if (v != NULL && variant_on(o, v)) {
        j->var = v;
        fn(j, arg);
    }
    if (twin != NULL && variant_on(o, twin)) {
        j->var = twin;
        fn(j, arg);
    }
}

void
bx_plan_rep(const struct bx_opts *o, bx_job_fn fn, void *arg, unsigned long scale)
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
            run_lib(o, fn, arg, &j, be->lib);
            run_lib(o, fn, arg, &j, be->lib_one);
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
                run_lib(o, fn, arg, &j, be->lib);
                run_lib(o, fn, arg, &j, be->lib_zc);
                run_lib(o, fn, arg, &j, be->lib_one);
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
                run_lib(o, fn, arg, &j, be->lib);
            }
        }
    }
}

void
bx_plan_idle(const struct bx_opts *o, bx_job_fn fn, void *arg)
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
        if (be->lib == NULL)
            continue;
        for (int k = 0; k < 2; k++) {
            const struct bx_variant *v = k == 0 ? be->lib : bx_base_twin(be->lib);
            if (v == NULL || !variant_on(o, v))
                continue;
            j.var = v;
            j.metric = M_IDLE;
            fn(&j, arg);
            if (v->recv_timed != NULL && !be->peer) {
                j.metric = M_IDLE_TIMED;
                fn(&j, arg);
            }
        }
    }
}

static void
count_job(const struct bx_job *j, void *arg)
{
    (void) j;
    (*(int *) arg)++;
}

/* Where the run is, for the progress line, and what it runs with. */
struct bx_progress {
    int done, total, rep;
    const struct bx_opts *opt;
    struct bx_runner *rn;
    struct bx_cells *cells;
};

/* Run one job and add what it measured (or why not) to its cell. */
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

int
bx_plan_count(const struct bx_opts *o)
{
    int runs = 0;
    bx_plan_rep(o, count_job, &runs, 1);
    bx_plan_idle(o, count_job, &runs);
    return runs;
}

void
bx_plan_run(const struct bx_opts *o, struct bx_runner *rn, struct bx_cells *cells)
{
    struct bx_progress pr = { 0, 0, 0, o, rn, cells };

    for (int rep = 0; rep < o->reps; rep++)
        bx_plan_rep(o, count_job, &pr.total, 1);
    bx_plan_idle(o, count_job, &pr.total);
    for (pr.rep = 1; pr.rep <= o->reps; pr.rep++)
        bx_plan_rep(o, do_job, &pr, 1);
    pr.rep = o->reps;
    bx_plan_idle(o, do_job, &pr);
    if (o->progress)
        (void) fprintf(stderr, "\r\033[K");
}
