/*
 * The most that copying calls can reach for 64 KiB messages on one CPU,
 * next to a pipe measured in the same run:
 *   pipe   write() and read() of each message between two processes
 *          pinned to CPU 0 (the raw row of ipckit-bench)
 *   two    in one process on CPU 0: each message copied from a private
 *          buffer into a ring and from the ring into another private
 *          buffer, as ipckit_send() and ipckit_recv() must copy it, with
 *          nothing else (no second process, no index, no check)
 *   one    the first copy alone: the floor of the zero-copy calls
 * The ring is 1 MiB, what an shm: sender on its receiver's CPU keeps in
 * the cache (docs/backends/shm.md), and 4 MiB, the default capacity.
 * Reported in docs/performance.md (Targets). Build and run:
 *   cc -O2 -o /tmp/copy_bound docs/perf/copy_bound.c && /tmp/copy_bound
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MSG 65536u
#define COUNT 20000u

static double
now(void)
{
    struct timespec t;
    (void) clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + (double) t.tv_nsec * 1e-9;
}

static void
pin0(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0)
        perror("sched_setaffinity");
}

static int
full_io(int fd, unsigned char *buf, size_t len, int out)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = out ? write(fd, buf + done, len - done) : read(fd, buf + done, len - done);
        if (n <= 0)
            return -1;
        done += (size_t) n;
    }
    return 0;
}

static double
pipe_rate(unsigned char *a, unsigned char *b)
{
    int p[2], status;
    double t0, t1;
    pid_t child;
    if (pipe(p) != 0)
        return 0;
    child = fork();
    if (child == 0) {
        pin0();
        (void) close(p[1]);
        for (unsigned i = 0; i < COUNT; i++)
            if (full_io(p[0], b, MSG, 0) != 0)
                _exit(1);
        _exit(0);
    }
    (void) close(p[0]);
    t0 = now();
    for (unsigned i = 0; i < COUNT; i++) {
        a[i % MSG] ^= 1;
        if (full_io(p[1], a, MSG, 1) != 0)
            break;
    }
    (void) close(p[1]);
    (void) waitpid(child, &status, 0);
    t1 = now();
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? (double) COUNT * MSG / (t1 - t0) : 0;
}

static double
copy_rate(unsigned char *ring, size_t cap, unsigned char *a, unsigned char *b, int copies)
{
    size_t off = 0;
    double t0 = now();
    for (unsigned i = 0; i < COUNT; i++) {
        a[i % MSG] ^= 1;
        memcpy(ring + off, a, MSG);
        if (copies == 2)
            memcpy(b, ring + off, MSG);
        off = (off + MSG) % cap;
    }
    return (double) COUNT * MSG / (now() - t0);
}

int
main(void)
{
    size_t caps[] = { 1u << 20, 4u << 20 };
    unsigned char *a = aligned_alloc(4096, MSG), *b = aligned_alloc(4096, MSG), *ring;
    if (a == NULL || b == NULL)
        return 1;
    pin0();
    memset(a, 1, MSG);
    memset(b, 2, MSG);
    for (int rep = 0; rep < 3; rep++) {
        double pipe = pipe_rate(a, b);
        (void) printf("rep %d  pipe, two processes on CPU 0      %6.0f MB/s\n", rep, pipe / 1e6);
        for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
            ring = aligned_alloc(4096, caps[c]);
            if (ring == NULL)
                return 1;
            memset(ring, 3, caps[c]);
            for (int copies = 2; copies >= 1; copies--) {
                double r = copy_rate(ring, caps[c], a, b, copies);
                (void) printf("rep %d  %s, %zu MiB ring          %6.0f MB/s  %.2fx the pipe\n",
                              rep, copies == 2 ? "two copies" : "one copy  ", caps[c] >> 20,
                              r / 1e6, pipe > 0 ? r / pipe : 0);
            }
            free(ring);
        }
    }
    free(a);
    free(b);
    return 0;
}
