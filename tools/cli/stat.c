/*
 * ipckit(1): "ipckit stat NAME...": a channel's object as ipckit_stat_name()
 * describes it, and a region (shm:NAME) as ipckit_object_stat() does; the
 * creator's state (alive, or gone: its pid free or reused) comes from
 * ipckit_object_stat() in both cases. PHP's shared state (sysvshm:NAME) is
 * described from the kernel's IPC_STAT of its segment and semaphore set,
 * without attaching or locking anything.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
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

static void
stat_key(const char *key, key_t v, bool json)
{
    if (json)
        (void) printf(", \"%s\": \"0x%x\"", key, (unsigned) v);
    else
        (void) printf("%-14s 0x%x\n", key, (unsigned) v);
}

/*
 * PHP's shared state, sysvshm:NAME: the segment and the semaphore set of
 * its two keys, as IPC_STAT tells (read permission on them is needed).
 * What the variables are is "ipckit region ls", which takes the lock.
 */
static int
stat_sysvshm(const char *name, bool json, bool blank_line)
{
    struct shmid_ds sd;
    struct semid_ds md;
    union semun_arg {
        int val;
        struct semid_ds *buf;
        unsigned short *array;
    } arg;
    key_t shm_key, sem_key;
    bool first = false;
    char why[96];
    int r = ipckit_region_sysv_keys(name, &shm_key, &sem_key), shm_id, sem_id;
    if (r < 0)
        return cli_report(name, NULL, r, ipckit_error_detail());
    shm_id = shmget(shm_key, 0, 0);
    if (shm_id < 0 || shmctl(shm_id, IPC_STAT, &sd) < 0) {
        int e = errno;
        (void) snprintf(why, sizeof why, "its segment (key 0x%x): %s", (unsigned) shm_key,
                        strerror(e));
        return cli_report(name, NULL, -e, why);
    }
    arg.buf = &md;
    sem_id = semget(sem_key, 0, 0);
    if (sem_id >= 0 && semctl(sem_id, 0, IPC_STAT, arg) < 0)
        sem_id = -1;
    if (blank_line)
        (void) putchar('\n');
    if (json) {
        (void) fputs("{\"name\": ", stdout);
        cli_json_string(stdout, name);
        (void) printf(", \"kind\": \"php region\", \"mode\": \"%04o\"",
                      (unsigned) sd.shm_perm.mode & 0777u);
    } else {
        (void) printf("%-14s %s\n%-14s %s\n%-14s %04o\n", "name", name, "kind", "php region",
                      "mode", (unsigned) sd.shm_perm.mode & 0777u);
    }
    stat_key("segment_key", shm_key, json);
    stat_field("segment_id", shm_id, json, &first);
    stat_field("segment_size", (long long) sd.shm_segsz, json, &first);
    stat_field("attached", (long long) sd.shm_nattch, json, &first);
    stat_key("semaphore_key", sem_key, json);
    stat_field("semaphore_id", sem_id, json, &first);
    stat_field("semaphores", sem_id >= 0 ? (long long) md.sem_nsems : -1, json, &first);
    stat_field("creator_pid", (long long) sd.shm_cpid, json, &first);
    stat_field("last_pid", (long long) sd.shm_lpid, json, &first);
    stat_alive(pid_alive((long) sd.shm_cpid), json);
    return CLI_OK;
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
        int rc;
        if (cli_is_sysvshm(argv[i]))
            rc = stat_sysvshm(argv[i], json, !json && i > optind);
        else if ((rc = cli_check_name(argv[i])) == CLI_OK)
            rc = stat_one(argv[i], json, !json && i > optind);
        if (rc > worst)
            worst = rc;
    }
    return worst;
}
