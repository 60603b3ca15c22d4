/*
 * Tests of the posixmq: backend (POSIX message queues), with real processes.
 * Queues are small (RLIMIT_MSGQUEUE is per user and shared with every other
 * test running as that user).
 */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <ipckit/ipckit.h>

#include "testkit.h"

#define LONG_WAIT 20000

static char qname[64], name[80];

static void
new_name(void)
{
    tk_posix_name(qname, sizeof qname);
    (void) snprintf(name, sizeof name, "posixmq:%s", qname);
}

static ipckit_opts
small(void)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    o.capacity = 4;
    o.max_msg_size = 128;
    return o;
}

static ipckit_channel *
open_ok(const char *n, unsigned flags, const ipckit_opts *o)
{
    ipckit_channel *ch = NULL;
    int rc = ipckit_open(&ch, n, flags, o);
    ck_assert_msg(rc == 0, "open %s: %s (%s)", n, ipckit_errname(rc), ipckit_error_detail());
    return ch;
}

static ipckit_channel *
create_ok(void)
{
    ipckit_opts o = small();
    new_name();
    return open_ok(name, IPCKIT_SEND | IPCKIT_RECV | IPCKIT_CREATE | IPCKIT_EXCL, &o);
}

static void
remove_ok(void)
{
    int rc = ipckit_unlink(name);
    ck_assert_msg(rc == 0, "unlink %s: %s (%s)", name, ipckit_errname(rc), ipckit_error_detail());
    ck_assert(mq_open(qname, O_RDONLY) == (mqd_t) -1 && errno == ENOENT);
}

START_TEST(roundtrip_and_priorities)
{
    ipckit_channel *ch = create_ok();
    char buf[128];
    long t = 0;
    ck_assert_str_eq(ipckit_scheme(ch), "posixmq");
    ck_assert_uint_eq(ipckit_max_msg_size(ch), 128);
    ck_assert_int_eq(ipckit_send(ch, "one", 3, 0), 0);
    ck_assert_int_eq(ipckit_send_typed(ch, 5, "five", 4, 0), 0);
    ck_assert_int_eq(ipckit_send_typed(ch, 1, "", 0, -1), 0);
    /* the higher type (priority) first, then FIFO within a type */
    ck_assert_int_eq(ipckit_recv_typed(ch, 0, &t, buf, sizeof buf, 0), 4);
    ck_assert_int_eq(t, 5);
    ck_assert_mem_eq(buf, "five", 4);
    ck_assert_int_eq(ipckit_recv_typed(ch, 0, &t, buf, sizeof buf, -1), 3);
    ck_assert_int_eq(t, 1);
    ck_assert_int_eq(ipckit_recv_typed(ch, 0, &t, buf, sizeof buf, 100), 0);
    ck_assert_int_eq(t, 1);
    ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 0), -EAGAIN);
    /* no selection by type; types above the priority range */
    ck_assert(!(ipckit_caps(ch) & IPCKIT_CAP_SELECT));
    ck_assert_int_eq(ipckit_recv_typed(ch, 2, &t, buf, sizeof buf, 0), -ENOTSUP);
    ck_assert_int_eq(ipckit_send_typed(ch, sysconf(_SC_MQ_PRIO_MAX) + 1, "x", 1, 0), -EINVAL);
    ck_assert_int_eq(ipckit_send_typed(ch, sysconf(_SC_MQ_PRIO_MAX), "x", 1, 0), 0);
    ck_assert_int_eq(ipckit_recv_typed(ch, 0, &t, buf, sizeof buf, 0), 1);
    ck_assert_int_eq(t, sysconf(_SC_MQ_PRIO_MAX));
    ipckit_close(ch);
    remove_ok();
}
END_TEST

START_TEST(names_modes_and_errors)
{
    ipckit_channel *ch = (ipckit_channel *) 1, *a;
    ipckit_opts o = small();
    ipckit_stat st;
    struct stat sb;
    new_name();
    ck_assert_int_eq(ipckit_open(&ch, "posixmq:noslash", IPCKIT_RECV | IPCKIT_CREATE, &o),
                     -EINVAL);
    ck_assert_int_eq(ipckit_open(&ch, "posixmq:/a/b", IPCKIT_RECV | IPCKIT_CREATE, &o), -EINVAL);
    ck_assert_int_eq(ipckit_open(&ch, "posixmq:/", IPCKIT_RECV | IPCKIT_CREATE, &o), -EINVAL);
    ck_assert_int_eq(ipckit_open(&ch, "posixmq:/x?proj=1", IPCKIT_RECV, &o), -EINVAL);
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV, &o), -ENOENT);
    ck_assert_ptr_null(ch);
    ck_assert_int_eq(ipckit_unlink(name), -ENOENT);
    ck_assert_int_eq(ipckit_stat_name(name, &st), -ENOENT);

    o.mode = 0640;
    a = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, &o);
    ck_assert_int_eq(fstat(ipckit_fd(a), &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0640); /* exact, whatever the umask */
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV | IPCKIT_CREATE | IPCKIT_EXCL, &o),
                     -EEXIST);
    o.max_msg_size = 64;
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV | IPCKIT_CREATE, &o), -EINVAL);
    ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), "128"));
    ipckit_close(a);
    remove_ok();
}
END_TEST

static int
perm_child(void *arg)
{
    ipckit_channel *ch = NULL;
    (void) arg;
    TK_CHILD_CHECK(setgid(65534) == 0 && setuid(65534) == 0);
    TK_CHILD_CHECK(ipckit_open(&ch, name, IPCKIT_RECV, NULL) == -EACCES);
    return 0;
}

START_TEST(wrong_permissions)
{
    ipckit_channel *ch;
    if (geteuid() != 0)
        return; /* needs a second user */
    ch = create_ok();
    ck_assert_int_eq(tk_wait(tk_fork(perm_child, NULL), LONG_WAIT), 0);
    ipckit_close(ch);
    remove_ok();
}
END_TEST

START_TEST(sizes)
{
    ipckit_channel *ch = create_ok(), *tr;
    ipckit_opts o = IPCKIT_OPTS_INIT;
    char buf[200], num[16];
    memset(buf, 'z', sizeof buf);
    ck_assert_int_eq(ipckit_send(ch, buf, 129, 0), -EMSGSIZE);
    ck_assert_ptr_nonnull(strstr(ipckit_last_error(ch), "128"));
    ck_assert_int_eq(ipckit_send(ch, "0123456789", 10, 0), 0);
    /* POSIX needs a buffer of mq_msgsize: -EMSGSIZE, nothing taken */
    ck_assert_int_eq(ipckit_recv(ch, buf, 127, 0), -EMSGSIZE);
    (void) snprintf(num, sizeof num, "%d bytes", 128);
    ck_assert_ptr_nonnull(strstr(ipckit_last_error(ch), num));
    o.flags = IPCKIT_OPT_TRUNCATE;
    tr = open_ok(name, IPCKIT_RECV, &o);
    ck_assert_int_eq(ipckit_recv(tr, buf, 4, 0), 4);
    ck_assert_mem_eq(buf, "0123", 4);
    ck_assert_int_eq(ipckit_recv(tr, buf, 4, 0), -EAGAIN);
    ipckit_close(tr);
    ipckit_close(ch);
    remove_ok();
}
END_TEST

START_TEST(timeouts_and_full_queue)
{
    ipckit_channel *ch = create_ok();
    char buf[128];
    long long t0, dt;
    ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 0), -EAGAIN);
    t0 = tk_now_ms();
    ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 120), -ETIMEDOUT);
    dt = tk_now_ms() - t0;
    ck_assert_msg(dt >= 119 && dt < 2000, "120 ms took %lld ms", dt);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(ipckit_send(ch, "m", 1, 0), 0);
    ck_assert_int_eq(ipckit_send(ch, "m", 1, 0), -EAGAIN);
    t0 = tk_now_ms();
    ck_assert_int_eq(ipckit_send(ch, "m", 1, 120), -ETIMEDOUT);
    dt = tk_now_ms() - t0;
    ck_assert_msg(dt >= 119 && dt < 2000, "120 ms took %lld ms", dt);
    ck_assert_ptr_nonnull(strstr(ipckit_last_error(ch), "full"));
    /* a timed wait sleeps in poll: no CPU */
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 0), 1);
    long long c0 = tk_cpu_us();
    ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 500), -ETIMEDOUT);
    ck_assert_int_lt(tk_cpu_us() - c0, 100000);
    ipckit_close(ch);
    remove_ok();
}
END_TEST

static int
late_sender(void *arg)
{
    tk_gate *g = arg;
    ipckit_channel *ch = NULL;
    TK_CHILD_CHECK(ipckit_open(&ch, name, IPCKIT_SEND, NULL) == 0);
    TK_CHILD_CHECK(tk_gate_wait(g, LONG_WAIT) == 0);
    TK_CHILD_CHECK(ipckit_send_typed(ch, 3, "late", 4, -1) == 0);
    ipckit_close(ch);
    return 0;
}

START_TEST(fd_is_pollable_across_fork)
{
    ipckit_channel *ch = create_ok();
    struct pollfd p = { .events = POLLIN };
    char buf[128];
    long t = 0;
    tk_gate g;
    pid_t pid;
    ck_assert(ipckit_caps(ch) & IPCKIT_CAP_FD);
    p.fd = ipckit_fd(ch);
    ck_assert_int_ge(p.fd, 0);
    ck_assert_int_eq(poll(&p, 1, 0), 0);
    tk_gate_init(&g);
    pid = tk_fork(late_sender, &g);
    tk_gate_open(&g);
    ck_assert_int_eq(poll(&p, 1, LONG_WAIT), 1);
    ck_assert(p.revents & POLLIN);
    ck_assert_int_eq(ipckit_recv_typed(ch, 0, &t, buf, sizeof buf, 0), 4);
    ck_assert_int_eq(t, 3);
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    tk_gate_close(&g);
    ipckit_close(ch);
    remove_ok();
}
END_TEST

static ipckit_channel *shared_ch;

static int
forked_sender(void *arg)
{
    int id = (int) (long) arg;
    for (int i = 0; i < 50; i++) {
        int v[2] = { id, i };
        TK_CHILD_CHECK(ipckit_send(shared_ch, v, sizeof v, LONG_WAIT) == 0);
    }
    ipckit_close(shared_ch);
    return 0;
}

START_TEST(handle_used_after_fork)
{
    pid_t pids[3];
    int last[3] = { -1, -1, -1 };
    shared_ch = create_ok();
    for (long i = 0; i < 3; i++)
        pids[i] = tk_fork(forked_sender, (void *) i);
    for (int k = 0; k < 150; k++) {
        char buf[128];
        int v[2];
        ck_assert_int_eq(ipckit_recv(shared_ch, buf, sizeof buf, LONG_WAIT), (ssize_t) sizeof v);
        memcpy(v, buf, sizeof v);
        ck_assert(v[0] >= 0 && v[0] < 3);
        ck_assert_int_eq(v[1], last[v[0]] + 1); /* none lost, none reordered */
        last[v[0]] = v[1];
    }
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(tk_wait(pids[i], LONG_WAIT), 0);
    ipckit_close(shared_ch);
    remove_ok();
}
END_TEST

START_TEST(stat_reports_queue)
{
    ipckit_channel *ch = create_ok();
    ipckit_stat st;
    ck_assert_int_eq(ipckit_send(ch, "0123456789", 10, 0), 0);
    ck_assert_int_eq(ipckit_send(ch, "abc", 3, 0), 0);
    ck_assert_int_eq(ipckit_stat_name(name, &st), 0);
    ck_assert_int_eq(st.messages, 2);
    ck_assert_int_eq(st.bytes, 13);
    ck_assert_int_eq(st.max_msg_size, 128);
    ck_assert_int_eq(st.max_bytes, 4 * 128);
    ck_assert_uint_eq(st.mode, 0600);
    ck_assert_int_eq(st.last_send_pid, -1);
    ipckit_close(ch);
    remove_ok();
}
END_TEST

static volatile sig_atomic_t hits;

static void
on_usr1(int signo)
{
    (void) signo;
    hits++;
}

static int
interrupted_receiver(void *arg)
{
    tk_gate *g = arg;
    struct sigaction sa;
    ipckit_channel *ch = NULL;
    char buf[128];
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    TK_CHILD_CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    TK_CHILD_CHECK(ipckit_open(&ch, name, IPCKIT_RECV, NULL) == 0);
    tk_gate_open(g);
    TK_CHILD_CHECK(ipckit_recv(ch, buf, sizeof buf, -1) == 4);
    TK_CHILD_CHECK(ipckit_recv(ch, buf, sizeof buf, 30000) == 4);
    TK_CHILD_CHECK(hits >= 2);
    ipckit_close(ch);
    return 0;
}

START_TEST(eintr_is_retried)
{
    ipckit_channel *ch = create_ok();
    struct timespec ts = { 0, 50000000 };
    tk_gate g;
    pid_t pid;
    tk_gate_init(&g);
    pid = tk_fork(interrupted_receiver, &g);
    ck_assert_int_eq(tk_gate_wait(&g, LONG_WAIT), 0);
    for (int round = 0; round < 2; round++) {
        (void) nanosleep(&ts, NULL);
        ck_assert_int_eq(kill(pid, SIGUSR1), 0);
        (void) nanosleep(&ts, NULL);
        ck_assert_int_eq(ipckit_send(ch, "done", 4, 0), 0);
    }
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    tk_gate_close(&g);
    ipckit_close(ch);
    remove_ok();
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("posix_mq");
    TCase *tc = tk_tcase("posixmq", 60);
    tcase_add_test(tc, roundtrip_and_priorities);
    tcase_add_test(tc, names_modes_and_errors);
    tcase_add_test(tc, wrong_permissions);
    tcase_add_test(tc, sizes);
    tcase_add_test(tc, timeouts_and_full_queue);
    tcase_add_test(tc, fd_is_pollable_across_fork);
    tcase_add_test(tc, handle_used_after_fork);
    tcase_add_test(tc, stat_reports_queue);
    tcase_add_test(tc, eintr_is_retried);
    suite_add_tcase(s, tc);
    return tk_run(s);
}
