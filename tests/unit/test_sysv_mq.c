/*
 * Tests of what only the mq: backend (System V message queues) does, with
 * real processes: names and keys, permissions, the kernel's limits,
 * MSG_COPY, truncation, removal while waiting, records of queues, a peer
 * that is not ipckit. The channel contract over mq: (sizes, types,
 * selectors, timeouts, fork, modes, stat, ...) is the conformance suite's
 * (conformance.mq).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <ipckit/ipckit.h>

#include "testkit.h"

#define LONG_WAIT 20000

static char name[600];
static key_t key;

static void
new_name(void)
{
    key = tk_sysv_key();
    (void) snprintf(name, sizeof name, "mq:%#x", (unsigned) key);
}

static ipckit_channel *
open_ok(const char *n, unsigned flags, const ipckit_opts *o)
{
    ipckit_channel *ch = NULL;
    int rc = ipckit_open(&ch, n, flags, o);
    ck_assert_msg(rc == 0, "open %s: %s (%s)", n, ipckit_errname(rc), ipckit_error_detail());
    ck_assert_ptr_nonnull(ch);
    return ch;
}

static ipckit_channel *
create_ok(void)
{
    new_name();
    return open_ok(name, IPCKIT_SEND | IPCKIT_RECV | IPCKIT_CREATE | IPCKIT_EXCL, NULL);
}

static void
remove_ok(const char *n)
{
    int rc = ipckit_unlink(n);
    ck_assert_msg(rc == 0, "unlink %s: %s (%s)", n, ipckit_errname(rc), ipckit_error_detail());
}

static bool
queue_exists(key_t k)
{
    return msgget(k, 0) >= 0;
}

/* The wake-up companion of queue @p id of the current key. */
static void
companion_path(int id, char *buf, size_t cap)
{
    (void) snprintf(buf, cap, "/dev/shm/ipckit-mq.%08x.%d", (unsigned) key, id);
}

/* ---- basics ---------------------------------------------------------------- */

/* The limit of a channel is the smaller of the kernel's msgmax and the
 * queue's msg_qbytes. (The capabilities: conformance.mq.) */
START_TEST(caps_and_limits)
{
    ipckit_channel *ch = create_ok();
    struct msqid_ds ds;
    ck_assert_int_eq(msgctl(msgget(key, 0), IPC_STAT, &ds), 0);
    {
        FILE *fp = fopen("/proc/sys/kernel/msgmax", "r");
        long msgmax = 0;
        ck_assert_ptr_nonnull(fp);
        ck_assert_int_eq(fscanf(fp, "%ld", &msgmax), 1);
        (void) fclose(fp);
        size_t want = (size_t) msgmax < ds.msg_qbytes ? (size_t) msgmax : ds.msg_qbytes;
        ck_assert_uint_eq(ipckit_max_msg_size(ch), want);
    }
    ipckit_close(ch);
    remove_ok(name);
}
END_TEST

/* ---- names and opening ------------------------------------------------------- */

START_TEST(names_decimal_hex_and_ftok)
{
    char dec[64], path[600], fname[700];
    ipckit_channel *a, *b, *c;
    char buf[16];
    ipckit_stat st;

    a = create_ok();
    (void) snprintf(dec, sizeof dec, "mq:%u", (unsigned) key);
    b = open_ok(dec, IPCKIT_RECV, NULL); /* the same queue by its decimal key */
    ck_assert_int_eq(ipckit_send(a, "x", 1, 0), 0);
    ck_assert_int_eq(ipckit_recv(b, buf, sizeof buf, 0), 1);
    ipckit_close(b);
    ipckit_close(a);
    remove_ok(dec);
    ck_assert(!queue_exists(key));

    /* ftok: the key is ftok(path, proj). */
    tk_path(path, sizeof path, "keyfile");
    ck_assert_int_ge(close(open(path, O_CREAT | O_WRONLY, 0600)), 0);
    (void) snprintf(fname, sizeof fname, "mq:%s?proj=m", path);
    c = open_ok(fname, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, NULL);
    ck_assert(queue_exists(ftok(path, 'm')));
    ck_assert(!queue_exists(ftok(path, 'i')));
    ck_assert_int_eq(ipckit_send(c, "ftok", 4, 0), 0);
    ck_assert_int_eq(ipckit_stat_name(fname, &st), 0);
    ck_assert_int_eq(st.messages, 1);
    ipckit_close(c);
    remove_ok(fname);
    ck_assert(!queue_exists(ftok(path, 'm')));
    ck_assert_int_eq(unlink(path), 0);
}
END_TEST

START_TEST(bad_names_and_flags)
{
    ipckit_channel *ch = (ipckit_channel *) 1;
    char missing[600], n[700];
    new_name();

    ck_assert_int_eq(ipckit_open(&ch, "mq:", IPCKIT_RECV, NULL), -EINVAL);
    ck_assert_ptr_null(ch);
    ck_assert_int_eq(ipckit_open(&ch, "mq:abc", IPCKIT_RECV, NULL), -EINVAL);
    ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), "abc"));
    ck_assert_int_eq(ipckit_open(&ch, "mq:0", IPCKIT_RECV, NULL), -EINVAL);
    ck_assert_int_eq(ipckit_open(&ch, "mq:0x1x", IPCKIT_RECV, NULL), -EINVAL);
    ck_assert_int_eq(ipckit_open(&ch, "mq:0x100000000", IPCKIT_RECV, NULL), -EINVAL);
    (void) snprintf(n, sizeof n, "%s?color=red", name);
    ck_assert_int_eq(ipckit_open(&ch, n, IPCKIT_RECV | IPCKIT_CREATE, NULL), -EINVAL);
    ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), "color"));
    (void) snprintf(n, sizeof n, "mq:/tmp?proj=abc");
    ck_assert_int_eq(ipckit_open(&ch, n, IPCKIT_RECV | IPCKIT_CREATE, NULL), -EINVAL);
    ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), "proj"));

    /* ftok on a path that does not exist */
    tk_path(missing, sizeof missing, "no-such-file");
    (void) snprintf(n, sizeof n, "mq:%s", missing);
    ck_assert_int_eq(ipckit_open(&ch, n, IPCKIT_RECV | IPCKIT_CREATE, NULL), -ENOENT);
    ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), "no-such-file"));
    ck_assert_int_eq(ipckit_unlink(n), -ENOENT);

    /* a queue that does not exist: the detail says so */
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV, NULL), -ENOENT);
    ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), "no queue"));
    ck_assert(!queue_exists(key));

    /* stream mode makes no sense on a queue */
    {
        ipckit_opts o = IPCKIT_OPTS_INIT;
        o.flags = IPCKIT_OPT_STREAM;
        ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV | IPCKIT_CREATE, &o), -ENOTSUP);
        ck_assert(!queue_exists(key));
    }
}
END_TEST

/* In a child: drop privileges (when root) and try to open with @p flags. */
struct perm_args {
    unsigned flags;
    int want;
    unsigned mode; /* the mode the child asks for: it accepts what others may write */
};

static int
perm_child(void *arg)
{
    struct perm_args *a = arg;
    ipckit_channel *ch = NULL;
    ipckit_opts o = IPCKIT_OPTS_INIT;
    if (geteuid() == 0)
        TK_CHILD_CHECK(setgid(65534) == 0 && setuid(65534) == 0);
    o.mode = a->mode;
    int rc = ipckit_open(&ch, name, a->flags, &o);
    if (rc != a->want)
        fprintf(stderr, "open %#x: %s (%s), want %s\n", a->flags, ipckit_errname(rc),
                ipckit_error_detail(), ipckit_errname(a->want));
    TK_CHILD_CHECK(rc == a->want);
    if (rc == 0) {
        char buf[8];
        if (a->flags & IPCKIT_SEND)
            TK_CHILD_CHECK(ipckit_send(ch, "p", 1, 0) == 0);
        if (a->flags & IPCKIT_RECV)
            TK_CHILD_CHECK(ipckit_recv(ch, buf, sizeof buf, 0) == -EAGAIN);
        ipckit_close(ch);
    }
    return 0;
}

START_TEST(wrong_permissions)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *owner;
    struct perm_args a;
    char buf[8];
    new_name();
    /* Others may write but not read. As root, the child becomes nobody; as
     * an ordinary user, the owner bits are the ones that apply. */
    o.mode = geteuid() == 0 ? 0602 : 0200;
    owner = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, &o);

    a.mode = o.mode;
    a.flags = IPCKIT_RECV;
    a.want = -EACCES;
    ck_assert_int_eq(tk_wait(tk_fork(perm_child, &a), LONG_WAIT), 0);
    a.flags = IPCKIT_SEND | IPCKIT_RECV;
    ck_assert_int_eq(tk_wait(tk_fork(perm_child, &a), LONG_WAIT), 0);
    a.flags = IPCKIT_RECV | IPCKIT_CREATE;
    ck_assert_int_eq(tk_wait(tk_fork(perm_child, &a), LONG_WAIT), 0);
    a.flags = IPCKIT_SEND;
    a.want = 0;
    ck_assert_int_eq(tk_wait(tk_fork(perm_child, &a), LONG_WAIT), 0);
    if (geteuid() == 0) {
        /* a queue that everyone may write is refused unless asked for
         * (docs/security.md); the check reads the owner without read
         * permission */
        a.mode = 0600;
        a.want = -EPERM;
        ck_assert_int_eq(tk_wait(tk_fork(perm_child, &a), LONG_WAIT), 0);
    }

    if (geteuid() == 0) {
        /* The child's message arrived. */
        ipckit_channel *r = open_ok(name, IPCKIT_RECV, &o);
        ck_assert_int_eq(ipckit_recv(r, buf, sizeof buf, 0), 1);
        ck_assert_int_eq(buf[0], 'p');
        ipckit_close(r);
    }
    ipckit_close(owner);
    remove_ok(name);
}
END_TEST

/* ---- sizes ----------------------------------------------------------------------- */

START_TEST(capacity_sets_queue_limit)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *ch, *other = (ipckit_channel *) 1;
    ipckit_stat st;
    char buf[600];
    new_name();
    o.capacity = 1000;
    ch = open_ok(name, IPCKIT_SEND | IPCKIT_RECV | IPCKIT_CREATE | IPCKIT_EXCL, &o);
    ck_assert_uint_eq(ipckit_max_msg_size(ch), 1000);
    ck_assert_int_eq(ipckit_stat_name(name, &st), 0);
    ck_assert_int_eq(st.max_bytes, 1000);
    ck_assert_int_eq(st.max_msg_size, 1000);
    memset(buf, 'q', sizeof buf);
    ck_assert_int_eq(ipckit_send(ch, buf, 1001, 0), -EMSGSIZE);
    ck_assert_ptr_nonnull(strstr(ipckit_last_error(ch), "1000"));
    /* full at capacity: the detail says so (timeouts: conformance.mq) */
    ck_assert_int_eq(ipckit_send(ch, buf, 600, 0), 0);
    ck_assert_int_eq(ipckit_send(ch, buf, 600, 0), -EAGAIN);
    ck_assert_ptr_nonnull(strstr(ipckit_last_error(ch), "full"));
    /* a caller's max_msg_size above the queue's limit */
    o.capacity = 0;
    o.max_msg_size = 1001;
    ck_assert_int_eq(ipckit_open(&other, name, IPCKIT_SEND, &o), -EMSGSIZE);
    ck_assert_ptr_null(other);
    o.max_msg_size = 10;
    other = open_ok(name, IPCKIT_SEND, &o);
    ck_assert_uint_eq(ipckit_max_msg_size(other), 10);
    ck_assert_int_eq(ipckit_send(other, buf, 11, 0), -EMSGSIZE);
    ipckit_close(other);
    ipckit_close(ch);
    remove_ok(name);
}
END_TEST

START_TEST(small_buffer_keeps_message)
{
    ipckit_channel *ch = create_ok();
    char buf[64];
    long t = 0;
    ck_assert_int_eq(ipckit_send_typed(ch, 4, "0123456789abcdefghij", 20, 0), 0);
    ck_assert_int_eq(ipckit_send_typed(ch, 2, "small", 5, 0), 0);
    ck_assert_int_eq(ipckit_send_typed(ch, 4, "0123456789abcdefghijklmnopqrstuvwxyz", 36, 0), 0);
    /* The detail gives the size where the kernel can copy a message
     * without removing it (MSG_COPY), a bound otherwise. */
    struct {
        long mtype;
        char mtext[64];
    } m;
    bool copy = msgrcv(msgget(key, 0), &m, sizeof m.mtext, 0, IPC_NOWAIT | 040000) >= 0;
    const char *want = copy ? "message of 20 bytes" : "larger than the buffer of 10";
    ck_assert_int_eq(ipckit_recv_typed(ch, 0, &t, buf, 10, 0), -EMSGSIZE);
    ck_assert_msg(strstr(ipckit_last_error(ch), want) != NULL, "detail: %s",
                  ipckit_last_error(ch));
    ck_assert_int_eq(ipckit_recv_typed(ch, 4, &t, buf, 10, 0), -EMSGSIZE);
    ck_assert_msg(strstr(ipckit_last_error(ch), want) != NULL, "detail: %s",
                  ipckit_last_error(ch));
    ck_assert_int_eq(ipckit_recv_typed(ch, -4, &t, buf, 4, 0), -EMSGSIZE);
    want = copy ? "message of 5 bytes" : "larger than the buffer of 4";
    ck_assert_msg(strstr(ipckit_last_error(ch), want) != NULL, "detail: %s",
                  ipckit_last_error(ch));
    ck_assert_int_eq(ipckit_recv_typed(ch, 4, &t, buf, 19, 0), -EMSGSIZE);
    /* still queued, whole */
    ck_assert_int_eq(ipckit_recv_typed(ch, 0, &t, buf, 20, 0), 20);
    ck_assert_int_eq(t, 4);
    ck_assert_mem_eq(buf, "0123456789abcdefghij", 20);
    ck_assert_int_eq(ipckit_recv_typed(ch, 0, &t, buf, sizeof buf, 0), 5);
    ck_assert_int_eq(ipckit_recv_typed(ch, 0, &t, buf, sizeof buf, 0), 36);
    ipckit_close(ch);
    remove_ok(name);
}
END_TEST

/* The library calls msgrcv(); this program's definition comes first and
 * counts the calls that copy a message without taking it (MSG_COPY). */
static long copy_calls;

ssize_t
msgrcv(int id, void *buf, size_t size, long type, int flags)
{
    static ssize_t (*real)(int, void *, size_t, long, int);
    if (real == NULL) {
        void *p = dlsym(RTLD_NEXT, "msgrcv");
        memcpy(&real, &p, sizeof real);
    }
    if (flags & 040000)
        copy_calls++;
    return real(id, buf, size, type, flags);
}

/*
 * A too-small buffer behind thousands of queued messages: the search for the
 * message's size (one MSG_COPY per queue position, each walking the queue
 * from its head) looks at a bounded number of positions, not at every one.
 */
START_TEST(small_buffer_long_queue_is_bounded)
{
    ipckit_channel *ch = create_ok();
    ipckit_stat st;
    char big[100], buf[100];
    long t = 0, fill, calls;
    bool copy;
    struct {
        long mtype;
        char mtext[8];
    } m;

    /* Empty messages take no bytes, but the kernel also limits the number
     * of messages of a queue to its msg_qbytes. */
    ck_assert_int_eq(ipckit_stat_name(name, &st), 0);
    fill = st.max_bytes - 1 < 4000 ? st.max_bytes - 1 : 4000;
    ck_assert_msg(fill > 4 * 64, "msg_qbytes %ld leaves room for too few messages",
                  st.max_bytes);
    for (long i = 0; i < fill; i++)
        ck_assert_int_eq(ipckit_send_typed(ch, 1, "", 0, 0), 0);
    memset(big, 'b', sizeof big);
    ck_assert_int_eq(ipckit_send_typed(ch, 2, big, sizeof big, 0), 0);

    /* Whether this kernel has MSG_COPY (CONFIG_CHECKPOINT_RESTORE). */
    copy = msgrcv(msgget(key, 0), &m, sizeof m.mtext, 0, IPC_NOWAIT | 040000) >= 0;

    calls = copy_calls;
    ck_assert_int_eq(ipckit_recv_typed(ch, 2, &t, buf, 10, 0), -EMSGSIZE);
    calls = copy_calls - calls;
    ck_assert_msg(calls <= 64, "%ld MSG_COPY calls for one too-small receive", calls);
    ck_assert_msg(strstr(ipckit_last_error(ch), "buffer of 10 bytes") != NULL, "detail: %s",
                  ipckit_last_error(ch));
    if (copy) /* the detail says why it gives no size */
        ck_assert_msg(strstr(ipckit_last_error(ch), "first 64 messages") != NULL,
                      "detail: %s", ipckit_last_error(ch));

    /* still queued, whole, behind the others */
    ck_assert_int_eq(ipckit_recv_typed(ch, 2, &t, buf, sizeof buf, 0), (ssize_t) sizeof big);
    ck_assert_int_eq(t, 2);
    ck_assert_mem_eq(buf, big, sizeof big);
    ck_assert_int_eq(ipckit_stat_name(name, &st), 0);
    ck_assert_int_eq(st.messages, fill);
    ipckit_close(ch);
    remove_ok(name);
}
END_TEST

START_TEST(truncate_option)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *tx = create_ok(), *rx;
    char buf[64];
    o.flags = IPCKIT_OPT_TRUNCATE;
    rx = open_ok(name, IPCKIT_RECV, &o);
    ck_assert_int_eq(ipckit_send(tx, "0123456789abcdefghij", 20, 0), 0);
    ck_assert_int_eq(ipckit_send(tx, "next", 4, 0), 0);
    ck_assert_int_eq(ipckit_recv(rx, buf, 10, 0), 10);
    ck_assert_mem_eq(buf, "0123456789", 10);
    /* the rest of the cut message is gone */
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), 4);
    ck_assert_mem_eq(buf, "next", 4);
    ipckit_close(rx);
    ipckit_close(tx);
    remove_ok(name);
}
END_TEST

/* ---- timeouts -------------------------------------------------------------------- */

/* The detail of a receive that times out. (Timeouts and IPCKIT_NONBLOCK:
 * conformance.mq.) */
START_TEST(recv_timeouts)
{
    ipckit_channel *ch = create_ok();
    char buf[8];
    ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 150), -ETIMEDOUT);
    ck_assert_ptr_nonnull(strstr(ipckit_last_error(ch), "no message"));
    ipckit_close(ch);
    remove_ok(name);
}
END_TEST

struct child_args {
    tk_gate gate;
    int delay_ms;
    int timeout_ms;
    int want;
};

/* A receiver waiting 1 s with a timeout must not burn a CPU. */
START_TEST(timed_wait_uses_little_cpu)
{
    ipckit_channel *ch = create_ok();
    char buf[8];
    long long c0 = tk_cpu_us(), t0 = tk_now_ms();
    ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 1000), -ETIMEDOUT);
    long long cpu = tk_cpu_us() - c0, wall = tk_now_ms() - t0;
    ck_assert_msg(wall >= 999, "waited only %lld ms", wall);
    /* A busy loop would use ~1000 ms; the polling design uses about 1 ms. */
    ck_assert_msg(cpu < 150000, "a 1 s timed wait used %lld us of CPU", cpu);
    ipckit_close(ch);
    remove_ok(name);
}
END_TEST

/* ---- removal while waiting ------------------------------------------------------ */

/* Wait until @p pid sleeps in the kernel (in msgrcv/msgsnd when possible). */
static void
wait_blocked(pid_t pid)
{
    char path[64], buf[256];
    long long end = tk_now_ms() + 5000;
    (void) snprintf(path, sizeof path, "/proc/%ld/stat", (long) pid);
    while (tk_now_ms() < end) {
        FILE *fp = fopen(path, "r");
        char *p;
        if (fp == NULL)
            break;
        p = fgets(buf, sizeof buf, fp);
        (void) fclose(fp);
        p = p ? strrchr(buf, ')') : NULL;
        if (p != NULL && p[1] == ' ' && p[2] == 'S')
            return;
        struct timespec ts = { 0, 2000000 };
        (void) nanosleep(&ts, NULL);
    }
}

static int
blocked_receiver(void *arg)
{
    struct child_args *a = arg;
    ipckit_channel *ch = NULL;
    char buf[8];
    TK_CHILD_CHECK(ipckit_open(&ch, name, IPCKIT_RECV, NULL) == 0);
    tk_gate_open(&a->gate);
    ssize_t n = ipckit_recv(ch, buf, sizeof buf, a->timeout_ms);
    if (n != a->want)
        fprintf(stderr, "recv: %s (%s)\n", ipckit_errname((int) n), ipckit_last_error(ch));
    TK_CHILD_CHECK(n == a->want);
    TK_CHILD_CHECK(strstr(ipckit_last_error(ch), "removed") != NULL);
    ipckit_close(ch);
    return 0;
}

static int
blocked_sender(void *arg)
{
    struct child_args *a = arg;
    ipckit_channel *ch = NULL;
    char buf[600] = { 0 };
    TK_CHILD_CHECK(ipckit_open(&ch, name, IPCKIT_SEND, NULL) == 0);
    TK_CHILD_CHECK(ipckit_send(ch, buf, sizeof buf, 0) == 0);
    tk_gate_open(&a->gate);
    int rc = ipckit_send(ch, buf, sizeof buf, a->timeout_ms); /* the queue is full */
    TK_CHILD_CHECK(rc == a->want);
    ipckit_close(ch);
    return 0;
}

static void
removed_while_waiting(int (*child)(void *), int timeout_ms)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    struct child_args a = { .timeout_ms = timeout_ms, .want = -EIDRM };
    ipckit_channel *ch;
    pid_t pid;
    new_name();
    o.capacity = 1000;
    ch = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, &o);
    tk_gate_init(&a.gate);
    pid = tk_fork(child, &a);
    ck_assert_int_eq(tk_gate_wait(&a.gate, LONG_WAIT), 0);
    wait_blocked(pid);
    remove_ok(name);
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    /* the parent's own handle sees it too */
    ck_assert_int_eq(ipckit_send(ch, "x", 1, 0), -EIDRM);
    ck_assert_ptr_nonnull(strstr(ipckit_last_error(ch), "removed"));
    tk_gate_close(&a.gate);
    ipckit_close(ch);
}

START_TEST(removed_while_blocked_in_recv)
{
    removed_while_waiting(blocked_receiver, -1);
}
END_TEST

START_TEST(removed_while_timed_recv)
{
    removed_while_waiting(blocked_receiver, 30000);
}
END_TEST

START_TEST(removed_while_blocked_in_send)
{
    removed_while_waiting(blocked_sender, -1);
}
END_TEST

START_TEST(removed_while_timed_send)
{
    removed_while_waiting(blocked_sender, 30000);
}
END_TEST


/* ---- timed waits sleep on the companion ------------------------------------------ */

struct waker_args {
    tk_gate gate;
    const char *params; /* appended to the name */
    bool send;          /* wait in a send on a full queue, else in a receive */
};

/* Voluntary context switches of the calling thread so far. */
static long
switches_now(void)
{
    struct rusage ru;
    (void) getrusage(RUSAGE_THREAD, &ru);
    return ru.ru_nvcsw;
}

/*
 * Wait (10 s at most) in a receive, or in a send to a full queue, until the
 * parent acts. The exit code is the number of times this process went to
 * sleep while it waited (at most 90); a failed check exits with 99.
 */
static int
timed_waiter(void *arg)
{
    struct waker_args *a = arg;
    ipckit_channel *ch = NULL;
    char n2[700], buf[600] = { 0 };
    long before;
    (void) snprintf(n2, sizeof n2, "%s%s", name, a->params);
    TK_CHILD_CHECK(ipckit_open(&ch, n2, a->send ? IPCKIT_SEND : IPCKIT_RECV, NULL) == 0);
    if (a->send)
        TK_CHILD_CHECK(ipckit_send(ch, buf, sizeof buf, 0) == 0); /* now it is full */
    tk_gate_open(&a->gate);
    before = switches_now();
    if (a->send) {
        TK_CHILD_CHECK(ipckit_send(ch, buf, sizeof buf, 10000) == 0);
    } else {
        TK_CHILD_CHECK(ipckit_recv(ch, buf, sizeof buf, 10000) == 3);
        TK_CHILD_CHECK(memcmp(buf, "abc", 3) == 0);
    }
    before = switches_now() - before;
    ipckit_close(ch);
    return (int) (before > 90 ? 90 : before);
}

/*
 * A timed wait for an ipckit peer sleeps until the peer acts: it goes to
 * sleep a handful of times in 0.5 s, where the 0.1.0 design (naps of 50 us
 * growing to 2 ms) went to sleep about 250 times. Returns the count.
 */
static long
sleeps_while_waiting(const char *params, bool send, bool raw_peer)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    struct waker_args a = { .params = params, .send = send };
    ipckit_channel *ch;
    char buf[600];
    int status;
    pid_t pid;
    new_name();
    o.capacity = 1000;
    ch = open_ok(name, IPCKIT_SEND | IPCKIT_RECV | IPCKIT_CREATE | IPCKIT_EXCL, &o);
    tk_gate_init(&a.gate);
    pid = tk_fork(timed_waiter, &a);
    ck_assert_int_eq(tk_gate_wait(&a.gate, LONG_WAIT), 0);
    wait_blocked(pid);
    {
        struct timespec ts = { 0, 500000000 };
        (void) nanosleep(&ts, NULL);
    }
    if (send && raw_peer) {
        struct { long mtype; char mtext[sizeof buf]; } m; /* msgrcv() writes the type first */
        ck_assert_int_ge(msgrcv(msgget(key, 0), &m, sizeof m.mtext, 0, 0), 0);
    } else if (send) {
        ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 0), 600);
    } else if (raw_peer) {
        struct { long mtype; char mtext[3]; } m = { 1, { 'a', 'b', 'c' } };
        ck_assert_int_eq(msgsnd(msgget(key, 0), &m, 3, 0), 0);
    } else {
        ck_assert_int_eq(ipckit_send(ch, "abc", 3, 0), 0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) <= 90,
                  "the waiter failed (status %#x)", status);
    tk_gate_close(&a.gate);
    ipckit_close(ch);
    remove_ok(name);
    return WEXITSTATUS(status);
}

START_TEST(timed_recv_sleeps_until_sent)
{
    long n = sleeps_while_waiting("?peers=ipckit", false, false);
    ck_assert_msg(n <= 10, "a timed receive went to sleep %ld times in 0.5 s", n);
    /* peers=any (the default) also looks every 50 ms at most */
    n = sleeps_while_waiting("", false, false);
    ck_assert_msg(n <= 40, "a timed receive went to sleep %ld times in 0.5 s", n);
}
END_TEST

START_TEST(timed_send_sleeps_until_room)
{
    long n = sleeps_while_waiting("?peers=ipckit", true, false);
    ck_assert_msg(n <= 10, "a timed send went to sleep %ld times in 0.5 s", n);
}
END_TEST

/* A sender or receiver that is not ipckit does not wake a timed waiter, which
 * sees its message or room all the same: with peers=any within 50 ms, with
 * peers=ipckit within a second. */
START_TEST(timed_wait_sees_raw_peers)
{
    (void) sleeps_while_waiting("", false, true);
    (void) sleeps_while_waiting("", true, true);
    (void) sleeps_while_waiting("?peers=ipckit", false, true);
}
END_TEST


/*
 * A companion that another user made (here: planted under the name before
 * an open of a queue that exists) is not trusted, so never written: a timed
 * wait then polls as in 0.1.0, and the planted bytes stay as they were.
 */
START_TEST(untrusted_companion_is_not_written)
{
    ipckit_channel *ch, *rx;
    char path[64], n2[700];
    unsigned char page[4096] = { 0 }, after[4096];
    uint32_t magic = 0x574d4b49u, version = 1;
    int fd;
    if (geteuid() != 0)
        return; /* needs a second user */
    ch = create_ok();
    companion_path(msgget(key, 0), path, sizeof path);
    ck_assert_int_eq(unlink(path), 0); /* the one ipckit made */
    memcpy(page, &magic, 4);
    memcpy(page + 4, &version, 4);
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, page, sizeof page), (ssize_t) sizeof page);
    ck_assert_int_eq(fchown(fd, 65534, 65534), 0);
    ck_assert_int_eq(fchmod(fd, 0666), 0);
    (void) snprintf(n2, sizeof n2, "%s?peers=ipckit", name);
    rx = open_ok(n2, IPCKIT_RECV, NULL);
    ck_assert_int_eq(ipckit_recv(rx, page, sizeof page, 200), -ETIMEDOUT);
    ck_assert_int_eq(ipckit_send(ch, "abc", 3, 0), 0);
    ck_assert_int_eq(ipckit_recv(rx, page, sizeof page, 5000), 3);
    ck_assert_int_eq(pread(fd, after, sizeof after, 0), (ssize_t) sizeof after);
    memset(page, 0, sizeof page);
    memcpy(page, &magic, 4);
    memcpy(page + 4, &version, 4);
    ck_assert_msg(memcmp(page, after, sizeof page) == 0, "the planted companion was written");
    ck_assert_int_eq(close(fd), 0);
    ipckit_close(rx);
    ipckit_close(ch);
    remove_ok(name); /* removes the planted file too: it sits under the name */
    ck_assert_int_lt(access(path, F_OK), 0);
}
END_TEST

START_TEST(peers_parameter)
{
    ipckit_channel *ch = NULL;
    char n2[700];
    new_name();
    (void) snprintf(n2, sizeof n2, "%s?peers=php", name);
    ck_assert_int_eq(ipckit_open(&ch, n2, IPCKIT_SEND | IPCKIT_CREATE, NULL), -EINVAL);
    ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), "peers=ipckit"));
    ck_assert(!queue_exists(key));
}
END_TEST

/* ---- stat ------------------------------------------------------------------------ */

/* What the kernel says of a queue nothing was sent to or received from
 * (pids 0), and the capacity asked for. (Stat after sends, receives and
 * fork, the mode: conformance.mq.) */
START_TEST(stat_reports_queue)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *ch;
    ipckit_stat st;
    new_name();
    o.capacity = 5000;
    ch = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, &o);
    ck_assert_int_eq(ipckit_stat_name(name, &st), 0);
    ck_assert_int_eq(st.messages, 0);
    ck_assert_int_eq(st.bytes, 0);
    ck_assert_int_eq(st.max_bytes, 5000);
    ck_assert_int_eq(st.last_send_pid, 0);
    ck_assert_int_eq(st.last_recv_pid, 0);
    ck_assert_int_eq(ipckit_send(ch, "abc", 3, 0), 0);
    ck_assert_int_eq(ipckit_stat_name(name, &st), 0);
    ck_assert_int_eq(st.last_recv_pid, 0);
    ipckit_close(ch);
    remove_ok(name);
}
END_TEST

/* ---- creator records ---------------------------------------------------------------- */

/*
 * What msgget() below puts under the record's name right after the library
 * created a queue, before the library writes its own record: nothing, a
 * well-formed record of another user (uid 65534), or garbage of our own.
 */
enum { PLANT_NONE, PLANT_FOREIGN, PLANT_OWN_GARBAGE };
static int plant;
static char planted[128], planted_text[256];

/* The library calls msgget(); this program's definition comes first. */
int
msgget(key_t k, int flags)
{
    static int (*real)(key_t, int);
    int id;
    if (real == NULL) {
        void *p = dlsym(RTLD_NEXT, "msgget");
        memcpy(&real, &p, sizeof real);
    }
    id = real(k, flags);
    if (id >= 0 && plant != PLANT_NONE && (flags & IPC_CREAT) && (flags & IPC_EXCL)) {
        (void) snprintf(planted, sizeof planted, "/dev/shm/ipckit-creator.mq.%d", id);
        if (plant == PLANT_FOREIGN)
            (void) snprintf(planted_text, sizeof planted_text,
                            "ipckit-creator 1 mq pid=1 start=1 uid=65534 key=0x%08x id=%d"
                            " ctime=%lld\n",
                            (unsigned) k, id, (long long) time(NULL));
        else
            (void) snprintf(planted_text, sizeof planted_text, "not a record");
        if (tk_plant(planted, planted_text, plant == PLANT_FOREIGN ? 65534 : geteuid()) < 0)
            planted[0] = '\0';
        plant = PLANT_NONE;
    }
    return id;
}

static long
stat_creator(void)
{
    ipckit_stat st;
    int rc = ipckit_stat_name(name, &st);
    ck_assert_msg(rc == 0, "stat %s: %s", name, ipckit_error_detail());
    return st.creator_pid;
}

/* In a child (a process of its own: the sweep runs at most once a second
 * per process): create and remove a queue. */
static int
create_and_remove(void *arg)
{
    ipckit_channel *ch = NULL;
    TK_CHILD_CHECK(ipckit_open(&ch, arg, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, NULL) == 0);
    TK_CHILD_CHECK(ipckit_close(ch) == 0);
    TK_CHILD_CHECK(ipckit_unlink(arg) == 0);
    return 0;
}

/* After queue @p id was removed behind ipckit's back while no channel had
 * it open: its wake-up companion (/dev/shm/ipckit-mq.KEY.ID) is still
 * there, and ipckit_unlink() of the name, which finds no queue, removes
 * it. 1 when it was there. */
static int
companion_left(int id)
{
    char path[64];
    int there;
    companion_path(id, path, sizeof path);
    there = access(path, F_OK) == 0;
    ck_assert_int_eq(ipckit_unlink(name), -ENOENT);
    ck_assert_msg(access(path, F_OK) < 0, "%s is still there", path);
    return there;
}

/* A queue removed by a program that is not ipckit (PHP's
 * msg_remove_queue(), ipcrm) leaves its record behind; the next creation
 * sweeps it once it is a minute old, and leaves a younger one. */
START_TEST(orphan_records_do_not_pile_up)
{
    char old_rec[128], young_rec[128], third[600];
    struct timespec aged[2];
    ipckit_channel *ch;
    int id;
    new_name();
    ch = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, NULL);
    ipckit_close(ch);
    ck_assert_int_eq(tk_record_path(name, old_rec, sizeof old_rec), 0);
    id = msgget(key, 0);
    ck_assert_int_eq(msgctl(id, IPC_RMID, NULL), 0); /* behind ipckit's back */
    ck_assert_int_eq(companion_left(id), 1);
    (void) clock_gettime(CLOCK_REALTIME, &aged[0]);
    aged[0].tv_sec -= 120;
    aged[1] = aged[0];
    ck_assert_int_eq(utimensat(AT_FDCWD, old_rec, aged, AT_SYMLINK_NOFOLLOW), 0);

    new_name();
    ch = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, NULL);
    ipckit_close(ch);
    ck_assert_int_eq(tk_record_path(name, young_rec, sizeof young_rec), 0);
    id = msgget(key, 0);
    ck_assert_int_eq(msgctl(id, IPC_RMID, NULL), 0);
    ck_assert_int_eq(companion_left(id), 1);

    new_name();
    (void) snprintf(third, sizeof third, "%s", name);
    ck_assert_int_eq(tk_wait(tk_fork(create_and_remove, third), LONG_WAIT), 0);
    ck_assert_msg(access(old_rec, F_OK) < 0, "the old orphan %s is still there", old_rec);
    ck_assert_int_eq(access(young_rec, F_OK), 0);
    ck_assert_int_eq(unlink(young_rec), 0);
}
END_TEST

/* ---- the wake-up companion after a removal behind ipckit's back ---------------------- */

/*
 * A queue removed by a program that is not ipckit (PHP's
 * msg_remove_queue(), ipcrm) while ipckit channels have it open: the
 * first of them to close removes its companion and its creator record.
 */
START_TEST(companion_goes_with_queue_removed_behind_back)
{
    ipckit_channel *tx, *rx;
    char path[64], rec[128], buf[8];
    ssize_t rc;
    int id;
    tx = create_ok();
    rx = open_ok(name, IPCKIT_RECV, NULL);
    id = msgget(key, 0);
    companion_path(id, path, sizeof path);
    ck_assert_int_eq(access(path, F_OK), 0);
    ck_assert_int_eq(tk_record_path(name, rec, sizeof rec), 0);
    ck_assert_int_eq(msgctl(id, IPC_RMID, NULL), 0);
    rc = ipckit_recv(rx, buf, sizeof buf, 100);
    ck_assert_msg(rc == -EIDRM || rc == -ENOENT, "recv: %s", ipckit_errname((int) rc));
    ck_assert_int_eq(access(path, F_OK), 0); /* the receiver still has it */
    ipckit_close(rx);
    ck_assert_msg(access(path, F_OK) < 0, "%s is still there after the close", path);
    ck_assert_msg(access(rec, F_OK) < 0, "the record %s is still there", rec);
    ipckit_close(tx); /* finds it gone: nothing to do */
    ck_assert_int_eq(ipckit_unlink(name), -ENOENT);
}
END_TEST

/*
 * A companion whose queue was removed while no ipckit channel had it open
 * (or whose last user was killed) is an orphan: the next open that creates
 * a queue of that key removes it and makes the new queue's. A file of
 * another user under an orphan's name is left alone.
 */
START_TEST(creation_sweeps_orphan_companions)
{
    ipckit_channel *ch;
    char old[64], fresh[64], foreign[64], rec[128];
    int id1, id2, fd = -1;
    ch = create_ok();
    id1 = msgget(key, 0);
    ipckit_close(ch);
    companion_path(id1, old, sizeof old);
    ck_assert_int_eq(access(old, F_OK), 0);
    ck_assert_int_eq(tk_record_path(name, rec, sizeof rec), 0);
    ck_assert_int_eq(msgctl(id1, IPC_RMID, NULL), 0);
    ck_assert_int_eq(access(old, F_OK), 0); /* no channel saw the removal */
    /* its record stays a minute (test orphan_records_do_not_pile_up) */
    ck_assert_int_eq(unlink(rec), 0);
    companion_path(INT_MAX, foreign, sizeof foreign); /* an id no queue has */
    if (geteuid() == 0) {
        fd = open(foreign, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(fchown(fd, 65534, 65534), 0);
        ck_assert_int_eq(close(fd), 0);
    }

    ch = open_ok(name, IPCKIT_SEND | IPCKIT_RECV | IPCKIT_CREATE | IPCKIT_EXCL, NULL);
    id2 = msgget(key, 0);
    ck_assert_int_ne(id2, id1);
    companion_path(id2, fresh, sizeof fresh);
    ck_assert_msg(access(old, F_OK) < 0, "the orphan %s is still there", old);
    ck_assert_int_eq(access(fresh, F_OK), 0);
    if (fd >= 0) {
        ck_assert_msg(access(foreign, F_OK) == 0, "another user's %s was removed", foreign);
        ck_assert_int_eq(unlink(foreign), 0);
    }
    ipckit_close(ch);
    remove_ok(name);
    ck_assert_int_lt(access(fresh, F_OK), 0);
}
END_TEST

/* What ipckit_remove_stale() said of the companion at path */
struct companion_seen {
    char path[64];
    int n, verdict;
    char why[256];
};

static int
companion_report(const ipckit_object *o, int verdict, const char *why, void *arg)
{
    struct companion_seen *c = arg;
    if (strcmp(o->where, c->path) == 0) {
        ck_assert_str_eq(o->kind, "queue companion");
        c->n++;
        c->verdict = verdict;
        (void) snprintf(c->why, sizeof c->why, "%s", why);
    }
    return 0;
}

static struct companion_seen *
companion_judged(const char *path, const char *only, unsigned flags)
{
    static struct companion_seen seen;
    const char *names[] = { only, NULL };
    ipckit_list_opts lo = IPCKIT_LIST_OPTS_INIT;
    int rc;
    memset(&seen, 0, sizeof seen);
    seen.verdict = -1;
    (void) snprintf(seen.path, sizeof seen.path, "%s", path);
    lo.names = only != NULL ? names : NULL;
    lo.flags = flags;
    rc = ipckit_remove_stale(&lo, companion_report, &seen);
    ck_assert_msg(rc >= 0, "%s (%s)", ipckit_errname(rc), ipckit_error_detail());
    return &seen;
}

static char stale_path[64];

static int
stale_as_nobody(void *arg)
{
    struct companion_seen *seen;
    TK_CHILD_CHECK(setresgid(65534, 65534, 65534) == 0 && setresuid(65534, 65534, 65534) == 0);
    seen = companion_judged(stale_path, arg, 0);
    TK_CHILD_CHECK(seen->n == 1 && seen->verdict == IPCKIT_STALE_LIVE &&
                   strstr(seen->why, "another user") != NULL);
    return 0;
}

/* ipckit_remove_stale() (ipckit rm --stale) judges orphan companions, in
 * a sweep and by the queue's name; it removes its owner's or root's, and
 * none in a dry run. */
START_TEST(remove_stale_sweeps_orphan_companions)
{
    struct companion_seen *seen;
    ipckit_channel *ch = create_ok();
    int id = msgget(key, 0);
    ipckit_close(ch);
    companion_path(id, stale_path, sizeof stale_path);
    ck_assert_int_eq(msgctl(id, IPC_RMID, NULL), 0);

    /* a dry sweep of everything (only a dry one: other tests run beside) */
    seen = companion_judged(stale_path, NULL, IPCKIT_STALE_DRY_RUN);
    ck_assert_int_eq(seen->n, 1);
    ck_assert_int_eq(seen->verdict, IPCKIT_STALE_REMOVED);
    ck_assert_msg(strstr(seen->why, "which is gone") != NULL, "%s", seen->why);
    seen = companion_judged(stale_path, name, IPCKIT_STALE_DRY_RUN);
    ck_assert_int_eq(seen->n, 1);
    ck_assert_int_eq(seen->verdict, IPCKIT_STALE_REMOVED);
    ck_assert_int_eq(access(stale_path, F_OK), 0);

    if (geteuid() == 0) {
        ck_assert_int_eq(tk_wait(tk_fork(stale_as_nobody, name), LONG_WAIT), 0);
        ck_assert_int_eq(access(stale_path, F_OK), 0);
    }

    seen = companion_judged(stale_path, name, 0);
    ck_assert_int_eq(seen->n, 1);
    ck_assert_int_eq(seen->verdict, IPCKIT_STALE_REMOVED);
    ck_assert_msg(access(stale_path, F_OK) < 0, "%s is still there", stale_path);
    ck_assert_int_eq(tk_count_records(), 0); /* its record went too */
}
END_TEST

/* The record goes with the queue when an open fails after it created the
 * queue. (With ipckit_unlink(): conformance.mq, creator_records.) */
START_TEST(creator_record_removed_with_queue)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *ch = NULL;
    /* created, recorded, then refused (-EMSGSIZE): queue and record go */
    new_name();
    o.max_msg_size = (size_t) INT_MAX;
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, &o),
                     -EMSGSIZE);
    ck_assert(!queue_exists(key));
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
    remove_ok(name);
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
    remove_ok(name);
    ck_assert_int_eq(access(planted, F_OK), -1);
}
END_TEST

/* A record for another queue (key, id, creation time) is not trusted: the
 * creator is unknown. (Records that are short, garbled or no plain file:
 * conformance.mq.) */
START_TEST(bad_records_are_not_trusted)
{
    char other_key[16], other_id[16];
    ipckit_channel *ch = create_ok();
    static const char *idents[8];
    (void) snprintf(other_key, sizeof other_key, "0x%08x", (unsigned) key ^ 1u);
    (void) snprintf(other_id, sizeof other_id, "%d", msgget(key, 0) + 1);
    idents[0] = "key";
    idents[1] = other_key;
    idents[2] = "id";
    idents[3] = other_id;
    idents[4] = "ctime";
    idents[5] = "1";
    tk_check_record_refusals(name, idents, TK_REC_IDENTS);
    ipckit_close(ch);
    remove_ok(name);
}
END_TEST

/* ---- a sender that is not ipckit ---------------------------------------------------- */

START_TEST(raw_peer_interop)
{
    ipckit_channel *ch = create_ok();
    struct {
        long mtype;
        char mtext[32];
    } m;
    char buf[32];
    long t = 0;
    int id = msgget(key, 0);
    ck_assert_int_ge(id, 0);
    m.mtype = 42;
    memcpy(m.mtext, "raw\0bytes\xff", 10);
    ck_assert_int_eq(msgsnd(id, &m, 10, 0), 0);
    ck_assert_int_eq(ipckit_recv_typed(ch, 0, &t, buf, sizeof buf, 0), 10);
    ck_assert_int_eq(t, 42);
    ck_assert_mem_eq(buf, "raw\0bytes\xff", 10);
    ck_assert_int_eq(ipckit_send_typed(ch, 6, "back", 4, 0), 0);
    memset(&m, 0, sizeof m);
    ck_assert_int_eq(msgrcv(id, &m, sizeof m.mtext, 0, IPC_NOWAIT), 4);
    ck_assert_int_eq(m.mtype, 6);
    ck_assert_mem_eq(m.mtext, "back", 4);
    ipckit_close(ch);
    remove_ok(name);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("sysv_mq");
    TCase *tc = tk_tcase("basics", 30);
    tcase_add_test(tc, caps_and_limits);
    tcase_add_test(tc, names_decimal_hex_and_ftok);
    tcase_add_test(tc, bad_names_and_flags);
    tcase_add_test(tc, wrong_permissions);
    tcase_add_test(tc, raw_peer_interop);
    suite_add_tcase(s, tc);

    tc = tk_tcase("sizes", 30);
    tcase_add_test(tc, capacity_sets_queue_limit);
    tcase_add_test(tc, small_buffer_keeps_message);
    tcase_add_test(tc, small_buffer_long_queue_is_bounded);
    tcase_add_test(tc, truncate_option);
    suite_add_tcase(s, tc);

    tc = tk_tcase("waiting", 60);
    tcase_add_test(tc, recv_timeouts);
    tcase_add_test(tc, timed_wait_uses_little_cpu);
    tcase_add_test(tc, removed_while_blocked_in_recv);
    tcase_add_test(tc, removed_while_timed_recv);
    tcase_add_test(tc, removed_while_blocked_in_send);
    tcase_add_test(tc, removed_while_timed_send);
    tcase_add_test(tc, timed_recv_sleeps_until_sent);
    tcase_add_test(tc, timed_send_sleeps_until_room);
    tcase_add_test(tc, timed_wait_sees_raw_peers);
    tcase_add_test(tc, peers_parameter);
    tcase_add_test(tc, untrusted_companion_is_not_written);
    suite_add_tcase(s, tc);

    tc = tk_tcase("processes", 60);
    tcase_add_test(tc, stat_reports_queue);
    tcase_add_test(tc, creator_record_removed_with_queue);
    tcase_add_test(tc, orphan_records_do_not_pile_up);
    tcase_add_test(tc, companion_goes_with_queue_removed_behind_back);
    tcase_add_test(tc, creation_sweeps_orphan_companions);
    tcase_add_test(tc, remove_stale_sweeps_orphan_companions);
    tcase_add_test(tc, foreign_record_is_left_alone);
    tcase_add_test(tc, bad_records_are_not_trusted);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tk_run(suite());
}
