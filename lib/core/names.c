/*
 * ipckit: the one parser for channel names, "scheme:target?key=value&...".
 * Grammar in docs/names.md. Every error names the bad part and its offset.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/stat.h>

#include <bsd/string.h>

#include "internal.h"

static int
scheme_char(int c, int first)
{
    if (c >= 'a' && c <= 'z')
        return 1;
    if (first)
        return 0;
    return (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

static int
key_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static int
hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode text[from, to) into dst (room for to - from + 1 bytes). */
static int
decode(const char *text, size_t from, size_t to, char *dst, const char *what)
{
    size_t i = from, o = 0;
    while (i < to) {
        unsigned char c = (unsigned char) text[i];
        if (c == '%') {
            int hi = i + 1 < to ? hexval(text[i + 1]) : -1;
            int lo = i + 2 < to ? hexval(text[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                ipckit__detail_set("name \"%s\": bad %%-escape in the %s at offset %zu"
                                   " (expected %%XX with two hex digits)",
                                   text, what, i);
                return -EINVAL;
            }
            c = (unsigned char) (hi * 16 + lo);
            if (c == 0) {
                ipckit__detail_set("name \"%s\": %%00 in the %s at offset %zu is not allowed",
                                   text, what, i);
                return -EINVAL;
            }
            i += 3;
        } else if (c < 0x20 || c == 0x7f) {
            ipckit__detail_set("name \"%s\": control character in the %s at offset %zu", text,
                               what, i);
            return -EINVAL;
        } else {
            i++;
        }
        dst[o++] = (char) c;
    }
    dst[o] = '\0';
    return 0;
}

int
ipckit_name_parse(const char *text, ipckit_name **out)
{
    size_t len, colon, q, i;
    ipckit_name *n;
    char *p;
    int rc;

    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    if (text == NULL) {
        ipckit__detail_set("name is NULL");
        return -EINVAL;
    }
    len = strnlen(text, IPCKIT__NAME_MAX + 1);
    if (len > IPCKIT__NAME_MAX) {
        ipckit__detail_set("name is longer than %d bytes", IPCKIT__NAME_MAX);
        return -EINVAL;
    }
    if (len == 0) {
        ipckit__detail_set("name is empty (expected scheme:target, e.g. fifo:/tmp/app.pipe)");
        return -EINVAL;
    }
    for (colon = 0; colon < len && text[colon] != ':'; colon++) {
        if (!scheme_char((unsigned char) text[colon], colon == 0)) {
            ipckit__detail_set("name \"%s\": bad character '%c' in the scheme at offset %zu"
                               " (expected [a-z][a-z0-9+.-]*, then ':')",
                               text, isprint((unsigned char) text[colon]) ? text[colon] : '?',
                               colon);
            return -EINVAL;
        }
    }
    if (colon == len) {
        ipckit__detail_set("name \"%s\": no ':' after the scheme (expected scheme:target)", text);
        return -EINVAL;
    }
    if (colon == 0) {
        ipckit__detail_set("name \"%s\": empty scheme before ':'", text);
        return -EINVAL;
    }
    if (colon >= IPCKIT__SCHEME_MAX) {
        ipckit__detail_set("name \"%s\": scheme longer than %d characters", text,
                           IPCKIT__SCHEME_MAX - 1);
        return -EINVAL;
    }
    q = colon + 1;
    while (q < len && text[q] != '?')
        q++;
    if (q == colon + 1) {
        ipckit__detail_set("name \"%s\": empty target after \"%.*s:\"", text, (int) colon, text);
        return -EINVAL;
    }

    /* One allocation: header, a copy of the text, and room for every decoded part. */
    n = calloc(1, sizeof *n + 2 * (len + 1) + 2 * IPCKIT__PARAMS_MAX);
    if (n == NULL)
        return -ENOMEM;
    p = n->storage;
    n->text = p;
    memcpy(p, text, len + 1);
    p += len + 1;
    n->scheme = p;
    memcpy(p, text, colon);
    p[colon] = '\0';
    p += colon + 1;
    n->target = p;
    rc = decode(text, colon + 1, q, p, "target");
    if (rc < 0)
        goto fail;
    p += strlen(p) + 1;

    if (q < len && q + 1 == len) {
        ipckit__detail_set("name \"%s\": '?' with no parameters at offset %zu", text, q);
        rc = -EINVAL;
        goto fail;
    }
    i = q + 1;
    while (q < len && i <= len) {
        size_t ks = i, ke, ve;
        while (i < len && text[i] != '&' && text[i] != '=')
            i++;
        ke = i;
        if (ke == ks) {
            ipckit__detail_set("name \"%s\": empty parameter at offset %zu", text, ks);
            rc = -EINVAL;
            goto fail;
        }
        for (size_t k = ks; k < ke; k++) {
            if (!key_char((unsigned char) text[k])) {
                ipckit__detail_set("name \"%s\": bad character '%c' in parameter name at offset"
                                   " %zu (expected [a-z0-9_])",
                                   text, isprint((unsigned char) text[k]) ? text[k] : '?', k);
                rc = -EINVAL;
                goto fail;
            }
        }
        if (n->nparams == IPCKIT__PARAMS_MAX) {
            ipckit__detail_set("name \"%s\": more than %d parameters", text, IPCKIT__PARAMS_MAX);
            rc = -EINVAL;
            goto fail;
        }
        n->keys[n->nparams] = p;
        memcpy(p, text + ks, ke - ks);
        p[ke - ks] = '\0';
        for (size_t k = 0; k < n->nparams; k++) {
            if (strcmp(n->keys[k], p) == 0) {
                ipckit__detail_set("name \"%s\": parameter \"%s\" given twice (offset %zu)", text,
                                   p, ks);
                rc = -EINVAL;
                goto fail;
            }
        }
        p += ke - ks + 1;
        n->values[n->nparams] = p;
        if (i < len && text[i] == '=') {
            i++;
            ve = i;
            while (ve < len && text[ve] != '&')
                ve++;
            rc = decode(text, i, ve, p, "parameter value");
            if (rc < 0)
                goto fail;
            i = ve;
        } else {
            strcpy(p, "1");
        }
        p += strlen(p) + 1;
        n->nparams++;
        if (i >= len)
            break;
        i++; /* skip '&' */
        if (i == len) {
            ipckit__detail_set("name \"%s\": trailing '&' at offset %zu", text, len - 1);
            rc = -EINVAL;
            goto fail;
        }
    }
    *out = n;
    return 0;
fail:
    free(n);
    return rc;
}

void
ipckit_name_free(ipckit_name *n)
{
    free(n);
}

const char *
ipckit_name_scheme(const ipckit_name *n)
{
    return n ? n->scheme : "";
}

const char *
ipckit_name_target(const ipckit_name *n)
{
    return n ? n->target : "";
}

const char *
ipckit_name_text(const ipckit_name *n)
{
    return n ? n->text : "";
}

const char *
ipckit_name_param(const ipckit_name *n, const char *key)
{
    if (n == NULL || key == NULL)
        return NULL;
    for (size_t i = 0; i < n->nparams; i++)
        if (strcmp(n->keys[i], key) == 0)
            return n->values[i];
    return NULL;
}

size_t
ipckit_name_param_count(const ipckit_name *n)
{
    return n ? n->nparams : 0;
}

const char *
ipckit_name_param_key(const ipckit_name *n, size_t i)
{
    return (n && i < n->nparams) ? n->keys[i] : NULL;
}

const char *
ipckit_name_param_value(const ipckit_name *n, size_t i)
{
    return (n && i < n->nparams) ? n->values[i] : NULL;
}

int
ipckit_name_check_params(const ipckit_name *n, const char *const *allowed)
{
    if (n == NULL)
        return -EINVAL;
    for (size_t i = 0; i < n->nparams; i++) {
        size_t a = 0;
        if (strcmp(n->keys[i], "trust") == 0)
            continue; /* the core's, for every scheme (trust.c) */
        while (allowed != NULL && allowed[a] != NULL && strcmp(allowed[a], n->keys[i]) != 0)
            a++;
        if (allowed == NULL || allowed[a] == NULL) {
            char list[160] = "";
            for (a = 0; allowed != NULL && allowed[a] != NULL; a++) {
                if (a > 0)
                    (void) strlcat(list, ", ", sizeof list);
                (void) strlcat(list, allowed[a], sizeof list);
            }
            ipckit__detail_set("name \"%s\": unknown parameter \"%s\" for scheme %s"
                               " (known: %s)",
                               n->text, n->keys[i], n->scheme,
                               list[0] ? list : "none; trust is known to every scheme");
            return -EINVAL;
        }
    }
    return 0;
}

static int
parse_long(const char *s, long *out)
{
    char *end;
    long v;
    if (*s == '\0' || isspace((unsigned char) *s))
        return -EINVAL;
    errno = 0;
    v = strtol(s, &end, 0);
    if (errno != 0 || *end != '\0')
        return -EINVAL;
    *out = v;
    return 0;
}

int
ipckit_name_param_long(const ipckit_name *n, const char *key, long min, long max, long def,
                       long *out)
{
    const char *v = ipckit_name_param(n, key);
    long val;
    if (out == NULL)
        return -EINVAL;
    if (v == NULL) {
        *out = def;
        return 0;
    }
    if (parse_long(v, &val) < 0 || val < min || val > max) {
        ipckit__detail_set("name \"%s\": parameter %s=\"%s\" is not an integer in [%ld, %ld]",
                           n->text, key, v, min, max);
        return -EINVAL;
    }
    *out = val;
    return 0;
}

int
ipckit__name_sysv_key(const ipckit_name *n, const char *proj_key, long def_proj, key_t *out)
{
    const char *t, *proj_s;
    long proj = def_proj;
    char *end;
    struct stat sb;
    key_t k;

    if (n == NULL || out == NULL)
        return -EINVAL;
    t = n->target;
    if (t[0] >= '0' && t[0] <= '9') {
        unsigned long v;
        errno = 0;
        v = strtoul(t, &end, 0);
        if (errno != 0 || *end != '\0' || v == 0 || v > 0xffffffffUL) {
            ipckit__detail_set("name \"%s\": key \"%s\" is not a number in [1, 0xffffffff]"
                               " (a path must contain '/')",
                               n->text, t);
            return -EINVAL;
        }
        *out = (key_t) (int) (unsigned) v;
        return 0;
    }
    if (strchr(t, '/') == NULL) {
        ipckit__detail_set("name \"%s\": target \"%s\" is neither a numeric key nor a path"
                           " (paths contain '/', e.g. ./%s)",
                           n->text, t, t);
        return -EINVAL;
    }
    proj_s = ipckit_name_param(n, proj_key);
    if (proj_s != NULL) {
        if (proj_s[0] != '\0' && proj_s[1] == '\0') {
            proj = (unsigned char) proj_s[0];
        } else if (parse_long(proj_s, &proj) < 0 || proj < 1 || proj > 255) {
            ipckit__detail_set("name \"%s\": %s=\"%s\" must be one character or a number in"
                               " [1, 255]",
                               n->text, proj_key, proj_s);
            return -EINVAL;
        }
    }
    if (stat(t, &sb) < 0) {
        int e = errno;
        ipckit__detail_set("name \"%s\": ftok path \"%s\": %s", n->text, t,
                           ipckit_strerror(-e));
        return -e;
    }
    k = ftok(t, (int) proj);
    if (k == (key_t) -1) {
        int e = errno;
        ipckit__detail_set("name \"%s\": ftok(\"%s\", %ld) failed", n->text, t, proj);
        return -e;
    }
    *out = k;
    return 0;
}

int
ipckit_name_sysv_key(const ipckit_name *n, key_t *out)
{
    return ipckit__name_sysv_key(n, "proj", 'i', out);
}
