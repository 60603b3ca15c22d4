/*
 * ipckit-bench: the cells of the results. A cell is one (backend, variant,
 * metric, size, pin, producers x consumers); it gathers the values of every
 * repetition of its job, and its summary: median, p99, min, max, and its
 * ratios to the raw mechanism, to the raw pipe and (with --base) to the
 * same variant through the base library.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

struct bx_cell *
bx_cell_get(struct bx_cells *t, const struct bx_job *j, const char *variant)
{
    struct bx_cell *nc;
    for (size_t k = 0; k < t->n; k++) {
        struct bx_cell *c = &t->v[k];
        if (c->metric == j->metric && c->size == j->size && c->pin == j->pin &&
            c->producers == j->producers && c->consumers == j->consumers && c->be == j->be &&
            strcmp(c->variant, variant) == 0)
            return c;
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->v = realloc(t->v, t->cap * sizeof *t->v);
        if (t->v == NULL)
            abort();
    }
    nc = &t->v[t->n++];
    memset(nc, 0, sizeof *nc);
    nc->metric = j->metric;
    nc->size = j->size;
    nc->pin = j->pin;
    nc->producers = j->producers;
    nc->consumers = j->consumers;
    nc->be = j->be;
    nc->variant = variant;
    return nc;
}

void
bx_cell_add(struct bx_cell *c, const double *v, size_t n)
{
    if (c->n + n > c->cap) {
        c->cap = (c->n + n) * 2;
        c->v = realloc(c->v, c->cap * sizeof *c->v);
        if (c->v == NULL)
            abort();
    }
    memcpy(c->v + c->n, v, n * sizeof *v);
    c->n += n;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

static void
summarise(struct bx_cell *c)
{
    if (c->n == 0)
        return;
    qsort(c->v, c->n, sizeof *c->v, cmp_double);
    c->min = c->v[0];
    c->max = c->v[c->n - 1];
    c->median = c->n % 2 ? c->v[c->n / 2] : (c->v[c->n / 2 - 1] + c->v[c->n / 2]) / 2;
    c->p99 = c->v[(size_t) ceil(0.99 * (double) c->n) - 1];
    if (c->metric == M_RTT) {   /* samples are ns; report microseconds */
        c->min /= 1e3;
        c->max /= 1e3;
        c->median /= 1e3;
        c->p99 /= 1e3;
    }
}

static const struct bx_cell *
cell_find(const struct bx_cells *t, const struct bx_cell *like, const struct bx_backend *be,
          const char *variant)
{
    for (size_t k = 0; k < t->n; k++) {
        const struct bx_cell *c = &t->v[k];
        if (c->metric == like->metric && c->size == like->size && c->pin == like->pin &&
            c->producers == like->producers && c->consumers == like->consumers &&
            c->be == be && strcmp(c->variant, variant) == 0)
            return c->n > 0 ? c : NULL;
    }
    return NULL;
}

const char *
bx_cell_unit(const struct bx_cell *c)
{
    switch (c->metric) {
    case M_RTT:
        return "us";
    case M_TPUT:
    case M_SCALE:
        return c->size >= 1024 ? "MB/s" : "msg/s";
    default:
        return "%cpu";
    }
}

/* ipckit (or base) median / raw median of the same backend, or NAN. */
double
bx_cell_ratio(const struct bx_cells *t, const struct bx_cell *c)
{
    const struct bx_cell *raw;
    if (c->n == 0 || c->metric >= M_IDLE || !bx_variant_is_ipckit(c->variant))
        return NAN;
    raw = cell_find(t, c, c->be->raw != NULL ? c->be : &bx_backends[0], "raw");
    return raw != NULL && raw->median > 0 ? c->median / raw->median : NAN;
}

/* ipckit median / the median of the same variant through the base library. */
double
bx_cell_vs_base(const struct bx_cells *t, const struct bx_cell *c)
{
    const char *twin = bx_base_twin_name(c->variant);
    const struct bx_cell *base;
    if (c->n == 0 || c->metric >= M_IDLE || twin == NULL)
        return NAN;
    base = cell_find(t, c, c->be, twin);
    return base != NULL && base->median > 0 ? c->median / base->median : NAN;
}

/* median / the raw pipe's median (fifo raw) for the same metric, or NAN. */
double
bx_cell_vs_pipe(const struct bx_cells *t, const struct bx_cell *c)
{
    const struct bx_cell *pipe_c;
    if (c->n == 0 || c->metric >= M_IDLE ||
        (c->be == &bx_backends[0] && strcmp(c->variant, "raw") == 0))
        return NAN;
    pipe_c = cell_find(t, c, &bx_backends[0], "raw");
    return pipe_c != NULL && pipe_c->median > 0 ? c->median / pipe_c->median : NAN;
}

const char *
bx_cell_status(const struct bx_cell *c)
{
    if (c->n > 0 && c->fails == 0)
        return "ok";
    if (c->fails > 0)
        return "failed";
    return "skipped";
}

int
bx_cells_summarise(struct bx_cells *t)
{
    int failed = 0;
    for (size_t k = 0; k < t->n; k++) {
        summarise(&t->v[k]);
        failed += t->v[k].fails;
    }
    return failed;
}

void
bx_cells_free(struct bx_cells *t)
{
    for (size_t k = 0; k < t->n; k++)
        free(t->v[k].v);
    free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
}
