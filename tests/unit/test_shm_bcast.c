/*
 * What only the broadcast rings of shm: do (shm:NAME?bcast=...): every
 * subscriber sees every message, gaps reported (-ENOBUFS and
 * IPCKIT_CTL_MISSED), history, wait mode (timeouts, dead subscribers
 * dropped, a full table), zero copy, names and modes, subscribers in event
 * loops (ipckit_fd()), and rings written by a hostile peer. The channel
 * contract is conformance.shm.bcast's and conformance.shm.bcastdrop's;
 * processes killed at random points and many publishers and subscribers
 * are in tests/integration/test_shm_bcast_procs.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ipckit/ipckit.h>

#include "testkit.h"

#define WAIT_MS 10000

static char pname[200], base[240], name[300];

static void
setup(const char *mode)
{
    tk_posix_name(pname, sizeof pname);
    (void) snprintf(base, sizeof base, "shm:%s", pname);
    (void) snprintf(name, sizeof name, "%s?bcast=%s", base, mode);
}

static ipckit_channel *
open_ok(const char *n, unsigned flags, size_t slots, size_t max_msg)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *ch = NULL;
    int rc;
    o.capacity = slots;
    o.max_msg_size = max_msg;
    rc = ipckit_open(&ch, n, flags, &o);
    ck_assert_msg(rc == 0, "open %s: %s (%s)", n, ipckit_errname(rc), ipckit_error_detail());
    return ch;
}

static void
send_u32(ipckit_channel *ch, uint32_t v)
{
    int rc = ipckit_send(ch, &v, sizeof v, 0);
    ck_assert_msg(rc == 0, "send %u: %s (%s)", v, ipckit_errname(rc), ipckit_last_error(ch));
}

static uint32_t
recv_u32(ipckit_channel *ch)
{
    uint32_t v = 0;
    ssize_t n = ipckit_recv(ch, &v, sizeof v, WAIT_MS);
    ck_assert_msg(n == 4, "recv: %zd (%s)", n, ipckit_last_error(ch));
    return v;
}

static unsigned long long
missed(ipckit_channel *ch)
{
    unsigned long long m = 12345;
    ck_assert_int_eq(ipckit_ctl(ch, IPCKIT_CTL_MISSED, &m), 0);
    return m;
}

static void
done(ipckit_channel *a, ipckit_channel *b, ipckit_channel *c)
{
    ck_assert_int_eq(ipckit_close(a), 0);
    ck_assert_int_eq(ipckit_close(b), 0);
    ck_assert_int_eq(ipckit_close(c), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}

/* Two subscribers each get every message, in order, at their own pace; a
 * subscriber sees only what was published after it joined. */
START_TEST(every_subscriber_sees_every_message)
{
    ipckit_channel *pub, *a, *b;
    setup("1");
    pub = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, 64, 64);
    send_u32(pub, 999); /* before anyone subscribed: nobody gets it */
    a = open_ok(name, IPCKIT_RECV, 0, 0);
    b = open_ok(name, IPCKIT_RECV, 0, 0);
    ck_assert(ipckit_caps(a) & IPCKIT_CAP_BROADCAST);
    for (uint32_t i = 0; i < 40; i++)
        send_u32(pub, i);
    for (uint32_t i = 0; i < 40; i++)
        ck_assert_uint_eq(recv_u32(a), i);
    ck_assert_int_eq(ipckit_recv(a, NULL, 0, 0), -EAGAIN);
    for (uint32_t i = 0; i < 40; i++)
        ck_assert_uint_eq(recv_u32(b), i);
    ck_assert_int_eq(ipckit_recv(b, NULL, 0, 0), -EAGAIN);
    ck_assert_uint_eq(missed(a) + missed(b), 0);
    done(pub, a, b);
}
END_TEST

/* Drop mode: a subscriber a whole ring behind gets -ENOBUFS once, with the
 * exact count in the detail and in IPCKIT_CTL_MISSED, then goes on with
 * whole messages in order; the missed plus the received are all that was
 * published. */
START_TEST(slow_subscriber_learns_what_it_missed)
{
    ipckit_channel *pub, *slow, *fast;
    uint32_t got = 0, expect;
    ssize_t n;
    setup("drop");
    pub = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, 16, 64);
    slow = open_ok(name, IPCKIT_RECV, 0, 0);
    fast = open_ok(name, IPCKIT_RECV, 0, 0);
    for (uint32_t i = 0; i < 100; i++) {
        send_u32(pub, i); /* never waits, whoever reads */
        ck_assert_uint_eq(recv_u32(fast), i);
    }
    n = ipckit_recv(slow, &expect, sizeof expect, 0);
    ck_assert_int_eq(n, -ENOBUFS);
    ck_assert_msg(strstr(ipckit_last_error(slow), "fell behind") != NULL, "%s",
                  ipckit_last_error(slow));
    /* moved to half a ring behind the newest: 100 - 8 */
    ck_assert_uint_eq(missed(slow), 92);
    for (expect = 92; expect < 100; expect++, got++)
        ck_assert_uint_eq(recv_u32(slow), expect);
    ck_assert_int_eq(ipckit_recv(slow, NULL, 0, 0), -EAGAIN);
    ck_assert_uint_eq(missed(slow) + got, 100);
    ck_assert_uint_eq(missed(fast), 0);
    /* no second report for the same gap */
    send_u32(pub, 100);
    ck_assert_uint_eq(recv_u32(slow), 100);
    done(pub, slow, fast);
}
END_TEST

/* ?history=N: a late subscriber starts with the last N messages, or with
 * all the ring still holds when it holds fewer. */
START_TEST(history_for_late_subscribers)
{
    ipckit_channel *pub, *h3, *hall;
    char n3[400], nall[400];
    setup("1");
    pub = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, 8, 64);
    for (uint32_t i = 0; i < 20; i++)
        send_u32(pub, i);
    (void) snprintf(n3, sizeof n3, "%s&history=3", name);
    (void) snprintf(nall, sizeof nall, "%s&history=1000", name);
    h3 = open_ok(n3, IPCKIT_RECV, 0, 0);
    hall = open_ok(nall, IPCKIT_RECV, 0, 0);
    for (uint32_t i = 17; i < 20; i++)
        ck_assert_uint_eq(recv_u32(h3), i);
    ck_assert_int_eq(ipckit_recv(h3, NULL, 0, 0), -EAGAIN);
    /* 8 slots: the 7 newest (the eighth is the next one to be written) */
    for (uint32_t i = 13; i < 20; i++)
        ck_assert_uint_eq(recv_u32(hall), i);
    ck_assert_int_eq(ipckit_recv(hall, NULL, 0, 0), -EAGAIN);
    ck_assert_uint_eq(missed(h3) + missed(hall), 0);
    done(pub, h3, hall);
}
END_TEST

/* Wait mode: a publisher waits for the slowest subscriber (-EAGAIN with
 * timeout 0, -ETIMEDOUT with a timeout) and goes on as soon as it reads;
 * nothing is ever lost. */
START_TEST(wait_mode_waits_for_the_slowest)
{
    ipckit_channel *pub, *a, *b;
    uint32_t v = 7;
    long long t0;
    setup("wait");
    pub = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, 8, 64);
    a = open_ok(name, IPCKIT_RECV, 0, 0);
    b = open_ok(name, IPCKIT_RECV, 0, 0);
    for (uint32_t i = 0; i < 8; i++)
        send_u32(pub, i);
    ck_assert_int_eq(ipckit_send(pub, &v, 4, 0), -EAGAIN);
    t0 = tk_now_ms();
    ck_assert_int_eq(ipckit_send(pub, &v, 4, 50), -ETIMEDOUT);
    ck_assert_int_ge(tk_now_ms() - t0, 50);
    ck_assert_msg(strstr(ipckit_last_error(pub), "wait mode") != NULL, "%s",
                  ipckit_last_error(pub));
    /* a reads everything: b still holds the ring */
    for (uint32_t i = 0; i < 8; i++)
        ck_assert_uint_eq(recv_u32(a), i);
    ck_assert_int_eq(ipckit_send(pub, &v, 4, 0), -EAGAIN);
    ck_assert_uint_eq(recv_u32(b), 0);
    send_u32(pub, 8);
    ck_assert_int_eq(ipckit_send(pub, &v, 4, 0), -EAGAIN);
    /* b leaves: nothing holds the publisher back but a */
    ck_assert_int_eq(ipckit_close(b), 0);
    for (uint32_t i = 9; i < 16; i++)
        send_u32(pub, i);
    for (uint32_t i = 8; i < 16; i++)
        ck_assert_uint_eq(recv_u32(a), i);
    ck_assert_uint_eq(missed(a), 0);
    b = open_ok(name, IPCKIT_RECV, 0, 0);
    done(pub, a, b);
}
END_TEST

static int
subscribe_and_die(void *arg)
{
    ipckit_channel *ch = NULL;
    (void) arg;
    TK_CHILD_CHECK(ipckit_open(&ch, name, IPCKIT_RECV, NULL) == 0);
    _exit(0); /* no close: the entry stays, with a dead pid */
}

/* Wait mode: a subscriber that died without closing is dropped by the next
 * publisher that would wait for it, within the publisher's timeout. */
START_TEST(dead_subscriber_is_dropped)
{
    ipckit_channel *pub, *a;
    setup("wait");
    pub = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, 4, 64);
    a = open_ok(name, IPCKIT_RECV, 0, 0);
    ck_assert_int_eq(tk_wait(tk_fork(subscribe_and_die, NULL), WAIT_MS), 0);
    for (uint32_t i = 0; i < 4; i++)
        send_u32(pub, i);
    for (uint32_t i = 0; i < 4; i++)
        ck_assert_uint_eq(recv_u32(a), i);
    /* only the dead one holds the ring now */
    for (uint32_t i = 4; i < 40; i++) {
        int rc = ipckit_send(pub, &i, 4, WAIT_MS);
        ck_assert_msg(rc == 0, "send %u: %s (%s)", i, ipckit_errname(rc), ipckit_last_error(pub));
        ck_assert_uint_eq(recv_u32(a), i);
    }
    ck_assert_int_eq(ipckit_close(a), 0);
    a = open_ok(name, IPCKIT_RECV, 0, 0);
    done(pub, a, open_ok(name, IPCKIT_RECV, 0, 0));
}
END_TEST

/* Wait mode registers every subscriber: when the table is full of live
 * ones, a new subscriber is refused (-EUSERS); the entry of a dead one is
 * taken over. */
START_TEST(subscriber_table)
{
    ipckit_channel *pub, *s[2], *extra = NULL;
    char n2[400];
    setup("wait");
    (void) snprintf(n2, sizeof n2, "%s&subs=2", name);
    pub = open_ok(n2, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, 4, 64);
    s[0] = open_ok(name, IPCKIT_RECV, 0, 0);
    s[1] = open_ok(name, IPCKIT_RECV, 0, 0);
    ck_assert_int_eq(ipckit_open(&extra, name, IPCKIT_RECV, NULL), -EUSERS);
    ck_assert_ptr_null(extra);
    ck_assert_int_eq(ipckit_close(s[1]), 0);
    s[1] = open_ok(name, IPCKIT_RECV, 0, 0);
    ck_assert_int_eq(ipckit_close(s[1]), 0);
    ck_assert_int_eq(tk_wait(tk_fork(subscribe_and_die, NULL), WAIT_MS), 0);
    s[1] = open_ok(name, IPCKIT_RECV, 0, 0); /* the dead one's entry */
    /* drop mode takes subscribers beyond its table (they are not tracked) */
    done(pub, s[0], s[1]);
}
END_TEST

/* Zero copy: a loan is published by its commit and dropped by a cancel;
 * a borrow reads in place. In drop mode a message overwritten while
 * borrowed makes the release say so (-ESTALE, counted as missed). */
START_TEST(zero_copy)
{
    ipckit_channel *pub, *a, *b;
    void *w;
    const void *r;
    long type = 0;
    ssize_t n;
    setup("drop");
    pub = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, 4, 4096);
    a = open_ok(name, IPCKIT_RECV, 0, 0);
    b = open_ok(name, IPCKIT_RECV, 0, 0);
    ck_assert(ipckit_caps(pub) & IPCKIT_CAP_ZEROCOPY);
    ck_assert_int_eq(ipckit_send_loan(pub, 4096, &w, 0), 0);
    memset(w, 'x', 4096);
    ck_assert_int_eq(ipckit_send_cancel(pub), 0);
    ck_assert_int_eq(ipckit_recv(a, NULL, 0, 0), -EAGAIN);
    ck_assert_int_eq(ipckit_send_loan(pub, 4096, &w, 0), 0);
    memcpy(w, "hello", 5);
    ck_assert_int_eq(ipckit_send_commit(pub, 6, 5), 0);
    n = ipckit_recv_borrow(a, &type, &r, WAIT_MS);
    ck_assert_int_eq(n, 5);
    ck_assert_int_eq(type, 6);
    ck_assert_mem_eq(r, "hello", 5);
    ck_assert_int_eq(ipckit_recv_release(a), 0);
    /* b borrows message 0, then four more overwrite its slot */
    ck_assert_int_eq(ipckit_recv_borrow(b, &type, &r, WAIT_MS), 5);
    for (uint32_t i = 0; i < 4; i++)
        send_u32(pub, i);
    ck_assert_int_eq(ipckit_recv_release(b), -ESTALE);
    ck_assert_msg(strstr(ipckit_last_error(b), "torn") != NULL, "%s", ipckit_last_error(b));
    ck_assert_uint_eq(missed(b), 1);
    ck_assert_uint_eq(missed(a), 0);
    done(pub, a, b);
}
END_TEST

/* Names: the mode of an existing ring is checked when asked for; a queue is
 * not a broadcast ring and the other way round; the parameters are
 * checked; IPCKIT_CTL_MISSED is a subscriber's. */
START_TEST(names_and_modes)
{
    ipckit_channel *pub, *ch = NULL;
    char n[400];
    unsigned long long m;
    setup("wait");
    pub = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, 4, 64);
    (void) snprintf(n, sizeof n, "%s?bcast=drop", base);
    ck_assert_int_eq(ipckit_open(&ch, n, IPCKIT_RECV, NULL), -EINVAL);
    ck_assert_msg(strstr(ipckit_error_detail(), "mode wait") != NULL, "%s", ipckit_error_detail());
    ck_assert_int_eq(ipckit_open(&ch, base, IPCKIT_RECV, NULL), -EINVAL);
    ck_assert_msg(strstr(ipckit_error_detail(), "?bcast=1") != NULL, "%s", ipckit_error_detail());
    (void) snprintf(n, sizeof n, "%s?bcast=sometimes", base);
    ck_assert_int_eq(ipckit_open(&ch, n, IPCKIT_RECV, NULL), -EINVAL);
    (void) snprintf(n, sizeof n, "%s?bcast=1&claim=1", base);
    ck_assert_int_eq(ipckit_open(&ch, n, IPCKIT_RECV, NULL), -EINVAL);
    (void) snprintf(n, sizeof n, "%s?history=2", base);
    ck_assert_int_eq(ipckit_open(&ch, n, IPCKIT_RECV, NULL), -EINVAL);
    ck_assert_int_eq(ipckit_ctl(pub, IPCKIT_CTL_MISSED, &m), -EBADF);
    ck_assert_int_eq(ipckit_close(pub), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
    /* a queue opened as a broadcast ring */
    pub = open_ok(base, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, 0, 0);
    (void) snprintf(n, sizeof n, "%s?bcast=1", base);
    ck_assert_int_eq(ipckit_open(&ch, n, IPCKIT_RECV, NULL), -EINVAL);
    ck_assert_msg(strstr(ipckit_error_detail(), "queue") != NULL, "%s", ipckit_error_detail());
    ck_assert_int_eq(ipckit_close(pub), 0);
    ck_assert_int_eq(ipckit_unlink(base), 0);
}
END_TEST

/* ---- ipckit_fd(): subscribers in event loops ------------------------------------- */

#define POLLERS 3

static tk_gate ready[POLLERS], go[POLLERS];

/* 1 when @p fd is readable within @p timeout_ms, 0 when not, -1 on error. */
static int
poll_in(int fd, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int n = poll(&p, 1, timeout_ms);
    return n == 1 && (p.revents & POLLIN) ? 1 : n;
}

/*
 * A subscriber in a process of its own, polling: quiet while there is
 * nothing, readable after one publish, quiet again once drained to
 * -EAGAIN. Then the publisher laps it (16 slots, 40 messages): the loop
 * is woken and hears of the gap (-ENOBUFS, 32 missed) before it gets the
 * 8 messages the ring still holds.
 */
static int
polling_subscriber(void *arg)
{
    int i = (int) (intptr_t) arg, fd;
    ipckit_channel *ch = NULL;
    unsigned long long m = 0;
    uint32_t v = 12345;
    TK_CHILD_CHECK(ipckit_open(&ch, name, IPCKIT_RECV, NULL) == 0);
    TK_CHILD_CHECK((ipckit_caps(ch) & IPCKIT_CAP_FD) != 0);
    fd = ipckit_fd(ch);
    TK_CHILD_CHECK(fd >= 0 && ipckit_fd(ch) == fd);
    TK_CHILD_CHECK(poll_in(fd, 0) == 0);
    TK_CHILD_CHECK(ipckit_recv(ch, &v, sizeof v, 0) == -EAGAIN);
    TK_CHILD_CHECK(poll_in(fd, 0) == 0);
    tk_gate_open(&ready[i]);
    /* one publish: every subscriber's descriptor */
    TK_CHILD_CHECK(poll_in(fd, WAIT_MS) == 1);
    TK_CHILD_CHECK(ipckit_recv(ch, &v, sizeof v, 0) == 4 && v == 0);
    TK_CHILD_CHECK(ipckit_recv(ch, &v, sizeof v, 0) == -EAGAIN);
    TK_CHILD_CHECK(poll_in(fd, 0) == 0);
    tk_gate_open(&ready[i]);
    /* lapped while it was not looking: told so through the loop */
    TK_CHILD_CHECK(tk_gate_wait(&go[i], WAIT_MS) == 0);
    TK_CHILD_CHECK(poll_in(fd, WAIT_MS) == 1);
    TK_CHILD_CHECK(ipckit_recv(ch, &v, sizeof v, 0) == -ENOBUFS);
    TK_CHILD_CHECK(ipckit_ctl(ch, IPCKIT_CTL_MISSED, &m) == 0 && m == 32);
    for (uint32_t k = 33; k <= 40; k++)
        TK_CHILD_CHECK(ipckit_recv(ch, &v, sizeof v, 0) == 4 && v == k);
    TK_CHILD_CHECK(ipckit_recv(ch, &v, sizeof v, 0) == -EAGAIN);
    TK_CHILD_CHECK(poll_in(fd, 0) == 0);
    TK_CHILD_CHECK(ipckit_close(ch) == 0);
    return 0;
}

/* Subscribers poll: several in other processes and one here are all woken
 * by one publish, quiet once drained, and a lapped one gets its -ENOBUFS
 * through the loop; borrows arm the bell and committed loans ring it; a
 * late subscriber with history is readable at once; a publisher has no
 * descriptor. */
START_TEST(fd_wakes_every_subscriber)
{
    ipckit_channel *pub, *sub, *late;
    pid_t pid[POLLERS];
    char nh[400];
    const void *in = NULL;
    void *out = NULL;
    long type = 0;
    uint32_t v = 0;
    int fd, lfd;
    setup("drop");
    pub = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, 16, 64);
    ck_assert_uint_eq(ipckit_caps(pub) & IPCKIT_CAP_FD, 0);
    ck_assert_int_eq(ipckit_fd(pub), -ENOTSUP);
    sub = open_ok(name, IPCKIT_RECV, 0, 0);
    fd = ipckit_fd(sub);
    ck_assert_int_ge(fd, 0);
    for (int i = 0; i < POLLERS; i++) {
        tk_gate_init(&ready[i]);
        tk_gate_init(&go[i]);
        pid[i] = tk_fork(polling_subscriber, (void *) (intptr_t) i);
        ck_assert_int_eq(tk_gate_wait(&ready[i], WAIT_MS), 0);
    }
    ck_assert_int_eq(ipckit_recv(sub, &v, sizeof v, 0), -EAGAIN);
    ck_assert_int_eq(poll_in(fd, 0), 0);
    send_u32(pub, 0);
    ck_assert_int_eq(poll_in(fd, WAIT_MS), 1);
    ck_assert_uint_eq(recv_u32(sub), 0);
    ck_assert_int_eq(ipckit_recv(sub, &v, sizeof v, 0), -EAGAIN);
    ck_assert_int_eq(poll_in(fd, 0), 0);
    for (int i = 0; i < POLLERS; i++)
        ck_assert_int_eq(tk_gate_wait(&ready[i], WAIT_MS), 0); /* drained, armed */
    for (uint32_t k = 1; k <= 40; k++)
        send_u32(pub, k); /* drop mode: never waits */
    for (int i = 0; i < POLLERS; i++)
        tk_gate_open(&go[i]);
    ck_assert_int_eq(poll_in(fd, WAIT_MS), 1);
    ck_assert_int_eq(ipckit_recv(sub, &v, sizeof v, 0), -ENOBUFS);
    for (uint32_t k = 33; k <= 40; k++)
        ck_assert_uint_eq(recv_u32(sub), k);
    for (int i = 0; i < POLLERS; i++) {
        ck_assert_int_eq(tk_wait(pid[i], WAIT_MS), 0);
        tk_gate_close(&ready[i]);
        tk_gate_close(&go[i]);
    }
    /* zero copy: a borrow that finds nothing arms the bell too, and a
     * committed loan rings it */
    ck_assert_int_eq(ipckit_recv_borrow(sub, &type, &in, 0), -EAGAIN);
    ck_assert_int_eq(poll_in(fd, 0), 0);
    ck_assert_int_eq(ipckit_send_loan(pub, sizeof v, &out, 0), 0);
    memcpy(out, &(uint32_t){ 41 }, sizeof v);
    ck_assert_int_eq(ipckit_send_commit(pub, 1, sizeof v), 0);
    ck_assert_int_eq(poll_in(fd, WAIT_MS), 1);
    ck_assert_int_eq(ipckit_recv_borrow(sub, &type, &in, 0), 4);
    ck_assert_mem_eq(in, &(uint32_t){ 41 }, sizeof v);
    ck_assert_int_eq(ipckit_recv_release(sub), 0);
    ck_assert_int_eq(ipckit_recv_borrow(sub, &type, &in, 0), -EAGAIN);
    ck_assert_int_eq(poll_in(fd, 0), 0);
    (void) snprintf(nh, sizeof nh, "%s&history=3", name);
    late = open_ok(nh, IPCKIT_RECV, 0, 0);
    lfd = ipckit_fd(late);
    ck_assert_int_ge(lfd, 0);
    ck_assert_int_eq(poll_in(lfd, WAIT_MS), 1); /* there before it polled */
    for (uint32_t k = 39; k <= 41; k++)
        ck_assert_uint_eq(recv_u32(late), k);
    ck_assert_int_eq(ipckit_recv(late, &v, sizeof v, 0), -EAGAIN);
    ck_assert_int_eq(poll_in(lfd, 0), 0);
    done(pub, sub, late);
}
END_TEST

/* Map the object of the current name read-write, as a hostile peer would. */
static unsigned char *
map_raw(size_t *size)
{
    struct stat sb;
    int fd = shm_open(pname, O_RDWR, 0);
    unsigned char *p;
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fstat(fd, &sb), 0);
    *size = (size_t) sb.st_size;
    p = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    ck_assert_ptr_ne(p, MAP_FAILED);
    return p;
}

/* A header changed by a peer is refused at open (-EBADMSG, -EPROTO). */
START_TEST(corrupt_header_is_refused)
{
    static const struct {
        size_t off, len;
        uint64_t value;
        int want;
    } cases[] = {
        { 4, 4, 9, -EPROTO },              /* version */
        { 16, 8, 1, -EBADMSG },            /* slots */
        { 16, 8, 1u << 21, -EBADMSG },     /* slots */
        { 24, 8, 1u << 20, -EBADMSG },     /* max_msg: the stride no longer matches */
        { 40, 8, 64, -EBADMSG },           /* stride */
        { 56, 4, 7, -EBADMSG },            /* mode */
        { 60, 4, 0, -EBADMSG },            /* subscribers */
        { 60, 4, 100000, -EBADMSG },       /* subscribers */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ipckit_channel *pub, *ch = NULL;
        unsigned char *p, saved[8];
        size_t size;
        int rc;
        setup("1");
        pub = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, 8, 64);
        p = map_raw(&size);
        memcpy(saved, p + cases[i].off, cases[i].len);
        memcpy(p + cases[i].off, &cases[i].value, cases[i].len);
        rc = ipckit_open(&ch, name, IPCKIT_RECV, NULL);
        ck_assert_msg(rc == cases[i].want, "case %zu: %s (%s)", i, ipckit_errname(rc),
                      ipckit_error_detail());
        ck_assert_int_lt(ipckit_stat_name(name, &(ipckit_stat){ 0 }), 0);
        memcpy(p + cases[i].off, saved, cases[i].len);
        munmap(p, size);
        ck_assert_int_eq(ipckit_close(pub), 0);
        ck_assert_int_eq(ipckit_unlink(name), 0);
    }
}
END_TEST

/*
 * A peer scribbling random bytes over the live part of the ring (the
 * publishers' lines, the doorbell, the subscriber table, slot headers and
 * payloads) while this process publishes and receives through a polling
 * subscriber: every call returns a message within the buffer, or an error;
 * nothing is read or written outside the mapping (the process would die),
 * and no call waits past its timeout.
 */
START_TEST(scribbled_ring_is_never_trusted)
{
    unsigned seed = 12345;
    for (int round = 0; round < 200; round++) {
        ipckit_channel *pub, *sub;
        unsigned char *p, buf[64];
        size_t size;
        setup(round % 2 ? "wait" : "drop");
        pub = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, 8, 64);
        sub = open_ok(name, IPCKIT_RECV, 0, 0);
        ck_assert_int_ge(ipckit_fd(sub), 0);
        p = map_raw(&size);
        for (int k = 0; k < 20; k++) {
            uint32_t v = (uint32_t) k;
            size_t off;
            int what = rand_r(&seed) % 3;
            (void) ipckit_send(pub, &v, sizeof v, 0);
            /* past the validated header: the live words and the slots */
            off = what == 0 ? 64 + (size_t) rand_r(&seed) % 320
                  : what == 1 ? 4096 + (size_t) rand_r(&seed) % 4096
                              : 8192 + (size_t) rand_r(&seed) % (size - 8192 - 8);
            for (int b = 0; b < 8; b++)
                p[off + (size_t) b] = (unsigned char) rand_r(&seed);
            ssize_t n = ipckit_recv(sub, buf, sizeof buf, 0);
            ck_assert_msg(n == -EAGAIN || n == -EBADMSG || n == -ENOBUFS ||
                              (n >= 0 && (size_t) n <= sizeof buf),
                          "round %d: recv %zd (%s)", round, n, ipckit_last_error(sub));
        }
        munmap(p, size);
        ck_assert_int_eq(ipckit_close(sub), 0);
        ck_assert_int_eq(ipckit_close(pub), 0);
        ck_assert_int_eq(ipckit_unlink(name), 0);
    }
}
END_TEST

/* A peer that writes the doorbell's words (the bell armed for ever,
 * garbage numbers in every slot) costs publishers time, nothing else:
 * every message arrives, and a subscriber that takes a slot again is
 * still woken. */
START_TEST(fd_scribbled_bell)
{
    ipckit_channel *pub, *sub, *other;
    unsigned char *p;
    size_t size;
    uint32_t v = 0;
    int fd;
    setup("wait");
    pub = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, 8, 64);
    sub = open_ok(name, IPCKIT_RECV, 0, 0);
    other = open_ok(name, IPCKIT_RECV, 0, 0);
    p = map_raw(&size);
    memset(p + 320, 0xa5, 64); /* the bell: armed, and seven numbers */
    for (uint32_t i = 0; i < 100; i++) {
        send_u32(pub, i);
        ck_assert_uint_eq(recv_u32(sub), i);
        ck_assert_uint_eq(recv_u32(other), i);
        p[320] = 0xa5; /* armed again */
    }
    memset(p + 328, 0xa5, 56); /* every slot taken by a socket that is not there */
    fd = ipckit_fd(sub);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ipckit_recv(sub, &v, sizeof v, 0), -EAGAIN);
    ck_assert_int_eq(poll_in(fd, 0), 0);
    send_u32(pub, 100);
    ck_assert_int_eq(poll_in(fd, WAIT_MS), 1);
    ck_assert_uint_eq(recv_u32(sub), 100);
    ck_assert_uint_eq(recv_u32(other), 100);
    ck_assert_uint_eq(missed(sub) + missed(other), 0);
    munmap(p, size);
    done(pub, sub, other);
}
END_TEST

/* A subscriber opened before fork() and used by the child only. */
static int
child_reads(void *arg)
{
    ipckit_channel *sub = arg;
    for (uint32_t i = 0; i < 5; i++) {
        uint32_t v = 0;
        TK_CHILD_CHECK(ipckit_recv(sub, &v, 4, WAIT_MS) == 4 && v == i);
    }
    return 0;
}

/* A subscriber inherited by a child gets what the parent publishes;
 * ipckit_stat_name() describes the ring. */
START_TEST(stat_and_fork)
{
    ipckit_channel *pub, *sub;
    ipckit_stat st;
    pid_t pid;
    setup("wait");
    pub = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, 8, 64);
    sub = open_ok(name, IPCKIT_RECV, 0, 0);
    pid = tk_fork(child_reads, sub);
    for (uint32_t i = 0; i < 5; i++)
        send_u32(pub, i);
    ck_assert_int_eq(tk_wait(pid, WAIT_MS), 0);
    ck_assert_int_eq(ipckit_stat_name(name, &st), 0);
    ck_assert_int_eq(st.messages, 5);
    ck_assert_int_eq(st.max_msg_size, 64);
    ck_assert_int_eq(st.last_send_pid, getpid());
    ck_assert_int_eq(st.creator_pid, getpid());
    ck_assert_int_eq(ipckit_close(sub), 0);
    ck_assert_int_eq(ipckit_close(pub), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

static int
child_borrows(void *arg)
{
    ipckit_channel *sub = arg;
    for (uint32_t i = 0; i < 20; i++) {
        const void *p;
        long type;
        uint32_t v;
        TK_CHILD_CHECK(ipckit_recv_borrow(sub, &type, &p, WAIT_MS) == 4);
        memcpy(&v, p, 4);
        TK_CHILD_CHECK(v == i);
        TK_CHILD_CHECK(ipckit_recv_release(sub) == 0);
    }
    return 0;
}

static int
child_closes(void *arg)
{
    return ipckit_close(arg) == 0 ? 0 : 1;
}

/* Wait mode and fork: a subscriber inherited by a child that reads through
 * it (here by borrowing) keeps moving the registration of the process that
 * opened it, so publishers are not held back by it; a child that closes
 * its copy does not end the parent's registration. */
START_TEST(fork_keeps_the_registration)
{
    ipckit_channel *pub, *sub;
    uint32_t v = 99;
    pid_t pid;
    setup("wait");
    pub = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, 4, 64);
    sub = open_ok(name, IPCKIT_RECV, 0, 0);
    pid = tk_fork(child_borrows, sub);
    for (uint32_t i = 0; i < 20; i++) {
        int rc = ipckit_send(pub, &i, 4, 3000);
        ck_assert_msg(rc == 0, "send %u: %s (%s)", i, ipckit_errname(rc), ipckit_last_error(pub));
    }
    ck_assert_int_eq(tk_wait(pid, WAIT_MS), 0);
    /* the child's close leaves the parent's subscription registered */
    ck_assert_int_eq(tk_wait(tk_fork(child_closes, sub), WAIT_MS), 0);
    for (uint32_t i = 0; i < 4; i++)
        send_u32(pub, i);
    ck_assert_int_eq(ipckit_send(pub, &v, 4, 0), -EAGAIN);
    ck_assert_int_eq(ipckit_close(sub), 0);
    send_u32(pub, v); /* its own close ends it */
    ck_assert_int_eq(ipckit_close(pub), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("shm_bcast");
    TCase *tc = tk_tcase("shm_bcast", 120);
    tcase_add_test(tc, every_subscriber_sees_every_message);
    tcase_add_test(tc, slow_subscriber_learns_what_it_missed);
    tcase_add_test(tc, history_for_late_subscribers);
    tcase_add_test(tc, wait_mode_waits_for_the_slowest);
    tcase_add_test(tc, dead_subscriber_is_dropped);
    tcase_add_test(tc, subscriber_table);
    tcase_add_test(tc, zero_copy);
    tcase_add_test(tc, names_and_modes);
    tcase_add_test(tc, fd_wakes_every_subscriber);
    tcase_add_test(tc, corrupt_header_is_refused);
    tcase_add_test(tc, scribbled_ring_is_never_trusted);
    tcase_add_test(tc, fd_scribbled_bell);
    tcase_add_test(tc, stat_and_fork);
    tcase_add_test(tc, fork_keeps_the_registration);
    suite_add_tcase(s, tc);
    return tk_run(s);
}
