/*
 * ipckit: what the core does for the objects behind names, for every
 * scheme (include/ipckit/object.h), and what the built-in backends use of
 * it. Not installed.
 *
 *   objects.c     ipckit_object_list(), ipckit_object_stat(); a blank
 *                 description; the users of a file, from /proc
 *   creators.c    creator records, run once for every scheme whose objects
 *                 the kernel keeps no creator for (mq:, posixmq:, fifo:):
 *                 written after an open that created the object, found
 *                 before an unlink and removed after it, read for stat,
 *                 list and the stale rules; whether a creator runs
 *   stale.c       ipckit_remove_stale(): the stale rules, orphan records
 *   sysv.c        the objects of no scheme: System V segments and
 *                 semaphore sets, POSIX semaphores
 */
#ifndef IPCKIT_CORE_OBJECTS_H
#define IPCKIT_CORE_OBJECTS_H

#include <stdbool.h>

#include "internal.h"
#include "../os/records.h"

/* ---- objects.c ------------------------------------------------------------ */

/* channel.c: parse @p text and find its backend; on failure the thread
 * detail says why (-EPROTONOSUPPORT for an unknown scheme). */
int ipckit__name_resolve(const char *text, ipckit_name **name, const ipckit_backend **be);

/* The list options @p in (NULL: the defaults) with the defaults applied
 * (dirs, depth) in @p out, or -EINVAL with a detail naming @p what. */
int ipckit__list_opts_resolve(const ipckit_list_opts *in, ipckit_list_opts *out,
                              const char *what);

/* Is @p scheme ("" for no scheme) among those @p opts asks for? */
bool ipckit__list_wants(const ipckit_list_opts *opts, const char *scheme);

/* Every registered backend (built-ins first), NULL-terminated in @p v of
 * IPCKIT__BACKENDS_MAX entries. */
#define IPCKIT__BACKENDS_MAX 64
void ipckit__backends_all(const ipckit_backend **v);

/* @p o with every number -1, every text "", scheme and kind "", holds -1,
 * creator unknown, version IPCKIT_OBJECT_VERSION. */
void ipckit__object_blank(ipckit_object *o);

/*
 * How many processes have the file @p path open (a descriptor whose link
 * reads @p path, or, when @p ino is not 0, one whose link ends in the same
 * file name and leads to inode (@p dev, @p ino): a POSIX queue's reads
 * "/NAME", a FIFO opened through a symbolic link the resolved path), or,
 * with @p maps, mapped. With @p first, stops at the first. -1 when /proc
 * cannot be read. Only the links of a file of the same name are stat()ed,
 * so no unrelated file (a hung NFS mount) is touched. An unprivileged
 * caller sees its own processes only.
 */
long long ipckit__proc_users(const char *path, unsigned long long dev, unsigned long long ino,
                             bool maps, bool first);

/* Describe the object behind @p n with @p be into @p o (blanked first),
 * with its creator: 0, -ENOTSUP (no describe), or the backend's error. */
int ipckit__object_describe(const ipckit_backend *be, const ipckit_name *n, ipckit_object *o);

/* ipckit__proc_users() of the file @p o is (where, dev, ino; mappings too
 * for /dev/shm), or -1 when it is no file. */
long long ipckit__object_users(const ipckit_object *o, bool first);

/* Does System V key @p key look like ipckit's? ftok(path, 'i'), the default
 * proj of ipckit_name_sysv_key(), puts 'i' in its top byte. */
bool ipckit__sysv_key_ipckit(long long key);

/* ---- creators.c ------------------------------------------------------------ */

/* enum ipckit_creator_state of the creator @p pid, which started at
 * @p start (0: not recorded): a pid that now belongs to a process started
 * at another time is not the creator; when the start time cannot be read
 * (another user's process under hidepid) the creator counts as alive. */
int ipckit__creator_state(long long pid, unsigned long long start);

/* The record kind (IPCKIT__CREC_*) the core keeps for objects of
 * @p scheme, or 0: mq, posixmq and fifo, whose creator the kernel does not
 * keep. */
int ipckit__creator_kind(const char *scheme);

/* The identity of object @p o as its creator record names it, and its
 * owner; false when @p o's scheme has no records or its identity is not
 * known. The built-in backends fill identity[] for it: mq: [0] msg_ctime,
 * [1] 1 when [0] is known; fifo: [0], [1] birth time (seconds, nanoseconds),
 * [2] 1 when the file system gave one; posixmq: none (ino and name). */
bool ipckit__creator_identity(const ipckit_object *o, struct ipckit__crec *id,
                              unsigned long *owner);

/* Give @p o the creator of its trusted record (creator_pid, creator_start,
 * by_ipckit), when its scheme keeps records and it has one; the record's
 * file name in @p leaf (may be NULL; "" when none). Then set o->creator. */
void ipckit__creator_fill(ipckit_object *o, char *leaf, size_t cap);

/* After @p be's open returned 1 (created) on @p state: record this process
 * as the creator. Never fails the open. */
void ipckit__creator_opened(const ipckit_backend *be, void *state);

/* Around @p be's unlink of @p name: find the record before (true when it
 * is to go with the object), remove it after. */
bool ipckit__creator_before_unlink(const ipckit_backend *be, const ipckit_name *name,
                                   struct ipckit__crec *id);
void ipckit__creator_after_unlink(const struct ipckit__crec *id);

/* The creator pid of the object behind @p name from its trusted record, for
 * ipckit_stat_name(); -1 when none. */
long ipckit__creator_stat_pid(const ipckit_backend *be, const ipckit_name *name);

/* Call @p fn with the target ("/NAME", a FIFO's path) of every well-formed
 * record of @p scheme's kind, until it returns non-zero. */
int ipckit__creator_targets(const char *scheme, int (*fn)(const char *target, void *arg),
                            void *arg);

/* Is @p leaf (a file name in /dev/shm) a creator record's? */
bool ipckit__creator_is_record(const char *leaf);

/* ---- sysv.c ----------------------------------------------------------------- */

/* The objects of no scheme: System V segments and semaphore sets
 * (/proc/sysvipc), POSIX semaphores (/dev/shm/sem.NAME). */
int ipckit__sysv_list(const ipckit_list_opts *opts,
                      int (*emit)(const ipckit_object *o, void *ctx), void *ctx);

/* Remove the segment @p o if it still is the one judged (key, creator) and
 * nothing is attached: 0, or a negative errno with a detail. */
int ipckit__sysv_remove_stale(const ipckit_object *o, unsigned flags);

/* ---- backends ---------------------------------------------------------------- */

/* The object operations of the built-in backends (backends/ *_objects.c). */
int ipckit__mq_list(const ipckit_list_opts *opts,
                    int (*emit)(const ipckit_object *o, void *ctx), void *ctx);
int ipckit__mq_describe(const ipckit_name *name, ipckit_object *out);
int ipckit__mq_remove_stale(const ipckit_object *o, unsigned flags);
/* Queue @p id (key @p key) as describe gives it. */
int ipckit__mq_object(int id, long long key, ipckit_object *out);

int ipckit__posixmq_list(const ipckit_list_opts *opts,
                         int (*emit)(const ipckit_object *o, void *ctx), void *ctx);
int ipckit__posixmq_describe(const ipckit_name *name, ipckit_object *out);
int ipckit__posixmq_remove_stale(const ipckit_object *o, unsigned flags);
/* The queue "/NAME" @p qname open as @p fd, as describe gives it. */
int ipckit__posixmq_object(int fd, const char *qname, ipckit_object *out);

int ipckit__fifo_list(const ipckit_list_opts *opts,
                      int (*emit)(const ipckit_object *o, void *ctx), void *ctx);
int ipckit__fifo_describe(const ipckit_name *name, ipckit_object *out);
int ipckit__fifo_remove_stale(const ipckit_object *o, unsigned flags);
/* The FIFO at @p path as describe gives it: 0, -ENOENT, -ELOOP (a symbolic
 * link), -EINVAL (not a FIFO), or another negative errno; no detail. */
int ipckit__fifo_object(const char *path, ipckit_object *out);

int ipckit__shm_list(const ipckit_list_opts *opts,
                     int (*emit)(const ipckit_object *o, void *ctx), void *ctx);
int ipckit__shm_describe(const ipckit_name *name, ipckit_object *out);
int ipckit__shm_remove_stale(const ipckit_object *o, unsigned flags);

#endif /* IPCKIT_CORE_OBJECTS_H */
