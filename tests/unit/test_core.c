/*
 * Unit tests of the core: errors, version, options, open-flag validation,
 * and the backend interface, driven through a user backend ("mem:", in the
 * test kit) that is registered with ipckit_backend_register() and used with
 * the normal API. The channel contract itself, over "mem:" and every
 * built-in backend, is tests/conformance.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <ipckit/ipckit.h>
#include <ipckit/backend.h>

#include "testkit.h"
#include "tk_mem.h"

/* ---- errors and version --------------------------------------------------- */

START_TEST(strerror_and_names)
{
    ck_assert_str_eq(ipckit_strerror(0), "success");
    ck_assert_str_eq(ipckit_strerror(42), "success");
    ck_assert_str_eq(ipckit_errname(0), "OK");
    ck_assert_str_eq(ipckit_errname(-ETIMEDOUT), "ETIMEDOUT");
    ck_assert_str_eq(ipckit_errname(-EMSGSIZE), "EMSGSIZE");
    ck_assert_str_eq(ipckit_errname(-EOWNERDEAD), "EOWNERDEAD");
    ck_assert_str_eq(ipckit_errname(-EAGAIN), "EAGAIN");
    /* the broadcast rings' errors (a gap, a borrow overwritten, a full
     * subscriber table) have names and texts of their own */
    ck_assert_str_eq(ipckit_errname(-ENOBUFS), "ENOBUFS");
    ck_assert_str_eq(ipckit_errname(-ESTALE), "ESTALE");
    ck_assert_str_eq(ipckit_errname(-EUSERS), "EUSERS");
    ck_assert_ptr_nonnull(strstr(ipckit_strerror(-ENOBUFS), "fell behind"));
    ck_assert_ptr_nonnull(strstr(ipckit_strerror(-ESTALE), "borrowed"));
    ck_assert_str_eq(ipckit_errname(-99999), "EUNKNOWN");
    ck_assert_str_eq(ipckit_strerror(-99999), "unknown error");
    ck_assert_ptr_nonnull(strstr(ipckit_strerror(-EMSGSIZE), "too large"));
    ck_assert_ptr_nonnull(strstr(ipckit_strerror(-ETIMEDOUT), "timed out"));
    ck_assert_str_ne(ipckit_strerror(-EPIPE), ipckit_strerror(-EBADMSG));
}
END_TEST

START_TEST(version)
{
    ck_assert_uint_eq(ipckit_version(), IPCKIT_VERSION_NUMBER);
    ck_assert_str_eq(ipckit_version_string(), IPCKIT_VERSION_STRING);
    ck_assert_uint_eq(IPCKIT_VERSION_NUMBER,
                      IPCKIT_VERSION_MAJOR * 10000 + IPCKIT_VERSION_MINOR * 100 + IPCKIT_VERSION_PATCH);
}
END_TEST

START_TEST(opts_init)
{
    ipckit_opts o, def = IPCKIT_OPTS_INIT;
    memset(&o, 0x55, sizeof o);
    ck_assert_int_eq(ipckit_opts_init(&o, IPCKIT_OPTS_VERSION), 0);
    ck_assert_uint_eq(o.mode, def.mode);
    ck_assert_uint_eq(o.max_msg_size, 0);
    ck_assert_uint_eq(o.capacity, 0);
    ck_assert_uint_eq(o.flags, 0);
    ck_assert_int_eq(o.signo, 0);
    ck_assert_uint_eq(o.version, IPCKIT_OPTS_VERSION);
    ck_assert_int_eq(o.open_timeout_ms, -1);
    ck_assert_int_eq(ipckit_opts_init(&o, 0), -EINVAL);
    ck_assert_int_eq(ipckit_opts_init(&o, IPCKIT_OPTS_VERSION + 1), -EINVAL);
    ck_assert_int_eq(ipckit_opts_init(NULL, IPCKIT_OPTS_VERSION), -EINVAL);
}
END_TEST

/* A program built against options version 1 has a struct that ends where
 * the fields of version 2 begin (trust_uids): initialising it for version 1
 * must write nothing past that. */
START_TEST(opts_init_writes_only_its_version)
{
    const size_t v1 = offsetof(ipckit_opts, trust_uids);
    union {
        ipckit_opts o;
        unsigned char b[sizeof(ipckit_opts) + 16];
    } u;
    memset(&u, 0xa5, sizeof u);
    ck_assert_int_eq(ipckit_opts_init(&u.o, 1), 0);
    for (size_t i = v1; i < sizeof u.b; i++)
        ck_assert_msg(u.b[i] == 0xa5, "ipckit_opts_init(version 1) wrote byte %zu of a %zu-byte struct",
                      i, v1);
    ck_assert_uint_eq(u.o.version, 1);
    ck_assert_uint_eq(u.o.mode, 0);
    ck_assert_uint_eq(u.o.flags, 0);
    ck_assert_int_eq(u.o.open_timeout_ms, -1);
    ck_assert_int_eq(u.o.signo, 0);

    memset(&u, 0xa5, sizeof u);
    ck_assert_int_eq(ipckit_opts_init(&u.o, IPCKIT_OPTS_VERSION), 0);
    ck_assert_ptr_null(u.o.trust_uids);
    ck_assert_uint_eq(u.o.trust_gids_len, 0);
    for (size_t i = sizeof u.o; i < sizeof u.b; i++)
        ck_assert_uint_eq(u.b[i], 0xa5);
}
END_TEST

/* ---- open validation ------------------------------------------------------- */

static void
open_bad(const char *name, unsigned flags, const ipckit_opts *o, int want, const char *detail)
{
    ipckit_channel *ch = (ipckit_channel *) 1;
    int rc = ipckit_open(&ch, name, flags, o);
    ck_assert_msg(rc == want, "open(%s, %#x) = %s, want %s (%s)", name, flags,
                  ipckit_errname(rc), ipckit_errname(want), ipckit_error_detail());
    ck_assert_ptr_null(ch);
    ck_assert_msg(strstr(ipckit_error_detail(), detail) != NULL, "detail \"%s\" lacks \"%s\"",
                  ipckit_error_detail(), detail);
}

START_TEST(open_validation)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ck_assert_int_eq(ipckit_open(NULL, "fifo:/x", IPCKIT_SEND, NULL), -EINVAL);
    open_bad("fifo:/x", 0, NULL, -EINVAL, "IPCKIT_SEND, IPCKIT_RECV");
    open_bad("fifo:/x", IPCKIT_SEND | (1u << 20), NULL, -EINVAL, "unknown flag");
    open_bad("fifo:/x", IPCKIT_SEND | IPCKIT_EXCL, NULL, -EINVAL, "IPCKIT_EXCL needs");
    open_bad("nosuch:/x", IPCKIT_SEND, NULL, -EPROTONOSUPPORT, "unknown scheme \"nosuch\"");
    open_bad("nosuch:/x", IPCKIT_SEND, NULL, -EPROTONOSUPPORT, "fifo");
    open_bad("fifo", IPCKIT_SEND, NULL, -EINVAL, "no ':'");
    o.mode = 01777;
    open_bad("fifo:/x", IPCKIT_SEND, &o, -EINVAL, "mode");
    o = (ipckit_opts) IPCKIT_OPTS_INIT;
    o.version = 77;
    open_bad("fifo:/x", IPCKIT_SEND, &o, -EINVAL, "version 77");
    o = (ipckit_opts) IPCKIT_OPTS_INIT;
    o.flags = 1u << 9;
    open_bad("fifo:/x", IPCKIT_SEND, &o, -EINVAL, "unknown flag bits");
    o = (ipckit_opts) IPCKIT_OPTS_INIT;
    o.open_timeout_ms = -5;
    open_bad("fifo:/x", IPCKIT_SEND, &o, -EINVAL, "open_timeout_ms");
    ck_assert_int_eq(ipckit_unlink("nosuch:/x"), -EPROTONOSUPPORT);
    ck_assert_int_eq(ipckit_close(NULL), 0);
    ck_assert_str_eq(ipckit_scheme(NULL), "");
    ck_assert_uint_eq(ipckit_caps(NULL), 0);
    ck_assert_int_eq(ipckit_send(NULL, "x", 1, 0), -EINVAL);
    ck_assert_int_eq(ipckit_recv(NULL, NULL, 0, 0), -EINVAL);
}
END_TEST

/* ---- the backend interface --------------------------------------------------- */

START_TEST(register_validation)
{
    ipckit_backend bad = tk_mem_backend;
    ck_assert_int_eq(ipckit_backend_register(NULL), -EINVAL);
    bad.abi_version = IPCKIT_BACKEND_ABI + 1;
    ck_assert_int_eq(ipckit_backend_register(&bad), -EINVAL);
    ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), "abi_version"));
    bad = tk_mem_backend;
    bad.scheme = "Bad Scheme";
    ck_assert_int_eq(ipckit_backend_register(&bad), -EINVAL);
    bad = tk_mem_backend;
    bad.recv = NULL;
    ck_assert_int_eq(ipckit_backend_register(&bad), -EINVAL);
    ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), "required"));
    bad = tk_mem_backend;
    bad.scheme = "fifo"; /* a built-in's scheme */
    ck_assert_int_eq(ipckit_backend_register(&bad), -EEXIST);
    ck_assert_ptr_null(ipckit_backend_find("mem"));
    ck_assert_int_eq(ipckit_backend_register(&tk_mem_backend), 0);
    ck_assert_int_eq(ipckit_backend_register(&tk_mem_backend), 0); /* idempotent */
    ck_assert_ptr_eq(ipckit_backend_find("mem"), &tk_mem_backend);
    bad = tk_mem_backend; /* another table, same scheme */
    ck_assert_int_eq(ipckit_backend_register(&bad), -EEXIST);
    ck_assert_ptr_nonnull(ipckit_backend_find("fifo"));
}
END_TEST

static int
count_backends(const ipckit_backend *be, void *arg)
{
    (void) be;
    ++*(int *) arg;
    return 0;
}

/* A registered backend is listed and opened through the API: its errors
 * and details reach the caller, a failed ipckit_fd() says why, and
 * every open is closed once. (The channel contract over "mem:", direction
 * and bad arguments included: conformance.mem.) */
START_TEST(user_backend_through_api)
{
    ipckit_channel *tx = NULL, *rx = NULL;
    char buf[64];
    int count = 0;

    ck_assert_int_eq(ipckit_backend_register(&tk_mem_backend), 0);
    ck_assert_int_eq(ipckit_backend_foreach(count_backends, &count), 0);
    ck_assert_int_ge(count, 2);

    ck_assert_int_eq(ipckit_open(&rx, "mem:q1", IPCKIT_RECV, NULL), -ENOENT);
    ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), "no queue \"q1\""));
    ck_assert_int_eq(ipckit_open(&rx, "mem:q1?fail", IPCKIT_RECV | IPCKIT_CREATE, NULL), -EACCES);
    ck_assert_int_eq(ipckit_open(&rx, "mem:q1?bogus=1", IPCKIT_RECV | IPCKIT_CREATE, NULL), -EINVAL);
    ck_assert_int_eq(tk_mem_opens, 0);

    ck_assert_int_eq(ipckit_open(&tx, "mem:q1", IPCKIT_SEND | IPCKIT_CREATE, NULL), 0);
    ck_assert_int_eq(ipckit_open(&rx, "mem:q1", IPCKIT_RECV, NULL), 0);
    ck_assert_str_eq(ipckit_scheme(tx), "mem");
    /* a failed ipckit_fd() says why, and leaves no earlier call's text */
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 0), -EAGAIN);
    ck_assert_ptr_null(strstr(ipckit_last_error(rx), "fd:"));
    ck_assert_int_eq(ipckit_fd(rx), -ENOTSUP);
    ck_assert_msg(strstr(ipckit_last_error(rx), "fd: this mem channel has no pollable") != NULL,
                  "last error: %s", ipckit_last_error(rx));
    ck_assert_str_eq(ipckit_error_detail(), ipckit_last_error(rx));
    ck_assert_int_eq(ipckit_fd(NULL), -EINVAL);
    ck_assert_msg(strstr(ipckit_error_detail(), "fd: ") != NULL, "detail: %s",
                  ipckit_error_detail());

    /* a backend's error without a detail gets one from the core */
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, 60), -ETIMEDOUT);
    ck_assert_ptr_nonnull(strstr(ipckit_last_error(rx), "timed out"));

    ck_assert_int_eq(ipckit_close(tx), 0);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(tk_mem_closes, 2);
    ck_assert_int_eq(ipckit_unlink("mem:q1"), 0);
}
END_TEST

START_TEST(selector_refused_without_cap)
{
    static ipckit_backend nosel;
    ipckit_channel *rx = NULL;
    char buf[8];
    nosel = tk_mem_backend;
    nosel.scheme = "memnosel";
    nosel.caps = IPCKIT_CAP_TYPED;
    ck_assert_int_eq(ipckit_backend_register(&nosel), 0);
    ck_assert_int_eq(ipckit_open(&rx, "memnosel:q2", IPCKIT_RECV | IPCKIT_CREATE, NULL), 0);
    ck_assert_int_eq(ipckit_recv_typed(rx, 5, NULL, buf, sizeof buf, 0), -ENOTSUP);
    ck_assert_int_eq(ipckit_recv_typed(rx, -5, NULL, buf, sizeof buf, 0), -ENOTSUP);
    ck_assert_int_eq(ipckit_recv_typed(rx, 0, NULL, buf, sizeof buf, 0), -EAGAIN);
    ck_assert_int_eq(ipckit_unlink("memnosel:q2"), 0);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_stat_name("memnosel:q2", &(ipckit_stat){ 0 }), -ENOTSUP);
}
END_TEST

static int
dummy_loan(void *state, size_t len, void **buf, const struct timespec *deadline)
{
    (void) state, (void) len, (void) buf, (void) deadline;
    return -EIO;
}

START_TEST(zero_copy_ops_checked)
{
    static ipckit_backend half, claims;
    ipckit_channel *ch = NULL;
    const void *msg;
    void *room;
    long type;
    /* some of the four zero-copy operations but not all: refused */
    half = tk_mem_backend;
    half.scheme = "memhalf";
    half.caps |= IPCKIT_CAP_ZEROCOPY;
    half.loan = dummy_loan;
    ck_assert_int_eq(ipckit_backend_register(&half), -EINVAL);
    ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), "all four"));
    /* an ABI 1 table cannot have them: a claimed capability is dropped */
    claims = tk_mem_backend;
    claims.abi_version = 1;
    claims.scheme = "memclaims";
    claims.caps |= IPCKIT_CAP_ZEROCOPY;
    ck_assert_int_eq(ipckit_backend_register(&claims), 0);
    ck_assert_int_eq(ipckit_open(&ch, "memclaims:zc", IPCKIT_SEND | IPCKIT_RECV | IPCKIT_CREATE,
                                 NULL),
                     0);
    ck_assert_uint_eq(ipckit_caps(ch) & IPCKIT_CAP_ZEROCOPY, 0);
    ck_assert_int_eq(ipckit_send_loan(ch, 1, &room, 0), -ENOTSUP);
    ck_assert_int_eq(ipckit_recv_borrow(ch, &type, &msg, 0), -ENOTSUP);
    ck_assert_ptr_nonnull(strstr(ipckit_last_error(ch), "use ipckit_recv()"));
    ck_assert_int_eq(ipckit_send(ch, "ok", 2, 0), 0); /* the channel itself works */
    ck_assert_int_eq(ipckit_unlink("memclaims:zc"), 0);
    ck_assert_int_eq(ipckit_close(ch), 0);
}
END_TEST

START_TEST(nonblock_flag_zeroes_timeouts)
{
    ipckit_channel *rx = NULL;
    char buf[8];
    ck_assert_int_eq(ipckit_backend_register(&tk_mem_backend), 0);
    ck_assert_int_eq(ipckit_open(&rx, "mem:q3", IPCKIT_RECV | IPCKIT_CREATE | IPCKIT_NONBLOCK, NULL), 0);
    long long t0 = tk_now_ms();
    ck_assert_int_eq(ipckit_recv(rx, buf, sizeof buf, IPCKIT_FOREVER), -EAGAIN);
    ck_assert_int_lt(tk_now_ms() - t0, 1000);
    ck_assert_int_eq(ipckit_close(rx), 0);
    ck_assert_int_eq(ipckit_unlink("mem:q3"), 0);
}
END_TEST

START_TEST(deadline_helpers)
{
    struct timespec d;
    ck_assert_int_eq(ipckit_deadline_ms(NULL), -1);
    ck_assert(!ipckit_deadline_passed(NULL));
    ck_assert_int_eq(ipckit_deadline_error(NULL), -ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &d);
    d.tv_sec += 2;
    int ms = ipckit_deadline_ms(&d);
    ck_assert_int_gt(ms, 1500);
    ck_assert_int_le(ms, 2000);
    ck_assert(!ipckit_deadline_passed(&d));
    ck_assert_int_eq(ipckit_deadline_error(&d), -ETIMEDOUT);
    d.tv_sec -= 3;
    ck_assert(ipckit_deadline_passed(&d));
    ck_assert_int_eq(ipckit_deadline_ms(&d), 0);
    ck_assert_int_eq(ipckit_deadline_sleep(&d, 1000), -ETIMEDOUT);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tk_tcase("core", 10);
    tcase_add_test(tc, strerror_and_names);
    tcase_add_test(tc, version);
    tcase_add_test(tc, opts_init);
    tcase_add_test(tc, opts_init_writes_only_its_version);
    tcase_add_test(tc, open_validation);
    tcase_add_test(tc, deadline_helpers);
    suite_add_tcase(s, tc);
    tc = tk_tcase("backend", 10);
    tcase_add_test(tc, register_validation);
    tcase_add_test(tc, user_backend_through_api);
    tcase_add_test(tc, selector_refused_without_cap);
    tcase_add_test(tc, zero_copy_ops_checked);
    tcase_add_test(tc, nonblock_flag_zeroes_timeouts);
    suite_add_tcase(s, tc);
    return tk_run(s);
}
