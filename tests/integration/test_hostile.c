/*
 * A hostile peer with write access to a shm: ring or region: a process that
 * scribbles the header, the indexes, the record lengths and the lock words
 * while another opens, sends, receives, locks and unlocks. docs/security.md
 * promises that such a peer can make calls fail or time out, and can spoil
 * the data, but cannot make the victim write outside the mapping, crash it
 * or hang it past its timeout.
 *
 * "Outside the mapping" is checked with a canary: the test program defines
 * mmap() and munmap(), which the library's calls reach first (as other
 * tests define msgget() or mkfifoat()). While the victim runs, every shared
 * mapping of a file is placed at the start of a reservation of 1 GiB more
 * anonymous memory that nothing touches; a write past the end of the
 * object lands there and makes a page of it resident, which mincore()
 * shows when the mapping is unmapped (every handle is closed by the end).
 */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <time.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ipckit/ipckit.h>

#include "testkit.h"

#define CANARY_SIZE ((size_t) 1 << 30)
/* The victims run at least RUN_MS and until they made MIN_OPENS opens (a slow
 * machine or valgrind needs longer), at most MAX_RUN_MS. */
#define RUN_MS 3000
#define MIN_OPENS 5
#define MAX_RUN_MS 90000
#define LONG_WAIT 120000

static char name[300], pname[200];

static void
setup_name(void)
{
    tk_posix_name(pname, sizeof pname);
    (void) snprintf(name, sizeof name, "shm:%s", pname);
}

/* ---- the canary ---------------------------------------------------------------- */

struct guard {
    unsigned char *base; /* the reservation: the object's mapping, then the canary */
    size_t map_len, total;
};

static struct guard guards[64];
static bool guarding;         /* in the victim only */
static unsigned guarded;      /* mappings placed in front of a canary */

static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static int (*real_munmap)(void *, size_t);

static void
real_init(void)
{
    if (real_mmap == NULL) {
        void *f = dlsym(RTLD_NEXT, "mmap"), *g = dlsym(RTLD_NEXT, "munmap");
        memcpy(&real_mmap, &f, sizeof real_mmap);
        memcpy(&real_munmap, &g, sizeof real_munmap);
        if (real_mmap == NULL || real_munmap == NULL)
            abort();
    }
}

void *
mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    size_t map_len = (len + 4095) & ~(size_t) 4095;
    struct guard *g = NULL;
    unsigned char *base;
    void *p;
    real_init();
    if (!guarding || fd < 0 || addr != NULL || !(flags & MAP_SHARED))
        return real_mmap(addr, len, prot, flags, fd, off);
    for (size_t i = 0; i < sizeof guards / sizeof guards[0] && g == NULL; i++)
        if (guards[i].base == NULL)
            g = &guards[i];
    if (g == NULL)
        abort();
    base = real_mmap(NULL, map_len + CANARY_SIZE, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED)
        return MAP_FAILED;
    p = real_mmap(base, len, prot, flags | MAP_FIXED, fd, off);
    if (p == MAP_FAILED) {
        int e = errno;
        (void) real_munmap(base, map_len + CANARY_SIZE);
        errno = e;
        return MAP_FAILED;
    }
    g->base = base;
    g->map_len = map_len;
    g->total = map_len + CANARY_SIZE;
    guarded++;
    return p;
}

int
munmap(void *addr, size_t len)
{
    static unsigned char vec[CANARY_SIZE / 4096];
    real_init();
    for (size_t i = 0; i < sizeof guards / sizeof guards[0]; i++) {
        struct guard *g = &guards[i];
        if (g->base == NULL || (unsigned char *) addr != g->base)
            continue;
        if (mincore(g->base + g->map_len, CANARY_SIZE, vec) != 0)
            abort();
        for (size_t k = 0; k < sizeof vec; k++)
            if (vec[k] & 1) {
                fprintf(stderr, "canary page %zu (%#zx bytes past the object) was written\n",
                        k, k * 4096);
                _exit(98);
            }
        g->base = NULL;
        return real_munmap(addr, g->total);
    }
    return real_munmap(addr, len);
}

static tk_gate ready, go;

/* ---- the scribbler ------------------------------------------------------------- */

/* Offsets a hostile peer would aim at: sizes, lock words, indexes, futex
 * words, the store's header, record headers. */
static const size_t aims[] = { 4,   8,   16,  20,  24,  28,  32,   64,   66,   72,   76,  80,
                               128, 130, 136, 144, 192, 196, 200,  256,  260,  264,  320, 324,
                               384, 388, 448, 456, 4096, 4100, 4104, 4112, 4128 };

static int
scribbler(void *arg)
{
    unsigned seed = (unsigned) getpid();
    unsigned char *p, save[4096];
    struct stat sb;
    int fd;
    (void) arg;
    fd = shm_open(pname, O_RDWR, 0);
    TK_CHILD_CHECK(fd >= 0 && fstat(fd, &sb) == 0 && sb.st_size >= 8192);
    p = mmap(NULL, (size_t) sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    TK_CHILD_CHECK(p != MAP_FAILED);
    (void) close(fd);
    memcpy(save, p, sizeof save);
    for (unsigned long n = 0;; n++) {
        unsigned r = (unsigned) rand_r(&seed);
        size_t off;
        uint64_t v;
        switch (r % 8) {
        case 0: /* put the header back, so that opens succeed now and then */
            memcpy(p, save, 128);
            break;
        case 1: /* a plausible but wrong size: capacity or the limit 256 times larger */
            off = (r >> 8) % 2 ? 16 : 24;
            memcpy(&v, p + off, 8);
            v = v << 8;
            memcpy(p + off, &v, 8);
            break;
        case 2: /* a lock word: another thread, ours with waiters, garbage */
            off = (r >> 8) % 2 ? 64 : 128;
            v = (r >> 9) % 3 == 0 ? (uint64_t) getpid() : (uint64_t) rand_r(&seed);
            memcpy(p + off, &v, 4);
            break;
        default:
            off = aims[(r >> 8) % (sizeof aims / sizeof aims[0])] + (r >> 16) % 8;
            p[off] = (unsigned char) rand_r(&seed);
            break;
        }
        if (n % 64 == 63) {
            /* every other burst ends with the header put back, so that opens
             * succeed now and then even where the scribbler runs fast */
            static const struct timespec pause_ts = { 0, 20000 };
            if ((n / 64) % 2 == 0)
                memcpy(p, save, 64);
            (void) nanosleep(&pause_ts, NULL);
        }
    }
}

/* ---- the victims --------------------------------------------------------------- */

static int
ok_code(long rc)
{
    return rc >= 0 || rc == -EAGAIN || rc == -ETIMEDOUT || rc == -EBADMSG || rc == -EPROTO ||
           rc == -EPERM || rc == -EDEADLK || rc == -EOWNERDEAD || rc == -EINVAL ||
           rc == -EBUSY || rc == -EMSGSIZE;
}

static void
ring_ops(ipckit_channel *ch, unsigned *seed, unsigned *done)
{
    static unsigned char buf[600];
    for (int i = 0; i < 16; i++) {
        long type = 0;
        const void *in;
        void *out;
        long rc;
        switch (rand_r(seed) % 4) {
        case 0:
            rc = ipckit_send(ch, buf, (size_t) rand_r(seed) % 500, 5);
            break;
        case 1:
            rc = ipckit_recv_typed(ch, 0, &type, buf, (size_t) rand_r(seed) % 2 ? sizeof buf : 8,
                                   5);
            TK_CHILD_CHECK(rc <= (long) sizeof buf);
            break;
        case 2:
            rc = ipckit_send_loan(ch, 400, &out, 5);
            if (rc == 0) {
                memset(out, 0x5a, 400);
                TK_CHILD_CHECK(ipckit_send_commit(ch, 2, 400) == 0);
            }
            break;
        default:
            rc = ipckit_recv_borrow(ch, &type, &in, 5);
            if (rc >= 0) {
                TK_CHILD_CHECK(rc <= 500);
                (void) ((const volatile unsigned char *) in)[rc > 0 ? rc - 1 : 0];
                TK_CHILD_CHECK(ipckit_recv_release(ch) == 0);
            }
            break;
        }
        if (!ok_code(rc))
            fprintf(stderr, "ring: unexpected %s (%s)\n", ipckit_errname((int) rc),
                    ipckit_last_error(ch));
        TK_CHILD_CHECK(ok_code(rc));
        ++*done;
    }
}

static int
ring_victim(void *arg)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *kept = NULL;
    unsigned seed = 99, done = 0, opened = 0;
    long long end;
    (void) arg;
    guarding = true;
    o.open_timeout_ms = 0;
    /* a handle opened before the scribbling, used all along */
    TK_CHILD_CHECK(ipckit_open(&kept, name, IPCKIT_SEND | IPCKIT_RECV, &o) == 0);
    end = tk_now_ms() + RUN_MS;
    tk_gate_open(&ready);
    TK_CHILD_CHECK(tk_gate_wait(&go, LONG_WAIT) == 0);
    while (tk_now_ms() < end || (opened < MIN_OPENS && tk_now_ms() < end - RUN_MS + MAX_RUN_MS)) {
        ipckit_channel *ch = NULL;
        if (ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_RECV, &o) == 0) {
            opened++;
            ring_ops(ch, &seed, &done);
            TK_CHILD_CHECK(ipckit_close(ch) == 0);
        }
        ring_ops(kept, &seed, &done);
    }
    TK_CHILD_CHECK(ipckit_close(kept) == 0);
    fprintf(stderr, "ring: %u calls, %u opens, %u mappings guarded\n", done, opened, guarded);
    TK_CHILD_CHECK(opened >= MIN_OPENS && guarded > opened);
    return 0;
}

static void
region_ops(ipckit_region *r, unsigned *seed, unsigned *done)
{
    unsigned char val[300], out[300];
    for (int i = 0; i < 8; i++) {
        long rc = ipckit_region_lock(r, 5);
        TK_CHILD_CHECK(ok_code(rc));
        if (rc == 0 || rc == -EOWNERDEAD) {
            long key = rand_r(seed) % 8;
            size_t len = (size_t) rand_r(seed) % sizeof val;
            memset(val, (int) key, len);
            rc = ipckit_region_put(r, key, val, len);
            TK_CHILD_CHECK(ok_code(rc) || rc == -ENOSPC);
            rc = ipckit_region_get(r, rand_r(seed) % 8, out, (size_t) rand_r(seed) % sizeof out);
            TK_CHILD_CHECK(ok_code(rc) || rc == -ENOENT);
            TK_CHILD_CHECK(rc <= (long) sizeof out);
            rc = ipckit_region_remove(r, rand_r(seed) % 8);
            TK_CHILD_CHECK(ok_code(rc) || rc == -ENOENT);
            rc = ipckit_region_unlock(r);
            if (rc != 0 && rc != -EPERM && rc != -EBADMSG)
                fprintf(stderr, "unlock: %s (%s)\n", ipckit_errname((int) rc), ipckit_region_last_error(r));
            TK_CHILD_CHECK(rc == 0 || rc == -EPERM || rc == -EBADMSG);
        }
        ++*done;
    }
}

static int
region_victim(void *arg)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_region *kept = NULL;
    unsigned seed = 7, done = 0, opened = 0;
    long long end;
    (void) arg;
    guarding = true;
    o.open_timeout_ms = 0;
    TK_CHILD_CHECK(ipckit_region_open(&kept, name, 0, 0, &o) == 0);
    end = tk_now_ms() + RUN_MS;
    tk_gate_open(&ready);
    TK_CHILD_CHECK(tk_gate_wait(&go, LONG_WAIT) == 0);
    while (tk_now_ms() < end || (opened < MIN_OPENS && tk_now_ms() < end - RUN_MS + MAX_RUN_MS)) {
        ipckit_region *r = NULL;
        if (ipckit_region_open(&r, name, 0, 0, &o) == 0) {
            opened++;
            region_ops(r, &seed, &done);
            TK_CHILD_CHECK(ipckit_region_close(r) == 0);
        }
        region_ops(kept, &seed, &done);
    }
    TK_CHILD_CHECK(ipckit_region_close(kept) == 0);
    fprintf(stderr, "region: %u calls, %u opens, %u mappings guarded\n", done, opened, guarded);
    TK_CHILD_CHECK(opened >= MIN_OPENS && guarded > opened);
    return 0;
}

/* Run @p victim against a scribbler; the victim must finish by itself (every
 * call returned) and cleanly (no signal, no failed check). */
static void
duel(int (*victim)(void *))
{
    pid_t s, v;
    int rc;
    tk_gate_init(&ready);
    tk_gate_init(&go);
    v = tk_fork(victim, NULL);
    ck_assert_int_eq(tk_gate_wait(&ready, LONG_WAIT), 0); /* its first handle is open */
    s = tk_fork(scribbler, NULL);
    tk_gate_open(&go);
    rc = tk_wait(v, LONG_WAIT);
    tk_gate_close(&ready);
    tk_gate_close(&go);
    (void) kill(s, SIGKILL);
    ck_assert_int_eq(tk_wait(s, LONG_WAIT), 128 + SIGKILL);
    ck_assert_msg(rc == 0, "victim ended with %d (-1: hung; 128+n: killed by signal n)", rc);
}

START_TEST(ring_under_a_hostile_peer)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *ch = NULL;
    setup_name();
    o.capacity = 4096;
    o.max_msg_size = 500;
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, &o), 0);
    duel(ring_victim);
    ck_assert_int_eq(ipckit_close(ch), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

START_TEST(region_under_a_hostile_peer)
{
    ipckit_region *r = NULL;
    setup_name();
    ck_assert_int_eq(ipckit_region_open(&r, name, IPCKIT_CREATE | IPCKIT_EXCL, 4096, NULL), 0);
    duel(region_victim);
    ck_assert_int_eq(ipckit_region_close(r), 0);
    ck_assert_int_eq(ipckit_region_unlink(name), 0);
}
END_TEST

/*
 * The lock word rewritten while it is held. A glibc robust mutex keeps
 * robust-list pointers in the mutex, which glibc writes through on unlock:
 * a peer that rewrites them steers that write (0.1.0 crashed here, or wrote
 * where the peer chose). Each value a peer could leave in the 40 bytes where
 * that mutex was must give an error or a timeout, and the lock must work
 * again once the word is cleared.
 */
START_TEST(lock_word_rewritten_while_held)
{
    static const uint64_t values[] = { 0, 1, 0x80000000u, 0x40000001u, 0xdeadbeefu,
                                       0x7fffffffffffULL, 0x4141414141414141ULL };
    ipckit_region *r = NULL;
    unsigned char *p;
    struct stat sb;
    int fd;
    setup_name();
    ck_assert_int_eq(ipckit_region_open(&r, name, IPCKIT_CREATE | IPCKIT_EXCL, 4096, NULL), 0);
    fd = shm_open(pname, O_RDWR, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fstat(fd, &sb), 0);
    p = mmap(NULL, (size_t) sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    close(fd);
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        long long t0;
        int rc;
        ck_assert_int_eq(ipckit_region_lock(r, 1000), 0);
        for (size_t off = 64; off < 64 + 40; off += 8)
            memcpy(p + off, &values[i], 8);
        memcpy(p + 64, &values[i], 4);
        rc = ipckit_region_unlock(r);
        ck_assert_msg(rc == 0 || rc == -EPERM, "unlock with %#llx: %s", (unsigned long long) values[i],
                      ipckit_errname(rc));
        t0 = tk_now_ms();
        rc = ipckit_region_lock(r, 100);
        ck_assert_msg(rc == 0 || rc == -EOWNERDEAD || rc == -ETIMEDOUT || rc == -EBADMSG ||
                          rc == -EDEADLK,
                      "lock with %#llx: %s", (unsigned long long) values[i], ipckit_errname(rc));
        ck_assert_int_lt(tk_now_ms() - t0, 20000);
        if (rc == 0 || rc == -EOWNERDEAD)
            ck_assert_int_eq(ipckit_region_unlock(r), 0);
        memset(p + 64, 0, 40);
        ck_assert_int_eq(ipckit_region_lock(r, 1000), 0);
        ck_assert_int_eq(ipckit_region_put(r, 1, "ok", 2), 0);
        ck_assert_int_eq(ipckit_region_unlock(r), 0);
    }
    munmap(p, (size_t) sb.st_size);
    ck_assert_int_eq(ipckit_region_close(r), 0);
    ck_assert_int_eq(ipckit_region_unlink(name), 0);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("hostile");
    TCase *tc = tk_tcase("hostile", 300);
    tcase_add_test(tc, ring_under_a_hostile_peer);
    tcase_add_test(tc, region_under_a_hostile_peer);
    tcase_add_test(tc, lock_word_rewritten_while_held);
    suite_add_tcase(s, tc);
    return tk_run(s);
}
