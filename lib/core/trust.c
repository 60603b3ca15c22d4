/*
 * ipckit: who is trusted. An object that already exists is attached only
 * when every user who could have written it is trusted: its owner (and, for
 * System V, its creator) is the caller's effective uid, root or a user the
 * caller named, and it is writable by its group or by everyone only when the
 * caller asked for that mode or named the group. docs/security.md is the
 * contract; this file enforces it.
 *
 * The caller names whom it trusts in ipckit_opts (version 2: trust_uids,
 * trust_gids, IPCKIT_OPT_TRUST_ANY) and in a name's "trust" parameter
 * ("trust=www-data,1000,group:www-data,*"); the core merges both into the
 * options every backend gets.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "internal.h"

/* Name or number of a user, for a detail. */
static void
user_label(uid_t uid, char *buf, size_t cap)
{
    struct passwd pw, *res = NULL;
    char tmp[1024];
    if (getpwuid_r(uid, &pw, tmp, sizeof tmp, &res) == 0 && res != NULL)
        (void) snprintf(buf, cap, "uid %lu (%s)", (unsigned long) uid, res->pw_name);
    else
        (void) snprintf(buf, cap, "uid %lu", (unsigned long) uid);
}

static void
group_label(gid_t gid, char *buf, size_t cap)
{
    struct group gr, *res = NULL;
    char tmp[1024];
    if (getgrgid_r(gid, &gr, tmp, sizeof tmp, &res) == 0 && res != NULL)
        (void) snprintf(buf, cap, "gid %lu (%s)", (unsigned long) gid, res->gr_name);
    else
        (void) snprintf(buf, cap, "gid %lu", (unsigned long) gid);
}

/* A number in [0, UINT32_MAX - 1], or -1. (uid_t)-1 means "no user". */
static long long
id_number(const char *s)
{
    char *end;
    unsigned long long v;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v >= UINT32_MAX)
        return -1;
    return (long long) v;
}

static int
resolve_user(const char *name, const char *s, uid_t *out)
{
    struct passwd pw, *res = NULL;
    char tmp[1024];
    long long v = id_number(s);
    if (v >= 0) {
        *out = (uid_t) v;
        return 0;
    }
    if (getpwnam_r(s, &pw, tmp, sizeof tmp, &res) != 0 || res == NULL) {
        ipckit__detail_set("name \"%s\": trust: no user \"%s\"", name, s);
        return -EINVAL;
    }
    *out = res->pw_uid;
    return 0;
}

static int
resolve_group(const char *name, const char *s, gid_t *out)
{
    struct group gr, *res = NULL;
    char tmp[1024];
    long long v = id_number(s);
    if (v >= 0) {
        *out = (gid_t) v;
        return 0;
    }
    if (getgrnam_r(s, &gr, tmp, sizeof tmp, &res) != 0 || res == NULL) {
        ipckit__detail_set("name \"%s\": trust: no group \"%s\"", name, s);
        return -EINVAL;
    }
    *out = res->gr_gid;
    return 0;
}

int
ipckit__trust_merge(const ipckit_name *n, ipckit_opts *o, struct ipckit__trust *t)
{
    const char *list = ipckit_name_param(n, "trust");
    char buf[IPCKIT__NAME_MAX];
    char *save = NULL, *item;

    memset(t, 0, sizeof *t);
    if (o->trust_uids_len > IPCKIT__TRUST_MAX || o->trust_gids_len > IPCKIT__TRUST_MAX ||
        (o->trust_uids_len > 0 && o->trust_uids == NULL) ||
        (o->trust_gids_len > 0 && o->trust_gids == NULL)) {
        ipckit__detail_set("options: trust lists must be non-NULL and hold at most %d ids",
                           IPCKIT__TRUST_MAX);
        return -EINVAL;
    }
    for (size_t i = 0; i < o->trust_uids_len; i++)
        t->uids[t->nuids++] = o->trust_uids[i];
    for (size_t i = 0; i < o->trust_gids_len; i++)
        t->gids[t->ngids++] = o->trust_gids[i];
    if (list != NULL) {
        if (strlcpy(buf, list, sizeof buf) >= sizeof buf)
            return -ENAMETOOLONG;
        for (item = strtok_r(buf, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
            int rc;
            if (strcmp(item, "*") == 0) {
                o->flags |= IPCKIT_OPT_TRUST_ANY;
                continue;
            }
            if (strncmp(item, "group:", 6) == 0) {
                if (t->ngids == sizeof t->gids / sizeof t->gids[0])
                    goto too_many;
                rc = resolve_group(ipckit_name_text(n), item + 6, &t->gids[t->ngids]);
                if (rc < 0)
                    return rc;
                t->ngids++;
                continue;
            }
            if (t->nuids == sizeof t->uids / sizeof t->uids[0])
                goto too_many;
            rc = resolve_user(ipckit_name_text(n), item, &t->uids[t->nuids]);
            if (rc < 0)
                return rc;
            t->nuids++;
        }
        if (t->nuids == 0 && t->ngids == 0 && !(o->flags & IPCKIT_OPT_TRUST_ANY)) {
            ipckit__detail_set("name \"%s\": trust: empty list (users, group:NAME or *)",
                               ipckit_name_text(n));
            return -EINVAL;
        }
    }
    o->trust_uids = t->uids;
    o->trust_uids_len = t->nuids;
    o->trust_gids = t->gids;
    o->trust_gids_len = t->ngids;
    return 0;
too_many:
    ipckit__detail_set("name \"%s\": trust: more than %d users or groups", ipckit_name_text(n),
                       IPCKIT__TRUST_MAX);
    return -EINVAL;
}

static bool
user_trusted(const ipckit_opts *o, uid_t uid)
{
    if (uid == geteuid() || uid == 0 || (o->flags & IPCKIT_OPT_TRUST_ANY))
        return true;
    for (size_t i = 0; i < o->trust_uids_len; i++)
        if (o->trust_uids[i] == uid)
            return true;
    return false;
}

static bool
group_trusted(const ipckit_opts *o, gid_t gid)
{
    if (o->flags & IPCKIT_OPT_TRUST_ANY)
        return true;
    for (size_t i = 0; i < o->trust_gids_len; i++)
        if (o->trust_gids[i] == gid)
            return true;
    return false;
}

int
ipckit_backend_check_owner(void *state, const ipckit_opts *opts, const char *what, uid_t uid,
                           uid_t cuid, gid_t gid, unsigned mode)
{
    static const char how[] = "; to share it, name whom you trust: ?trust=USER,group:GROUP"
                              " or ipckit_opts trust_uids/trust_gids (docs/security.md)";
    ipckit_opts def = IPCKIT_OPTS_INIT;
    char who[96], grp[96];
    unsigned asked;

    (void) state; /* the detail goes through the thread (ipckit_backend_fail()) */
    if (opts == NULL) {
        def.mode = 0600;
        opts = &def;
    }
    asked = opts->mode;
    if (!user_trusted(opts, uid)) {
        user_label(uid, who, sizeof who);
        return ipckit__fail(-EPERM,
                                    "%s exists, owned by %s with mode %04o: not trusted (only"
                                    " objects of this user and root are)%s",
                                    what, who, mode & 07777u, how);
    }
    if (cuid != uid && !user_trusted(opts, cuid)) {
        user_label(cuid, who, sizeof who);
        return ipckit__fail(-EPERM,
                                    "%s exists, created by %s (mode %04o): not trusted, whoever"
                                    " owns it now%s",
                                    what, who, mode & 07777u, how);
    }
    if ((mode & 0002u) && !(asked & 0002u) && !(opts->flags & IPCKIT_OPT_TRUST_ANY))
        return ipckit__fail(-EPERM,
                                    "%s exists with mode %04o: everyone may write to it, and"
                                    " mode %04o was asked for; open it with that mode"
                                    " (ipckit_opts.mode or ?trust=*) if you mean to share it"
                                    " with every user",
                                    what, mode & 07777u, asked);
    if ((mode & 0020u) && !(asked & 0020u) && !group_trusted(opts, gid)) {
        group_label(gid, grp, sizeof grp);
        return ipckit__fail(-EPERM,
                                    "%s exists with mode %04o: its group %s may write to it,"
                                    " and mode %04o was asked for; trust the group"
                                    " (?trust=group:%lu) or ask for a group-writable mode",
                                    what, mode & 07777u, grp, asked, (unsigned long) gid);
    }
    return 0;
}
