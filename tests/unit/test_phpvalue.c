/*
 * Tests of PHP's serialize format (<ipckit/phpvalue.h>): every type both
 * ways, the exact text PHP 8.2's serialize() writes (taken from php-cli),
 * what is refused and why, and hostile input: lengths and counts that do
 * not fit, nesting, every prefix of a good text, and no allocation a count
 * asks for before the input shows it.
 *
 * tests/interop/test_interop_sysvshm.c checks the same against a running
 * php-cli.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ipckit/ipckit.h>

#include "testkit.h"

static ipckit_php_value *
decode_ok(const char *text)
{
    ipckit_php_value *v = NULL;
    int rc = ipckit_php_decode(text, strlen(text), &v);
    ck_assert_msg(rc == 0, "decode \"%s\": %s (%s)", text, ipckit_errname(rc),
                  ipckit_error_detail());
    ck_assert_ptr_nonnull(v);
    return v;
}

static void
decode_fails(const void *text, size_t len, int want)
{
    ipckit_php_value *v = (ipckit_php_value *) (uintptr_t) 1;
    int rc = ipckit_php_decode(text, len, &v);
    ck_assert_msg(rc == want, "decode \"%.*s\": %s, want %s (%s)", (int) len,
                  (const char *) text, ipckit_errname(rc), ipckit_errname(want),
                  ipckit_error_detail());
    ck_assert_ptr_null(v);
    ck_assert_str_ne(ipckit_error_detail(), "");
}

/* Encode @p v and compare with @p want; frees @p v. */
static void
encode_is(ipckit_php_value *v, const char *want)
{
    char buf[512];
    ssize_t n;
    ck_assert_ptr_nonnull(v);
    n = ipckit_php_encode(v, buf, sizeof buf);
    ck_assert_int_eq(n, (ssize_t) strlen(want));
    ck_assert_mem_eq(buf, want, strlen(want));
    /* the length alone, as snprintf() tells it */
    ck_assert_int_eq(ipckit_php_encode(v, NULL, 0), n);
    ipckit_php_free(v);
}

/* Decoding then encoding gives the text back. */
static void
round_trip(const char *text)
{
    encode_is(decode_ok(text), text);
}

START_TEST(scalars_both_ways)
{
    ipckit_php_value *v;
    bool b;
    int64_t i;
    double d;
    size_t len;
    const char *s;

    v = decode_ok("N;");
    ck_assert_int_eq(ipckit_php_type_of(v), IPCKIT_PHP_NULL);
    ck_assert_int_eq(ipckit_php_get_int(v, &i), -EINVAL);
    ipckit_php_free(v);

    v = decode_ok("b:1;");
    ck_assert_int_eq(ipckit_php_type_of(v), IPCKIT_PHP_BOOL);
    ck_assert_int_eq(ipckit_php_get_bool(v, &b), 0);
    ck_assert(b);
    ipckit_php_free(v);

    v = decode_ok("i:-42;");
    ck_assert_int_eq(ipckit_php_get_int(v, &i), 0);
    ck_assert_int_eq(i, -42);
    ck_assert_ptr_null(ipckit_php_get_string(v, &len));
    ipckit_php_free(v);

    v = decode_ok("d:1.5;");
    ck_assert_int_eq(ipckit_php_get_float(v, &d), 0);
    ck_assert(d == 1.5);
    ipckit_php_free(v);

    v = decode_ok("s:5:\"a\"b;c\";");
    s = ipckit_php_get_string(v, &len);
    ck_assert_uint_eq(len, 5);
    ck_assert_mem_eq(s, "a\"b;c", 6); /* and a NUL after it */
    ipckit_php_free(v);

    /* binary: NUL bytes inside a string */
    {
        static const char bin[] = "s:3:\"a\0b\";";
        v = NULL;
        ck_assert_int_eq(ipckit_php_decode(bin, sizeof bin - 1, &v), 0);
        s = ipckit_php_get_string(v, &len);
        ck_assert_uint_eq(len, 3);
        ck_assert_mem_eq(s, "a\0b", 3);
        ipckit_php_free(v);
    }

    round_trip("N;");
    round_trip("b:0;");
    round_trip("b:1;");
    round_trip("i:0;");
    round_trip("i:-9223372036854775808;");
    round_trip("i:9223372036854775807;");
    round_trip("s:0:\"\";");
    round_trip("s:5:\"hello\";");
    round_trip("d:NAN;");
    round_trip("d:INF;");
    round_trip("d:-INF;");
}
END_TEST

/* The forms PHP's unserialize() accepts besides the ones it writes. */
START_TEST(php_accepts_more)
{
    static const struct {
        const char *text;
        double d;
    } floats[] = { { "d:1e3;", 1000 },   { "d:.5;", 0.5 },    { "d:5.;", 5 },
                   { "d:+1;", 1 },       { "d:1E+3;", 1000 }, { "d:-2.5e-1;", -0.25 },
                   { "d:007;", 7 } };
    int64_t i;
    for (size_t k = 0; k < sizeof floats / sizeof floats[0]; k++) {
        ipckit_php_value *v = decode_ok(floats[k].text);
        double d;
        ck_assert_int_eq(ipckit_php_get_float(v, &d), 0);
        ck_assert_msg(d == floats[k].d, "%s: %g", floats[k].text, d);
        ipckit_php_free(v);
    }
    ck_assert_int_eq(ipckit_php_decode_int("i:+7;", 5, &i), 0);
    ck_assert_int_eq(i, 7);
    ck_assert_int_eq(ipckit_php_decode_int("i:007;", 6, &i), 0);
    ck_assert_int_eq(i, 7);
    ck_assert_int_eq(ipckit_php_decode_int("i:-0;", 5, &i), 0);
    ck_assert_int_eq(i, 0);
}
END_TEST

/* serialize() of these doubles in PHP 8.2 (serialize_precision = -1). */
START_TEST(floats_as_php_writes_them)
{
    static const struct {
        double d;
        const char *text;
    } cases[] = {
        { 0.0, "d:0;" },
        { -0.0, "d:-0;" },
        { 1.0, "d:1;" },
        { 1.5, "d:1.5;" },
        { 0.1, "d:0.1;" },
        { 100.0, "d:100;" },
        { 1e15, "d:1000000000000000;" },
        { 1e16, "d:10000000000000000;" },
        { 1e17, "d:1.0E+17;" },
        { 1e25, "d:1.0E+25;" },
        { 123456789012345678.0, "d:1.2345678901234568E+17;" },
        { 0.0001, "d:0.0001;" },
        { 0.00001, "d:1.0E-5;" },
        { 1.0E-10, "d:1.0E-10;" },
        { -2.5e-7, "d:-2.5E-7;" },
        { 3.141592653589793, "d:3.141592653589793;" },
        { 1.0 / 3.0, "d:0.3333333333333333;" },
        { 1.7976931348623157e308, "d:1.7976931348623157E+308;" },
        { 2.2250738585072014e-308, "d:2.2250738585072014E-308;" },
        { 5e-324, "d:5.0E-324;" },
        { 12345678901234567890.0, "d:1.2345678901234567E+19;" },
        { 1e14, "d:100000000000000;" },
        { 999999999999999.0, "d:999999999999999;" },
        { 9007199254740993.0, "d:9007199254740992;" },
        { 0.30000000000000004, "d:0.30000000000000004;" },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ipckit_php_value *v = decode_ok(cases[k].text);
        double d = 0;
        ck_assert_int_eq(ipckit_php_get_float(v, &d), 0);
        ck_assert_msg(d == cases[k].d && signbit(d) == signbit(cases[k].d), "%s read as %.17g",
                      cases[k].text, d);
        ipckit_php_free(v);
        encode_is(ipckit_php_new_float(cases[k].d), cases[k].text);
    }
}
END_TEST

/* Any double: its text reads back as the same double, with no more than
 * 17 significant digits. */
START_TEST(floats_read_back)
{
    unsigned seed = 12345;
    for (int k = 0; k < 20000; k++) {
        uint64_t bits = 0;
        double d, back = 0;
        char buf[64];
        ssize_t n;
        ipckit_php_value *v, *w = NULL;
        for (int j = 0; j < 4; j++)
            bits = (bits << 16) | (uint64_t) (rand_r(&seed) & 0xffff);
        if (k % 4 == 0) /* powers of two and their neighbours */
            bits = ((uint64_t) (rand_r(&seed) % 2046 + 1) << 52) | (uint64_t) (k % 3);
        memcpy(&d, &bits, sizeof d);
        if (isnan(d))
            continue;
        v = ipckit_php_new_float(d);
        n = ipckit_php_encode(v, buf, sizeof buf);
        ck_assert_int_gt(n, 0);
        ck_assert_int_lt(n, 40);
        ck_assert_int_eq(ipckit_php_decode(buf, (size_t) n, &w), 0);
        ck_assert_int_eq(ipckit_php_get_float(w, &back), 0);
        ck_assert_msg(memcmp(&back, &d, sizeof d) == 0, "%.17g wrote %.*s, read %.17g", d,
                      (int) n, buf, back);
        ipckit_php_free(v);
        ipckit_php_free(w);
    }
}
END_TEST

START_TEST(arrays)
{
    ipckit_php_value *a, *inner;
    const ipckit_php_value *e;
    int64_t i;
    size_t len;
    const char *text = "a:4:{i:0;i:1;s:1:\"a\";b:1;i:5;N;s:1:\"x\";a:2:{i:0;d:1.5;i:1;s:3:\"s\"q\";}}";

    /* PHP: serialize([1, "a" => true, 5 => null, "x" => [1.5, "s\"q"]]) */
    a = decode_ok(text);
    ck_assert_int_eq(ipckit_php_type_of(a), IPCKIT_PHP_ARRAY);
    ck_assert_uint_eq(ipckit_php_array_count(a), 4);
    ck_assert_int_eq(ipckit_php_get_int(ipckit_php_array_key(a, 0), &i), 0);
    ck_assert_int_eq(i, 0);
    ck_assert_str_eq(ipckit_php_get_string(ipckit_php_array_key(a, 1), NULL), "a");
    ck_assert_ptr_null(ipckit_php_array_key(a, 4));
    ck_assert_ptr_null(ipckit_php_array_value(a, 4));
    e = ipckit_php_array_find_int(a, 5);
    ck_assert_int_eq(ipckit_php_type_of(e), IPCKIT_PHP_NULL);
    e = ipckit_php_array_find_string(a, "x", 1);
    ck_assert_uint_eq(ipckit_php_array_count(e), 2);
    ck_assert_str_eq(ipckit_php_get_string(ipckit_php_array_find_int(e, 1), &len), "s\"q");
    ck_assert_ptr_null(ipckit_php_array_find_int(a, 6));
    ck_assert_ptr_null(ipckit_php_array_find_string(a, "5", 1)); /* a string key, not 5 */
    encode_is(a, text);

    /* built in C: the same text */
    a = ipckit_php_new_array();
    ck_assert_int_eq(ipckit_php_array_push(a, ipckit_php_new_int(1)), 0);
    ck_assert_int_eq(ipckit_php_array_set(a, ipckit_php_new_string("a", 1),
                                          ipckit_php_new_bool(true)),
                     0);
    ck_assert_int_eq(ipckit_php_array_set(a, ipckit_php_new_int(5), ipckit_php_new_null()), 0);
    inner = ipckit_php_new_array();
    ck_assert_int_eq(ipckit_php_array_push(inner, ipckit_php_new_float(1.5)), 0);
    ck_assert_int_eq(ipckit_php_array_push(inner, ipckit_php_new_string("s\"q", 3)), 0);
    ck_assert_int_eq(ipckit_php_array_set(a, ipckit_php_new_string("x", 1), inner), 0);
    encode_is(a, text);

    /* $a[] after 5 is 6; setting a key again replaces its value in place;
     * after a negative largest key, the next is one above it (PHP 8.2) */
    a = ipckit_php_new_array();
    ck_assert_int_eq(ipckit_php_array_set(a, ipckit_php_new_int(-5), ipckit_php_new_int(1)), 0);
    ck_assert_int_eq(ipckit_php_array_push(a, ipckit_php_new_int(2)), 0);
    ck_assert_int_eq(ipckit_php_array_set(a, ipckit_php_new_int(-5), ipckit_php_new_int(3)), 0);
    encode_is(a, "a:2:{i:-5;i:3;i:-4;i:2;}");
    a = ipckit_php_new_array();
    ck_assert_int_eq(ipckit_php_array_set(a, ipckit_php_new_int(INT64_MAX), ipckit_php_new_null()),
                     0);
    ck_assert_int_eq(ipckit_php_array_push(a, ipckit_php_new_null()), -EOVERFLOW);
    encode_is(a, "a:1:{i:9223372036854775807;N;}");

    /* keys must be integers or strings; the array takes what it is given */
    a = ipckit_php_new_array();
    ck_assert_int_eq(ipckit_php_array_set(a, ipckit_php_new_float(1), ipckit_php_new_null()),
                     -EINVAL);
    ck_assert_int_eq(ipckit_php_array_set(a, NULL, ipckit_php_new_null()), -EINVAL);
    ck_assert_int_eq(ipckit_php_array_set(a, a, ipckit_php_new_null()), -EINVAL);
    ck_assert_int_eq(ipckit_php_array_push(a, a), -EINVAL);
    {
        ipckit_php_value *null = ipckit_php_new_null();
        ck_assert_int_eq(ipckit_php_array_push(null, NULL), -EINVAL);
        ipckit_php_free(null);
    }
    ck_assert_uint_eq(ipckit_php_array_count(a), 0);
    encode_is(a, "a:0:{}");

    /* a key given twice: PHP keeps the later value; so does find */
    a = decode_ok("a:2:{i:5;i:1;i:5;i:2;}");
    ck_assert_uint_eq(ipckit_php_array_count(a), 2);
    ck_assert_int_eq(ipckit_php_get_int(ipckit_php_array_find_int(a, 5), &i), 0);
    ck_assert_int_eq(i, 2);
    ipckit_php_free(a);
}
END_TEST

START_TEST(refused)
{
    static const struct {
        const char *text;
        int rc;
    } cases[] = {
        /* objects, enums, references: never */
        { "O:8:\"stdClass\":0:{}", -ENOTSUP },
        { "C:3:\"Foo\":0:{}", -ENOTSUP },
        { "E:7:\"Foo:Bar\";", -ENOTSUP },
        { "a:1:{i:0;O:8:\"stdClass\":0:{}}", -ENOTSUP },
        { "a:2:{i:0;i:1;i:1;R:2;}", -ENOTSUP },
        { "a:2:{i:0;i:1;i:1;r:2;}", -ENOTSUP },
        { "S:1:\"a\";", -ENOTSUP },
        /* not well-formed, as PHP's unserialize() refuses them too */
        { "", -EBADMSG },
        { "i:;", -EBADMSG },
        { "i:1", -EBADMSG },
        { "i:1;x", -EBADMSG }, /* bytes after the value */
        { "b:2;", -EBADMSG },
        { "d:1e;", -EBADMSG },
        { "d:-NAN;", -EBADMSG },
        { "d:inf;", -EBADMSG },
        { "d:.;", -EBADMSG },
        { "s:1:\"ab\";", -EBADMSG },
        { "s:-1:\"\";", -EBADMSG },
        { "s:3:\"ab\";", -EBADMSG },
        { "a:1:{d:1.5;i:1;}", -EBADMSG },
        { "a:1:{N;i:1;}", -EBADMSG },
        { "a:1:{i:1;i:1;};", -EBADMSG },
        { "a:2:{i:1;i:1;}", -EBADMSG },
        { "a:1:{i:1;i:1;i:2;i:2;}", -EBADMSG },
        { "x:1;", -EBADMSG },
        { "N", -EBADMSG },
        /* numbers outside 64 bits */
        { "i:9223372036854775808;", -ERANGE },
        { "i:-9223372036854775809;", -ERANGE },
        { "i:99999999999999999999;", -ERANGE },
        /* lengths and counts that the input cannot hold: refused before
         * anything is allocated for them */
        { "s:18446744073709551615:\"", -EBADMSG },
        { "s:99999999999999999999999:\"\";", -EBADMSG },
        { "a:1000000000000:{}", -EBADMSG },
        { "a:4611686018427387904:{i:0;N;}", -EBADMSG },
        { "a:2:{i:0;N;}", -EBADMSG },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        decode_fails(cases[k].text, strlen(cases[k].text), cases[k].rc);
    decode_fails(NULL, 1, -EINVAL);
    ck_assert_int_eq(ipckit_php_decode("N;", 2, NULL), -EINVAL);
    ck_assert_int_eq(ipckit_php_encode(NULL, NULL, 0), -EINVAL);
}
END_TEST

START_TEST(nesting_is_bounded)
{
    /* IPCKIT_PHP_MAX_DEPTH arrays in one another decode; one more does not */
    char text[2048];
    size_t o = 0;
    ipckit_php_value *v = NULL, *cur;
    for (int d = 0; d < IPCKIT_PHP_MAX_DEPTH; d++)
        o += (size_t) snprintf(text + o, sizeof text - o, "a:1:{i:0;");
    o += (size_t) snprintf(text + o, sizeof text - o, "N;");
    for (int d = 0; d < IPCKIT_PHP_MAX_DEPTH; d++)
        text[o++] = '}';
    ck_assert_int_eq(ipckit_php_decode(text, o, &v), 0);
    ck_assert_int_eq(ipckit_php_encode(v, NULL, 0), (ssize_t) o);
    ipckit_php_free(v);
    memmove(text + 9, text, o);
    memcpy(text, "a:1:{i:0;", 9);
    text[o + 9] = '}';
    decode_fails(text, o + 10, -ELOOP);

    /* the encoder has the same bound */
    v = ipckit_php_new_null();
    for (int d = 0; d <= IPCKIT_PHP_MAX_DEPTH; d++) {
        cur = ipckit_php_new_array();
        ck_assert_int_eq(ipckit_php_array_push(cur, v), 0);
        v = cur;
    }
    ck_assert_int_eq(ipckit_php_encode(v, NULL, 0), -ELOOP);
    ipckit_php_free(v);
}
END_TEST

/* Every proper prefix of a good text is refused (never read past its end:
 * each prefix is copied to a buffer of exactly its length, which ASan and
 * valgrind watch). */
START_TEST(every_prefix_refused)
{
    const char *text = "a:3:{i:0;s:5:\"hello\";s:1:\"k\";a:1:{i:-1;d:-1.5E-7;}i:9;b:1;}";
    size_t len = strlen(text);
    for (size_t n = 0; n < len; n++) {
        char *p = malloc(n ? n : 1);
        ipckit_php_value *v = NULL;
        int rc;
        memcpy(p, text, n);
        rc = ipckit_php_decode(p, n, &v);
        ck_assert_msg(rc == -EBADMSG, "prefix of %zu bytes: %s", n, ipckit_errname(rc));
        ck_assert_ptr_null(v);
        free(p);
    }
    round_trip(text);
}
END_TEST

START_TEST(int_shortcuts)
{
    char buf[32];
    int64_t i = 1;
    ck_assert_int_eq(ipckit_php_encode_int(42, buf, sizeof buf), 5);
    ck_assert_mem_eq(buf, "i:42;", 5);
    ck_assert_int_eq(ipckit_php_encode_int(INT64_MIN, buf, sizeof buf), 23);
    ck_assert_mem_eq(buf, "i:-9223372036854775808;", 23);
    /* too small: nothing written, the length told */
    memset(buf, 'x', sizeof buf);
    ck_assert_int_eq(ipckit_php_encode_int(42, buf, 4), 5);
    ck_assert_int_eq(buf[0], 'x');
    ck_assert_int_eq(ipckit_php_encode_int(42, NULL, 0), 5);
    ck_assert_int_eq(ipckit_php_encode_int(42, NULL, 5), -EINVAL);

    ck_assert_int_eq(ipckit_php_decode_int("i:42;", 5, &i), 0);
    ck_assert_int_eq(i, 42);
    ck_assert_int_eq(ipckit_php_decode_int("i:42;", 4, &i), -EBADMSG);
    ck_assert_int_eq(ipckit_php_decode_int("s:2:\"42\";", 9, &i), -EBADMSG);
    ck_assert_str_ne(ipckit_error_detail(), "");
    ck_assert_int_eq(ipckit_php_decode_int("i:42; ", 6, &i), -EBADMSG);
    ck_assert_int_eq(ipckit_php_decode_int("i:9223372036854775808;", 22, &i), -ERANGE);
    ck_assert_int_eq(ipckit_php_decode_int(NULL, 0, &i), -EBADMSG);
    ck_assert_int_eq(ipckit_php_decode_int("i:1;", 4, NULL), -EINVAL);
    ck_assert_int_eq(i, 42);
}
END_TEST

START_TEST(constructors_and_types)
{
    ipckit_php_value *v;
    ck_assert_ptr_null(ipckit_php_new_string(NULL, 1));
    v = ipckit_php_new_string(NULL, 0);
    ck_assert_str_eq(ipckit_php_get_string(v, NULL), "");
    encode_is(v, "s:0:\"\";");
    encode_is(ipckit_php_new_int(-1), "i:-1;");
    encode_is(ipckit_php_new_bool(false), "b:0;");
    encode_is(ipckit_php_new_null(), "N;");
    ck_assert_int_eq(ipckit_php_type_of(NULL), 0);
    ck_assert_uint_eq(ipckit_php_array_count(NULL), 0);
    ipckit_php_free(NULL);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("phpvalue");
    TCase *tc = tk_tcase("phpvalue", 60);
    tcase_add_test(tc, scalars_both_ways);
    tcase_add_test(tc, php_accepts_more);
    tcase_add_test(tc, floats_as_php_writes_them);
    tcase_add_test(tc, floats_read_back);
    tcase_add_test(tc, arrays);
    tcase_add_test(tc, refused);
    tcase_add_test(tc, nesting_is_bounded);
    tcase_add_test(tc, every_prefix_refused);
    tcase_add_test(tc, int_shortcuts);
    tcase_add_test(tc, constructors_and_types);
    suite_add_tcase(s, tc);
    return tk_run(s);
}
