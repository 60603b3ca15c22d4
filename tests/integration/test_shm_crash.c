/*
 * Crash safety of the region lock and the shm: ring: processes killed with
 * SIGKILL at random points, many times over. IPCKIT_KILL_REPEAT sets the
 * number of rounds per test (default 100).
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include <ipckit/ipckit.h>

#include "testkit.h"

#define WAIT_MS 10000

static char name[240], pname[200];
/* The name the killed child opens: plain, or with ?claim=1 (its side held
 * from open to close, no lock per message): the loop tests run both. */
static char child_name[260];

static void
set_child_name(int claimed)
{
    (void) snprintf(child_name, sizeof child_name, "%s%s", name, claimed ? "?claim=1" : "");
}

static void
setup_name(void)
{
    tk_posix_name(pname, sizeof pname);
    (void) snprintf(name, sizeof name, "shm:%s", pname);
}

static int
repeat(void)
{
    const char *e = getenv("IPCKIT_KILL_REPEAT");
    int n = e != NULL ? atoi(e) : 100;
    return n > 0 ? n : 100;
}

static void
sleep_us(long us)
{
    struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Content derived from (a, b): a length and bytes a reader can check. */
static size_t
make_value(unsigned char *b, uint32_t a, uint32_t s, size_t maxlen)
{
    size_t len = 8 + ((size_t) s * 7919u + a * 104729u) % (maxlen - 8);
    uint32_t x = a * 2654435761u + s * 40503u + 1;
    memcpy(b, &a, 4);
    memcpy(b + 4, &s, 4);
    for (size_t i = 8; i < len; i++) {
        x = x * 1103515245u + 12345u;
        b[i] = (unsigned char) (x >> 16);
    }
    return len;
}

static int
value_ok(const unsigned char *b, size_t len, uint32_t *a, uint32_t *s, size_t maxlen)
{
    static unsigned char want[1 << 17];
    if (len < 8 || len > sizeof want)
        return 0;
    memcpy(a, b, 4);
    memcpy(s, b + 4, 4);
    return make_value(want, *a, *s, maxlen) == len && memcmp(want, b, len) == 0;
}

/* ---- region: a holder killed while it holds the lock ------------------------- */

static tk_gate gate;

static int
hold_and_hang(void *arg)
{
    ipckit_region *r = NULL;
    (void) arg;
    TK_CHILD_CHECK(ipckit_region_open(&r, name, 0, 0, NULL) == 0);
    TK_CHILD_CHECK(ipckit_region_lock(r, WAIT_MS) == 0);
    tk_gate_open(&gate);
    for (;;)
        pause();
}

START_TEST(region_holder_killed)
{
    ipckit_region *r;
    long long t0;
    pid_t pid;
    setup_name();
    ck_assert_int_eq(ipckit_region_open(&r, name, IPCKIT_CREATE, 4096, NULL), 0);
    tk_gate_init(&gate);
    pid = tk_fork(hold_and_hang, NULL);
    ck_assert_int_eq(tk_gate_wait(&gate, WAIT_MS), 0);
    ck_assert_int_eq(ipckit_region_lock(r, 0), -EAGAIN);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert_int_eq(tk_wait(pid, WAIT_MS), 128 + SIGKILL);
    t0 = tk_now_ms();
    ck_assert_int_eq(ipckit_region_lock(r, WAIT_MS), -EOWNERDEAD);
    ck_assert_int_lt(tk_now_ms() - t0, 2000);
    ck_assert_str_ne(ipckit_region_last_error(r), "");
    ck_assert_int_eq(ipckit_region_unlock(r), 0);
    /* told once: the lock is healthy again */
    ck_assert_int_eq(ipckit_region_lock(r, 0), 0);
    ck_assert_int_eq(ipckit_region_unlock(r), 0);
    tk_gate_close(&gate);
    ck_assert_int_eq(ipckit_region_close(r), 0);
    ck_assert_int_eq(ipckit_region_unlink(name), 0);
}
END_TEST

#define VAR_MAX 3000u

static int
region_writer(void *arg)
{
    static unsigned char buf[VAR_MAX];
    ipckit_region *r = NULL;
    (void) arg;
    TK_CHILD_CHECK(ipckit_region_open(&r, name, 0, 0, NULL) == 0);
    tk_gate_open(&gate);
    for (;;) {
        uint32_t a, s;
        ssize_t n;
        int rc = ipckit_region_lock(r, WAIT_MS);
        TK_CHILD_CHECK(rc == 0 || rc == -EOWNERDEAD);
        n = ipckit_region_get(r, 1, buf, sizeof buf);
        TK_CHILD_CHECK(n > 0 && value_ok(buf, (size_t) n, &a, &s, VAR_MAX));
        TK_CHILD_CHECK(ipckit_region_put(r, 1, buf, make_value(buf, 1, s + 1, VAR_MAX)) == 0);
        /* a second variable written outside the explicit lock */
        TK_CHILD_CHECK(ipckit_region_unlock(r) == 0);
        TK_CHILD_CHECK(ipckit_region_put(r, 2, buf, make_value(buf, 2, s, VAR_MAX)) == 0);
    }
}

START_TEST(region_killed_at_random)
{
    static unsigned char buf[VAR_MAX];
    ipckit_region *r;
    uint32_t a, s, last = 0;
    unsigned seed = (unsigned) getpid();
    int rounds = repeat(), dead = 0;
    setup_name();
    /* small: chunks leaked by a killed put would run it out within a few rounds
     * unless the repair takes them back */
    ck_assert_int_eq(ipckit_region_open(&r, name, IPCKIT_CREATE, 16384, NULL), 0);
    ck_assert_int_eq(ipckit_region_put(r, 1, buf, make_value(buf, 1, 0, VAR_MAX)), 0);
    for (int round = 0; round < rounds; round++) {
        pid_t pid;
        int rc;
        ssize_t n;
        tk_gate_init(&gate);
        pid = tk_fork(region_writer, NULL);
        ck_assert_int_eq(tk_gate_wait(&gate, WAIT_MS), 0);
        tk_gate_close(&gate);
        sleep_us(rand_r(&seed) % 3000);
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        ck_assert_int_eq(tk_wait(pid, WAIT_MS), 128 + SIGKILL);
        rc = ipckit_region_lock(r, WAIT_MS);
        ck_assert_msg(rc == 0 || rc == -EOWNERDEAD, "round %d: lock: %s", round,
                      ipckit_errname(rc));
        dead += rc == -EOWNERDEAD;
        n = ipckit_region_get(r, 1, buf, sizeof buf);
        ck_assert_msg(n > 0 && value_ok(buf, (size_t) n, &a, &s, VAR_MAX),
                      "round %d: torn value (%zd: %s)", round, n, ipckit_region_last_error(r));
        ck_assert_uint_eq(a, 1);
        ck_assert_uint_ge(s, last);
        last = s;
        n = ipckit_region_get(r, 2, buf, sizeof buf);
        ck_assert(n == -ENOENT || (n > 0 && value_ok(buf, (size_t) n, &a, &s, VAR_MAX)));
        ck_assert_int_eq(ipckit_region_unlock(r), 0);
    }
    /* nothing leaked: a large value still fits */
    ck_assert_int_eq(ipckit_region_put(r, 3, buf, 8000 > VAR_MAX ? VAR_MAX : 8000), 0);
    ck_assert_uint_gt(last, 0);
    fprintf(stderr, "region: %d rounds, %d killed inside the lock, %u increments\n", rounds,
            dead, last);
    ck_assert_int_eq(ipckit_region_close(r), 0);
    ck_assert_int_eq(ipckit_region_unlink(name), 0);
}
END_TEST

/* ---- ring: producers and consumers killed mid-message ------------------------ */

#define RING_MAX 40000u

static int
ring_producer(void *arg)
{
    static unsigned char buf[RING_MAX];
    uint32_t id = (uint32_t) (uintptr_t) arg;
    ipckit_channel *tx = NULL;
    TK_CHILD_CHECK(ipckit_open(&tx, child_name, IPCKIT_SEND, NULL) == 0);
    tk_gate_open(&gate);
    for (uint32_t s = 0;; s++)
        TK_CHILD_CHECK(ipckit_send_typed(tx, (long) id + 1, buf,
                                         make_value(buf, id, s, RING_MAX), WAIT_MS) == 0);
}

START_TEST(ring_producer_killed_at_random)
{
    static unsigned char buf[RING_MAX];
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *ch;
    unsigned seed = (unsigned) getpid() * 3u;
    unsigned long total = 0;
    int rounds = repeat();
    setup_name();
    set_child_name(_i);
    o.capacity = 131072;
    o.max_msg_size = RING_MAX;
    ch = NULL;
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_RECV | IPCKIT_CREATE, &o), 0);
    for (int round = 0; round < rounds; round++) {
        uint32_t next = 0, a, s;
        long long until;
        long type;
        ssize_t n;
        pid_t pid;
        tk_gate_init(&gate);
        pid = tk_fork(ring_producer, (void *) (uintptr_t) round);
        ck_assert_int_eq(tk_gate_wait(&gate, WAIT_MS), 0);
        tk_gate_close(&gate);
        /* consume while it produces, then kill it at a random moment; wait
         * for its first message however slow it is (valgrind), so that
         * every round kills a producer that is sending */
        until = tk_now_ms() + 1 + rand_r(&seed) % 4;
        long long give_up = tk_now_ms() + WAIT_MS;
        while (tk_now_ms() < until || (next == 0 && tk_now_ms() < give_up)) {
            n = ipckit_recv_typed(ch, 0, &type, buf, sizeof buf, 0);
            if (n == -EAGAIN)
                continue;
            ck_assert_msg(n > 0 && value_ok(buf, (size_t) n, &a, &s, RING_MAX),
                          "round %d: torn message (%zd)", round, n);
            ck_assert_uint_eq(a, (uint32_t) round);
            ck_assert_uint_eq(s, next);
            ck_assert_int_eq(type, round + 1);
            next++;
        }
        sleep_us(rand_r(&seed) % 500);
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        ck_assert_int_eq(tk_wait(pid, WAIT_MS), 128 + SIGKILL);
        /* what it published is whole and in order; nothing half-written shows */
        while ((n = ipckit_recv_typed(ch, 0, &type, buf, sizeof buf, 0)) != -EAGAIN) {
            ck_assert_msg(n > 0 && value_ok(buf, (size_t) n, &a, &s, RING_MAX),
                          "round %d: torn message after the kill (%zd: %s)", round, n,
                          ipckit_last_error(ch));
            ck_assert_uint_eq(a, (uint32_t) round);
            ck_assert_uint_eq(s, next);
            next++;
        }
        total += next;
        /* the send lock the producer may have held is usable again */
        ck_assert_int_eq(ipckit_send_typed(ch, 99, "ok", 2, 2000), 0);
        ck_assert_int_eq(ipckit_recv_typed(ch, 0, &type, buf, sizeof buf, 2000), 2);
        ck_assert_int_eq(type, 99);
    }
    ck_assert_uint_ge(total, (unsigned long) rounds);
    fprintf(stderr, "ring producer: %d rounds, %lu messages checked\n", rounds, total);
    ck_assert_int_eq(ipckit_close(ch), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

static _Atomic uint32_t *consumed; /* last sequence a consumer finished, + 1 */

static int
ring_consumer(void *arg)
{
    static unsigned char buf[RING_MAX];
    ipckit_channel *rx = NULL;
    (void) arg;
    TK_CHILD_CHECK(ipckit_open(&rx, child_name, IPCKIT_RECV, NULL) == 0);
    tk_gate_open(&gate);
    for (;;) {
        uint32_t a, s;
        ssize_t n = ipckit_recv(rx, buf, sizeof buf, WAIT_MS);
        TK_CHILD_CHECK(n > 0 && value_ok(buf, (size_t) n, &a, &s, RING_MAX));
        TK_CHILD_CHECK(s == atomic_load(consumed));
        atomic_store(consumed, s + 1);
    }
}

START_TEST(ring_consumer_killed_at_random)
{
    static unsigned char buf[RING_MAX];
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *ch = NULL;
    unsigned seed = (unsigned) getpid() * 7u;
    uint32_t seq = 0;
    int rounds = repeat(), redelivered = 0;
    setup_name();
    set_child_name(_i);
    consumed = mmap(NULL, sizeof *consumed, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                    -1, 0);
    ck_assert_ptr_ne(consumed, MAP_FAILED);
    o.capacity = 131072;
    o.max_msg_size = RING_MAX;
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_RECV | IPCKIT_CREATE, &o), 0);
    for (int round = 0; round < rounds; round++) {
        uint32_t a, s, done;
        long long until;
        ssize_t n;
        pid_t pid;
        atomic_store(consumed, seq);
        tk_gate_init(&gate);
        pid = tk_fork(ring_consumer, NULL);
        ck_assert_int_eq(tk_gate_wait(&gate, WAIT_MS), 0);
        tk_gate_close(&gate);
        until = tk_now_ms() + 1 + rand_r(&seed) % 4;
        while (tk_now_ms() < until) {
            int rc = ipckit_send(ch, buf, make_value(buf, 0, seq, RING_MAX), 0);
            if (rc == -EAGAIN)
                continue;
            ck_assert_int_eq(rc, 0);
            seq++;
        }
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        ck_assert_int_eq(tk_wait(pid, WAIT_MS), 128 + SIGKILL);
        done = atomic_load(consumed);
        /* the rest comes to us in order: from the message the consumer was
         * taking (if it died before freeing it) or the one after */
        n = ipckit_recv(ch, buf, sizeof buf, 0);
        if (n == -EAGAIN) {
            ck_assert_msg(done == seq || done + 1 == seq, "round %d: lost messages", round);
            continue;
        }
        ck_assert_msg(n > 0 && value_ok(buf, (size_t) n, &a, &s, RING_MAX),
                      "round %d: torn message (%zd)", round, n);
        ck_assert_msg(s == done || s == done + 1, "round %d: got %u after %u", round, s, done);
        redelivered += s == done;
        for (uint32_t want = s + 1; want < seq; want++) {
            n = ipckit_recv(ch, buf, sizeof buf, 0);
            ck_assert_msg(n > 0 && value_ok(buf, (size_t) n, &a, &s, RING_MAX) && s == want,
                          "round %d: want %u, got %zd bytes seq %u", round, want, n, s);
        }
        ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 0), -EAGAIN);
    }
    fprintf(stderr, "ring consumer: %d rounds, %u messages, %d redelivered\n", rounds, seq,
            redelivered);
    ck_assert_uint_gt(seq, 0);
    ck_assert_int_eq(ipckit_close(ch), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
    munmap(consumed, sizeof *consumed);
}
END_TEST

/* ---- ring: a process killed while it sleeps holding a side's lock ------------- */

static int
block_in(void *arg)
{
    static unsigned char buf[1000];
    int sending = *(int *) arg;
    ipckit_channel *ch = NULL;
    TK_CHILD_CHECK(ipckit_open(&ch, name, sending ? IPCKIT_SEND : IPCKIT_RECV, NULL) == 0);
    tk_gate_open(&gate);
    if (sending)
        (void) ipckit_send(ch, buf, sizeof buf, IPCKIT_FOREVER); /* the ring is full */
    else
        (void) ipckit_recv(ch, buf, sizeof buf, IPCKIT_FOREVER); /* the ring is empty */
    return 99;
}

START_TEST(ring_sleeper_killed_holding_its_lock)
{
    static unsigned char buf[1000];
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *ch = NULL;
    int sent = 0;
    setup_name();
    o.capacity = 8192;
    o.max_msg_size = sizeof buf;
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_RECV | IPCKIT_CREATE, &o), 0);
    for (int sending = 0; sending <= 1; sending++) {
        long long t0;
        pid_t pid;
        if (sending)
            while (ipckit_send(ch, buf, sizeof buf, 0) == 0)
                sent++;
        tk_gate_init(&gate);
        pid = tk_fork(block_in, &sending);
        ck_assert_int_eq(tk_gate_wait(&gate, WAIT_MS), 0);
        tk_gate_close(&gate);
        /* it sleeps holding the lock of its side: ours waits for it */
        sleep_us(100000);
        if (sending)
            ck_assert_int_eq(ipckit_send(ch, buf, 1, 50), -ETIMEDOUT);
        else
            ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 50), -ETIMEDOUT);
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        ck_assert_int_eq(tk_wait(pid, WAIT_MS), 128 + SIGKILL);
        /* the lock passes on at once; the ring is as it was */
        t0 = tk_now_ms();
        if (sending) {
            ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 0), (ssize_t) sizeof buf);
            ck_assert_int_eq(ipckit_send(ch, buf, 1, WAIT_MS), 0);
            for (int i = 1; i < sent; i++)
                ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 0), (ssize_t) sizeof buf);
            ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 0), 1);
        } else {
            ck_assert_int_eq(ipckit_send(ch, "x", 1, 0), 0);
            ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, WAIT_MS), 1);
        }
        ck_assert_int_lt(tk_now_ms() - t0, 2000);
        ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 0), -EAGAIN);
    }
    ck_assert_int_ge(sent, 4);
    ck_assert_int_eq(ipckit_close(ch), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("shm-crash");
    TCase *tc = tk_tcase("shm-crash", 240);
    tcase_add_test(tc, region_holder_killed);
    tcase_add_test(tc, region_killed_at_random);
    tcase_add_loop_test(tc, ring_producer_killed_at_random, 0, 2);
    tcase_add_loop_test(tc, ring_consumer_killed_at_random, 0, 2);
    tcase_add_test(tc, ring_sleeper_killed_holding_its_lock);
    suite_add_tcase(s, tc);
    return tk_run(s);
}
