/*
 * ipckit: error texts and per-thread error detail.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* One list builds ipckit_strerror() and ipckit_errname(). Aliases such as
 * EWOULDBLOCK (== EAGAIN) and EOPNOTSUPP (== ENOTSUP) are left out. */
#define IPCKIT_ERRNO_LIST(X)                                                              \
    X(EPERM, "operation not permitted")                                                   \
    X(ENOENT, "no such object")                                                           \
    X(ESRCH, "no such process")                                                           \
    X(EINTR, "interrupted")                                                               \
    X(EIO, "input/output error")                                                          \
    X(ENXIO, "no peer has the other end open")                                            \
    X(E2BIG, "argument list too long")                                                    \
    X(EBADF, "channel not opened for this direction, or bad descriptor")                  \
    X(EAGAIN, "would block: nothing to receive or no room to send right now")             \
    X(ENOMEM, "out of memory")                                                            \
    X(EACCES, "permission denied")                                                        \
    X(EFAULT, "bad address")                                                              \
    X(EBUSY, "object busy")                                                               \
    X(EEXIST, "object already exists")                                                    \
    X(ENODEV, "no such device")                                                           \
    X(ENOTDIR, "not a directory")                                                         \
    X(EISDIR, "is a directory")                                                           \
    X(EINVAL, "invalid argument")                                                         \
    X(ENFILE, "too many open files in system")                                            \
    X(EMFILE, "too many open files")                                                      \
    X(ENOTTY, "inappropriate operation for the object")                                   \
    X(EFBIG, "object too large")                                                          \
    X(ENOSPC, "no space left in the object")                                              \
    X(EROFS, "read-only file system")                                                     \
    X(EPIPE, "peer gone: no receiver (send) or no sender and nothing queued (recv)")      \
    X(ERANGE, "value out of range")                                                       \
    X(EDEADLK, "deadlock avoided")                                                        \
    X(ENAMETOOLONG, "name too long")                                                      \
    X(ENOSYS, "function not implemented")                                                 \
    X(ELOOP, "refusing to follow a symbolic link")                                        \
    X(ENOMSG, "no message of the requested type")                                         \
    X(EIDRM, "object was removed")                                                        \
    X(EPROTO, "protocol or version mismatch")                                             \
    X(EBADMSG, "corrupt message or header")                                               \
    X(EOVERFLOW, "value too large")                                                       \
    X(EUSERS, "too many users: the object's table of them is full")                      \
    X(EMSGSIZE, "message too large for the channel or the buffer")                        \
    X(EPROTONOSUPPORT, "unknown scheme: no backend registered for it")                    \
    X(ENOTSUP, "operation not supported by this backend")                                 \
    X(ENOBUFS, "fell behind: messages were overwritten before they were read")          \
    X(ENOTCONN, "not connected")                                                          \
    X(ETIMEDOUT, "timed out")                                                             \
    X(ESTALE, "changed meanwhile: the object was replaced, or a borrowed message overwritten") \
    X(ECANCELED, "operation canceled")                                                    \
    X(EOWNERDEAD, "previous owner died holding the lock; state may be inconsistent")      \
    X(ENOTRECOVERABLE, "state not recoverable")

const char *
ipckit_strerror(int rc)
{
    if (rc >= 0)
        return "success";
    switch (-rc) {
#define X(code, text) \
    case code:        \
        return text;
        IPCKIT_ERRNO_LIST(X)
#undef X
    default:
        return "unknown error";
    }
}

const char *
ipckit_errname(int rc)
{
    if (rc >= 0)
        return "OK";
    switch (-rc) {
#define X(code, text) \
    case code:        \
        return #code;
        IPCKIT_ERRNO_LIST(X)
#undef X
    default:
        return "EUNKNOWN";
    }
}

/*
 * The thread's detail, and whether a backend (or a layer under the core)
 * wrote it since the core last took it: after a failed call on a channel the
 * core keeps that text on the channel, and otherwise writes a generic one.
 * Backends get no pointer back to the channel (nng's transports do not
 * either): a backend of a user's that passes any pointer to
 * ipckit_backend_error() can corrupt nothing.
 */
static _Thread_local char detail[IPCKIT__DETAIL_MAX];
_Thread_local bool ipckit__detail_fresh_flag IPCKIT__TLS_IE;
#define detail_fresh ipckit__detail_fresh_flag

const char *
ipckit_error_detail(void)
{
    return detail;
}

void
ipckit__detail_clear(void)
{
    detail[0] = '\0';
    detail_fresh = false;
}

static void
detail_vset(const char *fmt, va_list ap)
{
    (void) vsnprintf(detail, sizeof detail, fmt, ap);
    detail_fresh = true;
}

void
ipckit__detail_set(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    detail_vset(fmt, ap);
    va_end(ap);
}

bool
ipckit__detail_fresh(void)
{
    return detail_fresh;
}

int
ipckit__fail(int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    detail_vset(fmt, ap);
    va_end(ap);
    return rc;
}

int
ipckit_backend_fail(int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    detail_vset(fmt, ap);
    va_end(ap);
    return rc;
}

int
ipckit_backend_error(void *state, int rc, const char *fmt, ...)
{
    va_list ap;
    (void) state; /* kept in the signature for the ABI; never followed */
    va_start(ap, fmt);
    detail_vset(fmt, ap);
    va_end(ap);
    return rc;
}

void
ipckit__channel_failed(ipckit_channel *ch, int rc, const char *what)
{
    if (detail_fresh)
        memcpy(ch->err, detail, sizeof ch->err);
    else
        (void) snprintf(ch->err, sizeof ch->err, "%s: %s", what, ipckit_strerror(rc));
    memcpy(detail, ch->err, sizeof detail);
    detail_fresh = false;
}

int
ipckit__channel_error(ipckit_channel *ch, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void) vsnprintf(ch->err, sizeof ch->err, fmt, ap);
    va_end(ap);
    memcpy(detail, ch->err, sizeof detail);
    detail_fresh = false;
    return rc;
}
