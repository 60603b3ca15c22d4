/*
 * ipckit(1): declarations shared by the files of the command-line tool, one
 * file per subcommand (send.c, recv.c, stat.c, rm.c, stale.c, ls.c, key.c)
 * and the helpers they share (common.c, text.c). The tool links only the
 * public API of libipckit and includes nothing of lib/.
 */
#ifndef IPCKIT_CLI_H
#define IPCKIT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include <ipckit/ipckit.h>

/* Exit codes, documented in ipckit(1). */
enum {
    CLI_OK = 0,          /* success */
    CLI_FAIL = 1,        /* an operation failed */
    CLI_USAGE = 2,       /* bad command line or bad name */
    CLI_NOTHING = 3,     /* timed out, or the channel ended, before the work was done */
    CLI_NOTFOUND = 127   /* bench: ipckit-bench not found */
};

/* The largest buffer the tool allocates, and its read size. */
#define CLI_BUF_LIMIT ((size_t) 1 << 30)
#define CLI_CHUNK 65536u

/* main.c: report an error as "ipckit: <cmd>: <message>" on stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* main.c: the name of the running subcommand, for messages. */
extern const char *cli_cmd;

/* main.c: parse a whole decimal (or 0x hex) number in [min, max]. */
bool cli_parse_long(const char *s, long min, long max, long *out);

/* ---- common.c ------------------------------------------------------------------ */

/* A getopt error (@p opt is ':' or '?'), said once: CLI_USAGE. */
int cli_bad_option(int opt, char **argv);
/* A bad value @p value of option @p opt, which wants @p want: CLI_USAGE. */
int cli_bad_value(const char *opt, const char *value, const char *want);
/* region.c: the variables of a region (shm:, sysvshm:). */
int cli_region(int argc, char **argv);
#define CLI_REGION_USAGE "region ls|get|put|rm|unlink [OPTIONS] NAME [KEY [VALUE]]"
extern const char cli_region_help[];

/* A detail of the library for "ipckit: CMD: NAME: DETAIL", without the
 * words that line already has before it (the command, the scheme, the name). */
const char *cli_detail(const char *detail, const char *name);

/* Check that @p name parses and names a registered scheme: CLI_OK, or
 * CLI_USAGE after saying why. */
int cli_check_name(const char *name);

/* Whether @p name is PHP's shared state (sysvshm:), a region and no channel
 * scheme, which rm, stat and region take before cli_check_name(). */
bool cli_is_sysvshm(const char *name);

/* The exit code for library error @p rc. */
int cli_exit_code(int rc);

/* Say "NAME: WHAT: DETAIL (ENAME)", each word once; the exit code of @p rc. */
int cli_report(const char *name, const char *what, int rc, const char *detail);

/* --mode (octal, not 0) and --max-size (bytes, 1 to CLI_BUF_LIMIT). */
bool cli_parse_mode(const char *s, unsigned *out);
bool cli_parse_size(const char *s, size_t *out);

/* Options common to send and recv. */
struct cli_chan_args {
    bool create;
    unsigned mode;
    int timeout;
    size_t max_size;
    const char *trust; /* --trust: users and groups whose objects to attach to */
};

/* Open @p name for @p dir (IPCKIT_SEND or IPCKIT_RECV): CLI_OK, or the exit
 * code after saying why. */
int cli_open_channel(ipckit_channel **ch, const char *name, unsigned dir,
                     const struct cli_chan_args *a);

/* ---- text.c -------------------------------------------------------------------- */

/* Write @p s as a JSON string (with quotes). */
void cli_json_string(FILE *f, const char *s);

/* @p s with control characters, invalid UTF-8 and backslashes written as
 * escapes (\\, \n, \t, \r, \xHH), safe to print on a terminal on one line;
 * a static buffer, one of four used in turn. */
const char *cli_esc(const char *s);

/* ---- the subcommands ------------------------------------------------------------ */

int cli_send(int argc, char **argv);   /* send.c */
int cli_recv(int argc, char **argv);   /* recv.c */
int cli_stat(int argc, char **argv);   /* stat.c */
int cli_rm(int argc, char **argv);     /* rm.c */
int cli_rm_stale(int argc, char **argv); /* stale.c: rm --stale */
int cli_ls(int argc, char **argv);     /* ls.c */
int cli_key(int argc, char **argv);    /* key.c */

#endif
