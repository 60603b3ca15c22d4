/*
 * ipckit(1): "ipckit recv", through the channel API, for every scheme alike.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ipckit/ipckit.h>

#include "cli.h"

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
    return cli_report(name, "recv", (int) rc, ipckit_last_error(ch));
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
    struct cli_chan_args a = { false, 0, IPCKIT_FOREVER, 0, NULL };
    struct recv_args r = { 1, 0, OUT_TEXT, '\n', false };
    bool count_given = false;
    ipckit_channel *ch = NULL;
    const char *name, *pid_file = NULL;
    long v;
    int opt, rc;

    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":n:w:t:xr0pcm:s:P:T:", longopts, NULL)) != -1) {
        switch (opt) {
        case 'n':
            if (!cli_parse_long(optarg, 0, LONG_MAX, &r.count))
                return cli_bad_value("--count", optarg, "a number >= 0");
            count_given = true;
            break;
        case 'w':
            if (!cli_parse_long(optarg, -1, INT_MAX, &v))
                return cli_bad_value("--timeout", optarg, "milliseconds, or -1 for forever");
            a.timeout = (int) v;
            break;
        case 't':
            if (!cli_parse_long(optarg, -LONG_MAX, LONG_MAX, &r.selector))
                return cli_bad_value("--type", optarg, "a number");
            break;
        case 'x': r.format = OUT_HEX; break;
        case 'r': r.format = OUT_RAW; break;
        case '0': r.delim = '\0'; break;
        case 'p': r.print_type = true; break;
        case 'c': a.create = true; break;
        case 'm':
            if (!cli_parse_mode(optarg, &a.mode))
                return cli_bad_value("--mode", optarg, "an octal mode such as 0600");
            break;
        case 's':
            if (!cli_parse_size(optarg, &a.max_size))
                return cli_bad_value("--max-size", optarg, "a number of bytes");
            break;
        case 'P': pid_file = optarg; break;
        case 'T': a.trust = optarg; break;
        default: return cli_bad_option(opt, argv);
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
    rc = cli_open_channel(&ch, name, IPCKIT_RECV, &a);
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

