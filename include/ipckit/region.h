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
#include <ipckit/export.h>
#include <ipckit/channel.h>

IPCKIT_BEGIN_DECLS

/** Opaque region handle. */
typedef struct ipckit_region ipckit_region;

/**
 * Open or create a region.
 *
 * @param out   receives the handle; NULL on failure.
 * @param name  "shm:NAME".
 * @param flags 0 to open an existing region, IPCKIT_CREATE to create it if
 *              missing, IPCKIT_CREATE | IPCKIT_EXCL to insist on creating it.
 * @param size  bytes of the data area when the region is created (> 0).
 *              When it exists, 0 accepts its size and any other value must
 *              equal it.
 * @param opts  NULL, or options: mode (permissions of a created region,
 *              default 0600) and open_timeout_ms (how long to wait for a
 *              creator that is still setting the region up; default a few
 *              seconds).
 * @return 0, or a negative errno: -EINVAL (bad name, flags or size, or a
 *         size that differs from the existing region's), -ENOENT, -EEXIST,
 *         -EACCES, -EBADMSG (the object is not an ipckit region or its
 *         header is corrupt), -EPROTO (a region of another layout version),
 *         -ENOMEM. ipckit_error_detail() tells more.
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
 *         -ENOTRECOVERABLE.
 */
IPCKIT_API int ipckit_region_lock(ipckit_region *r, int timeout_ms);

/**
 * Release the lock taken with ipckit_region_lock().
 *
 * @return 0, or -EPERM when this handle (in this process and thread) does
 *         not hold it.
 */
IPCKIT_API int ipckit_region_unlock(ipckit_region *r);

/** The data area (64-byte aligned), or NULL for a NULL handle. */
IPCKIT_API void *ipckit_region_data(const ipckit_region *r);

/** Size of the data area in bytes; 0 for NULL. */
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
 * it until they close it.
 *
 * @return 0, -ENOENT, -EINVAL for a bad name, or another negative errno.
 */
IPCKIT_API int ipckit_region_unlink(const char *name);

/**
 * Detail of the last failure on this handle; "" when none. Never NULL.
 */
IPCKIT_API const char *ipckit_region_last_error(const ipckit_region *r);

/*
 * Variable slots. The variable functions format the data area as a store
 * of (key, value) pairs the first time one of them is used, so a region is
 * used either through them or through ipckit_region_data(), not both. Each
 * call takes the lock for itself unless this handle already holds it (take
 * it around several calls to make them one atomic step, as the counter
 * example does); it then waits as long as needed. Values are committed with
 * one atomic store: a reader sees the old value or the new one, never a
 * mixture, even when a writer is killed half-way.
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

IPCKIT_END_DECLS

#endif /* IPCKIT_REGION_H */
