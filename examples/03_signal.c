/*
 * The tutorial's signal scenario with ipckit: the parent forks a child that
 * prints a line every second; after 5 seconds the parent sends SIGINT, the
 * child catches it ("oh no, I'm killed!") and exits with status 1.
 *
 * Differences from the tutorial: the child receives SIGINT synchronously
 * through a dispatcher (signalfd), so its callback runs in normal context
 * and may print safely, where PHP's handler ran from a tick; the child
 * tells the parent when it is ready, so SIGINT never arrives before it is
 * handled (it would kill the child outright); and the parent waits for the
 * child and reports its exit status instead of sleeping.
 *
 * Usage: example_signal [--fast]    (--fast: 0.1 s ticks, SIGINT after 0.5 s)
 */
#include <errno.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ipckit/ipckit.h>

#include "common.h"

static int killed; /* set by the callback, which runs in normal context */

/* Runs from ipckit_sigdisp_dispatch(), not from a signal handler. */
static void
on_sigint(const ipckit_siginfo *si, void *arg)
{
    (void) arg;
    printf("%ld progress,oh no ,I'm killed!\n", (long) getpid());
    printf("  (SIGINT sent by pid %ld)\n", (long) si->pid);
    killed = 1;
}

static int
child_main(int ready_fd, int tick_ms)
{
    ipckit_sigdisp *d = NULL;
    int rc = ipckit_sigdisp_open(&d, 0);
    if (rc == 0)
        rc = ipckit_sigdisp_on(d, SIGINT, on_sigint, NULL);
    if (rc < 0) {
        fprintf(stderr, "child: dispatcher: %s\n", ipckit_error_detail());
        return 2;
    }
    /* SIGINT is blocked and handled from here on: tell the parent. */
    if (write(ready_fd, "r", 1) != 1)
        return 2;
    (void) close(ready_fd);
    while (!killed) {
        printf("%ld child progress is running!\n", (long) getpid());
        /* Sleep one tick, or less if SIGINT comes: dispatch waits for it. */
        rc = ipckit_sigdisp_dispatch(d, tick_ms);
        if (rc < 0 && rc != -ETIMEDOUT) {
            fprintf(stderr, "child: dispatch: %s\n", ipckit_strerror(rc));
            break;
        }
    }
    ipckit_sigdisp_close(d);
    return killed ? 1 : 2;
}

int
main(int argc, char **argv)
{
    bool fast = example_fast(argc, argv);
    int tick_ms = fast ? 100 : 1000;
    int wait_ms = fast ? 500 : 5000;
    int ready[2], status;
    char c;
    pid_t pid;

    printf("parent progress pid:%ld\n", (long) getpid());
    if (pipe(ready) < 0) {
        perror("pipe");
        return 1;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        perror("fork progress error!");
        return 1;
    }
    if (pid == 0) {
        (void) close(ready[0]);
        _exit(child_main(ready[1], tick_ms));
    }
    (void) close(ready[1]);
    if (read(ready[0], &c, 1) != 1) {
        fprintf(stderr, "child did not start\n");
        (void) waitpid(pid, &status, 0);
        return 1;
    }
    (void) close(ready[0]);

    /* 5 seconds later (0.5 with --fast), the parent sends SIGINT. */
    struct timespec ts = { wait_ms / 1000, (long) (wait_ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    int rc = ipckit_signal_send(pid, SIGINT);
    if (rc < 0)
        fprintf(stderr, "kill: %s\n", ipckit_error_detail());
    printf("parent sent SIGINT to %ld\n", (long) pid);

    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status))
        printf("child %ld exited with status %d\n", (long) pid, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        printf("child %ld was killed by signal %d\n", (long) pid, WTERMSIG(status));
    printf("(%ld)main progress end!\n", (long) getpid());
    return (rc == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 1) ? 0 : 1;
}
