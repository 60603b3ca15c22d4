/*
 * ipckit: options with defaults. Readers of struct ipckit_opts look only at
 * the fields of the version the caller declared, so that the struct can grow.
 */
#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <string.h>

#include "internal.h"

#define IPCKIT__MODE_DEFAULT 0600u
#define IPCKIT__KNOWN_OPT_FLAGS                                                        \
    (IPCKIT_OPT_STREAM | IPCKIT_OPT_TRUNCATE | IPCKIT_OPT_TRUST_ANY | IPCKIT_OPT_INTERRUPTIBLE)

/* Bytes of struct ipckit_opts in each version. */
#define IPCKIT__OPTS_V1_SIZE offsetof(ipckit_opts, trust_uids)

int
ipckit_opts_init(ipckit_opts *opts, unsigned version)
{
    if (opts == NULL || version == 0 || version > IPCKIT_OPTS_VERSION)
        return -EINVAL;
    ipckit_opts def = IPCKIT_OPTS_INIT;
    def.version = version;
    /* Write only the fields of that version: a program built against
     * version 1 passes a struct that ends where version 2's fields begin. */
    memcpy(opts, &def, version == 1 ? IPCKIT__OPTS_V1_SIZE : sizeof def);
    return 0;
}

int
ipckit__opts_resolve(const ipckit_opts *in, ipckit_opts *out)
{
    ipckit_opts def = IPCKIT_OPTS_INIT;
    *out = def;
    if (in == NULL) {
        out->mode = IPCKIT__MODE_DEFAULT;
        return 0;
    }
    if (in->version == 0 || in->version > IPCKIT_OPTS_VERSION) {
        ipckit__detail_set("options: version %u is not known to this library (it knows 1..%u);"
                           " initialise with IPCKIT_OPTS_INIT",
                           in->version, IPCKIT_OPTS_VERSION);
        return -EINVAL;
    }
    /* Copy only the fields of the caller's version: a program built against
     * version 1 passes a shorter struct. */
    if (in->version == 1)
        memcpy(out, in, IPCKIT__OPTS_V1_SIZE);
    else
        *out = *in;
    out->version = IPCKIT_OPTS_VERSION;
    if (out->mode == 0)
        out->mode = IPCKIT__MODE_DEFAULT;
    if (out->mode & ~0777u) {
        ipckit__detail_set("options: mode %#o has bits outside 0777", out->mode);
        return -EINVAL;
    }
    if (out->flags & ~(unsigned) IPCKIT__KNOWN_OPT_FLAGS) {
        ipckit__detail_set("options: unknown flag bits %#x",
                           out->flags & ~(unsigned) IPCKIT__KNOWN_OPT_FLAGS);
        return -EINVAL;
    }
    if (out->open_timeout_ms < -1) {
        ipckit__detail_set("options: open_timeout_ms %d is below -1", out->open_timeout_ms);
        return -EINVAL;
    }
    if (out->signo < 0 || out->signo > SIGRTMAX) {
        ipckit__detail_set("options: signo %d is not a signal number", out->signo);
        return -EINVAL;
    }
    return 0;
}
