/*
 * ipckit: the wake-up companion of a System V queue (mq:). Not installed.
 *
 * msgsnd() and msgrcv() have no timed form, and a blocked msgrcv() can be
 * ended only by a signal. A channel that must wait with a timeout (or be
 * interruptible) therefore tries with IPC_NOWAIT and waits in between. It
 * waits on a futex in a small POSIX shared-memory object beside the queue,
 * /dev/shm/ipckit-mq.KKKKKKKK.ID (the queue's key and id): ipckit senders and
 * receivers bump a word there, and wake its sleepers, when they see that
 * someone waits (one load per message otherwise). A waiter also wakes now
 * and then on its own, so that a sender that is not ipckit (PHP, Python,
 * a raw msgsnd()) is seen too: after 1 ms, then at most every 50 ms (the
 * name parameter ?peers=ipckit says there is none, and then it looks once
 * a second, for a queue removed under it). docs/backends/mq.md has the
 * trade-off.
 *
 * The first ipckit open of a queue makes the companion (with the queue's
 * permission bits, owned by the opener). Its name holds the queue's id as
 * well as its key, /dev/shm/ipckit-mq.KKKKKKKK.ID, so that a companion is
 * one queue's and never a later queue's of the same key: one whose queue
 * is gone is an orphan by what the kernel says, whoever looks. It is
 * removed by ipckit_unlink(), by the close of a channel that finds its
 * queue removed (by PHP, ipcrm), by the open that creates a queue of the
 * same key (its orphans), and by ipckit rm --stale. A companion that
 * cannot be made or is not trusted (docs/security.md) is done without:
 * waits then poll as in 0.1.0 (50 us growing to 2 ms). Its bytes are untrusted: a peer that scribbles
 * them can cause missed or extra wake-ups, which the waiter's own wake-ups
 * (with peers=any) and its deadline bound.
 */
#ifndef IPCKIT_MQ_WAKE_H
#define IPCKIT_MQ_WAKE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/ipc.h>
#include <sys/stat.h>
#include <time.h>

#include "../core/internal.h"

struct mqw_shared;

#define MQW_PREFIX "ipckit-mq." /* then the key in 8 hex digits, '.', the id */
#define MQW_MAGIC 0x574d4b49u     /* "IKMW", its first word */

struct mqw {
    struct mqw_shared *m;       /* NULL: no companion; waits poll */
    bool foreign;               /* senders that are not ipckit may come: wake now and then */
    _Atomic unsigned intr_posted; /* ipckit_interrupt() */
    unsigned intr_taken;
};

/* Attach the companion of queue @p id (key @p key), making it (with
 * @p mode) when there is none; @p fresh: the queue was just made, so a
 * companion already there is a stale one (of a queue that had the same id
 * before the kernel's ids wrapped) and is replaced. Without a companion,
 * waits poll. Never fails an open. */
void mqw_attach(struct mqw *w, key_t key, int id, bool fresh, unsigned mode,
                const ipckit_opts *opts);
void mqw_detach(struct mqw *w);

/* Remove the companion of queue @p id (key @p key), if any, waking its
 * sleepers first. */
void mqw_remove(key_t key, int id);

/* Is queue @p id, of key @p key, certainly gone (removed, or the id names
 * a queue of another key now)? Unsure (no right to look) is no. */
bool mqw_queue_gone(key_t key, int id);

/* Is @p leaf (a file name in /dev/shm) a companion's name, as ipckit
 * writes it? Then its queue's key and id. */
bool mqw_name_parse(const char *leaf, key_t *key, int *id);

/* An orphan: a companion in /dev/shm whose queue is gone. */
struct mqw_orphan {
    key_t key;
    int id;
    char path[64];
    struct stat sb; /* as found (lstat) */
};

/* Call @p fn for every orphan (of @p key only, unless it is -1) until it
 * returns non-zero, which is returned. Nothing is removed. */
int mqw_orphans(long long key, int (*fn)(const struct mqw_orphan *o, void *arg), void *arg);

/* Remove this user's orphans of @p key. */
void mqw_sweep(key_t key);

/* After a message went in (@p data) or out (!@p data): wake who waits for it. */
void mqw_wake_slow(struct mqw *w, bool data);
static inline void mqw_posted(struct mqw *w, bool data);

/* A waiter's state between its tries: start from MQW_WAITER_INIT. */
struct mqw_waiter {
    int yields;     /* sched_yield() tries left before it sleeps */
    long step_ms;   /* its next own wake-up */
    uint32_t seq;   /* the word's value before its last try */
    bool registered;
};

#define MQW_WAITER_INIT { 16, 0, 0, false }

/*
 * Wait for a message (@p data) or room (!@p data), after a try that failed,
 * until @p deadline: 0 when the caller should try again; the deadline's
 * error; -EINTR. First a few sched_yield() (a peer that answers at once, as
 * in a ping-pong, is seen without sleeping), then sleeps on the companion.
 * mqw_wait_end() after the last try.
 */
int mqw_wait(struct mqw *w, bool data, const struct timespec *deadline, struct mqw_waiter *s);
void mqw_wait_end(struct mqw *w, bool data, struct mqw_waiter *s);

/* ipckit_interrupt() for a channel with a companion (async-signal-safe). */
int mqw_interrupt(struct mqw *w);

/* ---- the inline part ---------------------------------------------------- */

struct mqw_shared {
    _Atomic uint32_t magic;
    uint32_t version;
    _Alignas(64) _Atomic uint32_t data_seq;
    _Atomic uint32_t data_waiters;
    _Alignas(64) _Atomic uint32_t space_seq;
    _Atomic uint32_t space_waiters;
};

static inline void
mqw_posted(struct mqw *w, bool data)
{
    if (w->m != NULL &&
        atomic_load(data ? &w->m->data_waiters : &w->m->space_waiters) != 0)
        mqw_wake_slow(w, data);
}

#endif /* IPCKIT_MQ_WAKE_H */
