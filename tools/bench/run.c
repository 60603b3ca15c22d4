/*
 * ipckit-bench: one run. Each run forks its processes, which open their
 * endpoints, report ready, wait for "go", move the traffic, and write their
 * counts, checksums and timestamps into a shared anonymous mapping. The
 * parent checks the count and the checksum of what was received against
 * what was sent: a run that lost, duplicated or corrupted a message fails
 * instead of looking fast.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* ---- what the processes of a run report, in a mapping shared with the parent */

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

static double
now_s(void)
{
    struct timespec ts;
    (void) clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

/* ---- one run ---------------------------------------------------------------- */

enum bx_role { R_PING, R_PONG, R_PROD, R_CONS, R_IDLE_RECV, R_IDLE_SEND };

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
    late = r->be->no_object && r->var != r->be->raw;
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
            if (j->consumers == 1 && s->count == j->count) {
                s->t1 = now_s();
                break;
            }
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
                /* With several consumers, the last receive is not known
                 * until the stop words come: take the time of each one.
                 * One consumer takes it once, when it has them all: a
                 * clock read (24 ns on the VM of docs/performance.md) is
                 * a fifth of what a 64-byte shm: message costs, and
                 * timing every one measured the clock as much as the
                 * transport. */
                if (j->consumers > 1)
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

void
bx_stop_on_signals(void)
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

int
bx_stop_requested(void)
{
    return stop_requested;
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

enum bx_status
bx_run_job(struct bx_runner *rn, const struct bx_job *j, double *values, size_t *nvalues,
           char *note, size_t notecap)
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

/* ---- the runner: scratch directory and shared mappings -------------------- */

int
bx_runner_open(struct bx_runner *rn, const struct bx_opts *o)
{
    memset(rn, 0, sizeof *rn);
    rn->opt = o;
    (void) snprintf(rn->scratch, sizeof rn->scratch, "/tmp/ipckit-bench.XXXXXX");
    if (mkdtemp(rn->scratch) == NULL) {
        (void) fprintf(stderr, "ipckit-bench: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    rn->shared = mmap(NULL, sizeof *rn->shared, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    rn->samples_cap = o->rtt_count > 10 ? o->rtt_count : 10;
    rn->samples = mmap(NULL, rn->samples_cap * sizeof *rn->samples, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (rn->shared == MAP_FAILED || rn->samples == MAP_FAILED) {
        (void) fprintf(stderr, "ipckit-bench: mmap: %s\n", strerror(errno));
        bx_runner_close(rn);
        return -1;
    }
    return 0;
}

void
bx_runner_close(struct bx_runner *rn)
{
    if (rn->shared != NULL && rn->shared != MAP_FAILED)
        (void) munmap(rn->shared, sizeof *rn->shared);
    if (rn->samples != NULL && rn->samples != MAP_FAILED)
        (void) munmap(rn->samples, rn->samples_cap * sizeof *rn->samples);
    rn->shared = NULL;
    rn->samples = NULL;
    (void) rmdir(rn->scratch);
}
