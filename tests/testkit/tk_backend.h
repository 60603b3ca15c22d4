/*
 * Backend fixtures: what a suite that runs over every backend (the
 * conformance suite, tests/conformance) needs to know about each one, and
 * the few things that differ in how its channels are opened. Everything
 * else is read from the open channel (ipckit_caps(), ipckit_max_msg_size()).
 *
 * A new backend gets the whole channel contract by an entry in
 * tk_backend.c (and, for one registered at run time, by its registration in
 * tk_backends_register()); the conformance suite refuses to run while a
 * registered backend has no fixture.
 */
#ifndef IPCKIT_TK_BACKEND_H
#define IPCKIT_TK_BACKEND_H

#include <stddef.h>
#include <sys/types.h>

#include <ipckit/ipckit.h>

/* What the backend's channels are like, beyond the capability bits. */
enum tk_be_flags {
    /* Named objects: created (IPCKIT_CREATE, IPCKIT_EXCL), with a mode
     * (unless TK_BE_NO_OWNER), removed with ipckit_unlink(). Without it
     * ipckit_unlink() is -ENOTSUP. */
    TK_BE_OBJECTS = 1u << 0,
    /* A channel sends or receives, never both (fifo:). */
    TK_BE_ONE_WAY = 1u << 1,
    /* Objects live in the process's memory (mem:): a channel inherited
     * through fork() works in the child, but nothing crosses processes. */
    TK_BE_LOCAL = 1u << 2,
    /* The receiver is the process itself (signal:self): a sender in another
     * process names it by pid (sender_name). */
    TK_BE_SELF = 1u << 3,
    /* Filling the channel would fill a limit shared with the user's other
     * processes (signal: RLIMIT_SIGPENDING), or it never fills (a broadcast
     * ring in drop mode overwrites its oldest message): no case fills it. */
    TK_BE_UNFILLABLE = 1u << 4,
    /* The detail of a receive into a too-small buffer gives the message's
     * size ("... 10 bytes ..."). */
    TK_BE_SIZE_DETAIL = 1u << 5,
    /* ipckit_interrupt() works without IPCKIT_OPT_INTERRUPTIBLE (shm:). */
    TK_BE_INTR_ALWAYS = 1u << 6,
    /* No ipckit_interrupt(), with the option or without (-ENOTSUP). */
    TK_BE_NO_INTR = 1u << 7,
    /* A receive needs a buffer of the channel's max_msg_size, whatever the
     * message's size (posixmq:, as POSIX's mq_receive()). */
    TK_BE_RECV_FULL_BUFFER = 1u << 8,
    /* Its objects have no owner and no mode on this machine (nats:, a
     * stream on a server): opts.mode is not kept, and who may use an object
     * is decided elsewhere (the server's accounts), not by the user id. */
    TK_BE_NO_OWNER = 1u << 9,
    /* Its client library does not survive fork() (nats:: libnats' threads
     * and locks): a process forked from one that has used the backend must
     * not use it, neither a channel it inherited nor a new one. Cases fork
     * the processes that use the backend before they open anything, and
     * skip what needs an inherited channel. */
    TK_BE_FORK_UNSAFE = 1u << 10,
};

/* Fields of ipckit_stat. */
enum tk_stat_field {
    TK_ST_MESSAGES = 1u << 0,
    TK_ST_BYTES = 1u << 1,    /* the messages' bytes, without framing */
    TK_ST_MAX_BYTES = 1u << 2,
    TK_ST_MAX_MSG = 1u << 3,  /* the channel's ipckit_max_msg_size() */
    TK_ST_SEND_PID = 1u << 4,
    TK_ST_RECV_PID = 1u << 5,
    TK_ST_CREATOR = 1u << 6,
    TK_ST_MODE = 1u << 7,
};

typedef struct tk_backend {
    const char *scheme;
    /* The fixture's own name when a scheme has several ("shm.bcast": the
     * same scheme, other objects), else NULL: the scheme names it. */
    const char *id;
    /* The capability bits of a receiving channel (opened with opts). */
    unsigned caps;
    unsigned flags; /* TK_BE_* */
    /* The highest message type; LONG_MAX when any positive long is one. */
    long max_type;
    /* ipckit_stat_name(): the fields the conformance suite checks with the
     * contract's meaning (TK_ST_*), and those the backend reports with a
     * meaning of its own (left to its own suite). Any other field must be
     * -1. Both 0: stat is -ENOTSUP. */
    unsigned stat_exact, stat_other;
    /* The kind of its creator records ("mq"), NULL when it keeps none. */
    const char *record_kind;
    /* Options for every open (small capacities, so that a full channel is
     * quick to make). */
    ipckit_opts opts;
    /* A fresh name. */
    void (*new_name)(char *buf, size_t cap);
    /* NULL, or the environment variable that enables the fixture: a backend
     * whose channels live on a server the test is given (nats: takes
     * IPCKIT_TEST_NATS_URL), left out while it is unset or empty. */
    const char *needs_env;
} tk_backend;

/* Register the backends that tests add at run time (mem:), outside a test
 * (it uses no ck_assert). Idempotent. 0, or a negative errno, said on
 * stderr. */
int tk_backends_register(void);

/* The fixture named @p id (its id, else its scheme), or NULL; and all of
 * them, in a fixed order. Both leave out a fixture whose needs_env is
 * unset. */
const tk_backend *tk_backend_get(const char *id);
/* The name of fixture @p be: its id, else its scheme. */
const char *tk_be_id(const tk_backend *be);
const tk_backend *tk_backend_at(size_t i); /* NULL past the end */

/* The environment variable that the fixture of @p scheme needs and lacks,
 * or NULL (there is no such fixture, or it is enabled). */
const char *tk_backend_missing_env(const char *scheme);

/* The name a sender in another process opens to reach the receiver of
 * @p name that process @p receiver has (signal:PID, else @p name). */
void tk_be_sender_name(const tk_backend *be, const char *name, pid_t receiver, char *buf,
                       size_t cap);

/*
 * Open a receiver of @p name: with IPCKIT_CREATE | IPCKIT_EXCL where the
 * backend has objects, plus @p flags, with be->opts and @p optflags added to
 * its flags. Returns the open's result; *ch is NULL on failure.
 */
int tk_be_open_rx(const tk_backend *be, const char *name, unsigned flags, unsigned optflags,
                  ipckit_channel **ch);

/* Open a sender of @p name (an existing object, or the receiver's process
 * for signal:), the same way. */
int tk_be_open_tx(const tk_backend *be, const char *name, unsigned flags, unsigned optflags,
                  ipckit_channel **ch);

/* A fresh name in @p name, then a receiver and a sender on it (the receiver
 * first: fifo: and signal: need it). Fails the test if either open fails. */
void tk_be_open_pair(const tk_backend *be, char *name, size_t cap, unsigned rx_flags,
                     unsigned tx_flags, unsigned optflags, ipckit_channel **rx,
                     ipckit_channel **tx);

/* The same on @p name, made by be->new_name() before (so that a process
 * forked meanwhile knows it). */
void tk_be_open_pair_named(const tk_backend *be, const char *name, unsigned rx_flags,
                           unsigned tx_flags, unsigned optflags, ipckit_channel **rx,
                           ipckit_channel **tx);

/* Close both (the sender first) and remove the object, if it has one. */
void tk_be_close_pair(const tk_backend *be, const char *name, ipckit_channel *rx,
                      ipckit_channel *tx);

#endif
