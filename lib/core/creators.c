/*
 * ipckit: creator records, run by the core for every scheme whose objects
 * the kernel keeps no creator for (mq:, posixmq:, fifo:). The backend only
 * says that its open created the object and what the object is (its
 * identify and describe operations); the core writes the record after such
 * an open, finds it before an unlink and removes it after, and reads it for
 * ipckit_stat_name(), the object API and the stale rules. The format and
 * the trust rule are lib/os/records.c's; docs/reliability.md ("Creator
 * records") describes them.
 *
 * Nothing here can make an open or an unlink fail: a record that cannot be
 * written leaves the object with "creator unknown", which only means that
 * ipckit_remove_stale() will never remove it.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "objects.h"

int
ipckit__creator_state(long long pid, unsigned long long start)
{
    if (pid <= 0 || pid > INT_MAX)
        return IPCKIT_CREATOR_UNKNOWN;
    if (kill((pid_t) pid, 0) < 0 && errno != EPERM)
        return errno == ESRCH ? IPCKIT_CREATOR_GONE : IPCKIT_CREATOR_UNKNOWN;
    if (start != 0) {
        unsigned long long now = ipckit__crec_proc_start((long) pid);
        if (now != 0 && now != start)
            return IPCKIT_CREATOR_GONE;
    }
    return IPCKIT_CREATOR_ALIVE;
}

int
ipckit__creator_kind(const char *scheme)
{
    if (scheme == NULL)
        return 0;
    if (strcmp(scheme, "mq") == 0)
        return IPCKIT__CREC_MQ;
    if (strcmp(scheme, "posixmq") == 0)
        return IPCKIT__CREC_POSIXMQ;
    if (strcmp(scheme, "fifo") == 0)
        return IPCKIT__CREC_FIFO;
    return 0;
}

bool
ipckit__creator_is_record(const char *leaf)
{
    return strncmp(leaf, IPCKIT__CREC_PREFIX, sizeof IPCKIT__CREC_PREFIX - 1) == 0;
}

bool
ipckit__creator_identity(const ipckit_object *o, struct ipckit__crec *id, unsigned long *owner)
{
    const char *colon;
    memset(id, 0, sizeof *id);
    id->kind = ipckit__creator_kind(o->scheme);
    *owner = o->uid >= 0 ? (unsigned long) o->uid : (unsigned long) geteuid();
    switch (id->kind) {
    case IPCKIT__CREC_MQ:
        if (o->key < 0 || o->id < 0 || o->id > INT32_MAX)
            return false;
        id->key = (unsigned long) (uint32_t) o->key;
        id->id = (long) o->id;
        id->ctime = o->identity[1] != 0 ? (long long) o->identity[0] : -1;
        return true;
    case IPCKIT__CREC_POSIXMQ:
        colon = strchr(o->name, ':');
        if (o->ino == 0 || colon == NULL || colon[1] != '/')
            return false;
        id->ino = o->ino;
        return strlcpy(id->target, colon + 1, sizeof id->target) < sizeof id->target;
    case IPCKIT__CREC_FIFO:
        if (o->ino == 0 || o->where[0] != '/')
            return false;
        id->dev = o->dev;
        id->ino = o->ino;
        id->has_btime = o->identity[2] != 0;
        id->btime_sec = id->has_btime ? (long long) o->identity[0] : 0;
        id->btime_nsec = id->has_btime ? (long) o->identity[1] : 0;
        return strlcpy(id->target, o->where, sizeof id->target) < sizeof id->target;
    default:
        return false;
    }
}

void
ipckit__creator_fill(ipckit_object *o, char *leaf, size_t cap)
{
    struct ipckit__crec id, rec;
    unsigned long owner;
    if (leaf != NULL && cap > 0)
        leaf[0] = '\0';
    if (ipckit__creator_kind(o->scheme) != 0 && ipckit__creator_identity(o, &id, &owner) &&
        o->uid >= 0 && ipckit__crec_lookup(&id, owner, &rec) == 0) {
        o->creator_pid = rec.pid;
        o->creator_start = rec.start;
        o->by_ipckit = true;
        if (leaf != NULL)
            (void) ipckit__crec_leaf(&id, leaf, cap);
    }
    o->creator = ipckit__creator_state(o->creator_pid, o->creator_start);
}

void
ipckit__creator_opened(const ipckit_backend *be, void *state)
{
    ipckit_object o;
    struct ipckit__crec id;
    unsigned long owner;
    if (ipckit__creator_kind(be->scheme) == 0 || be->abi_version < 4 || be->identify == NULL)
        return;
    ipckit__object_blank(&o);
    o.scheme = be->scheme;
    /* No failure here fails the open: without a record the object is only
     * "creator unknown". */
    if (be->identify(state, &o) == 0 && ipckit__creator_identity(&o, &id, &owner))
        (void) ipckit__creator_write(&id);
    ipckit__detail_clear();
}

/* Describe the object behind @p name with @p be, for its identity. */
static bool
creator_describe(const ipckit_backend *be, const ipckit_name *name, ipckit_object *o)
{
    bool ok;
    if (ipckit__creator_kind(be->scheme) == 0 || be->abi_version < 4 || be->describe == NULL)
        return false;
    ipckit__object_blank(o);
    o->scheme = be->scheme;
    ok = be->describe(name, o) == 0;
    ipckit__detail_clear(); /* what it said is no business of the caller's */
    return ok;
}

bool
ipckit__creator_before_unlink(const ipckit_backend *be, const ipckit_name *name,
                              struct ipckit__crec *id)
{
    ipckit_object o;
    unsigned long owner;
    /* Find the object's record before the object goes: afterwards its
     * identity names nothing. */
    return creator_describe(be, name, &o) && ipckit__creator_identity(&o, id, &owner) &&
           ipckit__creator_removable(id, owner);
}

void
ipckit__creator_after_unlink(const struct ipckit__crec *id)
{
    ipckit__creator_unlink(id);
}

long
ipckit__creator_stat_pid(const ipckit_backend *be, const ipckit_name *name)
{
    ipckit_object o;
    struct ipckit__crec id;
    unsigned long owner;
    if (!creator_describe(be, name, &o) || o.uid < 0 || !ipckit__creator_identity(&o, &id, &owner))
        return -1;
    return ipckit__creator_pid(&id, owner);
}

int
ipckit__creator_targets(const char *scheme, int (*fn)(const char *target, void *arg), void *arg)
{
    int kind = ipckit__creator_kind(scheme), rc = 0;
    struct dirent *de;
    DIR *d;
    if (kind == 0)
        return 0;
    d = opendir(IPCKIT__CREC_DIR);
    if (d == NULL)
        return 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        struct ipckit__crec r;
        struct stat sb;
        if (!ipckit__creator_is_record(de->d_name) ||
            ipckit__crec_load(dirfd(d), de->d_name, &r, &sb) != 0 || r.kind != kind)
            continue;
        rc = fn(r.target, arg);
    }
    (void) closedir(d);
    return rc;
}
