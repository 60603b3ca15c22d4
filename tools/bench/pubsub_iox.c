/*
 * ipckit-bench --pubsub: the Eclipse iceoryx 2.0 peer, through its C
 * binding (Debian: libiceoryx-binding-c-dev, and iceoryx for the iox-roudi
 * daemon). Built only when CMake finds the binding.
 *
 * The benchmark starts its own RouDi with a configuration written into its
 * temporary directory (mempools for 64-byte and 64 KiB chunks) and stops it
 * at the end. RouDi's own files have fixed names (/dev/shm/iceoryx_mgmt,
 * /dev/shm/USER, /tmp/roudi*): when one of them is there already (another
 * RouDi runs, or one died), iceoryx is skipped rather than disturbed.
 *
 * Lossless as the ipckit ring's wait mode: publishers WAIT_FOR_CONSUMER,
 * subscribers BLOCK_PRODUCER with a queue of 256. "iceoryx spin" takes in
 * a busy loop; "iceoryx waitset" sleeps in a waitset until data is there.
 * Every process deregisters from RouDi by exit() (the runtime's destructor).
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "iceoryx_binding_c/api.h"

#include "pubsub.h"

static pid_t roudi = -1;
static char leftovers[5][128];

static int
file_exists(const char *p)
{
    struct stat sb;
    return lstat(p, &sb) == 0;
}

static int
iox_start(struct ps_env *env, char *err, size_t cap)
{
    char conf[128], log[128];
    struct passwd *pw = getpwuid(geteuid());
    pid_t parent;
    FILE *f;
    (void) snprintf(leftovers[0], sizeof leftovers[0], "/dev/shm/iceoryx_mgmt");
    (void) snprintf(leftovers[1], sizeof leftovers[1], "/dev/shm/%s", pw ? pw->pw_name : "root");
    (void) snprintf(leftovers[2], sizeof leftovers[2], "/tmp/roudi");
    (void) snprintf(leftovers[3], sizeof leftovers[3], "/tmp/roudi.lock");
    (void) snprintf(leftovers[4], sizeof leftovers[4], "/tmp/iox-unique-roudi.lock");
    if (roudi > 0)
        return 0; /* both variants share one daemon */
    for (int i = 0; i < 5; i++)
        if (file_exists(leftovers[i])) {
            (void) snprintf(err, cap, "%s exists: another RouDi runs (or one died); not touched",
                            leftovers[i]);
            return 1;
        }
    (void) snprintf(conf, sizeof conf, "%s/roudi.toml", env->dir);
    (void) snprintf(log, sizeof log, "%s/roudi.log", env->dir);
    f = fopen(conf, "w");
    if (f == NULL) {
        (void) snprintf(err, cap, "%s: %s", conf, strerror(errno));
        return 1;
    }
    /* chunks: the payload plus iceoryx's chunk header (40 bytes) */
    (void) fputs("[general]\nversion = 1\n\n[[segment]]\n\n"
                 "[[segment.mempool]]\nsize = 128\ncount = 10000\n\n"
                 "[[segment.mempool]]\nsize = 65664\ncount = 1500\n",
                 f);
    (void) fclose(f);
    parent = getpid();
    roudi = fork();
    if (roudi == 0) {
        int fd;
        /* the daemon goes with the benchmark, however that ends */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
            _exit(127);
        fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0) {
            (void) dup2(fd, 1);
            (void) dup2(fd, 2);
        }
        execlp("iox-roudi", "iox-roudi", "-m", "off", "-l", "warning", "-c", conf, (char *) NULL);
        _exit(127);
    }
    if (roudi < 0) {
        (void) snprintf(err, cap, "fork: %s", strerror(errno));
        return 1;
    }
    for (int k = 0; k < 1000; k++) {
        char buf[4096] = "";
        int st;
        FILE *l = fopen(log, "r");
        if (l != NULL) {
            size_t n = fread(buf, 1, sizeof buf - 1, l);
            buf[n] = '\0';
            (void) fclose(l);
        }
        if (strstr(buf, "RouDi is ready for clients") != NULL)
            return 0;
        if (waitpid(roudi, &st, WNOHANG) == roudi) {
            roudi = -1;
            (void) snprintf(err, cap, "iox-roudi exited (status %#x; is the iceoryx package"
                                      " installed?), see its log above",
                            st);
            (void) fprintf(stderr, "%s", buf);
            return 1;
        }
        (void) usleep(10000);
    }
    (void) kill(roudi, SIGKILL);
    (void) waitpid(roudi, NULL, 0);
    roudi = -1;
    (void) snprintf(err, cap, "iox-roudi did not become ready in 10 s");
    return 1;
}

static void
iox_stop(struct ps_env *env)
{
    char path[128];
    int st = 0;
    (void) snprintf(path, sizeof path, "%s/roudi.toml", env->dir);
    (void) unlink(path);
    (void) snprintf(path, sizeof path, "%s/roudi.log", env->dir);
    if (roudi <= 0) {
        (void) unlink(path);
        return;
    }
    (void) kill(roudi, SIGTERM);
    for (int k = 0; k < 1000 && waitpid(roudi, &st, WNOHANG) == 0; k++)
        (void) usleep(10000);
    if (kill(roudi, 0) == 0) {
        (void) kill(roudi, SIGKILL);
        (void) waitpid(roudi, &st, 0);
    }
    roudi = -1;
    (void) unlink(path);
    /* a RouDi that did not exit cleanly leaves its files (none were there
     * before it started) */
    for (int i = 0; i < 5; i++)
        if (file_exists(leftovers[i]) && unlink(leftovers[i]) == 0)
            (void) fprintf(stderr, "ipckit-bench: removed %s left by iox-roudi\n", leftovers[i]);
}

static void
iox_child_init(const char *proc)
{
    iox_set_loglevel(Iceoryx_LogLevel_Warn);
    iox_runtime_init(proc);
}

static void
iox_child_fini(void)
{
    iox_runtime_shutdown();
}

struct ioxp {
    iox_pub_storage_t st;
    iox_pub_t pub;
};

struct ioxs {
    iox_sub_storage_t st;
    iox_sub_t sub;
    iox_ws_storage_t wst;
    iox_ws_t ws; /* NULL: spin */
};

static void *
iox_open_pub(const char *topic, size_t size)
{
    struct ioxp *p = calloc(1, sizeof *p);
    iox_pub_options_t o;
    (void) size;
    if (p == NULL)
        return NULL;
    iox_pub_options_init(&o);
    o.historyCapacity = 0;
    o.subscriberTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
    p->pub = iox_pub_init(&p->st, "ipckit-bench", topic, "data", &o);
    return p;
}

static void *
iox_open_sub_mode(const char *topic, bool ws)
{
    struct ioxs *s = calloc(1, sizeof *s);
    iox_sub_options_t o;
    if (s == NULL)
        return NULL;
    iox_sub_options_init(&o);
    o.queueCapacity = 256;
    o.historyRequest = 0;
    o.queueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
    s->sub = iox_sub_init(&s->st, "ipckit-bench", topic, "data", &o);
    if (ws) {
        s->ws = iox_ws_init(&s->wst);
        if (iox_ws_attach_subscriber_state(s->ws, s->sub, SubscriberState_HAS_DATA, 0, NULL) !=
            WaitSetResult_SUCCESS) {
            iox_ws_deinit(s->ws);
            iox_sub_deinit(s->sub);
            free(s);
            return NULL;
        }
    }
    return s;
}

static void *
iox_open_sub_spin(const char *topic, size_t size)
{
    (void) size;
    return iox_open_sub_mode(topic, false);
}

static void *
iox_open_sub_ws(const char *topic, size_t size)
{
    (void) size;
    return iox_open_sub_mode(topic, true);
}

static bool
iox_has_subs(void *pub, int n)
{
    (void) n;
    return iox_pub_has_subscribers(((struct ioxp *) pub)->pub);
}

static bool
iox_joined(void *sub)
{
    return iox_sub_get_subscription_state(((struct ioxs *) sub)->sub) == SubscribeState_SUBSCRIBED;
}

static int
iox_publish(void *pub, uint64_t seq, size_t size)
{
    struct ioxp *p = pub;
    void *chunk;
    enum iox_AllocationResult r;
    while ((r = iox_pub_loan_chunk(p->pub, &chunk, (uint32_t) size)) != AllocationResult_SUCCESS)
        if (r != AllocationResult_RUNNING_OUT_OF_CHUNKS)
            return -1;
    memcpy(chunk, &seq, 8);
    memcpy((unsigned char *) chunk + size - 8, &seq, 8);
    iox_pub_publish_chunk(p->pub, chunk);
    return 0;
}

static int
iox_receive(void *sub, uint64_t *seq, size_t size)
{
    struct ioxs *s = sub;
    const void *chunk;
    uint64_t tail;
    enum iox_ChunkReceiveResult r;
    while ((r = iox_sub_take_chunk(s->sub, &chunk)) != ChunkReceiveResult_SUCCESS) {
        if (r != ChunkReceiveResult_NO_CHUNK_AVAILABLE)
            return -1;
        if (s->ws != NULL) {
            iox_notification_info_t info[4];
            uint64_t missed = 0;
            (void) iox_ws_wait(s->ws, info, 4, &missed);
        }
    }
    memcpy(seq, chunk, 8);
    memcpy(&tail, (const unsigned char *) chunk + size - 8, 8);
    iox_sub_release_chunk(s->sub, chunk);
    return tail == *seq ? 0 : -1;
}

static void
iox_close_pub(void *pub)
{
    struct ioxp *p = pub;
    iox_pub_deinit(p->pub);
    free(p);
}

static void
iox_close_sub(void *sub)
{
    struct ioxs *s = sub;
    if (s->ws != NULL) {
        iox_ws_detach_subscriber_state(s->ws, s->sub, SubscriberState_HAS_DATA);
        iox_ws_deinit(s->ws);
    }
    iox_sub_deinit(s->sub);
    free(s);
}

const struct ps_xport ps_iox_spin = {
    "iceoryx spin",    iox_start,    iox_stop,   iox_child_init, iox_child_fini, iox_open_pub,
    iox_open_sub_spin, iox_has_subs, iox_joined, iox_publish,    iox_receive,    iox_close_pub,
    iox_close_sub,
};

const struct ps_xport ps_iox_ws = {
    "iceoryx waitset", iox_start,    iox_stop,   iox_child_init, iox_child_fini, iox_open_pub,
    iox_open_sub_ws,   iox_has_subs, iox_joined, iox_publish,    iox_receive,    iox_close_pub,
    iox_close_sub,
};
