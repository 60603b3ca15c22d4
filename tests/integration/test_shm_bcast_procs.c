/*
 * Broadcast rings of shm: (shm:NAME?bcast=...) with real processes:
 *
 *  - fan-out: 1 x 8 and 4 x 8 publishers x subscribers, in wait mode and in
 *    drop mode, one subscriber slow on purpose: every subscriber checks every
 *    byte of every message it gets and each publisher's order; in wait mode
 *    every subscriber gets every message exactly once, in drop mode each
 *    gets every message at most once and the ones it did not get are all
 *    reported (IPCKIT_CTL_MISSED);
 *  - subscribers that stall, die and rejoin while a publisher goes on (wait
 *    mode): the staller loses nothing, the dead one holds nobody back, the
 *    one that rejoins gets everything from its join on;
 *  - publishers killed with SIGKILL at random points (plain sends and
 *    loans), IPCKIT_KILL_REPEAT times (default 100) per mode, while a
 *    subscriber in another process reads: no torn message ever, no
 *    duplicate, in wait mode no gap, and the next publisher goes on;
 *  - subscribers killed at random points while they read: nobody waits
 *    for them for long, and the others get everything.
 *
 * Nothing here measures time: waits are generous and only bound hangs.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include <ipckit/ipckit.h>

#include "testkit.h"

#define LONG_WAIT 60000
#define MAXP 4
#define MAXS 8
#define COUNT 4000
#define DATA_TYPE 2
#define END_TYPE 1
#define MAXLEN TK_MSG_MAX

static char pname[200], name[300];

struct tally {
    atomic_uchar seen[MAXS][MAXP][COUNT];
    atomic_uint torn, misordered, dup;
    atomic_ullong missed[MAXS];
    atomic_uint received[MAXS];
};
static struct tally *tl;

static void
setup(const char *mode, const char *extra)
{
    tk_posix_name(pname, sizeof pname);
    (void) snprintf(name, sizeof name, "shm:%s?bcast=%s%s", pname, mode, extra);
}

static ipckit_channel *
open_or_die(unsigned flags)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *ch = NULL;
    int rc;
    o.capacity = 64;
    o.max_msg_size = MAXLEN;
    rc = ipckit_open(&ch, name, flags, &o);
    if (rc < 0) {
        fprintf(stderr, "open %s: %s (%s)\n", name, ipckit_errname(rc), ipckit_error_detail());
        _exit(98);
    }
    return ch;
}

/* ---- fan-out ------------------------------------------------------------ */

struct sub_arg {
    int id;
    int slow;
    tk_gate *ready;
};

static int
fan_subscriber(void *arg)
{
    struct sub_arg *a = arg;
    unsigned char buf[MAXLEN];
    int32_t last[MAXP] = { -1, -1, -1, -1 };
    ipckit_channel *ch = open_or_die(IPCKIT_RECV);
    unsigned k = 0;
    tk_gate_open(a->ready);
    for (;;) {
        long type = 0;
        uint32_t w, s, gen;
        ssize_t n = ipckit_recv_typed(ch, 0, &type, buf, sizeof buf, LONG_WAIT);
        if (n == -ENOBUFS)
            continue; /* a gap, counted below */
        TK_CHILD_CHECK(n >= 0);
        if (type == END_TYPE)
            break;
        if (!tk_msg_ok(buf, (size_t) n, &w, &s, &gen) || w >= MAXP || s >= COUNT) {
            atomic_fetch_add(&tl->torn, 1);
            continue;
        }
        if ((int32_t) s <= last[w])
            atomic_fetch_add(&tl->misordered, 1);
        last[w] = (int32_t) s;
        if (atomic_fetch_add(&tl->seen[a->id][w][s], 1) != 0)
            atomic_fetch_add(&tl->dup, 1);
        atomic_fetch_add(&tl->received[a->id], 1);
        if (a->slow && ++k % 64 == 0) {
            struct timespec ts = { 0, 300000L };
            nanosleep(&ts, NULL);
        }
    }
    {
        unsigned long long m = 0;
        TK_CHILD_CHECK(ipckit_ctl(ch, IPCKIT_CTL_MISSED, &m) == 0);
        atomic_store(&tl->missed[a->id], m);
    }
    TK_CHILD_CHECK(ipckit_close(ch) == 0);
    return 0;
}

static int
fan_publisher(void *arg)
{
    uint32_t w = (uint32_t) (uintptr_t) arg;
    unsigned char buf[MAXLEN];
    ipckit_channel *ch = open_or_die(IPCKIT_SEND);
    for (uint32_t s = 0; s < COUNT; s++) {
        if (s % 3 == 0) {
            void *p;
            TK_CHILD_CHECK(ipckit_send_loan(ch, MAXLEN, &p, LONG_WAIT) == 0);
            TK_CHILD_CHECK(ipckit_send_commit(ch, DATA_TYPE, tk_msg_make(p, w, s, 0)) == 0);
        } else {
            size_t len = tk_msg_make(buf, w, s, 0);
            TK_CHILD_CHECK(ipckit_send_typed(ch, DATA_TYPE, buf, len, LONG_WAIT) == 0);
        }
    }
    return ipckit_close(ch) == 0 ? 0 : 1;
}

static void
fan_out(unsigned np, unsigned ns, const char *mode)
{
    pid_t pubs[MAXP], subs[MAXS];
    tk_gate ready[MAXS];
    struct sub_arg args[MAXS];
    ipckit_channel *ctl;
    unsigned lost = 0, total = np * COUNT;
    int wait_mode = strcmp(mode, "wait") == 0;

    tl = mmap(NULL, sizeof *tl, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(tl, MAP_FAILED);
    setup(mode, "");
    ctl = open_or_die(IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL);
    for (unsigned i = 0; i < ns; i++) {
        tk_gate_init(&ready[i]);
        args[i] = (struct sub_arg){ (int) i, i == 0, &ready[i] };
        subs[i] = tk_fork(fan_subscriber, &args[i]);
    }
    /* every subscriber has joined before the first message */
    for (unsigned i = 0; i < ns; i++)
        ck_assert_int_eq(tk_gate_wait(&ready[i], LONG_WAIT), 0);
    for (unsigned p = 0; p < np; p++)
        pubs[p] = tk_fork(fan_publisher, (void *) (uintptr_t) p);
    for (unsigned p = 0; p < np; p++)
        ck_assert_int_eq(tk_wait(pubs[p], LONG_WAIT), 0);
    /* the end marker; in drop mode a slow subscriber may miss one, so it is
     * published until every subscriber has stopped */
    for (unsigned i = 0; i < ns; i++) {
        long long t0 = tk_now_ms();
        int st = 0;
        pid_t r;
        for (;;) {
            struct timespec ts = { 0, 5000000L };
            ck_assert_int_eq(ipckit_send_typed(ctl, END_TYPE, "", 0, LONG_WAIT), 0);
            r = waitpid(subs[i], &st, WNOHANG);
            if (r != 0 || tk_now_ms() - t0 > LONG_WAIT)
                break;
            nanosleep(&ts, NULL);
        }
        ck_assert_int_eq(r, subs[i]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "subscriber %u: status %#x", i, st);
    }
    for (unsigned i = 0; i < ns; i++) {
        unsigned got = 0;
        for (unsigned p = 0; p < np; p++)
            for (unsigned s = 0; s < COUNT; s++)
                got += atomic_load(&tl->seen[i][p][s]) != 0;
        ck_assert_uint_eq(got, atomic_load(&tl->received[i]));
        if (wait_mode) {
            ck_assert_uint_eq(got, total);
            ck_assert_uint_eq(atomic_load(&tl->missed[i]), 0);
        } else {
            /* what it did not get was reported missed (the count may
             * include end markers it missed too) */
            ck_assert_msg(got + atomic_load(&tl->missed[i]) >= total,
                          "subscriber %u: %u received, %llu reported missed, %u published", i,
                          got, (unsigned long long) atomic_load(&tl->missed[i]), total);
        }
        lost += total - got;
    }
    printf("fan-out %s: %u publishers x %u subscribers x %u messages: %u not received (all"
           " reported missed), %u duplicated, %u torn, %u out of order\n",
           mode, np, ns, COUNT, lost, atomic_load(&tl->dup), atomic_load(&tl->torn),
           atomic_load(&tl->misordered));
    ck_assert_uint_eq(atomic_load(&tl->dup), 0);
    ck_assert_uint_eq(atomic_load(&tl->torn), 0);
    ck_assert_uint_eq(atomic_load(&tl->misordered), 0);
    for (unsigned i = 0; i < ns; i++)
        tk_gate_close(&ready[i]);
    ck_assert_int_eq(ipckit_close(ctl), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
    munmap(tl, sizeof *tl);
}

START_TEST(fan_out_1x8_wait)
{
    fan_out(1, 8, "wait");
}
END_TEST

START_TEST(fan_out_4x8_wait)
{
    fan_out(4, 8, "wait");
}
END_TEST

START_TEST(fan_out_1x8_drop)
{
    fan_out(1, 8, "drop");
}
END_TEST

START_TEST(fan_out_4x8_drop)
{
    fan_out(4, 8, "drop");
}
END_TEST

/* ---- stall, die, rejoin ------------------------------------------------- */

#define RUN 3000

struct life {
    int id;      /* tally row */
    int what;    /* 0 reads all, 1 stalls, 2 is killed */
    tk_gate *ready, *stall_done;
};

static int
living_subscriber(void *arg)
{
    struct life *l = arg;
    unsigned char buf[MAXLEN];
    ipckit_channel *ch = open_or_die(IPCKIT_RECV);
    int32_t last = -1;
    tk_gate_open(l->ready);
    for (uint32_t k = 0;; k++) {
        long type = 0;
        uint32_t w, s, gen;
        ssize_t n;
        if (l->what == 1 && k == 100) /* stall until told */
            TK_CHILD_CHECK(tk_gate_wait(l->stall_done, LONG_WAIT) == 0);
        n = ipckit_recv_typed(ch, 0, &type, buf, sizeof buf, LONG_WAIT);
        TK_CHILD_CHECK(n >= 0);
        if (type == END_TYPE)
            break;
        TK_CHILD_CHECK(tk_msg_ok(buf, (size_t) n, &w, &s, &gen) && w == 0 && s < COUNT);
        /* from its first message on, no gap and no duplicate */
        TK_CHILD_CHECK(last < 0 || (int32_t) s == last + 1);
        last = (int32_t) s;
        atomic_fetch_add(&tl->seen[l->id][0][s], 1);
        atomic_fetch_add(&tl->received[l->id], 1);
    }
    return ipckit_close(ch) == 0 ? 0 : 1;
}

START_TEST(subscribers_stall_die_and_rejoin)
{
    unsigned char buf[MAXLEN];
    ipckit_channel *pub;
    tk_gate ready[4], stall_done;
    struct life lives[4];
    pid_t pids[4];
    tl = mmap(NULL, sizeof *tl, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(tl, MAP_FAILED);
    setup("wait", "");
    pub = open_or_die(IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL);
    tk_gate_init(&stall_done);
    for (int i = 0; i < 3; i++) {
        tk_gate_init(&ready[i]);
        lives[i] = (struct life){ i, i, &ready[i], &stall_done };
        pids[i] = tk_fork(living_subscriber, &lives[i]);
        ck_assert_int_eq(tk_gate_wait(&ready[i], LONG_WAIT), 0);
    }
    for (uint32_t s = 0; s < RUN; s++) {
        int rc;
        if (s == 100 + 64) {
            /* the staller stopped after message 99 and the ring holds 64:
             * message 164 waits for it (timeout 0: -EAGAIN), whoever else
             * reads */
            rc = ipckit_send_typed(pub, DATA_TYPE, buf, tk_msg_make(buf, 0, s, 0), 0);
            ck_assert_msg(rc == -EAGAIN, "send past the staller: %s", ipckit_errname(rc));
            tk_gate_open(&stall_done); /* the staller reads again */
        }
        if (s == 500) {
            /* the third dies without closing; a fourth joins */
            kill(pids[2], SIGKILL);
            ck_assert_int_eq(tk_wait(pids[2], LONG_WAIT), 128 + SIGKILL);
            tk_gate_init(&ready[3]);
            lives[3] = (struct life){ 3, 0, &ready[3], &stall_done };
            pids[3] = tk_fork(living_subscriber, &lives[3]);
            ck_assert_int_eq(tk_gate_wait(&ready[3], LONG_WAIT), 0);
        }
        rc = ipckit_send_typed(pub, DATA_TYPE, buf, tk_msg_make(buf, 0, s, 0), LONG_WAIT);
        ck_assert_msg(rc == 0, "send %u: %s (%s)", s, ipckit_errname(rc), ipckit_last_error(pub));
    }
    ck_assert_int_eq(ipckit_send_typed(pub, END_TYPE, "", 0, LONG_WAIT), 0);
    for (int i = 0; i < 4; i++)
        if (i != 2)
            ck_assert_int_eq(tk_wait(pids[i], LONG_WAIT), 0);
    /* the reader and the staller got all of them; the late one everything
     * from its join on (checked in the child: no gap) */
    ck_assert_uint_eq(atomic_load(&tl->received[0]), RUN);
    ck_assert_uint_eq(atomic_load(&tl->received[1]), RUN);
    ck_assert_uint_eq(atomic_load(&tl->received[3]), RUN - 500);
    ck_assert_int_eq(ipckit_close(pub), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
    for (int i = 0; i < 4; i++)
        tk_gate_close(&ready[i]);
    tk_gate_close(&stall_done);
    munmap(tl, sizeof *tl);
}
END_TEST

/* ---- kills -------------------------------------------------------------- */

static int
repeat(void)
{
    const char *e = getenv("IPCKIT_KILL_REPEAT");
    int n = e != NULL ? atoi(e) : 100;
    return n > 0 ? n : 100;
}

struct victim {
    uint32_t gen;
    tk_gate *ready;
};

/* Publishes generation gen's messages 0, 1, 2... until killed; every
 * third through a loan, so that kills land inside loans too. */
static int
endless_publisher(void *arg)
{
    struct victim *v = arg;
    unsigned char buf[MAXLEN];
    ipckit_channel *ch = open_or_die(IPCKIT_SEND);
    tk_gate_open(v->ready);
    for (uint32_t s = 0;; s++) {
        if (s % 3 == 0) {
            void *p;
            TK_CHILD_CHECK(ipckit_send_loan(ch, MAXLEN, &p, LONG_WAIT) == 0);
            TK_CHILD_CHECK(ipckit_send_commit(ch, DATA_TYPE, tk_msg_make(p, 1, s, v->gen)) == 0);
        } else {
            TK_CHILD_CHECK(ipckit_send_typed(ch, DATA_TYPE, buf, tk_msg_make(buf, 1, s, v->gen),
                                             LONG_WAIT) == 0);
        }
    }
}

/* Reads until END: no torn message, each generation's numbers rise by
 * one (wait mode) or at least one (drop mode, where gaps are reported). */
static int
watching_subscriber(void *arg)
{
    tk_gate *ready = arg;
    unsigned char buf[MAXLEN];
    ipckit_channel *ch = open_or_die(IPCKIT_RECV);
    int wait_mode = strstr(name, "bcast=wait") != NULL;
    uint32_t cur_gen = 0;
    int64_t last = -1;
    tk_gate_open(ready);
    for (;;) {
        long type = 0;
        uint32_t w, s, gen;
        ssize_t n = ipckit_recv_typed(ch, 0, &type, buf, sizeof buf, LONG_WAIT);
        if (n == -ENOBUFS && !wait_mode) {
            last = -2; /* anything may follow a reported gap */
            continue;
        }
        TK_CHILD_CHECK(n >= 0);
        if (type == END_TYPE)
            break;
        TK_CHILD_CHECK(tk_msg_ok(buf, (size_t) n, &w, &s, &gen) && w == 1);
        TK_CHILD_CHECK(gen >= cur_gen);
        if (gen != cur_gen) {
            /* a new publisher starts at 0, or (drop) after a gap */
            TK_CHILD_CHECK(s == 0 || last == -2);
            cur_gen = gen;
        } else if (last >= 0) {
            TK_CHILD_CHECK((int64_t) s == last + 1);
        }
        last = s;
        atomic_fetch_add(&tl->received[0], 1);
    }
    return ipckit_close(ch) == 0 ? 0 : 1;
}

static void
publishers_killed(const char *mode)
{
    unsigned seed = (unsigned) time(NULL);
    ipckit_channel *keep;
    tk_gate wready;
    pid_t watcher;
    int n = repeat();
    tl = mmap(NULL, sizeof *tl, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(tl, MAP_FAILED);
    setup(mode, "");
    keep = open_or_die(IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL);
    tk_gate_init(&wready);
    watcher = tk_fork(watching_subscriber, &wready);
    ck_assert_int_eq(tk_gate_wait(&wready, LONG_WAIT), 0);
    for (int it = 0; it < n; it++) {
        struct victim v = { (uint32_t) it + 1, NULL };
        struct timespec ts = { 0, (long) (rand_r(&seed) % 3000) * 1000L };
        tk_gate ready;
        pid_t pid;
        tk_gate_init(&ready);
        v.ready = &ready;
        pid = tk_fork(endless_publisher, &v);
        ck_assert_int_eq(tk_gate_wait(&ready, LONG_WAIT), 0);
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 128 + SIGKILL);
        tk_gate_close(&ready);
    }
    /* the next publisher goes on at once */
    ck_assert_int_eq(ipckit_send_typed(keep, END_TYPE, "", 0, LONG_WAIT), 0);
    ck_assert_int_eq(tk_wait(watcher, LONG_WAIT), 0);
    printf("publishers killed (%s): %d publishers killed at random points, %u messages"
           " delivered whole and in order, 0 torn\n",
           mode, n, atomic_load(&tl->received[0]));
    tk_gate_close(&wready);
    ck_assert_int_eq(ipckit_close(keep), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
    munmap(tl, sizeof *tl);
}

START_TEST(publishers_killed_wait)
{
    publishers_killed("wait");
}
END_TEST

START_TEST(publishers_killed_drop)
{
    publishers_killed("drop");
}
END_TEST

static int
reading_victim(void *arg)
{
    tk_gate *ready = arg;
    unsigned char buf[MAXLEN];
    ipckit_channel *ch = open_or_die(IPCKIT_RECV);
    tk_gate_open(ready);
    for (;;) {
        uint32_t w, s, gen;
        ssize_t n = ipckit_recv(ch, buf, sizeof buf, LONG_WAIT);
        TK_CHILD_CHECK(n >= 0 && tk_msg_ok(buf, (size_t) n, &w, &s, &gen));
        if (s % 5 == 0) { /* borrowed too, so that kills land inside borrows */
            const void *p;
            long type;
            n = ipckit_recv_borrow(ch, &type, &p, LONG_WAIT);
            TK_CHILD_CHECK(n >= 0);
            TK_CHILD_CHECK(ipckit_recv_release(ch) == 0);
        }
    }
}

/* Wait mode: subscribers killed at random points while they read (and
 * borrow) hold the publisher back only until they are found dead; the
 * subscriber that stays gets every message. */
START_TEST(subscribers_killed)
{
    unsigned char buf[MAXLEN];
    unsigned seed = (unsigned) time(NULL) * 31u;
    ipckit_channel *pub, *stay;
    uint32_t s = 0;
    int n = repeat() / 2;
    setup("wait", "");
    pub = open_or_die(IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL);
    stay = open_or_die(IPCKIT_RECV);
    for (int it = 0; it < n; it++) {
        struct timespec ts = { 0, (long) (rand_r(&seed) % 2000) * 1000L };
        tk_gate ready;
        pid_t pid;
        tk_gate_init(&ready);
        pid = tk_fork(reading_victim, &ready);
        ck_assert_int_eq(tk_gate_wait(&ready, LONG_WAIT), 0);
        /* more than the ring holds: the victim must read, or die */
        for (int k = 0; k < 100; k++, s++) {
            uint32_t w, got, gen;
            ssize_t r;
            ck_assert_int_eq(ipckit_send(pub, buf, tk_msg_make(buf, 2, s, 0), LONG_WAIT), 0);
            r = ipckit_recv(stay, buf, sizeof buf, LONG_WAIT);
            ck_assert(r >= 0 && tk_msg_ok(buf, (size_t) r, &w, &got, &gen) && got == s);
            if (k == 30) {
                nanosleep(&ts, NULL);
                kill(pid, SIGKILL);
                ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 128 + SIGKILL);
            }
        }
        tk_gate_close(&ready);
    }
    printf("subscribers killed: %d killed at random points, %u messages all received by the"
           " survivor\n",
           n, s);
    ck_assert_int_eq(ipckit_close(stay), 0);
    ck_assert_int_eq(ipckit_close(pub), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("shm_bcast_processes");
    TCase *tc = tk_tcase("shm_bcast_processes", 600);
    tcase_add_test(tc, fan_out_1x8_wait);
    tcase_add_test(tc, fan_out_4x8_wait);
    tcase_add_test(tc, fan_out_1x8_drop);
    tcase_add_test(tc, fan_out_4x8_drop);
    tcase_add_test(tc, subscribers_stall_die_and_rejoin);
    tcase_add_test(tc, publishers_killed_wait);
    tcase_add_test(tc, publishers_killed_drop);
    tcase_add_test(tc, subscribers_killed);
    suite_add_tcase(s, tc);
    return tk_run(s);
}
