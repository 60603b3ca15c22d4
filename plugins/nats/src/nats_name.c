/*
 * nats: names and their parameters: the servers, the queue, the stream and
 * subjects derived from it, credentials and TLS. Grammar in docs/names.md
 * and ipckit-nats(7). Nothing here talks to a server.
 */
#include <ctype.h>
#include <limits.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nats_internal.h"

static const char *const nq_params[] = {
    "stream", "subject", "replicas", "storage", "max_msgs", "user", "password_file",
    "token_file", "creds", "tls", "ca", "cert", "key", "plaintext", "reply_ms", "timeout_ms",
    "bcast", "history", NULL
};

void
nq_conf_free(struct nq_conf *c)
{
    for (int i = 0; i < c->nservers; i++)
        free(c->servers[i]);
    c->nservers = 0;
    if (c->password != NULL) {
        explicit_bzero(c->password, strlen(c->password));
        free(c->password);
    }
    if (c->token != NULL) {
        explicit_bzero(c->token, strlen(c->token));
        free(c->token);
    }
    free(c->user);
    free(c->creds);
    free(c->ca);
    free(c->cert);
    free(c->key);
    memset(c, 0, sizeof *c);
}

static bool
nq_token_char(int ch)
{
    return isalnum(ch) || ch == '_' || ch == '-';
}

/* [A-Za-z0-9_-]+, at most @p max bytes. */
static bool
nq_word(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!nq_token_char((unsigned char) s[i]))
            return false;
    return true;
}

/* Tokens of nq_word() joined by '.', no wildcards. */
static bool
nq_subject_ok(const char *s)
{
    size_t n = strlen(s), tok = 0;
    if (n == 0 || n > NQ_PREFIX_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            if (tok == 0)
                return false;
            tok = 0;
        } else if (!nq_token_char((unsigned char) s[i])) {
            return false;
        } else {
            tok++;
        }
    }
    return tok > 0;
}

bool
nq_host_loopback(const char *host)
{
    unsigned a, b, c, d;
    char rest;
    if (strcmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 ||
        strcmp(host, "::1") == 0)
        return true;
    return sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &rest) == 4 && a == 127 && b < 256 &&
           c < 256 && d < 256;
}

/* One "host[:port]" of the server list into "nats://host:port". */
static int
nq_server(const ipckit_name *name, const char *s, size_t len, struct nq_conf *c)
{
    char host[256];
    const char *port = NULL;
    size_t hlen = len;
    long p = NQ_DEFAULT_PORT;
    char *url;

    if (len == 0)
        return ipckit_backend_fail(-EINVAL, "nats: empty server in \"%s\"", ipckit_name_text(name));
    if (s[0] == '[') { /* [IPv6] */
        const char *close = memchr(s, ']', len);
        if (close == NULL)
            return ipckit_backend_fail(-EINVAL, "nats: unclosed '[' in server \"%.*s\"",
                                       (int) len, s);
        hlen = (size_t) (close - s) + 1;
        if (hlen < len) {
            if (s[hlen] != ':')
                return ipckit_backend_fail(-EINVAL, "nats: bad server \"%.*s\"", (int) len, s);
            port = s + hlen + 1;
        }
    } else {
        const char *colon = memchr(s, ':', len);
        if (colon != NULL) {
            hlen = (size_t) (colon - s);
            port = colon + 1;
        }
    }
    if (hlen == 0 || hlen >= sizeof host)
        return ipckit_backend_fail(-EINVAL, "nats: bad host in server \"%.*s\"", (int) len, s);
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    for (size_t i = 0; i < hlen; i++) {
        unsigned char ch = (unsigned char) host[i];
        if (!(isalnum(ch) || ch == '.' || ch == '-' || ch == ':' || ch == '[' || ch == ']' ||
              ch == '_'))
            return ipckit_backend_fail(-EINVAL, "nats: bad character '%c' in host \"%s\"",
                                       isprint(ch) ? ch : '?', host);
    }
    if (port != NULL) {
        size_t plen = len - (size_t) (port - s);
        char digits[8];
        char *end;
        if (plen == 0 || plen >= sizeof digits)
            return ipckit_backend_fail(-EINVAL, "nats: bad port in server \"%.*s\"", (int) len, s);
        memcpy(digits, port, plen);
        digits[plen] = '\0';
        p = strtol(digits, &end, 10);
        if (*end != '\0' || !isdigit((unsigned char) digits[0]) || p < 1 || p > 65535)
            return ipckit_backend_fail(-EINVAL, "nats: bad port \"%s\" in server \"%.*s\"",
                                       digits, (int) len, s);
    }
    if (c->nservers >= NQ_SERVERS_MAX)
        return ipckit_backend_fail(-EINVAL, "nats: more than %d servers in \"%s\"",
                                   NQ_SERVERS_MAX, ipckit_name_text(name));
    if (asprintf(&url, "nats://%s:%ld", host, p) < 0)
        return -ENOMEM;
    c->servers[c->nservers] = url;
    c->loopback[c->nservers] = nq_host_loopback(host);
    c->nservers++;
    return 0;
}

/*
 * Read a secret (password or token) from @p path: a regular file of the
 * caller (or root) that nobody else may read, at most NQ_SECRET_MAX bytes,
 * without its trailing newline.
 */
static int
nq_secret(const char *what, const char *path, char **out)
{
    char buf[NQ_SECRET_MAX + 2];
    struct stat st;
    ssize_t n;
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return ipckit_backend_fail(-errno, "nats: %s %s: %s", what, path, strerror(errno));
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        (void) close(fd);
        return ipckit_backend_fail(-EINVAL, "nats: %s %s is not a regular file", what, path);
    }
    if ((st.st_uid != geteuid() && st.st_uid != 0) || (st.st_mode & 077) != 0) {
        (void) close(fd);
        return ipckit_backend_fail(-EPERM,
                                   "nats: %s %s is owned by uid %u with mode %04o: it must"
                                   " belong to uid %u (or root) and be readable by its owner"
                                   " only (chmod 600)",
                                   what, path, (unsigned) st.st_uid,
                                   (unsigned) st.st_mode & 07777, (unsigned) geteuid());
    }
    while (len < sizeof buf - 1) {
        n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t) n;
    }
    (void) close(fd);
    if (len > NQ_SECRET_MAX) {
        explicit_bzero(buf, sizeof buf);
        return ipckit_backend_fail(-EINVAL, "nats: %s %s is longer than %d bytes", what, path,
                                   NQ_SECRET_MAX);
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    buf[len] = '\0';
    if (len == 0 || memchr(buf, '\0', len) != NULL) {
        explicit_bzero(buf, sizeof buf);
        return ipckit_backend_fail(-EINVAL, "nats: %s %s is empty or holds a NUL byte", what,
                                   path);
    }
    *out = strdup(buf);
    explicit_bzero(buf, sizeof buf);
    return *out ? 0 : -ENOMEM;
}

/* A file the client reads itself (credentials, TLS keys): only its mode is checked. */
static int
nq_private_file(const char *what, const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return ipckit_backend_fail(-errno, "nats: %s %s: %s", what, path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return ipckit_backend_fail(-EINVAL, "nats: %s %s is not a regular file", what, path);
    if ((st.st_uid != geteuid() && st.st_uid != 0) || (st.st_mode & 077) != 0)
        return ipckit_backend_fail(-EPERM,
                                   "nats: %s %s is owned by uid %u with mode %04o: it must"
                                   " belong to uid %u (or root) and be readable by its owner"
                                   " only (chmod 600)",
                                   what, path, (unsigned) st.st_uid,
                                   (unsigned) st.st_mode & 07777, (unsigned) geteuid());
    return 0;
}

static int
nq_dup_param(const ipckit_name *name, const char *key, char **out)
{
    const char *v = ipckit_name_param(name, key);
    if (v == NULL)
        return 0;
    *out = strdup(v);
    return *out ? 0 : -ENOMEM;
}

static int
nq_bool_param(const ipckit_name *name, const char *key, bool *out)
{
    long v;
    int rc = ipckit_name_param_long(name, key, 0, 1, 0, &v);
    if (rc == 0)
        *out = v != 0;
    return rc;
}

int
nq_conf_parse(const ipckit_name *name, struct nq_conf *c)
{
    const char *t = ipckit_name_target(name), *slash, *p, *v;
    long num;
    int rc;

    memset(c, 0, sizeof *c);
    /* Secrets never go in a name: a process listing shows it. */
    if (ipckit_name_param(name, "password") != NULL || ipckit_name_param(name, "token") != NULL ||
        ipckit_name_param(name, "pass") != NULL)
        return ipckit_backend_fail(-EINVAL,
                                   "nats: a password or token in the name is refused (a process"
                                   " listing would show it): use password_file=, token_file= or"
                                   " creds=");
    /* A byte limit loses acknowledged messages: nats-server (2.9.10 in
     * Debian 12, and 2.10 up to at least 2.10.4) admits a message by its
     * payload and headers, then drops the oldest messages until what it
     * stored (subject and overhead included) fits, discard policy "new" or
     * not (nats-server issue 4771). */
    if (ipckit_name_param(name, "max_bytes") != NULL)
        return ipckit_backend_fail(-EINVAL,
                                   "nats: max_bytes is refused: at its byte limit a stream of"
                                   " nats-server 2.9 (and 2.10 up to at least 2.10.4) drops"
                                   " messages it acknowledged (nats-server issue 4771); limit"
                                   " the queue with max_msgs=");
    rc = ipckit_name_check_params(name, nq_params);
    if (rc < 0)
        return rc;
    if (strncmp(t, "//", 2) != 0)
        return ipckit_backend_fail(-EINVAL,
                                   "nats: name \"%s\": expected nats://HOST[:PORT][,HOST[:PORT]...]"
                                   "/QUEUE",
                                   ipckit_name_text(name));
    t += 2;
    slash = strchr(t, '/');
    if (slash == NULL)
        return ipckit_backend_fail(-EINVAL, "nats: name \"%s\": no /QUEUE after the servers",
                                   ipckit_name_text(name));
    if (memchr(t, '@', (size_t) (slash - t)) != NULL)
        return ipckit_backend_fail(-EINVAL,
                                   "nats: name \"%s\": credentials in the name are refused (a"
                                   " process listing would show them): use user= with"
                                   " password_file=, token_file= or creds=",
                                   ipckit_name_text(name));
    for (p = t; p < slash;) {
        const char *comma = memchr(p, ',', (size_t) (slash - p));
        const char *end = comma ? comma : slash;
        rc = nq_server(name, p, (size_t) (end - p), c);
        if (rc < 0)
            goto fail;
        p = comma ? comma + 1 : slash;
        if (comma && p == slash) {
            rc = ipckit_backend_fail(-EINVAL, "nats: empty server in \"%s\"",
                                     ipckit_name_text(name));
            goto fail;
        }
    }
    if (c->nservers == 0) {
        rc = ipckit_backend_fail(-EINVAL, "nats: name \"%s\" names no server",
                                 ipckit_name_text(name));
        goto fail;
    }
    if (!nq_word(slash + 1, NQ_QUEUE_MAX)) {
        rc = ipckit_backend_fail(-EINVAL,
                                 "nats: queue \"%s\" must be 1 to %d characters of"
                                 " [A-Za-z0-9_-]",
                                 slash + 1, NQ_QUEUE_MAX);
        goto fail;
    }
    (void) snprintf(c->queue, sizeof c->queue, "%s", slash + 1);

    v = ipckit_name_param(name, "stream");
    if (v != NULL && !nq_word(v, NQ_STREAM_MAX)) {
        rc = ipckit_backend_fail(-EINVAL,
                                 "nats: stream \"%s\" must be 1 to %d characters of [A-Za-z0-9_-]",
                                 v, NQ_STREAM_MAX);
        goto fail;
    }
    (void) snprintf(c->stream, sizeof c->stream, "%s%s", v ? "" : "ipckit_", v ? v : c->queue);
    v = ipckit_name_param(name, "subject");
    if (v != NULL && !nq_subject_ok(v)) {
        rc = ipckit_backend_fail(-EINVAL,
                                 "nats: subject \"%s\" must be tokens of [A-Za-z0-9_-] joined by"
                                 " '.', at most %d characters, no wildcards",
                                 v, NQ_PREFIX_MAX);
        goto fail;
    }
    (void) snprintf(c->prefix, sizeof c->prefix, "%s%s", v ? "" : "ipckit.", v ? v : c->queue);
    (void) snprintf(c->all, sizeof c->all, "%s.*", c->prefix);
    (void) snprintf(c->wake, sizeof c->wake, "%s.wake.*", c->prefix);
    (void) snprintf(c->wake_dest, sizeof c->wake_dest, "%s.wake.{{wildcard(1)}}", c->prefix);

    if ((rc = ipckit_name_param_long(name, "replicas", 1, 5, 1, &num)) < 0)
        goto fail;
    c->replicas = (int) num;
    v = ipckit_name_param(name, "storage");
    if (v != NULL && strcmp(v, "file") != 0 && strcmp(v, "memory") != 0) {
        rc = ipckit_backend_fail(-EINVAL, "nats: storage \"%s\" is not file or memory", v);
        goto fail;
    }
    c->memory = v != NULL && strcmp(v, "memory") == 0;
    if ((rc = ipckit_name_param_long(name, "max_msgs", 1, LONG_MAX, -1, &c->max_msgs)) < 0)
        goto fail;
    if ((rc = ipckit_name_param_long(name, "reply_ms", 1, 600000, NQ_REPLY_MS, &c->reply_ms)) < 0)
        goto fail;
    if ((rc = ipckit_name_param_long(name, "timeout_ms", 1, 600000, NQ_ADMIN_MS,
                                     &c->admin_ms)) < 0)
        goto fail;
    if ((rc = nq_bool_param(name, "tls", &c->tls)) < 0 ||
        (rc = nq_bool_param(name, "plaintext", &c->plaintext)) < 0)
        goto fail;

    /* credentials: files only */
    if ((rc = nq_dup_param(name, "user", &c->user)) < 0)
        goto fail;
    v = ipckit_name_param(name, "password_file");
    if (v != NULL && c->user == NULL) {
        rc = ipckit_backend_fail(-EINVAL, "nats: password_file= needs user=");
        goto fail;
    }
    if (c->user != NULL && v == NULL) {
        rc = ipckit_backend_fail(-EINVAL, "nats: user= needs password_file=");
        goto fail;
    }
    if (v != NULL && (rc = nq_secret("password file", v, &c->password)) < 0)
        goto fail;
    v = ipckit_name_param(name, "token_file");
    if (v != NULL && (rc = nq_secret("token file", v, &c->token)) < 0)
        goto fail;
    if ((rc = nq_dup_param(name, "creds", &c->creds)) < 0)
        goto fail;
    if (c->creds != NULL && (rc = nq_private_file("credentials file", c->creds)) < 0)
        goto fail;
    if ((c->password != NULL) + (c->token != NULL) + (c->creds != NULL) > 1) {
        rc = ipckit_backend_fail(-EINVAL,
                                 "nats: give one of password_file=, token_file= and creds=");
        goto fail;
    }
    if ((rc = nq_dup_param(name, "ca", &c->ca)) < 0 ||
        (rc = nq_dup_param(name, "cert", &c->cert)) < 0 ||
        (rc = nq_dup_param(name, "key", &c->key)) < 0)
        goto fail;
    if ((c->cert == NULL) != (c->key == NULL)) {
        rc = ipckit_backend_fail(-EINVAL, "nats: cert= and key= go together");
        goto fail;
    }
    if (c->key != NULL && (rc = nq_private_file("TLS key", c->key)) < 0)
        goto fail;
    if (c->ca != NULL || c->cert != NULL)
        c->tls = true;

    /* A password or token crosses the network in plain text without TLS:
     * only to this machine, unless the name says plaintext=1. */
    if ((c->password != NULL || c->token != NULL) && !c->tls && !c->plaintext) {
        for (int i = 0; i < c->nservers; i++)
            if (!c->loopback[i]) {
                rc = ipckit_backend_fail(-EPERM,
                                         "nats: refusing to send a %s in plain text to %s, which"
                                         " is not this machine: add tls=1 (with ca=), or"
                                         " plaintext=1 to allow it",
                                         c->password ? "password" : "token", c->servers[i]);
                goto fail;
            }
    }
    return 0;
fail:
    nq_conf_free(c);
    return rc;
}

/* The type of a message from its subject, PREFIX.TYPE; 0 if it is not one. */
long
nq_type_of(const struct nq *q, const char *subject)
{
    size_t n = strlen(q->conf.prefix);
    const char *t;
    char *end;
    long v;
    if (subject == NULL || strncmp(subject, q->conf.prefix, n) != 0 || subject[n] != '.')
        return 0;
    t = subject + n + 1;
    if (*t < '1' || *t > '9')
        return 0;
    errno = 0;
    v = strtol(t, &end, 10);
    return errno == 0 && *end == '\0' && v > 0 ? v : 0;
}
