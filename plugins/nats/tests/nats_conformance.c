/*
 * nats_conformance PROGRAM [ARG...]: run PROGRAM (the conformance suite,
 * tests/conformance, restricted to nats:) against a nats-server of its own.
 *
 * It starts a server with JetStream on a free loopback port in a temporary
 * directory (natsfix.c), gives its address to PROGRAM in
 * IPCKIT_TEST_NATS_URL ("nats://127.0.0.1:PORT"), waits for it, stops the
 * server and removes its directory, and exits with PROGRAM's status (128 +
 * the signal if it was killed). The conformance suite itself knows nothing
 * of NATS but that variable. Exits 77 (skipped) when nats-server is not
 * installed, 1 when it does not start.
 *
 * The server never outlives this process: the kernel kills it when this
 * process dies (natsfix.c), and SIGTERM, SIGINT or SIGHUP here end PROGRAM
 * first, then the server.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "natsfix.h"

static volatile sig_atomic_t child, ending;

static void
forward(int sig)
{
    ending = sig;
    if (child > 0)
        (void) kill((pid_t) child, SIGKILL);
}

int
main(int argc, char **argv)
{
    static struct nf_server srv;
    struct sigaction sa;
    sigset_t ends, prev;
    char url[64];
    pid_t parent = getpid(), pid;
    int status = 0, rc;

    if (argc < 2) {
        fprintf(stderr, "usage: %s PROGRAM [ARG...]\n", argv[0]);
        return 2;
    }
    nf_require_server();
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward;
    (void) sigaction(SIGTERM, &sa, NULL);
    (void) sigaction(SIGINT, &sa, NULL);
    (void) sigaction(SIGHUP, &sa, NULL);
    if (nf_start(&srv, "conformance", NULL) < 0) {
        fprintf(stderr, "nats_conformance: nats-server did not start\n");
        nf_stop(&srv);
        return 1;
    }
    nf_url(url, sizeof url, &srv, 1, NULL, NULL);
    if (setenv("IPCKIT_TEST_NATS_URL", url, 1) < 0) {
        perror("setenv");
        nf_stop(&srv);
        return 1;
    }
    printf("nats_conformance: nats-server %ld at %s\n", (long) srv.pid, url);
    fflush(NULL);
    /* no signal to forward between fork() and knowing the child */
    (void) sigemptyset(&ends);
    (void) sigaddset(&ends, SIGTERM);
    (void) sigaddset(&ends, SIGINT);
    (void) sigaddset(&ends, SIGHUP);
    (void) sigprocmask(SIG_BLOCK, &ends, &prev);
    pid = ending ? -1 : fork();
    if (pid == 0) {
        /* it goes when this process goes (a ctest timeout) */
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        (void) signal(SIGTERM, SIG_DFL);
        (void) signal(SIGINT, SIG_DFL);
        (void) signal(SIGHUP, SIG_DFL);
        (void) sigprocmask(SIG_SETMASK, &prev, NULL);
        execv(argv[1], argv + 1);
        fprintf(stderr, "nats_conformance: exec %s: %s\n", argv[1], strerror(errno));
        _exit(127);
    }
    if (pid > 0)
        child = pid;
    (void) sigprocmask(SIG_SETMASK, &prev, NULL);
    if (pid < 0) {
        if (ending)
            fprintf(stderr, "nats_conformance: signal %d\n", (int) ending);
        else
            perror("fork");
        rc = ending ? 128 + ending : 1;
    } else {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        child = 0;
        rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    nf_stop(&srv);
    return rc;
}
