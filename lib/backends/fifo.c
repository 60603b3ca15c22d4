/*
 * ipckit backend "fifo:": named pipes (FIFOs).
 *
 * Name: fifo:PATH[?stream=1]. One-way: a channel sends or receives.
 *
 * Message framing. Every message is written as frames of at most PIPE_BUF
 * bytes, and the kernel writes each of those atomically, so frames of
 * different writers never mix. A frame is a 16-byte header
 * (magic "IK", version, flags, payload length, type) and its payload:
 *
 *   - a message that fits one frame is one frame with FIRST|LAST;
 *   - a larger message is a run of frames: FIRST (payload starts with the
 *     64-bit total length), middles, LAST. Writers of large messages hold
 *     flock(LOCK_EX) on the FIFO while they write, so at most one large
 *     message is in flight; single-frame messages take no lock and may land
 *     between its frames. The reader assembles the large message aside and
 *     delivers the single frames as they come, so no writer's message is
 *     ever torn and each writer's own order is kept. Any process that can
 *     open the FIFO for writing can take that lock and keep it, which stops
 *     every other large message (a limit of fifo:, documented; a send that
 *     gives up waiting for the lock says so, with the holder's pid).
 *
 * Nothing read from the pipe is trusted. Two kinds of failure, two codes:
 *
 *   - -EPROTO: a header that is not a frame header (bad magic, version,
 *     flags, frame length or type). The reader no longer knows where frames
 *     begin, so the channel stays in that state: it must be reopened;
 *   - -EBADMSG: well-formed frames that make no deliverable message (a
 *     length over this channel's max_msg_size, a large message cut off
 *     because its writer died or timed out in the middle of it, frames that
 *     do not fit their message). That message is discarded and reported
 *     once, and the channel goes on.
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
 * fifo_idle_hold().
 *
 * Stream mode (?stream=1 or IPCKIT_OPT_STREAM) writes and reads plain bytes,
 * for peers that do not speak ipckit (cat, PHP's fwrite/fread).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include <bsd/string.h>

#include "../core/internal.h"
#include "../core/objects.h"

#define FIFO_MAGIC 0x4b49u /* "IK" in little-endian memory */
#define FIFO_VERSION 1u
#define FIFO_FIRST 1u
#define FIFO_LAST 2u
#define FIFO_HDR 16u
#define FIFO_FRAME_MAX ((size_t) PIPE_BUF)
#define FIFO_CHUNK (FIFO_FRAME_MAX - FIFO_HDR)
#define FIFO_MAX_DEFAULT ((size_t) 1 << 20)
#define FIFO_MAX_LIMIT ((size_t) 1 << 30)
#define FIFO_RBUF 65536u
/* Bytes of the FIFO that receivers lock (F_OFD_SETLK, read locks): held by
 * the receiver for its lifetime; held by an open while it checks. */
#define FIFO_LOCK_READER 1
#define FIFO_LOCK_OPENING 2
#define FIFO_CLAIM_ROUNDS 200

struct fifo_hdr {
    uint16_t magic;
    uint8_t version;
    uint8_t flags;
    uint32_t len;  /* payload bytes in this frame */
    int64_t type;
};

struct fifo {
    int fd;
    int idle_fd;          /* reader: its own write end, held after -EPIPE, or -1 */
    int bfd;              /* writer: a blocking write end of the same FIFO, for sends
                             that wait as long as needed (one write(), as a raw
                             writer's); -1 without /proc */
    int waker;            /* IPCKIT_OPT_INTERRUPTIBLE: ipckit_waker_open(); else -1 */
    bool reader;
    bool stream;
    bool broken;          /* framing lost: every recv fails with -EPROTO */
    bool sigpipe_ignored; /* writer: SIGPIPE was SIG_IGN at open */
    dev_t dev;            /* the FIFO's inode, as opened */
    ino_t ino;
    size_t max_msg;
    /* reader: bytes read from the pipe, not yet parsed */
    unsigned char *rbuf;
    size_t rcap, head, tail;
    /* reader: a large message being assembled from its frames */
    unsigned char *abuf;
    size_t acap, alen, atotal;
    int64_t atype;
    bool aactive, aready;
    bool askip;  /* skipping the rest of a message already reported as discarded */
    bool orphan; /* skipping frames whose message began unseen; reported */
    char path[PATH_MAX];
};

static const char *const fifo_params[] = { "stream", NULL };

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

/* Lock (F_RDLCK) or unlock (F_UNLCK) byte @p at of the FIFO for this open
 * file description: 0 or -errno. */
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

/* What another open file description holds on byte @p at: F_UNLCK (nothing),
 * F_RDLCK, F_WRLCK, or -errno. */
static int
fifo_ofd_other(int fd, off_t at)
{
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = at, .l_len = 1 };
    while (fcntl(fd, F_OFD_GETLK, &fl) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return fl.l_type;
}

/* Does /proc/PID/fdinfo/FD (open as @p fp) show the receiver's lock on
 * this FIFO? */
static bool
fifo_fdinfo_reader(const struct fifo *f, FILE *fp)
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
            start == FIFO_LOCK_READER && end == FIFO_LOCK_READER)
            return true;
    }
    return false;
}

/*
 * The pid of a process with a descriptor that holds the receiver's lock on
 * this FIFO (the lock lines of /proc/PID/fdinfo/FD), or 0 when none is
 * seen. An OFD lock has no owner pid (F_OFD_GETLK and /proc/locks say -1),
 * and a user sees only the descriptors of their own processes, unless
 * root. Only text files of /proc are read: nothing is stat()ed through a
 * descriptor's link, which could wait on a file server. Read only when an
 * open is refused.
 */
static long
fifo_reader_holder(const struct fifo *f)
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
            if (fifo_fdinfo_reader(f, fp))
                found = pid;
            (void) fclose(fp);
        }
        (void) closedir(fds);
    }
    (void) closedir(proc);
    return found;
}

static int
fifo_reader_busy(struct fifo *f, const char *why)
{
    char holder[48] = "";
    long pid = fifo_reader_holder(f);
    if (pid == (long) getpid())
        (void) snprintf(holder, sizeof holder, " (pid %ld: this process)", pid);
    else if (pid > 0)
        (void) snprintf(holder, sizeof holder, " (pid %ld)", pid);
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
static int
fifo_idle_hold(struct fifo *f)
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

/* Let the write end of fifo_idle_hold() go: every receive starts with the
 * FIFO's own state (the end of the stream, if no writer came meanwhile). */
static void
fifo_idle_release(struct fifo *f)
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
    long stream = 0;
    ipckit_backoff wait = IPCKIT_BACKOFF_INIT(0, 1000, 50000);
    int rc, fl, dfd;

    f->fd = -1;
    f->idle_fd = -1;
    f->bfd = -1;
    f->waker = -1;
    rc = ipckit_name_check_params(name, fifo_params);
    if (rc < 0)
        return rc;
    rc = ipckit_name_param_long(name, "stream", 0, 1, 0, &stream);
    if (rc < 0)
        return rc;
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
    if (opts->capacity > 0 && fcntl(f->fd, F_SETPIPE_SZ, (int) (opts->capacity > INT_MAX
                                                                  ? INT_MAX
                                                                  : opts->capacity)) < 0) {
        int e = errno;
        rc = ipckit_backend_fail(-e, "fifo: set capacity of \"%s\" to %zu bytes: %s",
                                  path, opts->capacity, strerror(e));
        goto fail;
    }
    if (!f->reader)
        f->bfd = fifo_blocking_end(f);
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
    fifo_idle_release(f);
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
    *max_msg = f->stream ? (size_t) SSIZE_MAX : f->max_msg;
}

/* ---- sending ------------------------------------------------------------- */

/* Wait until the pipe has room, the reader is gone or the deadline passes. */
static int
fifo_wait_writable(struct fifo *f, const struct timespec *deadline)
{
    short rev = 0;
    int rc = ipckit_deadline_poll_wake(f->fd, POLLOUT, f->waker, deadline, &rev);
    if (rc == 0 && (rev & POLLERR))
        return -EPIPE;
    return rc;
}

/*
 * Write at most PIPE_BUF bytes atomically: all of it, or nothing and a wait.
 * With @p partial_ok (stream mode), a larger buffer is written in pieces and
 * *done tells how far it got.
 */
static int
fifo_writev(struct fifo *f, struct iovec *iov, int iovcnt, size_t total, size_t *done,
            const struct timespec *deadline)
{
    /* a send without a deadline writes on the blocking end */
    int fd = deadline == NULL && f->waker < 0 && f->bfd >= 0 ? f->bfd : f->fd;
    *done = 0;
    while (*done < total) {
        ssize_t w = iovcnt == 1 ? write(fd, iov->iov_base, iov->iov_len)
                                : writev(fd, iov, iovcnt);
        if (w > 0) {
            size_t left = (size_t) w;
            *done += left;
            while (iovcnt > 0 && left >= iov->iov_len) {
                left -= iov->iov_len;
                iov++;
                iovcnt--;
            }
            if (iovcnt > 0) {
                iov->iov_base = (char *) iov->iov_base + left;
                iov->iov_len -= left;
            }
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno != EAGAIN)
            return -errno;
        int rc = fifo_wait_writable(f, deadline);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int
fifo_lock(struct fifo *f, const struct timespec *deadline)
{
    ipckit_backoff wait = IPCKIT_BACKOFF_INIT(0, 1000, 10000);
    if (deadline == NULL && f->waker < 0) {
        while (flock(f->fd, LOCK_EX) < 0)
            if (errno != EINTR)
                return -errno;
        return 0;
    }
    while (flock(f->fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK)
            return -errno;
        int rc = ipckit_backoff_wait(&wait, deadline, f->waker);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/*
 * The pid of a process that holds a flock() lock on this FIFO, from
 * /proc/locks (matched by device and inode), or 0 if none is found there.
 * Read only when a large send has given up waiting for the lock.
 */
static long
fifo_lock_holder(const struct fifo *f)
{
    char line[256];
    long pid = 0;
    FILE *fp = fopen("/proc/locks", "re");
    if (fp == NULL)
        return 0;
    while (pid == 0 && fgets(line, sizeof line, fp) != NULL) {
        /* "1: FLOCK  ADVISORY  WRITE 1234 fe:00:5678 0 EOF"; waiters
         * ("1: -> FLOCK ...") do not match */
        unsigned maj, min;
        unsigned long long ino;
        long p;
        if (sscanf(line, "%*d: FLOCK %*s %*s %ld %x:%x:%llu", &p, &maj, &min, &ino) == 4 &&
            p > 0 && maj == major(f->dev) && min == minor(f->dev) &&
            ino == (unsigned long long) f->ino)
            pid = p;
    }
    (void) fclose(fp);
    return pid;
}

/* A large send could not take the large-message lock in time: say so. */
static int
fifo_lock_busy(struct fifo *f, int rc)
{
    char holder[32] = "";
    long pid;
    if (rc != -ETIMEDOUT && rc != -EAGAIN)
        return rc;
    pid = fifo_lock_holder(f);
    if (pid > 0)
        (void) snprintf(holder, sizeof holder, " (pid %ld)", pid);
    return ipckit_backend_fail(rc,
                                "send: %s: another writer%s holds the large-message lock of"
                                " \"%s\"; nothing was sent",
                                rc == -EAGAIN ? "would block" : "timed out", holder, f->path);
}

static int
fifo_send_frames(struct fifo *f, long type, const unsigned char *buf, size_t len,
                 const struct timespec *deadline)
{
    struct fifo_hdr h = { FIFO_MAGIC, FIFO_VERSION, FIFO_FIRST | FIFO_LAST, (uint32_t) len,
                          (int64_t) type };
    struct iovec iov[3];
    uint64_t total = len;
    size_t done, off, n;
    int rc;

    if (f->stream) {
        iov[0].iov_base = (void *) (uintptr_t) buf;
        iov[0].iov_len = len;
        rc = fifo_writev(f, iov, 1, len, &done, deadline);
        if (rc < 0 && done > 0)
            return ipckit_backend_fail(rc, "send: %s after %zu of %zu bytes",
                                        ipckit_strerror(rc), done, len);
        return rc;
    }
    if (FIFO_HDR + len <= FIFO_FRAME_MAX) {
        /* One frame, one write(): copying at most 4 KiB costs less than
         * writev()'s second segment (measured in docs/performance.md). */
        unsigned char frame[FIFO_FRAME_MAX];
        memcpy(frame, &h, FIFO_HDR);
        if (len > 0)
            memcpy(frame + FIFO_HDR, buf, len);
        iov[0].iov_base = frame;
        iov[0].iov_len = FIFO_HDR + len;
        return fifo_writev(f, iov, 1, FIFO_HDR + len, &done, deadline);
    }

    rc = fifo_lock(f, deadline);
    if (rc < 0)
        return fifo_lock_busy(f, rc);
    rc = 0;
    for (off = 0, n = 0; off < len; off += n) {
        int k = 0;
        bool first = off == 0;
        size_t room = FIFO_CHUNK - (first ? sizeof total : 0);
        n = len - off < room ? len - off : room;
        h.flags = (uint8_t) ((first ? FIFO_FIRST : 0) | (off + n == len ? FIFO_LAST : 0));
        h.len = (uint32_t) (n + (first ? sizeof total : 0));
        iov[k].iov_base = &h;
        iov[k++].iov_len = FIFO_HDR;
        if (first) {
            iov[k].iov_base = &total;
            iov[k++].iov_len = sizeof total;
        }
        iov[k].iov_base = (void *) (uintptr_t) (buf + off);
        iov[k++].iov_len = n;
        rc = fifo_writev(f, iov, k, FIFO_HDR + h.len, &done, deadline);
        if (rc < 0)
            break;
    }
    (void) flock(f->fd, LOCK_UN);
    if (rc < 0 && off > 0)
        return ipckit_backend_fail(rc,
                                    "send: %s after %zu of %zu bytes; the receiver discards"
                                    " the partial message",
                                    ipckit_strerror(rc), off, len);
    return rc;
}

static int
fifo_send(void *state, long type, const void *buf, size_t len, const struct timespec *deadline)
{
    struct fifo *f = state;
    sigset_t pipe_set, old;
    int rc;

    /* A write to a FIFO without a reader raises SIGPIPE. Block it in this
     * thread for the write, and consume the one we caused, so the caller gets
     * -EPIPE and no handler or disposition of the process is touched.
     * A process that ignores SIGPIPE (as most servers do) gets -EPIPE from
     * the write anyway: then the two rt_sigprocmask calls, the largest cost
     * of a small send, are skipped. The disposition is read at open. */
    if (f->sigpipe_ignored) {
        rc = fifo_send_frames(f, type, buf, len, deadline);
        if (rc == -EPIPE)
            return ipckit_backend_fail(-EPIPE, "send: no reader has \"%s\" open",
                                        f->path);
        return rc;
    }
    (void) sigemptyset(&pipe_set);
    (void) sigaddset(&pipe_set, SIGPIPE);
    (void) pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    rc = fifo_send_frames(f, type, buf, len, deadline);
    if (rc == -EPIPE && !sigismember(&old, SIGPIPE)) {
        static const struct timespec zero = { 0, 0 };
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    (void) pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == -EPIPE)
        return ipckit_backend_fail(-EPIPE, "send: no reader has \"%s\" open", f->path);
    return rc;
}

/* ---- receiving ----------------------------------------------------------- */

/*
 * Read what is available into dst (blocking read, or poll then read for a
 * deadline). Returns bytes read (> 0), -EPIPE when no writer is left, or
 * another negative errno. The only place where a receive waits.
 */
static ssize_t
fifo_read_some(struct fifo *f, void *dst, size_t cap, const struct timespec *deadline)
{
    struct pollfd p = { .fd = f->fd, .events = POLLIN };
    for (;;) {
        ssize_t n;
        if (deadline != NULL || f->waker >= 0) {
            int rc = ipckit_deadline_poll_wake(f->fd, POLLIN, f->waker, deadline, NULL);
            if (rc < 0)
                return rc;
        }
        n = read(f->fd, dst, cap);
        if (n > 0)
            return n;
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return -errno;
        }
        /* read() says 0 whenever no writer has the FIFO open. poll() tells a
         * writer that came and went (POLLHUP) from none having come yet. */
        p.revents = 0;
        while (poll(&p, 1, 0) < 0 && errno == EINTR)
            ;
        if ((p.revents & POLLHUP) && !(p.revents & POLLIN))
            return -EPIPE;
        if (deadline == NULL && f->waker < 0) {
            while (poll(&p, 1, -1) < 0 && errno == EINTR)
                ;
        }
    }
}

/*
 * Do these bytes look like text (printable ASCII, tab, line ends, or bytes
 * of UTF-8 sequences)? An ipckit frame header never does: its version byte
 * is 1 and its length has zero bytes.
 */
static bool
fifo_looks_like_text(const unsigned char *p, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (!((c >= 0x20 && c < 0x7f) || c == '\t' || c == '\n' || c == '\r' || c >= 0x80))
            return false;
    }
    return true;
}

static const char fifo_text_hint[] =
    "; the bytes look like text: a receiver opened with ?stream=1 takes plain bytes (echo,"
    " PHP's fwrite)";

/* A header that is no frame header: the stream has lost its framing. */
static ssize_t
fifo_corrupt(struct fifo *f, const char *what, const struct fifo_hdr *h)
{
    f->broken = true;
    if (fifo_looks_like_text((const unsigned char *) h, FIFO_HDR))
        return ipckit_backend_fail(-EPROTO,
                                    "recv: \"%s\" lost its framing: %s%s; the channel must be"
                                    " reopened",
                                    f->path, what, fifo_text_hint);
    return ipckit_backend_fail(-EPROTO,
                                "recv: \"%s\" lost its framing: %s (magic %#x, version %u,"
                                " flags %#x, length %u, type %lld); the channel must be"
                                " reopened",
                                f->path, what, h->magic, h->version, h->flags, h->len,
                                (long long) h->type);
}

/* Drop the large message being assembled. */
static void
fifo_drop_partial(struct fifo *f)
{
    f->aactive = f->aready = false;
    f->alen = f->atotal = 0;
}

/*
 * A message of well-formed frames that cannot be delivered: it is dropped,
 * and the rest of its frames (unless this was its @p last) are skipped
 * without a second report. The channel goes on: -EBADMSG once.
 */
static ssize_t fifo_discard(struct fifo *f, bool last, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static ssize_t
fifo_discard(struct fifo *f, bool last, const char *fmt, ...)
{
    char why[160];
    va_list ap;
    fifo_drop_partial(f);
    f->askip = !last;
    f->orphan = false;
    va_start(ap, fmt);
    (void) vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return ipckit_backend_fail(-EBADMSG, "recv: a message on \"%s\" was discarded: %s", f->path,
                                why);
}

/* Make room for @p need unparsed bytes starting at head. */
static int
fifo_make_room(struct fifo *f, size_t need)
{
    if (f->rcap - f->head >= need && f->tail < f->rcap)
        return 0;
    if (f->head > 0) {
        memmove(f->rbuf, f->rbuf + f->head, f->tail - f->head);
        f->tail -= f->head;
        f->head = 0;
    }
    if (f->rcap < need) {
        unsigned char *nb = realloc(f->rbuf, need);
        if (nb == NULL)
            return -ENOMEM;
        f->rbuf = nb;
        f->rcap = need;
    }
    return 0;
}

/* Take one frame of a large message; returns 0 or a negative errno. */
static ssize_t
fifo_take_chunk(struct fifo *f, const struct fifo_hdr *h, const unsigned char *p)
{
    size_t n = h->len;
    bool last = (h->flags & FIFO_LAST) != 0;
    if (h->flags & FIFO_FIRST) {
        uint64_t total;
        if (f->aactive) {
            /* The one large message in flight (writers take turns under the
             * flock) never ended: its writer died or timed out after its
             * first frames. This frame starts the next one. */
            size_t got = f->alen, want = f->atotal;
            ssize_t next;
            fifo_drop_partial(f);
            next = fifo_take_chunk(f, h, p);
            if (next == -ENOMEM)
                return -ENOMEM;
            return ipckit_backend_fail(-EBADMSG,
                                        "recv: a message on \"%s\" was cut off after %zu of its"
                                        " %zu bytes (its writer was killed or timed out, or"
                                        " another process read part of it); discarded%s",
                                        f->path, got, want,
                                        next < 0 ? ", and so was the next one" : "");
        }
        f->askip = f->orphan = false;
        if (n < sizeof total)
            return fifo_discard(f, last,
                                "its first frame (%zu bytes) is too short to hold its"
                                " length",
                                n);
        memcpy(&total, p, sizeof total);
        if (total > f->max_msg)
            return fifo_discard(f, last,
                                "its length, %llu bytes, is over this channel's"
                                " max_msg_size of %zu",
                                (unsigned long long) total, f->max_msg);
        if (total <= FIFO_CHUNK - sizeof total)
            return fifo_discard(f, last,
                                "its length, %llu bytes, fits one frame, yet it came"
                                " in several",
                                (unsigned long long) total);
        if (f->acap < total) {
            unsigned char *nb = realloc(f->abuf, (size_t) total);
            if (nb == NULL)
                return -ENOMEM;
            f->abuf = nb;
            f->acap = (size_t) total;
        }
        f->aactive = true;
        f->atotal = (size_t) total;
        f->alen = 0;
        f->atype = h->type;
        p += sizeof total;
        n -= sizeof total;
    } else if (!f->aactive) {
        /* A frame of a message this channel is not assembling: one it has
         * discarded already (skipped quietly), or one whose start it never
         * got (it began before this channel was opened): reported once. */
        bool report = !f->askip && !f->orphan;
        if (last)
            f->askip = f->orphan = false;
        else if (report)
            f->orphan = true;
        if (report)
            return ipckit_backend_fail(-EBADMSG,
                                        "recv: frames of a message on \"%s\" whose start this"
                                        " channel never received (it began before the channel"
                                        " was opened) were discarded",
                                        f->path);
        return 0;
    } else if (h->type != f->atype) {
        return fifo_discard(f, last, "a frame of type %lld came among its frames of type %lld",
                            (long long) h->type, (long long) f->atype);
    }
    if (n > f->atotal - f->alen)
        return fifo_discard(f, last, "its frames hold more than its length of %zu bytes",
                            f->atotal);
    memcpy(f->abuf + f->alen, p, n);
    f->alen += n;
    if (last) {
        if (f->alen != f->atotal)
            return fifo_discard(f, true, "it ended after %zu of its %zu bytes", f->alen, f->atotal);
        f->aready = true;
    }
    return 0;
}

static ssize_t
fifo_recv_stream(struct fifo *f, long *type, void *buf, size_t cap,
                 const struct timespec *deadline)
{
    ssize_t n;
    if (cap == 0)
        return ipckit_backend_fail(-EINVAL, "recv: stream mode needs a buffer of at least 1"
                                                " byte");
    n = fifo_read_some(f, buf, cap, deadline);
    if (n > 0)
        *type = 1;
    return n;
}

/* Check a frame header before any of its fields is used. */
static ssize_t
fifo_check_header(struct fifo *f, const struct fifo_hdr *h)
{
    if (h->magic != FIFO_MAGIC)
        return fifo_corrupt(f, "bad magic", h);
    if (h->version != FIFO_VERSION)
        return fifo_corrupt(f, "unknown frame version", h);
    if (h->type <= 0 || h->type > LONG_MAX)
        return fifo_corrupt(f, "type not positive", h);
    if ((h->flags & ~(FIFO_FIRST | FIFO_LAST)) || h->len > FIFO_CHUNK)
        return fifo_corrupt(f, "bad flags or frame length", h);
    return 0;
}

static ssize_t
fifo_recv_frames(struct fifo *f, long *type, void *buf, size_t cap, const struct timespec *deadline)
{
    if (f->broken)
        return ipckit_backend_fail(-EPROTO,
                                    "recv: \"%s\" lost its framing after a corrupt frame;"
                                    " reopen the channel",
                                    f->path);
    for (;;) {
        size_t avail = f->tail - f->head;
        size_t need = FIFO_HDR;
        ssize_t n;

        if (f->aready) {
            if (f->alen > cap)
                return ipckit_backend_fail(-EMSGSIZE,
                                            "recv: message of %zu bytes does not fit a buffer"
                                            " of %zu bytes; it stays queued",
                                            f->alen, cap);
            memcpy(buf, f->abuf, f->alen);
            *type = (long) f->atype;
            f->aready = f->aactive = false;
            return (ssize_t) f->alen;
        }
        if (avail >= FIFO_HDR) {
            struct fifo_hdr h;
            const unsigned char *p = f->rbuf + f->head;
            bool single;
            memcpy(&h, p, FIFO_HDR);
            n = fifo_check_header(f, &h);
            if (n < 0)
                return n;
            single = h.flags == (FIFO_FIRST | FIFO_LAST);
            if (single && h.len <= f->max_msg && h.len > cap)
                return ipckit_backend_fail(-EMSGSIZE,
                                            "recv: message of %u bytes does not fit a buffer"
                                            " of %zu bytes; it stays queued",
                                            h.len, cap);
            need = FIFO_HDR + h.len;
            if (avail >= need) {
                f->head += need;
                if (f->head == f->tail)
                    f->head = f->tail = 0;
                if (single && h.len > f->max_msg) {
                    /* not fifo_discard(): a small message between the
                     * frames of a large one leaves the large one alone */
                    return ipckit_backend_fail(-EBADMSG,
                                                "recv: a message on \"%s\" was discarded: its"
                                                " length, %u bytes, is over this channel's"
                                                " max_msg_size of %zu",
                                                f->path, h.len, f->max_msg);
                }
                if (single) {
                    if (h.len > 0) /* an empty message may come with no buffer */
                        memcpy(buf, p + FIFO_HDR, h.len);
                    *type = (long) h.type;
                    return (ssize_t) h.len;
                }
                n = fifo_take_chunk(f, &h, p + FIFO_HDR);
                if (n < 0)
                    return n;
                continue;
            }
        }
        if (fifo_make_room(f, need) < 0)
            return -ENOMEM;
        n = fifo_read_some(f, f->rbuf + f->tail, f->rcap - f->tail, deadline);
        if (n > 0) {
            f->tail += (size_t) n;
            continue;
        }
        if (n == -EPIPE) {
            /* every writer has gone: the next one starts a fresh stream */
            f->askip = f->orphan = false;
        }
        if (n == -EPIPE && (avail > 0 || f->aactive)) {
            size_t lost = avail + f->alen;
            bool text = !f->aactive && fifo_looks_like_text(f->rbuf + f->head, avail);
            f->head = f->tail = 0;
            fifo_drop_partial(f);
            return ipckit_backend_fail(-EBADMSG,
                                        "recv: the last writer of \"%s\" closed in the middle"
                                        " of a message; %zu bytes discarded%s",
                                        f->path, lost, text ? fifo_text_hint : "");
        }
        return n;
    }
}

/* A receive found no writer and nothing queued: the end of the stream. */
static ssize_t
fifo_end_of_stream(struct fifo *f)
{
    int e = fifo_idle_hold(f);
    if (e == 0)
        return ipckit_backend_fail(-EPIPE, "recv: no writer has \"%s\" open", f->path);
    return ipckit_backend_fail(-EPIPE,
                                "recv: no writer has \"%s\" open; its descriptor reports"
                                " POLLHUP until one comes (no write end of its own: %s)",
                                f->path, strerror(e));
}

static ssize_t
fifo_recv(void *state, long selector, long *type, void *buf, size_t cap,
          const struct timespec *deadline)
{
    struct fifo *f = state;
    ssize_t n;
    (void) selector;
    fifo_idle_release(f);
    if (f->stream)
        n = fifo_recv_stream(f, type, buf, cap, deadline);
    else
        n = fifo_recv_frames(f, type, buf, cap, deadline);
    if (n == -EPIPE)
        n = fifo_end_of_stream(f);
    return n;
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
    .send = fifo_send,
    .recv = fifo_recv,
    .fd = fifo_fd,
    .stat = fifo_stat,
    .info = fifo_info,
    .interrupt = fifo_interrupt,
    .list = ipckit__fifo_list,
    .describe = ipckit__fifo_describe,
    .remove_stale = ipckit__fifo_remove_stale,
    .identify = fifo_identify,
};
