/* A program outside the tree: one message over fifo: between two processes. */
#include <ipckit/ipckit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
    char name[512], buf[64];
    ipckit_channel *rx = NULL, *tx = NULL;
    pid_t pid;
    int status;
    ssize_t n;

    if (argc != 2)
        return 2;
    /* the same major version, and a library at least as new as the headers
     * (docs/abi.md) */
    if (ipckit_version() / 10000 != IPCKIT_VERSION_MAJOR || ipckit_version() < IPCKIT_VERSION_NUMBER) {
        fprintf(stderr, "header %s, library %s\n", IPCKIT_VERSION_STRING, ipckit_version_string());
        return 1;
    }
    snprintf(name, sizeof name, "fifo:%s", argv[1]);
    if (ipckit_open(&rx, name, IPCKIT_RECV | IPCKIT_CREATE | IPCKIT_EXCL, NULL) < 0) {
        fprintf(stderr, "open: %s\n", ipckit_error_detail());
        return 1;
    }
    pid = fork();
    if (pid == 0) {
        if (ipckit_open(&tx, name, IPCKIT_SEND, NULL) < 0 || ipckit_send(tx, "consumed", 8, 5000) < 0)
            _exit(1);
        _exit(ipckit_close(tx) == 0 ? 0 : 1);
    }
    n = ipckit_recv(rx, buf, sizeof buf, 5000);
    waitpid(pid, &status, 0);
    ipckit_close(rx);
    ipckit_unlink(name);
    if (n != 8 || memcmp(buf, "consumed", 8) != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "exchange failed: %zd\n", n);
        return 1;
    }
    printf("consumer: received \"%.*s\" with ipckit %s\n", (int) n, buf, ipckit_version_string());
    return 0;
}
