/*
 * ipckit: ipckit_remove_stale(), the stale rules (docs/reliability.md,
 * "Stale objects"), once for every scheme. An object is removed only when
 * all of these hold:
 *
 *   - ipckit made it: a ring's or region's header, or a trusted creator
 *     record (mq:, posixmq:, fifo:); a System V segment whose key looks
 *     like ipckit's, or that was named;
 *   - it belongs to the caller;
 *   - its creator is gone: its pid is free, or belongs to a process that
 *     started at another time (a segment's creator has no start time);
 *     a creator that cannot be told keeps the object;
 *   - nobody uses it: no process has the file open or mapped (/proc), no
 *     process has the segment attached; a System V queue, which has no
 *     notion of being open, has no live last sender or receiver;
 *   - it holds nothing (no message, no variable, a raw data area all
 *     zero), unless it was named or IPCKIT_STALE_DISCARD is given; what it
 *     holds is read again after the check for users;
 *   - its backend finds it still the object judged, right before it
 *     removes it (remove_stale).
 *
 * The objects of the schemes with creator records are found through their
 * records (a FIFO anywhere, a POSIX queue where /dev/mqueue is not
 * mounted), read before the objects; the others through their listing.
 * Then the orphan records: those whose object is gone or is another object
 * now, removed when they are the caller's (any, for root), after they are
 * read again and found unchanged.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "objects.h"
#include "../backends/mq_wake.h"

#define WHY_UNKNOWN "its creator is unknown (no trusted ipckit creator record)"

/* A creator record, read before any object is looked at. */
struct stale_rec {
    char leaf[NAME_MAX + 1];
    int status;       /* 0: well formed; else why not (negative errno) */
    struct stat sb;   /* the record file */
    struct ipckit__crec r;
    bool live;        /* its object was judged with it */
    bool done;        /* removed */
};

struct stale {
    ipckit_list_opts opts;
    int (*report)(const ipckit_object *o, int verdict, const char *why, void *arg);
    void *arg;
    bool dry, discard;
    int removed;
    int stop;               /* what report returned, when not 0 */
    const ipckit_backend *be[IPCKIT__BACKENDS_MAX];
    struct stale_rec *recs;
    size_t nrecs, cap;
    long long key;          /* a named System V key, for the segments */
    ipckit_object cand;     /* the object being judged */
    ipckit_object now;      /* described again */
    char why[1024];
};

/* ---- saying what was done ----------------------------------------------------------- */

static int
say(struct stale *s, const ipckit_object *o, int verdict, const char *fmt, ...)
    IPCKIT_PRINTF(4, 5);

static int
say(struct stale *s, const ipckit_object *o, int verdict, const char *fmt, ...)
{
    va_list ap;
    if (verdict == IPCKIT_STALE_REMOVED)
        s->removed++;
    if (s->report == NULL)
        return 0;
    va_start(ap, fmt);
    (void) vsnprintf(s->why, sizeof s->why, fmt, ap);
    va_end(ap);
    s->stop = s->report(o, verdict, s->why, s->arg);
    return s->stop;
}

/* What @p o holds, in words: as it is now, or (@p dropped) as a removal
 * dropped it. */
static void
held_text(const ipckit_object *o, bool dropped, char *buf, size_t cap)
{
    bool region = strcmp(o->kind, "region") == 0;
    const char *one = region ? "variable" : "message", *many = region ? "variables" : "messages";
    const char *verb = region ? "set" : "queued";
    char counts[160];
    if (o->holds == 0) {
        (void) snprintf(buf, cap, "empty");
        return;
    }
    if (o->holds < 0) {
        (void) snprintf(buf, cap, "%s: %s",
                        dropped ? "dropped what it held, unknown" : "cannot tell what it holds",
                        o->note[0] ? o->note : "it cannot be read");
        return;
    }
    if (o->messages >= 0 && o->bytes >= 0)
        (void) snprintf(counts, sizeof counts, "%lld %s, %lld byte%s", o->messages,
                        o->messages == 1 ? one : many, o->bytes, o->bytes == 1 ? "" : "s");
    else if (o->messages >= 0)
        (void) snprintf(counts, sizeof counts, "%lld %s", o->messages,
                        o->messages == 1 ? one : many);
    else {
        /* a region's raw data area */
        (void) snprintf(counts, sizeof counts, "%lld bytes of data, not all zero", o->capacity);
        verb = NULL;
    }
    if (dropped)
        (void) snprintf(buf, cap, "dropped %s", counts);
    else if (verb != NULL)
        (void) snprintf(buf, cap, "%s %s", counts, verb);
    else
        (void) snprintf(buf, cap, "%s", counts);
}

/* ---- names ---------------------------------------------------------------------------- */

/* "scheme:target" with the bytes of @p target that a name cannot hold as
 * they are ('%', '?', controls, bytes outside ASCII) %-escaped. */
static bool
name_of(const char *scheme, const char *target, char *buf, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    int n = snprintf(buf, cap, "%s:", scheme);
    size_t o;
    if (n < 0 || (size_t) n >= cap)
        return false;
    o = (size_t) n;
    for (const unsigned char *p = (const unsigned char *) target; *p; p++) {
        if (o + 4 >= cap)
            return false;
        if (*p == '%' || *p == '?' || *p <= 0x20 || *p >= 0x7f) {
            buf[o++] = '%';
            buf[o++] = hex[*p >> 4];
            buf[o++] = hex[*p & 15];
        } else {
            buf[o++] = (char) *p;
        }
    }
    buf[o] = '\0';
    return true;
}

/* Describe the object named @p text (an escaped name) with @p be into @p o. */
static int
describe_text(const ipckit_backend *be, const char *text, ipckit_object *o)
{
    ipckit_name *n = NULL;
    int rc = ipckit_name_parse(text, &n);
    if (rc == 0) {
        ipckit__object_blank(o);
        o->scheme = be->scheme;
        rc = be->describe(n, o);
        if (rc == 0 && o->kind == NULL)
            o->kind = "";
    }
    ipckit_name_free(n);
    return rc;
}

static const ipckit_backend *
backend_of(struct stale *s, const char *scheme)
{
    for (size_t i = 0; s->be[i] != NULL; i++)
        if (strcmp(s->be[i]->scheme, scheme) == 0 && s->be[i]->abi_version >= 4 &&
            s->be[i]->describe != NULL && s->be[i]->remove_stale != NULL)
            return s->be[i];
    return NULL;
}

/* ---- the rules -------------------------------------------------------------------------- */

static bool
pid_maybe_alive(long long pid)
{
    /* a reused pid counts as alive: it errs on the side of keeping */
    return pid > 0 && pid <= INT_MAX && (kill((pid_t) pid, 0) == 0 || errno != ESRCH);
}

static bool
same_object(const ipckit_object *a, const ipckit_object *b)
{
    return strcmp(a->kind, b->kind) == 0 && a->dev == b->dev && a->ino == b->ino &&
           a->id == b->id && a->key == b->key &&
           memcmp(a->identity, b->identity, sizeof a->identity) == 0;
}

/* Why the creator of @p o keeps it, or NULL when it is gone. */
static const char *
creator_keeps(const ipckit_object *o, bool with_pid, char *buf, size_t cap)
{
    if (o->creator == IPCKIT_CREATOR_GONE)
        return NULL;
    if (o->creator != IPCKIT_CREATOR_ALIVE)
        return strcmp(o->kind, "segment") == 0 ? "its creator pid is unknown"
                                                : "its creator is unknown";
    if (!with_pid)
        return "its creator is alive";
    (void) snprintf(buf, cap, "its creator (pid %lld) is alive", o->creator_pid);
    return buf;
}

/* Why a user keeps @p o, or NULL; @p because gets the rule it passed. */
static const char *
users_keep(const ipckit_object *o, char *buf, size_t cap, char *because, size_t bcap)
{
    bool maps = strncmp(o->where, "/dev/shm/", 9) == 0;
    long long n = o->users;
    if (n < 0 && o->where[0] == '/' && o->ino != 0)
        n = ipckit__proc_users(o->where, o->dev, o->ino, maps, true);
    else if (n < 0 && (o->last_send_pid >= 0 || o->last_recv_pid >= 0)) {
        /* no notion of open: a process that holds the id and has not used
         * it yet cannot be seen, so the last sender and receiver are all
         * the proof of use there is */
        if (pid_maybe_alive(o->last_send_pid)) {
            (void) snprintf(buf, cap, "its last sender (pid %lld) is alive", o->last_send_pid);
            return buf;
        }
        if (pid_maybe_alive(o->last_recv_pid)) {
            (void) snprintf(buf, cap, "its last receiver (pid %lld) is alive",
                            o->last_recv_pid);
            return buf;
        }
        (void) snprintf(because, bcap, "creator pid %lld gone, no live sender or receiver",
                        o->creator_pid);
        return NULL;
    } else if (n < 0) {
        return "cannot tell whether a process uses it";
    }
    /* -1 from /proc: it cannot be read, so assume it is used */
    if (n != 0)
        return maps ? "a process has it open or mapped" : "a process has it open";
    (void) snprintf(because, bcap, "creator pid %lld gone, %s", o->creator_pid,
                    maps ? "not open or mapped" : "not open");
    return NULL;
}

/* Remove @p o with @p be (NULL: a segment), and the record @p leaf that
 * names it. 0, or why not. */
static const char *
remove_now(struct stale *s, const ipckit_backend *be, const ipckit_object *o, bool named,
           const char *leaf)
{
    unsigned flags = named || s->discard ? IPCKIT_STALE_DISCARD : 0;
    int rc;
    ipckit__detail_clear();
    rc = be != NULL ? be->remove_stale(o, flags) : ipckit__sysv_remove_stale(o, flags);
    if (rc < 0)
        return ipckit__detail_fresh() ? ipckit_error_detail() : strerror(-rc);
    if (leaf != NULL && leaf[0] != '\0') {
        char path[sizeof IPCKIT__CREC_DIR + NAME_MAX + 2];
        (void) snprintf(path, sizeof path, "%s/%s", IPCKIT__CREC_DIR, leaf);
        (void) unlink(path);
        for (size_t i = 0; i < s->nrecs; i++)
            if (strcmp(s->recs[i].leaf, leaf) == 0)
                s->recs[i].done = true;
    }
    return NULL;
}

/* A System V segment (@p named: its key was named). */
static int
judge_segment(struct stale *s, const ipckit_object *o, bool named)
{
    char buf[128];
    const char *why = NULL;
    if (!named && !ipckit__sysv_key_ipckit(o->key))
        why = "its key does not look like ipckit's (name its key to consider it)";
    else if (o->uid != (long long) geteuid())
        why = "it belongs to another user";
    else if (o->users != 0) {
        (void) snprintf(buf, sizeof buf, "%lld process%s attached", o->users,
                        o->users == 1 ? " has it" : "es have it");
        why = buf;
    } else
        why = creator_keeps(o, true, buf, sizeof buf);
    if (why == NULL && !s->dry)
        why = remove_now(s, NULL, o, named, NULL);
    if (why != NULL)
        return say(s, o, IPCKIT_STALE_LIVE, "%s", why);
    return say(s, o, IPCKIT_STALE_REMOVED, "%lld bytes; creator pid %lld gone, not attached",
               o->size, o->creator_pid);
}

/*
 * Judge s->cand of @p be. @p named: it was named; @p listed: it comes from a
 * listing, and is described again before what it holds is judged; @p leaf:
 * its trusted creator record, or "".
 */
static int
judge(struct stale *s, const ipckit_backend *be, bool named, bool listed, const char *leaf)
{
    ipckit_object *o = &s->cand;
    bool records = ipckit__creator_kind(o->scheme) != 0;
    char buf[256], because[160], held[512];
    const char *why;

    if (!o->by_ipckit) {
        /* another program's, or a record-keeping scheme's without a trusted
         * record: never removed, and said so only when it was named */
        return named && records ? say(s, o, IPCKIT_STALE_LIVE, "%s", WHY_UNKNOWN) : 0;
    }
    if (o->uid != (long long) geteuid())
        why = "it belongs to another user";
    else
        why = creator_keeps(o, records, buf, sizeof buf);
    if (why == NULL)
        why = users_keep(o, buf, sizeof buf, because, sizeof because);
    if (why == NULL && listed) {
        /* what it holds, read again after the check for users (so that
         * this process's descriptor was not taken for one), from the very
         * object judged */
        char text[IPCKIT_OBJECT_TEXT_MAX + 16];
        const char *colon = strchr(o->name, ':');
        int rc = colon != NULL && name_of(o->scheme, colon + 1, text, sizeof text)
                     ? describe_text(be, text, &s->now)
                     : -EINVAL;
        if (rc == -ENOENT)
            why = "it is already gone";
        else if (rc < 0 || !same_object(o, &s->now))
            why = "it was replaced meanwhile";
        else {
            s->now.creator_pid = o->creator_pid;
            s->now.creator_start = o->creator_start;
            s->now.creator = o->creator;
            s->now.by_ipckit = o->by_ipckit;
            *o = s->now;
        }
    }
    if (why != NULL)
        return say(s, o, IPCKIT_STALE_LIVE, "%s", why);
    held_text(o, false, held, sizeof held);
    if (o->holds != 0 && !named && !s->discard)
        return say(s, o, IPCKIT_STALE_KEPT, "%s", held);
    if (!s->dry) {
        why = remove_now(s, be, o, named, leaf);
        if (why != NULL)
            return say(s, o, IPCKIT_STALE_FAILED, "%s", why);
        held_text(o, true, held, sizeof held);
    }
    return say(s, o, IPCKIT_STALE_REMOVED, "%s; %s", because, held);
}

/* ---- creator records ------------------------------------------------------------------- */

static int
records_load(struct stale *s)
{
    DIR *d = opendir(IPCKIT__CREC_DIR);
    struct dirent *de;
    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        struct stale_rec *r;
        if (!ipckit__creator_is_record(de->d_name) || strlen(de->d_name) > NAME_MAX)
            continue;
        if (s->nrecs == s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 16;
            struct stale_rec *nv = realloc(s->recs, cap * sizeof *nv);
            if (nv == NULL) {
                (void) closedir(d);
                return -ENOMEM;
            }
            s->recs = nv;
            s->cap = cap;
        }
        r = &s->recs[s->nrecs++];
        memset(r, 0, sizeof *r);
        (void) snprintf(r->leaf, sizeof r->leaf, "%s", de->d_name);
        r->status = ipckit__crec_load(dirfd(d), de->d_name, &r->r, &r->sb);
    }
    (void) closedir(d);
    return 0;
}

/* The name of the object record @p r describes. */
static bool
record_name(const struct ipckit__crec *r, char *buf, size_t cap)
{
    if (r->kind == IPCKIT__CREC_MQ)
        return snprintf(buf, cap, "mq:0x%lx", r->key) < (int) cap;
    return name_of(ipckit__crec_kind_name(r->kind), r->target, buf, cap);
}

/* Judge the object that well-formed record @p r names, if @p r is its
 * trusted record (else the orphan pass looks at @p r). */
static int
judge_recorded(struct stale *s, const ipckit_backend *be, struct stale_rec *r)
{
    char text[IPCKIT_OBJECT_TEXT_MAX + 16], leaf[IPCKIT__CREC_LEAF_MAX];
    if (!record_name(&r->r, text, sizeof text) || describe_text(be, text, &s->cand) < 0)
        return 0;
    ipckit__creator_fill(&s->cand, leaf, sizeof leaf);
    if (strcmp(leaf, r->leaf) != 0)
        return 0;
    r->live = true;
    return judge(s, be, false, false, leaf);
}

/* Is the object of record @p r gone? 1 (gone, or its identity now names
 * another object), 0 (it is there), -1 (cannot tell). */
static int
record_orphaned(struct stale *s, const struct stale_rec *r)
{
    char text[IPCKIT_OBJECT_TEXT_MAX + 16];
    const ipckit_backend *be = backend_of(s, ipckit__crec_kind_name(r->r.kind));
    struct ipckit__crec now;
    unsigned long owner;
    int rc;
    if (be == NULL || !record_name(&r->r, text, sizeof text))
        return -1;
    rc = describe_text(be, text, &s->now);
    if (rc == -ENOENT || rc == -ENOTDIR || (r->r.kind == IPCKIT__CREC_FIFO &&
                                            (rc == -EINVAL || rc == -ELOOP)))
        return 1;
    if (rc < 0 || !ipckit__creator_identity(&s->now, &now, &owner))
        return -1;
    if (now.kind == IPCKIT__CREC_MQ && now.ctime < 0)
        return now.key == r->r.key && now.id == r->r.id ? 0 : 1; /* ctime unknown */
    return ipckit__crec_same_object(&r->r, &now) ? 0 : 1;
}

/* Does record @p r name what s->opts.names names? All of them, in a sweep. */
static bool
record_wanted(const struct stale_rec *r, const char *name, long long key)
{
    ipckit_name *n = NULL;
    bool match = false;
    if (name == NULL)
        return true;
    if (r->r.kind == IPCKIT__CREC_MQ)
        return key >= 0 && (unsigned long) key == r->r.key;
    if (ipckit_name_parse(name, &n) < 0)
        return false;
    if (strcmp(ipckit_name_scheme(n), ipckit__crec_kind_name(r->r.kind)) == 0) {
        const char *t = ipckit_name_target(n);
        char abs[IPCKIT__CREC_TARGET_MAX];
        if (r->r.kind == IPCKIT__CREC_FIFO && t[0] != '/' && getcwd(abs, sizeof abs) != NULL) {
            size_t len = strlen(abs);
            if (snprintf(abs + len, sizeof abs - len, "%s%s", len > 1 ? "/" : "", t) <
                (int) (sizeof abs - len))
                t = abs;
        }
        match = strcmp(t, r->r.target) == 0;
    }
    ipckit_name_free(n);
    return match;
}

/* @p o: the file @p where, found as @p sb, of kind @p kind, holding nothing. */
static void
file_object(ipckit_object *o, const char *kind, const char *where, const struct stat *sb)
{
    ipckit__object_blank(o);
    o->kind = kind;
    (void) snprintf(o->where, sizeof o->where, "%s", where);
    o->uid = (long long) sb->st_uid;
    o->gid = (long long) sb->st_gid;
    o->mode = (unsigned) sb->st_mode & 07777u;
    o->size = (long long) sb->st_size;
    o->dev = (unsigned long long) sb->st_dev;
    o->ino = (unsigned long long) sb->st_ino;
    o->holds = 0;
}

/* The orphan records (of @p name only, when not NULL; @p key: its System V
 * key, or -1). */
static int
records_sweep(struct stale *s, const char *name, long long key)
{
    static const char *const what[] = { "object", "queue", "POSIX queue", "FIFO" };
    for (size_t i = 0; i < s->nrecs && s->stop == 0; i++) {
        struct stale_rec *r = &s->recs[i];
        ipckit_object *o = &s->cand;
        char path[sizeof IPCKIT__CREC_DIR + NAME_MAX + 2];
        const char *why = NULL;
        int gone;
        if (r->done || r->live)
            continue;
        (void) snprintf(path, sizeof path, "%s/%s", IPCKIT__CREC_DIR, r->leaf);
        file_object(o, "creator record", path, &r->sb);
        if (r->status != 0) {
            /* it cannot be tied to an object: never swept */
            if (name == NULL)
                (void) say(s, o, IPCKIT_STALE_LIVE, "not a valid creator record");
            continue;
        }
        if (!record_wanted(r, name, key))
            continue;
        o->scheme = ipckit__crec_kind_name(r->r.kind);
        if (r->r.kind == IPCKIT__CREC_MQ) {
            (void) snprintf(o->name, sizeof o->name, "mq:0x%lx", r->r.key);
            o->key = (long long) r->r.key;
            o->id = r->r.id;
        } else {
            int n = snprintf(o->name, sizeof o->name, "%s:%s", o->scheme, r->r.target);
            if (n < 0 || (size_t) n >= sizeof o->name)
                o->name[0] = '\0';
        }
        o->creator_pid = r->r.pid;
        o->creator_start = r->r.start;
        o->creator = ipckit__creator_state(o->creator_pid, o->creator_start);
        gone = record_orphaned(s, r);
        if (gone == 0)
            continue; /* its object is there (the record is not trusted for it) */
        if (gone < 0)
            why = "cannot tell whether its object still exists";
        else if (r->sb.st_uid != geteuid() && geteuid() != 0)
            why = "it belongs to another user";
        if (why == NULL && !s->dry) {
            /* only the very record judged: same file, same content */
            struct ipckit__crec again;
            struct stat sb;
            if (ipckit__crec_load(AT_FDCWD, path, &again, &sb) != 0 ||
                sb.st_ino != r->sb.st_ino || memcmp(&again, &r->r, sizeof again) != 0)
                why = "it changed meanwhile";
            else if (unlink(path) < 0)
                why = strerror(errno);
        }
        if (why != NULL) {
            (void) say(s, o, IPCKIT_STALE_LIVE, "%s", why);
            continue;
        }
        r->done = true;
        (void) say(s, o, IPCKIT_STALE_REMOVED, "its %s is gone",
                   what[r->r.kind >= 1 && r->r.kind <= 3 ? r->r.kind : 0]);
    }
    return s->stop;
}

/* ---- the wake-up companions of mq: queues ----------------------------------------------- */

/* An orphan companion: its queue was removed by a program that is not
 * ipckit, so nothing else removes it (lib/backends/mq_wake.h). */
static int
companion_judge(const struct mqw_orphan *c, void *p)
{
    struct stale *s = p;
    ipckit_object *o = &s->cand;
    const char *why = NULL;
    file_object(o, "queue companion", c->path, &c->sb);
    o->scheme = "mq";
    o->by_ipckit = true;
    (void) snprintf(o->name, sizeof o->name, "mq:0x%x", (unsigned) c->key);
    o->key = (long long) (uint32_t) c->key;
    o->id = c->id;
    if (c->sb.st_uid != geteuid() && geteuid() != 0) {
        why = "it belongs to another user";
    } else if (!s->dry) {
        mqw_remove(c->key, c->id);
        if (access(c->path, F_OK) == 0)
            why = "it could not be removed";
    }
    if (why != NULL)
        return say(s, o, IPCKIT_STALE_LIVE, "%s", why);
    return say(s, o, IPCKIT_STALE_REMOVED, "the wake-up companion of queue id %d, which is gone",
               c->id);
}

/* The orphan companions (of System V key @p key only, unless -1). */
static int
companions_sweep(struct stale *s, long long key)
{
    if (backend_of(s, "mq") == NULL)
        return 0;
    return mqw_orphans(key, companion_judge, s);
}

/* ---- the sweep and the names ----------------------------------------------------------- */

/* A listed object of a scheme without records. */
static int
sweep_listed(const ipckit_object *o, void *p)
{
    struct stale *s = p;
    const ipckit_backend *be = backend_of(s, o->scheme);
    if (be == NULL || !o->by_ipckit)
        return 0;
    s->cand = *o;
    return judge(s, be, false, true, "");
}

/* A listed object of no scheme: the segments (all, or s->key's). */
static int
sweep_segment(const ipckit_object *o, void *p)
{
    struct stale *s = p;
    if (strcmp(o->kind, "segment") != 0 || (s->key >= 0 && o->key != s->key))
        return 0;
    s->cand = *o;
    s->cand.creator = ipckit__creator_state(o->creator_pid, 0);
    return judge_segment(s, &s->cand, s->key >= 0);
}

/* The list emit of ipckit_object_list(), without what it adds. */
static int
list_with_creator(const ipckit_object *o, void *p)
{
    struct stale *s = p;
    ipckit_object *c = &s->now;
    if (o != c)
        *c = *o;
    ipckit__creator_fill(c, NULL, 0);
    return sweep_listed(c, s);
}

static int
sweep(struct stale *s)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && s->be[i] != NULL; i++) {
        const ipckit_backend *be = s->be[i];
        int kind = ipckit__creator_kind(be->scheme);
        if (backend_of(s, be->scheme) != be || !ipckit__list_wants(&s->opts, be->scheme))
            continue;
        if (kind != 0) {
            for (size_t j = 0; rc == 0 && j < s->nrecs; j++)
                if (s->recs[j].status == 0 && s->recs[j].r.kind == kind && !s->recs[j].done &&
                    !s->recs[j].live)
                    rc = judge_recorded(s, be, &s->recs[j]);
        } else if (be->list != NULL) {
            rc = be->list(&s->opts, list_with_creator, s);
        }
    }
    if (rc == 0 && ipckit__list_wants(&s->opts, "")) {
        s->key = -1;
        rc = ipckit__sysv_list(&s->opts, sweep_segment, s);
    }
    if (rc == 0)
        rc = records_sweep(s, NULL, -1);
    if (rc == 0 && ipckit__list_wants(&s->opts, "mq"))
        rc = companions_sweep(s, -1);
    return rc;
}

/* A System V key written as a number ("0x1c0ffee", "-5"): true with it in *key. */
static bool
key_text(const char *text, long long *key)
{
    char *end;
    long long v;
    if (strchr(text, ':') != NULL || *text == '\0')
        return false;
    errno = 0;
    v = strtoll(text, &end, 0);
    if (errno != 0 || *end != '\0' || v == 0 || v < INT32_MIN || v > (long long) UINT32_MAX)
        return false;
    *key = (long long) (uint32_t) v;
    return true;
}

/* Check every name before anything is judged. */
static int
names_check(const char *const *names)
{
    for (const char *const *p = names; *p != NULL; p++) {
        ipckit_name *n = NULL;
        long long key;
        int rc;
        if (key_text(*p, &key))
            continue;
        rc = ipckit_name_parse(*p, &n);
        if (rc == 0 && ipckit__backend_lookup(ipckit_name_scheme(n)) == NULL)
            rc = ipckit__fail(-EPROTONOSUPPORT, "remove_stale: \"%s\": unknown scheme \"%s\"",
                              *p, ipckit_name_scheme(n));
        ipckit_name_free(n);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Judge the object behind @p text of @p be, named. */
static int
judge_named(struct stale *s, const ipckit_backend *be, const char *text)
{
    char leaf[IPCKIT__CREC_LEAF_MAX];
    ipckit_name *n = NULL;
    int rc = ipckit_name_parse(text, &n);
    if (rc < 0)
        return 0;
    ipckit__detail_clear();
    rc = ipckit__object_describe(be, n, &s->cand);
    ipckit_name_free(n);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0) {
        /* it cannot be described: said, not an error of the sweep */
        ipckit_object *o = &s->cand;
        char why[IPCKIT__DETAIL_MAX];
        (void) snprintf(why, sizeof why, "%s",
                        ipckit__detail_fresh() ? ipckit_error_detail() : strerror(-rc));
        ipckit__object_blank(o);
        o->scheme = be->scheme;
        (void) snprintf(o->name, sizeof o->name, "%s", text);
        return say(s, o, IPCKIT_STALE_LIVE, "%s", why);
    }
    ipckit__creator_fill(&s->cand, leaf, sizeof leaf);
    for (size_t i = 0; i < s->nrecs; i++)
        if (leaf[0] != '\0' && strcmp(s->recs[i].leaf, leaf) == 0)
            s->recs[i].live = true;
    return judge(s, be, true, false, leaf);
}

static int
one_name(struct stale *s, const char *text)
{
    const ipckit_backend *be;
    ipckit_name *n = NULL;
    long long key = -1;
    int rc = 0;
    bool sysv = key_text(text, &key);
    if (!sysv) {
        if (ipckit_name_parse(text, &n) < 0)
            return 0;
        if (strcmp(ipckit_name_scheme(n), "mq") == 0) {
            key_t k;
            sysv = true;
            if (ipckit_name_sysv_key(n, &k) == 0)
                key = (long long) (uint32_t) k;
        }
        be = backend_of(s, ipckit_name_scheme(n));
        ipckit_name_free(n);
        if (!sysv) {
            /* a scheme without objects has nothing to judge */
            rc = be != NULL ? judge_named(s, be, text) : 0;
            return rc == 0 ? records_sweep(s, text, -1) : rc;
        }
    }
    if (key < 0)
        return 0; /* no key: no such object (a missing ftok path) */
    /* a System V key names the segment and the queue of that key */
    s->key = key;
    rc = ipckit__sysv_list(&s->opts, sweep_segment, s);
    be = backend_of(s, "mq");
    if (rc == 0 && be != NULL) {
        char qname[32];
        (void) snprintf(qname, sizeof qname, "mq:0x%llx", key);
        rc = judge_named(s, be, strchr(text, ':') != NULL ? text : qname);
    }
    if (rc == 0)
        rc = records_sweep(s, text, key);
    if (rc == 0)
        rc = companions_sweep(s, key);
    return rc;
}

int
ipckit_remove_stale(const ipckit_list_opts *opts,
                    int (*report)(const ipckit_object *o, int verdict, const char *why,
                                  void *arg),
                    void *arg)
{
    struct stale *s;
    int rc;

    ipckit__detail_clear();
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return -ENOMEM;
    rc = ipckit__list_opts_resolve(opts, &s->opts, "remove_stale");
    if (rc == 0 && s->opts.names != NULL)
        rc = names_check(s->opts.names);
    if (rc < 0) {
        free(s);
        return rc;
    }
    s->report = report;
    s->arg = arg;
    s->dry = (s->opts.flags & IPCKIT_STALE_DRY_RUN) != 0;
    s->discard = (s->opts.flags & IPCKIT_STALE_DISCARD) != 0;
    s->key = -1;
    ipckit__backends_all(s->be);
    /* records first, objects after: a record read here had its object
     * already, so an object missing afterwards is gone */
    rc = records_load(s);
    if (rc == 0 && s->opts.names == NULL) {
        rc = sweep(s);
    } else if (rc == 0) {
        for (const char *const *p = s->opts.names; rc == 0 && *p != NULL; p++)
            rc = one_name(s, *p);
    }
    rc = rc < 0 ? rc : s->removed;
    free(s->recs);
    free(s);
    return rc;
}
