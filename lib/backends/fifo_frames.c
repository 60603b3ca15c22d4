/*
 * ipckit backend "fifo:": what goes through the FIFO, the frames, and how
 * they are sent and received. Finding and opening the FIFO, its one
 * receiver and the idle write end are fifo.c.
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
 * A writer with ?claim=1 is the FIFO's only writer (fifo.c). Its large
 * messages sent without a deadline are one whole frame each, in one
 * writev(): the header (flags WHOLE, the whole length), the writer's 64-bit
 * random token, the payload, the token again. Nobody's frame can land in
 * it; a claimed writer killed in the middle of one leaves a part that the
 * end of the stream shows, or, when another writer sent after it, a
 * trailer that is not the header's token: the message is never delivered
 * (-EPROTO). Sends with a deadline use frames, since a send that gave up
 * in the middle of a whole frame would leave the stream without a boundary.
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
 * Stream mode (?stream=1 or IPCKIT_OPT_STREAM) writes and reads plain bytes,
 * for peers that do not speak ipckit (cat, PHP's fwrite/fread).
 */
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
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../core/internal.h"
#include "fifo.h"

#define FIFO_MAGIC 0x4b49u /* "IK" in little-endian memory */
#define FIFO_VERSION 1u
#define FIFO_FIRST 1u
#define FIFO_LAST 2u
#define FIFO_HDR 16u
#define FIFO_WHOLE 4u
#define FIFO_FRAME_MAX ((size_t) PIPE_BUF)
#define FIFO_CHUNK (FIFO_FRAME_MAX - FIFO_HDR)
/* A whole frame: the header, the writer's token, the payload, the token again. */
#define FIFO_TOKEN 8u
#define FIFO_WHOLE_HDR (FIFO_HDR + FIFO_TOKEN)
#define FIFO_WHOLE_EXTRA (FIFO_WHOLE_HDR + FIFO_TOKEN)
/* A blocking receive reads the payload of a whole frame of at least this
 * many bytes straight into the caller's buffer. */
#define FIFO_DIRECT_MIN 16384u
/* ... and then reads at most this much at a time into its own buffer, until
 * another kind of message comes: a trailer and the next whole header. */
#define FIFO_PEEK (FIFO_TOKEN + FIFO_WHOLE_HDR)
/* After a message of at most this many bytes in the pipe, a read asks for
 * one more like it. */
#define FIFO_ONE_READ 2048u
/* Messages of 2-16 KiB in one frame: a full read that brings at most this
 * many of them (and fills less than half of what it asked for) found the
 * pipe nearly empty; after FIFO_SMALL_READS such reads in a row the reader
 * reads one message at a time, and tries a full read again after
 * FIFO_PROBE_EVERY of those (fifo_read_size()). */
#define FIFO_SMALL_MSGS 3u
#define FIFO_SMALL_READS 16u
#define FIFO_PROBE_EVERY 64u
/* A claimed writer grows the pipe to hold four of its whole frames, up to
 * this size. */
#define FIFO_GROW_MAX ((size_t) 256 * 1024)

struct fifo_hdr {
    uint16_t magic;
    uint8_t version;
    uint8_t flags;
    uint32_t len;  /* payload bytes in this frame */
    int64_t type;
};

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

/*
 * Before a whole frame of @p bytes: grow the pipe to hold four such frames,
 * up to FIFO_GROW_MAX, unless the caller chose its size. With room for one
 * 64 KiB message and no more, the writer and the reader take turns twice
 * per message; with 256 KiB, 64 KiB messages ran at 0.91-0.95 of a raw FIFO
 * on one CPU instead of 0.82-0.85, and at 2.9-3.1x across two CPUs
 * (docs/performance.md). Pipe pages are taken only as they are filled;
 * the size counts against the user's pipe-user-pages-soft while the FIFO
 * is open, which is why it stops at 256 KiB. A refusal (EPERM over
 * fs.pipe-max-size or the user's limit) leaves the size as it was, for good.
 */
static void
fifo_grow(struct fifo *f, size_t bytes)
{
    size_t want = f->pipe_size;
    int got;
    while (want < FIFO_GROW_MAX && want < 4 * bytes)
        want *= 2;
    if (want > FIFO_GROW_MAX)
        want = FIFO_GROW_MAX;
    if (want <= f->pipe_size)
        return;
    got = fcntl(f->fd, F_SETPIPE_SZ, (int) want);
    if (got > 0)
        f->pipe_size = (size_t) got;
    else
        f->pipe_fixed = true;
}

static int
fifo_send_frames(struct fifo *f, long type, const unsigned char *buf, size_t len,
                 const struct timespec *deadline)
{
    struct fifo_hdr h = { FIFO_MAGIC, FIFO_VERSION, FIFO_FIRST | FIFO_LAST, (uint32_t) len,
                          (int64_t) type };
    struct iovec iov[4];
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

    if (f->claim && deadline == NULL && f->waker < 0 && len <= UINT32_MAX) {
        /* The FIFO's one writer, and a send that waits as long as it takes:
         * one whole frame in one write. No other writer can come between
         * its bytes; if this one is killed in the middle, the receiver
         * sees the end of the stream, or, if another writer came first,
         * a trailer that is not this token (-EPROTO). */
        if (!f->pipe_fixed && f->pipe_size < FIFO_GROW_MAX &&
            f->pipe_size < 4 * (FIFO_WHOLE_EXTRA + len))
            fifo_grow(f, FIFO_WHOLE_EXTRA + len);
        h.flags = FIFO_WHOLE;
        iov[0].iov_base = &h;
        iov[0].iov_len = FIFO_HDR;
        iov[1].iov_base = &f->token;
        iov[1].iov_len = FIFO_TOKEN;
        iov[2].iov_base = (void *) (uintptr_t) buf;
        iov[2].iov_len = len;
        iov[3].iov_base = &f->token;
        iov[3].iov_len = FIFO_TOKEN;
        rc = fifo_writev(f, iov, 4, FIFO_WHOLE_EXTRA + len, &done, deadline);
        if (rc < 0 && done > 0)
            return ipckit_backend_fail(rc,
                                        "send: %s after %zu of %zu bytes; the receiver discards"
                                        " the partial message",
                                        ipckit_strerror(rc), done, FIFO_WHOLE_EXTRA + len);
        return rc;
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

int
ipckit__fifo_send(void *state, long type, const void *buf, size_t len,
                  const struct timespec *deadline)
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
fifo_readv_some(struct fifo *f, const struct iovec *iov, int iovcnt,
                const struct timespec *deadline)
{
    struct pollfd p = { .fd = f->fd, .events = POLLIN };
    for (;;) {
        ssize_t n;
        if (deadline != NULL || f->waker >= 0) {
            int rc = ipckit_deadline_poll_wake(f->fd, POLLIN, f->waker, deadline, NULL);
            if (rc < 0)
                return rc;
        }
        n = iovcnt == 1 ? read(f->fd, iov->iov_base, iov->iov_len) : readv(f->fd, iov, iovcnt);
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

static ssize_t
fifo_read_some(struct fifo *f, void *dst, size_t cap, const struct timespec *deadline)
{
    struct iovec iov = { dst, cap };
    return fifo_readv_some(f, &iov, 1, deadline);
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
    if (h->flags == FIFO_WHOLE)
        return 0; /* any length: checked against the channel's limit */
    if ((h->flags & ~(FIFO_FIRST | FIFO_LAST)) || h->len > FIFO_CHUNK)
        return fifo_corrupt(f, "bad flags or frame length", h);
    return 0;
}

/* The bytes a message of @p len bytes takes in the pipe as a run of frames
 * (its first frame holds the 64-bit total). */
static size_t
fifo_framed_size(size_t len)
{
    size_t frames = (len + sizeof(uint64_t) + FIFO_CHUNK - 1) / FIFO_CHUNK;
    return len + sizeof(uint64_t) + frames * FIFO_HDR;
}

/* A whole frame did not end with its writer's token. */
static ssize_t
fifo_torn(struct fifo *f)
{
    f->broken = true;
    f->head = f->tail = 0;
    return ipckit_backend_fail(-EPROTO,
                                "recv: a message on \"%s\" did not end where its header said"
                                " (its writer was killed in the middle of it and another"
                                " writer's bytes came next); it was discarded and the channel"
                                " must be reopened",
                                f->path);
}

/* A whole frame read into the caller's buffer ended early: @p rc from
 * fifo_readv_some() after @p got of its @p len bytes. At the end of the
 * stream that message is lost and the next writer starts afresh; after any
 * other error this receiver no longer knows where the next frame begins. */
static ssize_t
fifo_whole_cut(struct fifo *f, ssize_t rc, size_t got, size_t len)
{
    f->head = f->tail = 0;
    f->big = false;
    if (rc != -EPIPE) {
        f->broken = true;
        return rc;
    }
    f->askip = f->orphan = false;
    fifo_drop_partial(f);
    return ipckit_backend_fail(-EBADMSG,
                                "recv: the last writer of \"%s\" closed in the middle of a"
                                " message; %zu of its %zu bytes discarded",
                                f->path, got, len);
}

/*
 * A whole frame (a claimed writer's large message) whose header is at
 * head. Returns the message's length, a negative errno, or 0 with *need
 * set: the bytes at head needed before it can be taken.
 *
 * The frame is taken from the read buffer when it is all there (or the
 * receive has a deadline or can be interrupted: then the buffer grows to
 * hold it, up to the channel's limit). A blocking receive of a large one
 * copies what it has, reads the rest straight into the caller's buffer,
 * then reads the trailer; the message is delivered only if the trailer is
 * the token of its header. Everything is checked before it is used: the
 * length against the channel's limit (over it: the frame is skipped,
 * -EBADMSG) and the caller's buffer (-EMSGSIZE, and nothing is consumed).
 */
static ssize_t
fifo_whole(struct fifo *f, const struct fifo_hdr *h, long *type, void *buf, size_t cap,
           const struct timespec *deadline, size_t *need)
{
    size_t avail = f->tail - f->head, len = h->len, got;
    const unsigned char *p = f->rbuf + f->head;
    uint64_t token, end;

    *need = 0;
    if (len > f->max_msg) {
        uint64_t total = FIFO_WHOLE_EXTRA + (uint64_t) len;
        size_t drop = avail < total ? avail : (size_t) total;
        f->head += drop;
        if (f->head == f->tail)
            f->head = f->tail = 0;
        f->skip = total - drop;
        f->big = false;
        return ipckit_backend_fail(-EBADMSG,
                                    "recv: a message on \"%s\" was discarded: its length, %zu"
                                    " bytes, is over this channel's max_msg_size of %zu",
                                    f->path, len, f->max_msg);
    }
    if (len > cap)
        return ipckit_backend_fail(-EMSGSIZE,
                                    "recv: message of %zu bytes does not fit a buffer of %zu"
                                    " bytes; it stays queued",
                                    len, cap);
    if (avail < FIFO_WHOLE_HDR) {
        *need = FIFO_WHOLE_HDR;
        return 0;
    }
    memcpy(&token, p + FIFO_HDR, FIFO_TOKEN);
    if (avail >= FIFO_WHOLE_EXTRA + len) {
        memcpy(&end, p + FIFO_WHOLE_HDR + len, FIFO_TOKEN);
        if (end != token)
            return fifo_torn(f);
        if (len > 0)
            memcpy(buf, p + FIFO_WHOLE_HDR, len);
        f->head += FIFO_WHOLE_EXTRA + len;
        if (f->head == f->tail)
            f->head = f->tail = 0;
        f->big = false;
        f->rsize = FIFO_WHOLE_EXTRA + len;
        f->rframes = false;
        *type = (long) h->type;
        return (ssize_t) len;
    }
    if (deadline != NULL || f->waker >= 0 || len < FIFO_DIRECT_MIN) {
        *need = FIFO_WHOLE_EXTRA + len;
        return 0;
    }
    /* what the read buffer has of the payload goes to the caller's buffer,
     * what it has of the trailer (the payload may be all there) to the
     * start of the read buffer */
    got = avail - FIFO_WHOLE_HDR < len ? avail - FIFO_WHOLE_HDR : len;
    memcpy(buf, p + FIFO_WHOLE_HDR, got);
    f->tail = avail - FIFO_WHOLE_HDR - got;
    memmove(f->rbuf, p + FIFO_WHOLE_HDR + got, f->tail);
    f->head = 0;
    /* the rest of the payload, then the trailer and what may follow it (the
     * next header) into the read buffer, in as few reads as the pipe allows */
    while (got < len || f->tail < FIFO_TOKEN) {
        struct iovec iov[2];
        int k = 0;
        ssize_t n;
        if (got < len) {
            iov[k].iov_base = (unsigned char *) buf + got;
            iov[k++].iov_len = len - got;
        }
        iov[k].iov_base = f->rbuf + f->tail;
        iov[k++].iov_len = FIFO_PEEK - f->tail;
        n = fifo_readv_some(f, iov, k, NULL);
        if (n < 0)
            return fifo_whole_cut(f, n, got, len);
        if (got < len) {
            size_t pay = len - got < (size_t) n ? len - got : (size_t) n;
            got += pay;
            n -= (ssize_t) pay;
        }
        f->tail += (size_t) n;
    }
    memcpy(&end, f->rbuf, FIFO_TOKEN);
    if (end != token)
        return fifo_torn(f);
    f->head = FIFO_TOKEN;
    if (f->head == f->tail)
        f->head = f->tail = 0;
    f->big = true;
    *type = (long) h->type;
    return (ssize_t) len;
}

/*
 * After a full read (as far as the buffer goes) that came after a message
 * of 2-16 KiB in one frame (a single frame above FIFO_ONE_READ, or a
 * claimed writer's whole frame below FIFO_DIRECT_MIN): choose how the next
 * ones are read. On one CPU the writer fills the pipe while the reader
 * waits, and a full read takes several messages in one system call; one
 * read a message made 3000 bytes 0.6 times as fast there, and whole frames
 * of 4-12 KiB 0.7-0.8. With the writer on another CPU a full read finds
 * one or two messages (and holds the pipe's lock while it copies them,
 * which the writer waits for); one read a message made 4-12 KiB whole
 * frames 1.1-1.2 times as fast there. The reader cannot see where the
 * writer runs, so it goes by what its full reads find: one message at a
 * time after FIFO_SMALL_READS full reads in a row that found little, and
 * a full read again every FIFO_PROBE_EVERY messages, to see whether the
 * pipe now holds much. A full read that brought part of one message says
 * nothing (on one CPU too, a writer that found the pipe full leaves one).
 */
static void
fifo_read_size(struct fifo *f, size_t got, size_t asked)
{
    bool little = got < asked / 2;
    if (little && got < f->rsize)
        return; /* part of one message: a writer that found the pipe full, on any CPU */
    if (f->rone) {
        /* the probe: a pipe that held much is read fully again */
        if (little) {
            f->rprobe = FIFO_PROBE_EVERY;
        } else {
            f->rone = false;
            f->rsmall = 0;
        }
    } else if (!little || got > FIFO_SMALL_MSGS * f->rsize) {
        f->rsmall = 0;
    } else if (++f->rsmall >= FIFO_SMALL_READS) {
        f->rone = true;
        f->rprobe = FIFO_PROBE_EVERY;
    }
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
        size_t need = FIFO_HDR, want;
        bool adapt, one;
        ssize_t n;

        if (f->skip > 0) {
            /* the rest of a whole frame already reported as discarded */
            size_t drop = avail < f->skip ? avail : (size_t) f->skip;
            f->head += drop;
            f->skip -= drop;
            if (f->head == f->tail)
                f->head = f->tail = 0;
            avail -= drop;
            if (f->skip > 0)
                need = 1;
        }
        if (f->aready) {
            f->big = false;
            if (f->alen > cap)
                return ipckit_backend_fail(-EMSGSIZE,
                                            "recv: message of %zu bytes does not fit a buffer"
                                            " of %zu bytes; it stays queued",
                                            f->alen, cap);
            memcpy(buf, f->abuf, f->alen);
            *type = (long) f->atype;
            f->rsize = fifo_framed_size(f->alen);
            f->rframes = true;
            f->aready = f->aactive = false;
            return (ssize_t) f->alen;
        }
        if (f->skip == 0 && avail >= FIFO_HDR) {
            struct fifo_hdr h;
            const unsigned char *p = f->rbuf + f->head;
            bool single;
            memcpy(&h, p, FIFO_HDR);
            n = fifo_check_header(f, &h);
            if (n < 0)
                return n;
            if (h.flags == FIFO_WHOLE) {
                n = fifo_whole(f, &h, type, buf, cap, deadline, &need);
                if (n != 0 || need == 0)
                    return n;
                goto more;
            }
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
                    f->big = false;
                    f->rsize = FIFO_HDR + h.len;
                    f->rframes = false;
                    return (ssize_t) h.len;
                }
                n = fifo_take_chunk(f, &h, p + FIFO_HDR);
                if (n < 0)
                    return n;
                continue;
            }
        }
    more:
        avail = f->tail - f->head;
        if (fifo_make_room(f, need) < 0)
            return -ENOMEM;
        want = f->rcap - f->tail;
        adapt = !f->big && !f->rframes && f->rsize > FIFO_ONE_READ &&
                f->rsize < FIFO_DIRECT_MIN;
        one = adapt && f->rone && f->rprobe > 0;
        if (need > avail &&
            (f->big || (f->rsize > 0 && f->rsize <= FIFO_ONE_READ) || f->rframes || one)) {
            /* After small messages, read one message like the last one: a
             * raw reader's one read per message. A reader that empties the
             * pipe at every read sleeps on it, and then the writer has to
             * wake it for every message (on two CPUs, 0.68-0.77 of a raw
             * FIFO at 64 bytes against 0.83-0.85; on one CPU alike). The
             * same after a message of several frames: its writer writes
             * them one by one under the lock, and a reader that takes
             * whatever is there sleeps between them (4 KiB across two CPUs
             * 1.2-1.4 times as fast, 12000 bytes 1.2; on one CPU alike).
             * Single frames of more than 2 KiB, and a claimed writer's
             * whole frames below 16 KiB, one at a time only while full
             * reads keep finding the pipe nearly empty (fifo_read_size()),
             * else as far as the buffer goes. After a large whole frame
             * read straight into the caller's buffer: its trailer and the
             * next header. */
            size_t ask = f->big ? FIFO_PEEK : f->rsize;
            if (ask < need - avail)
                ask = need - avail;
            if (want > ask)
                want = ask;
            if (one)
                f->rprobe--;
        }
        n = fifo_read_some(f, f->rbuf + f->tail, want, deadline);
        if (n > 0 && adapt && !one && need > avail)
            fifo_read_size(f, (size_t) n, want);
        if (n > 0) {
            f->tail += (size_t) n;
            continue;
        }
        if (n == -EPIPE) {
            /* every writer has gone: the next one starts a fresh stream */
            f->askip = f->orphan = false;
            f->skip = 0;
            f->big = false;
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
    int e = ipckit__fifo_idle_hold(f);
    if (e == 0)
        return ipckit_backend_fail(-EPIPE, "recv: no writer has \"%s\" open", f->path);
    return ipckit_backend_fail(-EPIPE,
                                "recv: no writer has \"%s\" open; its descriptor reports"
                                " POLLHUP until one comes (no write end of its own: %s)",
                                f->path, strerror(e));
}

ssize_t
ipckit__fifo_recv(void *state, long selector, long *type, void *buf, size_t cap,
                  const struct timespec *deadline)
{
    struct fifo *f = state;
    ssize_t n;
    (void) selector;
    ipckit__fifo_idle_release(f);
    if (f->stream)
        n = fifo_recv_stream(f, type, buf, cap, deadline);
    else
        n = fifo_recv_frames(f, type, buf, cap, deadline);
    if (n == -EPIPE)
        n = fifo_end_of_stream(f);
    return n;
}
