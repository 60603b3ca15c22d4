/*
 * ipckit: backends in plug-in libraries, loaded on the first name of their
 * scheme. A backend that needs a library of its own (nats: needs libnats)
 * lives in libipckit-SCHEME.so.MAJOR, installed beside libipckit.so.MAJOR;
 * libipckit itself does not depend on it. When a name's scheme has no
 * backend, the core looks for that file in the directory libipckit was
 * loaded from (nowhere else: no search path, no environment variable),
 * loads it and calls its ipckit_SCHEME_register(), which registers the
 * backend with ipckit_backend_register(). A program linked against the
 * plug-in may call that function itself; registering twice is a no-op.
 *
 * The file must be owned by root or by the process's effective user and
 * not be writable by its group or others, like the directory it is in.
 * Only schemes of [a-z][a-z0-9]*, at most 15 characters, are looked for,
 * each at most once per process. A static libipckit loads nothing: link
 * the plug-in's static library and call its register function.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bsd/string.h>

#include "internal.h"

#define PLUGIN_SCHEME_MAX 15
#define PLUGIN_TRIED_MAX 8

static pthread_mutex_t plugin_lock = PTHREAD_MUTEX_INITIALIZER;
static char tried[PLUGIN_TRIED_MAX][PLUGIN_SCHEME_MAX + 1];
static size_t ntried;

static bool
plugin_scheme_ok(const char *scheme)
{
    size_t i;
    if (!(scheme[0] >= 'a' && scheme[0] <= 'z'))
        return false;
    for (i = 1; scheme[i] != '\0'; i++)
        if (i >= PLUGIN_SCHEME_MAX ||
            !((scheme[i] >= 'a' && scheme[i] <= 'z') || (scheme[i] >= '0' && scheme[i] <= '9')))
            return false;
    return true;
}

/* Owned by root or us, not writable by group or others. */
static bool
plugin_trusted(const struct stat *st)
{
    return (st->st_uid == 0 || st->st_uid == geteuid()) && (st->st_mode & 022) == 0;
}

#ifdef IPCKIT__PLUGINS
/* The directory of the file this code was loaded from: libipckit.so. */
static int
plugin_dir(char *dir, size_t cap)
{
    Dl_info info;
    char *slash;
    if (dladdr(&plugin_lock, &info) == 0 || info.dli_fname == NULL ||
        strchr(info.dli_fname, '/') == NULL)
        return -ENOENT;
    if (strlcpy(dir, info.dli_fname, cap) >= cap)
        return -ENAMETOOLONG;
    slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    return 0;
}

/* Load the plug-in of @p scheme, with plugin_lock held. */
static int
plugin_load_locked(const char *scheme, char *why, size_t whycap)
{
    char dir[PATH_MAX], path[PATH_MAX], sym[PLUGIN_SCHEME_MAX + 32];
    struct stat st;
    void *handle;
    int (*reg)(void);
    int rc;

    rc = plugin_dir(dir, sizeof dir);
    if (rc < 0)
        return rc;
    if ((size_t) snprintf(path, sizeof path, "%s/libipckit-%s.so.%d", dir, scheme,
                          IPCKIT_VERSION_MAJOR) >= sizeof path)
        return -ENAMETOOLONG;
    if (stat(path, &st) < 0)
        return -ENOENT; /* no plug-in for that scheme: the usual case */
    if (!S_ISREG(st.st_mode) || !plugin_trusted(&st)) {
        (void) snprintf(why, whycap,
                        "plug-in %s not loaded: not a regular file owned by root or uid %u"
                        " and writable by its owner only",
                        path, (unsigned) geteuid());
        return -EPERM;
    }
    {
        struct stat dst;
        if (stat(dir, &dst) < 0 || !plugin_trusted(&dst)) {
            (void) snprintf(why, whycap,
                            "plug-in %s not loaded: its directory is writable by others"
                            " or not owned by root or uid %u",
                            path, (unsigned) geteuid());
            return -EPERM;
        }
    }
    handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        const char *e = dlerror();
        (void) snprintf(why, whycap, "plug-in %s not loaded: %s", path, e ? e : "dlopen failed");
        return -ELIBBAD;
    }
    (void) snprintf(sym, sizeof sym, "ipckit_%s_register", scheme);
    *(void **) (&reg) = dlsym(handle, sym);
    if (reg == NULL) {
        (void) snprintf(why, whycap, "plug-in %s has no %s()", path, sym);
        (void) dlclose(handle);
        return -ELIBBAD;
    }
    rc = reg();
    if (rc < 0) {
        (void) snprintf(why, whycap, "plug-in %s: %s() failed: %s", path, sym,
                        ipckit_strerror(rc));
        return rc; /* stays loaded: a table may be registered */
    }
    return 0;
}
#endif

int
ipckit__plugin_load(const char *scheme, char *why, size_t whycap)
{
#ifdef IPCKIT__PLUGINS
    int rc;

    why[0] = '\0';
    if (!plugin_scheme_ok(scheme))
        return -ENOENT;
    /* Held until the plug-in has registered, so that another thread that
     * asks for the same scheme meanwhile finds it registered afterwards. */
    (void) pthread_mutex_lock(&plugin_lock);
    for (size_t i = 0; i < ntried; i++)
        if (strcmp(tried[i], scheme) == 0) {
            (void) pthread_mutex_unlock(&plugin_lock);
            return -ENOENT;
        }
    if (ntried < PLUGIN_TRIED_MAX)
        (void) strlcpy(tried[ntried++], scheme, sizeof tried[0]);
    rc = plugin_load_locked(scheme, why, whycap);
    (void) pthread_mutex_unlock(&plugin_lock);
    return rc;
#else
    (void) scheme;
    (void) plugin_scheme_ok;
    (void) plugin_trusted;
    (void) plugin_lock;
    (void) tried;
    (void) ntried;
    if (whycap > 0)
        why[0] = '\0';
    return -ENOENT;
#endif
}
