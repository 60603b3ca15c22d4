/*
 * ipckit: what the three files of PHP's serialize() format share
 * (phpvalue.c: the values, built and read; phpvalue_decode.c: the
 * decoder; phpvalue_encode.c: the encoder). Not installed.
 */
#ifndef IPCKIT_PHP_PHPVALUE_INT_H
#define IPCKIT_PHP_PHPVALUE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ipckit/phpvalue.h>

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

/* phpvalue.c: append to the array @p arr without looking for an equal key
 * (the caller did, or decodes); 0 or -ENOMEM. */
int ipckit__php_array_append(ipckit_php_value *arr, ipckit_php_value *key, ipckit_php_value *val);

static inline bool
ipckit__php_is_digit(unsigned char ch)
{
    return ch >= '0' && ch <= '9';
}

/* phpvalue_decode.c: strtod() of the NUL-terminated @p s in the C locale. */
double ipckit__php_strtod_c(const char *s);

#endif /* IPCKIT_PHP_PHPVALUE_INT_H */
