/*
 * ipckit: the channel API. Validates arguments, parses the name, computes
 * the deadline once and hands the call to the backend.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "internal.h"
#include "objects.h"

#define IPCKIT__KNOWN_FLAGS (IPCKIT_SEND | IPCKIT_RECV | IPCKIT_CREATE | IPCKIT_EXCL | IPCKIT_NONBLOCK)

unsigned
ipckit_version(void)
{
    return IPCKIT_VERSION_NUMBER;
}

const char *
ipckit_version_string(void)
{
    return IPCKIT_VERSION_STRING;
}

/* Parse @p text and find its backend; on failure the thread detail says why. */
int
ipckit__name_resolve(const char *text, ipckit_name **name, const ipckit_backend **be)
{
    int rc = ipckit_name_parse(text, name);
    if (rc < 0)
        return rc;
    *be = ipckit__backend_lookup(ipckit_name_scheme(*name));
    if (*be == NULL) {
        /* a plug-in beside the library may have it (plugin.c) */
        char known[256], why[IPCKIT__DETAIL_MAX];
        (void) ipckit__plugin_load(ipckit_name_scheme(*name), why, sizeof why);
        *be = ipckit__backend_lookup(ipckit_name_scheme(*name));
        if (*be != NULL)
            return 0;
        ipckit__backend_list(known, sizeof known);
        ipckit__detail_set("name \"%s\": unknown scheme \"%s\" (registered: %s)%s%s", text,
                           ipckit_name_scheme(*name), known, why[0] ? "; " : "", why);
        ipckit_name_free(*name);
        *name = NULL;
        return -EPROTONOSUPPORT;
    }
    return 0;
}

/* Option flags that a backend honours or not; the others are the core's. */
#define IPCKIT__BACKEND_OPT_FLAGS (IPCKIT_OPT_STREAM | IPCKIT_OPT_TRUNCATE | IPCKIT_OPT_INTERRUPTIBLE)

/* Refuse, once for every backend, the option flags it does not declare
 * (tables of ABI 4 on; older ones refuse them themselves). */
static int
refuse_options(const ipckit_backend *be, const char *name, const ipckit_opts *o)
{
    static const struct {
        unsigned bit;
        const char *text;
    } names[] = { { IPCKIT_OPT_STREAM, "IPCKIT_OPT_STREAM (a byte stream)" },
                  { IPCKIT_OPT_TRUNCATE, "IPCKIT_OPT_TRUNCATE (cutting a message that does not"
                                         " fit)" },
                  { IPCKIT_OPT_INTERRUPTIBLE, "IPCKIT_OPT_INTERRUPTIBLE" } };
    unsigned extra;
    if (be->abi_version < 4)
        return 0;
    extra = o->flags & IPCKIT__BACKEND_OPT_FLAGS & ~be->opt_flags;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (extra & names[i].bit) {
            ipckit__detail_set("open \"%s\": %s: does not support %s", name, be->scheme,
                               names[i].text);
            return -ENOTSUP;
        }
    return 0;
}

int
ipckit_open(ipckit_channel **out, const char *name, unsigned flags, const ipckit_opts *opts)
{
    ipckit_name *n = NULL;
    const ipckit_backend *be = NULL;
    ipckit_channel *ch;
    ipckit_opts o;
    struct ipckit__trust trust;
    struct timespec ts;
    const struct timespec *deadline;
    int rc;

    ipckit__detail_clear();
    if (out == NULL) {
        ipckit__detail_set("open: out is NULL");
        return -EINVAL;
    }
    *out = NULL;
    if (flags & ~(unsigned) IPCKIT__KNOWN_FLAGS) {
        ipckit__detail_set("open: unknown flag bits %#x", flags & ~(unsigned) IPCKIT__KNOWN_FLAGS);
        return -EINVAL;
    }
    if (!(flags & (IPCKIT_SEND | IPCKIT_RECV))) {
        ipckit__detail_set("open: flags need IPCKIT_SEND, IPCKIT_RECV or both");
        return -EINVAL;
    }
    if ((flags & IPCKIT_EXCL) && !(flags & IPCKIT_CREATE)) {
        ipckit__detail_set("open: IPCKIT_EXCL needs IPCKIT_CREATE");
        return -EINVAL;
    }
    rc = ipckit__opts_resolve(opts, &o);
    if (rc < 0)
        return rc;
    rc = ipckit__name_resolve(name, &n, &be);
    if (rc < 0)
        return rc;
    rc = ipckit__trust_merge(n, &o, &trust);
    if (rc == 0)
        rc = refuse_options(be, name, &o);
    if (rc < 0) {
        ipckit_name_free(n);
        return rc;
    }

    ch = calloc(1, sizeof *ch + be->state_size);
    if (ch == NULL) {
        ipckit_name_free(n);
        return -ENOMEM;
    }
    ch->be = be;
    ch->flags = flags;
    ch->caps = be->caps;
    ch->max_msg = o.max_msg_size;
    deadline = ipckit__deadline((flags & IPCKIT_NONBLOCK) ? 0 : o.open_timeout_ms, &ts);
    rc = be->open(ch->state, n, flags, &o, deadline);
    if (rc < 0) {
        if (!ipckit__detail_fresh())
            ipckit__detail_set("open \"%s\": %s", name, ipckit_strerror(rc));
        ipckit_name_free(n);
        free(ch);
        return rc;
    }
    ipckit_name_free(n);
    /* From ABI 4 on, 1 says that this open created the object: the core
     * records its creator where the kernel keeps none. */
    if (rc > 0 && be->abi_version >= 4)
        ipckit__creator_opened(be, ch->state);
    if (be->info != NULL)
        be->info(ch->state, &ch->caps, &ch->max_msg);
    if (!ipckit__backend_zerocopy(be))
        ch->caps &= ~(unsigned) IPCKIT_CAP_ZEROCOPY;
    if (ch->max_msg == 0)
        ch->max_msg = (size_t) -1;
    *out = ch;
    return 0;
}

int
ipckit_close(ipckit_channel *ch)
{
    int rc;
    if (ch == NULL)
        return 0;
    /* A loan still out is dropped; a borrowed message stays queued. */
    if (ch->lent)
        (void) ch->be->commit(ch->state, 0, 0, false);
    if (ch->borrowed)
        (void) ch->be->release(ch->state, false);
    rc = ch->be->close(ch->state);
    free(ch);
    return rc;
}

int
ipckit_unlink(const char *name)
{
    ipckit_name *n = NULL;
    const ipckit_backend *be = NULL;
    int rc;

    ipckit__detail_clear();
    rc = ipckit__name_resolve(name, &n, &be);
    if (rc < 0)
        return rc;
    if (be->unlink == NULL) {
        ipckit__detail_set("unlink \"%s\": backend %s has nothing to remove", name, be->scheme);
        rc = -ENOTSUP;
    } else {
        /* the creator record goes with the object: found before, removed after */
        struct ipckit__crec rec;
        bool drop = ipckit__creator_before_unlink(be, n, &rec);
        rc = be->unlink(n);
        if (rc == 0 && drop)
            ipckit__creator_after_unlink(&rec);
    }
    ipckit_name_free(n);
    return rc;
}

int
ipckit_stat_name(const char *name, ipckit_stat *out)
{
    ipckit_name *n = NULL;
    const ipckit_backend *be = NULL;
    int rc;

    ipckit__detail_clear();
    if (out == NULL)
        return -EINVAL;
    rc = ipckit__name_resolve(name, &n, &be);
    if (rc < 0)
        return rc;
    memset(out, 0xff, sizeof *out); /* every field -1 unless the backend knows it */
    out->mode = 0;
    if (be->stat == NULL) {
        ipckit__detail_set("stat \"%s\": backend %s cannot describe its objects", name,
                           be->scheme);
        rc = -ENOTSUP;
    } else {
        rc = be->stat(n, out);
        /* the kernel keeps no creator for some objects: their record may */
        if (rc == 0 && out->creator_pid < 0)
            out->creator_pid = ipckit__creator_stat_pid(be, n);
    }
    ipckit_name_free(n);
    return rc;
}

int
ipckit_interrupt(ipckit_channel *ch)
{
    /* async-signal-safe: no detail, no lock, no allocation */
    if (ch == NULL)
        return -EINVAL;
    if (ch->be->abi_version < 3 || ch->be->interrupt == NULL)
        return -ENOTSUP;
    return ch->be->interrupt(ch->state);
}

/* The deadline of a send or receive; a wait without end (the common case)
 * without a call. */
static inline const struct timespec *
channel_deadline(const ipckit_channel *ch, int timeout_ms, struct timespec *ts)
{
    if (ch->flags & IPCKIT_NONBLOCK)
        timeout_ms = 0;
    return timeout_ms < 0 ? NULL : ipckit__deadline(timeout_ms, ts);
}

/*
 * The send and the receive, each in one body that the two exported
 * functions inline: a call from ipckit_send() to the exported
 * ipckit_send_typed() would go through the PLT (a program may interpose
 * it), an indirect jump per message on the fastest paths.
 */
static inline __attribute__((always_inline)) int
channel_send(ipckit_channel *ch, long type, const void *buf, size_t len, int timeout_ms)
{
    struct timespec ts;
    int rc;

    if (ch == NULL)
        return -EINVAL;
    if (!(ch->flags & IPCKIT_SEND))
        return ipckit__channel_error(ch, -EBADF, "send: channel not opened for sending");
    if (type <= 0)
        return ipckit__channel_error(ch, -EINVAL, "send: type %ld is not positive", type);
    if (buf == NULL && len > 0)
        return ipckit__channel_error(ch, -EINVAL, "send: NULL buffer with length %zu", len);
    if (timeout_ms < -1)
        return ipckit__channel_error(ch, -EINVAL, "send: timeout_ms %d is below -1",
                                    timeout_ms);
    if (len > ch->max_msg)
        return ipckit__channel_error(ch, -EMSGSIZE,
                                    "send: message of %zu bytes exceeds the channel's limit of"
                                    " %zu bytes",
                                    len, ch->max_msg);
    if (ch->lent)
        return ipckit__channel_error(ch, -EBUSY,
                                    "send: a loan is out on this channel; commit or cancel it"
                                    " first");
    ipckit__detail_begin();
    rc = ch->be->send(ch->state, type, buf, len, channel_deadline(ch, timeout_ms, &ts));
    if (rc < 0)
        ipckit__channel_failed(ch, rc, "send");
    return rc;
}

int
ipckit_send(ipckit_channel *ch, const void *buf, size_t len, int timeout_ms)
{
    return channel_send(ch, 1, buf, len, timeout_ms);
}

int
ipckit_send_typed(ipckit_channel *ch, long type, const void *buf, size_t len, int timeout_ms)
{
    return channel_send(ch, type, buf, len, timeout_ms);
}

static inline __attribute__((always_inline)) ssize_t
channel_recv(ipckit_channel *ch, long selector, long *type, void *buf, size_t cap,
             int timeout_ms)
{
    struct timespec ts;
    long t = 0;
    ssize_t rc;

    if (ch == NULL)
        return -EINVAL;
    if (!(ch->flags & IPCKIT_RECV))
        return ipckit__channel_error(ch, -EBADF, "recv: channel not opened for receiving");
    if (buf == NULL && cap > 0)
        return ipckit__channel_error(ch, -EINVAL, "recv: NULL buffer with capacity %zu",
                                    cap);
    if (timeout_ms < -1)
        return ipckit__channel_error(ch, -EINVAL, "recv: timeout_ms %d is below -1",
                                    timeout_ms);
    if (selector != 0 && !(ch->caps & IPCKIT_CAP_SELECT))
        return ipckit__channel_error(ch, -ENOTSUP,
                                    "recv: backend %s cannot select by type (selector %ld)",
                                    ch->be->scheme, selector);
    if (ch->borrowed)
        return ipckit__channel_error(ch, -EBUSY,
                                    "recv: a message is borrowed on this channel; release it"
                                    " first");
    ipckit__detail_begin();
    rc = ch->be->recv(ch->state, selector, &t, buf, cap, channel_deadline(ch, timeout_ms, &ts));
    if (rc >= 0) {
        if (type != NULL)
            *type = t;
    } else {
        ipckit__channel_failed(ch, (int) rc, "recv");
    }
    return rc;
}

ssize_t
ipckit_recv(ipckit_channel *ch, void *buf, size_t cap, int timeout_ms)
{
    return channel_recv(ch, 0, NULL, buf, cap, timeout_ms);
}

ssize_t
ipckit_recv_typed(ipckit_channel *ch, long selector, long *type, void *buf, size_t cap,
                  int timeout_ms)
{
    return channel_recv(ch, selector, type, buf, cap, timeout_ms);
}

/* ---- zero copy ------------------------------------------------------------ */

static bool
zerocopy(const ipckit_channel *ch)
{
    return (ch->caps & IPCKIT_CAP_ZEROCOPY) && ipckit__backend_zerocopy(ch->be);
}

int
ipckit_send_loan(ipckit_channel *ch, size_t len, void **buf, int timeout_ms)
{
    struct timespec ts;
    int rc;

    if (buf != NULL)
        *buf = NULL;
    if (ch == NULL)
        return -EINVAL;
    if (buf == NULL)
        return ipckit__channel_error(ch, -EINVAL, "send_loan: buf is NULL");
    if (!(ch->flags & IPCKIT_SEND))
        return ipckit__channel_error(ch, -EBADF,
                                    "send_loan: channel not opened for sending");
    if (!zerocopy(ch))
        return ipckit__channel_error(ch, -ENOTSUP,
                                    "send_loan: backend %s copies; use ipckit_send()",
                                    ch->be->scheme);
    if (timeout_ms < -1)
        return ipckit__channel_error(ch, -EINVAL, "send_loan: timeout_ms %d is below -1",
                                    timeout_ms);
    if (len > ch->max_msg)
        return ipckit__channel_error(ch, -EMSGSIZE,
                                    "send_loan: message of %zu bytes exceeds the channel's"
                                    " limit of %zu bytes",
                                    len, ch->max_msg);
    if (ch->lent)
        return ipckit__channel_error(ch, -EBUSY,
                                    "send_loan: a loan is already out on this channel");
    ipckit__detail_begin();
    rc = ch->be->loan(ch->state, len, buf, channel_deadline(ch, timeout_ms, &ts));
    if (rc == 0) {
        ch->lent = true;
        ch->lent_len = len;
    } else {
        *buf = NULL;
        ipckit__channel_failed(ch, rc, "send_loan");
    }
    return rc;
}

static int
finish_loan(ipckit_channel *ch, long type, size_t len, bool publish)
{
    const char *what = publish ? "send_commit" : "send_cancel";
    int rc;
    if (ch == NULL)
        return -EINVAL;
    if (!ch->lent)
        return ipckit__channel_error(ch, -EINVAL, "%s: no loan is out on this channel",
                                    what);
    if (publish && type <= 0)
        return ipckit__channel_error(ch, -EINVAL, "%s: type %ld is not positive", what,
                                    type);
    if (publish && len > ch->lent_len)
        return ipckit__channel_error(ch, -EINVAL,
                                    "%s: length %zu is above the %zu bytes loaned", what, len,
                                    ch->lent_len);
    rc = ch->be->commit(ch->state, type, len, publish);
    if (rc == -EPERM)
        return ipckit__channel_error(ch, rc,
                                    "%s: the loan was taken by another process (the parent of"
                                    " this one)",
                                    what);
    ch->lent = false;
    return rc;
}

int
ipckit_send_commit(ipckit_channel *ch, long type, size_t len)
{
    return finish_loan(ch, type, len, true);
}

int
ipckit_send_cancel(ipckit_channel *ch)
{
    return finish_loan(ch, 0, 0, false);
}

ssize_t
ipckit_recv_borrow(ipckit_channel *ch, long *type, const void **buf, int timeout_ms)
{
    struct timespec ts;
    long t = 0;
    ssize_t rc;

    if (buf != NULL)
        *buf = NULL;
    if (ch == NULL)
        return -EINVAL;
    if (buf == NULL)
        return ipckit__channel_error(ch, -EINVAL, "recv_borrow: buf is NULL");
    if (!(ch->flags & IPCKIT_RECV))
        return ipckit__channel_error(ch, -EBADF,
                                    "recv_borrow: channel not opened for receiving");
    if (!zerocopy(ch))
        return ipckit__channel_error(ch, -ENOTSUP,
                                    "recv_borrow: backend %s copies; use ipckit_recv()",
                                    ch->be->scheme);
    if (timeout_ms < -1)
        return ipckit__channel_error(ch, -EINVAL,
                                    "recv_borrow: timeout_ms %d is below -1", timeout_ms);
    if (ch->borrowed)
        return ipckit__channel_error(ch, -EBUSY,
                                    "recv_borrow: a message is already borrowed on this"
                                    " channel");
    ipckit__detail_begin();
    rc = ch->be->borrow(ch->state, &t, buf, channel_deadline(ch, timeout_ms, &ts));
    if (rc >= 0) {
        ch->borrowed = true;
        if (type != NULL)
            *type = t;
    } else {
        *buf = NULL;
        ipckit__channel_failed(ch, (int) rc, "recv_borrow");
    }
    return rc;
}

int
ipckit_recv_release(ipckit_channel *ch)
{
    int rc;
    if (ch == NULL)
        return -EINVAL;
    if (!ch->borrowed)
        return ipckit__channel_error(ch, -EINVAL,
                                    "recv_release: no message is borrowed on this channel");
    rc = ch->be->release(ch->state, true);
    if (rc == -EPERM)
        return ipckit__channel_error(ch, rc,
                                    "recv_release: the message was borrowed by another process"
                                    " (the parent of this one)");
    ch->borrowed = false;
    if (rc < 0)
        ipckit__channel_failed(ch, rc, "recv_release");
    return rc;
}

/*
 * The channel is const here because asking for its descriptor changes
 * nothing of what it is. Its error detail is no part of that: it records
 * the last failed call, whichever it was, so a failure here writes it like
 * any other call's. The handle always comes from ipckit_open() (calloc), so
 * writing through it is sound; and a channel is used by one thread at a
 * time, so nobody reads the detail meanwhile.
 */
int
ipckit_fd(const ipckit_channel *ch)
{
    /* The detail is not the channel's logical state: a handle is always
     * allocated by ipckit_open(), so writing it through a const pointer is
     * sound (and channels are used by one thread at a time). */
    ipckit_channel *w = (ipckit_channel *) (uintptr_t) ch;
    int rc;

    if (ch == NULL) {
        ipckit__detail_set("fd: channel is NULL");
        return -EINVAL;
    }
    if (ch->be->fd == NULL || !(ch->caps & IPCKIT_CAP_FD))
        return ipckit__channel_error(w, -ENOTSUP,
                                     "fd: this %s channel has no pollable descriptor"
                                     " (IPCKIT_CAP_FD is not set)",
                                     ch->be->scheme);
    ipckit__detail_begin();
    rc = ch->be->fd(w->state);
    if (rc < 0)
        ipckit__channel_failed(w, rc, "fd");
    return rc;
}

int
ipckit_ctl(ipckit_channel *ch, int op, void *arg)
{
    int rc;
    if (ch == NULL)
        return -EINVAL;
    if (ch->be->abi_version < 4 || ch->be->ctl == NULL)
        return ipckit__channel_error(ch, -ENOTSUP, "ctl: backend %s takes no requests",
                                     ch->be->scheme);
    ipckit__detail_begin();
    rc = ch->be->ctl(ch->state, op, arg);
    if (rc < 0)
        ipckit__channel_failed(ch, rc, "ctl");
    return rc;
}

unsigned
ipckit_caps(const ipckit_channel *ch)
{
    return ch ? ch->caps : 0;
}

size_t
ipckit_max_msg_size(const ipckit_channel *ch)
{
    return ch ? ch->max_msg : 0;
}

const char *
ipckit_scheme(const ipckit_channel *ch)
{
    return ch ? ch->be->scheme : "";
}

const char *
ipckit_last_error(const ipckit_channel *ch)
{
    return ch ? ch->err : "";
}
