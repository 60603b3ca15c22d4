/*
 * Unit tests of the name parser: "scheme:target?key=value&...".
 */
#include <errno.h>
#include <string.h>
#include <sys/ipc.h>

#include <ipckit/ipckit.h>
#include <ipckit/backend.h>

#include "testkit.h"

static ipckit_name *
parse_ok(const char *text)
{
    ipckit_name *n = NULL;
    int rc = ipckit_name_parse(text, &n);
    ck_assert_msg(rc == 0, "parse(\"%s\") = %s: %s", text, ipckit_errname(rc),
                  ipckit_error_detail());
    ck_assert_ptr_nonnull(n);
    return n;
}

static void
parse_bad(const char *text, const char *detail_part)
{
    ipckit_name *n = (ipckit_name *) 1;
    int rc = ipckit_name_parse(text, &n);
    ck_assert_msg(rc == -EINVAL, "parse(\"%s\") = %d, want -EINVAL", text, rc);
    ck_assert_ptr_null(n);
    ck_assert_msg(strstr(ipckit_error_detail(), detail_part) != NULL,
                  "detail for \"%s\" is \"%s\", want it to mention \"%s\"", text,
                  ipckit_error_detail(), detail_part);
}

START_TEST(simple_name)
{
    ipckit_name *n = parse_ok("fifo:/tmp/app.pipe");
    ck_assert_str_eq(ipckit_name_scheme(n), "fifo");
    ck_assert_str_eq(ipckit_name_target(n), "/tmp/app.pipe");
    ck_assert_str_eq(ipckit_name_text(n), "fifo:/tmp/app.pipe");
    ck_assert_uint_eq(ipckit_name_param_count(n), 0);
    ck_assert_ptr_null(ipckit_name_param(n, "proj"));
    ipckit_name_free(n);
}
END_TEST

START_TEST(params_and_escapes)
{
    ipckit_name *n = parse_ok("mq:/srv/a%3Fb%26c?proj=m&perm=0644&stream");
    long v = 0;
    ck_assert_str_eq(ipckit_name_scheme(n), "mq");
    ck_assert_str_eq(ipckit_name_target(n), "/srv/a?b&c");
    ck_assert_uint_eq(ipckit_name_param_count(n), 3);
    ck_assert_str_eq(ipckit_name_param(n, "proj"), "m");
    ck_assert_str_eq(ipckit_name_param(n, "perm"), "0644");
    ck_assert_str_eq(ipckit_name_param(n, "stream"), "1");
    ck_assert_str_eq(ipckit_name_param_key(n, 1), "perm");
    ck_assert_str_eq(ipckit_name_param_value(n, 0), "m");
    ck_assert_ptr_null(ipckit_name_param_key(n, 3));
    ck_assert_int_eq(ipckit_name_param_long(n, "perm", 0, 0777, 0600, &v), 0);
    ck_assert_int_eq(v, 0644);
    ck_assert_int_eq(ipckit_name_param_long(n, "absent", 0, 10, 7, &v), 0);
    ck_assert_int_eq(v, 7);
    ck_assert_int_eq(ipckit_name_param_long(n, "proj", 0, 10, 7, &v), -EINVAL);
    ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), "proj"));
    ck_assert_int_eq(ipckit_name_param_long(n, "perm", 0, 0400, 0, &v), -EINVAL);
    ipckit_name_free(n);
}
END_TEST

START_TEST(empty_value_allowed)
{
    ipckit_name *n = parse_ok("x:t?a=");
    ck_assert_str_eq(ipckit_name_param(n, "a"), "");
    ipckit_name_free(n);
}
END_TEST

START_TEST(bad_names)
{
    parse_bad("", "empty");
    parse_bad("fifo", "no ':'");
    parse_bad(":/tmp/x", "empty scheme");
    parse_bad("Fifo:/tmp/x", "scheme at offset 0");
    parse_bad("fi_fo:/tmp/x", "scheme at offset 2");
    parse_bad("fifo:", "empty target");
    parse_bad("fifo:?a=1", "empty target");
    parse_bad("fifo:/x?", "'?' with no parameters");
    parse_bad("fifo:/x?a=1&", "trailing '&'");
    parse_bad("fifo:/x?a=1&&b=2", "empty parameter at offset 12");
    parse_bad("fifo:/x?=1", "empty parameter at offset 8");
    parse_bad("fifo:/x?A=1", "parameter name at offset 8");
    parse_bad("fifo:/x?a=1&a=2", "\"a\" given twice");
    parse_bad("fifo:/x%zz", "%-escape in the target at offset 7");
    parse_bad("fifo:/x%4", "%-escape in the target");
    parse_bad("fifo:/x?a=%00", "%00 in the parameter value");
    parse_bad("fifo:/x\ty", "control character in the target at offset 7");
    parse_bad("abcdefghijabcdefghijabcdefghijabc:/x", "scheme longer than");
}
END_TEST

START_TEST(too_long_and_null)
{
    static char big[5000];
    ipckit_name *n = NULL;
    memset(big, 'a', sizeof big - 1);
    memcpy(big, "fifo:/", 6);
    ck_assert_int_eq(ipckit_name_parse(big, &n), -EINVAL);
    ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), "longer than"));
    ck_assert_int_eq(ipckit_name_parse(NULL, &n), -EINVAL);
    ck_assert_int_eq(ipckit_name_parse("fifo:/x", NULL), -EINVAL);
}
END_TEST

START_TEST(too_many_params)
{
    char text[1024] = "x:t?";
    ipckit_name *n = NULL;
    for (int i = 0; i < 33; i++) {
        char p[16];
        snprintf(p, sizeof p, "%sk%d=1", i ? "&" : "", i);
        strcat(text, p);
    }
    ck_assert_int_eq(ipckit_name_parse(text, &n), -EINVAL);
    ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), "more than 32"));
}
END_TEST

START_TEST(check_params)
{
    static const char *const allowed[] = { "proj", "perm", NULL };
    ipckit_name *n = parse_ok("mq:/x?proj=m&size=3");
    ck_assert_int_eq(ipckit_name_check_params(n, allowed), -EINVAL);
    ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), "unknown parameter \"size\""));
    ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), "known: proj, perm"));
    ipckit_name_free(n);
    n = parse_ok("mq:/x?proj=m");
    ck_assert_int_eq(ipckit_name_check_params(n, allowed), 0);
    ipckit_name_free(n);
}
END_TEST

START_TEST(sysv_numeric_keys)
{
    key_t k = 0;
    ipckit_name *n = parse_ok("mq:0x1c2d3e4f");
    ck_assert_int_eq(ipckit_name_sysv_key(n, &k), 0);
    ck_assert_int_eq(k, 0x1c2d3e4f);
    ipckit_name_free(n);
    n = parse_ok("mq:4660");
    ck_assert_int_eq(ipckit_name_sysv_key(n, &k), 0);
    ck_assert_int_eq(k, 4660);
    ipckit_name_free(n);
    n = parse_ok("mq:0xffffffff");
    ck_assert_int_eq(ipckit_name_sysv_key(n, &k), 0);
    ck_assert_uint_eq((unsigned) k, 0xffffffffu);
    ipckit_name_free(n);
    const char *bad[] = { "mq:0", "mq:0x100000000", "mq:12abc", "mq:relative" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = parse_ok(bad[i]);
        ck_assert_msg(ipckit_name_sysv_key(n, &k) == -EINVAL, "%s", bad[i]);
        ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), bad[i]));
        ipckit_name_free(n);
    }
}
END_TEST

START_TEST(sysv_ftok_keys)
{
    char path[512], text[600];
    key_t k = 0;
    ipckit_name *n;
    FILE *fp;
    tk_path(path, sizeof path, "keyfile");
    fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fclose(fp);

    snprintf(text, sizeof text, "mq:%s?proj=m", path);
    n = parse_ok(text);
    ck_assert_int_eq(ipckit_name_sysv_key(n, &k), 0);
    ck_assert_int_eq(k, ftok(path, 'm'));
    ipckit_name_free(n);

    snprintf(text, sizeof text, "mq:%s", path); /* default proj 'i' */
    n = parse_ok(text);
    ck_assert_int_eq(ipckit_name_sysv_key(n, &k), 0);
    ck_assert_int_eq(k, ftok(path, 'i'));
    ipckit_name_free(n);

    snprintf(text, sizeof text, "mq:%s?proj=200", path);
    n = parse_ok(text);
    ck_assert_int_eq(ipckit_name_sysv_key(n, &k), 0);
    ck_assert_int_eq(k, ftok(path, 200));
    ipckit_name_free(n);

    snprintf(text, sizeof text, "mq:%s?proj=256", path);
    n = parse_ok(text);
    ck_assert_int_eq(ipckit_name_sysv_key(n, &k), -EINVAL);
    ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), "proj"));
    ipckit_name_free(n);

    snprintf(text, sizeof text, "mq:%s.missing?proj=m", path);
    n = parse_ok(text);
    ck_assert_int_eq(ipckit_name_sysv_key(n, &k), -ENOENT);
    ck_assert_ptr_nonnull(strstr(ipckit_error_detail(), ".missing"));
    ipckit_name_free(n);
    ck_assert_int_eq(unlink(path), 0);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("names");
    TCase *tc = tk_tcase("parse", 10);
    tcase_add_test(tc, simple_name);
    tcase_add_test(tc, params_and_escapes);
    tcase_add_test(tc, empty_value_allowed);
    tcase_add_test(tc, bad_names);
    tcase_add_test(tc, too_long_and_null);
    tcase_add_test(tc, too_many_params);
    tcase_add_test(tc, check_params);
    tcase_add_test(tc, sysv_numeric_keys);
    tcase_add_test(tc, sysv_ftok_keys);
    suite_add_tcase(s, tc);
    return tk_run(s);
}
