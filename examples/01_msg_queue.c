/*
 * The tutorial's message-queue scenario with ipckit: the parent creates a
 * System V message queue, forks 3 producers that send 5 messages each and 2
 * consumers that print what they take, and waits for all of them.
 *
 * The tutorial's consumers stop after 6 messages each, so 3 of its 15
 * messages are never read, and the queue is never removed. Here:
 *
 *   - Data messages have type 1. When every producer has exited, the parent
 *     sends one end marker (type 2) per consumer. Consumers receive with
 *     selector -2 ("the lowest type <= 2"), so a marker is only ever taken
 *     when no data message is left: every message is consumed exactly once,
 *     however the work happens to be shared between the consumers.
 *   - Each consumer reports how many messages it took in a type 3 message
 *     to the parent, which checks that the counts add up to 15 and that the
 *     queue is empty, then removes the queue.
 *
 * Usage: example_msg_queue [--fast] [--name NAME]
 *   --fast  no sleeps
 *   --name  the queue's name instead of the System V queue of the program
 *           itself, e.g. nats://127.0.0.1:4222/tutorial: the same program
 *           then runs over a NATS server (the nats: plug-in), whose
 *           producers and consumers could be on other hosts
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ipckit/ipckit.h>

#include "common.h"

#define PRODUCERS 3
#define CONSUMERS 2
#define REPEAT 5
#define MSG_TYPE 1   /* data, as in the tutorial */
#define END_TYPE 2   /* "no more data": one per consumer */
#define DONE_TYPE 3  /* consumer -> parent: how many messages it took */
#define TIMEOUT_MS 60000

static int
producer(ipckit_channel *q, bool fast)
{
    char str[64];
    long pid = (long) getpid();
    for (int i = 1; i <= REPEAT; i++) {
        int len = snprintf(str, sizeof str, "(%ld)progress create! %d", pid, i);
        int rc = ipckit_send_typed(q, MSG_TYPE, str, (size_t) len, TIMEOUT_MS);
        if (rc < 0) {
            fprintf(stderr, "producer(%ld): send: %s\n", pid, ipckit_last_error(q));
            return 1;
        }
        example_sleep(fast, 1, 3);
    }
    return 0;
}

static int
consumer(ipckit_channel *q, bool fast)
{
    char message[1024];
    long pid = (long) getpid(), type = 0;
    int taken = 0, rc;
    for (;;) {
        ssize_t n = ipckit_recv_typed(q, -END_TYPE, &type, message, sizeof message, TIMEOUT_MS);
        if (n < 0) {
            fprintf(stderr, "consumer(%ld): recv: %s\n", pid, ipckit_last_error(q));
            return 1;
        }
        if (type == END_TYPE)
            break;
        printf("%.*s | consumer(%ld) destroy\n", (int) n, message, pid);
        taken++;
        example_sleep(fast, 1, 3);
    }
    rc = ipckit_send_typed(q, DONE_TYPE, &taken, sizeof taken, TIMEOUT_MS);
    if (rc < 0) {
        fprintf(stderr, "consumer(%ld): send count: %s\n", pid, ipckit_last_error(q));
        return 1;
    }
    return 0;
}

/* Fork a child that runs @p fn on the queue opened by the parent. */
static pid_t
create_progress(int (*fn)(ipckit_channel *, bool), ipckit_channel *q, bool fast)
{
    pid_t pid;
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        perror("fork progress error!");
        return -1;
    }
    if (pid == 0) {
        int rc = fn(q, fast);
        ipckit_close(q);
        printf("(%ld)child progress end!\n", (long) getpid());
        fflush(NULL);
        _exit(rc);
    }
    return pid;
}

/* Wait for @p pid; true if it exited with status 0. */
static bool
reap(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return false;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Take "--name NAME" out of argv; the rest is example_fast()'s. */
static const char *
take_name(int *argc, char **argv)
{
    const char *name = NULL;
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--name") == 0 && i + 1 < *argc)
            name = argv[++i];
        else
            argv[out++] = argv[i];
    }
    *argc = out;
    return name;
}

int
main(int argc, char **argv)
{
    const char *given = take_name(&argc, argv);
    bool fast = example_fast(argc, argv);
    char exe[PATH_MAX], name[PATH_MAX + 16];
    pid_t producers[PRODUCERS], consumers[CONSUMERS];
    ipckit_channel *q = NULL;
    ipckit_stat st = { 0 };
    long parent_pid = (long) getpid();
    bool ok = true;
    int consumed = 0, rc;

    printf("parent progress pid:%ld\n", parent_pid);
    if (given != NULL) {
        snprintf(name, sizeof name, "%s", given);
    } else {
        /* The tutorial's key: ftok(__FILE__, 'm'), here on the program itself. */
        ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (len < 0) {
            perror("readlink /proc/self/exe");
            return 1;
        }
        exe[len] = '\0';
        snprintf(name, sizeof name, "mq:%s?proj=m", exe);
    }
    rc = ipckit_open(&q, name, IPCKIT_SEND | IPCKIT_RECV | IPCKIT_CREATE | IPCKIT_EXCL, NULL);
    if (rc < 0) {
        fprintf(stderr, "create queue error! %s%s\n", ipckit_error_detail(),
                rc == -EEXIST ? " (is another example_msg_queue running?)" : "");
        return 1;
    }

    for (int i = 0; i < PRODUCERS; i++) {
        producers[i] = create_progress(producer, q, fast);
        if (producers[i] < 0)
            return 1;
        printf("create producer child progress: %ld\n", (long) producers[i]);
    }
    for (int i = 0; i < CONSUMERS; i++) {
        consumers[i] = create_progress(consumer, q, fast);
        if (consumers[i] < 0)
            return 1;
        printf("create consumer child progress: %ld\n", (long) consumers[i]);
    }

    /* All data is queued once the producers are gone; then end the consumers. */
    for (int i = 0; i < PRODUCERS; i++)
        ok = reap(producers[i]) && ok;
    for (int i = 0; i < CONSUMERS; i++) {
        rc = ipckit_send_typed(q, END_TYPE, "", 0, TIMEOUT_MS);
        if (rc < 0) {
            fprintf(stderr, "send end marker: %s\n", ipckit_last_error(q));
            ok = false;
        }
    }
    for (int i = 0; i < CONSUMERS; i++) {
        int taken = 0;
        ssize_t n = ipckit_recv_typed(q, DONE_TYPE, NULL, &taken, sizeof taken, TIMEOUT_MS);
        if (n != (ssize_t) sizeof taken) {
            fprintf(stderr, "receive a consumer's count: %s\n", ipckit_last_error(q));
            ok = false;
            break;
        }
        consumed += taken;
    }
    for (int i = 0; i < CONSUMERS; i++)
        ok = reap(consumers[i]) && ok;

    if (ipckit_stat_name(name, &st) < 0 || st.messages != 0) {
        fprintf(stderr, "queue not empty at the end: %ld message(s)\n", st.messages);
        ok = false;
    }
    ipckit_close(q);
    if (ipckit_unlink(name) < 0) {
        fprintf(stderr, "remove queue: %s\n", ipckit_error_detail());
        ok = false;
    }
    if (consumed != PRODUCERS * REPEAT) {
        fprintf(stderr, "produced %d messages, consumed %d\n", PRODUCERS * REPEAT, consumed);
        ok = false;
    }
    printf("(%ld)main progress end!\n", parent_pid);
    return ok ? 0 : 1;
}
