/*
 * The trust rule of docs/security.md, on every backend that has objects:
 * an object that already exists is attached only when its owner (and its
 * creator, for System V) is this user, root or a user the caller named, and
 * it is writable by its group or by everyone only when the caller asked for
 * that. The squatter runs as uid 65534 in a forked child (these cases need
 * root and are skipped otherwise).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ipckit/ipckit.h>

#include "testkit.h"

#define NOBODY 65534
#define LONG_WAIT 20000

enum kind { K_RING, K_REGION, K_MQ, K_POSIXMQ, K_FIFO, K_SYSVSHM, K_COUNT };

static const char *const kind_names[K_COUNT] = { "ring",    "region", "mq",
                                                 "posixmq", "fifo",   "sysvshm" };

static char name[600];
static char detail[512];

/* A fresh name of @p k; a FIFO goes in a directory uid 65534 may write. */
static void
new_name(enum kind k)
{
    char p[300];
    switch (k) {
    case K_RING:
    case K_REGION:
        tk_posix_name(p, sizeof p);
        (void) snprintf(name, sizeof name, "shm:%s", p);
        break;
    case K_MQ:
        (void) snprintf(name, sizeof name, "mq:%#x", (unsigned) tk_sysv_key());
        break;
    case K_SYSVSHM: /* a segment and a semaphore set, both checked */
        (void) snprintf(name, sizeof name, "sysvshm:%#x", (unsigned) tk_sysv_key());
        break;
    case K_POSIXMQ:
        tk_posix_name(p, sizeof p);
        (void) snprintf(name, sizeof name, "posixmq:%s", p);
        break;
    default:
        tk_path(p, sizeof p, "shared");
        if (mkdir(p, 0755) == 0 && geteuid() == 0) {
            ck_assert_int_eq(chmod(tk_dir(), 0755), 0);
            ck_assert_int_eq(chown(p, NOBODY, NOBODY), 0);
        }
        (void) snprintf(name, sizeof name, "fifo:%s/x.pipe", p);
        break;
    }
}

/* Open (and close again) the object named @p n as kind @p k; the return
 * code of the open, with its detail in detail[]. */
static int
try_open(enum kind k, const char *n, unsigned create, const ipckit_opts *o)
{
    int rc;
    detail[0] = '\0';
    if (k == K_REGION || k == K_SYSVSHM) {
        ipckit_region *r = NULL;
        rc = ipckit_region_open(&r, n, create, create ? 4096 : 0, o);
        (void) snprintf(detail, sizeof detail, "%s", ipckit_error_detail());
        if (rc == 0)
            ck_assert_int_eq(ipckit_region_close(r), 0);
    } else {
        ipckit_channel *ch = NULL;
        /* a FIFO's reader opens without waiting for a writer */
        unsigned dir = k == K_FIFO ? IPCKIT_RECV : IPCKIT_SEND | IPCKIT_RECV;
        rc = ipckit_open(&ch, n, dir | create, o);
        (void) snprintf(detail, sizeof detail, "%s", ipckit_error_detail());
        if (rc == 0)
            ck_assert_int_eq(ipckit_close(ch), 0);
    }
    return rc;
}

static void
remove_ok(enum kind k)
{
    int rc = k == K_REGION || k == K_SYSVSHM ? ipckit_region_unlink(name) : ipckit_unlink(name);
    ck_assert_msg(rc == 0, "unlink %s: %s (%s)", name, ipckit_errname(rc), ipckit_error_detail());
}

/* In a child running as uid 65534: make the object with mode modes[k]. */
static enum kind plant_kind;
static unsigned plant_mode;

static int
plant(void *arg)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    (void) arg;
    TK_CHILD_CHECK(setresgid(NOBODY, NOBODY, NOBODY) == 0);
    TK_CHILD_CHECK(setresuid(NOBODY, NOBODY, NOBODY) == 0);
    o.mode = plant_mode;
    int rc = try_open(plant_kind, name, IPCKIT_CREATE | IPCKIT_EXCL, &o);
    if (rc != 0)
        fprintf(stderr, "plant %s: %s (%s)\n", name, ipckit_errname(rc), detail);
    TK_CHILD_CHECK(rc == 0);
    return 0;
}

static void
plant_as_nobody(enum kind k, unsigned mode)
{
    plant_kind = k;
    plant_mode = mode;
    ck_assert_int_eq(tk_wait(tk_fork(plant, NULL), LONG_WAIT), 0);
}

static void
expect(int rc, int want, const char *what)
{
    ck_assert_msg(rc == want, "%s %s: %s (%s), want %s", what, name, ipckit_errname(rc), detail,
                  ipckit_errname(want));
}

/* Another user creates the name first, writable by everyone: a root
 * process that then creates or opens it is refused, with a detail that
 * names the owner and how to trust it, unless it says it trusts that user
 * and that mode. (0.1.0 attached to it.) */
START_TEST(squatter_is_refused)
{
    enum kind k = (enum kind) _i;
    ipckit_opts o = IPCKIT_OPTS_INIT;
    char trusted[700];
    uid_t nobody = NOBODY;

    if (geteuid() != 0)
        return;
    new_name(k);
    plant_as_nobody(k, 0666);

    expect(try_open(k, name, IPCKIT_CREATE, NULL), -EPERM, kind_names[k]);
    ck_assert_msg(strstr(detail, "uid 65534") != NULL && strstr(detail, "0666") != NULL &&
                      strstr(detail, "trust") != NULL,
                  "detail: %s", detail);
    expect(try_open(k, name, 0, NULL), -EPERM, kind_names[k]);

    /* trusting the user is not enough while everyone may write to it */
    (void) snprintf(trusted, sizeof trusted, "%s?trust=65534", name);
    expect(try_open(k, trusted, 0, NULL), -EPERM, kind_names[k]);
    ck_assert_msg(strstr(detail, "everyone") != NULL, "detail: %s", detail);
    /* ... with the mode asked for, it is */
    o.mode = 0666;
    expect(try_open(k, trusted, 0, &o), 0, kind_names[k]);
    /* the same through the options */
    o.trust_uids = &nobody;
    o.trust_uids_len = 1;
    expect(try_open(k, name, 0, &o), 0, kind_names[k]);
    /* the mode alone does not trust the owner */
    o.trust_uids_len = 0;
    expect(try_open(k, name, 0, &o), -EPERM, kind_names[k]);
    /* trust=* takes anything */
    (void) snprintf(trusted, sizeof trusted, "%s?trust=*", name);
    expect(try_open(k, trusted, 0, NULL), 0, kind_names[k]);
    o = (ipckit_opts) IPCKIT_OPTS_INIT;
    o.flags = IPCKIT_OPT_TRUST_ANY;
    expect(try_open(k, name, 0, &o), 0, kind_names[k]);
    remove_ok(k);
}
END_TEST

/* Another user's object that nobody else may write: trusted once named,
 * by user name or number. */
START_TEST(other_users_private_object)
{
    enum kind k = (enum kind) _i;
    char trusted[700];
    if (geteuid() != 0)
        return;
    new_name(k);
    plant_as_nobody(k, 0600);
    expect(try_open(k, name, 0, NULL), -EPERM, kind_names[k]);
    (void) snprintf(trusted, sizeof trusted, "%s?trust=nobody", name);
    expect(try_open(k, trusted, 0, NULL), 0, kind_names[k]);
    (void) snprintf(trusted, sizeof trusted, "%s?trust=1234,65534", name);
    expect(try_open(k, trusted, IPCKIT_CREATE, NULL), 0, kind_names[k]);
    remove_ok(k);
}
END_TEST

/* This user's own object, writable by its group: refused unless the caller
 * asked for a group-writable mode or trusts the group. Needs no second
 * user. */
START_TEST(group_writable_needs_trust)
{
    enum kind k = (enum kind) _i;
    ipckit_opts o = IPCKIT_OPTS_INIT;
    char trusted[700];
    gid_t g = getegid();
    new_name(k);
    o.mode = 0660;
    expect(try_open(k, name, IPCKIT_CREATE | IPCKIT_EXCL, &o), 0, kind_names[k]);
    expect(try_open(k, name, 0, NULL), -EPERM, kind_names[k]);
    ck_assert_msg(strstr(detail, "group") != NULL, "detail: %s", detail);
    expect(try_open(k, name, 0, &o), 0, kind_names[k]);
    (void) snprintf(trusted, sizeof trusted, "%s?trust=group:%lu", name, (unsigned long) g);
    expect(try_open(k, trusted, 0, NULL), 0, kind_names[k]);
    o = (ipckit_opts) IPCKIT_OPTS_INIT;
    o.trust_gids = &g;
    o.trust_gids_len = 1;
    expect(try_open(k, name, 0, &o), 0, kind_names[k]);
    remove_ok(k);
}
END_TEST

/* System V lets the creator of a queue give it to another owner (IPC_SET):
 * a queue that another user created and made root's is still refused. */
static int
disown_queue(void *arg)
{
    struct msqid_ds ds;
    key_t key = *(key_t *) arg;
    int id;
    TK_CHILD_CHECK(setresgid(NOBODY, NOBODY, NOBODY) == 0);
    TK_CHILD_CHECK(setresuid(NOBODY, NOBODY, NOBODY) == 0);
    id = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
    TK_CHILD_CHECK(id >= 0);
    TK_CHILD_CHECK(msgctl(id, IPC_STAT, &ds) == 0);
    ds.msg_perm.uid = 0;
    ds.msg_perm.gid = 0;
    TK_CHILD_CHECK(msgctl(id, IPC_SET, &ds) == 0);
    return 0;
}

START_TEST(sysv_creator_counts)
{
    key_t key;
    int id;
    if (geteuid() != 0)
        return;
    key = tk_sysv_key();
    (void) snprintf(name, sizeof name, "mq:%#x", (unsigned) key);
    ck_assert_int_eq(tk_wait(tk_fork(disown_queue, &key), LONG_WAIT), 0);
    expect(try_open(K_MQ, name, IPCKIT_CREATE, NULL), -EPERM, "mq");
    ck_assert_msg(strstr(detail, "created by uid 65534") != NULL, "detail: %s", detail);
    id = msgget(key, 0);
    ck_assert_int_ge(id, 0);
    ck_assert_int_eq(msgctl(id, IPC_RMID, NULL), 0);
}
END_TEST

START_TEST(trust_list_errors)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *ch = NULL;
    char n[700];
    new_name(K_MQ);
    (void) snprintf(n, sizeof n, "%s?trust=no-such-user-ipckit", name);
    ck_assert_int_eq(ipckit_open(&ch, n, IPCKIT_SEND | IPCKIT_CREATE, NULL), -EINVAL);
    ck_assert_msg(strstr(ipckit_error_detail(), "no user") != NULL, "%s",
                  ipckit_error_detail());
    (void) snprintf(n, sizeof n, "%s?trust=group:no-such-group-ipckit", name);
    ck_assert_int_eq(ipckit_open(&ch, n, IPCKIT_SEND | IPCKIT_CREATE, NULL), -EINVAL);
    (void) snprintf(n, sizeof n, "%s?trust=,", name);
    ck_assert_int_eq(ipckit_open(&ch, n, IPCKIT_SEND | IPCKIT_CREATE, NULL), -EINVAL);
    o.trust_uids_len = 1; /* and no array */
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_CREATE, &o), -EINVAL);
    ck_assert_ptr_null(ch);
    /* nothing was created by the refused opens */
    ck_assert_int_eq(ipckit_unlink(name), -ENOENT);
    /* a program built against options version 1 still opens */
    o = (ipckit_opts) IPCKIT_OPTS_INIT;
    o.version = 1;
    o.trust_uids_len = 99; /* not part of version 1: never read */
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_CREATE, &o), 0);
    ck_assert_int_eq(ipckit_close(ch), 0);
    remove_ok(K_MQ);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("trust");
    TCase *tc = tk_tcase("trust", 60);
    tcase_add_loop_test(tc, squatter_is_refused, 0, K_COUNT);
    tcase_add_loop_test(tc, other_users_private_object, 0, K_COUNT);
    tcase_add_loop_test(tc, group_writable_needs_trust, 0, K_COUNT);
    tcase_add_test(tc, sysv_creator_counts);
    tcase_add_test(tc, trust_list_errors);
    suite_add_tcase(s, tc);
    return tk_run(s);
}
