/*
 * ipckit(1): the subcommands that work through the channel API, for every
 * registered scheme alike: send, recv, stat, rm NAME, key.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ipckit/ipckit.h>
#include <ipckit/backend.h>

#include "cli.h"

#define CLI_BUF_LIMIT ((size_t) 1 << 30)
#define CLI_CHUNK 65536u

/* ---- shared helpers ------------------------------------------------------------- */

static int
bad_option(int opt, char **argv)
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

static int
bad_value(const char *opt, const char *value, const char *want)
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

/*
 * Check that @p name parses and names a registered scheme, so that a
 * malformed name is a usage error (2) and not a failed operation (1).
 */
static int
check_name(const char *name)
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

static int
exit_code(int rc)
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
static int
report(const char *name, const char *what, int rc, const char *detail)
{
    const char *d = detail != NULL && *detail ? cli_detail(detail, name) : ipckit_strerror(rc);
    size_t wlen = what != NULL ? strlen(what) : 0;
    if (what != NULL && strcmp(what, cli_cmd) != 0 &&
        !(strncmp(d, what, wlen) == 0 && (d[wlen] == ' ' || d[wlen] == ':')))
        cli_err("%s: %s: %s (%s)", name, what, d, ipckit_errname(rc));
    else
        cli_err("%s: %s (%s)", name, d, ipckit_errname(rc));
    return exit_code(rc);
}

static bool
parse_mode(const char *s, unsigned *out)
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

static bool
parse_size(const char *s, size_t *out)
{
    long v;
    if (!cli_parse_long(s, 1, (long) (CLI_BUF_LIMIT > LONG_MAX ? LONG_MAX : CLI_BUF_LIMIT), &v))
        return false;
    *out = (size_t) v;
    return true;
}

/* Options common to send and recv. */
struct chan_args {
    bool create;
    unsigned mode;
    int timeout;
    size_t max_size;
    const char *trust; /* --trust: users and groups whose objects to attach to */
};

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

static int
open_channel(ipckit_channel **ch, const char *name, unsigned dir, const struct chan_args *a)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    char trusted[8192];
    int rc = check_name(name);
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
        return report(name, "open", rc, ipckit_error_detail());
    return CLI_OK;
}

/* ---- send ------------------------------------------------------------------------- */

static int
send_one(ipckit_channel *ch, const char *name, long type, const void *buf, size_t len,
         int timeout)
{
    int rc = ipckit_send_typed(ch, type, buf, len, timeout);
    if (rc < 0)
        return report(name, "send", rc, ipckit_last_error(ch));
    return CLI_OK;
}

/* Read all of standard input into a buffer. */
static int
read_all(FILE *in, char **out, size_t *len)
{
    size_t cap = CLI_CHUNK, n = 0;
    char *buf = malloc(cap);
    if (buf == NULL)
        return -ENOMEM;
    for (;;) {
        size_t r;
        if (n == cap) {
            char *nb;
            if (cap >= CLI_BUF_LIMIT) {
                free(buf);
                return -EMSGSIZE;
            }
            nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                return -ENOMEM;
            }
            buf = nb;
            cap *= 2;
        }
        r = fread(buf + n, 1, cap - n, in);
        n += r;
        if (r == 0) {
            if (ferror(in)) {
                int e = errno;
                free(buf);
                return -e;
            }
            break;
        }
    }
    *out = buf;
    *len = n;
    return 0;
}

static int
send_stdin(ipckit_channel *ch, const char *name, long type, bool whole, int delim, int timeout,
           bool stream)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = CLI_OK;

    if (whole) {
        size_t len = 0;
        int r = read_all(stdin, &line, &len);
        if (r < 0) {
            cli_err("%s: reading standard input: %s", name, strerror(-r));
            return CLI_FAIL;
        }
        rc = send_one(ch, name, type, line, len, timeout);
        free(line);
        return rc;
    }
    if (stream) {
        /* A byte stream carries standard input as it is. */
        char buf[CLI_CHUNK];
        size_t r;
        while ((r = fread(buf, 1, sizeof buf, stdin)) > 0)
            if ((rc = send_one(ch, name, type, buf, r, timeout)) != CLI_OK)
                return rc;
        if (ferror(stdin)) {
            cli_err("%s: reading standard input: %s", name, strerror(errno));
            return CLI_FAIL;
        }
        return CLI_OK;
    }
    errno = 0;
    while ((n = getdelim(&line, &cap, delim, stdin)) >= 0) {
        size_t len = (size_t) n;
        if (len > 0 && line[len - 1] == (char) delim)
            len--;
        rc = send_one(ch, name, type, line, len, timeout);
        if (rc != CLI_OK)
            break;
    }
    if (rc == CLI_OK && ferror(stdin)) {
        cli_err("%s: reading standard input: %s", name, strerror(errno));
        rc = CLI_FAIL;
    }
    free(line);
    return rc;
}

int
cli_send(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "create", no_argument, NULL, 'c' },    { "mode", required_argument, NULL, 'm' },
        { "type", required_argument, NULL, 't' }, { "timeout", required_argument, NULL, 'w' },
        { "whole", no_argument, NULL, 'W' },     { "null", no_argument, NULL, '0' },
        { "max-size", required_argument, NULL, 's' }, { "trust", required_argument, NULL, 'T' },
        { NULL, 0, NULL, 0 }
    };
    struct chan_args a = { false, 0, IPCKIT_FOREVER, 0, NULL };
    long type = 1, v;
    bool whole = false;
    int delim = '\n', opt, rc;
    ipckit_channel *ch = NULL;
    const char *name;

    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":cm:t:w:W0s:T:", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': a.create = true; break;
        case 'm':
            if (!parse_mode(optarg, &a.mode))
                return bad_value("--mode", optarg, "an octal mode such as 0600");
            break;
        case 't':
            if (!cli_parse_long(optarg, 1, LONG_MAX, &type))
                return bad_value("--type", optarg, "a positive number");
            break;
        case 'w':
            if (!cli_parse_long(optarg, -1, INT_MAX, &v))
                return bad_value("--timeout", optarg, "milliseconds, or -1 for forever");
            a.timeout = (int) v;
            break;
        case 'W': whole = true; break;
        case 'T': a.trust = optarg; break;
        case '0': delim = '\0'; break;
        case 's':
            if (!parse_size(optarg, &a.max_size))
                return bad_value("--max-size", optarg, "a number of bytes");
            break;
        default: return bad_option(opt, argv);
        }
    }
    if (optind >= argc) {
        cli_err("no NAME; usage: ipckit send [OPTIONS] NAME [MESSAGE...]");
        return CLI_USAGE;
    }
    name = argv[optind++];
    if (whole && optind < argc) {
        cli_err("--whole reads standard input; it takes no MESSAGE arguments");
        return CLI_USAGE;
    }
    rc = open_channel(&ch, name, IPCKIT_SEND, &a);
    if (rc != CLI_OK)
        return rc;
    if (optind < argc) {
        bool stream = (ipckit_caps(ch) & IPCKIT_CAP_STREAM) != 0;
        for (; optind < argc && rc == CLI_OK; optind++) {
            const char *m = argv[optind];
            size_t len = strlen(m);
            if (stream) {
                /* Keep the records of a byte stream apart: end each one. */
                char *rec = malloc(len + 1);
                if (rec == NULL) {
                    cli_err("out of memory");
                    rc = CLI_FAIL;
                    break;
                }
                memcpy(rec, m, len);
                rec[len] = (char) delim;
                rc = send_one(ch, name, type, rec, len + 1, a.timeout);
                free(rec);
            } else {
                rc = send_one(ch, name, type, m, len, a.timeout);
            }
        }
    } else {
        rc = send_stdin(ch, name, type, whole, delim, a.timeout,
                        (ipckit_caps(ch) & IPCKIT_CAP_STREAM) != 0);
    }
    (void) ipckit_close(ch);
    return rc;
}

/* ---- recv ------------------------------------------------------------------------- */

enum out_format { OUT_TEXT, OUT_HEX, OUT_RAW };

struct recv_args {
    long count;
    long selector;
    enum out_format format;
    int delim;
    bool print_type;
};

/* Write one message to standard output in the chosen format. */
static int
emit(const struct recv_args *r, long type, const unsigned char *p, size_t len)
{
    if (r->print_type)
        (void) printf("%ld\t", type);
    switch (r->format) {
    case OUT_HEX:
        for (size_t i = 0; i < len; i++)
            (void) printf("%02x", p[i]);
        (void) putchar('\n');
        break;
    case OUT_RAW: (void) fwrite(p, 1, len, stdout); break;
    case OUT_TEXT:
        (void) fwrite(p, 1, len, stdout);
        (void) putchar(r->delim);
        break;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_err("writing standard output: %s", strerror(errno));
        return CLI_FAIL;
    }
    return CLI_OK;
}

/* How a receive that got @p got of @p want messages ended with @p rc. */
static int
recv_end(const char *name, ipckit_channel *ch, ssize_t rc, long got, long want, int timeout)
{
    if (rc == -ETIMEDOUT || rc == -EAGAIN || rc == -EPIPE) {
        if (want == 0 && got > 0)
            return CLI_OK;
        if (rc == -EPIPE && want == 0)
            cli_err("%s: the channel ended with nothing received", name);
        else if (rc == -EPIPE)
            cli_err("%s: the channel ended after %ld of %ld messages", name, got, want);
        else
            cli_err("%s: timed out after %d ms with %ld message%s received", name, timeout, got,
                    got == 1 ? "" : "s");
        return CLI_NOTHING;
    }
    return report(name, "recv", (int) rc, ipckit_last_error(ch));
}

static int
recv_framed(ipckit_channel *ch, const char *name, const struct recv_args *r, int timeout)
{
    size_t cap = ipckit_max_msg_size(ch);
    unsigned char *buf;
    long got = 0;
    int rc = CLI_OK;

    if (cap == 0 || cap > CLI_BUF_LIMIT)
        cap = CLI_BUF_LIMIT;
    buf = malloc(cap);
    if (buf == NULL) {
        cli_err("%s: cannot allocate a buffer of %zu bytes", name, cap);
        return CLI_FAIL;
    }
    while (r->count == 0 || got < r->count) {
        long type = 0;
        ssize_t n = ipckit_recv_typed(ch, r->selector, &type, buf, cap, timeout);
        if (n == -ENOBUFS && (ipckit_caps(ch) & IPCKIT_CAP_BROADCAST)) {
            /* a subscriber that fell behind: say how much it missed, go on */
            cli_err("%s: %s", name, ipckit_last_error(ch));
            continue;
        }
        if (n < 0) {
            rc = recv_end(name, ch, n, got, r->count, timeout);
            break;
        }
        got++;
        if ((rc = emit(r, type, buf, (size_t) n)) != CLI_OK)
            break;
    }
    free(buf);
    return rc;
}

/*
 * A byte stream has no messages: cut it into records at the delimiter. With
 * a count, read one byte at a time so that nothing past the last wanted
 * record is taken from the channel (as the shell's read does).
 */
static int
recv_stream(ipckit_channel *ch, const char *name, const struct recv_args *r, int timeout)
{
    size_t step = r->count > 0 ? 1 : CLI_CHUNK;
    size_t cap = CLI_CHUNK * 2, len = 0, start = 0;
    unsigned char *buf = malloc(cap);
    bool through = r->format == OUT_RAW && r->count == 0;
    long got = 0;
    int rc = CLI_OK;

    if (buf == NULL) {
        cli_err("out of memory");
        return CLI_FAIL;
    }
    while (r->count == 0 || got < r->count) {
        long type;
        ssize_t n;
        if (cap - len < step) {
            unsigned char *nb;
            if (cap >= CLI_BUF_LIMIT) {
                cli_err("%s: a record is longer than %zu bytes", name, CLI_BUF_LIMIT);
                rc = CLI_FAIL;
                break;
            }
            nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                cli_err("out of memory");
                rc = CLI_FAIL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        /* The timeout is the longest wait for more bytes. */
        n = ipckit_recv_typed(ch, r->selector, &type, buf + len, step, timeout);
        if (n < 0) {
            /* A last record without its delimiter is still written. */
            if (len > 0 && (n == -EPIPE || n == -ETIMEDOUT || n == -EAGAIN)) {
                if (emit(r, 1, buf, len) != CLI_OK) {
                    rc = CLI_FAIL;
                    break;
                }
                got++;
            }
            if (r->count > 0 && got >= r->count)
                rc = CLI_OK;
            else
                rc = recv_end(name, ch, n, got, r->count, timeout);
            break;
        }
        if (through) {
            /* Raw bytes until the end: pass them on as they come. */
            if ((rc = emit(r, 1, buf, (size_t) n)) != CLI_OK)
                break;
            got++;
            continue;
        }
        len += (size_t) n;
        /* Write out every complete record. */
        for (size_t i = start; i < len; i++) {
            if (buf[i] != (unsigned char) r->delim)
                continue;
            if (r->format == OUT_RAW)
                rc = emit(r, 1, buf + start, i + 1 - start);
            else
                rc = emit(r, 1, buf + start, i - start);
            start = i + 1;
            got++;
            if (rc != CLI_OK || (r->count > 0 && got >= r->count))
                break;
        }
        if (rc != CLI_OK)
            break;
        memmove(buf, buf + start, len - start);
        len -= start;
        start = 0;
    }
    free(buf);
    return rc;
}

/*
 * Write our pid to @p path once the channel is open, so that a script can
 * wait for the receiver (and address it, for signal:self). The file appears
 * whole: written aside, then renamed. The file aside is created exclusively
 * and never through a symbolic link: the directory may be shared (/tmp), and
 * a file or link planted under that name is refused, never written through
 * or removed.
 */
static int
write_pid_file(const char *path)
{
    char tmp[PATH_MAX], text[32];
    int fd, len;
    bool ok;
    if (snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long) getpid()) >= (int) sizeof tmp) {
        cli_err("%s: path too long", path);
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        if (e == EEXIST)
            cli_err("%s: cannot write the pid file: %s already exists; it is left as it is"
                    " (not written through, not removed)",
                    path, tmp);
        else
            cli_err("%s: cannot write the pid file: create %s: %s", path, tmp, strerror(e));
        return -1;
    }
    len = snprintf(text, sizeof text, "%ld\n", (long) getpid());
    errno = 0;
    ok = write(fd, text, (size_t) len) == (ssize_t) len;
    if (!ok && errno == 0)
        errno = EIO;
    if (close(fd) < 0)
        ok = false;
    if (!ok || rename(tmp, path) < 0) {
        cli_err("%s: cannot write the pid file: %s", path, strerror(errno));
        (void) unlink(tmp); /* ours: created above */
        return -1;
    }
    return 0;
}

int
cli_recv(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "count", required_argument, NULL, 'n' }, { "timeout", required_argument, NULL, 'w' },
        { "type", required_argument, NULL, 't' },  { "hex", no_argument, NULL, 'x' },
        { "raw", no_argument, NULL, 'r' },         { "null", no_argument, NULL, '0' },
        { "print-type", no_argument, NULL, 'p' },  { "create", no_argument, NULL, 'c' },
        { "mode", required_argument, NULL, 'm' },  { "max-size", required_argument, NULL, 's' },
        { "pid-file", required_argument, NULL, 'P' }, { "trust", required_argument, NULL, 'T' },
        { NULL, 0, NULL, 0 }
    };
    struct chan_args a = { false, 0, IPCKIT_FOREVER, 0, NULL };
    struct recv_args r = { 1, 0, OUT_TEXT, '\n', false };
    ipckit_channel *ch = NULL;
    const char *name, *pid_file = NULL;
    bool count_given = false;
    long v;
    int opt, rc;

    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":n:w:t:xr0pcm:s:P:T:", longopts, NULL)) != -1) {
        switch (opt) {
        case 'n':
            if (!cli_parse_long(optarg, 0, LONG_MAX, &r.count))
                return bad_value("--count", optarg, "a number >= 0");
            count_given = true;
            break;
        case 'w':
            if (!cli_parse_long(optarg, -1, INT_MAX, &v))
                return bad_value("--timeout", optarg, "milliseconds, or -1 for forever");
            a.timeout = (int) v;
            break;
        case 't':
            if (!cli_parse_long(optarg, -LONG_MAX, LONG_MAX, &r.selector))
                return bad_value("--type", optarg, "a number");
            break;
        case 'x': r.format = OUT_HEX; break;
        case 'r': r.format = OUT_RAW; break;
        case '0': r.delim = '\0'; break;
        case 'p': r.print_type = true; break;
        case 'c': a.create = true; break;
        case 'm':
            if (!parse_mode(optarg, &a.mode))
                return bad_value("--mode", optarg, "an octal mode such as 0600");
            break;
        case 's':
            if (!parse_size(optarg, &a.max_size))
                return bad_value("--max-size", optarg, "a number of bytes");
            break;
        case 'P': pid_file = optarg; break;
        case 'T': a.trust = optarg; break;
        default: return bad_option(opt, argv);
        }
    }
    if (optind >= argc) {
        cli_err("no NAME; usage: ipckit recv [OPTIONS] NAME");
        return CLI_USAGE;
    }
    if (optind + 1 < argc) {
        cli_err("one NAME only; \"%s\" is one too many", argv[optind + 1]);
        return CLI_USAGE;
    }
    name = argv[optind];
    rc = open_channel(&ch, name, IPCKIT_RECV, &a);
    if (rc != CLI_OK)
        return rc;
    if (pid_file != NULL && write_pid_file(pid_file) < 0) {
        (void) ipckit_close(ch);
        return CLI_FAIL;
    }
    /* a broadcast channel (shm:NAME?bcast=1) is followed, like tail -f */
    if (!count_given && (ipckit_caps(ch) & IPCKIT_CAP_BROADCAST))
        r.count = 0;
    if (ipckit_caps(ch) & IPCKIT_CAP_STREAM)
        rc = recv_stream(ch, name, &r, a.timeout);
    else
        rc = recv_framed(ch, name, &r, a.timeout);
    (void) ipckit_close(ch);
    return rc;
}

/* ---- stat ------------------------------------------------------------------------- */

static void
stat_field(const char *key, long v, bool json, bool *first)
{
    if (json) {
        (void) printf("%s\"%s\": ", *first ? "" : ", ", key);
        if (v < 0)
            (void) fputs("null", stdout);
        else
            (void) printf("%ld", v);
        *first = false;
        return;
    }
    (void) printf("%-14s ", key);
    if (v < 0)
        (void) fputs("-", stdout);
    else
        (void) printf("%ld", v);
    (void) putchar('\n');
}

static void
stat_print(const char *name, const ipckit_stat *s, bool json)
{
    bool first = true;
    int alive = cli_creator_alive(name, s->creator_pid);
    if (json) {
        (void) fputs("{\"name\": ", stdout);
        cli_json_string(stdout, name);
        (void) printf(", \"mode\": \"%04o\"", s->mode);
        first = false;
    } else {
        (void) printf("%-14s %s\n%-14s %04o\n", "name", name, "mode", s->mode);
    }
    stat_field("messages", s->messages, json, &first);
    stat_field("bytes", s->bytes, json, &first);
    stat_field("max_bytes", s->max_bytes, json, &first);
    stat_field("max_msg_size", s->max_msg_size, json, &first);
    stat_field("creator_pid", s->creator_pid, json, &first);
    stat_field("last_send_pid", s->last_send_pid, json, &first);
    stat_field("last_recv_pid", s->last_recv_pid, json, &first);
    if (json)
        (void) printf(", \"creator_alive\": %s}\n",
                      alive < 0 ? "null" : alive ? "true" : "false");
    else
        (void) printf("%-14s %s\n", "creator_alive", alive < 0 ? "-" : alive ? "yes" : "no");
}

/* A region (shm:NAME), which ipckit_stat_name() does not describe. */
static void
stat_region(const char *name, const struct cli_region *g, bool json)
{
    bool first = false;
    int alive = cli_creator_alive(name, g->creator_pid);
    if (json) {
        (void) fputs("{\"name\": ", stdout);
        cli_json_string(stdout, name);
        (void) printf(", \"kind\": \"region\", \"mode\": \"%04o\"", g->mode);
    } else {
        (void) printf("%-14s %s\n%-14s %s\n%-14s %04o\n", "name", name, "kind", "region", "mode",
                      g->mode);
    }
    stat_field("data_size", (long) g->data_size, json, &first);
    stat_field("variables", (long) g->variables, json, &first);
    stat_field("bytes", (long) g->bytes, json, &first);
    stat_field("creator_pid", g->creator_pid, json, &first);
    if (json)
        (void) printf(", \"creator_alive\": %s}\n",
                      alive < 0 ? "null" : alive ? "true" : "false");
    else
        (void) printf("%-14s %s\n", "creator_alive", alive < 0 ? "-" : alive ? "yes" : "no");
}

int
cli_stat(int argc, char **argv)
{
    static const struct option longopts[] = { { "json", no_argument, NULL, 'j' },
                                              { NULL, 0, NULL, 0 } };
    bool json = false;
    int opt, worst = CLI_OK;

    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":j", longopts, NULL)) != -1) {
        if (opt != 'j')
            return bad_option(opt, argv);
        json = true;
    }
    if (optind >= argc) {
        cli_err("no NAME; usage: ipckit stat [--json] NAME...");
        return CLI_USAGE;
    }
    for (int i = optind; i < argc; i++) {
        ipckit_stat s;
        struct cli_region g;
        int rc = check_name(argv[i]), r;
        if (rc != CLI_OK) {
            /* said why */
        } else if ((r = cli_region_stat(argv[i], &g)) != 0) {
            if (r < 0) {
                rc = report(argv[i], NULL, r, g.why);
            } else {
                if (!json && i > optind)
                    (void) putchar('\n');
                stat_region(argv[i], &g, json);
            }
        } else if ((r = ipckit_stat_name(argv[i], &s)) < 0) {
            rc = report(argv[i], NULL, r, ipckit_error_detail());
        } else {
            if (!json && i > optind)
                (void) putchar('\n');
            stat_print(argv[i], &s, json);
        }
        if (rc > worst)
            worst = rc;
    }
    return worst;
}

/* ---- rm ----------------------------------------------------------------------------- */

int
cli_rm(int argc, char **argv)
{
    static const struct option longopts[] = { { "force", no_argument, NULL, 'f' },
                                              { NULL, 0, NULL, 0 } };
    bool force = false;
    int opt, worst = CLI_OK;

    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--stale") == 0)
            return cli_rm_stale(argc, argv);
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":f", longopts, NULL)) != -1) {
        if (opt != 'f')
            return bad_option(opt, argv);
        force = true;
    }
    if (optind >= argc) {
        cli_err("no NAME; usage: ipckit rm [-f] NAME... or ipckit rm --stale");
        return CLI_USAGE;
    }
    for (int i = optind; i < argc; i++) {
        int rc = check_name(argv[i]);
        if (rc == CLI_OK) {
            int r = ipckit_unlink(argv[i]);
            if (r < 0 && !(force && r == -ENOENT))
                rc = report(argv[i], NULL, r, ipckit_error_detail());
        }
        if (rc > worst)
            worst = rc;
    }
    return worst;
}

/* ---- key ---------------------------------------------------------------------------- */

int
cli_key(int argc, char **argv)
{
    int worst = CLI_OK;
    int i = 1;
    if (i < argc && strcmp(argv[i], "--") == 0)
        i++;
    if (i >= argc) {
        cli_err("no NAME; usage: ipckit key NAME...");
        return CLI_USAGE;
    }
    for (; i < argc; i++) {
        ipckit_name *n = NULL;
        key_t key;
        int rc = ipckit_name_parse(argv[i], &n);
        if (rc < 0) {
            cli_err("%s: %s", argv[i], cli_detail(ipckit_error_detail(), argv[i]));
            worst = CLI_USAGE;
            continue;
        }
        rc = ipckit_name_sysv_key(n, &key);
        if (rc < 0) {
            int code = rc == -EINVAL ? CLI_USAGE : CLI_FAIL;
            (void) report(argv[i], NULL, rc, ipckit_error_detail());
            if (code > worst)
                worst = code;
        } else {
            (void) printf("0x%08x\t%s\n", (unsigned) key, argv[i]);
        }
        ipckit_name_free(n);
    }
    return worst;
}
