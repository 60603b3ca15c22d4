/*
 * ipckit: the objects that no scheme names, listed so that a listing shows
 * the whole picture: System V shared-memory segments and semaphore sets
 * (/proc/sysvipc/shm and sem), and POSIX semaphores (/dev/shm/sem.NAME).
 * A segment is never attached (that would change the attach count and the
 * attach time that the stale rules and other tools rely on).
 *
 * Of these, only a segment can be judged stale: the kernel keeps its
 * creator's pid (without a start time) and how many processes have it
 * attached. Nothing records the creator of the others.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>

#include "objects.h"

static void
sysv_base(ipckit_object *o, const char *kind, long long key, long long id)
{
    o->scheme = "";
    o->kind = kind;
    o->key = (long long) (uint32_t) key;
    o->id = id;
    (void) snprintf(o->where, sizeof o->where, "key 0x%08llx id %lld", o->key, id);
}

/* The rows of /proc/sysvipc/@p what (shm or sem), after its header line. */
static int
sysv_rows(const char *what, int (*emit)(const ipckit_object *o, void *ctx), void *ctx,
          ipckit_object *o)
{
    char path[64], line[512];
    bool shm = strcmp(what, "shm") == 0;
    FILE *f;
    int rc = 0;
    (void) snprintf(path, sizeof path, "/proc/sysvipc/%s", what);
    f = fopen(path, "re");
    if (f == NULL)
        return 0;
    if (fgets(line, sizeof line, f) == NULL) {
        (void) fclose(f);
        return 0;
    }
    while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
        long long key, id, a = 0, b = 0, c = 0, d = 0, uid = 0, gid = -1;
        unsigned perms;
        int n;
        ipckit__object_blank(o);
        if (shm) {
            /* key shmid perms size cpid lpid nattch uid gid cuid cgid ... */
            n = sscanf(line, "%lld %lld %o %lld %lld %lld %lld %lld %lld", &key, &id, &perms,
                       &a, &b, &c, &d, &uid, &gid);
            if (n < 8)
                continue;
            sysv_base(o, "segment", key, id);
            o->size = o->bytes = a;
            o->creator_pid = b;
            o->users = d;
            /* what a segment holds is not looked at: it is judged by its
             * creator and its attaches only */
            (void) snprintf(o->note, sizeof o->note, "its content is not looked at");
        } else {
            /* key semid perms nsems uid gid cuid cgid ... */
            n = sscanf(line, "%lld %lld %o %lld %lld %lld", &key, &id, &perms, &a, &uid, &gid);
            if (n < 5)
                continue;
            sysv_base(o, "semaphores", key, id);
            o->messages = a;
        }
        o->uid = uid;
        o->gid = gid;
        o->mode = perms & 0777u;
        rc = emit(o, ctx);
    }
    (void) fclose(f);
    return rc;
}

/* POSIX semaphores: /dev/shm/sem.NAME. */
static int
sysv_posix_sems(int (*emit)(const ipckit_object *o, void *ctx), void *ctx, ipckit_object *o)
{
    DIR *d = opendir("/dev/shm");
    struct dirent *de;
    int rc = 0;
    if (d == NULL)
        return 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        struct stat sb;
        if (strncmp(de->d_name, "sem.", 4) != 0 ||
            fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
            continue;
        ipckit__object_blank(o);
        o->scheme = "";
        o->kind = "posix semaphore";
        (void) snprintf(o->where, sizeof o->where, "/dev/shm/%s", de->d_name);
        o->uid = (long long) sb.st_uid;
        o->gid = (long long) sb.st_gid;
        o->mode = (unsigned) sb.st_mode & 07777u;
        o->size = o->bytes = (long long) sb.st_size;
        o->dev = (unsigned long long) sb.st_dev;
        o->ino = (unsigned long long) sb.st_ino;
        rc = emit(o, ctx);
    }
    (void) closedir(d);
    return rc;
}

int
ipckit__sysv_list(const ipckit_list_opts *opts, int (*emit)(const ipckit_object *o, void *ctx),
                  void *ctx)
{
    ipckit_object o;
    int rc;
    (void) opts;
    rc = sysv_rows("shm", emit, ctx, &o);
    if (rc == 0)
        rc = sysv_rows("sem", emit, ctx, &o);
    if (rc == 0)
        rc = sysv_posix_sems(emit, ctx, &o);
    return rc;
}

int
ipckit__sysv_remove_stale(const ipckit_object *o, unsigned flags)
{
    struct shmid_ds ds;
    (void) flags;
    if (strcmp(o->kind, "segment") != 0 || o->id < 0 || o->id > INT32_MAX)
        return ipckit__fail(-EINVAL, "only a segment can be removed");
    /* read again just before it goes: the segment judged, still unattached */
    if (shmctl((int) o->id, IPC_STAT, &ds) < 0)
        return errno == EINVAL || errno == EIDRM ? ipckit__fail(-ENOENT, "it is already gone")
                                                 : ipckit__fail(-errno, "%s", strerror(errno));
    if ((uint32_t) ds.shm_perm.__key != (uint32_t) o->key ||
        (long long) ds.shm_cpid != o->creator_pid)
        return ipckit__fail(-ESTALE, "it was replaced meanwhile");
    if (ds.shm_nattch != 0)
        return ipckit__fail(-EBUSY, "a process attached it meanwhile");
    if (shmctl((int) o->id, IPC_RMID, NULL) < 0)
        return ipckit__fail(-errno, "%s", strerror(errno));
    return 0;
}
