/*
 * ipckit(1): "ipckit stat NAME...": a channel's object as ipckit_stat_name()
 * describes it, and a region (shm:NAME) as ipckit_object_stat() does; the
 * creator's state (alive, or gone: its pid free or reused) comes from
 * ipckit_object_stat() in both cases.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include <ipckit/ipckit.h>

#include "cli.h"

static void
stat_field(const char *key, long long v, bool json, bool *first)
{
    if (json) {
        (void) printf("%s\"%s\": ", *first ? "" : ", ", key);
        if (v < 0)
            (void) fputs("null", stdout);
        else
            (void) printf("%lld", v);
        *first = false;
        return;
    }
    (void) printf("%-14s ", key);
    if (v < 0)
        (void) fputs("-", stdout);
    else
        (void) printf("%lld", v);
    (void) putchar('\n');
}

static void
stat_alive(int alive, bool json)
{
    if (json)
        (void) printf(", \"creator_alive\": %s}\n",
                      alive < 0 ? "null" : alive ? "true" : "false");
    else
        (void) printf("%-14s %s\n", "creator_alive", alive < 0 ? "-" : alive ? "yes" : "no");
}

/* 1 alive, 0 gone, -1 unknown. */
static int
alive_of(int creator)
{
    return creator == IPCKIT_CREATOR_ALIVE ? 1 : creator == IPCKIT_CREATOR_GONE ? 0 : -1;
}

static void
stat_print(const char *name, const ipckit_stat *s, int alive, bool json)
{
    bool first = true;
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
    stat_alive(alive, json);
}

/* A region (shm:NAME), which ipckit_stat_name() does not describe. */
static void
stat_region(const char *name, const ipckit_object *o, bool json)
{
    bool first = false;
    if (json) {
        (void) fputs("{\"name\": ", stdout);
        cli_json_string(stdout, name);
        (void) printf(", \"kind\": \"region\", \"mode\": \"%04o\"", o->mode);
    } else {
        (void) printf("%-14s %s\n%-14s %s\n%-14s %04o\n", "name", name, "kind", "region", "mode",
                      o->mode);
    }
    stat_field("data_size", o->capacity, json, &first);
    stat_field("variables", o->messages, json, &first);
    stat_field("bytes", o->messages >= 0 ? o->bytes : -1, json, &first);
    stat_field("creator_pid", o->creator_pid, json, &first);
    stat_alive(alive_of(o->creator), json);
}

/* Whether @p pid runs, when nothing tells more: 1, 0, -1 (unknown). */
static int
pid_alive(long pid)
{
    if (pid <= 0)
        return -1;
    if (kill((pid_t) pid, 0) == 0 || errno == EPERM)
        return 1;
    return errno == ESRCH ? 0 : -1;
}

/* Describe @p name: the exit code. */
static int
stat_one(const char *name, bool json, bool blank_line)
{
    static ipckit_object o;
    ipckit_stat s;
    int r, alive;
    o.version = IPCKIT_OBJECT_VERSION;
    r = ipckit_object_stat(name, &o);
    if (r == 0 && strcmp(o.kind, "region") == 0) {
        if (o.capacity < 0 && o.note[0] != '\0') {
            /* "its header does not match its size (N bytes)" */
            char why[sizeof o.note + 64];
            (void) snprintf(why, sizeof why, "a region whose %s",
                            strncmp(o.note, "its ", 4) == 0 ? o.note + 4 : o.note);
            return cli_report(name, NULL, -EBADMSG, why);
        }
        if (blank_line)
            (void) putchar('\n');
        stat_region(name, &o, json);
        return CLI_OK;
    }
    if ((r = ipckit_stat_name(name, &s)) < 0)
        return cli_report(name, NULL, r, ipckit_error_detail());
    /* the object's creator with the start time ipckit recorded, so that a
     * reused pid is called gone */
    alive = r == 0 && o.creator_pid == s.creator_pid ? alive_of(o.creator)
                                                      : pid_alive(s.creator_pid);
    if (blank_line)
        (void) putchar('\n');
    stat_print(name, &s, alive, json);
    return CLI_OK;
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
            return cli_bad_option(opt, argv);
        json = true;
    }
    if (optind >= argc) {
        cli_err("no NAME; usage: ipckit stat [--json] NAME...");
        return CLI_USAGE;
    }
    for (int i = optind; i < argc; i++) {
        int rc = cli_check_name(argv[i]);
        if (rc == CLI_OK)
            rc = stat_one(argv[i], json, !json && i > optind);
        if (rc > worst)
            worst = rc;
    }
    return worst;
}
