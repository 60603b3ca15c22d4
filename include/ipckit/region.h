/**
 * @file
 * ipckit: shared-memory regions guarded by a lock, with PHP-style variable
 * slots (shm_put_var / shm_get_var / shm_has_var / shm_remove_var).
 *
 * A region is a POSIX shared-memory object (/dev/shm/NAME) holding a
 * header with a process-shared robust mutex, and a data area of the size
 * given at creation. A process that dies while it holds the lock does not
 * wedge the others: the next locker gets the lock and -EOWNERDEAD.
 *
 * Names use the channel grammar with the "shm" scheme: "shm:NAME" or
 * "shm:/NAME" (one name, no further '/'). A region and a shm: channel must
 * not share a name; each refuses the other's object (-EBADMSG).
 *
 * The "sysvshm" scheme keeps a region on PHP's own objects instead, so that
 * C programs share variables with PHP's shm_attach()/shm_put_var() under
 * PHP's sem_get() lock: a System V segment in the layout of PHP's sysvshm
 * extension and the 3-semaphore set of its sysvsem extension, named
 * "sysvshm:/path?proj=m&semproj=s" (ftok keys, these are the defaults) or
 * "sysvshm:0x1234?sem=0x5678" (numeric keys; sem defaults to the same key).
 * Values there are PHP-serialized text (<ipckit/phpvalue.h>). The variable
 * calls work the same; the differences are told below and in
 * ipckit-sysvshm(7).
 *
 * Thread safety: a region handle may be used by one thread at a time, and
 * the thread that locked must be the one that unlocks. Distinct handles
 * (in one process or many) exclude each other through the lock.
 *
 * Fork: a handle opened before fork() may be used in the child. A lock held
 * by the parent at fork() is not held by the child.
 */
#ifndef IPCKIT_REGION_H
#define IPCKIT_REGION_H

#include <stddef.h>
#include <sys/types.h>
/* key_t (ipckit_region_sysv_keys()): <sys/ipc.h> defines it in every mode,
 * <sys/types.h> only with POSIX or GNU extensions on. */
#include <sys/ipc.h>
#include <ipckit/export.h>
#include <ipckit/channel.h>

IPCKIT_BEGIN_DECLS

/** Opaque region handle. */
typedef struct ipckit_region ipckit_region;

/**
 * Open or create a region.
 *
 * @param out   receives the handle; NULL on failure.
 * @param name  "shm:NAME", or "sysvshm:KEY" / "sysvshm:PATH" (PHP's objects).
 * @param flags 0 to open an existing region, IPCKIT_CREATE to create it if
 *              missing, IPCKIT_CREATE | IPCKIT_EXCL to insist on creating it
 *              (sysvshm: the segment; the semaphore set is created when
 *              missing, as sem_get() does).
 * @param size  bytes of the data area when the region is created (> 0;
 *              sysvshm: of the whole segment, PHP's shm_attach() size, at
 *              least 40). When it exists, 0 accepts its size and any other
 *              value must equal it.
 * @param opts  NULL, or options: mode (permissions of a created region,
 *              default 0600) and open_timeout_ms (how long to wait for a
 *              creator that is still setting the region up; default a few
 *              seconds).
 * @return 0, or a negative errno: -EINVAL (bad name, flags or size, or a
 *         size that differs from the existing region's), -ENOENT, -EEXIST,
 *         -EACCES, -EPERM (an existing object of a user not trusted),
 *         -EBADMSG (the object is not an ipckit region, not PHP's, or its
 *         header or store is corrupt), -EPROTO (a region of another layout
 *         version), -ETIMEDOUT (sysvshm: sem_get()'s set-up guard stayed
 *         taken), -ENOMEM. ipckit_error_detail() tells more.
 */
IPCKIT_API IPCKIT_NODISCARD int ipckit_region_open(ipckit_region **out, const char *name,
                                                   unsigned flags, size_t size,
                                                   const ipckit_opts *opts);

/**
 * Take the region's lock, waiting at most @p timeout_ms (-1 forever, 0 try
 * once).
 *
 * @return 0; -EOWNERDEAD when the previous holder died while holding it: the
 *         lock is now held by the caller, the variable slots have been
 *         checked and repaired, and the data area may be inconsistent
 *         (unlock as usual); -EAGAIN (timeout 0) or -ETIMEDOUT when another
 *         holder kept it; -EDEADLK when this handle already holds it;
 *         -ENOTRECOVERABLE. sysvshm: the kernel gives a dead holder's lock
 *         back as if released and says nothing, so -EOWNERDEAD comes only
 *         when an ipckit holder was killed in the middle of a put or remove
 *         (the store is whole again; that variable, and for a remove the
 *         ones stored after it, may be gone); -EIDRM when the semaphore set
 *         was removed; another handle of the same process waits like
 *         another process.
 */
IPCKIT_API int ipckit_region_lock(ipckit_region *r, int timeout_ms);

/**
 * Release the lock taken with ipckit_region_lock().
 *
 * @return 0, or -EPERM when this handle (in this process and thread) does
 *         not hold it.
 */
IPCKIT_API int ipckit_region_unlock(ipckit_region *r);

/** The data area (64-byte aligned), or NULL for a NULL handle and for a
 * sysvshm: region, which is all PHP's variable store. */
IPCKIT_API void *ipckit_region_data(const ipckit_region *r);

/** Size of the data area in bytes (sysvshm: of the segment); 0 for NULL. */
IPCKIT_API size_t ipckit_region_size(const ipckit_region *r);

/**
 * Unmap the region and free the handle, releasing the lock if this handle
 * holds it. The object stays; remove it with ipckit_region_unlink(). NULL is
 * a no-op.
 *
 * @return 0 or a negative errno (the handle is freed anyway).
 */
IPCKIT_API int ipckit_region_close(ipckit_region *r);

/**
 * Remove the region named @p name. Processes that have it open keep using
 * it until they close it (sysvshm: the segment stays until the last detaches,
 * as shm_remove() leaves it; the semaphore set goes at once, as
 * sem_remove() removes it, and waits on it fail with -EIDRM).
 *
 * @return 0, -ENOENT (nothing by that name), -EINVAL for a bad name,
 *         -EBADMSG (sysvshm: a segment that is not PHP's, or a semaphore
 *         set that has not 3 semaphores: left alone), or another negative
 *         errno.
 */
IPCKIT_API int ipckit_region_unlink(const char *name);

/**
 * Detail of the last failure on this handle; "" when none. Never NULL.
 */
IPCKIT_API const char *ipckit_region_last_error(const ipckit_region *r);

/**
 * The two System V keys of a "sysvshm:" name, as PHP's shm_attach() and
 * sem_get() would be given them: the segment's in @p shm_key, the
 * semaphore set's in @p sem_key (ftok(PATH, proj) and ftok(PATH, semproj),
 * defaults 'm' and 's'; or the numeric key and its sem=, which defaults to
 * the same key). Nothing is opened. Since 0.2.0.
 *
 * @return 0; -EINVAL (with a detail, ipckit_error_detail()) for a name that
 *         is not a valid sysvshm: name or a NULL argument; -ENOENT when the
 *         path does not exist.
 */
IPCKIT_API int ipckit_region_sysv_keys(const char *name, key_t *shm_key, key_t *sem_key);

/*
 * Variable slots. The variable functions format the data area as a store
 * of (key, value) pairs the first time one of them is used, so a region is
 * used either through them or through ipckit_region_data(), not both. Each
 * call takes the lock for itself unless this handle already holds it (take
 * it around several calls to make them one atomic step, as the counter
 * example does); it then waits as long as needed. In a shm: region, values
 * are committed with one atomic store: a reader sees the old value or the
 * new one, never a mixture, even when a writer is killed half-way.
 *
 * sysvshm: the store is PHP's, with PHP's rules: a put of an existing key
 * moves the variables after it down and appends the new value, as
 * shm_put_var() does. Every call walks and checks the whole store first and
 * refuses a corrupt one (-EBADMSG) before reading or writing anything. PHP
 * reads only values in its serialize() format; see <ipckit/phpvalue.h>.
 */

/**
 * Store @p len bytes at @p val under @p key, replacing any previous value.
 *
 * @return 0, -ENOSPC when the store has no room (the old value is kept),
 *         -EINVAL, -EBADMSG when the store is corrupt, or a lock error.
 */
IPCKIT_API int ipckit_region_put(ipckit_region *r, long key, const void *val, size_t len);

/**
 * Copy the value of @p key into @p buf.
 *
 * @return its length; -ENOENT when there is none; -EMSGSIZE when @p cap is
 *         smaller than the value (ipckit_region_last_error() tells its size;
 *         nothing is copied); -EBADMSG when the slot is corrupt.
 */
IPCKIT_API ssize_t ipckit_region_get(ipckit_region *r, long key, void *buf, size_t cap);

/** @return 1 when @p key has a value, 0 when not, or a negative errno. */
IPCKIT_API int ipckit_region_has(ipckit_region *r, long key);

/** Remove @p key. @return 0, -ENOENT, or a negative errno. */
IPCKIT_API int ipckit_region_remove(ipckit_region *r, long key);

/**
 * The keys that have a value, in the store's order: the first @p cap of
 * them into @p keys (which may be NULL when @p cap is 0).
 *
 * @return how many keys have a value (when more than @p cap, call again
 *         with room for them all), or a negative errno: -EBADMSG when the
 *         store is corrupt, -EINVAL, or a lock error.
 */
IPCKIT_API ssize_t ipckit_region_keys(ipckit_region *r, long *keys, size_t cap);

IPCKIT_END_DECLS

#endif /* IPCKIT_REGION_H */
