/**
 * @file
 * ipckit: error codes.
 *
 * Every ipckit function that can fail returns 0 (or a non-negative count) on
 * success and a negative errno value on failure, such as -ETIMEDOUT or
 * -EMSGSIZE. The codes are the system's <errno.h> values, so they can be
 * compared with -EAGAIN and friends directly.
 */
#ifndef IPCKIT_ERROR_H
#define IPCKIT_ERROR_H

#include <errno.h>
#include <ipckit/export.h>

IPCKIT_BEGIN_DECLS

/**
 * Describe a return code.
 *
 * @param rc a value returned by an ipckit function: 0, a positive count, or a
 *           negative errno value. A positive errno value is treated like its
 *           negative.
 * @return a static, never NULL string: "success" for rc >= 0, a description
 *         of the error for a known code, "unknown error" otherwise. Safe to
 *         call from any thread.
 */
IPCKIT_API const char *ipckit_strerror(int rc);

/**
 * Name a return code, such as "ETIMEDOUT" for -ETIMEDOUT.
 *
 * @return a static, never NULL string; "OK" for rc >= 0 and "EUNKNOWN" for a
 *         code ipckit does not know. Safe to call from any thread.
 */
IPCKIT_API const char *ipckit_errname(int rc);

/**
 * Detail of the last failure seen by this thread in a call that has no
 * handle to carry it (ipckit_open(), ipckit_unlink(), name parsing,
 * ipckit_backend_register(), ...), such as
 * "fifo:/tmp/x: path exists and is not a FIFO".
 *
 * @return a thread-local string, valid until the next ipckit call on this
 *         thread; "" when nothing failed. Never NULL.
 */
IPCKIT_API const char *ipckit_error_detail(void);

IPCKIT_END_DECLS

#endif /* IPCKIT_ERROR_H */
