/*
 * ipckit: PHP's serialize() format for null, booleans, integers, floats,
 * strings and arrays of them (include/ipckit/phpvalue.h): the decoder.
 *
 * The grammar is the one of PHP's unserialize() (ext/standard/
 * var_unserializer.re) for these types:
 *
 *   N;   b:0; b:1;   i:IV;   d:IV; d:NV; d:NVEXP; d:NAN; d:INF; d:-INF;
 *   s:UIV:"<UIV bytes>";   a:UIV:{ (KEY VALUE)* }   KEY = i:...; | s:...;
 *   IV = [+-]?[0-9]+   UIV = [0-9]+   NV = [+-]?([0-9]*.[0-9]+|[0-9]+.[0-9]*)
 *   NVEXP = (IV|NV)[eE]IV
 *
 * The decoder reads the input once, front to back, through a cursor that
 * never passes its end; each length and count is compared with the bytes
 * that remain before it is used or allocated for. The encoder
 * (phpvalue_encode.c) writes what PHP's serialize() writes.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ipckit/phpvalue.h>

#include "../core/internal.h"
#include "phpvalue_int.h"

/* ---- the C locale for strtod ------------------------------------------------ */

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void
c_locale_init(void)
{
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t) 0);
}

/* strtod() of the NUL-terminated @p s in the C locale, whatever the
 * program's locale says the decimal point is. */
double
ipckit__php_strtod_c(const char *s)
{
    (void) pthread_once(&c_locale_once, c_locale_init);
    if (c_locale != (locale_t) 0)
        return strtod_l(s, NULL, c_locale);
    return strtod(s, NULL);
}

/* ---- decoding --------------------------------------------------------------- */

struct cursor {
    const unsigned char *base, *p, *end;
};

static size_t
left(const struct cursor *c)
{
    return (size_t) (c->end - c->p);
}

static size_t
offset(const struct cursor *c)
{
    return (size_t) (c->p - c->base);
}

static int
bad(const struct cursor *c, const char *what)
{
    return ipckit__fail(-EBADMSG, "php value: %s at offset %zu", what, offset(c));
}

/* Consume the literal @p lit. */
static bool
take(struct cursor *c, const char *lit)
{
    size_t n = strlen(lit);
    if (left(c) < n || memcmp(c->p, lit, n) != 0)
        return false;
    c->p += n;
    return true;
}

/* Digits [0-9]+ : how many there are at the cursor (not consumed). */
static size_t
digits_at(const struct cursor *c, size_t from)
{
    size_t n = 0;
    while (from + n < left(c) && ipckit__php_is_digit(c->p[from + n]))
        n++;
    return n;
}

/*
 * IV = [+-]?[0-9]+ into a 64-bit integer; @p unsigned_only: UIV, no sign.
 * -EBADMSG when there is none, -ERANGE when it does not fit.
 */
static int
parse_iv(struct cursor *c, bool unsigned_only, int64_t *out)
{
    bool neg = false;
    uint64_t v = 0, limit;
    size_t n;
    if (!unsigned_only && left(c) > 0 && (c->p[0] == '+' || c->p[0] == '-')) {
        neg = c->p[0] == '-';
        c->p++;
    }
    n = digits_at(c, 0);
    if (n == 0)
        return bad(c, "expected a number");
    limit = neg ? (uint64_t) INT64_MAX + 1u : (uint64_t) INT64_MAX;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned) (c->p[i] - '0');
        if (v > (limit - d) / 10u)
            return ipckit__fail(-ERANGE,
                                "php value: the number at offset %zu does not fit in 64 bits",
                                offset(c));
        v = v * 10u + d;
    }
    c->p += n;
    if (neg)
        *out = v == (uint64_t) INT64_MAX + 1u ? INT64_MIN : -(int64_t) v;
    else
        *out = (int64_t) v;
    return 0;
}

/*
 * The body of d:...; (after "d:"), up to and not including the ';': NAN,
 * INF, -INF, or IV | NV | NVEXP as PHP's grammar has them.
 */
static int
parse_double(struct cursor *c, double *out)
{
    const unsigned char *start = c->p;
    size_t i = 0, n, len;
    char small[64], *tmp;

    if (take(c, "NAN;")) {
        *out = NAN;
        c->p--;
        return 0;
    }
    if (take(c, "INF;")) {
        *out = INFINITY;
        c->p--;
        return 0;
    }
    if (take(c, "-INF;")) {
        *out = -INFINITY;
        c->p--;
        return 0;
    }
    if (i < left(c) && (c->p[i] == '+' || c->p[i] == '-'))
        i++;
    n = digits_at(c, i);
    i += n;
    if (i < left(c) && c->p[i] == '.') {
        size_t f;
        i++;
        f = digits_at(c, i);
        i += f;
        n += f;
    }
    if (n == 0)
        return bad(c, "expected a float");
    if (i < left(c) && (c->p[i] == 'e' || c->p[i] == 'E')) {
        size_t e;
        i++;
        if (i < left(c) && (c->p[i] == '+' || c->p[i] == '-'))
            i++;
        e = digits_at(c, i);
        if (e == 0) {
            c->p += i;
            return bad(c, "expected the digits of an exponent");
        }
        i += e;
    }
    len = i;
    tmp = len < sizeof small ? small : malloc(len + 1);
    if (tmp == NULL)
        return -ENOMEM;
    memcpy(tmp, start, len);
    tmp[len] = '\0';
    *out = ipckit__php_strtod_c(tmp);
    if (tmp != small)
        free(tmp);
    c->p += len;
    return 0;
}

/* s:UIV:"...";  after the "s:" */
static int
parse_string_body(struct cursor *c, ipckit_php_value **out)
{
    int64_t len;
    int rc = parse_iv(c, true, &len);
    if (rc < 0)
        return rc == -ERANGE ? bad(c, "string length out of range") : rc;
    if (!take(c, ":\""))
        return bad(c, "expected :\" after a string length");
    if ((uint64_t) len > left(c) || left(c) - (size_t) len < 2)
        return ipckit__fail(-EBADMSG,
                            "php value: a string of %" PRId64 " bytes at offset %zu does not"
                            " fit in the %zu bytes left",
                            len, offset(c), left(c));
    if (c->p[len] != '"' || c->p[len + 1] != ';') {
        c->p += len;
        return bad(c, "expected \"; after the bytes of a string");
    }
    *out = ipckit_php_new_string(c->p, (size_t) len);
    if (*out == NULL)
        return -ENOMEM;
    c->p += len + 2;
    return 0;
}

static int parse_value(struct cursor *c, int depth, ipckit_php_value **out);

/* a:UIV:{...}  after the "a:" */
static int
parse_array_body(struct cursor *c, int depth, ipckit_php_value **out)
{
    int64_t count;
    ipckit_php_value *arr;
    int rc;
    if (depth >= IPCKIT_PHP_MAX_DEPTH)
        return ipckit__fail(-ELOOP, "php value: arrays nested deeper than %d at offset %zu",
                            IPCKIT_PHP_MAX_DEPTH, offset(c));
    rc = parse_iv(c, true, &count);
    if (rc < 0)
        return rc == -ERANGE ? bad(c, "array count out of range") : rc;
    if (!take(c, ":{"))
        return bad(c, "expected :{ after an array count");
    /* The smallest entry is "i:0;N;": 6 bytes; then "}". */
    if ((uint64_t) count > (left(c) > 0 ? (left(c) - 1) / 6 : 0))
        return ipckit__fail(-EBADMSG,
                            "php value: an array of %" PRId64 " entries at offset %zu does not"
                            " fit in the %zu bytes left",
                            count, offset(c), left(c));
    arr = ipckit_php_new_array();
    if (arr == NULL)
        return -ENOMEM;
    if (count > 0) {
        arr->u.a.v = calloc((size_t) count, sizeof *arr->u.a.v);
        if (arr->u.a.v == NULL) {
            free(arr);
            return -ENOMEM;
        }
        arr->u.a.cap = (size_t) count;
    }
    for (int64_t i = 0; i < count; i++) {
        ipckit_php_value *key = NULL, *val = NULL;
        if (left(c) >= 2 && (c->p[0] == 'i' || c->p[0] == 's') && c->p[1] == ':') {
            rc = parse_value(c, depth + 1, &key);
        } else {
            rc = bad(c, "expected an integer or string key");
        }
        if (rc == 0)
            rc = parse_value(c, depth + 1, &val);
        if (rc < 0) {
            ipckit_php_free(key);
            ipckit_php_free(arr);
            return rc;
        }
        rc = ipckit__php_array_append(arr, key, val); /* within cap: no allocation */
        if (rc < 0) {
            ipckit_php_free(key);
            ipckit_php_free(val);
            ipckit_php_free(arr);
            return rc;
        }
    }
    if (!take(c, "}")) {
        ipckit_php_free(arr);
        return bad(c, left(c) == 0 ? "unexpected end inside an array"
                                   : "expected } after the entries of an array");
    }
    *out = arr;
    return 0;
}

static int
parse_value(struct cursor *c, int depth, ipckit_php_value **out)
{
    int64_t iv = 0;
    double d = 0;
    int rc;
    unsigned char t;

    *out = NULL;
    if (left(c) == 0)
        return bad(c, "unexpected end, expected a value");
    if (take(c, "N;")) {
        *out = ipckit_php_new_null();
        return *out == NULL ? -ENOMEM : 0;
    }
    if (left(c) < 2 || c->p[1] != ':') {
        return bad(c, "expected a value (N; b: i: d: s: a:)");
    }
    t = c->p[0];
    switch (t) {
    case 'b':
        c->p += 2;
        if (take(c, "0;") || take(c, "1;")) {
            *out = ipckit_php_new_bool(c->p[-2] == '1');
            return *out == NULL ? -ENOMEM : 0;
        }
        return bad(c, "expected 0; or 1; after b:");
    case 'i':
        c->p += 2;
        rc = parse_iv(c, false, &iv);
        if (rc < 0)
            return rc;
        if (!take(c, ";"))
            return bad(c, "expected ; after an integer");
        *out = ipckit_php_new_int(iv);
        return *out == NULL ? -ENOMEM : 0;
    case 'd':
        c->p += 2;
        rc = parse_double(c, &d);
        if (rc < 0)
            return rc;
        if (!take(c, ";"))
            return bad(c, "expected ; after a float");
        *out = ipckit_php_new_float(d);
        return *out == NULL ? -ENOMEM : 0;
    case 's':
        c->p += 2;
        return parse_string_body(c, out);
    case 'a':
        c->p += 2;
        return parse_array_body(c, depth, out);
    case 'O':
    case 'C':
        return ipckit__fail(-ENOTSUP,
                            "php value: an object at offset %zu; ipckit never unserializes"
                            " objects",
                            offset(c));
    case 'E':
        return ipckit__fail(-ENOTSUP,
                            "php value: an enum at offset %zu; ipckit never unserializes"
                            " objects",
                            offset(c));
    case 'r':
    case 'R':
        return ipckit__fail(-ENOTSUP,
                            "php value: a reference (%c:) at offset %zu; ipckit does not"
                            " resolve references",
                            t, offset(c));
    case 'S':
        return ipckit__fail(-ENOTSUP,
                            "php value: an escaped string (S:) at offset %zu, which PHP no"
                            " longer writes",
                            offset(c));
    default:
        return bad(c, "expected a value (N; b: i: d: s: a:)");
    }
}

int
ipckit_php_decode(const void *buf, size_t len, ipckit_php_value **out)
{
    struct cursor c;
    int rc;
    ipckit__detail_clear();
    if (out == NULL)
        return ipckit__fail(-EINVAL, "php decode: out is NULL");
    *out = NULL;
    if (buf == NULL && len > 0)
        return ipckit__fail(-EINVAL, "php decode: NULL buffer with length %zu", len);
    c.base = c.p = buf;
    c.end = c.p + len;
    if (buf == NULL) {
        static const unsigned char empty[1];
        c.base = c.p = c.end = empty;
    }
    rc = parse_value(&c, 0, out);
    if (rc == 0 && left(&c) != 0) {
        rc = ipckit__fail(-EBADMSG, "php value: %zu bytes after the value, at offset %zu",
                          left(&c), offset(&c));
        ipckit_php_free(*out);
        *out = NULL;
    }
    return rc;
}

int
ipckit_php_decode_int(const void *buf, size_t len, int64_t *out)
{
    struct cursor c;
    int64_t v;
    int rc;
    ipckit__detail_clear();
    if (out == NULL || (buf == NULL && len > 0))
        return ipckit__fail(-EINVAL, "php decode: NULL pointer");
    if (buf == NULL)
        return ipckit__fail(-EBADMSG, "php value: empty, expected an integer");
    c.base = c.p = buf;
    c.end = c.p + len;
    if (!take(&c, "i:"))
        return ipckit__fail(-EBADMSG, "php value: not an integer (it starts with \"%.*s\")",
                            (int) (len < 8 ? len : 8), (const char *) buf);
    rc = parse_iv(&c, false, &v);
    if (rc < 0)
        return rc;
    if (!take(&c, ";"))
        return bad(&c, "expected ; after an integer");
    if (left(&c) != 0)
        return ipckit__fail(-EBADMSG, "php value: %zu bytes after the value, at offset %zu",
                            left(&c), offset(&c));
    *out = v;
    return 0;
}
