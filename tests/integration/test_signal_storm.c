/*
 * Signal storm: a receiver blocked in recv and a sender blocked in send (on
 * a full channel) are hit by a storm of SIGUSR1, delivered to a handler
 * installed WITHOUT SA_RESTART, so that every blocking system call inside
 * ipckit really fails with EINTR. No message may be lost, duplicated or
 * reordered, and no call may return an error.
 *
 * Table-driven: a backend joins by adding a row to `rows`. A row whose
 * backend is not registered in this build is skipped at run time.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ipckit/ipckit.h>
#include <ipckit/backend.h>

#include "testkit.h"

#define STORM_MESSAGES 3000
#define STORM_PAUSE_EVERY 250 /* the peer pauses so the other side blocks */
#define STORM_PAUSE_MS 15
#define LONG_WAIT 20000

struct storm;

struct storm_row {
    const char *scheme;
    /* Fill st->rx_name (and st->tx_name when it does not depend on the receiver). */
    void (*names)(struct storm *st);
    bool create;        /* the receiver opens with IPCKIT_CREATE | IPCKIT_EXCL */
    bool unlink;        /* remove the object with ipckit_unlink() afterwards */
    bool tx_is_rx_pid;  /* the sender's name is "<scheme>:<receiver pid>" */
    size_t msg_size;    /* bytes per message (>= 6) */
    size_t capacity;    /* opts.capacity of the receiver, so that senders block; 0: none */
    size_t max_msg;     /* opts.max_msg_size of the receiver; 0: the default */
    long types;         /* message types cycle 1..types; 1 where types reorder (priorities) */
    /* In the receiver before it opens: make the channel small (0 or -1). */
    int (*rx_setup)(void);
};

struct storm {
    const struct storm_row *row;
    char rx_name[600];
    char tx_name[600];
    tk_gate ready;
};

static volatile sig_atomic_t storm_hits;

static void
storm_handler(int signo)
{
    (void) signo;
    storm_hits++;
}

/*
 * SIGUSR1 counts, and interrupts system calls (no SA_RESTART). Installed in
 * the test process before the peers are forked, so that they have it from
 * their first instruction (the default action would kill them).
 */
static void
install_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = storm_handler;
    (void) sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
}

static void
pause_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Message s: 4-byte sequence number, then bytes derived from it. */
static void
fill(unsigned char *p, size_t len, uint32_t s)
{
    memcpy(p, &s, 4);
    for (size_t i = 4; i < len; i++)
        p[i] = (unsigned char) (s * 31u + i * 7u);
}

/* ---- rows ------------------------------------------------------------------------ */

static void
fifo_names(struct storm *st)
{
    tk_name(st->rx_name, sizeof st->rx_name, "fifo", "storm.pipe");
    (void) snprintf(st->tx_name, sizeof st->tx_name, "%s", st->rx_name);
}

static void
mq_names(struct storm *st)
{
    (void) snprintf(st->rx_name, sizeof st->rx_name, "mq:%#x", (unsigned) tk_sysv_key());
    (void) snprintf(st->tx_name, sizeof st->tx_name, "%s", st->rx_name);
}

static void
posixmq_names(struct storm *st)
{
    char n[256];
    tk_posix_name(n, sizeof n);
    (void) snprintf(st->rx_name, sizeof st->rx_name, "posixmq:%s", n);
    (void) snprintf(st->tx_name, sizeof st->tx_name, "%s", st->rx_name);
}

static void
shm_names(struct storm *st)
{
    char n[256];
    tk_posix_name(n, sizeof n);
    (void) snprintf(st->rx_name, sizeof st->rx_name, "shm:%s", n);
    (void) snprintf(st->tx_name, sizeof st->tx_name, "%s", st->rx_name);
}

static void
signal_names(struct storm *st)
{
    (void) snprintf(st->rx_name, sizeof st->rx_name, "signal:self");
}

/* The signal: queue is the receiving user's RLIMIT_SIGPENDING: make it small. */
static int
signal_rx_setup(void)
{
    char line[256];
    long cur = -1, lim;
    struct rlimit rl;
    FILE *fp = fopen("/proc/self/status", "re");
    if (fp == NULL)
        return -1;
    while (fgets(line, sizeof line, fp) != NULL)
        if (sscanf(line, "SigQ: %ld/%ld", &cur, &lim) == 2)
            break;
    (void) fclose(fp);
    if (cur < 0 || getrlimit(RLIMIT_SIGPENDING, &rl) < 0)
        return -1;
    rl.rlim_cur = (rlim_t) cur + 32;
    return setrlimit(RLIMIT_SIGPENDING, &rl);
}

/* scheme, names, create, unlink, tx_is_rx_pid, msg_size, capacity, max_msg, types, rx_setup */
static const struct storm_row rows[] = {
    { "fifo", fifo_names, true, true, false, 200, 4096, 0, 200, NULL },
    /* mq: a System V queue named by a numeric key; capacity is msg_qbytes. */
    { "mq", mq_names, true, true, false, 200, 4096, 0, 200, NULL },
    /* posixmq: types are priorities (a higher one overtakes), so one type;
     * capacity is mq_maxmsg. */
    { "posixmq", posixmq_names, true, true, false, 200, 8, 200, 1, NULL },
    /* shm: the smallest ring (4096 bytes) fills after some 18 messages, so
     * the sender sleeps on the futex often; max_msg_size 256 fits it. */
    { "shm", shm_names, true, true, false, 200, 4096, 256, 200, NULL },
    { "signal", signal_names, false, false, true, 6, 0, 0, 200, signal_rx_setup },
};

/* ---- the two peers ---------------------------------------------------------------- */

static int
storm_receiver(void *arg)
{
    struct storm *st = arg;
    const struct storm_row *row = st->row;
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *rx = NULL;
    unsigned char buf[512], want[512];
    unsigned flags = IPCKIT_RECV;
    long hit_inside = 0;
    ssize_t n;
    long type;
    int rc;

    if (row->rx_setup != NULL)
        TK_CHILD_CHECK(row->rx_setup() == 0);
    o.capacity = row->capacity;
    o.max_msg_size = row->max_msg;
    if (row->create)
        flags |= IPCKIT_CREATE | IPCKIT_EXCL;
    rc = ipckit_open(&rx, st->rx_name, flags, &o);
    if (rc < 0)
        fprintf(stderr, "receiver: open %s: %s\n", st->rx_name, ipckit_error_detail());
    TK_CHILD_CHECK(rc == 0);
    tk_gate_open(&st->ready);
    for (uint32_t s = 0; s < STORM_MESSAGES; s++) {
        /* half the calls wait forever, half with a deadline */
        sig_atomic_t before = storm_hits;
        n = ipckit_recv_typed(rx, 0, &type, buf, sizeof buf, (s & 1) ? LONG_WAIT : IPCKIT_FOREVER);
        if (storm_hits != before)
            hit_inside++;
        if (n != (ssize_t) row->msg_size)
            fprintf(stderr, "receiver %s: message %u: %zd (%s)\n", row->scheme, s, n,
                    n < 0 ? ipckit_last_error(rx) : "wrong size");
        TK_CHILD_CHECK(n == (ssize_t) row->msg_size);
        fill(want, row->msg_size, s);
        if (memcmp(buf, want, row->msg_size) != 0) {
            uint32_t got;
            memcpy(&got, buf, 4);
            fprintf(stderr, "receiver %s: expected message %u, got %u\n", row->scheme, s, got);
        }
        TK_CHILD_CHECK(memcmp(buf, want, row->msg_size) == 0);
        TK_CHILD_CHECK(type == (long) s % row->types + 1);
        if (s % STORM_PAUSE_EVERY == 0)
            pause_ms(STORM_PAUSE_MS); /* the sender fills the channel and blocks */
    }
    /* nothing more: no duplicate arrives */
    n = ipckit_recv(rx, buf, sizeof buf, 300);
    TK_CHILD_CHECK(n == -ETIMEDOUT || n == -EPIPE);
    TK_CHILD_CHECK(ipckit_close(rx) == 0);
    /* signals arrived while the receiver was inside recv */
    TK_CHILD_CHECK(hit_inside > 0);
    return 0;
}

static int
storm_sender(void *arg)
{
    struct storm *st = arg;
    const struct storm_row *row = st->row;
    ipckit_channel *tx = NULL;
    unsigned char buf[512];
    long hit_inside = 0;
    int rc;

    rc = ipckit_open(&tx, st->tx_name, IPCKIT_SEND, NULL);
    if (rc < 0)
        fprintf(stderr, "sender: open %s: %s\n", st->tx_name, ipckit_error_detail());
    TK_CHILD_CHECK(rc == 0);
    for (uint32_t s = 0; s < STORM_MESSAGES; s++) {
        sig_atomic_t before = storm_hits;
        fill(buf, row->msg_size, s);
        rc = ipckit_send_typed(tx, (long) s % row->types + 1, buf, row->msg_size,
                               (s & 1) ? IPCKIT_FOREVER : LONG_WAIT);
        if (storm_hits != before)
            hit_inside++;
        if (rc != 0)
            fprintf(stderr, "sender %s: message %u: %s\n", row->scheme, s,
                    ipckit_last_error(tx));
        TK_CHILD_CHECK(rc == 0);
        if (s % STORM_PAUSE_EVERY == STORM_PAUSE_EVERY / 2)
            pause_ms(STORM_PAUSE_MS); /* the receiver drains and blocks */
    }
    TK_CHILD_CHECK(ipckit_close(tx) == 0);
    /* signals arrived while the sender was inside send */
    TK_CHILD_CHECK(hit_inside > 0);
    return 0;
}

/* ---- the test ---------------------------------------------------------------------- */

static int
reaped(pid_t pid, int *status)
{
    pid_t r = waitpid(pid, status, WNOHANG);
    return r == pid;
}

START_TEST(storm)
{
    const struct storm_row *row = &rows[_i];
    struct storm st;
    pid_t rx, tx;
    int rs = 0, ts = 0;
    bool rx_done = false, tx_done = false;
    long long end;
    long sent = 0;
    struct timespec gap = { 0, 200000 };

    if (ipckit_backend_find(row->scheme) == NULL) {
        fprintf(stderr, "storm: backend %s: not in this build, row skipped\n", row->scheme);
        return;
    }
    memset(&st, 0, sizeof st);
    st.row = row;
    row->names(&st);
    tk_gate_init(&st.ready);
    install_handler();
    rx = tk_fork(storm_receiver, &st);
    ck_assert_msg(tk_gate_wait(&st.ready, LONG_WAIT) == 0, "%s: receiver did not open",
                  row->scheme);
    if (row->tx_is_rx_pid)
        (void) snprintf(st.tx_name, sizeof st.tx_name, "%s:%ld", row->scheme, (long) rx);
    tx = tk_fork(storm_sender, &st);

    end = tk_now_ms() + 90000;
    while ((!rx_done || !tx_done) && tk_now_ms() < end) {
        if (!rx_done && kill(rx, SIGUSR1) == 0)
            sent++;
        if (!tx_done && kill(tx, SIGUSR1) == 0)
            sent++;
        (void) nanosleep(&gap, NULL);
        if (!rx_done)
            rx_done = reaped(rx, &rs);
        if (!tx_done)
            tx_done = reaped(tx, &ts);
        /* a peer that failed leaves the other waiting: stop it */
        if (rx_done && !tx_done && rs != 0)
            (void) kill(tx, SIGKILL);
        if (tx_done && !rx_done && ts != 0)
            (void) kill(rx, SIGKILL);
    }
    if (!rx_done)
        rs = tk_wait(rx, 0) < 0 ? -1 : 0;
    if (!tx_done)
        ts = tk_wait(tx, 0) < 0 ? -1 : 0;
    if (row->unlink)
        (void) ipckit_unlink(st.rx_name);
    tk_gate_close(&st.ready);
    ck_assert_msg(rx_done && tx_done, "%s: peers did not finish in time", row->scheme);
    ck_assert_msg(WIFEXITED(rs) && WEXITSTATUS(rs) == 0, "%s: receiver failed (status %#x)",
                  row->scheme, rs);
    ck_assert_msg(WIFEXITED(ts) && WEXITSTATUS(ts) == 0, "%s: sender failed (status %#x)",
                  row->scheme, ts);
    ck_assert_int_gt(sent, 100);
    fprintf(stderr, "storm: %s: %d messages, %ld signals sent to the peers\n", row->scheme,
            STORM_MESSAGES, sent);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("signal_storm");
    TCase *tc = tk_tcase("storm", 120);
    tcase_add_loop_test(tc, storm, 0, (int) (sizeof rows / sizeof rows[0]));
    suite_add_tcase(s, tc);
    return tk_run(s);
}
