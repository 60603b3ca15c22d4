/*
 * Stress and faults over every message backend that is registered, through
 * the public API only (issue: reliability suite).
 *
 *  - stress: P producers x C consumers (8 x 8 where the backend allows
 *    several of each, 8 x 1 for a single-reader backend) with per-producer
 *    sequence numbers and content derived from them: zero lost, duplicated
 *    or corrupted, and each consumer sees each producer's messages in order;
 *  - a producer killed with SIGKILL at random points, repeated
 *    (IPCKIT_FAULT_ITERATIONS, default 200 per backend): no torn message is
 *    ever delivered, losses are reported where the backend can tell
 *    (-EBADMSG), and the channel keeps working;
 *  - a consumer killed at random points while it takes messages: each kill
 *    costs at most one message (the one it had taken), and no torn message
 *    ever reaches a survivor;
 *  - a peer that exits without closing leaves nothing that blocks a new open.
 *
 * signal: is left out (one receiver per process and 6-byte messages; see
 * test_signal and test_signal_storm).
 *
 * The row "shm.bcast" is a broadcast ring in wait mode (shm:NAME?bcast=wait):
 * every consumer is a subscriber that gets every message (each message is
 * then seen once per consumer, and the consumers join before the first
 * message), a killed consumer costs nobody a message, and the process that
 * creates the ring only publishes (a subscriber that never reads would hold
 * the publishers).
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <ipckit/ipckit.h>
#include <ipckit/backend.h>

#include "testkit.h"

#define LONG_WAIT 60000
#define MAXP 8
#define MAXC 8
#define COUNT 1000
#define HDR 12
#define DATA_TYPE 2
#define END_TYPE 1 /* the lowest type: posixmq: delivers it after all data */

struct row {
    const char *scheme;
    const char *params; /* added to the name */
    int bcast;          /* every consumer sees every message */
};

static const struct row rows[] = { { "fifo", "", 0 },
                                   { "mq", "", 0 },
                                   { "posixmq", "", 0 },
                                   { "shm", "", 0 },
                                   { "shm", "?bcast=wait", 1 } };
#define NROWS (sizeof rows / sizeof rows[0])

static char name[600];

static void
make_name(const struct row *r)
{
    if (strcmp(r->scheme, "fifo") == 0) {
        tk_name(name, sizeof name, "fifo", "stress.pipe");
    } else if (strcmp(r->scheme, "mq") == 0) {
        snprintf(name, sizeof name, "mq:%#x", (unsigned) tk_sysv_key());
    } else {
        char p[128];
        tk_posix_name(p, sizeof p);
        snprintf(name, sizeof name, "%s:%s%s", r->scheme, p, r->params);
    }
}

static const char *
row_name(const struct row *r)
{
    return r->bcast ? "shm.bcast" : r->scheme;
}

struct shared {
    atomic_uint seen[MAXP][COUNT];
    atomic_uint corrupt;
    atomic_uint misordered;
    atomic_uint received;
};

static struct shared *sh;
/* Largest message of the tests: a few frames' worth, within every
 * backend's default limit (mq: msgmax and posixmq: msgsize are 8192). */
static const size_t max_len = 4000;

static size_t
msg_len(uint32_t w, uint32_t s)
{
    if (s % 11 == 5)
        return max_len - (w + s) % 32;
    return HDR + (w * 31u + s * 17u) % 200;
}

static int
send_msg(ipckit_channel *ch, uint32_t w, uint32_t s, uint32_t gen)
{
    static unsigned char buf[1 << 16];
    size_t len = msg_len(w, s);
    memcpy(buf, &w, 4);
    memcpy(buf + 4, &s, 4);
    memcpy(buf + 8, &gen, 4);
    tk_fill(buf + HDR, len - HDR, w ^ gen, s);
    return ipckit_send_typed(ch, DATA_TYPE, buf, len, LONG_WAIT);
}

/* 1 if the message is whole and correct. */
static int
check_msg(const unsigned char *buf, size_t n, uint32_t *w, uint32_t *s)
{
    static unsigned char want[1 << 16];
    uint32_t gen;
    if (n < HDR)
        return 0;
    memcpy(w, buf, 4);
    memcpy(s, buf + 4, 4);
    memcpy(&gen, buf + 8, 4);
    if (*w >= 100000 || n != msg_len(*w, *s))
        return 0;
    tk_fill(want, n - HDR, *w ^ gen, *s);
    return memcmp(buf + HDR, want, n - HDR) == 0;
}

static int
producer(void *arg)
{
    uint32_t w = (uint32_t) (uintptr_t) arg;
    ipckit_channel *ch = NULL;
    TK_CHILD_CHECK(ipckit_open(&ch, name, IPCKIT_SEND, NULL) == 0);
    for (uint32_t s = 0; s < COUNT; s++)
        TK_CHILD_CHECK(send_msg(ch, w, s, 0) == 0);
    return ipckit_close(ch) == 0 ? 0 : 1;
}

static int
consumer(void *arg)
{
    static unsigned char buf[1 << 16];
    int32_t last[MAXP];
    ipckit_channel *ch = NULL;
    tk_gate *joined = arg;
    for (int i = 0; i < MAXP; i++)
        last[i] = -1;
    TK_CHILD_CHECK(ipckit_open(&ch, name, IPCKIT_RECV, NULL) == 0);
    if (joined != NULL)
        tk_gate_open(joined);
    for (;;) {
        long type = 0;
        uint32_t w, s;
        ssize_t n = ipckit_recv_typed(ch, 0, &type, buf, sizeof buf, LONG_WAIT);
        TK_CHILD_CHECK(n >= 0);
        if (type == END_TYPE)
            break;
        if (!check_msg(buf, (size_t) n, &w, &s) || w >= MAXP || s >= COUNT) {
            atomic_fetch_add(&sh->corrupt, 1);
            continue;
        }
        if ((int32_t) s <= last[w])
            atomic_fetch_add(&sh->misordered, 1);
        last[w] = (int32_t) s;
        atomic_fetch_add(&sh->seen[w][s], 1);
        atomic_fetch_add(&sh->received, 1);
    }
    return ipckit_close(ch) == 0 ? 0 : 1;
}

START_TEST(stress)
{
    const struct row *r = &rows[_i];
    const ipckit_backend *be = ipckit_backend_find(r->scheme);
    ipckit_channel *ctl = NULL;
    pid_t prod[MAXP], cons[MAXC];
    tk_gate joined[MAXC];
    unsigned np = MAXP, nc, lost = 0, dup = 0, each;

    if (be == NULL) {
        printf("stress %s: backend not registered, skipped\n", r->scheme);
        return;
    }
    nc = (be->caps & IPCKIT_CAP_MULTI_RECV) ? MAXC : 1;
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(sh, MAP_FAILED);
    make_name(r);
    each = r->bcast ? nc : 1; /* how often each message is received */
    if (r->bcast) {
        /* subscribers join before the first message; this process publishes */
        ck_assert_int_eq(ipckit_open(&ctl, name, IPCKIT_SEND | IPCKIT_CREATE, NULL), 0);
        for (unsigned c = 0; c < nc; c++) {
            tk_gate_init(&joined[c]);
            cons[c] = tk_fork(consumer, &joined[c]);
        }
        for (unsigned c = 0; c < nc; c++) {
            ck_assert_int_eq(tk_gate_wait(&joined[c], LONG_WAIT), 0);
            tk_gate_close(&joined[c]);
        }
    } else if (strcmp(r->scheme, "fifo") == 0) {
        /* create it; the consumer child holds the read end */
        ck_assert_int_eq(ipckit_open(&ctl, name, IPCKIT_RECV | IPCKIT_CREATE, NULL), 0);
        ck_assert_int_eq(ipckit_close(ctl), 0);
        for (unsigned c = 0; c < nc; c++)
            cons[c] = tk_fork(consumer, NULL);
        ck_assert_int_eq(ipckit_open(&ctl, name, IPCKIT_SEND, NULL), 0);
    } else {
        ck_assert_int_eq(ipckit_open(&ctl, name, IPCKIT_SEND | IPCKIT_RECV | IPCKIT_CREATE, NULL), 0);
        for (unsigned c = 0; c < nc; c++)
            cons[c] = tk_fork(consumer, NULL);
    }
    for (unsigned p = 0; p < np; p++)
        prod[p] = tk_fork(producer, (void *) (uintptr_t) p);
    for (unsigned p = 0; p < np; p++)
        ck_assert_int_eq(tk_wait(prod[p], LONG_WAIT), 0);
    for (unsigned c = 0; c < nc; c++)
        ck_assert_int_eq(ipckit_send_typed(ctl, END_TYPE, "", 0, LONG_WAIT), 0);
    for (unsigned c = 0; c < nc; c++)
        ck_assert_int_eq(tk_wait(cons[c], LONG_WAIT), 0);
    for (unsigned p = 0; p < np; p++)
        for (unsigned s = 0; s < COUNT; s++) {
            unsigned v = atomic_load(&sh->seen[p][s]);
            lost += v < each ? each - v : 0;
            dup += v > each ? v - each : 0;
        }
    printf("stress %s: %u producers x %u consumers x %u messages: %u received, %u lost, %u"
           " duplicated, %u corrupted, %u out of order\n",
           row_name(r), np, nc, COUNT, atomic_load(&sh->received), lost, dup,
           atomic_load(&sh->corrupt), atomic_load(&sh->misordered));
    ck_assert_uint_eq(lost, 0);
    ck_assert_uint_eq(dup, 0);
    ck_assert_uint_eq(atomic_load(&sh->corrupt), 0);
    ck_assert_uint_eq(atomic_load(&sh->misordered), 0);
    ck_assert_int_eq(ipckit_close(ctl), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
    munmap(sh, sizeof *sh);
}
END_TEST

struct killed {
    uint32_t gen;
    tk_gate *ready;
};

static int
endless_producer(void *arg)
{
    struct killed *k = arg;
    ipckit_channel *ch = NULL;
    TK_CHILD_CHECK(ipckit_open(&ch, name, IPCKIT_SEND, NULL) == 0);
    tk_gate_open(k->ready);
    for (uint32_t s = 0;; s = (s + 1) % COUNT)
        TK_CHILD_CHECK(send_msg(ch, 7, s, k->gen) == 0);
}

static int
iterations(void)
{
    const char *e = getenv("IPCKIT_FAULT_ITERATIONS");
    int n = e ? atoi(e) : 200;
    return n > 0 ? n : 200;
}

START_TEST(producer_killed)
{
    static unsigned char buf[1 << 16];
    const struct row *r = &rows[_i];
    ipckit_channel *rx = NULL, *keep = NULL;
    unsigned seed = (unsigned) time(NULL) ^ (unsigned) _i;
    unsigned delivered = 0, reported = 0;
    int n_iter = iterations();

    if (ipckit_backend_find(r->scheme) == NULL) {
        printf("faults %s: backend not registered, skipped\n", r->scheme);
        return;
    }
    make_name(r);
    ck_assert_int_eq(ipckit_open(&rx, name, IPCKIT_RECV | IPCKIT_CREATE, NULL), 0);
    /* our own sender end keeps a fifo: stream open between producers */
    ck_assert_int_eq(ipckit_open(&keep, name, IPCKIT_SEND, NULL), 0);
    for (int it = 0; it < n_iter; it++) {
        struct killed k = { (uint32_t) it + 1, NULL };
        struct timespec ts = { 0, (long) (rand_r(&seed) % 2000) * 1000L };
        tk_gate ready;
        tk_gate_init(&ready);
        k.ready = &ready;
        pid_t pid = tk_fork(endless_producer, &k);
        ck_assert_int_eq(tk_gate_wait(&ready, LONG_WAIT), 0);
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 128 + SIGKILL);
        tk_gate_close(&ready);
        /* drain what it sent: every message whole, or the loss reported */
        for (;;) {
            uint32_t w, s;
            ssize_t n = ipckit_recv(rx, buf, sizeof buf, 0);
            if (n == -EAGAIN)
                break;
            if (n == -EBADMSG) {
                reported++;
                continue;
            }
            ck_assert_msg(n >= 0, "%s iteration %d: %s", r->scheme, it, ipckit_last_error(rx));
            ck_assert_msg(check_msg(buf, (size_t) n, &w, &s) && w == 7,
                          "%s iteration %d: torn message", r->scheme, it);
            delivered++;
        }
    }
    /* the channel still works */
    for (uint32_t i = 0; i < 20; i++) {
        uint32_t w, s;
        ck_assert_int_eq(send_msg(keep, 9, i, 0), 0);
        ssize_t n = ipckit_recv(rx, buf, sizeof buf, LONG_WAIT);
        ck_assert_int_ge(n, 0);
        ck_assert(check_msg(buf, (size_t) n, &w, &s) && w == 9 && s == i);
    }
    printf("faults %s: %d producers killed at random points, %u messages delivered intact,"
           " %u losses reported, 0 torn\n",
           row_name(r), n_iter, delivered, reported);
    ck_assert_int_eq(ipckit_close(keep), 0);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/* A consumer that records every message it takes, until it is killed. */
static int bcast_row; /* the row under test is a broadcast ring */

static int
recording_consumer(void *arg)
{
    static unsigned char buf[1 << 16];
    tk_gate *ready = arg;
    ipckit_channel *ch = NULL;
    TK_CHILD_CHECK(ipckit_open(&ch, name, IPCKIT_RECV, NULL) == 0);
    tk_gate_open(ready);
    for (;;) {
        uint32_t w, s;
        ssize_t n = ipckit_recv(ch, buf, sizeof buf, LONG_WAIT);
        TK_CHILD_CHECK(n >= 0 && check_msg(buf, (size_t) n, &w, &s) && w < MAXP && s < COUNT);
        /* a subscriber of a broadcast ring takes nothing from the others */
        if (!bcast_row)
            atomic_fetch_add(&sh->seen[w][s], 1);
        /* a slow consumer, so that kills land while messages are waiting */
        struct timespec ts = { 0, 100000L };
        nanosleep(&ts, NULL);
    }
}

/*
 * A consumer killed at random points while it takes messages: survivors
 * never get a torn message, and each kill costs at most one message: the one
 * the consumer had received but not yet recorded (delivery is at most once
 * on every backend), or on shm: one it was copying out, which is then
 * delivered again (a consumer frees its record only after the copy).
 */
START_TEST(consumer_killed)
{
    static unsigned char buf[1 << 16];
    const struct row *r = &rows[_i];
    const ipckit_backend *be = ipckit_backend_find(r->scheme);
    ipckit_channel *ch = NULL;
    unsigned seed = (unsigned) time(NULL) ^ 77u * (unsigned) _i;
    unsigned kills = 0, lost = 0, dup = 0;
    uint32_t sent = 0;
    int n_iter = iterations() / 2;

    if (be == NULL || !(be->caps & IPCKIT_CAP_MULTI_RECV)) {
        printf("consumer kills %s: skipped (%s)\n", r->scheme,
               be == NULL ? "backend not registered" : "one receiver only");
        return;
    }
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(sh, MAP_FAILED);
    make_name(r);
    bcast_row = r->bcast;
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_RECV | IPCKIT_CREATE, NULL), 0);
    for (int it = 0; it < n_iter && sent + 8 <= COUNT; it++) {
        struct timespec ts = { 0, (long) (rand_r(&seed) % 1500) * 1000L };
        tk_gate ready;
        /* the survivor (this process) takes what the last one left */
        for (;;) {
            uint32_t w, s;
            ssize_t n = ipckit_recv(ch, buf, sizeof buf, 0);
            if (n == -EAGAIN)
                break;
            ck_assert_msg(n >= 0 && check_msg(buf, (size_t) n, &w, &s) && w == 0 && s < sent,
                          "%s: torn or foreign message after a consumer was killed", r->scheme);
            atomic_fetch_add(&sh->seen[w][s], 1);
        }
        /* a few messages for the next one to take */
        for (int k = 0; k < 8; k++, sent++)
            ck_assert_int_eq(send_msg(ch, 0, sent, 0), 0);
        tk_gate_init(&ready);
        pid_t pid = tk_fork(recording_consumer, &ready);
        ck_assert_int_eq(tk_gate_wait(&ready, LONG_WAIT), 0);
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 128 + SIGKILL);
        tk_gate_close(&ready);
        kills++;
    }
    /* the survivor takes what is left: whole messages only */
    for (;;) {
        uint32_t w, s;
        ssize_t n = ipckit_recv(ch, buf, sizeof buf, 0);
        if (n == -EAGAIN)
            break;
        ck_assert_msg(n >= 0 && check_msg(buf, (size_t) n, &w, &s) && w == 0 && s < sent,
                      "%s: torn or foreign message after a consumer was killed", r->scheme);
        atomic_fetch_add(&sh->seen[w][s], 1);
    }
    for (uint32_t s = 0; s < sent; s++) {
        unsigned v = atomic_load(&sh->seen[0][s]);
        lost += v == 0;
        dup += v > 1 ? v - 1 : 0;
    }
    printf("consumer kills %s: %u consumers killed, %u messages, %u lost, %u delivered twice\n",
           row_name(r), kills, sent, lost, dup);
    ck_assert_uint_le(lost + dup, kills);
    if (r->bcast) /* the survivor has its own position: it gets them all */
        ck_assert_uint_eq(lost + dup, 0);
    ck_assert_int_eq(ipckit_close(ch), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
    munmap(sh, sizeof *sh);
}
END_TEST

static int
open_and_vanish(void *arg)
{
    ipckit_channel *ch = NULL;
    unsigned flags = (unsigned) (uintptr_t) arg;
    TK_CHILD_CHECK(ipckit_open(&ch, name, flags, NULL) == 0);
    if (flags & IPCKIT_SEND)
        TK_CHILD_CHECK(send_msg(ch, 3, 1, 0) == 0);
    _exit(0); /* no close */
}

START_TEST(peer_exits_without_close)
{
    static unsigned char buf[1 << 16];
    const struct row *r = &rows[_i];
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *rx = NULL, *again = NULL;
    uint32_t w, s;

    if (ipckit_backend_find(r->scheme) == NULL)
        return;
    make_name(r);
    ck_assert_int_eq(ipckit_open(&rx, name, IPCKIT_RECV | IPCKIT_CREATE, NULL), 0);
    ck_assert_int_eq(tk_wait(tk_fork(open_and_vanish, (void *) (uintptr_t) IPCKIT_SEND), LONG_WAIT), 0);
    ssize_t n = ipckit_recv(rx, buf, sizeof buf, LONG_WAIT);
    ck_assert_int_ge(n, 0);
    ck_assert(check_msg(buf, (size_t) n, &w, &s) && w == 3);
    /* a new sender opens at once, with no wait for anything the dead one held */
    o.open_timeout_ms = 5000;
    ck_assert_int_eq(ipckit_open(&again, name, IPCKIT_SEND, &o), 0);
    ck_assert_int_eq(send_msg(again, 4, 2, 0), 0);
    n = ipckit_recv(rx, buf, sizeof buf, LONG_WAIT);
    ck_assert(n >= 0 && check_msg(buf, (size_t) n, &w, &s) && w == 4);
    ck_assert_int_eq(ipckit_close(again), 0);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("stress_all");
    TCase *tc = tk_tcase("all_backends", 300);
    tcase_add_loop_test(tc, stress, 0, (int) NROWS);
    tcase_add_loop_test(tc, producer_killed, 0, (int) NROWS);
    tcase_add_loop_test(tc, consumer_killed, 0, (int) NROWS);
    tcase_add_loop_test(tc, peer_exits_without_close, 0, (int) NROWS);
    suite_add_tcase(s, tc);
    return tk_run(s);
}
