/*
 * Interoperability of the mq: backend with peers that do not use ipckit:
 * PHP's msg_* functions (as the tutorial uses them) and Python's sysv_ipc,
 * on the same System V queue.
 *
 * Usage: test_interop PEER SCRIPT, e.g. "test_interop php peer.php" or
 * "test_interop /usr/bin/python3 peer.py". Exits 77 (skip) with a message
 * when the peer cannot run (interpreter or module missing); scripts/setup.sh
 * installs both, so in CI this does not happen.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/wait.h>

#include <ipckit/ipckit.h>

#include "testkit.h"

#define PEER_WAIT 60000

static const char *peer, *script;
static bool is_php;
static char name[64], keystr[32];

/* ---- running the peer ----------------------------------------------------------- */

struct exec_args {
    char *const *argv;
    int out;
};

static int
exec_peer(void *arg)
{
    struct exec_args *a = arg;
    if (a->out >= 0)
        (void) dup2(a->out, 1);
    execvp(a->argv[0], a->argv);
    fprintf(stderr, "exec %s: %s\n", a->argv[0], strerror(errno));
    return 127;
}

/* Start the peer with arguments (NULL-terminated); its stdout goes to *out_fd. */
static pid_t
peer_start(int *out_fd, const char *const *args)
{
    char *argv[64];
    int fds[2] = { -1, -1 }, n = 0;
    struct exec_args a;
    pid_t pid;
    argv[n++] = (char *) peer;
    argv[n++] = (char *) script;
    for (; *args != NULL && n < 63; args++)
        argv[n++] = (char *) *args;
    argv[n] = NULL;
    if (out_fd != NULL)
        ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    a.argv = argv;
    a.out = fds[1];
    pid = tk_fork(exec_peer, &a);
    if (out_fd != NULL) {
        (void) close(fds[1]);
        *out_fd = fds[0];
    }
    return pid;
}

/* Run the peer to its end; returns its exit status, output in @p out. */
static int
peer_run(char *out, size_t cap, const char *const *args)
{
    int fd = -1;
    size_t len = 0;
    pid_t pid = peer_start(out ? &fd : NULL, args);
    if (out != NULL) {
        long long end = tk_now_ms() + PEER_WAIT;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        for (;;) {
            ssize_t n;
            long long left = end - tk_now_ms();
            if (left <= 0 || poll(&p, 1, (int) left) <= 0)
                break;
            n = read(fd, out + len, cap - 1 - len);
            if (n <= 0)
                break;
            len += (size_t) n;
        }
        out[len] = '\0';
        (void) close(fd);
    }
    return tk_wait(pid, PEER_WAIT);
}

/* ---- helpers --------------------------------------------------------------------------- */

static void
tohex(char *dst, const void *src, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = src;
    for (size_t i = 0; i < len; i++) {
        dst[2 * i] = digits[p[i] >> 4];
        dst[2 * i + 1] = digits[p[i] & 15];
    }
    dst[2 * len] = '\0';
}

static ipckit_channel *
create_queue(void)
{
    ipckit_channel *ch = NULL;
    key_t key = tk_sysv_key();
    int rc;
    (void) snprintf(name, sizeof name, "mq:%#x", (unsigned) key);
    (void) snprintf(keystr, sizeof keystr, "%d", (int) key);
    rc = ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_RECV | IPCKIT_CREATE | IPCKIT_EXCL, NULL);
    ck_assert_msg(rc == 0, "open %s: %s", name, ipckit_error_detail());
    return ch;
}

static void
remove_queue(ipckit_channel *ch)
{
    ck_assert_int_eq(ipckit_close(ch), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}

static void
expect_msg(ipckit_channel *ch, long selector, long want_type, const void *want, size_t len)
{
    char buf[4096];
    long type = 0;
    ssize_t n = ipckit_recv_typed(ch, selector, &type, buf, sizeof buf, PEER_WAIT);
    ck_assert_msg(n >= 0, "recv: %s", ipckit_last_error(ch));
    ck_assert_int_eq(type, want_type);
    ck_assert_uint_eq((size_t) n, len);
    ck_assert_mem_eq(buf, want, len);
}

/* Payloads: text, every byte value, an empty message, one near the limit. */
static const char text[] = "(1234)progress create! 1";
static unsigned char bytes[256];
static unsigned char large[4000];

static void
init_payloads(void)
{
    for (unsigned i = 0; i < sizeof bytes; i++)
        bytes[i] = (unsigned char) (255 - i);
    for (unsigned i = 0; i < sizeof large; i++)
        large[i] = (unsigned char) (i * 7 + 3);
}

/* ---- tests ------------------------------------------------------------------------------ */

START_TEST(peer_sends_raw)
{
    ipckit_channel *ch = create_queue();
    static char h1[64], h2[600], h3[8100];
    tohex(h1, text, strlen(text));
    tohex(h2, bytes, sizeof bytes);
    tohex(h3, large, sizeof large);
    /* PHP: msg_send($q, TYPE, $str, false), as the issue asks */
    const char *args[] = { "send", keystr, "0", "0", "1", h1, "7", h2, "3", "", "1", h3, NULL };
    ck_assert_int_eq(peer_run(NULL, 0, args), 0);
    expect_msg(ch, 0, 1, text, strlen(text));
    expect_msg(ch, 0, 7, bytes, sizeof bytes);
    expect_msg(ch, 0, 3, "", 0);
    expect_msg(ch, 0, 1, large, sizeof large);
    remove_queue(ch);
}
END_TEST

START_TEST(peer_receives_raw)
{
    ipckit_channel *ch = create_queue();
    static char out[20000], want[20000], h[8100];
    ck_assert_int_eq(ipckit_send_typed(ch, 1, text, strlen(text), 0), 0);
    ck_assert_int_eq(ipckit_send_typed(ch, 9, bytes, sizeof bytes, 0), 0);
    ck_assert_int_eq(ipckit_send_typed(ch, 2, "", 0, 0), 0);
    ck_assert_int_eq(ipckit_send_typed(ch, 1, large, sizeof large, 0), 0);
    const char *args[] = { "recv", keystr, "0", "0", "4", NULL };
    ck_assert_int_eq(peer_run(out, sizeof out, args), 0);
    tohex(h, text, strlen(text));
    (void) snprintf(want, sizeof want, "1 %s\n", h);
    tohex(h, bytes, sizeof bytes);
    (void) snprintf(want + strlen(want), sizeof want - strlen(want), "9 %s\n2 \n", h);
    tohex(h, large, sizeof large);
    (void) snprintf(want + strlen(want), sizeof want - strlen(want), "1 %s\n", h);
    ck_assert_str_eq(out, want);
    remove_queue(ch);
}
END_TEST

START_TEST(selectors_both_ways)
{
    ipckit_channel *ch = create_queue();
    char out[256];
    const char *args[] = { "send", keystr, "0", "0", "3", "63", "1", "61", "2", "62", NULL };
    ck_assert_int_eq(peer_run(NULL, 0, args), 0);
    expect_msg(ch, 2, 2, "b", 1);
    expect_msg(ch, -3, 1, "a", 1);
    expect_msg(ch, 0, 3, "c", 1);
    /* the peer selects with the same System V rules */
    ck_assert_int_eq(ipckit_send_typed(ch, 4, "d", 1, 0), 0);
    ck_assert_int_eq(ipckit_send_typed(ch, 2, "e", 1, 0), 0);
    ck_assert_int_eq(ipckit_send_typed(ch, 7, "f", 1, 0), 0);
    const char *r1[] = { "recv", keystr, "0", "-5", "2", NULL };
    ck_assert_int_eq(peer_run(out, sizeof out, r1), 0);
    ck_assert_str_eq(out, "2 65\n4 64\n");
    const char *r2[] = { "recv", keystr, "0", "7", "1", NULL };
    ck_assert_int_eq(peer_run(out, sizeof out, r2), 0);
    ck_assert_str_eq(out, "7 66\n");
    remove_queue(ch);
}
END_TEST

/* A timed receive sees a sender that does not use ipckit. */
START_TEST(timed_recv_sees_peer)
{
    ipckit_channel *ch = create_queue();
    char buf[16];
    const char *args[] = { "send", keystr, "0", "300", "5", "6c617465", NULL };
    pid_t pid = peer_start(NULL, args);
    long type = 0;
    ssize_t n = ipckit_recv_typed(ch, 0, &type, buf, sizeof buf, PEER_WAIT);
    ck_assert_msg(n == 4, "recv: %s", ipckit_last_error(ch));
    ck_assert_int_eq(type, 5);
    ck_assert_mem_eq(buf, "late", 4);
    ck_assert_int_eq(tk_wait(pid, PEER_WAIT), 0);
    remove_queue(ch);
}
END_TEST

#ifdef IPCKIT_CLI_PATH
static int
exec_rm_stale(void *arg)
{
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null >= 0)
        (void) dup2(null, 1);
    execl(IPCKIT_CLI_PATH, "ipckit", "rm", "--stale", (const char *) arg, (char *) NULL);
    return 127;
}
#endif

/*
 * The peer removes the queue while ipckit waits in a plain blocking msgrcv.
 * The peer knows nothing of ipckit's creator record and wake-up companion:
 * the channel, which saw the queue go, removes them when it closes. When
 * the peer removes a queue that no ipckit channel has open, they outlive
 * it as orphans, and "ipckit rm --stale" sweeps them, as a user would.
 */
START_TEST(peer_removes_queue)
{
    ipckit_channel *ch = create_queue();
    char buf[16], record[96], companion[96];
    const char *args[] = { "remove", keystr, "200", NULL };
    pid_t pid;
    key_t key = (key_t) strtol(keystr, NULL, 10);
    int id = msgget(key, 0);
    ck_assert_int_ge(id, 0);
    (void) snprintf(record, sizeof record, "/dev/shm/ipckit-creator.mq.%d", id);
    (void) snprintf(companion, sizeof companion, "/dev/shm/ipckit-mq.%08x.%d", (unsigned) key, id);
    ck_assert_int_eq(access(record, F_OK), 0);
    ck_assert_int_eq(access(companion, F_OK), 0);
    pid = peer_start(NULL, args);
    ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, -1), -EIDRM);
    ck_assert_int_eq(tk_wait(pid, PEER_WAIT), 0);
    ck_assert_int_eq(access(record, F_OK), 0);
    ck_assert_int_eq(ipckit_close(ch), 0);
    ck_assert_int_eq(access(record, F_OK), -1);
    ck_assert_int_eq(access(companion, F_OK), -1);
    ck_assert_int_eq(ipckit_unlink(name), -ENOENT);

    /* the same with no channel open */
    ch = create_queue();
    key = (key_t) strtol(keystr, NULL, 10);
    id = msgget(key, 0);
    (void) snprintf(record, sizeof record, "/dev/shm/ipckit-creator.mq.%d", id);
    (void) snprintf(companion, sizeof companion, "/dev/shm/ipckit-mq.%08x.%d", (unsigned) key, id);
    ck_assert_int_eq(ipckit_close(ch), 0);
    args[2] = "0";
    ck_assert_int_eq(tk_wait(peer_start(NULL, args), PEER_WAIT), 0);
    ck_assert_int_lt(msgget(key, 0), 0);
    ck_assert_int_eq(access(record, F_OK), 0);    /* orphans */
    ck_assert_int_eq(access(companion, F_OK), 0);
#ifdef IPCKIT_CLI_PATH
    ck_assert_int_eq(tk_wait(tk_fork(exec_rm_stale, name), PEER_WAIT), 0);
    ck_assert_int_eq(access(record, F_OK), -1);
    ck_assert_int_eq(access(companion, F_OK), -1);
#else
    ck_assert_int_eq(unlink(record), 0); /* no ipckit tool in this build */
    ck_assert_int_eq(ipckit_unlink(name), -ENOENT);
    ck_assert_int_eq(access(companion, F_OK), -1);
#endif
}
END_TEST

/* PHP only: msg_send's default serialize=true arrives as its raw bytes. */
START_TEST(php_serialized)
{
    ipckit_channel *ch = create_queue();
    char out[256];
    const char *args[] = { "send", keystr, "1", "0", "1", "68656c6c6f", NULL };
    ck_assert_int_eq(peer_run(NULL, 0, args), 0);
    expect_msg(ch, 0, 1, "s:5:\"hello\";", 12);
    /* and PHP's msg_receive unserializes what ipckit sends in its format */
    ck_assert_int_eq(ipckit_send_typed(ch, 1, "s:3:\"abc\";", 10, 0), 0);
    const char *r[] = { "recv", keystr, "1", "0", "1", NULL };
    ck_assert_int_eq(peer_run(out, sizeof out, r), 0);
    ck_assert_str_eq(out, "1 616263\n");
    remove_queue(ch);
}
END_TEST

int
main(int argc, char **argv)
{
    Suite *s;
    TCase *tc;
    if (argc != 3) {
        fprintf(stderr, "usage: %s PEER SCRIPT\n", argv[0]);
        return 2;
    }
    peer = argv[1];
    script = argv[2];
    is_php = strstr(peer, "php") != NULL;
    {
        /* Outside a test: no Check assertions here. */
        int status = -1, rc = -1;
        pid_t pid;
        fflush(NULL);
        pid = fork();
        if (pid == 0) {
            execlp(peer, peer, script, "check", (char *) NULL);
            _exit(127);
        }
        if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status))
            rc = WEXITSTATUS(status);
        if (rc != 0) {
            printf("SKIP: the peer \"%s %s\" cannot run (exit %d); scripts/setup.sh installs"
                   " php-cli and python3-sysv-ipc\n",
                   peer, script, rc);
            return 77;
        }
    }
    init_payloads();
    s = suite_create(is_php ? "interop_php" : "interop_python");
    tc = tk_tcase("interop", 120);
    tcase_add_test(tc, peer_sends_raw);
    tcase_add_test(tc, peer_receives_raw);
    tcase_add_test(tc, selectors_both_ways);
    tcase_add_test(tc, timed_recv_sees_peer);
    tcase_add_test(tc, peer_removes_queue);
    if (is_php)
        tcase_add_test(tc, php_serialized);
    suite_add_tcase(s, tc);
    return tk_run(s);
}
