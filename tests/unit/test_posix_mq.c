/*
 * Tests of the posixmq: backend (POSIX message queues), with real processes.
 * Queues are small (RLIMIT_MSGQUEUE is per user and shared with every other
 * test running as that user).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdarg.h>
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

/* ---- creator records ---------------------------------------------------------------- */

/*
 * What mq_open() below puts under the record's name right after the
 * library created a queue, before the library writes its own record:
 * nothing, a well-formed record of another user (uid 65534), or garbage of
 * our own. fail_getattr makes the library's mq_getattr() fail, so that an
 * open fails after it created the queue.
 */
enum { PLANT_NONE, PLANT_FOREIGN, PLANT_OWN_GARBAGE };
static int plant;
static bool fail_getattr;
static char planted[128], planted_text[512];

/* The library calls mq_open() and mq_getattr(); these definitions come first. */
mqd_t
mq_open(const char *n, int oflag, ...)
{
    static mqd_t (*real)(const char *, int, ...);
    mode_t mode = 0;
    struct mq_attr *attr = NULL;
    struct stat sb;
    mqd_t q;
    if (real == NULL) {
        void *p = dlsym(RTLD_NEXT, "mq_open");
        memcpy(&real, &p, sizeof real);
    }
    if (oflag & O_CREAT) {
        va_list ap;
        va_start(ap, oflag);
        mode = (mode_t) va_arg(ap, unsigned);
        attr = va_arg(ap, struct mq_attr *);
        va_end(ap);
        q = real(n, oflag, mode, attr);
    } else {
        q = real(n, oflag);
    }
    if (q != (mqd_t) -1 && plant != PLANT_NONE && (oflag & O_EXCL) &&
        fstat((int) q, &sb) == 0) {
        (void) snprintf(planted, sizeof planted, "/dev/shm/ipckit-creator.posixmq.%llu",
                        (unsigned long long) sb.st_ino);
        if (plant == PLANT_FOREIGN)
            (void) snprintf(planted_text, sizeof planted_text,
                            "ipckit-creator 1 posixmq pid=1 start=1 uid=65534 ino=%llu name=%s\n",
                            (unsigned long long) sb.st_ino, n);
        else
            (void) snprintf(planted_text, sizeof planted_text, "not a record");
        if (tk_plant(planted, planted_text, plant == PLANT_FOREIGN ? 65534 : geteuid()) < 0)
            planted[0] = '\0';
        plant = PLANT_NONE;
    }
    return q;
}

int
mq_getattr(mqd_t q, struct mq_attr *attr)
{
    static int (*real)(mqd_t, struct mq_attr *);
    if (real == NULL) {
        void *p = dlsym(RTLD_NEXT, "mq_getattr");
        memcpy(&real, &p, sizeof real);
    }
    if (fail_getattr) {
        fail_getattr = false;
        errno = EIO;
        return -1;
    }
    return real(q, attr);
}

static long
stat_creator(void)
{
    ipckit_stat st;
    int rc = ipckit_stat_name(name, &st);
    ck_assert_msg(rc == 0, "stat %s: %s", name, ipckit_error_detail());
    return st.creator_pid;
}

static int
create_and_exit(void *arg)
{
    ipckit_channel *ch = NULL;
    ipckit_opts o = small();
    (void) arg;
    TK_CHILD_CHECK(ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, &o) == 0);
    return 0; /* no close, no unlink: the queue outlives this process */
}

/* A record is written by the open that creates the queue, and by no other. */
START_TEST(creator_recorded_on_create)
{
    char rec[128], text[512];
    ipckit_opts o = small();
    ipckit_channel *ch = create_ok();
    pid_t pid;
    ck_assert_int_eq(tk_record_path(name, rec, sizeof rec), 0);
    ck_assert_int_gt(tk_read_file(rec, text, sizeof text), 0);
    ck_assert_msg(strncmp(text, "ipckit-creator 1 posixmq pid=", 29) == 0, "%s", text);
    ck_assert_msg(strstr(text, qname) != NULL, "%s", text);
    ck_assert_int_eq(tk_record_pid(name), (long) getpid());
    ck_assert_int_eq(stat_creator(), (long) getpid());
    ipckit_close(ch);
    remove_ok();

    /* created by a child: the parent's opens, with or without CREATE, keep it */
    new_name();
    pid = tk_fork(create_and_exit, NULL);
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    ck_assert_int_eq(tk_record_pid(name), (long) pid);
    ch = open_ok(name, IPCKIT_RECV, NULL);
    ipckit_close(ch);
    ch = open_ok(name, IPCKIT_RECV | IPCKIT_CREATE, &o);
    ipckit_close(ch);
    ck_assert_int_eq(tk_record_pid(name), (long) pid);
    ck_assert_int_eq(stat_creator(), (long) pid);

    /* an open that finds the queue writes none where there was none */
    ck_assert_int_eq(tk_record_path(name, rec, sizeof rec), 0);
    ck_assert_int_eq(unlink(rec), 0);
    ch = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE, &o);
    ipckit_close(ch);
    ck_assert_int_eq(tk_record_pid(name), -1);
    ck_assert_int_eq(stat_creator(), -1);
    remove_ok();
}
END_TEST

/* The record goes with the queue: ipckit_unlink, and an open that fails
 * after it created the queue. */
START_TEST(creator_record_removed_with_queue)
{
    char rec[128];
    ipckit_opts o = small();
    ipckit_channel *ch = create_ok();
    ck_assert_int_eq(tk_record_path(name, rec, sizeof rec), 0);
    ck_assert_int_eq(access(rec, F_OK), 0);
    ck_assert_int_eq(tk_count_records(), 1);
    ipckit_close(ch);
    remove_ok();
    ck_assert_int_eq(access(rec, F_OK), -1);
    ck_assert_int_eq(tk_count_records(), 0);

    /* created, recorded, then mq_getattr fails: queue and record go */
    new_name();
    fail_getattr = true;
    ch = NULL;
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, &o), -EIO);
    ck_assert(!fail_getattr);
    ck_assert(mq_open(qname, O_RDONLY) == (mqd_t) -1 && errno == ENOENT);
    ck_assert_int_eq(tk_count_records(), 0);
}
END_TEST

/* A file of another user under the record's name is not followed, not
 * trusted, not replaced and not removed; the open works all the same. */
START_TEST(foreign_record_is_left_alone)
{
    char text[512];
    struct stat sb;
    ipckit_channel *ch;
    if (geteuid() != 0) {
        fprintf(stderr, "foreign_record_is_left_alone: not root, nothing checked\n");
        return;
    }
    plant = PLANT_FOREIGN;
    ch = create_ok();
    ck_assert_int_eq(plant, PLANT_NONE); /* the file was put there */
    ck_assert_msg(planted[0] != '\0', "could not plant a record");
    ck_assert_int_eq(lstat(planted, &sb), 0);
    ck_assert_uint_eq(sb.st_uid, 65534);
    ck_assert_int_gt(tk_read_file(planted, text, sizeof text), 0);
    ck_assert_str_eq(text, planted_text);
    ck_assert_int_eq(stat_creator(), -1);
    ck_assert_int_eq(ipckit_send(ch, "x", 1, 0), 0);
    ipckit_close(ch);
    remove_ok();
    ck_assert_int_eq(lstat(planted, &sb), 0); /* still there: not ours */
    ck_assert_uint_eq(sb.st_uid, 65534);
    ck_assert_int_eq(unlink(planted), 0);

    /* garbage of our own under the name is an old orphan: replaced */
    plant = PLANT_OWN_GARBAGE;
    ch = create_ok();
    ck_assert_int_eq(plant, PLANT_NONE);
    ck_assert_msg(planted[0] != '\0', "could not plant a record");
    ck_assert_int_eq(tk_record_pid(name), (long) getpid());
    ck_assert_int_eq(stat_creator(), (long) getpid());
    ipckit_close(ch);
    remove_ok();
    ck_assert_int_eq(access(planted, F_OK), -1);
}
END_TEST

/* A record that is short, garbled, for another queue or not a plain file
 * is not trusted: the creator is unknown. */
START_TEST(bad_records_are_not_trusted)
{
    char rec[128], other_name[80];
    ipckit_channel *ch = create_ok();
    static const char *idents[6];
    (void) snprintf(other_name, sizeof other_name, "%sx", qname);
    idents[0] = "name";
    idents[1] = other_name;
    idents[2] = "ino";
    idents[3] = "1";
    tk_check_record_refusals(name, idents, TK_REC_FORMAT | TK_REC_IDENTS);
    /* a garbled record of our own still goes with the queue */
    ck_assert_int_eq(tk_record_path(name, rec, sizeof rec), 0);
    ck_assert_int_eq(unlink(rec), 0);
    ck_assert_int_eq(tk_plant(rec, "garbage", geteuid()), 0);
    ipckit_close(ch);
    remove_ok();
    ck_assert_int_eq(access(rec, F_OK), -1);
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
    tcase_add_test(tc, creator_recorded_on_create);
    tcase_add_test(tc, creator_record_removed_with_queue);
    tcase_add_test(tc, foreign_record_is_left_alone);
    tcase_add_test(tc, bad_records_are_not_trusted);
    suite_add_tcase(s, tc);
    return tk_run(s);
}
