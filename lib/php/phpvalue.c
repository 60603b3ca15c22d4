/*
 * ipckit: PHP's serialize() format for null, booleans, integers, floats,
 * strings and arrays of them (include/ipckit/phpvalue.h): the values,
 * built and read. The format is read by phpvalue_decode.c and written by
 * phpvalue_encode.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <ipckit/phpvalue.h>

#include "../core/internal.h"
#include "phpvalue_int.h"

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
int
ipckit__php_array_append(ipckit_php_value *arr, ipckit_php_value *key, ipckit_php_value *val)
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
    rc = ipckit__php_array_append(arr, key, val);
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
