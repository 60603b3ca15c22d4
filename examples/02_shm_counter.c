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
 * Usage: example_shm_counter [--fast]
 */
#include <errno.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ipckit/ipckit.h>

#include "common.h"

#define PRODUCERS 3
#define REPEAT 5
#define SHARE_KEY 1L

static int
producer(ipckit_region *shared, bool fast)
{
    long pid = (long) getpid();
    for (int i = 1; i <= REPEAT; i++) {
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
            ssize_t n = ipckit_region_get(shared, SHARE_KEY, &count, sizeof count);
            if (n != (ssize_t) sizeof count) {
                fprintf(stderr, "(%ld) get: %s\n", pid, ipckit_region_last_error(shared));
                (void) ipckit_region_unlock(shared);
                return 1;
            }
            count++;
        }
        /* no value yet: initialise it to 0 */
        if (rc >= 0)
            rc = ipckit_region_put(shared, SHARE_KEY, &count, sizeof count);
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

int
main(int argc, char **argv)
{
    bool fast = example_fast(argc, argv);
    char name[128];
    ipckit_region *shared = NULL;
    int status, failed = 0, rc;

    printf("parent progress pid:%ld\n", (long) getpid());
    /* Create the shared memory and its lock (mode 0600) before forking, so
     * every child inherits the handle. */
    snprintf(name, sizeof name, "shm:ipckit-example-%ld.counter", (long) getpid());
    rc = ipckit_region_open(&shared, name, IPCKIT_CREATE | IPCKIT_EXCL, 4096, NULL);
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
            rc = producer(shared, fast);
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
    /* remove the shared memory and its lock */
    ipckit_region_close(shared);
    if (ipckit_region_unlink(name) < 0) {
        fprintf(stderr, "remove shared memory: %s\n", ipckit_error_detail());
        failed = 1;
    }
    printf("(%ld)main progress end!\n", (long) getpid());
    return failed;
}
