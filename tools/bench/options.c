/*
 * ipckit-bench: the command line. Reads the options into a struct bx_opts,
 * with the defaults, checks them, and prints --help. Whatever is wrong
 * with the command line ends the program with exit status 2.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

const char *const bx_metric_names[M_COUNT] = { "rtt", "tput", "scale", "idle_cpu",
                                               "idle_cpu_timed" };
const char *const bx_pin_names[PIN_COUNT] = { "none", "same", "split" };

static void
usage(FILE *f)
{
    (void) fprintf(f,
        "usage: ipckit-bench [options]      (also: ipckit bench [options])\n"
        "Measures each ipckit backend against its raw kernel mechanism, interleaved.\n"
        "  -b, --backends=LIST   backends (default all):");
    for (size_t k = 0; k < bx_nbackends; k++)
        (void) fprintf(f, " %s", bx_backends[k].scheme);
    for (size_t k = 0; k < bx_nbackends; k++)
        if (strcmp(bx_backends[k].scheme, "nats") == 0)
            (void) fprintf(f, "\n                        (but nats, at network speed, only when named)");
    (void) fprintf(f,
        "\n"
        "  -m, --metrics=LIST    rtt,tput,scale,idle (default all)\n"
        "  -V, --variants=LIST   raw,ipckit,zerocopy,claimed,base,base-zerocopy,base-claimed,\n"
        "                        nng,zmq (default all); nng and zmq need a build with\n"
        "                        -DIPCKIT_BENCH_PEERS=ON, the base ones --base\n"
        "      --base=PATH       also run the ipckit variants through another build of\n"
        "                        libipckit (such as an older release's libipckit.so.0.1.0):\n"
        "                        the variants base, base-zerocopy and base-claimed\n"
        "  -s, --sizes=LIST      one-way message sizes in bytes (default 64,4096,65536)\n"
        "  -n, --count=N         64-byte one-way messages per run (default 200000);\n"
        "                        larger sizes send N*512/size messages\n"
        "      --rtt-count=N     round trips per run (default 20000)\n"
        "      --scale-count=N   messages per producers x consumers run (default 100000)\n"
        "      --scale=LIST      producers x consumers shapes (default 1x1,3x2,4x4)\n"
        "  -r, --reps=N          repetitions, interleaved (default 3)\n"
        "  -p, --pin=LIST        CPU placement: none, same (both sides on one CPU),\n"
        "                        split (senders on one CPU, receivers on another);\n"
        "                        several are measured in turn (default none)\n"
        "      --cpus=A,B        the CPUs for same/split (default: first two allowed)\n"
        "      --idle-ms=MS      how long the idle receiver waits (default 1000)\n"
        "      --timeout=S       abort a run after S seconds (default 120)\n"
        "      --quick           tiny counts and one repetition (a smoke test)\n"
        "      --long            ten times the counts and 5 repetitions\n"
        "      --json[=FILE]     results as JSON (on stdout when no FILE)\n"
        "      --tsv=FILE        results as tab-separated lines (for plotting)\n"
        "      --markdown=FILE   the table in Markdown\n"
        "      --sigpipe=WHAT    SIGPIPE in the measured processes: ignore (default;\n"
        "                        a dead peer fails the run) or default (a program\n"
        "                        that never touched it; fifo: then guards each send)\n"
        "      --no-progress     no progress line on a terminal\n"
        "      --selftest        check that a damaged message makes a run fail\n"
        "  -h, --help            this text\n"
        "Exit status: 0 when every run that was not skipped verified; 1 otherwise; 2 usage\n"
        "(also a variant or backend this program was built without, or a selection that\n"
        "matches no run).\n");
}

static int
parse_list(char *arg, const char *const *names, size_t n, bool *on, size_t stride)
{
    for (size_t k = 0; k < n; k++)
        *(bool *) ((char *) on + k * stride) = false;
    for (char *tok = strtok(arg, ","); tok != NULL; tok = strtok(NULL, ",")) {
        size_t k;
        for (k = 0; k < n; k++)
            if (strcmp(tok, names[k]) == 0)
                break;
        if (k == n) {
            (void) fprintf(stderr, "ipckit-bench: unknown item \"%s\"\n", tok);
            return -1;
        }
        *(bool *) ((char *) on + k * stride) = true;
    }
    return 0;
}

/*
 * When @p tok names a peer library (nng, zmq) that this program was built
 * without, say so, and how to build it in, and return true. A run without
 * it would measure nothing and print an empty table.
 */
static bool
peer_missing(const char *what, const char *tok)
{
    bool nng = strcmp(tok, "nng") == 0;
    if (!nng && strcmp(tok, "zmq") != 0)
        return false;
    for (size_t k = 0; k < bx_nbackends; k++)
        if (bx_backends[k].peer && strcmp(bx_backends[k].scheme, tok) == 0)
            return false;
    (void) fprintf(stderr,
                   "ipckit-bench: %s \"%s\": the peers were not built into this ipckit-bench;"
                   " configure with -DIPCKIT_BENCH_PEERS=ON, with %s installed, and build"
                   " again\n",
                   what, tok, nng ? "libnng-dev" : "libzmq3-dev");
    return true;
}

/* Check a --variants list: known names only, and no peer that is not built. */
static int
check_variants(const char *list)
{
    static const char *const known[] = { "raw",  "ipckit",        "zerocopy",     "claimed",
                                         "base", "base-zerocopy", "base-claimed", "nng",
                                         "zmq" };
    char copy[BX_VARIANTS_MAX];
    (void) snprintf(copy, sizeof copy, "%s", list);
    for (char *tok = strtok(copy, ","); tok != NULL; tok = strtok(NULL, ",")) {
        size_t k;
        for (k = 0; k < sizeof known / sizeof known[0]; k++)
            if (strcmp(tok, known[k]) == 0)
                break;
        if (k == sizeof known / sizeof known[0]) {
            (void) fprintf(stderr,
                           "ipckit-bench: unknown variant \"%s\" (raw, ipckit, zerocopy, claimed,"
                           " base, base-zerocopy, base-claimed, nng, zmq)\n",
                           tok);
            return -1;
        }
        if (peer_missing("variant", tok))
            return -1;
    }
    return 0;
}

/* The base variants need --base: false, with the first one of a --variants
 * list in @p name, when the list names one. */
static bool
base_variant_named(const char *list, char *name, size_t cap)
{
    char copy[BX_VARIANTS_MAX];
    (void) snprintf(copy, sizeof copy, "%s", list);
    for (char *tok = strtok(copy, ","); tok != NULL; tok = strtok(NULL, ","))
        if (strcmp(tok, bx_base.name) == 0 || strcmp(tok, bx_base_zc.name) == 0 ||
            strcmp(tok, bx_base_claimed.name) == 0) {
            (void) snprintf(name, cap, "%s", tok);
            return true;
        }
    return false;
}

/* Check a --backends list for peers that are not built (parse_list() does the rest). */
static int
check_backends(const char *list)
{
    char copy[512];
    if (strlen(list) >= sizeof copy)
        return 0; /* parse_list() judges it */
    (void) snprintf(copy, sizeof copy, "%s", list);
    for (char *tok = strtok(copy, ","); tok != NULL; tok = strtok(NULL, ","))
        if (peer_missing("backend", tok))
            return -1;
    return 0;
}

static unsigned long
parse_count(const char *s)
{
    char *end;
    unsigned long v;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v == 0) {
        (void) fprintf(stderr, "ipckit-bench: bad number \"%s\"\n", s);
        exit(2);
    }
    return v;
}

void
bx_options_default(struct bx_opts *o)
{
    cpu_set_t set;
    int found = 0;
    memset(o, 0, sizeof *o);
    /* nats: moves a message in network round trips: only when asked for */
    for (size_t k = 0; k < bx_nbackends; k++)
        o->backend_on[k] = strcmp(bx_backends[k].scheme, "nats") != 0;
    for (int k = 0; k < M_COUNT; k++)
        o->metric_on[k] = true;
    o->sizes[0] = 64;
    o->sizes[1] = 4096;
    o->sizes[2] = 65536;
    o->nsizes = 3;
    o->rtt_size = 64;
    o->rtt_count = 20000;
    o->count = 200000;
    o->scale_count = 100000;
    o->reps = 3;
    o->scale_p[0] = 1, o->scale_c[0] = 1;
    o->scale_p[1] = 3, o->scale_c[1] = 2;
    o->scale_p[2] = 4, o->scale_c[2] = 4;
    o->nscale = 3;
    o->pin_on[PIN_NONE] = true;
    o->idle_ms = 1000;
    o->timeout_s = 120;
    o->cpu_a = 0;
    o->cpu_b = 1;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        for (size_t c = 0; c < CPU_SETSIZE && found < 2; c++)
            if (CPU_ISSET(c, &set)) {
                if (found++ == 0)
                    o->cpu_a = o->cpu_b = (int) c;
                else
                    o->cpu_b = (int) c;
            }
    }
    o->progress = isatty(STDERR_FILENO);
}

void
bx_options_parse(struct bx_opts *o, int argc, char **argv)
{
    enum { O_RTT = 256, O_SCALEN, O_SCALE, O_CPUS, O_IDLE, O_TIMEOUT, O_QUICK, O_LONG, O_JSON,
           O_TSV, O_MD, O_NOPROG, O_SELF, O_SIGPIPE, O_BASE };
    static const struct option opts[] = {
        { "backends", required_argument, NULL, 'b' },
        { "metrics", required_argument, NULL, 'm' },
        { "variants", required_argument, NULL, 'V' },
        { "sizes", required_argument, NULL, 's' },
        { "count", required_argument, NULL, 'n' },
        { "rtt-count", required_argument, NULL, O_RTT },
        { "scale-count", required_argument, NULL, O_SCALEN },
        { "scale", required_argument, NULL, O_SCALE },
        { "reps", required_argument, NULL, 'r' },
        { "pin", required_argument, NULL, 'p' },
        { "cpus", required_argument, NULL, O_CPUS },
        { "idle-ms", required_argument, NULL, O_IDLE },
        { "timeout", required_argument, NULL, O_TIMEOUT },
        { "quick", no_argument, NULL, O_QUICK },
        { "long", no_argument, NULL, O_LONG },
        { "json", optional_argument, NULL, O_JSON },
        { "tsv", required_argument, NULL, O_TSV },
        { "markdown", required_argument, NULL, O_MD },
        { "no-progress", no_argument, NULL, O_NOPROG },
        { "selftest", no_argument, NULL, O_SELF },
        { "sigpipe", required_argument, NULL, O_SIGPIPE },
        { "base", required_argument, NULL, O_BASE },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static const char *const metric_opts[] = { "rtt", "tput", "scale", "idle" };
    const char *backend_names[32];
    char name[32];
    int c;

    for (size_t k = 0; k < bx_nbackends; k++)
        backend_names[k] = bx_backends[k].scheme;
    /* "ipckit bench ARGS" may hand its subcommand word along. */
    if (argc > 1 && strcmp(argv[1], "bench") == 0) {
        argv[1] = argv[0];
        argv++;
        argc--;
    }
    while ((c = getopt_long(argc, argv, "b:m:V:s:n:r:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (check_backends(optarg) < 0 ||
                parse_list(optarg, backend_names, bx_nbackends, o->backend_on, sizeof(bool)) < 0)
                exit(2);
            break;
        case 'm': {
            bool on[4];
            if (parse_list(optarg, metric_opts, 4, on, sizeof(bool)) < 0)
                exit(2);
            o->metric_on[M_RTT] = on[0];
            o->metric_on[M_TPUT] = on[1];
            o->metric_on[M_SCALE] = on[2];
            o->metric_on[M_IDLE] = o->metric_on[M_IDLE_TIMED] = on[3];
            break;
        }
        case 'V':
            if (strlen(optarg) >= sizeof o->variants) {
                (void) fprintf(stderr, "ipckit-bench: --variants list too long\n");
                exit(2);
            }
            if (check_variants(optarg) < 0)
                exit(2);
            memcpy(o->variants, optarg, strlen(optarg) + 1);
            break;
        case 's':
            o->nsizes = 0;
            for (char *tok = strtok(optarg, ","); tok != NULL; tok = strtok(NULL, ",")) {
                if (o->nsizes == 8) {
                    (void) fprintf(stderr, "ipckit-bench: at most 8 sizes\n");
                    exit(2);
                }
                o->sizes[o->nsizes] = parse_count(tok);
                if (o->sizes[o->nsizes] < 8 || o->sizes[o->nsizes] > (64u << 20)) {
                    (void) fprintf(stderr, "ipckit-bench: sizes are 8 bytes .. 64 MiB\n");
                    exit(2);
                }
                o->nsizes++;
            }
            break;
        case 'n':
            o->count = parse_count(optarg);
            break;
        case O_RTT:
            o->rtt_count = parse_count(optarg);
            break;
        case O_SCALEN:
            o->scale_count = parse_count(optarg);
            break;
        case O_SCALE:
            o->nscale = 0;
            for (char *tok = strtok(optarg, ","); tok != NULL; tok = strtok(NULL, ",")) {
                int p, q;
                if (o->nscale == 8 || sscanf(tok, "%dx%d", &p, &q) != 2 || p < 1 || q < 1 ||
                    p + q > BX_MAXPROC) {
                    (void) fprintf(stderr, "ipckit-bench: bad shape \"%s\" (PxC, P+C <= %d)\n",
                                   tok, BX_MAXPROC);
                    exit(2);
                }
                o->scale_p[o->nscale] = p;
                o->scale_c[o->nscale++] = q;
            }
            break;
        case 'r':
            o->reps = (int) parse_count(optarg);
            break;
        case 'p':
            if (parse_list(optarg, bx_pin_names, PIN_COUNT, o->pin_on, sizeof(bool)) < 0)
                exit(2);
            break;
        case O_CPUS:
            if (sscanf(optarg, "%d,%d", &o->cpu_a, &o->cpu_b) != 2 || o->cpu_a < 0 ||
                o->cpu_b < 0 || o->cpu_a >= CPU_SETSIZE || o->cpu_b >= CPU_SETSIZE) {
                (void) fprintf(stderr, "ipckit-bench: --cpus=A,B\n");
                exit(2);
            }
            break;
        case O_IDLE:
            o->idle_ms = (int) parse_count(optarg);
            break;
        case O_TIMEOUT:
            o->timeout_s = (unsigned) parse_count(optarg);
            break;
        case O_QUICK:
            o->rtt_count = 300;
            o->count = 3000;
            o->scale_count = 2000;
            o->reps = 1;
            o->idle_ms = 200;
            break;
        case O_LONG:
            o->rtt_count *= 10;
            o->count *= 10;
            o->scale_count *= 10;
            o->reps = 5;
            break;
        case O_JSON:
            o->json = optarg ? optarg : "-";
            break;
        case O_TSV:
            o->tsv = optarg;
            break;
        case O_MD:
            o->markdown = optarg;
            break;
        case O_NOPROG:
            o->progress = false;
            break;
        case O_SELF:
            o->selftest = true;
            break;
        case O_SIGPIPE:
            if (strcmp(optarg, "ignore") != 0 && strcmp(optarg, "default") != 0) {
                (void) fprintf(stderr, "ipckit-bench: --sigpipe=ignore or --sigpipe=default\n");
                exit(2);
            }
            o->sigpipe_default = strcmp(optarg, "default") == 0;
            break;
        case O_BASE:
            if (optarg[0] == '\0') {
                (void) fprintf(stderr, "ipckit-bench: --base=PATH of a libipckit\n");
                exit(2);
            }
            o->base = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            exit(2);
        }
    }
    if (optind < argc) {
        (void) fprintf(stderr, "ipckit-bench: unexpected argument \"%s\"\n", argv[optind]);
        exit(2);
    }
    if (o->base == NULL && base_variant_named(o->variants, name, sizeof name)) {
        (void) fprintf(stderr, "ipckit-bench: variant \"%s\" needs --base=PATH, the other"
                               " libipckit to run it with\n",
                       name);
        exit(2);
    }
}
