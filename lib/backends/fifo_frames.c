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
#define FIFO_FRAME_MAX ((size_t) PIPE_BUF)
#define FIFO_CHUNK (FIFO_FRAME_MAX - FIFO_HDR)

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
