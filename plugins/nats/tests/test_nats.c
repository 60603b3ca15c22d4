/*
 * The nats: backend against one real nats-server (natsfix.c): names,
 * opening, typed messages and selectors, timeouts, limits, stat and
 * unlink, credentials, and the message format other NATS clients see.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nats/nats.h>

#include <ipckit/ipckit.h>

#include "natsfix.h"
#include "testkit.h"

static struct nf_server srv;

static void
start(const char *extra)
{
    ck_assert_msg(nf_start(&srv, "n1", extra) == 0, "nats-server did not start");
}

static void
stop(void)
{
    nf_stop(&srv);
}

/* A name on the test's server, unique to the test (nf_name()). */
static void
qname(char *buf, size_t cap, const char *params)
{
    nf_name(buf, cap, &srv, 1, "t", params);
}

static ipckit_channel *
open_ok(const char *name, unsigned flags)
{
    ipckit_channel *ch = NULL;
    ipckit_opts o = IPCKIT_OPTS_INIT;
    int rc;
    o.open_timeout_ms = 10000 * nf_slow_factor();
    rc = ipckit_open(&ch, name, flags, &o);
    ck_assert_msg(rc == 0, "open %s: %s (%s)", name, ipckit_strerror(rc), ipckit_error_detail());
    return ch;
}

/* A file only its owner may read, holding @p text. */
static void
secret_file(char *path, size_t cap, const char *leaf, const char *text, mode_t mode)
{
    int fd;
    tk_path(path, cap, leaf);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t) strlen(text));
    ck_assert_int_eq(fchmod(fd, mode), 0);
    ck_assert_int_eq(close(fd), 0);
}

/* ---- names (no server) ---------------------------------------------- */

START_TEST(test_bad_names)
{
    static const struct {
        const char *name;
        int rc;
        const char *detail;
    } cases[] = {
        { "nats:127.0.0.1:4222/q", -EINVAL, "expected nats://" },
        { "nats://127.0.0.1:4222", -EINVAL, "no /QUEUE" },
        { "nats://127.0.0.1:4222/", -EINVAL, "[A-Za-z0-9_-]" },
        { "nats://127.0.0.1:4222/a.b", -EINVAL, "[A-Za-z0-9_-]" },
        { "nats://127.0.0.1:99999/q", -EINVAL, "bad port" },
        { "nats://127.0.0.1:x/q", -EINVAL, "bad port" },
        { "nats:///q", -EINVAL, "names no server" },
        { "nats://a,,b/q", -EINVAL, "empty server" },
        { "nats://u:secret@127.0.0.1/q", -EINVAL, "credentials in the name are refused" },
        { "nats://127.0.0.1/q?password=secret", -EINVAL, "password_file=" },
        { "nats://127.0.0.1/q?token=secret", -EINVAL, "token_file=" },
        { "nats://127.0.0.1/q?colour=red", -EINVAL, "unknown parameter" },
        { "nats://127.0.0.1/q?subject=a.*", -EINVAL, "no wildcards" },
        { "nats://127.0.0.1/q?storage=tape", -EINVAL, "file or memory" },
        { "nats://127.0.0.1/q?replicas=9", -EINVAL, "replicas" },
        { "nats://127.0.0.1/q?user=u", -EINVAL, "password_file=" },
        /* a byte limit drops acknowledged messages (test_full_loses_nothing) */
        { "nats://127.0.0.1/q?max_bytes=4096", -EINVAL, "limit the queue with max_msgs=" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ipckit_channel *ch = NULL;
        int rc = ipckit_open(&ch, cases[i].name, IPCKIT_SEND, NULL);
        ck_assert_msg(rc == cases[i].rc, "%s: %s", cases[i].name, ipckit_strerror(rc));
        ck_assert_msg(strstr(ipckit_error_detail(), cases[i].detail) != NULL, "%s: detail \"%s\"",
                      cases[i].name, ipckit_error_detail());
        ck_assert_ptr_null(ch);
    }
}
END_TEST

/* A password never goes unencrypted to another machine unless asked; the
 * refusal comes before any connection (the address is not contacted). */
START_TEST(test_plaintext_refused)
{
    char pw[PATH_MAX], name[PATH_MAX + 128];
    ipckit_channel *ch = NULL;
    long long t0;
    int rc;
    secret_file(pw, sizeof pw, "pw", "secret\n", 0600);
    (void) snprintf(name, sizeof name,
                    "nats://192.0.2.1:4222,127.0.0.1:4222/q?user=u&password_file=%s", pw);
    t0 = tk_now_ms();
    rc = ipckit_open(&ch, name, IPCKIT_SEND, NULL);
    ck_assert_int_eq(rc, -EPERM);
    ck_assert_msg(strstr(ipckit_error_detail(), "plain text to nats://192.0.2.1:4222") != NULL,
                  "%s", ipckit_error_detail());
    ck_assert_msg(strstr(ipckit_error_detail(), "secret") == NULL, "the detail shows the password");
    ck_assert_int_lt(tk_now_ms() - t0, 2000);
    /* a password file others may read is refused too */
    ck_assert_int_eq(chmod(pw, 0644), 0);
    (void) snprintf(name, sizeof name, "nats://127.0.0.1:1/q?user=u&password_file=%s", pw);
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND, NULL), -EPERM);
    ck_assert_msg(strstr(ipckit_error_detail(), "mode 0644") != NULL, "%s",
                  ipckit_error_detail());
    ck_assert_int_eq(unlink(pw), 0);
}
END_TEST

/* ---- one server ------------------------------------------------------ */

START_TEST(test_send_recv)
{
    char name[256], buf[64];
    ipckit_channel *tx, *rx;
    ipckit_stat st;
    long type = 0;
    ssize_t n;

    start(NULL);
    qname(name, sizeof name, NULL);
    tx = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE);
    rx = open_ok(name, IPCKIT_RECV);
    ck_assert_str_eq(ipckit_scheme(tx), "nats");
    ck_assert_uint_eq(ipckit_caps(rx) & (IPCKIT_CAP_TYPED | IPCKIT_CAP_SELECT),
                      IPCKIT_CAP_TYPED | IPCKIT_CAP_SELECT);
    /* order kept, types carried, empty message */
    ck_assert_int_eq(ipckit_send_typed(tx, 3, "three", 5, 5000), 0);
    ck_assert_int_eq(ipckit_send_typed(tx, 1, "one", 3, 5000), 0);
    ck_assert_int_eq(ipckit_send_typed(tx, 2, "", 0, 5000), 0);
    ck_assert_int_eq(ipckit_send_typed(tx, 1, "uno", 3, 5000), 0);
    ck_assert_int_eq(ipckit_stat_name(name, &st), 0);
    ck_assert_int_eq(st.messages, 4);
    ck_assert_int_eq(st.bytes > 0, 1);
    /* selector > 0: the first of that type */
    n = ipckit_recv_typed(rx, 1, &type, buf, sizeof buf, 5000);
    ck_assert_int_eq(n, 3);
    ck_assert_mem_eq(buf, "one", 3);
    ck_assert_int_eq(type, 1);
    /* selector < 0: the lowest type <= 2, first of it */
    n = ipckit_recv_typed(rx, -2, &type, buf, sizeof buf, 5000);
    ck_assert_int_eq(n, 3);
    ck_assert_mem_eq(buf, "uno", 3);
    ck_assert_int_eq(type, 1);
    /* selector 0: the oldest */
    n = ipckit_recv_typed(rx, 0, &type, buf, sizeof buf, 5000);
    ck_assert_int_eq(n, 5);
    ck_assert_int_eq(type, 3);
    n = ipckit_recv_typed(rx, 0, &type, buf, sizeof buf, 5000);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(type, 2);
    /* empty: try once (its answer awaited up to reply_ms), then a timeout
     * (whose detail may also say that an answer was late, on a slow machine) */
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), -EAGAIN);
    ck_assert_msg(strstr(ipckit_last_error(rx), "no message") != NULL, "%s",
                  ipckit_last_error(rx));
    {
        long long t0 = tk_now_ms();
        ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 300), -ETIMEDOUT);
        ck_assert_int_ge(tk_now_ms() - t0, 290);
        ck_assert_int_lt(tk_now_ms() - t0, 10000);
    }
    ck_assert_int_eq(ipckit_recv_typed(rx, 7, &type, buf, sizeof buf, 0), -EAGAIN);
    ck_assert_int_eq(ipckit_stat_name(name, &st), 0);
    ck_assert_int_eq(st.messages, 0);
    /* no pollable descriptor: said so */
    ck_assert_int_eq(ipckit_fd(rx), -ENOTSUP);
    ck_assert_int_eq(ipckit_close(tx), 0);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
    ck_assert_int_eq(ipckit_unlink(name), -ENOENT);
    ck_assert_int_eq(ipckit_stat_name(name, &st), -ENOENT);
    stop();
}
END_TEST

/* A receiver that waits is woken by a send from another process. */
static const char *wait_name;

static int
late_sender(void *arg)
{
    ipckit_channel *ch = NULL;
    (void) arg;
    usleep(300000);
    TK_CHILD_CHECK(ipckit_open(&ch, wait_name, IPCKIT_SEND, NULL) == 0);
    TK_CHILD_CHECK(ipckit_send_typed(ch, 9, "late", 4, 5000) == 0);
    ipckit_close(ch);
    return 0;
}

START_TEST(test_wait_wakeup)
{
    char name[256], buf[16];
    ipckit_channel *rx;
    long type = 0;
    pid_t pid;
    long long t0;

    start(NULL);
    qname(name, sizeof name, NULL);
    rx = open_ok(name, IPCKIT_RECV | IPCKIT_CREATE | IPCKIT_EXCL);
    wait_name = name;
    pid = tk_fork(late_sender, NULL);
    t0 = tk_now_ms();
    ck_assert_int_eq(ipckit_recv_typed(rx, 9, &type, buf, sizeof buf, 20000), 4);
    ck_assert_int_ge(tk_now_ms() - t0, 200);
    ck_assert_int_eq(type, 9);
    ck_assert_int_eq(tk_wait(pid, 10000), 0);
    ipckit_close(rx);
    ck_assert_int_eq(ipckit_unlink(name), 0);
    stop();
}
END_TEST

START_TEST(test_open_flags)
{
    char name[256];
    ipckit_channel *ch = NULL;
    ipckit_opts o = IPCKIT_OPTS_INIT;

    start(NULL);
    qname(name, sizeof name, NULL);
    o.open_timeout_ms = 5000;
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND, &o), -ENOENT);
    ck_assert_msg(strstr(ipckit_error_detail(), "no stream") != NULL, "%s",
                  ipckit_error_detail());
    ch = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL);
    ipckit_close(ch);
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, &o),
                     -EEXIST);
    ch = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE);
    ipckit_close(ch);
    /* options the backend does not have */
    o.flags = IPCKIT_OPT_TRUNCATE;
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV, &o), -ENOTSUP);
    ck_assert_int_eq(ipckit_unlink(name), 0);
    stop();
}
END_TEST

/* ---- limits ----------------------------------------------------------- */

START_TEST(test_oversize)
{
    char name[256], buf[8192], *big;
    ipckit_channel *ch, *c2 = NULL;
    ipckit_opts o = IPCKIT_OPTS_INIT;
    size_t max;
    long type;

    start("max_payload: 4096");
    qname(name, sizeof name, NULL);
    ch = open_ok(name, IPCKIT_SEND | IPCKIT_RECV | IPCKIT_CREATE);
    max = ipckit_max_msg_size(ch);
    ck_assert_uint_lt(max, 4096);
    ck_assert_uint_gt(max, 3900);
    big = calloc(1, max + 1);
    ck_assert_ptr_nonnull(big);
    tk_fill((unsigned char *) big, max, 1, 2);
    ck_assert_int_eq(ipckit_send(ch, big, max + 1, 5000), -EMSGSIZE);
    {
        char want[32];
        (void) snprintf(want, sizeof want, "%zu bytes", max);
        ck_assert_msg(strstr(ipckit_last_error(ch), want) != NULL, "%s", ipckit_last_error(ch));
    }
    /* the largest message goes, and a small buffer leaves it queued */
    ck_assert_int_eq(ipckit_send(ch, big, max, 5000), 0);
    ck_assert_int_eq(ipckit_recv(ch, buf, 100, 5000), -EMSGSIZE);
    ck_assert_msg(strstr(ipckit_last_error(ch), "does not fit a buffer of 100") != NULL, "%s",
                  ipckit_last_error(ch));
    ck_assert_int_eq(ipckit_recv_typed(ch, 0, &type, buf, sizeof buf, 5000), (ssize_t) max);
    ck_assert_mem_eq(buf, big, max);
    /* asking for more than the server allows */
    o.max_msg_size = 8192;
    o.open_timeout_ms = 5000;
    ck_assert_int_eq(ipckit_open(&c2, name, IPCKIT_SEND, &o), -EMSGSIZE);
    ck_assert_msg(strstr(ipckit_error_detail(), "max_payload 4096") != NULL, "%s",
                  ipckit_error_detail());
    free(big);
    ipckit_close(ch);
    ck_assert_int_eq(ipckit_unlink(name), 0);
    stop();
}
END_TEST

/* A full queue (?max_msgs=) makes a send wait, then time out; a receive
 * makes room. */
START_TEST(test_full)
{
    char name[256], buf[16];
    ipckit_channel *ch;
    long long t0;

    start(NULL);
    qname(name, sizeof name, "max_msgs=2");
    ch = open_ok(name, IPCKIT_SEND | IPCKIT_RECV | IPCKIT_CREATE);
    ck_assert_int_eq(ipckit_send(ch, "a", 1, 5000), 0);
    ck_assert_int_eq(ipckit_send(ch, "b", 1, 5000), 0);
    ck_assert_int_eq(ipckit_send(ch, "c", 1, 0), -EAGAIN);
    t0 = tk_now_ms();
    ck_assert_int_eq(ipckit_send(ch, "c", 1, 300), -ETIMEDOUT);
    ck_assert_int_ge(tk_now_ms() - t0, 290);
    ck_assert_msg(strstr(ipckit_last_error(ch), "is full") != NULL, "%s", ipckit_last_error(ch));
    ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 5000), 1);
    ck_assert_int_eq(ipckit_send(ch, "c", 1, 5000), 0);
    ipckit_close(ch);
    ck_assert_int_eq(ipckit_unlink(name), 0);
    stop();
}
END_TEST

/* Receive message @p seq of test_full_loses_nothing(). */
static void
recv_numbered(ipckit_channel *ch, uint32_t seq)
{
    unsigned char got[128], want[128];
    size_t len = 4 + (seq * 37) % 61;
    ssize_t n = ipckit_recv(ch, got, sizeof got, 10000);
    uint32_t s;
    ck_assert_msg(n == (ssize_t) len, "message %u: %zd, want %zu bytes (%s)", seq, n, len,
                  ipckit_last_error(ch));
    memcpy(&s, got, 4);
    tk_fill(want, len - 4, 7, seq);
    ck_assert_msg(s == seq && memcmp(got + 4, want, len - 4) == 0,
                  "message %u lost: message %u came instead", seq, s);
}

/* A queue with a limit (ipckit_opts.capacity, a number of messages)
 * refuses a send when full and never drops a message it stored: every send
 * that returned 0 is received, in order, whatever the messages' sizes.
 * (Against a stream's byte limit, nats-server 2.9 admits a message by its
 * payload and headers, then drops the oldest messages until what it stored,
 * subject and overhead included, fits: acknowledged messages were lost
 * when capacity was a number of bytes.) */
START_TEST(test_full_loses_nothing)
{
    char name[256];
    unsigned char m[128];
    ipckit_channel *ch = NULL;
    ipckit_opts o = IPCKIT_OPTS_INIT;
    uint32_t sent = 0, taken = 0;
    int rc;

    start(NULL);
    qname(name, sizeof name, NULL);
    o.open_timeout_ms = 10000;
    o.capacity = 64;
    rc = ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_RECV | IPCKIT_CREATE | IPCKIT_EXCL, &o);
    ck_assert_msg(rc == 0, "open %s: %s (%s)", name, ipckit_strerror(rc), ipckit_error_detail());
    /* fill it with messages of 4 to 64 bytes; take one, fill it again */
    for (int round = 0; round < 4; round++) {
        for (;;) {
            size_t len = 4 + (sent * 37) % 61;
            memcpy(m, &sent, 4);
            tk_fill(m + 4, len - 4, 7, sent);
            rc = ipckit_send(ch, m, len, 0);
            if (rc == -EAGAIN)
                break;
            ck_assert_msg(rc == 0, "send %u: %s (%s)", sent, ipckit_strerror(rc),
                          ipckit_last_error(ch));
            ck_assert_msg(++sent < 1000, "%u messages and the queue is not full", sent);
        }
        ck_assert_uint_gt(sent, taken);
        recv_numbered(ch, taken++);
    }
    while (taken < sent)
        recv_numbered(ch, taken++);
    ck_assert_int_eq(ipckit_recv(ch, m, sizeof m, 0), -EAGAIN);
    /* it held 64 messages, then one more each round */
    ck_assert_uint_eq(sent, 64 + 3);
    ipckit_close(ch);
    ck_assert_int_eq(ipckit_unlink(name), 0);
    stop();
}
END_TEST

/* ---- credentials ------------------------------------------------------ */

START_TEST(test_credentials)
{
    char pw[PATH_MAX], bad[PATH_MAX], tok[PATH_MAX], name[PATH_MAX + 256], params[PATH_MAX + 64];
    ipckit_channel *ch = NULL;
    ipckit_opts o = IPCKIT_OPTS_INIT;

    secret_file(pw, sizeof pw, "pw", "s3cret-pw\n", 0600);
    secret_file(bad, sizeof bad, "bad", "wrong\n", 0600);
    secret_file(tok, sizeof tok, "tok", "t0ken", 0600);
    start("authorization {\n  user: alice\n  password: s3cret-pw\n}");
    o.open_timeout_ms = 5000;
    (void) snprintf(params, sizeof params, "user=alice&password_file=%s", pw);
    qname(name, sizeof name, params);
    ch = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE);
    ck_assert_int_eq(ipckit_send(ch, "x", 1, 5000), 0);
    ipckit_close(ch);
    ck_assert_int_eq(ipckit_unlink(name), 0);
    /* the wrong password: refused at once, with what the server said */
    (void) snprintf(params, sizeof params, "user=alice&password_file=%s", bad);
    qname(name, sizeof name, params);
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_CREATE, &o), -EACCES);
    ck_assert_msg(strstr(ipckit_error_detail(), "refused the credentials") != NULL, "%s",
                  ipckit_error_detail());
    /* none at all */
    qname(name, sizeof name, NULL);
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_CREATE, &o), -EACCES);
    stop();

    start("authorization {\n  token: t0ken\n}");
    (void) snprintf(params, sizeof params, "token_file=%s", tok);
    qname(name, sizeof name, params);
    ch = open_ok(name, IPCKIT_SEND | IPCKIT_RECV | IPCKIT_CREATE);
    ck_assert_int_eq(ipckit_send(ch, "x", 1, 5000), 0);
    ipckit_close(ch);
    ck_assert_int_eq(ipckit_unlink(name), 0);
    (void) snprintf(params, sizeof params, "token_file=%s", bad);
    qname(name, sizeof name, params);
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_CREATE, &o), -EACCES);
    stop();
    ck_assert_int_eq(unlink(pw), 0);
    ck_assert_int_eq(unlink(bad), 0);
    ck_assert_int_eq(unlink(tok), 0);
}
END_TEST

/* ---- TLS ------------------------------------------------------------ */

/* snprintf into an array that must hold the whole text */
#define FMT(buf, ...) ck_assert_uint_lt((size_t) snprintf(buf, sizeof buf, __VA_ARGS__), sizeof buf)

/* A CA and a server certificate for 127.0.0.1, made with openssl(1) in the
 * test's directory; false (and the test passes on) without openssl. */
static bool
make_certs(const char *dir)
{
    char cmd[4096];
    if (access("/usr/bin/openssl", X_OK) != 0) {
        printf("SKIP tls: /usr/bin/openssl is not installed\n");
        return false;
    }
    (void) snprintf(cmd, sizeof cmd,
                    "cd '%s' && umask 077 && "
                    "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem"
                    " -days 1 -subj /CN=ipckit-test-ca >/dev/null 2>&1 && "
                    "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr"
                    " -subj /CN=127.0.0.1 >/dev/null 2>&1 && "
                    "printf 'subjectAltName=IP:127.0.0.1\\n' > ext.cnf && "
                    "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
                    " -out server.pem -days 1 -extfile ext.cnf >/dev/null 2>&1",
                    dir);
    ck_assert_msg(system(cmd) == 0, "openssl could not make the test certificates");
    return true;
}

START_TEST(test_tls)
{
    char dir[PATH_MAX], conf[PATH_MAX * 2 + 64], name[PATH_MAX + 256], params[PATH_MAX + 64];
    char pw[PATH_MAX], other[PATH_MAX];
    ipckit_channel *ch = NULL;
    ipckit_opts o = IPCKIT_OPTS_INIT;

    tk_path(dir, sizeof dir, "tls");
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    if (make_certs(dir)) {
        secret_file(pw, sizeof pw, "pw", "s3cret-pw", 0600);
        FMT(conf,
                        /* timeout: the server's limit in seconds for a TLS handshake,
                         * short by default; a client under valgrind can take longer,
                         * and the server then drops it and every request times out */
                        "tls {\n  cert_file: \"%s/server.pem\"\n  key_file: \"%s/server.key\"\n"
                        "  timeout: %d\n}\n"
                        "authorization {\n  user: alice\n  password: s3cret-pw\n}",
                        dir, dir, 20 * nf_slow_factor());
        start(conf);
        o.open_timeout_ms = 5000;
        /* the server's certificate checked against the CA, then the password */
        FMT(params, "tls=1&ca=%s/ca.pem&user=alice&password_file=%s",
                        dir, pw);
        qname(name, sizeof name, params);
        ch = open_ok(name, IPCKIT_SEND | IPCKIT_RECV | IPCKIT_CREATE);
        ck_assert_int_eq(ipckit_send(ch, "sealed", 6, 5000 * nf_slow_factor()), 0);
        {
            char buf[8];
            ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 5000 * nf_slow_factor()), 6);
        }
        ipckit_close(ch);
        ck_assert_int_eq(ipckit_unlink(name), 0);
        /* a CA that did not sign it: refused */
        FMT(other, "%s/other", dir);
        ck_assert_int_eq(mkdir(other, 0700), 0);
        ck_assert(make_certs(other));
        FMT(params,
                        "tls=1&ca=%s/ca.pem&user=alice&password_file=%s", other, pw);
        qname(name, sizeof name, params);
        ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_CREATE, &o), -EPROTO);
        ck_assert_msg(strstr(ipckit_error_detail(), "TLS") != NULL, "%s", ipckit_error_detail());
        stop();
        ck_assert_int_eq(unlink(pw), 0);
    }
    {
        char cmd[PATH_MAX + 16];
        FMT(cmd, "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
    }
}
END_TEST

/* ---- other NATS clients ---------------------------------------------- */

START_TEST(test_interop)
{
    char name[256], url[64], buf[64];
    ipckit_channel *ch;
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsPubAck *pa = NULL;
    jsDirectGetMsgOptions dg;
    natsMsg *m = NULL;
    jsErrCode je = 0;
    long type = 0;
    const char *q;

    start(NULL);
    qname(name, sizeof name, NULL);
    q = strrchr(name, '/') + 1;
    *strchr(name, '?') = '\0'; /* ipckit_unlink() below: the default timeout */
    ch = open_ok(name, IPCKIT_SEND | IPCKIT_RECV | IPCKIT_CREATE);
    nf_url(url, sizeof url, &srv, 1, NULL, NULL);
    ck_assert_int_eq(natsConnection_ConnectTo(&nc, url), NATS_OK);
    ck_assert_int_eq(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    {
        /* a plain JetStream publish to ipckit.QUEUE.TYPE is a message of TYPE */
        char subj[128];
        (void) snprintf(subj, sizeof subj, "ipckit.%s.7", q);
        ck_assert_int_eq(js_Publish(&pa, js, subj, "from nats", 9, NULL, &je), NATS_OK);
        jsPubAck_Destroy(pa);
        ck_assert_int_eq(ipckit_recv_typed(ch, 0, &type, buf, sizeof buf, 5000), 9);
        ck_assert_int_eq(type, 7);
        ck_assert_mem_eq(buf, "from nats", 9);
    }
    {
        /* what ipckit sends: the bytes as they are, the type in the subject */
        char stream[128], subj[128];
        ck_assert_int_eq(ipckit_send_typed(ch, 42, "to nats", 7, 5000), 0);
        (void) snprintf(stream, sizeof stream, "ipckit_%s", q);
        (void) snprintf(subj, sizeof subj, "ipckit.%s.42", q);
        jsDirectGetMsgOptions_Init(&dg);
        dg.NextBySubject = subj;
        ck_assert_int_eq(js_DirectGetMsg(&m, js, stream, NULL, &dg), NATS_OK);
        ck_assert_str_eq(natsMsg_GetSubject(m), subj);
        ck_assert_int_eq(natsMsg_GetDataLength(m), 7);
        ck_assert_mem_eq(natsMsg_GetData(m), "to nats", 7);
        natsMsg_Destroy(m);
        /* a non-ipckit receiver takes it by deleting it, as ipckit does */
        ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 0), 7);
    }
    {
        /* a subject whose last token is no type: -EBADMSG, and it is removed */
        char subj[128];
        (void) snprintf(subj, sizeof subj, "ipckit.%s.oops", q);
        ck_assert_int_eq(js_Publish(&pa, js, subj, "x", 1, NULL, &je), NATS_OK);
        jsPubAck_Destroy(pa);
        ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 5000), -EBADMSG);
        ck_assert_msg(strstr(ipckit_last_error(ch), "oops") != NULL, "%s",
                      ipckit_last_error(ch));
        ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 0), -EAGAIN);
    }
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    ipckit_close(ch);
    ck_assert_int_eq(ipckit_unlink(name), 0);
    stop();
}
END_TEST

/* ---- the example ------------------------------------------------------ */

START_TEST(test_example)
{
    char name[256];
    pid_t pid;
    int status;
    if (EXAMPLE_MSG_QUEUE[0] == '\0')
        return;
    start(NULL);
    qname(name, sizeof name, NULL);
    fflush(NULL);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            (void) dup2(devnull, STDOUT_FILENO);
        execl(EXAMPLE_MSG_QUEUE, "example_msg_queue", "--fast", "--name", name, (char *) NULL);
        _exit(127);
    }
    status = tk_wait(pid, 120000);
    ck_assert_int_eq(status, 0);
    /* it removed its queue */
    {
        ipckit_stat st;
        ck_assert_int_eq(ipckit_stat_name(name, &st), -ENOENT);
    }
    stop();
}
END_TEST

/* The ipckit tool speaks nats: names: the plug-in loads beside the library. */
static int
run_cli(const char *const argv[], char *out, size_t cap)
{
    int pipefd[2], status;
    size_t len = 0;
    pid_t pid;
    ck_assert_int_eq(pipe(pipefd), 0);
    fflush(NULL);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        (void) dup2(pipefd[1], STDOUT_FILENO);
        (void) close(pipefd[0]);
        (void) close(pipefd[1]);
        execv(IPCKIT_CLI, (char *const *) argv);
        _exit(127);
    }
    (void) close(pipefd[1]);
    for (;;) {
        ssize_t n = read(pipefd[0], out + len, cap - 1 - len);
        if (n <= 0)
            break;
        len += (size_t) n;
    }
    out[len] = '\0';
    (void) close(pipefd[0]);
    status = tk_wait(pid, 30000);
    return status;
}

START_TEST(test_cli)
{
    char name[256], out[256];
    if (IPCKIT_CLI[0] == '\0')
        return;
    start(NULL);
    qname(name, sizeof name, NULL);
    {
        const char *const argv[] = { "ipckit", "send", "-c", "-w", "10000", "-t", "4", name,
                                     "over nats", NULL };
        ck_assert_int_eq(run_cli(argv, out, sizeof out), 0);
    }
    {
        const char *const argv[] = { "ipckit", "recv", "-w", "10000", name, NULL };
        ck_assert_int_eq(run_cli(argv, out, sizeof out), 0);
        ck_assert_str_eq(out, "over nats\n");
    }
    {
        const char *const argv[] = { "ipckit", "--version", NULL };
        ck_assert_int_eq(run_cli(argv, out, sizeof out), 0);
        ck_assert_msg(strstr(out, " nats") != NULL, "%s", out);
    }
    {
        const char *const argv[] = { "ipckit", "rm", name, NULL };
        ck_assert_int_eq(run_cli(argv, out, sizeof out), 0);
    }
    stop();
}
END_TEST

/* The plug-in is loaded only from libipckit's directory, and only when
 * nobody but its owner (root or the user) may write it. */
static void
copy_file(const char *from, const char *to, mode_t mode)
{
    char cmd[3 * PATH_MAX];
    ck_assert_uint_lt((size_t) snprintf(cmd, sizeof cmd, "cp '%s' '%s' && chmod %o '%s'", from, to,
                                        (unsigned) mode, to),
                      sizeof cmd);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_plugin_trust)
{
    char dir[PATH_MAX], lib[PATH_MAX + 32], plug[PATH_MAX + 32], out[512];
    if (IPCKIT_CLI[0] == '\0')
        return;
    tk_path(dir, sizeof dir, "lib");
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    (void) snprintf(lib, sizeof lib, "%s/libipckit.so.0", dir);
    (void) snprintf(plug, sizeof plug, "%s/libipckit-nats.so.0", dir);
    copy_file(IPCKIT_LIB, lib, 0755);
    copy_file(IPCKIT_NATS_LIB, plug, 0666);
    ck_assert_int_eq(setenv("LD_LIBRARY_PATH", dir, 1), 0);
    {
        /* writable by others: not loaded, and said so */
        const char *const argv[] = { "ipckit", "stat", "nats://127.0.0.1:1/q?timeout_ms=100",
                                     NULL };
        int pipefd[2], status;
        size_t len;
        ssize_t n;
        pid_t pid;
        ck_assert_int_eq(pipe(pipefd), 0);
        fflush(NULL);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            (void) dup2(pipefd[1], STDERR_FILENO);
            (void) close(pipefd[0]);
            (void) close(pipefd[1]);
            execv(IPCKIT_CLI, (char *const *) argv);
            _exit(127);
        }
        (void) close(pipefd[1]);
        len = 0;
        while ((n = read(pipefd[0], out + len, sizeof out - 1 - len)) > 0)
            len += (size_t) n;
        (void) close(pipefd[0]);
        out[len] = '\0';
        status = tk_wait(pid, 30000);
        ck_assert_int_eq(status, 2);
        ck_assert_msg(strstr(out, "unknown scheme") != NULL, "%s", out);
    }
    {
        /* its owner's only: loaded (the stat then finds no server) */
        char buf[512];
        const char *const argv[] = { "ipckit", "stat", "nats://127.0.0.1:1/q?timeout_ms=100",
                                     NULL };
        ck_assert_int_eq(chmod(plug, 0644), 0);
        ck_assert_int_ne(run_cli(argv, buf, sizeof buf), 2);
    }
    ck_assert_int_eq(unsetenv("LD_LIBRARY_PATH"), 0);
    ck_assert_int_eq(unlink(lib), 0);
    ck_assert_int_eq(unlink(plug), 0);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("nats");
    TCase *tc;

    nf_require_server();
    tc = tk_tcase("names", 30);
    tcase_add_test(tc, test_bad_names);
    tcase_add_test(tc, test_plaintext_refused);
    tcase_add_test(tc, test_plugin_trust);
    suite_add_tcase(s, tc);

    tc = tk_tcase("server", 60);
    tcase_add_checked_fixture(tc, NULL, nf_stop_all);
    tcase_add_test(tc, test_send_recv);
    tcase_add_test(tc, test_wait_wakeup);
    tcase_add_test(tc, test_open_flags);
    tcase_add_test(tc, test_oversize);
    tcase_add_test(tc, test_full);
    tcase_add_test(tc, test_full_loses_nothing);
    tcase_add_test(tc, test_credentials);
    tcase_add_test(tc, test_tls);
    tcase_add_test(tc, test_interop);
    tcase_add_test(tc, test_example);
    tcase_add_test(tc, test_cli);
    suite_add_tcase(s, tc);
    return tk_run(s);
}
