/*
 * Backend fixtures; see tk_backend.h.
 */
#include "tk_backend.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ipckit/backend.h>

#include "testkit.h"
#include "tk_mem.h"

static unsigned name_counter;

static void
fifo_name(char *buf, size_t cap)
{
    char leaf[32];
    (void) snprintf(leaf, sizeof leaf, "conf.%u.pipe", ++name_counter);
    tk_name(buf, cap, "fifo", leaf);
}

static void
mq_name(char *buf, size_t cap)
{
    (void) snprintf(buf, cap, "mq:%#x", (unsigned) tk_sysv_key());
}

static void
posix_name(char *buf, size_t cap, const char *scheme)
{
    char p[64];
    tk_posix_name(p, sizeof p);
    (void) snprintf(buf, cap, "%s:%s", scheme, p);
}

static void
posixmq_name(char *buf, size_t cap)
{
    posix_name(buf, cap, "posixmq");
}

static void
shm_name(char *buf, size_t cap)
{
    posix_name(buf, cap, "shm");
}

/* A broadcast ring: the subscriber (the "receiver") opens it first, so it
 * sees every message sent after. */
static void
shm_bcast_name(char *buf, size_t cap)
{
    char p[64];
    tk_posix_name(p, sizeof p);
    (void) snprintf(buf, cap, "shm:%s?bcast=wait", p);
}

static void
shm_drop_name(char *buf, size_t cap)
{
    char p[64];
    tk_posix_name(p, sizeof p);
    (void) snprintf(buf, cap, "shm:%s?bcast=drop", p);
}

static void
signal_name(char *buf, size_t cap)
{
    (void) snprintf(buf, cap, "signal:self");
}

static void
mem_name(char *buf, size_t cap)
{
    (void) snprintf(buf, cap, "mem:conf.%ld.%u", (long) getpid(), ++name_counter);
}

/* A queue on the NATS server of IPCKIT_TEST_NATS_URL ("nats://HOST:PORT",
 * several separated by commas): stat and unlink get 30 s, for a loaded
 * machine. */
static void
nats_name(char *buf, size_t cap)
{
    const char *url = getenv("IPCKIT_TEST_NATS_URL");
    size_t len = url != NULL ? strlen(url) : 0;
    while (len > 0 && url[len - 1] == '/')
        len--;
    (void) snprintf(buf, cap, "%.*s/conf%ld_%u?timeout_ms=30000", (int) len, url ? url : "",
                    (long) getpid(), ++name_counter);
}

#define OPTS(...) { .version = IPCKIT_OPTS_VERSION, .open_timeout_ms = -1, __VA_ARGS__ }
#define OPTS_DEFAULT { .version = IPCKIT_OPTS_VERSION, .open_timeout_ms = -1 }

static tk_backend backends[] = {
    {
        .scheme = "fifo",
        .caps = IPCKIT_CAP_TYPED | IPCKIT_CAP_FD | IPCKIT_CAP_MULTI_SEND,
        .flags = TK_BE_OBJECTS | TK_BE_ONE_WAY | TK_BE_SIZE_DETAIL,
        .max_type = LONG_MAX,
        /* ipckit_stat_name() works, though the caps lack IPCKIT_CAP_STAT;
         * its max_msg_size is the default limit, not a channel's */
        .stat_exact = TK_ST_CREATOR | TK_ST_MODE,
        .stat_other = TK_ST_MAX_MSG,
        .record_kind = "fifo",
        .opts = OPTS(.capacity = 64 * 1024),
        .new_name = fifo_name,
    },
    {
        .scheme = "mq",
        .caps = IPCKIT_CAP_TYPED | IPCKIT_CAP_SELECT | IPCKIT_CAP_MULTI_SEND |
                IPCKIT_CAP_MULTI_RECV | IPCKIT_CAP_STAT,
        /* the detail gives the size only where the kernel has MSG_COPY:
         * test_sysv_mq */
        .flags = TK_BE_OBJECTS,
        .max_type = LONG_MAX,
        .stat_exact = TK_ST_MESSAGES | TK_ST_BYTES | TK_ST_MAX_MSG | TK_ST_SEND_PID |
                      TK_ST_RECV_PID | TK_ST_CREATOR | TK_ST_MODE,
        .stat_other = TK_ST_MAX_BYTES,
        .record_kind = "mq",
        .opts = OPTS_DEFAULT,
        .new_name = mq_name,
    },
    {
        .scheme = "posixmq",
        .caps = IPCKIT_CAP_TYPED | IPCKIT_CAP_FD | IPCKIT_CAP_MULTI_SEND |
                IPCKIT_CAP_MULTI_RECV | IPCKIT_CAP_STAT,
        .flags = TK_BE_OBJECTS | TK_BE_RECV_FULL_BUFFER,
        .max_type = 0, /* sysconf(_SC_MQ_PRIO_MAX), set at registration */
        .stat_exact = TK_ST_MESSAGES | TK_ST_BYTES | TK_ST_MAX_MSG | TK_ST_CREATOR | TK_ST_MODE,
        .stat_other = TK_ST_MAX_BYTES,
        .record_kind = "posixmq",
        /* small: RLIMIT_MSGQUEUE is per user, shared with every test */
        .opts = OPTS(.capacity = 4, .max_msg_size = 128),
        .new_name = posixmq_name,
    },
    {
        .scheme = "shm",
        .caps = IPCKIT_CAP_TYPED | IPCKIT_CAP_MULTI_SEND | IPCKIT_CAP_MULTI_RECV |
                IPCKIT_CAP_STAT | IPCKIT_CAP_ZEROCOPY | IPCKIT_CAP_FD,
        .flags = TK_BE_OBJECTS | TK_BE_SIZE_DETAIL | TK_BE_INTR_ALWAYS,
        .max_type = LONG_MAX,
        /* bytes: of the ring, records and padding included */
        .stat_exact = TK_ST_MESSAGES | TK_ST_MAX_MSG | TK_ST_SEND_PID | TK_ST_RECV_PID |
                      TK_ST_CREATOR | TK_ST_MODE,
        .stat_other = TK_ST_BYTES | TK_ST_MAX_BYTES,
        .record_kind = NULL, /* the creator is in the ring's header */
        .opts = OPTS(.capacity = 4096, .max_msg_size = 1000),
        .new_name = shm_name,
    },
    {
        /* publish/subscribe, wait mode: a full ring (a subscriber that has
         * not read) makes publishers wait, as a full queue does */
        .scheme = "shm",
        .id = "shm.bcast",
        .caps = IPCKIT_CAP_TYPED | IPCKIT_CAP_MULTI_SEND | IPCKIT_CAP_MULTI_RECV |
                IPCKIT_CAP_STAT | IPCKIT_CAP_ZEROCOPY | IPCKIT_CAP_BROADCAST | IPCKIT_CAP_FD,
        .flags = TK_BE_OBJECTS | TK_BE_SIZE_DETAIL | TK_BE_INTR_ALWAYS,
        .max_type = LONG_MAX,
        /* messages: those a late subscriber could still read; max bytes:
         * slots times the limit */
        .stat_exact = TK_ST_MAX_MSG | TK_ST_SEND_PID | TK_ST_CREATOR | TK_ST_MODE,
        .stat_other = TK_ST_MESSAGES | TK_ST_MAX_BYTES,
        .record_kind = NULL,
        .opts = OPTS(.capacity = 16, .max_msg_size = 1000),
        .new_name = shm_bcast_name,
    },
    {
        /* publish/subscribe, drop mode: publishers never wait, so nothing
         * fills; room for every message of a case (120 at most), so that
         * none is overwritten before it is read */
        .scheme = "shm",
        .id = "shm.bcastdrop",
        .caps = IPCKIT_CAP_TYPED | IPCKIT_CAP_MULTI_SEND | IPCKIT_CAP_MULTI_RECV |
                IPCKIT_CAP_STAT | IPCKIT_CAP_ZEROCOPY | IPCKIT_CAP_BROADCAST | IPCKIT_CAP_FD,
        .flags = TK_BE_OBJECTS | TK_BE_SIZE_DETAIL | TK_BE_INTR_ALWAYS | TK_BE_UNFILLABLE,
        .max_type = LONG_MAX,
        .stat_exact = TK_ST_MAX_MSG | TK_ST_SEND_PID | TK_ST_CREATOR | TK_ST_MODE,
        .stat_other = TK_ST_MESSAGES | TK_ST_MAX_BYTES,
        .record_kind = NULL,
        .opts = OPTS(.capacity = 256, .max_msg_size = 1000),
        .new_name = shm_drop_name,
    },
    {
        .scheme = "signal",
        .caps = IPCKIT_CAP_TYPED | IPCKIT_CAP_FD | IPCKIT_CAP_MULTI_SEND,
        .flags = TK_BE_SELF | TK_BE_UNFILLABLE | TK_BE_SIZE_DETAIL,
        .max_type = 255,
        .opts = OPTS_DEFAULT,
        .new_name = signal_name,
    },
    {
        .scheme = "mem",
        .caps = IPCKIT_CAP_TYPED | IPCKIT_CAP_SELECT | IPCKIT_CAP_MULTI_SEND |
                IPCKIT_CAP_MULTI_RECV,
        .flags = TK_BE_OBJECTS | TK_BE_LOCAL | TK_BE_SIZE_DETAIL | TK_BE_NO_INTR,
        .max_type = LONG_MAX,
        .opts = OPTS_DEFAULT,
        .new_name = mem_name,
    },
    {
        /* a JetStream stream on a server: plugins/nats/tests starts one
         * and runs this as conformance.nats; libnats does not survive
         * fork() (docs/backends/nats.md) */
        .scheme = "nats",
        .caps = IPCKIT_CAP_TYPED | IPCKIT_CAP_SELECT | IPCKIT_CAP_MULTI_SEND |
                IPCKIT_CAP_MULTI_RECV | IPCKIT_CAP_STAT,
        .flags = TK_BE_OBJECTS | TK_BE_NO_OWNER | TK_BE_SIZE_DETAIL | TK_BE_NO_INTR |
                 TK_BE_FORK_UNSAFE,
        .max_type = LONG_MAX,
        /* bytes: the stream's, subjects and headers included; max_bytes:
         * the stream's limit */
        .stat_exact = TK_ST_MESSAGES | TK_ST_MAX_MSG,
        .stat_other = TK_ST_BYTES | TK_ST_MAX_BYTES,
        .record_kind = NULL, /* no creator: the server keeps none */
        /* an open waits for the server, 30 s at most; a stream of 16
         * messages (capacity is a number of messages) */
        .opts = { .version = IPCKIT_OPTS_VERSION, .open_timeout_ms = 30000, .capacity = 16,
                  .max_msg_size = 1000 },
        .new_name = nats_name,
        .needs_env = "IPCKIT_TEST_NATS_URL",
    },
};

#define NBACKENDS (sizeof backends / sizeof backends[0])

int
tk_backends_register(void)
{
    int rc = ipckit_backend_register(&tk_mem_backend);
    if (rc < 0)
        fprintf(stderr, "register mem: %s\n", ipckit_error_detail());
    for (size_t i = 0; i < NBACKENDS; i++)
        if (strcmp(backends[i].scheme, "posixmq") == 0)
            backends[i].max_type = sysconf(_SC_MQ_PRIO_MAX);
    return rc;
}

static int
enabled(const tk_backend *b)
{
    const char *v;
    if (b->needs_env == NULL)
        return 1;
    v = getenv(b->needs_env);
    return v != NULL && v[0] != '\0';
}

const tk_backend *
tk_backend_at(size_t i)
{
    for (size_t k = 0; k < NBACKENDS; k++)
        if (enabled(&backends[k]) && i-- == 0)
            return &backends[k];
    return NULL;
}

const char *
tk_be_id(const tk_backend *be)
{
    return be->id != NULL ? be->id : be->scheme;
}

const tk_backend *
tk_backend_get(const char *id)
{
    for (size_t i = 0; i < NBACKENDS; i++)
        if (strcmp(tk_be_id(&backends[i]), id) == 0)
            return enabled(&backends[i]) ? &backends[i] : NULL;
    return NULL;
}

const char *
tk_backend_missing_env(const char *id)
{
    for (size_t i = 0; i < NBACKENDS; i++)
        if (strcmp(tk_be_id(&backends[i]), id) == 0)
            return enabled(&backends[i]) ? NULL : backends[i].needs_env;
    return NULL;
}

void
tk_be_sender_name(const tk_backend *be, const char *name, pid_t receiver, char *buf, size_t cap)
{
    if (be->flags & TK_BE_SELF)
        (void) snprintf(buf, cap, "%s:%ld", be->scheme, (long) receiver);
    else
        (void) snprintf(buf, cap, "%s", name);
}

static int
open_with(const tk_backend *be, const char *name, unsigned flags, unsigned optflags,
          ipckit_channel **ch)
{
    ipckit_opts o = be->opts;
    o.flags |= optflags;
    *ch = NULL;
    return ipckit_open(ch, name, flags, &o);
}

int
tk_be_open_rx(const tk_backend *be, const char *name, unsigned flags, unsigned optflags,
              ipckit_channel **ch)
{
    if (be->flags & TK_BE_OBJECTS)
        flags |= IPCKIT_CREATE | IPCKIT_EXCL;
    return open_with(be, name, IPCKIT_RECV | flags, optflags, ch);
}

int
tk_be_open_tx(const tk_backend *be, const char *name, unsigned flags, unsigned optflags,
              ipckit_channel **ch)
{
    return open_with(be, name, IPCKIT_SEND | flags, optflags, ch);
}

void
tk_be_open_pair(const tk_backend *be, char *name, size_t cap, unsigned rx_flags,
                unsigned tx_flags, unsigned optflags, ipckit_channel **rx, ipckit_channel **tx)
{
    be->new_name(name, cap);
    tk_be_open_pair_named(be, name, rx_flags, tx_flags, optflags, rx, tx);
}

void
tk_be_open_pair_named(const tk_backend *be, const char *name, unsigned rx_flags,
                      unsigned tx_flags, unsigned optflags, ipckit_channel **rx,
                      ipckit_channel **tx)
{
    int rc = tk_be_open_rx(be, name, rx_flags, optflags, rx);
    ck_assert_msg(rc == 0, "open the receiver of %s: %s (%s)", name, ipckit_errname(rc),
                  ipckit_error_detail());
    rc = tk_be_open_tx(be, name, tx_flags, optflags, tx);
    ck_assert_msg(rc == 0, "open the sender of %s: %s (%s)", name, ipckit_errname(rc),
                  ipckit_error_detail());
}

void
tk_be_close_pair(const tk_backend *be, const char *name, ipckit_channel *rx, ipckit_channel *tx)
{
    ck_assert_int_eq(ipckit_close(tx), 0);
    ck_assert_int_eq(ipckit_close(rx), 0);
    if (be->flags & TK_BE_OBJECTS) {
        int rc = ipckit_unlink(name);
        ck_assert_msg(rc == 0, "unlink %s: %s (%s)", name, ipckit_errname(rc),
                      ipckit_error_detail());
    }
}
