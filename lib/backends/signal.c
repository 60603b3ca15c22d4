/*
 * ipckit backend "signal:": messages carried by real-time signals.
 *
 * Names: the receiver opens "signal:self[?signo=SIG]" (IPCKIT_RECV), the
 * sender "signal:PID[?signo=SIG]" (IPCKIT_SEND), PID being the receiver's
 * process id; "signal:self" with IPCKIT_SEND sends to the process that
 * opened it, and is refused (-ENXIO) unless the opening thread blocks or
 * catches the signal (its receiver is open, in the same open or before).
 * SIG is a real-time signal: a number or "SIGRTMIN+n"; it may also come
 * from opts->signo; the default is SIGRTMIN+4 (SIGCH_DEFAULT_OFFSET).
 *
 * A message is one sigqueue() whose value (a pointer-sized sigval: 8 bytes
 * on 64-bit Linux) holds, from the low byte up:
 *
 *   bytes 0 .. P-1   payload (P = sizeof(void *) - 2: 6 bytes on 64-bit),
 *                    unused bytes zero
 *   byte  P          the message type, 1..255
 *   byte  P+1        0xA0 | payload length (0..P)
 *
 * The receiver blocks the signal in the opening thread and reads it from a
 * signalfd, one siginfo per message. Nothing from the sender is trusted:
 * si_code must be SI_QUEUE, the marker, the length, the type and the unused
 * bytes must be right, otherwise the signal is consumed and -EBADMSG
 * reported with the pid the signal carries, named as a claim unless the
 * kernel wrote it (a sigqueue sender writes its own pid and uid, any it
 * likes: see ipckit_siginfo_sender_verified()).
 *
 * Senders. The channel does not tell the receiver who sent a message, and
 * could not vouch for it: every message is an SI_QUEUE signal. Any process
 * allowed to signal the receiver (its user's, or one with CAP_KILL) can
 * send one.
 *
 * The queue is the kernel's: the receiving user's RLIMIT_SIGPENDING. When it
 * is full, sigqueue() fails with EAGAIN and nothing is sent; send retries
 * with a growing sleep (1 to 16 ms) until its deadline, so a timeout of 0
 * gives -EAGAIN and never a silent loss.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "../core/internal.h"
#include "../signals/signals.h"

#define SIGCH_DEFAULT_OFFSET 4
#define SIGCH_WORD sizeof(void *)
#define SIGCH_PAYLOAD (SIGCH_WORD - 2)
#define SIGCH_MARK 0xA0u
#define SIGCH_TYPE_MAX 255L
#define SIGCH_BACKOFF_MAX 16L

struct sigch {
    int signo;
    pid_t target;        /* sender: the receiving process */
    bool receiver;
    bool taken;          /* receiver: the signal is claimed and blocked */
    bool was_blocked;    /* receiver: it was blocked before open */
    int fd;              /* receiver: signalfd */
    int waker;           /* IPCKIT_OPT_INTERRUPTIBLE: ipckit_waker_open(); else -1 */
    size_t max_msg;
    /* receiver: a message read but not yet returned (the buffer was too small) */
    bool held;
    long held_type;
    size_t held_len;
    unsigned char held_data[SIGCH_PAYLOAD];
};

static const char *const sigch_params[] = { "signo", NULL };

/* ---- opening ------------------------------------------------------------- */

static int
sigch_signo(const ipckit_name *name, const ipckit_opts *opts, int *out)
{
    const char *p = ipckit_name_param(name, "signo");
    int signo = 0;

    if (p != NULL && ipckit_signal_parse(p, &signo) < 0)
        return ipckit_backend_fail(-EINVAL, "signal: signo=\"%s\" is not a signal", p);
    if (opts->signo != 0 && signo != 0 && opts->signo != signo)
        return ipckit_backend_fail(-EINVAL,
                                    "signal: the name says signo=%d but opts->signo is %d",
                                    signo, opts->signo);
    if (signo == 0)
        signo = opts->signo;
    if (signo == 0)
        signo = SIGRTMIN + SIGCH_DEFAULT_OFFSET;
    if (signo < SIGRTMIN || signo > SIGRTMAX)
        return ipckit_backend_fail(-EINVAL,
                                    "signal: signal %d is not a real-time signal (%d..%d):"
                                    " standard signals merge and would lose messages",
                                    signo, SIGRTMIN, SIGRTMAX);
    *out = signo;
    return 0;
}

/* True when process @p pid blocks or catches @p signo (its main thread's view). */
static bool
sigch_peer_listens(pid_t pid, int signo)
{
    char path[64], line[256];
    unsigned long long blk = 0, cgt = 0, bit = 1ull << (signo - 1);
    FILE *fp;

    (void) snprintf(path, sizeof path, "/proc/%ld/status", (long) pid);
    fp = fopen(path, "re");
    if (fp == NULL)
        return true; /* cannot tell: let sigqueue() decide */
    while (fgets(line, sizeof line, fp) != NULL) {
        (void) sscanf(line, "SigBlk: %llx", &blk);
        (void) sscanf(line, "SigCgt: %llx", &cgt);
    }
    (void) fclose(fp);
    return ((blk | cgt) & bit) != 0;
}

/*
 * A sender of this very process ("signal:self", or its own pid). The wait of
 * sigch_open_sender() waits for the receiving process to change, and here
 * that is the caller: while the calling thread neither blocks nor catches
 * the signal, a signal sent to the process may be delivered to this thread,
 * whose default action for it ends the process, and no signal: receiver can
 * be opened anywhere in the process (ipckit__signal_take() needs every
 * thread to block it, this one too). So nothing could ever receive the
 * message, and the wait would last for ever: refuse at once. When this
 * thread blocks the signal, another thread may still open the receiver, and
 * the wait goes on as for any process.
 */
static int
sigch_self_ready(struct sigch *c)
{
    sigset_t cur;
    struct sigaction sa;
    if (pthread_sigmask(SIG_BLOCK, NULL, &cur) == 0 && sigismember(&cur, c->signo) == 1)
        return 0;
    if (sigaction(c->signo, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL &&
        sa.sa_handler != SIG_IGN)
        return 0;
    return ipckit_backend_fail(-ENXIO,
                                "signal: this process (%ld) neither blocks nor catches signal"
                                " %d, so nothing in it could receive the message: open"
                                " \"signal:self\" with IPCKIT_RECV first (one open may have"
                                " IPCKIT_RECV | IPCKIT_SEND), or block the signal in every"
                                " thread",
                                (long) getpid(), c->signo);
}

static int
sigch_open_sender(struct sigch *c, const char *target, const struct timespec *deadline)
{
    ipckit_backoff wait = IPCKIT_BACKOFF_INIT(0, 1000, 50000);
    char *end;
    long pid;
    int rc;

    if (strcmp(target, "self") == 0) {
        pid = (long) getpid();
    } else {
        errno = 0;
        pid = strtol(target, &end, 10);
        if (errno != 0 || *end != '\0' || pid <= 0 || pid != (long) (pid_t) pid)
            return ipckit_backend_fail(-EINVAL,
                                        "signal: target \"%s\" is not a process id or \"self\"",
                                        target);
    }
    c->target = (pid_t) pid;
    if (c->target == getpid()) {
        rc = sigch_self_ready(c);
        if (rc < 0)
            return rc;
    }
    for (;;) {
        if (kill(c->target, 0) < 0) {
            int e = errno;
            if (e == ESRCH)
                return ipckit_backend_fail(-ENOENT, "signal: no process %ld", pid);
            return ipckit_backend_fail(-e, "signal: process %ld: %s", pid, strerror(e));
        }
        /* A real-time signal that is neither blocked nor caught kills the
         * receiver: wait until it has opened its channel. */
        if (sigch_peer_listens(c->target, c->signo))
            return 0;
        rc = ipckit_backoff_wait(&wait, deadline, -1);
        if (rc < 0)
            return ipckit_backend_fail(rc,
                                       "signal: process %ld neither blocks nor catches signal"
                                       " %d: it has no signal: receiver open",
                                       pid, c->signo);
    }
}

static int sigch_close(void *state);

static int
sigch_open(void *state, const ipckit_name *name, unsigned flags, const ipckit_opts *opts,
           const struct timespec *deadline)
{
    struct sigch *c = state;
    const char *target = ipckit_name_target(name);
    sigset_t one;
    int rc;

    c->fd = -1;
    c->waker = -1;
    rc = ipckit_name_check_params(name, sigch_params);
    if (rc < 0)
        return rc;
    rc = sigch_signo(name, opts, &c->signo);
    if (rc < 0)
        return rc;
    if (opts->capacity != 0)
        return ipckit_backend_fail(-ENOTSUP,
                                    "signal: the queue is the receiving user's"
                                    " RLIMIT_SIGPENDING; set it with setrlimit(), not capacity");
    c->max_msg = opts->max_msg_size ? opts->max_msg_size : SIGCH_PAYLOAD;
    if (c->max_msg > SIGCH_PAYLOAD)
        return ipckit_backend_fail(-EINVAL,
                                    "signal: max_msg_size %zu is above the %zu bytes a signal"
                                    " value carries",
                                    opts->max_msg_size, (size_t) SIGCH_PAYLOAD);
    c->receiver = (flags & IPCKIT_RECV) != 0;
    if (c->receiver && strcmp(target, "self") != 0 &&
        strtol(target, NULL, 10) != (long) getpid())
        return ipckit_backend_fail(-EINVAL,
                                    "signal: a receiver opens \"signal:self\" (it receives"
                                    " the signals sent to its own process), not \"%s\"",
                                    target);
    if (c->receiver) {
        rc = ipckit__signal_take(c->signo, &c->was_blocked);
        if (rc < 0)
            return rc;
        c->taken = true;
        (void) sigemptyset(&one);
        (void) sigaddset(&one, c->signo);
        /* Blocking: a receive that waits forever is one read(); one with
         * a deadline polls first. Only this process reads its signals. */
        c->fd = signalfd(-1, &one, SFD_CLOEXEC);
        if (c->fd < 0) {
            int e = errno;
            ipckit__signal_give(c->signo, c->was_blocked);
            c->taken = false;
            return ipckit_backend_fail(-e, "signal: signalfd: %s", strerror(e));
        }
    }
    if (flags & IPCKIT_SEND) {
        rc = sigch_open_sender(c, target, c->receiver ? NULL : deadline);
        if (rc < 0) {
            if (c->receiver) {
                (void) close(c->fd);
                ipckit__signal_give(c->signo, c->was_blocked);
            }
            c->fd = -1;
            c->taken = false;
            return rc;
        }
    }
    if (opts->flags & IPCKIT_OPT_INTERRUPTIBLE) {
        c->waker = ipckit_waker_open();
        if (c->waker < 0) {
            rc = c->waker;
            c->waker = -1;
            (void) sigch_close(state);
            return ipckit_backend_fail(rc, "signal: eventfd: %s", strerror(-rc));
        }
    }
    return 0;
}

static int
sigch_close(void *state)
{
    struct sigch *c = state;
    if (c->fd >= 0)
        (void) close(c->fd);
    c->fd = -1;
    if (c->taken)
        ipckit__signal_give(c->signo, c->was_blocked);
    c->taken = false;
    if (c->waker >= 0)
        (void) close(c->waker);
    c->waker = -1;
    return 0;
}

static int
sigch_interrupt(void *state)
{
    struct sigch *c = state;
    return c->waker < 0 ? -ENOTSUP : ipckit_waker_wake(c->waker);
}

static int
sigch_fd(void *state)
{
    struct sigch *c = state;
    return c->fd >= 0 ? c->fd : -ENOTSUP;
}

static void
sigch_info(void *state, unsigned *caps, size_t *max_msg)
{
    struct sigch *c = state;
    if (!c->receiver)
        *caps &= ~(unsigned) IPCKIT_CAP_FD;
    *max_msg = c->max_msg;
}

/* ---- sending ------------------------------------------------------------- */

static int
sigch_send(void *state, long type, const void *buf, size_t len,
           const struct timespec *deadline)
{
    struct sigch *c = state;
    const unsigned char *p = buf;
    union sigval v;
    uint64_t w = 0;
    ipckit_backoff wait = IPCKIT_BACKOFF_INIT(0, 1000, SIGCH_BACKOFF_MAX * 1000);
    int rc;

    if (type > SIGCH_TYPE_MAX)
        return ipckit_backend_fail(-EINVAL,
                                    "send: type %ld does not fit a signal: message (1..%ld)",
                                    type, SIGCH_TYPE_MAX);
    for (size_t i = 0; i < len; i++)
        w |= (uint64_t) p[i] << (8 * i);
    w |= (uint64_t) type << (8 * SIGCH_PAYLOAD);
    w |= (uint64_t) (SIGCH_MARK | len) << (8 * (SIGCH_PAYLOAD + 1));
    memset(&v, 0, sizeof v);
    v.sival_ptr = (void *) (uintptr_t) w;
    for (;;) {
        if (sigqueue(c->target, c->signo, v) == 0)
            return 0;
        if (errno == ESRCH)
            return ipckit_backend_fail(-EPIPE, "send: process %ld is gone",
                                        (long) c->target);
        if (errno != EAGAIN) {
            int e = errno;
            return ipckit_backend_fail(-e, "send: sigqueue to process %ld: %s",
                                        (long) c->target, strerror(e));
        }
        rc = ipckit_backoff_wait(&wait, deadline, c->waker);
        if (rc == -EINTR)
            return ipckit_backend_fail(rc, "send: interrupted (ipckit_interrupt())");
        if (rc < 0)
            return ipckit_backend_fail(rc,
                                       "send: the signal queue of process %ld is full"
                                       " (RLIMIT_SIGPENDING); nothing was sent",
                                       (long) c->target);
    }
}

/* ---- receiving ----------------------------------------------------------- */

/*
 * How a detail names the sender of @p s: the kernel wrote the pid of a
 * kill() or tgkill(), a sigqueue sender writes any pid it likes.
 */
static const char *
sigch_from(const struct signalfd_siginfo *s)
{
    ipckit_siginfo si;
    memset(&si, 0, sizeof si);
    si.code = s->ssi_code;
    return ipckit_siginfo_sender_verified(&si) ? "from process" : "claiming to be from process";
}

/* Check and unpack one signal; 0 or -EBADMSG (the signal is consumed either way). */
static int
sigch_decode(struct sigch *c, const struct signalfd_siginfo *s)
{
    uint64_t w = s->ssi_ptr, payload;
    unsigned top, len;
    long type;

#if UINTPTR_MAX < UINT64_MAX
    w &= (uint64_t) UINTPTR_MAX;
#endif
    top = (unsigned) (w >> (8 * (SIGCH_PAYLOAD + 1))) & 0xffu;
    type = (long) ((w >> (8 * SIGCH_PAYLOAD)) & 0xffu);
    len = top & 0x0fu;
    if (s->ssi_code != SI_QUEUE)
        return ipckit_backend_fail(-EBADMSG,
                                    "recv: signal %d %s %u was not sent with sigqueue"
                                    " (si_code %d) and carries no message; discarded",
                                    c->signo, sigch_from(s), s->ssi_pid, s->ssi_code);
    payload = w & (((uint64_t) 1 << (8 * SIGCH_PAYLOAD)) - 1);
    if ((top & 0xf0u) != SIGCH_MARK || len > SIGCH_PAYLOAD || len > c->max_msg || type == 0 ||
        (payload >> (8 * len)) != 0)
        return ipckit_backend_fail(-EBADMSG,
                                    "recv: signal %d %s %u carries value %#llx, which is"
                                    " not a signal: message; discarded",
                                    c->signo, sigch_from(s), s->ssi_pid,
                                    (unsigned long long) w);
    for (unsigned i = 0; i < len; i++)
        c->held_data[i] = (unsigned char) (w >> (8 * i));
    c->held_len = len;
    c->held_type = type;
    c->held = true;
    return 0;
}

static ssize_t
sigch_recv(void *state, long selector, long *type, void *buf, size_t cap,
           const struct timespec *deadline)
{
    struct sigch *c = state;
    struct signalfd_siginfo s;
    (void) selector;

    while (!c->held) {
        ssize_t n;
        if (deadline != NULL || c->waker >= 0) {
            int rc = ipckit_deadline_poll_wake(c->fd, POLLIN, c->waker, deadline, NULL);
            if (rc == -EINTR)
                return ipckit_backend_fail(rc, "recv: interrupted (ipckit_interrupt())");
            if (rc < 0)
                return rc;
        }
        n = read(c->fd, &s, sizeof s);
        if (n == (ssize_t) sizeof s) {
            int rc = sigch_decode(c, &s);
            if (rc < 0)
                return rc;
            break;
        }
        if (n >= 0)
            return ipckit_backend_fail(-EIO, "recv: short read of %zd bytes from the"
                                                     " signalfd", n);
        if (errno != EINTR && errno != EAGAIN)
            return -errno;
    }
    if (c->held_len > cap)
        return ipckit_backend_fail(-EMSGSIZE,
                                    "recv: message of %zu bytes does not fit a buffer of %zu"
                                    " bytes; it stays receivable",
                                    c->held_len, cap);
    if (c->held_len > 0)
        memcpy(buf, c->held_data, c->held_len);
    *type = c->held_type;
    c->held = false;
    return (ssize_t) c->held_len;
}

const ipckit_backend ipckit__signal_backend = {
    .abi_version = IPCKIT_BACKEND_ABI,
    .scheme = "signal",
    .opt_flags = IPCKIT_OPT_INTERRUPTIBLE,
    .interrupt = sigch_interrupt,
    .state_size = sizeof(struct sigch),
    .caps = IPCKIT_CAP_TYPED | IPCKIT_CAP_FD | IPCKIT_CAP_MULTI_SEND,
    .open = sigch_open,
    .close = sigch_close,
    .send = sigch_send,
    .recv = sigch_recv,
    .fd = sigch_fd,
    .info = sigch_info,
};
