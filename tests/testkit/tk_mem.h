/*
 * "mem:", an in-memory backend written against the public backend
 * interface (<ipckit/backend.h>), for the tests of the core (test_core)
 * and the conformance suite (tests/conformance), which runs the channel
 * contract over it like over every built-in backend.
 *
 * Queues live in this process's memory, named by the target ("mem:q1"):
 * a channel opened before fork() keeps working in the child, on the
 * child's own copy. A queue holds at most TK_MEM_CAPACITY messages
 * (senders wait for room), a message at most TK_MEM_MAX_MSG bytes unless
 * opts->max_msg_size says otherwise. IPCKIT_CREATE makes a queue,
 * IPCKIT_EXCL refuses an existing one (-EEXIST); the name parameter "fail"
 * makes the open fail with -EACCES. It has selectors, no descriptor, no
 * stat and no ipckit_interrupt(). Not thread-safe: one thread per process
 * uses it.
 */
#ifndef IPCKIT_TK_MEM_H
#define IPCKIT_TK_MEM_H

#include <ipckit/ipckit.h>
#include <ipckit/backend.h>

#define TK_MEM_CAPACITY 4
#define TK_MEM_MAX_MSG 4096u

/* The table; register it with ipckit_backend_register(&tk_mem_backend). */
extern const ipckit_backend tk_mem_backend;

/* Opens that succeeded and closes, since the process started. */
extern int tk_mem_opens, tk_mem_closes;

/* Queues that exist now (ipckit_unlink() removes one). */
int tk_mem_queues(void);

#endif
