/*
 * ipckit-bench: the nats: row. nats: (the plug-in libipckit-nats) against
 * the raw C client, libnats, doing the same work on the same server in the
 * same run: a JetStream work-queue stream per channel; a send is a publish
 * with a message id that waits for the server's acknowledgement (the
 * message is stored); a receive reads the first message with a direct get
 * and takes it with a message delete, and waits for the stream's
 * republished wake-up when there is none. That is what nats: does
 * (docs/backends/nats.md); the raw half is that protocol written against
 * libnats by hand, so the difference is what ipckit adds.
 *
 * The benchmark starts its own nats-server (Debian's package), with
 * JetStream and its store in the scratch directory, on a free loopback
 * port that the server picks; the process that started it stops it at exit
 * and the kernel kills it if that process dies (PR_SET_PDEATHSIG). Without
 * nats-server the row is skipped, and says why.
 *
 * Not in the default selection (options.c): a message costs a network
 * round trip or two, about a thousand times a pipe's; ask for it with
 * --backends=nats and counts to match (docs/performance.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#include <ipckit/ipckit.h>
#include <ipckit/backend.h>

#include "bench.h"

static pid_t server_pid, server_owner;
static int server_port;
static char server_dir[64];
static char server_why[160];

static void
nats_server_stop(void)
{
    if (server_pid > 0 && server_owner == getpid()) {
        (void) kill(server_pid, SIGTERM);
        while (waitpid(server_pid, NULL, 0) < 0 && errno == EINTR)
            ;
        server_pid = 0;
        if (server_dir[0] != '\0') {
            char cmd[128];
            (void) snprintf(cmd, sizeof cmd, "rm -rf '%s'", server_dir);
            if (system(cmd) != 0)
                (void) fprintf(stderr, "ipckit-bench: could not remove %s\n", server_dir);
        }
    }
}

static int
nats_read_port(void)
{
    char path[128], buf[512];
    const char *key = "\"nats\":[\"nats://127.0.0.1:", *p;
    ssize_t n;
    int fd;
    (void) snprintf(path, sizeof path, "%s/nats-server_%ld.ports", server_dir, (long) server_pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof buf - 1);
    (void) close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    p = strstr(buf, key);
    return p != NULL ? atoi(p + strlen(key)) : 0;
}

/* The server's client port, starting it on first use; 0 when there is none. */
static int
nats_server(void)
{
    static const char *const progs[] = { "/usr/sbin/nats-server", "/usr/bin/nats-server",
                                         "/usr/local/bin/nats-server", NULL };
    const char *prog = NULL;
    char store[96], log[96];
    pid_t parent = getpid();

    if (server_pid > 0 || server_why[0] != '\0')
        return server_port;
    for (int i = 0; progs[i] != NULL && prog == NULL; i++)
        if (access(progs[i], X_OK) == 0)
            prog = progs[i];
    if (prog == NULL) {
        (void) snprintf(server_why, sizeof server_why,
                        "no nats-server to measure against (apt-get install nats-server)");
        return 0;
    }
    (void) snprintf(server_dir, sizeof server_dir, "/tmp/ipckit-bench-nats.%ld.XXXXXX",
                    (long) getpid());
    if (mkdtemp(server_dir) == NULL) {
        (void) snprintf(server_why, sizeof server_why, "mkdtemp: %s", strerror(errno));
        server_dir[0] = '\0';
        return 0;
    }
    (void) snprintf(store, sizeof store, "%s/store", server_dir);
    (void) snprintf(log, sizeof log, "%s/log", server_dir);
    fflush(NULL);
    server_pid = fork();
    if (server_pid < 0) {
        (void) snprintf(server_why, sizeof server_why, "fork: %s", strerror(errno));
        server_pid = 0;
        return 0;
    }
    if (server_pid == 0) {
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        (void) setpgid(0, 0);
        execl(prog, prog, "-a", "127.0.0.1", "-p", "-1", "-js", "-sd", store,
              "--ports_file_dir", server_dir, "-l", log, (char *) NULL);
        _exit(127);
    }
    server_owner = getpid();
    (void) atexit(nats_server_stop);
    for (int i = 0; i < 400 && server_port == 0; i++) {
        struct timespec ts = { 0, 25000000L };
        server_port = nats_read_port();
        if (server_port == 0)
            (void) nanosleep(&ts, NULL);
    }
    if (server_port == 0) {
        (void) snprintf(server_why, sizeof server_why, "nats-server did not start (log: %s)",
                        log);
        nats_server_stop();
    }
    return server_port;
}

int
bx_nats_name(const struct bx_run *r, int chan, enum bx_dir dir, char *buf, size_t cap)
{
    int port = nats_server(), n;
    (void) dir;
    if (port == 0)
        return -1;
    n = snprintf(buf, cap, "nats://127.0.0.1:%d/bench_%d_%u_%d", port, (int) getpid(), r->id,
                 chan);
    return n < 0 || (size_t) n >= cap ? -1 : 0;
}

size_t
bx_nats_max(void)
{
    return 1u << 20; /* the server's default max_payload, less the header below */
}

/* ---- the same protocol with libnats directly ------------------------------ */

struct rawnats {
    natsConnection *nc;
    jsCtx *js;
    natsSubscription *wake;
    char stream[BX_NAME_MAX], subject[BX_NAME_MAX], all[BX_NAME_MAX];
    char idpfx[17];
    unsigned long long idseq;
};

/* The stream and subjects of queue @p q, as nats: derives them. */
static void
raw_names(const char *q, struct rawnats *e)
{
    (void) snprintf(e->stream, sizeof e->stream, "ipckit_%s", q);
    (void) snprintf(e->subject, sizeof e->subject, "ipckit.%s.1", q);
    (void) snprintf(e->all, sizeof e->all, "ipckit.%s.*", q);
}

/*
 * Connect with an inbox prefix of this connection's own: the children of
 * one parent inherit libnats' generator of inbox names, so that without it
 * two of them may wait for their replies on the same subject.
 */
static int
raw_connect(struct rawnats *e)
{
    char url[64], inbox[40];
    unsigned char rnd[8];
    natsOptions *o = NULL;
    natsStatus s;
    (void) snprintf(url, sizeof url, "nats://127.0.0.1:%d", server_port);
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t) sizeof rnd)
        memset(rnd, getpid() & 0xff, sizeof rnd);
    (void) snprintf(inbox, sizeof inbox, "_INBOX.%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0],
                    rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    s = natsOptions_Create(&o);
    if (s == NATS_OK)
        s = natsOptions_SetURL(o, url);
    if (s == NATS_OK)
        s = natsOptions_SetCustomInboxPrefix(o, inbox);
    if (s == NATS_OK)
        s = natsConnection_Connect(&e->nc, o);
    natsOptions_Destroy(o);
    if (s != NATS_OK)
        return -ECONNREFUSED;
    if (natsConnection_JetStream(&e->js, e->nc, NULL) != NATS_OK) {
        natsConnection_Destroy(e->nc);
        return -ENOMEM;
    }
    return 0;
}

static void
raw_disconnect(struct rawnats *e)
{
    if (e->wake != NULL)
        natsSubscription_Destroy(e->wake);
    if (e->js != NULL)
        jsCtx_Destroy(e->js);
    if (e->nc != NULL)
        natsConnection_Destroy(e->nc);
    e->wake = NULL;
    e->js = NULL;
    e->nc = NULL;
}

static int
raw_prepare(struct bx_run *r)
{
    struct rawnats e;
    if (nats_server() == 0) {
        (void) snprintf(r->err, sizeof r->err, "%s", server_why);
        return 1;
    }
    memset(&e, 0, sizeof e);
    if (raw_connect(&e) < 0) {
        (void) snprintf(r->err, sizeof r->err, "connect to nats-server: %s",
                        nats_GetLastError(NULL));
        return -1;
    }
    for (int c = 0; c < r->nchan; c++) {
        jsStreamConfig sc;
        jsRePublish rp;
        jsStreamInfo *si = NULL;
        jsErrCode je = 0;
        const char *subjects[1];
        char dest[BX_NAME_MAX + 32];
        /* names[c]: the queue, made here in the parent, read by the children */
        (void) snprintf(r->names[c], sizeof r->names[c], "braw_%d_%u_%d", (int) getpid(), r->id,
                        c);
        raw_names(r->names[c], &e);
        subjects[0] = e.all;
        (void) snprintf(dest, sizeof dest, "%.*s.wake.{{wildcard(1)}}",
                        (int) (strlen(e.all) - 2), e.all);
        jsStreamConfig_Init(&sc);
        sc.Name = e.stream;
        sc.Subjects = subjects;
        sc.SubjectsLen = 1;
        sc.Retention = js_WorkQueuePolicy;
        sc.Discard = js_DiscardNew;
        sc.Storage = js_FileStorage;
        sc.AllowDirect = true;
        memset(&rp, 0, sizeof rp);
        rp.Source = e.all;
        rp.Destination = dest;
        rp.HeadersOnly = true;
        sc.RePublish = &rp;
        if (js_AddStream(&si, e.js, &sc, NULL, &je) != NATS_OK) {
            (void) snprintf(r->err, sizeof r->err, "create stream %.60s: %.160s", e.stream,
                            nats_GetLastError(NULL));
            r->names[c][0] = '\0';
            raw_disconnect(&e);
            return -1;
        }
        jsStreamInfo_Destroy(si);
    }
    /* the children make their own connections */
    raw_disconnect(&e);
    return 0;
}

static void
raw_parent_after_fork(struct bx_run *r)
{
    (void) r;
}

static int
raw_open(struct bx_run *r, int chan, enum bx_dir dir, void **ep)
{
    struct rawnats *e = calloc(1, sizeof *e);
    unsigned char rnd[8];
    int rc;
    if (e == NULL)
        return -ENOMEM;
    raw_names(r->names[chan], e);
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t) sizeof rnd)
        memset(rnd, getpid() & 0xff, sizeof rnd);
    for (int i = 0; i < 8; i++)
        (void) snprintf(e->idpfx + 2 * i, 3, "%02x", rnd[i]);
    rc = raw_connect(e);
    if (rc == 0 && dir == BX_RECV) {
        char wake[BX_NAME_MAX + 16];
        (void) snprintf(wake, sizeof wake, "%.*s.wake.*", (int) (strlen(e->all) - 2), e->all);
        if (natsConnection_SubscribeSync(&e->wake, e->nc, wake) != NATS_OK)
            rc = -EIO;
    }
    if (rc < 0) {
        raw_disconnect(e);
        free(e);
        return rc;
    }
    *ep = e;
    return 0;
}

static int
raw_send(void *ep, const void *buf, size_t len)
{
    struct rawnats *e = ep;
    natsMsg *m = NULL;
    jsPubAck *pa = NULL;
    jsErrCode je = 0;
    char id[40];
    natsStatus s;
    (void) snprintf(id, sizeof id, "%s%016llx", e->idpfx, ++e->idseq);
    s = natsMsg_Create(&m, e->subject, NULL, buf, (int) len);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
    if (s == NATS_OK)
        s = js_PublishMsg(&pa, e->js, m, NULL, &je);
    jsPubAck_Destroy(pa);
    natsMsg_Destroy(m);
    if (s != NATS_OK)
        (void) fprintf(stderr, "ipckit-bench: nats raw: publish to %s: %s\n", e->subject,
                       nats_GetLastError(NULL));
    return s == NATS_OK ? 0 : -EIO;
}

static ssize_t
raw_recv(void *ep, void *buf, size_t cap)
{
    struct rawnats *e = ep;
    uint64_t from = 0;
    for (;;) {
        jsDirectGetMsgOptions dg;
        natsMsg *m = NULL, *w = NULL;
        jsErrCode je = 0;
        natsStatus s;
        jsDirectGetMsgOptions_Init(&dg);
        dg.Sequence = from;
        dg.NextBySubject = e->all;
        s = js_DirectGetMsg(&m, e->js, e->stream, NULL, &dg);
        if (s == NATS_OK) {
            uint64_t seq = natsMsg_GetSequence(m);
            int len = natsMsg_GetDataLength(m);
            if ((size_t) len > cap) {
                natsMsg_Destroy(m);
                return -EMSGSIZE;
            }
            if (js_DeleteMsg(e->js, e->stream, seq, NULL, &je) == NATS_OK) {
                memcpy(buf, natsMsg_GetData(m), (size_t) len);
                natsMsg_Destroy(m);
                return len;
            }
            natsMsg_Destroy(m);
            from = seq + 1; /* another receiver took it */
            continue;
        }
        if (s != NATS_NOT_FOUND) {
            (void) fprintf(stderr, "ipckit-bench: nats raw: get from %s: %s\n", e->stream,
                           nats_GetLastError(NULL));
            return -EIO;
        }
        from = 0;
        if (natsSubscription_NextMsg(&w, e->wake, 250) == NATS_OK)
            natsMsg_Destroy(w);
    }
}

static void
raw_close(void *ep)
{
    raw_disconnect(ep);
    free(ep);
}

static void
raw_cleanup(struct bx_run *r)
{
    struct rawnats e;
    if (server_port == 0)
        return;
    memset(&e, 0, sizeof e);
    if (raw_connect(&e) < 0)
        return;
    for (int c = 0; c < r->nchan; c++) {
        struct rawnats n;
        jsErrCode je = 0;
        if (r->names[c][0] == '\0')
            continue;
        raw_names(r->names[c], &n);
        (void) js_DeleteStream(e.js, n.stream, NULL, &je);
    }
    raw_disconnect(&e);
}

const struct bx_variant bx_raw_nats = {
    .name = "raw",
    .prepare = raw_prepare,
    .parent_after_fork = raw_parent_after_fork,
    .open = raw_open,
    .send = raw_send,
    .recv = raw_recv,
    .close = raw_close,
    .cleanup = raw_cleanup,
};

/* ---- nats: through the channel API ----------------------------------------- */

static int
ipk_nats_prepare(struct bx_run *r)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    if (nats_server() == 0) {
        (void) snprintf(r->err, sizeof r->err, "%s", server_why);
        return 1;
    }
    if (ipckit_backend_find("nats") == NULL) {
        (void) snprintf(r->err, sizeof r->err,
                        "no nats: backend (the plug-in libipckit-nats.so is not beside"
                        " libipckit)");
        return 1;
    }
    o.open_timeout_ms = 10000;
    for (int c = 0; c < r->nchan; c++) {
        ipckit_channel *ch = NULL;
        int rc;
        if (bx_nats_name(r, c, BX_RECV, r->names[c], sizeof r->names[c]) < 0)
            return -1;
        rc = ipckit_open(&ch, r->names[c], IPCKIT_RECV | IPCKIT_CREATE | IPCKIT_EXCL, &o);
        if (rc < 0) {
            (void) snprintf(r->err, sizeof r->err, "open %.100s: %.140s", r->names[c],
                            ipckit_error_detail());
            for (int k = 0; k < c; k++)
                (void) ipckit_unlink(r->names[k]);
            r->names[c][0] = '\0';
            return -1;
        }
        (void) ipckit_close(ch);
    }
    return 0;
}

static void
ipk_nats_parent_after_fork(struct bx_run *r)
{
    (void) r;
}

static int
ipk_nats_open(struct bx_run *r, int chan, enum bx_dir dir, void **ep)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *ch = NULL;
    int rc;
    o.open_timeout_ms = 30000;
    rc = ipckit_open(&ch, r->names[chan], dir == BX_SEND ? IPCKIT_SEND : IPCKIT_RECV, &o);
    if (rc < 0) {
        (void) fprintf(stderr, "ipckit-bench: open %s: %s\n", r->names[chan],
                       ipckit_error_detail());
        return rc;
    }
    *ep = ch;
    return 0;
}

static int
ipk_nats_send(void *ep, const void *buf, size_t len)
{
    return ipckit_send(ep, buf, len, IPCKIT_FOREVER);
}

static ssize_t
ipk_nats_recv(void *ep, void *buf, size_t cap)
{
    return ipckit_recv(ep, buf, cap, IPCKIT_FOREVER);
}

static ssize_t
ipk_nats_recv_timed(void *ep, void *buf, size_t cap, int timeout_ms)
{
    return ipckit_recv(ep, buf, cap, timeout_ms);
}

static void
ipk_nats_close(void *ep)
{
    (void) ipckit_close(ep);
}

static void
ipk_nats_cleanup(struct bx_run *r)
{
    for (int c = 0; c < r->nchan; c++)
        if (r->names[c][0] != '\0')
            (void) ipckit_unlink(r->names[c]);
}

const struct bx_variant bx_ipckit_nats = {
    .name = "ipckit",
    .prepare = ipk_nats_prepare,
    .parent_after_fork = ipk_nats_parent_after_fork,
    .open = ipk_nats_open,
    .send = ipk_nats_send,
    .recv = ipk_nats_recv,
    .recv_timed = ipk_nats_recv_timed,
    .close = ipk_nats_close,
    .cleanup = ipk_nats_cleanup,
};
