/**
 * @file
 * ipckit: signals, sent with a value and received synchronously.
 *
 * Sending: ipckit_signal_send() (kill) and ipckit_signal_queue() (sigqueue,
 * with a value). Receiving: ipckit_signal_wait() (sigtimedwait on signals the
 * caller has blocked) or a dispatcher (signalfd): register a callback per
 * signal with ipckit_sigdisp_on(), then run ipckit_sigdisp_dispatch() in a
 * loop or poll ipckit_sigdisp_fd() from an event loop. Callbacks run in
 * normal context, never inside an asynchronous signal handler, so they may
 * call anything (printf, malloc, ipckit).
 *
 * Signal mask. ipckit never installs a signal handler and never changes a
 * disposition. A dispatcher (like a "signal:" channel) blocks each signal it
 * handles in the calling thread's mask, because signalfd only sees signals
 * that are blocked, and unblocks at ipckit_sigdisp_off() / close exactly the
 * signals that it blocked (one that was already blocked stays blocked).
 *
 * Threads. A process-directed signal goes to any thread that does not block
 * it; signalfd only sees it if EVERY thread blocks it. Threads inherit the
 * mask of the thread that creates them, so set the dispatcher up in the main
 * thread before creating threads. ipckit_sigdisp_on() checks the other
 * threads of the process (/proc/self/task) and fails with -EBUSY when one of
 * them leaves the signal unblocked.
 *
 * Fork. A child inherits the signal mask (the handled signals stay blocked),
 * the dispatcher (its signalfd reads the signals of the process that reads
 * it, so the child dispatches its own signals) and the dispositions. It does
 * NOT inherit pending signals: what was queued for the parent stays with the
 * parent. Parent and child share the signalfd's description; the first
 * ipckit_sigdisp_on() or _off() in the child gives the child its own, so
 * that changing the set in one process never changes it in the other.
 * After execve() the mask is kept but the signalfd is closed (close-on-exec):
 * a program started from such a child starts with those signals blocked.
 *
 * The thread check of ipckit_sigdisp_on() is best effort: glibc starts a new
 * thread with every signal blocked and sets its real mask only when the
 * thread first runs, so a thread created an instant before may pass it.
 */
#ifndef IPCKIT_SIGNAL_H
#define IPCKIT_SIGNAL_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
/*
 * sigset_t is a POSIX type, and <signal.h> declares it only when the program
 * asks for POSIX (_POSIX_C_SOURCE, _GNU_SOURCE, or a compiler's default
 * gnu11 mode); under -std=c99 or -std=c11 it does not. POSIX also requires
 * <sys/select.h> to define sigset_t, and glibc and musl define it there
 * whatever the feature macros, so this header compiles in strict ISO C
 * without asking its users to define anything. It brings select(), pselect()
 * and fd_set along.
 */
#include <sys/select.h>
#include <ipckit/export.h>

IPCKIT_BEGIN_DECLS

/**
 * What a received signal tells.
 *
 * The sender's pid and uid are what the signal carries, and only some
 * senders are vouched for by the kernel. For kill() (SI_USER) and tkill()
 * or tgkill() (SI_TKILL) the kernel writes them itself. But any process
 * allowed to signal the receiver (one of the same user, or one with
 * CAP_KILL) can queue a signal with rt_sigqueueinfo() and write any pid,
 * uid and value into it, with code SI_QUEUE or any other negative code:
 * pid 1 and uid 0, for instance. ipckit_siginfo_sender_verified() tells
 * the two apart; do not take pid or uid as a fact without it.
 */
typedef struct ipckit_siginfo {
    int signo;        /**< the signal number */
    int code;         /**< si_code: SI_USER (kill), SI_QUEUE (sigqueue), SI_KERNEL, ... */
    pid_t pid;        /**< sending process, for SI_USER, SI_TKILL and SI_QUEUE, 0 otherwise;
                           for SI_QUEUE the pid the sender claims */
    uid_t uid;        /**< real user id of the sender, for the same codes, 0 otherwise (not
                           root: nobody); for SI_QUEUE the uid the sender claims */
    intptr_t value;   /**< the sigqueue value (sival_ptr); 0 unless code is SI_QUEUE */
    int value_int;    /**< the same value as sival_int (its low 32 bits) */
} ipckit_siginfo;

/**
 * Whether the kernel, and not the sender, wrote what @p si says of the
 * sender. True for code SI_USER (kill), SI_TKILL (tkill, tgkill), SI_KERNEL
 * and the positive codes (CLD_EXITED of SIGCHLD, POLL_IN of SIGIO, ...):
 * Linux (2.6.39 and later) refuses rt_sigqueueinfo(), rt_tgsigqueueinfo()
 * and pidfd_send_signal() with those codes towards any process but the
 * caller itself. False for SI_QUEUE and every other negative code
 * (SI_TIMER, SI_MESGQ, SI_ASYNCIO, SI_SIGIO), which a sender may write
 * along with any pid and uid, and for NULL. A signal a process sends to
 * itself may carry anything.
 *
 * For SI_KERNEL and the positive codes, pid and uid are 0: no process sent
 * the signal, and uid 0 there does not mean root. The pid is also 0 for a
 * kill() from a process in an ancestor pid namespace (a container's host).
 * To act on who sent a signal, require this to be true and pid to be other
 * than 0.
 *
 * This is a function of @p si->code rather than a new field so that
 * ipckit_siginfo keeps its size: programs built against an earlier header
 * allocate the structure that ipckit_signal_wait() fills.
 */
IPCKIT_API bool ipckit_siginfo_sender_verified(const ipckit_siginfo *si);

/**
 * Send signal @p signo to process @p pid with kill(). @p signo 0 only checks
 * that the process exists and may be signalled.
 *
 * @return 0, or -EINVAL (bad signal number, pid <= 0: ipckit never signals
 *         process groups), -ESRCH (no such process), -EPERM.
 */
IPCKIT_API int ipckit_signal_send(pid_t pid, int signo);

/**
 * Send signal @p signo to process @p pid with sigqueue(), carrying @p value
 * (received as ipckit_siginfo.value, si_code SI_QUEUE). Real-time signals
 * (SIGRTMIN..SIGRTMAX) are queued one per call and delivered in order;
 * standard signals are merged with a pending one of the same number (the
 * second value is lost).
 *
 * @return 0, or -EAGAIN (the receiver's queue of pending signals is full,
 *         RLIMIT_SIGPENDING; nothing was sent), -EINVAL, -ESRCH, -EPERM.
 *         Never blocks.
 */
IPCKIT_API int ipckit_signal_queue(pid_t pid, int signo, intptr_t value);

/**
 * Wait for one of the signals in @p set with sigtimedwait() and consume it.
 * The signals must be blocked in every thread (see the header comment);
 * otherwise they may be delivered to a handler or default action instead.
 *
 * @param set        the signals to wait for.
 * @param out        if not NULL, receives what the signal tells.
 * @param timeout_ms -1 forever, 0 only take one already pending, > 0 at
 *                   most that many milliseconds. Interruptions by other
 *                   signals (EINTR) are retried without stretching it.
 * @return the signal number, or -EAGAIN (timeout 0 and none pending),
 *         -ETIMEDOUT, -EINVAL.
 */
IPCKIT_API int ipckit_signal_wait(const sigset_t *set, ipckit_siginfo *out, int timeout_ms);

/**
 * Parse a signal name or number: "SIGINT", "INT", "int", "2", "SIGRTMIN+3",
 * "RTMIN+3", "SIGRTMAX-1".
 *
 * @return 0 and *out set, or -EINVAL for something that is not a signal.
 */
IPCKIT_API int ipckit_signal_parse(const char *text, int *out);

/* ---- dispatcher ------------------------------------------------------------ */

/** Opaque dispatcher handle. */
typedef struct ipckit_sigdisp ipckit_sigdisp;

/** A callback: runs in normal context from ipckit_sigdisp_dispatch(). */
typedef void (*ipckit_sigdisp_fn)(const ipckit_siginfo *si, void *arg);

/**
 * Create a dispatcher with no signals. It owns a signalfd (close-on-exec,
 * non-blocking).
 *
 * @param out   receives the handle; NULL on failure (unless @p out is NULL).
 * @param flags 0 (reserved).
 * @return 0, or -EINVAL (NULL @p out, unknown flags), -EMFILE, -ENOMEM.
 */
IPCKIT_API IPCKIT_NODISCARD int ipckit_sigdisp_open(ipckit_sigdisp **out, unsigned flags);

/**
 * Register @p fn for signal @p signo (replacing an earlier callback for it).
 * Blocks @p signo in the calling thread if it was not blocked.
 *
 * @return 0, or -EINVAL (SIGKILL, SIGSTOP, the synchronous fault signals
 *         SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, a number out of
 *         range, or NULL @p fn), -EBUSY (another dispatcher or a "signal:"
 *         channel of this process handles @p signo, or another thread leaves
 *         it unblocked: see ipckit_error_detail()).
 */
IPCKIT_API int ipckit_sigdisp_on(ipckit_sigdisp *d, int signo, ipckit_sigdisp_fn fn, void *arg);

/**
 * Stop handling @p signo: forget its callback and, if ipckit_sigdisp_on()
 * blocked it, unblock it in the calling thread. An instance still pending is
 * then delivered according to the signal's disposition.
 *
 * @return 0, or -ENOENT if @p signo was not registered.
 */
IPCKIT_API int ipckit_sigdisp_off(ipckit_sigdisp *d, int signo);

/**
 * Wait until at least one registered signal is pending, then consume and
 * dispatch the pending ones (at most 64 per call), each to its callback, in
 * the order the kernel gives them (real-time signals in queue order,
 * lowest number first). Callbacks may call ipckit_sigdisp_on() and _off()
 * but not ipckit_sigdisp_close().
 *
 * @param d          the dispatcher.
 * @param timeout_ms -1 forever, 0 never wait, > 0 at most that many ms.
 * @return the number of callbacks run (> 0), or -EAGAIN (timeout 0, nothing
 *         pending), -ETIMEDOUT, -ENOENT (no signal registered and waiting
 *         forever), -EINVAL.
 */
IPCKIT_API int ipckit_sigdisp_dispatch(ipckit_sigdisp *d, int timeout_ms);

/**
 * The dispatcher's signalfd, readable (POLLIN) while a registered signal is
 * pending for the process that polls it. Call ipckit_sigdisp_dispatch(d, 0)
 * when it is readable; do not read it yourself.
 *
 * @return the descriptor (owned by the dispatcher), or -EINVAL.
 */
IPCKIT_API int ipckit_sigdisp_fd(const ipckit_sigdisp *d);

/**
 * Unregister every signal (as ipckit_sigdisp_off() does), close the
 * signalfd and free the handle. Call it from the thread that registered the
 * signals: the mask it restores is that thread's. NULL is a no-op.
 *
 * @return 0.
 */
IPCKIT_API int ipckit_sigdisp_close(ipckit_sigdisp *d);

IPCKIT_END_DECLS

#endif /* IPCKIT_SIGNAL_H */
