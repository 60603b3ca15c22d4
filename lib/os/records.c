/*
 * ipckit: creator records for the objects whose creator the kernel does not
 * keep (System V message queues, POSIX message queues, FIFOs). The format
 * is in records.h; docs/reliability.md describes it and the rule by
 * which a record is trusted.
 *
 * Nothing here can make an open or an unlink fail: a record that cannot be
 * written leaves the object with "creator unknown", which only means that
 * "ipckit rm --stale" will never remove it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "records.h"

/* ---- the format ------------------------------------------------------------ */
const char *
ipckit__crec_kind_name(int kind)
{
    return kind == IPCKIT__CREC_MQ        ? "mq"
           : kind == IPCKIT__CREC_POSIXMQ ? "posixmq"
           : kind == IPCKIT__CREC_FIFO    ? "fifo"
                                          : NULL;
}

/* The file name (in IPCKIT__CREC_DIR) of the record of object @p r. */
int
ipckit__crec_leaf(const struct ipckit__crec *r, char *buf, size_t cap)
{
    int n;
    if (r->kind == IPCKIT__CREC_MQ)
        n = snprintf(buf, cap, IPCKIT__CREC_PREFIX "mq.%ld", r->id);
    else if (r->kind == IPCKIT__CREC_POSIXMQ)
        n = snprintf(buf, cap, IPCKIT__CREC_PREFIX "posixmq.%llu", r->ino);
    else if (r->kind == IPCKIT__CREC_FIFO)
        n = snprintf(buf, cap, IPCKIT__CREC_PREFIX "fifo.%llu.%llu", r->dev, r->ino);
    else
        return -EINVAL;
    return n < 0 || (size_t) n >= cap ? -ENAMETOOLONG : 0;
}

/* Start time of process @p pid (field 22 of /proc/PID/stat, clock ticks
 * after boot), 0 if unknown: what tells a creator from a later process that
 * got the same pid. The library and the tests share this copy. */
unsigned long long
ipckit__crec_proc_start(long pid)
{
    char path[64], buf[1024];
    unsigned long long start = 0;
    const char *p;
    ssize_t n;
    int fd, field;

    (void) snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof buf - 1);
    (void) close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* the command name (field 2) is in parentheses and may hold anything */
    p = strrchr(buf, ')');
    if (p == NULL)
        return 0;
    for (field = 2; *p != '\0' && field < 22; p++)
        if (*p == ' ')
            field++;
    if (field != 22 || sscanf(p, "%llu", &start) != 1)
        return 0;
    return start;
}

/* ---- writing ------------------------------------------------------------ */

/* Append @p s escaped: bytes 0x21..0x7e other than '%' as they are, every
 * other byte as %XX. Returns the new length, or cap when it does not fit. */
static size_t
ipckit__crec_put_escaped(char *buf, size_t len, size_t cap, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        if (*p > 0x20 && *p < 0x7f && *p != '%') {
            if (len + 1 >= cap)
                return cap;
            buf[len++] = (char) *p;
        } else {
            if (len + 3 >= cap)
                return cap;
            buf[len++] = '%';
            buf[len++] = hex[*p >> 4];
            buf[len++] = hex[*p & 15];
        }
    }
    buf[len] = '\0';
    return len;
}

/* The record line of @p r, with its newline. Returns its length, or -1 if
 * it would not fit @p cap or the record is not well formed. */
int
ipckit__crec_format(const struct ipckit__crec *r, char *buf, size_t cap)
{
    const char *kind = ipckit__crec_kind_name(r->kind);
    size_t len;
    int n;
    if (kind == NULL || r->pid <= 0)
        return -1;
    n = snprintf(buf, cap, "%s %d %s pid=%ld start=%llu uid=%lu ", IPCKIT__CREC_MAGIC,
                 IPCKIT__CREC_VERSION, kind, r->pid, r->start, r->uid);
    if (n < 0 || (size_t) n >= cap)
        return -1;
    len = (size_t) n;
    if (r->kind == IPCKIT__CREC_MQ) {
        if (r->id < 0 || r->ctime < 0 || r->key > 0xffffffffUL)
            return -1;
        n = snprintf(buf + len, cap - len, "key=0x%08lx id=%ld ctime=%lld", r->key, r->id,
                     r->ctime);
    } else if (r->kind == IPCKIT__CREC_POSIXMQ) {
        if (r->target[0] != '/')
            return -1;
        n = snprintf(buf + len, cap - len, "ino=%llu name=", r->ino);
    } else {
        if (r->target[0] != '/')
            return -1;
        if (r->has_btime)
            n = snprintf(buf + len, cap - len, "dev=%llu ino=%llu btime=%lld.%09ld path=", r->dev,
                         r->ino, r->btime_sec, r->btime_nsec);
        else
            n = snprintf(buf + len, cap - len, "dev=%llu ino=%llu btime=- path=", r->dev,
                         r->ino);
    }
    if (n < 0 || (size_t) n >= cap - len)
        return -1;
    len += (size_t) n;
    if (r->kind != IPCKIT__CREC_MQ) {
        len = ipckit__crec_put_escaped(buf, len, cap, r->target);
        if (len >= cap)
            return -1;
    }
    if (len + 2 > cap)
        return -1;
    buf[len++] = '\n';
    buf[len] = '\0';
    return len > IPCKIT__CREC_MAX ? -1 : (int) len;
}

/* ---- reading ------------------------------------------------------------ */

/* Strict unsigned decimal: digits only, no sign, no leading zero (except "0"). */
static bool
ipckit__crec_ull(const char *s, size_t n, unsigned long long max, unsigned long long *out)
{
    unsigned long long v = 0;
    if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned d;
        if (s[i] < '0' || s[i] > '9')
            return false;
        d = (unsigned) (s[i] - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/*
 * Take the next field "KEY=VALUE" ending at a space or at @p end: check the
 * key, return the value in *val / *vlen and advance *p past the separator.
 */
static bool
ipckit__crec_field(const char **p, const char *end, const char *key, const char **val,
                   size_t *vlen)
{
    size_t klen = strlen(key);
    const char *s = *p, *e;
    if ((size_t) (end - s) < klen + 1 || memcmp(s, key, klen) != 0 || s[klen] != '=')
        return false;
    s += klen + 1;
    e = memchr(s, ' ', (size_t) (end - s));
    if (e == NULL)
        e = end;
    *val = s;
    *vlen = (size_t) (e - s);
    *p = e == end ? end : e + 1;
    return true;
}

static bool
ipckit__crec_num(const char **p, const char *end, const char *key, unsigned long long max,
                 unsigned long long *out)
{
    const char *v;
    size_t n;
    return ipckit__crec_field(p, end, key, &v, &n) && ipckit__crec_ull(v, n, max, out);
}

static int
ipckit__crec_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode an escaped name or path into @p out (no NUL, must start with '/'). */
static bool
ipckit__crec_unescape(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= n)
                return false;
            hi = ipckit__crec_hexval(s[i + 1]);
            lo = ipckit__crec_hexval(s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return false;
            c = (unsigned char) (hi * 16 + lo);
            i += 2;
        } else if (c <= 0x20 || c >= 0x7f) {
            return false;
        }
        if (o + 1 >= cap)
            return false;
        out[o++] = (char) c;
    }
    out[o] = '\0';
    return o > 0 && out[0] == '/';
}

/*
 * Parse one record. @p buf holds @p len bytes (not NUL-terminated). Returns
 * 0, or -EBADMSG for anything but exactly one well-formed line.
 */
int
ipckit__crec_parse(const char *buf, size_t len, struct ipckit__crec *r)
{
    const char *p = buf, *end, *v;
    unsigned long long x, y;
    size_t n, mlen = strlen(IPCKIT__CREC_MAGIC);
    char head[32];

    memset(r, 0, sizeof *r);
    if (len < 2 || len > IPCKIT__CREC_MAX || buf[len - 1] != '\n' ||
        memchr(buf, '\n', len - 1) != NULL || memchr(buf, '\0', len) != NULL)
        return -EBADMSG;
    end = buf + len - 1;
    /* "ipckit-creator 1 KIND " */
    if ((size_t) (end - p) < mlen + 1 || memcmp(p, IPCKIT__CREC_MAGIC, mlen) != 0 ||
        p[mlen] != ' ')
        return -EBADMSG;
    p += mlen + 1;
    (void) snprintf(head, sizeof head, "%d ", IPCKIT__CREC_VERSION);
    if ((size_t) (end - p) < strlen(head) || memcmp(p, head, strlen(head)) != 0)
        return -EBADMSG;
    p += strlen(head);
    for (int k = IPCKIT__CREC_MQ; k <= IPCKIT__CREC_FIFO; k++) {
        const char *kn = ipckit__crec_kind_name(k);
        size_t kl = strlen(kn);
        if ((size_t) (end - p) > kl && memcmp(p, kn, kl) == 0 && p[kl] == ' ') {
            r->kind = k;
            p += kl + 1;
            break;
        }
    }
    if (r->kind == 0)
        return -EBADMSG;
    if (!ipckit__crec_num(&p, end, "pid", INT_MAX, &x) || x == 0)
        return -EBADMSG;
    r->pid = (long) x;
    if (!ipckit__crec_num(&p, end, "start", ULLONG_MAX, &r->start))
        return -EBADMSG;
    if (!ipckit__crec_num(&p, end, "uid", 0xffffffffULL, &x))
        return -EBADMSG;
    r->uid = (unsigned long) x;
    if (r->kind == IPCKIT__CREC_MQ) {
        if (!ipckit__crec_field(&p, end, "key", &v, &n) || n != 10 || v[0] != '0' ||
            v[1] != 'x')
            return -EBADMSG;
        x = 0;
        for (size_t i = 2; i < 10; i++) {
            int d = v[i] >= '0' && v[i] <= '9'   ? v[i] - '0'
                    : v[i] >= 'a' && v[i] <= 'f' ? v[i] - 'a' + 10
                                                 : -1;
            if (d < 0)
                return -EBADMSG;
            x = x * 16 + (unsigned) d;
        }
        r->key = (unsigned long) x;
        if (!ipckit__crec_num(&p, end, "id", INT_MAX, &x))
            return -EBADMSG;
        r->id = (long) x;
        if (!ipckit__crec_num(&p, end, "ctime", LLONG_MAX, &x))
            return -EBADMSG;
        r->ctime = (long long) x;
    } else if (r->kind == IPCKIT__CREC_POSIXMQ) {
        if (!ipckit__crec_num(&p, end, "ino", ULLONG_MAX, &r->ino))
            return -EBADMSG;
        if (!ipckit__crec_field(&p, end, "name", &v, &n) ||
            !ipckit__crec_unescape(v, n, r->target, sizeof r->target) ||
            strchr(r->target + 1, '/') != NULL)
            return -EBADMSG;
    } else {
        if (!ipckit__crec_num(&p, end, "dev", ULLONG_MAX, &r->dev) ||
            !ipckit__crec_num(&p, end, "ino", ULLONG_MAX, &r->ino))
            return -EBADMSG;
        if (!ipckit__crec_field(&p, end, "btime", &v, &n))
            return -EBADMSG;
        if (n != 1 || v[0] != '-') {
            const char *dot = memchr(v, '.', n);
            if (dot == NULL || (size_t) (v + n - (dot + 1)) != 9 ||
                !ipckit__crec_ull(v, (size_t) (dot - v), LLONG_MAX, &x))
                return -EBADMSG;
            y = 0;
            for (const char *d = dot + 1; d < v + n; d++) {
                if (*d < '0' || *d > '9')
                    return -EBADMSG;
                y = y * 10 + (unsigned) (*d - '0');
            }
            r->has_btime = true;
            r->btime_sec = (long long) x;
            r->btime_nsec = (long) y;
        }
        if (!ipckit__crec_field(&p, end, "path", &v, &n) ||
            !ipckit__crec_unescape(v, n, r->target, sizeof r->target))
            return -EBADMSG;
    }
    /* the last field ends the line: nothing may follow it */
    return p == end && (end == buf || end[-1] != ' ') ? 0 : -EBADMSG;
}

/*
 * Read and parse the record @p leaf of directory @p dfd (AT_FDCWD with a
 * full path). *sb describes the file whenever it exists (for the owner
 * check), even when its content is refused. Returns 0, -ENOENT, -EBADMSG
 * (not a regular file, too large, short, garbled) or another negative errno.
 * Never follows a symbolic link and never blocks on a FIFO put in its place.
 */
int
ipckit__crec_load(int dfd, const char *leaf, struct ipckit__crec *r, struct stat *sb)
{
    char buf[IPCKIT__CREC_MAX + 1];
    size_t len = 0;
    int fd, e;

    memset(sb, 0, sizeof *sb);
    fd = openat(dfd, leaf, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        e = errno;
        if (e == ELOOP && fstatat(dfd, leaf, sb, AT_SYMLINK_NOFOLLOW) == 0)
            return -EBADMSG;
        return -e;
    }
    if (fstat(fd, sb) < 0) {
        e = errno;
        (void) close(fd);
        return -e;
    }
    if (!S_ISREG(sb->st_mode) || sb->st_size <= 0 || sb->st_size > IPCKIT__CREC_MAX) {
        (void) close(fd);
        return -EBADMSG;
    }
    while (len < sizeof buf) {
        ssize_t n = read(fd, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            e = errno;
            (void) close(fd);
            return -e;
        }
        if (n == 0)
            break;
        len += (size_t) n;
    }
    (void) close(fd);
    if (len != (size_t) sb->st_size)
        return -EBADMSG; /* changed while read, or still being written */
    return ipckit__crec_parse(buf, len, r);
}

/* ---- trusting ----------------------------------------------------------- */

/* Do the identity fields of record @p rec name object @p obj? */
bool
ipckit__crec_same_object(const struct ipckit__crec *rec, const struct ipckit__crec *obj)
{
    if (rec->kind != obj->kind)
        return false;
    switch (rec->kind) {
    case IPCKIT__CREC_MQ:
        return rec->key == obj->key && rec->id == obj->id && rec->ctime == obj->ctime;
    case IPCKIT__CREC_POSIXMQ:
        return rec->ino == obj->ino && strcmp(rec->target, obj->target) == 0;
    case IPCKIT__CREC_FIFO:
        /* The path is checked by the caller (ipckit__crec_fifo_path_ok):
         * the object may have been reached by another spelling of it. */
        if (rec->dev != obj->dev || rec->ino != obj->ino)
            return false;
        if (rec->has_btime && (!obj->has_btime || rec->btime_sec != obj->btime_sec ||
                               rec->btime_nsec != obj->btime_nsec))
            return false;
        return true;
    default:
        return false;
    }
}

/*
 * The trust rule: a record describes object @p obj (owned by @p obj_uid)
 * only if its file @p file is a regular file owned by the object's owner or
 * by root, the uid written in it is the file's owner, and its identity
 * fields match the object. Anything else is "creator unknown".
 */
bool
ipckit__crec_trusted(const struct ipckit__crec *rec, const struct stat *file,
                     unsigned long obj_uid, const struct ipckit__crec *obj)
{
    if (!S_ISREG(file->st_mode))
        return false;
    if ((unsigned long) file->st_uid != obj_uid && file->st_uid != 0)
        return false;
    if (rec->uid != (unsigned long) file->st_uid)
        return false;
    return ipckit__crec_same_object(rec, obj);
}

/*
 * The identity of the FIFO at @p path (not following a final symbolic
 * link) as a record of kind IPCKIT__CREC_FIFO, and its owner. Returns 0,
 * -EINVAL if it is not a FIFO, or a negative errno.
 */
int
ipckit__crec_fifo_identity(const char *path, struct ipckit__crec *obj, unsigned long *owner)
{
    struct statx sx;
    memset(&sx, 0, sizeof sx);
    if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_BTIME, &sx) < 0)
        return -errno;
    if (!S_ISFIFO(sx.stx_mode))
        return -EINVAL;
    memset(obj, 0, sizeof *obj);
    obj->kind = IPCKIT__CREC_FIFO;
    obj->dev = (unsigned long long) makedev(sx.stx_dev_major, sx.stx_dev_minor);
    obj->ino = (unsigned long long) sx.stx_ino;
    obj->has_btime = (sx.stx_mask & STATX_BTIME) != 0;
    obj->btime_sec = obj->has_btime ? (long long) sx.stx_btime.tv_sec : 0;
    obj->btime_nsec = obj->has_btime ? (long) sx.stx_btime.tv_nsec : 0;
    if (owner != NULL)
        *owner = (unsigned long) sx.stx_uid;
    return 0;
}

/* Does the path written in FIFO record @p rec still name the FIFO it describes? */
bool
ipckit__crec_fifo_path_ok(const struct ipckit__crec *rec)
{
    struct ipckit__crec now;
    memset(&now, 0, sizeof now);
    return ipckit__crec_fifo_identity(rec->target, &now, NULL) == 0 &&
           ipckit__crec_same_object(rec, &now);
}

/* The trusted record of object @p obj, whose owner is @p obj_uid, in @p out:
 * 0, -EBADMSG when a record is there but not trusted, or another negative
 * errno (-ENOENT: no record). */
int
ipckit__crec_lookup(const struct ipckit__crec *obj, unsigned long obj_uid,
                    struct ipckit__crec *out)
{
    char leaf[IPCKIT__CREC_LEAF_MAX], path[sizeof IPCKIT__CREC_DIR + IPCKIT__CREC_LEAF_MAX];
    struct stat sb;
    int rc = ipckit__crec_leaf(obj, leaf, sizeof leaf);
    if (rc < 0)
        return rc;
    (void) snprintf(path, sizeof path, "%s/%s", IPCKIT__CREC_DIR, leaf);
    rc = ipckit__crec_load(AT_FDCWD, path, out, &sb);
    if (rc < 0)
        return rc;
    if (!ipckit__crec_trusted(out, &sb, obj_uid, obj))
        return -EBADMSG;
    if (out->kind == IPCKIT__CREC_FIFO && !ipckit__crec_fifo_path_ok(out))
        return -EBADMSG;
    return 0;
}



uint64_t
ipckit__proc_start_time(long pid)
{
    return (uint64_t) ipckit__crec_proc_start(pid);
}

static int
creator_path(const struct ipckit__crec *r, char *buf, size_t cap)
{
    char leaf[IPCKIT__CREC_LEAF_MAX];
    int n, rc = ipckit__crec_leaf(r, leaf, sizeof leaf);
    if (rc < 0)
        return rc;
    n = snprintf(buf, cap, "%s/%s", IPCKIT__CREC_DIR, leaf);
    return n < 0 || (size_t) n >= cap ? -ENAMETOOLONG : 0;
}

static int
write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO;
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

/*
 * Make @p path appear with @p line as its whole content, or fail with
 * -EEXIST if something is there. The record is written into an unnamed
 * file (O_TMPFILE) that is then linked under its name, so a reader never
 * sees it half written and a creator killed meanwhile leaves nothing. Where
 * O_TMPFILE or /proc is missing, the file is created exclusively and then
 * written: a reader that comes in between finds a short record and refuses
 * it, which is "creator unknown" for that moment.
 */
static int
creator_publish(const char *path, const char *line, size_t len)
{
    char proc[64];
    int fd, rc;

    fd = open(IPCKIT__CREC_DIR, O_TMPFILE | O_WRONLY | O_CLOEXEC, IPCKIT__CREC_MODE);
    if (fd >= 0) {
        /* the umask narrowed the mode; the record is meant to be readable */
        rc = fchmod(fd, IPCKIT__CREC_MODE) < 0 ? -errno : write_all(fd, line, len);
        if (rc == 0) {
            (void) snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
            rc = linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0 ? 0 : -errno;
        }
        (void) close(fd);
        if (rc != -ENOENT)
            return rc; /* done, -EEXIST, or a real failure */
        /* no /proc: fall through to the exclusive create */
    } else if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
        return -errno;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
              IPCKIT__CREC_MODE);
    if (fd < 0)
        return -errno;
    rc = fchmod(fd, IPCKIT__CREC_MODE) < 0 ? -errno : write_all(fd, line, len);
    if (rc < 0)
        (void) unlink(path);
    (void) close(fd);
    return rc;
}

/* ---- orphans ------------------------------------------------------------- */

/*
 * A record outlives its object when a program that is not ipckit removes
 * the object (PHP's msg_remove_queue(), ipcrm, rm): nothing removes the
 * record then. Each creation of an object sweeps the caller's own records
 * whose object is gone and that are older than CREATOR_ORPHAN_AGE seconds
 * (a record that young may belong to an object being removed right now, or
 * be kept on purpose by "ipckit rm --stale" users), at most once a second
 * per process. Another user's files are never touched.
 */
#define CREATOR_ORPHAN_AGE 60

/* Is the object of record @p r certainly gone? Unsure is "no". */
static bool
creator_object_gone(const struct ipckit__crec *r)
{
    struct stat sb;
    switch (r->kind) {
    case IPCKIT__CREC_MQ: {
        struct msqid_ds ds;
        if (r->id < 0 || r->id > INT32_MAX)
            return false;
        if (msgctl((int) r->id, IPC_STAT, &ds) < 0)
            return errno == EINVAL || errno == EIDRM;
        /* the id names another queue now */
        return (unsigned long) (uint32_t) ds.msg_perm.__key != r->key;
    }
    case IPCKIT__CREC_POSIXMQ: {
        mqd_t q = mq_open(r->target, O_RDONLY | O_CLOEXEC);
        bool gone;
        if (q == (mqd_t) -1)
            return errno == ENOENT;
        gone = fstat((int) q, &sb) == 0 && (unsigned long long) sb.st_ino != r->ino;
        (void) mq_close(q);
        return gone;
    }
    case IPCKIT__CREC_FIFO:
        if (lstat(r->target, &sb) < 0)
            return errno == ENOENT;
        return (unsigned long long) sb.st_dev != r->dev ||
               (unsigned long long) sb.st_ino != r->ino;
    default:
        return false;
    }
}

static void
creator_sweep(void)
{
    static _Atomic long long last; /* (pid << 32) | second of the last sweep */
    struct timespec now;
    long long stamp, seen;
    struct dirent *e;
    DIR *d;
    (void) clock_gettime(CLOCK_MONOTONIC, &now);
    stamp = ((long long) getpid() << 32) | (now.tv_sec & 0xffffffff);
    seen = atomic_load(&last);
    if (seen == stamp || !atomic_compare_exchange_strong(&last, &seen, stamp))
        return;
    d = opendir(IPCKIT__CREC_DIR);
    if (d == NULL)
        return;
    (void) clock_gettime(CLOCK_REALTIME, &now);
    while ((e = readdir(d)) != NULL) {
        char leaf[IPCKIT__CREC_LEAF_MAX];
        struct ipckit__crec r;
        struct stat sb;
        if (strncmp(e->d_name, IPCKIT__CREC_PREFIX, sizeof IPCKIT__CREC_PREFIX - 1) != 0)
            continue;
        if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISREG(sb.st_mode) || sb.st_uid != geteuid() ||
            now.tv_sec - sb.st_mtim.tv_sec < CREATOR_ORPHAN_AGE)
            continue;
        /* only a record that parses and sits under its own object's name */
        if (ipckit__crec_load(dirfd(d), e->d_name, &r, &sb) < 0 ||
            r.uid != (unsigned long) geteuid() ||
            ipckit__crec_leaf(&r, leaf, sizeof leaf) < 0 || strcmp(leaf, e->d_name) != 0)
            continue;
        if (creator_object_gone(&r))
            (void) unlinkat(dirfd(d), e->d_name, 0);
    }
    (void) closedir(d);
}

int
ipckit__creator_write(struct ipckit__crec *r)
{
    char path[sizeof IPCKIT__CREC_DIR + IPCKIT__CREC_LEAF_MAX], line[IPCKIT__CREC_MAX + 1];
    int len, rc;

    creator_sweep();
    r->pid = (long) getpid();
    r->start = (unsigned long long) ipckit__proc_start_time(r->pid);
    r->uid = (unsigned long) geteuid();
    len = ipckit__crec_format(r, line, sizeof line);
    if (len < 0)
        return -ENAMETOOLONG;
    rc = creator_path(r, path, sizeof path);
    if (rc < 0)
        return rc;
    for (int attempt = 0; attempt < 2; attempt++) {
        struct stat sb;
        rc = creator_publish(path, line, (size_t) len);
        if (rc != -EEXIST)
            return rc;
        /*
         * Something has the name already. The object was created just now,
         * so a record of ours there is an orphan of an earlier object with
         * the same identity (or garbage): replace it. Anything owned by
         * someone else is left alone and not trusted; the object then has
         * no record.
         */
        if (lstat(path, &sb) < 0) {
            if (errno == ENOENT)
                continue;
            return -errno;
        }
        if (sb.st_uid != geteuid() || S_ISDIR(sb.st_mode))
            return -EEXIST;
        if (unlink(path) < 0 && errno != ENOENT)
            return -errno;
    }
    return -EEXIST;
}

int
ipckit__creator_lookup(const struct ipckit__crec *obj, unsigned long obj_uid,
                       struct ipckit__crec *out)
{
    return ipckit__crec_lookup(obj, obj_uid, out);
}

long
ipckit__creator_pid(const struct ipckit__crec *obj, unsigned long obj_uid)
{
    struct ipckit__crec rec;
    return ipckit__creator_lookup(obj, obj_uid, &rec) == 0 ? rec.pid : -1;
}

bool
ipckit__creator_removable(const struct ipckit__crec *obj, unsigned long obj_uid)
{
    char path[sizeof IPCKIT__CREC_DIR + IPCKIT__CREC_LEAF_MAX];
    struct ipckit__crec rec;
    struct stat sb;
    if (creator_path(obj, path, sizeof path) < 0 || lstat(path, &sb) < 0 ||
        S_ISDIR(sb.st_mode))
        return false;
    /* Our own file under the object's identity goes with the object, even
     * when it does not parse. */
    if (sb.st_uid == geteuid())
        return true;
    /* Root removes another user's record only if it describes the object;
     * what another user merely put there stays. */
    return geteuid() == 0 && ipckit__creator_lookup(obj, obj_uid, &rec) == 0;
}

void
ipckit__creator_unlink(const struct ipckit__crec *obj)
{
    char path[sizeof IPCKIT__CREC_DIR + IPCKIT__CREC_LEAF_MAX];
    if (creator_path(obj, path, sizeof path) == 0)
        (void) unlink(path);
}
