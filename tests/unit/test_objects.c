/*
 * The object API (<ipckit/object.h>) used as a daemon uses it at start-up:
 * objects of every kind are made by processes that exit without cleaning
 * up (so their creator is gone), some still hold messages or a variable,
 * some are still in use by a live process, some belong to another user;
 * then ipckit_object_list() must find them with the right fields,
 * ipckit_object_stat() must describe each by name, and
 * ipckit_remove_stale() must judge each as the rules say, with
 * IPCKIT_STALE_DRY_RUN without removing anything, and then remove exactly
 * the stale ones that hold nothing (and the orphan creator records).
 *
 * A sweep without names judges every object on the machine, other test
 * runs' too: the sweep test runs in a private IPC namespace with a private
 * /dev/shm (root only; skipped otherwise). The other tests name their
 * objects.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <mqueue.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/shm.h>
#include <sys/stat.h>

#include <ipckit/backend.h>
#include <ipckit/ipckit.h>

#include "testkit.h"

#define WAIT_MS 20000
#define OTHER_UID 65534

/* ---- making objects, as a crashed predecessor leaves them ------------------------- */

enum what { EMPTY, MESSAGE, VARIABLE, REGION /* a region, empty */ };

struct spec {
    char name[600];
    enum what what;
    uid_t uid;  /* 0: as this process; else the child becomes this user first */
};

static ipckit_opts
opts_for(const char *name)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    if (strncmp(name, "posixmq:", 8) == 0) {
        o.capacity = 4; /* RLIMIT_MSGQUEUE is shared by every test of this user */
        o.max_msg_size = 64;
    }
    return o;
}

/* In a child: make the object of @p arg and exit without closing it. */
static int
make_and_exit(void *arg)
{
    const struct spec *s = arg;
    ipckit_opts o = opts_for(s->name);
    if (s->uid != 0)
        TK_CHILD_CHECK(setgroups(0, NULL) == 0 && setresgid(s->uid, s->uid, s->uid) == 0 &&
                       setresuid(s->uid, s->uid, s->uid) == 0);
    if (strncmp(s->name, "shm:", 4) == 0 && (s->what == VARIABLE || s->what == REGION)) {
        ipckit_region *g = NULL;
        TK_CHILD_CHECK(ipckit_region_open(&g, s->name, IPCKIT_CREATE | IPCKIT_EXCL, 4096, NULL) ==
                       0);
        if (s->what == VARIABLE)
            TK_CHILD_CHECK(ipckit_region_put(g, 7, "v", 1) == 0);
    } else if (strncmp(s->name, "segment:", 8) == 0) {
        key_t key = (key_t) strtoul(s->name + 8, NULL, 0);
        TK_CHILD_CHECK(shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600) >= 0);
    } else {
        ipckit_channel *ch = NULL;
        unsigned flags = strncmp(s->name, "fifo:", 5) == 0 ? IPCKIT_RECV /* does not wait */
                                                            : IPCKIT_SEND | IPCKIT_RECV;
        TK_CHILD_CHECK(ipckit_open(&ch, s->name, flags | IPCKIT_CREATE | IPCKIT_EXCL, &o) == 0);
        if (s->what == MESSAGE)
            TK_CHILD_CHECK(ipckit_send(ch, "hello", 5, 0) == 0);
    }
    _exit(0);
}

/* Make @p s in a child that exits: the creator's pid. */
static pid_t
abandoned(struct spec *s)
{
    pid_t pid = tk_fork(make_and_exit, s);
    ck_assert_int_eq(tk_wait(pid, WAIT_MS), 0);
    return pid;
}

static void
spec(struct spec *s, const char *scheme, enum what what)
{
    memset(s, 0, sizeof *s);
    s->what = what;
    if (strcmp(scheme, "mq") == 0) {
        (void) snprintf(s->name, sizeof s->name, "mq:0x%x", (unsigned) tk_sysv_key());
    } else if (strcmp(scheme, "segment") == 0) {
        (void) snprintf(s->name, sizeof s->name, "segment:0x%x", (unsigned) tk_sysv_key());
    } else if (strcmp(scheme, "fifo") == 0) {
        static unsigned n;
        char leaf[32];
        (void) snprintf(leaf, sizeof leaf, "obj%u.pipe", ++n);
        tk_name(s->name, sizeof s->name, "fifo", leaf);
    } else {
        char posix[128];
        tk_posix_name(posix, sizeof posix);
        (void) snprintf(s->name, sizeof s->name, "%s:%s", scheme, posix);
    }
}

/* The key of a System V spec ("mq:0x..", "segment:0x..") as the API shows it. */
static long long
spec_key(const struct spec *s)
{
    return (long long) strtoul(strchr(s->name, ':') + 1, NULL, 0);
}

static bool
exists(const struct spec *s)
{
    ipckit_object o;
    if (strncmp(s->name, "segment:", 8) == 0)
        return shmget((key_t) spec_key(s), 0, 0) >= 0;
    o.version = IPCKIT_OBJECT_VERSION;
    return ipckit_object_stat(s->name, &o) == 0;
}

static void
remove_spec(const struct spec *s)
{
    if (strncmp(s->name, "segment:", 8) == 0) {
        int id = shmget((key_t) spec_key(s), 0, 0);
        if (id >= 0)
            (void) shmctl(id, IPC_RMID, NULL);
    } else if (exists(s)) {
        ck_assert_msg(ipckit_unlink(s->name) == 0, "unlink %s: %s", s->name,
                      ipckit_error_detail());
    }
}

/* ---- what the listing found ---------------------------------------------------------- */

#define FOUND_MAX 64

struct found {
    size_t n;
    ipckit_object *v; /* FOUND_MAX */
    const char *only; /* this directory's and this process's names only */
};

/* Does @p o carry one of this test's names? */
static bool
ours(const ipckit_object *o)
{
    char prefix[64];
    (void) snprintf(prefix, sizeof prefix, "/ipckit-test.%ld.", (long) getpid());
    if (o->key > 0 && ((unsigned long long) o->key >> 8) ==
                          ((0x1cull << 16) | ((unsigned long long) getpid() & 0xffffu)))
        return true;
    return strstr(o->where, prefix) != NULL || strstr(o->where, tk_dir()) != NULL;
}

static int
keep(const ipckit_object *o, void *arg)
{
    struct found *f = arg;
    if (!ours(o))
        return 0;
    ck_assert_uint_lt(f->n, FOUND_MAX);
    f->v[f->n++] = *o;
    return 0;
}

/* The object found for @p s, or NULL. */
static const ipckit_object *
found_for(const struct found *f, const struct spec *s)
{
    for (size_t i = 0; i < f->n; i++) {
        const ipckit_object *o = &f->v[i];
        if (strncmp(s->name, "segment:", 8) == 0) {
            if (strcmp(o->kind, "segment") == 0 && o->key == spec_key(s))
                return o;
        } else if (strcmp(o->name, s->name) == 0 ||
                   (strncmp(s->name, "shm:", 4) == 0 && strcmp(o->name + 5, s->name + 5) == 0 &&
                    strncmp(o->name, "shm:/", 5) == 0)) {
            return o;
        }
    }
    return NULL;
}

static void
found_init(struct found *f)
{
    f->n = 0;
    f->v = calloc(FOUND_MAX, sizeof *f->v);
    ck_assert_ptr_nonnull(f->v);
}

/* ---- list and stat ----------------------------------------------------------------- */

/* The fields every kind must have, found by a listing or by stat. */
static void
check_common(const ipckit_object *o, const struct spec *s, const char *kind, pid_t creator)
{
    ck_assert_msg(o != NULL, "%s not found", s->name);
    ck_assert_uint_eq(o->version, IPCKIT_OBJECT_VERSION);
    ck_assert_str_eq(o->kind, kind);
    ck_assert_int_eq(o->uid, (long long) geteuid());
    ck_assert_uint_eq(o->mode, 0600);
    ck_assert_int_eq(o->creator_pid, (long long) creator);
    ck_assert_msg(o->creator == IPCKIT_CREATOR_GONE, "%s: creator %d, want gone", s->name,
                  o->creator);
    if (strcmp(kind, "segment") == 0) {
        ck_assert_str_eq(o->scheme, "");
        ck_assert_str_eq(o->name, "");
        ck_assert(!o->by_ipckit);
        ck_assert_int_eq(o->key, spec_key(s));
        ck_assert_int_ge(o->id, 0);
        ck_assert_int_eq(o->size, 4096);
        ck_assert_int_eq(o->users, 0);
        return;
    }
    ck_assert_msg(o->by_ipckit, "%s: not taken for ipckit's", s->name);
    ck_assert_uint_ne(o->creator_start, 0);
    if (strcmp(kind, "queue") == 0) {
        ck_assert_str_eq(o->scheme, "mq");
        ck_assert_int_eq(o->key, spec_key(s));
        ck_assert_int_ge(o->id, 0);
        ck_assert_int_eq(o->users, -1); /* a queue has no notion of open */
        ck_assert_int_eq(o->last_send_pid, s->what == MESSAGE ? (long long) creator : 0);
    } else {
        ck_assert_int_eq(o->key, -1);
        ck_assert_uint_ne(o->ino, 0);
        ck_assert_msg(o->where[0] == '/', "%s: where %s", s->name, o->where);
    }
}

START_TEST(list_and_stat_describe_each_kind)
{
    struct spec q0, q1, p0, f0, r0, r1, g0, s0;
    pid_t cq0, cq1, cp0, cf0, cr0, cr1, cg0, cs0;
    int companions = 0;
    const char *const dirs[] = { tk_dir(), NULL };
    ipckit_list_opts lo = IPCKIT_LIST_OPTS_INIT;
    struct found f;
    const ipckit_object *o;
    ipckit_object st;

    spec(&q0, "mq", EMPTY);
    spec(&q1, "mq", MESSAGE);
    spec(&p0, "posixmq", MESSAGE);
    spec(&f0, "fifo", EMPTY);
    spec(&r0, "shm", EMPTY);
    spec(&r1, "shm", MESSAGE);
    spec(&g0, "shm", VARIABLE);
    spec(&s0, "segment", EMPTY);
    cq0 = abandoned(&q0);
    cq1 = abandoned(&q1);
    cp0 = abandoned(&p0);
    cf0 = abandoned(&f0);
    cr0 = abandoned(&r0);
    cr1 = abandoned(&r1);
    cg0 = abandoned(&g0);
    cs0 = abandoned(&s0);

    found_init(&f);
    lo.dirs = dirs;
    ck_assert_int_eq(ipckit_object_list(&lo, keep, &f), 0);

    o = found_for(&f, &q0);
    check_common(o, &q0, "queue", cq0);
    ck_assert_int_eq(o->messages, 0);
    ck_assert_int_eq(o->holds, 0);
    o = found_for(&f, &q1);
    check_common(o, &q1, "queue", cq1);
    ck_assert_int_eq(o->messages, 1);
    ck_assert_int_eq(o->bytes, 5);
    ck_assert_int_eq(o->holds, 1);
    o = found_for(&f, &p0);
    check_common(o, &p0, "posix queue", cp0);
    ck_assert_str_eq(o->scheme, "posixmq");
    ck_assert_int_eq(o->messages, 1);
    ck_assert_int_eq(o->bytes, 5);
    ck_assert_int_eq(o->capacity, 4 * 64);
    o = found_for(&f, &f0);
    check_common(o, &f0, "fifo", cf0);
    ck_assert_str_eq(o->where, strchr(f0.name, ':') + 1);
    ck_assert_int_eq(o->holds, 0);
    o = found_for(&f, &r0);
    check_common(o, &r0, "ring", cr0);
    ck_assert_int_eq(o->messages, 0);
    ck_assert_int_eq(o->holds, 0);
    o = found_for(&f, &r1);
    check_common(o, &r1, "ring", cr1);
    ck_assert_int_eq(o->messages, 1);
    ck_assert_int_eq(o->bytes, 32); /* a 16-byte record header, 5 bytes padded to 16 */
    ck_assert_int_eq(o->last_send_pid, (long long) cr1);
    o = found_for(&f, &g0);
    check_common(o, &g0, "region", cg0);
    ck_assert_int_eq(o->capacity, 4096);
    ck_assert_int_eq(o->size, 4096 + 4096);
    o = found_for(&f, &s0);
    check_common(o, &s0, "segment", cs0);
    /* and the wake-up companions of the two queues, by their key and id */
    for (size_t i = 0; i < f.n; i++) {
        o = &f.v[i];
        if (strcmp(o->kind, "queue companion") != 0)
            continue;
        ck_assert_msg(o->key == spec_key(&q0) || o->key == spec_key(&q1), "%s", o->where);
        ck_assert_int_eq(o->id, (long long) msgget((key_t) o->key, 0));
        ck_assert_str_eq(o->scheme, "shm");
        ck_assert(!o->by_ipckit); /* not a channel: a sweep judges it with its queue */
        ck_assert_int_eq(o->size, 4096);
        companions++;
    }
    ck_assert_int_eq(companions, 2);
    ck_assert_uint_eq(f.n, 10); /* nothing twice, nothing else of ours */

    /* each described by name, with what a listing leaves out: the users,
     * a region's variables */
    st.version = IPCKIT_OBJECT_VERSION;
    ck_assert_int_eq(ipckit_object_stat(g0.name, &st), 0);
    check_common(&st, &g0, "region", cg0);
    ck_assert_int_eq(st.messages, 1);
    ck_assert_int_eq(st.bytes, 1);
    ck_assert_int_eq(st.holds, 1);
    ck_assert_int_eq(st.users, 0);
    ck_assert_int_eq(ipckit_object_stat(q1.name, &st), 0);
    check_common(&st, &q1, "queue", cq1);
    ck_assert_int_eq(st.capacity > 0, 1);
    ck_assert_int_eq(ipckit_object_stat(p0.name, &st), 0);
    check_common(&st, &p0, "posix queue", cp0);
    ck_assert_int_eq(st.users, 0);
    ck_assert_int_eq(ipckit_object_stat(f0.name, &st), 0);
    check_common(&st, &f0, "fifo", cf0);
    ck_assert_int_eq(st.users, 0);
    ck_assert_int_eq(ipckit_object_stat(r1.name, &st), 0);
    check_common(&st, &r1, "ring", cr1);
    ck_assert_int_eq(st.users, 0);

    /* users: this process opens the FIFO and maps the ring */
    {
        ipckit_channel *fc = NULL, *rc = NULL;
        ck_assert_int_eq(ipckit_open(&fc, f0.name, IPCKIT_RECV, NULL), 0);
        ck_assert_int_eq(ipckit_open(&rc, r0.name, IPCKIT_RECV, NULL), 0);
        ck_assert_int_eq(ipckit_object_stat(f0.name, &st), 0);
        ck_assert_int_eq(st.users, 1);
        ck_assert_int_eq(ipckit_object_stat(r0.name, &st), 0);
        ck_assert_int_eq(st.users, 1);
        ck_assert_int_eq(ipckit_close(fc), 0);
        ck_assert_int_eq(ipckit_close(rc), 0);
    }

    free(f.v);
    remove_spec(&q0);
    remove_spec(&q1);
    remove_spec(&p0);
    remove_spec(&f0);
    remove_spec(&r0);
    remove_spec(&r1);
    remove_spec(&g0);
    remove_spec(&s0);
}
END_TEST

/* ---- misuse ---------------------------------------------------------------------- */

static int
stop_at_first(const ipckit_object *o, void *arg)
{
    (void) o;
    ++*(int *) arg;
    return 7;
}

static int
count_all(const ipckit_object *o, void *arg)
{
    int *n = arg;
    if (!o->by_ipckit)
        n[1]++;
    n[0]++;
    return 0;
}

START_TEST(bad_arguments_and_options)
{
    ipckit_object o;
    ipckit_list_opts lo = IPCKIT_LIST_OPTS_INIT;
    const char *const bogus[] = { "bogus:/x", NULL };
    const char *const fifo_only[] = { "fifo", NULL };
    const char *const dirs[] = { tk_dir(), NULL };
    struct spec f0, q0;
    int n = 0, counts[2] = { 0, 0 };

    ck_assert_int_eq(ipckit_object_stat("nocolon", &(ipckit_object){ .version = 1 }), -EINVAL);
    ck_assert_int_eq(ipckit_object_stat("mq:0x1", NULL), -EINVAL);
    o.version = 0;
    ck_assert_int_eq(ipckit_object_stat("mq:0x1", &o), -EINVAL);
    o.version = IPCKIT_OBJECT_VERSION;
    ck_assert_int_eq(ipckit_object_stat("bogus:/x", &o), -EPROTONOSUPPORT);
    if (ipckit_backend_find("signal") != NULL)
        ck_assert_int_eq(ipckit_object_stat("signal:self", &o), -ENOTSUP);
    spec(&q0, "mq", EMPTY);
    ck_assert_int_eq(ipckit_object_stat(q0.name, &o), -ENOENT);
    ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), "no queue"));

    /* what a backend's remove_stale says of an object replaced meanwhile */
    ck_assert_str_eq(ipckit_errname(-ESTALE), "ESTALE");
    ck_assert_int_eq(ipckit_object_list(NULL, NULL, NULL), -EINVAL);
    lo.version = 0;
    ck_assert_int_eq(ipckit_object_list(&lo, count_all, counts), -EINVAL);
    lo.version = IPCKIT_LIST_OPTS_VERSION;
    lo.flags = 1u << 9;
    ck_assert_int_eq(ipckit_object_list(&lo, count_all, counts), -EINVAL);
    lo.flags = 0;
    lo.depth = -1;
    ck_assert_int_eq(ipckit_object_list(&lo, count_all, counts), -EINVAL);
    lo.depth = 0;
    lo.names = bogus;
    ck_assert_int_eq(ipckit_remove_stale(&lo, NULL, NULL), -EPROTONOSUPPORT);
    lo.names = NULL;

    /* the callback's value stops the listing and is returned */
    spec(&f0, "fifo", EMPTY);
    (void) abandoned(&f0);
    lo.schemes = fifo_only;
    lo.dirs = dirs;
    ck_assert_int_eq(ipckit_object_list(&lo, stop_at_first, &n), 7);
    ck_assert_int_eq(n, 1);
    /* schemes: only FIFOs; IPCKIT_LIST_IPCKIT_ONLY: only ipckit's */
    {
        char plain[600];
        tk_path(plain, sizeof plain, "plain.pipe");
        ck_assert_int_eq(mkfifo(plain, 0600), 0);
        ck_assert_int_eq(ipckit_object_list(&lo, count_all, counts), 0);
        ck_assert_int_eq(counts[0], 2);
        ck_assert_int_eq(counts[1], 1);
        counts[0] = counts[1] = 0;
        lo.flags = IPCKIT_LIST_IPCKIT_ONLY;
        ck_assert_int_eq(ipckit_object_list(&lo, count_all, counts), 0);
        ck_assert_int_eq(counts[0], 1);
        ck_assert_int_eq(counts[1], 0);
        ck_assert_int_eq(unlink(plain), 0);
    }
    remove_spec(&f0);
}
END_TEST

/* ---- the stale rules, with names ---------------------------------------------------- */

struct verdict {
    char name[IPCKIT_OBJECT_TEXT_MAX];
    char kind[32];
    long long key;
    int verdict;
    char why[600];
};

struct verdicts {
    size_t n;
    struct verdict v[64];
};

static int
collect(const ipckit_object *o, int verdict, const char *why, void *arg)
{
    struct verdicts *vs = arg;
    struct verdict *v;
    if (vs->n >= sizeof vs->v / sizeof vs->v[0])
        return 1;
    v = &vs->v[vs->n++];
    (void) snprintf(v->name, sizeof v->name, "%s", o->name[0] ? o->name : o->where);
    (void) snprintf(v->kind, sizeof v->kind, "%s", o->kind);
    v->key = o->key;
    v->verdict = verdict;
    (void) snprintf(v->why, sizeof v->why, "%s", why);
    return 0;
}

/* The verdict on @p s (of @p kind), or NULL. */
static const struct verdict *
verdict_on(const struct verdicts *vs, const struct spec *s, const char *kind)
{
    for (size_t i = 0; i < vs->n; i++) {
        const struct verdict *v = &vs->v[i];
        if (strcmp(v->kind, kind) != 0)
            continue;
        if (strcmp(kind, "segment") == 0 || strcmp(kind, "queue") == 0 ||
            strcmp(kind, "creator record") == 0 || strcmp(kind, "queue companion") == 0) {
            if (v->key == spec_key(s))
                return v;
        } else if (strcmp(v->name, s->name) == 0 ||
                   (strncmp(v->name, "shm:/", 5) == 0 && strcmp(v->name + 5, s->name + 5) == 0)) {
            return v;
        }
    }
    return NULL;
}

static void
want_verdict(const struct verdicts *vs, const struct spec *s, const char *kind, int verdict,
             const char *why)
{
    const struct verdict *v = verdict_on(vs, s, kind);
    ck_assert_msg(v != NULL, "no verdict on %s %s", kind, s->name);
    ck_assert_msg(v->verdict == verdict && strstr(v->why, why) != NULL,
                  "%s: verdict %d \"%s\", want %d \"...%s...\"", s->name, v->verdict, v->why,
                  verdict, why);
}

/* The named objects of the test below, and what is said of each. */
static struct spec nq0, nq1, np0, nf0, nr0, ng0, ns0, nfl, nrl, nqa, nqu, nru, nqx;

START_TEST(named_objects_judged_then_removed)
{
    const char *names[16];
    size_t k = 0;
    char says[96], key0[32];
    ipckit_list_opts lo = IPCKIT_LIST_OPTS_INIT;
    ipckit_channel *held_fifo = NULL, *held_ring = NULL, *alive = NULL;
    struct verdicts *vs = calloc(1, sizeof *vs);
    pid_t c;
    bool root = geteuid() == 0;
    char rec[128];

    ck_assert_ptr_nonnull(vs);
    /* stale and empty, of every kind */
    spec(&nq0, "mq", EMPTY);
    spec(&np0, "posixmq", EMPTY);
    spec(&nf0, "fifo", EMPTY);
    spec(&nr0, "shm", EMPTY);
    spec(&ns0, "segment", EMPTY);
    /* stale, holding something */
    spec(&nq1, "mq", MESSAGE);
    spec(&ng0, "shm", VARIABLE);
    /* stale, but a live process (this one) has it open or mapped */
    spec(&nfl, "fifo", EMPTY);
    spec(&nrl, "shm", EMPTY);
    /* its creator (this process) runs */
    spec(&nqa, "mq", EMPTY);
    /* another user's */
    spec(&nqu, "mq", EMPTY);
    spec(&nru, "shm", EMPTY);
    nqu.uid = nru.uid = OTHER_UID;
    /* removed behind ipckit's back: its record is an orphan */
    spec(&nqx, "mq", EMPTY);

    (void) abandoned(&nq0);
    (void) abandoned(&np0);
    c = abandoned(&nf0);
    (void) abandoned(&nr0);
    (void) abandoned(&ns0);
    (void) abandoned(&nq1);
    (void) abandoned(&ng0);
    (void) abandoned(&nfl);
    (void) abandoned(&nrl);
    ck_assert_int_eq(ipckit_open(&held_fifo, nfl.name, IPCKIT_RECV, NULL), 0);
    ck_assert_int_eq(ipckit_open(&held_ring, nrl.name, IPCKIT_RECV, NULL), 0);
    ck_assert_int_eq(ipckit_open(&alive, nqa.name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL,
                                 NULL),
                     0);
    if (root) {
        (void) abandoned(&nqu);
        (void) abandoned(&nru);
    }
    (void) abandoned(&nqx);
    ck_assert_int_eq(tk_record_path(nqx.name, rec, sizeof rec), 0);
    ck_assert_int_eq(msgctl(msgget((key_t) spec_key(&nqx), 0), IPC_RMID, NULL), 0);
    /* its wake-up companion stays: the unlink, which finds no queue, removes it (test_sysv_mq) */
    ck_assert_int_eq(ipckit_unlink(nqx.name), -ENOENT);

    names[k++] = nq0.name;
    names[k++] = np0.name;
    names[k++] = nf0.name;
    names[k++] = nr0.name;
    (void) snprintf(key0, sizeof key0, "0x%llx", spec_key(&ns0)); /* a segment: its key */
    names[k++] = key0;
    names[k++] = nq1.name;
    names[k++] = ng0.name;
    names[k++] = nfl.name;
    names[k++] = nrl.name;
    names[k++] = nqa.name;
    if (root) {
        names[k++] = nqu.name;
        names[k++] = nru.name;
    }
    names[k++] = nqx.name;
    names[k] = NULL;
    lo.names = names;

    /* judged, nothing removed */
    lo.flags = IPCKIT_STALE_DRY_RUN;
    ck_assert_int_eq(ipckit_remove_stale(&lo, collect, vs), 8);
    want_verdict(vs, &nq0, "queue", IPCKIT_STALE_REMOVED,
                 "gone, no live sender or receiver; empty");
    want_verdict(vs, &np0, "posix queue", IPCKIT_STALE_REMOVED, "gone, not open; empty");
    (void) snprintf(says, sizeof says, "creator pid %ld gone, not open; empty", (long) c);
    want_verdict(vs, &nf0, "fifo", IPCKIT_STALE_REMOVED, says);
    want_verdict(vs, &nr0, "ring", IPCKIT_STALE_REMOVED, "gone, not open or mapped; empty");
    want_verdict(vs, &ns0, "segment", IPCKIT_STALE_REMOVED, "4096 bytes; creator pid ");
    /* named: removed although it holds something, and said what it holds */
    want_verdict(vs, &nq1, "queue", IPCKIT_STALE_REMOVED, "; 1 message, 5 bytes queued");
    want_verdict(vs, &ng0, "region", IPCKIT_STALE_REMOVED, "; 1 variable, 1 byte set");
    want_verdict(vs, &nfl, "fifo", IPCKIT_STALE_LIVE, "a process has it open");
    want_verdict(vs, &nrl, "ring", IPCKIT_STALE_LIVE, "a process has it open or mapped");
    (void) snprintf(says, sizeof says, "its creator (pid %ld) is alive", (long) getpid());
    want_verdict(vs, &nqa, "queue", IPCKIT_STALE_LIVE, says);
    if (root) {
        want_verdict(vs, &nqu, "queue", IPCKIT_STALE_LIVE, "it belongs to another user");
        want_verdict(vs, &nru, "ring", IPCKIT_STALE_LIVE, "it belongs to another user");
    }
    want_verdict(vs, &nqx, "creator record", IPCKIT_STALE_REMOVED, "its queue is gone");
    ck_assert_uint_eq(vs->n, root ? 13 : 11);
    ck_assert(exists(&nq0) && exists(&np0) && exists(&nf0) && exists(&nr0) && exists(&ns0) &&
              exists(&nq1) && exists(&ng0));
    ck_assert_int_eq(access(rec, F_OK), 0);

    /* now for real: the same verdicts, and exactly those objects gone */
    memset(vs, 0, sizeof *vs);
    lo.flags = 0;
    ck_assert_int_eq(ipckit_remove_stale(&lo, collect, vs), 8);
    want_verdict(vs, &nq1, "queue", IPCKIT_STALE_REMOVED, "; dropped 1 message, 5 bytes");
    want_verdict(vs, &nfl, "fifo", IPCKIT_STALE_LIVE, "a process has it open");
    ck_assert(!exists(&nq0) && !exists(&np0) && !exists(&nf0) && !exists(&nr0) &&
              !exists(&ns0) && !exists(&nq1) && !exists(&ng0));
    ck_assert(exists(&nfl) && exists(&nrl) && exists(&nqa));
    if (root)
        ck_assert(exists(&nqu) && exists(&nru));
    ck_assert_int_eq(access(rec, F_OK), -1);
    /* the records of the objects removed went with them: those of the FIFO
     * in use, of the live queue and of the other user's queue are left */
    ck_assert_int_eq(tk_count_records(), root ? 3 : 2);

    ck_assert_int_eq(ipckit_close(held_fifo), 0);
    ck_assert_int_eq(ipckit_close(held_ring), 0);
    ck_assert_int_eq(ipckit_close(alive), 0);
    remove_spec(&nfl);
    remove_spec(&nrl);
    remove_spec(&nqa);
    if (root) {
        remove_spec(&nqu);
        remove_spec(&nru);
    }
    free(vs);
}
END_TEST

/* ---- the sweep of a daemon at start-up, in a namespace of its own ------------------------ */

#define SWEEP_CHECK(cond, ...)                                                            \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #cond);                   \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fputc('\n', stderr);                                                          \
            _exit(99);                                                                    \
        }                                                                                 \
    } while (0)

static struct spec sq0, sq1, sp0, sf0, sr0, sg0, sg1, ss0, ssx, sfl, sqa, squ, sqx;
static char foreign_shm[128];

static bool
sweep_verdict(const struct verdicts *vs, const struct spec *s, const char *kind, int verdict,
              const char *why)
{
    const struct verdict *v = verdict_on(vs, s, kind);
    if (v == NULL) {
        fprintf(stderr, "no verdict on %s %s\n", kind, s->name);
        return false;
    }
    if (v->verdict != verdict || strstr(v->why, why) == NULL) {
        fprintf(stderr, "%s: verdict %d \"%s\", want %d \"...%s...\"\n", s->name, v->verdict,
                v->why, verdict, why);
        return false;
    }
    return true;
}

/* The sweep, in the child that has the namespaces. */
static int
sweep_in_namespace(void *arg)
{
    struct verdicts *vs = calloc(1, sizeof *vs);
    ipckit_list_opts lo = IPCKIT_LIST_OPTS_INIT;
    ipckit_channel *held = NULL, *alive = NULL;
    char rec[128];
    int fd, n;
    (void) arg;
    SWEEP_CHECK(vs != NULL, "calloc");
    if (unshare(CLONE_NEWIPC | CLONE_NEWNS) < 0)
        return 77; /* no namespaces here */
    /* a /dev/shm of its own, which nothing outside sees */
    /* (source and type are not used; valgrind wants strings there) */
    /* Mounts made here must not reach the parent's namespace: "/" made
     * private, or, in a chroot, where "/" is no mount point (EINVAL), the
     * mount that holds /dev/shm. */
    if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 &&
        mount("none", "/dev", "none", MS_REC | MS_PRIVATE, NULL) < 0 &&
        mount("none", "/dev/shm", "none", MS_REC | MS_PRIVATE, NULL) < 0) {
        printf("test_objects: cannot make /, /dev or /dev/shm a private mount: %s\n",
               strerror(errno));
        return 77;
    }
    SWEEP_CHECK(mount("ipckit-test", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") == 0,
                "%s", strerror(errno));

    (void) abandoned(&sq0);
    (void) abandoned(&sp0);
    (void) abandoned(&sf0);
    (void) abandoned(&sr0);
    (void) abandoned(&ss0);
    (void) abandoned(&ssx);
    (void) abandoned(&sq1);
    (void) abandoned(&sg0);
    (void) abandoned(&sg1);
    (void) abandoned(&sfl);
    (void) abandoned(&squ);
    (void) abandoned(&sqx);
    SWEEP_CHECK(ipckit_open(&held, sfl.name, IPCKIT_RECV, NULL) == 0, "%s", ipckit_error_detail());
    SWEEP_CHECK(ipckit_open(&alive, sqa.name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, NULL) ==
                    0,
                "%s", ipckit_error_detail());
    SWEEP_CHECK(tk_record_path(sqx.name, rec, sizeof rec) == 0, "no record of %s", sqx.name);
    SWEEP_CHECK(msgctl(msgget((key_t) spec_key(&sqx), 0), IPC_RMID, NULL) == 0, "ipcrm");
    fd = shm_open(foreign_shm, O_RDWR | O_CREAT | O_EXCL, 0600); /* another program's */
    SWEEP_CHECK(fd >= 0 && ftruncate(fd, 4096) == 0, "%s", strerror(errno));
    (void) close(fd);

    /* judged, nothing removed */
    lo.flags = IPCKIT_STALE_DRY_RUN;
    n = ipckit_remove_stale(&lo, collect, vs);
    SWEEP_CHECK(n == 8, "%d would be removed", n);
    SWEEP_CHECK(sweep_verdict(vs, &sq0, "queue", IPCKIT_STALE_REMOVED, "; empty") &&
                    sweep_verdict(vs, &sp0, "posix queue", IPCKIT_STALE_REMOVED, "; empty") &&
                    sweep_verdict(vs, &sf0, "fifo", IPCKIT_STALE_REMOVED, "; empty") &&
                    sweep_verdict(vs, &sr0, "ring", IPCKIT_STALE_REMOVED, "; empty") &&
                    sweep_verdict(vs, &sg1, "region", IPCKIT_STALE_REMOVED, "; empty") &&
                    sweep_verdict(vs, &ss0, "segment", IPCKIT_STALE_REMOVED, "not attached") &&
                    sweep_verdict(vs, &sqx, "creator record", IPCKIT_STALE_REMOVED,
                                  "its queue is gone") &&
                    sweep_verdict(vs, &sqx, "queue companion", IPCKIT_STALE_REMOVED,
                                  "which is gone"),
                "stale empty objects");
    SWEEP_CHECK(sweep_verdict(vs, &sq1, "queue", IPCKIT_STALE_KEPT, "1 message, 5 bytes queued") &&
                    sweep_verdict(vs, &sg0, "region", IPCKIT_STALE_KEPT, "1 variable, 1 byte set"),
                "stale objects that hold something");
    SWEEP_CHECK(sweep_verdict(vs, &sfl, "fifo", IPCKIT_STALE_LIVE, "a process has it open") &&
                    sweep_verdict(vs, &sqa, "queue", IPCKIT_STALE_LIVE, "is alive") &&
                    sweep_verdict(vs, &squ, "queue", IPCKIT_STALE_LIVE, "another user") &&
                    sweep_verdict(vs, &ssx, "segment", IPCKIT_STALE_LIVE,
                                  "does not look like ipckit's"),
                "objects in use, alive, another user's, not ipckit's");
    for (size_t i = 0; i < vs->n; i++)
        SWEEP_CHECK(strstr(vs->v[i].name, foreign_shm) == NULL, "another program's judged");
    SWEEP_CHECK(vs->n == 14, "%zu verdicts", vs->n);
    SWEEP_CHECK(exists(&sq0) && exists(&sp0) && exists(&sf0) && exists(&sr0) && exists(&sg1) &&
                    exists(&ss0) && access(rec, F_OK) == 0,
                "a dry run removed something");

    /* the real sweep removes exactly the stale empty ones */
    memset(vs, 0, sizeof *vs);
    lo.flags = 0;
    n = ipckit_remove_stale(&lo, collect, vs);
    SWEEP_CHECK(n == 8, "%d removed", n);
    SWEEP_CHECK(!exists(&sq0) && !exists(&sp0) && !exists(&sf0) && !exists(&sr0) &&
                    !exists(&sg1) && !exists(&ss0) && access(rec, F_OK) < 0,
                "a stale empty object is left");
    SWEEP_CHECK(exists(&sq1) && exists(&sg0) && exists(&sfl) && exists(&sqa) && exists(&squ) &&
                    exists(&ssx),
                "an object that was not stale is gone");
    fd = shm_open(foreign_shm, O_RDONLY, 0);
    SWEEP_CHECK(fd >= 0, "another program's object is gone");
    (void) close(fd);

    /* IPCKIT_STALE_DISCARD: the stale ones that hold something too */
    memset(vs, 0, sizeof *vs);
    lo.flags = IPCKIT_STALE_DISCARD;
    n = ipckit_remove_stale(&lo, collect, vs);
    SWEEP_CHECK(n == 2, "%d removed with DISCARD", n);
    SWEEP_CHECK(sweep_verdict(vs, &sq1, "queue", IPCKIT_STALE_REMOVED,
                              "dropped 1 message, 5 bytes") &&
                    !exists(&sq1) && !exists(&sg0),
                "DISCARD");
    SWEEP_CHECK(exists(&sfl) && exists(&sqa) && exists(&squ), "DISCARD took a live object");

    SWEEP_CHECK(ipckit_close(held) == 0 && ipckit_close(alive) == 0, "close");
    remove_spec(&sfl); /* in tk_dir(), outside the namespace */
    free(vs);
    return 0; /* the namespace, and everything else in it, goes with this process */
}

START_TEST(daemon_sweeps_at_start_up)
{
    int rc;
    if (geteuid() != 0) {
        printf("test_objects: daemon_sweeps_at_start_up skipped: needs root for namespaces\n");
        return;
    }
    spec(&sq0, "mq", EMPTY);
    spec(&sp0, "posixmq", EMPTY);
    spec(&sf0, "fifo", EMPTY);
    spec(&sr0, "shm", EMPTY);
    spec(&sg1, "shm", REGION);
    spec(&ss0, "segment", EMPTY);
    /* a key that looks like ipckit's: ftok(path, 'i'); the namespace is ours */
    (void) snprintf(ss0.name, sizeof ss0.name, "segment:0x69%06x", (unsigned) getpid() & 0xffffffu);
    spec(&ssx, "segment", EMPTY); /* not ipckit's key: left alone */
    spec(&sq1, "mq", MESSAGE);
    spec(&sg0, "shm", VARIABLE);
    spec(&sfl, "fifo", EMPTY);
    spec(&sqa, "mq", EMPTY);
    spec(&squ, "mq", EMPTY);
    squ.uid = OTHER_UID;
    spec(&sqx, "mq", EMPTY);
    tk_posix_name(foreign_shm, sizeof foreign_shm);
    (void) tk_dir(); /* made here: the namespace shares /tmp, and the leak check sees it */
    rc = tk_wait(tk_fork(sweep_in_namespace, NULL), 60000);
    if (rc == 77) {
        printf("test_objects: daemon_sweeps_at_start_up skipped: no private IPC and mount"
               " namespace\n");
        return;
    }
    ck_assert_msg(rc == 0, "the sweep in its namespace failed (%d): see above", rc);
}
END_TEST

/* ---- a backend of the program's own ---------------------------------------------- */

static int
own_open(void *state, const ipckit_name *name, unsigned flags, const ipckit_opts *opts,
         const struct timespec *deadline)
{
    (void) state;
    (void) name;
    (void) flags;
    (void) opts;
    (void) deadline;
    return 0;
}

static int
own_close(void *state)
{
    (void) state;
    return 0;
}

static int
own_send(void *state, long type, const void *buf, size_t len, const struct timespec *deadline)
{
    (void) state;
    (void) type;
    (void) buf;
    (void) len;
    (void) deadline;
    return 0;
}

static ssize_t
own_recv(void *state, long selector, long *type, void *buf, size_t cap,
         const struct timespec *deadline)
{
    (void) state;
    (void) selector;
    (void) type;
    (void) buf;
    (void) cap;
    return ipckit_deadline_error(deadline);
}

static int
own_list(const ipckit_list_opts *opts, int (*emit)(const ipckit_object *o, void *ctx), void *ctx)
{
    ipckit_object o;
    (void) opts;
    memset(&o, 0, sizeof o);
    o.scheme = "objtest";
    o.kind = "thing";
    (void) snprintf(o.name, sizeof o.name, "objtest:one");
    o.key = o.id = o.uid = o.gid = o.size = o.capacity = o.messages = o.bytes = o.users = -1;
    o.last_send_pid = o.last_recv_pid = -1;
    o.creator_pid = (long long) getpid();
    return emit(&o, ctx);
}

static int
own_describe(const ipckit_name *name, ipckit_object *out)
{
    if (strcmp(ipckit_name_target(name), "one") != 0)
        return ipckit_backend_fail(-ENOENT, "objtest: no %s", ipckit_name_target(name));
    out->kind = "thing";
    (void) snprintf(out->name, sizeof out->name, "objtest:one");
    out->creator_pid = (long long) getpid();
    return 0;
}

static const ipckit_backend own = {
    .abi_version = IPCKIT_BACKEND_ABI,
    .scheme = "objtest",
    .open = own_open,
    .close = own_close,
    .send = own_send,
    .recv = own_recv,
    .list = own_list,
    .describe = own_describe,
};

static int
first_object(const ipckit_object *o, void *arg)
{
    *(ipckit_object *) arg = *o;
    return 1;
}

/* A backend registered at run time lists and describes its objects through
 * the same calls; the core adds the creator's state. */

/* A broadcast ring (shm:NAME?bcast=1) is described as what it is, with
 * the name that opens it, and never judged empty: what is left to read is
 * each subscriber's own. */
START_TEST(broadcast_ring_described)
{
    char pname[200], name[240];
    ipckit_channel *ch = NULL;
    ipckit_object o;
    tk_posix_name(pname, sizeof pname);
    (void) snprintf(name, sizeof name, "shm:%s?bcast=1", pname);
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, NULL), 0);
    o.version = IPCKIT_OBJECT_VERSION;
    (void) snprintf(name, sizeof name, "shm:%s", pname);
    ck_assert_int_eq(ipckit_object_stat(name, &o), 0);
    ck_assert_str_eq(o.kind, "broadcast ring");
    ck_assert(o.by_ipckit);
    ck_assert_ptr_nonnull(strstr(o.name, "?bcast=1"));
    ck_assert_int_eq(o.holds, -1);
    ck_assert_int_eq(o.creator_pid, getpid());
    ck_assert_int_eq(ipckit_close(ch), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

START_TEST(registered_backend_objects)
{
    const char *const only[] = { "objtest", NULL };
    ipckit_list_opts lo = IPCKIT_LIST_OPTS_INIT;
    static ipckit_object o;
    ck_assert_int_eq(ipckit_backend_register(&own), 0);
    lo.schemes = only;
    ck_assert_int_eq(ipckit_object_list(&lo, first_object, &o), 1);
    ck_assert_str_eq(o.name, "objtest:one");
    ck_assert_str_eq(o.scheme, "objtest");
    ck_assert_int_eq(o.creator, IPCKIT_CREATOR_ALIVE);
    memset(&o, 0, sizeof o);
    o.version = IPCKIT_OBJECT_VERSION;
    ck_assert_int_eq(ipckit_object_stat("objtest:one", &o), 0);
    ck_assert_str_eq(o.kind, "thing");
    ck_assert_str_eq(o.scheme, "objtest");
    ck_assert_int_eq(o.creator, IPCKIT_CREATOR_ALIVE);
    ck_assert_int_eq(o.messages, -1); /* what the backend did not fill stays unknown */
    ck_assert_int_eq(o.holds, -1);
    ck_assert_int_eq(ipckit_object_stat("objtest:two", &o), -ENOENT);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("objects");
    TCase *tc = tk_tcase("objects", 120);
    tcase_add_test(tc, list_and_stat_describe_each_kind);
    tcase_add_test(tc, bad_arguments_and_options);
    tcase_add_test(tc, named_objects_judged_then_removed);
    tcase_add_test(tc, daemon_sweeps_at_start_up);
    tcase_add_test(tc, registered_backend_objects);
    tcase_add_test(tc, broadcast_ring_described);
    suite_add_tcase(s, tc);
    return tk_run(s);
}
