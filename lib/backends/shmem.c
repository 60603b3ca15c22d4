/*
 * ipckit: POSIX shared-memory objects with a published header, and the
 * robust process-shared mutex; shared by the shm: backend and the region
 * API. See shmem.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bsd/string.h>

#include "shmem.h"

/* How long an opener waits for a creator that has not published its header,
 * when the caller gave no deadline. */
#define SHMEM_INIT_WAIT_MS 3000

int
ipckit__shmem_posix_name(void *st, const ipckit_name *n, char *buf, size_t cap)
{
    const char *t = ipckit_name_target(n);
    size_t len;
    if (*t == '/')
        t++;
    len = strlen(t);
    if (len == 0 || strchr(t, '/') != NULL || strcmp(t, ".") == 0 || strcmp(t, "..") == 0)
        return ipckit_backend_error(st, -EINVAL,
                                    "shm: \"%s\": the target must be one name without '/'"
                                    " (a POSIX shared-memory object, /dev/shm/NAME)",
                                    ipckit_name_text(n));
    if (len + 2 > cap || len + 1 > IPCKIT__SHMEM_NAME_MAX)
        return ipckit_backend_error(st, -ENAMETOOLONG, "shm: \"%s\": name longer than %d bytes",
                                    ipckit_name_text(n), IPCKIT__SHMEM_NAME_MAX - 1);
    buf[0] = '/';
    memcpy(buf + 1, t, len + 1);
    return 0;
}

static int
shmem_wait_published(void *st, const char *pname, int fd, ipckit__shmem_check_fn check,
                     void *arg, const struct timespec *deadline, struct ipckit__shmem_map *out)
{
    struct timespec own;
    const struct timespec *limit = deadline;
    long backoff = 1;
    if (limit == NULL)
        limit = ipckit__deadline(SHMEM_INIT_WAIT_MS, &own);
    for (;;) {
        struct stat sb;
        int rc;
        if (fstat(fd, &sb) < 0)
            return ipckit_backend_error(st, -errno, "shm: fstat \"%s\": %s", pname,
                                        strerror(errno));
        if (sb.st_size > 0) {
            if ((unsigned long long) sb.st_size > (unsigned long long) SIZE_MAX / 2)
                return ipckit_backend_error(st, -EBADMSG, "shm: \"%s\" has an absurd size",
                                            pname);
            void *p = mmap(NULL, (size_t) sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            if (p == MAP_FAILED)
                return ipckit_backend_error(st, -errno, "shm: mmap \"%s\": %s", pname,
                                            strerror(errno));
            rc = check(st, p, (size_t) sb.st_size, arg);
            if (rc == 0) {
                out->base = p;
                out->size = (size_t) sb.st_size;
                return 0;
            }
            (void) munmap(p, (size_t) sb.st_size);
            if (rc != -EINPROGRESS)
                return rc;
        }
        if (ipckit_deadline_passed(limit))
            return ipckit_backend_error(st, -EBADMSG,
                                        "shm: \"%s\" exists but its creator never finished"
                                        " setting it up (empty or unpublished header)",
                                        pname);
        (void) ipckit_deadline_sleep(limit, backoff);
        if (backoff < 20)
            backoff *= 2;
    }
}

int
ipckit__shmem_map(void *st, const char *pname, unsigned flags, unsigned mode,
                  size_t create_size, ipckit__shmem_init_fn init, ipckit__shmem_check_fn check,
                  void *arg, const struct timespec *deadline, struct ipckit__shmem_map *out)
{
    int fd = -1, rc;
    out->base = NULL;
    out->size = 0;
    out->created = false;
    if (flags & IPCKIT_CREATE) {
        fd = shm_open(pname, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, (mode_t) mode);
        if (fd >= 0) {
            void *p;
            /* shm_open applied the umask: set the exact mode asked for. */
            if (fchmod(fd, (mode_t) mode) < 0 || ftruncate(fd, (off_t) create_size) < 0) {
                rc = ipckit_backend_error(st, -errno, "shm: set up \"%s\" (%zu bytes): %s",
                                          pname, create_size, strerror(errno));
                goto fail_created;
            }
            p = mmap(NULL, create_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            if (p == MAP_FAILED) {
                rc = ipckit_backend_error(st, -errno, "shm: mmap \"%s\": %s", pname,
                                          strerror(errno));
                goto fail_created;
            }
            rc = init(st, p, create_size, arg);
            if (rc < 0) {
                (void) munmap(p, create_size);
                goto fail_created;
            }
            (void) close(fd);
            out->base = p;
            out->size = create_size;
            out->created = true;
            return 0;
        }
        if (errno != EEXIST || (flags & IPCKIT_EXCL))
            return ipckit_backend_error(st, -errno, "shm: create \"%s\": %s", pname,
                                        strerror(errno));
    }
    fd = shm_open(pname, O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0);
    if (fd < 0)
        return ipckit_backend_error(st, -errno, "shm: open \"%s\": %s", pname, strerror(errno));
    rc = shmem_wait_published(st, pname, fd, check, arg, deadline, out);
    (void) close(fd);
    return rc;
fail_created:
    (void) close(fd);
    (void) shm_unlink(pname);
    return rc;
}

_Atomic unsigned ipckit__shmem_fork_gen = 1;

static void
shmem_forked(void)
{
    atomic_fetch_add(&ipckit__shmem_fork_gen, 1);
}

static void
shmem_fork_register(void)
{
    (void) pthread_atfork(NULL, NULL, shmem_forked);
}

void
ipckit__shmem_fork_watch(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    (void) pthread_once(&once, shmem_fork_register);
}

int
ipckit__shmem_unlink(const char *pname)
{
    if (shm_unlink(pname) < 0) {
        int e = errno;
        return ipckit_backend_error(NULL, -e, "shm: unlink \"%s\": %s", pname, strerror(e));
    }
    return 0;
}

int
ipckit__shmem_mutex_init(pthread_mutex_t *m)
{
    pthread_mutexattr_t a;
    int rc = pthread_mutexattr_init(&a);
    if (rc != 0)
        return -rc;
    rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (rc == 0)
        rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (rc == 0)
        rc = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
    if (rc == 0)
        rc = pthread_mutex_init(m, &a);
    (void) pthread_mutexattr_destroy(&a);
    return -rc;
}

/*
 * The mutex lives in memory that another process can write. glibc trusts
 * the mutex's kind word and asserts (aborting the process) on some values,
 * e.g. a priority-protect kind with a priority out of range. So before
 * every lock and unlock the kind is compared with that of a mutex made with
 * the same attributes, and a mismatch is -EBADMSG. This catches corruption;
 * a process with write access racing the check can still disturb the lock,
 * as it can the data it guards (docs/backends/shm.md).
 */
#ifdef __GLIBC__
static int shmem_kind;
static pthread_once_t shmem_kind_once = PTHREAD_ONCE_INIT;

static void
shmem_kind_init(void)
{
    pthread_mutex_t m;
    if (ipckit__shmem_mutex_init(&m) == 0) {
        shmem_kind = m.__data.__kind;
        (void) pthread_mutex_destroy(&m);
    }
}

static bool
shmem_mutex_sane(pthread_mutex_t *m)
{
    (void) pthread_once(&shmem_kind_once, shmem_kind_init);
    return __atomic_load_n(&m->__data.__kind, __ATOMIC_RELAXED) == shmem_kind;
}
#else
static bool
shmem_mutex_sane(pthread_mutex_t *m)
{
    (void) m;
    return true;
}
#endif

int
ipckit__shmem_mutex_unlock(pthread_mutex_t *m)
{
    if (!shmem_mutex_sane(m))
        return -EBADMSG;
    return -pthread_mutex_unlock(m);
}

int
ipckit__shmem_mutex_lock(pthread_mutex_t *m, const struct timespec *deadline)
{
    int rc;
    if (!shmem_mutex_sane(m))
        return -EBADMSG;
    for (;;) {
        if (deadline == NULL)
            rc = pthread_mutex_lock(m);
        else if (deadline->tv_sec == 0 && deadline->tv_nsec == 0)
            rc = pthread_mutex_trylock(m);
        else
            rc = pthread_mutex_clocklock(m, CLOCK_MONOTONIC, deadline);
        if (rc != EINTR)
            break;
    }
    switch (rc) {
    case 0:
        return 0;
    case EOWNERDEAD:
        (void) pthread_mutex_consistent(m);
        return -EOWNERDEAD;
    case EBUSY:
    case ETIMEDOUT:
        return ipckit_deadline_error(deadline);
    default:
        return -rc;
    }
}
