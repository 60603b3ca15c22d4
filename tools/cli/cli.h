/*
 * ipckit(1): declarations shared by the files of the command-line tool.
 * The tool links only the public API of libipckit.
 */
#ifndef IPCKIT_CLI_H
#define IPCKIT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* Exit codes, documented in ipckit(1). */
enum {
    CLI_OK = 0,          /* success */
    CLI_FAIL = 1,        /* an operation failed */
    CLI_USAGE = 2,       /* bad command line or bad name */
    CLI_NOTHING = 3,     /* timed out, or the channel ended, before the work was done */
    CLI_NOTFOUND = 127   /* bench: ipckit-bench not found */
};

/* main.c: report an error as "ipckit: <cmd>: <message>" on stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* io.c: a detail of the library for "ipckit: CMD: NAME: DETAIL", without the
 * words that line already has before it (the command, the scheme, the name). */
const char *cli_detail(const char *detail, const char *name);

/* main.c: the name of the running subcommand, for messages. */
extern const char *cli_cmd;

/* main.c: parse a whole decimal (or 0x hex) number in [min, max]. */
bool cli_parse_long(const char *s, long min, long max, long *out);

/* io.c: the channel subcommands. */
int cli_send(int argc, char **argv);
int cli_recv(int argc, char **argv);
int cli_stat(int argc, char **argv);
int cli_rm(int argc, char **argv);
int cli_key(int argc, char **argv);

/* region.c: the variables of a region (shm:, sysvshm:). */
int cli_region(int argc, char **argv);
#define CLI_REGION_USAGE "region ls|get|put|rm|unlink [OPTIONS] NAME [KEY [VALUE]]"
extern const char cli_region_help[];

/* ls.c: listing kernel objects, and removing stale ones. */
int cli_ls(int argc, char **argv);
int cli_rm_stale(int argc, char **argv);

/* ls.c: write @p s as a JSON string (with quotes). */
void cli_json_string(FILE *f, const char *s);

/* ls.c: @p s with control characters, invalid UTF-8 and backslashes written
 * as escapes (\\, \n, \t, \r, \xHH), safe to print on a terminal on one
 * line; a static buffer, one of four used in turn. */
const char *cli_esc(const char *s);

/* ls.c: 1 alive, 0 gone, -1 unknown (pid <= 0). */
int cli_pid_alive(long pid);
/* The creator @p pid of the object behind name @p text: 1 alive, 0 gone, -1
 * unknown; a pid reused since (start time recorded by ipckit) counts as gone. */
int cli_creator_alive(const char *text, long pid);

/* ls.c: what "ipckit stat" shows of a region (-1: unknown or none). */
struct cli_region {
    unsigned mode;
    long long data_size;  /* bytes of the data area */
    long long variables;  /* variables set in its variable store; -1: no store */
    long long bytes;      /* bytes of their values; -1: no store */
    long creator_pid;
    char why[128];        /* why the header is refused */
};
int cli_region_stat(const char *text, struct cli_region *out);

#endif
