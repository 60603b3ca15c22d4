/*
 * ipckit: what the signal API shares with the "signal:" backend. Not
 * installed.
 */
#ifndef IPCKIT_SIGNALS_H
#define IPCKIT_SIGNALS_H

#include <stdbool.h>
#include <sys/signalfd.h>

#include <ipckit/signal.h>

/*
 * Take @p signo for a dispatcher or a channel of this process: refuse
 * signals that cannot be received synchronously (-EINVAL) or that another
 * owner in this process already has (-EBUSY), block it in the calling
 * thread (*was_blocked tells whether it already was), and check that every
 * other thread blocks it too (-EBUSY otherwise, and nothing is changed).
 */
int ipckit__signal_take(int signo, bool *was_blocked);

/* Undo ipckit__signal_take(): release the claim, unblock unless it was blocked. */
void ipckit__signal_give(int signo, bool was_blocked);

/* Fill an ipckit_siginfo from what signalfd read. */
void ipckit__siginfo_from_sfd(ipckit_siginfo *out, const struct signalfd_siginfo *s);

#endif /* IPCKIT_SIGNALS_H */
