/*
 * The tutorial's shared-memory scenario with ipckit: three forked
 * processes each take the lock five times; the first to come initialises a
 * shared counter to 0, every later turn increments it, and each prints
 * "(pid) count: N". The parent waits for them and removes the region, whose
 * lock plays the part of the tutorial's semaphore (sem_get).
 *
 * The PHP calls map one to one: shm_attach -> ipckit_region_open,
 * sem_acquire / sem_release -> ipckit_region_lock / ipckit_region_unlock,
 * shm_has_var / shm_get_var / shm_put_var -> ipckit_region_has / _get /
 * _put, shm_remove + sem_remove -> ipckit_region_unlink.
 *
 * With a sysvshm: name the counter lives on PHP's own segment and
 * semaphore set, the ones the tutorial's shm_shared.php makes with
 * shm_attach(ftok(__FILE__, 'm')) and sem_get(ftok(__FILE__, 's')):
 *
 *   example_shm_counter sysvshm:/path/to/shm_shared.php
 *
 * joins PHP workers that run the tutorial's loop on that file at the same
 * time; the counter is PHP's integer (i:N;), so both sides read what the
 * other wrote. The objects are opened with PHP's mode (0666) and left in
 * place for the PHP workers; remove them as the tutorial does
 * (shm_remove, sem_remove) or with "ipckit region unlink NAME".
 *
 * Usage: example_shm_counter [--fast] [--repeat N] [sysvshm:NAME]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ipckit/ipckit.h>

#include "common.h"

#define PRODUCERS 3
#define SHARE_KEY 1L

/* Read the counter: a C long in an ipckit region, PHP's i:N; text on PHP's
 * segment. 0 or a negative errno. */
static int
counter_get(ipckit_region *shared, bool php, long *count)
{
    char buf[64];
    ssize_t n = ipckit_region_get(shared, SHARE_KEY, php ? (void *) buf : (void *) count,
                                  php ? sizeof buf : sizeof *count);
    int64_t v;
    int rc;
    if (n < 0)
        return (int) n;
    if (!php)
        return n == (ssize_t) sizeof *count ? 0 : -EBADMSG;
    rc = ipckit_php_decode_int(buf, (size_t) n, &v);
    if (rc == 0)
        *count = (long) v;
    return rc;
}

static int
counter_put(ipckit_region *shared, bool php, long count)
{
    char buf[32];
    ssize_t n;
    if (!php)
        return ipckit_region_put(shared, SHARE_KEY, &count, sizeof count);
    n = ipckit_php_encode_int(count, buf, sizeof buf);
    return n < 0 ? (int) n : ipckit_region_put(shared, SHARE_KEY, buf, (size_t) n);
}

static int
producer(ipckit_region *shared, bool php, int repeat, bool fast)
{
    long pid = (long) getpid();
    for (int i = 1; i <= repeat; i++) {
        long count = 0;
        int rc = ipckit_region_lock(shared, 30000);
        if (rc == -EOWNERDEAD) {
            fprintf(stderr, "(%ld) a previous holder died; the counter may have lost a turn\n",
                    pid);
        } else if (rc < 0) {
            fprintf(stderr, "(%ld) lock: %s\n", pid, ipckit_region_last_error(shared));
            return 1;
        }
        rc = ipckit_region_has(shared, SHARE_KEY);
        if (rc == 1) {
            /* has a value: add one */
            rc = counter_get(shared, php, &count);
            if (rc < 0) {
                fprintf(stderr, "(%ld) get: %s\n", pid,
                        rc == -EBADMSG ? "the counter is not an integer"
                                       : ipckit_region_last_error(shared));
                (void) ipckit_region_unlock(shared);
                return 1;
            }
            count++;
        }
        /* no value yet: initialise it to 0 */
        if (rc >= 0)
            rc = counter_put(shared, php, count);
        if (rc < 0) {
            fprintf(stderr, "(%ld) put: %s\n", pid, ipckit_region_last_error(shared));
            (void) ipckit_region_unlock(shared);
            return 1;
        }
        printf("(%ld) count: %ld\n", pid, count);
        /* release it when done */
        (void) ipckit_region_unlock(shared);
        example_sleep(fast, 1, 3);
    }
    return 0;
}

static void
usage(const char *argv0)
{
    fprintf(stderr, "usage: %s [--fast] [--repeat N] [sysvshm:NAME]\n", argv0);
    exit(2);
}

int
main(int argc, char **argv)
{
    bool fast = false, php = false;
    int repeat = 5;
    const char *given = NULL;
    char name[4200];
    ipckit_region *shared = NULL;
    ipckit_opts opts = IPCKIT_OPTS_INIT;
    int status, failed = 0, rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--fast") == 0) {
            fast = true;
        } else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end != '\0' || v < 1 || v > 1000000)
                usage(argv[0]);
            repeat = (int) v;
        } else if (strncmp(argv[i], "sysvshm:", 8) == 0 && given == NULL) {
            given = argv[i];
        } else {
            usage(argv[0]);
        }
    }
    (void) example_fast(1, argv); /* line-buffered output */

    printf("parent progress pid:%ld\n", (long) getpid());
    /* Create the shared memory and its lock before forking, so every child
     * inherits the handle. */
    if (given != NULL) {
        /* PHP's segment and semaphore set: made with PHP's mode when this
         * program comes first, accepted with it when PHP came first. The
         * size is shm_attach()'s default. */
        php = true;
        snprintf(name, sizeof name, "%s", given);
        opts.mode = 0666;
        rc = ipckit_region_open(&shared, name, IPCKIT_CREATE, 10000, &opts);
    } else {
        snprintf(name, sizeof name, "shm:ipckit-example-%ld.counter", (long) getpid());
        rc = ipckit_region_open(&shared, name, IPCKIT_CREATE | IPCKIT_EXCL, 4096, NULL);
    }
    if (rc < 0) {
        fprintf(stderr, "create shared memory error! %s\n", ipckit_error_detail());
        return 1;
    }
    for (int i = 0; i < PRODUCERS; i++) {
        pid_t pid;
        fflush(NULL);
        pid = fork();
        if (pid < 0) {
            perror("fork progress error!");
            failed = 1;
            break;
        }
        if (pid == 0) {
            rc = producer(shared, php, repeat, fast);
            printf("(%ld)child progress end!\n", (long) getpid());
            ipckit_region_close(shared);
            _exit(rc);
        }
        printf("create producer child progress: %ld\n", (long) pid);
    }
    /* wait for every child */
    for (;;) {
        pid_t done = wait(&status);
        if (done < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failed = 1;
    }
    ipckit_region_close(shared);
    if (php) {
        /* PHP's workers may still use it */
        printf("left %s in place for PHP; remove it with shm_remove() and sem_remove(),"
               " or \"ipckit region unlink %s\"\n",
               name, name);
    } else if (ipckit_region_unlink(name) < 0) {
        /* remove the shared memory and its lock */
        fprintf(stderr, "remove shared memory: %s\n", ipckit_error_detail());
        failed = 1;
    }
    printf("(%ld)main progress end!\n", (long) getpid());
    return failed;
}
