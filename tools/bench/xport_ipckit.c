/*
 * ipckit-bench: the ipckit variants, through the public channel API of the
 * libipckit this program is linked with ("ipckit", "zerocopy",
 * "claimed"), or of another build of it loaded with --base=PATH ("base",
 * "base-zerocopy", "base-claimed").
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ipckit/backend.h>
#include <ipckit/ipckit.h>

#include "bench.h"

/* ---- ipckit: the public channel API, of this build or of --base ----------- */

/*
 * The functions the ipckit variants call, taken from one library: the
 * libipckit this program is linked with, or another build of it loaded
 * with --base=PATH. Both kinds of variant run the code below; only the
 * table differs, so "ipckit" and "base" move the same traffic through two
 * builds of the library.
 */
struct ipk_api {
    const char *what;          /* for the notes: "this libipckit" or the path */
    unsigned opts_version;     /* the ipckit_opts version to pass */
    int (*open)(ipckit_channel **, const char *, unsigned, const ipckit_opts *);
    int (*close)(ipckit_channel *);
    int (*unlink)(const char *);
    int (*send)(ipckit_channel *, const void *, size_t, int);
    ssize_t (*recv)(ipckit_channel *, void *, size_t, int);
    unsigned (*caps)(const ipckit_channel *);
    size_t (*max_msg_size)(const ipckit_channel *);
    const char *(*error_detail)(void);
    const ipckit_backend *(*backend_find)(const char *);
    const char *(*version_string)(void);
    /* Zero copy: NULL when the library has none of them. */
    int (*send_loan)(ipckit_channel *, size_t, void **, int);
    int (*send_commit)(ipckit_channel *, long, size_t);
    ssize_t (*recv_borrow)(ipckit_channel *, long *, const void **, int);
    int (*recv_release)(ipckit_channel *);
};

static const struct ipk_api ipk_linked = {
    "this libipckit", IPCKIT_OPTS_VERSION, ipckit_open, ipckit_close, ipckit_unlink,
    ipckit_send, ipckit_recv, ipckit_caps, ipckit_max_msg_size, ipckit_error_detail,
    ipckit_backend_find, ipckit_version_string, ipckit_send_loan, ipckit_send_commit,
    ipckit_recv_borrow, ipckit_recv_release,
};

/* Filled by bx_base_open(); what == NULL: no --base. */
static struct ipk_api ipk_base;
static void *ipk_base_handle;
static char ipk_base_path[PATH_MAX];

/* What one ipckit variant does with its library. */
struct ipk_impl {
    const struct ipk_api *api;
    const char *param;   /* added to every name at open ("claim=1"), or NULL */
    bool zerocopy;       /* sends with loans, receives borrowed messages */
};

/* An open channel and the library it belongs to. */
struct ipk_ep {
    const struct ipk_api *api;
    ipckit_channel *ch;
};

static const struct ipk_api *
ipk_api_of(const struct bx_run *r)
{
    return ((const struct ipk_impl *) r->var->impl)->api;
}

/* @p name with the variant's parameter added ("?claim=1", or "&claim=1"
 * after other parameters); -ENAMETOOLONG when it does not fit. */
static int
ipk_name(const struct ipk_impl *im, const char *name, char *buf, size_t cap)
{
    int n;
    if (im->param == NULL)
        n = snprintf(buf, cap, "%s", name);
    else
        n = snprintf(buf, cap, "%s%c%s", name, strchr(name, '?') != NULL ? '&' : '?',
                     im->param);
    return n < 0 || (size_t) n >= cap ? -ENAMETOOLONG : 0;
}

/*
 * A variant this library cannot run is skipped, not failed: a library
 * without the zero-copy functions or whose channels lack
 * IPCKIT_CAP_ZEROCOPY, one that refuses the variant's name parameter (an
 * older build that does not know ?claim=1). The probe opens the new object
 * once with the parameter and closes it again.
 */
static int
ipk_can_run(struct bx_run *r, const struct ipk_impl *im, ipckit_channel *ch, int c)
{
    const struct ipk_api *api = im->api;
    if (im->zerocopy && !(api->caps(ch) & IPCKIT_CAP_ZEROCOPY)) {
        (void) snprintf(r->err, sizeof r->err, "%.120s: %s: channels have no zero copy",
                        api->what, r->be->scheme);
        return 1;
    }
    if (im->param != NULL) {
        char name[BX_NAME_MAX + 16];
        ipckit_opts o = IPCKIT_OPTS_INIT;
        ipckit_channel *probe = NULL;
        int rc;
        o.version = api->opts_version;
        if (ipk_name(im, r->names[c], name, sizeof name) < 0) {
            (void) snprintf(r->err, sizeof r->err, "name of channel %d too long", c);
            return -1;
        }
        rc = api->open(&probe, name, IPCKIT_RECV, &o);
        if (rc == -EBUSY)
            return 0; /* the name was taken; the object has its one receiver (fifo:) */
        if (rc < 0) {
            (void) snprintf(r->err, sizeof r->err, "%.60s: %s: %.160s", api->what,
                            rc == -EINVAL ? "refuses the name" : "open", api->error_detail());
            return rc == -EINVAL ? 1 : -1;
        }
        (void) api->close(probe);
    }
    return 0;
}

static int
ipk_prepare(struct bx_run *r)
{
    const struct ipk_impl *im = r->var->impl;
    const struct ipk_api *api = im->api;
    const char *scheme = r->be->scheme;
    if (r->be->make_name == NULL) {
        (void) snprintf(r->err, sizeof r->err,
                        "the %s: name format is not in the benchmark's table yet", scheme);
        return 1;
    }
    if (api->backend_find(scheme) == NULL) {
        (void) snprintf(r->err, sizeof r->err, "%.120s has no %s: backend", api->what, scheme);
        return 1;
    }
    if (im->zerocopy && api->send_loan == NULL) {
        (void) snprintf(r->err, sizeof r->err, "%.120s has no ipckit_send_loan()", api->what);
        return 1;
    }
    if (r->be->no_object)
        return 0;   /* nothing to create; the names are made at open */
    ipckit_opts o = IPCKIT_OPTS_INIT;
    /* An older library reads the fields of the version it is given. */
    o.version = api->opts_version;
    /* A POSIX queue's receiver needs a buffer of the queue's message size:
     * make the queue for the run's size, as the raw half does. */
    if (strcmp(r->be->scheme, "posixmq") == 0) {
        if (r->be->max_size != NULL && r->size > r->be->max_size()) {
            (void) snprintf(r->err, sizeof r->err, "%zu-byte messages exceed the limit of %zu",
                            r->size, r->be->max_size());
            return 1;
        }
        o.max_msg_size = r->size;
    }
    for (int c = 0; c < r->nchan; c++) {
        ipckit_channel *ch = NULL;
        int rc = -EEXIST;
        /* Create each object here, exclusively, so that a name in use by
         * someone else is never borrowed; the children open it as it is. */
        for (int attempt = 0; attempt < 64 && rc == -EEXIST; attempt++) {
            struct bx_run probe = *r;
            probe.id = r->id + (unsigned) attempt * 7919u;
            if (r->be->make_name(&probe, c, BX_RECV, r->names[c], sizeof r->names[c]) < 0) {
                (void) snprintf(r->err, sizeof r->err, "name of channel %d too long", c);
                rc = -ENAMETOOLONG;
                break;
            }
            rc = api->open(&ch, r->names[c], IPCKIT_RECV | IPCKIT_CREATE | IPCKIT_EXCL, &o);
        }
        if (rc < 0) {
            if (r->err[0] == '\0')
                (void) snprintf(r->err, sizeof r->err, "open %.100s: %.140s", r->names[c],
                                api->error_detail());
            r->names[c][0] = '\0';
            for (int k = 0; k < c; k++)
                (void) api->unlink(r->names[k]);
            return -1;
        }
        if (api->max_msg_size(ch) < r->size ||
            (r->multi && (api->caps(ch) & (IPCKIT_CAP_MULTI_SEND | IPCKIT_CAP_MULTI_RECV)) !=
                             (IPCKIT_CAP_MULTI_SEND | IPCKIT_CAP_MULTI_RECV))) {
            if (api->max_msg_size(ch) < r->size)
                (void) snprintf(r->err, sizeof r->err, "%zu-byte messages exceed the limit of %zu",
                                r->size, api->max_msg_size(ch));
            else
                (void) snprintf(r->err, sizeof r->err,
                                "%s: channels are not multi-producer/multi-consumer", scheme);
            rc = 1;
        } else {
            rc = ipk_can_run(r, im, ch, c);
        }
        (void) api->close(ch);
        if (rc != 0) {
            for (int k = 0; k <= c; k++)
                (void) api->unlink(r->names[k]);
            for (int k = 0; k < r->nchan; k++)
                r->names[k][0] = '\0';
            return rc;
        }
    }
    return 0;
}

static void
ipk_parent_after_fork(struct bx_run *r)
{
    (void) r;
}

static int
ipk_open(struct bx_run *r, int chan, enum bx_dir dir, void **ep)
{
    const struct ipk_impl *im = r->var->impl;
    const struct ipk_api *api = im->api;
    ipckit_opts o = IPCKIT_OPTS_INIT;
    struct ipk_ep *e;
    char name[BX_NAME_MAX + 16];
    int rc;
    o.version = api->opts_version;
    o.open_timeout_ms = 30000;
    if (r->be->no_object && r->be->make_name(r, chan, dir, r->names[chan],
                                             sizeof r->names[chan]) < 0)
        return -ENAMETOOLONG;
    if (ipk_name(im, r->names[chan], name, sizeof name) < 0)
        return -ENAMETOOLONG;
    e = malloc(sizeof *e);
    if (e == NULL)
        return -ENOMEM;
    e->api = api;
    rc = api->open(&e->ch, name, dir == BX_SEND ? IPCKIT_SEND : IPCKIT_RECV, &o);
    if (rc < 0) {
        (void) fprintf(stderr, "ipckit-bench: open %s: %s\n", name, api->error_detail());
        free(e);
        return rc;
    }
    *ep = e;
    return 0;
}

static int
ipk_send(void *ep, const void *buf, size_t len)
{
    const struct ipk_ep *e = ep;
    return e->api->send(e->ch, buf, len, IPCKIT_FOREVER);
}

static ssize_t
ipk_recv(void *ep, void *buf, size_t cap)
{
    const struct ipk_ep *e = ep;
    return e->api->recv(e->ch, buf, cap, IPCKIT_FOREVER);
}

static ssize_t
ipk_recv_timed(void *ep, void *buf, size_t cap, int timeout_ms)
{
    const struct ipk_ep *e = ep;
    return e->api->recv(e->ch, buf, cap, timeout_ms);
}

static void
ipk_close(void *ep)
{
    struct ipk_ep *e = ep;
    (void) e->api->close(e->ch);
    free(e);
}

static void
ipk_cleanup(struct bx_run *r)
{
    const struct ipk_api *api = ipk_api_of(r);
    for (int c = 0; c < r->nchan; c++)
        if (r->names[c][0] != '\0')
            (void) api->unlink(r->names[c]);
}

/*
 * Zero copy (backends with IPCKIT_CAP_ZEROCOPY): the sender writes its
 * message once, into a loan in the ring (the memcpy stands for building it
 * there); the receiver reads it where it lies. One copy where the pipe and
 * the ipckit variant make two.
 */
static int
ipk_send_zc(void *ep, const void *buf, size_t len)
{
    const struct ipk_ep *e = ep;
    void *room;
    int rc = e->api->send_loan(e->ch, len, &room, IPCKIT_FOREVER);
    if (rc < 0)
        return rc;
    memcpy(room, buf, len);
    return e->api->send_commit(e->ch, 1, len);
}

static ssize_t
ipk_recv_view(void *ep, const void **msg)
{
    const struct ipk_ep *e = ep;
    return e->api->recv_borrow(e->ch, NULL, msg, IPCKIT_FOREVER);
}

static void
ipk_release(void *ep)
{
    const struct ipk_ep *e = ep;
    (void) e->api->recv_release(e->ch);
}

/* The three ipckit variants, each once for this build and once for --base:
 * the public API as it is; zero copy; and one sender and one receiver,
 * each holding its side of the ring for as long as it is open (shm:,
 * ?claim=1: no lock per message). */
#define IPK_VARIANT(vname, impl_, send_, view_, release_, timed_)                             \
    {                                                                                        \
        .name = vname, .prepare = ipk_prepare, .parent_after_fork = ipk_parent_after_fork,   \
        .open = ipk_open, .send = send_, .recv = ipk_recv, .recv_view = view_,               \
        .release = release_, .recv_timed = timed_, .close = ipk_close,                       \
        .cleanup = ipk_cleanup, .impl = impl_                                                \
    }

static const struct ipk_impl im_ipckit = { &ipk_linked, NULL, false };
static const struct ipk_impl im_zc = { &ipk_linked, NULL, true };
static const struct ipk_impl im_claimed = { &ipk_linked, "claim=1", false };
static const struct ipk_impl im_base = { &ipk_base, NULL, false };
static const struct ipk_impl im_base_zc = { &ipk_base, NULL, true };
static const struct ipk_impl im_base_claimed = { &ipk_base, "claim=1", false };

const struct bx_variant bx_ipckit =
    IPK_VARIANT("ipckit", &im_ipckit, ipk_send, NULL, NULL, ipk_recv_timed);
const struct bx_variant bx_ipckit_zc =
    IPK_VARIANT("zerocopy", &im_zc, ipk_send_zc, ipk_recv_view, ipk_release, NULL);
const struct bx_variant bx_ipckit_claimed =
    IPK_VARIANT("claimed", &im_claimed, ipk_send, NULL, NULL, NULL);
const struct bx_variant bx_base =
    IPK_VARIANT("base", &im_base, ipk_send, NULL, NULL, ipk_recv_timed);
const struct bx_variant bx_base_zc =
    IPK_VARIANT("base-zerocopy", &im_base_zc, ipk_send_zc, ipk_recv_view, ipk_release, NULL);
const struct bx_variant bx_base_claimed =
    IPK_VARIANT("base-claimed", &im_base_claimed, ipk_send, NULL, NULL, NULL);

const struct bx_variant *
bx_base_twin(const struct bx_variant *v)
{
    if (ipk_base.what == NULL)
        return NULL;
    if (v == &bx_ipckit)
        return &bx_base;
    if (v == &bx_ipckit_zc)
        return &bx_base_zc;
    if (v == &bx_ipckit_claimed)
        return &bx_base_claimed;
    return NULL;
}

const char *
bx_base_twin_name(const char *variant)
{
    static const struct bx_variant *const pairs[][2] = {
        { &bx_ipckit, &bx_base },
        { &bx_ipckit_zc, &bx_base_zc },
        { &bx_ipckit_claimed, &bx_base_claimed },
    };
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++)
        if (strcmp(variant, pairs[k][0]->name) == 0)
            return pairs[k][1]->name;
    return NULL;
}

bool
bx_variant_is_ipckit(const char *variant)
{
    static const struct bx_variant *const all[] = { &bx_ipckit, &bx_ipckit_zc,
                                                    &bx_ipckit_claimed, &bx_base,
                                                    &bx_base_zc, &bx_base_claimed };
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        if (strcmp(variant, all[k]->name) == 0)
            return true;
    return false;
}

/* ---- --base: another build of libipckit, loaded beside this one ----------- */

/* dlsym() into a function pointer (ISO C has no cast between the two). */
#define IPK_SYM(field, sym, required)                                                        \
    do {                                                                                     \
        void *p_ = dlsym(h, sym);                                                            \
        _Static_assert(sizeof api.field == sizeof p_, "function and object pointers differ"); \
        if (p_ == NULL && (required)) {                                                      \
            (void) fprintf(stderr, "ipckit-bench: --base=%s: no %s in it: not a libipckit\n", \
                           path, sym);                                                       \
            (void) dlclose(h);                                                               \
            return -1;                                                                       \
        }                                                                                    \
        memcpy(&api.field, &p_, sizeof p_);                                                  \
    } while (0)

/* The runtime of these sanitizers refuses dlopen(RTLD_DEEPBIND). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define IPK_DEEPBIND_REFUSED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define IPK_DEEPBIND_REFUSED 1
#endif
#endif

int
bx_base_open(const char *path)
{
    struct ipk_api api;
    void *h;
    int n;
#ifdef IPK_DEEPBIND_REFUSED
    (void) fprintf(stderr, "ipckit-bench: --base=%s: this program is built with a sanitizer,"
                           " whose runtime refuses dlopen(RTLD_DEEPBIND); use a build"
                           " without IPCKIT_SANITIZE\n", path);
    return -1;
#endif
    /* A bare file name is a file here, not a library for the loader to look
     * for (which could find this program's own libipckit.so.0). */
    n = snprintf(ipk_base_path, sizeof ipk_base_path, "%s%s", strchr(path, '/') ? "" : "./",
                 path);
    if (n < 0 || (size_t) n >= sizeof ipk_base_path) {
        (void) fprintf(stderr, "ipckit-bench: --base: path too long\n");
        return -1;
    }
    /* Its own symbols first (RTLD_DEEPBIND): its calls into itself must
     * not land in the libipckit this program is linked with, which has the
     * same names and soname. RTLD_LOCAL: nothing else binds to it. */
    h = dlopen(ipk_base_path, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (h == NULL) {
        (void) fprintf(stderr, "ipckit-bench: --base: %s\n", dlerror());
        return -1;
    }
    memset(&api, 0, sizeof api);
    IPK_SYM(open, "ipckit_open", true);
    IPK_SYM(close, "ipckit_close", true);
    IPK_SYM(unlink, "ipckit_unlink", true);
    IPK_SYM(send, "ipckit_send", true);
    IPK_SYM(recv, "ipckit_recv", true);
    IPK_SYM(caps, "ipckit_caps", true);
    IPK_SYM(max_msg_size, "ipckit_max_msg_size", true);
    IPK_SYM(error_detail, "ipckit_error_detail", true);
    IPK_SYM(backend_find, "ipckit_backend_find", true);
    IPK_SYM(version_string, "ipckit_version_string", true);
    IPK_SYM(send_loan, "ipckit_send_loan", false);
    IPK_SYM(send_commit, "ipckit_send_commit", false);
    IPK_SYM(recv_borrow, "ipckit_recv_borrow", false);
    IPK_SYM(recv_release, "ipckit_recv_release", false);
    if (api.send_loan == NULL || api.send_commit == NULL || api.recv_borrow == NULL ||
        api.recv_release == NULL)
        api.send_loan = NULL;   /* all four or no zero copy */
    /* Every libipckit knows options version 1, which holds all the fields
     * this program sets; later versions only append fields. */
    api.opts_version = 1;
    api.what = ipk_base_path;
    if (api.open == ipckit_open)
        (void) fprintf(stderr, "ipckit-bench: --base=%s is the libipckit this program runs"
                               " with: base and ipckit measure the same code\n", path);
    ipk_base = api;
    ipk_base_handle = h;
    return 0;
}

void
bx_base_close(void)
{
    if (ipk_base_handle != NULL)
        (void) dlclose(ipk_base_handle);
    ipk_base_handle = NULL;
    memset(&ipk_base, 0, sizeof ipk_base);
}

const char *
bx_base_path(void)
{
    return ipk_base.what;
}

const char *
bx_base_version(void)
{
    return ipk_base.what != NULL ? ipk_base.version_string() : NULL;
}
