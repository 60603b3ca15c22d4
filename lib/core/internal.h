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
    bool lent;                  /* ipckit_send_loan() succeeded, no commit or cancel yet */
    bool borrowed;              /* ipckit_recv_borrow() succeeded, no release yet */
    size_t lent_len;            /* the length loaned */
    char err[IPCKIT__DETAIL_MAX];
    alignas(max_align_t) unsigned char state[];
};

/* error.c: the thread's detail. A backend's ipckit_backend_error() (and
 * ipckit__detail_set()) marks it fresh; after a failed call the core keeps a
 * fresh detail on the channel (ipckit__channel_failed()) and otherwise writes
 * "what: strerror". Backends write it only for the error they return. */
void ipckit__detail_set(const char *fmt, ...) IPCKIT_PRINTF(1, 2);
/* ipckit__detail_set() that returns @p rc: for the modules that are no
 * backend (region/, signals/, os/) */
int ipckit__fail(int rc, const char *fmt, ...) IPCKIT_PRINTF(2, 3);
void ipckit__detail_clear(void);
bool ipckit__detail_fresh(void);

/* Thread-local state the hot path touches, in the initial-exec TLS model (a
 * %fs-relative access instead of a __tls_get_addr() call): a few bytes, as
 * glibc keeps room for in every process, also for a library opened with
 * dlopen(). */
#define IPCKIT__TLS_IE __attribute__((tls_model("initial-exec")))

/* Before a channel operation calls its backend: no detail is fresh yet. */
extern _Thread_local bool ipckit__detail_fresh_flag IPCKIT__TLS_IE;
static inline void
ipckit__detail_begin(void)
{
    ipckit__detail_fresh_flag = false;
}
void ipckit__channel_failed(ipckit_channel *ch, int rc, const char *what);
int ipckit__channel_error(ipckit_channel *ch, int rc, const char *fmt, ...) IPCKIT_PRINTF(3, 4);

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

/* names.c: ipckit_name_sysv_key() with the ftok proj taken from parameter
 * @p proj_key, @p def_proj when the name has none. */
int ipckit__name_sysv_key(const ipckit_name *n, const char *proj_key, long def_proj, key_t *out);

/* options.c: validate @p in (may be NULL) and fill @p out with defaults applied. */
int ipckit__opts_resolve(const ipckit_opts *in, ipckit_opts *out);

/* registry.c */
/* The table has the zero-copy operations (abi_version 2, all four set). */
bool ipckit__backend_zerocopy(const ipckit_backend *be);
const ipckit_backend *ipckit__backend_lookup(const char *scheme);
void ipckit__backend_list(char *buf, size_t cap);

/* plugin.c: load libipckit-SCHEME.so.MAJOR from libipckit's directory and
 * call its ipckit_SCHEME_register(): 0 when it registered, -ENOENT when
 * there is none (or it was tried before: look the scheme up again, another
 * thread may have loaded it), another negative errno with the reason in
 * @p why (else "") when it is there but could not be used. */
int ipckit__plugin_load(const char *scheme, char *why, size_t whycap);

/* Built-in backends. */
extern const ipckit_backend ipckit__fifo_backend;
extern const ipckit_backend ipckit__sysv_mq_backend;
extern const ipckit_backend ipckit__posix_mq_backend;
extern const ipckit_backend ipckit__signal_backend;
extern const ipckit_backend ipckit__shm_backend;

#endif /* IPCKIT_INTERNAL_H */
