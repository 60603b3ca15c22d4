/*
 * ipckit: membarrier(2) for the shm: ring (barrier.h). Not installed.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <linux/membarrier.h>

#include "barrier.h"

/* The pid that registered, or 0: a forked child (another pid) registers
 * again, since nothing says that the registration goes with the copy. */
static _Atomic pid_t barrier_pid;

bool
ipckit__barrier_register(void)
{
    pid_t me = getpid();
    if (atomic_load_explicit(&barrier_pid, memory_order_relaxed) == me)
        return true;
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) != 0)
        return false;
    atomic_store_explicit(&barrier_pid, me, memory_order_relaxed);
    return true;
}

int
ipckit__barrier(void)
{
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) != 0)
        return -errno;
    return 0;
}
