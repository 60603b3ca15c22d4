/*
 * ipckit backend "fifo:": named pipes (FIFOs).
 *
 * Name: fifo:PATH[?stream=1][&claim=1]. One-way: a channel sends or
 * receives.
 *
 * This file finds, makes, opens, checks and removes the FIFO, and keeps
 * what a channel holds on it besides its descriptor: the receiver's claim
 * and the idle write end. fifo_frames.c has what goes through it: the frame
 * format, sending and receiving frames, the two failure codes (-EPROTO,
 * -EBADMSG) and stream mode (?stream=1 or IPCKIT_OPT_STREAM: plain bytes,
 * for peers that do not speak ipckit). fifo.h has struct fifo, which both
 * use.
 *
 * One writer, if it says so. A writer opened with ?claim=1 is the FIFO's
 * only writer (its large messages then go as whole frames, fifo_frames.c):
 * writers mark themselves with open-file-description write locks, a claim
 * on byte 3, every other writer on a byte of its own from 2^32. See
 * fifo_claim_writer().
 *
 * One receiver. A second receiving channel on the FIFO would take frames
 * out of the middle of the first one's large messages; its open is refused
 * (-EBUSY). Receivers announce themselves with an open-file-description
 * lock (F_OFD_SETLK, a read lock, all a read-only descriptor may take) on a
 * byte of the FIFO, which no flock() of the writers touches and which goes
 * with the last descriptor of that open file (a receiver that dies holds
 * nothing). See fifo_claim_reader().
 *
 * The end of the stream. Once a writer has come and gone, poll() reports
 * POLLHUP on the read end until a new writer comes, so an event loop would
 * wake at once, again and again. After a receive has returned -EPIPE, the
 * channel holds a write end of its own until the next receive: the FIFO
 * then has a writer, so the descriptor is quiet until someone sends. See
 * ipckit__fifo_idle_hold().
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <bsd/string.h>

#include "../core/internal.h"
#include "../core/objects.h"
#include "fifo.h"

#define FIFO_MAX_DEFAULT ((size_t) 1 << 20)
#define FIFO_MAX_LIMIT ((size_t) 1 << 30)
#define FIFO_RBUF 65536u
/* A new pipe's pages (PIPE_DEF_BUFFERS in the kernel). */
#define FIFO_PIPE_DEF_PAGES 16u
/* Bytes of the FIFO that receivers lock (F_OFD_SETLK, read locks): held by
 * the receiver for its lifetime; held by an open while it checks. */
#define FIFO_LOCK_READER 1
#define FIFO_LOCK_OPENING 2
#define FIFO_CLAIM_ROUNDS 200
/* Bytes that writers lock (F_OFD_SETLK, write locks, all a write-only
 * descriptor may take): a writer with ?claim=1 holds FIFO_LOCK_CLAIM; every
 * other writer holds one byte of its own at or above FIFO_MARK_BASE, chosen
 * at random (a collision picks again). */
#define FIFO_LOCK_CLAIM 3
/* 2^32 and 2^40 bytes of marks with a 64-bit off_t; 2^24 and 2^30 with a
 * 32-bit one (32-bit builds without _FILE_OFFSET_BITS=64) */
#define FIFO_MARK_BASE ((off_t) 1 << (sizeof(off_t) > 4 ? 32 : 24))
#define FIFO_MARK_SPAN ((uint64_t) 1 << (sizeof(off_t) > 4 ? 40 : 30))

const char *const ipckit__fifo_params[] = { "stream", "claim", NULL };

/* ---- opening ------------------------------------------------------------- */

/*
 * Paths. A path is looked up once: its directory is opened with O_PATH
 * (symbolic links in the directory part are followed, as the caller wrote
 * them) and everything after that works relative to that descriptor on the
 * last component, which is never followed. So the FIFO is made, checked,
 * opened and removed in one and the same directory, even if the owner of a
 * directory on the path renames it or replaces it with a symbolic link
 * meanwhile; a removal is always of the inode that was made or checked.
 * The directory descriptor is closed before the open returns: a channel
 * holds one descriptor, its FIFO's, and needs the directory no more.
 */

/* Open the directory of @p path; *leaf gets its last component (in @p path). */
static int
fifo_open_dir(const char *path, const char **leaf)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int dfd;

    if (slash == NULL) {
        *leaf = path;
        (void) strlcpy(dir, ".", sizeof dir);
    } else {
        *leaf = slash + 1;
        size_t n = slash == path ? 1 : (size_t) (slash - path); /* "/name": the root */
        if (n >= sizeof dir)
            return ipckit_backend_fail(-ENAMETOOLONG,
                                        "fifo: directory of \"%s\" is longer than %d bytes",
                                        path, PATH_MAX - 1);
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    if (**leaf == '\0')
        return ipckit_backend_fail(-EINVAL, "fifo: \"%s\" ends in '/': it names no FIFO",
                                    path);
    dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        int e = errno;
        return ipckit_backend_fail(-e, "fifo: directory of \"%s\": %s", path, strerror(e));
    }
    return dfd;
}

/* Is @p sb the same inode as @p was? */
static bool
fifo_same(const struct stat *sb, const struct stat *was)
{
    return sb->st_dev == was->st_dev && sb->st_ino == was->st_ino;
}

static int
fifo_chmod_created(int dfd, const char *leaf, const char *path,
                   const struct stat *made, unsigned mode)
{
    /* mkfifoat() applied the umask; set the exact mode the caller asked for,
     * on the very inode we made (O_PATH + O_NOFOLLOW, checked with fstat). */
    char proc[64];
    struct stat sb;
    int fd = openat(dfd, leaf, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    int rc = 0;
    if (fd < 0)
        return ipckit_backend_fail(-errno, "fifo: reopen \"%s\" after mkfifo: %s", path,
                                    strerror(errno));
    if (fstat(fd, &sb) < 0 || !fifo_same(&sb, made)) {
        rc = ipckit_backend_fail(-EBUSY, "fifo: \"%s\" was replaced while being created",
                                  path);
    } else if ((sb.st_mode & 07777) != mode) {
        (void) snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        if (chmod(proc, (mode_t) mode) < 0)
            rc = ipckit_backend_fail(-errno, "fifo: chmod \"%s\" to %#o: %s", path, mode,
                                      strerror(errno));
    }
    (void) close(fd);
    return rc;
}

/* Check that @p leaf of @p dfd (AT_FDCWD and the whole path: lstat()) is a
 * FIFO, without following it. */
static int
fifo_check_at(int dfd, const char *leaf, const char *path, bool creating,
              struct stat *sb)
{
    if (fstatat(dfd, leaf, sb, AT_SYMLINK_NOFOLLOW) < 0) {
        int e = errno;
        return ipckit_backend_fail(-e, "fifo: \"%s\": %s", path, strerror(e));
    }
    if (S_ISLNK(sb->st_mode))
        return ipckit_backend_fail(-ELOOP, "fifo: \"%s\" is a symbolic link; not followed",
                                    path);
    if (!S_ISFIFO(sb->st_mode))
        return ipckit_backend_fail(creating ? -EEXIST : -EINVAL,
                                    "fifo: \"%s\" exists and is not a FIFO", path);
    return 0;
}

/*
 * Remove @p leaf of @p dfd if it still is the FIFO @p was: 0, -EBUSY if
 * another file took its place, or a negative errno.
 */
static int
fifo_remove_at(int dfd, const char *leaf, const struct stat *was)
{
    struct stat now;
    if (fstatat(dfd, leaf, &now, AT_SYMLINK_NOFOLLOW) < 0)
        return -errno;
    if (!S_ISFIFO(now.st_mode) || !fifo_same(&now, was))
        return -EBUSY;
    return unlinkat(dfd, leaf, 0) < 0 ? -errno : 0;
}

/* ---- one receiver -------------------------------------------------------- */

/* Lock (F_RDLCK, F_WRLCK) or unlock (F_UNLCK) byte @p at of the FIFO for
 * this open file description, without waiting: 0 or -errno. */
static int
fifo_ofd_lock(int fd, short type, off_t at)
{
    struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = at, .l_len = 1 };
    while (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

/* What another open file description holds on @p len bytes from @p at (0:
 * to the end): F_UNLCK (nothing), F_RDLCK, F_WRLCK, or -errno. */
static int
fifo_ofd_other_range(int fd, off_t at, off_t len)
{
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = at, .l_len = len };
    while (fcntl(fd, F_OFD_GETLK, &fl) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return fl.l_type;
}

static int
fifo_ofd_other(int fd, off_t at)
{
    return fifo_ofd_other_range(fd, at, 1);
}

/* Does /proc/PID/fdinfo/FD (open as @p fp) show a one-byte lock on this
 * FIFO at a byte from @p lo to @p hi? */
static bool
fifo_fdinfo_holds(const struct fifo *f, FILE *fp, long long lo, long long hi)
{
    char line[256];
    while (fgets(line, sizeof line, fp) != NULL) {
        /* "lock:\t1: OFDLCK ADVISORY  READ -1 fe:00:1234 1 1" */
        unsigned maj, min;
        unsigned long long ino;
        long long start, end;
        if (sscanf(line, "lock: %*d: OFDLCK %*s %*s %*s %x:%x:%llu %lld %lld", &maj, &min, &ino,
                   &start, &end) == 5 &&
            maj == major(f->dev) && min == minor(f->dev) && ino == (unsigned long long) f->ino &&
            start == end && start >= lo && start <= hi)
            return true;
    }
    return false;
}

/*
 * The pid of a process with a descriptor (not this channel's) that holds a
 * one-byte lock on this FIFO at a byte from @p lo to @p hi (the lock lines
 * of /proc/PID/fdinfo/FD), or 0 when none is seen. An OFD lock has no owner
 * pid (F_OFD_GETLK and /proc/locks say -1), and a user sees only the
 * descriptors of their own processes, unless root. Only text files of /proc
 * are read: nothing is stat()ed through a descriptor's link, which could
 * wait on a file server. Read only when an open is refused.
 */
static long
fifo_ofd_holder(const struct fifo *f, long long lo, long long hi)
{
    DIR *proc = opendir("/proc");
    struct dirent *pe;
    long self = (long) getpid(), found = 0;
    if (proc == NULL)
        return 0;
    while (found == 0 && (pe = readdir(proc)) != NULL) {
        char dir[64];
        struct dirent *fe;
        DIR *fds;
        char *end;
        long pid = strtol(pe->d_name, &end, 10);
        if (pid <= 0 || *end != '\0')
            continue;
        (void) snprintf(dir, sizeof dir, "/proc/%ld/fdinfo", pid);
        fds = opendir(dir);
        if (fds == NULL)
            continue;
        while (found == 0 && (fe = readdir(fds)) != NULL) {
            FILE *fp;
            int fd;
            long n = strtol(fe->d_name, &end, 10);
            if (n < 0 || n > INT_MAX || *end != '\0' || fe->d_name[0] == '\0' ||
                (pid == self && n == f->fd))
                continue;
            fd = openat(dirfd(fds), fe->d_name, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                continue;
            fp = fdopen(fd, "r");
            if (fp == NULL) {
                (void) close(fd);
                continue;
            }
            if (fifo_fdinfo_holds(f, fp, lo, hi))
                found = pid;
            (void) fclose(fp);
        }
        (void) closedir(fds);
    }
    (void) closedir(proc);
    return found;
}

/* " (pid N)" for the holder of a lock from @p lo to @p hi, or "". */
static void
fifo_holder_text(const struct fifo *f, long long lo, long long hi, char *out, size_t cap)
{
    long pid = fifo_ofd_holder(f, lo, hi);
    out[0] = '\0';
    if (pid == (long) getpid())
        (void) snprintf(out, cap, " (pid %ld: this process)", pid);
    else if (pid > 0)
        (void) snprintf(out, cap, " (pid %ld)", pid);
}

static int
fifo_reader_busy(struct fifo *f, const char *why)
{
    char holder[48];
    fifo_holder_text(f, FIFO_LOCK_READER, FIFO_LOCK_READER, holder, sizeof holder);
    return ipckit_backend_fail(-EBUSY,
                                "fifo: \"%s\" %s%s; a FIFO takes one receiving channel at a"
                                " time",
                                f->path, why, holder);
}

/*
 * Become the one receiver of the FIFO, or fail with -EBUSY. Read-only
 * descriptors can take only read locks, which never exclude each other, so
 * exclusion is built from looking: an open
 *   1. locks FIFO_LOCK_OPENING (it is opening);
 *   2. looks whether another open holds FIFO_LOCK_OPENING: if so, both may
 *      have seen each other: it lets go, waits 1 to 8 ms and starts over;
 *   3. looks whether a receiver holds FIFO_LOCK_READER: refused;
 *   4. locks FIFO_LOCK_READER, and only then lets FIFO_LOCK_OPENING go.
 * Two opens can both pass step 2 only if each looked before the other
 * locked; then the later one looks at FIFO_LOCK_READER after the earlier one
 * took it (step 4 comes before its step-1 lock goes), and is refused.
 * A write lock on either byte is none of ipckit's (a writer may take one):
 * refused too, rather than waited for.
 */
static int
fifo_claim_reader(struct fifo *f, const struct timespec *deadline)
{
    struct timespec now;
    unsigned seed;
    (void) clock_gettime(CLOCK_MONOTONIC, &now);
    seed = (unsigned) getpid() * 2654435761u ^ (unsigned) now.tv_nsec;
    for (int round = 0;; round++) {
        int other, rc = fifo_ofd_lock(f->fd, F_RDLCK, FIFO_LOCK_OPENING);
        if (rc == -EAGAIN || rc == -EACCES)
            return fifo_reader_busy(f, "has a lock that is not a receiver's on it");
        if (rc < 0)
            return ipckit_backend_fail(rc, "fifo: lock \"%s\" as its receiver: %s", f->path,
                                        strerror(-rc));
        other = fifo_ofd_other(f->fd, FIFO_LOCK_OPENING);
        if (other == F_UNLCK) {
            other = fifo_ofd_other(f->fd, FIFO_LOCK_READER);
            if (other == F_UNLCK) {
                rc = fifo_ofd_lock(f->fd, F_RDLCK, FIFO_LOCK_READER);
                if (rc == -EAGAIN || rc == -EACCES) { /* a write lock came meanwhile */
                    rc = -EBUSY;
                    other = F_WRLCK;
                }
            } else {
                rc = other < 0 ? other : -EBUSY;
            }
            (void) fifo_ofd_lock(f->fd, F_UNLCK, FIFO_LOCK_OPENING);
            if (rc == -EBUSY)
                return fifo_reader_busy(f, other == F_RDLCK ? "has a receiver already"
                                                            : "has a lock that is not a"
                                                              " receiver's on it");
            if (rc < 0)
                return ipckit_backend_fail(rc, "fifo: lock \"%s\" as its receiver: %s", f->path,
                                            strerror(-rc));
            return 0;
        }
        (void) fifo_ofd_lock(f->fd, F_UNLCK, FIFO_LOCK_OPENING);
        if (other < 0)
            return ipckit_backend_fail(other, "fifo: lock \"%s\" as its receiver: %s", f->path,
                                        strerror(-other));
        if (other == F_WRLCK)
            return fifo_reader_busy(f, "has a lock that is not a receiver's on it");
        /* another open at the same moment */
        if (round + 1 >= FIFO_CLAIM_ROUNDS || ipckit_deadline_passed(deadline))
            return fifo_reader_busy(f, "is being opened by another receiver at the same time");
        seed = seed * 1103515245u + 12345u;
        (void) ipckit_deadline_sleep(deadline, 1 + (long) ((seed >> 16) % 8));
    }
}

/* ---- writers: one with a claim, or any number without ---------------------- */

/* 64 random bits (getrandom; the clock and the pid if it fails). */
static uint64_t
fifo_random(void)
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t) sizeof r) {
        struct timespec now;
        (void) clock_gettime(CLOCK_MONOTONIC, &now);
        r = ((uint64_t) now.tv_nsec * 0x9e3779b97f4a7c15u) ^ ((uint64_t) now.tv_sec << 20) ^
            (uint64_t) getpid();
    }
    return r;
}

/*
 * A writer with ?claim=1 is the FIFO's only writer while it is open: it
 * write-locks FIFO_LOCK_CLAIM and is refused if another writer holds that
 * byte or a mark. Every other writer write-locks a byte of its own (its
 * mark) from FIFO_MARK_BASE, and is refused while a claim is held. Each
 * locks before it looks, so of two opens at the same moment at least one
 * sees the other (both may be refused). The locks go with the last
 * descriptor of the open file description: a writer that dies holds
 * nothing. On a file system without such locks, a writer without a claim
 * goes on without its mark, and a claim is refused.
 */
static int
fifo_claim_writer(struct fifo *f)
{
    char holder[48];
    int other, rc;
    if (f->claim) {
        rc = fifo_ofd_lock(f->fd, F_WRLCK, FIFO_LOCK_CLAIM);
        if (rc == -EAGAIN || rc == -EACCES) {
            fifo_holder_text(f, FIFO_LOCK_CLAIM, FIFO_LOCK_CLAIM, holder, sizeof holder);
            return ipckit_backend_fail(-EBUSY,
                                        "fifo: \"%s\" has a writer with ?claim=1 already%s;"
                                        " a claim makes it the FIFO's only writer",
                                        f->path, holder);
        }
        if (rc < 0)
            return ipckit_backend_fail(rc, "fifo: lock \"%s\" for ?claim=1: %s", f->path,
                                        strerror(-rc));
        other = fifo_ofd_other_range(f->fd, FIFO_MARK_BASE, 0);
        if (other == F_UNLCK) {
            f->token = fifo_random();
            return 0;
        }
        (void) fifo_ofd_lock(f->fd, F_UNLCK, FIFO_LOCK_CLAIM);
        if (other < 0)
            return ipckit_backend_fail(other, "fifo: look for other writers of \"%s\": %s",
                                        f->path, strerror(-other));
        fifo_holder_text(f, FIFO_MARK_BASE, LLONG_MAX, holder, sizeof holder);
        return ipckit_backend_fail(-EBUSY,
                                    "fifo: \"%s\" has another writer open%s; ?claim=1 must be"
                                    " the FIFO's only writer",
                                    f->path, holder);
    }
    for (int i = 0;; i++) {
        off_t at = FIFO_MARK_BASE + (off_t) (fifo_random() % FIFO_MARK_SPAN);
        rc = fifo_ofd_lock(f->fd, F_WRLCK, at);
        if (rc == 0) {
            f->mark = at;
            break;
        }
        if ((rc == -EAGAIN || rc == -EACCES) && i < 16)
            continue; /* another writer's mark: pick again */
        if (rc == -EAGAIN || rc == -EACCES)
            return ipckit_backend_fail(-EBUSY,
                                        "fifo: \"%s\": every byte tried for this writer's"
                                        " mark is locked by another process",
                                        f->path);
        return 0; /* no such locks here: no mark, and no claim either */
    }
    other = fifo_ofd_other(f->fd, FIFO_LOCK_CLAIM);
    if (other == F_UNLCK)
        return 0;
    (void) fifo_ofd_lock(f->fd, F_UNLCK, f->mark);
    f->mark = -1;
    if (other < 0)
        return ipckit_backend_fail(other, "fifo: look for a claim on \"%s\": %s", f->path,
                                    strerror(-other));
    fifo_holder_text(f, FIFO_LOCK_CLAIM, FIFO_LOCK_CLAIM, holder, sizeof holder);
    return ipckit_backend_fail(-EBUSY,
                                "fifo: \"%s\" has a writer with ?claim=1%s, its only writer"
                                " until it closes",
                                f->path, holder);
}

/* ---- the read end between receives ----------------------------------------- */

/*
 * After the end of the stream (a receive returned -EPIPE), hold a write end
 * of the FIFO until the next receive. poll() reports POLLHUP on a read end
 * whenever no writer has the FIFO open and one has come and gone since the
 * read end was opened; with a writer of its own the FIFO has a writer, so
 * the descriptor is readable only when someone sends. The write end is
 * opened through /proc/self/fd (it needs no path, and no permission but
 * write permission on the FIFO) and checked to be the same FIFO.
 * Returns 0, or the errno that kept it from being held.
 */
int
ipckit__fifo_idle_hold(struct fifo *f)
{
    char proc[40];
    struct stat sb;
    int fd;
    if (f->idle_fd >= 0)
        return 0;
    (void) snprintf(proc, sizeof proc, "/proc/self/fd/%d", f->fd);
    fd = open(proc, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    if (fstat(fd, &sb) < 0 || !S_ISFIFO(sb.st_mode) || sb.st_dev != f->dev || sb.st_ino != f->ino) {
        (void) close(fd);
        return EINVAL;
    }
    f->idle_fd = fd;
    return 0;
}

/*
 * A writer's second, blocking write end of the FIFO it opened (a new open
 * file description through /proc/self/fd, checked to be the same FIFO): a
 * send that waits as long as needed then costs one write(), which sleeps
 * in the kernel until there is room, instead of write(), poll() and write()
 * on the non-blocking end. -1 when it cannot be had (then the non-blocking
 * end serves).
 */
static int
fifo_blocking_end(struct fifo *f)
{
    char proc[40];
    struct stat sb;
    int fd, fl;
    (void) snprintf(proc, sizeof proc, "/proc/self/fd/%d", f->fd);
    fd = open(proc, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, &sb) < 0 || !S_ISFIFO(sb.st_mode) || sb.st_dev != f->dev || sb.st_ino != f->ino ||
        (fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        (void) close(fd);
        return -1;
    }
    return fd;
}

/* Let the write end of ipckit__fifo_idle_hold() go: every receive starts with the
 * FIFO's own state (the end of the stream, if no writer came meanwhile). */
void
ipckit__fifo_idle_release(struct fifo *f)
{
    if (f->idle_fd >= 0) {
        (void) close(f->idle_fd);
        f->idle_fd = -1;
    }
}

static int
fifo_open(void *state, const ipckit_name *name, unsigned flags, const ipckit_opts *opts,
          const struct timespec *deadline)
{
    struct fifo *f = state;
    const char *path = ipckit_name_target(name), *leaf;
    bool created = false, checked = false;
    struct stat sb, fsb;
    long stream = 0, claim = 0;
    ipckit_backoff wait = IPCKIT_BACKOFF_INIT(0, 1000, 50000);
    int rc, fl, dfd;

    f->fd = -1;
    f->idle_fd = -1;
    f->bfd = -1;
    f->waker = -1;
    f->mark = -1;
    rc = ipckit_name_check_params(name, ipckit__fifo_params);
    if (rc < 0)
        return rc;
    rc = ipckit_name_param_long(name, "stream", 0, 1, 0, &stream);
    if (rc < 0)
        return rc;
    rc = ipckit_name_param_long(name, "claim", 0, 1, 0, &claim);
    if (rc < 0)
        return rc;
    /* a receiver's claim changes nothing but its caps: a FIFO has one
     * receiver anyway, and the name says that it has one writer */
    f->claim = claim != 0;
    f->stream = stream != 0 || (opts->flags & IPCKIT_OPT_STREAM);
    if ((flags & IPCKIT_SEND) && (flags & IPCKIT_RECV))
        return ipckit_backend_fail(-EINVAL,
                                    "fifo: a FIFO is one-way; open it with IPCKIT_SEND or"
                                    " IPCKIT_RECV, not both");
    if (strlcpy(f->path, path, sizeof f->path) >= sizeof f->path)
        return ipckit_backend_fail(-ENAMETOOLONG, "fifo: path is longer than %d bytes",
                                    PATH_MAX - 1);
    f->max_msg = opts->max_msg_size ? opts->max_msg_size : FIFO_MAX_DEFAULT;
    if (f->max_msg > FIFO_MAX_LIMIT)
        return ipckit_backend_fail(-EINVAL, "fifo: max_msg_size %zu is above %zu",
                                    f->max_msg, FIFO_MAX_LIMIT);
    f->reader = (flags & IPCKIT_RECV) != 0;

    dfd = fifo_open_dir(path, &leaf);
    if (dfd < 0)
        return dfd;
    if (flags & IPCKIT_CREATE) {
        if (mkfifoat(dfd, leaf, (mode_t) opts->mode) == 0) {
            created = true;
        } else if (errno != EEXIST || (flags & IPCKIT_EXCL)) {
            int e = errno;
            (void) close(dfd);
            return ipckit_backend_fail(-e, "fifo: mkfifo \"%s\": %s", path, strerror(e));
        }
    }
    rc = fifo_check_at(dfd, leaf, path, (flags & IPCKIT_CREATE) != 0, &sb);
    if (rc < 0)
        goto fail;
    checked = true; /* sb: the FIFO this open made or found */
    if (!created) {
        /* Someone else made it: attach only if its owner is trusted and
         * nobody untrusted may write to it (docs/security.md). */
        char what[PATH_MAX + 16];
        (void) snprintf(what, sizeof what, "fifo: \"%s\"", path);
        rc = ipckit_backend_check_owner(state, opts, what, sb.st_uid, sb.st_uid, sb.st_gid,
                                        (unsigned) sb.st_mode);
        if (rc < 0)
            goto fail;
    }
    if (created) {
        rc = fifo_chmod_created(dfd, leaf, path, &sb, opts->mode);
        if (rc < 0)
            goto fail;
    }

    for (;;) {
        f->fd = openat(dfd, leaf, (f->reader ? O_RDONLY : O_WRONLY) | O_NONBLOCK | O_NOFOLLOW |
                                      O_CLOEXEC);
        if (f->fd >= 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno != ENXIO) {
            int e = errno;
            rc = ipckit_backend_fail(-e, "fifo: open \"%s\": %s", path, strerror(e));
            goto fail;
        }
        /* A writer cannot open a FIFO that has no reader: wait for one. */
        rc = ipckit_backoff_wait(&wait, deadline, -1);
        if (rc < 0) {
            rc = ipckit_backend_fail(rc, "fifo: open \"%s\" for sending: no reader has it open",
                                     path);
            goto fail;
        }
    }
    if (fstat(f->fd, &fsb) < 0 || !S_ISFIFO(fsb.st_mode) || !fifo_same(&fsb, &sb)) {
        rc = ipckit_backend_fail(-EINVAL, "fifo: \"%s\" changed while being opened",
                                  path);
        goto fail;
    }
    f->dev = fsb.st_dev;
    f->ino = fsb.st_ino;
    if (f->reader) {
        rc = fifo_claim_reader(f, deadline);
        if (rc == -EBUSY) {
            /* another receiver has it: the FIFO, if this open made it
             * just now, is in use, not this open's to take back */
            created = false;
        }
        if (rc < 0)
            goto fail;
    }
    if (!f->reader) {
        rc = fifo_claim_writer(f);
        if (rc == -EBUSY)
            created = false; /* in use by another writer: not this open's to remove */
        if (rc < 0)
            goto fail;
    }
    if (opts->capacity > 0 && fcntl(f->fd, F_SETPIPE_SZ, (int) (opts->capacity > INT_MAX
                                                                  ? INT_MAX
                                                                  : opts->capacity)) < 0) {
        int e = errno;
        rc = ipckit_backend_fail(-e, "fifo: set capacity of \"%s\" to %zu bytes: %s",
                                  path, opts->capacity, strerror(e));
        goto fail;
    }
    if (!f->reader) {
        /* a pipe whose size someone chose (the caller, the receiver, the
         * kernel for a user over the pipe limits) is left as it is */
        int size = fcntl(f->fd, F_GETPIPE_SZ);
        long page = sysconf(_SC_PAGESIZE);
        f->pipe_size = size > 0 ? (size_t) size : 0;
        f->pipe_fixed = opts->capacity > 0 || size <= 0 || page <= 0 ||
                        (size_t) size != FIFO_PIPE_DEF_PAGES * (size_t) page;
        f->bfd = fifo_blocking_end(f);
    }
    if (!f->reader) {
        struct sigaction sa;
        f->sigpipe_ignored = sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
    }
    if (f->reader) {
        /* The read end was opened without blocking; reads block from now on
         * and timed waits poll first. */
        fl = fcntl(f->fd, F_GETFL);
        if (fl < 0 || fcntl(f->fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
            rc = -errno;
            goto fail;
        }
        if (!f->stream) {
            f->rbuf = malloc(FIFO_RBUF);
            if (f->rbuf == NULL) {
                rc = -ENOMEM;
                goto fail;
            }
            f->rcap = FIFO_RBUF;
        }
    }
    if (opts->flags & IPCKIT_OPT_INTERRUPTIBLE) {
        /* waits, -1 included, then poll the FIFO and this eventfd */
        f->waker = ipckit_waker_open();
        if (f->waker < 0) {
            rc = ipckit_backend_fail(f->waker, "fifo: eventfd: %s", strerror(-f->waker));
            f->waker = -1;
            goto fail;
        }
    }
    (void) close(dfd);
    /* created: the kernel keeps no creator, the core records it */
    return created ? 1 : 0;
fail:
    if (f->bfd >= 0)
        (void) close(f->bfd);
    f->bfd = -1;
    if (f->fd >= 0)
        (void) close(f->fd);
    f->fd = -1;
    free(f->rbuf);
    f->rbuf = NULL;
    /* Only the FIFO this open made, where it made it; not whatever the path
     * names now. A FIFO replaced before it could be checked is not ours. */
    if (created && checked)
        (void) fifo_remove_at(dfd, leaf, &sb);
    (void) close(dfd);
    return rc;
}

static int
fifo_close(void *state)
{
    struct fifo *f = state;
    int rc = 0;
    ipckit__fifo_idle_release(f);
    if (f->bfd >= 0)
        (void) close(f->bfd);
    f->bfd = -1;
    if (f->fd >= 0 && close(f->fd) < 0 && errno != EINTR)
        rc = -errno;
    f->fd = -1;
    free(f->rbuf);
    free(f->abuf);
    f->rbuf = f->abuf = NULL;
    if (f->waker >= 0)
        (void) close(f->waker);
    f->waker = -1;
    return rc;
}

static int
fifo_interrupt(void *state)
{
    struct fifo *f = state;
    return f->waker < 0 ? -ENOTSUP : ipckit_waker_wake(f->waker);
}

/* The FIFO this channel has open, for its creator record: described by its
 * path, which must still lead to it. */
static int
fifo_identify(void *state, ipckit_object *out)
{
    struct fifo *f = state;
    int rc = ipckit__fifo_object(f->path, out);
    if (rc == 0 && (out->dev != (unsigned long long) f->dev ||
                    out->ino != (unsigned long long) f->ino))
        return -ESTALE;
    return rc;
}

static int
fifo_unlink(const ipckit_name *name)
{
    const char *path = ipckit_name_target(name), *leaf;
    struct stat sb;
    int rc, dfd = fifo_open_dir(path, &leaf);
    if (dfd < 0)
        return dfd;
    rc = fifo_check_at(dfd, leaf, path, false, &sb);
    if (rc < 0)
        goto out;
    rc = fifo_remove_at(dfd, leaf, &sb);
    if (rc == -EBUSY)
        rc = ipckit_backend_fail(rc,
                                  "fifo: \"%s\" was replaced while being removed; nothing removed",
                                  path);
    else if (rc < 0)
        rc = ipckit_backend_fail(rc, "fifo: unlink \"%s\": %s", path, strerror(-rc));
out:
    (void) close(dfd);
    return rc;
}

static int
fifo_stat(const ipckit_name *name, ipckit_stat *out)
{
    const char *path = ipckit_name_target(name);
    struct stat sb;
    /* lstat(): a final symbolic link is never followed */
    int rc = fifo_check_at(AT_FDCWD, path, path, false, &sb);
    if (rc < 0)
        return rc;
    out->mode = sb.st_mode & 07777;
    out->max_msg_size = (long) FIFO_MAX_DEFAULT;
    /* A FIFO keeps no creator: the core reads ipckit's record */
    return 0;
}

static int
fifo_fd(void *state)
{
    return ((struct fifo *) state)->fd;
}

static void
fifo_info(void *state, unsigned *caps, size_t *max_msg)
{
    struct fifo *f = state;
    if (f->stream)
        *caps = IPCKIT_CAP_FD | IPCKIT_CAP_STREAM | IPCKIT_CAP_MULTI_SEND;
    if (f->claim)
        *caps &= ~(unsigned) IPCKIT_CAP_MULTI_SEND;
    *max_msg = f->stream ? (size_t) SSIZE_MAX : f->max_msg;
}

const ipckit_backend ipckit__fifo_backend = {
    .abi_version = IPCKIT_BACKEND_ABI,
    .scheme = "fifo",
    .opt_flags = IPCKIT_OPT_STREAM | IPCKIT_OPT_INTERRUPTIBLE,
    .state_size = sizeof(struct fifo),
    .caps = IPCKIT_CAP_TYPED | IPCKIT_CAP_FD | IPCKIT_CAP_MULTI_SEND,
    .open = fifo_open,
    .close = fifo_close,
    .unlink = fifo_unlink,
    .send = ipckit__fifo_send,
    .recv = ipckit__fifo_recv,
    .fd = fifo_fd,
    .stat = fifo_stat,
    .info = fifo_info,
    .interrupt = fifo_interrupt,
    .list = ipckit__fifo_list,
    .describe = ipckit__fifo_describe,
    .remove_stale = ipckit__fifo_remove_stale,
    .identify = fifo_identify,
};
