/*
 * fifo: under load and under faults, with real processes.
 *
 *  - stress: 8 writers x many messages of mixed sizes into one reader; every
 *    message carries (writer, sequence) and content derived from them: zero
 *    lost, duplicated, corrupted or reordered per writer;
 *  - a writer killed with SIGKILL at a random point, many times in a row: the
 *    reader never gets a torn message, learns of the loss (-EBADMSG at most
 *    once per kill), and the channel keeps working for the next writer;
 *  - a reader killed while a writer is in the middle of a large message: the
 *    writer gets -EPIPE, never hangs and never dies of SIGPIPE;
 *  - a peer that takes the large-message lock and keeps it: large sends time
 *    out and say why, single-frame sends go through;
 *  - a second receiver that tries to open while writers send large
 *    messages: refused, and the receiver gets every message whole;
 *  - a writer killed in the middle of a large message while others keep
 *    the FIFO open: that message is reported cut off (-EBADMSG, not the
 *    -EPROTO of a stream that lost its framing), the next one arrives.
 *
 * IPCKIT_FAULT_ITERATIONS sets the number of kills (default 200).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <ipckit/ipckit.h>

#include "testkit.h"

#define LONG_WAIT 60000
#define HDR 8
#define BIG (1 << 17)

static char name[600];

static size_t
msg_len(uint32_t w, uint32_t s)
{
    if (s % 10 == 9)
        return 20000 + (w * 7919u + s * 104729u) % 60000; /* several frames */
    return HDR + (w * 31u + s * 17u) % 500;
}

/* 1 if buf holds a whole, correct message; *w and *s get its origin. */
static int
verify(const unsigned char *buf, size_t n, uint32_t *w, uint32_t *s)
{
    static unsigned char want[BIG];
    if (n < HDR)
        return 0;
    memcpy(w, buf, 4);
    memcpy(s, buf + 4, 4);
    if (*w >= 1000 || n != msg_len(*w, *s))
        return 0;
    tk_fill(want, n - HDR, *w, *s);
    return memcmp(buf + HDR, want, n - HDR) == 0;
}

static int
send_one(ipckit_channel *tx, uint32_t w, uint32_t s, int timeout)
{
    static unsigned char buf[BIG];
    size_t len = msg_len(w, s);
    memcpy(buf, &w, 4);
    memcpy(buf + 4, &s, 4);
    tk_fill(buf + HDR, len - HDR, w, s);
    return ipckit_send_typed(tx, (long) w + 1, buf, len, timeout);
}

struct writer {
    uint32_t id, count;
    tk_gate *ready;
    int timeout; /* of each send: LONG_WAIT, or -1 (a claimed writer's whole frames) */
};

static int
writer_main(void *arg)
{
    struct writer *a = arg;
    ipckit_channel *tx = NULL;
    TK_CHILD_CHECK(ipckit_open(&tx, name, IPCKIT_SEND, NULL) == 0);
    if (a->ready != NULL)
        tk_gate_open(a->ready);
    for (uint32_t s = 0; a->count == 0 || s < a->count; s++)
        TK_CHILD_CHECK(send_one(tx, a->id, s, a->timeout ? a->timeout : LONG_WAIT) == 0);
    TK_CHILD_CHECK(ipckit_close(tx) == 0);
    return 0;
}

START_TEST(stress_eight_writers)
{
    enum { WRITERS = 8, COUNT = 1500 };
    static unsigned char buf[BIG];
    struct writer a[WRITERS];
    uint32_t next[WRITERS] = { 0 };
    pid_t pids[WRITERS];
    unsigned received = 0, corrupted = 0, misordered = 0;
    ipckit_channel *rx = NULL, *keeper = NULL;

    tk_name(name, sizeof name, "fifo", "stress.pipe");
    ck_assert_int_eq(ipckit_open(&rx, name, IPCKIT_RECV | IPCKIT_CREATE, NULL), 0);
    /* our own writer end: the stream must not end between writers */
    ck_assert_int_eq(ipckit_open(&keeper, name, IPCKIT_SEND, NULL), 0);
    for (uint32_t w = 0; w < WRITERS; w++) {
        a[w] = (struct writer){ w, COUNT, NULL, 0 };
        pids[w] = tk_fork(writer_main, &a[w]);
    }
    for (;;) {
        long type;
        uint32_t w, s;
        if (received + corrupted == WRITERS * COUNT) {
            for (uint32_t k = 0; k < WRITERS; k++)
                ck_assert_int_eq(tk_wait(pids[k], LONG_WAIT), 0);
            ck_assert_int_eq(ipckit_close(keeper), 0);
        }
        ssize_t n = ipckit_recv_typed(rx, 0, &type, buf, sizeof buf, LONG_WAIT);
        if (n == -EPIPE && received + corrupted == WRITERS * COUNT)
            break;
        ck_assert_msg(n >= 0, "recv after %u messages: %s", received, ipckit_last_error(rx));
        if (!verify(buf, (size_t) n, &w, &s) || w >= WRITERS || type != (long) w + 1) {
            corrupted++;
            continue;
        }
        if (s != next[w])
            misordered++;
        next[w] = s + 1;
        received++;
    }
    printf("fifo stress: %d writers x %d messages: %u received, %u lost, %u corrupted,"
           " %u out of order\n",
           WRITERS, COUNT, received, WRITERS * COUNT - received, corrupted, misordered);
    ck_assert_uint_eq(corrupted, 0);
    ck_assert_uint_eq(misordered, 0);
    ck_assert_uint_eq(received, WRITERS * COUNT);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

static int
iterations(void)
{
    const char *e = getenv("IPCKIT_FAULT_ITERATIONS");
    int n = e ? atoi(e) : 200;
    return n > 0 ? n : 200;
}

/*
 * The writer variants of the kill tests: frames (any writer, and a claimed
 * writer's sends with a timeout); a claimed writer's whole frames (sends
 * that wait for ever), taken by timed receives (from the read buffer) and
 * by receives that wait for ever (large payloads read straight into the
 * caller's buffer).
 */
enum { KV_FRAMES, KV_WHOLE_TIMED_RECV, KV_WHOLE_BLOCKING_RECV, KV_COUNT };
static const char *const kv_names[KV_COUNT] = { "frames", "whole frames, timed receives",
                                                "whole frames, receives that wait" };

START_TEST(writer_killed_at_random_points)
{
    static unsigned char buf[BIG];
    ipckit_channel *rx = NULL;
    unsigned seed = (unsigned) time(NULL);
    unsigned delivered = 0, losses = 0, kills = 0;
    int n_iter = iterations() / (_i == KV_FRAMES ? 1 : 2);
    int send_timeout = _i == KV_FRAMES ? LONG_WAIT : -1;
    int recv_timeout = _i == KV_WHOLE_BLOCKING_RECV ? -1 : LONG_WAIT;

    tk_name(name, sizeof name, "fifo", "kill.pipe");
    ck_assert_int_eq(ipckit_open(&rx, name, IPCKIT_RECV | IPCKIT_CREATE, NULL), 0);
    if (_i != KV_FRAMES) {
        size_t at = strlen(name); /* the writers' name */
        ck_assert_int_lt(snprintf(name + at, sizeof name - at, "?claim=1"), (int) (sizeof name - at));
    }
    for (int it = 0; it < n_iter; it++) {
        struct writer a = { (uint32_t) it % 1000, 0, NULL, send_timeout };
        tk_gate ready;
        struct timespec ts = { 0, (long) (rand_r(&seed) % 3000) * 1000L };
        unsigned bad = 0;
        tk_gate_init(&ready);
        a.ready = &ready;
        pid_t pid = tk_fork(writer_main, &a);
        ck_assert_int_eq(tk_gate_wait(&ready, LONG_WAIT), 0);
        /* let it run a little while the reader drains, then kill it */
        if (rand_r(&seed) % 2) {
            ssize_t n = ipckit_recv(rx, buf, sizeof buf, recv_timeout);
            ck_assert_int_ge(n, 0);
        }
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 128 + SIGKILL);
        kills++;
        for (;;) {
            uint32_t w, s;
            ssize_t n = ipckit_recv(rx, buf, sizeof buf, recv_timeout);
            if (n == -EPIPE)
                break;
            if (n == -EBADMSG) {
                bad++;
                continue;
            }
            ck_assert_msg(n >= 0, "iteration %d: %s", it, ipckit_last_error(rx));
            ck_assert_msg(verify(buf, (size_t) n, &w, &s), "iteration %d: torn message", it);
            delivered++;
        }
        ck_assert_uint_le(bad, 1); /* one partial message at most, reported once */
        losses += bad;
        tk_gate_close(&ready);
    }
    /* the channel still works */
    struct writer last = { 999, 25, NULL, send_timeout };
    tk_gate ready;
    tk_gate_init(&ready);
    last.ready = &ready;
    pid_t pid = tk_fork(writer_main, &last);
    ck_assert_int_eq(tk_gate_wait(&ready, LONG_WAIT), 0);
    for (uint32_t i = 0; i < last.count; i++) {
        uint32_t w, s;
        ssize_t n = ipckit_recv(rx, buf, sizeof buf, recv_timeout);
        ck_assert_int_ge(n, 0);
        ck_assert(verify(buf, (size_t) n, &w, &s) && w == 999 && s == i);
    }
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    tk_gate_close(&ready);
    printf("fifo faults (%s): %u writers killed at random points, %u messages delivered"
           " intact, %u partial messages discarded and reported, 0 torn\n",
           kv_names[_i], kills, delivered, losses);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

static int
reader_then_die(void *arg)
{
    tk_gate *ready = arg;
    ipckit_channel *rx = NULL;
    char buf[64];
    TK_CHILD_CHECK(ipckit_open(&rx, name, IPCKIT_RECV, NULL) == 0);
    tk_gate_open(ready);
    (void) ipckit_recv(rx, buf, sizeof buf, LONG_WAIT);
    for (;;)
        pause(); /* killed here, holding the read end */
}

START_TEST(reader_killed_mid_message)
{
    static unsigned char big[1 << 20];
    int n_iter = iterations() / 4;
    tk_name(name, sizeof name, "fifo", "reader.pipe");
    ck_assert_int_eq(mkfifo(strchr(name, ':') + 1, 0600), 0);
    signal(SIGPIPE, SIG_DFL); /* dying of SIGPIPE would fail the test */
    for (int it = 0; it < n_iter; it++) {
        ipckit_channel *tx = NULL;
        tk_gate ready;
        tk_gate_init(&ready);
        pid_t pid = tk_fork(reader_then_die, &ready);
        ck_assert_int_eq(tk_gate_wait(&ready, LONG_WAIT), 0);
        ck_assert_int_eq(ipckit_open(&tx, name, IPCKIT_SEND, NULL), 0);
        ck_assert_int_eq(ipckit_send(tx, "x", 1, LONG_WAIT), 0);
        /* the reader read one message and stops reading; the big one blocks */
        kill(pid, SIGKILL);
        ck_assert_int_eq(ipckit_send(tx, big, sizeof big, LONG_WAIT), -EPIPE);
        ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 128 + SIGKILL);
        ck_assert_int_eq(ipckit_close(tx), 0);
        tk_gate_close(&ready);
    }
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

struct lock_holder {
    tk_gate ready;   /* child -> parent: the lock is held */
    tk_gate release; /* parent -> child: let it go */
};

/* A writer that takes the FIFO's large-message lock and sends nothing. */
static int
hold_large_message_lock(void *arg)
{
    struct lock_holder *h = arg;
    int fd = open(strchr(name, ':') + 1, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    TK_CHILD_CHECK(fd >= 0);
    TK_CHILD_CHECK(flock(fd, LOCK_EX) == 0);
    tk_gate_open(&h->ready);
    TK_CHILD_CHECK(tk_gate_wait(&h->release, LONG_WAIT) == 0);
    return close(fd) == 0 ? 0 : 1;
}

/* The send's detail says why it waited, and names the holder if it does. */
static void
check_lock_detail(ipckit_channel *tx, pid_t holder)
{
    const char *d = ipckit_last_error(tx), *p = strstr(d, "pid ");
    ck_assert_msg(strstr(d, "another writer") != NULL && strstr(d, "large-message lock") != NULL,
                  "detail: %s", d);
    if (p != NULL)
        ck_assert_msg(atol(p + 4) == (long) holder, "detail: %s (holder %ld)", d, (long) holder);
}

/*
 * A peer that can open the FIFO for writing takes the large-message lock and
 * keeps it: large sends time out with a detail that says so, single-frame
 * sends go through, and large ones work again once it lets go.
 */
START_TEST(large_message_lock_held_by_another)
{
    static unsigned char big[20000], out[20000];
    ipckit_channel *rx = NULL, *tx = NULL;
    struct lock_holder h;
    long long t0;
    char buf[16];
    pid_t pid;

    tk_name(name, sizeof name, "fifo", "locked.pipe");
    ck_assert_int_eq(ipckit_open(&rx, name, IPCKIT_RECV | IPCKIT_CREATE, NULL), 0);
    ck_assert_int_eq(ipckit_open(&tx, name, IPCKIT_SEND, NULL), 0);
    tk_gate_init(&h.ready);
    tk_gate_init(&h.release);
    pid = tk_fork(hold_large_message_lock, &h);
    ck_assert_int_eq(tk_gate_wait(&h.ready, LONG_WAIT), 0);

    tk_fill(big, sizeof big, 1, 2);
    t0 = tk_now_ms();
    ck_assert_int_eq(ipckit_send(tx, big, sizeof big, 300), -ETIMEDOUT);
    ck_assert_int_lt(tk_now_ms() - t0, LONG_WAIT);
    check_lock_detail(tx, pid);
    ck_assert_int_eq(ipckit_send(tx, big, sizeof big, 0), -EAGAIN);
    check_lock_detail(tx, pid);
    /* a one-frame message takes no lock */
    ck_assert_int_eq(ipckit_send(tx, "small", 5, LONG_WAIT), 0);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, LONG_WAIT), 5);
    ck_assert_int_eq(memcmp(buf, "small", 5), 0);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), -EAGAIN); /* nothing of the big one */

    tk_gate_open(&h.release);
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    ck_assert_int_eq(ipckit_send(tx, big, sizeof big, LONG_WAIT), 0);
    ck_assert_int_eq(ipckit_recv(rx, out, sizeof out, LONG_WAIT), (ssize_t) sizeof big);
    ck_assert_int_eq(memcmp(out, big, sizeof big), 0);
    tk_gate_close(&h.ready);
    tk_gate_close(&h.release);
    ck_assert_int_eq(ipckit_close(tx), 0);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

struct thief {
    tk_gate ready; /* parent -> thief: the writers are sending */
    pid_t owner;   /* the process whose receiver has the FIFO */
};

/* Try to receive from a FIFO that has a receiver: 0 if refused as it must
 * be, else how many messages it took (at most 100) plus 1. */
static int
second_receiver(void *arg)
{
    struct thief *t = arg;
    static unsigned char buf[BIG];
    ipckit_channel *rx = NULL;
    char want[32];
    int rc, took = 0;
    TK_CHILD_CHECK(tk_gate_wait(&t->ready, LONG_WAIT) == 0);
    rc = ipckit_open(&rx, name, IPCKIT_RECV, NULL);
    if (rc == -EBUSY) {
        (void) snprintf(want, sizeof want, "(pid %ld)", (long) t->owner);
        TK_CHILD_CHECK(strstr(ipckit_error_detail(), want) != NULL);
        return 0;
    }
    TK_CHILD_CHECK(rc == 0);
    while (took < 100 && ipckit_recv(rx, buf, sizeof buf, 200) != -ETIMEDOUT)
        took++;
    (void) ipckit_close(rx);
    return took + 1;
}

/*
 * Writers send messages of several frames; a second receiver tries to open
 * the FIFO meanwhile. It is refused, and the one receiver gets every
 * message, whole and in order (two receivers would take frames out of each
 * other's messages: -EBADMSG, or messages lost).
 */
START_TEST(second_receiver_cannot_take_messages)
{
    enum { WRITERS = 3, COUNT = 300 };
    static unsigned char buf[BIG];
    struct writer a[WRITERS];
    uint32_t next[WRITERS] = { 0 };
    pid_t pids[WRITERS], thief;
    ipckit_channel *rx = NULL, *keeper = NULL;
    struct thief *t;
    unsigned received = 0;

    t = mmap(NULL, sizeof *t, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(t, MAP_FAILED);
    tk_name(name, sizeof name, "fifo", "thief.pipe");
    ck_assert_int_eq(ipckit_open(&rx, name, IPCKIT_RECV | IPCKIT_CREATE, NULL), 0);
    ck_assert_int_eq(ipckit_open(&keeper, name, IPCKIT_SEND, NULL), 0);
    tk_gate_init(&t->ready);
    t->owner = getpid();
    thief = tk_fork(second_receiver, t);
    for (uint32_t w = 0; w < WRITERS; w++) {
        a[w] = (struct writer){ w, COUNT, NULL, 0 };
        pids[w] = tk_fork(writer_main, &a[w]);
    }
    while (received < WRITERS * COUNT) {
        uint32_t w, s;
        long type;
        ssize_t n = ipckit_recv_typed(rx, 0, &type, buf, sizeof buf, LONG_WAIT);
        ck_assert_msg(n >= 0, "recv after %u messages: %s", received, ipckit_last_error(rx));
        ck_assert_msg(verify(buf, (size_t) n, &w, &s) && w < WRITERS && type == (long) w + 1,
                      "message %u is not whole", received);
        ck_assert_uint_eq(s, next[w]);
        next[w] = s + 1;
        if (++received == 40)
            tk_gate_open(&t->ready); /* large messages are on their way */
    }
    for (uint32_t w = 0; w < WRITERS; w++)
        ck_assert_int_eq(tk_wait(pids[w], LONG_WAIT), 0);
    ck_assert_int_eq(tk_wait(thief, LONG_WAIT), 0);
    tk_gate_close(&t->ready);
    ck_assert_int_eq(munmap(t, sizeof *t), 0);
    ck_assert_int_eq(ipckit_close(keeper), 0);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, LONG_WAIT), -EPIPE);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

static int
send_endless_large(void *arg)
{
    static unsigned char big[1 << 20];
    ipckit_channel *tx = NULL;
    (void) arg;
    TK_CHILD_CHECK(ipckit_open(&tx, name, IPCKIT_SEND, NULL) == 0);
    (void) ipckit_send(tx, big, sizeof big, -1); /* killed while blocked in here */
    return 3;
}

/*
 * A writer dies in the middle of a large message while another writer
 * keeps the FIFO open. The reader learns of it when the next large message
 * begins: -EBADMSG once, with a detail that says what happened, and the
 * next message arrives; nothing says the stream lost its framing.
 */
START_TEST(writer_killed_while_others_write)
{
    static unsigned char buf[1 << 20], big[30000];
    ipckit_channel *rx = NULL, *tx = NULL;
    const char *d;
    long long until;
    int fd, psz, queued = 0;
    pid_t pid;

    tk_name(name, sizeof name, "fifo", "cutoff.pipe");
    ck_assert_int_eq(ipckit_open(&rx, name, IPCKIT_RECV | IPCKIT_CREATE, NULL), 0);
    ck_assert_int_eq(ipckit_open(&tx, name, IPCKIT_SEND, NULL), 0);
    pid = tk_fork(send_endless_large, NULL);
    /* wait until the pipe is full: the writer is blocked inside its message */
    fd = ipckit_fd(rx);
    psz = fcntl(fd, F_GETPIPE_SZ);
    until = tk_now_ms() + LONG_WAIT;
    while (queued < psz - 4096 && tk_now_ms() < until) {
        usleep(2000);
        ck_assert_int_eq(ioctl(fd, FIONREAD, &queued), 0);
    }
    ck_assert_int_ge(queued, psz - 4096);
    kill(pid, SIGKILL);
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 128 + SIGKILL);
    /* the receiver takes in the first part of the message and waits for the
     * rest: tx still has the FIFO open */
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), -EAGAIN); /* tx still has it open */
    tk_fill(big, sizeof big, 5, 5);
    ck_assert_int_eq(ipckit_send(tx, big, sizeof big, LONG_WAIT), 0);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, LONG_WAIT), -EBADMSG);
    d = ipckit_last_error(rx);
    ck_assert_msg(strstr(d, "cut off after") != NULL && strstr(d, "of its 1048576 bytes") != NULL &&
                      strstr(d, "writer was killed or timed out") != NULL,
                  "detail: %s", d);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, LONG_WAIT), (ssize_t) sizeof big);
    ck_assert_int_eq(memcmp(buf, big, sizeof big), 0);
    ck_assert_int_eq(ipckit_close(tx), 0);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, LONG_WAIT), -EPIPE);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("fifo_faults");
    TCase *tc = tk_tcase("faults", 240);
    tcase_add_test(tc, stress_eight_writers);
    tcase_add_loop_test(tc, writer_killed_at_random_points, KV_FRAMES, KV_COUNT);
    tcase_add_test(tc, reader_killed_mid_message);
    tcase_add_test(tc, large_message_lock_held_by_another);
    tcase_add_test(tc, second_receiver_cannot_take_messages);
    tcase_add_test(tc, writer_killed_while_others_write);
    suite_add_tcase(s, tc);
    return tk_run(s);
}
