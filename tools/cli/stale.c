/*
 * ipckit(1): "ipckit rm --stale [-n] [-v] [--discard] [KEY|NAME...]", a
 * printer over ipckit_remove_stale(), which has the rules
 * (docs/reliability.md, "Stale objects"). Each argument is judged by a call
 * of its own, so that what the library reports is known to be about it.
 *
 * What is said: every removal that drops something (and with --verbose or
 * --dry-run every removal), every stale object kept because it holds
 * something, with how to remove it anyway; with --verbose what was kept
 * and why. An argument that names nothing, or an object that is not
 * removed, is an error (exit 1); a kept object in a sweep is not.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ipckit/ipckit.h>
#include <ipckit/backend.h>

#include "cli.h"

enum want_kind { WANT_KEY, WANT_SHM, WANT_POSIXMQ, WANT_FIFO, WANT_NAME };

/* An argument, and what became of it. */
struct wanted {
    const char *arg;
    enum want_kind kind;
    const char *leaf;   /* WANT_SHM: the object's name in /dev/shm */
    char target[PATH_MAX + 16]; /* WANT_POSIXMQ: "/NAME"; WANT_FIFO: its absolute path */
    long long key;      /* WANT_KEY */
    char name[64];      /* WANT_KEY: the key as ipckit_remove_stale() takes it */
    bool seen;          /* an object, or an orphan record, answers to it */
    char why[PATH_MAX + 512]; /* why it was not removed, or "" */
};

struct sweep {
    bool dry, verbose;
    struct wanted *w; /* the argument judged, or NULL in a sweep */
};

/* ---- what the lines say ------------------------------------------------------------- */

/* The target of @p o's name ("/NAME", a path), or its place. */
static const char *
target_of(const ipckit_object *o)
{
    const char *colon = strchr(o->name, ':');
    return colon != NULL ? colon + 1 : o->where;
}

/* The object as a removal, and a kept one with --verbose, name it. */
static void
label(const ipckit_object *o, char *buf, size_t cap)
{
    if (strcmp(o->kind, "segment") == 0)
        (void) snprintf(buf, cap, "shm 0x%08llx id %lld", o->key, o->id);
    else if (strcmp(o->kind, "queue") == 0)
        (void) snprintf(buf, cap, "queue 0x%08llx id %lld", o->key, o->id);
    else if (strcmp(o->kind, "posix queue") == 0)
        (void) snprintf(buf, cap, "posixmq %s", cli_esc(target_of(o)));
    else if (strcmp(o->kind, "fifo") == 0)
        (void) snprintf(buf, cap, "fifo %s", cli_esc(o->where));
    else if (strcmp(o->kind, "creator record") == 0)
        (void) snprintf(buf, cap, "record %s", cli_esc(o->where));
    else
        (void) snprintf(buf, cap, "%s %s", o->kind, cli_esc(o->where[0] ? o->where : o->name));
}

/* The object as "kept ...: ...; name it or use --discard" names it. */
static void
label_kept(const ipckit_object *o, char *buf, size_t cap)
{
    if (strcmp(o->kind, "queue") == 0)
        (void) snprintf(buf, cap, "queue mq:0x%08llx (id %lld)", o->key, o->id);
    else if (strcmp(o->kind, "posix queue") == 0)
        (void) snprintf(buf, cap, "POSIX queue posixmq:%s", cli_esc(target_of(o)));
    else if (strcmp(o->kind, "ring") == 0 || strcmp(o->kind, "region") == 0)
        (void) snprintf(buf, cap, "%s shm:/%s", o->kind, cli_esc(strrchr(o->where, '/') + 1));
    else
        label(o, buf, cap);
}

/* The object as the error about a named argument names it ("" for none). */
static void
label_named(const ipckit_object *o, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (strcmp(o->kind, "segment") == 0)
        (void) snprintf(buf, cap, "segment 0x%08llx", o->key);
    else if (strcmp(o->kind, "ring") != 0 && strcmp(o->kind, "region") != 0 && o->kind[0])
        label(o, buf, cap);
}

static int
said(const ipckit_object *o, int verdict, const char *why, void *arg)
{
    struct sweep *sw = arg;
    struct wanted *w = sw->w;
    char what[PATH_MAX + 64];
    if (w != NULL)
        w->seen = true;
    switch (verdict) {
    case IPCKIT_STALE_REMOVED:
        /* always when it dropped something: a segment's content is not
         * looked at, a record holds nothing */
        if (sw->dry || sw->verbose ||
            (o->holds != 0 && strcmp(o->kind, "segment") != 0 &&
             strcmp(o->kind, "creator record") != 0)) {
            label(o, what, sizeof what);
            (void) printf("%s %s (%s)\n", sw->dry ? "would remove" : "removed", what, why);
        }
        break;
    case IPCKIT_STALE_KEPT:
        label_kept(o, what, sizeof what);
        (void) printf("kept %s: %s; name it or use --discard\n", what, why);
        break;
    default:
        if (w != NULL) {
            label_named(o, what, sizeof what);
            if (what[0] != '\0')
                (void) snprintf(w->why, sizeof w->why, "%s: %s", what, why);
            else
                (void) snprintf(w->why, sizeof w->why, "%s", why);
        } else if (sw->verbose) {
            label(o, what, sizeof what);
            (void) printf("kept %s: %s\n", what, why);
        }
        break;
    }
    return 0;
}

/* ---- the arguments ------------------------------------------------------------------ */

static int
parse_key_arg(const char *arg, long long *key)
{
    long v;
    ipckit_name *n = NULL;
    key_t k;
    int rc;
    if (strchr(arg, ':') == NULL) {
        if (!cli_parse_long(arg, INT32_MIN, UINT32_MAX, &v) || v == 0) {
            cli_err("%s: not a System V key (a non-zero number such as 0x1234) or a name", arg);
            return CLI_USAGE;
        }
        *key = (long long) (uint32_t) v;
        return CLI_OK;
    }
    rc = ipckit_name_parse(arg, &n);
    if (rc == 0)
        rc = ipckit_name_sysv_key(n, &k);
    ipckit_name_free(n);
    if (rc < 0) {
        cli_err("%s: %s", arg, *ipckit_error_detail() ? cli_detail(ipckit_error_detail(), arg)
                                                       : ipckit_strerror(rc));
        return rc == -ENOENT ? CLI_FAIL : CLI_USAGE;
    }
    *key = (long long) (uint32_t) k;
    return CLI_OK;
}

/* Read argument @p arg into @p w. */
static int
parse_want(const char *arg, struct wanted *w)
{
    ipckit_name *n = NULL;
    const char *scheme, *t;
    int rc = CLI_OK;
    w->arg = arg;
    if (strncmp(arg, "shm:", 4) == 0) {
        w->kind = WANT_SHM;
        w->leaf = arg + 4;
        while (*w->leaf == '/')
            w->leaf++;
        return CLI_OK;
    }
    if (strchr(arg, ':') == NULL || ipckit_name_parse(arg, &n) < 0) {
        ipckit_name_free(n);
        w->kind = WANT_KEY;
        rc = parse_key_arg(arg, &w->key);
        (void) snprintf(w->name, sizeof w->name, "0x%llx", w->key);
        return rc;
    }
    scheme = ipckit_name_scheme(n);
    t = ipckit_name_target(n);
    if (strcmp(scheme, "posixmq") == 0) {
        w->kind = WANT_POSIXMQ;
        if (t[0] != '/' || t[1] == '\0' || strchr(t + 1, '/') != NULL) {
            cli_err("%s: a POSIX queue name is one '/' and a name without '/'", arg);
            rc = CLI_USAGE;
        }
        (void) snprintf(w->target, sizeof w->target, "%s", t);
    } else if (strcmp(scheme, "fifo") == 0) {
        char cwd[PATH_MAX];
        w->kind = WANT_FIFO;
        if (t[0] == '/')
            (void) snprintf(w->target, sizeof w->target, "%s", t);
        else if (getcwd(cwd, sizeof cwd) != NULL)
            (void) snprintf(w->target, sizeof w->target, "%s%s%s", cwd,
                            strcmp(cwd, "/") == 0 ? "" : "/", t);
    } else if (strcmp(scheme, "mq") == 0 || ipckit_backend_find(scheme) == NULL ||
               ipckit_backend_find(scheme)->abi_version < 4 ||
               ipckit_backend_find(scheme)->describe == NULL) {
        /* a name for a System V key: its segment and its queue */
        ipckit_name_free(n);
        w->kind = WANT_KEY;
        rc = parse_key_arg(arg, &w->key);
        (void) snprintf(w->name, sizeof w->name, "0x%llx", w->key);
        return rc;
    } else {
        w->kind = WANT_NAME;
    }
    ipckit_name_free(n);
    return rc;
}

/* Say what became of argument @p w: the exit code. */
static int
want_end(const struct wanted *w)
{
    if (!w->seen) {
        if (w->kind == WANT_SHM)
            cli_err("%s: no ipckit ring or region named \"%s\" in /dev/shm", w->arg, w->leaf);
        else if (w->kind == WANT_POSIXMQ)
            cli_err("%s: no POSIX message queue \"%s\", and no creator record of one", w->arg,
                    w->target);
        else if (w->kind == WANT_FIFO)
            cli_err("%s: no FIFO at %s, and no creator record of one", w->arg, w->target);
        else if (w->kind == WANT_KEY)
            cli_err("%s: no System V shared memory segment or message queue has key 0x%08llx",
                    w->arg, w->key);
        else
            cli_err("%s: no such object", w->arg);
        return CLI_FAIL;
    }
    if (w->why[0] != '\0') {
        cli_err("%s: not removed: %s", w->arg, w->why);
        return CLI_FAIL;
    }
    return CLI_OK;
}

/* Count the semaphore sets, for --verbose. */
static int
count_sems(const ipckit_object *o, void *arg)
{
    if (strcmp(o->kind, "semaphores") == 0)
        ++*(size_t *) arg;
    return 0;
}

int
cli_rm_stale(int argc, char **argv)
{
    static const struct option longopts[] = { { "stale", no_argument, NULL, 'S' },
                                              { "dry-run", no_argument, NULL, 'n' },
                                              { "verbose", no_argument, NULL, 'v' },
                                              { "discard", no_argument, NULL, 'D' },
                                              { NULL, 0, NULL, 0 } };
    ipckit_list_opts lo = IPCKIT_LIST_OPTS_INIT;
    struct sweep sw = { false, false, NULL };
    struct wanted *want = NULL;
    size_t nwant = 0;
    int opt, rc = CLI_OK;

    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":nv", longopts, NULL)) != -1) {
        if (opt == 'n')
            lo.flags |= IPCKIT_STALE_DRY_RUN;
        else if (opt == 'v')
            sw.verbose = true;
        else if (opt == 'D')
            lo.flags |= IPCKIT_STALE_DISCARD;
        else if (opt != 'S') {
            cli_err("unknown option \"%s\" for rm --stale; see \"ipckit rm --help\"",
                    argv[optind - 1]);
            return CLI_USAGE;
        }
    }
    sw.dry = (lo.flags & IPCKIT_STALE_DRY_RUN) != 0;
    if (optind < argc) {
        want = calloc((size_t) (argc - optind), sizeof *want);
        if (want == NULL) {
            cli_err("out of memory");
            return CLI_FAIL;
        }
        for (int i = optind; i < argc; i++) {
            int r = parse_want(argv[i], &want[nwant++]);
            if (r != CLI_OK) {
                free(want);
                return r;
            }
        }
    }
    if (nwant == 0) {
        int r = ipckit_remove_stale(&lo, said, &sw);
        if (r < 0) {
            cli_err("%s", *ipckit_error_detail() ? ipckit_error_detail() : strerror(-r));
            rc = CLI_FAIL;
        }
    }
    for (size_t j = 0; j < nwant; j++) {
        const char *names[2] = { want[j].kind == WANT_KEY ? want[j].name : want[j].arg, NULL };
        int r;
        lo.names = names;
        sw.w = &want[j];
        r = ipckit_remove_stale(&lo, said, &sw);
        if (r < 0) {
            cli_err("%s: %s", want[j].arg,
                    *ipckit_error_detail() ? cli_detail(ipckit_error_detail(), want[j].arg)
                                           : strerror(-r));
            rc = CLI_FAIL;
        } else if (want_end(&want[j]) != CLI_OK) {
            rc = CLI_FAIL;
        }
    }
    if (sw.verbose) {
        ipckit_list_opts sems = IPCKIT_LIST_OPTS_INIT;
        static const char *const none[] = { "", NULL };
        size_t nsem = 0;
        sems.schemes = none;
        (void) ipckit_object_list(&sems, count_sems, &nsem);
        (void) printf("skipped %zu semaphore set%s, POSIX semaphores and POSIX shared memory"
                      " that is not an ipckit ring or region: nothing records their creator;"
                      " POSIX message queues and FIFOs are looked at only through their"
                      " creator records\n",
                      nsem, nsem == 1 ? "" : "s");
    }
    free(want);
    return rc;
}
