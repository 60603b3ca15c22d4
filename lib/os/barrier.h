/*
 * ipckit: a full memory barrier on other CPUs, made by the process that
 * needs it (membarrier(2), MEMBARRIER_CMD_GLOBAL_EXPEDITED). Used by the
 * shm: ring so that a claimed side can publish without a fence of its own
 * (docs/backends/shm.md, "Publishing without a fence"). Not installed.
 */
#ifndef IPCKIT_OS_BARRIER_H
#define IPCKIT_OS_BARRIER_H

#include <stdbool.h>

/*
 * Register this process as one that others' barriers reach, once per
 * process (again in a forked child). True when it is registered: only then
 * may it publish without a fence. False where the kernel lacks the command
 * (before Linux 4.16) or a seccomp filter refuses it.
 */
bool ipckit__barrier_register(void);

/*
 * Make every CPU that runs a registered process pass a full barrier, and
 * the caller too. 0, or a negative errno when the kernel refuses (then the
 * caller cannot rely on any peer's stores being visible).
 */
int ipckit__barrier(void);

#endif /* IPCKIT_OS_BARRIER_H */
