/*
 * ipckit-bench: the output. The machine, the command line and the base
 * library (--base) the results come from, and the cells written as a text
 * table, Markdown, JSON or tab-separated lines.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <ipckit/ipckit.h>

#include "bench.h"

#define BX_JSON_VERSION 1

/* ---- JSON values --------------------------------------------------------- */

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

/* ---- the machine and the command line the results come from -------------- */

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

void
bx_machine_read(struct bx_machine *m)
{
    struct utsname u;
    time_t t = time(NULL);
    struct tm tm;
    memset(m, 0, sizeof *m);
    m->nproc = sysconf(_SC_NPROCESSORS_ONLN);
    read_line("/proc/cpuinfo", "model name", m->cpu, sizeof m->cpu);
    if (uname(&u) == 0)
        (void) snprintf(m->kernel, sizeof m->kernel, "%s %s %s", u.sysname, u.release,
                        u.machine);
    read_line("/proc/loadavg", NULL, m->load0, sizeof m->load0);
    (void) gmtime_r(&t, &tm);
    (void) strftime(m->date, sizeof m->date, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void
bx_machine_read_end(struct bx_machine *m)
{
    read_line("/proc/loadavg", NULL, m->load1, sizeof m->load1);
}

void
bx_command_save(char *command_line, int argc, char **argv)
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

/* ---- JSON ---------------------------------------------------------------- */

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
    (void) fprintf(f, "},\n  \"base\": ");
    if (bx_base_path() != NULL) {
        (void) fprintf(f, "{\"path\": ");
        json_str(f, bx_base_path());
        (void) fprintf(f, ", \"ipckit\": ");
        json_str(f, bx_base_version());
        (void) fprintf(f, "}");
    } else {
        (void) fprintf(f, "null");
    }
    (void) fprintf(f, ",\n  \"config\": {\"reps\": %d, \"rtt_count\": %lu, \"count\": %lu,"
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
        json_num(f, "vs_base", bx_cell_vs_base(t, c), true);
        (void) fprintf(f, "\"note\": ");
        json_str(f, c->note);
        (void) fprintf(f, "}%s\n", k + 1 < t->n ? "," : "");
    }
    (void) fprintf(f, "  ]\n}\n");
}

/* ---- the table (text or Markdown) and tab-separated lines ---------------- */

static void
size_label(char *buf, size_t cap, size_t size)
{
    if (size >= 1024 && size % 1024 == 0)
        (void) snprintf(buf, cap, "%zu KiB", size / 1024);
    else
        (void) snprintf(buf, cap, "%zu B", size);
}

void
bx_shape_label(char *buf, size_t cap, const struct bx_cell *c)
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

/* The text table and the Markdown one; with @p base, the column "vs.base"
 * (Markdown: "ipckit/base"). */
static void
write_table(FILE *f, const struct bx_cells *t, bool markdown, bool base)
{
    int vw = 7;   /* the variant column: as wide as its longest name */
    for (size_t k = 0; k < t->n; k++)
        if ((int) strlen(t->v[k].variant) > vw)
            vw = (int) strlen(t->v[k].variant);
    if (markdown)
        (void) fprintf(f, "| metric | shape | pin | backend | variant | unit | median | p99 |"
                          " min | max | ipckit/raw | vs raw pipe |%s runs | note |\n"
                          "|---|---|---|---|---|---|--:|--:|--:|--:|--:|--:|%s--:|---|\n",
                       base ? " ipckit/base |" : "", base ? "--:|" : "");
    else
        (void) fprintf(f, "%-14s %-12s %-5s %-7s %-*s %-6s %9s %9s %9s %9s %7s %7s%s  %s\n",
                       "metric", "shape", "pin", "backend", vw, "variant", "unit", "median",
                       "p99", "min", "max", "ratio", "vs.pipe", base ? " vs.base" : "", "note");
    for (size_t k = 0; k < t->n; k++) {
        const struct bx_cell *c = &t->v[k];
        char shape[48], med[24] = "-", p99[24] = "-", mn[24] = "-", mx[24] = "-",
                         ratio[16] = "-", vp[16] = "-", vb[16] = "-";
        double rt = bx_cell_ratio(t, c), vsp = bx_cell_vs_pipe(t, c),
               vsb = bx_cell_vs_base(t, c);
        bx_shape_label(shape, sizeof shape, c);
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
        if (!isnan(vsb))
            (void) snprintf(vb, sizeof vb, "%.2f", vsb);
        if (markdown) {
            (void) fprintf(f, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |",
                           bx_metric_names[c->metric], shape, bx_pin_names[c->pin], c->be->scheme,
                           c->variant, bx_cell_unit(c), med, p99, mn, mx, ratio, vp);
            if (base)
                (void) fprintf(f, " %s |", vb);
            (void) fprintf(f, " %d | %s", c->runs,
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
            char vbcol[24] = "";
            if (base)
                (void) snprintf(vbcol, sizeof vbcol, " %7s", vb);
            (void) fprintf(f, "%-14s %-12s %-5s %-7s %-*s %-6s %9s %9s %9s %9s %7s %7s%s  %s%s%s\n",
                           bx_metric_names[c->metric], shape, bx_pin_names[c->pin], c->be->scheme,
                           vw, c->variant, bx_cell_unit(c), med, p99, mn, mx, ratio, vp, vbcol,
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
                      "\tp99\tmin\tmax\tratio\tvs_pipe\tstatus\tvs_base\n");
    for (size_t k = 0; k < t->n; k++) {
        const struct bx_cell *c = &t->v[k];
        (void) fprintf(f, "%s\t%zu\t%s\t%d\t%d\t%s\t%s\t%s\t%.6g\t%.6g\t%.6g\t%.6g\t%.4g\t%.4g\t%s"
                          "\t%.4g\n",
                       bx_metric_names[c->metric], c->size, bx_pin_names[c->pin], c->producers,
                       c->consumers, c->be->scheme, c->variant, bx_cell_unit(c),
                       c->n ? c->median : NAN, c->n ? c->p99 : NAN, c->n ? c->min : NAN,
                       c->n ? c->max : NAN, bx_cell_ratio(t, c), bx_cell_vs_pipe(t, c),
                       bx_cell_status(c), bx_cell_vs_base(t, c));
    }
}

/* ---- the outputs --------------------------------------------------------- */

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

/* The outputs the options ask for: --json, --tsv, --markdown, and the
 * table on stdout unless the JSON goes there. */
void
bx_report(const struct bx_opts *o, const struct bx_machine *m, const char *command,
          const struct bx_cells *t)
{
    if (o->json != NULL) {
        FILE *f = open_out(o->json);
        write_json(f, o, m, command, t);
        close_out(f);
    }
    if (o->tsv != NULL) {
        FILE *f = open_out(o->tsv);
        write_tsv(f, t);
        close_out(f);
    }
    if (o->markdown != NULL) {
        FILE *f = open_out(o->markdown);
        write_table(f, t, true, o->base != NULL);
        close_out(f);
    }
    if (o->json == NULL || strcmp(o->json, "-") != 0) {
        (void) printf("ipckit %s, %ld CPUs, %s, %s; load %s -> %s\n", ipckit_version_string(),
                      m->nproc, m->cpu, m->kernel, m->load0, m->load1);
        (void) printf("rtt: round trip of one message, microseconds; tput/scale: one way;"
                      " ratio = ipckit/raw (rtt: lower is better, others: higher)\n");
        if (o->base != NULL)
            (void) printf("base: ipckit %s, %s; vs.base = ipckit/base, zerocopy/base-zerocopy,"
                          " claimed/base-claimed (rtt: below 1 is faster than base, others:"
                          " above 1)\n",
                          bx_base_version(), bx_base_path());
        (void) printf("command: %s\n", command);
        (void) printf("raw halves:");
        for (size_t k = 0; k < bx_nbackends; k++)
            if (o->backend_on[k])
                (void) printf(" %s = %s;", bx_backends[k].scheme, bx_backends[k].raw_what);
        (void) printf("\n");
        write_table(stdout, t, false, o->base != NULL);
    }
}
