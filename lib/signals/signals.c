/*
 * ipckit: signals. Sending (kill, sigqueue), synchronous receipt
 * (sigtimedwait) and the signalfd dispatcher; see <ipckit/signal.h>.
 *
 * Ownership. A signal can be received synchronously by one owner per
 * process: a dispatcher or a "signal:" channel. A process-wide claim set
 * (under a mutex; touched at on/off/open/close only) refuses a second owner
 * with -EBUSY, since two signalfds reading one signal would steal from each
 * other.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "../core/internal.h"
#include "signals.h"

#define SIGDISP_BATCH 64

/* ---- sending ----------------------------------------------------------------- */

static bool
signo_valid(int signo)
{
    return signo >= 1 && signo <= SIGRTMAX;
}

int
ipckit_signal_send(pid_t pid, int signo)
{
    ipckit__detail_clear();
    if (pid <= 0 || (signo != 0 && !signo_valid(signo))) {
        ipckit__detail_set("signal_send: pid %ld or signal %d is not valid", (long) pid, signo);
        return -EINVAL;
    }
    if (kill(pid, signo) < 0) {
        int e = errno;
        ipckit__detail_set("signal_send: kill(%ld, %d): %s", (long) pid, signo, strerror(e));
        return -e;
    }
    return 0;
}

int
ipckit_signal_queue(pid_t pid, int signo, intptr_t value)
{
    union sigval v;
    ipckit__detail_clear();
    if (pid <= 0 || !signo_valid(signo)) {
        ipckit__detail_set("signal_queue: pid %ld or signal %d is not valid", (long) pid, signo);
        return -EINVAL;
    }
    memset(&v, 0, sizeof v);
    v.sival_ptr = (void *) value;
    if (sigqueue(pid, signo, v) < 0) {
        int e = errno;
        if (e == EAGAIN)
            ipckit__detail_set("signal_queue: the queue of pending signals of process %ld is"
                               " full (RLIMIT_SIGPENDING); nothing was sent",
                               (long) pid);
        else
            ipckit__detail_set("signal_queue: sigqueue(%ld, %d): %s", (long) pid, signo,
                               strerror(e));
        return -e;
    }
    return 0;
}

static void
siginfo_from_si(ipckit_siginfo *out, const siginfo_t *si)
{
    memset(out, 0, sizeof *out);
    out->signo = si->si_signo;
    out->code = si->si_code;
    if (si->si_code == SI_USER || si->si_code == SI_QUEUE || si->si_code == SI_TKILL) {
        out->pid = si->si_pid;
        out->uid = si->si_uid;
    }
    if (si->si_code == SI_QUEUE) {
        out->value = (intptr_t) si->si_value.sival_ptr;
        out->value_int = si->si_value.sival_int;
    }
}

void
ipckit__siginfo_from_sfd(ipckit_siginfo *out, const struct signalfd_siginfo *s)
{
    memset(out, 0, sizeof *out);
    out->signo = (int) s->ssi_signo;
    out->code = s->ssi_code;
    if (s->ssi_code == SI_USER || s->ssi_code == SI_QUEUE || s->ssi_code == SI_TKILL) {
        out->pid = (pid_t) s->ssi_pid;
        out->uid = (uid_t) s->ssi_uid;
    }
    if (s->ssi_code == SI_QUEUE) {
        out->value = (intptr_t) s->ssi_ptr;
        out->value_int = s->ssi_int;
    }
}

bool
ipckit_siginfo_sender_verified(const ipckit_siginfo *si)
{
    /* The kernel refuses these codes from rt_sigqueueinfo() and its kin
     * unless the target is the caller ("not even root can pretend to send
     * signals from the kernel, nor impersonate a kill()/tgkill()",
     * kernel/signal.c); every other code can be written by the sender. */
    return si != NULL && (si->code >= 0 || si->code == SI_TKILL);
}

int
ipckit_signal_wait(const sigset_t *set, ipckit_siginfo *out, int timeout_ms)
{
    struct timespec storage, now, left;
    const struct timespec *deadline;
    siginfo_t si;

    ipckit__detail_clear();
    if (set == NULL || timeout_ms < -1) {
        ipckit__detail_set("signal_wait: NULL set or timeout_ms %d below -1", timeout_ms);
        return -EINVAL;
    }
    deadline = ipckit__deadline(timeout_ms, &storage);
    for (;;) {
        int r;
        if (deadline == NULL) {
            r = sigwaitinfo(set, &si);
        } else {
            left.tv_sec = 0;
            left.tv_nsec = 0;
            if (timeout_ms > 0) {
                (void) clock_gettime(CLOCK_MONOTONIC, &now);
                left.tv_sec = deadline->tv_sec - now.tv_sec;
                left.tv_nsec = deadline->tv_nsec - now.tv_nsec;
                if (left.tv_nsec < 0) {
                    left.tv_sec--;
                    left.tv_nsec += 1000000000L;
                }
                if (left.tv_sec < 0)
                    left.tv_sec = left.tv_nsec = 0;
            }
            r = sigtimedwait(set, &si, &left);
        }
        if (r > 0) {
            if (out != NULL)
                siginfo_from_si(out, &si);
            return r;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            return ipckit_deadline_error(deadline);
        return -errno;
    }
}

int
ipckit_signal_parse(const char *text, int *out)
{
    const char *p = text;
    char *end;
    long n;

    if (text == NULL || out == NULL)
        return -EINVAL;
    if (isdigit((unsigned char) p[0])) {
        errno = 0;
        n = strtol(p, &end, 10);
        if (errno != 0 || *end != '\0' || n < 1 || n > SIGRTMAX)
            goto bad;
        *out = (int) n;
        return 0;
    }
    if (strncasecmp(p, "SIG", 3) == 0)
        p += 3;
    if (strncasecmp(p, "RTMIN", 5) == 0 || strncasecmp(p, "RTMAX", 5) == 0) {
        bool min = strncasecmp(p, "RTMIN", 5) == 0;
        long base = min ? SIGRTMIN : SIGRTMAX;
        p += 5;
        n = 0;
        if (*p == '+' || *p == '-') {
            if (!isdigit((unsigned char) p[1]))
                goto bad;
            errno = 0;
            n = strtol(p, &end, 10);
            if (errno != 0 || *end != '\0')
                goto bad;
        } else if (*p != '\0') {
            goto bad;
        }
        n += base;
        if (n < SIGRTMIN || n > SIGRTMAX)
            goto bad;
        *out = (int) n;
        return 0;
    }
    for (int s = 1; s < SIGRTMIN; s++) {
        const char *abbrev = sigabbrev_np(s);
        if (abbrev != NULL && strcasecmp(abbrev, p) == 0) {
            *out = s;
            return 0;
        }
    }
bad:
    ipckit__detail_set("\"%s\" is not a signal (SIGINT, INT, 2, SIGRTMIN+3, ... up to %d)", text,
                       SIGRTMAX);
    return -EINVAL;
}

/* ---- ownership and masks ----------------------------------------------------- */

static pthread_mutex_t claim_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t claimed; /* bit (signo - 1) */

/*
 * True when every thread of the process other than the caller blocks
 * @p signo; *tid names one that does not. Without /proc the check passes.
 */
static bool
other_threads_block(int signo, long *tid)
{
    char path[64], line[256];
    long self = (long) gettid();
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    bool ok = true;

    if (d == NULL)
        return true;
    while (ok && (e = readdir(d)) != NULL) {
        long t = strtol(e->d_name, NULL, 10);
        FILE *fp;
        if (t <= 0 || t == self)
            continue;
        (void) snprintf(path, sizeof path, "/proc/self/task/%ld/status", t);
        fp = fopen(path, "re");
        if (fp == NULL)
            continue; /* the thread has ended */
        while (fgets(line, sizeof line, fp) != NULL) {
            unsigned long long mask;
            if (sscanf(line, "SigBlk: %llx", &mask) == 1) {
                if (!(mask & (1ull << (signo - 1)))) {
                    ok = false;
                    *tid = t;
                }
                break;
            }
        }
        (void) fclose(fp);
    }
    (void) closedir(d);
    return ok;
}

int
ipckit__signal_take(int signo, bool *was_blocked)
{
    sigset_t one, old;
    uint64_t bit;
    long tid = 0;

    if (!signo_valid(signo) || signo == SIGKILL || signo == SIGSTOP)
        return ipckit__fail(-EINVAL, "signal %d cannot be caught", signo);
    if (signo == SIGSEGV || signo == SIGBUS || signo == SIGFPE || signo == SIGILL ||
        signo == SIGTRAP || signo == SIGSYS)
        return ipckit__fail(-EINVAL,
                                    "SIG%s reports a fault of the thread that raised it; it"
                                    " cannot be received synchronously",
                                    sigabbrev_np(signo));
    bit = 1ull << (signo - 1);
    (void) pthread_mutex_lock(&claim_lock);
    if (claimed & bit) {
        (void) pthread_mutex_unlock(&claim_lock);
        return ipckit__fail(-EBUSY,
                                    "signal %d is already handled by a dispatcher or a signal:"
                                    " channel of this process",
                                    signo);
    }
    (void) sigemptyset(&one);
    (void) sigaddset(&one, signo);
    (void) pthread_sigmask(SIG_BLOCK, &one, &old);
    *was_blocked = sigismember(&old, signo) == 1;
    if (!other_threads_block(signo, &tid)) {
        if (!*was_blocked)
            (void) pthread_sigmask(SIG_UNBLOCK, &one, NULL);
        (void) pthread_mutex_unlock(&claim_lock);
        return ipckit__fail(-EBUSY,
                                    "thread %ld does not block signal %d, so it would take the"
                                    " signal instead; set the handler up before creating"
                                    " threads, or block the signal in every thread",
                                    tid, signo);
    }
    claimed |= bit;
    (void) pthread_mutex_unlock(&claim_lock);
    return 0;
}

void
ipckit__signal_give(int signo, bool was_blocked)
{
    sigset_t one;
    (void) pthread_mutex_lock(&claim_lock);
    claimed &= ~(1ull << (signo - 1));
    (void) pthread_mutex_unlock(&claim_lock);
    if (!was_blocked) {
        (void) sigemptyset(&one);
        (void) sigaddset(&one, signo);
        (void) pthread_sigmask(SIG_UNBLOCK, &one, NULL);
    }
}

/* ---- dispatcher -------------------------------------------------------------- */

struct sigdisp_slot {
    ipckit_sigdisp_fn fn;
    void *arg;
    bool was_blocked;
};

struct ipckit_sigdisp {
    int fd;
    pid_t owner;     /* the process whose signalfd this is (see sigdisp_private) */
    int count;       /* registered signals */
    sigset_t set;    /* the registered signals */
    struct sigdisp_slot slot[NSIG];
};

int
ipckit_sigdisp_open(ipckit_sigdisp **out, unsigned flags)
{
    ipckit_sigdisp *d;
    ipckit__detail_clear();
    if (out == NULL || flags != 0) {
        ipckit__detail_set("sigdisp_open: NULL out or unknown flags %#x", flags);
        return -EINVAL;
    }
    *out = NULL;
    d = calloc(1, sizeof *d);
    if (d == NULL)
        return -ENOMEM;
    (void) sigemptyset(&d->set);
    d->fd = signalfd(-1, &d->set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (d->fd < 0) {
        int e = errno;
        ipckit__detail_set("sigdisp_open: signalfd: %s", strerror(e));
        free(d);
        return -e;
    }
    d->owner = getpid();
    *out = d;
    return 0;
}

/*
 * After fork() the parent and the child share one signalfd description, and
 * its mask with it: changing the mask in one process would change it in the
 * other. Before changing the mask, a child gives itself its own signalfd on
 * the same descriptor number.
 */
static int
sigdisp_private(ipckit_sigdisp *d)
{
    int fd;
    if (d->owner == getpid())
        return 0;
    fd = signalfd(-1, &d->set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0 || dup3(fd, d->fd, O_CLOEXEC) < 0) {
        int e = errno;
        if (fd >= 0)
            (void) close(fd);
        ipckit__detail_set("sigdisp: a private signalfd after fork: %s", strerror(e));
        return -e;
    }
    (void) close(fd);
    d->owner = getpid();
    return 0;
}

int
ipckit_sigdisp_on(ipckit_sigdisp *d, int signo, ipckit_sigdisp_fn fn, void *arg)
{
    bool was_blocked;
    int rc;

    ipckit__detail_clear();
    if (d == NULL || fn == NULL) {
        ipckit__detail_set("sigdisp_on: NULL dispatcher or callback");
        return -EINVAL;
    }
    if (signo_valid(signo) && d->slot[signo].fn != NULL) {
        d->slot[signo].fn = fn;
        d->slot[signo].arg = arg;
        return 0;
    }
    rc = sigdisp_private(d);
    if (rc < 0)
        return rc;
    rc = ipckit__signal_take(signo, &was_blocked);
    if (rc < 0)
        return rc;
    (void) sigaddset(&d->set, signo);
    if (signalfd(d->fd, &d->set, 0) < 0) {
        int e = errno;
        (void) sigdelset(&d->set, signo);
        ipckit__signal_give(signo, was_blocked);
        ipckit__detail_set("sigdisp_on: signalfd: %s", strerror(e));
        return -e;
    }
    d->slot[signo].fn = fn;
    d->slot[signo].arg = arg;
    d->slot[signo].was_blocked = was_blocked;
    d->count++;
    return 0;
}

int
ipckit_sigdisp_off(ipckit_sigdisp *d, int signo)
{
    if (d == NULL)
        return -EINVAL;
    if (!signo_valid(signo) || d->slot[signo].fn == NULL)
        return -ENOENT;
    (void) sigdelset(&d->set, signo);
    if (sigdisp_private(d) == 0)
        (void) signalfd(d->fd, &d->set, 0);
    ipckit__signal_give(signo, d->slot[signo].was_blocked);
    memset(&d->slot[signo], 0, sizeof d->slot[signo]);
    d->count--;
    return 0;
}

int
ipckit_sigdisp_dispatch(ipckit_sigdisp *d, int timeout_ms)
{
    struct signalfd_siginfo buf[SIGDISP_BATCH];
    struct timespec storage;
    const struct timespec *deadline;
    int ran = 0;

    if (d == NULL || timeout_ms < -1)
        return -EINVAL;
    if (d->count == 0 && timeout_ms < 0)
        return -ENOENT;
    deadline = ipckit__deadline(timeout_ms, &storage);
    for (;;) {
        ssize_t n = read(d->fd, buf, sizeof buf);
        if (n > 0) {
            size_t count = (size_t) n / sizeof buf[0];
            for (size_t i = 0; i < count; i++) {
                ipckit_siginfo si;
                int s = (int) buf[i].ssi_signo;
                /* A callback may have unregistered a signal read in this batch. */
                if (!signo_valid(s) || d->slot[s].fn == NULL)
                    continue;
                ipckit__siginfo_from_sfd(&si, &buf[i]);
                d->slot[s].fn(&si, d->slot[s].arg);
                ran++;
            }
            if (ran > 0)
                return ran;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN)
            return -errno;
        int rc = ipckit_deadline_poll(d->fd, POLLIN, deadline, NULL);
        if (rc < 0)
            return rc;
    }
}

int
ipckit_sigdisp_fd(const ipckit_sigdisp *d)
{
    return d ? d->fd : -EINVAL;
}

int
ipckit_sigdisp_close(ipckit_sigdisp *d)
{
    if (d == NULL)
        return 0;
    /* The mask of the signalfd is left alone: after fork() another process
     * may share it. */
    for (int s = 1; s < NSIG; s++)
        if (d->slot[s].fn != NULL)
            ipckit__signal_give(s, d->slot[s].was_blocked);
    (void) close(d->fd);
    free(d);
    return 0;
}
