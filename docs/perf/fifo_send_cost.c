/*
 * What a fifo: send costs, piece by piece: 64-byte messages through a named
 * FIFO from one process to another, with the sender doing
 *   0  write() of the 64-byte payload                 (the raw mechanism)
 *   1  writev() of a 16-byte header and the payload    (fifo: framing)
 *   2  as 1, between two pthread_sigmask() calls       (fifo: as it is)
 *   3  the header and payload copied into one buffer, one write()
 * The receiver reads through a 64 KiB buffer, as the fifo: backend does.
 * Reported in docs/performance.md. Build and run:
 *   cc -O2 -o /tmp/fifo_send_cost docs/perf/fifo_send_cost.c && /tmp/fifo_send_cost
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
now(void)
{
    struct timespec t;
    (void) clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + (double) t.tv_nsec * 1e-9;
}

static double
run(int mode, long n, const char *path)
{
    double *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    size_t frame = mode == 0 ? 64 : 80;
    double rate;
    pid_t r, s;

    if (sh == MAP_FAILED || mkfifo(path, 0600) < 0) {
        perror("setup");
        exit(1);
    }
    r = fork();
    if (r == 0) {
        static char buf[65536];
        int fd = open(path, O_RDONLY);
        size_t t = 0;
        long got = 0;
        while (got < n) {
            ssize_t k = read(fd, buf + t, sizeof buf - t);
            size_t h = 0;
            if (k <= 0)
                _exit(1);
            t += (size_t) k;
            for (; t - h >= frame; h += frame)
                got++;
            memmove(buf, buf + h, t - h);
            t -= h;
        }
        sh[1] = now();
        _exit(0);
    }
    s = fork();
    if (s == 0) {
        char msg[64] = { 1 }, hdr[16] = { 2 }, one[80];
        sigset_t pipe_set, old;
        int fd = open(path, O_WRONLY);
        (void) sigemptyset(&pipe_set);
        (void) sigaddset(&pipe_set, SIGPIPE);
        sh[0] = now();
        for (long i = 0; i < n; i++) {
            struct iovec v[2] = { { hdr, 16 }, { msg, 64 } };
            ssize_t w;
            switch (mode) {
            case 0:
                w = write(fd, msg, 64);
                break;
            case 1:
                w = writev(fd, v, 2);
                break;
            case 2:
                (void) pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
                w = writev(fd, v, 2);
                (void) pthread_sigmask(SIG_SETMASK, &old, NULL);
                break;
            default:
                memcpy(one, hdr, 16);
                memcpy(one + 16, msg, 64);
                w = write(fd, one, 80);
                break;
            }
            if (w < 0)
                _exit(1);
        }
        _exit(0);
    }
    (void) waitpid(r, NULL, 0);
    (void) waitpid(s, NULL, 0);
    (void) unlink(path);
    rate = (double) n / (sh[1] - sh[0]);
    (void) munmap(sh, 4096);
    return rate;
}

int
main(void)
{
    static const char *const what[] = { "write(payload)", "writev(header, payload)",
                                        "sigmask + writev + sigmask", "copy + write(frame)" };
    char dir[] = "/tmp/fifo-cost.XXXXXX", path[64];
    if (mkdtemp(dir) == NULL)
        return 1;
    (void) snprintf(path, sizeof path, "%s/f", dir);
    for (int rep = 0; rep < 3; rep++)
        for (int mode = 0; mode < 4; mode++)
            printf("rep %d  %-28s %9.0f msg/s\n", rep, what[mode], run(mode, 300000, path));
    (void) rmdir(dir);
    return 0;
}
