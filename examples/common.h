/*
 * Small helpers shared by the example programs: the --fast switch and the
 * tutorial's random sleeps.
 */
#ifndef IPCKIT_EXAMPLES_COMMON_H
#define IPCKIT_EXAMPLES_COMMON_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* True when the program was started with --fast (no sleeps). Exits 2 on an
 * unknown argument. */
static inline bool
example_fast(int argc, char **argv)
{
    bool fast = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--fast") == 0) {
            fast = true;
        } else {
            fprintf(stderr, "usage: %s [--fast]\n", argv[0]);
            exit(2);
        }
    }
    /* Output goes to a terminal or a pipe; keep lines whole and in order
     * across fork(). */
    setvbuf(stdout, NULL, _IOLBF, 0);
    return fast;
}

/* Sleep lo..hi seconds like the tutorial's sleep(rand(lo, hi)); nothing when fast. */
static inline void
example_sleep(bool fast, int lo, int hi)
{
    if (fast)
        return;
    unsigned seed = (unsigned) getpid() ^ (unsigned) time(NULL);
    int s = lo + (int) ((unsigned) rand_r(&seed) % (unsigned) (hi - lo + 1));
    sleep((unsigned) s);
}

#endif
