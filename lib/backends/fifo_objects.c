/*
 * ipckit backend "fifo:": its objects (include/ipckit/object.h), the FIFOs
 * under the directories a listing is given (no symbolic link followed, to a
 * bounded depth). A FIFO is never opened: opening one for reading would
 * let a writer waiting in open() go ahead, and then see its reader vanish.
 *
 * The kernel keeps no creator for a FIFO: the core finds it in the creator
 * record, by the identity given here (device, inode, and the birth time in
 * identity[]: [0] seconds, [1] nanoseconds, [2] 1 when the file system
 * reports one) and the absolute path in where.
 *
 * What a FIFO holds: nothing that outlives its users. The kernel drops a
 * pipe's bytes with its last descriptor, and the stale rules judge what an
 * object holds only once nobody has it open.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <bsd/string.h>

#include "../core/objects.h"
#include "fifo.h"

int
ipckit__fifo_object(const char *path, ipckit_object *o)
{
    struct statx sx;
    o->scheme = "fifo";
    o->kind = "fifo";
    memset(&sx, 0, sizeof sx);
    if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_BTIME, &sx) < 0)
        return -errno;
    if (S_ISLNK(sx.stx_mode))
        return -ELOOP;
    if (!S_ISFIFO(sx.stx_mode))
        return -EINVAL;
    (void) snprintf(o->name, sizeof o->name, "fifo:%s", path);
    o->where[0] = '\0';
    if (path[0] != '/' && getcwd(o->where, sizeof o->where) != NULL) {
        size_t len = strlen(o->where);
        if (len > 1 && strlcat(o->where, "/", sizeof o->where) >= sizeof o->where)
            o->where[0] = '\0';
    }
    if (strlcat(o->where, path, sizeof o->where) >= sizeof o->where)
        o->where[0] = '\0'; /* too long to name whole */
    o->uid = (long long) sx.stx_uid;
    o->gid = (long long) sx.stx_gid;
    o->mode = (unsigned) sx.stx_mode & 07777u;
    o->dev = (unsigned long long) makedev(sx.stx_dev_major, sx.stx_dev_minor);
    o->ino = (unsigned long long) sx.stx_ino;
    if (sx.stx_mask & STATX_BTIME) {
        o->identity[0] = (unsigned long long) sx.stx_btime.tv_sec;
        o->identity[1] = (unsigned long long) sx.stx_btime.tv_nsec;
        o->identity[2] = 1;
    }
    o->holds = 0;
    return 0;
}

struct fifo_walk {
    int (*emit)(const ipckit_object *o, void *ctx);
    void *ctx;
    int depth;
    ipckit_object o;
};

static int
fifo_walk(struct fifo_walk *w, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t dlen = strlen(dir);
    char *path;
    int rc = 0;

    if (d == NULL)
        return 0;
    path = malloc(PATH_MAX);
    if (path == NULL) {
        (void) closedir(d);
        return -ENOMEM;
    }
    while (rc == 0 && (de = readdir(d)) != NULL) {
        struct stat sb;
        int n;
        /* names that start with a dot are looked at too: only . and .. are not */
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (!S_ISFIFO(sb.st_mode) && !(S_ISDIR(sb.st_mode) && depth < w->depth))
            continue;
        n = snprintf(path, PATH_MAX, "%s%s%s", dir, dlen > 0 && dir[dlen - 1] == '/' ? "" : "/",
                     de->d_name);
        if (n < 0 || n >= PATH_MAX)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            rc = fifo_walk(w, path, depth + 1);
            continue;
        }
        ipckit__object_blank(&w->o);
        if (ipckit__fifo_object(path, &w->o) == 0)
            rc = w->emit(&w->o, w->ctx);
    }
    free(path);
    (void) closedir(d);
    return rc;
}

int
ipckit__fifo_list(const ipckit_list_opts *opts, int (*emit)(const ipckit_object *o, void *ctx),
                  void *ctx)
{
    struct fifo_walk *w = malloc(sizeof *w);
    int rc = 0;
    if (w == NULL)
        return -ENOMEM;
    w->emit = emit;
    w->ctx = ctx;
    w->depth = opts->depth;
    for (const char *const *dir = opts->dirs; rc == 0 && *dir != NULL; dir++)
        rc = fifo_walk(w, *dir, 1);
    free(w);
    return rc;
}

int
ipckit__fifo_describe(const ipckit_name *name, ipckit_object *out)
{
    const char *path = ipckit_name_target(name);
    size_t len = strlen(path);
    int rc = ipckit_name_check_params(name, ipckit__fifo_params);
    if (rc < 0)
        return rc;
    if (len > 0 && path[len - 1] == '/')
        return ipckit_backend_fail(-EINVAL, "fifo: \"%s\" ends in '/': it names no FIFO", path);
    rc = ipckit__fifo_object(path, out);
    if (rc == -ELOOP)
        return ipckit_backend_fail(rc, "fifo: \"%s\" is a symbolic link; not followed", path);
    if (rc == -EINVAL)
        return ipckit_backend_fail(rc, "fifo: \"%s\" exists and is not a FIFO", path);
    if (rc < 0)
        return ipckit_backend_fail(rc, "fifo: \"%s\": %s", path, strerror(-rc));
    return 0;
}

/* Remove the FIFO judged stale, from its directory, if the entry still is
 * that FIFO (device and inode). */
int
ipckit__fifo_remove_stale(const ipckit_object *o, unsigned flags)
{
    const char *slash = strrchr(o->where, '/');
    char dir[PATH_MAX];
    struct stat sb;
    int rc = 0, dfd;
    (void) flags; /* a FIFO nobody has open holds nothing */
    if (o->where[0] != '/' || slash == NULL || (size_t) (slash - o->where) >= sizeof dir)
        return ipckit_backend_fail(-EINVAL, "bad path");
    (void) snprintf(dir, sizeof dir, "%.*s", slash == o->where ? 1 : (int) (slash - o->where),
                    o->where);
    dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return ipckit_backend_fail(-errno, "%s", strerror(errno));
    if (fstatat(dfd, slash + 1, &sb, AT_SYMLINK_NOFOLLOW) < 0)
        rc = errno == ENOENT ? ipckit_backend_fail(-ENOENT, "it is already gone")
                             : ipckit_backend_fail(-errno, "%s", strerror(errno));
    else if (!S_ISFIFO(sb.st_mode) || (unsigned long long) sb.st_dev != o->dev ||
             (unsigned long long) sb.st_ino != o->ino)
        rc = ipckit_backend_fail(-ESTALE, "it was replaced meanwhile");
    else if (unlinkat(dfd, slash + 1, 0) < 0)
        rc = ipckit_backend_fail(-errno, "%s", strerror(errno));
    (void) close(dfd);
    return rc;
}
