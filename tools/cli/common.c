/*
 * ipckit(1): what the subcommands share: option errors, names checked
 * before use, errors said once ("ipckit: CMD: NAME: DETAIL (ENAME)"), exit
 * codes, and opening a channel for send and recv.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ipckit/ipckit.h>
#include <ipckit/backend.h>

#include "cli.h"

int
cli_bad_option(int opt, char **argv)
{
    const char *arg = argv[optind - 1];
    if (opt == ':')
        cli_err("option \"%s\" needs a value; see \"ipckit %s --help\"", arg, cli_cmd);
    else if (optopt != 0)
        cli_err("unknown option \"-%c\"; see \"ipckit %s --help\"", optopt, cli_cmd);
    else
        cli_err("unknown option \"%s\"; see \"ipckit %s --help\"", arg, cli_cmd);
    return CLI_USAGE;
}

int
cli_bad_value(const char *opt, const char *value, const char *want)
{
    cli_err("bad value \"%s\" for %s: %s", value, opt, want);
    return CLI_USAGE;
}

/* True when @p d starts with @p word and ": "; *rest is what follows. */
static bool
starts_with_word(const char *d, const char *word, size_t len, const char **rest)
{
    if (len == 0 || strncmp(d, word, len) != 0 || d[len] != ':' || d[len + 1] != ' ')
        return false;
    *rest = d + len + 2;
    return true;
}

/*
 * The library's detail @p d without the words that the line printed before
 * it already says: "ipckit: CMD: NAME: " is followed by a detail that starts
 * with the call ("send: ", "recv: "), the scheme ("fifo: ", "mq: "), or a
 * word and the name itself ("name \"NAME\": ", "stat \"NAME\": "). Those
 * are dropped, as often as they come; the rest is kept as it is.
 */
const char *
cli_detail(const char *d, const char *name)
{
    const char *colon = strchr(name, ':');
    size_t nlen = strlen(name);
    for (;;) {
        const char *rest = NULL, *q;
        if ((cli_cmd != NULL && starts_with_word(d, cli_cmd, strlen(cli_cmd), &rest)) ||
            (colon != NULL && starts_with_word(d, name, (size_t) (colon - name), &rest))) {
            d = rest;
            continue;
        }
        /* WORD "NAME": */
        for (q = d; *q >= 'a' && *q <= 'z'; q++)
            ;
        if (q > d && q[0] == ' ' && q[1] == '"' && strncmp(q + 2, name, nlen) == 0 &&
            strncmp(q + 2 + nlen, "\": ", 3) == 0) {
            d = q + 2 + nlen + 3;
            continue;
        }
        return d;
    }
}

bool
cli_is_sysvshm(const char *name)
{
    return strncmp(name, "sysvshm:", 8) == 0;
}

/*
 * Check that @p name parses and names a registered scheme, so that a
 * malformed name is a usage error (2) and not a failed operation (1).
 */
int
cli_check_name(const char *name)
{
    ipckit_name *n = NULL;
    int rc = ipckit_name_parse(name, &n);
    if (rc < 0) {
        cli_err("%s: %s", name, *ipckit_error_detail() ? cli_detail(ipckit_error_detail(), name)
                                                        : ipckit_strerror(rc));
        return CLI_USAGE;
    }
    if (ipckit_backend_find(ipckit_name_scheme(n)) == NULL) {
        cli_err("%s: unknown scheme \"%s\"; \"ipckit --version\" lists the known ones", name,
                ipckit_name_scheme(n));
        ipckit_name_free(n);
        return CLI_USAGE;
    }
    ipckit_name_free(n);
    return CLI_OK;
}

int
cli_exit_code(int rc)
{
    if (rc == -ETIMEDOUT || rc == -EAGAIN)
        return CLI_NOTHING;
    if (rc == -EPROTONOSUPPORT)
        return CLI_USAGE;
    return CLI_FAIL;
}

/*
 * "NAME: what: detail (ENAME)", each word once: the detail without what the
 * line already says (cli_detail()), and @p what only when it is not the
 * command itself and the detail does not start with it ("open" for the open
 * of send and recv; not "send" in "ipckit: send: NAME: ..."). The detail
 * falls back to strerror.
 */
int
cli_report(const char *name, const char *what, int rc, const char *detail)
{
    const char *d = detail != NULL && *detail ? cli_detail(detail, name) : ipckit_strerror(rc);
    size_t wlen = what != NULL ? strlen(what) : 0;
    if (what != NULL && strcmp(what, cli_cmd) != 0 &&
        !(strncmp(d, what, wlen) == 0 && (d[wlen] == ' ' || d[wlen] == ':')))
        cli_err("%s: %s: %s (%s)", name, what, d, ipckit_errname(rc));
    else
        cli_err("%s: %s (%s)", name, d, ipckit_errname(rc));
    return cli_exit_code(rc);
}

bool
cli_parse_mode(const char *s, unsigned *out)
{
    char *end;
    unsigned long v;
    if (*s == '\0')
        return false;
    errno = 0;
    v = strtoul(s, &end, 8);
    if (errno != 0 || *end != '\0' || v > 07777 || v == 0)
        return false;
    *out = (unsigned) v;
    return true;
}

bool
cli_parse_size(const char *s, size_t *out)
{
    long v;
    if (!cli_parse_long(s, 1, (long) (CLI_BUF_LIMIT > LONG_MAX ? LONG_MAX : CLI_BUF_LIMIT), &v))
        return false;
    *out = (size_t) v;
    return true;
}

/* NAME with "trust=LIST" added to its parameters, %-escaped, in @p buf. */
static int
name_with_trust(const char *name, const char *list, char *buf, size_t cap)
{
    size_t n = (size_t) snprintf(buf, cap, "%s%ctrust=", name, strchr(name, '?') ? '&' : '?');
    for (const char *p = list; *p != '\0'; p++) {
        unsigned char c = (unsigned char) *p;
        if (n + 4 >= cap)
            return -ENAMETOOLONG;
        if (c == '%' || c == '&' || c == '?' || c < 0x20 || c == 0x7f)
            n += (size_t) snprintf(buf + n, cap - n, "%%%02X", c);
        else
            buf[n++] = (char) c;
    }
    buf[n] = '\0';
    return 0;
}

int
cli_open_channel(ipckit_channel **ch, const char *name, unsigned dir, const struct cli_chan_args *a)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    char trusted[8192];
    int rc = cli_check_name(name);
    if (rc != CLI_OK)
        return rc;
    if (a->trust != NULL) {
        if (name_with_trust(name, a->trust, trusted, sizeof trusted) < 0) {
            cli_err("--trust: the name and the list are too long");
            return CLI_USAGE;
        }
        name = trusted;
    }
    o.mode = a->mode;
    o.max_msg_size = a->max_size;
    o.open_timeout_ms = a->timeout;
    rc = ipckit_open(ch, name, dir | (a->create ? IPCKIT_CREATE : 0u), &o);
    if (rc < 0)
        return cli_report(name, "open", rc, ipckit_error_detail());
    return CLI_OK;
}

