/*
 * Publish/subscribe over a broadcast ring in shared memory: a publisher of
 * sensor samples and three subscribers, each of which sees every sample,
 * at its own pace. The third is slow on purpose: the publisher never waits
 * for it (the ring's drop mode), so when it falls a whole ring behind it
 * learns how many samples it missed (-ENOBUFS once, and the total from
 * IPCKIT_CTL_MISSED) and goes on with the oldest sample still there.
 *
 * The name says it all: "shm:NAME?bcast=1" is a broadcast ring (created in
 * drop mode); "?bcast=wait" would make the publisher wait for the slowest
 * subscriber instead, and "&history=N" lets a late subscriber start with
 * the last N samples. IPCKIT_SEND publishes, IPCKIT_RECV subscribes.
 *
 * Usage: example_pubsub [--fast] [--name NAME]
 *   --fast  no sleeps
 *   --name  the channel's name instead of a broadcast ring of the program's
 *           own, e.g. nats://127.0.0.1:4222/samples?bcast=1: the same
 *           program then publishes and subscribes through a NATS server
 *           (the nats: plug-in), where the subscribers could be on other
 *           hosts. Over NATS the slow subscriber's client holds 65536
 *           samples before it drops any, so it misses none here.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ipckit/ipckit.h>

#include "common.h"

#define SAMPLES 200
#define SUBSCRIBERS 3
#define RING 32 /* messages the ring holds */

struct sample {
    uint32_t seq;
    int32_t millikelvin;
};

static const char *name;

static void
nap_us(long us)
{
    struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
    (void) nanosleep(&ts, NULL);
}

static int
subscriber(int id, int ready_fd, bool fast)
{
    ipckit_channel *sub = NULL;
    unsigned long long missed = 0;
    struct sample s;
    long got = 0, gaps = 0;
    int rc = ipckit_open(&sub, name, IPCKIT_RECV, NULL);
    if (rc < 0) {
        fprintf(stderr, "subscriber %d: %s\n", id, ipckit_error_detail());
        return 1;
    }
    /* joined: every sample published from now on is ours to read */
    if (write(ready_fd, "r", 1) != 1)
        return 1;
    for (;;) {
        ssize_t n = ipckit_recv(sub, &s, sizeof s, 10000);
        if (n == -ENOBUFS) {
            gaps++; /* fell behind: the detail says how many were missed */
            if (id == SUBSCRIBERS - 1 && gaps == 1)
                printf("subscriber %d: %s\n", id, ipckit_last_error(sub));
            continue;
        }
        if (n != (ssize_t) sizeof s) {
            fprintf(stderr, "subscriber %d: %s\n", id, ipckit_last_error(sub));
            return 1;
        }
        if (s.seq == UINT32_MAX)
            break; /* the publisher is done */
        got++;
        if (id == SUBSCRIBERS - 1)
            nap_us(fast ? 1000 : 20000); /* the slow one */
    }
    (void) ipckit_ctl(sub, IPCKIT_CTL_MISSED, &missed);
    printf("subscriber %d: %ld samples received, %llu missed, %ld gap(s) reported\n", id, got,
           missed, gaps);
    (void) ipckit_close(sub);
    return got + (long) missed >= SAMPLES ? 0 : 1;
}

/* Take "--name NAME" out of argv; the rest is example_fast()'s. */
static const char *
take_name(int *argc, char **argv)
{
    const char *given = NULL;
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--name") == 0 && i + 1 < *argc)
            given = argv[++i];
        else
            argv[out++] = argv[i];
    }
    *argc = out;
    return given;
}

int
main(int argc, char **argv)
{
    const char *given = take_name(&argc, argv);
    bool fast = example_fast(argc, argv);
    char buf[128];
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *pub = NULL;
    pid_t pids[SUBSCRIBERS];
    int ready[2], rc, failed = 0;

    (void) snprintf(buf, sizeof buf, "shm:example-pubsub.%ld?bcast=1", (long) getpid());
    name = given != NULL ? given : buf;
    o.capacity = RING;
    o.max_msg_size = sizeof(struct sample);
    rc = ipckit_open(&pub, name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, &o);
    if (rc < 0) {
        fprintf(stderr, "publisher: %s\n", ipckit_error_detail());
        return 1;
    }
    if (pipe(ready) < 0)
        return 1;
    for (int i = 0; i < SUBSCRIBERS; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            (void) close(ready[0]);
            _exit(subscriber(i, ready[1], fast));
        }
    }
    (void) close(ready[1]);
    for (int i = 0; i < SUBSCRIBERS; i++) {
        char c;
        if (read(ready[0], &c, 1) != 1)
            return 1;
    }
    (void) close(ready[0]);
    for (uint32_t seq = 0; seq < SAMPLES; seq++) {
        struct sample s = { seq, 293150 + (int32_t) (seq % 50) * 10 };
        /* drop mode: a send never waits for subscribers */
        if (ipckit_send(pub, &s, sizeof s, 0) < 0) {
            fprintf(stderr, "publisher: %s\n", ipckit_last_error(pub));
            return 1;
        }
        nap_us(fast ? 100 : 2000);
    }
    printf("publisher: %d samples published\n", SAMPLES);
    /* the end marker, until every subscriber has stopped (the slow one may
     * miss one) */
    for (int i = 0; i < SUBSCRIBERS; i++) {
        int st = 0;
        struct sample end = { UINT32_MAX, 0 };
        while (waitpid(pids[i], &st, WNOHANG) == 0) {
            (void) ipckit_send(pub, &end, sizeof end, 0);
            nap_us(5000);
        }
        failed |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    }
    (void) ipckit_close(pub);
    (void) ipckit_unlink(name);
    return failed;
}
