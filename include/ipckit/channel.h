/**
 * @file
 * ipckit: the channel API.
 *
 * A channel is a message path over one kernel mechanism, chosen by the
 * scheme of its name ("fifo:/tmp/app.pipe", "mq:/etc/app.conf?proj=m", ...).
 * Every backend keeps message boundaries and carries a positive "type" with
 * each message. See ipckit(7) and docs/names.md for the name grammar.
 *
 * Thread safety: a channel may be used by one thread at a time; distinct
 * channels are independent. ipckit_strerror(), ipckit_errname() and
 * ipckit_version*() are safe from any thread.
 *
 * Fork: a channel opened before fork() may be used in the child. A receiving
 * channel must then be used by one process only (the parent or the child),
 * since a backend may hold bytes it has read but not yet returned.
 */
#ifndef IPCKIT_CHANNEL_H
#define IPCKIT_CHANNEL_H

#include <stddef.h>
#include <sys/types.h>
#include <ipckit/export.h>

IPCKIT_BEGIN_DECLS

/** Opaque channel handle. */
typedef struct ipckit_channel ipckit_channel;

/** Flags for ipckit_open(). */
enum ipckit_open_flags {
    IPCKIT_SEND = 1u << 0,     /**< open for sending */
    IPCKIT_RECV = 1u << 1,     /**< open for receiving */
    IPCKIT_CREATE = 1u << 2,   /**< create the object if it does not exist */
    IPCKIT_EXCL = 1u << 3,     /**< with IPCKIT_CREATE: fail with -EEXIST if it exists */
    IPCKIT_NONBLOCK = 1u << 4  /**< never wait: open, send and recv act as if timeout_ms were 0 */
};

/** timeout_ms value: wait as long as needed. */
#define IPCKIT_FOREVER (-1)
/** timeout_ms value: try once and never wait. */
#define IPCKIT_NOWAIT 0

/** Capability bits returned by ipckit_caps(). */
enum ipckit_caps {
    IPCKIT_CAP_TYPED = 1u << 0,    /**< the type of each message is carried */
    IPCKIT_CAP_SELECT = 1u << 1,   /**< receive can select by type (selector != 0) */
    IPCKIT_CAP_FD = 1u << 2,       /**< ipckit_fd() gives a pollable descriptor */
    IPCKIT_CAP_MULTI_SEND = 1u << 3, /**< several senders may share the channel */
    IPCKIT_CAP_MULTI_RECV = 1u << 4, /**< several receivers may share the channel */
    IPCKIT_CAP_STAT = 1u << 5,     /**< ipckit_stat() is supported */
    IPCKIT_CAP_STREAM = 1u << 6,   /**< byte stream: no message boundaries */
    IPCKIT_CAP_ZEROCOPY = 1u << 7, /**< ipckit_send_loan() and ipckit_recv_borrow() work
                                        in place, without a copy (shm:) */
    IPCKIT_CAP_BROADCAST = 1u << 8 /**< publish/subscribe: every receiver sees every
                                        message sent after it opened, at its own pace
                                        (shm:NAME?bcast=1, nats://HOST/NAME?bcast=1); a
                                        receiver that fell behind gets -ENOBUFS once
                                        with the count */
};

/** Flags for ipckit_opts.flags. */
enum ipckit_opt_flags {
    IPCKIT_OPT_STREAM = 1u << 0,   /**< fifo: plain byte stream, no framing */
    IPCKIT_OPT_TRUNCATE = 1u << 1, /**< recv: cut a message that does not fit the buffer
                                        (System V MSG_NOERROR) instead of -EMSGSIZE; the
                                        rest of the message is lost. Backends that cannot
                                        do it refuse the option at open with -ENOTSUP. */
    IPCKIT_OPT_TRUST_ANY = 1u << 2, /**< attach to an existing object whoever owns it and
                                        whoever may write to it (the name parameter
                                        "trust=*"); see docs/security.md */
    IPCKIT_OPT_INTERRUPTIBLE = 1u << 3 /**< ipckit_interrupt() may wake this channel's
                                        waits. shm: channels always are; fifo:, mq:,
                                        posixmq: and signal: then wait with poll() on
                                        an extra descriptor instead of in the blocking
                                        call itself (a little slower) */
};

/** Version of struct ipckit_opts that this header describes. */
#define IPCKIT_OPTS_VERSION 2u

/**
 * Options for ipckit_open(). Initialise with IPCKIT_OPTS_INIT or
 * ipckit_opts_init(), then set the fields you need. New fields are only ever
 * appended, with a new IPCKIT_OPTS_VERSION; the library reads only the
 * fields that existed in the version you pass.
 */
typedef struct ipckit_opts {
    unsigned version;        /**< IPCKIT_OPTS_VERSION */
    unsigned mode;           /**< permissions of a created object; 0 means 0600 */
    size_t max_msg_size;     /**< largest message; 0 means the backend's default */
    size_t capacity;         /**< bytes or messages the object holds; 0: default */
    unsigned flags;          /**< IPCKIT_OPT_* bits */
    int open_timeout_ms;     /**< wait in open for a peer (fifo writer): -1 forever */
    int signo;               /**< signal: the signal number; 0 means the default */
    /* ---- version 2 ---- */
    /**
     * Users, besides the caller's effective uid and root, whose existing
     * objects open attaches to (up to 32; the name parameter "trust=" adds
     * more). By default an object another user owns or created is refused
     * with -EPERM, so that nobody can plant an object under a name you use.
     */
    const uid_t *trust_uids;
    size_t trust_uids_len;   /**< entries in trust_uids */
    /**
     * Groups whose members may write to the objects open attaches to: an
     * existing object that is writable by its group is refused with -EPERM
     * unless its group is listed here (or mode asked for group write).
     */
    const gid_t *trust_gids;
    size_t trust_gids_len;   /**< entries in trust_gids */
} ipckit_opts;

/** Default options (mode 0600, backend defaults, open waits forever, trust
 * only yourself and root). */
#define IPCKIT_OPTS_INIT { IPCKIT_OPTS_VERSION, 0, 0, 0, 0, -1, 0, NULL, 0, NULL, 0 }

/**
 * Fill @p opts with the defaults of options version @p version (use
 * IPCKIT_OPTS_VERSION). For languages that cannot use IPCKIT_OPTS_INIT.
 *
 * @return 0, or -EINVAL for a NULL pointer or a version this library does
 *         not know.
 */
IPCKIT_API int ipckit_opts_init(ipckit_opts *opts, unsigned version);

/**
 * Open a channel.
 *
 * @param out   receives the handle on success; set to NULL on failure.
 * @param name  "scheme:target?key=value&...", see ipckit(7).
 * @param flags IPCKIT_SEND and/or IPCKIT_RECV, optionally IPCKIT_CREATE,
 *              IPCKIT_EXCL, IPCKIT_NONBLOCK.
 * @param opts  NULL for the defaults.
 * @return 0, or a negative errno: -EINVAL (bad name, flags or options; see
 *         ipckit_error_detail()), -EPROTONOSUPPORT (unknown scheme), -ENOENT,
 *         -EEXIST, -EACCES, -ETIMEDOUT, -ENOMEM, or a backend's error.
 */
IPCKIT_API IPCKIT_NODISCARD int ipckit_open(ipckit_channel **out, const char *name,
                                            unsigned flags, const ipckit_opts *opts);

/**
 * Close a channel and free the handle. The kernel object stays; remove it
 * with ipckit_unlink(). NULL is a no-op.
 *
 * @return 0, or a negative errno from the backend (the handle is freed anyway).
 */
IPCKIT_API int ipckit_close(ipckit_channel *ch);

/**
 * Remove the kernel object behind @p name (FIFO, queue, segment, ...).
 * Open channels keep working as far as the mechanism allows.
 *
 * @return 0, -ENOENT if there is nothing to remove, -EINVAL for a bad name or
 *         an object that is not what the scheme says, -ENOTSUP for a backend
 *         with nothing to remove, or another negative errno.
 */
IPCKIT_API int ipckit_unlink(const char *name);

/**
 * Send one message of type 1. Same as ipckit_send_typed(ch, 1, ...).
 */
IPCKIT_API int ipckit_send(ipckit_channel *ch, const void *buf, size_t len, int timeout_ms);

/**
 * Send one message.
 *
 * @param ch         a channel opened with IPCKIT_SEND.
 * @param type       a positive message type.
 * @param buf        the message; may be NULL when @p len is 0.
 * @param len        its length in bytes (0 is a valid, empty message).
 * @param timeout_ms -1 waits as long as needed, 0 tries once, > 0 waits at
 *                   most that many milliseconds.
 * @return 0, or a negative errno: -EAGAIN (0 timeout and no room),
 *         -ETIMEDOUT, -EMSGSIZE (message larger than the channel allows),
 *         -EPIPE (no receiver left), -EBADF (not opened for sending),
 *         -EINVAL (bad argument).
 */
IPCKIT_API int ipckit_send_typed(ipckit_channel *ch, long type, const void *buf, size_t len,
                                 int timeout_ms);

/**
 * Receive one message of any type. Same as
 * ipckit_recv_typed(ch, 0, NULL, buf, cap, timeout_ms).
 */
IPCKIT_API ssize_t ipckit_recv(ipckit_channel *ch, void *buf, size_t cap, int timeout_ms);

/**
 * Receive one message.
 *
 * @param ch         a channel opened with IPCKIT_RECV.
 * @param selector   0: the first message of any type; > 0: the first message
 *                   of exactly that type; < 0: the first message with the
 *                   lowest type <= -selector (System V semantics). Backends
 *                   without IPCKIT_CAP_SELECT answer -ENOTSUP for a non-zero
 *                   selector.
 * @param type       if not NULL, receives the message's type.
 * @param buf        where the message is copied; may be NULL when @p cap is 0.
 * @param cap        the room at @p buf, in bytes.
 * @param timeout_ms as for ipckit_send_typed().
 * @return the message length (>= 0), or a negative errno: -EAGAIN,
 *         -ETIMEDOUT, -EMSGSIZE (@p cap too small: the message stays
 *         receivable, and ipckit_last_error() tells its size), -EPIPE (no
 *         sender left and nothing queued), -EBADMSG (corrupt data from the
 *         peer), -EBADF (not opened for receiving), -ENOTSUP.
 */
IPCKIT_API ssize_t ipckit_recv_typed(ipckit_channel *ch, long selector, long *type, void *buf,
                                     size_t cap, int timeout_ms);

/**
 * Zero-copy send, step 1: borrow room for a message of up to @p len bytes
 * inside the channel itself (a shm: ring), to be written at @p *buf and
 * published with ipckit_send_commit(), or dropped with ipckit_send_cancel().
 * The message is built where the receiver will read it: one copy fewer
 * than ipckit_send().
 *
 * While the loan is out, this handle's other sends give -EBUSY and other
 * senders on the same object wait (the loan holds the send side), so keep
 * it short. A process killed with a loan out published nothing; the next
 * sender goes on. The loan belongs to the process that took it: after
 * fork() the child's copy of the handle cannot commit it (-EPERM).
 * ipckit_close() cancels a loan still out.
 *
 * @param ch         a channel opened with IPCKIT_SEND whose caps have
 *                   IPCKIT_CAP_ZEROCOPY.
 * @param len        the most the message will hold (0 is allowed).
 * @param buf        receives where to write it; NULL on failure.
 * @param timeout_ms as for ipckit_send_typed(): how long to wait for room.
 * @return 0, or a negative errno: -ENOTSUP (the backend copies; use
 *         ipckit_send()), -EBUSY (a loan is already out on this handle),
 *         -EMSGSIZE, -EAGAIN, -ETIMEDOUT, -EBADF, -EINVAL, -EBADMSG.
 */
IPCKIT_API IPCKIT_NODISCARD int ipckit_send_loan(ipckit_channel *ch, size_t len, void **buf,
                                                 int timeout_ms);

/**
 * Zero-copy send, step 2: publish the loaned message with @p type and
 * length @p len (at most the length loaned). It never waits.
 *
 * @return 0, or a negative errno: -EINVAL (no loan out, type not positive,
 *         or @p len above the loan; the loan stays out), -EPERM (the loan
 *         was taken by the parent of this process).
 */
IPCKIT_API int ipckit_send_commit(ipckit_channel *ch, long type, size_t len);

/**
 * Give a loan back without sending anything.
 *
 * @return 0, -EINVAL (no loan out), -EPERM (taken by another process).
 */
IPCKIT_API int ipckit_send_cancel(ipckit_channel *ch);

/**
 * Zero-copy receive: the next message, read in place. @p *buf points at the
 * message inside the channel (a shm: ring) until ipckit_recv_release().
 *
 * While the message is borrowed, this handle's other receives give -EBUSY
 * and other receivers on the same object wait. The memory is shared with
 * every process that may open the object: a sender that does not trust the
 * receiver's peers can change it under the reader. When that matters, copy
 * it out first (ipckit_recv() does) and validate the copy. A process killed
 * with a message borrowed leaves it queued for the next receiver (as a
 * receiver killed inside ipckit_recv() does). ipckit_close() with a message
 * still borrowed leaves it queued too.
 *
 * @param ch         a channel opened with IPCKIT_RECV whose caps have
 *                   IPCKIT_CAP_ZEROCOPY.
 * @param type       if not NULL, receives the message's type.
 * @param buf        receives the address of the message; NULL on failure.
 * @param timeout_ms as for ipckit_recv_typed().
 * @return the message length (>= 0), or a negative errno: -ENOTSUP,
 *         -EBUSY (a message is already borrowed on this handle), -EAGAIN,
 *         -ETIMEDOUT, -EBADMSG, -EBADF, -EINVAL.
 */
IPCKIT_API IPCKIT_NODISCARD ssize_t ipckit_recv_borrow(ipckit_channel *ch, long *type,
                                                       const void **buf, int timeout_ms);

/**
 * Done with a borrowed message: it is removed from the channel and its room
 * goes back to the senders. The address from ipckit_recv_borrow() is no
 * longer valid.
 *
 * @return 0, -EINVAL (nothing borrowed), -EPERM (borrowed by another
 *         process: the parent of this one).
 */
IPCKIT_API int ipckit_recv_release(ipckit_channel *ch);

/**
 * Wake the send or receive (or loan or borrow) that waits on @p ch, from
 * another thread or from a signal handler: it returns -EINTR. When no call
 * waits, the next one that would wait returns -EINTR at once instead;
 * several interrupts before it count as one. A call that does not need to
 * wait (a message is there, there is room) is not affected.
 *
 * @param ch the channel.
 *
 * Async-signal-safe. shm: channels can always be interrupted (waits for a
 * side's lock, held by another process, are not interrupted: they are
 * short unless a loan or borrow is held); other backends when the channel
 * was opened with IPCKIT_OPT_INTERRUPTIBLE.
 *
 * @return 0, -ENOTSUP (this channel's waits cannot be interrupted: open it
 *         with IPCKIT_OPT_INTERRUPTIBLE, or the backend has no way), -EINVAL
 *         for NULL.
 */
IPCKIT_API int ipckit_interrupt(ipckit_channel *ch);

/** Requests of ipckit_ctl(). */
enum ipckit_ctl_op {
    /** shm: how many times a waiter spins (pause) before it sleeps, for this
     *  handle: @p arg is a long *; read it. */
    IPCKIT_CTL_GET_SPIN = 1,
    /** shm: set that, 0 to 10000000 (the name parameter ?spin= at open);
     *  @p arg is a const long *. */
    IPCKIT_CTL_SET_SPIN = 2,
    /** Broadcast channels (IPCKIT_CAP_BROADCAST), a subscriber: how many
     *  messages it missed since it opened (shm: publishers overwrote them
     *  before it read them; nats: its client dropped them or they were
     *  lost on the way); each gap is also reported once by a receive that
     *  returns -ENOBUFS. @p arg is an unsigned long long *. */
    IPCKIT_CTL_MISSED = 3
};

/**
 * A backend-specific request on an open channel (IPCKIT_CTL_*), for knobs
 * that only some backends have.
 *
 * @param ch  the channel.
 * @param op  the request, IPCKIT_CTL_*.
 * @param arg what the request takes (see each request).
 * @return 0 or a request's own result, -ENOTSUP when the channel's backend
 *         does not know @p op, -EINVAL for a bad @p arg.
 */
IPCKIT_API int ipckit_ctl(ipckit_channel *ch, int op, void *arg);

/**
 * A descriptor that becomes readable (POLLIN) when a message may be
 * receivable, for poll()/epoll. Drain with timeout 0 until -EAGAIN before
 * polling again: a backend may hold several messages read in one go.
 *
 * @return the descriptor (owned by the channel), -ENOTSUP (no pollable
 *         descriptor: ipckit_last_error() says why), or -EINVAL for NULL.
 */
IPCKIT_API int ipckit_fd(const ipckit_channel *ch);

/** Capability bits (IPCKIT_CAP_*) of an open channel; 0 for NULL. */
IPCKIT_API unsigned ipckit_caps(const ipckit_channel *ch);

/** Largest message the channel can send or receive, in bytes; 0 for NULL. */
IPCKIT_API size_t ipckit_max_msg_size(const ipckit_channel *ch);

/** Scheme of an open channel, such as "fifo"; "" for NULL. */
IPCKIT_API const char *ipckit_scheme(const ipckit_channel *ch);

/**
 * Detail of the last failure on this channel, naming the call and the object
 * ("recv: message of 5000 bytes does not fit a buffer of 100 bytes").
 * "" when nothing failed. Valid until the next call on the channel.
 */
IPCKIT_API const char *ipckit_last_error(const ipckit_channel *ch);

/** What ipckit_stat() reports; a field a backend cannot tell is -1. */
typedef struct ipckit_stat {
    long messages;       /**< messages queued */
    long bytes;          /**< bytes queued */
    long max_bytes;      /**< capacity in bytes */
    long max_msg_size;   /**< largest message */
    long last_send_pid;  /**< pid of the last sender */
    long last_recv_pid;  /**< pid of the last receiver */
    long creator_pid;    /**< pid of the creator */
    unsigned mode;       /**< permission bits */
} ipckit_stat;

/**
 * Describe the object behind @p name without opening a channel.
 *
 * @return 0, -ENOTSUP for a backend without stat, -ENOENT, or another
 *         negative errno.
 */
IPCKIT_API int ipckit_stat_name(const char *name, ipckit_stat *out);

IPCKIT_END_DECLS

#endif /* IPCKIT_CHANNEL_H */
