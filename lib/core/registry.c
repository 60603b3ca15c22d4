/*
 * ipckit: the backend registry. Built-ins live in a const table (no
 * registration call, no allocation); backends registered at run time are
 * kept in a list guarded by a mutex. Lookups happen at open and unlink only.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>
#include <bsd/sys/queue.h>

#include "internal.h"

static const ipckit_backend *const builtin[] = {
    &ipckit__fifo_backend,
    &ipckit__sysv_mq_backend,
    &ipckit__posix_mq_backend,
    &ipckit__signal_backend,
    &ipckit__shm_backend,
};

struct user_backend {
    const ipckit_backend *be;
    STAILQ_ENTRY(user_backend) link;
};

static STAILQ_HEAD(, user_backend) user_list = STAILQ_HEAD_INITIALIZER(user_list);
static pthread_mutex_t user_lock = PTHREAD_MUTEX_INITIALIZER;

static const ipckit_backend *
find_locked(const char *scheme)
{
    struct user_backend *u;
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        if (strcmp(builtin[i]->scheme, scheme) == 0)
            return builtin[i];
    STAILQ_FOREACH(u, &user_list, link)
    if (strcmp(u->be->scheme, scheme) == 0)
        return u->be;
    return NULL;
}

const ipckit_backend *
ipckit__backend_lookup(const char *scheme)
{
    const ipckit_backend *be;
    (void) pthread_mutex_lock(&user_lock);
    be = find_locked(scheme);
    (void) pthread_mutex_unlock(&user_lock);
    return be;
}

const ipckit_backend *
ipckit_backend_find(const char *scheme)
{
    const ipckit_backend *be;
    char why[IPCKIT__DETAIL_MAX];
    if (scheme == NULL)
        return NULL;
    be = ipckit__backend_lookup(scheme);
    /* a plug-in beside the library may have it (plugin.c) */
    if (be == NULL) {
        (void) ipckit__plugin_load(scheme, why, sizeof why);
        be = ipckit__backend_lookup(scheme); /* also when another thread loaded it */
    }
    return be;
}

void
ipckit__backend_list(char *buf, size_t cap)
{
    struct user_backend *u;
    buf[0] = '\0';
    (void) pthread_mutex_lock(&user_lock);
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++) {
        if (buf[0] != '\0')
            (void) strlcat(buf, ", ", cap);
        (void) strlcat(buf, builtin[i]->scheme, cap);
    }
    STAILQ_FOREACH(u, &user_list, link)
    {
        (void) strlcat(buf, ", ", cap);
        (void) strlcat(buf, u->be->scheme, cap);
    }
    (void) pthread_mutex_unlock(&user_lock);
}

static int
scheme_valid(const char *s)
{
    size_t i;
    if (s == NULL || !(s[0] >= 'a' && s[0] <= 'z'))
        return 0;
    for (i = 1; s[i] != '\0'; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
              c == '.'))
            return 0;
        if (i >= IPCKIT__SCHEME_MAX - 1)
            return 0;
    }
    return 1;
}

bool
ipckit__backend_zerocopy(const ipckit_backend *be)
{
    return be->abi_version >= 2 && be->loan != NULL && be->commit != NULL &&
           be->borrow != NULL && be->release != NULL;
}

int
ipckit_backend_register(const ipckit_backend *be)
{
    const ipckit_backend *old;
    struct user_backend *u;

    if (be == NULL) {
        ipckit__detail_set("backend_register: NULL table");
        return -EINVAL;
    }
    if (be->abi_version == 0 || be->abi_version > IPCKIT_BACKEND_ABI) {
        ipckit__detail_set("backend_register: abi_version %u not supported (this library: 1..%u)",
                           be->abi_version, IPCKIT_BACKEND_ABI);
        return -EINVAL;
    }
    if (!scheme_valid(be->scheme)) {
        ipckit__detail_set("backend_register: scheme must match [a-z][a-z0-9+.-]* and be at"
                           " most %d characters",
                           IPCKIT__SCHEME_MAX - 1);
        return -EINVAL;
    }
    if (be->open == NULL || be->close == NULL || be->send == NULL || be->recv == NULL) {
        ipckit__detail_set("backend_register: scheme %s lacks a required operation"
                           " (open, close, send and recv are required)",
                           be->scheme);
        return -EINVAL;
    }
    if (be->abi_version >= 2) {
        int n = (be->loan != NULL) + (be->commit != NULL) + (be->borrow != NULL) +
                (be->release != NULL);
        if (n != 0 && n != 4) {
            ipckit__detail_set("backend_register: scheme %s has only some of loan, commit,"
                               " borrow and release (all four or none)",
                               be->scheme);
            return -EINVAL;
        }
    }
    (void) pthread_mutex_lock(&user_lock);
    old = find_locked(be->scheme);
    if (old != NULL) {
        (void) pthread_mutex_unlock(&user_lock);
        if (old == be)
            return 0;
        ipckit__detail_set("backend_register: scheme %s is already registered", be->scheme);
        return -EEXIST;
    }
    u = calloc(1, sizeof *u);
    if (u == NULL) {
        (void) pthread_mutex_unlock(&user_lock);
        return -ENOMEM;
    }
    u->be = be;
    STAILQ_INSERT_TAIL(&user_list, u, link);
    (void) pthread_mutex_unlock(&user_lock);
    return 0;
}

int
ipckit_backend_foreach(int (*fn)(const ipckit_backend *be, void *arg), void *arg)
{
    struct user_backend *u;
    const ipckit_backend *snapshot[64];
    size_t n = 0;
    int rc;

    if (fn == NULL)
        return -EINVAL;
    /* Call back without the lock held, so fn may use the registry. */
    (void) pthread_mutex_lock(&user_lock);
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0] && n < 64; i++)
        snapshot[n++] = builtin[i];
    STAILQ_FOREACH(u, &user_list, link)
    if (n < 64)
        snapshot[n++] = u->be;
    (void) pthread_mutex_unlock(&user_lock);
    for (size_t i = 0; i < n; i++) {
        rc = fn(snapshot[i], arg);
        if (rc != 0)
            return rc;
    }
    return 0;
}
