/*
 * nats-server processes for the tests; see natsfix.h.
 */
#include "natsfix.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *const nf_candidates[] = { "/usr/sbin/nats-server", "/usr/bin/nats-server",
                                             "/usr/local/bin/nats-server", NULL };

const char *
nf_program(void)
{
    const char *env = getenv("IPCKIT_NATS_SERVER");
    if (env != NULL && env[0] == '/' && access(env, X_OK) == 0)
        return env;
    for (int i = 0; nf_candidates[i] != NULL; i++)
        if (access(nf_candidates[i], X_OK) == 0)
            return nf_candidates[i];
    return NULL;
}

static pid_t session;

static int nf_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw);

void
nf_cleanup(void)
{
    char pattern[64];
    glob_t g;
    if (session == 0 || session != getpid())
        return;
    (void) snprintf(pattern, sizeof pattern, "/tmp/ipckit-nats.%ld.??????", (long) session);
    if (glob(pattern, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++)
            (void) nftw(g.gl_pathv[i], nf_rm, 16, FTW_DEPTH | FTW_PHYS);
        globfree(&g);
    }
}

void
nf_require_server(void)
{
    session = getpid();
    (void) atexit(nf_cleanup);
    if (nf_program() == NULL) {
        printf("SKIP: nats-server is not installed (Debian: apt-get install nats-server;"
               " or set IPCKIT_NATS_SERVER to its path)\n");
        fflush(stdout);
        exit(77);
    }
}

static void
nf_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Its configuration, listening on @p listen; a cluster node's routes too. */
static int
nf_write_config(const struct nf_server *s, const char *listen)
{
    char path[256], cluster[512] = "";
    FILE *f;
    if (s->cluster_port > 0)
        (void) snprintf(cluster, sizeof cluster,
                        "cluster {\n  name: ipckit\n  listen: 127.0.0.1:%d\n  routes: [%s]\n}",
                        s->cluster_port, s->routes);
    (void) snprintf(path, sizeof path, "%s/server.conf", s->dir);
    f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f,
            "server_name: %s\n"
            "listen: %s\n"
            "jetstream {\n  store_dir: \"%s/store\"\n}\n"
            "%s\n%s\n",
            s->name, listen, s->dir, cluster, s->extra);
    return fclose(f) == 0 ? 0 : -1;
}

/* The ports file the server writes: {"nats":["nats://127.0.0.1:P"],"cluster":[...]} */
static int
nf_read_ports(struct nf_server *s)
{
    char path[256], buf[1024];
    const char *p;
    ssize_t n;
    int fd;
    (void) snprintf(path, sizeof path, "%s/nats-server_%ld.ports", s->dir, (long) s->pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    n = read(fd, buf, sizeof buf - 1);
    (void) close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    /* "nats://" or, with TLS, "tls://" */
    p = strstr(buf, "\"nats\":[\"");
    if (p == NULL || (p = strstr(p, "://127.0.0.1:")) == NULL)
        return -1;
    s->port = atoi(p + strlen("://127.0.0.1:"));
    p = strstr(buf, "\"cluster\":[\"nats://127.0.0.1:");
    if (p != NULL)
        s->cluster_port = atoi(p + strlen("\"cluster\":[\"nats://127.0.0.1:"));
    return s->port > 0 ? 0 : -1;
}

/* Servers of this process, stopped at exit too: a failed check ends a test
 * without its teardown. */
#define NF_TRACK 8
static struct nf_server *tracked[NF_TRACK];

void
nf_stop_all(void)
{
    for (int i = 0; i < NF_TRACK; i++)
        if (tracked[i] != NULL && tracked[i]->owner == getpid())
            nf_stop(tracked[i]);
}

static void
nf_track(struct nf_server *s)
{
    static bool registered;
    if (!registered) {
        (void) atexit(nf_stop_all);
        registered = true;
    }
    for (int i = 0; i < NF_TRACK; i++)
        if (tracked[i] == s)
            return;
    for (int i = 0; i < NF_TRACK; i++)
        if (tracked[i] == NULL) {
            tracked[i] = s;
            return;
        }
}

static int
nf_spawn(struct nf_server *s)
{
    char conf[256], log[256];
    const char *prog = nf_program();
    pid_t parent = getpid();
    if (prog == NULL)
        return -1;
    s->owner = parent;
    nf_track(s);
    (void) snprintf(conf, sizeof conf, "%s/server.conf", s->dir);
    (void) snprintf(log, sizeof log, "%s/server.log", s->dir);
    fflush(NULL);
    s->pid = fork();
    if (s->pid < 0)
        return -1;
    if (s->pid == 0) {
        /* dies with the test process, whatever happens to it */
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        (void) setpgid(0, 0);
        execl(prog, prog, "-c", conf, "--ports_file_dir", s->dir, "-l", log, (char *) NULL);
        _exit(127);
    }
    /* ready when the ports file is there (written once it listens) */
    for (int i = 0; i < 400; i++) {
        int status;
        if (nf_read_ports(s) == 0)
            return 0;
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            fprintf(stderr, "nats-server exited at start; its log: %s\n", log);
            s->pid = 0;
            return -1;
        }
        nf_sleep_ms(25);
    }
    fprintf(stderr, "nats-server did not start in 10 s; its log: %s\n", log);
    nf_kill(s);
    return -1;
}

/* A server not yet started, named @p name, with a temporary directory of
 * its own; 0 or -1. */
static int
nf_prepare(struct nf_server *s, const char *name)
{
    memset(s, 0, sizeof *s);
    (void) snprintf(s->dir, sizeof s->dir, "/tmp/ipckit-nats.%ld.XXXXXX",
                    (long) (session ? session : getpid()));
    if (mkdtemp(s->dir) == NULL) {
        perror("mkdtemp");
        s->dir[0] = '\0';
        return -1;
    }
    s->owner = getpid();
    nf_track(s);
    (void) snprintf(s->name, sizeof s->name, "%s", name);
    return 0;
}

int
nf_start(struct nf_server *s, const char *name, const char *extra)
{
    if (nf_prepare(s, name) < 0)
        return -1;
    if (extra != NULL)
        (void) snprintf(s->extra, sizeof s->extra, "%s", extra);
    if (nf_write_config(s, "127.0.0.1:-1") < 0)
        return -1;
    return nf_spawn(s);
}

static void
nf_remove_ports_file(struct nf_server *s)
{
    char path[256];
    (void) snprintf(path, sizeof path, "%s/nats-server_%ld.ports", s->dir, (long) s->pid);
    (void) unlink(path);
}

int
nf_restart(struct nf_server *s)
{
    char listen[64];
    (void) snprintf(listen, sizeof listen, "127.0.0.1:%d", s->port);
    if (nf_write_config(s, listen) < 0)
        return -1;
    /* the port was the server's a moment ago; wait for the kernel to free it */
    for (int i = 0; i < 40; i++) {
        if (nf_spawn(s) == 0)
            return 0;
        nf_sleep_ms(100);
    }
    return -1;
}

void
nf_kill(struct nf_server *s)
{
    if (s->pid > 0) {
        nf_remove_ports_file(s);
        (void) kill(s->pid, SIGKILL);
        while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    s->pid = 0;
}

static int
nf_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void) sb;
    (void) flag;
    (void) ftw;
    (void) remove(path);
    return 0;
}

void
nf_stop(struct nf_server *s)
{
    if (s->pid > 0) {
        int status;
        nf_remove_ports_file(s);
        (void) kill(s->pid, SIGTERM);
        for (int i = 0; i < 200; i++) {
            if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
                s->pid = 0;
                break;
            }
            nf_sleep_ms(25);
        }
        nf_kill(s);
    }
    if (s->dir[0] != '\0')
        (void) nftw(s->dir, nf_rm, 16, FTW_DEPTH | FTW_PHYS);
    s->dir[0] = '\0';
}

int
nf_cluster_start(struct nf_server nodes[NF_CLUSTER_MAX])
{
    int ports[NF_CLUSTER_MAX], i;
    /* JetStream in a cluster needs its routes at start: free loopback ports
     * for them, taken now (the client ports are the servers' choice) */
    for (i = 0; i < NF_CLUSTER_MAX; i++) {
        ports[i] = nf_free_port();
        for (int j = 0; j < i; j++)
            if (ports[j] == ports[i])
                ports[i] = -1;
        if (ports[i] <= 0)
            return -1;
    }
    for (i = 0; i < NF_CLUSTER_MAX; i++) {
        struct nf_server *s = &nodes[i];
        char name[16];
        size_t off = 0;
        (void) snprintf(name, sizeof name, "n%d", i + 1);
        if (nf_prepare(s, name) < 0)
            goto fail;
        for (int j = 0; j < NF_CLUSTER_MAX; j++)
            if (j != i)
                off += (size_t) snprintf(s->routes + off, sizeof s->routes - off,
                                         "%snats://127.0.0.1:%d", off ? ", " : "", ports[j]);
        s->cluster_port = ports[i];
        if (nf_write_config(s, "127.0.0.1:-1") < 0 || nf_spawn(s) < 0)
            goto fail;
    }
    return 0;
fail:
    for (int j = 0; j <= i && j < NF_CLUSTER_MAX; j++)
        nf_stop(&nodes[j]);
    return -1;
}

void
nf_url(char *buf, size_t cap, const struct nf_server *nodes, int n, const char *queue,
       const char *params)
{
    size_t off = (size_t) snprintf(buf, cap, "nats://");
    for (int i = 0; i < n && off < cap; i++)
        off += (size_t) snprintf(buf + off, cap - off, "%s127.0.0.1:%d", i ? "," : "",
                                 nodes[i].port);
    if (off < cap && queue != NULL)
        (void) snprintf(buf + off, cap - off, "/%s%s%s", queue, params ? "?" : "",
                        params ? params : "");
}

void
nf_name(char *buf, size_t cap, const struct nf_server *nodes, int n, const char *prefix,
        const char *params)
{
    static unsigned count;
    char queue[64];
    size_t off;
    (void) snprintf(queue, sizeof queue, "%s%ld_%u", prefix, (long) getpid(), ++count);
    nf_url(buf, cap, nodes, n, queue, params);
    off = strlen(buf);
    if (off < cap)
        (void) snprintf(buf + off, cap - off, "%ctimeout_ms=%d", params ? '&' : '?',
                        30000 * nf_slow_factor());
}

int
nf_slow_factor(void)
{
    const char *e = getenv("CK_TIMEOUT_MULTIPLIER");
    int f = e != NULL ? atoi(e) : 1;
    return f < 1 ? 1 : f > 10 ? 10 : f;
}

int
nf_free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int port = -1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *) &a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *) &a, &len) == 0)
        port = ntohs(a.sin_port);
    (void) close(fd);
    return port;
}
