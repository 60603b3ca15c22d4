/*
 * Tests of what only the shm: backend (message ring in shared memory) does,
 * with real processes: the ring's sizes and layout, a corrupt or hostile
 * ring, planted files, several producers and consumers, wake-ups, zero
 * copy. The channel contract over shm: (sizes, types, timeouts, fork,
 * modes, stat, signals, ...) is the conformance suite's (conformance.shm).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/membarrier.h>
#include <linux/seccomp.h>

#include <ipckit/ipckit.h>

#include "testkit.h"

#define LONG_WAIT 30000

static char name[240], pname[200];

static void
setup_name(const char *params)
{
    tk_posix_name(pname, sizeof pname);
    (void) snprintf(name, sizeof name, "shm:%s%s", pname, params);
}

static ipckit_channel *
open_ok(unsigned flags, const ipckit_opts *o)
{
    ipckit_channel *ch = NULL;
    int rc = ipckit_open(&ch, name, flags, o);
    ck_assert_msg(rc == 0, "open %s: %s (%s)", name, ipckit_errname(rc), ipckit_error_detail());
    return ch;
}

/* A message: producer id, sequence, then tk_fill(); length varies with seq. */
static size_t
msg_make(unsigned char *b, unsigned p, unsigned s, size_t maxlen)
{
    size_t len = 8 + (s * 37u + p * 11u) % (maxlen - 8);
    memcpy(b, &p, 4);
    memcpy(b + 4, &s, 4);
    tk_fill(b + 8, len - 8, p, s);
    return len;
}

static int
msg_valid(const unsigned char *b, size_t len, unsigned *p, unsigned *s, size_t maxlen)
{
    static unsigned char want[1 << 17];
    if (len < 8 || len > sizeof want)
        return 0;
    memcpy(p, b, 4);
    memcpy(s, b + 4, 4);
    if (len != 8 + (*s * 37u + *p * 11u) % (maxlen - 8))
        return 0;
    tk_fill(want, len - 8, *p, *s);
    return memcmp(b + 8, want, len - 8) == 0;
}

/* How many messages of the limit a ring holds; what stat says of its
 * capacity; a second handle must agree on the sizes, or adopt them, and may
 * cut messages (IPCKIT_OPT_TRUNCATE). (Types, sizes, timeouts, stat:
 * conformance.shm.) */
START_TEST(roundtrip_types_and_limits)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *ch, *rx2;
    unsigned char buf[2000] = { 0 };
    ipckit_stat st;
    int sent = 0;

    setup_name("");
    o.max_msg_size = 1000;
    o.capacity = 4096;
    ch = open_ok(IPCKIT_SEND | IPCKIT_RECV | IPCKIT_CREATE | IPCKIT_EXCL, &o);
    /* fill the ring: messages of the limit, with their records */
    while (ipckit_send(ch, buf, 1000, 0) == 0)
        sent++;
    ck_assert_int_ge(sent, 2);
    ck_assert_int_le(sent, 4);
    ck_assert_int_eq(ipckit_send(ch, buf, 1000, 0), -EAGAIN);
    ck_assert_int_eq(ipckit_stat_name(name, &st), 0);
    ck_assert_int_eq(st.messages, sent);
    ck_assert_int_eq(st.max_bytes, 4096);

    /* a second handle with other sizes is refused; with none it adopts them */
    o.max_msg_size = 2000;
    ck_assert_int_eq(ipckit_open(&rx2, name, IPCKIT_RECV, &o), -EINVAL);
    o.max_msg_size = 0;
    o.capacity = 8192;
    ck_assert_int_eq(ipckit_open(&rx2, name, IPCKIT_RECV | IPCKIT_CREATE, &o), -EINVAL);
    o.capacity = 0;
    o.flags = IPCKIT_OPT_TRUNCATE;
    rx2 = open_ok(IPCKIT_RECV, &o);
    ck_assert_uint_eq(ipckit_max_msg_size(rx2), 1000);
    ck_assert_int_eq(ipckit_recv(rx2, buf, 10, 0), 10); /* cut, and gone */
    for (int i = 1; i < sent; i++)
        ck_assert_int_eq(ipckit_recv(rx2, buf, sizeof buf, 0), 1000);
    ck_assert_int_eq(ipckit_recv(rx2, buf, sizeof buf, 0), -EAGAIN);
    ck_assert_int_eq(ipckit_close(rx2), 0);
    ck_assert_int_eq(ipckit_close(ch), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

START_TEST(bad_names_and_options)
{
    ipckit_channel *ch = NULL;
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ck_assert_int_eq(ipckit_open(&ch, "shm:a/b", IPCKIT_RECV | IPCKIT_CREATE, NULL), -EINVAL);
    ck_assert_int_eq(ipckit_open(&ch, "shm:x?bogus=1", IPCKIT_RECV | IPCKIT_CREATE, NULL),
                     -EINVAL);
    ck_assert_int_eq(ipckit_open(&ch, "shm:x?spin=-3", IPCKIT_RECV | IPCKIT_CREATE, NULL),
                     -EINVAL);
    setup_name("");
    o.flags = IPCKIT_OPT_STREAM;
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV | IPCKIT_CREATE, &o), -ENOTSUP);
    o.flags = 0;
    o.capacity = 4096;
    o.max_msg_size = 4000; /* two of them do not fit */
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV | IPCKIT_CREATE, &o), -EINVAL);
    ck_assert_ptr_null(ch);
}
END_TEST

/* Corrupt the object by hand, as a hostile or buggy peer would. */
static unsigned char *
raw_map(size_t *size)
{
    struct stat sb;
    int fd = shm_open(pname, O_RDWR, 0);
    unsigned char *p;
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fstat(fd, &sb), 0);
    *size = (size_t) sb.st_size;
    p = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    close(fd);
    return p;
}

START_TEST(header_corruption)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *ch = NULL, *tx;
    unsigned char *p, save[64], buf[64];
    ipckit_region *r = NULL;
    size_t size;
    int fd;

    setup_name("");
    o.capacity = 4096;
    o.max_msg_size = 100;
    tx = open_ok(IPCKIT_SEND | IPCKIT_CREATE, &o);
    ck_assert_int_eq(ipckit_send(tx, "hello", 5, 0), 0);
    p = raw_map(&size);
    ck_assert_uint_eq(size, 8192);
    memcpy(save, p, sizeof save);

    p[1] ^= 0x40; /* magic */
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV, NULL), -EBADMSG);
    ck_assert_ptr_null(ch);
    ck_assert_int_eq(ipckit_stat_name(name, &(ipckit_stat){ 0 }), -EBADMSG);
    memcpy(p, save, sizeof save);
    p[4] = 9; /* version */
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV | IPCKIT_CREATE, NULL), -EPROTO);
    memcpy(p, save, sizeof save);
    p[18] = 0x10; /* capacity 4096 -> 1 MiB + 4096: not a power of two, not the size */
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV, NULL), -EBADMSG);
    memcpy(p, save, sizeof save);
    p[24] = 0xff; /* max message larger than half the ring */
    p[25] = 0x07;
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV, NULL), -EBADMSG);
    memcpy(p, save, sizeof save);
    /* a max message near 2^63, whose record size overflows (0.1.0 took it
     * and reported 2^63 as the channel's limit) */
    {
        uint64_t huge = ((uint64_t) 1 << 63) - 8;
        memcpy(p + 24, &huge, 8);
        ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV, NULL), -EBADMSG);
        ck_assert_ptr_null(ch);
        ck_assert_int_eq(ipckit_stat_name(name, &(ipckit_stat){ 0 }), -EBADMSG);
        huge = UINT64_MAX - 15;
        memcpy(p + 24, &huge, 8);
        ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV, NULL), -EBADMSG);
    }
    memcpy(p, save, sizeof save);
    /* a region is not a ring, nor the reverse */
    ck_assert_int_eq(ipckit_region_open(&r, name, 0, 0, NULL), -EBADMSG);

    ch = open_ok(IPCKIT_RECV, NULL);
    /* a record header that does not check out */
    p[4096] ^= 1;
    ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 0), -EBADMSG);
    ck_assert_str_ne(ipckit_last_error(ch), "");
    p[4096] ^= 1;
    /* a tail beyond the head by more than the ring (tail is at offset 192,
     * see docs/backends/shm.md) */
    {
        uint64_t v, bad = 4096 + 48;
        memcpy(&v, p + 192, 8);
        ck_assert_uint_eq(v, 32); /* one record of 5 bytes */
        memcpy(p + 192, &bad, 8);
        ipckit_channel *fresh = open_ok(IPCKIT_RECV, NULL);
        ck_assert_int_eq(ipckit_recv(fresh, buf, sizeof buf, 0), -EBADMSG);
        ck_assert_int_eq(ipckit_close(fresh), 0);
        ck_assert_int_eq(ipckit_send(tx, "x", 1, 0), -EBADMSG);
        memcpy(p + 192, &v, 8);
    }
    ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 0), 5);
    ck_assert_int_eq(ipckit_close(ch), 0);
    ck_assert_int_eq(ipckit_close(tx), 0);

    /* a shrunk object, and one whose creator never finished */
    fd = shm_open(pname, O_RDWR, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, 5000), 0);
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV, NULL), -EBADMSG);
    ck_assert_int_eq(ftruncate(fd, 0), 0);
    o.open_timeout_ms = 100;
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV, &o), -EBADMSG);
    close(fd);
    munmap(p, size);
    ck_assert_int_eq(ipckit_unlink(name), 0);

    /* and the reverse: a ring on a region */
    ck_assert_int_eq(ipckit_region_open(&r, name, IPCKIT_CREATE, 8192, NULL), 0);
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV, NULL), -EBADMSG);
    ck_assert_int_eq(ipckit_region_close(r), 0);
    ck_assert_int_eq(ipckit_region_unlink(name), 0);
}
END_TEST

static int
open_as_nobody(void *arg)
{
    ipckit_channel *ch = NULL;
    (void) arg;
    TK_CHILD_CHECK(setgroups(0, NULL) == 0 && setgid(65534) == 0 && setuid(65534) == 0);
    TK_CHILD_CHECK(ipckit_open(&ch, name, IPCKIT_SEND, NULL) == -EACCES);
    return 0;
}

/* A FIFO planted under the object's name in /dev/shm: open, stat and unlink
 * refuse it at once (0.1.0's stat blocked forever in open()). */
static int
touch_planted(void *arg)
{
    ipckit_region *r = NULL;
    ipckit_channel *ch = NULL;
    (void) arg;
    TK_CHILD_CHECK(ipckit_stat_name(name, &(ipckit_stat){ 0 }) == -EBADMSG);
    TK_CHILD_CHECK(ipckit_open(&ch, name, IPCKIT_RECV, NULL) == -EBADMSG);
    TK_CHILD_CHECK(ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_CREATE, NULL) == -EBADMSG);
    TK_CHILD_CHECK(ipckit_region_open(&r, name, 0, 0, NULL) == -EBADMSG);
    TK_CHILD_CHECK(ipckit_unlink(name) == -EINVAL);
    TK_CHILD_CHECK(ipckit_region_unlink(name) == -EINVAL);
    return 0;
}

START_TEST(planted_files_are_refused)
{
    char path[300];
    ipckit_channel *ch;
    ipckit_region *r = NULL;
    int fd;
    setup_name("");
    (void) snprintf(path, sizeof path, "/dev/shm%s", pname);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    ck_assert_int_eq(tk_wait(tk_fork(touch_planted, NULL), LONG_WAIT), 0);
    ck_assert_int_eq(unlink(path), 0);

    /* a file of another program: unlink leaves it, whatever it holds */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "not ipckit's", 12), 12);
    close(fd);
    ck_assert_int_eq(ipckit_unlink(name), -EINVAL);
    ck_assert_int_eq(ipckit_region_unlink(name), -EINVAL);
    ck_assert_msg(strstr(ipckit_error_detail(), "not an ipckit") != NULL, "%s",
                  ipckit_error_detail());
    ck_assert_int_eq(access(path, F_OK), 0);
    ck_assert_int_eq(unlink(path), 0);

    /* a ring is not removed as a region; both go with ipckit_unlink() */
    ch = open_ok(IPCKIT_RECV | IPCKIT_CREATE, NULL);
    ck_assert_int_eq(ipckit_region_unlink(name), -EINVAL);
    ck_assert_int_eq(ipckit_close(ch), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
    ck_assert_int_eq(ipckit_region_open(&r, name, IPCKIT_CREATE, 100, NULL), 0);
    ck_assert_int_eq(ipckit_region_close(r), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/* The file's mode, changed after creation, keeps out who it says: another
 * user, or its owner without write permission. (The mode of a created
 * ring: conformance.shm.) */
/* ?claim=1: a handle that holds its side for as long as it is open; the
 * other handles of that side wait for it, and its messages take no lock. */
static int
claimed_stream(void *arg)
{
    char n[300];
    ipckit_channel *rx = NULL;
    unsigned char buf[200];
    (void) arg;
    (void) snprintf(n, sizeof n, "shm:%s?claim=1", pname);
    TK_CHILD_CHECK(ipckit_open(&rx, n, IPCKIT_RECV, NULL) == 0);
    for (uint32_t i = 0; i < 100000; i++) {
        ssize_t got = ipckit_recv(rx, buf, sizeof buf, 20000);
        uint32_t v;
        TK_CHILD_CHECK(got == (ssize_t) (4 + i % 100));
        memcpy(&v, buf, 4);
        TK_CHILD_CHECK(v == i);
    }
    TK_CHILD_CHECK(ipckit_close(rx) == 0);
    return 0;
}

static int
claim_elsewhere(void *arg)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *tx = NULL;
    char plain_name[300];
    (void) arg;
    o.open_timeout_ms = 0;
    TK_CHILD_CHECK(ipckit_open(&tx, name, IPCKIT_SEND, &o) == -EAGAIN);
    TK_CHILD_CHECK(strstr(ipckit_error_detail(), "claimed") != NULL);
    o.open_timeout_ms = 100;
    TK_CHILD_CHECK(ipckit_open(&tx, name, IPCKIT_SEND, &o) == -ETIMEDOUT);
    (void) snprintf(plain_name, sizeof plain_name, "shm:%s", pname);
    TK_CHILD_CHECK(ipckit_open(&tx, plain_name, IPCKIT_SEND, NULL) == 0);
    TK_CHILD_CHECK(ipckit_send(tx, "x", 1, 100) == -ETIMEDOUT);
    TK_CHILD_CHECK(ipckit_close(tx) == 0);
    return 0;
}

static int
claim_and_die(void *arg)
{
    ipckit_channel *tx = NULL;
    (void) arg;
    TK_CHILD_CHECK(ipckit_open(&tx, name, IPCKIT_SEND, NULL) == 0);
    TK_CHILD_CHECK(ipckit_send(tx, "from the dead", 13, 0) == 0);
    _exit(0); /* holding the claim */
}

START_TEST(claimed_sides)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *tx, *tx2 = NULL, *plain;
    unsigned char buf[200];
    char plain_name[300];
    pid_t pid;
    setup_name("?claim=1");
    (void) snprintf(plain_name, sizeof plain_name, "shm:%s", pname);
    tx = open_ok(IPCKIT_SEND | IPCKIT_CREATE, NULL);
    /* another process's claim of the send side, or its send without a
     * claim, waits for this one; the same thread is told at once */
    ck_assert_int_eq(tk_wait(tk_fork(claim_elsewhere, NULL), LONG_WAIT), 0);
    o.open_timeout_ms = 0;
    ck_assert_int_eq(ipckit_open(&tx2, name, IPCKIT_SEND, &o), -EDEADLK);
    ck_assert_int_eq(ipckit_open(&plain, plain_name, IPCKIT_SEND | IPCKIT_RECV, NULL), 0);
    /* the receive side is free: the plain handle receives */
    ck_assert_int_eq(ipckit_send(tx, "claimed", 7, 0), 0);
    ck_assert_int_eq(ipckit_recv(plain, buf, sizeof buf, 1000), 7);
    /* messages flow, and each arrives whole, in order, from another process */
    pid = tk_fork(claimed_stream, NULL);
    for (uint32_t i = 0; i < 100000; i++) {
        memset(buf, 0x5a, sizeof buf);
        memcpy(buf, &i, 4);
        ck_assert_int_eq(ipckit_send(tx, buf, 4 + i % 100, 20000), 0);
    }
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    /* closed, the side is free again */
    ck_assert_int_eq(ipckit_close(tx), 0);
    ck_assert_int_eq(ipckit_send(plain, "y", 1, 1000), 0);
    ck_assert_int_eq(ipckit_recv(plain, buf, sizeof buf, 1000), 1);
    /* a claimer that dies holding its claim leaves it to the next */
    ck_assert_int_eq(tk_wait(tk_fork(claim_and_die, NULL), LONG_WAIT), 0);
    o.open_timeout_ms = 5000;
    ck_assert_int_eq(ipckit_open(&tx2, name, IPCKIT_SEND, &o), 0);
    ck_assert_int_eq(ipckit_recv(plain, buf, sizeof buf, 1000), 13);
    ck_assert_int_eq(ipckit_close(tx2), 0);
    ck_assert_int_eq(ipckit_close(plain), 0);
    ck_assert_int_eq(ipckit_unlink(plain_name), 0);
}
END_TEST

START_TEST(permissions)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *ch;
    char path[400];
    setup_name("");
    (void) snprintf(path, sizeof path, "/dev/shm%s", pname);
    o.mode = 0660;
    ch = open_ok(IPCKIT_RECV | IPCKIT_CREATE, &o);
    ck_assert_int_eq(chmod(path, 0600), 0);
    if (geteuid() == 0) {
        ck_assert_int_eq(tk_wait(tk_fork(open_as_nobody, NULL), LONG_WAIT), 0);
    } else {
        ipckit_channel *c2 = NULL;
        ck_assert_int_eq(chmod(path, 0400), 0);
        ck_assert_int_eq(ipckit_open(&c2, name, IPCKIT_SEND, NULL), -EACCES);
    }
    ck_assert_int_eq(ipckit_close(ch), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/* ---- several producers and consumers ------------------------------------------- */

#define PRODUCERS 3
#define CONSUMERS 3
#define PER_PRODUCER 20000u
#define MPMC_MAX 3000u

struct mpmc_shared {
    _Atomic unsigned seen[PRODUCERS][PER_PRODUCER];
    _Atomic unsigned received;
};

static struct mpmc_shared *shared;
static bool mpmc_zero_copy; /* mix ipckit_send_loan/recv_borrow with the copying calls */

/* Send one message, half of them (by sequence) built in place with a loan
 * of the largest size and committed shorter. */
static int
mpmc_send(ipckit_channel *tx, unsigned id, unsigned s, unsigned char *buf)
{
    void *room;
    size_t len;
    int rc;
    if (!mpmc_zero_copy || (s + id) % 2 == 0) {
        len = msg_make(buf, id, s, MPMC_MAX);
        return ipckit_send_typed(tx, (long) id + 1, buf, len, LONG_WAIT);
    }
    rc = ipckit_send_loan(tx, MPMC_MAX, &room, LONG_WAIT);
    if (rc < 0)
        return rc;
    len = msg_make(room, id, s, MPMC_MAX);
    return ipckit_send_commit(tx, (long) id + 1, len);
}

static int
mpmc_producer(void *arg)
{
    unsigned id = (unsigned) (uintptr_t) arg;
    static unsigned char buf[MPMC_MAX];
    ipckit_channel *tx = NULL;
    TK_CHILD_CHECK(ipckit_open(&tx, name, IPCKIT_SEND, NULL) == 0);
    for (unsigned s = 0; s < PER_PRODUCER; s++)
        TK_CHILD_CHECK(mpmc_send(tx, id, s, buf) == 0);
    TK_CHILD_CHECK(ipckit_close(tx) == 0);
    return 0;
}

static int
mpmc_consumer(void *arg)
{
    static unsigned char buf[MPMC_MAX];
    unsigned last[PRODUCERS];
    ipckit_channel *rx = NULL;
    (void) arg;
    memset(last, 0xff, sizeof last);
    TK_CHILD_CHECK(ipckit_open(&rx, name, IPCKIT_RECV, NULL) == 0);
    for (unsigned k = 0; atomic_load(&shared->received) < PRODUCERS * PER_PRODUCER; k++) {
        long type;
        unsigned p, s;
        const void *msg = buf;
        bool borrowed = mpmc_zero_copy && k % 2 == 1;
        ssize_t n = borrowed ? ipckit_recv_borrow(rx, &type, &msg, 50)
                             : ipckit_recv_typed(rx, 0, &type, buf, sizeof buf, 50);
        if (n == -ETIMEDOUT)
            continue;
        TK_CHILD_CHECK(n >= 0);
        TK_CHILD_CHECK(msg_valid(msg, (size_t) n, &p, &s, MPMC_MAX));
        if (borrowed)
            TK_CHILD_CHECK(ipckit_recv_release(rx) == 0);
        TK_CHILD_CHECK(p < PRODUCERS && s < PER_PRODUCER && type == (long) p + 1);
        /* one producer's messages come to each consumer in order */
        TK_CHILD_CHECK(last[p] == ~0u || s > last[p]);
        last[p] = s;
        TK_CHILD_CHECK(atomic_fetch_add(&shared->seen[p][s], 1) == 0);
        atomic_fetch_add(&shared->received, 1);
    }
    TK_CHILD_CHECK(ipckit_close(rx) == 0);
    return 0;
}

START_TEST(producers_and_consumers)
{
    mpmc_zero_copy = _i == 1;
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *keep;
    pid_t pids[PRODUCERS + CONSUMERS];
    setup_name("");
    shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(shared, MAP_FAILED);
    o.capacity = 32768; /* small: the ring wraps and fills often */
    o.max_msg_size = MPMC_MAX;
    keep = open_ok(IPCKIT_RECV | IPCKIT_CREATE, &o);
    for (unsigned i = 0; i < CONSUMERS; i++)
        pids[i] = tk_fork(mpmc_consumer, NULL);
    for (unsigned i = 0; i < PRODUCERS; i++)
        pids[CONSUMERS + i] = tk_fork(mpmc_producer, (void *) (uintptr_t) i);
    for (unsigned i = 0; i < PRODUCERS + CONSUMERS; i++)
        ck_assert_int_eq(tk_wait(pids[i], 120000), 0);
    ck_assert_uint_eq(atomic_load(&shared->received), PRODUCERS * PER_PRODUCER);
    for (unsigned p = 0; p < PRODUCERS; p++)
        for (unsigned s = 0; s < PER_PRODUCER; s++)
            ck_assert_msg(atomic_load(&shared->seen[p][s]) == 1, "producer %u seq %u seen %u",
                          p, s, atomic_load(&shared->seen[p][s]));
    ck_assert_int_eq(ipckit_recv(keep, NULL, 0, 0), -EAGAIN);
    ck_assert_int_eq(ipckit_close(keep), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
    munmap(shared, sizeof *shared);
}
END_TEST

/* ---- the wake-up protocol under a long run ------------------------------------- */

static int
pong_sleepy(void *arg)
{
    const char *params = arg;
    char back[300];
    ipckit_channel *rx = NULL, *tx = NULL;
    unsigned seed = (unsigned) getpid();
    unsigned i = 0;
    char fwd[300];
    (void) snprintf(back, sizeof back, "%s.back%s", name, params);
    (void) snprintf(fwd, sizeof fwd, "%s%s", name, params);
    TK_CHILD_CHECK(ipckit_open(&rx, fwd, IPCKIT_RECV, NULL) == 0);
    TK_CHILD_CHECK(ipckit_open(&tx, back, IPCKIT_SEND, NULL) == 0);
    for (;;) {
        unsigned v;
        ssize_t n = ipckit_recv(rx, &v, sizeof v, 10000);
        TK_CHILD_CHECK(n == sizeof v); /* a lost wake-up shows as a timeout here */
        if (v == ~0u)
            break;
        TK_CHILD_CHECK(v == i);
        i++;
        if (rand_r(&seed) % 8 == 0) {
            struct timespec ts = { 0, (long) (rand_r(&seed) % 200) * 1000 };
            nanosleep(&ts, NULL);
        }
        TK_CHILD_CHECK(ipckit_send(tx, &v, sizeof v, 10000) == 0);
    }
    TK_CHILD_CHECK(ipckit_close(rx) == 0 && ipckit_close(tx) == 0);
    return 0;
}

/* The same parameters on all four handles: with spin=0 every wait sleeps
 * on the futex at once; with claim=1 each side publishes without a fence
 * whenever its waiters let it (docs/backends/shm.md, "Publishing without a
 * fence"), and they make the kernel's barrier before they sleep. */
static const char *const wake_params[] = { "?spin=0", "?spin=0&claim=1", "?claim=1" };

START_TEST(wakeups_long_run)
{
    char back[300], fwd[300];
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *tx, *rx;
    unsigned seed = 12345, sent = 0, got = 0, v;
    long long end;
    pid_t pid;
    setup_name("");
    (void) snprintf(fwd, sizeof fwd, "%s%s", name, wake_params[_i]);
    (void) snprintf(back, sizeof back, "%s.back%s", name, wake_params[_i]);
    o.capacity = 4096;
    o.max_msg_size = 16;
    ck_assert_int_eq(ipckit_open(&tx, fwd, IPCKIT_SEND | IPCKIT_CREATE, &o), 0);
    ck_assert_int_eq(ipckit_open(&rx, back, IPCKIT_RECV | IPCKIT_CREATE, &o), 0);
    pid = tk_fork(pong_sleepy, (void *) (uintptr_t) wake_params[_i]);
    /* Bursts (the ring fills and the sender sleeps too) alternate with
     * single round trips. */
    end = tk_now_ms() + 3000;
    while (tk_now_ms() < end) {
        unsigned burst = (rand_r(&seed) % 4 == 0) ? 1 + (unsigned) rand_r(&seed) % 600 : 1;
        for (unsigned b = 0; b < burst; b++) {
            ck_assert_int_eq(ipckit_send(tx, &sent, sizeof sent, 10000), 0);
            sent++;
            while (ipckit_recv(rx, &v, sizeof v, 0) == sizeof v) {
                ck_assert_uint_eq(v, got);
                got++;
            }
        }
        while (got < sent) {
            ck_assert_int_eq(ipckit_recv(rx, &v, sizeof v, 10000), sizeof v);
            ck_assert_uint_eq(v, got);
            got++;
        }
    }
    v = ~0u;
    ck_assert_int_eq(ipckit_send(tx, &v, sizeof v, 10000), 0);
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    ck_assert_uint_gt(sent, 1000);
    ck_assert_int_eq(ipckit_close(tx), 0);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
    ck_assert_int_eq(ipckit_unlink(back), 0);
}
END_TEST

static int
late_sender(void *arg)
{
    ipckit_channel *tx = NULL;
    struct timespec ts = { 1, 0 };
    (void) arg;
    TK_CHILD_CHECK(ipckit_open(&tx, name, IPCKIT_SEND, NULL) == 0);
    nanosleep(&ts, NULL);
    TK_CHILD_CHECK(ipckit_send(tx, "late", 4, LONG_WAIT) == 0);
    TK_CHILD_CHECK(ipckit_close(tx) == 0);
    return 0;
}

START_TEST(blocked_receiver_is_idle)
{
    ipckit_channel *rx;
    char buf[8];
    long long cpu0, cpu;
    pid_t pid;
    setup_name("");
    rx = open_ok(IPCKIT_RECV | IPCKIT_CREATE, NULL);
    pid = tk_fork(late_sender, NULL);
    cpu0 = tk_cpu_us();
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, LONG_WAIT), 4);
    cpu = tk_cpu_us() - cpu0;
    /* about a second blocked: the spin lasts well under a millisecond */
    ck_assert_msg(cpu < 100000, "blocked receiver used %lld us of CPU", cpu);
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/* A sender that finds the ring full waits, while it spins, for a quarter of
 * the ring to be free (shm_ring.c, RING_ROOM_BATCH), but it must not wait
 * for more room than its message needs once the spin is over: here the
 * receiver frees one record and then waits for the sender to finish. */
static int
sender_into_full_ring(void *arg)
{
    ipckit_channel *tx = NULL;
    unsigned v = 0xabcu;
    long long t0;
    (void) arg;
    TK_CHILD_CHECK(ipckit_open(&tx, name, IPCKIT_SEND, NULL) == 0);
    t0 = tk_now_ms();
    TK_CHILD_CHECK(ipckit_send(tx, &v, sizeof v, 20000) == 0);
    TK_CHILD_CHECK(tk_now_ms() - t0 < 15000);
    TK_CHILD_CHECK(ipckit_close(tx) == 0);
    return 0;
}

START_TEST(full_ring_sender_takes_the_first_room)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *tx, *rx;
    struct timespec pause = { 0, 100 * 1000000L };
    unsigned n = 0, v;
    pid_t pid;
    /* a long spin, so that the room appears while the sender spins */
    setup_name("?spin=10000000");
    o.capacity = 4096;
    o.max_msg_size = 16;
    tx = open_ok(IPCKIT_SEND | IPCKIT_CREATE, &o);
    rx = open_ok(IPCKIT_RECV, NULL);
    while (ipckit_send(tx, &n, sizeof n, 0) == 0)
        n++;
    ck_assert_uint_gt(n, 8);
    pid = tk_fork(sender_into_full_ring, NULL);
    nanosleep(&pause, NULL);
    ck_assert_int_eq(ipckit_recv(rx, &v, sizeof v, 0), sizeof v);
    ck_assert_uint_eq(v, 0);
    /* nothing more is freed until the sender is done */
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    for (unsigned i = 1; i < n; i++) {
        ck_assert_int_eq(ipckit_recv(rx, &v, sizeof v, 0), sizeof v);
        ck_assert_uint_eq(v, i);
    }
    ck_assert_int_eq(ipckit_recv(rx, &v, sizeof v, 0), sizeof v);
    ck_assert_uint_eq(v, 0xabcu);
    ck_assert_int_eq(ipckit_recv(rx, &v, sizeof v, 0), -EAGAIN);
    ck_assert_int_eq(ipckit_close(tx), 0);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/* Random scribbles over indexes and records: every recv returns a whole
 * message within bounds, -EAGAIN or -EBADMSG; nothing crashes or hangs. */
START_TEST(scribbled_ring_is_never_trusted)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    unsigned seed = 4242;
    static unsigned char buf[600];
    int bad = 0;
    setup_name("");
    o.capacity = 4096;
    o.max_msg_size = 500;
    for (int round = 0; round < 300; round++) {
        ipckit_channel *ch = open_ok(IPCKIT_SEND | IPCKIT_RECV | IPCKIT_CREATE, &o);
        unsigned char *p;
        size_t size;
        for (int i = 0; i < 8; i++)
            (void) ipckit_send(ch, buf, (size_t) rand_r(&seed) % 500, 0);
        for (int i = 0; i < 3; i++)
            (void) ipckit_recv(ch, buf, sizeof buf, 0);
        ipckit_channel *fresh = open_ok(IPCKIT_SEND | IPCKIT_RECV, NULL);
        p = raw_map(&size);
        for (int k = 0; k < 1 + rand_r(&seed) % 4; k++) {
            size_t off = (rand_r(&seed) % 3 == 0) ? 192 + (size_t) (rand_r(&seed) % 8) +
                                                         (rand_r(&seed) % 2 ? 64 : 0)
                                                   : 4096 + (size_t) rand_r(&seed) % 4096;
            p[off] = (unsigned char) rand_r(&seed);
        }
        for (int i = 0; i < 20; i++) {
            ssize_t n = ipckit_recv(fresh, buf, sizeof buf, 0);
            ck_assert(n == -EAGAIN || n == -EBADMSG || (n >= 0 && n <= 500));
            if (n == -EBADMSG)
                bad++;
            if (n < 0)
                break;
        }
        int rc = ipckit_send(fresh, buf, 100, 0);
        ck_assert(rc == 0 || rc == -EAGAIN || rc == -EBADMSG);
        munmap(p, size);
        ck_assert_int_eq(ipckit_close(fresh), 0);
        ck_assert_int_eq(ipckit_close(ch), 0);
        ck_assert_int_eq(ipckit_unlink(name), 0);
    }
    ck_assert_int_gt(bad, 10);
}
END_TEST

static tk_gate start;

static int
racing_creator(void *arg)
{
    ipckit_channel *tx = NULL;
    int id = (int) (intptr_t) arg;
    char c;
    /* all creators are let go at once, when the parent closes the gate */
    (void) close(start.fd[1]);
    while (read(start.fd[0], &c, 1) > 0)
        ;
    TK_CHILD_CHECK(ipckit_open(&tx, name, IPCKIT_SEND | IPCKIT_CREATE, NULL) == 0);
    TK_CHILD_CHECK(ipckit_send_typed(tx, id + 1, &id, sizeof id, LONG_WAIT) == 0);
    TK_CHILD_CHECK(ipckit_close(tx) == 0);
    return 0;
}

START_TEST(concurrent_creators_agree)
{
    ipckit_channel *rx = NULL;
    pid_t pids[6];
    int seen = 0, v;
    long type;
    setup_name("");
    tk_gate_init(&start);
    for (int i = 0; i < 6; i++)
        pids[i] = tk_fork(racing_creator, (void *) (intptr_t) i);
    tk_gate_close(&start);
    ck_assert_int_eq(ipckit_open(&rx, name, IPCKIT_RECV | IPCKIT_CREATE, NULL), 0);
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(ipckit_recv_typed(rx, 0, &type, &v, sizeof v, LONG_WAIT), sizeof v);
        ck_assert_int_eq(type, v + 1);
        ck_assert_int_eq(seen & (1 << v), 0);
        seen |= 1 << v;
    }
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(tk_wait(pids[i], LONG_WAIT), 0);
    ck_assert_int_eq(seen, 0x3f);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST


/* ---- ipckit_fd(): the doorbell ----------------------------------------------------- */

static int
poll_in(int fd, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int n = poll(&p, 1, timeout_ms);
    return n == 1 && (p.revents & POLLIN) ? 1 : n;
}

/* Open the ring, take a descriptor, say so through the gate, then wait
 * for a message by polling; exit 0 when it came. */
static int
polling_receiver(void *arg)
{
    tk_gate *g = arg;
    ipckit_channel *ch = NULL;
    char buf[16];
    int fd;
    TK_CHILD_CHECK(ipckit_open(&ch, name, IPCKIT_RECV, NULL) == 0);
    fd = ipckit_fd(ch);
    TK_CHILD_CHECK(fd >= 0);
    TK_CHILD_CHECK(ipckit_recv(ch, buf, sizeof buf, 0) == -EAGAIN);
    tk_gate_open(g);
    TK_CHILD_CHECK(poll_in(fd, LONG_WAIT) == 1);
    /* two pollers, one message: the other one may take it first */
    ssize_t n = ipckit_recv(ch, buf, sizeof buf, 0);
    TK_CHILD_CHECK(n == 4 || n == -EAGAIN);
    ipckit_close(ch);
    return 0;
}

/* A receiving handle has a descriptor: readable when the ring holds a
 * message already, quiet once drained, woken by a sender in another
 * process, for every poller at once; a send-only handle has none. Twice:
 * the second time the sender is claimed, and so publishes without a fence
 * while the pollers make the kernel's barrier after they arm the bell. */
START_TEST(fd_pollers)
{
    ipckit_channel *tx = NULL, *rx;
    tk_gate g[2];
    pid_t pid[2];
    char buf[16], claimed[300];
    int fd;
    setup_name("");
    (void) snprintf(claimed, sizeof claimed, "%s%s", name, _i ? "?claim=1" : "");
    ck_assert_int_eq(ipckit_open(&tx, claimed, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, NULL),
                     0);
    ck_assert_int_eq(ipckit_fd(tx), -ENOTSUP);
    ck_assert_uint_eq(ipckit_caps(tx) & IPCKIT_CAP_FD, 0);
    rx = open_ok(IPCKIT_RECV, NULL);
    ck_assert_uint_ne(ipckit_caps(rx) & IPCKIT_CAP_FD, 0);
    ck_assert_int_eq(ipckit_send(tx, "one", 3, 0), 0);
    fd = ipckit_fd(rx);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ipckit_fd(rx), fd); /* the same one every time */
    ck_assert_int_eq(poll_in(fd, LONG_WAIT), 1); /* it was there before */
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), 3);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), -EAGAIN);
    ck_assert_int_eq(poll_in(fd, 0), 0);
    for (int i = 0; i < 2; i++) {
        tk_gate_init(&g[i]);
        pid[i] = tk_fork(polling_receiver, &g[i]);
        ck_assert_int_eq(tk_gate_wait(&g[i], LONG_WAIT), 0);
    }
    ck_assert_int_eq(ipckit_send(tx, "two!", 4, 0), 0);
    ck_assert_int_eq(poll_in(fd, LONG_WAIT), 1); /* this one too */
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(tk_wait(pid[i], LONG_WAIT), 0);
        tk_gate_close(&g[i]);
    }
    ipckit_close(rx);
    ipckit_close(tx);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

static int
poll_and_die(void *arg)
{
    ipckit_channel *ch = NULL;
    (void) arg;
    TK_CHILD_CHECK(ipckit_open(&ch, name, IPCKIT_RECV, NULL) == 0);
    TK_CHILD_CHECK(ipckit_fd(ch) >= 0);
    _exit(0); /* without a close: its slot stays taken */
}

static int
close_copy(void *arg)
{
    ipckit_channel *ch = arg;
    TK_CHILD_CHECK(ipckit_close(ch) == 0);
    return 0;
}

/* Seven pollers at a time. A poller that died without a close frees its
 * place (the next ipckit_fd() finds its socket gone), an eighth live one
 * is refused with -EBUSY, and a forked child that closes its copy of a
 * polling handle does not unregister the parent's descriptor. */
START_TEST(fd_slots)
{
    ipckit_channel *tx, *rx[8];
    char buf[16];
    int fd;
    setup_name("");
    tx = open_ok(IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, NULL);
    for (int i = 0; i < 7; i++)
        ck_assert_int_eq(tk_wait(tk_fork(poll_and_die, NULL), LONG_WAIT), 0);
    for (int i = 0; i < 7; i++) {
        rx[i] = open_ok(IPCKIT_RECV, NULL);
        ck_assert_int_ge(ipckit_fd(rx[i]), 0);
    }
    rx[7] = open_ok(IPCKIT_RECV, NULL);
    ck_assert_int_eq(ipckit_fd(rx[7]), -EBUSY);
    ck_assert_ptr_nonnull(strstr(ipckit_last_error(rx[7]), "poll this ring already"));
    ipckit_close(rx[7]);
    for (int i = 1; i < 7; i++)
        ipckit_close(rx[i]);
    fd = ipckit_fd(rx[0]);
    ck_assert_int_eq(ipckit_recv(rx[0], buf, sizeof buf, 0), -EAGAIN);
    ck_assert_int_eq(tk_wait(tk_fork(close_copy, rx[0]), LONG_WAIT), 0);
    ck_assert_int_eq(ipckit_send(tx, "x", 1, 0), 0);
    ck_assert_int_eq(poll_in(fd, LONG_WAIT), 1);
    ck_assert_int_eq(ipckit_recv(rx[0], buf, sizeof buf, 0), 1);
    ipckit_close(rx[0]);
    ipckit_close(tx);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/* A peer that writes the doorbell's words (the bell armed for ever,
 * garbage numbers in every slot) costs senders time, nothing else: every
 * message arrives, and a poller that takes a slot again is still woken. */
START_TEST(fd_scribbled_bell)
{
    ipckit_channel *tx, *rx;
    unsigned char *map;
    char buf[16];
    int fd, sfd;
    setup_name("");
    tx = open_ok(IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, NULL);
    rx = open_ok(IPCKIT_RECV, NULL);
    sfd = shm_open(pname, O_RDWR, 0);
    ck_assert_int_ge(sfd, 0);
    map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
    ck_assert_ptr_ne(map, MAP_FAILED);
    memset(map + 448, 0xa5, 64); /* the bell: armed, and seven numbers */
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(ipckit_send(tx, &i, sizeof i, 0), 0);
        ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), (ssize_t) sizeof i);
        ck_assert_int_eq(memcmp(buf, &i, sizeof i), 0);
        map[448] = 0xa5; /* armed again */
    }
    memset(map + 456, 0xa5, 56); /* every slot taken by a socket that is not there */
    fd = ipckit_fd(rx);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), -EAGAIN);
    ck_assert_int_eq(ipckit_send(tx, "y", 1, 0), 0);
    ck_assert_int_eq(poll_in(fd, LONG_WAIT), 1);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), 1);
    ck_assert_int_eq(munmap(map, 4096), 0);
    ck_assert_int_eq(close(sfd), 0);
    ipckit_close(rx);
    ipckit_close(tx);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/* ---- zero copy ----------------------------------------------------------------- */

START_TEST(zero_copy_roundtrip)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *tx, *rx;
    unsigned char want[900];
    const void *msg = NULL;
    void *room = NULL;
    long type = 0;
    ipckit_stat st;

    setup_name("");
    o.max_msg_size = 1000;
    o.capacity = 4096;
    tx = open_ok(IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, &o);
    rx = open_ok(IPCKIT_RECV, NULL);
    ck_assert(ipckit_caps(tx) & IPCKIT_CAP_ZEROCOPY);

    /* wrap the ring several times: messages of 900 and 0 bytes, built in
     * place, committed shorter than loaned, read in place */
    for (unsigned i = 0; i < 40; i++) {
        size_t len = i % 3 == 2 ? 0 : sizeof want;
        ck_assert_int_eq(ipckit_send_loan(tx, 1000, &room, 0), 0);
        ck_assert_ptr_nonnull(room);
        tk_fill(want, sizeof want, 7, i);
        memcpy(room, want, len);
        ck_assert_int_eq(ipckit_send_commit(tx, (long) i + 1, len), 0);
        ck_assert_int_eq(ipckit_stat_name(name, &st), 0);
        ck_assert_int_eq(st.messages, 1);
        ck_assert_int_eq(ipckit_recv_borrow(rx, &type, &msg, 0), (ssize_t) len);
        ck_assert_int_eq(type, (long) i + 1);
        ck_assert(len == 0 || memcmp(msg, want, len) == 0);
        ck_assert_int_eq(ipckit_recv_release(rx), 0);
        ck_assert_int_eq(ipckit_stat_name(name, &st), 0);
        ck_assert_int_eq(st.messages, 0);
    }
    /* the copying calls read what a loan wrote, and the other way round */
    ck_assert_int_eq(ipckit_send_loan(tx, 5, &room, 0), 0);
    memcpy(room, "hello", 5);
    ck_assert_int_eq(ipckit_send_commit(tx, 3, 5), 0);
    ck_assert_int_eq(ipckit_recv_typed(rx, 0, &type, want, sizeof want, 0), 5);
    ck_assert_int_eq(type, 3);
    ck_assert_mem_eq(want, "hello", 5);
    ck_assert_int_eq(ipckit_send_typed(tx, 4, "world", 5, 0), 0);
    ck_assert_int_eq(ipckit_recv_borrow(rx, NULL, &msg, 0), 5);
    ck_assert_mem_eq(msg, "world", 5);
    ck_assert_int_eq(ipckit_recv_release(rx), 0);
    ck_assert_int_eq(ipckit_recv_borrow(rx, &type, &msg, 0), -EAGAIN);
    ck_assert_ptr_null(msg);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_close(tx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

START_TEST(zero_copy_misuse)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *tx, *rx, *tx2, *fifo = NULL;
    unsigned char buf[1000];
    char fname[300];
    const void *msg;
    void *room, *room2;
    long type;

    setup_name("");
    o.max_msg_size = 1000;
    o.capacity = 4096;
    tx = open_ok(IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, &o);
    rx = open_ok(IPCKIT_RECV, NULL);
    tx2 = open_ok(IPCKIT_SEND, NULL);

    /* wrong direction, no loan, bad sizes and types */
    ck_assert_int_eq(ipckit_send_loan(rx, 10, &room, 0), -EBADF);
    ck_assert_int_eq(ipckit_recv_borrow(tx, &type, &msg, 0), -EBADF);
    ck_assert_int_eq(ipckit_send_loan(tx, 1001, &room, 0), -EMSGSIZE);
    ck_assert_ptr_null(room);
    ck_assert_int_eq(ipckit_send_loan(tx, 10, NULL, 0), -EINVAL);
    ck_assert_int_eq(ipckit_send_commit(tx, 1, 0), -EINVAL);
    ck_assert_int_eq(ipckit_send_cancel(tx), -EINVAL);
    ck_assert_int_eq(ipckit_recv_release(rx), -EINVAL);
    ck_assert_int_eq(ipckit_send_loan(NULL, 1, &room, 0), -EINVAL);
    ck_assert_int_eq(ipckit_recv_borrow(NULL, &type, &msg, 0), -EINVAL);

    /* a loan out: this handle's sends are refused, the loan stays usable */
    ck_assert_int_eq(ipckit_send_loan(tx, 10, &room, 0), 0);
    ck_assert_int_eq(ipckit_send_loan(tx, 10, &room2, 0), -EBUSY);
    ck_assert_int_eq(ipckit_send(tx, "x", 1, 0), -EBUSY);
    ck_assert_int_eq(ipckit_send_commit(tx, 0, 1), -EINVAL);
    ck_assert_int_eq(ipckit_send_commit(tx, 1, 11), -EINVAL);
    /* ... and another handle in this thread would wait for ever: refused
     * (another process waits: zero_copy_holder_killed) */
    ck_assert_int_eq(ipckit_send(tx2, "y", 1, -1), -EDEADLK);
    memcpy(room, "0123456789", 10);
    ck_assert_int_eq(ipckit_send_commit(tx, 9, 10), 0);
    ck_assert_int_eq(ipckit_send(tx2, "y", 1, 0), 0);

    /* a cancelled loan sends nothing */
    ck_assert_int_eq(ipckit_send_loan(tx, 10, &room, 0), 0);
    memcpy(room, "garbage!!!", 10);
    ck_assert_int_eq(ipckit_send_cancel(tx), 0);

    /* a borrowed message: this handle's receives are refused */
    ck_assert_int_eq(ipckit_recv_borrow(rx, &type, &msg, 0), 10);
    ck_assert_int_eq(type, 9);
    ck_assert_mem_eq(msg, "0123456789", 10);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), -EBUSY);
    ck_assert_int_eq(ipckit_recv_borrow(rx, &type, &msg, 0), -EBUSY);
    ck_assert_int_eq(ipckit_recv_release(rx), 0);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), 1);
    ck_assert_int_eq(buf[0], 'y');
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), -EAGAIN);

    /* a full ring: the loan fails and none is left out */
    while (ipckit_send(tx, buf, 1000, 0) == 0)
        ;
    ck_assert_int_eq(ipckit_send_loan(tx, 1000, &room, 0), -EAGAIN);
    ck_assert_int_eq(ipckit_send_loan(tx, 1000, &room, 20), -ETIMEDOUT);
    ck_assert_int_eq(ipckit_send_cancel(tx), -EINVAL);
    while (ipckit_recv(rx, buf, sizeof buf, 0) >= 0)
        ;

    /* close with a loan out releases the send side; close with a message
     * borrowed leaves it queued */
    ck_assert_int_eq(ipckit_send_loan(tx2, 10, &room, 0), 0);
    ck_assert_int_eq(ipckit_close(tx2), 0);
    ck_assert_int_eq(ipckit_send(tx, "kept", 4, 0), 0);
    ck_assert_int_eq(ipckit_recv_borrow(rx, &type, &msg, 0), 4);
    ck_assert_int_eq(ipckit_close(rx), 0);
    rx = open_ok(IPCKIT_RECV, NULL);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), 4);
    ck_assert_mem_eq(buf, "kept", 4);
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), -EAGAIN);

    /* backends that copy say so */
    tk_name(fname, sizeof fname, "fifo", "zc.fifo");
    ck_assert_int_eq(ipckit_open(&fifo, fname, IPCKIT_RECV | IPCKIT_CREATE, NULL), 0);
    ck_assert(!(ipckit_caps(fifo) & IPCKIT_CAP_ZEROCOPY));
    ck_assert_int_eq(ipckit_recv_borrow(fifo, &type, &msg, 0), -ENOTSUP);
    ck_assert_int_eq(ipckit_close(fifo), 0);
    ck_assert_int_eq(ipckit_unlink(fname), 0);

    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_close(tx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

static ipckit_channel *zc_tx, *zc_rx;

/* The child of a process that holds a loan and a borrowed message. */
static int
zero_copy_child(void *arg)
{
    (void) arg;
    TK_CHILD_CHECK(ipckit_send_commit(zc_tx, 1, 4) == -EPERM);
    TK_CHILD_CHECK(ipckit_send_cancel(zc_tx) == -EPERM);
    TK_CHILD_CHECK(ipckit_recv_release(zc_rx) == -EPERM);
    /* closing the copies does not release the parent's locks */
    TK_CHILD_CHECK(ipckit_close(zc_tx) == 0);
    TK_CHILD_CHECK(ipckit_close(zc_rx) == 0);
    return 0;
}

START_TEST(zero_copy_fork)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    unsigned char buf[16];
    const void *msg;
    void *room;
    long type;

    setup_name("");
    o.max_msg_size = 100;
    o.capacity = 4096;
    zc_tx = open_ok(IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, &o);
    zc_rx = open_ok(IPCKIT_RECV, NULL);
    ck_assert_int_eq(ipckit_send(zc_tx, "first", 5, 0), 0);
    ck_assert_int_eq(ipckit_recv_borrow(zc_rx, &type, &msg, 0), 5);
    ck_assert_int_eq(ipckit_send_loan(zc_tx, 4, &room, 0), 0);
    ck_assert_int_eq(tk_wait(tk_fork(zero_copy_child, NULL), LONG_WAIT), 0);
    /* the parent still holds both and finishes them */
    memcpy(room, "next", 4);
    ck_assert_int_eq(ipckit_send_commit(zc_tx, 2, 4), 0);
    ck_assert_mem_eq(msg, "first", 5);
    ck_assert_int_eq(ipckit_recv_release(zc_rx), 0);
    ck_assert_int_eq(ipckit_recv_typed(zc_rx, 0, &type, buf, sizeof buf, 0), 4);
    ck_assert_int_eq(type, 2);
    ck_assert_mem_eq(buf, "next", 4);
    ck_assert_int_eq(ipckit_close(zc_rx), 0);
    ck_assert_int_eq(ipckit_close(zc_tx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

static tk_gate zc_ready;

/* Take a loan, write half of a message into it, then wait to be killed. */
static int
zero_copy_dying_sender(void *arg)
{
    ipckit_channel *tx = NULL;
    void *room;
    (void) arg;
    TK_CHILD_CHECK(ipckit_open(&tx, name, IPCKIT_SEND, NULL) == 0);
    TK_CHILD_CHECK(ipckit_send_loan(tx, 64, &room, LONG_WAIT) == 0);
    memset(room, 'X', 32);
    tk_gate_open(&zc_ready);
    pause();
    return 1;
}

/* Borrow a message, then wait to be killed. */
static int
zero_copy_dying_receiver(void *arg)
{
    ipckit_channel *rx = NULL;
    const void *msg;
    long type;
    (void) arg;
    TK_CHILD_CHECK(ipckit_open(&rx, name, IPCKIT_RECV, NULL) == 0);
    TK_CHILD_CHECK(ipckit_recv_borrow(rx, &type, &msg, LONG_WAIT) == 6);
    tk_gate_open(&zc_ready);
    pause();
    return 1;
}

START_TEST(zero_copy_holder_killed)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *tx, *rx;
    unsigned char buf[128];
    long type = 0;
    pid_t pid;

    setup_name("");
    o.max_msg_size = 100;
    o.capacity = 4096;
    tx = open_ok(IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, &o);
    rx = open_ok(IPCKIT_RECV, NULL);
    for (int round = 0; round < 20; round++) {
        /* a sender killed with a loan out published nothing */
        tk_gate_init(&zc_ready);
        pid = tk_fork(zero_copy_dying_sender, NULL);
        ck_assert_int_eq(tk_gate_wait(&zc_ready, LONG_WAIT), 0);
        ck_assert_int_eq(ipckit_send(tx, "x", 1, 0), -EAGAIN); /* it holds the send side */
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 128 + SIGKILL);
        tk_gate_close(&zc_ready);
        ck_assert_int_eq(ipckit_send_typed(tx, 5, "intact", 6, LONG_WAIT), 0);
        /* a receiver killed with it borrowed leaves it queued */
        tk_gate_init(&zc_ready);
        pid = tk_fork(zero_copy_dying_receiver, NULL);
        ck_assert_int_eq(tk_gate_wait(&zc_ready, LONG_WAIT), 0);
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 128 + SIGKILL);
        tk_gate_close(&zc_ready);
        ck_assert_int_eq(ipckit_recv_typed(rx, 0, &type, buf, sizeof buf, LONG_WAIT), 6);
        ck_assert_int_eq(type, 5);
        ck_assert_mem_eq(buf, "intact", 6);
        ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), -EAGAIN);
    }
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_close(tx), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

/* ---- sender and receiver on one CPU: the ring stays in the cache --------------------- */

#define HOT_MSG 65536
#define HOT_CAP ((uint64_t) 4 << 20)
#define HOT_REC (16 + HOT_MSG) /* a record: its 16-byte header, the payload */
#define HOT_TAIL_AT 192        /* the header's tail and receiver's CPU + 1 (docs/backends/shm.md) */
#define HOT_RECV_CPU_AT 276

static uint64_t
ring_tail(int fd)
{
    uint64_t t = 0;
    ck_assert_int_eq(pread(fd, &t, sizeof t, HOT_TAIL_AT), (ssize_t) sizeof t);
    return t;
}

/* Is @p b message @p seq's payload? */
static bool
hot_valid(const unsigned char *b, unsigned seq)
{
    static unsigned char want[HOT_MSG];
    tk_fill(want, HOT_MSG, 7, seq);
    return memcmp(b, want, HOT_MSG) == 0;
}

/* Pin this process to the CPU it runs on (its mask before into @p was), and
 * make a 4 MiB ring for 64 KiB messages: its receiver and sender. The CPU. */
static int
hot_open(cpu_set_t *was, ipckit_channel **rx, ipckit_channel **tx)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    cpu_set_t one;
    int me = sched_getcpu();
    ck_assert_int_ge(me, 0);
    ck_assert_int_eq(sched_getaffinity(0, sizeof *was, was), 0);
    CPU_ZERO(&one);
    CPU_SET((size_t) me, &one);
    ck_assert_int_eq(sched_setaffinity(0, sizeof one, &one), 0);
    setup_name("");
    o.capacity = HOT_CAP;
    o.max_msg_size = HOT_MSG;
    *rx = open_ok(IPCKIT_RECV | IPCKIT_CREATE | IPCKIT_EXCL, &o);
    *tx = open_ok(IPCKIT_SEND, NULL);
    return me;
}

/* Send one 64 KiB message numbered @p seq and take it back, whole. */
static void
hot_one(ipckit_channel *tx, ipckit_channel *rx, unsigned seq, unsigned char *b)
{
    tk_fill(b, HOT_MSG, 7, seq);
    ck_assert_int_eq(ipckit_send(tx, b, HOT_MSG, 0), 0);
    memset(b, 0, HOT_MSG);
    ck_assert_int_eq(ipckit_recv(rx, b, HOT_MSG, 0), HOT_MSG);
    ck_assert(hot_valid(b, seq));
}

/*
 * A sender whose receiver last ran on its CPU starts again at offset 0
 * when it finds the ring empty past half the level 2 cache (a pad record
 * to the end), instead of walking on through the whole 4 MiB: the tail
 * then moves by far more than the records. With the receiver's CPU
 * another one, it does not. (Speed: ipckit-bench, docs/performance.md.)
 */
START_TEST(one_cpu_ring_stays_in_cache)
{
    static unsigned char b[HOT_MSG];
    ipckit_channel *tx, *rx;
    cpu_set_t was;
    char path[260];
    uint64_t t0, moved;
    long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    uint64_t hot = l2 > 0 ? (uint64_t) l2 / 2 : 1u << 20;
    int32_t elsewhere;
    unsigned n = 0;
    int fd, me;
    if (hot < (256u << 10))
        hot = 256u << 10;
    if (hot >= (2u << 20)) {
        printf("one_cpu_ring_stays_in_cache: a level 2 cache of %ld bytes keeps a 4 MiB"
               " ring; nothing to check\n", l2);
        return;
    }
    me = hot_open(&was, &rx, &tx);
    (void) snprintf(path, sizeof path, "/dev/shm%s", pname);
    fd = open(path, O_RDWR | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    /* a full ring, then an empty one: each side has said where it runs */
    for (;;) {
        int rc;
        tk_fill(b, HOT_MSG, 7, n);
        rc = ipckit_send(tx, b, HOT_MSG, 0);
        if (rc == -EAGAIN)
            break;
        ck_assert_int_eq(rc, 0);
        n++;
    }
    ck_assert_uint_ge(n, 60);
    for (unsigned i = 0; i < n; i++) {
        ck_assert_int_eq(ipckit_recv(rx, b, HOT_MSG, 0), HOT_MSG);
        ck_assert(hot_valid(b, i));
    }
    ck_assert_int_eq(ipckit_recv(rx, b, HOT_MSG, 0), -EAGAIN);

    /* the receiver here: 400 messages take the tail over two laps further */
    t0 = ring_tail(fd);
    for (unsigned i = 0; i < 400; i++)
        hot_one(tx, rx, n + i, b);
    moved = ring_tail(fd) - t0;
    ck_assert_msg(moved > 400u * HOT_REC + 2u * HOT_CAP,
                  "the tail moved %llu bytes for %u bytes of records (hot %llu)",
                  (unsigned long long) moved, 400u * HOT_REC, (unsigned long long) hot);

    /* the receiver on another CPU (its note written over before each
     * message): the records follow each other, one pad per lap at most */
    elsewhere = me + 2;
    t0 = ring_tail(fd);
    for (unsigned i = 0; i < 400; i++) {
        ck_assert_int_eq(pwrite(fd, &elsewhere, sizeof elsewhere, HOT_RECV_CPU_AT),
                         (ssize_t) sizeof elsewhere);
        hot_one(tx, rx, n + 400 + i, b);
    }
    moved = ring_tail(fd) - t0;
    ck_assert_msg(moved < 400u * HOT_REC + (400u * HOT_REC / HOT_CAP + 2) * HOT_REC,
                  "the tail moved %llu bytes for %u bytes of records",
                  (unsigned long long) moved, 400u * HOT_REC);

    ck_assert_int_eq(close(fd), 0);
    ipckit_close(tx);
    ipckit_close(rx);
    ck_assert_int_eq(ipckit_unlink(name), 0);
    ck_assert_int_eq(sched_setaffinity(0, sizeof was, &was), 0);
}
END_TEST

/* The receiver of one_cpu_processes: @p arg messages, each whole. */
static int
hot_receiver(void *arg)
{
    static unsigned char b[HOT_MSG];
    unsigned n = *(unsigned *) arg;
    ipckit_channel *rx = NULL;
    TK_CHILD_CHECK(ipckit_open(&rx, name, IPCKIT_RECV, NULL) == 0);
    for (unsigned i = 0; i < n; i++) {
        TK_CHILD_CHECK(ipckit_recv(rx, b, HOT_MSG, LONG_WAIT) == HOT_MSG);
        TK_CHILD_CHECK(hot_valid(b, i));
    }
    TK_CHILD_CHECK(ipckit_close(rx) == 0);
    return 0;
}

/* The same with a receiver of its own on the sender's CPU, as the two
 * take turns: every message arrives whole and in order, through the
 * yields and the pads back to offset 0. */
START_TEST(one_cpu_processes)
{
    static unsigned char b[HOT_MSG];
    ipckit_channel *tx, *keep;
    cpu_set_t was;
    unsigned n = 2000;
    pid_t pid;
    (void) hot_open(&was, &keep, &tx);
    pid = tk_fork(hot_receiver, &n); /* on this CPU too: the mask is inherited */
    for (unsigned i = 0; i < n; i++) {
        tk_fill(b, HOT_MSG, 7, i);
        ck_assert_int_eq(ipckit_send(tx, b, HOT_MSG, LONG_WAIT), 0);
    }
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    ck_assert_int_eq(ipckit_recv(keep, b, HOT_MSG, 0), -EAGAIN); /* nothing left over */
    ipckit_close(tx);
    ipckit_close(keep);
    ck_assert_int_eq(ipckit_unlink(name), 0);
    ck_assert_int_eq(sched_setaffinity(0, sizeof was, &was), 0);
}
END_TEST

/* ---- publishing without a fence (docs/backends/shm.md) ------------------ */

/* Offsets in the ring header (docs/backends/shm.md, "Layout"). */
#define NF_SEND_NOFENCE 328 /* the claimed sender stores tail without a fence */
#define NF_RECV_FENCE 332   /* receivers: 1 want the fence back, 2 cannot make the barrier */
#define NF_WANT 1u
#define NF_REFUSED 2u

struct nf_msg {
    uint32_t kind; /* 0 ready (seq: 1 when membarrier was refused), 1 stream, 2 ping, 3 end,
                      4 ping, then wait for the gate before receiving on */
    uint32_t seq;
};

/* What the receiver is told at fork: refuse membarrier; the gate of kind 4. */
struct nf_arg {
    bool refuse;
    tk_gate gate;
};

static uint32_t
hdr_word(int fd, off_t at)
{
    uint32_t v = 0;
    ck_assert_int_eq(pread(fd, &v, sizeof v, at), (ssize_t) sizeof v);
    return v;
}

/* Does this kernel (and whatever runs us: valgrind may not) make the barrier? */
static bool
barrier_works(void)
{
    long r = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    return r > 0 && (r & MEMBARRIER_CMD_GLOBAL_EXPEDITED) != 0 &&
           syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) == 0;
}

/* Make membarrier(2) fail with EPERM in this process, as a seccomp sandbox
 * does. False where no filter can be installed. */
static bool
refuse_membarrier(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_membarrier, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { (unsigned short) (sizeof f / sizeof f[0]), f };
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
           prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0 &&
           syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) < 0 && errno == EPERM;
}

/* The receiver: checks the stream's order and answers pings; with @p arg,
 * in a process where membarrier is refused. */
static int
nf_child(void *arg)
{
    struct nf_arg *a = arg;
    char fwd[300], back[300];
    ipckit_channel *rx = NULL, *tx = NULL;
    struct nf_msg m = { 0, 0 };
    uint32_t next = 0;
    if (a->refuse)
        m.seq = refuse_membarrier() ? 1 : 0;
    (void) snprintf(fwd, sizeof fwd, "%s?claim=1", name);
    (void) snprintf(back, sizeof back, "%s.back?claim=1", name);
    TK_CHILD_CHECK(ipckit_open(&rx, fwd, IPCKIT_RECV, NULL) == 0);
    TK_CHILD_CHECK(ipckit_open(&tx, back, IPCKIT_SEND, NULL) == 0);
    TK_CHILD_CHECK(ipckit_send(tx, &m, sizeof m, 10000) == 0);
    for (;;) {
        /* a lost wake-up shows as a timeout here or in the parent */
        TK_CHILD_CHECK(ipckit_recv(rx, &m, sizeof m, 10000) == sizeof m);
        if (m.kind == 1) {
            TK_CHILD_CHECK(m.seq == next);
            next++;
            continue;
        }
        TK_CHILD_CHECK(ipckit_send(tx, &m, sizeof m, 10000) == 0);
        if (m.kind == 3)
            break;
        if (m.kind == 4)
            TK_CHILD_CHECK(tk_gate_wait(&a->gate, 30000) == 0);
    }
    TK_CHILD_CHECK(ipckit_close(rx) == 0 && ipckit_close(tx) == 0);
    return 0;
}

static void
nf_send(ipckit_channel *tx, uint32_t kind, uint32_t seq)
{
    struct nf_msg m = { kind, seq };
    ck_assert_int_eq(ipckit_send(tx, &m, sizeof m, 10000), 0);
}

static void
nf_ping(ipckit_channel *tx, ipckit_channel *rx, uint32_t kind, uint32_t seq)
{
    struct nf_msg m;
    nf_send(tx, kind, seq);
    ck_assert_int_eq(ipckit_recv(rx, &m, sizeof m, 10000), (ssize_t) sizeof m);
    ck_assert_uint_eq(m.kind, kind);
    ck_assert_uint_eq(m.seq, seq);
}

static void
nf_pause(long ms)
{
    struct timespec ts = { 0, ms * 1000000L };
    nanosleep(&ts, NULL);
}

/* A run of 8192 messages and a ping that the receiver finds all queued (it
 * waits at the gate until they are), so that it does not sleep before
 * their end however slowly this side sends (under valgrind too); then a
 * pause, in which the receiver sleeps after that long run and so lets the
 * fence go, and a round trip whose send reads its fence word. Only this
 * side writes its nofence word: what that send decided stays there,
 * whatever the receiver's next sleep asks for. */
static void
nf_long_run(ipckit_channel *tx, ipckit_channel *rx, struct nf_arg *a, uint32_t *seq)
{
    struct nf_msg m;
    nf_ping(tx, rx, 4, 0);
    for (int i = 0; i < 8192; i++)
        nf_send(tx, 1, (*seq)++);
    nf_send(tx, 2, 0); /* queued too: answered once the run is drained */
    tk_gate_open(&a->gate);
    ck_assert_int_eq(ipckit_recv(rx, &m, sizeof m, 10000), (ssize_t) sizeof m);
    ck_assert_uint_eq(m.kind, 2);
    nf_pause(50);
    nf_ping(tx, rx, 2, 1);
}

static void
nf_open(ipckit_channel **tx, ipckit_channel **rx, int *fd)
{
    char fwd[300], back[300], path[260];
    ipckit_opts o = IPCKIT_OPTS_INIT;
    setup_name("");
    (void) snprintf(fwd, sizeof fwd, "%s?claim=1", name);
    (void) snprintf(back, sizeof back, "%s.back?claim=1", name);
    o.capacity = 1u << 20; /* holds a long run (8192 records of 32 bytes) */
    o.max_msg_size = sizeof(struct nf_msg);
    ck_assert_int_eq(ipckit_open(tx, fwd, IPCKIT_SEND | IPCKIT_CREATE, &o), 0);
    ck_assert_int_eq(ipckit_open(rx, back, IPCKIT_RECV | IPCKIT_CREATE, &o), 0);
    (void) snprintf(path, sizeof path, "/dev/shm%s", pname);
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(*fd, 0);
}

static void
nf_close(ipckit_channel *tx, ipckit_channel *rx, int fd, pid_t pid, uint32_t seq)
{
    char back[300];
    nf_ping(tx, rx, 3, seq);
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    ck_assert_int_eq(close(fd), 0);
    ck_assert_int_eq(ipckit_close(tx), 0);
    ck_assert_int_eq(ipckit_close(rx), 0);
    (void) snprintf(back, sizeof back, "%s.back", name);
    ck_assert_int_eq(ipckit_unlink(name), 0);
    ck_assert_int_eq(ipckit_unlink(back), 0);
}

/*
 * A claimed sender stores tail without a fence while its receiver sleeps
 * rarely, takes the fence back when the receiver sleeps after every
 * message, and drops it again after a long run. Every message arrives, in
 * order, and every round trip ends (a lost wake-up is a timeout).
 */
START_TEST(claimed_publish_without_fence)
{
    static struct nf_arg a;
    ipckit_channel *tx, *rx;
    struct nf_msg m;
    uint32_t seq = 0;
    bool check = barrier_works();
    pid_t pid;
    int fd;
    nf_open(&tx, &rx, &fd);
    a.refuse = false;
    tk_gate_init(&a.gate);
    pid = tk_fork(nf_child, &a);
    ck_assert_int_eq(ipckit_recv(rx, &m, sizeof m, LONG_WAIT), (ssize_t) sizeof m);
    ck_assert_uint_eq(m.kind, 0);
    if (!check)
        printf("claimed_publish_without_fence: no membarrier here; the traffic alone is"
               " checked\n");
    /* a long run: no fence */
    nf_long_run(tx, rx, &a, &seq);
    if (check)
        ck_assert_uint_eq(hdr_word(fd, NF_SEND_NOFENCE), 1);
    /* round trips with a pause: the receiver sleeps after every message
     * and asks for the fence back */
    for (uint32_t k = 0; k < 50; k++) {
        nf_pause(2);
        nf_ping(tx, rx, 2, k);
    }
    if (check) {
        ck_assert_uint_eq(hdr_word(fd, NF_RECV_FENCE), NF_WANT);
        ck_assert_uint_eq(hdr_word(fd, NF_SEND_NOFENCE), 0);
    }
    /* a long run again lets it go */
    nf_long_run(tx, rx, &a, &seq);
    if (check)
        ck_assert_uint_eq(hdr_word(fd, NF_SEND_NOFENCE), 1);
    nf_close(tx, rx, fd, pid, seq);
    tk_gate_close(&a.gate);
}
END_TEST

/*
 * A receiver in a process where membarrier is refused (a seccomp filter)
 * marks the ring at open; the claimed sender, which was publishing without
 * a fence, fences again from its next message, and the refusing process,
 * which cannot register, publishes its own replies with fences.
 */
START_TEST(refused_barrier_keeps_the_fence)
{
    static struct nf_arg a;
    ipckit_channel *tx, *rx;
    struct nf_msg m;
    char path[300];
    bool check = barrier_works();
    pid_t pid;
    int fd, bfd;
    nf_open(&tx, &rx, &fd);
    nf_send(tx, 1, 0); /* no receiver yet: nobody has asked for the fence */
    if (check)
        ck_assert_uint_eq(hdr_word(fd, NF_SEND_NOFENCE), 1);
    a.refuse = true;
    tk_gate_init(&a.gate);
    pid = tk_fork(nf_child, &a);
    ck_assert_int_eq(ipckit_recv(rx, &m, sizeof m, LONG_WAIT), (ssize_t) sizeof m);
    ck_assert_uint_eq(m.kind, 0);
    if (m.seq == 0 || !check) {
        printf("refused_barrier_keeps_the_fence: no seccomp filter or no membarrier here;"
               " the traffic alone is checked\n");
        check = false;
    }
    if (check)
        ck_assert_uint_eq(hdr_word(fd, NF_RECV_FENCE) & NF_REFUSED, NF_REFUSED);
    for (uint32_t k = 0; k < 50; k++) {
        if (k % 5 == 0)
            nf_pause(2);
        nf_ping(tx, rx, 2, k);
        if (check)
            ck_assert_uint_eq(hdr_word(fd, NF_SEND_NOFENCE), 0);
    }
    (void) snprintf(path, sizeof path, "/dev/shm%s.back", pname);
    bfd = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(bfd, 0);
    ck_assert_uint_eq(hdr_word(bfd, NF_SEND_NOFENCE), 0);
    ck_assert_int_eq(close(bfd), 0);
    nf_close(tx, rx, fd, pid, 0);
    tk_gate_close(&a.gate);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("shm");
    TCase *tc = tk_tcase("shm", 60);
    TCase *mp = tk_tcase("shm-processes", 180);
    tcase_add_test(tc, roundtrip_types_and_limits);
    tcase_add_test(tc, bad_names_and_options);
    tcase_add_test(tc, header_corruption);
    tcase_add_test(tc, permissions);
    tcase_add_test(tc, planted_files_are_refused);
    tcase_add_test(tc, claimed_sides);
    tcase_add_test(tc, blocked_receiver_is_idle);
    tcase_add_test(tc, concurrent_creators_agree);
    tcase_add_test(tc, scribbled_ring_is_never_trusted);
    tcase_add_test(tc, zero_copy_roundtrip);
    tcase_add_test(tc, zero_copy_misuse);
    tcase_add_test(tc, zero_copy_fork);
    tcase_add_test(tc, zero_copy_holder_killed);
    tcase_add_loop_test(tc, fd_pollers, 0, 2);
    tcase_add_test(tc, fd_slots);
    tcase_add_test(tc, fd_scribbled_bell);
    tcase_add_test(tc, one_cpu_ring_stays_in_cache);
    tcase_add_loop_test(mp, producers_and_consumers, 0, 2);
    tcase_add_loop_test(mp, wakeups_long_run, 0, 3);
    tcase_add_test(mp, full_ring_sender_takes_the_first_room);
    tcase_add_test(mp, claimed_publish_without_fence);
    tcase_add_test(mp, refused_barrier_keeps_the_fence);
    tcase_add_test(mp, one_cpu_processes);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, mp);
    return tk_run(s);
}
