/*
 * ipckit test kit; see testkit.h.
 */
#include "testkit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <ipckit/ipckit.h>
#include <ipckit/backend.h>

/* The record format, shared with the library and the command-line tool. */
#include "../../lib/os/records.h"

#define TK_KEY_PREFIX 0x1cu

static char dir[PATH_MAX];
static pid_t dir_owner;
static unsigned counter;

const char *
tk_dir(void)
{
    if (dir[0] == '\0' || dir_owner != getpid()) {
        (void) snprintf(dir, sizeof dir, "/tmp/ipckit-test.%ld.XXXXXX", (long) getpid());
        if (mkdtemp(dir) == NULL) {
            perror("mkdtemp");
            abort();
        }
        dir_owner = getpid();
    }
    return dir;
}

void
tk_path(char *buf, size_t cap, const char *leaf)
{
    (void) snprintf(buf, cap, "%s/%s", tk_dir(), leaf);
}

void
tk_name(char *buf, size_t cap, const char *scheme, const char *leaf)
{
    (void) snprintf(buf, cap, "%s:%s/%s", scheme, tk_dir(), leaf);
}

key_t
tk_sysv_key(void)
{
    unsigned k = (TK_KEY_PREFIX << 24) | (((unsigned) getpid() & 0xffffu) << 8) |
                 (++counter & 0xffu);
    return (key_t) (int) k;
}

void
tk_posix_name(char *buf, size_t cap)
{
    (void) snprintf(buf, cap, "/ipckit-test.%ld.%u", (long) getpid(), ++counter);
}

void
tk_fill(unsigned char *p, size_t len, uint32_t a, uint32_t b)
{
    uint32_t x = a * 2654435761u + b * 40503u + 1;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (unsigned char) (x >> 16);
    }
}

static size_t
tk_msg_len(uint32_t w, uint32_t s)
{
    return TK_MSG_HDR + (w * 131u + s * 17u) % (TK_MSG_MAX - TK_MSG_HDR);
}

size_t
tk_msg_make(unsigned char *buf, uint32_t w, uint32_t s, uint32_t gen)
{
    size_t len = tk_msg_len(w, s);
    memcpy(buf, &w, 4);
    memcpy(buf + 4, &s, 4);
    memcpy(buf + 8, &gen, 4);
    tk_fill(buf + TK_MSG_HDR, len - TK_MSG_HDR, w ^ (gen * 7919u), s);
    return len;
}

int
tk_msg_ok(const unsigned char *buf, size_t n, uint32_t *w, uint32_t *s, uint32_t *gen)
{
    unsigned char want[TK_MSG_MAX];
    if (n < TK_MSG_HDR || n > TK_MSG_MAX)
        return 0;
    memcpy(w, buf, 4);
    memcpy(s, buf + 4, 4);
    memcpy(gen, buf + 8, 4);
    if (n != tk_msg_len(*w, *s))
        return 0;
    tk_fill(want, n - TK_MSG_HDR, *w ^ (*gen * 7919u), *s);
    return memcmp(buf + TK_MSG_HDR, want, n - TK_MSG_HDR) == 0;
}

long long
tk_now_ms(void)
{
    struct timespec ts;
    (void) clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long
tk_cpu_us(void)
{
    struct rusage ru;
    (void) getrusage(RUSAGE_SELF, &ru);
    return ((long long) ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL +
           ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

pid_t
tk_fork(int (*fn)(void *arg), void *arg)
{
    pid_t pid;
    fflush(NULL);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(fn(arg) & 0xff);
    return pid;
}

int
tk_wait(pid_t pid, int timeout_ms)
{
    long long end = tk_now_ms() + timeout_ms;
    int status;
    for (;;) {
        pid_t r = waitpid(pid, &status, timeout_ms < 0 ? 0 : WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR)
            return -1;
        if (timeout_ms >= 0 && tk_now_ms() >= end) {
            (void) kill(pid, SIGKILL);
            (void) waitpid(pid, &status, 0);
            return -1;
        }
        if (r == 0) {
            struct timespec ts = { 0, 2000000 };
            (void) nanosleep(&ts, NULL);
        }
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

void
tk_gate_init(tk_gate *g)
{
    ck_assert_int_eq(pipe2(g->fd, O_CLOEXEC), 0);
}

void
tk_gate_open(tk_gate *g)
{
    char c = 'g';
    ssize_t w;
    do
        w = write(g->fd[1], &c, 1);
    while (w < 0 && errno == EINTR);
}

int
tk_gate_wait(tk_gate *g, int timeout_ms)
{
    struct pollfd p = { .fd = g->fd[0], .events = POLLIN };
    char c;
    int r;
    do
        r = poll(&p, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    if (r <= 0)
        return -1;
    return read(g->fd[0], &c, 1) == 1 ? 0 : -1;
}

void
tk_gate_close(tk_gate *g)
{
    (void) close(g->fd[0]);
    (void) close(g->fd[1]);
}

/* ---- creator records ---------------------------------------------------------- */

int
tk_record_path(const char *name, char *buf, size_t cap)
{
    struct ipckit__crec obj;
    char leaf[IPCKIT__CREC_LEAF_MAX];
    ipckit_name *n = NULL;
    int rc = ipckit_name_parse(name, &n);
    if (rc < 0)
        return rc;
    memset(&obj, 0, sizeof obj);
    if (strcmp(ipckit_name_scheme(n), "mq") == 0) {
        key_t key;
        rc = ipckit_name_sysv_key(n, &key);
        if (rc == 0) {
            int id = msgget(key, 0);
            obj.kind = IPCKIT__CREC_MQ;
            obj.id = id;
            rc = id < 0 ? -errno : 0;
        }
    } else if (strcmp(ipckit_name_scheme(n), "posixmq") == 0) {
        struct stat sb;
        mqd_t mq = mq_open(ipckit_name_target(n), O_RDONLY | O_CLOEXEC);
        if (mq == (mqd_t) -1) {
            rc = -errno;
        } else {
            rc = fstat((int) mq, &sb) < 0 ? -errno : 0;
            obj.kind = IPCKIT__CREC_POSIXMQ;
            obj.ino = (unsigned long long) sb.st_ino;
            (void) mq_close(mq);
        }
    } else if (strcmp(ipckit_name_scheme(n), "fifo") == 0) {
        rc = ipckit__crec_fifo_identity(ipckit_name_target(n), &obj, NULL);
    } else {
        rc = -EINVAL;
    }
    ipckit_name_free(n);
    if (rc == 0)
        rc = ipckit__crec_leaf(&obj, leaf, sizeof leaf);
    if (rc == 0)
        (void) snprintf(buf, cap, "%s/%s", IPCKIT__CREC_DIR, leaf);
    return rc;
}

long
tk_record_pid(const char *name)
{
    char path[128];
    struct ipckit__crec r;
    struct stat sb;
    int rc = tk_record_path(name, path, sizeof path);
    if (rc < 0)
        return -1;
    rc = ipckit__crec_load(AT_FDCWD, path, &r, &sb);
    if (rc == -ENOENT)
        return -1;
    return rc < 0 ? -2 : r.pid;
}

int
tk_plant(const char *path, const char *text, uid_t owner)
{
    size_t len = strlen(text);
    int rc = 0, fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    if (len > 0 && write(fd, text, len) != (ssize_t) len)
        rc = -EIO;
    if (rc == 0 && owner != geteuid() && fchown(fd, owner, owner) < 0)
        rc = -errno;
    (void) close(fd);
    if (rc < 0)
        (void) unlink(path);
    return rc;
}

ssize_t
tk_read_file(const char *path, char *buf, size_t cap)
{
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    while (len + 1 < cap) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n <= 0)
            break;
        len += (size_t) n;
    }
    (void) close(fd);
    buf[len] = '\0';
    return (ssize_t) len;
}

static long
stat_creator(const char *name)
{
    ipckit_stat st;
    int rc = ipckit_stat_name(name, &st);
    ck_assert_msg(rc == 0, "stat %s: %s", name, ipckit_error_detail());
    return st.creator_pid;
}

static void
put_record(const char *rec, const char *text)
{
    ck_assert_int_eq(unlink(rec), 0);
    ck_assert_int_eq(tk_plant(rec, text, geteuid()), 0);
}

/* @p good with the value of field @p key (" key=") replaced by @p value. */
static void
with_field(char *out, size_t cap, const char *good, const char *key, const char *value)
{
    char pat[32];
    const char *at, *end;
    size_t head, vlen = strlen(value), tail;
    (void) snprintf(pat, sizeof pat, " %s=", key);
    at = strstr(good, pat);
    ck_assert_msg(at != NULL, "no field %s in %s", key, good);
    at += strlen(pat);
    end = at + strcspn(at, " \n");
    head = (size_t) (at - good);
    tail = strlen(end);
    ck_assert_uint_lt(head + vlen + tail, cap);
    memcpy(out, good, head);
    memcpy(out + head, value, vlen);
    memcpy(out + head + vlen, end, tail + 1);
}

void
tk_check_record_refusals(const char *name, const char *const *idents, unsigned what)
{
    char rec[128], copy[PATH_MAX], uid[32];
    static char good[IPCKIT__CREC_MAX + 1], bad[2 * IPCKIT__CREC_MAX + 64];
    int len;
    ck_assert_int_eq(tk_record_path(name, rec, sizeof rec), 0);
    ck_assert_int_gt(tk_read_file(rec, good, sizeof good), 0);
    len = (int) strlen(good);
    ck_assert_int_eq(stat_creator(name), (long) getpid());

    if (what & TK_REC_FORMAT) {
        (void) snprintf(bad, sizeof bad, "%.*s", len / 2, good);
        put_record(rec, bad);
        ck_assert_msg(stat_creator(name) == -1, "short record trusted");
        (void) snprintf(bad, sizeof bad, "%.*s", len - 1, good);
        put_record(rec, bad);
        ck_assert_msg(stat_creator(name) == -1, "record without newline trusted");
        (void) snprintf(bad, sizeof bad, "%s%s", good, good);
        put_record(rec, bad);
        ck_assert_msg(stat_creator(name) == -1, "two lines trusted");
        (void) snprintf(bad, sizeof bad, "%.*s x=1\n", len - 1, good);
        put_record(rec, bad);
        ck_assert_msg(stat_creator(name) == -1, "a field more trusted");
        put_record(rec, "");
        ck_assert_msg(stat_creator(name) == -1, "empty record trusted");
        (void) snprintf(uid, sizeof uid, "%lu", (unsigned long) geteuid() + 7);
        with_field(bad, sizeof bad, good, "uid", uid);
        put_record(rec, bad);
        ck_assert_msg(stat_creator(name) == -1, "uid other than the file's owner trusted");
    }
    if (what & TK_REC_IDENTS) {
        ck_assert_msg(idents != NULL && idents[0] != NULL, "no identity fields to change");
        for (const char *const *f = idents; f[0] != NULL; f += 2) {
            with_field(bad, sizeof bad, good, f[0], f[1]);
            put_record(rec, bad);
            ck_assert_msg(stat_creator(name) == -1, "record with %s=%s trusted: %s", f[0], f[1],
                          bad);
        }
    }
    if (what & TK_REC_FORMAT) {
        tk_path(copy, sizeof copy, "good-record");
        ck_assert_int_eq(tk_plant(copy, good, geteuid()), 0);
        ck_assert_int_eq(unlink(rec), 0);
        ck_assert_int_eq(symlink(copy, rec), 0);
        ck_assert_msg(stat_creator(name) == -1, "symbolic link trusted");
        ck_assert_int_eq(unlink(rec), 0);
        ck_assert_int_eq(mkdir(rec, 0755), 0);
        ck_assert_msg(stat_creator(name) == -1, "directory trusted");
        ck_assert_int_eq(rmdir(rec), 0);
        ck_assert_int_eq(unlink(copy), 0);
    } else {
        ck_assert_int_eq(unlink(rec), 0);
    }
    /* the good record again is trusted: the versions above were refused for
     * what they changed */
    ck_assert_int_eq(tk_plant(rec, good, geteuid()), 0);
    ck_assert_int_eq(stat_creator(name), (long) getpid());
}

/* ---- leak check ------------------------------------------------------------ */

static int fds_at_setup;

/*
 * Objects that carry this process's names but were there before the test
 * began: left by an earlier process with the same pid (pids are reused)
 * whose test failed. They are not this test's leak. Recorded at setup by
 * running the counters below in "record" mode.
 */
#define TK_BEFORE_MAX 64
static char tk_before[TK_BEFORE_MAX][PATH_MAX];
static int tk_nbefore;
static bool tk_recording;

/* A candidate @p what of a counter: true when it is to be counted. */
static bool
tk_count_it(const char *what)
{
    if (tk_recording) {
        if (tk_nbefore < TK_BEFORE_MAX)
            (void) snprintf(tk_before[tk_nbefore++], sizeof tk_before[0], "%s", what);
        return false;
    }
    for (int i = 0; i < tk_nbefore; i++)
        if (strcmp(tk_before[i], what) == 0)
            return false;
    return true;
}

static int
count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    (void) closedir(d);
    return n - 1; /* the directory's own descriptor */
}

/* Count System V objects whose key carries this process's prefix. */
static int
count_sysv(const char *file, char *what, size_t cap)
{
    char line[512];
    unsigned want = (TK_KEY_PREFIX << 24) | (((unsigned) getpid() & 0xffffu) << 8);
    int n = 0;
    FILE *fp = fopen(file, "r");
    if (fp == NULL)
        return 0;
    if (fgets(line, sizeof line, fp) == NULL) { /* header */
        (void) fclose(fp);
        return 0;
    }
    while (fgets(line, sizeof line, fp) != NULL) {
        long key;
        if (sscanf(line, "%ld", &key) == 1 && ((unsigned) key & 0xffffff00u) == want) {
            char w[PATH_MAX];
            (void) snprintf(w, sizeof w, "%s key %#lx", file, (unsigned long) (unsigned) key);
            if (!tk_count_it(w))
                continue;
            n++;
            (void) snprintf(what, cap, "%s", w);
        }
    }
    (void) fclose(fp);
    return n;
}

static int
count_posix(const char *d, char *what, size_t cap)
{
    char prefix[64];
    DIR *dp = opendir(d);
    struct dirent *e;
    int n = 0;
    if (dp == NULL)
        return 0;
    (void) snprintf(prefix, sizeof prefix, "ipckit-test.%ld.", (long) getpid());
    while ((e = readdir(dp)) != NULL) {
        unsigned key;
        int id;
        /* this process's names, and the wake-up companions of its System V
         * queues (ipckit-mq.KEY.ID) */
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 ||
            (sscanf(e->d_name, "ipckit-mq.%8x.%d", &key, &id) == 2 &&
             (key & 0xffffff00u) == ((TK_KEY_PREFIX << 24) | (((unsigned) getpid() & 0xffffu) << 8)))) {
            char w[PATH_MAX];
            (void) snprintf(w, sizeof w, "%s/%s", d, e->d_name);
            if (!tk_count_it(w))
                continue;
            n++;
            (void) snprintf(what, cap, "%s", w);
        }
    }
    (void) closedir(dp);
    return n;
}

/*
 * Count creator records that this test left: written by this process, or
 * describing an object with one of this process's names (a System V key
 * with its prefix, a POSIX name or a FIFO path of tk_posix_name() and
 * tk_dir()), which covers objects its children created. Records of other
 * test processes running at the same time have other pids and names.
 */
static int
count_records(char *what, size_t cap)
{
    char mqname[64], fifodir[64];
    unsigned want = (TK_KEY_PREFIX << 24) | (((unsigned) getpid() & 0xffffu) << 8);
    DIR *dp = opendir(IPCKIT__CREC_DIR);
    struct dirent *e;
    int n = 0;
    if (dp == NULL)
        return 0;
    (void) snprintf(mqname, sizeof mqname, "/ipckit-test.%ld.", (long) getpid());
    (void) snprintf(fifodir, sizeof fifodir, "/tmp/ipckit-test.%ld.", (long) getpid());
    while ((e = readdir(dp)) != NULL) {
        struct ipckit__crec r;
        struct stat sb;
        bool mine;
        if (strncmp(e->d_name, IPCKIT__CREC_PREFIX, strlen(IPCKIT__CREC_PREFIX)) != 0 ||
            ipckit__crec_load(dirfd(dp), e->d_name, &r, &sb) < 0)
            continue;
        mine = r.pid == (long) getpid() ||
               (r.kind == IPCKIT__CREC_MQ && ((unsigned) r.key & 0xffffff00u) == want) ||
               (r.kind == IPCKIT__CREC_POSIXMQ &&
                strncmp(r.target, mqname, strlen(mqname)) == 0) ||
               (r.kind == IPCKIT__CREC_FIFO && strncmp(r.target, fifodir, strlen(fifodir)) == 0);
        if (mine) {
            char w[PATH_MAX];
            (void) snprintf(w, sizeof w, "%s/%s", IPCKIT__CREC_DIR, e->d_name);
            if (!tk_count_it(w))
                continue;
            n++;
            (void) snprintf(what, cap, "%s/%s (%s %.200s)", IPCKIT__CREC_DIR, e->d_name,
                            ipckit__crec_kind_name(r.kind),
                            r.kind == IPCKIT__CREC_MQ ? "queue" : r.target);
        }
    }
    (void) closedir(dp);
    return n;
}

int
tk_count_records(void)
{
    char what[PATH_MAX];
    return count_records(what, sizeof what);
}

static int fifo_count;
static char fifo_what[PATH_MAX];

static int
visit(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void) ftw;
    if (type == FTW_F && S_ISFIFO(sb->st_mode)) {
        fifo_count++;
        (void) snprintf(fifo_what, sizeof fifo_what, "%s", path);
    }
    return 0;
}

static int
remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void) sb;
    (void) type;
    (void) ftw;
    return remove(path);
}

static void
leak_setup(void)
{
    char what[PATH_MAX];
    fds_at_setup = count_fds();
    tk_nbefore = 0;
    tk_recording = true;
    (void) count_sysv("/proc/sysvipc/msg", what, sizeof what);
    (void) count_sysv("/proc/sysvipc/shm", what, sizeof what);
    (void) count_sysv("/proc/sysvipc/sem", what, sizeof what);
    (void) count_posix("/dev/shm", what, sizeof what);
    (void) count_posix("/dev/mqueue", what, sizeof what);
    (void) count_records(what, sizeof what);
    tk_recording = false;
}

static void
leak_teardown(void)
{
    char what[PATH_MAX] = "";
    int n;
    n = count_sysv("/proc/sysvipc/msg", what, sizeof what) +
        count_sysv("/proc/sysvipc/shm", what, sizeof what) +
        count_sysv("/proc/sysvipc/sem", what, sizeof what);
    ck_assert_msg(n == 0, "test left %d System V object(s) behind, e.g. %s", n, what);
    n = count_posix("/dev/shm", what, sizeof what) + count_posix("/dev/mqueue", what, sizeof what);
    ck_assert_msg(n == 0, "test left %d POSIX IPC object(s) behind, e.g. %s", n, what);
    n = count_records(what, sizeof what);
    ck_assert_msg(n == 0, "test left %d creator record(s) behind, e.g. %s", n, what);
    if (dir[0] != '\0' && dir_owner == getpid()) {
        fifo_count = 0;
        (void) nftw(dir, visit, 16, FTW_PHYS);
        ck_assert_msg(fifo_count == 0, "test left %d FIFO(s) behind, e.g. %s", fifo_count,
                      fifo_what);
        (void) nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        dir[0] = '\0';
    }
    n = count_fds();
    ck_assert_msg(n == fds_at_setup, "test leaked %d file descriptor(s)", n - fds_at_setup);
}

void
tk_fixture(TCase *tc)
{
    tcase_add_checked_fixture(tc, leak_setup, leak_teardown);
}

TCase *
tk_tcase(const char *name, double timeout_s)
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, timeout_s);
    tk_fixture(tc);
    return tc;
}

int
tk_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
