/**
 * @file
 * ipckit: the backend interface, for authors of backends.
 *
 * A backend is a table of operations for one name scheme. The built-in
 * backends (fifo, and the others as they land) are registered statically;
 * ipckit_backend_register() adds your own, after which ipckit_open() and the
 * rest of the channel API use it like any built-in.
 *
 * Division of work: the core parses the name, checks flags, options and
 * arguments, computes the deadline once, allocates state_size zeroed bytes
 * of per-channel state, and answers -ENOTSUP for missing optional
 * operations and unsupported selectors. The backend does the one thing its
 * mechanism does and never re-validates what the core checked.
 *
 * This header is not included by <ipckit/ipckit.h>.
 */
#ifndef IPCKIT_BACKEND_H
#define IPCKIT_BACKEND_H

#include <stddef.h>
#include <stdbool.h>
#include <sys/types.h>
/* key_t: POSIX requires <sys/ipc.h> to define it; <sys/types.h> does only
 * when the program asks for POSIX or X/Open, which strict ISO C does not. */
#include <sys/ipc.h>
#include <time.h>
#include <ipckit/export.h>
#include <ipckit/channel.h>
#include <ipckit/object.h>

/* The deadlines are pointers to struct timespec, which <time.h> declares
 * only from C11 on or when the program asks for POSIX: declare the tag so
 * that this header also compiles under -std=c99. A backend that reads the
 * fields gets the complete type from <time.h> as usual. */
struct timespec;

IPCKIT_BEGIN_DECLS

/** Version of struct ipckit_backend this header describes. */
#define IPCKIT_BACKEND_ABI 4u

/** A parsed name; see ipckit_name_parse() and the accessors. */
typedef struct ipckit_name ipckit_name;

/**
 * Operations of one backend. Fields are only ever appended; the core reads
 * only those that exist in the table's abi_version.
 *
 * Deadlines: an absolute CLOCK_MONOTONIC time computed once by the core, so
 * that retries after EINTR do not stretch it. NULL means wait forever; a
 * deadline in the past means try once without waiting.
 */
typedef struct ipckit_backend {
    unsigned abi_version;   /**< IPCKIT_BACKEND_ABI */
    const char *scheme;     /**< "fifo", "mq", ...: [a-z][a-z0-9+.-]*, at most 31 chars */
    size_t state_size;      /**< bytes of per-channel state the core allocates, zeroed */
    unsigned caps;          /**< IPCKIT_CAP_* bits every channel of this backend has */

    /**
     * Required. Open the object named @p name into @p state. @p opts is never
     * NULL and carries the defaults applied (mode 0600 ...) and the trust
     * lists merged from the options and the name's "trust" parameter: an
     * object the backend did not create itself must pass
     * ipckit_backend_check_owner() before it is used. On failure the
     * backend has released everything it took (an object it created
     * included) and the core will not call close. May block until
     * @p deadline (from opts->open_timeout_ms).
     *
     * Returns a negative errno, or 0. From abi_version 4 on, an open that
     * created its object returns 1 instead: the core then records this
     * process as its creator, for the schemes whose objects the kernel
     * keeps no creator for (a creator record, docs/reliability.md), with
     * the identity the backend's identify gives.
     */
    int (*open)(void *state, const ipckit_name *name, unsigned flags, const ipckit_opts *opts,
                const struct timespec *deadline);

    /** Required. Release what open took. Called once. */
    int (*close)(void *state);

    /** Optional. Remove the kernel object named @p name. NULL: -ENOTSUP. */
    int (*unlink)(const ipckit_name *name);

    /**
     * Required. Send one message of @p type (> 0). The core checked that the
     * channel was opened for sending and that @p len <= max_msg_size.
     * Returns 0 or a negative errno; must not call back into the channel API.
     */
    int (*send)(void *state, long type, const void *buf, size_t len,
                const struct timespec *deadline);

    /**
     * Required. Receive one message. @p selector is 0 unless the backend has
     * IPCKIT_CAP_SELECT. @p type is never NULL. A message that does not fit
     * @p cap gives -EMSGSIZE and stays receivable.
     */
    ssize_t (*recv)(void *state, long selector, long *type, void *buf, size_t cap,
                    const struct timespec *deadline);

    /** Optional. A pollable descriptor, or a negative errno. */
    int (*fd)(void *state);

    /** Optional. Describe the object behind @p name. */
    int (*stat)(const ipckit_name *name, ipckit_stat *out);

    /**
     * Optional. Capabilities and limits of one open channel, when they
     * differ from the table's (a fifo in stream mode, a queue whose limit is
     * read from the kernel). Either pointer may be NULL.
     */
    void (*info)(void *state, unsigned *caps, size_t *max_msg_size);

    /* ---- abi_version 2 ---- */

    /**
     * Optional, with the three below and IPCKIT_CAP_ZEROCOPY: reserve room
     * for a message of up to @p len bytes (the core checked it against
     * max_msg_size) and point @p buf at it. The core calls commit exactly
     * once after a successful loan, and never loan twice in a row.
     */
    int (*loan)(void *state, size_t len, void **buf, const struct timespec *deadline);

    /**
     * Publish the loaned message with @p type and @p len (<= the loan), or
     * when @p publish is false drop it. Returns 0 or a negative errno; on
     * -EPERM (the loan belongs to another process) the loan stays out.
     */
    int (*commit)(void *state, long type, size_t len, bool publish);

    /**
     * Point @p buf at the next message, in place, and return its length.
     * The core calls release exactly once after a successful borrow.
     */
    ssize_t (*borrow)(void *state, long *type, const void **buf,
                      const struct timespec *deadline);

    /**
     * Done with the borrowed message: remove it when @p consume is true,
     * leave it queued when false (close). 0, or -EPERM as for commit.
     */
    int (*release)(void *state, bool consume);

    /* ---- abi_version 3 ---- */

    /**
     * Optional: wake the send, recv, loan or borrow waiting on @p state, or
     * if none waits, make the next wait return at once; the woken call
     * returns -EINTR. Called by ipckit_interrupt(), possibly from a signal
     * handler or another thread while the channel is in use: only
     * async-signal-safe work here (atomics, write(), futex). 0, or
     * -ENOTSUP when this channel cannot be interrupted. ipckit_waker_open()
     * and ipckit_deadline_poll_wake() do it for descriptor-based waits.
     */
    int (*interrupt)(void *state);

    /* ---- abi_version 4 ---- */

    /**
     * The IPCKIT_OPT_* flags this backend honours. The core refuses any
     * other flag at open with -ENOTSUP, so that the backend need not.
     */
    unsigned opt_flags;

    /**
     * Optional: a request of ipckit_ctl() (IPCKIT_CTL_*), for knobs that do
     * not deserve an operation of their own. -ENOTSUP for a request the
     * backend does not know.
     */
    int (*ctl)(void *state, int op, void *arg);

    /**
     * Optional: call @p emit for every object of this scheme that can be
     * found (@p opts gives the directories of path-based schemes), until
     * it returns non-zero; return that value, 0, or a negative errno. The
     * object passed to @p emit is valid during the call only; fill it as
     * describe does, every field it cannot tell cheaply left unknown (-1,
     * ""). The core fills version, creator (from creator_pid and
     * creator_start) and, for the schemes it keeps creator records for,
     * the creator itself.
     */
    int (*list)(const ipckit_list_opts *opts,
                int (*emit)(const ipckit_object *o, void *ctx), void *ctx);

    /**
     * Optional: describe the object behind @p name (ipckit_object_stat()).
     * The core passes @p out with every number -1, every text "", scheme
     * and kind "" and holds -1, and fills what list leaves to it; it also
     * counts the users of an object that is a file (where, dev and ino)
     * when the backend leaves users at -1. -ENOENT when nothing is there.
     */
    int (*describe)(const ipckit_name *name, ipckit_object *out);

    /**
     * Optional: remove @p o, which the core judged stale (its creator is
     * gone and nobody uses it): only if it is still the object described
     * (its id, inode, @p o->identity) and, unless @p flags has
     * IPCKIT_STALE_DISCARD, still holds nothing. 0; -ESTALE when it is
     * another object now; -EBUSY when it is in use or holds data now;
     * -ENOENT when it is gone; or another negative errno, with a detail
     * (ipckit_backend_fail()) that the report passes on.
     */
    int (*remove_stale)(const ipckit_object *o, unsigned flags);

    /**
     * Optional: describe the object that channel @p state has open, as
     * describe would (its identity at least: name, where, uid, dev, ino,
     * key, id, identity), with @p out prepared as for describe. The core
     * calls it after an open that returned 1 (it created the object), to
     * write the creator record; without it, the object has none.
     */
    int (*identify)(void *state, ipckit_object *out);
} ipckit_backend;

/**
 * Register a backend. The table must stay valid until the process ends.
 *
 * @return 0; -EEXIST if another table already has that scheme (registering
 *         the same table twice is a no-op that returns 0); -EINVAL for a
 *         table that is malformed or missing a required operation, or whose
 *         abi_version is newer than this library; -ENOMEM.
 */
IPCKIT_API int ipckit_backend_register(const ipckit_backend *be);

/** The backend for @p scheme, or NULL. */
IPCKIT_API const ipckit_backend *ipckit_backend_find(const char *scheme);

/**
 * Call @p fn for every registered backend, built-ins first, until it
 * returns non-zero. Returns that value or 0.
 */
IPCKIT_API int ipckit_backend_foreach(int (*fn)(const ipckit_backend *be, void *arg), void *arg);

/* ---- names -------------------------------------------------------------- */

/**
 * Parse "scheme:target?key=value&key=value". Keys are [a-z0-9_]+; values and
 * the target may use %XX escapes ('%3F' for '?', '%26' for '&'). A key
 * without "=value" has the value "1".
 *
 * @return 0, -EINVAL with a detail naming the bad part
 *         (ipckit_error_detail()), or -ENOMEM.
 */
IPCKIT_API int ipckit_name_parse(const char *text, ipckit_name **out);

/** Free a name from ipckit_name_parse(). NULL is a no-op. */
IPCKIT_API void ipckit_name_free(ipckit_name *n);

/** The scheme, such as "fifo". */
IPCKIT_API const char *ipckit_name_scheme(const ipckit_name *n);

/** The decoded target, such as "/tmp/app.pipe"; never empty. */
IPCKIT_API const char *ipckit_name_target(const ipckit_name *n);

/** The original text of the name. */
IPCKIT_API const char *ipckit_name_text(const ipckit_name *n);

/** The decoded value of parameter @p key, or NULL if absent. */
IPCKIT_API const char *ipckit_name_param(const ipckit_name *n, const char *key);

/** Number of parameters of the name. */
IPCKIT_API size_t ipckit_name_param_count(const ipckit_name *n);

/** Key of parameter @p i (in the order given), or NULL past the end. */
IPCKIT_API const char *ipckit_name_param_key(const ipckit_name *n, size_t i);

/** Decoded value of parameter @p i, or NULL past the end. */
IPCKIT_API const char *ipckit_name_param_value(const ipckit_name *n, size_t i);

/**
 * Fail with -EINVAL and a detail if the name has a parameter that is not in
 * the NULL-terminated list @p allowed. Backends call this first in open.
 */
IPCKIT_API int ipckit_name_check_params(const ipckit_name *n, const char *const *allowed);

/**
 * Parameter @p key as an integer in [min, max] (decimal, 0x hex or 0 octal).
 * Absent: *out = def and 0. Present but malformed or out of range: -EINVAL
 * with a detail.
 */
IPCKIT_API int ipckit_name_param_long(const ipckit_name *n, const char *key, long min, long max,
                                      long def, long *out);

/**
 * A System V IPC key for the name: a target that is a number (decimal or
 * 0x hex, not 0) is the key itself; any other target is a path for
 * ftok(path, proj), where proj is the "proj" parameter (one character, or a
 * number 1..255; default 'i').
 *
 * @return 0, -ENOENT if the path does not exist, -EINVAL with a detail.
 */
IPCKIT_API int ipckit_name_sysv_key(const ipckit_name *n, key_t *out);

/* ---- helpers for backends ------------------------------------------------ */

/**
 * Say why the call that is failing fails: "recv: message of 5000 bytes does
 * not fit a buffer of 100 bytes". The text goes to the thread's
 * ipckit_error_detail(), and the core keeps it as the channel's
 * ipckit_last_error() when the operation returns an error; without one, the
 * core writes "recv: <strerror>". Call it only for the error returned.
 *
 * @param rc  the error being returned.
 * @param fmt printf format of the text, then its arguments.
 * @return @p rc, so that a backend can write
 *         "return ipckit_backend_fail(-EMSGSIZE, "...", ...);".
 */
IPCKIT_API int ipckit_backend_fail(int rc, const char *fmt, ...) IPCKIT_PRINTF(2, 3);

/**
 * ipckit_backend_fail() with a first argument of backend ABI 1 to 3, the
 * channel's state, which is ignored (the core no longer finds the channel
 * from it).
 */
IPCKIT_API int ipckit_backend_error(void *state, int rc, const char *fmt, ...) IPCKIT_PRINTF(3, 4);

/**
 * Decide whether an object that already exists may be attached: call it
 * after opening an object this open did not create, with the object's owner
 * @p uid, creator @p cuid (System V keeps both; pass @p uid again
 * elsewhere), group @p gid and permission bits @p mode. The object is
 * trusted when its owner and creator are the caller's effective uid, root
 * or a user in @p opts->trust_uids, and it is writable by its group only if
 * the group is in @p opts->trust_gids or @p opts->mode has group write, and
 * by everyone only if @p opts->mode has that bit
 * (IPCKIT_OPT_TRUST_ANY accepts anything). docs/security.md.
 *
 * @param state the channel state for the detail, or NULL.
 * @param opts  the options open got (never NULL there).
 * @param what  the object for the detail, such as "mq: queue 0x1c0ffee".
 * @param uid   the object's owner.
 * @param cuid  its creator (System V), else @p uid.
 * @param gid   its group.
 * @param mode  its permission bits.
 * @return 0, or -EPERM with a detail naming the owner, the mode and how to
 *         trust it.
 */
IPCKIT_API int ipckit_backend_check_owner(void *state, const ipckit_opts *opts,
                                          const char *what, uid_t uid, uid_t cuid, gid_t gid,
                                          unsigned mode);

/** True when @p deadline (not NULL) has passed. */
IPCKIT_API bool ipckit_deadline_passed(const struct timespec *deadline);

/**
 * Milliseconds left until @p deadline, rounded up, for poll(): -1 for NULL
 * (forever), 0 when passed, at most INT_MAX.
 */
IPCKIT_API int ipckit_deadline_ms(const struct timespec *deadline);

/**
 * The error for a wait that ran out: -EAGAIN for a "try once" deadline
 * (timeout 0 or IPCKIT_NONBLOCK), -ETIMEDOUT for a real timeout.
 */
IPCKIT_API int ipckit_deadline_error(const struct timespec *deadline);

/**
 * Wait until @p fd reports one of @p events (POLLIN, POLLOUT) or the
 * deadline passes, retrying after EINTR without stretching the deadline.
 *
 * @param fd       the descriptor to wait on.
 * @param events   the poll() events to wait for.
 * @param deadline as for the operations: NULL forever, past: check once.
 * @param revents  if not NULL, receives the events poll() reported
 *                 (POLLERR and POLLHUP included).
 * @return 0 when the descriptor is ready, ipckit_deadline_error() when the
 *         deadline passed, or another negative errno from poll().
 */
IPCKIT_API int ipckit_deadline_poll(int fd, short events, const struct timespec *deadline,
                                    short *revents);

/**
 * A wake-up for waits that ipckit_interrupt() must be able to end: a
 * non-blocking, close-on-exec eventfd. The backend keeps it in its state,
 * waits with ipckit_deadline_poll_wake(), and wakes it from its interrupt
 * operation with ipckit_waker_wake(); close it with close().
 *
 * @return the descriptor, or a negative errno.
 */
IPCKIT_API int ipckit_waker_open(void);

/** Wake @p waker (async-signal-safe). 0, or a negative errno. */
IPCKIT_API int ipckit_waker_wake(int waker);

/**
 * ipckit_deadline_poll() that also ends when @p waker (from
 * ipckit_waker_open(); -1 for none) was woken: the wake-up is consumed and
 * the call returns -EINTR. When @p fd is ready too, it wins and the wake-up
 * stays for the next wait. With @p fd -1 it waits for the waker alone, an
 * interruptible sleep until @p deadline.
 */
IPCKIT_API int ipckit_deadline_poll_wake(int fd, short events, int waker,
                                         const struct timespec *deadline, short *revents);

/** True for the deadline of a try-once call (timeout 0, IPCKIT_NONBLOCK). */
IPCKIT_API bool ipckit_deadline_try_once(const struct timespec *deadline);

/**
 * A growing wait between tries of something that cannot be slept on (a
 * peer that is not there yet, a lock held by another process, a full
 * queue): first @p yields bare sched_yield() calls, then sleeps from
 * @p first_us, doubling up to @p max_us. Initialise with
 * IPCKIT_BACKOFF_INIT and give it to ipckit_backoff_wait() after each miss.
 */
typedef struct ipckit_backoff {
    int yields;   /**< sched_yield() calls left before the first sleep */
    long us;      /**< the next sleep, in microseconds */
    long max_us;  /**< the longest sleep */
} ipckit_backoff;

/** An ipckit_backoff of @p yields yields, then sleeps from @p first_us to @p max_us. */
#define IPCKIT_BACKOFF_INIT(yields, first_us, max_us) { (yields), (first_us), (max_us) }

/**
 * Wait the next step of @p b before the caller tries again: the deadline's
 * error (-EAGAIN for try once, -ETIMEDOUT) when it has passed already, so
 * that the caller returns; 0 after a yield or a sleep (cut short by the
 * deadline); -EINTR when @p waker (ipckit_waker_open(); -1 for none) was
 * woken, consuming the wake-up.
 */
IPCKIT_API int ipckit_backoff_wait(ipckit_backoff *b, const struct timespec *deadline, int waker);

/**
 * Sleep for @p ms milliseconds or until @p deadline, whichever comes first.
 * Returns -ETIMEDOUT if the deadline has passed on return, else 0.
 */
IPCKIT_API int ipckit_deadline_sleep(const struct timespec *deadline, long ms);

IPCKIT_END_DECLS

#endif /* IPCKIT_BACKEND_H */
