/*
 * ipckit: POSIX shared-memory objects with a published header, and the
 * robust process-shared mutex; shared by the shm: backend and the region
 * API. See shm_object.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bsd/string.h>

#include "shm_object.h"

/* How long an opener waits for a creator that has not published its header,
 * when the caller gave no deadline. */
#define SHMEM_INIT_WAIT_MS 3000

int
ipckit__shmobj_posix_name(const ipckit_name *n, char *buf, size_t cap)
{
    const char *t = ipckit_name_target(n);
    size_t len;
    if (*t == '/')
        t++;
    len = strlen(t);
    if (len == 0 || strchr(t, '/') != NULL || strcmp(t, ".") == 0 || strcmp(t, "..") == 0)
        return ipckit__fail(-EINVAL,
                                    "shm: \"%s\": the target must be one name without '/'"
                                    " (a POSIX shared-memory object, /dev/shm/NAME)",
                                    ipckit_name_text(n));
    if (len + 2 > cap || len + 1 > IPCKIT__SHMOBJ_NAME_MAX)
        return ipckit__fail(-ENAMETOOLONG, "shm: \"%s\": name longer than %d bytes",
                                    ipckit_name_text(n), IPCKIT__SHMOBJ_NAME_MAX - 1);
    buf[0] = '/';
    memcpy(buf + 1, t, len + 1);
    return 0;
}

static int
shmem_wait_published(const char *pname, int fd, ipckit__shmobj_check_fn check,
                     void *arg, const struct timespec *deadline, struct ipckit__shmobj_map *out)
{
    struct timespec own;
    const struct timespec *limit = deadline;
    ipckit_backoff wait = IPCKIT_BACKOFF_INIT(0, 1000, 20000);
    if (limit == NULL)
        limit = ipckit__deadline(SHMEM_INIT_WAIT_MS, &own);
    for (;;) {
        struct stat sb;
        int rc;
        if (fstat(fd, &sb) < 0)
            return ipckit__fail(-errno, "shm: fstat \"%s\": %s", pname,
                                        strerror(errno));
        if (sb.st_size > 0) {
            if ((unsigned long long) sb.st_size > (unsigned long long) SIZE_MAX / 2)
                return ipckit__fail(-EBADMSG, "shm: \"%s\" has an absurd size",
                                            pname);
            void *p = mmap(NULL, (size_t) sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            if (p == MAP_FAILED)
                return ipckit__fail(-errno, "shm: mmap \"%s\": %s", pname,
                                            strerror(errno));
            rc = check(p, (size_t) sb.st_size, arg);
            if (rc == 0) {
                out->base = p;
                out->size = (size_t) sb.st_size;
                return 0;
            }
            (void) munmap(p, (size_t) sb.st_size);
            if (rc != -EINPROGRESS)
                return rc;
        }
        if (ipckit_backoff_wait(&wait, limit, -1) < 0)
            return ipckit__fail(-EBADMSG,
                                "shm: \"%s\" exists but its creator never finished setting it"
                                " up (empty or unpublished header)",
                                pname);
    }
}

/* An object just opened that this open did not create: a regular file
 * (not a FIFO or a device someone put in /dev/shm) of a trusted owner. */
static int
shmem_check_existing(const char *pname, int fd, const ipckit_opts *opts)
{
    char what[IPCKIT__SHMOBJ_NAME_MAX + 16];
    struct stat sb;
    if (fstat(fd, &sb) < 0)
        return ipckit__fail(-errno, "shm: fstat \"%s\": %s", pname,
                                    strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return ipckit__fail(-EBADMSG,
                                    "shm: \"%s\" is not a shared-memory object (file type %#o)",
                                    pname, (unsigned) (sb.st_mode & S_IFMT));
    (void) snprintf(what, sizeof what, "shm: \"%s\"", pname);
    return ipckit_backend_check_owner(NULL, opts, what, sb.st_uid, sb.st_uid, sb.st_gid,
                                      (unsigned) sb.st_mode);
}

int
ipckit__shmobj_map(const char *pname, unsigned flags, const ipckit_opts *opts,
                  size_t create_size, ipckit__shmobj_init_fn init, ipckit__shmobj_check_fn check,
                  void *arg, const struct timespec *deadline, struct ipckit__shmobj_map *out)
{
    mode_t mode = (mode_t) opts->mode;
    int fd = -1, rc;
    out->base = NULL;
    out->size = 0;
    out->created = false;
    if (flags & IPCKIT_CREATE) {
        fd = shm_open(pname, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd >= 0) {
            void *p;
            /* shm_open applied the umask: set the exact mode asked for. */
            if (fchmod(fd, mode) < 0 || ftruncate(fd, (off_t) create_size) < 0) {
                rc = ipckit__fail(-errno, "shm: set up \"%s\" (%zu bytes): %s",
                                          pname, create_size, strerror(errno));
                goto fail_created;
            }
            p = mmap(NULL, create_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            if (p == MAP_FAILED) {
                rc = ipckit__fail(-errno, "shm: mmap \"%s\": %s", pname,
                                          strerror(errno));
                goto fail_created;
            }
            rc = init(p, create_size, arg);
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
            return ipckit__fail(-errno, "shm: create \"%s\": %s", pname,
                                        strerror(errno));
    }
    /* O_NONBLOCK: a FIFO planted under the name must not block the open. */
    fd = shm_open(pname, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0);
    if (fd < 0)
        return ipckit__fail(-errno, "shm: open \"%s\": %s", pname, strerror(errno));
    rc = shmem_check_existing(pname, fd, opts);
    if (rc == 0)
        rc = shmem_wait_published(pname, fd, check, arg, deadline, out);
    (void) close(fd);
    return rc;
fail_created:
    (void) close(fd);
    (void) shm_unlink(pname);
    return rc;
}

_Atomic unsigned ipckit__shmobj_fork_gen = 1;

static void
shmem_forked(void)
{
    atomic_fetch_add(&ipckit__shmobj_fork_gen, 1);
}

static void
shmem_fork_register(void)
{
    (void) pthread_atfork(NULL, NULL, shmem_forked);
}

void
ipckit__shmobj_fork_watch(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    (void) pthread_once(&once, shmem_fork_register);
}

ssize_t
ipckit__shmobj_peek(const char *pname, void *buf, size_t cap, struct stat *sb)
{
    ssize_t n;
    int e, fd = shm_open(pname, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0);
    if (fd < 0) {
        e = errno;
        return ipckit__fail(-e, "shm: open \"%s\": %s", pname, strerror(e));
    }
    if (fstat(fd, sb) < 0) {
        e = errno;
        (void) close(fd);
        return ipckit__fail(-e, "shm: fstat \"%s\": %s", pname, strerror(e));
    }
    if (!S_ISREG(sb->st_mode)) {
        (void) close(fd);
        return ipckit__fail(-EBADMSG,
                                    "shm: \"%s\" is not a shared-memory object (file type %#o)",
                                    pname, (unsigned) (sb->st_mode & S_IFMT));
    }
    do
        n = pread(fd, buf, cap, 0);
    while (n < 0 && errno == EINTR);
    e = errno;
    (void) close(fd);
    if (n < 0)
        return ipckit__fail(-e, "shm: read \"%s\": %s", pname, strerror(e));
    return n;
}

int
ipckit__shmobj_unlink(const char *pname, unsigned kinds)
{
    uint32_t magic = 0;
    struct stat sb;
    ssize_t n = ipckit__shmobj_peek(pname, &magic, sizeof magic, &sb);
    bool ok;
    if (n == -EBADMSG)
        return -EINVAL; /* not a regular file: not what the scheme names */
    if (n < 0)
        return (int) n;
    /* An empty object holds nothing to lose: a creator that died before it
     * set the size leaves one. */
    ok = sb.st_size == 0 ||
         ((kinds & IPCKIT__SHMOBJ_RING) &&
          (magic == IPCKIT__SHMOBJ_RING_MAGIC || magic == IPCKIT__SHMOBJ_BCAST_MAGIC)) ||
         ((kinds & IPCKIT__SHMOBJ_REGION) && magic == IPCKIT__SHMOBJ_REGION_MAGIC);
    if (!ok)
        return ipckit__fail(-EINVAL,
                                    "shm: \"%s\" is not an ipckit %s (%lld bytes, magic %#x);"
                                    " not removed",
                                    pname,
                                    kinds == IPCKIT__SHMOBJ_REGION ? "region"
                                    : kinds == IPCKIT__SHMOBJ_RING ? "ring"
                                                                  : "ring or region",
                                    (long long) sb.st_size, (unsigned) magic);
    if (shm_unlink(pname) < 0) {
        int e = errno;
        return ipckit__fail(-e, "shm: unlink \"%s\": %s", pname, strerror(e));
    }
    return 0;
}

