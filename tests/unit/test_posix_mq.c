/*
 * Tests of what only the posixmq: backend (POSIX message queues) does:
 * priorities, names, the buffer of a queue's message size, truncation,
 * records of queues. The channel contract over posixmq: (sizes, types,
 * timeouts, fork, the descriptor, modes, stat, ...) is the conformance
 * suite's (conformance.posixmq). Queues are small (RLIMIT_MSGQUEUE is per
 * user and shared with every other test running as that user).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include <ipckit/ipckit.h>

#include "testkit.h"

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

/* The type is the priority: the higher first, then the order sent within a
 * type. (Types, their range and selectors: conformance.posixmq.) */
START_TEST(roundtrip_and_priorities)
{
    ipckit_channel *ch = create_ok();
    char buf[128];
    long t = 0;
    ck_assert_int_eq(ipckit_send(ch, "one", 3, 0), 0);
    ck_assert_int_eq(ipckit_send_typed(ch, 5, "five", 4, 0), 0);
    ck_assert_int_eq(ipckit_send_typed(ch, 1, "", 0, -1), 0);
    ck_assert_int_eq(ipckit_recv_typed(ch, 0, &t, buf, sizeof buf, 0), 4);
    ck_assert_int_eq(t, 5);
    ck_assert_mem_eq(buf, "five", 4);
    ck_assert_int_eq(ipckit_recv_typed(ch, 0, &t, buf, sizeof buf, -1), 3);
    ck_assert_int_eq(t, 1);
    ck_assert_int_eq(ipckit_recv_typed(ch, 0, &t, buf, sizeof buf, 100), 0);
    ck_assert_int_eq(t, 1);
    ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 0), -EAGAIN);
    ipckit_close(ch);
    remove_ok();
}
END_TEST

/* Names that are no POSIX queue name; another message size. (Missing
 * queues, modes, exclusive create: conformance.posixmq.) */
START_TEST(names_modes_and_errors)
{
    ipckit_channel *ch = (ipckit_channel *) 1, *a;
    ipckit_opts o = small();
    new_name();
    ck_assert_int_eq(ipckit_open(&ch, "posixmq:noslash", IPCKIT_RECV | IPCKIT_CREATE, &o),
                     -EINVAL);
    ck_assert_int_eq(ipckit_open(&ch, "posixmq:/a/b", IPCKIT_RECV | IPCKIT_CREATE, &o), -EINVAL);
    ck_assert_int_eq(ipckit_open(&ch, "posixmq:/", IPCKIT_RECV | IPCKIT_CREATE, &o), -EINVAL);
    ck_assert_int_eq(ipckit_open(&ch, "posixmq:/x?proj=1", IPCKIT_RECV, &o), -EINVAL);
    ck_assert_ptr_null(ch);

    /* an existing queue of another message size: refused, the detail gives
     * the queue's */
    a = open_ok(name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, &o);
    o.max_msg_size = 64;
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV | IPCKIT_CREATE, &o), -EINVAL);
    ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), "128"));
    ipckit_close(a);
    remove_ok();
}
END_TEST

/* A receive needs a buffer of the queue's message size, whatever the
 * message's (the detail gives it); IPCKIT_OPT_TRUNCATE takes less. (The
 * limit of a send: conformance.posixmq.) */
START_TEST(sizes)
{
    ipckit_channel *ch = create_ok(), *tr;
    ipckit_opts o = IPCKIT_OPTS_INIT;
    char buf[200], num[16];
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

/* A full queue's detail says so; a timed wait sleeps in poll, using no
 * CPU. (Timeouts: conformance.posixmq.) */
START_TEST(timeouts_and_full_queue)
{
    ipckit_channel *ch = create_ok();
    char buf[128];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(ipckit_send(ch, "m", 1, 0), 0);
    ck_assert_int_eq(ipckit_send(ch, "m", 1, 0), -EAGAIN);
    ck_assert_ptr_nonnull(strstr(ipckit_last_error(ch), "full"));
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 0), 1);
    long long c0 = tk_cpu_us();
    ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 500), -ETIMEDOUT);
    ck_assert_int_lt(tk_cpu_us() - c0, 100000);
    ipckit_close(ch);
    remove_ok();
}
END_TEST

/* The capacity in bytes is the number of messages times their size. (The
 * rest of stat: conformance.posixmq.) */
START_TEST(stat_reports_queue)
{
    ipckit_channel *ch = create_ok();
    ipckit_stat st;
    ck_assert_int_eq(ipckit_stat_name(name, &st), 0);
    ck_assert_int_eq(st.max_bytes, 4 * 128);
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

/* The record goes with the queue when an open fails after it created the
 * queue. (With ipckit_unlink(): conformance.posixmq, creator_records.) */
START_TEST(creator_record_removed_with_queue)
{
    ipckit_opts o = small();
    ipckit_channel *ch = NULL;
    /* created, recorded, then mq_getattr fails: queue and record go */
    new_name();
    fail_getattr = true;
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

/* A record for another queue (name, inode) is not trusted: the creator is
 * unknown. (Records that are short, garbled or no plain file:
 * conformance.posixmq.) */
START_TEST(bad_records_are_not_trusted)
{
    char other_name[80];
    ipckit_channel *ch = create_ok();
    static const char *idents[6];
    (void) snprintf(other_name, sizeof other_name, "%sx", qname);
    idents[0] = "name";
    idents[1] = other_name;
    idents[2] = "ino";
    idents[3] = "1";
    tk_check_record_refusals(name, idents, TK_REC_IDENTS);
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
    tcase_add_test(tc, sizes);
    tcase_add_test(tc, timeouts_and_full_queue);
    tcase_add_test(tc, stat_reports_queue);
    tcase_add_test(tc, creator_record_removed_with_queue);
    tcase_add_test(tc, foreign_record_is_left_alone);
    tcase_add_test(tc, bad_records_are_not_trusted);
    suite_add_tcase(s, tc);
    return tk_run(s);
}
