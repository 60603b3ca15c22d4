/*
 * ipckit backend "mq:": its objects (include/ipckit/object.h), the System V
 * message queues. All of them are listed, from /proc/sysvipc/msg (which
 * shows every queue, whoever may read it); one is described with IPC_STAT,
 * or MSG_STAT_ANY where this process may not read it. The kernel keeps no
 * creator for a queue: the core finds it in the creator record, by the
 * identity given here (key, id, and the change time in identity[0]).
 *
 * A queue has no notion of being open: users stays -1, and the last sender
 * and receiver are what tells that it was used.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>

#include "../core/objects.h"
#include "mq_wake.h"

static const char *const mq_params[] = { "proj", NULL };

/* The fields every description has, from the key and id. */
static void
mq_base(ipckit_object *o, long long key, long long id)
{
    o->scheme = "mq";
    o->kind = "queue";
    o->key = (long long) (uint32_t) key;
    o->id = id;
    /* the name as one types it (and as PHP's sprintf("0x%x") makes the
     * key); a private queue (key 0) has none */
    if (o->key != 0)
        (void) snprintf(o->name, sizeof o->name, "mq:0x%llx", o->key);
    (void) snprintf(o->where, sizeof o->where, "key 0x%08llx id %lld", o->key, id);
}

/* What the queue holds, and whether that is something. */
static void
mq_held(ipckit_object *o, long long qnum, long long cbytes)
{
    o->messages = qnum;
    o->bytes = cbytes;
    o->holds = qnum > 0 || cbytes > 0;
}

int
ipckit__mq_list(const ipckit_list_opts *opts, int (*emit)(const ipckit_object *o, void *ctx),
                void *ctx)
{
    char line[512];
    ipckit_object o;
    FILE *f = fopen("/proc/sysvipc/msg", "re");
    int rc = 0;
    (void) opts;
    if (f == NULL)
        return 0;
    if (fgets(line, sizeof line, f) == NULL) { /* the header line */
        (void) fclose(f);
        return 0;
    }
    while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
        /* key msqid perms cbytes qnum lspid lrpid uid gid cuid cgid stime rtime ctime */
        long long key, id, cbytes, qnum, lspid, lrpid, uid, gid, cuid, cgid, stime, rtime,
            ctime = -1;
        unsigned perms;
        int n = sscanf(line, "%lld %lld %o %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld",
                       &key, &id, &perms, &cbytes, &qnum, &lspid, &lrpid, &uid, &gid, &cuid,
                       &cgid, &stime, &rtime, &ctime);
        if (n < 8)
            continue;
        ipckit__object_blank(&o);
        mq_base(&o, key, id);
        o.mode = perms & 0777u;
        o.uid = uid;
        o.gid = n >= 9 ? gid : -1;
        mq_held(&o, qnum, cbytes);
        o.last_send_pid = lspid;
        o.last_recv_pid = lrpid;
        if (n >= 14 && ctime >= 0) {
            o.identity[0] = (unsigned long long) ctime;
            o.identity[1] = 1;
        }
        rc = emit(&o, ctx);
    }
    (void) fclose(f);
    return rc;
}

/*
 * IPC_STAT of queue @p id, or, for a queue this process may not read (a
 * sender with write permission only), MSG_STAT_ANY (Linux 4.17) over the
 * kernel's table, which reports any queue without that check.
 */
static int
mq_stat_any(int id, struct msqid_ds *ds)
{
    int max;
    memset(ds, 0, sizeof *ds); /* valgrind does not know MSG_STAT_ANY fills it */
    if (msgctl(id, IPC_STAT, ds) == 0)
        return 0;
    if (errno != EACCES)
        return errno == EINVAL || errno == EIDRM ? -ENOENT : -errno;
#ifdef MSG_STAT_ANY
    max = msgctl(0, MSG_INFO, (struct msqid_ds *) (void *) &(struct msginfo){ 0 });
    for (int i = 0; i <= max; i++)
        if (msgctl(i, MSG_STAT_ANY, ds) == id)
            return 0;
#else
    (void) max;
#endif
    return -EACCES;
}

int
ipckit__mq_object(int id, long long key, ipckit_object *o)
{
    struct msqid_ds ds;
    int rc = mq_stat_any(id, &ds);
    mq_base(o, key, id);
    if (rc == -EACCES) {
        /* the key and the id are known; the rest is not */
        (void) snprintf(o->note, sizeof o->note, "its status cannot be read: %s",
                        strerror(EACCES));
        return 0;
    }
    if (rc < 0)
        return rc;
    if ((uint32_t) ds.msg_perm.__key != (uint32_t) key)
        return -ENOENT; /* the id names another queue now */
    o->uid = (long long) ds.msg_perm.uid;
    o->gid = (long long) ds.msg_perm.gid;
    o->mode = (unsigned) ds.msg_perm.mode & 0777u;
    o->capacity = (long long) ds.msg_qbytes;
    mq_held(o, (long long) ds.msg_qnum, (long long) ds.__msg_cbytes);
    o->last_send_pid = (long long) ds.msg_lspid;
    o->last_recv_pid = (long long) ds.msg_lrpid;
    o->identity[0] = (unsigned long long) ds.msg_ctime;
    o->identity[1] = 1;
    return 0;
}

int
ipckit__mq_describe(const ipckit_name *name, ipckit_object *out)
{
    key_t key;
    int id, rc = ipckit_name_check_params(name, mq_params);
    if (rc == 0)
        rc = ipckit_name_sysv_key(name, &key);
    if (rc < 0)
        return rc;
    id = msgget(key, 0);
    if (id < 0) {
        int e = errno;
        if (e == ENOENT)
            return ipckit_backend_fail(-ENOENT, "mq: no queue with key %#x (%s)",
                                       (unsigned) key, ipckit_name_text(name));
        return ipckit_backend_fail(-e, "mq: msgget key %#x (%s): %s", (unsigned) key,
                                   ipckit_name_text(name), strerror(e));
    }
    rc = ipckit__mq_object(id, (long long) key, out);
    if (rc == -ENOENT)
        return ipckit_backend_fail(rc, "mq: queue %#x was removed", (unsigned) key);
    if (rc < 0)
        return ipckit_backend_fail(rc, "mq: IPC_STAT of queue %#x (%s): %s", (unsigned) key,
                                   ipckit_name_text(name), strerror(-rc));
    return 0;
}

/*
 * Remove the queue judged stale, if it still is that queue (key, change
 * time) and nobody used it since (last sender and receiver, what it
 * holds, as IPC_STAT gives them now).
 */
int
ipckit__mq_remove_stale(const ipckit_object *o, unsigned flags)
{
    struct msqid_ds ds;
    (void) flags; /* it must hold what was judged, named or not */
    if (o->id < 0 || o->id > INT32_MAX)
        return ipckit_backend_fail(-EINVAL, "not a queue");
    if (msgctl((int) o->id, IPC_STAT, &ds) < 0)
        return errno == EINVAL || errno == EIDRM
                   ? ipckit_backend_fail(-ENOENT, "it is already gone")
                   : ipckit_backend_fail(-errno, "%s", strerror(errno));
    if ((uint32_t) ds.msg_perm.__key != (uint32_t) o->key || o->identity[1] == 0 ||
        (unsigned long long) ds.msg_ctime != o->identity[0])
        return ipckit_backend_fail(-ESTALE, "it was replaced meanwhile");
    if ((long long) ds.msg_lspid != o->last_send_pid ||
        (long long) ds.msg_lrpid != o->last_recv_pid || (long long) ds.msg_qnum != o->messages ||
        (long long) ds.__msg_cbytes != o->bytes)
        return ipckit_backend_fail(-EBUSY, "a process used it meanwhile");
    if (msgctl((int) o->id, IPC_RMID, NULL) < 0)
        return ipckit_backend_fail(-errno, "%s", strerror(errno));
    mqw_remove((key_t) o->key, (int) o->id); /* and its wake-up companion */
    return 0;
}
