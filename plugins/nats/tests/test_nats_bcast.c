/*
 * Broadcast channels on nats: (nats://HOST/NAME?bcast=1) against a real
 * nats-server (natsfix.c): names and modes, every subscriber getting every
 * message, history for late subscribers, a slow subscriber told what it
 * missed, 1 x 8 and 4 x 8 publishers x subscribers with every byte checked
 * at every subscriber, subscribers that die and rejoin, publishers killed,
 * a server restart, fork(), other NATS clients, and the example program
 * switching between shm: and nats: by its name alone.
 *
 * Nothing here measures time: waits are generous and only bound hangs.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nats/nats.h>

#include <ipckit/ipckit.h>

#include "natsfix.h"
#include "testkit.h"

#define LONG_WAIT 60000
#define MAXP 4
#define MAXS 8
#define COUNT 2000
#define END_TYPE 1
#define DATA_TYPE 2
#define MAXLEN TK_MSG_MAX

static struct nf_server srv;
static char name[512];

/* Start the test's server and name a fresh broadcast channel on it, with
 * @p params. */
static void
setup(const char *params)
{
    char all[256];
    ck_assert_msg(nf_start(&srv, "n1", NULL) == 0, "nats-server did not start");
    (void) snprintf(all, sizeof all, "bcast=1%s%s", params ? "&" : "", params ? params : "");
    nf_name(name, sizeof name, &srv, 1, "b", all);
}

/* @p base with "&@p more" appended. */
static const char *
with(const char *base, const char *more)
{
    static char buf[sizeof name + 64];
    (void) snprintf(buf, sizeof buf, "%s&%s", base, more);
    return buf;
}

static ipckit_channel *
open_cap(const char *n, unsigned flags, size_t capacity)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *ch = NULL;
    int rc;
    o.open_timeout_ms = 20000;
    o.capacity = capacity;
    rc = ipckit_open(&ch, n, flags, &o);
    if (rc < 0) {
        fprintf(stderr, "open %s: %s (%s)\n", n, ipckit_errname(rc), ipckit_error_detail());
        if (getpid() != srv.owner)
            _exit(98);
        ck_abort_msg("open %s: %s", n, ipckit_error_detail());
    }
    return ch;
}

static ipckit_channel *
open_ok(const char *n, unsigned flags)
{
    return open_cap(n, flags, 0);
}

static unsigned long long
missed_of(ipckit_channel *ch)
{
    unsigned long long m = 0;
    ck_assert_int_eq(ipckit_ctl(ch, IPCKIT_CTL_MISSED, &m), 0);
    return m;
}

/* The count in an -ENOBUFS detail: "... N messages were missed ...". */
static unsigned long long
count_in(const char *detail)
{
    const char *p = strstr(detail, "fell behind: ");
    ck_assert_msg(p != NULL, "%s", detail);
    return strtoull(p + 13, NULL, 10);
}

/* Wait until the stream's newest message is @p want (@p len bytes): a
 * subscriber with history=1 gets it. Publishes are not acknowledged, and
 * the server stores them a moment after it passes them on. */
static void
wait_newest(const void *want, size_t len)
{
    long long t0 = tk_now_ms();
    for (;;) {
        unsigned char buf[MAXLEN];
        ipckit_channel *p = open_ok(with(name, "history=1"), IPCKIT_RECV);
        ssize_t n = ipckit_recv(p, buf, sizeof buf, 2000);
        ck_assert_int_eq(ipckit_close(p), 0);
        if (n == (ssize_t) len && memcmp(buf, want, len) == 0)
            return;
        ck_assert_int_lt(tk_now_ms() - t0, LONG_WAIT);
        usleep(20000);
    }
}

/* One publisher's messages as a subscriber sees them: in order, no
 * duplicate, and a gap only where -ENOBUFS reported one. */
struct order {
    int32_t last;
    unsigned long long reported, explained;
};

static void
order_gap(struct order *o, ipckit_channel *ch)
{
    o->reported += count_in(ipckit_last_error(ch));
}

static void
order_msg(struct order *o, uint32_t s)
{
    unsigned long long gap;
    ck_assert_msg((int32_t) s > o->last, "%u after %d: duplicate or out of order", s, o->last);
    gap = (unsigned long long) ((int32_t) s - o->last - 1);
    ck_assert_msg(o->explained + gap <= o->reported,
                  "a silent gap of %llu before %u (%llu reported, %llu explained)", gap, s,
                  o->reported, o->explained);
    o->explained += gap;
    o->last = (int32_t) s;
}

/* ---- names (no server) ---------------------------------------------- */

START_TEST(test_names)
{
    static const struct {
        const char *name;
        int rc;
        const char *detail;
    } cases[] = {
        {"nats://127.0.0.1:1/b?bcast=wait", -ENOTSUP, "cannot wait for the slowest"},
        {"nats://127.0.0.1:1/b?bcast=yes", -EINVAL, "want 1 or drop"},
        {"nats://127.0.0.1:1/b?bcast=1&history=-1", -EINVAL, "history"},
        {"nats://127.0.0.1:1/b?history=3", -EINVAL, "history= is for broadcast"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ipckit_channel *ch = NULL;
        int rc = ipckit_open(&ch, cases[i].name, IPCKIT_RECV, NULL);
        ck_assert_msg(rc == cases[i].rc, "%s: %s", cases[i].name, ipckit_errname(rc));
        ck_assert_msg(strstr(ipckit_error_detail(), cases[i].detail) != NULL, "%s: \"%s\"",
                      cases[i].name, ipckit_error_detail());
        ck_assert_ptr_null(ch);
    }
}
END_TEST

/* ---- one server ------------------------------------------------------ */

START_TEST(test_basic)
{
    char buf[64], qname[sizeof name + 16];
    ipckit_channel *pub, *a, *both, *late, *ch = NULL;
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_stat st;
    long type = 0;

    setup(NULL);
    o.open_timeout_ms = 20000;
    /* the channel is an object: it must be made, once */
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV, &o), -ENOENT);
    pub = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL);
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, &o),
                     -EEXIST);
    a = open_ok(name, IPCKIT_RECV);
    both = open_ok(name, IPCKIT_SEND | IPCKIT_RECV);
    ck_assert_uint_eq(ipckit_caps(a) & (IPCKIT_CAP_BROADCAST | IPCKIT_CAP_TYPED),
                      IPCKIT_CAP_BROADCAST | IPCKIT_CAP_TYPED);
    ck_assert_uint_eq(ipckit_caps(a) & IPCKIT_CAP_SELECT, 0);
    ck_assert_uint_gt(ipckit_max_msg_size(a), 1000);
    /* every subscriber gets every message, a publisher's types and order
     * kept */
    ck_assert_int_eq(ipckit_send_typed(pub, 3, "three", 5, 5000), 0);
    ck_assert_int_eq(ipckit_send_typed(pub, 1, "one", 3, 5000), 0);
    ck_assert_int_eq(ipckit_send_typed(pub, 2, "", 0, 5000), 0);
    {
        ipckit_channel *subs[2] = {a, both};
        for (int i = 0; i < 2; i++) {
            ck_assert_int_eq(ipckit_recv_typed(subs[i], 0, &type, buf, sizeof buf, 10000), 5);
            ck_assert_int_eq(type, 3);
            ck_assert_mem_eq(buf, "three", 5);
            /* too small a buffer: the message stays for the next receive */
            ck_assert_int_eq(ipckit_recv(subs[i], buf, 2, 10000), -EMSGSIZE);
            ck_assert_int_eq(ipckit_recv_typed(subs[i], 0, &type, buf, sizeof buf, 0), 3);
            ck_assert_int_eq(type, 1);
            ck_assert_int_eq(ipckit_recv_typed(subs[i], 0, &type, buf, sizeof buf, 10000), 0);
            ck_assert_int_eq(type, 2);
            ck_assert_int_eq(ipckit_recv(subs[i], buf, sizeof buf, 0), -EAGAIN);
            ck_assert_uint_eq(missed_of(subs[i]), 0);
        }
    }
    /* a handle that publishes and subscribes gets its own too */
    ck_assert_int_eq(ipckit_send_typed(both, 4, "own", 3, 5000), 0);
    ck_assert_int_eq(ipckit_recv_typed(both, 0, &type, buf, sizeof buf, 10000), 3);
    ck_assert_int_eq(type, 4);
    ck_assert_int_eq(ipckit_recv_typed(a, 0, &type, buf, sizeof buf, 10000), 3);
    ck_assert_mem_eq(buf, "own", 3);
    /* no selectors, no descriptor, nothing to ask a publisher */
    ck_assert_int_eq(ipckit_recv_typed(a, 1, &type, buf, sizeof buf, 0), -ENOTSUP);
    ck_assert_int_eq(ipckit_fd(a), -ENOTSUP);
    {
        unsigned long long m;
        ck_assert_int_eq(ipckit_ctl(pub, IPCKIT_CTL_MISSED, &m), -EBADF);
    }
    {
        long long t0 = tk_now_ms();
        ck_assert_int_eq(ipckit_recv(a, buf, sizeof buf, 300), -ETIMEDOUT);
        ck_assert_int_ge(tk_now_ms() - t0, 290);
        ck_assert_msg(strstr(ipckit_last_error(a), "nothing published") != NULL, "%s",
                      ipckit_last_error(a));
    }
    /* a late subscriber without history: only what comes after it */
    late = open_ok(name, IPCKIT_RECV);
    ck_assert_int_eq(ipckit_send(pub, "new", 3, 5000), 0);
    ck_assert_int_eq(ipckit_recv(late, buf, sizeof buf, 10000), 3);
    ck_assert_mem_eq(buf, "new", 3);
    ck_assert_int_eq(ipckit_recv(late, buf, sizeof buf, 0), -EAGAIN);
    /* the stream keeps what was published, for history */
    wait_newest("new", 3);
    ck_assert_int_eq(ipckit_stat_name(name, &st), 0);
    ck_assert_int_eq(st.messages, 5);
    /* a queue and a broadcast channel refuse each other's stream */
    (void) snprintf(qname, sizeof qname, "%s", name);
    *strchr(qname, '?') = '\0';
    ck_assert_int_eq(ipckit_open(&ch, qname, IPCKIT_RECV, &o), -EINVAL);
    ck_assert_msg(strstr(ipckit_error_detail(), "is a broadcast channel") != NULL, "%s",
                  ipckit_error_detail());
    ipckit_close(late);
    ipckit_close(both);
    ipckit_close(a);
    ipckit_close(pub);
    ck_assert_int_eq(ipckit_unlink(name), 0);
    ch = open_ok(qname, IPCKIT_SEND | IPCKIT_CREATE);
    ipckit_close(ch);
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV, &o), -EINVAL);
    ck_assert_msg(strstr(ipckit_error_detail(), "is a queue") != NULL, "%s", ipckit_error_detail());
    ck_assert_int_eq(ipckit_unlink(qname), 0);
    ck_assert_int_eq(ipckit_stat_name(name, &st), -ENOENT);
}
END_TEST

/* A late subscriber with ?history=N gets exactly the last N, then what is
 * published after; the stream keeps at most its capacity. */
START_TEST(test_history)
{
    char buf[32];
    ipckit_channel *pub, *h3, *h100, *hk;
    long type;

    setup(NULL);
    pub = open_cap(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, 8);
    for (int i = 0; i < 12; i++) {
        (void) snprintf(buf, sizeof buf, "m%d", i);
        ck_assert_int_eq(ipckit_send_typed(pub, 5, buf, strlen(buf), 5000), 0);
    }
    wait_newest("m11", 3); /* stored before the subscribers join */
    h3 = open_ok(with(name, "history=3"), IPCKIT_RECV);
    h100 = open_ok(with(name, "history=100"), IPCKIT_RECV);
    for (int i = 9; i < 12; i++) {
        char want[8];
        int len = snprintf(want, sizeof want, "m%d", i);
        ck_assert_int_eq(ipckit_recv_typed(h3, 0, &type, buf, sizeof buf, 10000), len);
        ck_assert_mem_eq(buf, want, (size_t) len);
        ck_assert_int_eq(type, 5);
    }
    ck_assert_int_eq(ipckit_recv(h3, buf, sizeof buf, 300), -ETIMEDOUT);
    /* more than is kept: what is kept (capacity 8), and no gap reported */
    for (int i = 4; i < 12; i++) {
        char want[8];
        int len = snprintf(want, sizeof want, "m%d", i);
        ck_assert_int_eq(ipckit_recv(h100, buf, sizeof buf, 10000), len);
        ck_assert_mem_eq(buf, want, (size_t) len);
    }
    ck_assert_uint_eq(missed_of(h100), 0);
    /* then the live ones */
    ck_assert_int_eq(ipckit_send_typed(pub, 6, "live", 4, 5000), 0);
    ck_assert_int_eq(ipckit_recv_typed(h3, 0, &type, buf, sizeof buf, 10000), 4);
    ck_assert_int_eq(type, 6);
    ck_assert_int_eq(ipckit_recv(h100, buf, sizeof buf, 10000), 4);
    ck_assert_int_eq(ipckit_recv(h3, buf, sizeof buf, 0), -EAGAIN);
    /* history=1: the newest */
    hk = open_ok(with(name, "history=1"), IPCKIT_RECV);
    ck_assert_int_eq(ipckit_recv(hk, buf, sizeof buf, 10000), 4);
    ck_assert_mem_eq(buf, "live", 4);
    ipckit_close(hk);
    ipckit_close(h100);
    ipckit_close(h3);
    ipckit_close(pub);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/*
 * A subscriber that does not read while its client's pending limit (its
 * capacity, here 10) is full: the client drops, and the subscriber is told
 * how many with -ENOBUFS once, never a silent gap; when its publisher's
 * numbering later shows the same gap, it is not counted twice.
 */
START_TEST(test_slow_subscriber)
{
    unsigned char buf[MAXLEN];
    ipckit_channel *pub, *slow;
    unsigned long long reported = 0;
    int32_t last = -1;
    unsigned got = 0, nobufs = 0;

    setup(NULL);
    pub = open_cap(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, 1000);
    slow = open_cap(name, IPCKIT_RECV, 10);
    for (uint32_t s = 0; s < 100; s++)
        ck_assert_int_eq(ipckit_send_typed(pub, DATA_TYPE, buf, tk_msg_make(buf, 0, s, 0), 5000), 0);
    /* all of them went through the server, and came to the stalled client */
    wait_newest(buf, tk_msg_make(buf, 0, 99, 0));
    usleep(500000);
    for (uint32_t round = 0; round < 2; round++) {
        for (;;) {
            long type;
            uint32_t w, s, gen;
            ssize_t n = ipckit_recv_typed(slow, 0, &type, buf, sizeof buf, 2000);
            if (n == -ETIMEDOUT)
                break;
            if (n == -ENOBUFS) {
                nobufs++;
                reported += count_in(ipckit_last_error(slow));
                continue;
            }
            ck_assert_int_ge(n, 0);
            ck_assert(tk_msg_ok(buf, (size_t) n, &w, &s, &gen));
            ck_assert_int_gt((int32_t) s, last);
            last = (int32_t) s;
            got++;
        }
        /* the same publisher again: its numbers now skip what was dropped */
        if (round == 0)
            ck_assert_int_eq(ipckit_send_typed(pub, DATA_TYPE, buf, tk_msg_make(buf, 0, 100, 0), 5000),
                             0);
    }
    printf("slow subscriber: %u received, %llu reported missed in %u report(s)\n", got, reported,
           nobufs);
    ck_assert_uint_ge(nobufs, 1);
    ck_assert_uint_ge(reported, 1);
    ck_assert_int_eq(last, 100);
    ck_assert_uint_eq(got + reported, 101);
    ck_assert_uint_eq(missed_of(slow), reported);
    ipckit_close(slow);
    ipckit_close(pub);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/* ---- fan-out ---------------------------------------------------------- */

struct tally {
    atomic_uchar seen[MAXS][MAXP][COUNT];
    atomic_uint torn, misordered, dup;
    atomic_ullong missed[MAXS];
    atomic_uint received[MAXS], markers[MAXS];
};
static struct tally *tl;

struct sub_arg {
    int id;
    tk_gate *ready;
};

/* Subscriber 0 is slow with a small pending limit; 6 and 7 ask for history. */
static int
fan_subscriber(void *arg)
{
    struct sub_arg *a = arg;
    unsigned char buf[MAXLEN];
    int32_t last[MAXP] = {-1, -1, -1, -1};
    ipckit_channel *ch =
        open_cap(a->id >= 6 ? with(name, "history=1") : name, IPCKIT_RECV, a->id == 0 ? 64 : 0);
    unsigned k = 0;
    tk_gate_open(a->ready);
    for (;;) {
        long type = 0;
        uint32_t w, s, gen;
        ssize_t n = ipckit_recv_typed(ch, 0, &type, buf, sizeof buf, LONG_WAIT);
        if (n == -ENOBUFS)
            continue; /* a gap, counted below */
        TK_CHILD_CHECK(n >= 0);
        if (type == END_TYPE) {
            atomic_fetch_add(&tl->markers[a->id], 1);
            break;
        }
        if (!tk_msg_ok(buf, (size_t) n, &w, &s, &gen) || w >= MAXP || s >= COUNT) {
            atomic_fetch_add(&tl->torn, 1);
            continue;
        }
        if ((int32_t) s <= last[w])
            atomic_fetch_add(&tl->misordered, 1);
        last[w] = (int32_t) s;
        if (atomic_fetch_add(&tl->seen[a->id][w][s], 1) != 0)
            atomic_fetch_add(&tl->dup, 1);
        atomic_fetch_add(&tl->received[a->id], 1);
        if (a->id == 0 && ++k % 64 == 0)
            usleep(2000);
    }
    atomic_store(&tl->missed[a->id], missed_of(ch));
    TK_CHILD_CHECK(ipckit_close(ch) == 0);
    return 0;
}

static int
fan_publisher(void *arg)
{
    uint32_t w = (uint32_t) (uintptr_t) arg;
    unsigned char buf[MAXLEN];
    ipckit_channel *ch = open_ok(name, IPCKIT_SEND);
    for (uint32_t s = 0; s < COUNT; s++) {
        size_t len = tk_msg_make(buf, w, s, 0);
        TK_CHILD_CHECK(ipckit_send_typed(ch, DATA_TYPE, buf, len, LONG_WAIT) == 0);
    }
    return ipckit_close(ch) == 0 ? 0 : 1;
}

static void
fan_out(unsigned np, unsigned ns)
{
    pid_t pubs[MAXP], subs[MAXS];
    tk_gate ready[MAXS];
    struct sub_arg args[MAXS];
    ipckit_channel *ctl;
    unsigned lost = 0, total = np * COUNT, sent_markers = 0;

    tl = mmap(NULL, sizeof *tl, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(tl, MAP_FAILED);
    setup(NULL);
    ctl = open_cap(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, 100000);
    for (unsigned i = 0; i < ns; i++) {
        tk_gate_init(&ready[i]);
        args[i] = (struct sub_arg){(int) i, &ready[i]};
        subs[i] = tk_fork(fan_subscriber, &args[i]);
    }
    /* every subscriber has joined before the first message */
    for (unsigned i = 0; i < ns; i++)
        ck_assert_int_eq(tk_gate_wait(&ready[i], LONG_WAIT), 0);
    for (unsigned p = 0; p < np; p++)
        pubs[p] = tk_fork(fan_publisher, (void *) (uintptr_t) p);
    for (unsigned p = 0; p < np; p++)
        ck_assert_int_eq(tk_wait(pubs[p], LONG_WAIT), 0);
    /* the end marker, until every subscriber has stopped (at most once: a
     * subscriber may miss one, which it then reports) */
    for (unsigned i = 0; i < ns; i++) {
        long long t0 = tk_now_ms();
        int st = 0;
        pid_t r;
        for (;;) {
            ck_assert_int_eq(ipckit_send_typed(ctl, END_TYPE, "", 0, LONG_WAIT), 0);
            sent_markers++;
            usleep(20000);
            r = waitpid(subs[i], &st, WNOHANG);
            if (r != 0 || tk_now_ms() - t0 > LONG_WAIT)
                break;
        }
        ck_assert_int_eq(r, subs[i]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "subscriber %u: status %#x", i, st);
    }
    for (unsigned i = 0; i < ns; i++) {
        unsigned got = 0;
        unsigned long long missed = atomic_load(&tl->missed[i]);
        for (unsigned p = 0; p < np; p++)
            for (unsigned s = 0; s < COUNT; s++)
                got += atomic_load(&tl->seen[i][p][s]) != 0;
        ck_assert_uint_eq(got, atomic_load(&tl->received[i]));
        /* what it did not get was reported missed, and nothing more: the
         * count may include end markers missed before the one it took */
        ck_assert_msg(got + missed >= total && got + missed <= total + sent_markers,
                      "subscriber %u: %u received, %llu reported missed, %u published", i, got,
                      missed, total);
        lost += total - got;
        if (got < total)
            printf("fan-out: subscriber %u%s: %u of %u received, %llu reported missed\n", i,
                   i == 0   ? " (slow)"
                   : i >= 6 ? " (history)"
                            : "",
                   got, total, missed);
    }
    printf("fan-out: %u publishers x %u subscribers x %u messages: %u not received (all"
           " reported missed), %u duplicated, %u torn, %u out of order\n",
           np, ns, COUNT, lost, atomic_load(&tl->dup), atomic_load(&tl->torn),
           atomic_load(&tl->misordered));
    ck_assert_uint_eq(atomic_load(&tl->dup), 0);
    ck_assert_uint_eq(atomic_load(&tl->torn), 0);
    ck_assert_uint_eq(atomic_load(&tl->misordered), 0);
    for (unsigned i = 0; i < ns; i++)
        tk_gate_close(&ready[i]);
    ck_assert_int_eq(ipckit_close(ctl), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
    munmap(tl, sizeof *tl);
}

START_TEST(test_fan_out_1x8)
{
    fan_out(1, 8);
}
END_TEST

START_TEST(test_fan_out_4x8)
{
    fan_out(4, 8);
}
END_TEST

/* ---- subscribers that die and rejoin ---------------------------------- */

#define RUN 600

struct life {
    tk_gate *ready, *got50;
    const char *name;
    int kill_me; /* stop reading after 50 and wait to be killed */
};

static int
living_subscriber(void *arg)
{
    struct life *l = arg;
    unsigned char buf[MAXLEN];
    ipckit_channel *ch = open_ok(l->name, IPCKIT_RECV);
    int32_t last = -1;
    tk_gate_open(l->ready);
    for (uint32_t k = 0;; k++) {
        long type = 0;
        uint32_t w, s, gen;
        ssize_t n = ipckit_recv_typed(ch, 0, &type, buf, sizeof buf, LONG_WAIT);
        TK_CHILD_CHECK(n >= 0); /* no gap at this pace */
        if (type == END_TYPE)
            break;
        TK_CHILD_CHECK(tk_msg_ok(buf, (size_t) n, &w, &s, &gen) && w == 0 && s < RUN);
        /* from its first message on, no gap and no duplicate */
        TK_CHILD_CHECK(last < 0 || (int32_t) s == last + 1);
        last = (int32_t) s;
        if (l->kill_me && k == 50) {
            tk_gate_open(l->got50);
            pause();
        }
    }
    TK_CHILD_CHECK(last == RUN - 1);
    return ipckit_close(ch) == 0 ? 0 : 1;
}

START_TEST(test_subscriber_dies_and_rejoins)
{
    unsigned char buf[MAXLEN];
    tk_gate ready[3], got50;
    struct life lives[3];
    ipckit_channel *pub, *h5;
    pid_t pids[3];

    setup(NULL);
    pub = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL);
    tk_gate_init(&got50);
    for (int i = 0; i < 3; i++) {
        tk_gate_init(&ready[i]);
        lives[i] = (struct life){&ready[i], &got50, name, i == 0};
    }
    /* one that reads everything, one that is killed after 50 */
    for (int i = 0; i < 2; i++) {
        pids[i] = tk_fork(living_subscriber, &lives[i]);
        ck_assert_int_eq(tk_gate_wait(&ready[i], LONG_WAIT), 0);
    }
    for (uint32_t s = 0; s < RUN; s++) {
        ck_assert_int_eq(ipckit_send_typed(pub, DATA_TYPE, buf, tk_msg_make(buf, 0, s, 0), 5000), 0);
        if (s == 100) {
            ck_assert_int_eq(tk_gate_wait(&got50, LONG_WAIT), 0);
            ck_assert_int_eq(kill(pids[0], SIGKILL), 0);
            ck_assert_int_eq(tk_wait(pids[0], LONG_WAIT), 128 + SIGKILL);
            /* it rejoins: everything from its join on */
            pids[2] = tk_fork(living_subscriber, &lives[2]);
            ck_assert_int_eq(tk_gate_wait(&ready[2], LONG_WAIT), 0);
        }
        if (s % 16 == 0)
            usleep(1000);
    }
    /* and again with history: exactly the last 5 */
    wait_newest(buf, tk_msg_make(buf, 0, RUN - 1, 0));
    h5 = open_ok(with(name, "history=5"), IPCKIT_RECV);
    for (uint32_t s = RUN - 5; s < RUN; s++) {
        uint32_t w, got, gen;
        ssize_t n = ipckit_recv(h5, buf, sizeof buf, 10000);
        ck_assert_int_gt(n, 0);
        ck_assert(tk_msg_ok(buf, (size_t) n, &w, &got, &gen));
        ck_assert_uint_eq(got, s);
    }
    ck_assert_int_eq(ipckit_send_typed(pub, END_TYPE, "", 0, 5000), 0);
    ck_assert_int_eq(tk_wait(pids[1], LONG_WAIT), 0);
    ck_assert_int_eq(tk_wait(pids[2], LONG_WAIT), 0);
    ck_assert_uint_eq(missed_of(h5), 0);
    ipckit_close(h5);
    for (int i = 0; i < 3; i++)
        tk_gate_close(&ready[i]);
    tk_gate_close(&got50);
    ipckit_close(pub);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/* ---- publishers killed ------------------------------------------------ */

static int
endless_publisher(void *arg)
{
    uint32_t gen = (uint32_t) (uintptr_t) arg;
    unsigned char buf[MAXLEN];
    ipckit_channel *ch = open_ok(name, IPCKIT_SEND);
    for (uint32_t s = 0;; s++) {
        TK_CHILD_CHECK(ipckit_send_typed(ch, DATA_TYPE, buf, tk_msg_make(buf, 1, s, gen), LONG_WAIT) ==
                       0);
        if (s % 64 == 0)
            usleep(500);
    }
}

/* Killed at a random point: what reached the server arrives whole, in
 * order, without duplicates, and nothing is skipped unreported; the next
 * publisher goes on. */
START_TEST(test_publisher_killed)
{
    const char *env = getenv("IPCKIT_KILL_REPEAT");
    int repeat = env ? atoi(env) : 5;
    unsigned char buf[MAXLEN];
    ipckit_channel *sub;

    setup(NULL);
    ipckit_close(open_ok(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL));
    sub = open_ok(name, IPCKIT_RECV);
    srand((unsigned) getpid());
    for (int r = 1; r <= repeat; r++) {
        pid_t pid = tk_fork(endless_publisher, (void *) (uintptr_t) r);
        struct order o = {-1, 0, 0};
        unsigned long long m0 = missed_of(sub);
        uint32_t w, s, gen, got = 0, kill_at = 20 + (uint32_t) rand() % 400;
        for (;;) {
            long type;
            ssize_t n = ipckit_recv_typed(sub, 0, &type, buf, sizeof buf,
                                          got >= kill_at ? 2000 : LONG_WAIT);
            if (n == -ETIMEDOUT && got >= kill_at)
                break; /* nothing more from the dead one */
            if (n == -ENOBUFS) {
                order_gap(&o, sub);
                continue;
            }
            ck_assert_int_ge(n, 0);
            ck_assert_msg(tk_msg_ok(buf, (size_t) n, &w, &s, &gen), "torn message");
            ck_assert_uint_eq(gen, (uint32_t) r);
            order_msg(&o, s);
            if (++got == kill_at) {
                ck_assert_int_eq(kill(pid, SIGKILL), 0);
                ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 128 + SIGKILL);
            }
        }
        ck_assert_uint_eq(o.explained, o.reported);
        ck_assert_uint_eq(missed_of(sub) - m0, o.reported);
    }
    ipckit_close(sub);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/* ---- a server restart ------------------------------------------------- */

/* Read what @p ch has until message @p until came, checking the order. */
static void
drain_until(ipckit_channel *ch, struct order *o, uint32_t until)
{
    unsigned char buf[MAXLEN];
    while (o->last < (int32_t) until) {
        uint32_t w, s, gen;
        ssize_t n = ipckit_recv(ch, buf, sizeof buf, LONG_WAIT);
        if (n == -ENOBUFS) {
            order_gap(o, ch);
            continue;
        }
        ck_assert_msg(n > 0, "%s", ipckit_last_error(ch));
        ck_assert(tk_msg_ok(buf, (size_t) n, &w, &s, &gen));
        order_msg(o, s);
    }
}

/*
 * The server is killed and started again (file storage) under a core
 * subscriber and a history subscriber, and the publisher goes on when it
 * can. Both get every message at most once and in order, and whatever
 * they did not get (published before they were back) is reported; the
 * history subscriber gets what was stored before the restart once, not
 * again.
 */
START_TEST(test_restart)
{
    unsigned char buf[MAXLEN];
    ipckit_channel *pub, *core, *hist;
    struct order oc = {-1, 0, 0}, oh = {-1, 0, 0};
    uint32_t s = 0, last;

    setup(NULL);
    pub = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL);
    core = open_ok(name, IPCKIT_RECV);
    hist = open_ok(with(name, "history=1"), IPCKIT_RECV);
    for (; s < 20; s++)
        ck_assert_int_eq(ipckit_send_typed(pub, DATA_TYPE, buf, tk_msg_make(buf, 0, s, 0), 5000), 0);
    drain_until(core, &oc, 19);
    drain_until(hist, &oh, 19);
    nf_kill(&srv);
    usleep(300000);
    ck_assert_int_eq(nf_restart(&srv), 0);
    /* publish (the sends wait for the connection) until both subscribers
     * get messages again, then 10 more */
    for (last = UINT32_MAX; s != last; s++) {
        ck_assert_int_eq(ipckit_send_typed(pub, DATA_TYPE, buf, tk_msg_make(buf, 0, s, 0), 30000), 0);
        if (last == UINT32_MAX) {
            uint32_t w, k, gen;
            ssize_t n;
            while ((n = ipckit_recv(core, buf, sizeof buf, 20)) == -ENOBUFS)
                order_gap(&oc, core);
            if (n > 0) {
                ck_assert(tk_msg_ok(buf, (size_t) n, &w, &k, &gen));
                order_msg(&oc, k);
            }
            while ((n = ipckit_recv(hist, buf, sizeof buf, 20)) == -ENOBUFS)
                order_gap(&oh, hist);
            if (n > 0) {
                ck_assert(tk_msg_ok(buf, (size_t) n, &w, &k, &gen));
                order_msg(&oh, k);
            }
            if (oc.last >= 20 && oh.last >= 20)
                last = s + 11;
            ck_assert_uint_lt(s, 20000);
        }
    }
    drain_until(core, &oc, last - 1);
    drain_until(hist, &oh, last - 1);
    printf("restart: %u published; core subscriber: %llu missed; history subscriber: %llu"
           " missed\n",
           last, oc.reported, oh.reported);
    ck_assert_uint_eq(oc.explained, oc.reported);
    ck_assert_uint_eq(oh.explained, oh.reported);
    ck_assert_uint_eq(missed_of(core), oc.reported);
    ck_assert_uint_eq(missed_of(hist), oh.reported);
    ipckit_close(hist);
    ipckit_close(core);
    ipckit_close(pub);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/* ---- fork ------------------------------------------------------------- */

static ipckit_channel *fork_sub, *fork_pub;

/* A publisher used in a child: a connection (and a publisher id) of its own. */
static int
publishing_child(void *arg)
{
    (void) arg;
    TK_CHILD_CHECK(ipckit_send(fork_pub, "n21", 3, LONG_WAIT) == 0);
    TK_CHILD_CHECK(ipckit_close(fork_pub) == 0); /* flushed before it goes */
    return 0;
}

/* A history subscriber used in a child resumes after the last message its
 * handle returned; the ones the stream dropped meanwhile are reported. */
static int
resuming_child(void *arg)
{
    char buf[16];
    (void) arg;
    TK_CHILD_CHECK(ipckit_recv(fork_sub, buf, sizeof buf, LONG_WAIT) == -ENOBUFS);
    TK_CHILD_CHECK(strstr(ipckit_last_error(fork_sub), "fell behind: 15 messages") != NULL);
    TK_CHILD_CHECK(ipckit_recv(fork_sub, buf, sizeof buf, LONG_WAIT) == 3);
    TK_CHILD_CHECK(memcmp(buf, "n16", 3) == 0);
    ipckit_close(fork_sub);
    return 0;
}

START_TEST(test_fork)
{
    char buf[16];
    ipckit_channel *pub;
    pid_t pid;

    setup("max_msgs=5");
    pub = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL);
    fork_sub = open_ok(with(name, "history=1"), IPCKIT_RECV);
    ck_assert_int_eq(ipckit_send(pub, "n0", 2, 5000), 0);
    ck_assert_int_eq(ipckit_recv(fork_sub, buf, sizeof buf, 10000), 2);
    /* 20 more while nobody reads; the stream keeps the last 5 */
    for (int i = 1; i <= 20; i++) {
        int len = snprintf(buf, sizeof buf, "n%d", i);
        ck_assert_int_eq(ipckit_send(pub, buf, (size_t) len, 5000), 0);
    }
    wait_newest("n20", 3);
    pid = tk_fork(resuming_child, NULL);
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    /* the parent's handle goes on with its own consumer, which may have
     * come too late for some of the burst as well: in order, and what it
     * did not get reported */
    {
        struct order o = {0, 0, 0};
        while (o.last < 20) {
            ssize_t n = ipckit_recv(fork_sub, buf, sizeof buf - 1, 10000);
            if (n == -ENOBUFS) {
                order_gap(&o, fork_sub);
                continue;
            }
            ck_assert_int_gt(n, 1);
            buf[n] = '\0';
            order_msg(&o, (uint32_t) atoi(buf + 1));
        }
        ck_assert_uint_eq(o.explained, o.reported);
    }
    fork_pub = pub;
    pid = tk_fork(publishing_child, NULL);
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    ck_assert_int_eq(ipckit_recv(fork_sub, buf, sizeof buf, 10000), 3);
    ck_assert_mem_eq(buf, "n21", 3);
    ck_assert_int_eq(ipckit_send(pub, "n22", 3, 5000), 0); /* and the parent's goes on */
    ck_assert_int_eq(ipckit_recv(fork_sub, buf, sizeof buf, 10000), 3);
    ck_assert_mem_eq(buf, "n22", 3);
    ipckit_close(fork_sub);
    ipckit_close(pub);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/* ---- other NATS clients ----------------------------------------------- */

START_TEST(test_interop)
{
    char url[64], subj[128], buf[32], forged[40];
    ipckit_channel *ch;
    natsConnection *nc = NULL;
    natsSubscription *sub = NULL;
    natsMsg *m = NULL;
    const char *id = NULL, *chan;
    long type = 0;

    setup(NULL);
    chan = strrchr(name, '/') + 1;
    (void) snprintf(subj, sizeof subj, "ipckit.%.*s.7", (int) (strchr(chan, '?') - chan), chan);
    ch = open_ok(name, IPCKIT_SEND | IPCKIT_RECV | IPCKIT_CREATE);
    nf_url(url, sizeof url, &srv, 1, NULL, NULL);
    ck_assert_int_eq(natsConnection_ConnectTo(&nc, url), NATS_OK);
    ck_assert_int_eq(natsConnection_SubscribeSync(&sub, nc, subj), NATS_OK);
    ck_assert_int_eq(natsConnection_Flush(nc), NATS_OK);
    /* a plain publish to ipckit.NAME.7 is a message of type 7 */
    ck_assert_int_eq(natsConnection_PublishString(nc, subj, "plain"), NATS_OK);
    ck_assert_int_eq(ipckit_recv_typed(ch, 0, &type, buf, sizeof buf, 10000), 5);
    ck_assert_int_eq(type, 7);
    /* ipckit's: the bytes as they are, the publisher's id and number */
    ck_assert_int_eq(natsSubscription_NextMsg(&m, sub, 10000), NATS_OK); /* "plain" */
    natsMsg_Destroy(m);
    ck_assert_int_eq(ipckit_send_typed(ch, 7, "ipckit", 6, 5000), 0);
    ck_assert_int_eq(natsSubscription_NextMsg(&m, sub, 10000), NATS_OK);
    ck_assert_int_eq(natsMsg_GetDataLength(m), 6);
    ck_assert_mem_eq(natsMsg_GetData(m), "ipckit", 6);
    ck_assert_int_eq(natsMsgHeader_Get(m, "Nats-Msg-Id", &id), NATS_OK);
    ck_assert_uint_eq(strlen(id), 32);
    ck_assert_str_eq(id + 16, "0000000000000001");
    (void) snprintf(forged, sizeof forged, "%.16s0000000000000100", id);
    natsMsg_Destroy(m);
    ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 10000), 6);
    /* another client that takes a publisher's id with a higher number can
     * make the missed count jump, but not hide that publisher's next
     * messages */
    ck_assert_int_eq(natsMsg_Create(&m, subj, NULL, "forged", 6), NATS_OK);
    ck_assert_int_eq(natsMsgHeader_Set(m, "Nats-Msg-Id", forged), NATS_OK);
    ck_assert_int_eq(natsConnection_PublishMsg(nc, m), NATS_OK);
    natsMsg_Destroy(m);
    ck_assert_int_eq(natsConnection_Flush(nc), NATS_OK);
    ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 10000), -ENOBUFS);
    ck_assert_uint_eq(count_in(ipckit_last_error(ch)), 0x100 - 2);
    ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 10000), 6);
    ck_assert_mem_eq(buf, "forged", 6);
    ck_assert_int_eq(ipckit_send_typed(ch, 7, "next", 4, 5000), 0);
    ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 10000), 4);
    ck_assert_mem_eq(buf, "next", 4);
    /* a subject whose last token is no type: -EBADMSG, then the next one */
    (void) snprintf(subj, sizeof subj, "ipckit.%.*s.oops", (int) (strchr(chan, '?') - chan), chan);
    ck_assert_int_eq(natsConnection_PublishString(nc, subj, "x"), NATS_OK);
    ck_assert_int_eq(natsConnection_Flush(nc), NATS_OK);
    ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 10000), -EBADMSG);
    ck_assert_msg(strstr(ipckit_last_error(ch), "oops") != NULL, "%s", ipckit_last_error(ch));
    ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 0), -EAGAIN);
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(nc);
    ipckit_close(ch);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/* ---- one program, one host or many, by its name ------------------------ */

static void
run_example(const char *chan)
{
    pid_t pid;
    fflush(NULL);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            (void) dup2(devnull, STDOUT_FILENO);
        execl(EXAMPLE_PUBSUB, "example_pubsub", "--fast", "--name", chan, (char *) NULL);
        _exit(127);
    }
    ck_assert_int_eq(tk_wait(pid, 120000), 0);
}

START_TEST(test_example_by_name)
{
    char shm[128], pname[64];
    ipckit_stat st;
    if (EXAMPLE_PUBSUB[0] == '\0')
        return;
    tk_posix_name(pname, sizeof pname);
    (void) snprintf(shm, sizeof shm, "shm:%s?bcast=1", pname);
    run_example(shm);
    ck_assert_int_eq(ipckit_stat_name(shm, &st), -ENOENT);
    setup(NULL);
    run_example(name);
    ck_assert_int_eq(ipckit_stat_name(name, &st), -ENOENT); /* it removed its channel */
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("nats_bcast");
    TCase *tc;

    nf_require_server();
    tc = tk_tcase("names", 30);
    tcase_add_test(tc, test_names);
    suite_add_tcase(s, tc);

    tc = tk_tcase("server", 120);
    tcase_add_checked_fixture(tc, NULL, nf_stop_all);
    tcase_add_test(tc, test_basic);
    tcase_add_test(tc, test_history);
    tcase_add_test(tc, test_slow_subscriber);
    tcase_add_test(tc, test_fork);
    tcase_add_test(tc, test_interop);
    tcase_add_test(tc, test_example_by_name);
    suite_add_tcase(s, tc);

    tc = tk_tcase("processes", 300);
    tcase_add_checked_fixture(tc, NULL, nf_stop_all);
    tcase_add_test(tc, test_fan_out_1x8);
    tcase_add_test(tc, test_fan_out_4x8);
    tcase_add_test(tc, test_subscriber_dies_and_rejoins);
    tcase_add_test(tc, test_publisher_killed);
    tcase_add_test(tc, test_restart);
    suite_add_tcase(s, tc);
    return tk_run(s);
}
