/*
 * ipckit: the sysvshm: region, kept on PHP's own objects, so that C
 * programs and PHP's shm_attach()/sem_get() workers share one store under
 * one lock. See ipckit-sysvshm(7) and docs/backends/sysvshm.md.
 *
 * The objects and their layout are those of PHP's sysvshm and sysvsem
 * extensions (PHP 8.2, 64-bit builds, where zend_long is 64 bits):
 *
 * Segment (shmget): a header, then the variables one after the other.
 *
 *   0   char magic[8]   "PHP_SM" and a NUL (PHP compares it with strcmp)
 *   8   int64 start     offset of the first variable: 40, the header's size
 *   16  int64 end       offset just past the last variable
 *   24  int64 free      bytes PHP may still use: total - end
 *   32  int64 total     the size the segment was set up with
 *
 *   variable at start, start + next, ... up to end:
 *   0   int64 key
 *   8   int64 length    bytes of the value (PHP's serialize() text)
 *   16  int64 next      bytes to the next variable: PHP's formula,
 *                       ((length + 31) / 8) * 8 + 8
 *   24  the value
 *
 *   shm_put_var() removes an existing variable of the key (moving the ones
 *   after it down) and appends the new one at end; shm_remove_var() moves
 *   the ones after it down. PHP trusts every field; a corrupt header or
 *   chain makes it read and write outside the segment.
 *
 * Semaphore set (semget, 3 semaphores), every operation with SEM_UNDO:
 *   0  the lock: 1 free, 0 held (sem_acquire: -1, sem_release: +1)
 *   1  the users attached (sem_get: +1; the object's destructor: -1)
 *   2  guard of sem_get's set-up: wait for 0 and take it, add a user, read
 *      semaphore 1, and when it is 1 (the only user) set semaphore 0 to 1
 *      (SETVAL, which also clears every process's undo value for it);
 *      release the guard.
 *
 * A C handle registers exactly as sem_get() does (semaphore 1, under the
 * guard): without it a PHP process that comes while C holds the lock sees
 * itself as the only user and sets the lock free again.
 *
 * Nothing read from the segment is trusted: each field is read once, with
 * a volatile load, into a local, checked against the segment's size, and
 * only the local is used; the whole chain of variables is walked and
 * checked on every call, so that a corrupt store is refused (-EBADMSG)
 * before anything is read or written through it.
 *
 * A holder that dies holding the lock: the kernel undoes its semaphore
 * operations, which gives the lock back, and says nothing to the next
 * holder. What ipckit adds: a put or remove changes the store so that
 * the chain [start, end) is complete at every instant, and keeps free
 * below total - end until it is done (PHP never leaves it below). The next
 * ipckit locker that finds free below total - end knows that an ipckit
 * holder was killed in the middle of an update: it sets free right and
 * returns -EOWNERDEAD.
 *
 * This file keeps the objects: the keys of a name, opening (the segment
 * and the semaphore set, made and joined as PHP makes and joins them),
 * removing, the lock. sysvshm_store.c reads and writes the store in the
 * segment: the header, the chain of variables, put, get and remove.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

#include <ipckit/region.h>

#include "../os/shm_object.h"
#include "sysvshm_int.h"

/* PHP's sysvsem semaphores */
#define SEM_LOCK 0
#define SEM_USERS 1
#define SEM_GUARD 2
#define SEM_COUNT 3

/* How long open waits for sem_get()'s guard when the options do not say. */
#define GUARD_WAIT_MS 5000

#if UINTPTR_MAX == UINT64_MAX
#define SYSVSHM_SUPPORTED 1
#else
#define SYSVSHM_SUPPORTED 0
#endif

const char *const ipckit__sysvshm_params[] = { "proj", "semproj", "sem", "trust", NULL };

/* ---- errors ------------------------------------------------------------------- */

int
ipckit__sysvshm_error(struct ipckit__sysvshm *s, int rc, const char *fmt, ...)
{
    char buf[IPCKIT__DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    (void) vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    (void) ipckit__fail(rc, "%s", buf);
    if (s != NULL)
        memcpy(s->err, buf, sizeof s->err);
    return rc;
}

static unsigned
fork_gen(void)
{
    return atomic_load_explicit(&ipckit__shmobj_fork_gen, memory_order_relaxed);
}

/* ---- the semaphore set ------------------------------------------------------------------ */

/* semop with SEM_UNDO flags as given, retried after EINTR until @p deadline
 * (NULL: forever; the past: once). 0 or -errno. */
static int
sem_ops(int semid, struct sembuf *ops, size_t n, const struct timespec *deadline)
{
    for (;;) {
        int rc;
        if (deadline == NULL) {
            rc = semop(semid, ops, n);
        } else {
            int ms = ipckit_deadline_ms(deadline);
            struct timespec rel = { ms / 1000, (long) (ms % 1000) * 1000000L };
            if (ms == 0) {
                for (size_t i = 0; i < n; i++)
                    ops[i].sem_flg |= IPC_NOWAIT;
                rc = semop(semid, ops, n);
            } else {
                rc = semtimedop(semid, ops, n, &rel);
            }
        }
        if (rc == 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN && deadline != NULL && ipckit_deadline_ms(deadline) > 0)
            continue; /* semtimedop's own timeout ended early (it rounds) */
        return -errno;
    }
}

static int
sem_gone(struct ipckit__sysvshm *s, const char *what, int rc)
{
    if (rc == -EIDRM || rc == -EINVAL)
        return ipckit__sysvshm_error(s, -EIDRM,
                                     "sysvshm %s: the semaphore set %#x (id %d) was removed", what,
                                     (unsigned) s->semkey, s->semid);
    return ipckit__sysvshm_error(s, rc, "sysvshm %s: semaphore set %#x (id %d): %s", what,
                                 (unsigned) s->semkey, s->semid, strerror(-rc));
}

/*
 * Register this process as a user of the set, as PHP's sem_get() does:
 * under the guard (semaphore 2), add a user (semaphore 1, SEM_UNDO), and
 * when this is the only user, set the lock (semaphore 0) to 1.
 */
static int
sem_register(struct ipckit__sysvshm *s, const struct timespec *deadline)
{
    struct sembuf enter[3] = { { SEM_GUARD, 0, 0 },
                               { SEM_GUARD, 1, SEM_UNDO },
                               { SEM_USERS, 1, SEM_UNDO } };
    struct sembuf leave[1] = { { SEM_GUARD, -1, SEM_UNDO } };
    int users, rc = sem_ops(s->semid, enter, 3, deadline);
    if (rc == -EAGAIN || rc == -ETIMEDOUT)
        return ipckit__sysvshm_error(
            s, -ETIMEDOUT,
            "sysvshm open: the set-up guard of semaphore set %#x (semaphore"
            " 2) stayed taken; a process may be stopped inside sem_get()",
            (unsigned) s->semkey);
    if (rc < 0)
        return sem_gone(s, "open", rc);
    users = semctl(s->semid, SEM_USERS, GETVAL);
    rc = users < 0 ? -errno : 0;
    if (rc == 0 && users == 1 && semctl(s->semid, SEM_LOCK, SETVAL, 1) < 0)
        rc = -errno;
    (void) sem_ops(s->semid, leave, 1, NULL);
    if (rc < 0) {
        struct sembuf quit[1] = { { SEM_USERS, -1, SEM_UNDO | IPC_NOWAIT } };
        (void) semop(s->semid, quit, 1);
        return sem_gone(s, "open", rc);
    }
    s->reg_gen = fork_gen();
    return 0;
}

/* Undo this process's registration (PHP's SysvSemaphore destructor). */
static void
sem_unregister(struct ipckit__sysvshm *s)
{
    struct sembuf quit[1] = { { SEM_USERS, -1, SEM_UNDO | IPC_NOWAIT } };
    if (s->reg_gen != 0 && s->reg_gen == fork_gen())
        (void) semop(s->semid, quit, 1);
    s->reg_gen = 0;
}

/* ---- keys ---------------------------------------------------------------------------- */

static int
numeric_key(const ipckit_name *n, const char *what, const char *v, key_t *out)
{
    char *end;
    unsigned long k;
    if (v[0] < '0' || v[0] > '9')
        goto bad;
    errno = 0;
    k = strtoul(v, &end, 0);
    if (errno != 0 || *end != '\0' || k == 0 || k > 0xffffffffUL)
        goto bad;
    *out = (key_t) (int) (unsigned) k;
    return 0;
bad:
    return ipckit__fail(-EINVAL, "name \"%s\": %s=\"%s\" must be a key in [1, 0xffffffff]"
                                 " (decimal or 0x hex)",
                        ipckit_name_text(n), what, v);
}

/*
 * The two keys of a name: sysvshm:KEY[?sem=KEY2] (the semaphore key
 * defaults to KEY, as PHP scripts that pass one key to shm_attach() and
 * sem_get() have it), or sysvshm:PATH[?proj=P][&semproj=Q] (ftok(PATH, P),
 * default 'm', and ftok(PATH, Q), default 's', as the tutorial has them);
 * sem=KEY2 also replaces the ftok of a path.
 */
int
ipckit__sysvshm_name_keys(const ipckit_name *n, key_t *shmkey, key_t *semkey)
{
    const char *t = ipckit_name_target(n), *sem = ipckit_name_param(n, "sem");
    bool numeric = t[0] >= '0' && t[0] <= '9';
    int rc = ipckit_name_check_params(n, ipckit__sysvshm_params);
    if (rc < 0)
        return rc;
    if (numeric && (ipckit_name_param(n, "proj") || ipckit_name_param(n, "semproj")))
        return ipckit__fail(-EINVAL,
                            "name \"%s\": proj and semproj go with a path; with a numeric key"
                            " give the semaphore's key as sem=KEY",
                            ipckit_name_text(n));
    if (sem != NULL && ipckit_name_param(n, "semproj") != NULL)
        return ipckit__fail(-EINVAL, "name \"%s\": give sem= or semproj=, not both",
                            ipckit_name_text(n));
    rc = ipckit__name_sysv_key(n, "proj", 'm', shmkey);
    if (rc < 0)
        return rc;
    if (sem != NULL)
        return numeric_key(n, "sem", sem, semkey);
    if (numeric) {
        *semkey = *shmkey;
        return 0;
    }
    return ipckit__name_sysv_key(n, "semproj", 's', semkey);
}

/* ---- opening ---------------------------------------------------------------------------- */

static void
shm_remove_id(int id)
{
    (void) shmctl(id, IPC_RMID, NULL);
}

static void
sem_remove_id(int id)
{
    (void) semctl(id, 0, IPC_RMID);
}

int
ipckit__sysvshm_open(struct ipckit__sysvshm **out, const ipckit_name *n, unsigned flags,
                     size_t size, const ipckit_opts *o)
{
    struct ipckit__sysvshm *s;
    struct shmid_ds sds;
    struct semid_ds ms;
    struct timespec ts;
    const struct timespec *deadline;
    char what[96];
    bool shm_created = false, sem_created = false;
    void *addr;
    int rc;

    *out = NULL;
    if (!SYSVSHM_SUPPORTED)
        return ipckit__fail(-EPROTONOSUPPORT,
                            "sysvshm: PHP's layout is that of 64-bit builds; this platform"
                            " is not one");
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return -ENOMEM;
    s->shmid = s->semid = -1;
    rc = ipckit__sysvshm_name_keys(n, &s->shmkey, &s->semkey);
    if (rc < 0)
        goto fail;
    ipckit__shmobj_fork_watch();

    /* The segment. */
    if (flags & IPCKIT_CREATE) {
        if (size < (size_t) PHP_HEAD) {
            rc = ipckit__fail(-EINVAL,
                              "sysvshm: a segment needs at least %lld bytes (PHP's header),"
                              " not %zu",
                              (long long) PHP_HEAD, size);
            goto fail;
        }
        s->shmid = shmget(s->shmkey, size, (int) o->mode | IPC_CREAT | IPC_EXCL);
        if (s->shmid >= 0)
            shm_created = true;
        else if (errno != EEXIST || (flags & IPCKIT_EXCL)) {
            rc = -errno;
            rc = ipckit__fail(rc, "sysvshm: create segment %#x (%zu bytes): %s",
                              (unsigned) s->shmkey, size, strerror(-rc));
            goto fail;
        }
    }
    if (s->shmid < 0) {
        s->shmid = shmget(s->shmkey, 0, 0);
        if (s->shmid < 0) {
            rc = -errno;
            rc = rc == -ENOENT ? ipckit__fail(rc, "sysvshm: no segment with key %#x (%s)",
                                              (unsigned) s->shmkey, ipckit_name_text(n))
                               : ipckit__fail(rc, "sysvshm: segment %#x: %s",
                                              (unsigned) s->shmkey, strerror(-rc));
            goto fail;
        }
    }
    if (shmctl(s->shmid, IPC_STAT, &sds) < 0) {
        rc = -errno;
        rc = ipckit__fail(rc, "sysvshm: segment %#x: IPC_STAT: %s", (unsigned) s->shmkey,
                          strerror(-rc));
        goto fail;
    }
    if (!shm_created) {
        (void) snprintf(what, sizeof what, "sysvshm: segment %#x", (unsigned) s->shmkey);
        rc = ipckit_backend_check_owner(NULL, o, what, sds.shm_perm.uid, sds.shm_perm.cuid,
                                        sds.shm_perm.gid, sds.shm_perm.mode & 0777u);
        if (rc < 0)
            goto fail;
        if (size != 0 && size != sds.shm_segsz) {
            rc = ipckit__fail(-EINVAL,
                              "sysvshm: segment %#x exists with %zu bytes, not the %zu asked"
                              " for",
                              (unsigned) s->shmkey, (size_t) sds.shm_segsz, size);
            goto fail;
        }
    }
    s->size = sds.shm_segsz;
    if (s->size < (size_t) PHP_HEAD || s->size > (size_t) INT64_MAX / 2) {
        rc = ipckit__fail(-EBADMSG,
                          "sysvshm: segment %#x has %zu bytes, too few for PHP's %lld-byte"
                          " header",
                          (unsigned) s->shmkey, s->size, (long long) PHP_HEAD);
        goto fail;
    }
    addr = shmat(s->shmid, NULL, 0);
    if (addr == (void *) -1) {
        rc = -errno;
        rc = ipckit__fail(rc, "sysvshm: attach segment %#x: %s", (unsigned) s->shmkey,
                          strerror(-rc));
        goto fail;
    }
    s->base = addr;
    /* A new segment is set up as shm_attach() sets one up; a foreign one is
     * refused, not overwritten. */
    if (shm_created || (!ipckit__sysvshm_magic_ok(s) && ipckit__sysvshm_header_zero(s))) {
        ipckit__sysvshm_store_init(s);
    } else {
        struct store st;
        rc = ipckit__sysvshm_store_read(s, false, 0, true, &st);
        if (rc < 0)
            goto fail;
    }

    /* The semaphore set, made and joined as sem_get() does. */
    s->semid = -1;
    if (flags & IPCKIT_CREATE) {
        s->semid = semget(s->semkey, SEM_COUNT, (int) o->mode | IPC_CREAT | IPC_EXCL);
        if (s->semid >= 0)
            sem_created = true;
        else if (errno != EEXIST) {
            rc = -errno;
            rc = ipckit__fail(rc, "sysvshm: create semaphore set %#x: %s",
                              (unsigned) s->semkey, strerror(-rc));
            goto fail;
        }
    }
    if (s->semid < 0) {
        s->semid = semget(s->semkey, 0, 0);
        if (s->semid < 0) {
            rc = -errno;
            rc = rc == -ENOENT
                     ? ipckit__fail(rc, "sysvshm: no semaphore set with key %#x (%s)",
                                    (unsigned) s->semkey, ipckit_name_text(n))
                     : ipckit__fail(rc, "sysvshm: semaphore set %#x: %s",
                                    (unsigned) s->semkey, strerror(-rc));
            goto fail;
        }
    }
    if (semctl(s->semid, 0, IPC_STAT, &ms) < 0) {
        rc = -errno;
        rc = ipckit__fail(rc, "sysvshm: semaphore set %#x: IPC_STAT: %s",
                          (unsigned) s->semkey, strerror(-rc));
        goto fail;
    }
    if (!sem_created) {
        (void) snprintf(what, sizeof what, "sysvshm: semaphore set %#x", (unsigned) s->semkey);
        rc = ipckit_backend_check_owner(NULL, o, what, ms.sem_perm.uid, ms.sem_perm.cuid,
                                        ms.sem_perm.gid, ms.sem_perm.mode & 0777u);
        if (rc < 0)
            goto fail;
    }
    if (ms.sem_nsems < SEM_COUNT) {
        rc = ipckit__fail(-EBADMSG,
                          "sysvshm: semaphore set %#x has %lu semaphores; PHP's sem_get()"
                          " uses 3",
                          (unsigned) s->semkey, (unsigned long) ms.sem_nsems);
        goto fail;
    }
    deadline = ipckit__deadline(o->open_timeout_ms < 0 ? GUARD_WAIT_MS : o->open_timeout_ms,
                                &ts);
    rc = sem_register(s, deadline);
    if (rc < 0)
        goto fail;
    *out = s;
    return 0;

fail:
    if (s->base != NULL)
        (void) shmdt((const void *) (uintptr_t) s->base);
    if (shm_created)
        shm_remove_id(s->shmid);
    if (sem_created)
        sem_remove_id(s->semid);
    free(s);
    return rc;
}

int
ipckit__sysvshm_close(struct ipckit__sysvshm *s)
{
    int rc = 0;
    if (s->held_gen != 0 && s->held_gen == fork_gen()) {
        struct sembuf give[1] = { { SEM_LOCK, 1, SEM_UNDO } };
        (void) semop(s->semid, give, 1);
    }
    sem_unregister(s);
    if (shmdt((const void *) (uintptr_t) s->base) < 0)
        rc = -errno;
    free(s);
    return rc;
}

size_t
ipckit__sysvshm_size(const struct ipckit__sysvshm *s)
{
    return s->size;
}

const char *
ipckit__sysvshm_last_error(const struct ipckit__sysvshm *s)
{
    return s->err;
}

/* ---- removing ----------------------------------------------------------------------------- */

/* Is segment @p id one of PHP's stores, or a new one nobody set up? */
static int
segment_is_php(int id, key_t key)
{
    struct shmid_ds ds;
    const unsigned char *p;
    static const char magic[7] = "PHP_SM";
    bool php = true, zero = true;
    if (shmctl(id, IPC_STAT, &ds) < 0)
        return -errno;
    if (ds.shm_segsz < (size_t) PHP_HEAD)
        return ipckit__fail(-EBADMSG,
                            "sysvshm: segment %#x has %zu bytes: not PHP's; left alone",
                            (unsigned) key, (size_t) ds.shm_segsz);
    p = shmat(id, NULL, SHM_RDONLY);
    if (p == (const void *) -1)
        return -errno;
    for (int i = 0; i < PHP_HEAD; i++) {
        unsigned char c = ((const volatile unsigned char *) p)[i];
        if (i < 7 && c != (unsigned char) magic[i])
            php = false;
        if (c != 0)
            zero = false;
    }
    (void) shmdt(p);
    if (!php && !zero)
        return ipckit__fail(-EBADMSG,
                            "sysvshm: segment %#x is not PHP's (no \"PHP_SM\" header); left"
                            " alone",
                            (unsigned) key);
    return 0;
}

int
ipckit__sysvshm_unlink(const ipckit_name *n)
{
    key_t shmkey, semkey;
    struct semid_ds ms;
    int shmid, semid, rc;
    if (!SYSVSHM_SUPPORTED)
        return ipckit__fail(-EPROTONOSUPPORT, "sysvshm: not supported on this platform");
    rc = ipckit__sysvshm_name_keys(n, &shmkey, &semkey);
    if (rc < 0)
        return rc;
    shmid = shmget(shmkey, 0, 0);
    if (shmid < 0 && errno != ENOENT) {
        rc = -errno;
        return ipckit__fail(rc, "sysvshm: segment %#x: %s", (unsigned) shmkey, strerror(-rc));
    }
    semid = semget(semkey, 0, 0);
    if (semid < 0 && errno != ENOENT) {
        rc = -errno;
        return ipckit__fail(rc, "sysvshm: semaphore set %#x: %s", (unsigned) semkey,
                            strerror(-rc));
    }
    if (shmid < 0 && semid < 0)
        return ipckit__fail(-ENOENT, "sysvshm: no segment %#x and no semaphore set %#x (%s)",
                            (unsigned) shmkey, (unsigned) semkey, ipckit_name_text(n));
    /* Check both before removing either. */
    if (shmid >= 0) {
        rc = segment_is_php(shmid, shmkey);
        if (rc < 0)
            return rc == -EBADMSG ? rc
                                  : ipckit__fail(rc, "sysvshm: segment %#x: %s",
                                                 (unsigned) shmkey, strerror(-rc));
    }
    if (semid >= 0) {
        if (semctl(semid, 0, IPC_STAT, &ms) < 0) {
            rc = -errno;
            return ipckit__fail(rc, "sysvshm: semaphore set %#x: %s", (unsigned) semkey,
                                strerror(-rc));
        }
        if (ms.sem_nsems != SEM_COUNT)
            return ipckit__fail(-EBADMSG,
                                "sysvshm: semaphore set %#x has %lu semaphores, not PHP's 3;"
                                " left alone",
                                (unsigned) semkey, (unsigned long) ms.sem_nsems);
    }
    if (shmid >= 0 && shmctl(shmid, IPC_RMID, NULL) < 0) {
        rc = -errno;
        return ipckit__fail(rc, "sysvshm: remove segment %#x: %s", (unsigned) shmkey,
                            strerror(-rc));
    }
    if (semid >= 0 && semctl(semid, 0, IPC_RMID) < 0) {
        rc = -errno;
        return ipckit__fail(rc, "sysvshm: remove semaphore set %#x: %s", (unsigned) semkey,
                            strerror(-rc));
    }
    return 0;
}

/* ---- the lock -------------------------------------------------------------------------------- */

static bool
held(const struct ipckit__sysvshm *s)
{
    return s->held_gen != 0 && s->held_gen == fork_gen();
}

int
ipckit__sysvshm_lock(struct ipckit__sysvshm *s, int timeout_ms)
{
    struct sembuf take[1] = { { SEM_LOCK, -1, SEM_UNDO } };
    struct timespec ts;
    const struct timespec *deadline;
    struct store st;
    int rc;
    if (timeout_ms < -1)
        return ipckit__sysvshm_error(s, -EINVAL, "sysvshm lock: timeout_ms %d is below -1",
                                     timeout_ms);
    if (held(s))
        return ipckit__sysvshm_error(s, -EDEADLK,
                                     "sysvshm lock: this handle already holds the lock");
    deadline = ipckit__deadline(timeout_ms, &ts);
    if (s->reg_gen != fork_gen()) {
        /* A child that inherited the handle: its parent's registration is
         * not its own (undo values are not inherited). */
        struct timespec gts;
        rc = sem_register(s, ipckit__deadline(GUARD_WAIT_MS, &gts));
        if (rc < 0)
            return rc;
    }
    rc = sem_ops(s->semid, take, 1, deadline);
    if (rc == -EAGAIN)
        return ipckit__sysvshm_error(s, timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT,
                                     "sysvshm lock: semaphore set %#x is held by another process%s",
                                     (unsigned) s->semkey, timeout_ms == 0 ? "" : " still");
    if (rc < 0)
        return sem_gone(s, "lock", rc);
    s->held_gen = fork_gen();
    /* An update that an ipckit holder did not finish leaves free below
     * total - end, with the chain [start, end) complete: set free right. */
    if (ipckit__sysvshm_store_read(s, false, 0, true, &st) == 0 && st.free != st.total - st.end) {
        int64_t lost = st.total - st.end - st.free;
        ipckit__sysvshm_wr64(s, OFF_FREE, st.total - st.end);
        return ipckit__sysvshm_error(
            s, -EOWNERDEAD,
            "sysvshm lock: an ipckit process was killed in the middle of a"
            " put or remove (%lld bytes unaccounted for); the store is whole"
            " again, but the variable it was writing or removing may be"
            " gone, and so may those stored after it",
            (long long) lost);
    }
    s->err[0] = '\0';
    return 0;
}

int
ipckit__sysvshm_unlock(struct ipckit__sysvshm *s)
{
    struct sembuf give[1] = { { SEM_LOCK, 1, SEM_UNDO } };
    int rc;
    if (!held(s))
        return ipckit__sysvshm_error(s, -EPERM,
                                     "sysvshm unlock: this handle does not hold the lock");
    s->held_gen = 0;
    rc = sem_ops(s->semid, give, 1, NULL);
    if (rc < 0)
        return sem_gone(s, "unlock", rc);
    return 0;
}

/* Take the lock for one variable call unless the handle holds it already. */
int
ipckit__sysvshm_var_begin(struct ipckit__sysvshm *s, bool *took)
{
    int rc;
    *took = false;
    if (held(s))
        return 0;
    rc = ipckit__sysvshm_lock(s, IPCKIT_FOREVER);
    if (rc < 0 && rc != -EOWNERDEAD)
        return rc;
    *took = true;
    return 0;
}

void
ipckit__sysvshm_var_end(struct ipckit__sysvshm *s, bool took)
{
    if (took)
        (void) ipckit__sysvshm_unlock(s);
}
