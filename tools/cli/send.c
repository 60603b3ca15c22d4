/*
 * ipckit(1): "ipckit send", through the channel API, for every scheme alike.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ipckit/ipckit.h>

#include "cli.h"

static int
send_one(ipckit_channel *ch, const char *name, long type, const void *buf, size_t len,
         int timeout)
{
    int rc = ipckit_send_typed(ch, type, buf, len, timeout);
    if (rc < 0)
        return cli_report(name, "send", rc, ipckit_last_error(ch));
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
    struct cli_chan_args a = { false, 0, IPCKIT_FOREVER, 0, NULL };
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
            if (!cli_parse_mode(optarg, &a.mode))
                return cli_bad_value("--mode", optarg, "an octal mode such as 0600");
            break;
        case 't':
            if (!cli_parse_long(optarg, 1, LONG_MAX, &type))
                return cli_bad_value("--type", optarg, "a positive number");
            break;
        case 'w':
            if (!cli_parse_long(optarg, -1, INT_MAX, &v))
                return cli_bad_value("--timeout", optarg, "milliseconds, or -1 for forever");
            a.timeout = (int) v;
            break;
        case 'W': whole = true; break;
        case 'T': a.trust = optarg; break;
        case '0': delim = '\0'; break;
        case 's':
            if (!cli_parse_size(optarg, &a.max_size))
                return cli_bad_value("--max-size", optarg, "a number of bytes");
            break;
        default: return cli_bad_option(opt, argv);
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
    rc = cli_open_channel(&ch, name, IPCKIT_SEND, &a);
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

