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
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ipckit/ipckit.h>
#include <ipckit/backend.h>

#include "cli.h"

#define LS_DEPTH_DEFAULT 3
#define LS_DEPTH_MAX 16
/* ftok(path, 'i'): ipckit's default proj puts 'i' in the key's top byte. */
#define LS_FTOK_PROJ 0x69u

/*
 * Headers of ipckit's POSIX shared memory objects: a 32-bit magic, version,
 * header size, the creator's pid (int32 at offset 12) and, at offset 48, the
 * creator's start time (clock ticks after boot, field 22 of /proc/PID/stat),
 * which tells a live creator from a reused pid. They are shown, and used by
 * rm --stale only together with the check that no process has the object
 * open or mapped.
 */
#define LS_START_OFFSET 48
struct ls_magic {
    uint32_t magic;
    const char *label;   /* IPCKIT column */
    const char *scheme;  /* the scheme that opens it as a channel, or NULL */
};

static const struct ls_magic ls_magics[] = {
    { 0x52534b49u, "ring", "shm" },  /* "IKSR": the shm: message ring */
    { 0x47524b49u, "region", NULL }, /* "IKRG": an ipckit_region */
};

struct obj {
    const char *kind;   /* msg shm sem posix-shm posix-sem mqueue fifo */
    long id;            /* System V id, or -1 */
    long long key;      /* System V key as unsigned 32 bits, or -1 */
    char *path;         /* file of a POSIX object or FIFO, else NULL */
    char *name;         /* ipckit name that reaches the object, or NULL */
    long uid;
    unsigned mode;
    long long bytes;    /* size or bytes queued, -1 if unknown */
    long count;         /* messages, attaches or semaphores, -1 if unknown */
    long cpid;          /* creator pid, -1 if the kernel does not record it */
    unsigned long long cstart; /* creator start time from an ipckit header, 0 if unknown */
    int alive;          /* creator alive: 1, 0, -1 unknown */
    long lspid, lrpid;  /* msg: last sender and receiver, else -1 */
    const char *hint;   /* why it looks like ipckit's ("ftok", "name"), or NULL */
};

struct objlist {
    struct obj *v;
    size_t n, cap;
};

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
    o->count = -1;
    o->cpid = -1;
    o->alive = -1;
    o->lspid = o->lrpid = -1;
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
        long long key, a = 0, b = 0, c = 0, d = 0;
        long id, uid = 0, g, cuid;
        unsigned perms;
        struct obj *o;
        int n;

        if (strcmp(what, "msg") == 0) {
            /* key msqid perms cbytes qnum lspid lrpid uid gid cuid cgid ... */
            n = sscanf(line, "%lld %ld %o %lld %lld %lld %lld %ld %ld %ld", &key, &id, &perms,
                       &a, &b, &c, &d, &uid, &g, &cuid);
            if (n < 8)
                continue;
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
            if (have_mq && o->key != 0)
                o->name = dup_printf("mq:0x%08llx", o->key);
        } else if (strcmp(what, "shm") == 0) {
            o->bytes = a;
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

/* Start time of a process (clock ticks after boot), 0 if unknown. The
 * library has the same reader (ipckit__proc_start_time), hidden: the tool
 * links only the public API, and this is not an IPC function to export. */
static unsigned long long
proc_start_time(long pid)
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
    p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    if (p == NULL)
        return 0;
    for (field = 2; *p != '\0' && field < 22; p++)
        if (*p == ' ')
            field++;
    if (field != 22 || sscanf(p, "%llu", &start) != 1)
        return 0;
    return start;
}

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
        unsigned long long now = proc_start_time(pid);
        if (now != 0 && now != start)
            alive = 0;
    }
    return alive;
}

/* Recognise an ipckit object by its header; reading changes nothing. */
static void
posix_header(struct obj *o, int dfd, const char *leaf)
{
    unsigned char h[64];
    int fd = openat(dfd, leaf, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    ssize_t n;
    if (fd < 0)
        return;
    n = pread(fd, h, sizeof h, 0);
    (void) close(fd);
    if (n != (ssize_t) sizeof h)
        return;
    for (size_t i = 0; i < sizeof ls_magics / sizeof ls_magics[0]; i++) {
        uint32_t magic;
        int32_t pid;
        uint64_t start;
        memcpy(&magic, h, sizeof magic);
        if (magic != ls_magics[i].magic)
            continue;
        o->hint = ls_magics[i].label;
        memcpy(&pid, h + 12, sizeof pid);
        memcpy(&start, h + LS_START_OFFSET, sizeof start);
        if (pid > 0) {
            o->cpid = pid;
            o->cstart = start;
            o->alive = creator_alive(pid, start);
        }
        if (ls_magics[i].scheme != NULL && ipckit_backend_find(ls_magics[i].scheme) != NULL)
            o->name = dup_printf("%s:/%s", ls_magics[i].scheme, leaf);
        return;
    }
}

static int
posix_read(struct objlist *l, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    bool mqueue = strcmp(dir, "/dev/mqueue") == 0;

    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        struct stat sb;
        struct obj *o;
        if (de->d_name[0] == '.')
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
        o->hint = hint_path(de->d_name);
        if (mqueue) {
            /* The file reads "QSIZE:n NOTIFY:..."; reading it changes nothing. */
            char buf[256] = "";
            int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
            if (fd >= 0) {
                ssize_t n = read(fd, buf, sizeof buf - 1);
                unsigned long long q;
                if (n > 0) {
                    buf[n] = '\0';
                    if (sscanf(buf, "QSIZE:%llu", &q) == 1)
                        o->bytes = (long long) q;
                }
                (void) close(fd);
            }
        } else {
            o->bytes = (long long) sb.st_size;
            if (strcmp(o->kind, "posix-shm") == 0)
                posix_header(o, dirfd(d), de->d_name);
        }
    }
    (void) closedir(d);
    return 0;
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
        (void) printf(" %-8s %04o ", owner, o->mode);
        put_num(o->bytes, 10);
        (void) putchar(' ');
        put_num(o->count, 5);
        (void) putchar(' ');
        put_num(o->cpid, 7);
        (void) printf(" %-5s %-6s %s\n", o->alive < 0 ? "-" : o->alive ? "yes" : "no",
                      o->hint ? o->hint : "-",
                      o->name ? o->name : o->path ? o->path : "-");
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
    bool json = false, have_fifo = ipckit_backend_find("fifo") != NULL;
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
        rc = posix_read(&l, "/dev/shm");
    if (rc == 0)
        rc = posix_read(&l, "/dev/mqueue");
    if (optind < argc) {
        for (int i = optind; rc == 0 && i < argc; i++)
            rc = fifo_walk(&l, argv[i], 1, (int) depth, have_fifo);
    } else {
        for (size_t i = 0; rc == 0 && i < 2; i++)
            rc = fifo_walk(&l, default_dirs[i], 1, (int) depth, have_fifo);
    }
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

struct wanted {
    const char *arg;
    const char *leaf; /* shm: names: the object's name in /dev/shm, else NULL */
    long long key;
    bool seen;
    const char *why;  /* reason it was not removed, or NULL */
};

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
        cli_err("%s: %s", arg, *ipckit_error_detail() ? ipckit_error_detail()
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

/* True when a process has @p path open or mapped (scans /proc). */
static bool
path_in_use(const char *path)
{
    DIR *proc = opendir("/proc");
    struct dirent *pe;
    bool used = false;
    size_t plen = strlen(path);
    if (proc == NULL)
        return true; /* cannot tell: assume it is */
    while (!used && (pe = readdir(proc)) != NULL) {
        char dpath[300], line[4096], target[4096];
        DIR *fds;
        struct dirent *fe;
        FILE *maps;
        if (pe->d_name[0] < '0' || pe->d_name[0] > '9')
            continue;
        (void) snprintf(dpath, sizeof dpath, "/proc/%s/fd", pe->d_name);
        fds = opendir(dpath);
        while (fds != NULL && !used && (fe = readdir(fds)) != NULL) {
            char lpath[600];
            ssize_t n;
            (void) snprintf(lpath, sizeof lpath, "%s/%s", dpath, fe->d_name);
            n = readlink(lpath, target, sizeof target - 1);
            if (n > 0) {
                target[n] = '\0';
                used = strcmp(target, path) == 0;
            }
        }
        if (fds != NULL)
            (void) closedir(fds);
        (void) snprintf(dpath, sizeof dpath, "/proc/%s/maps", pe->d_name);
        maps = fopen(dpath, "r");
        while (maps != NULL && !used && fgets(line, sizeof line, maps) != NULL) {
            char *at = strstr(line, path);
            used = at != NULL && (at[plen] == '\n' || at[plen] == ' ' || at[plen] == '\0');
        }
        if (maps != NULL)
            (void) fclose(maps);
    }
    (void) closedir(proc);
    return used;
}

/*
 * ipckit's rings and regions in /dev/shm: stale when the creator recorded in
 * the header is gone (its pid is free, or now belongs to a process started
 * at another time), no process has the object open or mapped, and it
 * belongs to the caller.
 */
static void
posix_stale(struct wanted *want, size_t nwant, bool dry, bool verbose)
{
    struct objlist l = { NULL, 0, 0 };
    bool any_leaf = false;
    for (size_t j = 0; j < nwant; j++)
        any_leaf = any_leaf || want[j].leaf != NULL;
    if (nwant > 0 && !any_leaf)
        return;
    if (posix_read(&l, "/dev/shm") < 0)
        return;
    for (size_t i = 0; i < l.n; i++) {
        const struct obj *o = &l.v[i];
        const char *leaf = strrchr(o->path, '/') + 1;
        struct wanted *w = NULL;
        const char *why = NULL;
        char uname[300];
        if (o->hint == NULL)
            continue;
        for (size_t j = 0; j < nwant && w == NULL; j++)
            if (want[j].leaf != NULL && strcmp(want[j].leaf, leaf) == 0)
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
        else if (path_in_use(o->path))
            why = "a process has it open or mapped";
        if (why == NULL && !dry) {
            (void) snprintf(uname, sizeof uname, "/%s", leaf);
            if (shm_unlink(uname) < 0)
                why = strerror(errno);
        }
        if (why != NULL) {
            if (w != NULL)
                w->why = why;
            else if (verbose)
                (void) printf("kept %s %s: %s\n", o->hint, o->path, why);
            continue;
        }
        if (dry || verbose)
            (void) printf("%s %s %s (creator pid %ld gone, not open or mapped)\n",
                          dry ? "would remove" : "removed", o->hint, o->path, o->cpid);
    }
    objlist_free(&l);
}

int
cli_rm_stale(int argc, char **argv)
{
    static const struct option longopts[] = { { "stale", no_argument, NULL, 'S' },
                                              { "dry-run", no_argument, NULL, 'n' },
                                              { "verbose", no_argument, NULL, 'v' },
                                              { NULL, 0, NULL, 0 } };
    struct objlist l = { NULL, 0, 0 };
    struct wanted *want = NULL;
    size_t nwant = 0, nmsg = 0, nsem = 0;
    bool dry = false, verbose = false;
    int opt, rc = CLI_OK;

    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":nv", longopts, NULL)) != -1) {
        if (opt == 'n')
            dry = true;
        else if (opt == 'v')
            verbose = true;
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
            int r;
            if (strncmp(argv[i], "shm:", 4) == 0) {
                const char *leaf = argv[i] + 4;
                while (*leaf == '/')
                    leaf++;
                want[nwant].leaf = leaf;
                want[nwant++].arg = argv[i];
                continue;
            }
            r = parse_key_arg(argv[i], &want[nwant].key);
            if (r != CLI_OK) {
                free(want);
                return r;
            }
            want[nwant++].arg = argv[i];
        }
    }
    if (collect_sysv(&l) < 0) {
        cli_err("reading /proc/sysvipc: %s", strerror(errno));
        free(want);
        return CLI_FAIL;
    }
    for (size_t i = 0; i < l.n; i++) {
        const struct obj *o = &l.v[i];
        struct wanted *w = NULL;
        const char *why;
        if (strcmp(o->kind, "msg") == 0) {
            nmsg++;
            continue;
        }
        if (strcmp(o->kind, "sem") == 0) {
            nsem++;
            continue;
        }
        if (nwant > 0) {
            for (size_t j = 0; j < nwant && w == NULL; j++)
                if (want[j].leaf == NULL && want[j].key == o->key)
                    w = &want[j];
            if (w == NULL)
                continue;
            w->seen = true;
        }
        why = stale_verdict(o, w != NULL);
        if (why == NULL && !dry)
            why = stale_remove(o);
        if (why != NULL) {
            if (w != NULL)
                w->why = why;
            else if (verbose)
                (void) printf("kept shm 0x%08llx id %ld: %s\n", o->key, o->id, why);
            continue;
        }
        if (dry || verbose)
            (void) printf("%s shm 0x%08llx id %ld (%lld bytes; creator pid %ld gone, not"
                          " attached)\n",
                          dry ? "would remove" : "removed", o->key, o->id, o->bytes, o->cpid);
    }
    posix_stale(want, nwant, dry, verbose);
    for (size_t j = 0; j < nwant; j++) {
        if (!want[j].seen && want[j].leaf != NULL) {
            cli_err("%s: no ipckit ring or region named \"%s\" in /dev/shm", want[j].arg,
                    want[j].leaf);
            rc = CLI_FAIL;
        } else if (!want[j].seen) {
            cli_err("%s: no System V shared memory segment has key 0x%08llx", want[j].arg,
                    want[j].key);
            rc = CLI_FAIL;
        } else if (want[j].why != NULL) {
            if (want[j].leaf != NULL)
                cli_err("%s: not removed: %s", want[j].arg, want[j].why);
            else
                cli_err("%s: segment 0x%08llx not removed: %s", want[j].arg, want[j].key,
                        want[j].why);
            rc = CLI_FAIL;
        }
    }
    if (verbose)
        (void) printf("skipped %zu message queue%s and %zu semaphore set%s: the kernel keeps no"
                      " creator pid for them\n"
                      "skipped POSIX semaphores, message queues, FIFOs and POSIX shared memory"
                      " that is not an ipckit ring or region: nothing records their creator\n",
                      nmsg, nmsg == 1 ? "" : "s", nsem, nsem == 1 ? "" : "s");
    objlist_free(&l);
    free(want);
    return rc;
}
