/*
 * ipckit(1): the command-line tool. Dispatches to the subcommands, prints
 * help and version, and runs ipckit-bench for "ipckit bench".
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ipckit/ipckit.h>
#include <ipckit/backend.h>

#include "cli.h"

const char *cli_cmd = NULL;

static int cli_bench(int argc, char **argv);

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
    const char *help;
};

static const struct command commands[] = {
    { "send", cli_send, "send [OPTIONS] NAME [MESSAGE...]",
      "Send each MESSAGE argument as one message; without MESSAGE arguments, send\n"
      "each line of standard input as one message (the newline is not sent).\n"
      "On a byte-stream channel (fifo:...?stream=1) the newline is kept.\n"
      "\n"
      "  -c, --create         create the object if it does not exist\n"
      "  -m, --mode MODE      permissions of a created object, octal (default 0600)\n"
      "  -t, --type T         message type, a positive number (default 1)\n"
      "  -w, --timeout MS     wait at most MS milliseconds for a receiver and for\n"
      "                       room, per message (default: wait as long as needed)\n"
      "  -W, --whole          send all of standard input as one message\n"
      "  -0, --null           standard input messages end with NUL, not newline\n"
      "  -s, --max-size N     largest message in bytes (default: the backend's)\n"
      "  -T, --trust LIST     attach to an existing object of these users or groups:\n"
      "                       USER, group:GROUP, or * for anyone (default: only\n"
      "                       your own objects and root's)\n" },
    { "recv", cli_recv, "recv [OPTIONS] NAME",
      "Receive messages and write them to standard output, each followed by a\n"
      "newline. On a byte-stream channel, a message is a line of the stream.\n"
      "\n"
      "  -n, --count N        stop after N messages; 0 means until the channel\n"
      "                       ends or times out (default 1)\n"
      "  -w, --timeout MS     wait at most MS milliseconds for each message\n"
      "                       (default: wait as long as needed)\n"
      "  -t, --type T         select by type: T > 0 only that type; T < 0 the\n"
      "                       lowest type <= -T (default 0: any type)\n"
      "  -x, --hex            write each message in hexadecimal, one per line\n"
      "  -r, --raw            write the bytes only, with nothing after a message\n"
      "  -0, --null           end each message with NUL instead of newline\n"
      "  -p, --print-type     write the type and a tab before each message\n"
      "  -c, --create         create the object if it does not exist\n"
      "  -m, --mode MODE      permissions of a created object, octal (default 0600)\n"
      "  -s, --max-size N     largest message in bytes (default: the backend's)\n"
      "  -P, --pid-file FILE  write this process's pid to FILE once the channel is\n"
      "                       open (to wait for it, or to address signal:self)\n"
      "  -T, --trust LIST     as for send\n" },
    { "ls", cli_ls, "ls [OPTIONS] [DIR...]",
      "List live IPC objects: System V message queues, shared memory segments\n"
      "and semaphore sets, POSIX shared memory, semaphores and message queues,\n"
      "and FIFOs under each DIR (default /tmp and /run).\n"
      "\n"
      "  -j, --json           write a JSON array instead of a table\n"
      "  -d, --depth N        look for FIFOs at most N directories deep (default 3)\n" },
    { "stat", cli_stat, "stat [OPTIONS] NAME...",
      "Describe the object behind each NAME without opening a channel.\n"
      "\n"
      "  -j, --json           write one JSON object per name\n" },
    { "rm", cli_rm,
      "rm [OPTIONS] NAME...\n       ipckit rm --stale [-n] [-v] [--discard] [KEY|NAME...]",
      "Remove the kernel object behind each NAME.\n"
      "\n"
      "  -f, --force          a NAME with nothing behind it is not an error\n"
      "      --stale          remove ipckit's objects whose creator process is\n"
      "                       gone and that no process uses (rings, regions, queues,\n"
      "                       POSIX queues, FIFOs; System V segments), and creator\n"
      "                       records whose object is gone; KEY or NAME limits it to\n"
      "                       those; see ipckit(1) for exactly what is and is not\n"
      "                       removed; one that still holds messages or state is\n"
      "                       kept (and said so) unless it is named or --discard\n"
      "  -n, --dry-run        with --stale: only show what would be removed\n"
      "  -v, --verbose        with --stale: also show what was skipped and why\n"
      "      --discard        with --stale: also remove stale objects that still\n"
      "                       hold messages or state (what they hold is lost)\n" },
    { "region", cli_region, CLI_REGION_USAGE, cli_region_help },
    { "key", cli_key, "key NAME...",
      "Show the System V IPC key that each NAME maps to (its numeric target, or\n"
      "ftok(path, proj)), to match names against the keys shown by \"ipckit ls\".\n" },
    { "bench", cli_bench, "bench [ARGS...]",
      "Run ipckit-bench with ARGS: the one installed next to this program, else\n"
      "the first in PATH. \"ipckit bench --help\" shows its options.\n" },
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

void
cli_err(const char *fmt, ...)
{
    va_list ap;
    (void) fflush(stdout);
    if (cli_cmd != NULL)
        (void) fprintf(stderr, "ipckit: %s: ", cli_cmd);
    else
        (void) fputs("ipckit: ", stderr);
    va_start(ap, fmt);
    (void) vfprintf(stderr, fmt, ap);
    va_end(ap);
    (void) fputc('\n', stderr);
}

bool
cli_parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;
    if (s == NULL || *s == '\0')
        return false;
    errno = 0;
    v = strtol(s, &end, 0);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static int
print_scheme(const ipckit_backend *be, void *arg)
{
    int *first = arg;
    (void) printf("%s%s", *first ? "" : " ", be->scheme);
    *first = 0;
    return 0;
}

static void
usage_all(FILE *f)
{
    (void) fputs("usage: ipckit [--version] [--help] COMMAND [ARGS...]\n\ncommands:\n", f);
    for (size_t i = 0; i < NCOMMANDS; i++)
        (void) fprintf(f, "  ipckit %s\n", commands[i].usage);
    (void) fputs("\nNAME is \"scheme:target?key=value&...\", such as fifo:/tmp/app.pipe.\n"
                 "\"ipckit COMMAND --help\" describes a command; see also ipckit(1).\n"
                 "exit status: 0 success, 1 failure, 2 usage or bad name,\n"
                 "3 timed out or nothing (more) to receive.\n",
                 f);
}

static void
usage_one(const struct command *c)
{
    (void) printf("usage: ipckit %s\n\n%s", c->usage, c->help);
}

static const struct command *
find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* True if an argument before "--" asks for help. */
static bool
wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    }
    return false;
}

/* ---- bench ------------------------------------------------------------------ */

static int
cli_bench(int argc, char **argv)
{
    char self[PATH_MAX], path[PATH_MAX + 16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    char **args = calloc((size_t) argc + 1, sizeof *args);
    if (args == NULL) {
        cli_err("out of memory");
        return CLI_FAIL;
    }
    args[0] = (char *) "ipckit-bench";
    for (int i = 1; i < argc; i++)
        args[i] = argv[i];
    (void) fflush(stdout);
    if (n > 0) {
        char *slash;
        self[n] = '\0';
        slash = strrchr(self, '/');
        if (slash != NULL) {
            *slash = '\0';
            (void) snprintf(path, sizeof path, "%s/ipckit-bench", self);
            if (access(path, X_OK) == 0) {
                (void) execv(path, args);
                cli_err("cannot run %s: %s", path, strerror(errno));
                free(args);
                return 126;
            }
        }
    }
    (void) execvp("ipckit-bench", args);
    free(args);
    if (errno != ENOENT) {
        cli_err("cannot run ipckit-bench: %s", strerror(errno));
        return 126;
    }
    if (wants_help(argc, argv)) {
        usage_one(find_command("bench"));
        (void) printf("\nipckit-bench is not installed here, so its options cannot be shown.\n");
        return CLI_OK;
    }
    cli_err("ipckit-bench not found in %s nor in PATH; build or install the benchmark"
            " program",
            n > 0 ? self : "the directory of this program");
    return CLI_NOTFOUND;
}

/* ---- main ------------------------------------------------------------------- */

int
main(int argc, char **argv)
{
    const struct command *c;

    if (argc < 2) {
        usage_all(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        int first = 1;
        (void) printf("ipckit %s (library %s)\nschemes: ", IPCKIT_VERSION_STRING,
                      ipckit_version_string());
        (void) ipckit_backend_find("nats"); /* the plug-in, when it is installed */
        (void) ipckit_backend_foreach(print_scheme, &first);
        (void) putchar('\n');
        return CLI_OK;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage_all(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "help") == 0) {
        if (argc < 3) {
            usage_all(stdout);
            return CLI_OK;
        }
        c = find_command(argv[2]);
        if (c == NULL) {
            cli_err("no command \"%s\"; see \"ipckit --help\"", argv[2]);
            return CLI_USAGE;
        }
        usage_one(c);
        return CLI_OK;
    }
    c = find_command(argv[1]);
    if (c == NULL) {
        cli_err("no command \"%s\"; see \"ipckit --help\"", argv[1]);
        return CLI_USAGE;
    }
    cli_cmd = c->name;
    /* bench hands --help to ipckit-bench. */
    if (c->run != cli_bench && wants_help(argc - 1, argv + 1)) {
        usage_one(c);
        return CLI_OK;
    }
    return c->run(argc - 1, argv + 1);
}
