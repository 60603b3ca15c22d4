/*
 * The channel contract (include/ipckit/channel.h), once, over every
 * registered backend: the built-ins and "mem:", the in-memory backend of the
 * test kit that test_core registers too. What differs between backends is
 * in their fixtures (tests/testkit/tk_backend.c); what only one backend does
 * stays in its own suite (tests/unit/test_<backend>.c).
 *
 *   test_conformance BACKEND   the contract over one backend (ctest runs
 *                              conformance.BACKEND for each)
 *   test_conformance           over every backend, one after the other
 *   IPCKIT_CONFORMANCE_BACKEND=BACKEND test_conformance   the same as the first
 *
 * A backend whose channels live on a server is in the list only while the
 * environment variable of its fixture names one: nats: needs
 * IPCKIT_TEST_NATS_URL ("nats://127.0.0.1:PORT", a server with JetStream);
 * ctest's conformance.nats (plugins/nats/tests) starts a server and sets it.
 * Asked for without it, "test_conformance nats" says so and exits 77.
 *
 * A case that does not apply to a backend (a capability it lacks, a
 * process-local backend, a case that needs root) says so on stderr
 * ("conformance.mem: fork_child_sends: skipped: ...") and passes.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ipckit/ipckit.h>
#include <ipckit/backend.h>

#include "testkit.h"
#include "tk_backend.h"
#include "tk_mem.h"

#define LONG_WAIT 20000
/* Why a case does not fill a TK_BE_UNFILLABLE channel. */
#define UNFILLABLE_WHY "none (senders never wait) or filling it fills a limit the user shares"
/* The most messages a test sends to fill a channel before it gives up. */
#define FILL_LIMIT 100000

static const tk_backend *be;
static char name[600];
static ipckit_channel *rx, *tx;
/* Message buffers: fifo:'s largest message is 1 MiB. */
static unsigned char msg[(1 << 20) + 64], out[(1 << 20) + 64];

/* ---- helpers ------------------------------------------------------------------ */

/* Say on stderr that case @p fn, or a part of it (@p what), does not apply
 * to this backend, and why. */
static void
vnote(const char *fn, const char *what, const char *fmt, va_list ap)
{
    size_t len = strlen(fn);
    if (len > 3 && strcmp(fn + len - 3, "_fn") == 0) /* START_TEST's suffix */
        len -= 3;
    fprintf(stderr, "conformance.%s: %.*s: %s", tk_be_id(be), (int) len, fn,
            what ? "not checked: " : "skipped: ");
    if (what)
        fprintf(stderr, "%s: ", what);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

static void
skip_note(const char *fn, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vnote(fn, NULL, fmt, ap);
    va_end(ap);
}

static void
part_note(const char *fn, const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vnote(fn, what, fmt, ap);
    va_end(ap);
}

#define SKIP_IF(cond, ...)                                                                   \
    do {                                                                                     \
        if (cond) {                                                                          \
            skip_note(__func__, __VA_ARGS__);                                                \
            return;                                                                          \
        }                                                                                    \
    } while (0)

static int
has(unsigned flag)
{
    return (be->flags & flag) != 0;
}

static int
cap(unsigned c)
{
    return (be->caps & c) != 0;
}

static void
open_pair(unsigned rx_flags, unsigned tx_flags, unsigned optflags)
{
    tk_be_open_pair(be, name, sizeof name, rx_flags, tx_flags, optflags, &rx, &tx);
}

/* The same on the name be->new_name() put in name[] before: a process
 * forked meanwhile knows it. */
static void
open_pair_named(unsigned rx_flags, unsigned tx_flags, unsigned optflags)
{
    tk_be_open_pair_named(be, name, rx_flags, tx_flags, optflags, &rx, &tx);
}

static void
close_pair(void)
{
    tk_be_close_pair(be, name, rx, tx);
    rx = tx = NULL;
}

/* Close both without removing the object. */
static void
close_handles(void)
{
    ck_assert_int_eq(ipckit_close(tx), 0);
    ck_assert_int_eq(ipckit_close(rx), 0);
    rx = tx = NULL;
}

static void
unlink_ok(const char *n)
{
    int rc = ipckit_unlink(n);
    ck_assert_msg(rc == 0, "unlink %s: %s (%s)", n, ipckit_errname(rc), ipckit_error_detail());
}

static void
expect_detail(const ipckit_channel *ch, const char *want)
{
    ck_assert_msg(strstr(ipckit_last_error(ch), want) != NULL, "%s: detail \"%s\" lacks \"%s\"",
                  be->scheme, ipckit_last_error(ch), want);
}

/* A message of @p len bytes (at least 4): sequence number @p seq, then
 * content derived from (@p id, @p seq). */
static void
make_msg(unsigned char *p, size_t len, uint32_t id, uint32_t seq)
{
    memcpy(p, &seq, 4);
    tk_fill(p + 4, len - 4, id, seq);
}

static int
msg_ok(const unsigned char *p, size_t len, uint32_t id, uint32_t seq)
{
    static unsigned char want[256];
    uint32_t s;
    if (len < 4 || len > sizeof want)
        return 0;
    memcpy(&s, p, 4);
    tk_fill(want, len - 4, id, seq);
    return s == seq && memcmp(p + 4, want, len - 4) == 0;
}

/* The length of message @p seq: 4 to 4 + 60 bytes, within the limit. */
static size_t
msg_len(ipckit_channel *ch, uint32_t seq)
{
    size_t room = ipckit_max_msg_size(ch) - 4;
    if (room > 60)
        room = 60;
    return 4 + seq % (room + 1);
}

/* Receive one message into out[] (a buffer larger than any message). */
static ssize_t
recv_out(ipckit_channel *ch, long *type, int timeout_ms)
{
    return ipckit_recv_typed(ch, 0, type, out, sizeof out, timeout_ms);
}

/* The length of the messages of fill(): min(limit, 100) bytes. */
static size_t
fill_len(ipckit_channel *ch)
{
    return ipckit_max_msg_size(ch) < 100 ? ipckit_max_msg_size(ch) : 100;
}

/* Fill the channel with messages of fill_len() bytes, numbered from 0,
 * until a send with timeout 0 fails; that failure must be -EAGAIN. Returns
 * the number sent. */
static int
fill(ipckit_channel *ch)
{
    size_t len = fill_len(ch);
    int n = 0, rc;
    for (;;) {
        make_msg(msg, len, 1, (uint32_t) n);
        rc = ipckit_send(ch, msg, len, 0);
        if (rc != 0)
            break;
        ck_assert_msg(++n < FILL_LIMIT, "%s: %d messages and the channel is not full",
                      be->scheme, n);
    }
    ck_assert_msg(rc == -EAGAIN, "%s: send into a full channel: %s (%s)", be->scheme,
                  ipckit_errname(rc), ipckit_last_error(ch));
    ck_assert_int_gt(n, 0);
    return n;
}

/* Receive the @p n messages of fill(), in order, then nothing. */
static void
drain(ipckit_channel *ch, int n)
{
    size_t len = fill_len(tx);
    for (int i = 0; i < n; i++) {
        ssize_t got = recv_out(ch, NULL, 0);
        ck_assert_msg(got == (ssize_t) len, "%s: message %d of %d: %zd (%s)", be->scheme, i, n,
                      got, ipckit_last_error(ch));
        ck_assert_msg(msg_ok(out, len, 1, (uint32_t) i), "%s: message %d of the full channel",
                      be->scheme, i);
    }
    ck_assert_int_eq(recv_out(ch, NULL, 0), -EAGAIN);
}

static ipckit_stat
stat_ok(const char *n)
{
    ipckit_stat st;
    int rc = ipckit_stat_name(n, &st);
    ck_assert_msg(rc == 0, "stat %s: %s (%s)", n, ipckit_errname(rc), ipckit_error_detail());
    return st;
}

static int
stat_supported(void)
{
    return (be->stat_exact | be->stat_other) != 0;
}

static int
stat_knows(unsigned field)
{
    return (be->stat_exact & field) != 0;
}

/* Drop to uid/gid 65534, in a forked child. */
static void
become_nobody(void)
{
    TK_CHILD_CHECK(setgroups(0, NULL) == 0);
    TK_CHILD_CHECK(setresgid(65534, 65534, 65534) == 0);
    TK_CHILD_CHECK(setresuid(65534, 65534, 65534) == 0);
}

/* ---- what a channel is -------------------------------------------------------- */

/* The scheme, the capabilities the backend promises, a limit, and a
 * descriptor exactly where IPCKIT_CAP_FD says so. */
START_TEST(channel_identity)
{
    open_pair(0, 0, 0);
    ck_assert_str_eq(ipckit_scheme(rx), be->scheme);
    ck_assert_str_eq(ipckit_scheme(tx), be->scheme);
    ck_assert_msg(ipckit_caps(rx) == be->caps, "%s: caps %#x, the fixture says %#x", be->scheme,
                  ipckit_caps(rx), be->caps);
    /* a sender has the receiver's caps, but may lack a descriptor */
    ck_assert_uint_eq(ipckit_caps(tx) & ~(unsigned) IPCKIT_CAP_FD,
                      be->caps & ~(unsigned) IPCKIT_CAP_FD);
    for (int i = 0; i < 2; i++) {
        ipckit_channel *ch = i == 0 ? rx : tx;
        int fd = ipckit_fd(ch);
        if (ipckit_caps(ch) & IPCKIT_CAP_FD) {
            ck_assert_msg(fd >= 0, "%s: IPCKIT_CAP_FD and ipckit_fd() %s", be->scheme,
                          ipckit_errname(fd));
        } else {
            ck_assert_int_eq(fd, -ENOTSUP);
            expect_detail(ch, "fd: ");
        }
    }
    ck_assert_uint_gt(ipckit_max_msg_size(rx), 0);
    ck_assert_uint_eq(ipckit_max_msg_size(tx), ipckit_max_msg_size(rx));
    if (be->opts.max_msg_size != 0)
        ck_assert_uint_eq(ipckit_max_msg_size(rx), be->opts.max_msg_size);
    ck_assert_msg((ipckit_caps(rx) & IPCKIT_CAP_STAT) == 0 || stat_supported(),
                  "%s: IPCKIT_CAP_STAT, and the fixture says stat is not supported",
                  be->scheme);
    close_pair();
}
END_TEST

/* ---- messages --------------------------------------------------------------------- */

static int
send_boundaries(void *arg)
{
    size_t max = *(size_t *) arg;
    TK_CHILD_CHECK(ipckit_send_typed(tx, 3, "", 0, LONG_WAIT) == 0);
    TK_CHILD_CHECK(ipckit_send_typed(tx, 3, msg, 1, LONG_WAIT) == 0);
    TK_CHILD_CHECK(ipckit_send_typed(tx, 3, msg, max, LONG_WAIT) == 0);
    return 0;
}

/* Empty, one byte and the limit go through whole, with their boundaries;
 * one byte more is -EMSGSIZE, with the limit in the detail. A message of
 * the limit is sent by another process where the backend crosses
 * processes, since it may be larger than what the channel holds. */
START_TEST(sizes_at_the_boundaries)
{
    char num[32];
    size_t max;
    long type = 0;
    pid_t pid = -1;
    open_pair(0, 0, 0);
    max = ipckit_max_msg_size(tx);
    ck_assert_msg(max + 1 <= sizeof msg, "%s: limit %zu: this test's buffers are too small",
                  be->scheme, max);
    tk_fill(msg, max + 1, 9, 9);
    ck_assert_int_eq(ipckit_send(tx, msg, max + 1, 0), -EMSGSIZE);
    (void) snprintf(num, sizeof num, "%zu", max);
    expect_detail(tx, num);
    if (has(TK_BE_FORK_UNSAFE))
        part_note(__func__, "the sends of another process",
                  "a forked child may not use a channel it inherited (waiting_recv_gets_message"
                  " has another process send)");
    if (has(TK_BE_LOCAL) || has(TK_BE_FORK_UNSAFE))
        ck_assert_int_eq(send_boundaries(&max), 0);
    else
        pid = tk_fork(send_boundaries, &max);

    ck_assert_int_eq(ipckit_recv_typed(rx, 0, &type, out, sizeof out, LONG_WAIT), 0);
    ck_assert_int_eq(type, 3);
    memset(out, 0, 2);
    ck_assert_int_eq(ipckit_recv_typed(rx, 0, &type, out, sizeof out, LONG_WAIT), 1);
    ck_assert_int_eq(out[0], msg[0]);
    ck_assert_int_eq(ipckit_recv_typed(rx, 0, &type, out, sizeof out, LONG_WAIT),
                     (ssize_t) max);
    ck_assert_int_eq(type, 3);
    ck_assert_msg(memcmp(out, msg, max) == 0, "%s: the message of %zu bytes changed", be->scheme,
                  max);
    if (pid > 0)
        ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    ck_assert_int_eq(recv_out(rx, NULL, 0), -EAGAIN);
    close_pair();
}
END_TEST

/* An empty message may be sent from no buffer at all (NULL, 0), and
 * received into none (NULL, 0) where the backend takes a buffer smaller
 * than its limit. */
START_TEST(empty_message_without_buffer)
{
    long type = 0;
    open_pair(0, 0, 0);
    ck_assert_int_eq(ipckit_send_typed(tx, 6, NULL, 0, 0), 0);
    ck_assert_int_eq(ipckit_send_typed(tx, 6, "", 0, 0), 0);
    if (has(TK_BE_RECV_FULL_BUFFER)) {
        part_note(__func__, "a receive into no buffer",
                  "a receive needs a buffer of the channel's limit");
        ck_assert_int_eq(recv_out(rx, &type, LONG_WAIT), 0);
        ck_assert_int_eq(recv_out(rx, &type, LONG_WAIT), 0);
    } else {
        ck_assert_int_eq(ipckit_recv_typed(rx, 0, &type, NULL, 0, LONG_WAIT), 0);
        ck_assert_int_eq(type, 6);
        type = 0;
        ck_assert_int_eq(ipckit_recv_typed(rx, 0, &type, NULL, 0, LONG_WAIT), 0);
    }
    ck_assert_int_eq(type, 6);
    ck_assert_int_eq(recv_out(rx, NULL, 0), -EAGAIN);
    close_pair();
}
END_TEST

/* The type of each message arrives with it, up to the backend's highest. */
START_TEST(types_are_carried)
{
    long types[] = { 1, 7, 200, be->max_type }, type = 0;
    SKIP_IF(!cap(IPCKIT_CAP_TYPED), "no IPCKIT_CAP_TYPED");
    open_pair(0, 0, 0);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (i == 0)
            ck_assert_int_eq(ipckit_send(tx, "t", 1, 0), 0); /* type 1 */
        else
            ck_assert_int_eq(ipckit_send_typed(tx, types[i], "t", 1, 0), 0);
        ck_assert_int_eq(recv_out(rx, &type, LONG_WAIT), 1);
        ck_assert_msg(type == types[i], "%s: sent type %ld, received %ld", be->scheme, types[i],
                      type);
    }
    if (be->max_type < LONG_MAX)
        ck_assert_int_eq(ipckit_send_typed(tx, be->max_type + 1, "t", 1, 0), -EINVAL);
    ck_assert_int_eq(recv_out(rx, NULL, 0), -EAGAIN);
    close_pair();
}
END_TEST

/* Arguments the contract refuses: -EINVAL, and nothing is sent. */
START_TEST(bad_arguments)
{
    open_pair(0, 0, 0);
    ck_assert_int_eq(ipckit_send_typed(tx, 0, "x", 1, 0), -EINVAL);
    ck_assert_int_eq(ipckit_send_typed(tx, -3, "x", 1, 0), -EINVAL);
    ck_assert_int_eq(ipckit_send_typed(tx, LONG_MIN, "x", 1, 0), -EINVAL);
    ck_assert_int_eq(ipckit_send(tx, NULL, 3, 0), -EINVAL);
    ck_assert_int_eq(ipckit_send(tx, "x", 1, -2), -EINVAL);
    ck_assert_int_eq(ipckit_recv(rx, NULL, 3, 0), -EINVAL);
    ck_assert_int_eq(ipckit_recv(rx, out, sizeof out, -2), -EINVAL);
    ck_assert_int_eq(ipckit_send(NULL, "x", 1, 0), -EINVAL);
    ck_assert_int_eq(ipckit_recv(NULL, out, sizeof out, 0), -EINVAL);
    ck_assert_int_eq(recv_out(rx, NULL, 0), -EAGAIN);
    close_pair();
}
END_TEST

/* A receiver does not send, a sender does not receive (-EBADF); a channel
 * opened for both does both, where the backend allows it. */
START_TEST(direction_is_enforced)
{
    ipckit_channel *both = (ipckit_channel *) 1;
    int rc;
    open_pair(0, 0, 0);
    ck_assert_int_eq(ipckit_send(rx, "x", 1, 0), -EBADF);
    expect_detail(rx, "not opened for sending");
    ck_assert_int_eq(recv_out(tx, NULL, 0), -EBADF);
    expect_detail(tx, "not opened for receiving");
    close_handles();
    rc = ipckit_open(&both, name, IPCKIT_SEND | IPCKIT_RECV, &be->opts);
    if (has(TK_BE_ONE_WAY)) {
        ck_assert_int_eq(rc, -EINVAL);
        ck_assert_ptr_null(both);
    } else {
        long type = 0;
        ck_assert_msg(rc == 0, "open %s for both: %s (%s)", name, ipckit_errname(rc),
                      ipckit_error_detail());
        ck_assert_int_eq(ipckit_send_typed(both, 5, "both", 4, 0), 0);
        ck_assert_int_eq(recv_out(both, &type, LONG_WAIT), 4);
        ck_assert_int_eq(type, 5);
        ck_assert_int_eq(memcmp(out, "both", 4), 0);
        ck_assert_int_eq(ipckit_close(both), 0);
    }
    if (has(TK_BE_OBJECTS))
        unlink_ok(name);
}
END_TEST

/* A buffer too small: -EMSGSIZE, and the message stays receivable, whole,
 * before the next one. */
START_TEST(small_buffer_keeps_message)
{
    static const char text[] = "0123456789";
    size_t len, len2;
    long type = 0;
    char num[32];
    open_pair(0, 0, 0);
    len = ipckit_max_msg_size(tx) < 10 ? ipckit_max_msg_size(tx) : 10;
    len2 = len < 3 ? len : 3;
    ck_assert_uint_ge(len, 2);
    ck_assert_int_eq(ipckit_send_typed(tx, 4, text, len, 0), 0);
    ck_assert_int_eq(ipckit_send_typed(tx, 4, "abc", len2, 0), 0);
    ck_assert_int_eq(ipckit_recv_typed(rx, 0, &type, out, len - 1, LONG_WAIT), -EMSGSIZE);
    if (has(TK_BE_SIZE_DETAIL)) {
        (void) snprintf(num, sizeof num, "%zu bytes", len);
        expect_detail(rx, num);
    }
    ck_assert_int_eq(ipckit_recv_typed(rx, 0, &type, NULL, 0, 0), -EMSGSIZE);
    ck_assert_int_eq(ipckit_recv_typed(rx, 0, &type, out, len - 1, 0), -EMSGSIZE);
    ck_assert_int_eq(recv_out(rx, &type, 0), (ssize_t) len);
    ck_assert_int_eq(type, 4);
    ck_assert_int_eq(memcmp(out, text, len), 0);
    ck_assert_int_eq(recv_out(rx, &type, 0), (ssize_t) len2);
    ck_assert_int_eq(memcmp(out, "abc", len2), 0);
    ck_assert_int_eq(recv_out(rx, NULL, 0), -EAGAIN);
    close_pair();
}
END_TEST

/* Messages of one sender arrive in the order sent, whole. */
START_TEST(order_of_one_sender)
{
    uint32_t sent = 0, got = 0;
    open_pair(0, 0, 0);
    while (got < 60) {
        /* three at a time: posixmq: and mem: hold four */
        for (int k = 0; k < 3; k++, sent++) {
            size_t len = msg_len(tx, sent);
            make_msg(msg, len, 2, sent);
            ck_assert_int_eq(ipckit_send(tx, msg, len, LONG_WAIT), 0);
        }
        for (; got < sent; got++) {
            ssize_t n = recv_out(rx, NULL, LONG_WAIT);
            ck_assert_int_eq(n, (ssize_t) msg_len(tx, got));
            ck_assert_msg(msg_ok(out, (size_t) n, 2, got), "%s: message %u out of order or torn",
                          be->scheme, got);
        }
    }
    ck_assert_int_eq(recv_out(rx, NULL, 0), -EAGAIN);
    close_pair();
}
END_TEST

/* ---- waiting ------------------------------------------------------------------- */

/* Nothing to receive: timeout 0 is -EAGAIN, a timeout waits at least that
 * long and is -ETIMEDOUT. A full channel: the same for send, and what was
 * sent is all there, in order. */
START_TEST(timeouts)
{
    long long t0, dt;
    int n;
    open_pair(0, 0, 0);
    ck_assert_int_eq(recv_out(rx, NULL, 0), -EAGAIN);
    t0 = tk_now_ms();
    ck_assert_int_eq(recv_out(rx, NULL, 120), -ETIMEDOUT);
    dt = tk_now_ms() - t0;
    ck_assert_msg(dt >= 110 && dt < LONG_WAIT, "%s: a receive with timeout 120 took %lld ms",
                  be->scheme, dt);
    ck_assert_str_ne(ipckit_last_error(rx), "");
    if (has(TK_BE_UNFILLABLE)) {
        part_note(__func__, "a full channel", UNFILLABLE_WHY);
        close_pair();
        return;
    }
    n = fill(tx);
    t0 = tk_now_ms();
    ck_assert_int_eq(ipckit_send(tx, msg, fill_len(tx), 120), -ETIMEDOUT);
    dt = tk_now_ms() - t0;
    ck_assert_msg(dt >= 110 && dt < LONG_WAIT, "%s: a send with timeout 120 took %lld ms",
                  be->scheme, dt);
    drain(rx, n);
    close_pair();
}
END_TEST

/* IPCKIT_NONBLOCK: every call tries once, whatever its timeout. */
START_TEST(nonblock_flag)
{
    long long t0;
    int n;
    open_pair(IPCKIT_NONBLOCK, IPCKIT_NONBLOCK, 0);
    t0 = tk_now_ms();
    ck_assert_int_eq(recv_out(rx, NULL, LONG_WAIT), -EAGAIN);
    ck_assert_int_eq(recv_out(rx, NULL, IPCKIT_FOREVER), -EAGAIN);
    ck_assert_int_lt(tk_now_ms() - t0, LONG_WAIT / 2);
    ck_assert_int_eq(ipckit_send(tx, "x", 1, LONG_WAIT), 0);
    ck_assert_int_eq(recv_out(rx, NULL, LONG_WAIT), 1);
    if (has(TK_BE_UNFILLABLE)) {
        part_note(__func__, "a full channel", UNFILLABLE_WHY);
        close_pair();
        return;
    }
    n = fill(tx);
    t0 = tk_now_ms();
    ck_assert_int_eq(ipckit_send(tx, msg, fill_len(tx), LONG_WAIT), -EAGAIN);
    ck_assert_int_eq(ipckit_send(tx, msg, fill_len(tx), IPCKIT_FOREVER), -EAGAIN);
    ck_assert_int_lt(tk_now_ms() - t0, LONG_WAIT / 2);
    drain(rx, n);
    close_pair();
}
END_TEST

struct late {
    tk_gate opened, go1, go2;
    pid_t receiver;
};

static int
late_sender(void *arg)
{
    struct late *l = arg;
    struct timespec ts = { 0, 100 * 1000000L };
    ipckit_channel *ch = NULL;
    char n[600];
    TK_CHILD_CHECK(tk_gate_wait(&l->opened, LONG_WAIT) == 0);
    tk_be_sender_name(be, name, l->receiver, n, sizeof n);
    TK_CHILD_CHECK(tk_be_open_tx(be, n, 0, 0, &ch) == 0);
    TK_CHILD_CHECK(tk_gate_wait(&l->go1, LONG_WAIT) == 0);
    (void) nanosleep(&ts, NULL);
    TK_CHILD_CHECK(ipckit_send_typed(ch, 5, "late", 4, IPCKIT_FOREVER) == 0);
    TK_CHILD_CHECK(tk_gate_wait(&l->go2, LONG_WAIT) == 0);
    (void) nanosleep(&ts, NULL);
    TK_CHILD_CHECK(ipckit_send_typed(ch, 6, "later", 5, IPCKIT_FOREVER) == 0);
    TK_CHILD_CHECK(ipckit_close(ch) == 0);
    return 0;
}

/* A receive that waits (for ever, or with a long timeout) returns the
 * message that another process sends meanwhile, by a channel it opened by
 * name. The other process is forked before this one opens anything (a
 * child of a process that has used a TK_BE_FORK_UNSAFE backend may not use
 * it), and opens its channel once the receiver is there. */
START_TEST(waiting_recv_gets_message)
{
    struct late l;
    long type = 0;
    long long t0;
    pid_t pid;
    SKIP_IF(has(TK_BE_LOCAL), "process-local: no other process can send");
    tk_gate_init(&l.opened);
    tk_gate_init(&l.go1);
    tk_gate_init(&l.go2);
    l.receiver = getpid();
    be->new_name(name, sizeof name);
    pid = tk_fork(late_sender, &l);
    open_pair_named(0, 0, 0);
    tk_gate_open(&l.opened);
    tk_gate_open(&l.go1);
    ck_assert_int_eq(ipckit_recv_typed(rx, 0, &type, out, sizeof out, IPCKIT_FOREVER), 4);
    ck_assert_int_eq(memcmp(out, "late", 4), 0);
    ck_assert_int_eq(type, 5);
    t0 = tk_now_ms();
    tk_gate_open(&l.go2);
    ck_assert_int_eq(ipckit_recv_typed(rx, 0, &type, out, sizeof out, 4 * LONG_WAIT), 5);
    ck_assert_int_lt(tk_now_ms() - t0, 2 * LONG_WAIT); /* it woke up for it */
    ck_assert_int_eq(memcmp(out, "later", 5), 0);
    ck_assert_int_eq(type, 6);
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    tk_gate_close(&l.opened);
    tk_gate_close(&l.go1);
    tk_gate_close(&l.go2);
    close_pair();
}
END_TEST

static volatile sig_atomic_t hits;

static void
count_signal(int sig)
{
    (void) sig;
    hits++;
}

struct pester {
    pid_t target;
    int send;
    tk_gate go[3];
};

/* Three rounds: signal the parent every 20 ms for 200 ms when let go; with
 * p->send, open a sender by name when first let go, and send a message
 * after the first two rounds. */
static int
pester(void *arg)
{
    struct pester *p = arg;
    struct timespec ts = { 0, 20 * 1000000L };
    ipckit_channel *ch = NULL;
    char n[600];
    for (int round = 0; round < 3; round++) {
        TK_CHILD_CHECK(tk_gate_wait(&p->go[round], LONG_WAIT) == 0);
        if (round == 0 && p->send) {
            tk_be_sender_name(be, name, p->target, n, sizeof n);
            TK_CHILD_CHECK(tk_be_open_tx(be, n, 0, 0, &ch) == 0);
        }
        for (int i = 0; i < 10; i++) {
            TK_CHILD_CHECK(kill(p->target, SIGUSR1) == 0);
            (void) nanosleep(&ts, NULL);
        }
        if (ch != NULL && round < 2)
            TK_CHILD_CHECK(ipckit_send(ch, "done", 4, LONG_WAIT) == 0);
    }
    TK_CHILD_CHECK(ipckit_close(ch) == 0);
    return 0;
}

/* A signal whose handler returns (installed without SA_RESTART, so that
 * the kernel's waits fail with EINTR) does not end a wait: a receive that
 * waits for ever or with a timeout gets the message that comes after the
 * signals, a timeout is kept, and so is a send's. Only ipckit_interrupt()
 * ends a wait early. The sender is forked before this process opens
 * anything (TK_BE_FORK_UNSAFE); the second pester does not use the
 * backend. */
START_TEST(signals_do_not_cut_waits)
{
    struct sigaction sa, old;
    struct pester p;
    long long t0, dt;
    pid_t pid;
    int n;
    p.target = getpid();
    p.send = !has(TK_BE_LOCAL);
    for (int i = 0; i < 3; i++)
        tk_gate_init(&p.go[i]);
    be->new_name(name, sizeof name);
    pid = tk_fork(pester, &p);
    open_pair_named(0, 0, 0);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = count_signal;
    ck_assert_int_eq(sigaction(SIGUSR1, &sa, &old), 0);
    if (has(TK_BE_LOCAL)) {
        part_note(__func__, "waits that end with a message",
                  "process-local: no message comes from another process");
        tk_gate_open(&p.go[0]);
        tk_gate_open(&p.go[1]);
    } else {
        hits = 0;
        tk_gate_open(&p.go[0]);
        ck_assert_int_eq(recv_out(rx, NULL, IPCKIT_FOREVER), 4);
        ck_assert_int_ge(hits, 1);
        hits = 0;
        tk_gate_open(&p.go[1]);
        ck_assert_int_eq(recv_out(rx, NULL, 4 * LONG_WAIT), 4);
        ck_assert_int_ge(hits, 1);
    }
    hits = 0;
    tk_gate_open(&p.go[2]);
    t0 = tk_now_ms();
    ck_assert_int_eq(recv_out(rx, NULL, 300), -ETIMEDOUT);
    dt = tk_now_ms() - t0;
    ck_assert_msg(dt >= 290 && dt < LONG_WAIT, "%s: a receive with timeout 300 took %lld ms",
                  be->scheme, dt);
    ck_assert_int_ge(hits, 1);
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    if (!has(TK_BE_UNFILLABLE)) {
        for (int i = 0; i < 3; i++) {
            tk_gate_close(&p.go[i]);
            tk_gate_init(&p.go[i]);
        }
        n = fill(tx);
        hits = 0;
        p.send = 0;
        pid = tk_fork(pester, &p);
        tk_gate_open(&p.go[0]);
        t0 = tk_now_ms();
        ck_assert_int_eq(ipckit_send(tx, msg, fill_len(tx), 300), -ETIMEDOUT);
        dt = tk_now_ms() - t0;
        ck_assert_msg(dt >= 290 && dt < LONG_WAIT, "%s: a send with timeout 300 took %lld ms",
                      be->scheme, dt);
        ck_assert_int_ge(hits, 1);
        tk_gate_open(&p.go[1]);
        tk_gate_open(&p.go[2]);
        drain(rx, n);
        ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    } else {
        part_note(__func__, "a send that waits for room", UNFILLABLE_WHY);
    }
    for (int i = 0; i < 3; i++)
        tk_gate_close(&p.go[i]);
    ck_assert_int_eq(sigaction(SIGUSR1, &old, NULL), 0);
    close_pair();
}
END_TEST

/* ---- fork ----------------------------------------------------------------------- */

#define FORK_COUNT 40

static int
child_sends(void *arg)
{
    uint32_t id = (uint32_t) (uintptr_t) arg;
    for (uint32_t s = 0; s < FORK_COUNT; s++) {
        size_t len = msg_len(tx, s);
        make_msg(msg, len, id, s);
        TK_CHILD_CHECK(ipckit_send_typed(tx, (long) id + 1, msg, len, LONG_WAIT) == 0);
    }
    TK_CHILD_CHECK(ipckit_close(tx) == 0);
    return 0;
}

/* Senders opened before fork() used in the children (several, where the
 * backend takes several senders): every message arrives, each child's in
 * its order, and the sends count as the children's. */
START_TEST(fork_child_sends)
{
    pid_t pids[3];
    uint32_t next[3] = { 0, 0, 0 };
    int kids = cap(IPCKIT_CAP_MULTI_SEND) ? 3 : 1;
    SKIP_IF(has(TK_BE_LOCAL), "process-local: a child's messages stay in the child");
    SKIP_IF(has(TK_BE_FORK_UNSAFE),
            "its client library does not survive fork(): a child may not use a channel it"
            " inherited");
    open_pair(0, 0, 0);
    for (int i = 0; i < kids; i++)
        pids[i] = tk_fork(child_sends, (void *) (uintptr_t) i);
    for (int k = 0; k < kids * FORK_COUNT; k++) {
        long type = 0;
        ssize_t n = recv_out(rx, &type, LONG_WAIT);
        uint32_t id;
        ck_assert_msg(n >= 4, "%s: message %d: %zd (%s)", be->scheme, k, n,
                      ipckit_last_error(rx));
        id = (uint32_t) type - 1;
        ck_assert_msg(type >= 1 && type <= kids, "%s: type %ld", be->scheme, type);
        ck_assert_int_eq(n, (ssize_t) msg_len(rx, next[id]));
        ck_assert_msg(msg_ok(out, (size_t) n, id, next[id]), "%s: child %u, message %u",
                      be->scheme, id, next[id]);
        next[id]++;
    }
    for (int i = 0; i < kids; i++)
        ck_assert_int_eq(tk_wait(pids[i], LONG_WAIT), 0);
    ck_assert_int_eq(recv_out(rx, NULL, 0), -EAGAIN);
    if (stat_supported()) {
        ipckit_stat st = stat_ok(name);
        if (stat_knows(TK_ST_SEND_PID))
            ck_assert_msg(st.last_send_pid == pids[0] || (kids > 1 && st.last_send_pid == pids[1]) ||
                              (kids > 2 && st.last_send_pid == pids[2]),
                          "%s: last sender %ld, not a child", be->scheme, st.last_send_pid);
        if (stat_knows(TK_ST_RECV_PID))
            ck_assert_int_eq(st.last_recv_pid, (long) getpid());
        if (stat_knows(TK_ST_MESSAGES))
            ck_assert_int_eq(st.messages, 0);
        if ((be->stat_exact | be->stat_other) & TK_ST_BYTES) /* bytes of any kind */
            ck_assert_int_eq(st.bytes, 0);
    }
    close_pair();
}
END_TEST

#define RECV_COUNT 20

static int
child_receives(void *arg)
{
    uint32_t next[2] = { 0, 0 };
    (void) arg;
    for (int k = 0; k < RECV_COUNT; k++) {
        /* with selectors: all of type 9, then all of type 5 */
        long sel = cap(IPCKIT_CAP_SELECT) ? (k < RECV_COUNT / 2 ? 9 : 5) : 0, type = 0;
        ssize_t n = ipckit_recv_typed(rx, sel, &type, out, sizeof out, LONG_WAIT);
        uint32_t id = type == 9 ? 1 : 0;
        TK_CHILD_CHECK(n >= 4);
        TK_CHILD_CHECK(type == 5 || type == 9);
        TK_CHILD_CHECK(sel == 0 || type == sel);
        TK_CHILD_CHECK(msg_ok(out, (size_t) n, id, next[id]));
        next[id]++;
    }
    TK_CHILD_CHECK(ipckit_recv(rx, out, sizeof out, 0) == -EAGAIN);
    TK_CHILD_CHECK(ipckit_close(rx) == 0);
    return 0;
}

/* A receiver opened before fork() used in the child (and no longer in the
 * parent): it gets what the parent sends, in order. */
START_TEST(fork_child_receives)
{
    ipckit_channel *to_child = NULL;
    uint32_t seq[2] = { 0, 0 };
    char n[600];
    pid_t pid;
    SKIP_IF(has(TK_BE_LOCAL), "process-local: the parent's messages stay in the parent");
    SKIP_IF(has(TK_BE_FORK_UNSAFE),
            "its client library does not survive fork(): a child may not use a channel it"
            " inherited");
    open_pair(0, 0, 0);
    pid = tk_fork(child_receives, NULL);
    if (has(TK_BE_SELF)) {
        /* the child receives its own signals: send to it */
        tk_be_sender_name(be, name, pid, n, sizeof n);
        ck_assert_int_eq(tk_be_open_tx(be, n, 0, 0, &to_child), 0);
    }
    for (int k = 0; k < RECV_COUNT; k++) {
        uint32_t id = (uint32_t) k % 2;
        size_t len = msg_len(tx, seq[id]);
        make_msg(msg, len, id, seq[id]);
        ck_assert_int_eq(ipckit_send_typed(to_child ? to_child : tx, id ? 9 : 5, msg, len,
                                           LONG_WAIT),
                         0);
        seq[id]++;
    }
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    if (to_child != NULL)
        ck_assert_int_eq(ipckit_close(to_child), 0);
    if (stat_knows(TK_ST_RECV_PID))
        ck_assert_int_eq(stat_ok(name).last_recv_pid, (long) pid);
    close_pair();
}
END_TEST

/* ---- capabilities ----------------------------------------------------------------- */

static int
send_by_name(void *arg)
{
    ipckit_channel *ch = NULL;
    char n[600];
    tk_be_sender_name(be, name, *(pid_t *) arg, n, sizeof n);
    TK_CHILD_CHECK(tk_be_open_tx(be, n, 0, 0, &ch) == 0);
    TK_CHILD_CHECK(ipckit_send_typed(ch, 3, "poll", 4, LONG_WAIT) == 0);
    TK_CHILD_CHECK(ipckit_close(ch) == 0);
    return 0;
}

/* IPCKIT_CAP_FD: the descriptor is readable exactly while a message may
 * be received, for a message of this process or another's. */
START_TEST(fd_is_pollable)
{
    struct pollfd p = { .events = POLLIN };
    long type = 0;
    pid_t me = getpid();
    SKIP_IF(!cap(IPCKIT_CAP_FD), "no IPCKIT_CAP_FD (channel_identity checks -ENOTSUP)");
    open_pair(0, 0, 0);
    p.fd = ipckit_fd(rx);
    ck_assert_int_ge(p.fd, 0);
    ck_assert_int_eq(poll(&p, 1, 0), 0);
    ck_assert_int_eq(ipckit_send(tx, "x", 1, 0), 0);
    ck_assert_int_eq(poll(&p, 1, LONG_WAIT), 1);
    ck_assert(p.revents & POLLIN);
    ck_assert_int_eq(recv_out(rx, NULL, 0), 1);
    ck_assert_int_eq(recv_out(rx, NULL, 0), -EAGAIN);
    ck_assert_int_eq(poll(&p, 1, 0), 0);
    if (!has(TK_BE_LOCAL)) {
        pid_t pid = tk_fork(send_by_name, &me);
        ck_assert_int_eq(poll(&p, 1, LONG_WAIT), 1);
        ck_assert(p.revents & POLLIN);
        ck_assert_int_eq(recv_out(rx, &type, LONG_WAIT), 4);
        ck_assert_int_eq(type, 3);
        ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    }
    close_pair();
}
END_TEST

/* IPCKIT_CAP_SELECT: System V's rule (0: the first; > 0: the first of that
 * type; < 0: the first of the lowest type <= -selector). Without it, a
 * selector is refused (-ENOTSUP), never ignored, and takes nothing. */
START_TEST(selectors)
{
    long types[] = { 3, 1, 2, 5 }, t = 0;
    open_pair(0, 0, 0);
    if (!cap(IPCKIT_CAP_SELECT)) {
        ck_assert_int_eq(ipckit_send_typed(tx, 4, "s", 1, 0), 0);
        ck_assert_int_eq(ipckit_recv_typed(rx, 4, &t, out, sizeof out, 0), -ENOTSUP);
        expect_detail(rx, "cannot select");
        ck_assert_int_eq(ipckit_recv_typed(rx, -5, &t, out, sizeof out, 0), -ENOTSUP);
        ck_assert_int_eq(recv_out(rx, &t, LONG_WAIT), 1);
        ck_assert_int_eq(t, 4);
        close_pair();
        return;
    }
    /* 3a 1b 2c 5d, then 2e (mem: holds four) */
    for (unsigned i = 0; i < 4; i++) {
        char c = (char) ('a' + i);
        ck_assert_int_eq(ipckit_send_typed(tx, types[i], &c, 1, 0), 0);
    }
    /* exact type: the first message of type 2 */
    ck_assert_int_eq(ipckit_recv_typed(rx, 2, &t, out, sizeof out, 0), 1);
    ck_assert_int_eq(t, 2);
    ck_assert_int_eq(out[0], 'c');
    ck_assert_int_eq(ipckit_send_typed(tx, 2, "e", 1, 0), 0);
    /* negative: the lowest type <= 4 (type 1), not the first queued (3) */
    ck_assert_int_eq(ipckit_recv_typed(rx, -4, &t, out, sizeof out, 0), 1);
    ck_assert_int_eq(t, 1);
    ck_assert_int_eq(out[0], 'b');
    ck_assert_int_eq(ipckit_recv_typed(rx, -4, &t, out, sizeof out, 0), 1);
    ck_assert_int_eq(t, 2);
    ck_assert_int_eq(out[0], 'e');
    /* none of type 4, none <= 2 left */
    ck_assert_int_eq(ipckit_recv_typed(rx, 4, &t, out, sizeof out, 0), -EAGAIN);
    ck_assert_int_eq(ipckit_recv_typed(rx, -2, &t, out, sizeof out, 0), -EAGAIN);
    ck_assert_int_eq(ipckit_recv_typed(rx, 4, &t, out, sizeof out, 50), -ETIMEDOUT);
    /* any: the first queued; LONG_MIN: the lowest of all */
    ck_assert_int_eq(ipckit_recv_typed(rx, 0, &t, out, sizeof out, 0), 1);
    ck_assert_int_eq(t, 3);
    ck_assert_int_eq(ipckit_recv_typed(rx, LONG_MIN, &t, out, sizeof out, 0), 1);
    ck_assert_int_eq(t, 5);
    ck_assert_int_eq(ipckit_recv_typed(rx, 0, &t, out, sizeof out, 0), -EAGAIN);
    close_pair();
}
END_TEST

/* ipckit_stat_name(): what the backend knows, right; what it does not, -1.
 * Without stat, -ENOTSUP. */
START_TEST(stat_describes_the_object)
{
    ipckit_stat st;
    unsigned known = be->stat_exact | be->stat_other;
    size_t len;
    open_pair(0, 0, 0);
    if (!stat_supported()) {
        ck_assert_int_eq(ipckit_stat_name(name, &st), -ENOTSUP);
        ck_assert_uint_eq(ipckit_caps(rx) & IPCKIT_CAP_STAT, 0);
        close_pair();
        return;
    }
    len = ipckit_max_msg_size(tx) < 10 ? ipckit_max_msg_size(tx) : 10;
    ck_assert_int_eq(ipckit_send(tx, "0123456789", len, 0), 0);
    ck_assert_int_eq(ipckit_send(tx, "abc", 3, 0), 0);
    ck_assert_int_eq(ipckit_send(tx, "", 0, 0), 0);
    st = stat_ok(name);
    if (stat_knows(TK_ST_MESSAGES))
        ck_assert_int_eq(st.messages, 3);
    if (stat_knows(TK_ST_BYTES))
        ck_assert_int_eq(st.bytes, (long) len + 3);
    if (stat_knows(TK_ST_MAX_MSG))
        ck_assert_int_eq(st.max_msg_size, (long) ipckit_max_msg_size(rx));
    if (stat_knows(TK_ST_SEND_PID))
        ck_assert_int_eq(st.last_send_pid, (long) getpid());
    if (stat_knows(TK_ST_CREATOR))
        ck_assert_int_eq(st.creator_pid, (long) getpid());
    if (stat_knows(TK_ST_MODE))
        ck_assert_uint_eq(st.mode, 0600);
    /* what it cannot tell */
    if (!(known & TK_ST_MESSAGES))
        ck_assert_int_eq(st.messages, -1);
    if (!(known & TK_ST_BYTES))
        ck_assert_int_eq(st.bytes, -1);
    if (!(known & TK_ST_MAX_BYTES))
        ck_assert_int_eq(st.max_bytes, -1);
    if (!(known & TK_ST_MAX_MSG))
        ck_assert_int_eq(st.max_msg_size, -1);
    if (!(known & TK_ST_SEND_PID))
        ck_assert_int_eq(st.last_send_pid, -1);
    if (!(known & TK_ST_RECV_PID))
        ck_assert_int_eq(st.last_recv_pid, -1);
    if (!(known & TK_ST_CREATOR))
        ck_assert_int_eq(st.creator_pid, -1);
    if (!(known & TK_ST_MODE))
        ck_assert_uint_eq(st.mode, 0);

    ck_assert_int_eq(recv_out(rx, NULL, 0), (ssize_t) len);
    st = stat_ok(name);
    if (stat_knows(TK_ST_MESSAGES))
        ck_assert_int_eq(st.messages, 2);
    if (stat_knows(TK_ST_BYTES))
        ck_assert_int_eq(st.bytes, 3);
    if (stat_knows(TK_ST_RECV_PID))
        ck_assert_int_eq(st.last_recv_pid, (long) getpid());
    close_pair();
    if (has(TK_BE_OBJECTS))
        ck_assert_int_eq(ipckit_stat_name(name, &st), -ENOENT);
}
END_TEST

/* ---- objects ------------------------------------------------------------------ */

/* Removed: opens without IPCKIT_CREATE, unlink and stat say -ENOENT. A
 * backend without objects has nothing to remove (-ENOTSUP). */
START_TEST(unlink_then_open_is_enoent)
{
    ipckit_channel *ch = (ipckit_channel *) 1;
    ipckit_stat st;
    open_pair(0, 0, 0);
    close_handles();
    if (!has(TK_BE_OBJECTS)) {
        ck_assert_int_eq(ipckit_unlink(name), -ENOTSUP);
        return;
    }
    unlink_ok(name);
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV, &be->opts), -ENOENT);
    ck_assert_ptr_null(ch);
    ch = (ipckit_channel *) 1;
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND, &be->opts), -ENOENT);
    ck_assert_ptr_null(ch);
    ck_assert_int_eq(ipckit_unlink(name), -ENOENT);
    if (stat_supported())
        ck_assert_int_eq(ipckit_stat_name(name, &st), -ENOENT);
}
END_TEST

/* IPCKIT_CREATE | IPCKIT_EXCL refuses an object that exists (-EEXIST);
 * IPCKIT_CREATE alone opens it: the same object. */
START_TEST(exclusive_create)
{
    ipckit_channel *ch = (ipckit_channel *) 1;
    long type = 0;
    SKIP_IF(!has(TK_BE_OBJECTS), "no objects to create");
    open_pair(0, 0, 0);
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, &be->opts),
                     -EEXIST);
    ck_assert_ptr_null(ch);
    ck_assert_int_eq(tk_be_open_tx(be, name, IPCKIT_CREATE, 0, &ch), 0);
    ck_assert_int_eq(ipckit_send_typed(ch, 8, "same", 4, 0), 0);
    ck_assert_int_eq(recv_out(rx, &type, LONG_WAIT), 4);
    ck_assert_int_eq(type, 8);
    ck_assert_int_eq(memcmp(out, "same", 4), 0);
    ck_assert_int_eq(ipckit_close(ch), 0);
    close_pair();
}
END_TEST

/* A created object has mode 0600 by default and exactly opts.mode when
 * given, whatever the umask; an open that finds it keeps its mode. */
START_TEST(mode_of_a_created_object)
{
    ipckit_channel *ch = NULL;
    mode_t old;
    int rc;
    SKIP_IF(!has(TK_BE_OBJECTS), "no objects");
    SKIP_IF(has(TK_BE_NO_OWNER), "objects have no mode on this machine");
    SKIP_IF(!stat_knows(TK_ST_MODE), "no stat that gives the mode");
    old = umask(077);
    open_pair(0, 0, 0);
    ck_assert_uint_eq(stat_ok(name).mode, 0600);
    close_pair();
    be->new_name(name, sizeof name);
    {
        ipckit_opts o = be->opts;
        o.mode = 0640;
        rc = ipckit_open(&rx, name, IPCKIT_RECV | IPCKIT_CREATE | IPCKIT_EXCL, &o);
        ck_assert_msg(rc == 0, "create %s 0640: %s (%s)", name, ipckit_errname(rc),
                      ipckit_error_detail());
    }
    umask(old);
    ck_assert_uint_eq(stat_ok(name).mode, 0640);
    ck_assert_int_eq(tk_be_open_tx(be, name, IPCKIT_CREATE, 0, &ch), 0);
    ck_assert_uint_eq(stat_ok(name).mode, 0640);
    tx = ch;
    close_pair();
}
END_TEST

struct as_nobody {
    unsigned mode; /* the mode the other user asks for: it accepts what others may write */
    int want;
};

static int
open_as_nobody(void *arg)
{
    struct as_nobody *a = arg;
    ipckit_opts o = be->opts;
    ipckit_channel *ch = NULL;
    int rc;
    become_nobody();
    o.mode = a->mode;
    rc = ipckit_open(&ch, name, IPCKIT_RECV, &o);
    if (rc != a->want)
        fprintf(stderr, "open %s as uid 65534: %s (%s), want %s\n", name, ipckit_errname(rc),
                ipckit_error_detail(), ipckit_errname(a->want));
    TK_CHILD_CHECK(rc == a->want);
    TK_CHILD_CHECK(ipckit_close(ch) == 0);
    return 0;
}

/* Another user cannot open an object created with the default mode
 * (-EACCES); with mode 0666 they can. */
START_TEST(other_users_are_kept_out)
{
    struct as_nobody a;
    ipckit_opts o = be->opts;
    int rc;
    SKIP_IF(!has(TK_BE_OBJECTS) || has(TK_BE_LOCAL), "no objects another process can open");
    SKIP_IF(has(TK_BE_NO_OWNER),
            "objects have no owner or mode on this machine: who may use them is decided"
            " elsewhere (a server's accounts), not by the user id");
    SKIP_IF(geteuid() != 0, "needs root to become another user");
    ck_assert_int_eq(chmod(tk_dir(), 0755), 0); /* let the other user reach a path in it */
    open_pair(0, 0, 0);
    close_handles(); /* fifo: one receiver at a time */
    a.mode = 0;
    a.want = -EACCES;
    ck_assert_int_eq(tk_wait(tk_fork(open_as_nobody, &a), LONG_WAIT), 0);
    unlink_ok(name);

    o.mode = 0666;
    rc = ipckit_open(&rx, name, IPCKIT_RECV | IPCKIT_CREATE | IPCKIT_EXCL, &o);
    ck_assert_msg(rc == 0, "create %s 0666: %s (%s)", name, ipckit_errname(rc),
                  ipckit_error_detail());
    ck_assert_int_eq(ipckit_close(rx), 0);
    rx = NULL;
    a.mode = 0666;
    a.want = 0;
    ck_assert_int_eq(tk_wait(tk_fork(open_as_nobody, &a), LONG_WAIT), 0);
    unlink_ok(name);
}
END_TEST

/* ---- creator records ------------------------------------------------------------- */

static int
create_and_exit(void *arg)
{
    ipckit_channel *ch = NULL;
    (void) arg;
    TK_CHILD_CHECK(tk_be_open_rx(be, name, 0, 0, &ch) == 0);
    return 0; /* no close, no unlink: the object outlives this process */
}

static long
stat_creator(void)
{
    return stat_ok(name).creator_pid;
}

/* The open that creates the object writes its record, and no other open
 * does; ipckit_unlink() removes it with the object. */
START_TEST(creator_records)
{
    char rec[128], text[1024], head[64];
    ipckit_channel *ch = NULL;
    pid_t pid;
    SKIP_IF(be->record_kind == NULL, "keeps no creator records");
    open_pair(0, 0, 0);
    ck_assert_int_eq(tk_record_path(name, rec, sizeof rec), 0);
    ck_assert_int_gt(tk_read_file(rec, text, sizeof text), 0);
    (void) snprintf(head, sizeof head, "ipckit-creator 1 %s pid=", be->record_kind);
    ck_assert_msg(strncmp(text, head, strlen(head)) == 0, "%s", text);
    ck_assert_int_eq(tk_record_pid(name), (long) getpid());
    ck_assert_int_eq(stat_creator(), (long) getpid());
    ck_assert_int_eq(tk_count_records(), 1);
    close_pair();
    ck_assert_int_eq(access(rec, F_OK), -1);
    ck_assert_int_eq(tk_count_records(), 0);

    /* created by a child: the parent's opens, with or without CREATE, keep it */
    be->new_name(name, sizeof name);
    pid = tk_fork(create_and_exit, NULL);
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    ck_assert_int_eq(tk_record_pid(name), (long) pid);
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV, &be->opts), 0);
    ck_assert_int_eq(ipckit_close(ch), 0);
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV | IPCKIT_CREATE, &be->opts), 0);
    ck_assert_int_eq(ipckit_close(ch), 0);
    ck_assert_int_eq(tk_record_pid(name), (long) pid);
    ck_assert_int_eq(stat_creator(), (long) pid);

    /* an open that finds the object writes none where there was none */
    ck_assert_int_eq(tk_record_path(name, rec, sizeof rec), 0);
    ck_assert_int_eq(unlink(rec), 0);
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV | IPCKIT_CREATE, &be->opts), 0);
    ck_assert_int_eq(ipckit_close(ch), 0);
    ck_assert_int_eq(tk_record_pid(name), -1);
    ck_assert_int_eq(stat_creator(), -1);
    unlink_ok(name);
}
END_TEST

/* A record that is short, garbled or not a plain file is not trusted (the
 * creator is unknown); a garbled record of our own still goes with the
 * object. Each backend's suite changes the fields that identify its
 * objects. */
START_TEST(bad_records_are_not_trusted)
{
    char rec[128];
    SKIP_IF(be->record_kind == NULL, "keeps no creator records");
    open_pair(0, 0, 0);
    tk_check_record_refusals(name, NULL, TK_REC_FORMAT);
    ck_assert_int_eq(tk_record_path(name, rec, sizeof rec), 0);
    ck_assert_int_eq(unlink(rec), 0);
    ck_assert_int_eq(tk_plant(rec, "garbage", geteuid()), 0);
    close_pair();
    ck_assert_int_eq(access(rec, F_OK), -1);
}
END_TEST

/* ---- ipckit_interrupt() ------------------------------------------------------------ */

/* Open the pair with IPCKIT_OPT_INTERRUPTIBLE; false when the backend has
 * no interrupt, after checking that it says so: a table of ABI 4 that does
 * not declare the flag is refused at open (-ENOTSUP), an older one opens
 * and ipckit_interrupt() says -ENOTSUP. */
static int
open_interruptible(const char *fn)
{
    if (has(TK_BE_NO_INTR)) {
        ipckit_opts o = IPCKIT_OPTS_INIT;
        ipckit_channel *ch = NULL;
        char n[sizeof name];
        int rc;
        (void) snprintf(n, sizeof n, "%s:intr.%ld", be->scheme, (long) getpid());
        o.flags = IPCKIT_OPT_INTERRUPTIBLE;
        rc = ipckit_open(&ch, n, IPCKIT_SEND | IPCKIT_RECV | IPCKIT_CREATE, &o);
        if (rc == 0) {
            ck_assert_int_eq(ipckit_interrupt(ch), -ENOTSUP);
            ck_assert_int_eq(ipckit_close(ch), 0);
            (void) ipckit_unlink(n);
        } else {
            ck_assert_int_eq(rc, -ENOTSUP);
        }
        skip_note(fn, "no ipckit_interrupt() (it says -ENOTSUP)");
        return 0;
    }
    open_pair(0, 0, IPCKIT_OPT_INTERRUPTIBLE);
    return 1;
}

static void *
interrupt_later(void *arg)
{
    struct timespec t = { 0, 150 * 1000000L };
    (void) nanosleep(&t, NULL);
    (void) ipckit_interrupt(arg);
    return NULL;
}

/* A receive that waits for ever returns -EINTR when another thread
 * interrupts it; the interrupt is then used up. A timed wait too. */
START_TEST(interrupt_wakes_waiting_recv)
{
    pthread_t t;
    long long t0;
    if (!open_interruptible(__func__))
        return;
    ck_assert_int_eq(pthread_create(&t, NULL, interrupt_later, rx), 0);
    t0 = tk_now_ms();
    ck_assert_int_eq(recv_out(rx, NULL, IPCKIT_FOREVER), -EINTR);
    ck_assert_int_lt(tk_now_ms() - t0, LONG_WAIT);
    expect_detail(rx, "interrupt");
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    /* used up: a wait with a timeout now times out, and messages flow */
    ck_assert_int_eq(recv_out(rx, NULL, 50), -ETIMEDOUT);
    ck_assert_int_eq(ipckit_send(tx, "ok", 2, 1000), 0);
    ck_assert_int_eq(recv_out(rx, NULL, 1000), 2);
    ck_assert_int_eq(pthread_create(&t, NULL, interrupt_later, rx), 0);
    ck_assert_int_eq(recv_out(rx, NULL, LONG_WAIT), -EINTR);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    close_pair();
}
END_TEST

/* Interrupts with nobody waiting end the next wait at once, as one; a call
 * that need not wait is not affected. */
START_TEST(interrupt_pending)
{
    if (!open_interruptible(__func__))
        return;
    ck_assert_int_eq(ipckit_interrupt(rx), 0);
    ck_assert_int_eq(ipckit_interrupt(rx), 0);
    ck_assert_int_eq(ipckit_send(tx, "m", 1, 0), 0);
    ck_assert_int_eq(recv_out(rx, NULL, 0), 1);
    ck_assert_int_eq(recv_out(rx, NULL, IPCKIT_FOREVER), -EINTR);
    ck_assert_int_eq(recv_out(rx, NULL, 50), -ETIMEDOUT);
    close_pair();
}
END_TEST

static ipckit_channel *handler_ch;

static void
on_usr1(int sig)
{
    (void) sig;
    (void) ipckit_interrupt(handler_ch);
}

static void *
signal_later(void *arg)
{
    struct timespec t = { 0, 150 * 1000000L };
    (void) arg;
    (void) nanosleep(&t, NULL);
    (void) kill(getpid(), SIGUSR1);
    return NULL;
}

/* From a signal handler, even one installed with SA_RESTART (which makes
 * the kernel restart some blocking calls without returning): a clean
 * shutdown on SIGTERM is this. */
START_TEST(interrupt_from_signal_handler)
{
    struct sigaction sa, old;
    sigset_t usr1, prev;
    pthread_t t;
#ifdef __SANITIZE_THREAD__
    /* ThreadSanitizer runs a handler only when the thread next calls a
     * function it intercepts; a thread asleep in a raw futex system call
     * never does. The thread cases cover the wake-up under it. */
    skip_note(__func__, "under ThreadSanitizer (it defers signal handlers)");
    return;
#endif
    if (!open_interruptible(__func__))
        return;
    handler_ch = rx;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    ck_assert_int_eq(sigaction(SIGUSR1, &sa, &old), 0);
    /* the helper thread must not take the signal itself */
    (void) sigemptyset(&usr1);
    (void) sigaddset(&usr1, SIGUSR1);
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &usr1, &prev), 0);
    ck_assert_int_eq(pthread_create(&t, NULL, signal_later, NULL), 0);
    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, &prev, NULL), 0);
    ck_assert_int_eq(recv_out(rx, NULL, IPCKIT_FOREVER), -EINTR);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(sigaction(SIGUSR1, &old, NULL), 0);
    close_pair();
}
END_TEST

/* A sender that waits for room is woken the same way. */
START_TEST(interrupt_wakes_waiting_send)
{
    pthread_t t;
    int n;
    SKIP_IF(has(TK_BE_UNFILLABLE), "a full channel: " UNFILLABLE_WHY);
    if (!open_interruptible(__func__))
        return;
    n = fill(tx);
    ck_assert_int_eq(pthread_create(&t, NULL, interrupt_later, tx), 0);
    ck_assert_int_eq(ipckit_send(tx, msg, fill_len(tx), IPCKIT_FOREVER), -EINTR);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    drain(rx, n);
    close_pair();
}
END_TEST

/* Without IPCKIT_OPT_INTERRUPTIBLE, a channel whose waits are the kernel's
 * blocking calls says it cannot be interrupted. */
START_TEST(interrupt_needs_the_option)
{
    int want = has(TK_BE_INTR_ALWAYS) ? 0 : -ENOTSUP;
    open_pair(0, 0, 0);
    ck_assert_int_eq(ipckit_interrupt(rx), want);
    ck_assert_int_eq(ipckit_interrupt(tx), want);
    ck_assert_int_eq(ipckit_interrupt(NULL), -EINVAL);
    close_pair();
}
END_TEST

/* ---- running -------------------------------------------------------------------- */

/* The mem: backend's queues are no kernel objects: the leak check is this. */
static void
mem_leak_check(void)
{
    ck_assert_msg(tk_mem_queues() == 0, "test left %d mem: queue(s) behind", tk_mem_queues());
}

static Suite *
conformance_suite(const tk_backend *b)
{
    static char names[16][48]; /* Check keeps the pointer */
    static size_t used;
    char *sname = names[used < 15 ? used++ : 15];
    Suite *s;
    TCase *tc;
    be = b;
    (void) snprintf(sname, sizeof names[0], "conformance.%s", tk_be_id(b));
    s = suite_create(sname);
    tc = tk_tcase(tk_be_id(b), 60);
    tcase_add_checked_fixture(tc, NULL, mem_leak_check);
    tcase_add_test(tc, channel_identity);
    tcase_add_test(tc, sizes_at_the_boundaries);
    tcase_add_test(tc, empty_message_without_buffer);
    tcase_add_test(tc, types_are_carried);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, direction_is_enforced);
    tcase_add_test(tc, small_buffer_keeps_message);
    tcase_add_test(tc, order_of_one_sender);
    tcase_add_test(tc, timeouts);
    tcase_add_test(tc, nonblock_flag);
    tcase_add_test(tc, waiting_recv_gets_message);
    tcase_add_test(tc, signals_do_not_cut_waits);
    tcase_add_test(tc, fork_child_sends);
    tcase_add_test(tc, fork_child_receives);
    tcase_add_test(tc, fd_is_pollable);
    tcase_add_test(tc, selectors);
    tcase_add_test(tc, stat_describes_the_object);
    tcase_add_test(tc, unlink_then_open_is_enoent);
    tcase_add_test(tc, exclusive_create);
    tcase_add_test(tc, mode_of_a_created_object);
    tcase_add_test(tc, other_users_are_kept_out);
    tcase_add_test(tc, creator_records);
    tcase_add_test(tc, bad_records_are_not_trusted);
    tcase_add_test(tc, interrupt_wakes_waiting_recv);
    tcase_add_test(tc, interrupt_pending);
    tcase_add_test(tc, interrupt_from_signal_handler);
    tcase_add_test(tc, interrupt_wakes_waiting_send);
    tcase_add_test(tc, interrupt_needs_the_option);
    suite_add_tcase(s, tc);
    return s;
}

static int registry_ok = 1;

static int
check_registered(const ipckit_backend *b, void *arg)
{
    (void) arg;
    if (tk_backend_get(b->scheme) == NULL) {
        fprintf(stderr,
                "conformance: backend \"%s\" is registered but has no fixture: add one to"
                " tests/testkit/tk_backend.c\n",
                b->scheme);
        registry_ok = 0;
    }
    return 0;
}

/* Every registered backend has a fixture, every fixture a registered
 * backend and a test in ctest (TK_CONFORMANCE_TESTS, from CMake: "fifo,mq,..."). */
static int
check_registry(void)
{
    (void) ipckit_backend_foreach(check_registered, NULL);
    for (size_t i = 0; tk_backend_at(i) != NULL; i++) {
        const char *scheme = tk_backend_at(i)->scheme, *id = tk_be_id(tk_backend_at(i));
        char want[40];
        if (ipckit_backend_find(scheme) == NULL) {
            fprintf(stderr, "conformance: fixture \"%s\" names no registered backend\n", scheme);
            registry_ok = 0;
        }
#ifdef TK_CONFORMANCE_TESTS
        (void) snprintf(want, sizeof want, ",%s,", id);
        if (strstr("," TK_CONFORMANCE_TESTS ",", want) == NULL) {
            fprintf(stderr,
                    "conformance: no ctest conformance.%s: add it to"
                    " tests/conformance/CMakeLists.txt\n",
                    id);
            registry_ok = 0;
        }
#else
        (void) want;
        (void) id;
#endif
    }
    return registry_ok;
}

int
main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : getenv("IPCKIT_CONFORMANCE_BACKEND");
    int rc = EXIT_SUCCESS;
    if (tk_backends_register() < 0 || !check_registry())
        return EXIT_FAILURE;
    if (only != NULL && only[0] != '\0') {
        const tk_backend *b = tk_backend_get(only);
        const char *env = tk_backend_missing_env(only);
        if (env != NULL) {
            /* a backend on a server: its ctest test starts one */
            printf("SKIP: conformance.%s: needs %s (a server to run on)\n", only, env);
            return 77;
        }
        if (b == NULL) {
            fprintf(stderr, "conformance: no backend \"%s\"\n", only);
            return EXIT_FAILURE;
        }
        return tk_run(conformance_suite(b));
    }
    for (size_t i = 0; tk_backend_at(i) != NULL; i++)
        if (tk_run(conformance_suite(tk_backend_at(i))) != EXIT_SUCCESS)
            rc = EXIT_FAILURE;
    return rc;
}
