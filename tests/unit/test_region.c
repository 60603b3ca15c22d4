/*
 * Tests of the region API: lock, variable slots, header validation,
 * permissions, fork inheritance, and many processes on one counter.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <ipckit/ipckit.h>

#include "testkit.h"

#define LONG_WAIT 30000

static char name[300], pname[200];

static void
setup_name(void)
{
    tk_posix_name(pname, sizeof pname);
    (void) snprintf(name, sizeof name, "shm:%s", pname);
}

static ipckit_region *
open_ok(unsigned flags, size_t size)
{
    ipckit_region *r = NULL;
    int rc = ipckit_region_open(&r, name, flags, size, NULL);
    ck_assert_msg(rc == 0, "open %s: %s (%s)", name, ipckit_errname(rc), ipckit_error_detail());
    ck_assert_ptr_nonnull(r);
    return r;
}

START_TEST(lock_unlock_and_errors)
{
    ipckit_region *r, *r2;
    setup_name();
    r = open_ok(IPCKIT_CREATE | IPCKIT_EXCL, 10000);
    ck_assert_uint_eq(ipckit_region_size(r), 10000);
    ck_assert_ptr_nonnull(ipckit_region_data(r));
    ck_assert_uint_eq((uintptr_t) ipckit_region_data(r) % 64, 0);
    ck_assert_int_eq(ipckit_region_unlock(r), -EPERM);
    ck_assert_int_eq(ipckit_region_lock(r, 0), 0);
    ck_assert_int_eq(ipckit_region_lock(r, 0), -EDEADLK);
    ((char *) ipckit_region_data(r))[9999] = 'x';
    ck_assert_int_eq(ipckit_region_unlock(r), 0);
    ck_assert_int_eq(ipckit_region_unlock(r), -EPERM);
    ck_assert_str_ne(ipckit_region_last_error(r), "");

    r2 = open_ok(0, 0);
    ck_assert_uint_eq(ipckit_region_size(r2), 10000);
    ck_assert_int_eq(((char *) ipckit_region_data(r2))[9999], 'x');
    ck_assert_int_eq(ipckit_region_close(r2), 0);

    r2 = NULL;
    ck_assert_int_eq(ipckit_region_open(&r2, name, IPCKIT_CREATE | IPCKIT_EXCL, 10, NULL),
                     -EEXIST);
    ck_assert_ptr_null(r2);
    ck_assert_int_eq(ipckit_region_open(&r2, name, 0, 4096, NULL), -EINVAL);
    ck_assert_int_eq(ipckit_region_open(&r2, name, IPCKIT_CREATE, 0, NULL), -EINVAL);
    ck_assert_int_eq(ipckit_region_open(&r2, name, IPCKIT_SEND, 0, NULL), -EINVAL);
    ck_assert_int_eq(ipckit_region_open(&r2, "shm:a/b", 0, 0, NULL), -EINVAL);
    ck_assert_int_eq(ipckit_region_open(&r2, "fifo:/tmp/x", 0, 0, NULL), -EINVAL);
    ck_assert_int_eq(ipckit_region_close(r), 0);
    ck_assert_int_eq(ipckit_region_unlink(name), 0);
    ck_assert_int_eq(ipckit_region_unlink(name), -ENOENT);
    ck_assert_int_eq(ipckit_region_open(&r2, name, 0, 0, NULL), -ENOENT);
}
END_TEST

START_TEST(variables)
{
    ipckit_region *r;
    unsigned char big[3000], out[3000];
    long v = 41;
    int stored = 0;
    setup_name();
    r = open_ok(IPCKIT_CREATE, 8192);
    ck_assert_int_eq(ipckit_region_has(r, 1), 0);
    ck_assert_int_eq(ipckit_region_get(r, 1, &v, sizeof v), -ENOENT);
    ck_assert_int_eq(ipckit_region_remove(r, 1), -ENOENT);
    ck_assert_int_eq(ipckit_region_put(r, 1, &v, sizeof v), 0);
    ck_assert_int_eq(ipckit_region_has(r, 1), 1);
    v = 0;
    ck_assert_int_eq(ipckit_region_get(r, 1, &v, sizeof v), sizeof v);
    ck_assert_int_eq(v, 41);
    /* negative keys, empty values, replacement by a longer value */
    ck_assert_int_eq(ipckit_region_put(r, -7, "", 0), 0);
    ck_assert_int_eq(ipckit_region_get(r, -7, NULL, 0), 0);
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char) (i * 7 + 3);
    ck_assert_int_eq(ipckit_region_put(r, 1, big, sizeof big), 0);
    ck_assert_int_eq(ipckit_region_get(r, 1, &v, sizeof v), -EMSGSIZE);
    ck_assert_int_eq(ipckit_region_get(r, 1, out, sizeof out), sizeof big);
    ck_assert_mem_eq(out, big, sizeof big);
    /* fill until full: -ENOSPC keeps what is stored, and frees nothing */
    for (long k = 100; k < 1000; k++) {
        int rc = ipckit_region_put(r, k, big, 500);
        if (rc == -ENOSPC)
            break;
        ck_assert_int_eq(rc, 0);
        stored++;
    }
    ck_assert_int_gt(stored, 2);
    ck_assert_int_lt(stored, 900);
    ck_assert_int_eq(ipckit_region_put(r, 1, big, sizeof big), -ENOSPC);
    ck_assert_int_eq(ipckit_region_get(r, 1, out, sizeof out), sizeof big);
    ck_assert_mem_eq(out, big, sizeof big);
    /* removing frees room again */
    ck_assert_int_eq(ipckit_region_remove(r, 100), 0);
    ck_assert_int_eq(ipckit_region_has(r, 100), 0);
    ck_assert_int_eq(ipckit_region_put(r, 5000, big, 400), 0);
    for (long k = 101; k < 100 + stored; k++) {
        ck_assert_int_eq(ipckit_region_get(r, k, out, sizeof out), 500);
        ck_assert_mem_eq(out, big, 500);
    }
    /* calls inside an explicit lock do not take it again */
    ck_assert_int_eq(ipckit_region_lock(r, 0), 0);
    ck_assert_int_eq(ipckit_region_has(r, 5000), 1);
    ck_assert_int_eq(ipckit_region_unlock(r), 0);
    ck_assert_int_eq(ipckit_region_close(r), 0);
    ck_assert_int_eq(ipckit_region_unlink(name), 0);
}
END_TEST

/* Map the object behind the region by hand, as a hostile peer would. */
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

/* ipckit_region_keys(): the keys that have a value, and how many. */
START_TEST(keys_listed)
{
    ipckit_region *r;
    long keys[4] = { 0, 0, 0, 0 };
    setup_name();
    r = open_ok(IPCKIT_CREATE | IPCKIT_EXCL, 8192);
    ck_assert_int_eq(ipckit_region_keys(r, NULL, 0), 0);
    ck_assert_int_eq(ipckit_region_put(r, 7, "a", 1), 0);
    ck_assert_int_eq(ipckit_region_put(r, -2, "b", 1), 0);
    ck_assert_int_eq(ipckit_region_put(r, 9, "c", 1), 0);
    ck_assert_int_eq(ipckit_region_remove(r, 7), 0);
    ck_assert_int_eq(ipckit_region_keys(r, keys, 1), 2); /* room for one: told two */
    ck_assert_int_eq(ipckit_region_keys(r, keys, 4), 2);
    ck_assert((keys[0] == -2 && keys[1] == 9) || (keys[0] == 9 && keys[1] == -2));
    ck_assert_int_eq(keys[2], 0);
    ck_assert_int_eq(ipckit_region_keys(r, NULL, 1), -EINVAL);
    ck_assert_int_eq(ipckit_region_keys(NULL, keys, 4), -EINVAL);
    ck_assert_int_eq(ipckit_region_close(r), 0);
    ck_assert_int_eq(ipckit_region_unlink(name), 0);
}
END_TEST

START_TEST(header_is_validated)
{
    ipckit_region *r = NULL;
    ipckit_opts o = IPCKIT_OPTS_INIT;
    unsigned char *p, save[16];
    size_t size;
    long v = 5;
    int fd;
    setup_name();
    r = open_ok(IPCKIT_CREATE, 4096);
    ck_assert_int_eq(ipckit_region_put(r, 3, &v, sizeof v), 0);
    ck_assert_int_eq(ipckit_region_close(r), 0);
    p = raw_map(&size);
    ck_assert_uint_eq(size, 8192);
    memcpy(save, p, sizeof save);

    p[0] ^= 0x55; /* magic */
    ck_assert_int_eq(ipckit_region_open(&r, name, 0, 0, NULL), -EBADMSG);
    ck_assert_ptr_null(r);
    memcpy(p, save, sizeof save);
    p[4] = 99; /* version */
    ck_assert_int_eq(ipckit_region_open(&r, name, IPCKIT_CREATE, 4096, NULL), -EPROTO);
    memcpy(p, save, sizeof save);
    p[8] = 1; /* header size */
    ck_assert_int_eq(ipckit_region_open(&r, name, 0, 0, NULL), -EBADMSG);
    memcpy(p, save, sizeof save);
    p[24] ^= 0x10; /* total size */
    ck_assert_int_eq(ipckit_region_open(&r, name, 0, 0, NULL), -EBADMSG);
    p[24] ^= 0x10;

    /* the variable store's own header */
    r = open_ok(0, 0);
    p[4096 + 8] ^= 1;
    ck_assert_int_eq(ipckit_region_get(r, 3, &v, sizeof v), -EBADMSG);
    ck_assert_int_eq(ipckit_region_put(r, 3, &v, sizeof v), -EBADMSG);
    p[4096 + 8] ^= 1;
    ck_assert_int_eq(ipckit_region_get(r, 3, &v, sizeof v), sizeof v);
    ck_assert_int_eq(v, 5);
    /* a value's bytes: the checksum catches them */
    for (size_t i = 4096 + 16; i < size; i++)
        if (p[i] == 5 && p[i + 1] == 0 && p[i + 7] == 0) {
            p[i] = 6;
            break;
        }
    ck_assert_int_eq(ipckit_region_get(r, 3, &v, sizeof v), -EBADMSG);
    ck_assert_int_eq(ipckit_region_close(r), 0);
    munmap(p, size);

    /* a shrunk object, and one that stays empty (creator never finished) */
    fd = shm_open(pname, O_RDWR, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, 6000), 0);
    ck_assert_int_eq(ipckit_region_open(&r, name, 0, 0, NULL), -EBADMSG);
    ck_assert_int_eq(ftruncate(fd, 0), 0);
    o.open_timeout_ms = 200;
    long long t0 = tk_now_ms();
    ck_assert_int_eq(ipckit_region_open(&r, name, IPCKIT_CREATE, 100, &o), -EBADMSG);
    ck_assert_int_ge(tk_now_ms() - t0, 150);
    close(fd);
    ck_assert_int_eq(ipckit_region_unlink(name), 0);
}
END_TEST

/* Random scribbles over the variable store: every call returns a sane
 * result or -EBADMSG, and a value is either whole or refused. */
START_TEST(scribbled_store_is_never_trusted)
{
    unsigned seed = 777;
    static unsigned char val[700], out[700];
    int bad = 0;
    setup_name();
    for (size_t i = 0; i < sizeof val; i++)
        val[i] = (unsigned char) (i * 13);
    for (int round = 0; round < 200; round++) {
        ipckit_region *r = open_ok(IPCKIT_CREATE, 4096);
        unsigned char *p;
        size_t size;
        for (long k = 0; k < 6; k++)
            ck_assert_int_eq(ipckit_region_put(r, k, val, 50 + (size_t) k * 100), 0);
        p = raw_map(&size);
        for (int k = 0; k < 1 + rand_r(&seed) % 3; k++)
            p[4096 + (size_t) rand_r(&seed) % 4096] ^= (unsigned char) (1 + rand_r(&seed) % 255);
        for (long k = 0; k < 8; k++) {
            ssize_t n = ipckit_region_get(r, k, out, sizeof out);
            if (n >= 0) {
                /* whole or refused: a value that comes back is the one stored */
                ck_assert_int_eq(n, 50 + k * 100);
                ck_assert_mem_eq(out, val, (size_t) n);
            } else {
                ck_assert(n == -ENOENT || n == -EBADMSG);
                bad += n == -EBADMSG;
            }
            int rc = ipckit_region_has(r, k);
            ck_assert(rc == 0 || rc == 1 || rc == -EBADMSG);
        }
        int rc = ipckit_region_put(r, 9, val, 300);
        ck_assert(rc == 0 || rc == -ENOSPC || rc == -EBADMSG);
        munmap(p, size);
        ck_assert_int_eq(ipckit_region_close(r), 0);
        ck_assert_int_eq(ipckit_region_unlink(name), 0);
    }
    ck_assert_int_gt(bad, 5);
}
END_TEST

static int
open_as_nobody(void *arg)
{
    ipckit_region *r = NULL;
    (void) arg;
    TK_CHILD_CHECK(setgroups(0, NULL) == 0 && setgid(65534) == 0 && setuid(65534) == 0);
    TK_CHILD_CHECK(ipckit_region_open(&r, name, 0, 0, NULL) == -EACCES);
    TK_CHILD_CHECK(r == NULL);
    return 0;
}

START_TEST(permissions)
{
    ipckit_region *r;
    ipckit_opts o = IPCKIT_OPTS_INIT;
    struct stat sb;
    char path[400];
    mode_t old;
    setup_name();
    (void) snprintf(path, sizeof path, "/dev/shm%s", pname);
    old = umask(077);
    o.mode = 0640;
    ck_assert_int_eq(ipckit_region_open(&r, name, IPCKIT_CREATE, 100, &o), 0);
    umask(old);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 07777, 0640);
    ck_assert_int_eq(ipckit_region_close(r), 0);
    ck_assert_int_eq(ipckit_region_unlink(name), 0);
    /* default 0600: another user cannot open it */
    r = open_ok(IPCKIT_CREATE, 100);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 07777, 0600);
    if (geteuid() == 0) {
        ck_assert_int_eq(tk_wait(tk_fork(open_as_nobody, NULL), LONG_WAIT), 0);
    } else {
        ck_assert_int_eq(chmod(path, 0400), 0);
        ipckit_region *r2 = NULL;
        ck_assert_int_eq(ipckit_region_open(&r2, name, 0, 0, NULL), -EACCES);
    }
    ck_assert_int_eq(ipckit_region_close(r), 0);
    ck_assert_int_eq(ipckit_region_unlink(name), 0);
}
END_TEST

static ipckit_region *inherited;

static int
child_uses_inherited(void *arg)
{
    long v = 0;
    (void) arg;
    /* the parent holds the lock: it was not inherited */
    TK_CHILD_CHECK(ipckit_region_unlock(inherited) == -EPERM);
    TK_CHILD_CHECK(ipckit_region_lock(inherited, 0) == -EAGAIN);
    TK_CHILD_CHECK(ipckit_region_lock(inherited, LONG_WAIT) == 0);
    TK_CHILD_CHECK(ipckit_region_get(inherited, 9, &v, sizeof v) == sizeof v);
    v++;
    TK_CHILD_CHECK(ipckit_region_put(inherited, 9, &v, sizeof v) == 0);
    TK_CHILD_CHECK(ipckit_region_unlock(inherited) == 0);
    TK_CHILD_CHECK(ipckit_region_close(inherited) == 0);
    return 0;
}

START_TEST(fork_inherits_handle)
{
    long v = 100;
    long long t0;
    pid_t pid;
    setup_name();
    inherited = open_ok(IPCKIT_CREATE, 4096);
    ck_assert_int_eq(ipckit_region_put(inherited, 9, &v, sizeof v), 0);
    ck_assert_int_eq(ipckit_region_lock(inherited, 0), 0);
    pid = tk_fork(child_uses_inherited, NULL);
    t0 = tk_now_ms();
    while (tk_now_ms() - t0 < 100)
        ;
    ck_assert_int_eq(ipckit_region_unlock(inherited), 0);
    ck_assert_int_eq(tk_wait(pid, LONG_WAIT), 0);
    ck_assert_int_eq(ipckit_region_get(inherited, 9, &v, sizeof v), sizeof v);
    ck_assert_int_eq(v, 101);
    ck_assert_int_eq(ipckit_region_close(inherited), 0);
    ck_assert_int_eq(ipckit_region_unlink(name), 0);
}
END_TEST

static int
timed_lock_times_out(void *arg)
{
    ipckit_region *r = NULL;
    long long t0;
    (void) arg;
    TK_CHILD_CHECK(ipckit_region_open(&r, name, 0, 0, NULL) == 0);
    t0 = tk_now_ms();
    TK_CHILD_CHECK(ipckit_region_lock(r, 150) == -ETIMEDOUT);
    TK_CHILD_CHECK(tk_now_ms() - t0 >= 140);
    TK_CHILD_CHECK(ipckit_region_close(r) == 0);
    return 0;
}

START_TEST(lock_timeout)
{
    ipckit_region *r;
    setup_name();
    r = open_ok(IPCKIT_CREATE, 64);
    ck_assert_int_eq(ipckit_region_lock(r, -1), 0);
    ck_assert_int_eq(tk_wait(tk_fork(timed_lock_times_out, NULL), LONG_WAIT), 0);
    ck_assert_int_eq(ipckit_region_unlock(r), 0);
    ck_assert_int_eq(ipckit_region_close(r), 0);
    ck_assert_int_eq(ipckit_region_unlink(name), 0);
}
END_TEST

#define HAMMER_PROCS 8
#define HAMMER_ROUNDS 1500

static int
hammer(void *arg)
{
    ipckit_region *r = NULL;
    (void) arg;
    TK_CHILD_CHECK(ipckit_region_open(&r, name, 0, 0, NULL) == 0);
    for (int i = 0; i < HAMMER_ROUNDS; i++) {
        long v = 0;
        TK_CHILD_CHECK(ipckit_region_lock(r, LONG_WAIT) == 0);
        TK_CHILD_CHECK(ipckit_region_get(r, 1, &v, sizeof v) == sizeof v);
        v++;
        TK_CHILD_CHECK(ipckit_region_put(r, 1, &v, sizeof v) == 0);
        /* and a plain counter in the data area beside the store */
        ((volatile long *) ipckit_region_data(r))[1000]++;
        TK_CHILD_CHECK(ipckit_region_unlock(r) == 0);
    }
    TK_CHILD_CHECK(ipckit_region_close(r) == 0);
    return 0;
}

START_TEST(many_processes_one_counter)
{
    ipckit_region *r;
    pid_t pids[HAMMER_PROCS];
    long v = 0;
    setup_name();
    r = open_ok(IPCKIT_CREATE, 16384);
    ck_assert_int_eq(ipckit_region_put(r, 1, &v, sizeof v), 0);
    for (int i = 0; i < HAMMER_PROCS; i++)
        pids[i] = tk_fork(hammer, NULL);
    for (int i = 0; i < HAMMER_PROCS; i++)
        ck_assert_int_eq(tk_wait(pids[i], 120000), 0);
    ck_assert_int_eq(ipckit_region_get(r, 1, &v, sizeof v), sizeof v);
    ck_assert_int_eq(v, HAMMER_PROCS * HAMMER_ROUNDS);
    ck_assert_int_eq(((long *) ipckit_region_data(r))[1000], HAMMER_PROCS * HAMMER_ROUNDS);
    ck_assert_int_eq(ipckit_region_close(r), 0);
    ck_assert_int_eq(ipckit_region_unlink(name), 0);
}
END_TEST

#define THREAD_ROUNDS 20000

static void *
thread_hammer(void *arg)
{
    ipckit_region *r = NULL;
    (void) arg;
    if (ipckit_region_open(&r, name, 0, 0, NULL) != 0)
        return (void *) 1;
    for (int i = 0; i < THREAD_ROUNDS; i++) {
        if (ipckit_region_lock(r, LONG_WAIT) != 0)
            return (void *) 2;
        ((volatile long *) ipckit_region_data(r))[0]++;
        if (ipckit_region_unlock(r) != 0)
            return (void *) 3;
    }
    return ipckit_region_close(r) == 0 ? NULL : (void *) 4;
}

START_TEST(threads_with_their_own_handles)
{
    ipckit_region *r;
    pthread_t t[3];
    void *ret;
    setup_name();
    r = open_ok(IPCKIT_CREATE, 64);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, thread_hammer, NULL), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(pthread_join(t[i], &ret), 0);
        ck_assert_ptr_null(ret);
    }
    ck_assert_int_eq(((long *) ipckit_region_data(r))[0], 3 * THREAD_ROUNDS);
    ck_assert_int_eq(ipckit_region_close(r), 0);
    ck_assert_int_eq(ipckit_region_unlink(name), 0);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("region");
    TCase *tc = tk_tcase("region", 60);
    tcase_add_test(tc, lock_unlock_and_errors);
    tcase_add_test(tc, variables);
    tcase_add_test(tc, keys_listed);
    tcase_add_test(tc, header_is_validated);
    tcase_add_test(tc, permissions);
    tcase_add_test(tc, fork_inherits_handle);
    tcase_add_test(tc, lock_timeout);
    tcase_add_test(tc, many_processes_one_counter);
    tcase_add_test(tc, threads_with_their_own_handles);
    tcase_add_test(tc, scribbled_store_is_never_trusted);
    suite_add_tcase(s, tc);
    return tk_run(s);
}
