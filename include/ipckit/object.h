/**
 * @file
 * ipckit: the objects behind names. List them, describe one by name, and
 * remove the ones nobody can want any more: what "ipckit ls", "ipckit stat"
 * and "ipckit rm --stale" print, for a program that wants to do the same,
 * such as a daemon that cleans up after a crashed predecessor at start-up.
 *
 * An object is what the kernel keeps: a System V queue, a POSIX queue, a
 * POSIX shared-memory object (an ipckit ring or region, or another
 * program's), a FIFO; and the System V segments, semaphore sets and POSIX
 * semaphores that no ipckit scheme names, which are listed too so that a
 * listing shows the whole picture.
 *
 * Nothing here changes an object it does not remove: a listing opens no
 * FIFO, attaches no segment, maps nothing and receives no message.
 */
#ifndef IPCKIT_OBJECT_H
#define IPCKIT_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <ipckit/export.h>

IPCKIT_BEGIN_DECLS

/** Whether the process that created an object still runs. */
enum ipckit_creator_state {
    IPCKIT_CREATOR_UNKNOWN = 0, /**< no trusted record of it, or it cannot be told */
    IPCKIT_CREATOR_ALIVE = 1,   /**< its pid runs, with the start time recorded */
    IPCKIT_CREATOR_GONE = 2     /**< its pid is gone, or belongs to a later process */
};

/** Version of struct ipckit_object that this header describes. */
#define IPCKIT_OBJECT_VERSION 1u

/** Longest name or place in struct ipckit_object, with its NUL. */
#define IPCKIT_OBJECT_TEXT_MAX 4096

/**
 * What ipckit knows of one object. A number that cannot be told is -1, a
 * text that cannot be told is "". Fields are only ever appended, with a new
 * IPCKIT_OBJECT_VERSION; the library writes only the fields of the version
 * the caller declares.
 */
typedef struct ipckit_object {
    unsigned version;  /**< IPCKIT_OBJECT_VERSION: set by the caller of ipckit_object_stat() */
    /** The name to open it by ("mq:0x1c0ffee", "shm:/app", "fifo:/tmp/app.pipe",
     *  "posixmq:/jobs"), its target written as the kernel has it (not
     *  %-escaped); "" for an object that no scheme names or opens. */
    char name[IPCKIT_OBJECT_TEXT_MAX];
    /** Where the kernel keeps it: a file ("/dev/shm/app", "/dev/mqueue/jobs",
     *  "/tmp/app.pipe"), or "key 0x1c0ffee id 32769" for System V. */
    char where[IPCKIT_OBJECT_TEXT_MAX];
    const char *scheme; /**< "mq", "posixmq", "shm", "fifo"; "" when no scheme names it */
    /** What it is: "queue", "posix queue", "ring", "region", "fifo",
     *  "posix shm" (not ipckit's), "segment", "semaphores",
     *  "posix semaphore", or "creator record" (an orphan, see
     *  ipckit_remove_stale()). */
    const char *kind;
    bool by_ipckit;     /**< made by ipckit: an ipckit header or a trusted creator record */
    long long key;      /**< System V key, else -1 */
    long long id;       /**< System V id, else -1 */
    long long uid;      /**< owner */
    long long gid;      /**< group */
    unsigned mode;      /**< permission bits */
    long long size;     /**< bytes the object takes (a file's size, a segment's) */
    long long capacity; /**< bytes it can hold: a queue's or ring's limit, a region's data area */
    /** Messages queued; a region's variables; a semaphore set's semaphores. */
    long long messages;
    long long bytes;    /**< bytes the messages or variables hold */
    /** 1: it holds messages, variables or data that removing it would drop;
     *  0: nothing; -1: cannot tell (note says why). */
    int holds;
    /** Processes that have it open, mapped or attached. ipckit_object_list()
     *  counts only what the kernel counts (a segment's attaches); ipckit_object_stat()
     *  also counts the processes that have a file open or mapped (/proc). A
     *  System V queue has no such notion: -1, and the last sender and
     *  receiver tell who used it. */
    long long users;
    long long last_send_pid; /**< a queue's or ring's last sender (0: none yet) */
    long long last_recv_pid; /**< a queue's or ring's last receiver (0: none yet) */
    long long creator_pid;   /**< the creator's pid */
    /** The creator's start time (field 22 of /proc/PID/stat, clock ticks
     *  after boot), which tells it from a later process with its pid; 0:
     *  not recorded. */
    unsigned long long creator_start;
    int creator;        /**< enum ipckit_creator_state */
    unsigned long long dev; /**< a file's device (st_dev), else 0 */
    unsigned long long ino; /**< a file's inode, else 0 */
    char note[256];     /**< why something could not be told, or what is odd; "" */
    /** What its backend recognises the same object by again, beyond the
     *  fields above, such as a change time or a birth time
     *  (backend-defined; ipckit_remove_stale() passes it back to the
     *  backend). */
    unsigned long long identity[4];
} ipckit_object;

/** Version of struct ipckit_list_opts that this header describes. */
#define IPCKIT_LIST_OPTS_VERSION 1u

/** Flags for ipckit_list_opts.flags. */
enum ipckit_list_flags {
    IPCKIT_LIST_IPCKIT_ONLY = 1u << 0, /**< only objects ipckit made */
    IPCKIT_STALE_DRY_RUN = 1u << 1,    /**< ipckit_remove_stale(): judge, remove nothing */
    IPCKIT_STALE_DISCARD = 1u << 2     /**< ipckit_remove_stale(): also remove stale
                                            objects that still hold messages or variables */
};

/** Where and what ipckit_object_list() and ipckit_remove_stale() look at. */
typedef struct ipckit_list_opts {
    unsigned version;            /**< IPCKIT_LIST_OPTS_VERSION */
    /** NULL-terminated schemes to list ("" for the objects of no scheme),
     *  NULL for every kind. */
    const char *const *schemes;
    /** NULL-terminated directories to look for FIFOs in; NULL: /tmp and
     *  /run. ipckit_remove_stale() finds FIFOs through their creator
     *  records, wherever they are, and does not look here. */
    const char *const *dirs;
    int depth;                   /**< how many directories deep to look for FIFOs (1 to 64);
                                      0: 3 */
    unsigned flags;              /**< IPCKIT_LIST_* and IPCKIT_STALE_* bits */
    /** ipckit_remove_stale(): NULL-terminated names to judge instead of a
     *  sweep of everything: ipckit names, or System V keys ("0x1c0ffee"); a
     *  key, or an mq: name, names the queue and the System V segment of
     *  that key. A named object is removed even when it holds messages. */
    const char *const *names;
} ipckit_list_opts;

/** Default list options: every kind, FIFOs under /tmp and /run, 3 deep. */
#define IPCKIT_LIST_OPTS_INIT { IPCKIT_LIST_OPTS_VERSION, NULL, NULL, 0, 0, NULL }

/**
 * Call @p fn for every object found, until it returns non-zero.
 *
 * @param opts NULL for the defaults.
 * @param fn   gets an object valid during the call.
 * @param arg  passed to @p fn.
 * @return 0, the first non-zero value of @p fn, or a negative errno
 *         (-EINVAL for bad options) with ipckit_error_detail().
 */
IPCKIT_API int ipckit_object_list(const ipckit_list_opts *opts,
                                  int (*fn)(const ipckit_object *o, void *arg), void *arg);

/**
 * Describe the object behind @p name (as ipckit_open() takes it).
 *
 * @param name the object's name.
 * @param out  with out->version set (IPCKIT_OBJECT_VERSION).
 * @return 0, -ENOENT, -EINVAL (bad name, bad version, or no such kind of
 *         object at that name), -EPROTONOSUPPORT (unknown scheme),
 *         -ENOTSUP (a scheme without objects), or another negative errno,
 *         with ipckit_error_detail().
 */
IPCKIT_API int ipckit_object_stat(const char *name, ipckit_object *out);

/** What ipckit_remove_stale() did with an object. */
enum ipckit_stale_verdict {
    IPCKIT_STALE_REMOVED = 0, /**< removed (or would be, with IPCKIT_STALE_DRY_RUN) */
    IPCKIT_STALE_KEPT = 1,    /**< stale, but holds messages or variables: kept unless named
                                   or IPCKIT_STALE_DISCARD */
    IPCKIT_STALE_LIVE = 2,    /**< not stale: its creator runs, or a process uses it, or
                                   its creator cannot be told */
    IPCKIT_STALE_FAILED = 3   /**< stale, but removing it failed */
};

/**
 * Remove the objects nobody can want any more: those whose creator has
 * gone (by its pid and start time), that no process has open or attached,
 * and that hold nothing, unless named in @p opts->names or
 * IPCKIT_STALE_DISCARD is given; and the orphan creator records of objects
 * that are gone, and the wake-up companions of System V queues that are
 * gone (kind "queue companion", ipckit-mq(7)). Each object is checked again right before it is removed.
 * Only objects ipckit can tell the creator of, and that belong to the
 * caller, are ever removed: another program's or user's objects are left
 * alone. docs/reliability.md ("Stale objects") has the rules.
 *
 * @param opts   NULL for a sweep with the defaults.
 * @param report if not NULL, called for every object judged, with its
 *               verdict (enum ipckit_stale_verdict) and a text: for
 *               IPCKIT_STALE_REMOVED why it was stale and what it held
 *               ("creator pid 41 gone, not open; 3 messages, 120 bytes
 *               queued", after a removal "...; dropped 3 messages, 120
 *               bytes"), for IPCKIT_STALE_KEPT what it holds, otherwise
 *               why it was not removed; returning non-zero stops the sweep.
 *               Semaphores and objects of other programs are not judged.
 * @param arg    passed to @p report.
 * @return the number of objects removed (or that would be), or a negative
 *         errno. A named object that is not removed is reported, not an
 *         error; one that does not exist is not reported.
 */
IPCKIT_API int ipckit_remove_stale(const ipckit_list_opts *opts,
                                   int (*report)(const ipckit_object *o, int verdict,
                                                 const char *why, void *arg),
                                   void *arg);

IPCKIT_END_DECLS

#endif /* IPCKIT_OBJECT_H */
