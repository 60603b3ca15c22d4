/*
 * What the core does for every backend, seen through a minimal backend of
 * the test's own: error details without a pointer back to the channel,
 * option flags a backend does not declare refused once, ipckit_ctl().
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <ipckit/backend.h>
#include <ipckit/ipckit.h>

#include "testkit.h"

struct tiny {
    unsigned flags_seen;
};

static int
tiny_open(void *state, const ipckit_name *name, unsigned flags, const ipckit_opts *opts,
          const struct timespec *deadline)
{
    (void) name;
    (void) flags;
    (void) deadline;
    ((struct tiny *) state)->flags_seen = opts->flags;
    return 0;
}

static int
tiny_close(void *state)
{
    (void) state;
    return 0;
}

/* A backend of ABI 1 to 3 passes its state, or any pointer, to
 * ipckit_backend_error(); 0.1.0 found the channel from that pointer and
 * wrote through it. */
static int
tiny_send(void *state, long type, const void *buf, size_t len, const struct timespec *deadline)
{
    (void) state;
    (void) buf;
    (void) deadline;
    if (type == 2)
        return ipckit_backend_error((void *) (uintptr_t) 0x10, -EIO, "tiny: bogus pointer, %zu",
                                    len);
    if (type == 3)
        return ipckit_backend_fail(-EIO, "tiny: failed with %zu bytes", len);
    return -EIO; /* no detail: the core writes one */
}

static ssize_t
tiny_recv(void *state, long selector, long *type, void *buf, size_t cap,
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
tiny_ctl(void *state, int op, void *arg)
{
    (void) state;
    if (op == 77) {
        *(int *) arg = 42;
        return 0;
    }
    return ipckit_backend_fail(-ENOTSUP, "tiny: no request %d", op);
}

static const ipckit_backend tiny4 = {
    .abi_version = 4,
    .scheme = "tiny",
    .state_size = sizeof(struct tiny),
    .caps = IPCKIT_CAP_TYPED,
    .open = tiny_open,
    .close = tiny_close,
    .send = tiny_send,
    .recv = tiny_recv,
    .opt_flags = IPCKIT_OPT_INTERRUPTIBLE,
    .ctl = tiny_ctl,
};

/* The same backend as a table of ABI 3, which has no opt_flags or ctl: the
 * core must not read them. */
static const ipckit_backend tiny3 = {
    .abi_version = 3,
    .scheme = "tinyold",
    .state_size = sizeof(struct tiny),
    .caps = IPCKIT_CAP_TYPED,
    .open = tiny_open,
    .close = tiny_close,
    .send = tiny_send,
    .recv = tiny_recv,
    .opt_flags = 0xdead, /* beyond version 3: never read */
    .ctl = tiny_ctl,
};

START_TEST(details_need_no_pointer_to_the_channel)
{
    ipckit_channel *ch = NULL;
    ck_assert_int_eq(ipckit_backend_register(&tiny4), 0);
    ck_assert_int_eq(ipckit_open(&ch, "tiny:x", IPCKIT_SEND, NULL), 0);
    ck_assert_int_eq(ipckit_send_typed(ch, 2, "abc", 3, 0), -EIO);
    ck_assert_str_eq(ipckit_last_error(ch), "tiny: bogus pointer, 3");
    ck_assert_str_eq(ipckit_error_detail(), "tiny: bogus pointer, 3");
    ck_assert_int_eq(ipckit_send_typed(ch, 3, "ab", 2, 0), -EIO);
    ck_assert_str_eq(ipckit_last_error(ch), "tiny: failed with 2 bytes");
    /* no detail from the backend: a generic one, never the previous text */
    ck_assert_int_eq(ipckit_send_typed(ch, 1, "a", 1, 0), -EIO);
    ck_assert_msg(strstr(ipckit_last_error(ch), "send:") != NULL &&
                      strstr(ipckit_last_error(ch), "tiny") == NULL,
                  "%s", ipckit_last_error(ch));
    ck_assert_int_eq(ipckit_close(ch), 0);
}
END_TEST

START_TEST(undeclared_option_flags_refused)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *ch = NULL;
    char name[300];
    ck_assert_int_eq(ipckit_backend_register(&tiny4), 0);
    ck_assert_int_eq(ipckit_backend_register(&tiny3), 0);
    o.flags = IPCKIT_OPT_STREAM;
    ck_assert_int_eq(ipckit_open(&ch, "tiny:x", IPCKIT_SEND, &o), -ENOTSUP);
    ck_assert_msg(strstr(ipckit_error_detail(), "tiny: does not support IPCKIT_OPT_STREAM"),
                  "%s", ipckit_error_detail());
    o.flags = IPCKIT_OPT_INTERRUPTIBLE | IPCKIT_OPT_TRUST_ANY; /* declared; the core's own */
    ck_assert_int_eq(ipckit_open(&ch, "tiny:x", IPCKIT_SEND, &o), 0);
    ck_assert_int_eq(ipckit_close(ch), 0);
    /* a table of ABI 3 sees the flags and judges them itself */
    o.flags = IPCKIT_OPT_STREAM;
    ck_assert_int_eq(ipckit_open(&ch, "tinyold:x", IPCKIT_SEND, &o), 0);
    ck_assert_int_eq(ipckit_close(ch), 0);
    /* built-in backends declare theirs */
    o.flags = IPCKIT_OPT_TRUNCATE;
    tk_name(name, sizeof name, "fifo", "opt.pipe");
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV | IPCKIT_CREATE, &o), -ENOTSUP);
    ck_assert_msg(strstr(ipckit_error_detail(), "fifo: does not support IPCKIT_OPT_TRUNCATE"),
                  "%s", ipckit_error_detail());
    o.flags = IPCKIT_OPT_STREAM;
    (void) snprintf(name, sizeof name, "mq:%#x", (unsigned) tk_sysv_key());
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_CREATE, &o), -ENOTSUP);
    ck_assert_int_eq(ipckit_unlink(name), -ENOENT); /* refused before anything was made */
}
END_TEST

START_TEST(ctl_requests)
{
    ipckit_channel *ch = NULL;
    char name[300], p[200];
    long spin = -1, set = 123;
    unsigned long long missed = 0;
    int v = 0;
    ck_assert_int_eq(ipckit_backend_register(&tiny4), 0);
    ck_assert_int_eq(ipckit_backend_register(&tiny3), 0);
    ck_assert_int_eq(ipckit_open(&ch, "tiny:x", IPCKIT_SEND, NULL), 0);
    ck_assert_int_eq(ipckit_ctl(ch, 77, &v), 0);
    ck_assert_int_eq(v, 42);
    ck_assert_int_eq(ipckit_ctl(ch, 78, &v), -ENOTSUP);
    ck_assert_str_eq(ipckit_last_error(ch), "tiny: no request 78");
    ck_assert_int_eq(ipckit_close(ch), 0);
    ck_assert_int_eq(ipckit_open(&ch, "tinyold:x", IPCKIT_SEND, NULL), 0);
    ck_assert_int_eq(ipckit_ctl(ch, 77, &v), -ENOTSUP); /* no ctl before ABI 4 */
    ck_assert_int_eq(ipckit_close(ch), 0);
    ck_assert_int_eq(ipckit_ctl(NULL, 77, &v), -EINVAL);

    tk_posix_name(p, sizeof p);
    (void) snprintf(name, sizeof name, "shm:%s?spin=55", p);
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_CREATE, NULL), 0);
    ck_assert_int_eq(ipckit_ctl(ch, IPCKIT_CTL_GET_SPIN, &spin), 0);
    ck_assert_int_eq(spin, 55);
    ck_assert_int_eq(ipckit_ctl(ch, IPCKIT_CTL_SET_SPIN, &set), 0);
    ck_assert_int_eq(ipckit_ctl(ch, IPCKIT_CTL_GET_SPIN, &spin), 0);
    ck_assert_int_eq(spin, 123);
    set = -1;
    ck_assert_int_eq(ipckit_ctl(ch, IPCKIT_CTL_SET_SPIN, &set), -EINVAL);
    set = 10000001; /* above the limit of 10^7 */
    ck_assert_int_eq(ipckit_ctl(ch, IPCKIT_CTL_SET_SPIN, &set), -EINVAL);
    ck_assert_int_eq(ipckit_ctl(ch, IPCKIT_CTL_GET_SPIN, NULL), -EINVAL);
    ck_assert_int_eq(ipckit_ctl(ch, IPCKIT_CTL_GET_SPIN, &spin), 0);
    ck_assert_int_eq(spin, 123); /* refused sets change nothing */
    ck_assert_int_eq(ipckit_ctl(ch, IPCKIT_CTL_MISSED, &missed), -ENOTSUP); /* not a broadcast */
    ck_assert_int_eq(ipckit_close(ch), 0);
    (void) snprintf(name, sizeof name, "shm:%s", p);
    ck_assert_int_eq(ipckit_unlink(name), 0);

    /* a broadcast ring answers the same spin requests */
    tk_posix_name(p, sizeof p);
    (void) snprintf(name, sizeof name, "shm:%s?bcast=drop&spin=66", p);
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_CREATE, NULL), 0);
    ck_assert_int_eq(ipckit_ctl(ch, IPCKIT_CTL_GET_SPIN, &spin), 0);
    ck_assert_int_eq(spin, 66);
    set = 77;
    ck_assert_int_eq(ipckit_ctl(ch, IPCKIT_CTL_SET_SPIN, &set), 0);
    ck_assert_int_eq(ipckit_ctl(ch, IPCKIT_CTL_GET_SPIN, &spin), 0);
    ck_assert_int_eq(spin, 77);
    set = 10000001;
    ck_assert_int_eq(ipckit_ctl(ch, IPCKIT_CTL_SET_SPIN, &set), -EINVAL);
    ck_assert_int_eq(ipckit_ctl(ch, 78, &v), -ENOTSUP);
    ck_assert_int_eq(ipckit_close(ch), 0);
    ck_assert_int_eq(ipckit_unlink(name), 0);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("backend_api");
    TCase *tc = tk_tcase("backend_api", 30);
    tcase_add_test(tc, details_need_no_pointer_to_the_channel);
    tcase_add_test(tc, undeclared_option_flags_refused);
    tcase_add_test(tc, ctl_requests);
    suite_add_tcase(s, tc);
    return tk_run(s);
}
