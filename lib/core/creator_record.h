/*
 * ipckit: the on-disk format of creator records. Not installed.
 *
 * The kernel records no creator for System V message queues, POSIX message
 * queues and FIFOs, so ipckit writes one for each of those it creates: a
 * small file in /dev/shm named by the object's kernel identity, holding one
 * line of text. docs/reliability.md ("Creator records") describes the format
 * and the rule by which a reader trusts a record.
 *
 * Everything here is static and uses only the C library, so that the
 * library (lib/core/creator.c), the command-line tool (tools/cli/ls.c) and
 * the test kit parse records with the same code without the library
 * exporting anything. A record is input from a world-writable directory:
 * the reader bounds what it reads and accepts only the exact format.
 */
#ifndef IPCKIT_CREATOR_RECORD_H
#define IPCKIT_CREATOR_RECORD_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <unistd.h>

#define IPCKIT__CREC_DIR "/dev/shm"
#define IPCKIT__CREC_PREFIX "ipckit-creator."
#define IPCKIT__CREC_MAGIC "ipckit-creator"
#define IPCKIT__CREC_VERSION 1
/* Longest record a reader accepts, in bytes (a path of PATH_MAX bytes, each
 * escaped as %XX, fits). */
#define IPCKIT__CREC_MAX 16384
/* Longest decoded name or path, with its NUL. */
#define IPCKIT__CREC_TARGET_MAX 4096
/* Longest file name of a record ("ipckit-creator.fifo.DEV.INO"). */
#define IPCKIT__CREC_LEAF_MAX 80
/* Mode of a record file: the pid and start time it holds are not secret
 * (ps shows them), and a monitoring user needs to read it. */
#define IPCKIT__CREC_MODE 0644

enum {
    IPCKIT__CREC_MQ = 1,  /* System V message queue: key, msqid, ctime */
    IPCKIT__CREC_POSIXMQ, /* POSIX message queue: inode, name */
    IPCKIT__CREC_FIFO     /* FIFO: device, inode, birth time, path */
};

struct ipckit__crec {
    int kind;
    /* the creator */
    long pid;                 /* > 0 */
    unsigned long long start; /* field 22 of /proc/PID/stat; 0: unknown */
    unsigned long uid;        /* its effective uid */
    /* the object: mq */
    unsigned long key;        /* 32 bits */
    long id;                  /* msqid */
    long long ctime;          /* msg_ctime after set-up, seconds */
    /* the object: posixmq, fifo */
    unsigned long long dev;   /* fifo: st_dev */
    unsigned long long ino;
    bool has_btime;           /* fifo: the file system reports a birth time */
    long long btime_sec;
    long btime_nsec;
    char target[IPCKIT__CREC_TARGET_MAX]; /* posixmq: "/NAME"; fifo: absolute path */
};

static inline const char *
ipckit__crec_kind_name(int kind)
{
    return kind == IPCKIT__CREC_MQ        ? "mq"
           : kind == IPCKIT__CREC_POSIXMQ ? "posixmq"
           : kind == IPCKIT__CREC_FIFO    ? "fifo"
                                          : NULL;
}

/* The file name (in IPCKIT__CREC_DIR) of the record of object @p r. */
static inline int
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
 * got the same pid. The library, the tool and the tests share this copy. */
static inline unsigned long long
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
static inline size_t
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
static inline int
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
static inline bool
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
static inline bool
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

static inline bool
ipckit__crec_num(const char **p, const char *end, const char *key, unsigned long long max,
                 unsigned long long *out)
{
    const char *v;
    size_t n;
    return ipckit__crec_field(p, end, key, &v, &n) && ipckit__crec_ull(v, n, max, out);
}

static inline int
ipckit__crec_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode an escaped name or path into @p out (no NUL, must start with '/'). */
static inline bool
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
static inline int
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
static inline int
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
static inline bool
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
static inline bool
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
static inline int
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
static inline bool
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
static inline int
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

#endif /* IPCKIT_CREATOR_RECORD_H */
