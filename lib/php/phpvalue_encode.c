/*
 * ipckit: PHP's serialize() format (include/ipckit/phpvalue.h): the
 * encoder. It writes what PHP's serialize() writes, floats included
 * (shortest text that reads back to the same double, in zend_gcvt()'s
 * layout for precision 17). The grammar is in phpvalue_decode.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ipckit/phpvalue.h>

#include "../core/internal.h"
#include "phpvalue_int.h"

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
                if (ipckit__php_is_digit((unsigned char) *s))
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
            if (ipckit__php_strtod_c(text) == d) {
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
            if (ipckit__php_is_digit((unsigned char) *s))
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
