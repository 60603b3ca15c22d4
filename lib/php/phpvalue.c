/*
 * ipckit: PHP's serialize() format for null, booleans, integers, floats,
 * strings and arrays of them (include/ipckit/phpvalue.h).
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
 * that remain before it is used or allocated for. The encoder writes what
 * PHP's serialize() writes, floats included (shortest text that reads
 * back to the same double, in zend_gcvt()'s layout for precision 17).
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

struct php_pair {
    ipckit_php_value *key, *val;
};

struct ipckit_php_value {
    int type;
    union {
        bool b;
        int64_t i;
        double d;
        struct {
            char *p; /* len bytes and a NUL */
            size_t len;
        } s;
        struct {
            struct php_pair *v;
            size_t n, cap;
            bool has_int; /* an integer key was ever set: next is max + 1 */
            int64_t max_int;
        } a;
    } u;
};

/* ---- building ------------------------------------------------------------- */

static ipckit_php_value *
value_new(int type)
{
    ipckit_php_value *v = calloc(1, sizeof *v);
    if (v != NULL)
        v->type = type;
    return v;
}

ipckit_php_value *
ipckit_php_new_null(void)
{
    return value_new(IPCKIT_PHP_NULL);
}

ipckit_php_value *
ipckit_php_new_bool(bool b)
{
    ipckit_php_value *v = value_new(IPCKIT_PHP_BOOL);
    if (v != NULL)
        v->u.b = b;
    return v;
}

ipckit_php_value *
ipckit_php_new_int(int64_t i)
{
    ipckit_php_value *v = value_new(IPCKIT_PHP_INT);
    if (v != NULL)
        v->u.i = i;
    return v;
}

ipckit_php_value *
ipckit_php_new_float(double d)
{
    ipckit_php_value *v = value_new(IPCKIT_PHP_FLOAT);
    if (v != NULL)
        v->u.d = d;
    return v;
}

ipckit_php_value *
ipckit_php_new_string(const void *s, size_t len)
{
    ipckit_php_value *v;
    if ((s == NULL && len > 0) || len == SIZE_MAX)
        return NULL;
    v = value_new(IPCKIT_PHP_STRING);
    if (v == NULL)
        return NULL;
    v->u.s.p = malloc(len + 1);
    if (v->u.s.p == NULL) {
        free(v);
        return NULL;
    }
    if (len > 0)
        memcpy(v->u.s.p, s, len);
    v->u.s.p[len] = '\0';
    v->u.s.len = len;
    return v;
}

ipckit_php_value *
ipckit_php_new_array(void)
{
    return value_new(IPCKIT_PHP_ARRAY);
}

void
ipckit_php_free(ipckit_php_value *v)
{
    /* Depth is bounded: the decoder and ipckit_php_array_set() build trees,
     * and a tree deeper than IPCKIT_PHP_MAX_DEPTH cannot be decoded; one a
     * caller nests deeper by hand costs a frame per level, as building it
     * did. */
    if (v == NULL)
        return;
    if (v->type == IPCKIT_PHP_STRING) {
        free(v->u.s.p);
    } else if (v->type == IPCKIT_PHP_ARRAY) {
        for (size_t i = 0; i < v->u.a.n; i++) {
            ipckit_php_free(v->u.a.v[i].key);
            ipckit_php_free(v->u.a.v[i].val);
        }
        free(v->u.a.v);
    }
    free(v);
}

static bool
key_equal(const ipckit_php_value *a, const ipckit_php_value *b)
{
    if (a->type != b->type)
        return false;
    if (a->type == IPCKIT_PHP_INT)
        return a->u.i == b->u.i;
    return a->u.s.len == b->u.s.len && memcmp(a->u.s.p, b->u.s.p, a->u.s.len) == 0;
}

/* Append without looking for an equal key (the caller did, or decodes). */
static int
array_append(ipckit_php_value *arr, ipckit_php_value *key, ipckit_php_value *val)
{
    if (arr->u.a.n == arr->u.a.cap) {
        size_t cap = arr->u.a.cap ? arr->u.a.cap * 2 : 4;
        struct php_pair *nv;
        if (cap > SIZE_MAX / sizeof *nv)
            return -ENOMEM;
        nv = realloc(arr->u.a.v, cap * sizeof *nv);
        if (nv == NULL)
            return -ENOMEM;
        arr->u.a.v = nv;
        arr->u.a.cap = cap;
    }
    arr->u.a.v[arr->u.a.n].key = key;
    arr->u.a.v[arr->u.a.n].val = val;
    arr->u.a.n++;
    if (key->type == IPCKIT_PHP_INT && (!arr->u.a.has_int || key->u.i > arr->u.a.max_int)) {
        arr->u.a.has_int = true;
        arr->u.a.max_int = key->u.i;
    }
    return 0;
}

int
ipckit_php_array_set(ipckit_php_value *arr, ipckit_php_value *key, ipckit_php_value *val)
{
    int rc;
    if (arr == NULL || key == NULL || val == NULL || arr->type != IPCKIT_PHP_ARRAY ||
        (key->type != IPCKIT_PHP_INT && key->type != IPCKIT_PHP_STRING) || key == val ||
        key == arr || val == arr) {
        if (key != arr && key != val)
            ipckit_php_free(key);
        if (val != arr)
            ipckit_php_free(val);
        return ipckit__fail(-EINVAL,
                            "php array set: needs an array, an integer or string key and a"
                            " value, three distinct values");
    }
    for (size_t i = arr->u.a.n; i-- > 0;) {
        if (key_equal(arr->u.a.v[i].key, key)) {
            ipckit_php_free(arr->u.a.v[i].val);
            arr->u.a.v[i].val = val;
            ipckit_php_free(key);
            return 0;
        }
    }
    rc = array_append(arr, key, val);
    if (rc < 0) {
        ipckit_php_free(key);
        ipckit_php_free(val);
    }
    return rc;
}

int
ipckit_php_array_push(ipckit_php_value *arr, ipckit_php_value *val)
{
    int64_t next = 0;
    if (arr == NULL || val == NULL || arr->type != IPCKIT_PHP_ARRAY || val == arr) {
        if (val != arr)
            ipckit_php_free(val);
        return ipckit__fail(-EINVAL, "php array push: needs an array and a value");
    }
    if (arr->u.a.has_int) {
        if (arr->u.a.max_int == INT64_MAX) {
            ipckit_php_free(val);
            return ipckit__fail(-EOVERFLOW,
                                "php array push: the largest key is already %" PRId64,
                                INT64_MAX);
        }
        next = arr->u.a.max_int + 1;
    }
    return ipckit_php_array_set(arr, ipckit_php_new_int(next), val) == 0
               ? 0
               : -ENOMEM; /* the key could not be allocated, or the array not grown */
}

/* ---- reading -------------------------------------------------------------- */

int
ipckit_php_type_of(const ipckit_php_value *v)
{
    return v == NULL ? 0 : v->type;
}

int
ipckit_php_get_bool(const ipckit_php_value *v, bool *out)
{
    if (v == NULL || out == NULL || v->type != IPCKIT_PHP_BOOL)
        return -EINVAL;
    *out = v->u.b;
    return 0;
}

int
ipckit_php_get_int(const ipckit_php_value *v, int64_t *out)
{
    if (v == NULL || out == NULL || v->type != IPCKIT_PHP_INT)
        return -EINVAL;
    *out = v->u.i;
    return 0;
}

int
ipckit_php_get_float(const ipckit_php_value *v, double *out)
{
    if (v == NULL || out == NULL || v->type != IPCKIT_PHP_FLOAT)
        return -EINVAL;
    *out = v->u.d;
    return 0;
}

const char *
ipckit_php_get_string(const ipckit_php_value *v, size_t *len)
{
    if (v == NULL || v->type != IPCKIT_PHP_STRING)
        return NULL;
    if (len != NULL)
        *len = v->u.s.len;
    return v->u.s.p;
}

size_t
ipckit_php_array_count(const ipckit_php_value *arr)
{
    return arr == NULL || arr->type != IPCKIT_PHP_ARRAY ? 0 : arr->u.a.n;
}

const ipckit_php_value *
ipckit_php_array_key(const ipckit_php_value *arr, size_t i)
{
    return i < ipckit_php_array_count(arr) ? arr->u.a.v[i].key : NULL;
}

const ipckit_php_value *
ipckit_php_array_value(const ipckit_php_value *arr, size_t i)
{
    return i < ipckit_php_array_count(arr) ? arr->u.a.v[i].val : NULL;
}

const ipckit_php_value *
ipckit_php_array_find_int(const ipckit_php_value *arr, int64_t key)
{
    for (size_t i = ipckit_php_array_count(arr); i-- > 0;) {
        const ipckit_php_value *k = arr->u.a.v[i].key;
        if (k->type == IPCKIT_PHP_INT && k->u.i == key)
            return arr->u.a.v[i].val;
    }
    return NULL;
}

const ipckit_php_value *
ipckit_php_array_find_string(const ipckit_php_value *arr, const void *key, size_t len)
{
    if (key == NULL && len > 0)
        return NULL;
    for (size_t i = ipckit_php_array_count(arr); i-- > 0;) {
        const ipckit_php_value *k = arr->u.a.v[i].key;
        if (k->type == IPCKIT_PHP_STRING && k->u.s.len == len &&
            (len == 0 || memcmp(k->u.s.p, key, len) == 0))
            return arr->u.a.v[i].val;
    }
    return NULL;
}

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
static double
strtod_c(const char *s)
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

static bool
is_digit(unsigned char ch)
{
    return ch >= '0' && ch <= '9';
}

/* Digits [0-9]+ : how many there are at the cursor (not consumed). */
static size_t
digits_at(const struct cursor *c, size_t from)
{
    size_t n = 0;
    while (from + n < left(c) && is_digit(c->p[from + n]))
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
    *out = strtod_c(tmp);
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
        rc = array_append(arr, key, val); /* within cap: no allocation */
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

/* ---- encoding ---------------------------------------------------------------- */

struct writer {
    unsigned char *buf;
    size_t cap, len;
    bool overflow; /* len no longer fits a size_t */
};

static void
put(struct writer *w, const void *p, size_t n)
{
    if (w->overflow)
        return;
    if (n > SIZE_MAX - w->len) {
        w->overflow = true;
        return;
    }
    if (w->len + n <= w->cap && n > 0)
        memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void
puts_w(struct writer *w, const char *s)
{
    put(w, s, strlen(s));
}

/* The text of a finite non-zero or zero double as PHP's serialize() writes
 * it, into @p out (at least 40 bytes). */
static void
format_double(double d, char *out)
{
    char tmp[48], digits[24], text[48];
    int p, exp10 = 0, ndig = 0, decpt;
    size_t o = 0;

    if (isnan(d)) {
        strcpy(out, "NAN");
        return;
    }
    if (isinf(d)) {
        strcpy(out, d < 0 ? "-INF" : "INF");
        return;
    }
    if (signbit(d))
        out[o++] = '-';
    d = fabs(d);
    if (d == 0) {
        out[o++] = '0';
        out[o] = '\0';
        return;
    }
    /* The fewest significant digits that read back as d. printf rounds
     * correctly; near a power of two the interval of d is lopsided, and a
     * neighbour of the rounded digits may read back where they do not. */
    for (p = 1; p <= 17; p++) {
        bool found = false;
        (void) snprintf(tmp, sizeof tmp, "%.*e", p - 1, d);
        /* digits, whatever the locale's decimal point, then the exponent */
        ndig = 0;
        {
            const char *s = tmp;
            while (*s != '\0' && *s != 'e') {
                if (is_digit((unsigned char) *s))
                    digits[ndig++] = *s;
                s++;
            }
            exp10 = *s == 'e' ? atoi(s + 1) : 0;
        }
        digits[ndig] = '\0';
        for (int delta = 0; delta <= 2 && !found; delta++) {
            char cand[24];
            int carry, k;
            memcpy(cand, digits, (size_t) ndig + 1);
            if (delta > 0) {
                /* delta 1: one unit more in the last place; 2: one less */
                carry = 1;
                for (k = ndig - 1; k >= 0 && carry; k--) {
                    if (delta == 1) {
                        if (cand[k] == '9') {
                            cand[k] = '0';
                        } else {
                            cand[k]++;
                            carry = 0;
                        }
                    } else {
                        if (cand[k] == '0') {
                            cand[k] = '9';
                        } else {
                            cand[k]--;
                            carry = 0;
                        }
                    }
                }
                if (carry || cand[0] == '0')
                    continue; /* the number of digits would change */
            }
            if (ndig == 1)
                (void) snprintf(text, sizeof text, "%ce%d", cand[0], exp10);
            else
                (void) snprintf(text, sizeof text, "%c.%se%d", cand[0], cand + 1, exp10);
            if (strtod_c(text) == d) {
                memcpy(digits, cand, (size_t) ndig + 1);
                found = true;
            }
        }
        if (found)
            break;
    }
    if (p > 17) {
        /* 17 digits always read back; only reached if strtod disagrees */
        (void) snprintf(tmp, sizeof tmp, "%.16e", d);
        ndig = 0;
        for (const char *s = tmp; *s != '\0' && *s != 'e'; s++)
            if (is_digit((unsigned char) *s))
                digits[ndig++] = *s;
        digits[ndig] = '\0';
        exp10 = atoi(strchr(tmp, 'e') + 1);
    }
    while (ndig > 1 && digits[ndig - 1] == '0')
        digits[--ndig] = '\0';
    decpt = exp10 + 1; /* d = 0.DIGITS x 10^decpt */
    if (decpt < -3 || decpt > 17) {
        int e = decpt - 1;
        out[o++] = digits[0];
        out[o++] = '.';
        if (ndig == 1)
            out[o++] = '0';
        for (int i = 1; i < ndig; i++)
            out[o++] = digits[i];
        (void) snprintf(out + o, 16, "E%c%d", e < 0 ? '-' : '+', e < 0 ? -e : e);
        return;
    }
    if (decpt <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -decpt; i++)
            out[o++] = '0';
        for (int i = 0; i < ndig; i++)
            out[o++] = digits[i];
        out[o] = '\0';
        return;
    }
    for (int i = 0; i < decpt; i++)
        out[o++] = i < ndig ? digits[i] : '0';
    if (ndig > decpt) {
        out[o++] = '.';
        for (int i = decpt; i < ndig; i++)
            out[o++] = digits[i];
    }
    out[o] = '\0';
}

static int
encode(struct writer *w, const ipckit_php_value *v, int depth)
{
    char num[64];
    switch (v->type) {
    case IPCKIT_PHP_NULL:
        puts_w(w, "N;");
        return 0;
    case IPCKIT_PHP_BOOL:
        puts_w(w, v->u.b ? "b:1;" : "b:0;");
        return 0;
    case IPCKIT_PHP_INT:
        (void) snprintf(num, sizeof num, "i:%" PRId64 ";", v->u.i);
        puts_w(w, num);
        return 0;
    case IPCKIT_PHP_FLOAT:
        puts_w(w, "d:");
        format_double(v->u.d, num);
        puts_w(w, num);
        puts_w(w, ";");
        return 0;
    case IPCKIT_PHP_STRING:
        (void) snprintf(num, sizeof num, "s:%zu:\"", v->u.s.len);
        puts_w(w, num);
        put(w, v->u.s.p, v->u.s.len);
        puts_w(w, "\";");
        return 0;
    case IPCKIT_PHP_ARRAY:
        if (depth >= IPCKIT_PHP_MAX_DEPTH)
            return ipckit__fail(-ELOOP, "php encode: arrays nested deeper than %d",
                                IPCKIT_PHP_MAX_DEPTH);
        (void) snprintf(num, sizeof num, "a:%zu:{", v->u.a.n);
        puts_w(w, num);
        for (size_t i = 0; i < v->u.a.n; i++) {
            int rc = encode(w, v->u.a.v[i].key, depth + 1);
            if (rc == 0)
                rc = encode(w, v->u.a.v[i].val, depth + 1);
            if (rc < 0)
                return rc;
        }
        puts_w(w, "}");
        return 0;
    default:
        return ipckit__fail(-EINVAL, "php encode: a value of unknown type %d", v->type);
    }
}

ssize_t
ipckit_php_encode(const ipckit_php_value *v, void *buf, size_t cap)
{
    struct writer w = { buf, cap, 0, false };
    int rc;
    ipckit__detail_clear();
    if (v == NULL || (buf == NULL && cap > 0))
        return ipckit__fail(-EINVAL, "php encode: NULL value, or NULL buffer with cap %zu",
                            cap);
    rc = encode(&w, v, 0);
    if (rc < 0)
        return rc;
    if (w.overflow || w.len > (size_t) SSIZE_MAX)
        return ipckit__fail(-EOVERFLOW, "php encode: the text would be longer than SSIZE_MAX");
    return (ssize_t) w.len;
}

ssize_t
ipckit_php_encode_int(int64_t i, void *buf, size_t cap)
{
    char num[32];
    int n;
    if (buf == NULL && cap > 0)
        return ipckit__fail(-EINVAL, "php encode: NULL buffer with cap %zu", cap);
    n = snprintf(num, sizeof num, "i:%" PRId64 ";", i);
    if ((size_t) n <= cap)
        memcpy(buf, num, (size_t) n);
    return n;
}
