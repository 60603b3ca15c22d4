/*
 * ipckit: declarations shared by the core modules and the built-in
 * backends. Not installed.
 */
#ifndef IPCKIT_INTERNAL_H
#define IPCKIT_INTERNAL_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <ipckit/ipckit.h>
#include <ipckit/backend.h>

#define IPCKIT__DETAIL_MAX 256
#define IPCKIT__SCHEME_MAX 32
#define IPCKIT__NAME_MAX 4096
#define IPCKIT__PARAMS_MAX 32

struct ipckit_name {
    char *text;                 /* the name as given */
    char *scheme;               /* points into storage */
    char *target;               /* decoded */
    size_t nparams;
    char *keys[IPCKIT__PARAMS_MAX];
    char *values[IPCKIT__PARAMS_MAX];
    char storage[];             /* scheme, target, keys and values, NUL-separated */
};

struct ipckit_channel {
    const ipckit_backend *be;
    unsigned flags;             /* IPCKIT_SEND | IPCKIT_RECV | ... as opened */
    unsigned caps;
    size_t max_msg;
    unsigned err_seq;           /* bumped by every ipckit_backend_error() on this channel */
    bool lent;                  /* ipckit_send_loan() succeeded, no commit or cancel yet */
    bool borrowed;              /* ipckit_recv_borrow() succeeded, no release yet */
    size_t lent_len;            /* the length loaned */
    char err[IPCKIT__DETAIL_MAX];
    alignas(max_align_t) unsigned char state[];
};

/* error.c */
void ipckit__detail_set(const char *fmt, ...) IPCKIT_PRINTF(1, 2);
void ipckit__detail_clear(void);

/* deadline.c: NULL for -1, a time in the past for 0, else now + ms. */
const struct timespec *ipckit__deadline(int timeout_ms, struct timespec *storage);

/* trust.c: the trust lists of one open, from the options and the name's
 * "trust" parameter. */
#define IPCKIT__TRUST_MAX 32
struct ipckit__trust {
    uid_t uids[2 * IPCKIT__TRUST_MAX];
    gid_t gids[2 * IPCKIT__TRUST_MAX];
    size_t nuids, ngids;
};

/* Merge the name's "trust" parameter into @p o (already resolved), with
 * @p t as the storage the merged lists point at; -EINVAL with a detail. */
int ipckit__trust_merge(const ipckit_name *n, ipckit_opts *o, struct ipckit__trust *t);

/* options.c: validate @p in (may be NULL) and fill @p out with defaults applied. */
int ipckit__opts_resolve(const ipckit_opts *in, ipckit_opts *out);

/* registry.c */
/* The table has the zero-copy operations (abi_version 2, all four set). */
bool ipckit__backend_zerocopy(const ipckit_backend *be);
const ipckit_backend *ipckit__backend_lookup(const char *scheme);
void ipckit__backend_list(char *buf, size_t cap);

/*
 * creator.c: creator records of the objects whose creator the kernel does
 * not keep (mq:, posixmq:, fifo:); the format is in creator_record.h. The
 * caller fills the object's kind and identity fields of the record.
 */
struct ipckit__crec;

/* Start time of process @p pid in clock ticks after boot (field 22 of
 * /proc/PID/stat); 0 if unknown. */
uint64_t ipckit__proc_start_time(long pid);

/* Record this process as the creator of the object in @p r (fills the
 * creator fields). 0, or a negative errno: then the object has no record,
 * which must not fail the open. -EEXIST: another user's file holds the
 * name; it is left alone. */
int ipckit__creator_write(struct ipckit__crec *r);

/* The trusted record of object @p obj owned by @p obj_uid: 0, -ENOENT (none),
 * -EBADMSG (there is a file, but it is not trusted) or a negative errno. */
int ipckit__creator_lookup(const struct ipckit__crec *obj, unsigned long obj_uid,
                           struct ipckit__crec *out);

/* The creator pid of a trusted record of @p obj, else -1. */
long ipckit__creator_pid(const struct ipckit__crec *obj, unsigned long obj_uid);

/* Before an object is removed: should its record go with it? True for a
 * file of this process's uid under the object's identity, and, for root,
 * for a trusted record of another user. */
bool ipckit__creator_removable(const struct ipckit__crec *obj, unsigned long obj_uid);

/* Remove the record file of @p obj (after ipckit__creator_removable, or
 * after a successful ipckit__creator_write). */
void ipckit__creator_unlink(const struct ipckit__crec *obj);

/* Built-in backends. */
extern const ipckit_backend ipckit__fifo_backend;
extern const ipckit_backend ipckit__sysv_mq_backend;
extern const ipckit_backend ipckit__posix_mq_backend;
extern const ipckit_backend ipckit__signal_backend;
extern const ipckit_backend ipckit__shm_backend;

#endif /* IPCKIT_INTERNAL_H */
