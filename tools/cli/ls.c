/*
 * ipckit(1): "ipckit ls", which lists live IPC objects as the kernel shows
 * them, and "ipckit rm --stale", which removes the ones that can be judged
 * stale safely.
 *
 * Sources: /proc/sysvipc/{msg,shm,sem} for System V objects, /dev/shm and
 * /dev/mqueue for POSIX objects, and a bounded walk of directories for
 * FIFOs. Nothing is opened, attached or read that could change an object:
 * a FIFO is never opened (that could wake a writer waiting for a reader),
 * a segment is never attached.
 *
 * Creators: the kernel keeps one for System V segments; ipckit's rings and
 * regions carry one in their header; for System V queues, POSIX queues and
 * FIFOs ipckit writes a creator record in /dev/shm (lib/os/records.c).
 * The record format and the trust rule come from the library's own header,
 * compiled in here: the tool links only the public API, and this is no API.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mqueue.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/shm.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ipckit/ipckit.h>
#include <ipckit/backend.h>

#include "cli.h"
#include "../../lib/os/records.h"

#define LS_DEPTH_DEFAULT 3
#define LS_DEPTH_MAX 16
/* ftok(path, 'i'): ipckit's default proj puts 'i' in the key's top byte. */
#define LS_FTOK_PROJ 0x69u

/* ---- the layout of rings and regions ------------------------------------------------ */

/*
 * What the tool knows of the objects of ipckit in /dev/shm, all of it here,
 * for ls, stat and rm --stale; it must be kept in step with
 * lib/backends/shm_ring.c (struct ring_hdr) and lib/region/region.c. Every
 * field is read with pread() from a descriptor (nothing is mapped) and
 * trusted in nothing: any user may write such a file.
 *
 * Both headers start with a 32-bit magic, version, header size, the
 * creator's pid (int32 at offset 12) and, at offset 48, the creator's start
 * time (clock ticks after boot, field 22 of /proc/PID/stat), which tells a
 * live creator from a reused pid. They are shown, and used by rm --stale
 * only together with the check that no process has the object open or
 * mapped.
 *
 * A ring: its capacity (u64 at 16), tail and messages in (u64 at 72 and
 * 80), head and messages out (u64 at 136 and 144). A region: its data size
 * (u64 at 16), its data area from 4096, where a variable store starts with a
 * magic, a version, the entry and chunk counts (u32 each), then the entries
 * (an i64 key and a u64 descriptor: the value's length in the high 32 bits,
 * 0 when the entry is empty).
 */
#define LS_PID_OFFSET 12
#define LS_START_OFFSET 48
#define LS_RING_CAP 16
#define LS_RING_TAIL 72
#define LS_RING_HEAD 136
#define LS_RING_HDR_READ (LS_RING_HEAD + 16) /* the header bytes read: up to messages out */
#define LS_REGION_DSIZE 16
#define LS_REGION_HDR 4096
#define LS_STORE_MAGIC 0x53564b49u /* "IKVS" */
#define LS_STORE_VERSION 1u
#define LS_STORE_ENTRY 16
#define LS_RING_MAGIC 0x52534b49u   /* "IKSR" */
#define LS_REGION_MAGIC 0x47524b49u /* "IKRG" */

struct ls_magic {
    uint32_t magic;
    const char *label;   /* IPCKIT column */
};

static const struct ls_magic ls_magics[] = {
    { LS_RING_MAGIC, "ring" },     /* the shm: message ring */
    { LS_REGION_MAGIC, "region" }, /* an ipckit_region */
};

static uint64_t
get_u64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/*
 * The messages and bytes queued in a ring, from the first LS_RING_HDR_READ
 * bytes of its header in @p b: 0, or -1 when the indexes make no sense (a
 * scribbled header, or one read while a sender or receiver moved them).
 */
static int
ring_fill(const unsigned char *b, long long *msgs, long long *bytes)
{
    uint64_t cap = get_u64(b + LS_RING_CAP), tail = get_u64(b + LS_RING_TAIL),
             in = get_u64(b + LS_RING_TAIL + 8), head = get_u64(b + LS_RING_HEAD),
             out = get_u64(b + LS_RING_HEAD + 8);
    if (tail < head || tail - head > cap || in < out || in - out > cap || cap > LLONG_MAX)
        return -1;
    *msgs = (long long) (in - out);
    *bytes = (long long) (tail - head);
    return 0;
}

/*
 * The data size of the region open at @p fd (@p size bytes long) and the
 * variables of its variable store, counted from the entries, with the bytes
 * of their values. Returns 1 (a store: all three set), 0 (the data area is
 * no variable store: only *dsize), -1 (the header does not match the size),
 * -2 (the store cannot be read).
 */
static int
region_vars(int fd, off_t size, uint64_t *dsize, long long *vars, long long *bytes)
{
    unsigned char b[16];
    uint32_t magic, version, nentries, want;
    if (size < LS_REGION_HDR || pread(fd, b, 8, LS_REGION_DSIZE) != 8 ||
        (*dsize = get_u64(b)) != (uint64_t) size - LS_REGION_HDR)
        return -1;
    /* the entry count region.c gives a store of this size */
    want = (uint32_t) (*dsize / 512 < 4 ? 4 : *dsize / 512 > 65536 ? 65536 : *dsize / 512);
    if (*dsize < 16 || pread(fd, b, 16, LS_REGION_HDR) != 16)
        return 0;
    memcpy(&magic, b, 4);
    memcpy(&version, b + 4, 4);
    memcpy(&nentries, b + 8, 4);
    if (magic != LS_STORE_MAGIC || version != LS_STORE_VERSION || nentries != want ||
        16 + (uint64_t) nentries * LS_STORE_ENTRY > *dsize)
        return 0;
    *vars = *bytes = 0;
    for (uint32_t i = 0; i < nentries;) {
        static unsigned char e[256 * LS_STORE_ENTRY];
        uint32_t k = nentries - i < 256 ? nentries - i : 256;
        size_t len = (size_t) k * LS_STORE_ENTRY;
        if (pread(fd, e, len, LS_REGION_HDR + 16 + (off_t) i * LS_STORE_ENTRY) != (ssize_t) len)
            return -2;
        for (uint32_t j = 0; j < k; j++) {
            uint64_t d = get_u64(e + (size_t) j * LS_STORE_ENTRY + 8);
            if (d != 0) {
                ++*vars;
                *bytes += (long long) (d >> 32);
            }
        }
        i += k;
    }
    return 1;
}

struct rec;

struct obj {
    const char *kind;   /* msg shm sem posix-shm posix-sem mqueue fifo */
    long id;            /* System V id, or -1 */
    long long key;      /* System V key as unsigned 32 bits, or -1 */
    char *path;         /* file of a POSIX object or FIFO, else NULL */
    char *name;         /* ipckit name that reaches the object, or NULL */
    long uid;
    unsigned mode;
    long long bytes;    /* size or bytes queued (a ring: queued), -1 if unknown */
    long long size;     /* size of a segment or a POSIX shared memory object, else -1 */
    long count;         /* messages, attaches or semaphores, -1 if unknown */
    long cpid;          /* creator pid, -1 if nothing records it */
    unsigned long long cstart; /* creator start time from an ipckit header or record, 0 if unknown */
    int alive;          /* creator alive: 1, 0, -1 unknown */
    long lspid, lrpid;  /* msg: last sender and receiver, else -1 */
    long long ctime;    /* msg: msg_ctime, else -1 */
    unsigned long long dev, ino; /* mqueue, fifo: the inode */
    struct rec *rec;       /* trusted creator record, or NULL */
    const char *hint;   /* why it looks like ipckit's ("ftok", "name", "record"), or NULL */
};

struct objlist {
    struct obj *v;
    size_t n, cap;
};

/*
 * "ipckit stat shm:NAME" for a region, which ipckit_stat_name() does not
 * describe (its shm: backend knows rings). Returns 1 with *out filled when
 * the object is an ipckit region; 0 when it is none, or cannot be opened
 * (then ipckit_stat_name() says what it is, or why not); -EBADMSG, with
 * out->why, for a region whose header does not match its size.
 */
int
cli_region_stat(const char *text, struct cli_region *out)
{
    ipckit_name *n = NULL;
    const char *t;
    unsigned char h[64];
    struct stat sb;
    uint32_t magic;
    int32_t pid;
    int dfd, fd = -1, rc = 0;

    memset(out, 0, sizeof *out);
    out->data_size = out->variables = out->bytes = out->creator_pid = -1;
    if (ipckit_name_parse(text, &n) < 0)
        return 0;
    /* the object ipckit__shmobj_posix_name() makes of the target, no other */
    t = ipckit_name_target(n);
    if (*t == '/')
        t++;
    if (strcmp(ipckit_name_scheme(n), "shm") != 0 || *t == '\0' || strchr(t, '/') != NULL ||
        strcmp(t, ".") == 0 || strcmp(t, "..") == 0) {
        ipckit_name_free(n);
        return 0;
    }
    dfd = open("/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fd = openat(dfd, t, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        (void) close(dfd);
    }
    ipckit_name_free(n);
    if (fd < 0)
        return 0;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && pread(fd, h, sizeof h, 0) == sizeof h &&
        (memcpy(&magic, h, sizeof magic), magic == LS_REGION_MAGIC)) {
        uint64_t dsize = 0;
        rc = 1;
        out->mode = sb.st_mode & 07777;
        memcpy(&pid, h + LS_PID_OFFSET, sizeof pid);
        out->creator_pid = pid > 0 ? pid : -1;
        switch (region_vars(fd, sb.st_size, &dsize, &out->variables, &out->bytes)) {
        case 1: out->data_size = (long long) dsize; break;
        case 0:
            out->data_size = (long long) dsize;
            out->variables = out->bytes = -1;
            break;
        case -1:
            rc = -EBADMSG;
            (void) snprintf(out->why, sizeof out->why,
                            "a region whose header does not match its size (%lld bytes)",
                            (long long) sb.st_size);
            break;
        default:
            out->data_size = (long long) dsize;
            out->variables = out->bytes = -1; /* cannot be read: unknown */
            break;
        }
    }
    (void) close(fd);
    return rc;
}

/* ---- helpers -------------------------------------------------------------------- */

int
cli_pid_alive(long pid)
{
    if (pid <= 0 || pid > INT_MAX)
        return -1;
    if (kill((pid_t) pid, 0) == 0 || errno == EPERM)
        return 1;
    return errno == ESRCH ? 0 : -1;
}

void
cli_json_string(FILE *f, const char *s)
{
    (void) fputc('"', f);
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        if (*p == '"' || *p == '\\')
            (void) fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            (void) fputs("\\n", f);
        else if (*p == '\t')
            (void) fputs("\\t", f);
        else if (*p < 0x20 || *p == 0x7f)
            (void) fprintf(f, "\\u%04x", *p);
        else
            (void) fputc(*p, f);
    }
    (void) fputc('"', f);
}

/* Length of the valid UTF-8 sequence at @p p (1 to 4), with its code point
 * in *cp, or 0 when it is not one (overlong, a surrogate, above U+10FFFF,
 * cut short). */
static size_t
utf8_seq(const unsigned char *p, unsigned long *cp)
{
    size_t n;
    unsigned long c, min;
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
        c = p[0] & 0x1fu;
        min = 0x80;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        c = p[0] & 0x0fu;
        min = 0x800;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        c = p[0] & 0x07u;
        min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0u) != 0x80u) /* also stops at the NUL */
            return 0;
        c = (c << 6) | (p[i] & 0x3fu);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

/* Code points that must not reach a terminal as they are: the C1 controls,
 * and the marks and overrides that reorder the text shown after them. */
static bool
cp_unsafe(unsigned long c)
{
    return (c >= 0x80 && c <= 0x9f) || c == 0x061c || c == 0x200e || c == 0x200f ||
           (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

#define ESC_SLOTS 4
#define ESC_CAP (4 * PATH_MAX + 8)

/*
 * @p s made safe for a terminal and kept on one line, for the table of
 * "ipckit ls" and the lines of "rm --stale": a backslash is written "\\",
 * newline, tab and carriage return "\n", "\t", "\r", and every other byte
 * of a control character (below 0x20, 0x7f, the C1 controls U+0080..U+009F,
 * the bidirectional marks and overrides) or of a sequence that is not valid
 * UTF-8 "\xHH". Valid UTF-8 text is kept. The result lives in one of
 * ESC_SLOTS static buffers, so a printf() may take that many; text that would
 * not fit ends in "...".
 */
const char *
cli_esc(const char *s)
{
    static char bufs[ESC_SLOTS][ESC_CAP];
    static unsigned next;
    char *out = bufs[next++ % ESC_SLOTS];
    size_t o = 0;
    const unsigned char *p = (const unsigned char *) s;
    while (*p != '\0') {
        unsigned long c = 0;
        size_t n = utf8_seq(p, &c);
        char piece[32];
        size_t plen = 0;
        if (*p == '\\' || *p == '\n' || *p == '\t' || *p == '\r') {
            piece[0] = '\\';
            piece[1] = *p == '\\' ? '\\' : *p == '\n' ? 'n' : *p == '\t' ? 't' : 'r';
            plen = 2;
            n = 1;
        } else if (n == 0 || c < 0x20 || c == 0x7f || cp_unsafe(c)) {
            if (n == 0)
                n = 1;
            for (size_t i = 0; i < n; i++)
                plen += (size_t) snprintf(piece + plen, sizeof piece - plen, "\\x%02x", p[i]);
        } else {
            memcpy(piece, p, n);
            plen = n;
        }
        if (o + plen + 4 > ESC_CAP) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(out + o, piece, plen);
        o += plen;
        p += n;
    }
    out[o] = '\0';
    return out;
}

static struct obj *
obj_add(struct objlist *l, const char *kind)
{
    struct obj *o;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct obj *nv = realloc(l->v, cap * sizeof *nv);
        if (nv == NULL)
            return NULL;
        l->v = nv;
        l->cap = cap;
    }
    o = &l->v[l->n++];
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->id = -1;
    o->key = -1;
    o->bytes = -1;
    o->size = -1;
    o->count = -1;
    o->cpid = -1;
    o->alive = -1;
    o->lspid = o->lrpid = -1;
    o->ctime = -1;
    return o;
}

static void
objlist_free(struct objlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].path);
        free(l->v[i].name);
    }
    free(l->v);
}

static char *
dup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
dup_printf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

static const char *
hint_sysv(long long key)
{
    return key > 0 && ((unsigned long long) key >> 24) == LS_FTOK_PROJ ? "ftok" : NULL;
}

static const char *
hint_path(const char *path)
{
    const char *base = strrchr(path, '/');
    return strstr(base ? base + 1 : path, "ipckit") != NULL ? "name" : NULL;
}

/* ---- System V ------------------------------------------------------------------- */

/* Read the rows of /proc/sysvipc/<what> (after the header line). */
static int
sysv_read(struct objlist *l, const char *what)
{
    char path[64], line[512];
    FILE *f;
    bool have_mq = ipckit_backend_find("mq") != NULL;

    (void) snprintf(path, sizeof path, "/proc/sysvipc/%s", what);
    f = fopen(path, "re");
    if (f == NULL)
        return errno == ENOENT ? 0 : -errno;
    if (fgets(line, sizeof line, f) == NULL) {
        (void) fclose(f);
        return 0;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        long long key, a = 0, b = 0, c = 0, d = 0, stime = 0, rtime = 0, ctime = -1;
        long id, uid = 0, g, cuid, cgid;
        unsigned perms;
        struct obj *o;
        int n;

        if (strcmp(what, "msg") == 0) {
            /* key msqid perms cbytes qnum lspid lrpid uid gid cuid cgid stime rtime
             * ctime ... */
            n = sscanf(line, "%lld %ld %o %lld %lld %lld %lld %ld %ld %ld %ld %lld %lld %lld",
                       &key, &id, &perms, &a, &b, &c, &d, &uid, &g, &cuid, &cgid, &stime,
                       &rtime, &ctime);
            if (n < 8)
                continue;
            if (n < 14)
                ctime = -1;
        } else if (strcmp(what, "shm") == 0) {
            /* key shmid perms size cpid lpid nattch uid gid cuid cgid ... */
            n = sscanf(line, "%lld %ld %o %lld %lld %lld %lld %ld %ld %ld", &key, &id, &perms,
                       &a, &b, &c, &d, &uid, &g, &cuid);
            if (n < 8)
                continue;
        } else {
            /* key semid perms nsems uid gid cuid cgid ... */
            n = sscanf(line, "%lld %ld %o %lld %ld %ld %ld", &key, &id, &perms, &a, &uid, &g,
                       &cuid);
            if (n < 5)
                continue;
        }
        o = obj_add(l, strcmp(what, "msg") == 0 ? "msg" : strcmp(what, "shm") == 0 ? "shm"
                                                                                    : "sem");
        if (o == NULL) {
            (void) fclose(f);
            return -ENOMEM;
        }
        o->id = id;
        o->key = (long long) (uint32_t) (int32_t) key;
        o->uid = uid;
        o->mode = perms & 0777;
        o->hint = hint_sysv(o->key);
        if (strcmp(what, "msg") == 0) {
            o->bytes = a;
            o->count = (long) b;
            o->lspid = (long) c;
            o->lrpid = (long) d;
            o->ctime = ctime;
            /* the KEY column pads as ipcs(1) does; the name is written as
             * one types it (and as PHP's sprintf("0x%x") makes it) */
            if (have_mq && o->key != 0)
                o->name = dup_printf("mq:0x%llx", o->key);
        } else if (strcmp(what, "shm") == 0) {
            o->bytes = o->size = a;
            o->cpid = (long) b;
            o->count = (long) d;
            o->alive = cli_pid_alive(o->cpid);
        } else {
            o->count = (long) a;
        }
    }
    (void) fclose(f);
    return 0;
}

/* ---- POSIX ------------------------------------------------------------------------ */

/*
 * Is the creator @p pid, which started at @p start (0: not recorded), alive?
 * 1, 0 or -1 (unknown). A pid that now belongs to a process started at
 * another time is not the creator. When the start time cannot be read
 * (another user's process under hidepid, or one exiting right now) the
 * answer stays "alive": never call a creator gone without proof.
 */
static int
creator_alive(long pid, unsigned long long start)
{
    int alive = cli_pid_alive(pid);
    if (alive == 1 && start != 0) {
        unsigned long long now = ipckit__crec_proc_start(pid);
        if (now != 0 && now != start)
            alive = 0;
    }
    return alive;
}

/*
 * Recognise an ipckit object by its header; reading changes nothing. A ring
 * or region gets its creator and the name that opens it (shm:/NAME, as
 * ipckit_open() and ipckit_region_open() take it); a ring also the messages
 * and bytes queued in it, as a queue shows them, instead of its size.
 */
static void
posix_header(struct obj *o, int dfd, const char *leaf)
{
    unsigned char h[LS_RING_HDR_READ];
    int fd = openat(dfd, leaf, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    ssize_t n;
    if (fd < 0)
        return;
    n = pread(fd, h, sizeof h, 0);
    (void) close(fd);
    if (n < 64)
        return;
    for (size_t i = 0; i < sizeof ls_magics / sizeof ls_magics[0]; i++) {
        uint32_t magic;
        int32_t pid;
        uint64_t start;
        memcpy(&magic, h, sizeof magic);
        if (magic != ls_magics[i].magic)
            continue;
        o->hint = ls_magics[i].label;
        memcpy(&pid, h + LS_PID_OFFSET, sizeof pid);
        memcpy(&start, h + LS_START_OFFSET, sizeof start);
        if (pid > 0) {
            o->cpid = pid;
            o->cstart = start;
            o->alive = creator_alive(pid, start);
        }
        if (magic == LS_RING_MAGIC) {
            long long msgs = -1, bytes = -1;
            if (n != (ssize_t) sizeof h || ring_fill(h, &msgs, &bytes) < 0)
                msgs = bytes = -1;
            o->count = msgs <= LONG_MAX ? (long) msgs : -1;
            o->bytes = bytes;
            if (ipckit_backend_find("shm") == NULL)
                return;
        }
        o->name = dup_printf("shm:/%s", leaf);
        return;
    }
}

/* List the objects of @p dir (/dev/shm or /dev/mqueue); *listed (may be
 * NULL) tells whether the directory could be read at all. Creator records
 * in /dev/shm are not IPC objects and are not listed. */
static int
posix_read(struct objlist *l, const char *dir, bool *listed)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    bool mqueue = strcmp(dir, "/dev/mqueue") == 0;
    bool have_posixmq = mqueue && ipckit_backend_find("posixmq") != NULL;

    if (listed != NULL)
        *listed = d != NULL;
    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        struct stat sb;
        struct obj *o;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (!mqueue &&
            strncmp(de->d_name, IPCKIT__CREC_PREFIX, strlen(IPCKIT__CREC_PREFIX)) == 0)
            continue;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
            continue;
        o = obj_add(l, mqueue ? "mqueue"
                              : strncmp(de->d_name, "sem.", 4) == 0 ? "posix-sem" : "posix-shm");
        if (o == NULL) {
            (void) closedir(d);
            return -ENOMEM;
        }
        o->path = dup_printf("%s/%s", dir, de->d_name);
        o->uid = (long) sb.st_uid;
        o->mode = sb.st_mode & 07777;
        o->dev = (unsigned long long) sb.st_dev;
        o->ino = (unsigned long long) sb.st_ino;
        o->hint = hint_path(de->d_name);
        if (have_posixmq)
            o->name = dup_printf("posixmq:/%s", de->d_name);
        if (mqueue) {
            /* The file reads "QSIZE:n NOTIFY:..."; reading it, and asking
             * for the attributes, changes nothing. */
            char buf[256] = "";
            int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
            if (fd >= 0) {
                ssize_t n = read(fd, buf, sizeof buf - 1);
                unsigned long long q;
                struct mq_attr attr;
                if (n > 0) {
                    buf[n] = '\0';
                    if (sscanf(buf, "QSIZE:%llu", &q) == 1)
                        o->bytes = (long long) q;
                }
                if (mq_getattr((mqd_t) fd, &attr) == 0 && attr.mq_curmsgs >= 0)
                    o->count = attr.mq_curmsgs;
                (void) close(fd);
            }
        } else {
            o->bytes = o->size = (long long) sb.st_size;
            if (strcmp(o->kind, "posix-shm") == 0)
                posix_header(o, dirfd(d), de->d_name);
        }
    }
    (void) closedir(d);
    return 0;
}

/* ---- creator records ------------------------------------------------------------- */

/*
 * Creator records of System V queues, POSIX queues and FIFOs, as the
 * library writes them (lib/os/records.c has the format and the
 * trust rule). A record is used only when it is trusted for the object it
 * names; one that is not is "creator unknown".
 */
struct rec {
    char leaf[NAME_MAX + 1];
    int status;             /* 0: a well-formed record; else why not (negative errno) */
    struct stat sb;         /* the record file */
    struct ipckit__crec r;
    bool live;              /* its object exists and it is trusted for it */
    bool done;              /* rm --stale dealt with it */
};

struct reclist {
    struct rec *v;
    size_t n, cap;
};

static int
records_load(struct reclist *rl)
{
    DIR *d = opendir(IPCKIT__CREC_DIR);
    struct dirent *de;
    size_t plen = strlen(IPCKIT__CREC_PREFIX);
    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        struct rec *rc;
        if (strncmp(de->d_name, IPCKIT__CREC_PREFIX, plen) != 0 ||
            strlen(de->d_name) >= sizeof rc->leaf)
            continue;
        if (rl->n == rl->cap) {
            size_t cap = rl->cap ? rl->cap * 2 : 16;
            struct rec *nv = realloc(rl->v, cap * sizeof *nv);
            if (nv == NULL) {
                (void) closedir(d);
                return -ENOMEM;
            }
            rl->v = nv;
            rl->cap = cap;
        }
        rc = &rl->v[rl->n++];
        memset(rc, 0, sizeof *rc);
        (void) snprintf(rc->leaf, sizeof rc->leaf, "%s", de->d_name);
        rc->status = ipckit__crec_load(dirfd(d), de->d_name, &rc->r, &rc->sb);
    }
    (void) closedir(d);
    return 0;
}

/* The record file named for the identity in @p id, trusted or not. */
static struct rec *
record_of(const struct reclist *rl, const struct ipckit__crec *id)
{
    char leaf[IPCKIT__CREC_LEAF_MAX];
    if (ipckit__crec_leaf(id, leaf, sizeof leaf) < 0)
        return NULL;
    for (size_t i = 0; i < rl->n; i++)
        if (strcmp(rl->v[i].leaf, leaf) == 0)
            return &rl->v[i];
    return NULL;
}

/* The trusted record of object @p id owned by @p owner, or NULL. */
static struct rec *
record_trusted(const struct reclist *rl, const struct ipckit__crec *id, long owner)
{
    struct rec *rc = record_of(rl, id);
    if (rc == NULL || rc->status != 0 || owner < 0 ||
        !ipckit__crec_trusted(&rc->r, &rc->sb, (unsigned long) owner, id))
        return NULL;
    if (rc->r.kind == IPCKIT__CREC_FIFO && !ipckit__crec_fifo_path_ok(&rc->r))
        return NULL;
    return rc;
}

/*
 * The POSIX queue @p name ("/NAME"): its inode, owner and mode; when @p q is
 * not NULL, also what it holds: the bytes queued (its status text,
 * "QSIZE:n ...") and the messages (mq_getattr()), -1 where unknown. Through
 * /dev/mqueue where it is mounted; else the queue is opened (read-only,
 * else write-only) and closed. Neither moves a message.
 */
struct mq_fill {
    long long bytes, messages;
};

static int
mq_probe(const char *name, struct stat *sb, struct mq_fill *q)
{
    char path[IPCKIT__CREC_TARGET_MAX + 16], buf[256];
    ssize_t n = -1;
    struct mq_attr attr;
    mqd_t mq;
    int rc;
    if (q != NULL)
        q->bytes = q->messages = -1;
    (void) snprintf(path, sizeof path, "/dev/mqueue%s", name);
    mq = (mqd_t) open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (mq == (mqd_t) -1) {
        mq = mq_open(name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (mq == (mqd_t) -1 && errno == EACCES)
            mq = mq_open(name, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (mq == (mqd_t) -1)
            return -errno;
    }
    /* A descriptor of a file in /dev/mqueue is a queue descriptor too. */
    rc = fstat((int) mq, sb) < 0 ? -errno : 0;
    if (rc == 0 && q != NULL) {
        n = read((int) mq, buf, sizeof buf - 1);
        if (mq_getattr(mq, &attr) == 0 && attr.mq_curmsgs >= 0)
            q->messages = (long long) attr.mq_curmsgs;
    }
    (void) close((int) mq);
    if (n > 0 && q != NULL) {
        unsigned long long v;
        buf[n] = '\0';
        if (sscanf(buf, "QSIZE:%llu", &v) == 1 && v <= LLONG_MAX)
            q->bytes = (long long) v;
    }
    return rc;
}

/* The identity of listed object @p o as its record names it. */
static bool
obj_identity(const struct obj *o, struct ipckit__crec *id)
{
    memset(id, 0, sizeof *id);
    if (strcmp(o->kind, "msg") == 0 && o->ctime >= 0) {
        id->kind = IPCKIT__CREC_MQ;
        id->key = (unsigned long) o->key;
        id->id = o->id;
        id->ctime = o->ctime;
        return true;
    }
    if (strcmp(o->kind, "mqueue") == 0 && o->path != NULL) {
        id->kind = IPCKIT__CREC_POSIXMQ;
        id->ino = o->ino;
        (void) snprintf(id->target, sizeof id->target, "%s", strrchr(o->path, '/'));
        return true;
    }
    if (strcmp(o->kind, "fifo") == 0 && o->path != NULL) {
        return ipckit__crec_fifo_identity(o->path, id, NULL) == 0 && id->dev == o->dev &&
               id->ino == o->ino;
    }
    return false;
}

static void
obj_use_record(struct obj *o, struct rec *rc)
{
    rc->live = true;
    o->rec = rc;
    o->cpid = rc->r.pid;
    o->cstart = rc->r.start;
    o->alive = creator_alive(o->cpid, o->cstart);
    o->hint = "record";
}

/*
 * The creator of the object behind ipckit name @p text, for "ipckit stat":
 * 1 alive, 0 gone, -1 unknown, judged like "ipckit ls" does, with the start
 * time recorded in a ring's or region's header or in a trusted creator
 * record when it names @p pid. Without one, only whether the pid exists.
 */
int
cli_creator_alive(const char *text, long pid)
{
    struct ipckit__crec obj, rec;
    unsigned long long start = 0;
    unsigned long owner = 0;
    ipckit_name *n = NULL;
    const char *scheme, *target;
    struct stat sb;
    bool have = false;

    if (pid <= 0 || ipckit_name_parse(text, &n) < 0)
        return cli_pid_alive(pid);
    scheme = ipckit_name_scheme(n);
    target = ipckit_name_target(n);
    memset(&obj, 0, sizeof obj);
    if (strcmp(scheme, "shm") == 0) {
        /* the header of a ring or region, read as "ls" reads it */
        struct obj o;
        char path[IPCKIT__CREC_TARGET_MAX + 16];
        memset(&o, 0, sizeof o);
        o.cpid = -1;
        (void) snprintf(path, sizeof path, "/dev/shm/%s", target[0] == '/' ? target + 1 : target);
        posix_header(&o, AT_FDCWD, path);
        if (o.cpid == pid)
            start = o.cstart;
        free(o.name);
    } else if (strcmp(scheme, "fifo") == 0) {
        have = ipckit__crec_fifo_identity(target, &obj, &owner) == 0;
    } else if (strcmp(scheme, "mq") == 0) {
        key_t key;
        struct msqid_ds ds;
        int id;
        if (ipckit_name_sysv_key(n, &key) == 0 && (id = msgget(key, 0)) >= 0 &&
            msgctl(id, IPC_STAT, &ds) == 0) {
            obj.kind = IPCKIT__CREC_MQ;
            obj.key = (unsigned long) (uint32_t) key;
            obj.id = id;
            obj.ctime = (long long) ds.msg_ctime;
            owner = (unsigned long) ds.msg_perm.uid;
            have = true;
        }
    } else if (strcmp(scheme, "posixmq") == 0 && target[0] == '/' &&
               mq_probe(target, &sb, NULL) == 0) {
        obj.kind = IPCKIT__CREC_POSIXMQ;
        obj.ino = (unsigned long long) sb.st_ino;
        (void) snprintf(obj.target, sizeof obj.target, "%s", target);
        owner = (unsigned long) sb.st_uid;
        have = true;
    }
    if (have && ipckit__crec_lookup(&obj, owner, &rec) == 0 && rec.pid == pid)
        start = rec.start;
    ipckit_name_free(n);
    return creator_alive(pid, start);
}

/* Give every listed queue and FIFO the creator of its trusted record. */
static void
records_attach(struct objlist *l, struct reclist *rl)
{
    for (size_t i = 0; i < l->n; i++) {
        struct obj *o = &l->v[i];
        struct ipckit__crec id;
        struct rec *rc;
        if (strcmp(o->kind, "fifo") == 0) {
            /* the leaf needs only the inode: statx only FIFOs that have one */
            memset(&id, 0, sizeof id);
            id.kind = IPCKIT__CREC_FIFO;
            id.dev = o->dev;
            id.ino = o->ino;
            if (record_of(rl, &id) == NULL)
                continue;
        }
        if (!obj_identity(o, &id))
            continue;
        rc = record_trusted(rl, &id, o->uid);
        if (rc != NULL)
            obj_use_record(o, rc);
    }
}

/*
 * Where /dev/mqueue is not mounted, POSIX queues cannot be listed; those
 * named by a well-formed creator record are found through it and checked by
 * opening (same name, same inode). The creator is shown only when the
 * record is trusted.
 */
static int
records_add_queues(struct objlist *l, struct reclist *rl)
{
    bool have_posixmq = ipckit_backend_find("posixmq") != NULL;
    for (size_t i = 0; i < rl->n; i++) {
        struct rec *rc = &rl->v[i];
        struct ipckit__crec id;
        struct stat sb;
        struct mq_fill fill;
        struct obj *o;
        if (rc->status != 0 || rc->r.kind != IPCKIT__CREC_POSIXMQ || rc->live ||
            mq_probe(rc->r.target, &sb, &fill) < 0 ||
            (unsigned long long) sb.st_ino != rc->r.ino)
            continue;
        memset(&id, 0, sizeof id);
        id.kind = IPCKIT__CREC_POSIXMQ;
        id.ino = (unsigned long long) sb.st_ino;
        (void) snprintf(id.target, sizeof id.target, "%s", rc->r.target);
        o = obj_add(l, "mqueue");
        if (o == NULL)
            return -ENOMEM;
        o->uid = (long) sb.st_uid;
        o->mode = sb.st_mode & 07777;
        o->dev = (unsigned long long) sb.st_dev;
        o->ino = (unsigned long long) sb.st_ino;
        o->bytes = fill.bytes;
        o->count = fill.messages >= 0 && fill.messages <= LONG_MAX ? (long) fill.messages : -1;
        o->hint = hint_path(rc->r.target);
        o->name = have_posixmq ? dup_printf("posixmq:%s", rc->r.target) : NULL;
        if (record_trusted(rl, &id, (long) sb.st_uid) == rc)
            obj_use_record(o, rc);
    }
    return 0;
}

static void
records_free(struct reclist *rl)
{
    free(rl->v);
    rl->v = NULL;
    rl->n = rl->cap = 0;
}

/* ---- FIFOs ------------------------------------------------------------------------ */

static int
fifo_walk(struct objlist *l, const char *dir, int depth, int maxdepth, bool have_fifo)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int rc = 0;

    if (d == NULL)
        return 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        struct stat sb;
        char *path;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (!S_ISFIFO(sb.st_mode) && !(S_ISDIR(sb.st_mode) && depth < maxdepth))
            continue;
        path = dup_printf("%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", de->d_name);
        if (path == NULL) {
            rc = -ENOMEM;
            break;
        }
        if (S_ISDIR(sb.st_mode)) {
            rc = fifo_walk(l, path, depth + 1, maxdepth, have_fifo);
            free(path);
            continue;
        }
        struct obj *o = obj_add(l, "fifo");
        if (o == NULL) {
            free(path);
            rc = -ENOMEM;
            break;
        }
        o->path = path;
        o->uid = (long) sb.st_uid;
        o->mode = sb.st_mode & 07777;
        o->dev = (unsigned long long) sb.st_dev;
        o->ino = (unsigned long long) sb.st_ino;
        o->hint = hint_path(path);
        if (have_fifo)
            o->name = dup_printf("fifo:%s", path);
    }
    (void) closedir(d);
    return rc;
}

/* ---- output ------------------------------------------------------------------------ */

static void
put_num(long long v, int width)
{
    if (v < 0)
        (void) printf("%*s", width, "-");
    else
        (void) printf("%*lld", width, v);
}

static void
print_table(const struct objlist *l)
{
    (void) printf("%-9s %6s %-10s %-8s %4s %10s %5s %7s %-5s %-6s %s\n", "KIND", "ID", "KEY",
                  "OWNER", "MODE", "BYTES", "COUNT", "CPID", "ALIVE", "IPCKIT", "NAME");
    for (size_t i = 0; i < l->n; i++) {
        const struct obj *o = &l->v[i];
        struct passwd *pw = getpwuid((uid_t) o->uid);
        char owner[32];
        if (pw != NULL)
            (void) snprintf(owner, sizeof owner, "%s", pw->pw_name);
        else
            (void) snprintf(owner, sizeof owner, "%ld", o->uid);
        (void) printf("%-9s ", o->kind);
        put_num(o->id, 6);
        if (o->key >= 0)
            (void) printf(" 0x%08llx", o->key);
        else
            (void) printf(" %-10s", "-");
        (void) printf(" %-8s %04o ", cli_esc(owner), o->mode);
        put_num(o->bytes, 10);
        (void) putchar(' ');
        put_num(o->count, 5);
        (void) putchar(' ');
        put_num(o->cpid, 7);
        (void) printf(" %-5s %-6s %s\n", o->alive < 0 ? "-" : o->alive ? "yes" : "no",
                      o->hint ? o->hint : "-",
                      cli_esc(o->name ? o->name : o->path ? o->path : "-"));
    }
}

static void
json_num(const char *key, long long v)
{
    if (v < 0)
        (void) printf(", \"%s\": null", key);
    else
        (void) printf(", \"%s\": %lld", key, v);
}

static void
print_json(const struct objlist *l)
{
    (void) fputs("[", stdout);
    for (size_t i = 0; i < l->n; i++) {
        const struct obj *o = &l->v[i];
        struct passwd *pw = getpwuid((uid_t) o->uid);
        (void) printf("%s\n  {\"kind\": \"%s\"", i ? "," : "", o->kind);
        json_num("id", o->id);
        if (o->key >= 0)
            (void) printf(", \"key\": \"0x%08llx\"", o->key);
        else
            (void) fputs(", \"key\": null", stdout);
        (void) fputs(", \"path\": ", stdout);
        if (o->path)
            cli_json_string(stdout, o->path);
        else
            (void) fputs("null", stdout);
        (void) fputs(", \"name\": ", stdout);
        if (o->name)
            cli_json_string(stdout, o->name);
        else
            (void) fputs("null", stdout);
        (void) printf(", \"uid\": %ld, \"owner\": ", o->uid);
        if (pw != NULL)
            cli_json_string(stdout, pw->pw_name);
        else
            (void) fputs("null", stdout);
        (void) printf(", \"mode\": \"%04o\"", o->mode);
        json_num("bytes", o->bytes);
        json_num("size", o->size);
        json_num("count", o->count);
        json_num("creator_pid", o->cpid);
        (void) printf(", \"creator_alive\": %s",
                      o->alive < 0 ? "null" : o->alive ? "true" : "false");
        json_num("last_send_pid", o->lspid);
        json_num("last_recv_pid", o->lrpid);
        if (o->hint)
            (void) printf(", \"ipckit\": \"%s\"}", o->hint);
        else
            (void) fputs(", \"ipckit\": null}", stdout);
    }
    (void) fputs(l->n ? "\n]\n" : "]\n", stdout);
}

/* ---- ls ---------------------------------------------------------------------------- */

/*
 * PHP's shared state: a segment beside a set of 3 semaphores, under the
 * same key (shm_attach($k) and sem_get($k)) or under the keys of one file
 * with the tutorial's projs (ftok($f, 'm') and ftok($f, 's')). Both get the
 * sysvshm: name that opens them. Seen from /proc only: nothing is attached.
 */
static void
php_pairs(struct objlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        struct obj *shm = &l->v[i];
        if (strcmp(shm->kind, "shm") != 0 || shm->key <= 0 || shm->name != NULL)
            continue;
        for (size_t j = 0; j < l->n; j++) {
            struct obj *sem = &l->v[j];
            long long pair = ((unsigned long long) shm->key >> 24) == 'm'
                                 ? (long long) (((unsigned long long) shm->key & 0xffffffu) |
                                                ((unsigned long long) 's' << 24))
                                 : -1;
            if (strcmp(sem->kind, "sem") != 0 || sem->count != 3 || sem->name != NULL ||
                (sem->key != shm->key && sem->key != pair))
                continue;
            shm->name = sem->key == shm->key ? dup_printf("sysvshm:0x%llx", shm->key)
                                             : dup_printf("sysvshm:0x%llx?sem=0x%llx",
                                                          shm->key, sem->key);
            sem->name = shm->name != NULL ? strdup(shm->name) : NULL;
            shm->hint = sem->hint = "php";
            break;
        }
    }
}

static int
collect_sysv(struct objlist *l)
{
    static const char *const kinds[] = { "msg", "shm", "sem" };
    for (size_t i = 0; i < 3; i++) {
        int rc = sysv_read(l, kinds[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int
cli_ls(int argc, char **argv)
{
    static const struct option longopts[] = { { "json", no_argument, NULL, 'j' },
                                              { "depth", required_argument, NULL, 'd' },
                                              { NULL, 0, NULL, 0 } };
    static const char *const default_dirs[] = { "/tmp", "/run" };
    struct objlist l = { NULL, 0, 0 };
    struct reclist rl = { NULL, 0, 0 };
    bool json = false, have_fifo = ipckit_backend_find("fifo") != NULL, mqueue_listed = false;
    long depth = LS_DEPTH_DEFAULT;
    int opt, rc;

    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":jd:", longopts, NULL)) != -1) {
        if (opt == 'j') {
            json = true;
        } else if (opt == 'd') {
            if (!cli_parse_long(optarg, 1, LS_DEPTH_MAX, &depth)) {
                cli_err("bad value \"%s\" for --depth: a number from 1 to %d", optarg,
                        LS_DEPTH_MAX);
                return CLI_USAGE;
            }
        } else {
            cli_err("unknown option or missing value in \"%s\"; see \"ipckit ls --help\"",
                    argv[optind - 1]);
            return CLI_USAGE;
        }
    }
    for (int i = optind; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) < 0 || !S_ISDIR(sb.st_mode)) {
            cli_err("%s: not a directory", argv[i]);
            return CLI_USAGE;
        }
    }
    rc = collect_sysv(&l);
    if (rc == 0)
        php_pairs(&l);
    if (rc == 0)
        rc = posix_read(&l, "/dev/shm", NULL);
    if (rc == 0)
        rc = posix_read(&l, "/dev/mqueue", &mqueue_listed);
    if (optind < argc) {
        for (int i = optind; rc == 0 && i < argc; i++)
            rc = fifo_walk(&l, argv[i], 1, (int) depth, have_fifo);
    } else {
        for (size_t i = 0; rc == 0 && i < 2; i++)
            rc = fifo_walk(&l, default_dirs[i], 1, (int) depth, have_fifo);
    }
    if (rc == 0)
        rc = records_load(&rl);
    if (rc == 0) {
        records_attach(&l, &rl);
        if (!mqueue_listed)
            rc = records_add_queues(&l, &rl);
    }
    records_free(&rl);
    if (rc < 0) {
        cli_err("%s", strerror(-rc));
        objlist_free(&l);
        return CLI_FAIL;
    }
    if (json)
        print_json(&l);
    else
        print_table(&l);
    objlist_free(&l);
    if (fflush(stdout) != 0) {
        cli_err("writing standard output: %s", strerror(errno));
        return CLI_FAIL;
    }
    return CLI_OK;
}

/* ---- rm --stale ---------------------------------------------------------------------- */

enum want_kind { WANT_KEY, WANT_SHM, WANT_POSIXMQ, WANT_FIFO };

struct wanted {
    const char *arg;
    enum want_kind kind;
    const char *leaf; /* WANT_SHM: the object's name in /dev/shm */
    char *target;     /* WANT_POSIXMQ: "/NAME"; WANT_FIFO: its absolute path */
    long long key;    /* WANT_KEY */
    bool seen;        /* an object, or an orphan record, answers to it */
    char why[ESC_CAP + 256]; /* reason it was not removed, or "" */
};

static void
want_why(struct wanted *w, const char *what, const char *why)
{
    if (what != NULL)
        (void) snprintf(w->why, sizeof w->why, "%s: %s", what, why);
    else
        (void) snprintf(w->why, sizeof w->why, "%s", why);
}

static int
parse_key_arg(const char *arg, long long *key)
{
    long v;
    ipckit_name *n = NULL;
    key_t k;
    int rc;
    if (strchr(arg, ':') == NULL) {
        if (!cli_parse_long(arg, INT32_MIN, UINT32_MAX, &v) || v == 0) {
            cli_err("%s: not a System V key (a non-zero number such as 0x1234) or a name", arg);
            return CLI_USAGE;
        }
        *key = (long long) (uint32_t) v;
        return CLI_OK;
    }
    rc = ipckit_name_parse(arg, &n);
    if (rc == 0)
        rc = ipckit_name_sysv_key(n, &k);
    ipckit_name_free(n);
    if (rc < 0) {
        cli_err("%s: %s", arg, *ipckit_error_detail() ? cli_detail(ipckit_error_detail(), arg)
                                                       : ipckit_strerror(rc));
        return rc == -ENOENT ? CLI_FAIL : CLI_USAGE;
    }
    *key = (long long) (uint32_t) k;
    return CLI_OK;
}

/*
 * Decide about one System V segment. Returns NULL if it is stale and may be
 * removed, else why not.
 */
static const char *
stale_verdict(const struct obj *o, bool named)
{
    static char why[96];
    long euid = (long) geteuid();
    if (!named && o->hint == NULL)
        return "its key does not look like ipckit's (name its key to consider it)";
    if (o->uid != euid)
        return "it belongs to another user";
    if (o->count != 0) {
        (void) snprintf(why, sizeof why, "%ld process%s attached", o->count,
                        o->count == 1 ? " has it" : "es have it");
        return why;
    }
    if (o->alive != 0) {
        if (o->alive < 0)
            return "its creator pid is unknown";
        (void) snprintf(why, sizeof why, "its creator (pid %ld) is alive", o->cpid);
        return why;
    }
    return NULL;
}

/* Check again just before removing that the segment is the one judged. */
static const char *
stale_remove(const struct obj *o)
{
    struct shmid_ds ds;
    if (shmctl((int) o->id, IPC_STAT, &ds) < 0)
        return errno == EINVAL || errno == EIDRM ? "it is already gone" : strerror(errno);
    if ((uint32_t) ds.shm_perm.__key != (uint32_t) o->key || (long) ds.shm_cpid != o->cpid)
        return "it was replaced meanwhile";
    if (ds.shm_nattch != 0)
        return "a process attached it meanwhile";
    if (shmctl((int) o->id, IPC_RMID, NULL) < 0)
        return strerror(errno);
    return NULL;
}

/*
 * True when a process has the object open or mapped (scans /proc): a
 * descriptor whose link reads @p path; when @p ino is not 0, one whose link
 * ends in the same file name and whose inode is (@p dev, @p ino) (a POSIX
 * queue's descriptor reads "/NAME", a FIFO opened through a symbolic link
 * reads the resolved path); with @p maps, a mapping of @p path.
 */
static bool
path_in_use(const char *path, unsigned long long dev, unsigned long long ino, bool maps)
{
    DIR *proc = opendir("/proc");
    struct dirent *pe;
    bool used = false;
    size_t plen = strlen(path);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (proc == NULL)
        return true; /* cannot tell: assume it is */
    while (!used && (pe = readdir(proc)) != NULL) {
        char dpath[300], line[4096], target[4096];
        DIR *fds;
        struct dirent *fe;
        FILE *mapf;
        if (pe->d_name[0] < '0' || pe->d_name[0] > '9')
            continue;
        (void) snprintf(dpath, sizeof dpath, "/proc/%s/fd", pe->d_name);
        fds = opendir(dpath);
        while (fds != NULL && !used && (fe = readdir(fds)) != NULL) {
            char lpath[600];
            const char *tbase;
            struct stat sb;
            ssize_t n;
            (void) snprintf(lpath, sizeof lpath, "%s/%s", dpath, fe->d_name);
            n = readlink(lpath, target, sizeof target - 1);
            if (n <= 0)
                continue;
            target[n] = '\0';
            used = strcmp(target, path) == 0;
            if (used || ino == 0 || target[0] != '/')
                continue;
            tbase = strrchr(target, '/') + 1;
            /* stat() of the link reaches the open file's inode; only for
             * a file of the same name, so no unrelated file is touched */
            used = strcmp(tbase, base) == 0 && stat(lpath, &sb) == 0 &&
                   (unsigned long long) sb.st_dev == dev &&
                   (unsigned long long) sb.st_ino == ino;
        }
        if (fds != NULL)
            (void) closedir(fds);
        if (!maps)
            continue;
        (void) snprintf(dpath, sizeof dpath, "/proc/%s/maps", pe->d_name);
        mapf = fopen(dpath, "r");
        while (mapf != NULL && !used && fgets(line, sizeof line, mapf) != NULL) {
            char *at = strstr(line, path);
            used = at != NULL && (at[plen] == '\n' || at[plen] == ' ' || at[plen] == '\0');
        }
        if (mapf != NULL)
            (void) fclose(mapf);
    }
    (void) closedir(proc);
    return used;
}

/* ---- rm --stale: what an object still holds --------------------------------------- */

/* How rm --stale runs. */
struct sweep {
    bool dry;     /* --dry-run: remove nothing */
    bool verbose; /* --verbose: say what was removed and kept, and why */
    bool discard; /* --discard: remove stale objects that still hold data too */
};

/*
 * What a stale object still holds, which removing it would drop: the
 * messages and bytes queued in a queue, POSIX queue or ring; in a region,
 * the variables of its variable store or, when its data area is no variable
 * store, any byte that is not zero. A FIFO holds nothing once no process has
 * it open (the kernel drops a pipe's bytes with its last descriptor), and
 * rm --stale removes only FIFOs that nobody has open.
 */
struct held {
    int state;        /* 0: nothing; 1: something; -1: cannot tell */
    char what[160];   /* "3 messages, 120 bytes", or why it cannot tell */
    const char *verb; /* how it is held: "queued", "set", or NULL */
};

static void
held_unknown(struct held *h, const char *why)
{
    h->state = -1;
    h->verb = NULL;
    (void) snprintf(h->what, sizeof h->what, "%s", why);
}

/* @p n things called @p one / @p many (-1: unknown) in @p bytes bytes (-1: unknown). */
static void
held_count(struct held *h, long long n, const char *one, const char *many, long long bytes,
           const char *verb)
{
    h->verb = verb;
    if (n < 0) {
        /* a count is needed: a message may be empty */
        held_unknown(h, "cannot tell how many messages it holds");
        return;
    }
    h->state = n > 0 || bytes > 0 ? 1 : 0;
    if (bytes >= 0)
        (void) snprintf(h->what, sizeof h->what, "%lld %s, %lld byte%s", n, n == 1 ? one : many,
                        bytes, bytes == 1 ? "" : "s");
    else
        (void) snprintf(h->what, sizeof h->what, "%lld %s", n, n == 1 ? one : many);
}

/* The text for "kept ...: TEXT" and "would remove ... (...; TEXT)". */
static const char *
held_now(const struct held *h, char *buf, size_t cap)
{
    if (h->state == 0)
        return "empty";
    if (h->state < 0)
        (void) snprintf(buf, cap, "cannot tell what it holds: %s", h->what);
    else if (h->verb != NULL)
        (void) snprintf(buf, cap, "%s %s", h->what, h->verb);
    else
        (void) snprintf(buf, cap, "%s", h->what);
    return buf;
}

/* The text for "removed ... (...; TEXT)". */
static const char *
held_dropped(const struct held *h, char *buf, size_t cap)
{
    if (h->state == 0)
        return "empty";
    if (h->state < 0)
        (void) snprintf(buf, cap, "dropped what it held, unknown: %s", h->what);
    else
        (void) snprintf(buf, cap, "dropped %s", h->what);
    return buf;
}

/*
 * Whether rm --stale keeps object @p label (otherwise stale) for what it
 * holds: yes when it holds something, or cannot tell, unless the object was
 * named (@p named) or --discard was given. A kept object is always reported,
 * with how to remove it anyway.
 */
static bool
held_keeps(const struct held *h, bool named, const struct sweep *sw, const char *label)
{
    char buf[256];
    if (h->state == 0 || named || sw->discard)
        return false;
    (void) printf("kept %s: %s; name it or use --discard\n", label, held_now(h, buf, sizeof buf));
    return true;
}

/* Report a removal (or, with --dry-run, what would be removed): always when
 * it drops something, else with --verbose or --dry-run. */
static void
held_removed(const struct sweep *sw, const char *what, const char *because, const struct held *h)
{
    char buf[256];
    if (!sw->dry && !sw->verbose && h->state == 0)
        return;
    (void) printf("%s %s (%s; %s)\n", sw->dry ? "would remove" : "removed", what, because,
                  sw->dry ? held_now(h, buf, sizeof buf) : held_dropped(h, buf, sizeof buf));
}

/* Messages and bytes queued in the ring open at @p fd. */
static void
ring_held(int fd, struct held *h)
{
    unsigned char b[LS_RING_HDR_READ];
    long long msgs, bytes;
    if (pread(fd, b, sizeof b, 0) != (ssize_t) sizeof b) {
        held_unknown(h, "its header cannot be read");
        return;
    }
    /* nobody has it open: the indexes are still; but trust no byte */
    if (ring_fill(b, &msgs, &bytes) < 0) {
        held_unknown(h, "its indexes are out of range");
        return;
    }
    held_count(h, msgs, "message", "messages", bytes, "queued");
}

/* True when a byte of [@p from, @p to) of @p fd is not zero; -1 on error.
 * Holes read as zero and are skipped (SEEK_DATA). */
static int
any_nonzero(int fd, off_t from, off_t to)
{
    static unsigned char buf[65536];
    off_t at = from;
    while (at < to) {
        off_t data = lseek(fd, at, SEEK_DATA), end;
        if (data < 0)
            return errno == ENXIO ? 0 : -1; /* ENXIO: only holes from here */
        if (data >= to)
            return 0;
        end = lseek(fd, data, SEEK_HOLE);
        if (end < 0 || end > to)
            end = to;
        for (at = data; at < end;) {
            size_t want = (size_t) (end - at) < sizeof buf ? (size_t) (end - at) : sizeof buf;
            ssize_t n = pread(fd, buf, want, at);
            if (n <= 0)
                return -1;
            for (ssize_t i = 0; i < n; i++)
                if (buf[i] != 0)
                    return 1;
            at += n;
        }
    }
    return 0;
}

/*
 * What the region open at @p fd (@p size bytes) holds: the variables of its
 * variable store, counted from the entries, and their bytes; or, when the
 * data area is no variable store, whether a byte of it is not zero.
 */
static void
region_held(int fd, off_t size, struct held *h)
{
    uint64_t dsize = 0;
    long long vars = 0, bytes = 0;
    switch (region_vars(fd, size, &dsize, &vars, &bytes)) {
    case 1: held_count(h, vars, "variable", "variables", bytes, "set"); return;
    case -1: held_unknown(h, "its header does not match its size"); return;
    case -2: held_unknown(h, "its variable store cannot be read"); return;
    default: break;
    }
    switch (any_nonzero(fd, LS_REGION_HDR, size)) {
    case 0:
        h->state = 0;
        h->verb = NULL;
        (void) snprintf(h->what, sizeof h->what, "all zero");
        break;
    case 1:
        h->state = 1;
        h->verb = NULL;
        (void) snprintf(h->what, sizeof h->what, "%llu bytes of data, not all zero",
                        (unsigned long long) dsize);
        break;
    default:
        held_unknown(h, "its data area cannot be read");
        break;
    }
}

/* What the ring or region @p o holds; NULL, or why it cannot be judged. */
static const char *
shm_held(const struct obj *o, struct held *h)
{
    struct stat sb;
    int fd = open(o->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? "it is already gone" : strerror(errno);
    if (fstat(fd, &sb) < 0 || (unsigned long long) sb.st_ino != o->ino ||
        (unsigned long long) sb.st_dev != o->dev) {
        (void) close(fd);
        return "it was replaced meanwhile";
    }
    if (strcmp(o->hint, "ring") == 0)
        ring_held(fd, h);
    else
        region_held(fd, sb.st_size, h);
    (void) close(fd);
    return NULL;
}

/*
 * ipckit's rings and regions in /dev/shm: stale when the creator recorded in
 * the header is gone (its pid is free, or now belongs to a process started
 * at another time), no process has the object open or mapped, and it
 * belongs to the caller. One that still holds messages or state is kept
 * unless it was named or --discard was given.
 */
static void
posix_stale(struct wanted *want, size_t nwant, const struct sweep *sw)
{
    struct objlist l = { NULL, 0, 0 };
    bool any_leaf = false;
    for (size_t j = 0; j < nwant; j++)
        any_leaf = any_leaf || want[j].kind == WANT_SHM;
    if (nwant > 0 && !any_leaf)
        return;
    if (posix_read(&l, "/dev/shm", NULL) < 0)
        return;
    for (size_t i = 0; i < l.n; i++) {
        const struct obj *o = &l.v[i];
        const char *leaf = strrchr(o->path, '/') + 1;
        struct wanted *w = NULL;
        const char *why = NULL;
        struct held h = { 0, "", NULL };
        char uname[300], label[ESC_CAP + 32], because[64];
        if (o->hint == NULL)
            continue;
        for (size_t j = 0; j < nwant && w == NULL; j++)
            if (want[j].kind == WANT_SHM && strcmp(want[j].leaf, leaf) == 0)
                w = &want[j];
        if (nwant > 0 && w == NULL)
            continue;
        if (w != NULL)
            w->seen = true;
        if (o->uid != (long) geteuid())
            why = "it belongs to another user";
        else if (o->alive == 1)
            why = "its creator is alive";
        else if (o->alive < 0)
            why = "its creator is unknown";
        else if (path_in_use(o->path, o->dev, o->ino, true))
            why = "a process has it open or mapped";
        else
            why = shm_held(o, &h); /* after the scan: this reads it through a descriptor */
        if (why != NULL) {
            if (w != NULL)
                want_why(w, NULL, why);
            else if (sw->verbose)
                (void) printf("kept %s %s: %s\n", o->hint, cli_esc(o->path), why);
            continue;
        }
        (void) snprintf(label, sizeof label, "%s shm:/%s", o->hint, cli_esc(leaf));
        if (held_keeps(&h, w != NULL, sw, label))
            continue;
        if (!sw->dry) {
            (void) snprintf(uname, sizeof uname, "/%s", leaf);
            if (shm_unlink(uname) < 0) {
                if (w != NULL)
                    want_why(w, NULL, strerror(errno));
                else if (sw->verbose)
                    (void) printf("kept %s %s: %s\n", o->hint, cli_esc(o->path),
                                  strerror(errno));
                continue;
            }
        }
        (void) snprintf(label, sizeof label, "%s %s", o->hint, cli_esc(o->path));
        (void) snprintf(because, sizeof because, "creator pid %ld gone, not open or mapped",
                        o->cpid);
        held_removed(sw, label, because, &h);
    }
    objlist_free(&l);
}

/* ---- rm --stale: objects with a creator record ---------------------------------------- */

#define WHY_UNKNOWN "its creator is unknown (no trusted ipckit creator record)"

/* Remove the record file of @p rc, which rm --stale has judged. */
static void
record_unlink(struct rec *rc)
{
    char path[sizeof IPCKIT__CREC_DIR + NAME_MAX + 2];
    (void) snprintf(path, sizeof path, "%s/%s", IPCKIT__CREC_DIR, rc->leaf);
    (void) unlink(path);
    rc->done = true;
}

/* Why the creator of record @p rc does not let its object go, or NULL. */
static const char *
creator_verdict(const struct rec *rc, char *buf, size_t cap)
{
    int alive = creator_alive(rc->r.pid, rc->r.start);
    if (alive < 0)
        return "its creator is unknown";
    if (alive > 0) {
        (void) snprintf(buf, cap, "its creator (pid %ld) is alive", rc->r.pid);
        return buf;
    }
    return NULL;
}

/*
 * A System V queue: stale when its trusted record names a creator that is
 * gone, its last sender and last receiver are gone too (or none came), and
 * it belongs to the caller. A queue has no "open": a process that keeps its
 * id and has not used it yet cannot be seen, so the sender and receiver are
 * the only proof of use there is.
 */
static const char *
queue_verdict(const struct obj *o, char *buf, size_t cap)
{
    const char *why;
    if (o->rec == NULL)
        return WHY_UNKNOWN;
    if (o->uid != (long) geteuid())
        return "it belongs to another user";
    why = creator_verdict(o->rec, buf, cap);
    if (why != NULL)
        return why;
    if (o->lspid > 0 && cli_pid_alive(o->lspid) != 0) {
        (void) snprintf(buf, cap, "its last sender (pid %ld) is alive", o->lspid);
        return buf;
    }
    if (o->lrpid > 0 && cli_pid_alive(o->lrpid) != 0) {
        (void) snprintf(buf, cap, "its last receiver (pid %ld) is alive", o->lrpid);
        return buf;
    }
    return NULL;
}

/* Check again just before removing that the queue is the one judged, and
 * still holds what was counted. */
static const char *
queue_remove(const struct obj *o)
{
    struct msqid_ds ds;
    if (msgctl((int) o->id, IPC_STAT, &ds) < 0)
        return errno == EINVAL || errno == EIDRM ? "it is already gone" : strerror(errno);
    if ((uint32_t) ds.msg_perm.__key != (uint32_t) o->key ||
        (long long) ds.msg_ctime != o->ctime)
        return "it was replaced meanwhile";
    if ((long) ds.msg_lspid != o->lspid || (long) ds.msg_lrpid != o->lrpid ||
        (long) ds.msg_qnum != o->count || (long long) ds.__msg_cbytes != o->bytes)
        return "a process used it meanwhile";
    if (msgctl((int) o->id, IPC_RMID, NULL) < 0)
        return strerror(errno);
    return NULL;
}

/*
 * System V queues: stale as queue_verdict() says. One that still holds
 * messages (msg_qnum and msg_cbytes, as IPC_STAT gives them, read from
 * /proc/sysvipc/msg for the very id judged, and checked again before
 * IPC_RMID) is kept unless it was named or --discard was given.
 */
static void
queues_stale(struct objlist *l, struct wanted *want, size_t nwant, const struct sweep *sw)
{
    for (size_t i = 0; i < l->n; i++) {
        struct obj *o = &l->v[i];
        struct wanted *w = NULL;
        struct held h;
        char buf[128], what[64], label[96], because[96];
        const char *why;
        if (strcmp(o->kind, "msg") != 0)
            continue;
        if (nwant > 0) {
            for (size_t j = 0; j < nwant && w == NULL; j++)
                if (want[j].kind == WANT_KEY && want[j].key == o->key)
                    w = &want[j];
            if (w == NULL)
                continue;
            w->seen = true;
        }
        (void) snprintf(what, sizeof what, "queue 0x%08llx id %ld", o->key, o->id);
        why = queue_verdict(o, buf, sizeof buf);
        if (why == NULL) {
            held_count(&h, o->count, "message", "messages", o->bytes, "queued");
            (void) snprintf(label, sizeof label, "queue mq:0x%08llx (id %ld)", o->key, o->id);
            if (held_keeps(&h, w != NULL, sw, label))
                continue;
        }
        if (why == NULL && !sw->dry) {
            why = queue_remove(o);
            if (why == NULL)
                record_unlink(o->rec);
        }
        if (why != NULL) {
            if (w != NULL)
                want_why(w, what, why);
            else if (sw->verbose)
                (void) printf("kept %s: %s\n", what, why);
            continue;
        }
        (void) snprintf(because, sizeof because,
                        "creator pid %ld gone, no live sender or receiver", o->rec->r.pid);
        held_removed(sw, what, because, &h);
    }
}

/*
 * A POSIX queue or a FIFO: stale when its trusted record names a creator
 * that is gone, no process has it open, and it belongs to the caller.
 */
static const char *
open_object_verdict(const struct rec *rc, const char *path, const struct stat *sb,
                    char *buf, size_t cap)
{
    const char *why;
    if (rc == NULL)
        return WHY_UNKNOWN;
    if (sb->st_uid != geteuid())
        return "it belongs to another user";
    why = creator_verdict(rc, buf, cap);
    if (why != NULL)
        return why;
    if (path_in_use(path, (unsigned long long) sb->st_dev, (unsigned long long) sb->st_ino,
                    false))
        return "a process has it open";
    return NULL;
}

/* Report the judgement of a POSIX queue or FIFO: @p why it was kept, else
 * its removal with what it held. */
static void
report(struct wanted *w, const struct sweep *sw, const char *what, const char *why, long pid,
       const struct held *h)
{
    char because[64];
    if (why != NULL) {
        if (w != NULL)
            want_why(w, what, why);
        else if (sw->verbose)
            (void) printf("kept %s: %s\n", what, why);
        return;
    }
    (void) snprintf(because, sizeof because, "creator pid %ld gone, not open", pid);
    held_removed(sw, what, because, h);
}

/*
 * Judge the POSIX queue @p name; @p only: a record it must be judged with.
 * One that still holds messages is kept unless it was named (@p w) or
 * --discard was given; the count is taken again just before mq_unlink(),
 * with the inode.
 */
static void
posixmq_judge(const char *name, struct rec *only, struct reclist *rl, struct wanted *w,
              const struct sweep *sw)
{
    struct ipckit__crec id;
    struct stat sb, again;
    struct mq_fill fill, now;
    struct held h = { 0, "", NULL };
    struct rec *rc;
    char buf[128], what[ESC_CAP + 16], label[ESC_CAP + 32];
    const char *why;
    int r = mq_probe(name, &sb, &fill);
    if (r < 0) {
        if (w != NULL && r != -ENOENT) {
            w->seen = true;
            want_why(w, NULL, strerror(-r));
        }
        return;
    }
    memset(&id, 0, sizeof id);
    id.kind = IPCKIT__CREC_POSIXMQ;
    id.ino = (unsigned long long) sb.st_ino;
    (void) snprintf(id.target, sizeof id.target, "%s", name);
    rc = record_trusted(rl, &id, (long) sb.st_uid);
    if (only != NULL && rc != only)
        return; /* that record is not this queue's: the sweep judges it */
    if (w != NULL)
        w->seen = true;
    if (rc != NULL)
        rc->live = true;
    (void) snprintf(what, sizeof what, "posixmq %s", cli_esc(name));
    why = open_object_verdict(rc, name, &sb, buf, sizeof buf);
    if (why == NULL) {
        held_count(&h, fill.messages, "message", "messages", fill.bytes, "queued");
        (void) snprintf(label, sizeof label, "POSIX queue posixmq:%s", cli_esc(name));
        if (held_keeps(&h, w != NULL, sw, label))
            return;
    }
    if (why == NULL && !sw->dry) {
        if (mq_probe(name, &again, &now) < 0 || again.st_ino != sb.st_ino)
            why = "it was replaced meanwhile";
        else if (now.messages != fill.messages || now.bytes != fill.bytes)
            why = "a process used it meanwhile";
        else if (mq_unlink(name) < 0)
            why = strerror(errno);
        else
            record_unlink(rc);
    }
    report(w, sw, what, why, rc != NULL ? rc->r.pid : -1, &h);
}

/* Unlink the FIFO at @p path if it still is the inode of @p id. */
static const char *
fifo_remove(const char *path, const struct ipckit__crec *id)
{
    char dir[IPCKIT__CREC_TARGET_MAX];
    const char *slash = strrchr(path, '/');
    struct stat sb;
    const char *why = NULL;
    int dfd;
    if (slash == NULL || (size_t) (slash - path) >= sizeof dir)
        return "bad path";
    (void) snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int) (slash - path), path);
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return strerror(errno);
    if (fstatat(dfd, slash + 1, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISFIFO(sb.st_mode) ||
        (unsigned long long) sb.st_dev != id->dev || (unsigned long long) sb.st_ino != id->ino)
        why = "it was replaced meanwhile";
    else if (unlinkat(dfd, slash + 1, 0) < 0)
        why = strerror(errno);
    (void) close(dfd);
    return why;
}

/* Judge the FIFO at @p path; @p only: a record it must be judged with. */
static void
fifo_judge(const char *path, struct rec *only, struct reclist *rl, struct wanted *w,
           const struct sweep *sw)
{
    static const struct held nothing = { 0, "", NULL }; /* see struct held */
    struct ipckit__crec id;
    unsigned long owner = 0;
    struct stat sb;
    struct rec *rc;
    char buf[128], what[ESC_CAP + 16];
    const char *why;
    int r = ipckit__crec_fifo_identity(path, &id, &owner);
    if (r < 0) {
        if (w != NULL && r != -ENOENT) {
            w->seen = true;
            want_why(w, NULL, r == -EINVAL ? "it is not a FIFO" : strerror(-r));
        }
        return;
    }
    rc = record_trusted(rl, &id, (long) owner);
    if (only != NULL && rc != only)
        return; /* that record is not this FIFO's: the sweep judges it */
    if (w != NULL)
        w->seen = true;
    if (rc != NULL)
        rc->live = true;
    memset(&sb, 0, sizeof sb);
    sb.st_dev = (dev_t) id.dev;
    sb.st_ino = (ino_t) id.ino;
    sb.st_uid = (uid_t) owner;
    (void) snprintf(what, sizeof what, "fifo %s", cli_esc(path));
    why = open_object_verdict(rc, path, &sb, buf, sizeof buf);
    if (why == NULL && !sw->dry) {
        why = fifo_remove(path, &id);
        if (why == NULL)
            record_unlink(rc);
    }
    report(w, sw, what, why, rc != NULL ? rc->r.pid : -1, &nothing);
}

/* POSIX queues and FIFOs: those named, or else all that have a record. */
static void
recorded_stale(struct wanted *want, size_t nwant, struct reclist *rl, const struct sweep *sw)
{
    if (nwant > 0) {
        for (size_t j = 0; j < nwant; j++) {
            if (want[j].kind == WANT_POSIXMQ)
                posixmq_judge(want[j].target, NULL, rl, &want[j], sw);
            else if (want[j].kind == WANT_FIFO)
                fifo_judge(want[j].target, NULL, rl, &want[j], sw);
        }
        return;
    }
    for (size_t i = 0; i < rl->n; i++) {
        struct rec *rc = &rl->v[i];
        if (rc->status != 0 || rc->done || rc->live)
            continue;
        if (rc->r.kind == IPCKIT__CREC_POSIXMQ)
            posixmq_judge(rc->r.target, rc, rl, NULL, sw);
        else if (rc->r.kind == IPCKIT__CREC_FIFO)
            fifo_judge(rc->r.target, rc, rl, NULL, sw);
    }
}

/*
 * Is the object of record @p rc gone? 1 (gone, or its identity now names
 * another object), 0 (it exists), -1 (cannot tell). @p l lists the System V
 * queues, read after the records were.
 */
static int
record_orphaned(const struct rec *rc, const struct objlist *l, bool msg_listed,
                const char **what)
{
    struct ipckit__crec now;
    struct stat sb;
    int r;
    memset(&now, 0, sizeof now);
    switch (rc->r.kind) {
    case IPCKIT__CREC_MQ:
        *what = "queue";
        if (!msg_listed)
            return -1;
        for (size_t i = 0; i < l->n; i++) {
            const struct obj *o = &l->v[i];
            if (strcmp(o->kind, "msg") != 0 || o->id != rc->r.id)
                continue;
            if ((unsigned long) o->key != rc->r.key)
                return 1;
            return o->ctime < 0 || o->ctime == rc->r.ctime ? 0 : 1;
        }
        return 1;
    case IPCKIT__CREC_POSIXMQ:
        *what = "POSIX queue";
        r = mq_probe(rc->r.target, &sb, NULL);
        if (r == -ENOENT)
            return 1;
        if (r < 0)
            return -1;
        return (unsigned long long) sb.st_ino == rc->r.ino ? 0 : 1;
    case IPCKIT__CREC_FIFO:
        *what = "FIFO";
        r = ipckit__crec_fifo_identity(rc->r.target, &now, NULL);
        if (r == -ENOENT || r == -ENOTDIR || r == -EINVAL)
            return 1;
        if (r < 0)
            return -1;
        return ipckit__crec_same_object(&rc->r, &now) ? 0 : 1;
    default:
        return -1;
    }
}

/*
 * Orphan records: their object was removed without ipckit (ipcrm, rm,
 * PHP's msg_remove_queue...), or their identity now names another object.
 * Removed when they belong to the caller (any, for root). With arguments,
 * only the records of the named objects.
 */
static void
records_sweep(struct wanted *want, size_t nwant, struct reclist *rl, const struct objlist *l,
              bool msg_listed, bool dry, bool verbose)
{
    for (size_t i = 0; i < rl->n; i++) {
        struct rec *rc = &rl->v[i];
        struct wanted *w = NULL;
        const char *why = NULL, *what = "object";
        char rpath[sizeof IPCKIT__CREC_DIR + NAME_MAX + 2], label[ESC_CAP + 16];
        int gone;
        if (rc->done || rc->live)
            continue;
        (void) snprintf(rpath, sizeof rpath, "%s/%s", IPCKIT__CREC_DIR, rc->leaf);
        (void) snprintf(label, sizeof label, "record %s", cli_esc(rpath));
        if (rc->status != 0) {
            if (verbose && nwant == 0)
                (void) printf("kept %s: not a valid creator record\n", label);
            continue;
        }
        for (size_t j = 0; j < nwant && w == NULL; j++) {
            const struct wanted *c = &want[j];
            if ((rc->r.kind == IPCKIT__CREC_MQ && c->kind == WANT_KEY &&
                 (unsigned long) c->key == rc->r.key) ||
                (rc->r.kind == IPCKIT__CREC_POSIXMQ && c->kind == WANT_POSIXMQ &&
                 strcmp(c->target, rc->r.target) == 0) ||
                (rc->r.kind == IPCKIT__CREC_FIFO && c->kind == WANT_FIFO &&
                 strcmp(c->target, rc->r.target) == 0))
                w = &want[j];
        }
        if (nwant > 0 && w == NULL)
            continue;
        gone = record_orphaned(rc, l, msg_listed, &what);
        if (gone == 0)
            continue; /* its object is there (the record is not trusted for it) */
        if (w != NULL)
            w->seen = true;
        if (gone < 0)
            why = "cannot tell whether its object still exists";
        else if (rc->sb.st_uid != geteuid() && geteuid() != 0)
            why = "it belongs to another user";
        if (why == NULL && !dry) {
            /* only the very record judged: same file, same content */
            struct rec again;
            memset(&again, 0, sizeof again);
            if (ipckit__crec_load(AT_FDCWD, rpath, &again.r, &again.sb) != 0 ||
                again.sb.st_ino != rc->sb.st_ino || memcmp(&again.r, &rc->r, sizeof again.r) != 0)
                why = "it changed meanwhile";
            else if (unlink(rpath) < 0)
                why = strerror(errno);
        }
        if (why != NULL) {
            if (w != NULL)
                want_why(w, label, why);
            else if (verbose)
                (void) printf("kept %s: %s\n", label, why);
            continue;
        }
        rc->done = true;
        if (dry || verbose)
            (void) printf("%s %s (its %s is gone)\n", dry ? "would remove" : "removed", label,
                          what);
    }
}

/* ---- rm --stale: the command ------------------------------------------------------------ */

/* Read argument @p arg into @p w. */
static int
parse_want(const char *arg, struct wanted *w)
{
    ipckit_name *n = NULL;
    const char *scheme, *t;
    w->arg = arg;
    if (strncmp(arg, "shm:", 4) == 0) {
        const char *leaf = arg + 4;
        while (*leaf == '/')
            leaf++;
        w->kind = WANT_SHM;
        w->leaf = leaf;
        return CLI_OK;
    }
    if (strchr(arg, ':') == NULL || ipckit_name_parse(arg, &n) < 0) {
        ipckit_name_free(n);
        w->kind = WANT_KEY;
        return parse_key_arg(arg, &w->key);
    }
    scheme = ipckit_name_scheme(n);
    t = ipckit_name_target(n);
    if (strcmp(scheme, "posixmq") == 0) {
        if (t[0] != '/' || t[1] == '\0' || strchr(t + 1, '/') != NULL) {
            cli_err("%s: a POSIX queue name is one '/' and a name without '/'", arg);
            ipckit_name_free(n);
            return CLI_USAGE;
        }
        w->kind = WANT_POSIXMQ;
        w->target = strdup(t);
    } else if (strcmp(scheme, "fifo") == 0) {
        char cwd[PATH_MAX];
        w->kind = WANT_FIFO;
        if (t[0] == '/')
            w->target = strdup(t);
        else if (getcwd(cwd, sizeof cwd) != NULL)
            w->target = dup_printf("%s%s%s", cwd, strcmp(cwd, "/") == 0 ? "" : "/", t);
    } else {
        ipckit_name_free(n);
        w->kind = WANT_KEY;
        return parse_key_arg(arg, &w->key);
    }
    ipckit_name_free(n);
    if (w->target == NULL) {
        cli_err("%s: out of memory, or the current directory cannot be read", arg);
        return CLI_FAIL;
    }
    return CLI_OK;
}

static void
want_free(struct wanted *want, size_t nwant)
{
    for (size_t j = 0; j < nwant; j++)
        free(want[j].target);
    free(want);
}

int
cli_rm_stale(int argc, char **argv)
{
    static const struct option longopts[] = { { "stale", no_argument, NULL, 'S' },
                                              { "dry-run", no_argument, NULL, 'n' },
                                              { "verbose", no_argument, NULL, 'v' },
                                              { "discard", no_argument, NULL, 'D' },
                                              { NULL, 0, NULL, 0 } };
    struct objlist l = { NULL, 0, 0 };
    struct reclist rl = { NULL, 0, 0 };
    struct sweep sw = { false, false, false };
    struct wanted *want = NULL;
    size_t nwant = 0, nsem = 0;
    bool dry = false, verbose = false, msg_listed;
    int opt, rc = CLI_OK;

    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":nv", longopts, NULL)) != -1) {
        if (opt == 'n')
            dry = true;
        else if (opt == 'v')
            verbose = true;
        else if (opt == 'D')
            sw.discard = true;
        else if (opt != 'S') {
            cli_err("unknown option \"%s\" for rm --stale; see \"ipckit rm --help\"",
                    argv[optind - 1]);
            return CLI_USAGE;
        }
    }
    if (optind < argc) {
        want = calloc((size_t) (argc - optind), sizeof *want);
        if (want == NULL) {
            cli_err("out of memory");
            return CLI_FAIL;
        }
        for (int i = optind; i < argc; i++) {
            int r = parse_want(argv[i], &want[nwant++]);
            if (r != CLI_OK) {
                want_free(want, nwant);
                return r;
            }
        }
    }
    /* Records first, objects after: a record seen here had its object
     * already, so an object missing from the list read next is gone. */
    if (records_load(&rl) < 0 || collect_sysv(&l) < 0) {
        cli_err("reading /dev/shm or /proc/sysvipc: %s", strerror(errno));
        records_free(&rl);
        objlist_free(&l);
        want_free(want, nwant);
        return CLI_FAIL;
    }
    msg_listed = access("/proc/sysvipc/msg", R_OK) == 0;
    records_attach(&l, &rl);
    for (size_t i = 0; i < l.n; i++) {
        const struct obj *o = &l.v[i];
        struct wanted *w = NULL;
        const char *why;
        char what[64];
        if (strcmp(o->kind, "sem") == 0)
            nsem++;
        if (strcmp(o->kind, "shm") != 0)
            continue;
        if (nwant > 0) {
            for (size_t j = 0; j < nwant && w == NULL; j++)
                if (want[j].kind == WANT_KEY && want[j].key == o->key)
                    w = &want[j];
            if (w == NULL)
                continue;
            w->seen = true;
        }
        (void) snprintf(what, sizeof what, "segment 0x%08llx", o->key);
        why = stale_verdict(o, w != NULL);
        if (why == NULL && !dry)
            why = stale_remove(o);
        if (why != NULL) {
            if (w != NULL)
                want_why(w, what, why);
            else if (verbose)
                (void) printf("kept shm 0x%08llx id %ld: %s\n", o->key, o->id, why);
            continue;
        }
        if (dry || verbose)
            (void) printf("%s shm 0x%08llx id %ld (%lld bytes; creator pid %ld gone, not"
                          " attached)\n",
                          dry ? "would remove" : "removed", o->key, o->id, o->bytes, o->cpid);
    }
    sw.dry = dry;
    sw.verbose = verbose;
    queues_stale(&l, want, nwant, &sw);
    posix_stale(want, nwant, &sw);
    recorded_stale(want, nwant, &rl, &sw);
    records_sweep(want, nwant, &rl, &l, msg_listed, dry, verbose);
    for (size_t j = 0; j < nwant; j++) {
        const struct wanted *w = &want[j];
        if (!w->seen) {
            if (w->kind == WANT_SHM)
                cli_err("%s: no ipckit ring or region named \"%s\" in /dev/shm", w->arg,
                        w->leaf);
            else if (w->kind == WANT_POSIXMQ)
                cli_err("%s: no POSIX message queue \"%s\", and no creator record of one",
                        w->arg, w->target);
            else if (w->kind == WANT_FIFO)
                cli_err("%s: no FIFO at %s, and no creator record of one", w->arg, w->target);
            else
                cli_err("%s: no System V shared memory segment or message queue has key"
                        " 0x%08llx",
                        w->arg, w->key);
            rc = CLI_FAIL;
        } else if (w->why[0] != '\0') {
            cli_err("%s: not removed: %s", w->arg, w->why);
            rc = CLI_FAIL;
        }
    }
    if (verbose)
        (void) printf("skipped %zu semaphore set%s, POSIX semaphores and POSIX shared memory"
                      " that is not an ipckit ring or region: nothing records their creator;"
                      " POSIX message queues and FIFOs are looked at only through their"
                      " creator records\n",
                      nsem, nsem == 1 ? "" : "s");
    records_free(&rl);
    objlist_free(&l);
    want_free(want, nwant);
    return rc;
}
