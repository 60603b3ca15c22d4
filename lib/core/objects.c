/*
 * ipckit: the objects behind names (include/ipckit/object.h): listing them
 * through every backend that can, describing one by name, and what the
 * core adds to what a backend tells: the creator's state, the creator
 * records of the schemes that need them (creators.c), the processes that
 * have a file open (/proc). The stale rules are in stale.c, the objects of
 * no scheme in sysv.c.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "objects.h"

#define OBJECTS_DEPTH_DEFAULT 3
#define OBJECTS_DEPTH_MAX 64

void
ipckit__object_blank(ipckit_object *o)
{
    memset(o, 0, sizeof *o);
    o->version = IPCKIT_OBJECT_VERSION;
    o->scheme = "";
    o->kind = "";
    o->key = o->id = o->uid = o->gid = -1;
    o->size = o->capacity = o->messages = o->bytes = o->users = -1;
    o->last_send_pid = o->last_recv_pid = o->creator_pid = -1;
    o->holds = -1;
    o->creator = IPCKIT_CREATOR_UNKNOWN;
}

bool
ipckit__sysv_key_ipckit(long long key)
{
    return key > 0 && ((unsigned long long) key >> 24) == 0x69u;
}

/* Does a line of /proc/PID/maps map @p path? */
static bool
maps_have(const char *pid, const char *path)
{
    char file[64], line[4096];
    size_t plen = strlen(path);
    bool found = false;
    FILE *f;
    (void) snprintf(file, sizeof file, "/proc/%s/maps", pid);
    f = fopen(file, "re");
    while (f != NULL && !found && fgets(line, sizeof line, f) != NULL) {
        const char *at = strstr(line, path);
        found = at != NULL && (at[plen] == '\n' || at[plen] == ' ' || at[plen] == '\0');
    }
    if (f != NULL)
        (void) fclose(f);
    return found;
}

/* Has process @p pid a descriptor of the file (see ipckit__proc_users())? */
static bool
fds_have(const char *pid, const char *path, const char *base, unsigned long long dev,
         unsigned long long ino)
{
    char dpath[64], target[4096];
    struct dirent *fe;
    bool found = false;
    DIR *fds;
    (void) snprintf(dpath, sizeof dpath, "/proc/%s/fd", pid);
    fds = opendir(dpath);
    while (fds != NULL && !found && (fe = readdir(fds)) != NULL) {
        char lpath[sizeof dpath + 256];
        const char *tbase;
        struct stat sb;
        ssize_t n;
        (void) snprintf(lpath, sizeof lpath, "%s/%s", dpath, fe->d_name);
        n = readlink(lpath, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        found = strcmp(target, path) == 0;
        if (found || ino == 0 || target[0] != '/')
            continue;
        tbase = strrchr(target, '/') + 1;
        /* stat() of the link reaches the open file's inode; only for a file
         * of the same name, so no unrelated file is touched */
        found = strcmp(tbase, base) == 0 && stat(lpath, &sb) == 0 &&
                (unsigned long long) sb.st_dev == dev && (unsigned long long) sb.st_ino == ino;
    }
    if (fds != NULL)
        (void) closedir(fds);
    return found;
}

long long
ipckit__proc_users(const char *path, unsigned long long dev, unsigned long long ino, bool maps,
                   bool first)
{
    const char *base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
    DIR *proc = opendir("/proc");
    struct dirent *pe;
    long long n = 0;
    if (proc == NULL)
        return -1;
    while ((pe = readdir(proc)) != NULL && !(first && n > 0)) {
        if (pe->d_name[0] < '0' || pe->d_name[0] > '9')
            continue;
        if (fds_have(pe->d_name, path, base, dev, ino) || (maps && maps_have(pe->d_name, path)))
            n++;
    }
    (void) closedir(proc);
    return n;
}

/* ---- listing ------------------------------------------------------------------ */

int
ipckit__list_opts_resolve(const ipckit_list_opts *in, ipckit_list_opts *out, const char *what)
{
    static const char *const default_dirs[] = { "/tmp", "/run", NULL };
    const unsigned known = IPCKIT_LIST_IPCKIT_ONLY | IPCKIT_STALE_DRY_RUN | IPCKIT_STALE_DISCARD;
    ipckit_list_opts d = IPCKIT_LIST_OPTS_INIT;
    if (in == NULL)
        in = &d;
    if (in->version == 0 || in->version > IPCKIT_LIST_OPTS_VERSION)
        return ipckit__fail(-EINVAL, "%s: list options version %u (this library: 1..%u)", what,
                            in->version, IPCKIT_LIST_OPTS_VERSION);
    if (in->flags & ~known)
        return ipckit__fail(-EINVAL, "%s: unknown flag bits %#x", what, in->flags & ~known);
    if (in->depth < 0 || in->depth > OBJECTS_DEPTH_MAX)
        return ipckit__fail(-EINVAL, "%s: depth %d is not in 0..%d", what, in->depth,
                            OBJECTS_DEPTH_MAX);
    *out = *in;
    if (out->dirs == NULL)
        out->dirs = default_dirs;
    if (out->depth == 0)
        out->depth = OBJECTS_DEPTH_DEFAULT;
    return 0;
}

bool
ipckit__list_wants(const ipckit_list_opts *opts, const char *scheme)
{
    if (opts->schemes == NULL)
        return true;
    for (const char *const *s = opts->schemes; *s != NULL; s++)
        if (strcmp(*s, scheme) == 0)
            return true;
    return false;
}

struct list_ctx {
    int (*fn)(const ipckit_object *o, void *arg);
    void *arg;
    unsigned flags;
    const char *scheme;
    ipckit_object o; /* the caller sees this copy, with what the core adds */
};

static int
list_emit(const ipckit_object *from, void *p)
{
    struct list_ctx *c = p;
    ipckit_object *o = &c->o;
    if (from != o)
        memcpy(o, from, sizeof *o);
    o->version = IPCKIT_OBJECT_VERSION;
    if (o->scheme == NULL)
        o->scheme = c->scheme;
    if (o->kind == NULL)
        o->kind = "";
    ipckit__creator_fill(o, NULL, 0);
    if ((c->flags & IPCKIT_LIST_IPCKIT_ONLY) && !o->by_ipckit)
        return 0;
    return c->fn(o, c->arg);
}

static int
collect_backend(const ipckit_backend *be, void *p)
{
    const ipckit_backend **v = p;
    size_t n = 0;
    while (v[n] != NULL)
        n++;
    if (n + 1 < IPCKIT__BACKENDS_MAX)
        v[n] = be;
    return 0;
}

void
ipckit__backends_all(const ipckit_backend **v)
{
    memset(v, 0, IPCKIT__BACKENDS_MAX * sizeof *v);
    (void) ipckit_backend_foreach(collect_backend, v);
}

int
ipckit_object_list(const ipckit_list_opts *opts, int (*fn)(const ipckit_object *o, void *arg),
                   void *arg)
{
    const ipckit_backend *be[IPCKIT__BACKENDS_MAX];
    ipckit_list_opts o;
    struct list_ctx *c;
    int rc;

    ipckit__detail_clear();
    if (fn == NULL)
        return ipckit__fail(-EINVAL, "object_list: fn is NULL");
    rc = ipckit__list_opts_resolve(opts, &o, "object_list");
    if (rc < 0)
        return rc;
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return -ENOMEM;
    c->fn = fn;
    c->arg = arg;
    c->flags = o.flags;
    ipckit__backends_all(be);
    for (size_t i = 0; rc == 0 && be[i] != NULL; i++) {
        if (be[i]->abi_version < 4 || be[i]->list == NULL || !ipckit__list_wants(&o, be[i]->scheme))
            continue;
        c->scheme = be[i]->scheme;
        rc = be[i]->list(&o, list_emit, c);
    }
    if (rc == 0 && ipckit__list_wants(&o, "")) {
        c->scheme = "";
        rc = ipckit__sysv_list(&o, list_emit, c);
    }
    free(c);
    return rc;
}

/* ---- one object ---------------------------------------------------------------- */

int
ipckit__object_describe(const ipckit_backend *be, const ipckit_name *n, ipckit_object *o)
{
    int rc;
    ipckit__object_blank(o);
    o->scheme = be->scheme;
    if (be->abi_version < 4 || be->describe == NULL)
        return ipckit__fail(-ENOTSUP, "stat \"%s\": backend %s cannot describe its objects",
                            ipckit_name_text(n), be->scheme);
    rc = be->describe(n, o);
    if (rc < 0)
        return rc;
    if (o->scheme == NULL)
        o->scheme = be->scheme;
    if (o->kind == NULL)
        o->kind = "";
    ipckit__creator_fill(o, NULL, 0);
    return 0;
}

long long
ipckit__object_users(const ipckit_object *o, bool first)
{
    if (o->where[0] != '/' || o->ino == 0)
        return -1;
    /* Files in /dev/shm are also used through their mappings; a FIFO or a
     * POSIX queue cannot be mapped. */
    return ipckit__proc_users(o->where, o->dev, o->ino, strncmp(o->where, "/dev/shm/", 9) == 0,
                              first);
}

int
ipckit_object_stat(const char *name, ipckit_object *out)
{
    const ipckit_backend *be = NULL;
    ipckit_name *n = NULL;
    ipckit_object *o;
    unsigned version;
    int rc;

    ipckit__detail_clear();
    if (out == NULL)
        return ipckit__fail(-EINVAL, "object_stat: out is NULL");
    version = out->version;
    if (version == 0)
        return ipckit__fail(-EINVAL, "object_stat: out->version is 0 (set it to"
                                     " IPCKIT_OBJECT_VERSION)");
    rc = ipckit__name_resolve(name, &n, &be);
    if (rc < 0)
        return rc;
    o = malloc(sizeof *o);
    if (o == NULL) {
        ipckit_name_free(n);
        return -ENOMEM;
    }
    rc = ipckit__object_describe(be, n, o);
    ipckit_name_free(n);
    if (rc == 0) {
        if (o->users < 0)
            o->users = ipckit__object_users(o, false);
        /* version 1 is every field there is so far */
        memcpy(out, o, sizeof *out);
        out->version = version < IPCKIT_OBJECT_VERSION ? version : IPCKIT_OBJECT_VERSION;
    }
    free(o);
    return rc;
}
