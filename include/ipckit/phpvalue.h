/**
 * @file
 * ipckit: PHP's serialize() format, for the values C shares with PHP.
 *
 * The variables of PHP's shm_put_var() (a sysvshm: region) and the
 * messages of PHP's msg_send() with its default serialize=true (an mq:
 * channel) are PHP-serialized text: i:42; d:1.5; b:1; N; s:5:"hello";
 * a:2:{i:0;i:1;i:1;s:1:"x";}. These functions read and write that text for
 * the types C has: null, booleans, integers (64 bits), floats, byte strings
 * and arrays of them, keyed by integers or strings.
 *
 * Refused (-ENOTSUP): objects (O:, C:), enums (E:) and references (r:, R:),
 * which ipckit never unserializes, and the legacy escaped string (S:).
 * Everything else that is not exactly one well-formed value is -EBADMSG.
 *
 * Decoding is safe on hostile input: every length and count is checked
 * against the bytes that remain before anything is allocated, arrays nest
 * at most IPCKIT_PHP_MAX_DEPTH deep, and the memory used is bounded by a
 * small multiple of the input's length. Encoding writes what PHP's
 * serialize() writes for the same value, byte for byte (floats as PHP's
 * serialize_precision = -1 does, shortest round trip).
 *
 * Values: a decoded value, or one built with the ipckit_php_new_*()
 * functions, is a tree owned by the caller and freed with ipckit_php_free().
 * The accessors return pointers into the tree, valid until it is freed.
 * A tree may be used by one thread at a time; distinct trees are
 * independent.
 */
#ifndef IPCKIT_PHPVALUE_H
#define IPCKIT_PHPVALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <ipckit/export.h>

IPCKIT_BEGIN_DECLS

/** Opaque PHP value: a scalar, a string or an array. */
typedef struct ipckit_php_value ipckit_php_value;

/** The type of a value (ipckit_php_type_of()). */
enum ipckit_php_type {
    IPCKIT_PHP_NULL = 1, /**< N; */
    IPCKIT_PHP_BOOL,     /**< b:0; b:1; */
    IPCKIT_PHP_INT,      /**< i:N; a 64-bit integer */
    IPCKIT_PHP_FLOAT,    /**< d:X; a double, INF, -INF and NAN included */
    IPCKIT_PHP_STRING,   /**< s:LEN:"BYTES"; any bytes */
    IPCKIT_PHP_ARRAY     /**< a:N:{KEY;VALUE;...} keys are integers or strings */
};

/** Deepest nesting of arrays that ipckit_php_decode() accepts and
 * ipckit_php_encode() writes (a scalar alone is depth 0). */
#define IPCKIT_PHP_MAX_DEPTH 64

/**
 * Decode @p len bytes of PHP-serialized text, which must hold exactly one
 * value.
 *
 * @param buf the text (need not be NUL-terminated; may hold NUL bytes).
 * @param len its length in bytes.
 * @param out receives the value, to free with ipckit_php_free(); NULL on
 *            failure.
 * @return 0, or -EBADMSG (not well-formed, a length or count that does not
 *         fit the input, bytes after the value), -ENOTSUP (an object, enum,
 *         reference or S: string), -ERANGE (an integer outside 64 bits),
 *         -ELOOP (arrays nested deeper than IPCKIT_PHP_MAX_DEPTH), -EINVAL
 *         (NULL pointers), -ENOMEM. ipckit_error_detail() gives the offset
 *         and the reason.
 */
IPCKIT_API IPCKIT_NODISCARD int ipckit_php_decode(const void *buf, size_t len,
                                                  ipckit_php_value **out);

/**
 * Write the PHP-serialized text of @p v into @p buf, as snprintf() does:
 * nothing beyond @p cap bytes is written, and the return value is the
 * length of the whole text, so that a return above @p cap asks for a larger
 * buffer. No NUL is added.
 *
 * @param v   the value.
 * @param buf where to write; may be NULL when @p cap is 0.
 * @param cap bytes available at @p buf.
 * @return the length of the text (written only when it is <= @p cap), or
 *         -EINVAL (NULL value, or NULL buffer with a non-zero cap), -ELOOP
 *         (nested deeper than IPCKIT_PHP_MAX_DEPTH), -EOVERFLOW (longer than
 *         SSIZE_MAX).
 */
IPCKIT_API ssize_t ipckit_php_encode(const ipckit_php_value *v, void *buf, size_t cap);

/** Free a value and everything in it. NULL is a no-op. */
IPCKIT_API void ipckit_php_free(ipckit_php_value *v);

/** A new null value, or NULL when out of memory. */
IPCKIT_API ipckit_php_value *ipckit_php_new_null(void);
/** A new boolean, or NULL when out of memory. */
IPCKIT_API ipckit_php_value *ipckit_php_new_bool(bool b);
/** A new integer, or NULL when out of memory. */
IPCKIT_API ipckit_php_value *ipckit_php_new_int(int64_t i);
/** A new float, or NULL when out of memory. */
IPCKIT_API ipckit_php_value *ipckit_php_new_float(double d);
/**
 * A new string holding a copy of the @p len bytes at @p s (any bytes; NULL
 * with length 0 is the empty string), or NULL when out of memory or for a
 * NULL @p s with a non-zero length.
 */
IPCKIT_API ipckit_php_value *ipckit_php_new_string(const void *s, size_t len);
/** A new empty array, or NULL when out of memory. */
IPCKIT_API ipckit_php_value *ipckit_php_new_array(void);

/**
 * Set @p key to @p val in array @p arr, replacing the value of an equal key
 * (as PHP's $arr[$key] = $val). The array takes @p key and @p val, even on
 * failure; a value may be put in one array only, once.
 *
 * @param arr an array.
 * @param key an integer or a string (a string of digits stays a string
 *            here; PHP's unserialize() turns "5" into the integer key 5).
 * @param val any value.
 * @return 0, or -EINVAL (@p arr is no array, @p key no integer or string,
 *         a NULL argument), -ENOMEM.
 */
IPCKIT_API int ipckit_php_array_set(ipckit_php_value *arr, ipckit_php_value *key,
                                    ipckit_php_value *val);

/**
 * Append @p val to array @p arr under the next integer key: one above the
 * largest integer key it has had, or 0 (as PHP's $arr[] = $val). The array
 * takes @p val, even on failure.
 *
 * @return 0, or -EINVAL (@p arr is no array, NULL arguments), -EOVERFLOW
 *         (the largest key is INT64_MAX), -ENOMEM.
 */
IPCKIT_API int ipckit_php_array_push(ipckit_php_value *arr, ipckit_php_value *val);

/** The type of @p v (enum ipckit_php_type), or 0 for NULL. */
IPCKIT_API int ipckit_php_type_of(const ipckit_php_value *v);

/** Read a boolean. @return 0, or -EINVAL when @p v is no boolean. */
IPCKIT_API int ipckit_php_get_bool(const ipckit_php_value *v, bool *out);
/** Read an integer. @return 0, or -EINVAL when @p v is no integer. */
IPCKIT_API int ipckit_php_get_int(const ipckit_php_value *v, int64_t *out);
/** Read a float. @return 0, or -EINVAL when @p v is no float. */
IPCKIT_API int ipckit_php_get_float(const ipckit_php_value *v, double *out);

/**
 * The bytes of a string, followed by a NUL that is not part of it (the
 * string may hold NUL bytes of its own: use @p len).
 *
 * @param v   the value.
 * @param len if not NULL, receives the length.
 * @return the bytes, or NULL when @p v is no string.
 */
IPCKIT_API const char *ipckit_php_get_string(const ipckit_php_value *v, size_t *len);

/** Number of entries of an array, in order; 0 for anything else. */
IPCKIT_API size_t ipckit_php_array_count(const ipckit_php_value *arr);

/** The key of entry @p i of an array (an integer or a string), or NULL. */
IPCKIT_API const ipckit_php_value *ipckit_php_array_key(const ipckit_php_value *arr, size_t i);

/** The value of entry @p i of an array, or NULL. */
IPCKIT_API const ipckit_php_value *ipckit_php_array_value(const ipckit_php_value *arr,
                                                          size_t i);

/**
 * The value under integer @p key, or NULL when there is none. When decoded
 * text held a key twice, the later entry is found, as PHP keeps it.
 */
IPCKIT_API const ipckit_php_value *ipckit_php_array_find_int(const ipckit_php_value *arr,
                                                             int64_t key);

/** The value under the string key of @p len bytes at @p key, or NULL. */
IPCKIT_API const ipckit_php_value *ipckit_php_array_find_string(const ipckit_php_value *arr,
                                                                const void *key, size_t len);

/**
 * Write the text of one integer (i:N;) into @p buf, as ipckit_php_encode()
 * does, without building a value: the length (at most 24), written when it
 * is <= @p cap; -EINVAL for a NULL buffer with a non-zero cap.
 */
IPCKIT_API ssize_t ipckit_php_encode_int(int64_t i, void *buf, size_t cap);

/**
 * Decode text that must be exactly one integer (i:N;), as PHP writes it or
 * any form PHP's unserialize() accepts (i:+7; i:007;).
 *
 * @return 0, or -EBADMSG (not one integer; a detail says what it is),
 *         -ERANGE, -EINVAL (NULL pointers).
 */
IPCKIT_API IPCKIT_NODISCARD int ipckit_php_decode_int(const void *buf, size_t len,
                                                      int64_t *out);

IPCKIT_END_DECLS

#endif /* IPCKIT_PHPVALUE_H */
