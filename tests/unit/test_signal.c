/*
 * Tests of the signal API (send, queue, wait, dispatcher) and of what only
 * the signal: backend does (payload and type limits, signal numbers, the
 * mask, senders in the receiver's own process, foreign signals, the
 * kernel's queue), with real processes and threads. The channel contract
 * over signal: (types, small buffers, timeouts, fork, the descriptor, ...)
 * is the conformance suite's (conformance.signal). Every test runs in its
 * own process (Check's fork mode), so masks set here do not leak.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ipckit/ipckit.h>

#include "testkit.h"

#define LONG_WAIT 20000

/* ---- helpers ------------------------------------------------------------------ */

struct record {
    int n;
    ipckit_siginfo si[256];
};

static void
record_cb(const ipckit_siginfo *si, void *arg)
{
    struct record *r = arg;
    if (r->n < 256)
        r->si[r->n] = *si;
    r->n++;
}

static int
is_blocked(int signo)
{
    sigset_t cur;
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, NULL, &cur), 0);
    return sigismember(&cur, signo);
}

static ipckit_channel *
open_ok(const char *n, unsigned flags, const ipckit_opts *o)
{
    ipckit_channel *ch = NULL;
    int rc = ipckit_open(&ch, n, flags, o);
    ck_assert_msg(rc == 0, "open %s: %s (%s)", n, ipckit_errname(rc), ipckit_error_detail());
    return ch;
}

/* True when this process has a handler for @p signo (SigCgt). */
static int
caught_here(int signo)
{
    char line[256];
    unsigned long long cgt = 0;
    FILE *fp = fopen("/proc/self/status", "re");
    ck_assert_ptr_nonnull(fp);
    while (fgets(line, sizeof line, fp) != NULL)
        if (sscanf(line, "SigCgt: %llx", &cgt) == 1)
            break;
    (void) fclose(fp);
    return (cgt >> (signo - 1)) & 1;
}

static int
exit_zero(void *arg)
{
    (void) arg;
    return 0;
}

/* Wait until the gate @p arg opens (neither blocking nor catching a signal). */
static int
wait_for_gate(void *arg)
{
    return tk_gate_wait(arg, LONG_WAIT) == 0 ? 0 : 1;
}

/* The same, after telling the parent through the gate deaf_ready that it
 * runs: a child that has just been forked may still have every signal
 * blocked (ThreadSanitizer's fork does), and so look like a listener. */
static tk_gate deaf_ready;

static int
deaf_child(void *arg)
{
    tk_gate_open(&deaf_ready);
    return wait_for_gate(arg);
}

static void
on_signal(int signo)
{
    (void) signo;
}

/* ---- signal API ------------------------------------------------------------------- */

START_TEST(parse_names_and_numbers)
{
    int s = 0;
    ck_assert_int_eq(ipckit_signal_parse("SIGINT", &s), 0);
    ck_assert_int_eq(s, SIGINT);
    ck_assert_int_eq(ipckit_signal_parse("usr1", &s), 0);
    ck_assert_int_eq(s, SIGUSR1);
    ck_assert_int_eq(ipckit_signal_parse("15", &s), 0);
    ck_assert_int_eq(s, 15);
    ck_assert_int_eq(ipckit_signal_parse("SIGRTMIN+3", &s), 0);
    ck_assert_int_eq(s, SIGRTMIN + 3);
    ck_assert_int_eq(ipckit_signal_parse("rtmax-1", &s), 0);
    ck_assert_int_eq(s, SIGRTMAX - 1);
    ck_assert_int_eq(ipckit_signal_parse("RTMIN", &s), 0);
    ck_assert_int_eq(s, SIGRTMIN);
    ck_assert_int_eq(ipckit_signal_parse("SIGRTMAX+1", &s), -EINVAL);
    ck_assert_int_eq(ipckit_signal_parse("SIGRTMIN-1", &s), -EINVAL);
    ck_assert_int_eq(ipckit_signal_parse("0", &s), -EINVAL);
    ck_assert_int_eq(ipckit_signal_parse("65", &s), -EINVAL);
    ck_assert_int_eq(ipckit_signal_parse("SIGNOPE", &s), -EINVAL);
    ck_assert_int_eq(ipckit_signal_parse("RTMIN+", &s), -EINVAL);
    ck_assert_int_eq(ipckit_signal_parse("2x", &s), -EINVAL);
    ck_assert(strstr(ipckit_error_detail(), "2x") != NULL);
}
END_TEST

static int
queue_to_parent(void *arg)
{
    (void) arg;
    TK_CHILD_CHECK(ipckit_signal_queue(getppid(), SIGRTMIN + 1, (intptr_t) getpid()) == 0);
    return 0;
}

START_TEST(dispatcher_values_sender_and_order)
{
    struct record r1 = { 0 }, r2 = { 0 }, rt = { 0 };
    ipckit_sigdisp *d = NULL;
    long long t0;
    pid_t child;
    int rc, total = 0;

    ck_assert_int_eq(ipckit_sigdisp_open(&d, 0), 0);
    ck_assert_int_eq(ipckit_sigdisp_on(d, SIGUSR1, record_cb, &r1), 0);
    ck_assert_int_eq(ipckit_sigdisp_on(d, SIGUSR2, record_cb, &r2), 0);
    ck_assert_int_eq(ipckit_sigdisp_on(d, SIGRTMIN + 1, record_cb, &rt), 0);
    ck_assert(is_blocked(SIGUSR1) && is_blocked(SIGUSR2) && is_blocked(SIGRTMIN + 1));

    ck_assert_int_eq(ipckit_sigdisp_dispatch(d, 0), -EAGAIN);
    ck_assert_int_eq(ipckit_signal_send(getpid(), SIGUSR1), 0);
    ck_assert_int_eq(ipckit_signal_queue(getpid(), SIGUSR2, (intptr_t) 0x0123456789abcdefLL), 0);
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(ipckit_signal_queue(getpid(), SIGRTMIN + 1, 1000 + i), 0);
    child = tk_fork(queue_to_parent, NULL);
    ck_assert_int_eq(tk_wait(child, LONG_WAIT), 0);

    while (total < 103 && (rc = ipckit_sigdisp_dispatch(d, LONG_WAIT)) > 0)
        total += rc;
    ck_assert_int_eq(total, 103);
    ck_assert_int_eq(ipckit_sigdisp_dispatch(d, 0), -EAGAIN);

    ck_assert_int_eq(r1.n, 1);
    ck_assert_int_eq(r1.si[0].signo, SIGUSR1);
    ck_assert_int_eq(r1.si[0].code, SI_USER);
    ck_assert_int_eq(r1.si[0].pid, getpid());
    ck_assert_int_eq(r1.si[0].uid, getuid());
    ck_assert_int_eq(r1.si[0].value, 0);
    ck_assert_int_eq(r2.n, 1);
    ck_assert_int_eq(r2.si[0].code, SI_QUEUE);
    ck_assert(r2.si[0].value == (intptr_t) 0x0123456789abcdefLL);
    ck_assert_int_eq(r2.si[0].value_int, (int) (0x0123456789abcdefLL & 0xffffffff));
    /* real-time signals: all of them, in the order they were queued */
    ck_assert_int_eq(rt.n, 101);
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(rt.si[i].value, 1000 + i);
        ck_assert_int_eq(rt.si[i].pid, getpid());
    }
    ck_assert_int_eq(rt.si[100].pid, child);
    ck_assert_int_eq(rt.si[100].value, child);

    t0 = tk_now_ms();
    ck_assert_int_eq(ipckit_sigdisp_dispatch(d, 150), -ETIMEDOUT);
    ck_assert_int_ge(tk_now_ms() - t0, 140);
    ck_assert_int_lt(tk_now_ms() - t0, 10000);
    ck_assert_int_eq(ipckit_sigdisp_close(d), 0);
}
END_TEST

START_TEST(dispatcher_restores_mask_and_fd_polls)
{
    struct record a = { 0 }, b = { 0 };
    ipckit_sigdisp *d = NULL;
    struct pollfd p;
    sigset_t one;
    int fd;

    /* The caller blocked SIGUSR2 itself: it must stay blocked after close. */
    (void) sigemptyset(&one);
    (void) sigaddset(&one, SIGUSR2);
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &one, NULL), 0);
    ck_assert(!is_blocked(SIGUSR1));

    ck_assert_int_eq(ipckit_sigdisp_open(&d, 0), 0);
    fd = ipckit_sigdisp_fd(d);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ipckit_sigdisp_dispatch(d, -1), -ENOENT);
    ck_assert_int_eq(ipckit_sigdisp_on(d, SIGUSR1, record_cb, &a), 0);
    ck_assert_int_eq(ipckit_sigdisp_on(d, SIGUSR2, record_cb, &a), 0);
    ck_assert(is_blocked(SIGUSR1));
    /* registering again replaces the callback */
    ck_assert_int_eq(ipckit_sigdisp_on(d, SIGUSR1, record_cb, &b), 0);

    p.fd = fd;
    p.events = POLLIN;
    ck_assert_int_eq(poll(&p, 1, 0), 0);
    ck_assert_int_eq(ipckit_signal_send(getpid(), SIGUSR1), 0);
    ck_assert_int_eq(poll(&p, 1, LONG_WAIT), 1);
    ck_assert(p.revents & POLLIN);
    ck_assert_int_eq(ipckit_sigdisp_dispatch(d, 0), 1);
    ck_assert_int_eq(a.n, 0);
    ck_assert_int_eq(b.n, 1);
    ck_assert_int_eq(poll(&p, 1, 0), 0);

    ck_assert_int_eq(ipckit_sigdisp_off(d, SIGUSR1), 0);
    ck_assert(!is_blocked(SIGUSR1));
    ck_assert_int_eq(ipckit_sigdisp_off(d, SIGUSR1), -ENOENT);
    ck_assert_int_eq(ipckit_sigdisp_on(d, SIGUSR1, record_cb, &a), 0);
    ck_assert_int_eq(ipckit_sigdisp_close(d), 0);
    ck_assert(!is_blocked(SIGUSR1));
    ck_assert(is_blocked(SIGUSR2));
    ck_assert_int_eq(ipckit_sigdisp_close(NULL), 0);
}
END_TEST

START_TEST(dispatcher_refuses_what_it_cannot_do)
{
    struct record r = { 0 };
    ipckit_sigdisp *d = NULL, *d2 = NULL;
    ipckit_channel *ch = NULL;
    char name[64];

    ck_assert_int_eq(ipckit_sigdisp_open(NULL, 0), -EINVAL);
    ck_assert_int_eq(ipckit_sigdisp_open(&d, 1), -EINVAL);
    ck_assert_int_eq(ipckit_sigdisp_open(&d, 0), 0);
    ck_assert_int_eq(ipckit_sigdisp_on(d, SIGKILL, record_cb, &r), -EINVAL);
    ck_assert_int_eq(ipckit_sigdisp_on(d, SIGSTOP, record_cb, &r), -EINVAL);
    ck_assert_int_eq(ipckit_sigdisp_on(d, SIGSEGV, record_cb, &r), -EINVAL);
    ck_assert_int_eq(ipckit_sigdisp_on(d, 0, record_cb, &r), -EINVAL);
    ck_assert_int_eq(ipckit_sigdisp_on(d, SIGRTMAX + 1, record_cb, &r), -EINVAL);
    ck_assert_int_eq(ipckit_sigdisp_on(d, SIGUSR1, NULL, &r), -EINVAL);
    ck_assert(!is_blocked(SIGSEGV));

    /* one owner per signal and process: a second dispatcher or a channel is refused */
    ck_assert_int_eq(ipckit_sigdisp_on(d, SIGRTMIN + 4, record_cb, &r), 0);
    ck_assert_int_eq(ipckit_sigdisp_open(&d2, 0), 0);
    ck_assert_int_eq(ipckit_sigdisp_on(d2, SIGRTMIN + 4, record_cb, &r), -EBUSY);
    (void) snprintf(name, sizeof name, "signal:self?signo=%d", SIGRTMIN + 4);
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV, NULL), -EBUSY);
    ck_assert(strstr(ipckit_error_detail(), "already handled") != NULL);
    ck_assert_int_eq(ipckit_sigdisp_close(d), 0);
    ck_assert_int_eq(ipckit_sigdisp_on(d2, SIGRTMIN + 4, record_cb, &r), 0);
    ck_assert_int_eq(ipckit_sigdisp_close(d2), 0);
    ch = open_ok(name, IPCKIT_RECV, NULL);
    ck_assert_int_eq(ipckit_close(ch), 0);

    ck_assert_int_eq(ipckit_signal_send(0, SIGUSR1), -EINVAL);
    ck_assert_int_eq(ipckit_signal_send(-1, SIGUSR1), -EINVAL);
    ck_assert_int_eq(ipckit_signal_send(getpid(), 99), -EINVAL);
    ck_assert_int_eq(ipckit_signal_queue(getpid(), 0, 1), -EINVAL);
    ck_assert_int_eq(ipckit_signal_send(getpid(), 0), 0);
}
END_TEST

START_TEST(wait_takes_a_blocked_signal)
{
    ipckit_siginfo si;
    sigset_t set;
    long long t0;

    (void) sigemptyset(&set);
    (void) sigaddset(&set, SIGUSR1);
    (void) sigaddset(&set, SIGRTMIN + 2);
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
    ck_assert_int_eq(ipckit_signal_wait(&set, &si, 0), -EAGAIN);
    t0 = tk_now_ms();
    ck_assert_int_eq(ipckit_signal_wait(&set, &si, 120), -ETIMEDOUT);
    ck_assert_int_ge(tk_now_ms() - t0, 110);
    ck_assert_int_eq(ipckit_signal_queue(getpid(), SIGRTMIN + 2, -7), 0);
    ck_assert_int_eq(ipckit_signal_wait(&set, &si, LONG_WAIT), SIGRTMIN + 2);
    ck_assert_int_eq(si.code, SI_QUEUE);
    ck_assert_int_eq(si.value, -7);
    ck_assert_int_eq(si.pid, getpid());
    ck_assert_int_eq(ipckit_signal_wait(NULL, &si, 0), -EINVAL);
    ck_assert_int_eq(ipckit_signal_wait(&set, &si, -2), -EINVAL);
}
END_TEST

/* ---- who sent it ------------------------------------------------------------------ */

/*
 * Queue @p signo to @p pid with rt_sigqueueinfo(), writing the siginfo
 * ourselves: code @p code, and a sender of our choosing (pid 1, uid 0).
 * Returns the system call's result (-1 and errno on failure).
 */
static long
forge(pid_t pid, int signo, int code, int value)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = signo;
    si.si_code = code;
    si.si_pid = 1;
    si.si_uid = 0;
    si.si_value.sival_int = value;
    return syscall(SYS_rt_sigqueueinfo, (long) pid, (long) signo, &si);
}

static int
kill_parent(void *arg)
{
    (void) arg;
    TK_CHILD_CHECK(ipckit_signal_send(getppid(), SIGUSR1) == 0);
    return 0;
}

static int
tgkill_parent(void *arg)
{
    pid_t parent = getppid();
    (void) arg;
    TK_CHILD_CHECK(syscall(SYS_tgkill, (long) parent, (long) parent, (long) SIGUSR2) == 0);
    return 0;
}

static int
forge_to_parent(void *arg)
{
    pid_t parent = getppid();
    (void) arg;
    /* The kernel refuses the codes it writes itself, even from root... */
    TK_CHILD_CHECK(forge(parent, SIGRTMIN + 1, SI_USER, 1) == -1 && errno == EPERM);
    TK_CHILD_CHECK(forge(parent, SIGRTMIN + 1, SI_TKILL, 1) == -1 && errno == EPERM);
    TK_CHILD_CHECK(forge(parent, SIGRTMIN + 1, SI_KERNEL, 1) == -1 && errno == EPERM);
    TK_CHILD_CHECK(forge(parent, SIGRTMIN + 1, CLD_EXITED, 1) == -1 && errno == EPERM);
    /* ...and takes SI_QUEUE with whatever sender it carries. */
    TK_CHILD_CHECK(forge(parent, SIGRTMIN + 1, SI_QUEUE, 77) == 0);
    TK_CHILD_CHECK(forge(parent, SIGRTMIN + 2, SI_QUEUE, 78) == 0);
    return 0;
}

/*
 * The sender's pid and uid of a kill() or tgkill() are the kernel's; those of
 * a signal queued with rt_sigqueueinfo() are whatever the sender wrote, here
 * pid 1 and uid 0, and ipckit_siginfo_sender_verified() says so, for the
 * dispatcher and for ipckit_signal_wait().
 */
START_TEST(dispatcher_tells_kernel_sender_from_claimed)
{
    struct record usr1 = { 0 }, usr2 = { 0 }, rt = { 0 }, chld = { 0 };
    ipckit_sigdisp *d = NULL;
    ipckit_siginfo si;
    sigset_t set;
    pid_t killer, tgkiller, forger;

    ck_assert_int_eq(ipckit_sigdisp_open(&d, 0), 0);
    ck_assert_int_eq(ipckit_sigdisp_on(d, SIGUSR1, record_cb, &usr1), 0);
    ck_assert_int_eq(ipckit_sigdisp_on(d, SIGUSR2, record_cb, &usr2), 0);
    ck_assert_int_eq(ipckit_sigdisp_on(d, SIGRTMIN + 1, record_cb, &rt), 0);
    ck_assert_int_eq(ipckit_sigdisp_on(d, SIGCHLD, record_cb, &chld), 0);
    (void) sigemptyset(&set);
    (void) sigaddset(&set, SIGRTMIN + 2);
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);

    killer = tk_fork(kill_parent, NULL);
    ck_assert_int_eq(tk_wait(killer, LONG_WAIT), 0);
    tgkiller = tk_fork(tgkill_parent, NULL);
    ck_assert_int_eq(tk_wait(tgkiller, LONG_WAIT), 0);
    forger = tk_fork(forge_to_parent, NULL);
    ck_assert_int_eq(tk_wait(forger, LONG_WAIT), 0);

    while ((usr1.n == 0 || usr2.n == 0 || rt.n == 0 || chld.n == 0) &&
           ipckit_sigdisp_dispatch(d, LONG_WAIT) > 0)
        ;
    ck_assert_int_eq(usr1.n, 1);
    ck_assert_int_eq(usr1.si[0].code, SI_USER);
    ck_assert_int_eq(usr1.si[0].pid, killer);
    ck_assert_int_eq(usr1.si[0].uid, getuid());
    ck_assert(ipckit_siginfo_sender_verified(&usr1.si[0]));

    ck_assert_int_eq(usr2.n, 1);
    ck_assert_int_eq(usr2.si[0].code, SI_TKILL);
    ck_assert_int_eq(usr2.si[0].pid, tgkiller);
    ck_assert_int_eq(usr2.si[0].uid, getuid());
    ck_assert(ipckit_siginfo_sender_verified(&usr2.si[0]));

    /* the forged one: reported as it claims, and not verified */
    ck_assert_int_eq(rt.n, 1);
    ck_assert_int_eq(rt.si[0].code, SI_QUEUE);
    ck_assert_int_eq(rt.si[0].pid, 1);
    ck_assert_int_eq(rt.si[0].uid, 0);
    ck_assert_int_eq(rt.si[0].value_int, 77);
    ck_assert(!ipckit_siginfo_sender_verified(&rt.si[0]));

    /* from the kernel: verified, and no process named */
    ck_assert_int_ge(chld.n, 1);
    ck_assert_int_eq(chld.si[0].code, CLD_EXITED);
    ck_assert_int_eq(chld.si[0].pid, 0);
    ck_assert(ipckit_siginfo_sender_verified(&chld.si[0]));

    ck_assert_int_eq(ipckit_signal_wait(&set, &si, LONG_WAIT), SIGRTMIN + 2);
    ck_assert_int_eq(si.code, SI_QUEUE);
    ck_assert_int_eq(si.pid, 1);
    ck_assert_int_eq(si.value_int, 78);
    ck_assert(!ipckit_siginfo_sender_verified(&si));
    ck_assert(!ipckit_siginfo_sender_verified(NULL));
    ck_assert_int_eq(ipckit_sigdisp_close(d), 0);
}
END_TEST

/*
 * Fork: the child inherits the mask and the dispatcher, not the pending
 * signals. The parent leaves one SIGUSR1 pending, forks, and then signals
 * the child: the child dispatches only what was sent to it.
 */
struct fork_args {
    ipckit_sigdisp *d;
    struct record *r;
    tk_gate ready, go;
};

static int
fork_child(void *arg)
{
    struct fork_args *a = arg;
    sigset_t pending;
    int got = 0, rc;

    TK_CHILD_CHECK(is_blocked(SIGUSR1) && is_blocked(SIGRTMIN + 1));
    TK_CHILD_CHECK(sigpending(&pending) == 0 && !sigismember(&pending, SIGUSR1));
    TK_CHILD_CHECK(ipckit_sigdisp_dispatch(a->d, 0) == -EAGAIN);
    a->r->n = 0;
    tk_gate_open(&a->ready);
    while (got < 3 && (rc = ipckit_sigdisp_dispatch(a->d, LONG_WAIT)) > 0)
        got += rc;
    TK_CHILD_CHECK(got == 3);
    TK_CHILD_CHECK(a->r->n == 3);
    for (int i = 0; i < 3; i++) {
        TK_CHILD_CHECK(a->r->si[i].signo == SIGRTMIN + 1);
        TK_CHILD_CHECK(a->r->si[i].value == 70 + i);
        TK_CHILD_CHECK(a->r->si[i].pid == getppid());
    }
    /* Changing the set in the child must not change the parent's signalfd. */
    TK_CHILD_CHECK(ipckit_sigdisp_off(a->d, SIGUSR1) == 0);
    TK_CHILD_CHECK(!is_blocked(SIGUSR1));
    TK_CHILD_CHECK(ipckit_sigdisp_close(a->d) == 0);
    TK_CHILD_CHECK(!is_blocked(SIGRTMIN + 1));
    return 0;
}

START_TEST(fork_inherits_mask_and_dispatcher_not_pending)
{
    static struct record r;
    struct fork_args a = { NULL, &r, { { -1, -1 } }, { { -1, -1 } } };
    sigset_t pending;
    pid_t pid;

    ck_assert_int_eq(ipckit_sigdisp_open(&a.d, 0), 0);
    ck_assert_int_eq(ipckit_sigdisp_on(a.d, SIGUSR1, record_cb, &r), 0);
    ck_assert_int_eq(ipckit_sigdisp_on(a.d, SIGRTMIN + 1, record_cb, &r), 0);
    ck_assert_int_eq(ipckit_signal_send(getpid(), SIGUSR1), 0);
    ck_assert_int_eq(sigpending(&pending), 0);
    ck_assert(sigismember(&pending, SIGUSR1));
    tk_gate_init(&a.ready);
    pid = tk_fork(fork_child, &a);
    ck_assert_int_eq(tk_gate_wait(&a.ready, LONG_WAIT), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(ipckit_signal_queue(pid, SIGRTMIN + 1, 70 + i), 0);
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    /* the parent's own pending SIGUSR1 is still there, and only that */
    ck_assert_int_eq(ipckit_sigdisp_dispatch(a.d, 0), 1);
    ck_assert_int_eq(r.n, 1);
    ck_assert_int_eq(r.si[0].signo, SIGUSR1);
    ck_assert_int_eq(ipckit_sigdisp_dispatch(a.d, 0), -EAGAIN);
    tk_gate_close(&a.ready);
    ck_assert_int_eq(ipckit_sigdisp_close(a.d), 0);
}
END_TEST

/*
 * execve: the new program keeps the mask (the signal stays blocked) but not
 * the signalfd (close-on-exec). Checked by a shell in the exec'd child.
 */
struct exec_args {
    int fd;
    unsigned long long bit;
};

static int
exec_child(void *arg)
{
    struct exec_args *a = arg;
    char script[512];
    (void) snprintf(script, sizeof script,
                    "m=$(sed -n 's/^SigBlk:[[:space:]]*//p' /proc/$$/status); "
                    "[ $(( 0x$m & %llu )) -ne 0 ] || exit 3; "
                    "[ ! -e /proc/$$/fd/%d ] || exit 4; exit 0",
                    a->bit, a->fd);
    execl("/bin/sh", "sh", "-c", script, (char *) NULL);
    return 98;
}

START_TEST(exec_keeps_mask_closes_signalfd)
{
    static struct record r;
    struct exec_args a;
    ipckit_sigdisp *d = NULL;
    pid_t pid;

    ck_assert_int_eq(ipckit_sigdisp_open(&d, 0), 0);
    ck_assert_int_eq(ipckit_sigdisp_on(d, SIGUSR2, record_cb, &r), 0);
    a.fd = ipckit_sigdisp_fd(d);
    a.bit = 1ull << (SIGUSR2 - 1);
    pid = tk_fork(exec_child, &a);
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    /* the check can fail: without the dispatcher, the mask test fails */
    ck_assert_int_eq(ipckit_sigdisp_close(d), 0);
    pid = tk_fork(exec_child, &a);
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 3);
}
END_TEST

/* ---- threads: the signalfd pitfall ------------------------------------------------- */

static void *
thread_queue_to_process(void *arg)
{
    (void) arg;
    /* process-directed signals, sent from a thread that inherited the mask */
    for (int i = 0; i < 50; i++)
        if (ipckit_signal_queue(getpid(), SIGRTMIN + 3, i) != 0)
            return (void *) 1;
    if (!is_blocked(SIGRTMIN + 3))
        return (void *) 2;
    return NULL;
}

START_TEST(thread_created_after_setup_inherits_the_mask)
{
    static struct record r;
    ipckit_sigdisp *d = NULL;
    pthread_t t;
    void *ret;
    int rc, got = 0;

    ck_assert_int_eq(ipckit_sigdisp_open(&d, 0), 0);
    ck_assert_int_eq(ipckit_sigdisp_on(d, SIGRTMIN + 3, record_cb, &r), 0);
    ck_assert_int_eq(pthread_create(&t, NULL, thread_queue_to_process, NULL), 0);
    while (got < 50 && (rc = ipckit_sigdisp_dispatch(d, LONG_WAIT)) > 0)
        got += rc;
    ck_assert_int_eq(pthread_join(t, &ret), 0);
    ck_assert_ptr_null(ret);
    ck_assert_int_eq(got, 50);
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(r.si[i].value, i);
    ck_assert_int_eq(ipckit_sigdisp_close(d), 0);
}
END_TEST

struct two_gates {
    tk_gate started, go;
};

static void *
thread_wait_on_gate(void *arg)
{
    struct two_gates *g = arg;
    tk_gate_open(&g->started);
    (void) tk_gate_wait(&g->go, LONG_WAIT);
    return NULL;
}

START_TEST(thread_created_before_setup_is_refused)
{
    static struct record r;
    ipckit_sigdisp *d = NULL;
    ipckit_channel *ch = NULL;
    struct two_gates g;
    pthread_t t;
    sigset_t one;

    tk_gate_init(&g.started);
    tk_gate_init(&g.go);
    /* This thread leaves SIGUSR1 and SIGRTMIN+4 unblocked: it would take them. */
    ck_assert_int_eq(pthread_create(&t, NULL, thread_wait_on_gate, &g), 0);
    /* glibc starts a thread with every signal blocked and sets its mask once
     * it runs: wait until it does. */
    ck_assert_int_eq(tk_gate_wait(&g.started, LONG_WAIT), 0);
    ck_assert_int_eq(ipckit_sigdisp_open(&d, 0), 0);
    ck_assert_int_eq(ipckit_sigdisp_on(d, SIGUSR1, record_cb, &r), -EBUSY);
    ck_assert(strstr(ipckit_error_detail(), "before creating threads") != NULL);
    ck_assert(!is_blocked(SIGUSR1)); /* nothing changed */
    ck_assert_int_eq(ipckit_open(&ch, "signal:self", IPCKIT_RECV, NULL), -EBUSY);
    ck_assert(!is_blocked(SIGRTMIN + 4));
    tk_gate_open(&g.go);
    ck_assert_int_eq(pthread_join(t, NULL), 0);

    /* Blocking it in the main thread first, then creating the thread, works. */
    (void) sigemptyset(&one);
    (void) sigaddset(&one, SIGUSR1);
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &one, NULL), 0);
    ck_assert_int_eq(pthread_create(&t, NULL, thread_wait_on_gate, &g), 0);
    ck_assert_int_eq(tk_gate_wait(&g.started, LONG_WAIT), 0);
    ck_assert_int_eq(ipckit_sigdisp_on(d, SIGUSR1, record_cb, &r), 0);
    tk_gate_open(&g.go);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(ipckit_sigdisp_close(d), 0);
    ck_assert(is_blocked(SIGUSR1)); /* it was blocked before: stays blocked */
    tk_gate_close(&g.started);
    tk_gate_close(&g.go);
}
END_TEST

/* ---- the signal: channel ------------------------------------------------------------ */

/* A message is one signal: up to sizeof(void *) - 2 bytes, each length with
 * its type, nothing written past it. The receiver blocks the default signal
 * while it is open. (Types, limits, small buffers, timeouts, the
 * descriptor: conformance.signal.) */
START_TEST(channel_loopback_sizes_types_limits)
{
    ipckit_channel *ch = open_ok("signal:self", IPCKIT_SEND | IPCKIT_RECV, NULL);
    unsigned char msg[8] = { 0xff, 0x00, 0x80, 0x7f, 0x01, 0xfe, 0x55, 0xaa }, buf[16];
    long type = 0;

    ck_assert_uint_eq(ipckit_max_msg_size(ch), sizeof(void *) - 2);
    ck_assert(is_blocked(SIGRTMIN + 4)); /* the documented default */
    for (size_t len = 0; len <= 6; len++) {
        ck_assert_int_eq(ipckit_send_typed(ch, (long) (len * 40 + 1), msg, len, 0), 0);
    }
    for (size_t len = 0; len <= 6; len++) {
        memset(buf, 0xee, sizeof buf);
        ck_assert_int_eq(ipckit_recv_typed(ch, 0, &type, buf, sizeof buf, 0), (ssize_t) len);
        ck_assert_int_eq(type, (long) (len * 40 + 1));
        ck_assert_mem_eq(buf, msg, len);
        ck_assert_uint_eq(buf[len], 0xee);
    }
    ck_assert_int_eq(ipckit_close(ch), 0);
    ck_assert(!is_blocked(SIGRTMIN + 4));
}
END_TEST

START_TEST(channel_names_and_options)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *ch = NULL;
    char name[64];
    pid_t gone;

    ch = open_ok("signal:self?signo=SIGRTMIN%2B2", IPCKIT_RECV, NULL);
    ck_assert(is_blocked(SIGRTMIN + 2) && !is_blocked(SIGRTMIN + 4));
    ck_assert_int_eq(ipckit_close(ch), 0);
    (void) snprintf(name, sizeof name, "signal:self?signo=%d", SIGRTMAX);
    ch = open_ok(name, IPCKIT_RECV | IPCKIT_CREATE, NULL);
    ck_assert(is_blocked(SIGRTMAX));
    ck_assert_int_eq(ipckit_close(ch), 0);
    o.signo = SIGRTMIN + 5;
    ch = open_ok("signal:self", IPCKIT_RECV, &o);
    ck_assert(is_blocked(SIGRTMIN + 5));
    ck_assert_int_eq(ipckit_close(ch), 0);
    ck_assert(!is_blocked(SIGRTMIN + 5));
    (void) snprintf(name, sizeof name, "signal:self?signo=%d", SIGRTMIN + 5);
    ch = open_ok(name, IPCKIT_RECV, &o); /* both, agreeing */
    ck_assert_int_eq(ipckit_close(ch), 0);
    o.signo = SIGRTMIN + 6;
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV, &o), -EINVAL);
    ck_assert(strstr(ipckit_error_detail(), "opts->signo") != NULL);
    o.signo = 0;

    ck_assert_int_eq(ipckit_open(&ch, "signal:self?signo=SIGUSR1", IPCKIT_RECV, NULL), -EINVAL);
    ck_assert(strstr(ipckit_error_detail(), "not a real-time signal") != NULL);
    ck_assert_int_eq(ipckit_open(&ch, "signal:self?signo=bogus", IPCKIT_RECV, NULL), -EINVAL);
    ck_assert_int_eq(ipckit_open(&ch, "signal:self?size=1", IPCKIT_RECV, NULL), -EINVAL);
    ck_assert_int_eq(ipckit_open(&ch, "signal:1", IPCKIT_RECV, NULL), -EINVAL);
    ck_assert_int_eq(ipckit_open(&ch, "signal:abc", IPCKIT_SEND, NULL), -EINVAL);
    ck_assert_int_eq(ipckit_open(&ch, "signal:-5", IPCKIT_SEND, NULL), -EINVAL);
    ck_assert_int_eq(ipckit_open(&ch, "signal:0", IPCKIT_SEND, NULL), -EINVAL);
    gone = tk_fork(exit_zero, NULL); /* a pid that no longer exists */
    ck_assert_int_ge(tk_wait(gone, LONG_WAIT), 0);
    (void) snprintf(name, sizeof name, "signal:%ld", (long) gone);
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND, NULL), -ENOENT);
    /* Another process that does not listen on the signal: wait for it, then
     * time out. (Under valgrind, which catches every signal itself, every
     * process always "listens".) This process itself is refused at once:
     * channel_self_sender_fails_fast. */
    if (!caught_here(SIGRTMIN + 4)) {
        tk_gate idle;
        pid_t deaf;
        tk_gate_init(&idle);
        tk_gate_init(&deaf_ready);
        deaf = tk_fork(deaf_child, &idle);
        ck_assert_int_eq(tk_gate_wait(&deaf_ready, LONG_WAIT), 0);
        tk_gate_close(&deaf_ready);
        (void) snprintf(name, sizeof name, "signal:%ld", (long) deaf);
        ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_NONBLOCK, NULL), -EAGAIN);
        o.open_timeout_ms = 100;
        ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND, &o), -ETIMEDOUT);
        ck_assert(strstr(ipckit_error_detail(), "neither blocks nor catches") != NULL);
        o.open_timeout_ms = -1;
        tk_gate_open(&idle);
        ck_assert_int_eq(tk_wait(deaf, LONG_WAIT), 0);
        tk_gate_close(&idle);
    }

    o.max_msg_size = 7;
    ck_assert_int_eq(ipckit_open(&ch, "signal:self", IPCKIT_RECV, &o), -EINVAL);
    o.max_msg_size = 3;
    ch = open_ok("signal:self", IPCKIT_SEND | IPCKIT_RECV, &o);
    ck_assert_uint_eq(ipckit_max_msg_size(ch), 3);
    ck_assert_int_eq(ipckit_send(ch, "abcd", 4, 0), -EMSGSIZE);
    ck_assert_int_eq(ipckit_close(ch), 0);
    o.max_msg_size = 0;
    o.capacity = 10;
    ck_assert_int_eq(ipckit_open(&ch, "signal:self", IPCKIT_RECV, &o), -ENOTSUP);
    o.capacity = 0;
    o.flags = IPCKIT_OPT_TRUNCATE;
    ck_assert_int_eq(ipckit_open(&ch, "signal:self", IPCKIT_RECV, &o), -ENOTSUP);
    ck_assert(!is_blocked(SIGRTMIN + 4));
}
END_TEST

/*
 * A sender to this very process ("signal:self", or its own pid), opened
 * while the signal is neither blocked nor caught: nothing in the process
 * could receive the message, and a signal sent would end it, so open
 * refuses at once with -ENXIO and says what to do. It waited for ever,
 * polling /proc, with the default open timeout. Blocked, caught, or with
 * the receiver open first, the sender opens, and the message arrives.
 * (In a child, which changes its mask and handlers freely; a test run
 * that hangs fails by the wait's timeout, not the suite's.)
 */
static int
self_sender(void *arg)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *tx = NULL, *rx = NULL;
    struct sigaction sa;
    sigset_t one;
    char name[64], buf[8];
    (void) arg;
    o.open_timeout_ms = -1; /* wait as long as needed, the default */
    (void) snprintf(name, sizeof name, "signal:%ld", (long) getpid());
    TK_CHILD_CHECK(ipckit_open(&tx, "signal:self", IPCKIT_SEND, &o) == -ENXIO && tx == NULL);
    TK_CHILD_CHECK(strstr(ipckit_error_detail(), "neither blocks nor catches") != NULL);
    TK_CHILD_CHECK(strstr(ipckit_error_detail(), "IPCKIT_RECV") != NULL);
    TK_CHILD_CHECK(ipckit_open(&tx, name, IPCKIT_SEND, &o) == -ENXIO && tx == NULL);
    TK_CHILD_CHECK(ipckit_open(&tx, "signal:self", IPCKIT_SEND | IPCKIT_NONBLOCK, NULL) ==
                   -ENXIO);

    /* the receiver first: the sender opens, the message arrives */
    TK_CHILD_CHECK(ipckit_open(&rx, "signal:self", IPCKIT_RECV, NULL) == 0);
    TK_CHILD_CHECK(ipckit_open(&tx, "signal:self", IPCKIT_SEND, &o) == 0);
    TK_CHILD_CHECK(ipckit_send(tx, "hi", 2, 0) == 0);
    TK_CHILD_CHECK(ipckit_recv(rx, buf, sizeof buf, LONG_WAIT) == 2 && memcmp(buf, "hi", 2) == 0);
    TK_CHILD_CHECK(ipckit_close(tx) == 0 && ipckit_close(rx) == 0);

    /* blocked by the caller itself, or caught: opens */
    (void) sigemptyset(&one);
    (void) sigaddset(&one, SIGRTMIN + 4);
    TK_CHILD_CHECK(pthread_sigmask(SIG_BLOCK, &one, NULL) == 0);
    TK_CHILD_CHECK(ipckit_open(&tx, "signal:self", IPCKIT_SEND | IPCKIT_NONBLOCK, NULL) == 0);
    TK_CHILD_CHECK(ipckit_close(tx) == 0);
    TK_CHILD_CHECK(pthread_sigmask(SIG_UNBLOCK, &one, NULL) == 0);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    (void) sigemptyset(&sa.sa_mask);
    TK_CHILD_CHECK(sigaction(SIGRTMIN + 4, &sa, NULL) == 0);
    TK_CHILD_CHECK(ipckit_open(&tx, name, IPCKIT_SEND | IPCKIT_NONBLOCK, NULL) == 0);
    TK_CHILD_CHECK(ipckit_close(tx) == 0);
    /* ignored is not caught: the signal would be dropped */
    sa.sa_handler = SIG_IGN;
    TK_CHILD_CHECK(sigaction(SIGRTMIN + 4, &sa, NULL) == 0);
    TK_CHILD_CHECK(ipckit_open(&tx, "signal:self", IPCKIT_SEND, &o) == -ENXIO);
    return 0;
}

START_TEST(channel_self_sender_fails_fast)
{
    ck_assert(!is_blocked(SIGRTMIN + 4));
    ck_assert_int_eq(tk_wait(tk_fork(self_sender, NULL), LONG_WAIT), 0);
}
END_TEST

START_TEST(channel_foreign_signals_are_ebadmsg)
{
    ipckit_channel *ch = open_ok("signal:self", IPCKIT_SEND | IPCKIT_RECV, NULL);
    char buf[8], from[64];
    long type;

    ck_assert_int_eq(ipckit_signal_send(getpid(), SIGRTMIN + 4), 0);     /* kill(): no value */
    ck_assert_int_eq(ipckit_signal_queue(getpid(), SIGRTMIN + 4, 12345), 0); /* no marker */
    ck_assert_int_eq(ipckit_signal_queue(getpid(), SIGRTMIN + 4,
                                         (intptr_t) ((uint64_t) 0xA3 << 56 | 0x01ULL << 48 |
                                                     0xff000000ULL)),
                     0); /* length 3 but a byte beyond it is set */
    ck_assert_int_eq(ipckit_signal_queue(getpid(), SIGRTMIN + 4,
                                         (intptr_t) ((uint64_t) 0xA1 << 56 | 0x41)),
                     0); /* type 0 */
    ck_assert_int_eq(forge(getpid(), SIGRTMIN + 4, SI_QUEUE, 0x3a), 0); /* "from" pid 1 */
    ck_assert_int_eq(ipckit_send_typed(ch, 9, "ok", 2, 0), 0);
    /* The detail names the sender of a kill() as a fact, that of a
     * sigqueue() as a claim. */
    (void) snprintf(from, sizeof from, "from process %ld ", (long) getpid());
    ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 0), -EBADMSG);
    ck_assert(strstr(ipckit_last_error(ch), "sigqueue") != NULL);
    ck_assert_msg(strstr(ipckit_last_error(ch), from) != NULL &&
                      strstr(ipckit_last_error(ch), "claiming") == NULL,
                  "detail: %s", ipckit_last_error(ch));
    ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 0), -EBADMSG);
    ck_assert(strstr(ipckit_last_error(ch), "0x3039") != NULL);
    (void) snprintf(from, sizeof from, "claiming to be from process %ld ", (long) getpid());
    ck_assert_msg(strstr(ipckit_last_error(ch), from) != NULL, "detail: %s",
                  ipckit_last_error(ch));
    ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 0), -EBADMSG);
    ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 0), -EBADMSG);
    ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 0), -EBADMSG);
    ck_assert_msg(strstr(ipckit_last_error(ch), "claiming to be from process 1 ") != NULL,
                  "detail: %s", ipckit_last_error(ch));
    ck_assert_int_eq(ipckit_recv_typed(ch, 0, &type, buf, sizeof buf, 0), 2);
    ck_assert_int_eq(type, 9);
    ck_assert_mem_eq(buf, "ok", 2);
    ck_assert_int_eq(ipckit_close(ch), 0);
}
END_TEST

/* Many messages from several senders: each sender's order kept, none lost. */
#define ORDER_SENDERS 3
#define ORDER_COUNT 3000

struct order_args {
    tk_gate ready;
    pid_t receiver;
    unsigned id;
};

static int
order_receiver(void *arg)
{
    struct order_args *a = arg;
    ipckit_channel *rx = NULL;
    uint32_t next[ORDER_SENDERS] = { 0 };
    unsigned char buf[8];
    long type;

    TK_CHILD_CHECK(ipckit_open(&rx, "signal:self", IPCKIT_RECV, NULL) == 0);
    tk_gate_open(&a->ready);
    for (int i = 0; i < ORDER_SENDERS * ORDER_COUNT; i++) {
        uint32_t seq;
        ssize_t n = ipckit_recv_typed(rx, 0, &type, buf, sizeof buf, LONG_WAIT);
        TK_CHILD_CHECK(n == 6);
        TK_CHILD_CHECK(type >= 1 && type <= ORDER_SENDERS);
        TK_CHILD_CHECK(buf[4] == (unsigned char) type && buf[5] == 0x5a);
        memcpy(&seq, buf, 4);
        TK_CHILD_CHECK(seq == next[type - 1]);
        next[type - 1]++;
    }
    TK_CHILD_CHECK(ipckit_recv(rx, buf, sizeof buf, 200) == -ETIMEDOUT);
    TK_CHILD_CHECK(ipckit_close(rx) == 0);
    return 0;
}

static int
order_sender(void *arg)
{
    struct order_args *a = arg;
    ipckit_channel *tx = NULL;
    unsigned char buf[6];
    char name[64];

    (void) snprintf(name, sizeof name, "signal:%ld", (long) a->receiver);
    TK_CHILD_CHECK(ipckit_open(&tx, name, IPCKIT_SEND, NULL) == 0);
    for (uint32_t s = 0; s < ORDER_COUNT; s++) {
        memcpy(buf, &s, 4);
        buf[4] = (unsigned char) a->id;
        buf[5] = 0x5a;
        TK_CHILD_CHECK(ipckit_send_typed(tx, (long) a->id, buf, 6, LONG_WAIT) == 0);
    }
    TK_CHILD_CHECK(ipckit_close(tx) == 0);
    return 0;
}

START_TEST(channel_order_many_senders)
{
    struct order_args a;
    pid_t senders[ORDER_SENDERS];

    tk_gate_init(&a.ready);
    a.receiver = tk_fork(order_receiver, &a);
    ck_assert_int_eq(tk_gate_wait(&a.ready, LONG_WAIT), 0);
    for (unsigned i = 0; i < ORDER_SENDERS; i++) {
        a.id = i + 1;
        senders[i] = tk_fork(order_sender, &a);
    }
    for (unsigned i = 0; i < ORDER_SENDERS; i++)
        ck_assert_int_eq(tk_wait(senders[i], 60000), 0);
    ck_assert_int_eq(tk_wait(a.receiver, 60000), 0);
    tk_gate_close(&a.ready);
}
END_TEST

/*
 * Queue full: the receiver lowers its RLIMIT_SIGPENDING to 64 above what its
 * user has pending now; the sender fills the queue until -EAGAIN, and every
 * message it was told was sent arrives, in order.
 *
 * The count of pending signals is per user, shared with every process of
 * that user (other test suites run at the same time). When the tests run as
 * root, the receiver first switches to a user id of its own, so that the
 * count is exactly its own and the queue holds exactly 64 messages.
 */
#define FULL_LIMIT 64
struct full_args {
    tk_gate ready, filled;
    int count_pipe[2];
};

static long
sigq_pending(void)
{
    char line[256];
    long cur = -1, lim;
    FILE *fp = fopen("/proc/self/status", "re");
    TK_CHILD_CHECK(fp != NULL);
    while (fgets(line, sizeof line, fp) != NULL)
        if (sscanf(line, "SigQ: %ld/%ld", &cur, &lim) == 2)
            break;
    (void) fclose(fp);
    return cur;
}

static int
full_receiver(void *arg)
{
    struct full_args *a = arg;
    ipckit_channel *rx = NULL;
    struct rlimit rl;
    unsigned char buf[8];
    uint32_t k = 0, seq;
    long cur;

    if (geteuid() == 0) {
        uid_t id = (uid_t) (0x1c0000u + ((unsigned) getpid() & 0xffffu));
        TK_CHILD_CHECK(setresgid(id, id, id) == 0 && setresuid(id, id, id) == 0);
    }
    cur = sigq_pending();
    TK_CHILD_CHECK(cur >= 0);
    TK_CHILD_CHECK(getrlimit(RLIMIT_SIGPENDING, &rl) == 0);
    rl.rlim_cur = (rlim_t) cur + FULL_LIMIT;
    TK_CHILD_CHECK(setrlimit(RLIMIT_SIGPENDING, &rl) == 0);
    TK_CHILD_CHECK(ipckit_open(&rx, "signal:self", IPCKIT_RECV, NULL) == 0);
    tk_gate_open(&a->ready);
    TK_CHILD_CHECK(read(a->count_pipe[0], &k, sizeof k) == (ssize_t) sizeof k);
    for (uint32_t i = 0; i < k; i++) {
        TK_CHILD_CHECK(ipckit_recv(rx, buf, sizeof buf, 0) == 4);
        memcpy(&seq, buf, 4);
        TK_CHILD_CHECK(seq == i);
    }
    TK_CHILD_CHECK(ipckit_recv(rx, buf, sizeof buf, 0) == -EAGAIN);
    TK_CHILD_CHECK(ipckit_close(rx) == 0);
    return 0;
}

START_TEST(channel_queue_full_is_eagain_not_loss)
{
    struct full_args a;
    ipckit_channel *tx;
    char name[64];
    uint32_t k = 0;
    long long t0;
    pid_t pid;
    int rc;

    tk_gate_init(&a.ready);
    ck_assert_int_eq(pipe(a.count_pipe), 0);
    pid = tk_fork(full_receiver, &a);
    ck_assert_int_eq(tk_gate_wait(&a.ready, LONG_WAIT), 0);
    (void) snprintf(name, sizeof name, "signal:%ld", (long) pid);
    tx = open_ok(name, IPCKIT_SEND, NULL);
    /* a sending channel has no descriptor to poll */
    ck_assert_uint_eq(ipckit_caps(tx), IPCKIT_CAP_TYPED | IPCKIT_CAP_MULTI_SEND);
    ck_assert_int_eq(ipckit_fd(tx), -ENOTSUP);
    while ((rc = ipckit_send(tx, &k, 4, 0)) == 0 && k < 100000)
        k++;
    ck_assert_int_eq(rc, -EAGAIN);
    ck_assert(strstr(ipckit_last_error(tx), "RLIMIT_SIGPENDING") != NULL);
    if (geteuid() == 0) {
        ck_assert_uint_eq(k, FULL_LIMIT); /* a user of its own: exactly the limit */
        t0 = tk_now_ms();
        ck_assert_int_eq(ipckit_send(tx, &k, 4, 100), -ETIMEDOUT);
        ck_assert_int_ge(tk_now_ms() - t0, 90);
    } else {
        /* shared with the user's other processes: roughly the limit */
        ck_assert_uint_ge(k, 1);
        ck_assert_uint_le(k, FULL_LIMIT + 16);
    }
    ck_assert_int_eq(write(a.count_pipe[1], &k, sizeof k), (ssize_t) sizeof k);
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    /* the receiver is gone: -EPIPE */
    ck_assert_int_eq(ipckit_send(tx, &k, 4, 0), -EPIPE);
    ck_assert_int_eq(ipckit_close(tx), 0);
    (void) close(a.count_pipe[0]);
    (void) close(a.count_pipe[1]);
    tk_gate_close(&a.ready);
}
END_TEST

/* A receiving channel inherited across fork: the child has the signal
 * blocked, and none of the parent's pending messages; the parent keeps
 * them. (The child receives what is sent to it: conformance.signal,
 * fork_child_receives.) */
struct chfork_args {
    ipckit_channel *rx;
};

static int
chfork_child(void *arg)
{
    struct chfork_args *a = arg;
    char buf[8];
    TK_CHILD_CHECK(is_blocked(SIGRTMIN + 4));
    TK_CHILD_CHECK(ipckit_recv(a->rx, buf, sizeof buf, 0) == -EAGAIN);
    TK_CHILD_CHECK(ipckit_close(a->rx) == 0);
    return 0;
}

START_TEST(channel_across_fork)
{
    struct chfork_args a;
    char buf[8];

    a.rx = open_ok("signal:self", IPCKIT_SEND | IPCKIT_RECV, NULL);
    ck_assert_int_eq(ipckit_send(a.rx, "parent", 6, 0), 0); /* stays with the parent */
    ck_assert_int_eq(tk_wait(tk_fork(chfork_child, &a), LONG_WAIT), 0);
    ck_assert_int_eq(ipckit_recv(a.rx, buf, sizeof buf, 0), 6);
    ck_assert_mem_eq(buf, "parent", 6);
    ck_assert_int_eq(ipckit_recv(a.rx, buf, sizeof buf, 0), -EAGAIN);
    ck_assert_int_eq(ipckit_close(a.rx), 0);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("signal");
    TCase *tc = tk_tcase("api", 60);
    tcase_add_test(tc, parse_names_and_numbers);
    tcase_add_test(tc, dispatcher_values_sender_and_order);
    tcase_add_test(tc, dispatcher_restores_mask_and_fd_polls);
    tcase_add_test(tc, dispatcher_refuses_what_it_cannot_do);
    tcase_add_test(tc, wait_takes_a_blocked_signal);
    tcase_add_test(tc, dispatcher_tells_kernel_sender_from_claimed);
    tcase_add_test(tc, fork_inherits_mask_and_dispatcher_not_pending);
    tcase_add_test(tc, exec_keeps_mask_closes_signalfd);
    tcase_add_test(tc, thread_created_after_setup_inherits_the_mask);
    tcase_add_test(tc, thread_created_before_setup_is_refused);
    suite_add_tcase(s, tc);
    tc = tk_tcase("channel", 120);
    tcase_add_test(tc, channel_loopback_sizes_types_limits);
    tcase_add_test(tc, channel_names_and_options);
    tcase_add_test(tc, channel_self_sender_fails_fast);
    tcase_add_test(tc, channel_foreign_signals_are_ebadmsg);
    tcase_add_test(tc, channel_order_many_senders);
    tcase_add_test(tc, channel_queue_full_is_eagain_not_loss);
    tcase_add_test(tc, channel_across_fork);
    suite_add_tcase(s, tc);
    return tk_run(s);
}
