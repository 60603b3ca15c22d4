/*
 * ipckit(1): "ipckit ls", a table (or JSON) of the objects
 * ipckit_object_list() finds: System V queues, segments and semaphore sets,
 * POSIX shared memory (ipckit's rings and regions, and others'), POSIX
 * semaphores and queues, and the FIFOs under the directories given.
 *
 * The columns keep the words of ipcs(1) and /proc: KIND is msg, shm, sem,
 * posix-shm, posix-sem, mqueue or fifo; BYTES and COUNT are what a queue or
 * ring holds, a segment's size and attaches, a semaphore set's semaphores.
 * The IPCKIT column says why an object is taken for ipckit's: a ring's or
 * region's header, a trusted creator record ("record"), or a guess shown
 * as such: "ftok" for a System V key whose top byte is 'i' (the default
 * proj of ipckit_name_sysv_key()), "name" for a file name with "ipckit" in
 * it.
 */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ipckit/ipckit.h>

#include "cli.h"

#define LS_DEPTH_MAX 16

struct row {
    const char *kind;  /* msg shm sem posix-shm posix-sem mqueue fifo, or the object's */
    int group;         /* the order of the table: System V, then /dev/shm, queues, FIFOs */
    size_t seq;        /* the order found, within a group */
    long long id, key;
    char *path;        /* the file of a POSIX object or FIFO, or NULL */
    char *name;        /* the name that opens it, or NULL */
    long long uid;
    unsigned mode;
    long long bytes, size, count, cpid, lspid, lrpid;
    int alive;         /* 1, 0, -1: unknown */
    const char *hint;  /* IPCKIT column, or NULL */
};

struct rows {
    struct row *v;
    size_t n, cap;
};

static const struct {
    const char *kind, *label;
    int group;
} ls_kinds[] = {
    { "queue", "msg", 0 },           { "segment", "shm", 1 },
    { "semaphores", "sem", 2 },      { "ring", "posix-shm", 3 },
    { "region", "posix-shm", 3 },    { "posix shm", "posix-shm", 3 },
    { "queue companion", "posix-shm", 3 },
    { "posix semaphore", "posix-sem", 3 }, { "posix queue", "mqueue", 4 },
    { "fifo", "fifo", 5 },
};

/* The guess of the IPCKIT column for an object ipckit did not mark. */
static const char *
ls_guess(const ipckit_object *o, const char *label)
{
    const char *base;
    if (strcmp(label, "msg") == 0 || strcmp(label, "shm") == 0 || strcmp(label, "sem") == 0)
        return o->key > 0 && ((unsigned long long) o->key >> 24) == 0x69u ? "ftok" : NULL;
    if (o->where[0] != '/')
        return NULL;
    base = strrchr(o->where, '/') + 1;
    return strstr(base, "ipckit") != NULL ? "name" : NULL;
}

static int
ls_add(const ipckit_object *o, void *arg)
{
    struct rows *l = arg;
    struct row *r;
    const char *label = o->kind;
    int group = 6;
    for (size_t i = 0; i < sizeof ls_kinds / sizeof ls_kinds[0]; i++)
        if (strcmp(o->kind, ls_kinds[i].kind) == 0) {
            label = ls_kinds[i].label;
            group = ls_kinds[i].group;
        }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct row *nv = realloc(l->v, cap * sizeof *nv);
        if (nv == NULL)
            return -ENOMEM;
        l->v = nv;
        l->cap = cap;
    }
    r = &l->v[l->n];
    memset(r, 0, sizeof *r);
    r->kind = label;
    r->group = group;
    r->seq = l->n;
    r->id = o->id;
    r->key = o->key;
    r->uid = o->uid;
    r->mode = o->mode;
    r->cpid = o->creator_pid;
    r->alive = o->creator == IPCKIT_CREATOR_ALIVE ? 1 : o->creator == IPCKIT_CREATOR_GONE ? 0 : -1;
    r->lspid = r->lrpid = -1;
    r->bytes = r->size = r->count = -1;
    if (strcmp(label, "msg") == 0) {
        r->bytes = o->bytes;
        r->count = o->messages;
        r->lspid = o->last_send_pid;
        r->lrpid = o->last_recv_pid;
    } else if (strcmp(label, "shm") == 0) {
        r->bytes = r->size = o->size;
        r->count = o->users;
    } else if (strcmp(label, "sem") == 0) {
        r->count = o->messages;
    } else if (strcmp(o->kind, "ring") == 0) {
        /* what waits in it, as for a queue; its size goes to the JSON */
        r->bytes = o->bytes;
        r->count = o->messages;
        r->size = o->size;
    } else if (group == 3) {
        r->bytes = r->size = o->size;
    } else if (strcmp(label, "mqueue") == 0) {
        r->bytes = o->bytes;
        r->count = o->messages;
    } else if (group == 6) {
        r->bytes = o->bytes;
        r->count = o->messages;
        r->size = o->size;
    }
    if (strcmp(o->kind, "queue companion") == 0)
        r->hint = "companion"; /* of an mq: queue (docs/backends/mq.md) */
    else if (o->by_ipckit)
        r->hint = strcmp(o->kind, "ring") == 0 || strcmp(o->kind, "region") == 0 ? o->kind
                                                                                 : "record";
    else
        r->hint = ls_guess(o, label);
    if (o->name[0] != '\0' && (r->name = strdup(o->name)) == NULL)
        return -ENOMEM;
    if (o->where[0] == '/' && (r->path = strdup(o->where)) == NULL) {
        free(r->name);
        return -ENOMEM;
    }
    l->n++;
    return 0;
}

static int
ls_order(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void
put_num(long long v, int width)
{
    if (v < 0)
        (void) printf("%*s", width, "-");
    else
        (void) printf("%*lld", width, v);
}

static void
print_table(const struct rows *l)
{
    (void) printf("%-9s %6s %-10s %-8s %4s %10s %5s %7s %-5s %-6s %s\n", "KIND", "ID", "KEY",
                  "OWNER", "MODE", "BYTES", "COUNT", "CPID", "ALIVE", "IPCKIT", "NAME");
    for (size_t i = 0; i < l->n; i++) {
        const struct row *o = &l->v[i];
        struct passwd *pw = getpwuid((uid_t) o->uid);
        char owner[32];
        if (pw != NULL)
            (void) snprintf(owner, sizeof owner, "%s", pw->pw_name);
        else
            (void) snprintf(owner, sizeof owner, "%lld", o->uid);
        (void) printf("%-9s ", o->kind);
        put_num(o->id, 6);
        /* eight digits, as ipcs(1) writes a key */
        if (o->key >= 0)
            (void) printf(" 0x%08llx", o->key);
        else
            (void) printf(" %-10s", "-");
        (void) printf(" %-8s %04o ", cli_esc(owner), o->mode);
        put_num(o->bytes, 10);
        (void) putchar(' ');
        put_num(o->count, 5);
        (void) putchar(' ');
        put_num(o->cpid, 7);
        (void) printf(" %-5s %-6s %s\n", o->alive < 0 ? "-" : o->alive ? "yes" : "no",
                      o->hint ? o->hint : "-",
                      cli_esc(o->name ? o->name : o->path ? o->path : "-"));
    }
}

static void
json_num(const char *key, long long v)
{
    if (v < 0)
        (void) printf(", \"%s\": null", key);
    else
        (void) printf(", \"%s\": %lld", key, v);
}

static void
json_text(const char *key, const char *v)
{
    (void) printf(", \"%s\": ", key);
    if (v != NULL)
        cli_json_string(stdout, v);
    else
        (void) fputs("null", stdout);
}

static void
print_json(const struct rows *l)
{
    (void) fputs("[", stdout);
    for (size_t i = 0; i < l->n; i++) {
        const struct row *o = &l->v[i];
        struct passwd *pw = getpwuid((uid_t) o->uid);
        (void) printf("%s\n  {\"kind\": ", i ? "," : "");
        cli_json_string(stdout, o->kind);
        json_num("id", o->id);
        if (o->key >= 0)
            (void) printf(", \"key\": \"0x%08llx\"", o->key);
        else
            (void) fputs(", \"key\": null", stdout);
        json_text("path", o->path);
        json_text("name", o->name);
        (void) printf(", \"uid\": %lld", o->uid);
        json_text("owner", pw != NULL ? pw->pw_name : NULL);
        (void) printf(", \"mode\": \"%04o\"", o->mode);
        json_num("bytes", o->bytes);
        json_num("size", o->size);
        json_num("count", o->count);
        json_num("creator_pid", o->cpid);
        (void) printf(", \"creator_alive\": %s",
                      o->alive < 0 ? "null" : o->alive ? "true" : "false");
        json_num("last_send_pid", o->lspid);
        json_num("last_recv_pid", o->lrpid);
        json_text("ipckit", o->hint);
        (void) fputs("}", stdout);
    }
    (void) fputs(l->n ? "\n]\n" : "]\n", stdout);
}

/*
 * PHP's shared state: a segment beside a set of 3 semaphores, under the
 * same key (shm_attach($k) and sem_get($k)) or under the keys of one file
 * with the tutorial's projs (ftok($f, 'm') and ftok($f, 's')). Both get the
 * sysvshm: name that opens them. Seen from the listing only: nothing is
 * attached.
 */
static void
php_pairs(struct rows *l)
{
    for (size_t i = 0; i < l->n; i++) {
        struct row *shm = &l->v[i];
        if (strcmp(shm->kind, "shm") != 0 || shm->key <= 0 || shm->name != NULL)
            continue;
        for (size_t j = 0; j < l->n; j++) {
            struct row *sem = &l->v[j];
            char name[64];
            long long pair = ((unsigned long long) shm->key >> 24) == 'm'
                                 ? (long long) (((unsigned long long) shm->key & 0xffffffu) |
                                                ((unsigned long long) 's' << 24))
                                 : -1;
            if (strcmp(sem->kind, "sem") != 0 || sem->count != 3 || sem->name != NULL ||
                (sem->key != shm->key && sem->key != pair))
                continue;
            if (sem->key == shm->key)
                (void) snprintf(name, sizeof name, "sysvshm:0x%llx", shm->key);
            else
                (void) snprintf(name, sizeof name, "sysvshm:0x%llx?sem=0x%llx", shm->key,
                                sem->key);
            shm->name = strdup(name);
            sem->name = strdup(name);
            shm->hint = sem->hint = "php";
            break;
        }
    }
}

static void
rows_free(struct rows *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].path);
        free(l->v[i].name);
    }
    free(l->v);
}

int
cli_ls(int argc, char **argv)
{
    static const struct option longopts[] = { { "json", no_argument, NULL, 'j' },
                                              { "depth", required_argument, NULL, 'd' },
                                              { NULL, 0, NULL, 0 } };
    ipckit_list_opts lo = IPCKIT_LIST_OPTS_INIT;
    struct rows l = { NULL, 0, 0 };
    bool json = false;
    long depth = 3;
    int opt, rc;

    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":jd:", longopts, NULL)) != -1) {
        if (opt == 'j') {
            json = true;
        } else if (opt == 'd') {
            if (!cli_parse_long(optarg, 1, LS_DEPTH_MAX, &depth)) {
                cli_err("bad value \"%s\" for --depth: a number from 1 to %d", optarg,
                        LS_DEPTH_MAX);
                return CLI_USAGE;
            }
        } else {
            cli_err("unknown option or missing value in \"%s\"; see \"ipckit ls --help\"",
                    argv[optind - 1]);
            return CLI_USAGE;
        }
    }
    for (int i = optind; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) < 0 || !S_ISDIR(sb.st_mode)) {
            cli_err("%s: not a directory", argv[i]);
            return CLI_USAGE;
        }
    }
    lo.depth = (int) depth;
    if (optind < argc)
        lo.dirs = (const char *const *) &argv[optind]; /* argv[argc] is NULL */
    rc = ipckit_object_list(&lo, ls_add, &l);
    if (rc == 0)
        php_pairs(&l);
    if (rc < 0) {
        cli_err("%s", *ipckit_error_detail() ? ipckit_error_detail() : strerror(-rc));
        rows_free(&l);
        return CLI_FAIL;
    }
    if (l.n > 1)
        qsort(l.v, l.n, sizeof *l.v, ls_order);
    if (json)
        print_json(&l);
    else
        print_table(&l);
    rows_free(&l);
    if (fflush(stdout) != 0) {
        cli_err("writing standard output: %s", strerror(errno));
        return CLI_FAIL;
    }
    return CLI_OK;
}
