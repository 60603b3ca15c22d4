/*
 * ipckit test kit: scratch names, multi-process helpers and the per-test
 * leak check shared by every Check suite.
 *
 * Objects a test creates must use tk_path(), tk_name(), tk_sysv_key() or
 * tk_posix_name(): the leak check at the end of each test (tk_fixture)
 * fails the test if any of them is still there, if a creator record of one
 * of them (or one written by the test's own process) is left in /dev/shm,
 * or if the test left a file descriptor open.
 */
#ifndef IPCKIT_TESTKIT_H
#define IPCKIT_TESTKIT_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

/* The scratch directory of this test process (created on first use). */
const char *tk_dir(void);

/* "<tk_dir>/<leaf>" */
void tk_path(char *buf, size_t cap, const char *leaf);

/* "<scheme>:<tk_dir>/<leaf>" */
void tk_name(char *buf, size_t cap, const char *scheme, const char *leaf);

/* A System V key unique to this test process: 0x1c<pid:16><n:8>. */
key_t tk_sysv_key(void);

/* "/ipckit-test.<pid>.<n>": a POSIX shm or mqueue name the leak check knows. */
void tk_posix_name(char *buf, size_t cap);

/*
 * Creator records (/dev/shm/ipckit-creator.*) of the object behind an
 * ipckit name (mq:, posixmq:, fifo:), found by the object's identity.
 * tk_record_path: 0 and the record's path, or a negative errno when the
 * object does not exist. tk_record_pid: the creator pid written in the
 * record, -1 if there is no record, -2 if it does not parse.
 */
int tk_record_path(const char *name, char *buf, size_t cap);
long tk_record_pid(const char *name);

/*
 * Check that the record of @p name (created by this process) is trusted,
 * then that each of these versions of it is not (ipckit_stat_name() gives a
 * creator_pid of -1). With TK_REC_FORMAT in @p what, the faults of any
 * record: short, without its newline, with a second line or a field more,
 * empty, with a uid that is not its file's owner, a symbolic link to a good
 * copy, a directory. With TK_REC_IDENTS, the record with each of @p idents
 * (NULL-ended pairs of a field and a value to put in it: the object's
 * identity, which only the backend's own suite knows) changed. Leaves the
 * good record in place.
 */
enum { TK_REC_FORMAT = 1u << 0, TK_REC_IDENTS = 1u << 1 };
void tk_check_record_refusals(const char *name, const char *const *idents, unsigned what);

/* How many creator records the leak check would blame on this test now. */
int tk_count_records(void);

/* Create @p path exclusively with @p text as its content, owned by @p owner
 * (needs root for another owner). 0 or a negative errno. */
int tk_plant(const char *path, const char *text, uid_t owner);

/* Read at most @p cap - 1 bytes of @p path into @p buf, NUL-terminated.
 * Returns the length or a negative errno. */
ssize_t tk_read_file(const char *path, char *buf, size_t cap);

/* Add the leak check (setup + teardown) to a test case. */
void tk_fixture(TCase *tc);

/* Create a test case with the leak check and a timeout in seconds. */
TCase *tk_tcase(const char *name, double timeout_s);

/* Run a suite (fork mode), print the summary, return the process exit code. */
int tk_run(Suite *s);

/* Fork; the child runs fn(arg) and exits with its return value. */
pid_t tk_fork(int (*fn)(void *arg), void *arg);

/*
 * Wait for @p pid at most @p timeout_ms (-1: forever). Returns its exit
 * status (0..255), 128 + signal if it was killed, or -1 on timeout, after
 * which the child has been killed and reaped.
 */
int tk_wait(pid_t pid, int timeout_ms);

/* Deterministic content for a test message: @p len bytes derived from
 * (@p a, @p b), so that a receiver can check every byte it got. */
void tk_fill(unsigned char *p, size_t len, uint32_t a, uint32_t b);

/* A test message that a receiver can check whole: a header of writer @p w,
 * number @p s and generation @p gen (TK_MSG_HDR bytes), then tk_fill()
 * bytes; its length, TK_MSG_HDR to TK_MSG_MAX, follows from (w, s).
 * tk_msg_make() writes one into @p buf (TK_MSG_MAX bytes) and returns its
 * length; tk_msg_ok() returns 1 when @p n bytes are such a message, whole,
 * with its header fields. */
#define TK_MSG_HDR 12
#define TK_MSG_MAX 600
size_t tk_msg_make(unsigned char *buf, uint32_t w, uint32_t s, uint32_t gen);
int tk_msg_ok(const unsigned char *buf, size_t n, uint32_t *w, uint32_t *s, uint32_t *gen);

/* Milliseconds of CLOCK_MONOTONIC. */
long long tk_now_ms(void);

/* CPU time (user + system) of this process in microseconds. */
long long tk_cpu_us(void);

/* In a forked child: report and exit 99 unless cond holds. */
#define TK_CHILD_CHECK(cond)                                                             \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: child check failed: %s\n", __FILE__, __LINE__, #cond); \
            _exit(99);                                                                   \
        }                                                                                \
    } while (0)

/* A one-shot, one-way signal between processes (a pipe): one process opens
 * the gate, another waits for it. Use two gates for a round trip; a process
 * that both opens and waits on one gate may read its own byte. */
typedef struct {
    int fd[2];
} tk_gate;
void tk_gate_init(tk_gate *g);
void tk_gate_open(tk_gate *g);              /* writer side: let the waiter go */
int tk_gate_wait(tk_gate *g, int timeout_ms); /* 0, or -1 on timeout */
void tk_gate_close(tk_gate *g);

#endif
