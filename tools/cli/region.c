/*
 * ipckit(1): "ipckit region", which looks at and changes the variables of a
 * region from a shell: an ipckit region (shm:NAME) or PHP's own segment and
 * semaphore set (sysvshm:KEY, sysvshm:PATH), where PHP's shm_put_var()
 * workers keep their state.
 *
 *   ipckit region ls NAME             every variable: key, bytes, value
 *   ipckit region get NAME KEY        one value
 *   ipckit region put NAME KEY VALUE  set one
 *   ipckit region rm NAME KEY...      remove some
 *   ipckit region unlink NAME...      remove the region itself
 *
 * Each command takes the region's lock once, with the --timeout given, and
 * does its work under it, as a worker would. Values on PHP's segment are
 * PHP-serialized text: put checks that VALUE is one (or encodes it with
 * --int or --string), and --php prints what the text holds.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ipckit/ipckit.h>

#include "cli.h"

#define REGION_VALUE_MAX (64u << 20) /* the largest value get and ls read */

const char cli_region_help[] =
    "Look at and change the variables of a region: an ipckit region (shm:NAME)\n"
    "or PHP's own segment and semaphore set (sysvshm:KEY, sysvshm:PATH, where\n"
    "shm_put_var() keeps them), under the region's lock, as a worker would.\n"
    "\n"
    "  ls NAME              every variable: key, length, value (on one line, at\n"
    "                       most 256 bytes of it, escaped)\n"
    "  get NAME KEY         one value, whole, and a newline\n"
    "  put NAME KEY VALUE   set one; on sysvshm: VALUE must be PHP-serialized\n"
    "                       text (i:42; s:5:\"hello\";) unless -i, -s or --raw\n"
    "  rm NAME KEY...       remove variables\n"
    "  unlink NAME...       remove the region itself (sysvshm: the segment and\n"
    "                       the semaphore set, as shm_remove() and sem_remove())\n"
    "\n"
    "  -p, --php            write a sysvshm: value as what it holds (42, hello)\n"
    "  -x, --hex            write a value in hexadecimal\n"
    "  -r, --raw            get: no newline after the value; put: store VALUE as\n"
    "                       given\n"
    "  -i, --int            put: VALUE is an integer (i:N; on sysvshm:, a C long\n"
    "                       on shm:)\n"
    "  -s, --string         put: VALUE is a string (s:LEN:\"...\"; on sysvshm:)\n"
    "  -c, --create SIZE    create the region if missing, with SIZE bytes\n"
    "  -m, --mode MODE      permissions of a created region, octal (default 0600)\n"
    "  -w, --timeout MS     wait at most MS milliseconds for the lock (default:\n"
    "                       as long as needed)\n"
    "  -f, --force          rm, unlink: a missing one is not an error\n"
    "  -T, --trust LIST     attach to a region of these users or groups; PHP\n"
    "                       makes its objects writable by everyone: -T '*'\n"
    "Options go anywhere before \"--\"; give a negative KEY after \"--\".\n";

struct region_args {
    int timeout;        /* --timeout: wait for the lock at most this long; -1 forever */
    const char *trust;  /* --trust LIST */
    size_t create;      /* --create SIZE: create the region when missing; 0: do not */
    unsigned mode;      /* --mode: of a created region */
    bool raw, hex, php; /* get, ls: how to write a value */
    bool as_int, as_string; /* put: encode VALUE */
    bool force;         /* rm, unlink: a missing one is no error */
};

static int
region_exit(int rc)
{
    if (rc == -ETIMEDOUT || rc == -EAGAIN)
        return CLI_NOTHING;
    if (rc == -EINVAL)
        return CLI_USAGE;
    return CLI_FAIL;
}

static int
region_report(const char *name, int rc, const char *detail)
{
    cli_err("%s: %s (%s)", name,
            detail != NULL && *detail != '\0' ? cli_detail(detail, name) : ipckit_strerror(rc),
            ipckit_errname(rc));
    return region_exit(rc);
}

/* NAME with "trust=LIST" added to its parameters, %-escaped. */
static int
region_name(const char *name, const char *trust, char *buf, size_t cap)
{
    size_t n;
    if (trust == NULL) {
        if ((size_t) snprintf(buf, cap, "%s", name) >= cap)
            return -ENAMETOOLONG;
        return 0;
    }
    n = (size_t) snprintf(buf, cap, "%s%ctrust=", name, strchr(name, '?') ? '&' : '?');
    if (n >= cap)
        return -ENAMETOOLONG;
    for (const char *p = trust; *p != '\0'; p++) {
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

/* Open @p name and take its lock; CLI_OK with *out, or an exit code. */
static int
region_begin(const char *name, const struct region_args *a, ipckit_region **out)
{
    char full[8192];
    ipckit_opts o = IPCKIT_OPTS_INIT;
    int rc;
    *out = NULL;
    if (region_name(name, a->trust, full, sizeof full) < 0) {
        cli_err("%s: the name and the --trust list are too long", name);
        return CLI_USAGE;
    }
    o.mode = a->mode;
    rc = ipckit_region_open(out, full, a->create ? IPCKIT_CREATE : 0u, a->create, &o);
    if (rc < 0)
        return region_report(name, rc, ipckit_error_detail());
    rc = ipckit_region_lock(*out, a->timeout);
    if (rc == -EOWNERDEAD) {
        /* the lock is ours; the next command can trust the store again */
        cli_err("%s: warning: %s", name, cli_detail(ipckit_region_last_error(*out), name));
    } else if (rc < 0) {
        int code = region_report(name, rc, ipckit_region_last_error(*out));
        (void) ipckit_region_close(*out);
        *out = NULL;
        return code;
    }
    return CLI_OK;
}

static void
region_end(ipckit_region *r)
{
    (void) ipckit_region_unlock(r);
    (void) ipckit_region_close(r);
}

static bool
parse_key(const char *s, long *out)
{
    char *end;
    long v;
    if (*s == '\0')
        return false;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

/* The value of @p key, in a buffer of its own (free it); its length, or a
 * negative errno. */
static ssize_t
value_read(ipckit_region *r, long key, unsigned char **out)
{
    size_t cap = 256;
    *out = NULL;
    for (;;) {
        unsigned char *buf = malloc(cap);
        ssize_t n;
        if (buf == NULL)
            return -ENOMEM;
        n = ipckit_region_get(r, key, buf, cap);
        if (n >= 0) {
            *out = buf;
            return n;
        }
        free(buf);
        if (n != -EMSGSIZE || cap >= REGION_VALUE_MAX)
            return n;
        cap *= 16;
        if (cap > REGION_VALUE_MAX)
            cap = REGION_VALUE_MAX;
    }
}

#define LS_SHOW 256 /* bytes of each value that ls shows */

/* @p len bytes on one line: valid UTF-8 kept, anything else escaped, at
 * most LS_SHOW bytes and "..." after them. */
static void
put_escaped(const unsigned char *v, size_t len, FILE *f)
{
    char chunk[LS_SHOW + 1];
    size_t shown = len < LS_SHOW ? len : LS_SHOW, i = 0;
    while (i < shown) {
        size_t n = 0;
        if (v[i] == 0) {
            (void) fputs("\\x00", f);
            i++;
            continue;
        }
        while (i + n < shown && v[i + n] != 0)
            n++;
        memcpy(chunk, v + i, n);
        chunk[n] = '\0';
        (void) fputs(cli_esc(chunk), f);
        i += n;
    }
    if (shown < len)
        (void) fputs("...", f);
}

/* A PHP value as what it holds: scalars plainly, a string as its bytes,
 * an array as its serialized text; @p listing: on one line (escaped). */
static void
print_php(const unsigned char *text, size_t len, bool listing, FILE *f)
{
    ipckit_php_value *v = NULL;
    int rc = ipckit_php_decode(text, len, &v);
    bool b;
    int64_t i;
    double d;
    size_t sl;
    const char *s;
    if (rc < 0) {
        (void) fprintf(f, "(not a PHP value: %s)", ipckit_error_detail());
        return;
    }
    switch (ipckit_php_type_of(v)) {
    case IPCKIT_PHP_NULL:
        (void) fputs("NULL", f);
        break;
    case IPCKIT_PHP_BOOL:
        (void) ipckit_php_get_bool(v, &b);
        (void) fputs(b ? "true" : "false", f);
        break;
    case IPCKIT_PHP_INT:
        (void) ipckit_php_get_int(v, &i);
        (void) fprintf(f, "%" PRId64, i);
        break;
    case IPCKIT_PHP_FLOAT:
        (void) ipckit_php_get_float(v, &d);
        (void) fprintf(f, "%.17g", d);
        break;
    case IPCKIT_PHP_STRING:
        s = ipckit_php_get_string(v, &sl);
        if (listing)
            put_escaped((const unsigned char *) s, sl, f);
        else
            (void) fwrite(s, 1, sl, f);
        break;
    default:
        if (listing)
            put_escaped(text, len, f);
        else
            (void) fwrite(text, 1, len, f);
        break;
    }
    ipckit_php_free(v);
}

/* Write a value as get (whole) and ls (@p listing: one line) do. */
static void
print_value(const unsigned char *v, size_t len, const struct region_args *a, bool listing,
            FILE *f)
{
    if (a->php) {
        print_php(v, len, listing, f);
    } else if (a->hex) {
        for (size_t i = 0; i < len; i++)
            (void) fprintf(f, "%02x", v[i]);
    } else if (listing) {
        put_escaped(v, len, f);
    } else {
        (void) fwrite(v, 1, len, f);
    }
}

/* ---- the commands ----------------------------------------------------------------------- */

static int
region_ls(const char *name, const struct region_args *a)
{
    ipckit_region *r;
    long *keys = NULL;
    ssize_t n;
    int rc = region_begin(name, a, &r);
    if (rc != CLI_OK)
        return rc;
    n = ipckit_region_keys(r, NULL, 0);
    if (n > 0) {
        keys = calloc((size_t) n, sizeof *keys);
        if (keys == NULL)
            n = -ENOMEM;
        else
            n = ipckit_region_keys(r, keys, (size_t) n);
    }
    if (n < 0) {
        rc = region_report(name, (int) n, ipckit_region_last_error(r));
        free(keys);
        region_end(r);
        return rc;
    }
    for (ssize_t i = 0; i < n; i++) {
        unsigned char *v;
        ssize_t len = value_read(r, keys[i], &v);
        if (len < 0) {
            rc = region_report(name, (int) len, ipckit_region_last_error(r));
            break;
        }
        (void) printf("%ld\t%zd\t", keys[i], len);
        print_value(v, (size_t) len, a, true, stdout);
        (void) putchar('\n');
        free(v);
    }
    free(keys);
    region_end(r);
    return rc;
}

static int
region_get(const char *name, long key, const struct region_args *a)
{
    ipckit_region *r;
    unsigned char *v;
    ssize_t len;
    int rc = region_begin(name, a, &r);
    if (rc != CLI_OK)
        return rc;
    len = value_read(r, key, &v);
    if (len < 0) {
        rc = len == -ENOENT ? (cli_err("%s: no variable %ld", name, key), CLI_FAIL)
                            : region_report(name, (int) len, ipckit_region_last_error(r));
    } else {
        print_value(v, (size_t) len, a, false, stdout);
        if (!a->raw)
            (void) putchar('\n');
        free(v);
    }
    region_end(r);
    return rc;
}

static int
region_put(const char *name, long key, const char *value, const struct region_args *a)
{
    ipckit_region *r;
    char *text = NULL;
    size_t len = strlen(value);
    int rc;
    if (a->as_int) {
        long v;
        if (!cli_parse_long(value, LONG_MIN, LONG_MAX, &v)) {
            cli_err("--int: \"%s\" is not an integer", value);
            return CLI_USAGE;
        }
        if (cli_is_sysvshm(name)) {
            text = malloc(32);
            if (text == NULL)
                return CLI_FAIL;
            len = (size_t) ipckit_php_encode_int(v, text, 32);
        } else {
            /* a C long, as example_shm_counter keeps its counter */
            text = malloc(sizeof v);
            if (text == NULL)
                return CLI_FAIL;
            memcpy(text, &v, sizeof v);
            len = sizeof v;
        }
    } else if (a->as_string && cli_is_sysvshm(name)) {
        ipckit_php_value *v = ipckit_php_new_string(value, len);
        ssize_t n = v != NULL ? ipckit_php_encode(v, NULL, 0) : -ENOMEM;
        text = n > 0 ? malloc((size_t) n) : NULL;
        if (text == NULL) {
            ipckit_php_free(v);
            cli_err("out of memory");
            return CLI_FAIL;
        }
        (void) ipckit_php_encode(v, text, (size_t) n);
        ipckit_php_free(v);
        len = (size_t) n;
    } else if (cli_is_sysvshm(name)) {
        /* PHP reads only its own format: refuse what shm_get_var() would */
        ipckit_php_value *v = NULL;
        rc = ipckit_php_decode(value, len, &v);
        ipckit_php_free(v);
        if (rc < 0) {
            cli_err("\"%s\" is not PHP-serialized text (%s); give --int or --string to encode"
                    " it, or --raw to store it as it is",
                    cli_esc(value), ipckit_error_detail());
            if (!a->raw)
                return CLI_USAGE;
        }
    }
    rc = region_begin(name, a, &r);
    if (rc == CLI_OK) {
        int e = ipckit_region_put(r, key, text != NULL ? text : value, len);
        if (e < 0)
            rc = region_report(name, e, ipckit_region_last_error(r));
        region_end(r);
    }
    free(text);
    return rc;
}

static int
region_rm(const char *name, char **keys, int nkeys, const struct region_args *a)
{
    ipckit_region *r;
    int worst = CLI_OK;
    int rc = region_begin(name, a, &r);
    if (rc != CLI_OK)
        return rc;
    for (int i = 0; i < nkeys; i++) {
        long key = 0;
        int e;
        (void) parse_key(keys[i], &key); /* checked before */
        e = ipckit_region_remove(r, key);
        if (e == -ENOENT && a->force)
            continue;
        if (e < 0) {
            rc = e == -ENOENT ? (cli_err("%s: no variable %ld", name, key), CLI_FAIL)
                              : region_report(name, e, ipckit_region_last_error(r));
            if (rc > worst)
                worst = rc;
        }
    }
    region_end(r);
    return worst;
}

static int
region_unlink(char **names, int n, const struct region_args *a)
{
    int worst = CLI_OK;
    for (int i = 0; i < n; i++) {
        int rc = ipckit_region_unlink(names[i]), code = CLI_OK;
        if (rc < 0 && !(rc == -ENOENT && a->force))
            code = region_report(names[i], rc, ipckit_error_detail());
        if (code > worst)
            worst = code;
    }
    return worst;
}

static int
parse_option(int opt, struct region_args *a, char **argv)
{
    long v;
    char *end;
    unsigned long m;
    switch (opt) {
    case 'w':
        if (!cli_parse_long(optarg, -1, 86400000, &v)) {
            cli_err("bad value \"%s\" for --timeout: milliseconds, or -1", optarg);
            return CLI_USAGE;
        }
        a->timeout = (int) v;
        return CLI_OK;
    case 'T':
        a->trust = optarg;
        return CLI_OK;
    case 'c':
        if (!cli_parse_long(optarg, 1, LONG_MAX, &v)) {
            cli_err("bad value \"%s\" for --create: a size in bytes", optarg);
            return CLI_USAGE;
        }
        a->create = (size_t) v;
        return CLI_OK;
    case 'm':
        m = strtoul(optarg, &end, 8);
        if (*optarg == '\0' || *end != '\0' || m == 0 || m > 0777) {
            cli_err("bad value \"%s\" for --mode: octal permissions such as 0600", optarg);
            return CLI_USAGE;
        }
        a->mode = (unsigned) m;
        return CLI_OK;
    case 'r': a->raw = true; return CLI_OK;
    case 'x': a->hex = true; return CLI_OK;
    case 'p': a->php = true; return CLI_OK;
    case 'i': a->as_int = true; return CLI_OK;
    case 's': a->as_string = true; return CLI_OK;
    case 'f': a->force = true; return CLI_OK;
    default:
        cli_err("unknown option or missing value in \"%s\"; see \"ipckit region --help\"",
                argv[optind - 1]);
        return CLI_USAGE;
    }
}

int
cli_region(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "timeout", required_argument, NULL, 'w' }, { "trust", required_argument, NULL, 'T' },
        { "create", required_argument, NULL, 'c' },  { "mode", required_argument, NULL, 'm' },
        { "raw", no_argument, NULL, 'r' },           { "hex", no_argument, NULL, 'x' },
        { "php", no_argument, NULL, 'p' },           { "int", no_argument, NULL, 'i' },
        { "string", no_argument, NULL, 's' },        { "force", no_argument, NULL, 'f' },
        { NULL, 0, NULL, 0 }
    };
    struct region_args a = { -1, NULL, 0, 0, false, false, false, false, false, false };
    const char *sub;
    int opt, nargs;
    char **args;

    /* Options go anywhere before "--"; a negative KEY comes after "--". */
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":w:T:c:m:rxpisf", longopts, NULL)) != -1) {
        int rc = parse_option(opt, &a, argv);
        if (rc != CLI_OK)
            return rc;
    }
    if (optind >= argc) {
        cli_err("no subcommand; usage: ipckit region ls|get|put|rm|unlink [OPTIONS] NAME ...");
        return CLI_USAGE;
    }
    sub = argv[optind];
    args = argv + optind + 1;
    nargs = argc - optind - 1;
    if ((a.raw + a.hex + a.php) > 1 || (a.as_int && a.as_string)) {
        cli_err("--raw, --hex and --php exclude each other, and so do --int and --string");
        return CLI_USAGE;
    }
    if (strcmp(sub, "unlink") == 0) {
        if (nargs < 1) {
            cli_err("no NAME; usage: ipckit region unlink [-f] NAME...");
            return CLI_USAGE;
        }
        return region_unlink(args, nargs, &a);
    }
    if (strcmp(sub, "ls") == 0) {
        if (nargs != 1) {
            cli_err("usage: ipckit region ls [OPTIONS] NAME");
            return CLI_USAGE;
        }
        return region_ls(args[0], &a);
    }
    if (strcmp(sub, "get") == 0 || strcmp(sub, "put") == 0 || strcmp(sub, "rm") == 0) {
        bool rm = strcmp(sub, "rm") == 0, put = strcmp(sub, "put") == 0;
        long key = 0;
        if (rm ? nargs < 2 : nargs != (put ? 3 : 2)) {
            cli_err("usage: ipckit region %s [OPTIONS] NAME KEY%s", sub,
                    put ? " VALUE" : rm ? "..." : "");
            return CLI_USAGE;
        }
        for (int i = 1; i < (rm ? nargs : 2); i++) {
            if (!parse_key(args[i], &key)) {
                cli_err("bad KEY \"%s\": an integer, as PHP's variable_key (a negative one"
                        " after \"--\")",
                        cli_esc(args[i]));
                return CLI_USAGE;
            }
        }
        (void) parse_key(args[1], &key);
        if (strcmp(sub, "get") == 0)
            return region_get(args[0], key, &a);
        if (put)
            return region_put(args[0], key, args[2], &a);
        return region_rm(args[0], args + 1, nargs - 1, &a);
    }
    cli_err("no subcommand \"%s\"; it is ls, get, put, rm or unlink", cli_esc(sub));
    return CLI_USAGE;
}
