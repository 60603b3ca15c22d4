/*
 * ipckit-bench: measures every ipckit backend against the raw kernel
 * mechanism it wraps (and, when built with IPCKIT_BENCH_PEERS, against nng
 * and ZeroMQ), in one run, interleaved: every repetition runs every variant
 * once, so slow drifts of a shared machine hit all variants alike.
 *
 * Each run forks its processes, which open their endpoints, report ready,
 * wait for "go", move the traffic, and write their counts, checksums and
 * timestamps into a shared anonymous mapping. The parent checks the count
 * and the checksum of what was received against what was sent: a run that
 * lost, duplicated or corrupted a message fails instead of looking fast.
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

/* ---- shared results --------------------------------------------------------- */

struct bx_slot {
    int failed;
    char err[200];
    uint64_t count, sum;
    double t0, t1;        /* CLOCK_MONOTONIC seconds: first send, last receive */
    double cpu, wall;     /* idle: CPU and wall seconds of the blocked receive */
};

struct bx_shared {
    unsigned producers_done;
    struct bx_slot slot[BX_MAXPROC];
};

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

static double
now_s(void)
{
    struct timespec ts;
    (void) clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

/* ---- one run ---------------------------------------------------------------- */

enum bx_role { R_PING, R_PONG, R_PROD, R_CONS, R_IDLE_RECV, R_IDLE_SEND };

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

struct bx_go {
    pid_t peer[BX_MAXCHAN];
};

static void __attribute__((format(printf, 2, 3)))
slot_fail(struct bx_slot *s, const char *fmt, ...)
{
    va_list ap;
    if (s->failed)
        return;
    s->failed = 1;
    va_start(ap, fmt);
    (void) vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
}

static void
pin_self(const struct bx_opts *o, enum bx_pin pin, bool receiving)
{
    cpu_set_t set;
    if (pin == PIN_NONE)
        return;
    CPU_ZERO(&set);
    CPU_SET((size_t) (pin == PIN_SPLIT && receiving ? o->cpu_b : o->cpu_a), &set);
    (void) sched_setaffinity(0, sizeof set, &set);
}

static bool
role_receives(enum bx_role role)
{
    return role == R_PONG || role == R_CONS || role == R_IDLE_RECV;
}

static void
write_byte(int fd, char c)
{
    while (write(fd, &c, 1) < 0 && errno == EINTR)
        ;
}

/* The body of one process of a run. Never returns. */
static void
child_main(struct bx_runner *rn, struct bx_run *r, const struct bx_job *j, enum bx_role role,
           int index, int ready_fd, int go_fd)
{
    const struct bx_opts *o = rn->opt;
    struct bx_slot *s = &rn->shared->slot[index];
    void *ep[BX_MAXCHAN] = { NULL, NULL };
    unsigned char *sbuf = malloc(j->size), *rbuf = malloc(j->size);
    struct bx_go go;
    int rc = 0;
    ssize_t n;
    bool late;
    char c;

    (void) signal(SIGINT, SIG_DFL);
    (void) signal(SIGTERM, SIG_DFL);
    (void) signal(SIGHUP, SIG_DFL);
    if (o->sigpipe_default)
        (void) signal(SIGPIPE, SIG_DFL);
    (void) alarm(o->timeout_s);
    pin_self(o, j->pin, role_receives(role));
    if (sbuf == NULL || rbuf == NULL) {
        slot_fail(s, "out of memory");
        write_byte(ready_fd, 'f');
        _exit(1);
    }
    memset(sbuf, 0, j->size);
    /* Receivers open first, before "ready"; so do senders, unless their
     * name holds the receiver's pid (signal:), known only with "go". */
    late = r->be->no_object && r->var == r->be->lib;
    switch (role) {
    case R_PING:
        rc = late ? 0 : r->var->open(r, 0, BX_SEND, &ep[0]);
        if (rc == 0)
            rc = r->var->open(r, 1, BX_RECV, &ep[1]);
        break;
    case R_PONG:
        rc = r->var->open(r, 0, BX_RECV, &ep[0]);
        if (rc == 0 && !late)
            rc = r->var->open(r, 1, BX_SEND, &ep[1]);
        break;
    case R_PROD:
    case R_IDLE_SEND:
        rc = late ? 0 : r->var->open(r, 0, BX_SEND, &ep[0]);
        break;
    case R_CONS:
    case R_IDLE_RECV:
        rc = r->var->open(r, 0, BX_RECV, &ep[0]);
        break;
    }
    if (rc < 0) {
        slot_fail(s, "open: %s", strerror(-rc));
        write_byte(ready_fd, 'f');
        _exit(1);
    }
    write_byte(ready_fd, 'r');
    if (read(go_fd, &go, sizeof go) != (ssize_t) sizeof go)
        _exit(1);   /* the parent gave up on this run */
    memcpy(r->peer, go.peer, sizeof r->peer);
    if (late) {
        if (role == R_PING || role == R_PROD || role == R_IDLE_SEND)
            rc = r->var->open(r, 0, BX_SEND, &ep[0]);
        else if (role == R_PONG)
            rc = r->var->open(r, 1, BX_SEND, &ep[1]);
        if (rc < 0) {
            slot_fail(s, "open: %s", strerror(-rc));
            write_byte(ready_fd, 'x');   /* the parent stops the run at once */
            _exit(1);
        }
    }

    switch (role) {
    case R_PING: {
        unsigned long warm = j->count / 10 < 1000 ? j->count / 10 : 1000;
        for (unsigned long i = 0; i < j->count + warm && !s->failed; i++) {
            double t0, t1;
            bx_fill(sbuf, j->size, 0, i);
            if (j->corrupt && i == 1)
                sbuf[0] ^= 0x40;
            t0 = now_s();
            rc = r->var->send(ep[0], sbuf, j->size);
            n = rc < 0 ? rc : r->var->recv(ep[1], rbuf, j->size);
            t1 = now_s();
            if (n < 0)
                slot_fail(s, "%s: %s", rc < 0 ? "send" : "recv", strerror((int) -n));
            else if ((size_t) n != j->size)
                slot_fail(s, "message %lu came back with %zd bytes, not %zu", i, n, j->size);
            else {
                s->sum += bx_hash(rbuf, (size_t) n);
                s->count++;
                if (i >= warm)
                    rn->samples[i - warm] = (t1 - t0) * 1e9;
            }
        }
        break;
    }
    case R_PONG: {
        unsigned long warm = j->count / 10 < 1000 ? j->count / 10 : 1000;
        for (unsigned long i = 0; i < j->count + warm && !s->failed; i++) {
            n = r->var->recv(ep[0], rbuf, j->size);
            if (n < 0) {
                slot_fail(s, "recv: %s", strerror((int) -n));
                break;
            }
            s->sum += bx_hash(rbuf, (size_t) n);
            s->count++;
            rc = r->var->send(ep[1], rbuf, (size_t) n);
            if (rc < 0)
                slot_fail(s, "send: %s", strerror(-rc));
        }
        break;
    }
    case R_PROD: {
        unsigned long mine = j->count / (unsigned long) j->producers +
                             ((unsigned long) index < j->count % (unsigned long) j->producers);
        s->t0 = now_s();
        for (unsigned long i = 0; i < mine; i++) {
            bx_fill(sbuf, j->size, (uint32_t) index, i);
            if (j->corrupt && index == 0 && i == 1)
                sbuf[j->size - 1] ^= 0x01;
            rc = r->var->send(ep[0], sbuf, j->size);
            if (rc < 0) {
                slot_fail(s, "send: %s", strerror(-rc));
                break;
            }
            s->count++;
        }
        s->t1 = now_s();
        if (j->consumers > 1 &&
            __atomic_add_fetch(&rn->shared->producers_done, 1, __ATOMIC_SEQ_CST) ==
                (unsigned) j->producers) {
            /* Everything is queued: one stop message per consumer. */
            uint64_t w = bx_stop_word();
            memset(sbuf, 0, j->size);
            memcpy(sbuf, &w, sizeof w);
            for (int k = 0; k < j->consumers; k++)
                (void) r->var->send(ep[0], sbuf, j->size);
        }
        break;
    }
    case R_CONS: {
        uint64_t stop = bx_stop_word(), w;
        for (;;) {
            const unsigned char *msg = rbuf;
            bool stopped = false;
            if (j->consumers == 1 && s->count == j->count)
                break;
            if (r->var->recv_view != NULL)
                n = r->var->recv_view(ep[0], (const void **) &msg);
            else
                n = r->var->recv(ep[0], rbuf, j->size);
            if (n < 0) {
                slot_fail(s, "recv: %s", strerror((int) -n));
                break;
            }
            if ((size_t) n != j->size)
                slot_fail(s, "received %zd bytes, not %zu", n, j->size);
            else if (j->consumers > 1 && (size_t) n >= sizeof w) {
                memcpy(&w, msg, sizeof w);
                stopped = w == stop;
            }
            if (!s->failed && !stopped) {
                s->sum += bx_hash(msg, (size_t) n);
                s->count++;
                s->t1 = now_s();
            }
            if (r->var->recv_view != NULL)
                r->var->release(ep[0]);
            if (s->failed || stopped)
                break;
        }
        break;
    }
    case R_IDLE_RECV: {
        struct rusage u0, u1;
        double w0, w1;
        (void) getrusage(RUSAGE_SELF, &u0);
        w0 = now_s();
        if (j->metric == M_IDLE_TIMED)
            n = r->var->recv_timed(ep[0], rbuf, j->size, 10 * o->idle_ms + 1000);
        else
            n = r->var->recv(ep[0], rbuf, j->size);
        w1 = now_s();
        (void) getrusage(RUSAGE_SELF, &u1);
        if (n < 0) {
            slot_fail(s, "recv: %s", strerror((int) -n));
            break;
        }
        s->sum += bx_hash(rbuf, (size_t) n);
        s->count++;
        s->wall = w1 - w0;
        s->cpu = (double) (u1.ru_utime.tv_sec - u0.ru_utime.tv_sec) +
                 (double) (u1.ru_stime.tv_sec - u0.ru_stime.tv_sec) +
                 (double) (u1.ru_utime.tv_usec - u0.ru_utime.tv_usec) * 1e-6 +
                 (double) (u1.ru_stime.tv_usec - u0.ru_stime.tv_usec) * 1e-6;
        break;
    }
    case R_IDLE_SEND: {
        struct timespec ts = { o->idle_ms / 1000, (long) (o->idle_ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
        bx_fill(sbuf, j->size, 0, 0);
        rc = r->var->send(ep[0], sbuf, j->size);
        if (rc < 0)
            slot_fail(s, "send: %s", strerror(-rc));
        s->count++;
        break;
    }
    }

    /* Report, then keep the endpoints open until every process has
     * reported: a peer library may drop what a closed socket still held. */
    write_byte(ready_fd, 'd');
    for (;;) {
        ssize_t got = read(go_fd, &c, 1);
        if (got == 0 || (got < 0 && errno != EINTR))
            break;
    }
    for (int k = 0; k < BX_MAXCHAN; k++)
        if (ep[k] != NULL)
            r->var->close(ep[k]);
    free(sbuf);
    free(rbuf);
    _exit(s->failed ? 1 : 0);
}

enum bx_status { ST_OK, ST_SKIP, ST_FAIL };

/* Expected checksum of everything sent by @p producers over @p count messages. */
static uint64_t
expected_sum(const struct bx_job *j, unsigned long total, int producers)
{
    unsigned char *buf = malloc(j->size);
    uint64_t sum = 0;
    if (buf == NULL)
        return 0;
    for (int p = 0; p < producers; p++) {
        unsigned long mine = total / (unsigned long) producers +
                             ((unsigned long) p < total % (unsigned long) producers);
        for (unsigned long i = 0; i < mine; i++) {
            bx_fill(buf, j->size, (uint32_t) p, i);
            sum += bx_hash(buf, j->size);
        }
    }
    free(buf);
    return sum;
}

static volatile sig_atomic_t stop_requested;

static void
on_stop_signal(int signo)
{
    stop_requested = signo;
}

/* Wait for @p want bytes on the ready pipe; false on a failure, a timeout or
 * an interrupt (Ctrl-C: the run is abandoned and cleaned up). */
static bool
await_children(int fd, int want, char expect, const pid_t *pids, int nproc, unsigned timeout_s)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int got = 0;
    double deadline = now_s() + timeout_s + 5;
    while (got < want) {
        char buf[BX_MAXPROC];
        ssize_t n;
        int ms = (int) ((deadline - now_s()) * 1000), r;
        if (stop_requested || ms <= 0)
            return false;
        r = poll(&p, 1, ms < 200 ? ms : 200);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return false;
        if (r == 0) {
            /* A process that died without reporting (a crash) ends the run
             * now, not at the timeout. Not reaped here. */
            for (int k = 0; k < nproc; k++) {
                siginfo_t si;
                memset(&si, 0, sizeof si);
                if (waitid(P_PID, (id_t) pids[k], &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
                    si.si_pid != 0)
                    return false;
            }
            continue;
        }
        n = read(fd, buf, (size_t) (want - got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        for (ssize_t k = 0; k < n; k++)
            if (buf[k] != expect)
                return false;
        got += (int) n;
    }
    return true;
}

/*
 * Run one job. On ST_OK, values[] receives the measurements (round trip:
 * one sample per message, ns; others: one value) and *nvalues their count.
 */
static enum bx_status
run_job(struct bx_runner *rn, const struct bx_job *j, double *values, size_t *nvalues, char *note,
        size_t notecap)
{
    struct bx_shared *shared = rn->shared;
    struct bx_run r;
    enum bx_role roles[BX_MAXPROC];
    pid_t pids[BX_MAXPROC] = { 0 };
    int gofd[BX_MAXPROC];
    int ready[2];
    int nproc = 0, rc;
    bool ok;
    enum bx_status st = ST_OK;

    memset(&r, 0, sizeof r);
    r.be = j->be;
    r.var = j->var;
    r.size = j->size;
    r.dir = rn->scratch;
    r.id = ++rn->run_id;
    r.nchan = j->metric == M_RTT ? 2 : 1;
    r.multi = j->metric == M_SCALE && (j->producers > 1 || j->consumers > 1);
    note[0] = '\0';
    *nvalues = 0;

    if (j->var == j->be->raw && j->be->max_size != NULL && j->size > j->be->max_size()) {
        (void) snprintf(note, notecap, "%zu-byte messages exceed the raw limit of %zu", j->size,
                        j->be->max_size());
        return ST_SKIP;
    }
    rc = j->var->prepare(&r);
    if (rc != 0) {
        (void) snprintf(note, notecap, "%s", r.err);
        return rc > 0 ? ST_SKIP : ST_FAIL;
    }

    switch (j->metric) {
    case M_RTT:
        roles[nproc++] = R_PONG;
        roles[nproc++] = R_PING;
        break;
    case M_TPUT:
    case M_SCALE:
        for (int k = 0; k < j->producers; k++)
            roles[nproc++] = R_PROD;
        for (int k = 0; k < j->consumers; k++)
            roles[nproc++] = R_CONS;
        break;
    case M_IDLE:
    case M_IDLE_TIMED:
        roles[nproc++] = R_IDLE_RECV;
        roles[nproc++] = R_IDLE_SEND;
        break;
    case M_COUNT:
        break;
    }
    memset(shared, 0, sizeof *shared);
    (void) fflush(NULL);
    if (pipe2(ready, O_CLOEXEC) < 0) {
        (void) snprintf(note, notecap, "pipe: %s", strerror(errno));
        j->var->parent_after_fork(&r);
        j->var->cleanup(&r);
        return ST_FAIL;
    }
    for (int k = 0; k < nproc; k++) {
        int gp[2];
        if (pipe2(gp, O_CLOEXEC) < 0)
            abort();
        pids[k] = fork();
        if (pids[k] == 0) {
            (void) close(ready[0]);
            (void) close(gp[1]);
            for (int m = 0; m < k; m++)
                (void) close(gofd[m]);
            /* Producers are slots 0..P-1, so their index is their producer number. */
            child_main(rn, &r, j, roles[k], k, ready[1], gp[0]);
        }
        (void) close(gp[0]);
        gofd[k] = gp[1];
        if (pids[k] < 0)
            abort();
    }
    j->var->parent_after_fork(&r);
    (void) close(ready[1]);

    ok = await_children(ready[0], nproc, 'r', pids, nproc, rn->opt->timeout_s);
    if (ok) {
        struct bx_go go;
        memset(&go, 0, sizeof go);
        for (int k = 0; k < nproc; k++) {
            if (roles[k] == R_PONG || roles[k] == R_CONS || roles[k] == R_IDLE_RECV)
                go.peer[0] = pids[k];
            if (roles[k] == R_PING)
                go.peer[1] = pids[k];
        }
        for (int k = 0; k < nproc; k++)
            if (write(gofd[k], &go, sizeof go) != (ssize_t) sizeof go)
                ok = false;
        if (ok)
            ok = await_children(ready[0], nproc, 'd', pids, nproc, rn->opt->timeout_s);
    }
    for (int k = 0; k < nproc; k++)
        (void) close(gofd[k]);
    (void) close(ready[0]);
    for (int k = 0; k < nproc; k++) {
        int ws;
        if (!ok)
            (void) kill(pids[k], SIGKILL);
        while (waitpid(pids[k], &ws, 0) < 0 && errno == EINTR)
            ;
        if (ok && !(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) && !shared->slot[k].failed)
            slot_fail(&shared->slot[k], "process %d ended with status %#x", k, ws);
    }
    j->var->cleanup(&r);

    for (int k = 0; k < nproc; k++)
        if (shared->slot[k].failed) {
            (void) snprintf(note, notecap, "%s", shared->slot[k].err);
            return ST_FAIL;
        }
    if (!ok) {
        (void) snprintf(note, notecap, "a process failed or the run timed out after %u s",
                        rn->opt->timeout_s);
        return ST_FAIL;
    }

    /* Verify what was received. */
    switch (j->metric) {
    case M_RTT: {
        unsigned long warm = j->count / 10 < 1000 ? j->count / 10 : 1000;
        uint64_t want = expected_sum(j, j->count + warm, 1);
        for (int k = 0; k < nproc; k++) {
            const struct bx_slot *s = &shared->slot[k];
            if (s->count != j->count + warm || s->sum != want) {
                (void) snprintf(note, notecap,
                                "verification failed (%s): %" PRIu64 " of %lu messages,"
                                " checksum %016" PRIx64 ", expected %016" PRIx64,
                                roles[k] == R_PING ? "ping" : "pong", s->count,
                                j->count + warm, s->sum, want);
                st = ST_FAIL;
            }
        }
        if (st == ST_OK) {
            memcpy(values, rn->samples, j->count * sizeof *values);
            *nvalues = j->count;
        }
        break;
    }
    case M_TPUT:
    case M_SCALE: {
        uint64_t want = expected_sum(j, j->count, j->producers), sum = 0, cnt = 0;
        double t0 = 1e300, t1 = 0;
        for (int k = 0; k < nproc; k++) {
            const struct bx_slot *s = &shared->slot[k];
            if (roles[k] == R_PROD) {
                t0 = s->t0 < t0 ? s->t0 : t0;
            } else {
                sum += s->sum;
                cnt += s->count;
                t1 = s->t1 > t1 ? s->t1 : t1;
            }
        }
        if (cnt != j->count || sum != want) {
            (void) snprintf(note, notecap,
                            "verification failed: %" PRIu64 " of %lu messages received,"
                            " checksum %016" PRIx64 ", expected %016" PRIx64,
                            cnt, j->count, sum, want);
            st = ST_FAIL;
        } else if (t1 <= t0) {
            (void) snprintf(note, notecap, "clock went backwards");
            st = ST_FAIL;
        } else {
            double rate = (double) j->count / (t1 - t0);
            values[0] = j->size >= 1024 ? rate * (double) j->size / 1e6 : rate;
            *nvalues = 1;
        }
        break;
    }
    case M_IDLE:
    case M_IDLE_TIMED: {
        const struct bx_slot *s = &shared->slot[0];
        uint64_t want = expected_sum(j, 1, 1);
        if (s->count != 1 || s->sum != want) {
            (void) snprintf(note, notecap, "verification failed: checksum %016" PRIx64
                            ", expected %016" PRIx64, s->sum, want);
            st = ST_FAIL;
        } else {
            values[0] = s->wall > 0 ? 100.0 * s->cpu / s->wall : 0;
            *nvalues = 1;
            (void) snprintf(note, notecap, "%.1f ms CPU over a %.2f s wait", s->cpu * 1e3,
                            s->wall);
        }
        break;
    }
    case M_COUNT:
        break;
    }
    return st;
}

/* ---- cells: every (backend, variant, metric, size, pin, PxC) ---------------- */

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
    /* filled by summarise() */
    double median, p99, min, max;
};

/* Every cell measured so far, in the order of their first run. */
struct bx_cells {
    struct bx_cell *v;
    size_t n, cap;
};

static struct bx_cell *
cell_get(struct bx_cells *t, const struct bx_job *j, const char *variant)
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

static void
cell_add(struct bx_cell *c, const double *v, size_t n)
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

static const char *
cell_unit(const struct bx_cell *c)
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

/* ipckit median / raw median of the same backend, or NAN. */
static double
cell_ratio(const struct bx_cells *t, const struct bx_cell *c)
{
    const struct bx_cell *raw;
    if (c->n == 0 || c->metric >= M_IDLE ||
        (strcmp(c->variant, "ipckit") != 0 && strcmp(c->variant, "zerocopy") != 0))
        return NAN;
    raw = cell_find(t, c, c->be->raw != NULL ? c->be : &bx_backends[0], "raw");
    return raw != NULL && raw->median > 0 ? c->median / raw->median : NAN;
}

/* median / the raw pipe's median (fifo raw) for the same metric, or NAN. */
static double
cell_vs_pipe(const struct bx_cells *t, const struct bx_cell *c)
{
    const struct bx_cell *pipe_c;
    if (c->n == 0 || c->metric >= M_IDLE ||
        (c->be == &bx_backends[0] && strcmp(c->variant, "raw") == 0))
        return NAN;
    pipe_c = cell_find(t, c, &bx_backends[0], "raw");
    return pipe_c != NULL && pipe_c->median > 0 ? c->median / pipe_c->median : NAN;
}

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

static const char *
cell_status(const struct bx_cell *c)
{
    if (c->n > 0 && c->fails == 0)
        return "ok";
    if (c->fails > 0)
        return "failed";
    return "skipped";
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
                       bx_pin_names[c->pin], c->producers, c->consumers, cell_unit(c),
                       cell_status(c), c->runs, c->n);
        json_num(f, "median", c->n ? c->median : NAN, true);
        json_num(f, "p99", c->n ? c->p99 : NAN, true);
        json_num(f, "min", c->n ? c->min : NAN, true);
        json_num(f, "max", c->n ? c->max : NAN, true);
        json_num(f, "ratio", cell_ratio(t, c), true);
        json_num(f, "vs_pipe", cell_vs_pipe(t, c), true);
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
    else if (cell_unit(c)[0] == 'm' && v >= 1e6)   /* msg/s */
        (void) snprintf(buf, cap, "%.2fM", v / 1e6);
    else if (cell_unit(c)[0] == 'm')
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
        double rt = cell_ratio(t, c), vsp = cell_vs_pipe(t, c);
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
                           c->variant, cell_unit(c), med, p99, mn, mx, ratio, vp, c->runs,
                           c->n > 0 && c->fails == 0 ? "" : cell_status(c));
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
                           c->variant, cell_unit(c), med, p99, mn, mx, ratio, vp,
                           c->n > 0 && c->fails == 0 ? "" : cell_status(c),
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
                       c->consumers, c->be->scheme, c->variant, cell_unit(c),
                       c->n ? c->median : NAN, c->n ? c->p99 : NAN, c->n ? c->min : NAN,
                       c->n ? c->max : NAN, cell_ratio(t, c), cell_vs_pipe(t, c), cell_status(c));
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
    struct bx_cell *c = cell_get(pr->cells, j, j->var->name);
    double *vals = malloc((j->metric == M_RTT ? j->count : 1) * sizeof *vals);
    size_t nv = 0;
    char note[BX_ERR_MAX];
    enum bx_status st;

    if (vals == NULL)
        abort();
    if (stop_requested) {
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
    st = run_job(pr->rn, j, vals, &nv, note, sizeof note);
    c->runs++;
    if (st == ST_OK)
        cell_add(c, vals, nv);
    else if (st == ST_FAIL)
        c->fails++;
    else
        c->skips++;
    if (note[0] != '\0' && (st != ST_OK || c->note[0] == '\0'))
        (void) snprintf(c->note, sizeof c->note, "%s", note);
    if (st == ST_FAIL && !o->quiet && !stop_requested) {
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
    clean = run_job(t->rn, &j, vals, &nv, note, sizeof note);
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
    bad = run_job(t->rn, &j, vals, &nv, note, sizeof note);
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
    int failed = 0;
    unsigned long maxcount;

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
    {
        /* Ctrl-C: abandon the current run, remove its objects, stop. */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_stop_signal;
        (void) sigemptyset(&sa.sa_mask);
        (void) sigaction(SIGINT, &sa, NULL);
        (void) sigaction(SIGTERM, &sa, NULL);
        (void) sigaction(SIGHUP, &sa, NULL);
    }
    memset(&rn, 0, sizeof rn);
    rn.opt = &opt;
    (void) snprintf(rn.scratch, sizeof rn.scratch, "/tmp/ipckit-bench.XXXXXX");
    if (mkdtemp(rn.scratch) == NULL) {
        (void) fprintf(stderr, "ipckit-bench: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    rn.shared = mmap(NULL, sizeof *rn.shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                     -1, 0);
    maxcount = opt.selftest ? 200 : opt.rtt_count;
    rn.samples_cap = maxcount > 10 ? maxcount : 10;
    rn.samples = mmap(NULL, rn.samples_cap * sizeof *rn.samples, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (rn.shared == MAP_FAILED || rn.samples == MAP_FAILED) {
        (void) fprintf(stderr, "ipckit-bench: mmap: %s\n", strerror(errno));
        (void) rmdir(rn.scratch);
        return 1;
    }

    if (opt.selftest) {
        struct bx_selftest t = { 0, 0, 0, 0, &rn };
        opt.rtt_count = 200;
        opt.count = 500;
        opt.scale_count = 300;
        opt.idle_ms = 50;
        opt.quiet = true;
        plan_rep(&opt, selftest_job, &t, 1);
        plan_idle(&opt, selftest_job, &t);
        (void) rmdir(rn.scratch);
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
    (void) rmdir(rn.scratch);
    if (stop_requested) {
        (void) fprintf(stderr, "ipckit-bench: interrupted; nothing left behind\n");
        return 128 + stop_requested;
    }
    read_line("/proc/loadavg", NULL, machine.load1, sizeof machine.load1);

    for (size_t k = 0; k < cells.n; k++) {
        summarise(&cells.v[k]);
        failed += cells.v[k].fails;
    }
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
    for (size_t k = 0; k < cells.n; k++)
        free(cells.v[k].v);
    free(cells.v);
    return failed ? 1 : 0;
}
