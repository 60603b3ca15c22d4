/*
 * Producers and consumers on one mq: queue, as in the tutorial, at several
 * sizes: every message carries (producer, sequence) and content derived from
 * them, and the test checks that no message is lost, duplicated, reordered
 * per producer (as seen by each consumer) or corrupted.
 *
 * Producers and consumers use the handle the parent opened before fork().
 * Some wait with -1 (plain blocking msgsnd/msgrcv), others with a timeout
 * (the polling path); the queue is small, so producers do block when it is
 * full.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <ipckit/ipckit.h>

#include "testkit.h"

#define LONG_WAIT 120000
#define DATA_TYPE_MAX 3
#define END_TYPE 10
#define MAX_PRODUCERS 8
#define MAX_SEQ 1000
#define HDR 12

struct results {
    atomic_uint seen[MAX_PRODUCERS][MAX_SEQ];
    atomic_uint consumed;
};

static char name[64];
static ipckit_channel *q;
static struct results *res;
static size_t max_len;

static size_t
msg_len(uint32_t w, uint32_t s)
{
    /* Mostly small, every 7th message near the largest size. */
    if (s % 7 == 3)
        return max_len - (w + s) % 64;
    return HDR + (w * 31u + s * 17u) % 200;
}

struct role {
    uint32_t id;
    uint32_t count;
    int timeout_ms;
};

static int
producer_main(void *arg)
{
    struct role *r = arg;
    static unsigned char buf[1 << 16];
    long type = 1 + (long) (r->id % DATA_TYPE_MAX);
    for (uint32_t s = 0; s < r->count; s++) {
        size_t len = msg_len(r->id, s);
        memcpy(buf, &r->id, 4);
        memcpy(buf + 4, &s, 4);
        memcpy(buf + 8, &(uint32_t){ (uint32_t) len }, 4);
        tk_fill(buf + HDR, len - HDR, r->id, s);
        int rc = ipckit_send_typed(q, type, buf, len, r->timeout_ms);
        if (rc != 0)
            fprintf(stderr, "producer %u seq %u: %s\n", r->id, s, ipckit_last_error(q));
        TK_CHILD_CHECK(rc == 0);
    }
    ipckit_close(q);
    return 0;
}

static int
consumer_main(void *arg)
{
    struct role *r = arg;
    static unsigned char buf[1 << 16], want[1 << 16];
    int64_t last[MAX_PRODUCERS];
    for (int i = 0; i < MAX_PRODUCERS; i++)
        last[i] = -1;
    for (;;) {
        long type = 0;
        uint32_t w, s, len;
        ssize_t n = ipckit_recv_typed(q, 0, &type, buf, sizeof buf, r->timeout_ms);
        if (n < 0)
            fprintf(stderr, "consumer %u: %s\n", r->id, ipckit_last_error(q));
        TK_CHILD_CHECK(n >= 0);
        if (type == END_TYPE)
            break;
        TK_CHILD_CHECK(n >= HDR);
        memcpy(&w, buf, 4);
        memcpy(&s, buf + 4, 4);
        memcpy(&len, buf + 8, 4);
        TK_CHILD_CHECK(w < MAX_PRODUCERS && s < MAX_SEQ);
        TK_CHILD_CHECK(len == (uint32_t) n && (size_t) n == msg_len(w, s));
        TK_CHILD_CHECK(type == 1 + (long) (w % DATA_TYPE_MAX));
        tk_fill(want, (size_t) n - HDR, w, s);
        TK_CHILD_CHECK(memcmp(buf + HDR, want, (size_t) n - HDR) == 0);
        /* one queue, FIFO per type: a consumer sees each producer in order */
        TK_CHILD_CHECK((int64_t) s > last[w]);
        last[w] = s;
        atomic_fetch_add(&res->seen[w][s], 1);
        atomic_fetch_add(&res->consumed, 1);
    }
    ipckit_close(q);
    return 0;
}

static void
run(uint32_t producers, uint32_t consumers, uint32_t count)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    struct role pr[MAX_PRODUCERS], cr[16];
    pid_t ppid[MAX_PRODUCERS], cpid[16];
    ipckit_stat st;

    ck_assert_uint_le(producers, MAX_PRODUCERS);
    ck_assert_uint_le(count, MAX_SEQ);
    res = mmap(NULL, sizeof *res, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(res, MAP_FAILED);
    (void) snprintf(name, sizeof name, "mq:%#x", (unsigned) tk_sysv_key());
    o.capacity = 8192; /* small: producers fill it and wait */
    ck_assert_int_eq(ipckit_open(&q, name, IPCKIT_SEND | IPCKIT_RECV | IPCKIT_CREATE |
                                                IPCKIT_EXCL, &o), 0);
    max_len = ipckit_max_msg_size(q) < 2048 ? ipckit_max_msg_size(q) : 2048;

    for (uint32_t i = 0; i < consumers; i++) {
        cr[i] = (struct role){ i, 0, i % 2 ? 30000 : -1 };
        cpid[i] = tk_fork(consumer_main, &cr[i]);
    }
    for (uint32_t i = 0; i < producers; i++) {
        pr[i] = (struct role){ i, count, i % 2 ? 30000 : -1 };
        ppid[i] = tk_fork(producer_main, &pr[i]);
    }
    for (uint32_t i = 0; i < producers; i++)
        ck_assert_int_eq(tk_wait(ppid[i], LONG_WAIT), 0);
    /* Every data message is queued before the first end marker. */
    for (uint32_t i = 0; i < consumers; i++)
        ck_assert_int_eq(ipckit_send_typed(q, END_TYPE, "", 0, LONG_WAIT), 0);
    for (uint32_t i = 0; i < consumers; i++)
        ck_assert_int_eq(tk_wait(cpid[i], LONG_WAIT), 0);

    ck_assert_uint_eq(atomic_load(&res->consumed), producers * count);
    for (uint32_t w = 0; w < producers; w++)
        for (uint32_t s = 0; s < count; s++)
            ck_assert_msg(atomic_load(&res->seen[w][s]) == 1,
                          "producer %u message %u received %u times", w, s,
                          atomic_load(&res->seen[w][s]));
    ck_assert_int_eq(ipckit_stat_name(name, &st), 0);
    ck_assert_int_eq(st.messages, 0);
    ck_assert_int_eq(ipckit_close(q), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
    (void) munmap(res, sizeof *res);
}

START_TEST(tutorial_3x2)
{
    run(3, 2, 5);
    run(3, 2, 400);
}
END_TEST

START_TEST(larger_8x4)
{
    run(8, 4, 1000);
}
END_TEST

START_TEST(many_consumers_1x6)
{
    run(1, 6, 1000);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("sysv_mq_stress");
    TCase *tc = tk_tcase("stress", 240);
    tcase_add_test(tc, tutorial_3x2);
    tcase_add_test(tc, larger_8x4);
    tcase_add_test(tc, many_consumers_1x6);
    suite_add_tcase(s, tc);
    return tk_run(s);
}
