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

#define BX_JSON_VERSION 1

/* ---- output ------------------------------------------------------------------ */

static void
json_num(FILE *f, const char *key, double v, bool comma)
{
    if (isnan(v))
        (void) fprintf(f, "\"%s\": null%s", key, comma ? ", " : "");
    else
        (void) fprintf(f, "\"%s\": %.6g%s", key, v, comma ? ", " : "");
}

static void
json_str(FILE *f, const char *s)
{
    (void) fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            (void) fprintf(f, "\\%c", *s);
        else if ((unsigned char) *s < 0x20)
            (void) fprintf(f, "\\u%04x", *s);
        else
            (void) fputc(*s, f);
    }
    (void) fputc('"', f);
}

struct bx_machine {
    long nproc;
    char cpu[128];
    char kernel[400];
    char load0[64], load1[64];
    char date[32];
};

static void
read_line(const char *path, const char *prefix, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    char line[256];
    out[0] = '\0';
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f) != NULL) {
        if (prefix == NULL || strncmp(line, prefix, strlen(prefix)) == 0) {
            const char *p = prefix ? strchr(line, ':') : line;
            p = p ? p + (prefix ? 1 : 0) : line;
            while (*p == ' ' || *p == '\t')
                p++;
            size_t n = strcspn(p, "\n");
            if (n >= cap)
                n = cap - 1;
            memcpy(out, p, n);
            out[n] = '\0';
            break;
        }
    }
    (void) fclose(f);
}

static void
machine_read(struct bx_machine *m)
{
    struct utsname u;
    time_t t = time(NULL);
    struct tm tm;
    m->nproc = sysconf(_SC_NPROCESSORS_ONLN);
    read_line("/proc/cpuinfo", "model name", m->cpu, sizeof m->cpu);
    if (uname(&u) == 0)
        (void) snprintf(m->kernel, sizeof m->kernel, "%s %s %s", u.sysname, u.release,
                        u.machine);
    read_line("/proc/loadavg", NULL, m->load0, sizeof m->load0);
    (void) gmtime_r(&t, &tm);
    (void) strftime(m->date, sizeof m->date, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

#define BX_COMMAND_MAX 1024

/* Keep the command line as given: option parsing cuts lists apart in place. */
static void
command_save(char *command_line, int argc, char **argv)
{
    size_t len = 0;
    command_line[0] = '\0';
    for (int k = 0; k < argc && len < BX_COMMAND_MAX; k++) {
        int n = snprintf(command_line + len, BX_COMMAND_MAX - len, "%s%s", k ? " " : "",
                         argv[k]);
        if (n < 0)
            break;
        len += (size_t) n;
    }
}

static void
write_json(FILE *f, const struct bx_opts *o, const struct bx_machine *m, const char *command_line,
           const struct bx_cells *t)
{
    (void) fprintf(f, "{\n  \"tool\": \"ipckit-bench\", \"format\": %d, \"ipckit\": ",
                   BX_JSON_VERSION);
    json_str(f, ipckit_version_string());
    (void) fprintf(f, ",\n  \"command\": ");
    json_str(f, command_line);
    (void) fprintf(f, ",\n  \"machine\": {\"nproc\": %ld, \"cpu\": ", m->nproc);
    json_str(f, m->cpu);
    (void) fprintf(f, ", \"kernel\": ");
    json_str(f, m->kernel);
    (void) fprintf(f, ", \"loadavg_start\": ");
    json_str(f, m->load0);
    (void) fprintf(f, ", \"loadavg_end\": ");
    json_str(f, m->load1);
    (void) fprintf(f, ", \"date\": ");
    json_str(f, m->date);
    (void) fprintf(f, "},\n  \"config\": {\"reps\": %d, \"rtt_count\": %lu, \"count\": %lu,"
                      " \"scale_count\": %lu, \"idle_ms\": %d, \"cpus\": [%d, %d],"
                      " \"sigpipe\": \"%s\"},\n",
                   o->reps, o->rtt_count, o->count, o->scale_count, o->idle_ms, o->cpu_a,
                   o->cpu_b, o->sigpipe_default ? "default" : "ignore");
    (void) fprintf(f, "  \"results\": [\n");
    for (size_t k = 0; k < t->n; k++) {
        const struct bx_cell *c = &t->v[k];
        (void) fprintf(f, "    {\"backend\": \"%s\", \"variant\": \"%s\", \"metric\": \"%s\","
                          " \"size\": %zu, \"pin\": \"%s\", \"producers\": %d,"
                          " \"consumers\": %d, \"unit\": \"%s\", \"status\": \"%s\","
                          " \"runs\": %d, \"samples\": %zu, ",
                       c->be->scheme, c->variant, bx_metric_names[c->metric], c->size,
                       bx_pin_names[c->pin], c->producers, c->consumers, bx_cell_unit(c),
                       bx_cell_status(c), c->runs, c->n);
        json_num(f, "median", c->n ? c->median : NAN, true);
        json_num(f, "p99", c->n ? c->p99 : NAN, true);
        json_num(f, "min", c->n ? c->min : NAN, true);
        json_num(f, "max", c->n ? c->max : NAN, true);
        json_num(f, "ratio", bx_cell_ratio(t, c), true);
        json_num(f, "vs_pipe", bx_cell_vs_pipe(t, c), true);
        (void) fprintf(f, "\"note\": ");
        json_str(f, c->note);
        (void) fprintf(f, "}%s\n", k + 1 < t->n ? "," : "");
    }
    (void) fprintf(f, "  ]\n}\n");
}

static void
size_label(char *buf, size_t cap, size_t size)
{
    if (size >= 1024 && size % 1024 == 0)
        (void) snprintf(buf, cap, "%zu KiB", size / 1024);
    else
        (void) snprintf(buf, cap, "%zu B", size);
}

static void
shape_label(char *buf, size_t cap, const struct bx_cell *c)
{
    char sz[32];
    size_label(sz, sizeof sz, c->size);
    if (c->metric == M_SCALE)
        (void) snprintf(buf, cap, "%s %dx%d", sz, c->producers, c->consumers);
    else
        (void) snprintf(buf, cap, "%s", sz);
}

static void
fmt_value(char *buf, size_t cap, const struct bx_cell *c, double v)
{
    if (c->metric == M_RTT)
        (void) snprintf(buf, cap, "%.2f", v);
    else if (bx_cell_unit(c)[0] == 'm' && v >= 1e6)   /* msg/s */
        (void) snprintf(buf, cap, "%.2fM", v / 1e6);
    else if (bx_cell_unit(c)[0] == 'm')
        (void) snprintf(buf, cap, "%.0fk", v / 1e3);
    else if (c->metric >= M_IDLE)
        (void) snprintf(buf, cap, "%.2f", v);
    else
        (void) snprintf(buf, cap, "%.1f", v);
}

static void
write_table(FILE *f, const struct bx_cells *t, bool markdown)
{
    if (markdown)
        (void) fprintf(f, "| metric | shape | pin | backend | variant | unit | median | p99 |"
                          " min | max | ipckit/raw | vs raw pipe | runs | note |\n"
                          "|---|---|---|---|---|---|--:|--:|--:|--:|--:|--:|--:|---|\n");
    else
        (void) fprintf(f, "%-14s %-12s %-5s %-7s %-7s %-6s %9s %9s %9s %9s %7s %7s  %s\n",
                       "metric", "shape", "pin", "backend", "variant", "unit", "median", "p99",
                       "min", "max", "ratio", "vs.pipe", "note");
    for (size_t k = 0; k < t->n; k++) {
        const struct bx_cell *c = &t->v[k];
        char shape[48], med[24] = "-", p99[24] = "-", mn[24] = "-", mx[24] = "-",
                         ratio[16] = "-", vp[16] = "-";
        double rt = bx_cell_ratio(t, c), vsp = bx_cell_vs_pipe(t, c);
        shape_label(shape, sizeof shape, c);
        if (c->n > 0) {
            fmt_value(med, sizeof med, c, c->median);
            if (c->metric == M_RTT)
                fmt_value(p99, sizeof p99, c, c->p99);
            fmt_value(mn, sizeof mn, c, c->min);
            fmt_value(mx, sizeof mx, c, c->max);
        }
        if (!isnan(rt))
            (void) snprintf(ratio, sizeof ratio, "%.2f", rt);
        if (!isnan(vsp))
            (void) snprintf(vp, sizeof vp, "%.2f", vsp);
        if (markdown) {
            (void) fprintf(f, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %s",
                           bx_metric_names[c->metric], shape, bx_pin_names[c->pin], c->be->scheme,
                           c->variant, bx_cell_unit(c), med, p99, mn, mx, ratio, vp, c->runs,
                           c->n > 0 && c->fails == 0 ? "" : bx_cell_status(c));
            if (c->note[0] != '\0')
                (void) fprintf(f, "%s", c->n > 0 && c->fails == 0 ? "" : ": ");
            for (const char *p = c->note; *p; p++) {
                if (*p == '|')
                    (void) fputs("\\|", f);
                else
                    (void) fputc(*p, f);
            }
            (void) fprintf(f, " |\n");
        } else {
            (void) fprintf(f, "%-14s %-12s %-5s %-7s %-7s %-6s %9s %9s %9s %9s %7s %7s  %s%s%s\n",
                           bx_metric_names[c->metric], shape, bx_pin_names[c->pin], c->be->scheme,
                           c->variant, bx_cell_unit(c), med, p99, mn, mx, ratio, vp,
                           c->n > 0 && c->fails == 0 ? "" : bx_cell_status(c),
                           c->note[0] && !(c->n > 0 && c->fails == 0) ? ": " : "", c->note);
        }
    }
}

/* One line per cell, tab-separated, for the plotting script. */
static void
write_tsv(FILE *f, const struct bx_cells *t)
{
    (void) fprintf(f, "#metric\tsize\tpin\tproducers\tconsumers\tbackend\tvariant\tunit\tmedian"
                      "\tp99\tmin\tmax\tratio\tvs_pipe\tstatus\n");
    for (size_t k = 0; k < t->n; k++) {
        const struct bx_cell *c = &t->v[k];
        (void) fprintf(f, "%s\t%zu\t%s\t%d\t%d\t%s\t%s\t%s\t%.6g\t%.6g\t%.6g\t%.6g\t%.4g\t%.4g\t%s\n",
                       bx_metric_names[c->metric], c->size, bx_pin_names[c->pin], c->producers,
                       c->consumers, c->be->scheme, c->variant, bx_cell_unit(c),
                       c->n ? c->median : NAN, c->n ? c->p99 : NAN, c->n ? c->min : NAN,
                       c->n ? c->max : NAN, bx_cell_ratio(t, c), bx_cell_vs_pipe(t, c), bx_cell_status(c));
    }
}

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
        shape_label(shape, sizeof shape, c);
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

static FILE *
open_out(const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (f == NULL) {
        (void) fprintf(stderr, "ipckit-bench: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    return f;
}

static void
close_out(FILE *f)
{
    if (f != stdout && fclose(f) != 0)
        (void) fprintf(stderr, "ipckit-bench: write failed: %s\n", strerror(errno));
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
    command_save(command_line, argc, argv);
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
    memset(&machine, 0, sizeof machine);
    machine_read(&machine);
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
    read_line("/proc/loadavg", NULL, machine.load1, sizeof machine.load1);

    failed = bx_cells_summarise(&cells);
    if (opt.json != NULL) {
        FILE *f = open_out(opt.json);
        write_json(f, &opt, &machine, command_line, &cells);
        close_out(f);
    }
    if (opt.tsv != NULL) {
        FILE *f = open_out(opt.tsv);
        write_tsv(f, &cells);
        close_out(f);
    }
    if (opt.markdown != NULL) {
        FILE *f = open_out(opt.markdown);
        write_table(f, &cells, true);
        close_out(f);
    }
    if (opt.json == NULL || strcmp(opt.json, "-") != 0) {
        (void) printf("ipckit %s, %ld CPUs, %s, %s; load %s -> %s\n", ipckit_version_string(),
                      machine.nproc, machine.cpu, machine.kernel, machine.load0, machine.load1);
        (void) printf("rtt: round trip of one message, microseconds; tput/scale: one way;"
                      " ratio = ipckit/raw (rtt: lower is better, others: higher)\n");
        (void) printf("command: %s\n", command_line);
        (void) printf("raw halves:");
        for (size_t k = 0; k < bx_nbackends; k++)
            if (opt.backend_on[k])
                (void) printf(" %s = %s;", bx_backends[k].scheme, bx_backends[k].raw_what);
        (void) printf("\n");
        write_table(stdout, &cells, false);
    }
    bx_cells_free(&cells);
    return failed ? 1 : 0;
}
