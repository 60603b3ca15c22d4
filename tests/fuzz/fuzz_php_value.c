/*
 * Fuzz target: PHP's serialize format (<ipckit/phpvalue.h>), decoding text
 * whose every byte comes from the fuzzer, as a PHP peer's message or a
 * variable in a hostile segment could hold it. Decoding must refuse or
 * accept without reading past the input or allocating what a count merely
 * claims; what it accepts must encode, and decode again to a value that
 * encodes to the same text (the encoder's text is canonical).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ipckit/ipckit.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Touch every value of a tree through the accessors. */
static void
walk(const ipckit_php_value *v, int depth)
{
    bool b;
    int64_t i;
    double d;
    size_t len;
    if (depth > IPCKIT_PHP_MAX_DEPTH + 1)
        abort();
    switch (ipckit_php_type_of(v)) {
    case IPCKIT_PHP_NULL:
        break;
    case IPCKIT_PHP_BOOL:
        if (ipckit_php_get_bool(v, &b) != 0)
            abort();
        break;
    case IPCKIT_PHP_INT:
        if (ipckit_php_get_int(v, &i) != 0)
            abort();
        break;
    case IPCKIT_PHP_FLOAT:
        if (ipckit_php_get_float(v, &d) != 0)
            abort();
        break;
    case IPCKIT_PHP_STRING: {
        const char *s = ipckit_php_get_string(v, &len);
        if (s == NULL || s[len] != '\0')
            abort();
        break;
    }
    case IPCKIT_PHP_ARRAY:
        for (size_t k = 0; k < ipckit_php_array_count(v); k++) {
            const ipckit_php_value *key = ipckit_php_array_key(v, k);
            int t = ipckit_php_type_of(key);
            if (t != IPCKIT_PHP_INT && t != IPCKIT_PHP_STRING)
                abort();
            walk(ipckit_php_array_value(v, k), depth + 1);
            if (t == IPCKIT_PHP_INT && ipckit_php_get_int(key, &i) == 0 &&
                ipckit_php_array_find_int(v, i) == NULL)
                abort();
        }
        break;
    default:
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ipckit_php_value *v = NULL, *w = NULL;
    int64_t i;
    int rc = ipckit_php_decode(data, size, &v);
    if (rc == 0) {
        ssize_t n, m;
        char *a, *b;
        walk(v, 0);
        n = ipckit_php_encode(v, NULL, 0);
        if (n <= 0)
            abort();
        a = malloc((size_t) n);
        if (a == NULL || ipckit_php_encode(v, a, (size_t) n) != n)
            abort();
        if (ipckit_php_decode(a, (size_t) n, &w) != 0)
            abort();
        m = ipckit_php_encode(w, NULL, 0);
        b = malloc((size_t) (m > 0 ? m : 1));
        if (m != n || b == NULL || ipckit_php_encode(w, b, (size_t) m) != m ||
            memcmp(a, b, (size_t) n) != 0)
            abort();
        free(a);
        free(b);
        ipckit_php_free(w);
        ipckit_php_free(v);
    } else if (v != NULL || (rc != -EBADMSG && rc != -ENOTSUP && rc != -ERANGE &&
                             rc != -ELOOP && rc != -ENOMEM)) {
        abort();
    }
    rc = ipckit_php_decode_int(data, size, &i);
    if (rc != 0 && rc != -EBADMSG && rc != -ERANGE)
        abort();
    return 0;
}
