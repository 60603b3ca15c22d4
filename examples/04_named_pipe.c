/*
 * The tutorial's named-pipe scenario with ipckit: a child writes to a named
 * pipe and the parent reads and prints what it reads.
 *
 * Unlike the tutorial it ends: the child writes a bounded number of
 * messages and closes its end, the parent reads until the end of the stream
 * (-EPIPE: no writer left), reaps the child and removes the FIFO. Message
 * framing keeps each "hello world" whole, where the tutorial's fread(20)
 * could glue two writes together.
 *
 * Usage: example_named_pipe [--fast]
 */
#include <errno.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ipckit/ipckit.h>

#include "common.h"

#define MESSAGES 5

static int
child_writer(const char *name, bool fast)
{
    ipckit_channel *pipe_out = NULL;
    int rc = ipckit_open(&pipe_out, name, IPCKIT_SEND, NULL);
    if (rc < 0) {
        fprintf(stderr, "child: open %s: %s\n", name, ipckit_error_detail());
        return 1;
    }
    for (int i = 0; i < MESSAGES; i++) {
        rc = ipckit_send(pipe_out, "hello world", 11, 10000);
        if (rc < 0) {
            fprintf(stderr, "child: send: %s\n", ipckit_last_error(pipe_out));
            break;
        }
        example_sleep(fast, 1, 3);
    }
    ipckit_close(pipe_out);
    return rc < 0 ? 1 : 0;
}

int
main(int argc, char **argv)
{
    bool fast = example_fast(argc, argv);
    char name[128], buf[64];
    ipckit_channel *pipe_in = NULL;
    int status, rc, received = 0;
    pid_t pid;

    snprintf(name, sizeof name, "fifo:/tmp/ipckit-example-%ld.pipe", (long) getpid());
    /* Create the FIFO (mode 0600) and open its read end before forking, so
     * the child's open finds a reader at once. */
    rc = ipckit_open(&pipe_in, name, IPCKIT_RECV | IPCKIT_CREATE | IPCKIT_EXCL, NULL);
    if (rc < 0) {
        fprintf(stderr, "create pipe error! %s\n", ipckit_error_detail());
        return 1;
    }
    printf("parent progress pid:%ld\n", (long) getpid());
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        perror("fork progress error!");
        ipckit_close(pipe_in);
        ipckit_unlink(name);
        return 1;
    }
    if (pid == 0) {
        ipckit_close(pipe_in); /* the child only writes */
        rc = child_writer(name, fast);
        printf("child end!\n");
        _exit(rc);
    }

    for (;;) {
        ssize_t n = ipckit_recv(pipe_in, buf, sizeof buf, 30000);
        if (n == -EPIPE)
            break; /* the writer closed: end of stream */
        if (n < 0) {
            fprintf(stderr, "parent: recv: %s\n", ipckit_last_error(pipe_in));
            break;
        }
        printf("%.*s\n", (int) n, buf);
        received++;
        example_sleep(fast, 1, 2);
    }
    ipckit_close(pipe_in);
    waitpid(pid, &status, 0);
    ipckit_unlink(name);
    printf("parent read %d message(s); child exited with status %d\n", received,
           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return (received == MESSAGES && WIFEXITED(status) && WEXITSTATUS(status) == 0) ? 0 : 1;
}
