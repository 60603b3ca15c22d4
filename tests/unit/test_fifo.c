/*
 * Tests of what only the fifo: backend does, with real processes: framing
 * and its faults, stream mode, end of stream, one receiver, one claimed
 * writer (?claim=1) and its whole frames, how much a receive reads, paths
 * and directory swaps, creator records of paths. The channel contract over
 * fifo: (sizes, small buffers, timeouts, fork, modes, other users, ...) is
 * the conformance suite's (conformance.fifo).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <grp.h>
#include <sys/stat.h>

#include <ipckit/ipckit.h>

#include "testkit.h"

#define LONG_WAIT 20000

static char name[600], path[600];

static void
setup_names(const char *leaf)
{
    tk_name(name, sizeof name, "fifo", leaf);
    tk_path(path, sizeof path, leaf);
}

static ipckit_channel *
open_ok(const char *n, unsigned flags, const ipckit_opts *o)
{
    ipckit_channel *ch = NULL;
    int rc = ipckit_open(&ch, n, flags, o);
    ck_assert_msg(rc == 0, "open %s: %s (%s)", n, ipckit_errname(rc), ipckit_error_detail());
    return ch;
}

static int
check_content(const unsigned char *p, size_t len, unsigned w, unsigned s)
{
    static unsigned char want[1 << 20];
    if (len > sizeof want)
        return 0;
    tk_fill(want, len, w, s);
    return memcmp(p, want, len) == 0;
}

/* ---- child bodies ------------------------------------------------------------ */

struct writer_args {
    const char *name;
    unsigned id;
    unsigned count;
    size_t big;
    unsigned flags;
};

/* Send `count` messages: header (id, seq) + content, sizes alternate small/big. */
static int
writer_main(void *arg)
{
    struct writer_args *a = arg;
    static unsigned char buf[1 << 20];
    ipckit_channel *tx = NULL;
    TK_CHILD_CHECK(ipckit_open(&tx, a->name, IPCKIT_SEND | a->flags, NULL) == 0);
    for (unsigned s = 0; s < a->count; s++) {
        size_t len = (s % 3 == 1) ? a->big + s : 16 + (s * 7) % 300;
        memcpy(buf, &a->id, 4);
        memcpy(buf + 4, &s, 4);
        tk_fill(buf + 8, len - 8, a->id, s);
        TK_CHILD_CHECK(ipckit_send_typed(tx, (long) a->id + 1, buf, len, LONG_WAIT) == 0);
    }
    TK_CHILD_CHECK(ipckit_close(tx) == 0);
    return 0;
}

/* ---- tests ----------------------------------------------------------------------- */

/* Messages of several frames from another process arrive whole and in
 * order; when the writer has gone and nothing is queued, the stream ends
 * (-EPIPE). The object is a FIFO. */
START_TEST(roundtrip_boundaries_types_eof)
{
    struct writer_args a = { name, 7, 30, 100000, 0 };
    static unsigned char buf[1 << 18];
    ipckit_channel *rx;
    struct stat sb;
    long type;
    pid_t pid;

    setup_names("rt.pipe");
    rx = open_ok(name, IPCKIT_RECV | IPCKIT_CREATE, NULL);
    ck_assert_int_eq(lstat(path, &sb), 0);
    ck_assert(S_ISFIFO(sb.st_mode));

    pid = tk_fork(writer_main, &a);
    for (unsigned s = 0; s < a.count; s++) {
        size_t want = (s % 3 == 1) ? a.big + s : 16 + (s * 7) % 300;
        ssize_t n = ipckit_recv_typed(rx, 0, &type, buf, sizeof buf, LONG_WAIT);
        ck_assert_msg(n == (ssize_t) want, "message %u: got %zd (%s), want %zu", s, n,
                      ipckit_last_error(rx), want);
        ck_assert_int_eq(type, 8);
        unsigned id, seq;
        memcpy(&id, buf, 4);
        memcpy(&seq, buf + 4, 4);
        ck_assert_uint_eq(id, 7);
        ck_assert_uint_eq(seq, s);
        ck_assert(check_content(buf + 8, (size_t) n - 8, 7, s));
    }
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    /* the writer is gone and nothing is queued: end of stream */
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, LONG_WAIT), -EPIPE);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), -EPIPE);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
    ck_assert_int_eq(lstat(path, &sb), -1);
}
END_TEST

START_TEST(refuses_bad_paths)
{
    ipckit_channel *ch = NULL;
    char link[600], lname[700], target[600];
    struct stat sb;
    FILE *fp;

    setup_names("regular");
    fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs("data", fp);
    fclose(fp);
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV | IPCKIT_CREATE, NULL), -EEXIST);
    ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), "not a FIFO"));
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV, NULL), -EINVAL);
    ck_assert_int_eq(ipckit_unlink(name), -EINVAL);
    ck_assert_int_eq(lstat(path, &sb), 0); /* not removed */
    ck_assert_int_eq(unlink(path), 0);

    /* a symlink to a real FIFO is not followed, for open or unlink */
    tk_path(target, sizeof target, "real.pipe");
    ck_assert_int_eq(mkfifo(target, 0600), 0);
    tk_path(link, sizeof link, "link.pipe");
    ck_assert_int_eq(symlink(target, link), 0);
    snprintf(lname, sizeof lname, "fifo:%s", link);
    ck_assert_int_eq(ipckit_open(&ch, lname, IPCKIT_RECV, NULL), -ELOOP);
    ck_assert_int_eq(ipckit_open(&ch, lname, IPCKIT_RECV | IPCKIT_CREATE, NULL), -ELOOP);
    ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), "symbolic link"));
    ck_assert_int_eq(ipckit_unlink(lname), -ELOOP);
    ck_assert_int_eq(unlink(link), 0);
    ck_assert_int_eq(unlink(target), 0);

    /* one-way only; unknown parameter */
    setup_names("missing.pipe");
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV | IPCKIT_SEND | IPCKIT_CREATE, NULL),
                     -EINVAL);
    ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), "one-way"));
    snprintf(lname, sizeof lname, "%s?color=red", name);
    ck_assert_int_eq(ipckit_open(&ch, lname, IPCKIT_RECV | IPCKIT_CREATE, NULL), -EINVAL);
    ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), "unknown parameter \"color\""));
    ck_assert_int_eq(lstat(path, &sb), -1); /* nothing created on a failed open */
    ipckit_opts o = IPCKIT_OPTS_INIT;
    o.flags = IPCKIT_OPT_TRUNCATE;
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV | IPCKIT_CREATE, &o), -ENOTSUP);
    ck_assert_int_eq(lstat(path, &sb), -1);
    ck_assert_int_eq(ipckit_open(&ch, "fifo:/nonexistent-dir/x.pipe", IPCKIT_RECV | IPCKIT_CREATE, NULL),
                     -ENOENT);
    /* a path that ends in '/' names a directory, never a FIFO */
    tk_name(lname, sizeof lname, "fifo", "");
    ck_assert_int_eq(ipckit_open(&ch, lname, IPCKIT_RECV | IPCKIT_CREATE, NULL), -EINVAL);
    ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), "names no FIFO"));
    ck_assert_int_eq(ipckit_unlink(lname), -EINVAL);
    ck_assert_ptr_null(ch);
}
END_TEST

static int
open_reader_later(void *arg)
{
    ipckit_channel *rx = NULL;
    struct timespec ts = { 0, 150 * 1000000L };
    char buf[16];
    nanosleep(&ts, NULL);
    TK_CHILD_CHECK(ipckit_open(&rx, arg, IPCKIT_RECV, NULL) == 0);
    TK_CHILD_CHECK(ipckit_recv(rx, buf, sizeof buf, LONG_WAIT) == 2);
    TK_CHILD_CHECK(memcmp(buf, "hi", 2) == 0);
    return ipckit_close(rx) == 0 ? 0 : 1;
}

START_TEST(writer_open_waits_for_reader)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *tx = NULL;
    long long t0;
    pid_t pid;
    setup_names("wait.pipe");
    ck_assert_int_eq(mkfifo(path, 0600), 0);

    ck_assert_int_eq(ipckit_open(&tx, name, IPCKIT_SEND | IPCKIT_NONBLOCK, NULL), -EAGAIN);
    ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), "no reader"));
    o.open_timeout_ms = 0;
    ck_assert_int_eq(ipckit_open(&tx, name, IPCKIT_SEND, &o), -EAGAIN);
    o.open_timeout_ms = 120;
    t0 = tk_now_ms();
    ck_assert_int_eq(ipckit_open(&tx, name, IPCKIT_SEND, &o), -ETIMEDOUT);
    ck_assert_int_ge(tk_now_ms() - t0, 120);

    pid = tk_fork(open_reader_later, name);
    o.open_timeout_ms = LONG_WAIT;
    tx = open_ok(name, IPCKIT_SEND, &o);
    ck_assert_int_eq(ipckit_send(tx, "hi", 2, LONG_WAIT), 0);
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    ck_assert_int_eq(ipckit_close(tx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/* No writer has come yet: a wait, not an end of stream. (A silent writer:
 * conformance.fifo, timeouts.) */
START_TEST(recv_timeouts)
{
    ipckit_channel *rx;
    char buf[16];
    long long t0;
    setup_names("timeout.pipe");
    rx = open_ok(name, IPCKIT_RECV | IPCKIT_CREATE, NULL);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), -EAGAIN);
    t0 = tk_now_ms();
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 80), -ETIMEDOUT);
    ck_assert_int_ge(tk_now_ms() - t0, 80);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

START_TEST(epipe_not_sigpipe)
{
    ipckit_channel *rx, *tx;
    sigset_t before, after, pending;
    setup_names("epipe.pipe");
    rx = open_ok(name, IPCKIT_RECV | IPCKIT_CREATE, NULL);
    tx = open_ok(name, IPCKIT_SEND, NULL);
    ck_assert_int_eq(ipckit_close(rx), 0);
    /* SIGPIPE has its default (fatal) action here; the test process must survive */
    signal(SIGPIPE, SIG_DFL);
    pthread_sigmask(SIG_SETMASK, NULL, &before);
    ck_assert_int_eq(ipckit_send(tx, "x", 1, 0), -EPIPE);
    ck_assert_ptr_nonnull(strstr(ipckit_last_error(tx), "no reader"));
    static char big[200000];
    ck_assert_int_eq(ipckit_send(tx, big, sizeof big, LONG_WAIT), -EPIPE);
    pthread_sigmask(SIG_SETMASK, NULL, &after);
    ck_assert(sigismember(&before, SIGPIPE) == sigismember(&after, SIGPIPE));
    sigpending(&pending);
    ck_assert(!sigismember(&pending, SIGPIPE));
    ck_assert_int_eq(ipckit_close(tx), 0);

    /* a process that ignores SIGPIPE gets -EPIPE too (the fast path) */
    signal(SIGPIPE, SIG_IGN);
    rx = open_ok(name, IPCKIT_RECV, NULL);
    tx = open_ok(name, IPCKIT_SEND, NULL);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_send(tx, "x", 1, 0), -EPIPE);
    ck_assert_int_eq(ipckit_send(tx, big, sizeof big, LONG_WAIT), -EPIPE);
    ck_assert_ptr_nonnull(strstr(ipckit_last_error(tx), "no reader"));
    sigpending(&pending);
    ck_assert(!sigismember(&pending, SIGPIPE));
    ck_assert_int_eq(ipckit_close(tx), 0);
    signal(SIGPIPE, SIG_DFL);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/* A large message that cannot start before its timeout, into a full pipe,
 * sends nothing: what comes out is what filled the pipe. (A full channel's
 * timeouts and the descriptor: conformance.fifo.) */
START_TEST(send_full_pipe_times_out)
{
    ipckit_channel *rx, *tx;
    char buf[1000] = { 0 };
    ipckit_opts o = IPCKIT_OPTS_INIT;
    static char big[50000];
    int rc, sent = 0;
    setup_names("full.pipe");
    o.capacity = 4096;
    rx = open_ok(name, IPCKIT_RECV | IPCKIT_CREATE, &o);
    tx = open_ok(name, IPCKIT_SEND, NULL);
    while ((rc = ipckit_send(tx, buf, sizeof buf, 0)) == 0)
        sent++;
    ck_assert_int_eq(rc, -EAGAIN);
    ck_assert_int_gt(sent, 0);
    ck_assert_int_eq(ipckit_send(tx, big, sizeof big, 30), -ETIMEDOUT);
    for (int i = 0; i < sent; i++)
        ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), (ssize_t) sizeof buf);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), -EAGAIN);
    ck_assert_int_eq(ipckit_close(tx), 0);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/* A message of several frames that does not fit the buffer stays
 * receivable, whole. (One frame, and selectors: conformance.fifo.) */
START_TEST(small_buffer_keeps_message)
{
    ipckit_channel *rx, *tx;
    static unsigned char big[70000], out[70000];
    char small[8];
    long type;
    ipckit_opts o = IPCKIT_OPTS_INIT;
    setup_names("small.pipe");
    o.capacity = 256 * 1024; /* room for the whole message: this test has no second process */
    rx = open_ok(name, IPCKIT_RECV | IPCKIT_CREATE, &o);
    tx = open_ok(name, IPCKIT_SEND, NULL);
    tk_fill(big, sizeof big, 1, 1);
    ck_assert_int_eq(ipckit_send_typed(tx, 9, big, sizeof big, LONG_WAIT), 0);
    ck_assert_int_eq(ipckit_recv(rx, small, sizeof small, LONG_WAIT), -EMSGSIZE);
    ck_assert_ptr_nonnull(strstr(ipckit_last_error(rx), "70000 bytes"));
    ck_assert_int_eq(ipckit_recv(rx, small, sizeof small, 0), -EMSGSIZE);
    ck_assert_int_eq(ipckit_recv_typed(rx, 0, &type, out, sizeof out, 0), (ssize_t) sizeof big);
    ck_assert_int_eq(type, 9);
    ck_assert_int_eq(memcmp(out, big, sizeof big), 0);
    ck_assert_int_eq(ipckit_close(tx), 0);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

START_TEST(max_msg_size_enforced)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *rx, *tx, *tx2;
    static char big[9000];
    char buf[200];
    setup_names("max.pipe");
    o.max_msg_size = 100;
    rx = open_ok(name, IPCKIT_RECV | IPCKIT_CREATE, &o);
    tx = open_ok(name, IPCKIT_SEND, &o);
    ck_assert_uint_eq(ipckit_max_msg_size(tx), 100);
    ck_assert_int_eq(ipckit_send(tx, big, 100, 0), 0);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), 100);
    /* a peer with a larger limit: the receiver refuses rather than overreads,
     * discards that message, says so once, and goes on */
    tx2 = open_ok(name, IPCKIT_SEND, NULL);
    ck_assert_int_eq(ipckit_send(tx2, big, sizeof big, 0), 0);
    ck_assert_int_eq(ipckit_send(tx, big, 50, 0), 0);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), -EBADMSG);
    ck_assert_msg(strstr(ipckit_last_error(rx), "9000 bytes") != NULL &&
                      strstr(ipckit_last_error(rx), "max_msg_size of 100") != NULL,
                  "detail: %s", ipckit_last_error(rx));
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), 50);
    /* the same for a message of one frame */
    ck_assert_int_eq(ipckit_send(tx2, big, 150, 0), 0);
    ck_assert_int_eq(ipckit_send(tx, "ok", 2, 0), 0);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(ipckit_last_error(rx), "150 bytes"));
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), 2);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), -EAGAIN);
    ck_assert_int_eq(ipckit_close(tx2), 0);
    ck_assert_int_eq(ipckit_close(tx), 0);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/* Write raw bytes to the FIFO, as a foreign writer would. */
static void
raw_write(const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_NONBLOCK);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, p, n), (ssize_t) n);
    close(fd);
}

struct frame {
    uint16_t magic;
    uint8_t version, flags;
    uint32_t len;
    int64_t type;
};

/*
 * A header that is no frame header: the stream has lost its framing,
 * -EPROTO from then on. A message that cannot be delivered from well-formed
 * frames (cut off, over the limit): -EBADMSG once, and the channel goes on.
 */
START_TEST(corrupt_frames_are_eproto)
{
    ipckit_channel *rx;
    char buf[64];
    struct {
        struct frame h;
        char payload[8];
    } f;
    setup_names("corrupt.pipe");

    /* garbage */
    rx = open_ok(name, IPCKIT_RECV | IPCKIT_CREATE, NULL);
    raw_write("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10garbage", 23);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, LONG_WAIT), -EPROTO);
    ck_assert_ptr_nonnull(strstr(ipckit_last_error(rx), "bad magic"));
    ck_assert_ptr_nonnull(strstr(ipckit_last_error(rx), "must be reopened"));
    ck_assert_ptr_null(strstr(ipckit_last_error(rx), "stream=1")); /* not text */
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), -EPROTO); /* sticky */
    ck_assert_ptr_nonnull(strstr(ipckit_last_error(rx), "reopen"));
    ck_assert_int_eq(ipckit_close(rx), 0);

    /* a header that claims more than a frame may hold: no overread, no huge allocation */
    rx = open_ok(name, IPCKIT_RECV, NULL);
    memset(&f, 0, sizeof f);
    f.h = (struct frame){ 0x4b49, 1, 3, 0xfffffff0u, 1 };
    raw_write(&f, sizeof f);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, LONG_WAIT), -EPROTO);
    ck_assert_int_eq(ipckit_close(rx), 0);

    /* bad type, bad version, bad flags */
    struct frame bad[] = { { 0x4b49, 1, 3, 8, 0 }, { 0x4b49, 1, 3, 8, -4 }, { 0x4b49, 2, 3, 8, 1 },
                           { 0x4b49, 1, 0x13, 8, 1 } };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rx = open_ok(name, IPCKIT_RECV, NULL);
        f.h = bad[i];
        raw_write(&f, sizeof f);
        ck_assert_msg(ipckit_recv(rx, buf, sizeof buf, LONG_WAIT) == -EPROTO, "case %zu", i);
        ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), -EPROTO);
        ck_assert_int_eq(ipckit_close(rx), 0);
    }

    /* a truncated frame, then the writer goes: the partial bytes are
     * dropped, -EBADMSG, and the channel goes on */
    rx = open_ok(name, IPCKIT_RECV, NULL);
    f.h = (struct frame){ 0x4b49, 1, 3, 8, 1 };
    raw_write(&f, sizeof f.h + 3);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, LONG_WAIT), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(ipckit_last_error(rx), "discarded"));
    ck_assert_ptr_null(strstr(ipckit_last_error(rx), "stream=1"));
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), -EPIPE);
    /* and the channel works again for the next writer */
    memcpy(f.payload, "ABCDEFGH", 8);
    raw_write(&f, sizeof f);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, LONG_WAIT), 8);
    ck_assert_int_eq(memcmp(buf, "ABCDEFGH", 8), 0);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/*
 * Plain text written to a framed receiver (PHP's fwrite, echo hi > fifo):
 * the detail says that a receiver with ?stream=1 takes it.
 */
START_TEST(text_to_framed_receiver_says_stream)
{
    ipckit_channel *rx;
    char buf[64];
    setup_names("text.pipe");

    /* longer than a header: bad magic, the framing is lost */
    rx = open_ok(name, IPCKIT_RECV | IPCKIT_CREATE, NULL);
    raw_write("hello world, this is not a frame\n", 33);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, LONG_WAIT), -EPROTO);
    ck_assert_msg(strstr(ipckit_last_error(rx), "bad magic") != NULL &&
                      strstr(ipckit_last_error(rx), "look like text") != NULL &&
                      strstr(ipckit_last_error(rx), "?stream=1") != NULL,
                  "detail: %s", ipckit_last_error(rx));
    ck_assert_int_eq(ipckit_close(rx), 0);

    /* shorter than a header, then the writer goes ("echo hi > fifo") */
    rx = open_ok(name, IPCKIT_RECV, NULL);
    raw_write("hi\n", 3);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, LONG_WAIT), -EBADMSG);
    ck_assert_msg(strstr(ipckit_last_error(rx), "3 bytes discarded") != NULL &&
                      strstr(ipckit_last_error(rx), "?stream=1") != NULL,
                  "detail: %s", ipckit_last_error(rx));
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), -EPIPE);
    ck_assert_int_eq(ipckit_close(rx), 0);

    /* UTF-8 text counts as text too */
    rx = open_ok(name, IPCKIT_RECV, NULL);
    static const char utf8[] = "gr\xc3\xbc\xc3\x9f dich, Stra\xc3\x9f"
                               "e\n";
    raw_write(utf8, sizeof utf8 - 1);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, LONG_WAIT), -EPROTO);
    ck_assert_ptr_nonnull(strstr(ipckit_last_error(rx), "?stream=1"));
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/*
 * Frames of a large message whose first frame this receiver never got
 * (the message began before it opened): skipped, and reported once, never
 * silently; the messages after them arrive.
 */
START_TEST(frames_without_their_start_are_reported)
{
    ipckit_channel *rx;
    char buf[64];
    struct {
        struct frame h;
        char payload[8];
    } mid = { { 0x4b49, 1, 0, 8, 5 }, "middle.." }, last = { { 0x4b49, 1, 2, 8, 5 }, "last...." },
      one = { { 0x4b49, 1, 3, 8, 7 }, "single.." };
    long type = 0;
    setup_names("orphan.pipe");
    rx = open_ok(name, IPCKIT_RECV | IPCKIT_CREATE, NULL);
    int fd = open(path, O_WRONLY | O_NONBLOCK);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, &mid, sizeof mid), (ssize_t) sizeof mid);
    ck_assert_int_eq(write(fd, &mid, sizeof mid), (ssize_t) sizeof mid);
    ck_assert_int_eq(write(fd, &last, sizeof last), (ssize_t) sizeof last);
    ck_assert_int_eq(write(fd, &one, sizeof one), (ssize_t) sizeof one);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, LONG_WAIT), -EBADMSG);
    ck_assert_msg(strstr(ipckit_last_error(rx), "never received") != NULL, "detail: %s",
                  ipckit_last_error(rx));
    ck_assert_int_eq(ipckit_recv_typed(rx, 0, &type, buf, sizeof buf, LONG_WAIT), 8);
    ck_assert_int_eq(type, 7);
    ck_assert_int_eq(memcmp(buf, "single..", 8), 0);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), -EAGAIN);
    close(fd);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, LONG_WAIT), -EPIPE);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

START_TEST(stream_mode_for_foreign_peers)
{
    ipckit_channel *rx, *tx;
    char buf[64];
    char sname[700];
    long type = 0;
    ssize_t n;
    int fd;
    setup_names("stream.pipe");
    snprintf(sname, sizeof sname, "%s?stream=1", name);

    /* a foreign writer (like PHP's fwrite) and an ipckit stream reader */
    rx = open_ok(sname, IPCKIT_RECV | IPCKIT_CREATE, NULL);
    ck_assert_uint_eq(ipckit_caps(rx) & IPCKIT_CAP_STREAM, IPCKIT_CAP_STREAM);
    raw_write("hello world", 11);
    n = ipckit_recv_typed(rx, 0, &type, buf, sizeof buf, LONG_WAIT);
    ck_assert_int_eq(n, 11);
    ck_assert_int_eq(type, 1);
    ck_assert_int_eq(memcmp(buf, "hello world", 11), 0);
    ck_assert_int_eq(ipckit_recv(rx, buf, 0, 0), -EINVAL);
    ck_assert_int_eq(ipckit_close(rx), 0);

    /* an ipckit stream writer and a foreign reader: exactly the bytes, no header */
    fd = open(path, O_RDONLY | O_NONBLOCK);
    ck_assert_int_ge(fd, 0);
    ipckit_opts o = IPCKIT_OPTS_INIT;
    o.flags = IPCKIT_OPT_STREAM;
    tx = open_ok(name, IPCKIT_SEND, &o);
    ck_assert_int_eq(ipckit_send(tx, "hello ", 6, 0), 0);
    ck_assert_int_eq(ipckit_send(tx, "world", 5, 0), 0);
    ck_assert_int_eq(read(fd, buf, sizeof buf), 11);
    ck_assert_int_eq(memcmp(buf, "hello world", 11), 0);
    ck_assert_int_eq(ipckit_close(tx), 0);
    close(fd);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

START_TEST(many_writers_never_interleave)
{
    enum { WRITERS = 4, COUNT = 40 };
    struct writer_args a[WRITERS];
    static unsigned char buf[1 << 18];
    unsigned next[WRITERS] = { 0 };
    pid_t pids[WRITERS];
    ipckit_channel *rx;
    ipckit_opts o = IPCKIT_OPTS_INIT;

    setup_names("many.pipe");
    o.capacity = 8192; /* a small pipe, so that large writes block often */
    rx = open_ok(name, IPCKIT_RECV | IPCKIT_CREATE, &o);
    /* A writer end of our own, so that the stream does not end between one
     * writer's close and the next one's open. */
    ipckit_channel *keeper = open_ok(name, IPCKIT_SEND, NULL);
    for (unsigned w = 0; w < WRITERS; w++) {
        a[w] = (struct writer_args){ name, w, COUNT, 20000 + w * 9000, 0 };
        pids[w] = tk_fork(writer_main, &a[w]);
    }
    for (unsigned i = 0; i < WRITERS * COUNT; i++) {
        long type;
        unsigned id, seq;
        ssize_t n = ipckit_recv_typed(rx, 0, &type, buf, sizeof buf, LONG_WAIT);
        ck_assert_msg(n >= 8, "message %u: %zd %s", i, n, ipckit_last_error(rx));
        memcpy(&id, buf, 4);
        memcpy(&seq, buf + 4, 4);
        ck_assert_uint_lt(id, WRITERS);
        ck_assert_int_eq(type, (long) id + 1);
        ck_assert_uint_eq(seq, next[id]); /* each writer's order is kept */
        size_t want = (seq % 3 == 1) ? a[id].big + seq : 16 + (seq * 7) % 300;
        ck_assert_uint_eq((size_t) n, want);
        ck_assert_msg(check_content(buf + 8, (size_t) n - 8, id, seq), "torn message %u/%u", id,
                      seq);
        next[id]++;
    }
    for (unsigned w = 0; w < WRITERS; w++)
        ck_assert_int_eq(tk_wait(pids[w], LONG_WAIT), 0);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), -EAGAIN);
    ck_assert_int_eq(ipckit_close(keeper), 0);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, LONG_WAIT), -EPIPE);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/* Open the FIFO named @p arg and send it 1 MiB, waiting as long as it takes. */
static int
send_huge(void *arg)
{
    static unsigned char big[1 << 20];
    ipckit_channel *tx = NULL;
    TK_CHILD_CHECK(ipckit_open(&tx, arg, IPCKIT_SEND, NULL) == 0);
    (void) ipckit_send(tx, big, sizeof big, -1); /* killed while blocked in here */
    return 3;
}

/* Wait until the writer has filled the pipe of @p fd and is blocked in its message. */
static void
wait_pipe_full(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int psz, queued = 0;
    long long until = tk_now_ms() + LONG_WAIT;
    ck_assert_int_eq(poll(&p, 1, LONG_WAIT), 1);
    do {
        usleep(2000);
        psz = fcntl(fd, F_GETPIPE_SZ);
        ck_assert_int_eq(ioctl(fd, FIONREAD, &queued), 0);
    } while (queued < psz - 4096 && tk_now_ms() < until);
    ck_assert_int_ge(queued, psz - 4096);
}


START_TEST(writer_killed_mid_message)
{
    static unsigned char buf[1 << 20];
    ipckit_channel *rx;
    pid_t pid;
    setup_names("killed.pipe");
    rx = open_ok(name, IPCKIT_RECV | IPCKIT_CREATE, NULL);
    pid = tk_fork(send_huge, name);
    wait_pipe_full(ipckit_fd(rx));
    kill(pid, SIGKILL);
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 128 + SIGKILL);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, LONG_WAIT), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(ipckit_last_error(rx), "discarded"));
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), -EPIPE);
    /* the next writer gets through intact */
    struct writer_args a = { name, 3, 3, 300000, 0 };
    pid = tk_fork(writer_main, &a);
    for (unsigned i = 0; i < 3; i++) {
        ssize_t n;
        long long give_up = tk_now_ms() + LONG_WAIT;
        /* -EPIPE until the new writer has opened the FIFO */
        while ((n = ipckit_recv(rx, buf, sizeof buf, LONG_WAIT)) == -EPIPE && tk_now_ms() < give_up)
            usleep(1000);
        size_t want = (i % 3 == 1) ? a.big + i : 16 + (i * 7) % 300;
        ck_assert_int_eq(n, (ssize_t) want);
        ck_assert(check_content(buf + 8, want - 8, 3, i));
    }
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/* ---- ?claim=1: the FIFO's one writer ------------------------------------------- */

static char cname[700]; /* name?claim=1 */

static void
setup_claim(const char *leaf)
{
    setup_names(leaf);
    (void) snprintf(cname, sizeof cname, "%s?claim=1", name);
}

/* The detail of a refused writer says why and names the other writer. */
static void
check_writer_busy(const char *why, pid_t holder)
{
    char want[32];
    const char *d = ipckit_error_detail();
    (void) snprintf(want, sizeof want, "(pid %ld", (long) holder);
    ck_assert_msg(strstr(d, why) != NULL && strstr(d, want) != NULL, "detail: %s (want \"%s\", %s)",
                  d, why, want);
}

static int
hold_claim(void *arg)
{
    tk_gate *ready = arg;
    ipckit_channel *tx = NULL;
    TK_CHILD_CHECK(ipckit_open(&tx, cname, IPCKIT_SEND, NULL) == 0);
    tk_gate_open(ready);
    for (;;)
        pause(); /* killed here, holding the claim */
}

/*
 * A writer with ?claim=1 is the FIFO's only writer: while it is open, other
 * writers (with a claim or without) are refused with -EBUSY naming it;
 * while writers without a claim are open, a claim is refused. A claimer
 * that dies holds nothing. The channel's caps say it has one sender.
 */
START_TEST(claim_is_the_only_writer)
{
    ipckit_channel *rx, *tx, *tx2 = NULL;
    tk_gate ready;
    pid_t pid;
    setup_claim("claim.pipe");
    rx = open_ok(cname, IPCKIT_RECV | IPCKIT_CREATE, NULL); /* a receiver's claim: no effect */
    ck_assert_uint_eq(ipckit_caps(rx) & IPCKIT_CAP_MULTI_SEND, 0);
    tx = open_ok(cname, IPCKIT_SEND, NULL);
    ck_assert_uint_eq(ipckit_caps(tx) & IPCKIT_CAP_MULTI_SEND, 0);
    ck_assert_int_eq(ipckit_open(&tx2, name, IPCKIT_SEND, NULL), -EBUSY);
    check_writer_busy("has a writer with ?claim=1", getpid());
    ck_assert_int_eq(ipckit_open(&tx2, cname, IPCKIT_SEND, NULL), -EBUSY);
    check_writer_busy("already", getpid());
    ck_assert_ptr_null(tx2);
    ck_assert_int_eq(ipckit_close(tx), 0);

    /* writers without a claim keep a claim out, and share the FIFO */
    tx = open_ok(name, IPCKIT_SEND, NULL);
    ck_assert_uint_ne(ipckit_caps(tx) & IPCKIT_CAP_MULTI_SEND, 0);
    tx2 = open_ok(name, IPCKIT_SEND, NULL);
    ipckit_channel *tx3 = NULL;
    ck_assert_int_eq(ipckit_open(&tx3, cname, IPCKIT_SEND, NULL), -EBUSY);
    check_writer_busy("has another writer open", getpid());
    ck_assert_int_eq(ipckit_close(tx), 0);
    ck_assert_int_eq(ipckit_open(&tx3, cname, IPCKIT_SEND, NULL), -EBUSY);
    ck_assert_int_eq(ipckit_close(tx2), 0);

    /* in another process; the claim goes with it when it dies */
    tk_gate_init(&ready);
    pid = tk_fork(hold_claim, &ready);
    ck_assert_int_eq(tk_gate_wait(&ready, LONG_WAIT), 0);
    ck_assert_int_eq(ipckit_open(&tx2, name, IPCKIT_SEND, NULL), -EBUSY);
    check_writer_busy("has a writer with ?claim=1", pid);
    kill(pid, SIGKILL);
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 128 + SIGKILL);
    tk_gate_close(&ready);
    tx = open_ok(cname, IPCKIT_SEND, NULL);
    ck_assert_int_eq(ipckit_send(tx, "after", 5, LONG_WAIT), 0);
    char buf[16];
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, LONG_WAIT), 5);
    ck_assert_int_eq(ipckit_close(tx), 0);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/*
 * What a claimed writer puts in the pipe, read with a plain read(): a large
 * message sent without a timeout is one whole frame (header with the whole
 * length, the writer's token, the payload, the token again); with a
 * timeout, it is frames of at most PIPE_BUF; a small one is one frame.
 */
START_TEST(claimed_writer_sends_whole_frames)
{
    static unsigned char msg[10000], got[20000];
    struct frame h;
    uint64_t token, end;
    ipckit_channel *tx;
    int fd;
    setup_claim("whole.pipe");
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    fd = open(path, O_RDONLY | O_NONBLOCK);
    ck_assert_int_ge(fd, 0);
    tx = open_ok(cname, IPCKIT_SEND, NULL);
    tk_fill(msg, sizeof msg, 5, 5);

    ck_assert_int_eq(ipckit_send_typed(tx, 42, msg, sizeof msg, -1), 0);
    ck_assert_int_eq(read(fd, got, sizeof got), (ssize_t) (sizeof msg + 32));
    memcpy(&h, got, sizeof h);
    ck_assert_uint_eq(h.magic, 0x4b49);
    ck_assert_uint_eq(h.version, 1);
    ck_assert_uint_eq(h.flags, 4);
    ck_assert_uint_eq(h.len, sizeof msg);
    ck_assert_int_eq(h.type, 42);
    memcpy(&token, got + 16, 8);
    memcpy(&end, got + 24 + sizeof msg, 8);
    ck_assert(token == end);
    ck_assert_int_eq(memcmp(got + 24, msg, sizeof msg), 0);

    ck_assert_int_eq(ipckit_send_typed(tx, 42, msg, sizeof msg, LONG_WAIT), 0);
    ck_assert_int_eq(read(fd, got, sizeof got), (ssize_t) (sizeof msg + 8 + 3 * 16));
    memcpy(&h, got, sizeof h);
    ck_assert_uint_eq(h.flags, 1); /* the first of three frames */
    ck_assert_uint_eq(h.len, 4080);

    ck_assert_int_eq(ipckit_send_typed(tx, 42, msg, 100, -1), 0);
    ck_assert_int_eq(read(fd, got, sizeof got), 116);
    memcpy(&h, got, sizeof h);
    ck_assert_uint_eq(h.flags, 3);
    ck_assert_int_eq(ipckit_close(tx), 0);
    close(fd);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

struct claimed_args {
    unsigned count;
    int timeout;
};

static size_t
claimed_len(unsigned s)
{
    static const size_t sizes[] = { 0, 64, 4096, 4097, 16384, 20000, 65536, 65537, 300000, 1 << 20 };
    return sizes[s % (sizeof sizes / sizeof sizes[0])];
}

static int
claimed_writer(void *arg)
{
    struct claimed_args *a = arg;
    static unsigned char buf[1 << 20];
    ipckit_channel *tx = NULL;
    TK_CHILD_CHECK(ipckit_open(&tx, cname, IPCKIT_SEND, NULL) == 0);
    for (unsigned s = 0; s < a->count; s++) {
        size_t len = claimed_len(s);
        tk_fill(buf, len, 9, s);
        TK_CHILD_CHECK(ipckit_send_typed(tx, (long) s + 1, buf, len, a->timeout) == 0);
    }
    TK_CHILD_CHECK(ipckit_close(tx) == 0);
    return 0;
}

/*
 * A claimed writer's messages of every size, sent with and without a
 * timeout, arrive whole, in order and with their types, through receives
 * with a timeout (the read buffer) and without (large payloads straight
 * into the caller's buffer). A buffer too small for a whole frame gets
 * -EMSGSIZE and the message stays. The writer grows the pipe for large
 * whole frames, but not one whose size the receiver chose.
 */
START_TEST(claimed_messages_arrive_whole)
{
    static unsigned char buf[1 << 20];
    struct claimed_args a = { 30, (_i & 1) ? LONG_WAIT : -1 };
    int recv_timeout = (_i & 2) ? LONG_WAIT : -1;
    ipckit_channel *rx;
    ipckit_opts o = IPCKIT_OPTS_INIT;
    int fd;
    pid_t pid;
    setup_claim("claimed.pipe");
    o.capacity = (_i & 4) ? 128 * 1024 : 0;
    rx = open_ok(name, IPCKIT_RECV | IPCKIT_CREATE, o.capacity ? &o : NULL);
    fd = ipckit_fd(rx);
    pid = tk_fork(claimed_writer, &a);
    for (unsigned s = 0; s < a.count; s++) {
        size_t want = claimed_len(s);
        long type = 0;
        ssize_t n;
        if (want > 100) {
            n = ipckit_recv_typed(rx, 0, &type, buf, want - 1, recv_timeout);
            ck_assert_msg(n == -EMSGSIZE, "message %u: %zd (%s)", s, n, ipckit_last_error(rx));
        }
        n = ipckit_recv_typed(rx, 0, &type, buf, sizeof buf, recv_timeout);
        ck_assert_msg(n == (ssize_t) want, "message %u: got %zd (%s), want %zu", s, n,
                      ipckit_last_error(rx), want);
        ck_assert_int_eq(type, (long) s + 1);
        ck_assert(check_content(buf, want, 9, s));
    }
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    ck_assert_int_eq(fcntl(fd, F_GETPIPE_SZ),
                     (_i & 4) ? 128 * 1024 : (a.timeout < 0 ? 256 * 1024 : 64 * 1024));
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, recv_timeout), -EPIPE);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/*
 * A claimed writer killed in the middle of a whole frame. Alone, the
 * receiver sees the end of the stream: -EBADMSG, and the channel goes on.
 * When the next writer sends before the receiver has read that far, the
 * receiver reads the next writer's bytes as the rest of the message; the
 * trailer is not the dead writer's token, so the message is never
 * delivered: -EPROTO, and the channel must be reopened. With receives that
 * wait (straight into the buffer) and with a timeout (the read buffer).
 */
START_TEST(claimed_writer_killed_mid_message)
{
    static unsigned char buf[1 << 20];
    int recv_timeout = _i ? LONG_WAIT : -1;
    ipckit_channel *rx;
    pid_t pid;
    setup_claim("claimkill.pipe");
    rx = open_ok(name, IPCKIT_RECV | IPCKIT_CREATE, NULL);

    pid = tk_fork(send_huge, cname);
    wait_pipe_full(ipckit_fd(rx));
    kill(pid, SIGKILL);
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 128 + SIGKILL);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, recv_timeout), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(ipckit_last_error(rx), "closed in the middle"));
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), -EPIPE);
    struct claimed_args a = { 10, -1 };
    pid = tk_fork(claimed_writer, &a);
    for (unsigned s = 0; s < a.count; s++) {
        ssize_t n;
        long long give_up = tk_now_ms() + LONG_WAIT;
        while ((n = ipckit_recv(rx, buf, sizeof buf, recv_timeout)) == -EPIPE &&
               tk_now_ms() < give_up)
            usleep(1000);
        ck_assert_int_eq(n, (ssize_t) claimed_len(s));
        ck_assert(check_content(buf, (size_t) n, 9, s));
    }
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, recv_timeout), -EPIPE);

    /* killed, and another claimed writer sends at once */
    pid = tk_fork(send_huge, cname);
    wait_pipe_full(ipckit_fd(rx));
    kill(pid, SIGKILL);
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 128 + SIGKILL);
    pid = tk_fork(send_huge, cname);
    wait_pipe_full(ipckit_fd(rx));
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, recv_timeout), -EPROTO);
    ck_assert_ptr_nonnull(strstr(ipckit_last_error(rx), "did not end where its header said"));
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), -EPROTO); /* sticky */
    ck_assert_int_eq(ipckit_close(rx), 0);
    kill(pid, SIGKILL); /* it inherited the read end: no -EPIPE for it */
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 128 + SIGKILL);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/* Write a whole frame by hand: header, token, payload, trailer token. */
static void
raw_whole(int64_t type, uint32_t len, const void *payload, size_t have, uint64_t token,
          uint64_t trailer, bool with_trailer)
{
    static unsigned char b[70000];
    struct frame h = { 0x4b49, 1, 4, len, type };
    size_t n = 0;
    ck_assert_uint_le(sizeof h + 16 + have, sizeof b);
    memcpy(b, &h, sizeof h);
    n += sizeof h;
    memcpy(b + n, &token, 8);
    n += 8;
    if (have > 0)
        memcpy(b + n, payload, have);
    n += have;
    if (with_trailer) {
        memcpy(b + n, &trailer, 8);
        n += 8;
    }
    raw_write(b, n);
}

/*
 * Whole frames from a hostile (or broken) writer: a length over the
 * channel's limit is skipped (-EBADMSG once; the next message comes
 * through), however the receive waits; a trailer that is not the header's
 * token is -EPROTO; an empty whole frame is an empty message; a whole
 * frame cut off by the end of the stream is -EBADMSG and the channel goes
 * on.
 */
START_TEST(whole_frames_are_checked)
{
    static unsigned char payload[50000], buf[60000];
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *rx;
    struct {
        struct frame h;
        char p[4];
    } small = { { 0x4b49, 1, 3, 4, 7 }, { 'n', 'e', 'x', 't' } };
    int fd;
    setup_names("hostile.pipe");
    tk_fill(payload, sizeof payload, 2, 2);
    o.max_msg_size = 40000;
    o.capacity = 256 * 1024;
    for (int wait = 0; wait < 2; wait++) {
        int t = wait ? -1 : LONG_WAIT;
        rx = open_ok(name, IPCKIT_RECV | (wait ? 0u : IPCKIT_CREATE), &o);
        fd = open(path, O_WRONLY | O_NONBLOCK); /* one writer for all of it: no end of stream */
        ck_assert_int_ge(fd, 0);
        raw_whole(3, 50000, payload, 50000, 77, 77, true);
        raw_write(&small, sizeof small.h + sizeof small.p); /* not the padding */
        ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, t), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(ipckit_last_error(rx), "over this channel's max_msg_size"));
        ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, t), 4);
        ck_assert_int_eq(memcmp(buf, "next", 4), 0);

        raw_whole(5, 0, NULL, 0, 9, 9, true);
        long type = 0;
        ssize_t r0 = ipckit_recv_typed(rx, 0, &type, NULL, 0, t);
        ck_assert_msg(r0 == 0, "empty whole frame: %zd (%s)", r0, ipckit_last_error(rx));
        ck_assert_int_eq(type, 5);

        raw_whole(5, 30000, payload, 30000, 1234, 4321, true);
        ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, t), -EPROTO);
        ck_assert_ptr_nonnull(strstr(ipckit_last_error(rx), "must be reopened"));
        ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), -EPROTO);
        close(fd);
        ck_assert_int_eq(ipckit_close(rx), 0);

        rx = open_ok(name, IPCKIT_RECV, &o);
        raw_whole(5, 30000, payload, 20000, 1, 1, false); /* then its writer goes */
        ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, t), -EBADMSG);
        ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), -EPIPE);
        raw_write(&small, sizeof small.h + sizeof small.p); /* not the padding */
        ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, t), 4);
        ck_assert_int_eq(ipckit_close(rx), 0);
    }
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/* Write the 4 bytes at @p arg to the FIFO after 200 ms. */
static int
write_rest_later(void *arg)
{
    int fd = open(path, O_WRONLY);
    TK_CHILD_CHECK(fd >= 0);
    usleep(200000);
    TK_CHILD_CHECK(write(fd, arg, 4) == 4);
    (void) close(fd);
    return 0;
}

/*
 * A whole frame whose payload is all in the pipe but its trailer only in
 * part when a receive that waits begins: the payload goes into the
 * caller's buffer and not one byte past it (the buffer is exactly the
 * message's size), and the rest of the trailer is waited for.
 */
START_TEST(whole_frame_fills_the_buffer_exactly)
{
    enum { LEN = 20000 };
    static unsigned char frame[LEN + 64], payload[LEN];
    unsigned char *out = malloc(LEN + 16);
    struct frame h = { 0x4b49, 1, 4, LEN, 6 };
    uint64_t token = 0x0102030405060708u;
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *rx;
    long type = 0;
    int fd;
    pid_t pid;
    ck_assert_ptr_nonnull(out);
    setup_names("exact.pipe");
    o.capacity = 64 * 1024;
    rx = open_ok(name, IPCKIT_RECV | IPCKIT_CREATE, &o);
    fd = open(path, O_WRONLY | O_NONBLOCK); /* a writer throughout: no end of stream */
    ck_assert_int_ge(fd, 0);
    tk_fill(payload, LEN, 6, 6);
    memcpy(frame, &h, sizeof h);
    memcpy(frame + 16, &token, 8);
    memcpy(frame + 24, payload, LEN);
    memcpy(frame + 24 + LEN, &token, 4); /* half the trailer */
    ck_assert_int_eq(write(fd, frame, 24 + LEN + 4), 24 + LEN + 4);
    pid = tk_fork(write_rest_later, (unsigned char *) &token + 4);
    memset(out + LEN, 0xa5, 16);
    ck_assert_int_eq(ipckit_recv_typed(rx, 0, &type, out, LEN, -1), LEN);
    ck_assert_int_eq(type, 6);
    ck_assert_int_eq(memcmp(out, payload, LEN), 0);
    for (int i = 0; i < 16; i++)
        ck_assert_uint_eq(out[LEN + i], 0xa5);
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    ck_assert_int_eq(ipckit_recv(rx, out, LEN, 0), -EAGAIN);
    close(fd);
    free(out);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/*
 * After a small message, a receive reads one more message like it, not
 * all the pipe holds: the rest stays in the pipe (FIONREAD), as it would
 * for a raw reader, so a writer on another CPU does not have to wake the
 * receiver for every message.
 */
START_TEST(small_messages_read_one_at_a_time)
{
    ipckit_channel *rx, *tx;
    char buf[128];
    int queued = -1;
    setup_names("onebyone.pipe");
    rx = open_ok(name, IPCKIT_RECV | IPCKIT_CREATE, NULL);
    tx = open_ok(name, IPCKIT_SEND, NULL);
    ck_assert_int_eq(ipckit_send(tx, "first message...", 16, LONG_WAIT), 0);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, LONG_WAIT), 16);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(ipckit_send(tx, "0123456789abcdef", 16, LONG_WAIT), 0);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, LONG_WAIT), 16);
    ck_assert_int_eq(ioctl(ipckit_fd(rx), FIONREAD, &queued), 0);
    ck_assert_int_eq(queued, 2 * 32);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, -1), 16);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), 16);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), -EAGAIN);
    ck_assert_int_eq(ipckit_close(tx), 0);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/*
 * Messages of 2-16 KiB in one frame (here single frames of 3000 bytes;
 * a claimed writer's whole frames go the same way): while each full read
 * finds only one or two in the pipe (a writer on another CPU), the
 * receiver reads one message at a time after FIFO_SMALL_READS (16) such
 * reads, and leaves the rest queued; every FIFO_PROBE_EVERY (64)
 * one-message reads it reads fully once, and a pipe that then holds much
 * (a writer that filled it, as on one CPU) brings the full reads back.
 * What stays queued in the pipe (FIONREAD) shows which reads it made; the
 * messages arrive whole and in order all along. Sends do not wait, so a
 * pipe smaller than the usual 64 KiB fails the test instead of hanging it.
 */
struct readsize {
    ipckit_channel *rx, *tx;
    unsigned sent, got;
};

static void
readsize_send(struct readsize *r, int count)
{
    static unsigned char buf[3000];
    for (int i = 0; i < count; i++) {
        tk_fill(buf, sizeof buf, 5, r->sent);
        ck_assert_int_eq(ipckit_send_typed(r->tx, (long) r->sent + 1, buf, sizeof buf, 0), 0);
        r->sent++;
    }
}

static void
readsize_recv(struct readsize *r, int count)
{
    static unsigned char out[4096];
    for (int i = 0; i < count; i++) {
        long type = 0;
        ck_assert_int_eq(ipckit_recv_typed(r->rx, 0, &type, out, sizeof out, LONG_WAIT), 3000);
        ck_assert_int_eq(type, (long) r->got + 1);
        ck_assert(check_content(out, 3000, 5, r->got));
        r->got++;
    }
}

static int
readsize_queued(struct readsize *r)
{
    int queued = -1;
    ck_assert_int_eq(ioctl(ipckit_fd(r->rx), FIONREAD, &queued), 0);
    return queued;
}

START_TEST(read_size_follows_the_pipe)
{
    struct readsize r = { NULL, NULL, 0, 0 };
    const int frame = 3000 + 16; /* header, payload */
    setup_names("readsize.pipe");
    r.rx = open_ok(name, IPCKIT_RECV | IPCKIT_CREATE, NULL);
    r.tx = open_ok(name, IPCKIT_SEND, NULL);
    ck_assert_int_eq(fcntl(ipckit_fd(r.rx), F_GETPIPE_SZ), 65536);
    /* the first message, then sixteen full reads that find one message each */
    for (int i = 0; i < 17; i++) {
        readsize_send(&r, 1);
        readsize_recv(&r, 1);
    }
    /* one message at a time now: two of three stay in the pipe */
    readsize_send(&r, 3);
    readsize_recv(&r, 1);
    ck_assert_int_eq(readsize_queued(&r), 2 * frame);
    readsize_recv(&r, 2);
    ck_assert_int_eq(readsize_queued(&r), 0);
    /* 61 more one-message reads make 64 */
    for (int i = 0; i < 61; i++) {
        readsize_send(&r, 1);
        readsize_recv(&r, 1);
    }
    /* the probe: a full read finds twelve (more than half its buffer) */
    readsize_send(&r, 12);
    readsize_recv(&r, 1);
    ck_assert_int_eq(readsize_queued(&r), 0);
    readsize_recv(&r, 11);
    /* full reads again: of three sent, the first receive reads all */
    readsize_send(&r, 3);
    readsize_recv(&r, 1);
    ck_assert_int_eq(readsize_queued(&r), 0);
    readsize_recv(&r, 2);
    ck_assert_uint_eq(r.got, r.sent);
    ck_assert_int_eq(ipckit_close(r.tx), 0);
    ck_assert_int_eq(ipckit_close(r.rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/* ---- the event loop of ipckit_fd(3) ------------------------------------------------- */

enum { LOOP_POLL, LOOP_EPOLL, LOOP_EPOLL_ET, LOOP_KINDS };
static const char *const loop_kind_names[LOOP_KINDS] = { "poll", "epoll", "epoll edge-triggered" };

struct evloop {
    int kind, ep;
    ipckit_channel *rx;
    unsigned wakeups, msgs, epipes;
    char last[64];
};

static void
evloop_init(struct evloop *l, int kind, ipckit_channel *rx)
{
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->rx = rx;
    l->ep = -1;
    if (kind != LOOP_POLL) {
        struct epoll_event ev = { .events = EPOLLIN | (kind == LOOP_EPOLL_ET ? EPOLLET : 0u) };
        l->ep = epoll_create1(EPOLL_CLOEXEC);
        ck_assert_int_ge(l->ep, 0);
        ev.data.fd = ipckit_fd(rx);
        ck_assert_int_eq(epoll_ctl(l->ep, EPOLL_CTL_ADD, ipckit_fd(rx), &ev), 0);
    }
}

/*
 * The loop that ipckit_fd(3) describes: wait until the descriptor is
 * readable, then receive with timeout 0 until -EAGAIN (or -EPIPE, no writer
 * left). Runs until @p until_ms, or until @p want messages have come (0: no
 * such end), counting the wake-ups.
 */
static void
evloop_run(struct evloop *l, long long until_ms, unsigned want)
{
    long long left;
    while ((want == 0 || l->msgs < want) && (left = until_ms - tk_now_ms()) > 0) {
        struct pollfd p = { .fd = ipckit_fd(l->rx), .events = POLLIN };
        struct epoll_event ev;
        int n = l->kind == LOOP_POLL ? poll(&p, 1, (int) left)
                                     : epoll_wait(l->ep, &ev, 1, (int) left);
        if (n < 0 && errno == EINTR)
            continue;
        ck_assert_int_ge(n, 0);
        if (n == 0)
            continue;
        l->wakeups++;
        for (;;) {
            char buf[64];
            ssize_t r = ipckit_recv(l->rx, buf, sizeof buf - 1, 0);
            if (r == -EAGAIN)
                break;
            if (r == -EPIPE) {
                l->epipes++;
                break;
            }
            ck_assert_msg(r >= 0, "%s loop: %s (%s)", loop_kind_names[l->kind],
                          ipckit_errname((int) r), ipckit_last_error(l->rx));
            buf[r] = '\0';
            memcpy(l->last, buf, (size_t) r + 1);
            l->msgs++;
        }
    }
}

static int
send_text_and_close(void *arg)
{
    ipckit_channel *tx = NULL;
    TK_CHILD_CHECK(ipckit_open(&tx, name, IPCKIT_SEND, NULL) == 0);
    TK_CHILD_CHECK(ipckit_send(tx, arg, strlen(arg), LONG_WAIT) == 0);
    return ipckit_close(tx) == 0 ? 0 : 1;
}

/*
 * Once the last writer has gone, the loop of ipckit_fd(3) sleeps until a
 * new writer sends; it does not spin (the read end of a FIFO reports
 * POLLHUP from the moment a writer has come and gone until a new one
 * comes, which woke such a loop hundreds of thousands of times a second).
 * The end of the stream is still reported (-EPIPE), and each new writer's
 * message still comes through the loop. With poll(), epoll and
 * edge-triggered epoll, on one registration.
 */
START_TEST(event_loop_quiet_after_last_writer)
{
    static const char *const texts[] = { "first writer", "second writer", "third writer" };
    struct evloop l;
    ipckit_channel *rx;
    unsigned epipes = 0;
    setup_names("loop.pipe");
    rx = open_ok(name, IPCKIT_RECV | IPCKIT_CREATE, NULL);
    evloop_init(&l, _i, rx);
    for (unsigned round = 0; round < 3; round++) {
        pid_t pid = tk_fork(send_text_and_close, (void *) texts[round]);
        l.msgs = 0;
        evloop_run(&l, tk_now_ms() + LONG_WAIT, 1);
        ck_assert_msg(l.msgs == 1, "%s loop, round %u: no message", loop_kind_names[_i], round);
        ck_assert_str_eq(l.last, texts[round]);
        ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0); /* the writer has gone */
        l.wakeups = l.msgs = 0;
        evloop_run(&l, tk_now_ms() + 300, 0);
        ck_assert_msg(l.wakeups <= 5, "%s loop, round %u: %u wake-ups in 300 ms without a writer",
                      loop_kind_names[_i], round, l.wakeups);
        ck_assert_uint_eq(l.msgs, 0);
        epipes += l.epipes;
        l.epipes = 0;
        /* the loop saw the end of the stream, and so does a receive */
        ck_assert_int_eq(ipckit_recv(rx, l.last, sizeof l.last, 0), -EPIPE);
    }
    ck_assert_uint_ge(epipes, 3);
    if (l.ep >= 0)
        ck_assert_int_eq(close(l.ep), 0);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

struct readonly_args {
    tk_gate ready; /* child -> parent: the receiver is open */
    tk_gate sent;  /* parent -> child: a writer came, sent and went */
};

/* As uid 65534, which may read the FIFO but not write it. */
static int
receive_without_write_permission(void *arg)
{
    struct readonly_args *a = arg;
    ipckit_channel *rx = NULL;
    char buf[16];
    TK_CHILD_CHECK(setgroups(0, NULL) == 0);
    TK_CHILD_CHECK(setresgid(65534, 65534, 65534) == 0);
    TK_CHILD_CHECK(setresuid(65534, 65534, 65534) == 0);
    TK_CHILD_CHECK(ipckit_open(&rx, name, IPCKIT_RECV, NULL) == 0);
    tk_gate_open(&a->ready);
    TK_CHILD_CHECK(tk_gate_wait(&a->sent, LONG_WAIT) == 0);
    TK_CHILD_CHECK(ipckit_recv(rx, buf, sizeof buf, LONG_WAIT) == 2);
    TK_CHILD_CHECK(ipckit_recv(rx, buf, sizeof buf, 0) == -EPIPE);
    TK_CHILD_CHECK(strstr(ipckit_last_error(rx), "POLLHUP until one comes") != NULL);
    TK_CHILD_CHECK(strstr(ipckit_last_error(rx), "Permission denied") != NULL);
    return ipckit_close(rx) == 0 ? 0 : 1;
}

/*
 * The quiet end of the stream needs a write end of the receiver's own, so
 * write permission on the FIFO. A receiver without it gets -EPIPE as ever,
 * and the detail says that its descriptor reports POLLHUP until a writer
 * comes (ipckit-fifo(7)).
 */
START_TEST(end_of_stream_without_write_permission)
{
    struct readonly_args a;
    ipckit_channel *tx;
    pid_t pid;
    if (geteuid() != 0) {
        fprintf(stderr, "end_of_stream_without_write_permission: not root, nothing checked\n");
        return;
    }
    ck_assert_int_eq(chmod(tk_dir(), 0755), 0);
    setup_names("readonly.pipe");
    ck_assert_int_eq(mkfifo(path, 0644), 0);
    ck_assert_int_eq(chmod(path, 0644), 0);
    tk_gate_init(&a.ready);
    tk_gate_init(&a.sent);
    pid = tk_fork(receive_without_write_permission, &a);
    ck_assert_int_eq(tk_gate_wait(&a.ready, LONG_WAIT), 0);
    tx = open_ok(name, IPCKIT_SEND, NULL);
    ck_assert_int_eq(ipckit_send(tx, "hi", 2, LONG_WAIT), 0);
    ck_assert_int_eq(ipckit_close(tx), 0);
    tk_gate_open(&a.sent);
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    tk_gate_close(&a.ready);
    tk_gate_close(&a.sent);
    ck_assert_int_eq(unlink(path), 0);
}
END_TEST

/* ---- one receiver ----------------------------------------------------------------- */

static int
hold_receiver(void *arg)
{
    tk_gate *ready = arg;
    ipckit_channel *rx = NULL;
    TK_CHILD_CHECK(ipckit_open(&rx, name, IPCKIT_RECV, NULL) == 0);
    tk_gate_open(ready);
    for (;;)
        pause(); /* killed here, holding it */
}

/* The detail of a refused receiver names the one that has the FIFO. */
static void
check_busy_detail(pid_t holder)
{
    char want[32];
    const char *d = ipckit_error_detail();
    (void) snprintf(want, sizeof want, "(pid %ld", (long) holder);
    ck_assert_msg(strstr(d, "has a receiver already") != NULL && strstr(d, want) != NULL &&
                      strstr(d, "one receiving channel") != NULL,
                  "detail: %s (holder %ld)", d, (long) holder);
}

/*
 * A second receiving channel on a FIFO is refused (-EBUSY, naming the
 * process that has the first), in this process or another, framed or
 * stream; a receiver that dies holds nothing, and the next one opens.
 */
START_TEST(second_receiver_refused)
{
    static unsigned char big[30000], out[30000];
    ipckit_channel *rx, *rx2 = NULL, *tx;
    ipckit_opts o = IPCKIT_OPTS_INIT;
    char sname[700];
    tk_gate ready;
    long long t0;
    pid_t pid;
    setup_names("second.pipe");
    snprintf(sname, sizeof sname, "%s?stream=1", name);
    rx = open_ok(name, IPCKIT_RECV | IPCKIT_CREATE, NULL);
    ck_assert_int_eq(ipckit_open(&rx2, name, IPCKIT_RECV, NULL), -EBUSY);
    check_busy_detail(getpid());
    ck_assert_int_eq(ipckit_open(&rx2, name, IPCKIT_RECV | IPCKIT_CREATE, NULL), -EBUSY);
    ck_assert_int_eq(ipckit_open(&rx2, sname, IPCKIT_RECV, NULL), -EBUSY);
    ck_assert_ptr_null(rx2);
    ck_assert_int_eq(ipckit_close(rx), 0);

    /* in another process, refused at once, whatever the timeout */
    tk_gate_init(&ready);
    pid = tk_fork(hold_receiver, &ready);
    ck_assert_int_eq(tk_gate_wait(&ready, LONG_WAIT), 0);
    o.open_timeout_ms = -1;
    t0 = tk_now_ms();
    ck_assert_int_eq(ipckit_open(&rx2, name, IPCKIT_RECV, &o), -EBUSY);
    ck_assert_int_lt(tk_now_ms() - t0, LONG_WAIT);
    check_busy_detail(pid);
    ck_assert_int_eq(ipckit_open(&rx2, sname, IPCKIT_RECV | IPCKIT_NONBLOCK, NULL), -EBUSY);
    check_busy_detail(pid);
    /* a sender opens as ever */
    tx = open_ok(name, IPCKIT_SEND, NULL);
    ck_assert_int_eq(ipckit_close(tx), 0);
    kill(pid, SIGKILL);
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 128 + SIGKILL);
    tk_gate_close(&ready);

    /* it died holding the FIFO: the next receiver opens, and gets large
     * messages whole */
    o.capacity = 64 * 1024;
    rx = open_ok(name, IPCKIT_RECV, &o);
    tx = open_ok(name, IPCKIT_SEND, NULL);
    tk_fill(big, sizeof big, 4, 2);
    ck_assert_int_eq(ipckit_send(tx, big, sizeof big, LONG_WAIT), 0);
    ck_assert_int_eq(ipckit_recv(rx, out, sizeof out, LONG_WAIT), (ssize_t) sizeof big);
    ck_assert_int_eq(memcmp(out, big, sizeof big), 0);
    ck_assert_int_eq(ipckit_close(tx), 0);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/* Lock byte @p at of the FIFO (through @p fd) as @p type, or unlock it. */
static void
lock_byte(int fd, short type, off_t at)
{
    struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = at, .l_len = 1 };
    ck_assert_int_eq(fcntl(fd, F_OFD_SETLK, &fl), 0);
}

/*
 * Locks on the receivers' bytes that are not an ipckit receiver's (a peer
 * that may open the FIFO can take them): receivers are refused, at once or
 * when their timeout runs out, never kept waiting for ever; they open once
 * the locks are gone.
 */
START_TEST(foreign_locks_refuse_receivers)
{
    ipckit_channel *rx = NULL;
    ipckit_opts o = IPCKIT_OPTS_INIT;
    long long t0;
    int fd;
    setup_names("locked.pipe");
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    o.open_timeout_ms = -1;
    for (off_t at = 1; at <= 2; at++) {
        lock_byte(fd, F_WRLCK, at);
        ck_assert_int_eq(ipckit_open(&rx, name, IPCKIT_RECV, &o), -EBUSY);
        ck_assert_msg(strstr(ipckit_error_detail(), "not a receiver's") != NULL, "detail: %s",
                      ipckit_error_detail());
        lock_byte(fd, F_UNLCK, at);
    }
    /* an opener that never finishes: the others give up when their time is up */
    lock_byte(fd, F_RDLCK, 2);
    o.open_timeout_ms = 200;
    t0 = tk_now_ms();
    ck_assert_int_eq(ipckit_open(&rx, name, IPCKIT_RECV, &o), -EBUSY);
    ck_assert_int_ge(tk_now_ms() - t0, 200);
    ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), "at the same time"));
    o.open_timeout_ms = -1;
    ck_assert_int_eq(ipckit_open(&rx, name, IPCKIT_RECV, &o), -EBUSY);
    lock_byte(fd, F_UNLCK, 2);
    rx = open_ok(name, IPCKIT_RECV, NULL);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(close(fd), 0);
    ck_assert_int_eq(unlink(path), 0);
}
END_TEST

enum { RACERS = 6, RACES = 15 };

struct race {
    atomic_int go, done, won, busy, other;
};

static struct race *race;

static int
race_to_receive(void *arg)
{
    ipckit_channel *rx = NULL;
    ipckit_opts o = IPCKIT_OPTS_INIT;
    long long until = tk_now_ms() + LONG_WAIT;
    int rc;
    (void) arg;
    while (atomic_load(&race->go) == 0)
        sched_yield();
    o.open_timeout_ms = LONG_WAIT;
    rc = ipckit_open(&rx, name, IPCKIT_RECV, &o);
    atomic_fetch_add(rc == 0 ? &race->won : rc == -EBUSY ? &race->busy : &race->other, 1);
    atomic_fetch_add(&race->done, 1);
    if (rc != 0)
        return 0;
    /* the winner keeps it until every racer has tried */
    while (atomic_load(&race->done) < RACERS && tk_now_ms() < until)
        usleep(1000);
    return ipckit_close(rx) == 0 ? 0 : 1;
}

/* Receivers that open at the same moment: exactly one gets the FIFO. */
START_TEST(racing_receivers_one_wins)
{
    pid_t pids[RACERS];
    race = mmap(NULL, sizeof *race, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(race, MAP_FAILED);
    setup_names("race.pipe");
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    for (int r = 0; r < RACES; r++) {
        memset(race, 0, sizeof *race);
        for (int i = 0; i < RACERS; i++)
            pids[i] = tk_fork(race_to_receive, NULL);
        usleep(20000);
        atomic_store(&race->go, 1);
        for (int i = 0; i < RACERS; i++)
            ck_assert_int_eq(tk_wait(pids[i], LONG_WAIT), 0);
        ck_assert_msg(atomic_load(&race->won) == 1 && atomic_load(&race->busy) == RACERS - 1,
                      "race %d: %d opened, %d refused, %d failed otherwise", r,
                      atomic_load(&race->won), atomic_load(&race->busy),
                      atomic_load(&race->other));
    }
    ck_assert_int_eq(munmap(race, sizeof *race), 0);
    ck_assert_int_eq(unlink(path), 0);
}
END_TEST

static int
wait_for_release(void *arg)
{
    return tk_gate_wait(arg, LONG_WAIT) == 0 ? 0 : 1;
}

/*
 * A receiving handle inherited through fork is the same receiver (one open
 * file description): while the child still has it, closing it in the
 * parent does not let another receiver in.
 */
START_TEST(receiver_inherited_through_fork)
{
    ipckit_channel *rx, *rx2 = NULL;
    tk_gate release;
    pid_t pid;
    setup_names("inherit.pipe");
    rx = open_ok(name, IPCKIT_RECV | IPCKIT_CREATE, NULL);
    tk_gate_init(&release);
    pid = tk_fork(wait_for_release, &release);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_open(&rx2, name, IPCKIT_RECV, NULL), -EBUSY);
    check_busy_detail(pid);
    tk_gate_open(&release);
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    tk_gate_close(&release);
    rx = open_ok(name, IPCKIT_RECV, NULL);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/* ---- a directory swapped under the path --------------------------------------------- */

/*
 * The layout of the swap tests, in the scratch directory:
 *   base/          mode 01777, like /tmp
 *   base/d/        the directory of the FIFO (of uid 65534 where the test is root)
 *   base/victim/   another directory, holding a regular file "target"
 * and name = "fifo:base/d/target". The attacker renames d to d.moved and
 * puts a symbolic link d -> victim in its place.
 */
struct swap_paths {
    char base[600], d[600], moved[600], victim[600], vtarget[600], target[600], mtarget[600];
    char name[700];
};

static const char victim_text[] = "a file that only its owner may remove\n";

static void
swap_layout(struct swap_paths *s)
{
    tk_path(s->base, sizeof s->base, "base");
    tk_path(s->d, sizeof s->d, "base/d");
    tk_path(s->moved, sizeof s->moved, "base/d.moved");
    tk_path(s->victim, sizeof s->victim, "base/victim");
    tk_path(s->vtarget, sizeof s->vtarget, "base/victim/target");
    tk_path(s->target, sizeof s->target, "base/d/target");
    tk_path(s->mtarget, sizeof s->mtarget, "base/d.moved/target");
    tk_name(s->name, sizeof s->name, "fifo", "base/d/target");
    ck_assert_int_eq(mkdir(s->base, 0700), 0);
    ck_assert_int_eq(chmod(s->base, 01777), 0);
    ck_assert_int_eq(mkdir(s->victim, 0755), 0);
    ck_assert_int_eq(tk_plant(s->vtarget, victim_text, geteuid()), 0);
}

/* The victim's file is still there, with its content. */
static void
victim_intact(const struct swap_paths *s)
{
    char text[128];
    struct stat sb;
    ck_assert_msg(lstat(s->vtarget, &sb) == 0, "%s was removed", s->vtarget);
    ck_assert(S_ISREG(sb.st_mode));
    ck_assert_int_eq(tk_read_file(s->vtarget, text, sizeof text), (ssize_t) strlen(victim_text));
    ck_assert_str_eq(text, victim_text);
}

static void
swap_cleanup(const struct swap_paths *s)
{
    struct stat sb;
    if (lstat(s->d, &sb) == 0)
        ck_assert_int_eq(S_ISDIR(sb.st_mode) ? rmdir(s->d) : unlink(s->d), 0);
    if (lstat(s->moved, &sb) == 0)
        ck_assert_int_eq(rmdir(s->moved), 0);
    ck_assert_int_eq(unlink(s->vtarget), 0);
    ck_assert_int_eq(rmdir(s->victim), 0);
    ck_assert_int_eq(rmdir(s->base), 0);
}

/* The attacker, as uid 65534: once the FIFO is in d, swap d for a link. */
static int
swap_dir_as_nobody(void *arg)
{
    const struct swap_paths *s = arg;
    long long until = tk_now_ms() + LONG_WAIT;
    struct stat sb;
    TK_CHILD_CHECK(setgroups(0, NULL) == 0);
    TK_CHILD_CHECK(setresgid(65534, 65534, 65534) == 0);
    TK_CHILD_CHECK(setresuid(65534, 65534, 65534) == 0);
    while (lstat(s->target, &sb) != 0 || !S_ISFIFO(sb.st_mode)) {
        TK_CHILD_CHECK(tk_now_ms() < until);
        usleep(1000);
    }
    TK_CHILD_CHECK(rename(s->d, s->moved) == 0);
    TK_CHILD_CHECK(symlink(s->victim, s->d) == 0);
    return 0;
}

/*
 * A writer that created the FIFO waits for a reader; meanwhile the owner of
 * the FIFO's directory swaps it for a symbolic link to a directory holding
 * root's file of the same name. The open fails, and its clean-up removes
 * the FIFO it made (in the directory it made it in), never root's file.
 */
START_TEST(failed_open_removes_only_its_fifo)
{
    struct swap_paths s;
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *ch = NULL;
    struct stat sb;
    pid_t pid;
    int rc;
    if (geteuid() != 0) {
        fprintf(stderr, "failed_open_removes_only_its_fifo: not root, nothing checked\n");
        return;
    }
    ck_assert_int_eq(chmod(tk_dir(), 0755), 0); /* let the other user reach base */
    swap_layout(&s);
    ck_assert_int_eq(mkdir(s.d, 0755), 0);
    ck_assert_int_eq(chown(s.d, 65534, 65534), 0);

    pid = tk_fork(swap_dir_as_nobody, &s);
    o.open_timeout_ms = 1500; /* no reader comes: the writer waits, then gives up */
    rc = ipckit_open(&ch, s.name, IPCKIT_SEND | IPCKIT_CREATE, &o);
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    ck_assert_int_eq(lstat(s.d, &sb), 0);
    ck_assert_msg(S_ISLNK(sb.st_mode), "the directory was not swapped");
    victim_intact(&s);
    ck_assert_msg(rc == -ETIMEDOUT, "open: %s (%s)", ipckit_errname(rc), ipckit_error_detail());
    ck_assert_ptr_null(ch);
    /* the FIFO it made went, from where it was made, with its record */
    ck_assert_int_eq(lstat(s.mtarget, &sb), -1);
    ck_assert_int_eq(tk_count_records(), 0);
    swap_cleanup(&s);
}
END_TEST

/* Directory components are followed; the last one never is, and only a
 * FIFO is removed. */
START_TEST(unlink_through_linked_directory)
{
    struct swap_paths s;
    struct stat sb;
    swap_layout(&s);
    ck_assert_int_eq(symlink(s.victim, s.d), 0);
    /* d/target is victim/target, a regular file: refused, kept */
    ck_assert_int_eq(ipckit_unlink(s.name), -EINVAL);
    ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), "not a FIFO"));
    victim_intact(&s);
    ck_assert_int_eq(ipckit_stat_name(s.name, &(ipckit_stat){ 0 }), -EINVAL);
    /* d -> a directory holding a FIFO "target": that FIFO is removed */
    ck_assert_int_eq(unlink(s.d), 0);
    ck_assert_int_eq(mkdir(s.moved, 0755), 0);
    ck_assert_int_eq(symlink(s.moved, s.d), 0);
    ck_assert_int_eq(mkfifo(s.mtarget, 0600), 0);
    ck_assert_int_eq(ipckit_stat_name(s.name, &(ipckit_stat){ 0 }), 0);
    ck_assert_int_eq(ipckit_unlink(s.name), 0);
    ck_assert_int_eq(lstat(s.mtarget, &sb), -1);
    ck_assert_int_eq(ipckit_unlink(s.name), -ENOENT);
    victim_intact(&s);
    swap_cleanup(&s);
}
END_TEST

/*
 * What unlinkat() below does once, when armed, just before the real one:
 * swap s->d for a symbolic link to s->victim, as an attacker would between
 * ipckit_unlink()'s check of the FIFO and its removal.
 */
static const struct swap_paths *swap_armed;
static int swap_done;

int
unlinkat(int dfd, const char *p, int flags)
{
    static int (*real)(int, const char *, int);
    const struct swap_paths *s = swap_armed;
    if (real == NULL) {
        void *f = dlsym(RTLD_NEXT, "unlinkat");
        memcpy(&real, &f, sizeof real);
    }
    if (s != NULL) {
        swap_armed = NULL;
        swap_done = rename(s->d, s->moved) == 0 && symlink(s->victim, s->d) == 0;
    }
    return real(dfd, p, flags);
}

START_TEST(unlink_ignores_directory_swapped_meanwhile)
{
    struct swap_paths s;
    struct stat sb;
    int rc;
    swap_layout(&s);
    ck_assert_int_eq(mkdir(s.d, 0755), 0);
    ck_assert_int_eq(mkfifo(s.target, 0600), 0);
    swap_done = 0;
    swap_armed = &s;
    rc = ipckit_unlink(s.name);
    swap_armed = NULL;
    ck_assert_msg(swap_done, "no unlinkat() after the check: this test needs another place"
                             " to swap the directory");
    victim_intact(&s);
    /* the FIFO that was checked is the one removed, from the directory it was in */
    ck_assert_msg(rc == 0, "unlink: %s (%s)", ipckit_errname(rc), ipckit_error_detail());
    ck_assert_int_eq(lstat(s.mtarget, &sb), -1);
    swap_cleanup(&s);
}
END_TEST

/* ---- creator records ---------------------------------------------------------------- */

/*
 * What mkfifoat() below puts under the record's name right after the library
 * made a FIFO, before the library writes its own record: nothing, a
 * well-formed record of another user (uid 65534), or garbage of our own.
 */
enum { PLANT_NONE, PLANT_FOREIGN, PLANT_OWN_GARBAGE };
static int plant;
static char planted[128], planted_text[1024];

/* The library calls mkfifoat(); this program's definition comes first. */
int
mkfifoat(int dfd, const char *p, mode_t mode)
{
    static int (*real)(int, const char *, mode_t);
    struct stat sb;
    int rc;
    if (real == NULL) {
        void *f = dlsym(RTLD_NEXT, "mkfifoat");
        memcpy(&real, &f, sizeof real);
    }
    rc = real(dfd, p, mode);
    if (rc == 0 && plant != PLANT_NONE && fstatat(dfd, p, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
        (void) snprintf(planted, sizeof planted, "/dev/shm/ipckit-creator.fifo.%llu.%llu",
                        (unsigned long long) sb.st_dev, (unsigned long long) sb.st_ino);
        if (plant == PLANT_FOREIGN)
            (void) snprintf(planted_text, sizeof planted_text,
                            "ipckit-creator 1 fifo pid=1 start=1 uid=65534 dev=%llu ino=%llu"
                            " btime=- path=%s\n",
                            (unsigned long long) sb.st_dev, (unsigned long long) sb.st_ino, path);
        else
            (void) snprintf(planted_text, sizeof planted_text, "not a record");
        if (tk_plant(planted, planted_text, plant == PLANT_FOREIGN ? 65534 : geteuid()) < 0)
            planted[0] = '\0';
        plant = PLANT_NONE;
    }
    return rc;
}

static long
stat_creator(void)
{
    ipckit_stat st;
    int rc = ipckit_stat_name(name, &st);
    ck_assert_msg(rc == 0, "stat %s: %s", name, ipckit_error_detail());
    return st.creator_pid;
}

/* The record of a FIFO names its path, absolute for a relative name. (Who
 * writes records, and when: conformance.fifo, creator_records.) */
START_TEST(creator_recorded_on_create)
{
    char rec[128], text[1024], want[700], here[PATH_MAX], rel[64];
    ipckit_channel *ch;
    setup_names("rec.pipe");
    ch = open_ok(name, IPCKIT_RECV | IPCKIT_CREATE | IPCKIT_EXCL, NULL);
    ck_assert_int_eq(tk_record_path(name, rec, sizeof rec), 0);
    ck_assert_int_gt(tk_read_file(rec, text, sizeof text), 0);
    (void) snprintf(want, sizeof want, " path=%s\n", path);
    ck_assert_msg(strstr(text, want) != NULL, "%s", text);
    ipckit_close(ch);
    ck_assert_int_eq(ipckit_unlink(name), 0);

    /* a relative name is recorded with its absolute path */
    ck_assert_ptr_nonnull(getcwd(here, sizeof here));
    ck_assert_int_eq(chdir(tk_dir()), 0);
    ch = open_ok("fifo:rel.pipe", IPCKIT_RECV | IPCKIT_CREATE | IPCKIT_EXCL, NULL);
    ck_assert_int_eq(tk_record_path("fifo:rel.pipe", rec, sizeof rec), 0);
    ck_assert_int_gt(tk_read_file(rec, text, sizeof text), 0);
    tk_path(want, sizeof want, "rel.pipe");
    (void) snprintf(rel, sizeof rel, " path=/");
    ck_assert_msg(strstr(text, rel) != NULL && strstr(text, want) != NULL, "%s", text);
    ipckit_close(ch);
    ck_assert_int_eq(ipckit_unlink("fifo:rel.pipe"), 0);
    ck_assert_int_eq(access(rec, F_OK), -1);
    ck_assert_int_eq(chdir(here), 0);
}
END_TEST

/* The record goes with the FIFO when an open fails after it made the
 * FIFO. (With ipckit_unlink(): conformance.fifo, creator_records.) */
START_TEST(creator_record_removed_with_fifo)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *ch = NULL;
    setup_names("gone.pipe");
    /* made and recorded, then no reader comes: FIFO and record go */
    o.open_timeout_ms = 0;
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, &o),
                     -EAGAIN);
    ck_assert_int_eq(access(path, F_OK), -1);
    ck_assert_int_eq(tk_count_records(), 0);
}
END_TEST

/* A file of another user under the record's name is not followed, not
 * trusted, not replaced and not removed; the open works all the same. */
START_TEST(foreign_record_is_left_alone)
{
    char text[1024];
    struct stat sb;
    ipckit_channel *ch;
    if (geteuid() != 0) {
        fprintf(stderr, "foreign_record_is_left_alone: not root, nothing checked\n");
        return;
    }
    setup_names("foreign.pipe");
    plant = PLANT_FOREIGN;
    ch = open_ok(name, IPCKIT_RECV | IPCKIT_CREATE | IPCKIT_EXCL, NULL);
    ck_assert_int_eq(plant, PLANT_NONE); /* the file was put there */
    ck_assert_msg(planted[0] != '\0', "could not plant a record");
    ck_assert_int_eq(lstat(planted, &sb), 0);
    ck_assert_uint_eq(sb.st_uid, 65534);
    ck_assert_int_gt(tk_read_file(planted, text, sizeof text), 0);
    ck_assert_str_eq(text, planted_text);
    ck_assert_int_eq(stat_creator(), -1);
    ipckit_close(ch);
    ck_assert_int_eq(ipckit_unlink(name), 0);
    ck_assert_int_eq(lstat(planted, &sb), 0); /* still there: not ours */
    ck_assert_uint_eq(sb.st_uid, 65534);
    ck_assert_int_eq(unlink(planted), 0);

    /* garbage of our own under the name is an old orphan: replaced */
    plant = PLANT_OWN_GARBAGE;
    ch = open_ok(name, IPCKIT_RECV | IPCKIT_CREATE | IPCKIT_EXCL, NULL);
    ck_assert_int_eq(plant, PLANT_NONE);
    ck_assert_msg(planted[0] != '\0', "could not plant a record");
    ck_assert_int_eq(tk_record_pid(name), (long) getpid());
    ck_assert_int_eq(stat_creator(), (long) getpid());
    ipckit_close(ch);
    ck_assert_int_eq(ipckit_unlink(name), 0);
    ck_assert_int_eq(access(planted, F_OK), -1);
}
END_TEST

/* A record for another FIFO (another path, even of a FIFO; another inode,
 * device or birth time) is not trusted: the creator is unknown. (Records
 * that are short, garbled or no plain file: conformance.fifo.) */
START_TEST(bad_records_are_not_trusted)
{
    char other[700];
    ipckit_channel *ch;
    static const char *idents[10];
    setup_names("bad.pipe");
    ch = open_ok(name, IPCKIT_RECV | IPCKIT_CREATE | IPCKIT_EXCL, NULL);
    tk_path(other, sizeof other, "other.pipe");
    ck_assert_int_eq(mkfifo(other, 0600), 0);
    idents[0] = "path"; /* names another FIFO */
    idents[1] = other;
    idents[2] = "ino";
    idents[3] = "1";
    idents[4] = "dev";
    idents[5] = "1";
    idents[6] = "btime";
    idents[7] = "1.000000000";
    tk_check_record_refusals(name, idents, TK_REC_IDENTS);
    ck_assert_int_eq(unlink(other), 0);
    ipckit_close(ch);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("fifo");
    TCase *tc = tk_tcase("fifo", 60);
    tcase_add_test(tc, roundtrip_boundaries_types_eof);
    tcase_add_test(tc, refuses_bad_paths);
    tcase_add_test(tc, writer_open_waits_for_reader);
    tcase_add_test(tc, recv_timeouts);
    tcase_add_test(tc, epipe_not_sigpipe);
    tcase_add_test(tc, send_full_pipe_times_out);
    tcase_add_test(tc, small_buffer_keeps_message);
    tcase_add_test(tc, max_msg_size_enforced);
    tcase_add_test(tc, corrupt_frames_are_eproto);
    tcase_add_test(tc, text_to_framed_receiver_says_stream);
    tcase_add_test(tc, frames_without_their_start_are_reported);
    tcase_add_test(tc, stream_mode_for_foreign_peers);
    tcase_add_test(tc, many_writers_never_interleave);
    tcase_add_test(tc, writer_killed_mid_message);
    tcase_add_test(tc, claim_is_the_only_writer);
    tcase_add_test(tc, claimed_writer_sends_whole_frames);
    tcase_add_loop_test(tc, claimed_messages_arrive_whole, 0, 8);
    tcase_add_loop_test(tc, claimed_writer_killed_mid_message, 0, 2);
    tcase_add_test(tc, whole_frames_are_checked);
    tcase_add_test(tc, whole_frame_fills_the_buffer_exactly);
    tcase_add_test(tc, small_messages_read_one_at_a_time);
    tcase_add_test(tc, read_size_follows_the_pipe);
    tcase_add_loop_test(tc, event_loop_quiet_after_last_writer, LOOP_POLL, LOOP_KINDS);
    tcase_add_test(tc, end_of_stream_without_write_permission);
    tcase_add_test(tc, second_receiver_refused);
    tcase_add_test(tc, foreign_locks_refuse_receivers);
    tcase_add_test(tc, racing_receivers_one_wins);
    tcase_add_test(tc, receiver_inherited_through_fork);
    tcase_add_test(tc, failed_open_removes_only_its_fifo);
    tcase_add_test(tc, unlink_through_linked_directory);
    tcase_add_test(tc, unlink_ignores_directory_swapped_meanwhile);
    tcase_add_test(tc, creator_recorded_on_create);
    tcase_add_test(tc, creator_record_removed_with_fifo);
    tcase_add_test(tc, foreign_record_is_left_alone);
    tcase_add_test(tc, bad_records_are_not_trusted);
    suite_add_tcase(s, tc);
    return tk_run(s);
}
