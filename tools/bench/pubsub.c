/*
 * ipckit-bench --pubsub: publish/subscribe in one run, interleaved:
 * ipckit's broadcast ring (shm:NAME?bcast=wait, copying and zero-copy)
 * against Eclipse iceoryx 2.0 through its C binding (pubsub_iox.c; its
 * RouDi daemon is started and stopped here), when the benchmark was built
 * with it.
 *
 *  - round trip: one publisher and one subscriber each way, ping-pong over
 *    two topics, 64-byte messages; iceoryx spinning on take and waiting in
 *    a waitset; the median of the per-message times;
 *  - throughput: one publisher, 1 and 4 subscribers, 64 B and 64 KiB,
 *    lossless (ipckit: wait mode; iceoryx: WAIT_FOR_CONSUMER and
 *    BLOCK_PRODUCER, queues of 256 both), messages per second that each
 *    subscriber receives; every subscriber checks every sequence number.
 *
 * Every process is a fork of the benchmark. The two of a round trip are
 * pinned to two different CPUs (the first two the benchmark may use), as
 * a round trip "across two CPUs" is meant: left to the scheduler on a busy
 * machine, both often share one CPU, and a round trip is then two context
 * switches whatever the transport. Throughput runs are not pinned. Each
 * repetition runs every (measure, transport) once, in the same order.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ipckit/ipckit.h>

#include "pubsub.h"

#define PS_SLOTS 256
#define PS_MAXSUBS 4
#define PS_WAIT_S 30

static double
ps_now(void)
{
    struct timespec t;
    (void) clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + (double) t.tv_nsec * 1e-9;
}

/* ---- ipckit's broadcast ring --------------------------------------------- */

struct ipx {
    ipckit_channel *ch;
    char name[128];
    unsigned char *buf;
    bool zc;
};

static struct ps_env *ipx_env;

static void
ipx_name(char *buf, size_t cap, const char *topic)
{
    (void) snprintf(buf, cap, "shm:ipckit-bench-ps.%ld.%s?bcast=wait", (long) getppid(), topic);
}

static void *
ipx_open(const char *topic, size_t size, unsigned flags, bool zc)
{
    struct ipx *x = calloc(1, sizeof *x);
    ipckit_opts o = IPCKIT_OPTS_INIT;
    int rc;
    if (x == NULL)
        return NULL;
    o.capacity = PS_SLOTS;
    o.max_msg_size = size;
    x->zc = zc;
    ipx_name(x->name, sizeof x->name, topic);
    x->buf = calloc(1, size);
    for (int k = 0; k < 10000; k++) {
        rc = ipckit_open(&x->ch, x->name, flags, &o);
        if (rc != -ENOENT)
            break;
        (void) usleep(1000);
    }
    if (rc < 0 || x->buf == NULL) {
        (void) fprintf(stderr, "ipckit-bench: open %s: %s (%s)\n", x->name, ipckit_errname(rc),
                       ipckit_error_detail());
        free(x->buf);
        free(x);
        return NULL;
    }
    return x;
}

static void *
ipx_open_pub(const char *topic, size_t size)
{
    return ipx_open(topic, size, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, false);
}

static void *
ipx_open_sub(const char *topic, size_t size)
{
    return ipx_open(topic, size, IPCKIT_RECV, false);
}

static void *
ipx_open_pub_zc(const char *topic, size_t size)
{
    return ipx_open(topic, size, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, true);
}

static void *
ipx_open_sub_zc(const char *topic, size_t size)
{
    return ipx_open(topic, size, IPCKIT_RECV, true);
}

static bool
ipx_has_subs(void *pub, int n)
{
    (void) pub;
    (void) n;
    return true; /* a subscriber is registered when its open returns */
}

static bool
ipx_joined(void *sub)
{
    (void) sub;
    return true;
}

static int
ipx_publish(void *pub, uint64_t seq, size_t size)
{
    struct ipx *x = pub;
    unsigned char *p = x->buf;
    if (x->zc && ipckit_send_loan(x->ch, size, (void **) &p, -1) < 0)
        return -1;
    memcpy(p, &seq, 8);
    memcpy(p + size - 8, &seq, 8);
    if (x->zc)
        return ipckit_send_commit(x->ch, 1, size);
    return ipckit_send(x->ch, p, size, -1);
}

static int
ipx_receive(void *sub, uint64_t *seq, size_t size)
{
    struct ipx *x = sub;
    const unsigned char *p = x->buf;
    uint64_t tail;
    ssize_t n;
    long type;
    if (x->zc)
        n = ipckit_recv_borrow(x->ch, &type, (const void **) &p, -1);
    else
        n = ipckit_recv(x->ch, x->buf, size, -1);
    if (n != (ssize_t) size)
        return -1;
    memcpy(seq, p, 8);
    memcpy(&tail, p + size - 8, 8);
    if (x->zc && ipckit_recv_release(x->ch) < 0)
        return -1;
    return tail == *seq ? 0 : -1;
}

static void
ipx_close(void *ep, bool unlink_it)
{
    struct ipx *x = ep;
    if (x == NULL)
        return;
    (void) ipckit_close(x->ch);
    if (unlink_it)
        (void) ipckit_unlink(x->name);
    free(x->buf);
    free(x);
}

static void
ipx_close_pub(void *pub)
{
    ipx_close(pub, true);
}

static void
ipx_close_sub(void *sub)
{
    ipx_close(sub, false);
}

static int
ipx_start(struct ps_env *env, char *err, size_t cap)
{
    (void) err;
    (void) cap;
    ipx_env = env;
    return 0;
}

static void
ipx_nothing(void)
{
}

static void
ipx_child(const char *proc)
{
    (void) proc;
}

static void
ipx_stop(struct ps_env *env)
{
    (void) env;
}

static const struct ps_xport ps_ipckit = {
    "ipckit",      ipx_start,    ipx_stop,     ipx_child,   ipx_nothing,   ipx_open_pub,
    ipx_open_sub,  ipx_has_subs, ipx_joined,   ipx_publish, ipx_receive,   ipx_close_pub,
    ipx_close_sub,
};

static const struct ps_xport ps_ipckit_zc = {
    "ipckit zero-copy", ipx_start,       ipx_stop,   ipx_child,   ipx_nothing,   ipx_open_pub_zc,
    ipx_open_sub_zc,    ipx_has_subs,    ipx_joined, ipx_publish, ipx_receive,   ipx_close_pub,
    ipx_close_sub,
};

/* ---- the runs ------------------------------------------------------------ */

struct ps_shared {
    _Atomic int pubs_up, subs_up, done, failed;
    double t_start, t_end[PS_MAXSUBS];
    char why[256];
};

static struct ps_shared *sh;
static double *samples;
static unsigned long samples_cap;

static void
ps_fail(const char *fmt, const char *what)
{
    if (atomic_fetch_add(&sh->failed, 1) == 0)
        (void) snprintf(sh->why, sizeof sh->why, fmt, what);
}

/* Count one more in *v and wake its waiters. */
static void
ps_bump(_Atomic int *v)
{
    atomic_fetch_add(v, 1);
    (void) syscall(SYS_futex, (int *) v, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Wait until *v reaches @p n (bounded); 0, or -1 after PS_WAIT_S. It
 * sleeps on the word: a waiter that polled would take the CPU from the
 * processes being measured now and then. */
static int
ps_await(_Atomic int *v, int n)
{
    double end = ps_now() + PS_WAIT_S;
    int seen;
    while ((seen = atomic_load(v)) < n) {
        struct timespec tick = { 0, 100000000L };
        if (ps_now() > end || atomic_load(&sh->failed))
            return -1;
        (void) syscall(SYS_futex, (int *) v, FUTEX_WAIT, seen, &tick, NULL, 0);
    }
    return 0;
}

/* Reap the processes of a run (SIGCHLD blocked: the parent sleeps until
 * one ends rather than polling). */
/* SIGINT, SIGTERM or SIGHUP: the run in progress is stopped, the others
 * are not started, and the program removes iox-roudi and its directory
 * before it exits. */
static volatile sig_atomic_t ps_stop;

static void
ps_on_signal(int sig)
{
    ps_stop = sig;
}

/* In a process of a run, just after fork(): the default dispositions, and
 * death with the benchmark (a run left alone would wait for its peers). */
static void
ps_child_setup(pid_t parent)
{
    (void) signal(SIGINT, SIG_DFL);
    (void) signal(SIGTERM, SIG_DFL);
    (void) signal(SIGHUP, SIG_DFL);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(1);
}

static int
ps_reap(pid_t *pids, int n)
{
    int bad = 0;
    double end = ps_now() + 300;
    sigset_t chld;
    (void) sigemptyset(&chld);
    (void) sigaddset(&chld, SIGCHLD);
    for (int i = 0; i < n; i++) {
        int st = 0;
        pid_t r;
        while ((r = waitpid(pids[i], &st, WNOHANG)) == 0 && ps_now() < end && !ps_stop) {
            struct timespec tick = { 1, 0 };
            (void) sigtimedwait(&chld, NULL, &tick);
        }
        if (r == 0) {
            (void) kill(pids[i], SIGKILL);
            (void) waitpid(pids[i], &st, 0);
            if (ps_stop)
                ps_fail("%s: stopped by a signal", "run");
            else
                ps_fail("%s: a process of the run hung", "run");
            bad = 1;
        } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            bad = 1;
        }
    }
    return bad;
}

struct ps_job {
    const struct ps_xport *x;
    int rtt; /* 1: round trip; 0: throughput */
    size_t size;
    int subs;
    unsigned long count;
    unsigned run;
};

static void
ps_topic(char *buf, size_t cap, const struct ps_job *j, const char *what)
{
    (void) snprintf(buf, cap, "r%u.%s", j->run, what);
}

static int
tput_pub(const struct ps_job *j)
{
    char topic[64], proc[64];
    void *pub;
    (void) snprintf(proc, sizeof proc, "ipb-pub-%ld", (long) getpid());
    j->x->child_init(proc);
    ps_topic(topic, sizeof topic, j, "data");
    pub = j->x->open_pub(topic, j->size);
    if (pub == NULL) {
        ps_fail("%s: the publisher could not open", j->x->name);
        return 1;
    }
    ps_bump(&sh->pubs_up);
    if (ps_await(&sh->subs_up, j->subs) == 0) {
        double end = ps_now() + PS_WAIT_S;
        while (!j->x->has_subs(pub, j->subs) && ps_now() < end)
            (void) usleep(200);
        sh->t_start = ps_now();
        for (uint64_t s = 0; s < j->count; s++)
            if (j->x->publish(pub, s, j->size) < 0) {
                ps_fail("%s: publish failed", j->x->name);
                break;
            }
        (void) ps_await(&sh->done, j->subs);
    }
    j->x->close_pub(pub);
    j->x->child_fini();
    return 0;
}

static int
tput_sub(const struct ps_job *j, int id)
{
    char topic[64], proc[64];
    void *sub;
    uint64_t seq;
    (void) snprintf(proc, sizeof proc, "ipb-sub-%ld", (long) getpid());
    if (ps_await(&sh->pubs_up, 1) < 0)
        return 1;
    j->x->child_init(proc);
    ps_topic(topic, sizeof topic, j, "data");
    sub = j->x->open_sub(topic, j->size);
    if (sub == NULL) {
        ps_fail("%s: a subscriber could not open", j->x->name);
        j->x->child_fini();
        return 1;
    }
    {
        double end = ps_now() + PS_WAIT_S;
        while (!j->x->joined(sub) && ps_now() < end)
            (void) usleep(200);
    }
    ps_bump(&sh->subs_up);
    for (uint64_t s = 0; s < j->count; s++)
        if (j->x->receive(sub, &seq, j->size) < 0 || seq != s) {
            ps_fail("%s: a message was lost, repeated or torn", j->x->name);
            break;
        }
    sh->t_end[id] = ps_now();
    ps_bump(&sh->done);
    j->x->close_sub(sub);
    j->x->child_fini();
    return 0;
}

/* Run on the @p k-th CPU this process may use (nothing when there is no
 * such CPU). */
static void
ps_pin(int k)
{
    cpu_set_t all, one;
    if (sched_getaffinity(0, sizeof all, &all) < 0)
        return;
    for (size_t c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &all) && k-- == 0) {
            CPU_ZERO(&one);
            CPU_SET(c, &one);
            (void) sched_setaffinity(0, sizeof one, &one);
            return;
        }
}

/* The pinging (@p first) or the ponging side of a round trip. */
static int
rtt_side(const struct ps_job *j, int first)
{
    char out_t[64], in_t[64], proc[64];
    void *pub, *sub;
    uint64_t seq;
    (void) snprintf(proc, sizeof proc, "ipb-%s-%ld", first ? "ping" : "pong", (long) getpid());
    ps_pin(first ? 0 : 1);
    j->x->child_init(proc);
    ps_topic(out_t, sizeof out_t, j, first ? "ping" : "pong");
    ps_topic(in_t, sizeof in_t, j, first ? "pong" : "ping");
    pub = j->x->open_pub(out_t, j->size);
    if (pub == NULL) {
        ps_fail("%s: a publisher could not open", j->x->name);
        j->x->child_fini();
        return 1;
    }
    ps_bump(&sh->pubs_up);
    if (ps_await(&sh->pubs_up, 2) < 0 || (sub = j->x->open_sub(in_t, j->size)) == NULL) {
        ps_fail("%s: a subscriber could not open", j->x->name);
        j->x->close_pub(pub);
        j->x->child_fini();
        return 1;
    }
    {
        double end = ps_now() + PS_WAIT_S;
        while ((!j->x->joined(sub) || !j->x->has_subs(pub, 1)) && ps_now() < end)
            (void) usleep(200);
    }
    ps_bump(&sh->subs_up);
    if (ps_await(&sh->subs_up, 2) == 0) {
        for (uint64_t s = 0; s < j->count; s++) {
            double t0 = ps_now();
            if (first ? j->x->publish(pub, s, j->size) < 0 ||
                            j->x->receive(sub, &seq, j->size) < 0 || seq != s
                      : j->x->receive(sub, &seq, j->size) < 0 || seq != s ||
                            j->x->publish(pub, s, j->size) < 0) {
                ps_fail("%s: a round trip went wrong", j->x->name);
                break;
            }
            if (first && s < samples_cap)
                samples[s] = ps_now() - t0;
        }
    }
    ps_bump(&sh->done);
    (void) ps_await(&sh->done, 2);
    j->x->close_sub(sub);
    j->x->close_pub(pub);
    j->x->child_fini();
    return 0;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

/* Run one job: its value (round trip: median µs; throughput: messages per
 * second each subscriber received), or NAN with @p why. */
static double
ps_run(const struct ps_job *j, char *why, size_t cap)
{
    pid_t pids[PS_MAXSUBS + 1], parent = getpid();
    int n = 0, bad;
    sigset_t chld, old;
    memset(sh, 0, sizeof *sh);
    (void) sigemptyset(&chld);
    (void) sigaddset(&chld, SIGCHLD);
    (void) sigprocmask(SIG_BLOCK, &chld, &old);
    (void) fflush(NULL);
    if (j->rtt) {
        for (int side = 0; side < 2; side++) {
            pids[n] = fork();
            if (pids[n] == 0) {
                (void) sigprocmask(SIG_SETMASK, &old, NULL);
                ps_child_setup(parent);
                exit(rtt_side(j, side == 0));
            }
            n++;
        }
    } else {
        pids[n] = fork();
        if (pids[n] == 0) {
            (void) sigprocmask(SIG_SETMASK, &old, NULL);
            ps_child_setup(parent);
            exit(tput_pub(j));
        }
        n++;
        for (int i = 0; i < j->subs; i++) {
            pids[n] = fork();
            if (pids[n] == 0) {
                (void) sigprocmask(SIG_SETMASK, &old, NULL);
                ps_child_setup(parent);
                exit(tput_sub(j, i));
            }
            n++;
        }
    }
    bad = ps_reap(pids, n);
    (void) sigprocmask(SIG_SETMASK, &old, NULL);
    if (bad || atomic_load(&sh->failed)) {
        (void) snprintf(why, cap, "%s", sh->why[0] ? sh->why : "a process failed");
        return NAN;
    }
    if (j->rtt) {
        unsigned long m = j->count < samples_cap ? j->count : samples_cap;
        qsort(samples, m, sizeof *samples, cmp_double);
        return samples[m / 2] * 1e6;
    }
    {
        double end = sh->t_start;
        for (int i = 0; i < j->subs; i++)
            if (sh->t_end[i] > end)
                end = sh->t_end[i];
        return end > sh->t_start ? (double) j->count / (end - sh->t_start) : NAN;
    }
}

/* ---- the table ----------------------------------------------------------- */

#define PS_MAXX 4
#define PS_ROWS 5
#define PS_REPS_MAX 20

struct ps_row {
    const char *label;
    int rtt;
    size_t size;
    int subs;
};

static const struct ps_row rows[PS_ROWS] = {
    { "round trip, 64 B, two CPUs (µs, median)", 1, 64, 1 },
    { "64 B, 1 subscriber (msg/s each)", 0, 64, 1 },
    { "64 B, 4 subscribers (msg/s each)", 0, 64, 4 },
    { "64 KiB, 1 subscriber (msg/s each)", 0, 65536, 1 },
    { "64 KiB, 4 subscribers (msg/s each)", 0, 65536, 4 },
};

static double
median(double *v, int n)
{
    int k = 0;
    double w[PS_REPS_MAX];
    for (int i = 0; i < n; i++)
        if (!isnan(v[i]))
            w[k++] = v[i];
    if (k == 0)
        return NAN;
    qsort(w, (size_t) k, sizeof *w, cmp_double);
    return k % 2 ? w[k / 2] : (w[k / 2 - 1] + w[k / 2]) / 2;
}

static void
cell(FILE *f, double v, int rtt)
{
    if (isnan(v))
        (void) fprintf(f, " | -");
    else if (rtt)
        (void) fprintf(f, " | %.2f", v);
    else
        (void) fprintf(f, " | %.3g M", v / 1e6);
}

static void
usage(FILE *f)
{
    (void) fprintf(f,
                   "usage: ipckit-bench --pubsub [-r REPS] [-n COUNT] [--big-count COUNT]"
                   " [--rtt-count COUNT] [--quick] [--markdown FILE]\n"
                   "  publish/subscribe: ipckit's broadcast ring against iceoryx (when built"
                   " with it)\n");
}

int
bx_pubsub_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "pubsub", no_argument, NULL, 'P' },
        { "reps", required_argument, NULL, 'r' },
        { "count", required_argument, NULL, 'n' },
        { "big-count", required_argument, NULL, 'B' },
        { "rtt-count", required_argument, NULL, 'R' },
        { "quick", no_argument, NULL, 'q' },
        { "markdown", required_argument, NULL, 'm' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const struct ps_xport *xs[PS_MAXX];
    bool xon[PS_MAXX];
    int nx = 0, reps = 3, c, failed = 0;
    unsigned long count = 200000, big = 10000, rtt_count = 20000;
    const char *md = NULL;
    double v[PS_ROWS][PS_MAXX][PS_REPS_MAX];
    char why[PS_MAXX][256];
    struct ps_env env;
    unsigned run = 0;

    while ((c = getopt_long(argc, argv, "r:n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'P':
            break;
        case 'r':
            reps = atoi(optarg);
            break;
        case 'n':
            count = strtoul(optarg, NULL, 10);
            break;
        case 'B':
            big = strtoul(optarg, NULL, 10);
            break;
        case 'R':
            rtt_count = strtoul(optarg, NULL, 10);
            break;
        case 'q':
            reps = 1;
            count = 20000;
            big = 1000;
            rtt_count = 2000;
            break;
        case 'm':
            md = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (reps < 1 || reps > PS_REPS_MAX || count < 10 || big < 10 || rtt_count < 10) {
        usage(stderr);
        return 2;
    }
    (void) snprintf(env.dir, sizeof env.dir, "/tmp/ipckit-bench-ps.XXXXXX");
    if (mkdtemp(env.dir) == NULL) {
        perror("ipckit-bench: mkdtemp");
        return 1;
    }
    env.id = (unsigned) getpid();
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    samples_cap = rtt_count;
    samples = mmap(NULL, samples_cap * sizeof *samples, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED || samples == MAP_FAILED) {
        perror("ipckit-bench: mmap");
        return 1;
    }
    xs[nx++] = &ps_ipckit;
    xs[nx++] = &ps_ipckit_zc;
#ifdef IPCKIT_BENCH_HAVE_ICEORYX
    xs[nx++] = &ps_iox_spin;
    xs[nx++] = &ps_iox_ws;
#endif
    for (int x = 0; x < nx; x++) {
        why[x][0] = '\0';
        xon[x] = xs[x]->start(&env, why[x], sizeof why[x]) == 0;
        if (!xon[x])
            (void) fprintf(stderr, "ipckit-bench: %s skipped: %s\n", xs[x]->name, why[x]);
    }
    for (int r = 0; r < PS_ROWS; r++)
        for (int x = 0; x < PS_MAXX; x++)
            for (int k = 0; k < PS_REPS_MAX; k++)
                v[r][x][k] = NAN;
    {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = ps_on_signal; /* no SA_RESTART: a wait ends */
        (void) sigemptyset(&sa.sa_mask);
        (void) sigaction(SIGINT, &sa, NULL);
        (void) sigaction(SIGTERM, &sa, NULL);
        (void) sigaction(SIGHUP, &sa, NULL);
    }
    for (int rep = 0; rep < reps; rep++)
        for (int r = 0; r < PS_ROWS; r++)
            for (int x = 0; x < nx; x++) {
                struct ps_job j = { xs[x], rows[r].rtt, rows[r].size, rows[r].subs, 0, ++run };
                char w[256] = "";
                if (ps_stop || !xon[x] || (rows[r].rtt && xs[x] == &ps_ipckit_zc))
                    continue;
                j.count = rows[r].rtt ? rtt_count : rows[r].size > 64 ? big : count;
                (void) fprintf(stderr, "\r\033[Krep %d/%d  %s  %s", rep + 1, reps, rows[r].label,
                               xs[x]->name);
                v[r][x][rep] = ps_run(&j, w, sizeof w);
                if (isnan(v[r][x][rep]) && !ps_stop) {
                    failed++;
                    (void) fprintf(stderr, "\nipckit-bench: %s, %s: FAILED: %s\n", rows[r].label,
                                   xs[x]->name, w);
                }
            }
    (void) fprintf(stderr, "\r\033[K");
    for (int x = 0; x < nx; x++)
        if (xon[x])
            xs[x]->stop(&env);
    (void) rmdir(env.dir);
    if (ps_stop) {
        (void) fprintf(stderr, "ipckit-bench: stopped by signal %d\n", (int) ps_stop);
        return 1;
    }

    for (int out = 0; out < 2; out++) {
        FILE *f = out == 0 ? stdout : md != NULL ? fopen(md, "w") : NULL;
        if (f == NULL)
            continue;
        (void) fprintf(f, "Publish/subscribe, one run, %d repetition(s), medians; %lu messages"
                          " of 64 B, %lu of 64 KiB, %lu round trips per run.\n\n",
                       reps, count, big, rtt_count);
        (void) fprintf(f, "| measure");
        for (int x = 0; x < nx; x++)
            (void) fprintf(f, " | %s", xs[x]->name);
        (void) fprintf(f, " | ipckit / iceoryx |\n|---");
        for (int x = 0; x <= nx; x++)
            (void) fprintf(f, "|---");
        (void) fprintf(f, "|\n");
        for (int r = 0; r < PS_ROWS; r++) {
            double m[PS_MAXX], best_ipc = NAN, iox = NAN;
            (void) fprintf(f, "| %s", rows[r].label);
            for (int x = 0; x < nx; x++) {
                m[x] = median(v[r][x], reps);
                cell(f, m[x], rows[r].rtt);
            }
            /* ipckit: the copying ring (zero copy at 64 KiB); iceoryx:
             * spinning for the round trip, its better mode for throughput */
            best_ipc = rows[r].size > 64 && nx > 1 ? m[1] : m[0];
            if (nx > 2)
                iox = rows[r].rtt ? m[2] : fmax(m[2], nx > 3 ? m[3] : NAN);
            if (isnan(best_ipc) || isnan(iox))
                (void) fprintf(f, " | - |\n");
            else
                (void) fprintf(f, " | %.2fx |\n", best_ipc / iox);
        }
        if (f != stdout)
            (void) fclose(f);
    }
    return failed ? 1 : 0;
}
