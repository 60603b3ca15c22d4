/*
 * ipckit_interrupt(): a send or receive that waits (forever or with a
 * timeout) is woken from another thread or from a signal handler and returns
 * -EINTR; an interrupt with nobody waiting ends the next wait at once; a
 * channel that cannot be interrupted says so. Every backend.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ipckit/ipckit.h>

#include "testkit.h"

#define LONG_WAIT 20000

enum kind { K_SHM, K_MQ, K_POSIXMQ, K_SIGNAL, K_FIFO, K_COUNT };
static const char *const kind_names[K_COUNT] = { "shm", "mq", "posixmq", "signal", "fifo" };

static char name[600];
static ipckit_channel *rx, *tx; /* tx: the writer of a fifo:, else rx itself */

/* Open the receiving side of @p k (and, where the backend needs a peer to
 * wait for, the sending side) with @p flags in the options. */
static void
open_kind(enum kind k, unsigned optflags)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    char p[300];
    int rc;
    o.flags = optflags;
    switch (k) {
    case K_SHM:
        tk_posix_name(p, sizeof p);
        (void) snprintf(name, sizeof name, "shm:%s", p);
        o.capacity = 4096;
        o.max_msg_size = 100;
        break;
    case K_MQ:
        (void) snprintf(name, sizeof name, "mq:%#x", (unsigned) tk_sysv_key());
        o.capacity = 400;
        break;
    case K_POSIXMQ:
        tk_posix_name(p, sizeof p);
        (void) snprintf(name, sizeof name, "posixmq:%s", p);
        o.capacity = 2;
        o.max_msg_size = 100;
        break;
    case K_SIGNAL:
        (void) snprintf(name, sizeof name, "signal:self");
        break;
    default:
        tk_name(name, sizeof name, "fifo", "intr.pipe");
        break;
    }
    rx = tx = NULL;
    if (k == K_FIFO) {
        rc = ipckit_open(&rx, name, IPCKIT_RECV | IPCKIT_CREATE, &o);
        ck_assert_msg(rc == 0, "open %s: %s", name, ipckit_error_detail());
        rc = ipckit_open(&tx, name, IPCKIT_SEND, &o);
    } else {
        rc = ipckit_open(&rx, name, IPCKIT_SEND | IPCKIT_RECV | IPCKIT_CREATE, &o);
        tx = rx;
    }
    ck_assert_msg(rc == 0, "open %s: %s", name, ipckit_error_detail());
}

static void
close_kind(enum kind k)
{
    if (tx != rx)
        ck_assert_int_eq(ipckit_close(tx), 0);
    ck_assert_int_eq(ipckit_close(rx), 0);
    if (k != K_SIGNAL)
        ck_assert_int_eq(ipckit_unlink(name), 0);
}

static void *
interrupt_later(void *arg)
{
    struct timespec t = { 0, 150 * 1000000L };
    (void) nanosleep(&t, NULL);
    (void) ipckit_interrupt(arg);
    return NULL;
}

/* A receive that waits forever returns -EINTR when another thread
 * interrupts it; the interrupt is then used up. */
START_TEST(thread_wakes_blocked_recv)
{
    enum kind k = (enum kind) _i;
    pthread_t t;
    char buf[128];
    long long t0;
    open_kind(k, IPCKIT_OPT_INTERRUPTIBLE);
    ck_assert_int_eq(pthread_create(&t, NULL, interrupt_later, rx), 0);
    t0 = tk_now_ms();
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, IPCKIT_FOREVER), -EINTR);
    ck_assert_int_lt(tk_now_ms() - t0, LONG_WAIT);
    ck_assert_msg(strstr(ipckit_last_error(rx), "interrupt") != NULL, "%s: %s", kind_names[k],
                  ipckit_last_error(rx));
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    /* used up: a wait with a timeout now times out, and messages flow */
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 50), -ETIMEDOUT);
    ck_assert_int_eq(ipckit_send(tx, "ok", 2, 1000), 0);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 1000), 2);
    /* a timed wait is woken too */
    ck_assert_int_eq(pthread_create(&t, NULL, interrupt_later, rx), 0);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, LONG_WAIT), -EINTR);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    close_kind(k);
}
END_TEST

/* Interrupts with nobody waiting end the next wait at once, as one. */
START_TEST(pending_interrupt)
{
    enum kind k = (enum kind) _i;
    char buf[128];
    open_kind(k, IPCKIT_OPT_INTERRUPTIBLE);
    ck_assert_int_eq(ipckit_interrupt(rx), 0);
    ck_assert_int_eq(ipckit_interrupt(rx), 0);
    /* a call that need not wait is not affected */
    ck_assert_int_eq(ipckit_send(tx, "m", 1, 0), 0);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), 1);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, IPCKIT_FOREVER), -EINTR);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 50), -ETIMEDOUT);
    close_kind(k);
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
START_TEST(signal_handler_wakes_blocked_recv)
{
    enum kind k = (enum kind) _i;
    struct sigaction sa, old;
    sigset_t usr1, prev;
    pthread_t t;
    char buf[128];
#ifdef __SANITIZE_THREAD__
    /* ThreadSanitizer runs a handler only when the thread next calls a
     * function it intercepts; a thread asleep in a raw futex system call
     * never does. The thread cases cover the wake-up under it. */
    fprintf(stderr, "signal_handler_wakes_blocked_recv: skipped under ThreadSanitizer\n");
    (void) k;
    return;
#endif
    open_kind(k, IPCKIT_OPT_INTERRUPTIBLE);
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
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, IPCKIT_FOREVER), -EINTR);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(sigaction(SIGUSR1, &old, NULL), 0);
    close_kind(k);
}
END_TEST

/* A sender waiting for room is woken the same way. */
START_TEST(thread_wakes_blocked_send)
{
    enum kind k = (enum kind) _i;
    static char big[100];
    pthread_t t;
    int n = 0;
    if (k == K_SIGNAL || k == K_FIFO)
        return; /* filling them means filling RLIMIT_SIGPENDING or a pipe: elsewhere */
    open_kind(k, IPCKIT_OPT_INTERRUPTIBLE);
    while (ipckit_send(tx, big, sizeof big, 0) == 0)
        ck_assert_int_lt(++n, 10000);
    ck_assert_int_eq(pthread_create(&t, NULL, interrupt_later, tx), 0);
    ck_assert_int_eq(ipckit_send(tx, big, sizeof big, IPCKIT_FOREVER), -EINTR);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(ipckit_recv(rx, big, sizeof big, 0), (int) sizeof big);
    close_kind(k);
}
END_TEST

/* Without IPCKIT_OPT_INTERRUPTIBLE a channel whose waits are the kernel's
 * blocking calls says it cannot be interrupted; shm: always can. */
START_TEST(interruptible_needs_the_option)
{
    enum kind k = (enum kind) _i;
    open_kind(k, 0);
    ck_assert_int_eq(ipckit_interrupt(rx), k == K_SHM ? 0 : -ENOTSUP);
    ck_assert_int_eq(ipckit_interrupt(NULL), -EINVAL);
    close_kind(k);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("interrupt");
    TCase *tc = tk_tcase("interrupt", 60);
    int n = K_COUNT;
    tcase_add_loop_test(tc, thread_wakes_blocked_recv, 0, n);
    tcase_add_loop_test(tc, pending_interrupt, 0, n);
    tcase_add_loop_test(tc, signal_handler_wakes_blocked_recv, 0, n);
    tcase_add_loop_test(tc, thread_wakes_blocked_send, 0, n);
    tcase_add_loop_test(tc, interruptible_needs_the_option, 0, n);
    suite_add_tcase(s, tc);
    return tk_run(s);
}
