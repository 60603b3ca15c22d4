/*
 * Interoperability of the sysvshm: region with PHP's own shm_attach(),
 * shm_*_var(), sem_get(), sem_acquire() and sem_release(), run by php-cli
 * (peer_shm.php), on the same segment and semaphore set: C writes and PHP
 * reads, PHP writes and C reads (and both leave the same bytes), both
 * increment one counter at once under the lock, PHP's sem_get() does not
 * free a lock C holds, and a holder of either kind is killed.
 *
 * Usage: test_interop_sysvshm PHP peer_shm.php. Exits 77 (skip) with a
 * message when php-cli or its sysvshm/sysvsem/posix extensions are
 * missing; scripts/setup.sh installs them.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>

#include <ipckit/ipckit.h>

#include "testkit.h"

#define PEER_WAIT 120000

static const char *php, *script;
static key_t key;
static char name[96], keystr[32];

/* ---- running php --------------------------------------------------------------- */

struct exec_args {
    char *const *argv;
    int in, out;
};

static int
exec_php(void *arg)
{
    struct exec_args *a = arg;
    if (a->in >= 0)
        (void) dup2(a->in, 0);
    if (a->out >= 0)
        (void) dup2(a->out, 1);
    execvp(a->argv[0], a->argv);
    fprintf(stderr, "exec %s: %s\n", a->argv[0], strerror(errno));
    return 127;
}

/* Start php with the arguments (NULL-terminated); its stdout goes to
 * *out_fd when it is not NULL, its stdin comes from @p in (or stays). */
static pid_t
php_start(int *out_fd, int in, const char *const *args)
{
    char *argv[64];
    int fds[2] = { -1, -1 }, n = 0;
    struct exec_args a;
    pid_t pid;
    argv[n++] = (char *) php;
    argv[n++] = (char *) script;
    for (; *args != NULL && n < 63; args++)
        argv[n++] = (char *) *args;
    argv[n] = NULL;
    if (out_fd != NULL)
        ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    a.argv = argv;
    a.in = in;
    a.out = fds[1];
    pid = tk_fork(exec_php, &a);
    if (out_fd != NULL) {
        (void) close(fds[1]);
        *out_fd = fds[0];
    }
    return pid;
}

/* Read @p fd to its end (or PEER_WAIT) into @p out. */
static size_t
read_all(int fd, char *out, size_t cap)
{
    long long end = tk_now_ms() + PEER_WAIT;
    struct pollfd p = { .fd = fd, .events = POLLIN };
    size_t len = 0;
    for (;;) {
        ssize_t n;
        long long left = end - tk_now_ms();
        if (left <= 0 || poll(&p, 1, (int) left) <= 0 || len + 1 >= cap)
            break;
        n = read(fd, out + len, cap - 1 - len);
        if (n <= 0)
            break;
        len += (size_t) n;
    }
    out[len] = '\0';
    return len;
}

/* Run php to its end; its exit status, its output in @p out. */
static int
php_run(char *out, size_t cap, const char *const *args)
{
    int fd = -1;
    pid_t pid = php_start(out ? &fd : NULL, -1, args);
    if (out != NULL) {
        (void) read_all(fd, out, cap);
        (void) close(fd);
    }
    return tk_wait(pid, PEER_WAIT);
}

/* ---- helpers ------------------------------------------------------------------------ */

static void
tohex(char *dst, const void *src, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = src;
    for (size_t i = 0; i < len; i++) {
        dst[2 * i] = digits[p[i] >> 4];
        dst[2 * i + 1] = digits[p[i] & 15];
    }
    dst[2 * len] = '\0';
}

static void
new_keys(void)
{
    key = tk_sysv_key();
    (void) snprintf(name, sizeof name, "sysvshm:%#x", (unsigned) key);
    (void) snprintf(keystr, sizeof keystr, "%d", (int) key);
}

static ipckit_region *
open_ok(const char *n, unsigned flags, size_t size, const ipckit_opts *o)
{
    ipckit_region *r = NULL;
    int rc = ipckit_region_open(&r, n, flags, size, o);
    ck_assert_msg(rc == 0, "open %s: %s (%s)", n, ipckit_errname(rc), ipckit_error_detail());
    return r;
}

static void
unlink_ok(const char *n)
{
    int rc = ipckit_region_unlink(n);
    ck_assert_msg(rc == 0, "unlink %s: %s (%s)", n, ipckit_errname(rc), ipckit_error_detail());
}

static int
semval(key_t k, int n)
{
    int id = semget(k, 0, 0);
    ck_assert_int_ge(id, 0);
    return semctl(id, n, GETVAL);
}

/* Values of every type, as PHP writes them. */
static const char *const texts[] = {
    "i:42;",
    "i:-9223372036854775808;",
    "i:9223372036854775807;",
    "s:5:\"hello\";",
    "s:0:\"\";",
    "d:0.1;",
    "d:-1.0E+100;",
    "d:1.5;",
    "b:1;",
    "b:0;",
    "N;",
    "a:0:{}",
    "a:3:{i:0;i:1;s:1:\"k\";a:2:{i:0;d:2.5;s:3:\"a\"b\";N;}i:7;s:4:\"x;}y\";}",
};
#define NTEXTS (sizeof texts / sizeof texts[0])

/* ---- tests --------------------------------------------------------------------------- */

START_TEST(c_writes_php_reads)
{
    ipckit_region *r;
    static char out[20000], want[20000], hex[2000];
    unsigned char bin[256 + 16];
    const char *args[8 + NTEXTS + 2] = { "get", keystr, keystr };
    char keys[NTEXTS + 1][8];
    size_t n = 3, binlen;
    new_keys();
    r = open_ok(name, IPCKIT_CREATE | IPCKIT_EXCL, 10000, NULL);
    want[0] = '\0';
    for (size_t i = 0; i < NTEXTS; i++) {
        ck_assert_int_eq(ipckit_region_put(r, (long) i + 1, texts[i], strlen(texts[i])), 0);
        (void) snprintf(keys[i], sizeof keys[i], "%zu", i + 1);
        args[n++] = keys[i];
        tohex(hex, texts[i], strlen(texts[i]));
        (void) snprintf(want + strlen(want), sizeof want - strlen(want), "%s\n", hex);
    }
    /* every byte value in a string, built with the encoder */
    {
        ipckit_php_value *v;
        unsigned char raw[256];
        ssize_t len;
        for (int i = 0; i < 256; i++)
            raw[i] = (unsigned char) (255 - i);
        v = ipckit_php_new_string(raw, sizeof raw);
        len = ipckit_php_encode(v, bin, sizeof bin);
        ck_assert_int_gt(len, 256);
        binlen = (size_t) len;
        ipckit_php_free(v);
        ck_assert_int_eq(ipckit_region_put(r, 100, bin, binlen), 0);
        args[n++] = "100";
        tohex(hex, bin, binlen);
        (void) snprintf(want + strlen(want), sizeof want - strlen(want), "%s\n", hex);
    }
    args[n++] = "999"; /* none */
    (void) snprintf(want + strlen(want), sizeof want - strlen(want), "-\n");
    args[n] = NULL;
    ck_assert_int_eq(php_run(out, sizeof out, args), 0);
    ck_assert_str_eq(out, want);
    ck_assert_int_eq(ipckit_region_close(r), 0);
    unlink_ok(name);
}
END_TEST

/* Walk the chain of a PHP store; 0 when both segments hold the same
 * header and the same variables, field by field. */
static void
same_store(key_t a, key_t b)
{
    const unsigned char *pa = shmat(shmget(a, 0, 0), NULL, SHM_RDONLY);
    const unsigned char *pb = shmat(shmget(b, 0, 0), NULL, SHM_RDONLY);
    int64_t ha[5], hb[5];
    ck_assert_ptr_ne(pa, (void *) -1);
    ck_assert_ptr_ne(pb, (void *) -1);
    ck_assert_mem_eq(pa, pb, 7); /* "PHP_SM" and its NUL */
    memcpy(ha, pa, sizeof ha);
    memcpy(hb, pb, sizeof hb);
    for (int i = 1; i < 5; i++)
        ck_assert_msg(ha[i] == hb[i], "header field %d: php %lld, ipckit %lld", i,
                      (long long) ha[i], (long long) hb[i]);
    for (int64_t pos = ha[1]; pos < ha[2];) {
        int64_t ca[3], cb[3];
        memcpy(ca, pa + pos, sizeof ca);
        memcpy(cb, pb + pos, sizeof cb);
        ck_assert_msg(memcmp(ca, cb, sizeof ca) == 0,
                      "variable at %lld: php (%lld, %lld, %lld), ipckit (%lld, %lld, %lld)",
                      (long long) pos, (long long) ca[0], (long long) ca[1], (long long) ca[2],
                      (long long) cb[0], (long long) cb[1], (long long) cb[2]);
        ck_assert_mem_eq(pa + pos + 24, pb + pos + 24, (size_t) ca[1]);
        ck_assert_int_gt(ca[2], 0);
        pos += ca[2];
    }
    ck_assert_int_eq(shmdt(pa), 0);
    ck_assert_int_eq(shmdt(pb), 0);
}

/* PHP makes the objects and writes; C reads what it wrote. The same puts
 * and removes, made by PHP on one segment and by ipckit on another, leave
 * the same store. */
START_TEST(php_writes_c_reads)
{
    ipckit_region *r, *mine;
    ipckit_opts o = IPCKIT_OPTS_INIT;
    const char *args[8 + 2 * NTEXTS] = { "put", keystr, keystr };
    char keys[NTEXTS][8], hexes[NTEXTS][300], buf[400], mine_name[96];
    key_t mine_key = tk_sysv_key();
    size_t n = 3;
    const char *create[] = { "create", keystr, keystr, "10000", NULL };
    new_keys();
    ck_assert_int_eq(php_run(NULL, 0, create), 0);
    for (size_t i = 0; i < NTEXTS; i++) {
        (void) snprintf(keys[i], sizeof keys[i], "%zu", i + 1);
        tohex(hexes[i], texts[i], strlen(texts[i]));
        args[n++] = keys[i];
        args[n++] = hexes[i];
    }
    args[n] = NULL;
    ck_assert_int_eq(php_run(NULL, 0, args), 0);
    /* PHP's objects are writable by everyone (0666): say so */
    o.mode = 0666;
    r = open_ok(name, 0, 0, &o);
    ck_assert_uint_eq(ipckit_region_size(r), 10000);
    for (size_t i = 0; i < NTEXTS; i++) {
        ipckit_php_value *v = NULL;
        ssize_t len = ipckit_region_get(r, (long) i + 1, buf, sizeof buf);
        ck_assert_msg(len == (ssize_t) strlen(texts[i]), "get %zu: %zd (%s)", i + 1, len,
                      ipckit_region_last_error(r));
        ck_assert_mem_eq(buf, texts[i], (size_t) len);
        ck_assert_int_eq(ipckit_php_decode(buf, (size_t) len, &v), 0);
        ipckit_php_free(v);
    }

    /* the same from C on another segment */
    (void) snprintf(mine_name, sizeof mine_name, "sysvshm:%#x", (unsigned) mine_key);
    mine = open_ok(mine_name, IPCKIT_CREATE | IPCKIT_EXCL, 10000, NULL);
    for (size_t i = 0; i < NTEXTS; i++)
        ck_assert_int_eq(ipckit_region_put(mine, (long) i + 1, texts[i], strlen(texts[i])), 0);
    same_store(key, mine_key);
    /* a remove and a replace, by each */
    {
        const char *rm[] = { "remove_var", keystr, keystr, "3", NULL };
        const char *put[] = { "put", keystr, keystr, "5", hexes[3], "1", hexes[12], NULL };
        ck_assert_int_eq(php_run(NULL, 0, rm), 0);
        ck_assert_int_eq(php_run(NULL, 0, put), 0);
        ck_assert_int_eq(ipckit_region_remove(mine, 3), 0);
        ck_assert_int_eq(ipckit_region_put(mine, 5, texts[3], strlen(texts[3])), 0);
        ck_assert_int_eq(ipckit_region_put(mine, 1, texts[12], strlen(texts[12])), 0);
        same_store(key, mine_key);
    }
    ck_assert_int_eq(ipckit_region_close(mine), 0);
    unlink_ok(mine_name);
    ck_assert_int_eq(ipckit_region_close(r), 0);
    unlink_ok(name); /* the objects PHP made go too */
    ck_assert_int_lt(shmget(key, 0, 0), 0);
    ck_assert_int_lt(semget(key, 0, 0), 0);
}
END_TEST

/* PHP's defaults (0666) are refused until the program says it shares
 * them with everyone. */
START_TEST(php_objects_need_trust)
{
    ipckit_region *r = NULL;
    char trusted[128];
    const char *create[] = { "create", keystr, keystr, "4096", NULL };
    new_keys();
    ck_assert_int_eq(php_run(NULL, 0, create), 0);
    ck_assert_int_eq(ipckit_region_open(&r, name, 0, 0, NULL), -EPERM);
    ck_assert_msg(strstr(ipckit_error_detail(), "everyone") != NULL, "%s",
                  ipckit_error_detail());
    (void) snprintf(trusted, sizeof trusted, "%s?trust=*", name);
    r = open_ok(trusted, 0, 0, NULL);
    ck_assert_int_eq(ipckit_region_close(r), 0);
    unlink_ok(name);
}
END_TEST

/*
 * PHP's hazard: sem_get() sets the lock free when it sees itself as the
 * only user. ipckit registers as sem_get() does, so a PHP process that
 * comes while C holds the lock cannot take it; it can once C releases it.
 * Both orders of creation.
 */
START_TEST(php_cannot_take_what_c_holds)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    const char *try[] = { "try", keystr, keystr, NULL };
    char out[64];
    for (int round = 0; round < 2; round++) {
        ipckit_region *r;
        new_keys();
        try[1] = try[2] = keystr;
        if (round == 1) {
            const char *create[] = { "create", keystr, keystr, "4096", NULL };
            ck_assert_int_eq(php_run(NULL, 0, create), 0);
            o.mode = 0666;
        }
        r = open_ok(name, round == 0 ? IPCKIT_CREATE | IPCKIT_EXCL : 0, round == 0 ? 4096 : 0,
                    &o);
        ck_assert_int_eq(ipckit_region_lock(r, 0), 0);
        ck_assert_int_eq(php_run(out, sizeof out, try), 0);
        ck_assert_msg(strcmp(out, "0\n") == 0, "round %d: PHP took the lock C holds", round);
        ck_assert_int_eq(semval(key, 0), 0);
        ck_assert_int_eq(semval(key, 1), 1); /* PHP's registration was undone at its exit */
        ck_assert_int_eq(ipckit_region_unlock(r), 0);
        ck_assert_int_eq(php_run(out, sizeof out, try), 0);
        ck_assert_str_eq(out, "1\n");
        ck_assert_int_eq(semval(key, 0), 1);
        ck_assert_int_eq(ipckit_region_close(r), 0);
        unlink_ok(name);
    }
}
END_TEST

/* ---- both at once ------------------------------------------------------------------------ */

#define PHP_WORKERS 3
#define C_WORKERS 3
#define ROUNDS 150

static int count_pipe[2];

/* The tutorial's loop in C, printing "(pid) count: N" into the pipe. */
static int
c_counter(void *arg)
{
    ipckit_region *r = NULL;
    (void) arg;
    TK_CHILD_CHECK(ipckit_region_open(&r, name, 0, 0, NULL) == 0);
    for (int i = 0; i < ROUNDS; i++) {
        char buf[64];
        int64_t count = 0;
        ssize_t n;
        int rc;
        TK_CHILD_CHECK(ipckit_region_lock(r, PEER_WAIT) == 0);
        rc = ipckit_region_has(r, 1);
        TK_CHILD_CHECK(rc >= 0);
        if (rc == 1) {
            n = ipckit_region_get(r, 1, buf, sizeof buf);
            TK_CHILD_CHECK(n > 0 && ipckit_php_decode_int(buf, (size_t) n, &count) == 0);
            count++;
        }
        n = ipckit_php_encode_int(count, buf, sizeof buf);
        TK_CHILD_CHECK(ipckit_region_put(r, 1, buf, (size_t) n) == 0);
        n = snprintf(buf, sizeof buf, "(%ld) count: %lld\n", (long) getpid(), (long long) count);
        TK_CHILD_CHECK(write(count_pipe[1], buf, (size_t) n) == n);
        TK_CHILD_CHECK(ipckit_region_unlock(r) == 0);
        if (i % 7 == 0)
            (void) usleep(100);
    }
    TK_CHILD_CHECK(ipckit_region_close(r) == 0);
    return 0;
}

/* Count the "count: N" lines of @p text into @p seen; the number of lines. */
static int
tally(const char *text, unsigned char *seen, int max)
{
    int lines = 0;
    for (const char *p = strstr(text, "count: "); p != NULL; p = strstr(p + 1, "count: ")) {
        long v = strtol(p + 7, NULL, 10);
        ck_assert_msg(v >= 0 && v < max, "count %ld out of range", v);
        ck_assert_msg(seen[v] == 0, "count %ld was seen twice: an update was lost", v);
        seen[v] = 1;
        lines++;
    }
    return lines;
}

/* PHP processes running the tutorial's loop and C processes running the
 * same loop increment one counter at once: every value from 0 to the last
 * is seen exactly once. */
START_TEST(both_at_once_under_the_lock)
{
    enum { TOTAL = (PHP_WORKERS + C_WORKERS) * ROUNDS };
    static char out[PHP_WORKERS][40000], cout[40000];
    static unsigned char seen[TOTAL];
    const char *args[] = { "counter", keystr, keystr, "1", "150", "300", NULL };
    pid_t php_pids[PHP_WORKERS], c_pids[C_WORKERS];
    int fds[PHP_WORKERS], lines = 0;
    ipckit_region *r;
    char buf[32];
    int64_t last = -1;
    ssize_t n;
    new_keys();
    args[1] = args[2] = keystr;
    r = open_ok(name, IPCKIT_CREATE | IPCKIT_EXCL, 10000, NULL);
    ck_assert_int_eq(pipe2(count_pipe, O_CLOEXEC), 0);
    for (int i = 0; i < PHP_WORKERS; i++)
        php_pids[i] = php_start(&fds[i], -1, args);
    for (int i = 0; i < C_WORKERS; i++)
        c_pids[i] = tk_fork(c_counter, NULL);
    (void) close(count_pipe[1]);
    for (int i = 0; i < PHP_WORKERS; i++) {
        (void) read_all(fds[i], out[i], sizeof out[i]);
        (void) close(fds[i]);
        ck_assert_int_eq(tk_wait(php_pids[i], PEER_WAIT), 0);
    }
    (void) read_all(count_pipe[0], cout, sizeof cout);
    (void) close(count_pipe[0]);
    for (int i = 0; i < C_WORKERS; i++)
        ck_assert_int_eq(tk_wait(c_pids[i], PEER_WAIT), 0);
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < PHP_WORKERS; i++) {
        int l = tally(out[i], seen, TOTAL);
        ck_assert_int_eq(l, ROUNDS);
        lines += l;
    }
    ck_assert_int_eq(tally(cout, seen, TOTAL), C_WORKERS * ROUNDS);
    lines += C_WORKERS * ROUNDS;
    ck_assert_int_eq(lines, TOTAL);
    n = ipckit_region_get(r, 1, buf, sizeof buf);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(ipckit_php_decode_int(buf, (size_t) n, &last), 0);
    ck_assert_int_eq(last, TOTAL - 1);
    ck_assert_int_eq(semval(key, 1), 1);
    ck_assert_int_eq(ipckit_region_close(r), 0);
    unlink_ok(name);
}
END_TEST

/* ---- killed holders ------------------------------------------------------------------------ */

/* PHP killed while it holds the lock: the kernel gives it back; C gets it
 * and 0 (PHP leaves no trace that could tell), and the store is intact. */
START_TEST(php_holder_killed)
{
    ipckit_region *r;
    const char *put[] = { "put", keystr, keystr, "1", "693a373b", NULL }; /* i:7; */
    const char *hold[] = { "hold", keystr, keystr, NULL };
    char line[16], buf[16];
    int fd;
    pid_t pid;
    new_keys();
    put[1] = put[2] = hold[1] = hold[2] = keystr;
    r = open_ok(name, IPCKIT_CREATE | IPCKIT_EXCL, 4096, NULL);
    ck_assert_int_eq(php_run(NULL, 0, put), 0);
    pid = php_start(&fd, -1, hold);
    {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ssize_t k;
        ck_assert_int_eq(poll(&p, 1, PEER_WAIT), 1);
        k = read(fd, line, sizeof line - 1);
        ck_assert_int_eq(k, 5);
        line[k] = '\0';
        ck_assert_str_eq(line, "held\n");
    }
    ck_assert_int_eq(ipckit_region_lock(r, 0), -EAGAIN);
    ck_assert_int_eq(semval(key, 1), 2);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert_int_eq(tk_wait(pid, PEER_WAIT), 128 + SIGKILL);
    (void) close(fd);
    ck_assert_int_eq(ipckit_region_lock(r, PEER_WAIT), 0);
    ck_assert_int_eq(semval(key, 1), 1);
    ck_assert_int_eq(ipckit_region_get(r, 1, buf, sizeof buf), 4);
    ck_assert_mem_eq(buf, "i:7;", 4);
    ck_assert_int_eq(ipckit_region_unlock(r), 0);
    ck_assert_int_eq(ipckit_region_close(r), 0);
    unlink_ok(name);
}
END_TEST

static tk_gate gate;

static int
c_hold(void *arg)
{
    ipckit_region *r = NULL;
    (void) arg;
    TK_CHILD_CHECK(ipckit_region_open(&r, name, 0, 0, NULL) == 0);
    TK_CHILD_CHECK(ipckit_region_lock(r, PEER_WAIT) == 0);
    TK_CHILD_CHECK(ipckit_region_put(r, 1, "i:5;", 4) == 0);
    tk_gate_open(&gate);
    pause();
    return 0;
}

/* C killed while it holds the lock: PHP's sem_acquire() gets it and reads
 * what C wrote before it died. */
START_TEST(c_holder_killed)
{
    ipckit_region *r;
    const char *try[] = { "try", keystr, keystr, NULL };
    const char *get[] = { "get", keystr, keystr, "1", NULL };
    char out[64];
    pid_t pid;
    new_keys();
    try[1] = try[2] = get[1] = get[2] = keystr;
    r = open_ok(name, IPCKIT_CREATE | IPCKIT_EXCL, 4096, NULL);
    tk_gate_init(&gate);
    pid = tk_fork(c_hold, NULL);
    ck_assert_int_eq(tk_gate_wait(&gate, PEER_WAIT), 0);
    ck_assert_int_eq(php_run(out, sizeof out, try), 0);
    ck_assert_str_eq(out, "0\n");
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert_int_eq(tk_wait(pid, PEER_WAIT), 128 + SIGKILL);
    tk_gate_close(&gate);
    ck_assert_int_eq(php_run(out, sizeof out, get), 0);
    ck_assert_str_eq(out, "693a353b\n"); /* i:5; */
    ck_assert_int_eq(semval(key, 1), 1);
    ck_assert_int_eq(ipckit_region_close(r), 0);
    unlink_ok(name);
}
END_TEST

/* ---- the value format ------------------------------------------------------------------------ */

static ipckit_php_value *
random_value(unsigned *seed, int depth)
{
    int t = rand_r(seed) % (depth < 3 ? 7 : 6);
    switch (t) {
    case 0:
        return ipckit_php_new_null();
    case 1:
        return ipckit_php_new_bool(rand_r(seed) & 1);
    case 2:
        return ipckit_php_new_int((int64_t) (((uint64_t) rand_r(seed) << 33) ^
                                             (uint64_t) rand_r(seed) ^
                                             ((uint64_t) (rand_r(seed) & 1) << 63)));
    case 3: {
        uint64_t bits = 0;
        double d;
        for (int j = 0; j < 4; j++)
            bits = (bits << 16) | (uint64_t) (rand_r(seed) & 0xffff);
        if (rand_r(seed) % 3 == 0)
            bits = ((uint64_t) (rand_r(seed) % 2046 + 1) << 52) | (uint64_t) (rand_r(seed) % 3);
        memcpy(&d, &bits, sizeof d);
        if (rand_r(seed) % 4 == 0)
            d = (double) (rand_r(seed) % 100000) / (double) (1 + rand_r(seed) % 1000);
        return ipckit_php_new_float(d);
    }
    case 4:
    case 5: {
        char s[40];
        size_t len = (size_t) (rand_r(seed) % (int) sizeof s);
        for (size_t i = 0; i < len; i++)
            s[i] = (char) (rand_r(seed) & 0xff);
        return ipckit_php_new_string(s, len);
    }
    default: {
        ipckit_php_value *a = ipckit_php_new_array();
        int n = rand_r(seed) % 5;
        for (int i = 0; i < n; i++) {
            ipckit_php_value *v = random_value(seed, depth + 1);
            char k[16];
            int kl = snprintf(k, sizeof k, "k%d", i);
            if (rand_r(seed) % 2)
                ck_assert_int_eq(ipckit_php_array_push(a, v), 0);
            else
                ck_assert_int_eq(
                    ipckit_php_array_set(a, ipckit_php_new_string(k, (size_t) kl), v), 0);
        }
        return a;
    }
    }
}

/* PHP unserializes what ipckit encodes and serializes it again to the
 * same bytes: random scalars, floats of every kind, binary strings,
 * arrays. */
START_TEST(php_reserializes_what_c_encodes)
{
    enum { COUNT = 3000 };
    static char in[4 << 20], out[(4 << 20) + 1], text[4096];
    char path[300];
    const char *args[] = { "reserialize", NULL };
    unsigned seed = 4242;
    size_t len = 0;
    int fd, ofd;
    pid_t pid;
    for (int i = 0; i < COUNT; i++) {
        ipckit_php_value *v = random_value(&seed, 0);
        ssize_t n = ipckit_php_encode(v, text, sizeof text);
        ipckit_php_free(v);
        ck_assert_int_gt(n, 0);
        if ((size_t) n > sizeof text || (size_t) n * 2 + 2 > sizeof in - len)
            continue;
        tohex(in + len, text, (size_t) n);
        len += 2 * (size_t) n;
        in[len++] = '\n';
    }
    tk_path(path, sizeof path, "values.hex");
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, in, len), (ssize_t) len);
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    pid = php_start(&ofd, fd, args);
    (void) close(fd);
    ck_assert_uint_eq(read_all(ofd, out, sizeof out), len);
    (void) close(ofd);
    ck_assert_int_eq(tk_wait(pid, PEER_WAIT), 0);
    ck_assert(memcmp(out, in, len) == 0);
}
END_TEST

int
main(int argc, char **argv)
{
    Suite *s;
    TCase *tc;
    if (argc != 3) {
        fprintf(stderr, "usage: %s PHP peer_shm.php\n", argv[0]);
        return 2;
    }
    php = argv[1];
    script = argv[2];
    {
        /* Outside a test: no Check assertions here. */
        int status = -1, rc = -1;
        pid_t pid;
        fflush(NULL);
        pid = fork();
        if (pid == 0) {
            execlp(php, php, script, "check", (char *) NULL);
            _exit(127);
        }
        if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status))
            rc = WEXITSTATUS(status);
        if (rc != 0) {
            printf("SKIP: \"%s %s\" cannot run (exit %d); scripts/setup.sh installs php-cli\n",
                   php, script, rc);
            return 77;
        }
    }
    s = suite_create("interop_php_sysvshm");
    tc = tk_tcase("sysvshm", 300);
    tcase_add_test(tc, c_writes_php_reads);
    tcase_add_test(tc, php_writes_c_reads);
    tcase_add_test(tc, php_objects_need_trust);
    tcase_add_test(tc, php_cannot_take_what_c_holds);
    tcase_add_test(tc, both_at_once_under_the_lock);
    tcase_add_test(tc, php_holder_killed);
    tcase_add_test(tc, c_holder_killed);
    tcase_add_test(tc, php_reserializes_what_c_encodes);
    suite_add_tcase(s, tc);
    return tk_run(s);
}
