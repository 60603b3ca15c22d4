/*
 * ipckit backend "fifo:": a channel's state, shared by the opening side
 * (fifo.c) and the frames (fifo_frames.c). Not installed; nothing here is
 * exported.
 */
#ifndef IPCKIT_BACKENDS_FIFO_H
#define IPCKIT_BACKENDS_FIFO_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/types.h>

struct fifo {
    int fd;
    int idle_fd;          /* reader: its own write end, held after -EPIPE, or -1 */
    int bfd;              /* writer: a blocking write end of the same FIFO, for sends
                             that wait as long as needed (one write(), as a raw
                             writer's); -1 without /proc */
    int waker;            /* IPCKIT_OPT_INTERRUPTIBLE: ipckit_waker_open(); else -1 */
    bool reader;
    bool stream;
    bool broken;          /* framing lost: every recv fails with -EPROTO */
    bool sigpipe_ignored; /* writer: SIGPIPE was SIG_IGN at open */
    bool claim;           /* writer: ?claim=1, the FIFO's one writer: a large message
                             that may wait as long as needed is one whole frame */
    uint64_t token;       /* writer with a claim: opens and closes its whole frames */
    off_t mark;           /* writer without a claim: the byte it holds a write lock
                             on, so that no claim is granted while it writes; or -1 */
    size_t pipe_size;     /* writer: the pipe's size as last seen or set */
    bool pipe_fixed;      /* writer: the size is the caller's (capacity), or growing
                             it failed once: left alone */
    dev_t dev;            /* the FIFO's inode, as opened */
    ino_t ino;
    size_t max_msg;
    /* reader: bytes read from the pipe, not yet parsed */
    unsigned char *rbuf;
    size_t rcap, head, tail;
    /* reader: a large message being assembled from its frames */
    unsigned char *abuf;
    size_t acap, alen, atotal;
    int64_t atype;
    bool aactive, aready;
    bool askip;  /* skipping the rest of a message already reported as discarded */
    bool orphan; /* skipping frames whose message began unseen; reported */
    /* reader: whole frames (a claimed writer's large messages) */
    uint64_t skip; /* bytes of a discarded whole frame still to drop */
    bool big;      /* the last message was a large whole frame, read straight into
                      the caller's buffer: read only what the next header needs */
    size_t rsize;  /* bytes the last message took in the pipe */
    bool rframes;  /* ... in several frames (a message above 4080 bytes, unclaimed) */
    /* reader, messages of 2-16 KiB in one frame: read one at a time while
     * the pipe holds little at each read (a writer on another CPU), else
     * as far as the buffer goes (fifo_frames.c, fifo_read_size()) */
    bool rone;
    unsigned rsmall; /* reads in a row that found little in the pipe */
    unsigned rprobe; /* one-message reads left before the next full one */
    char path[PATH_MAX];
};

/* fifo.c: the parameters a fifo: name may have ("stream", "claim"). */
extern const char *const ipckit__fifo_params[];

/* fifo.c: the write end a reader holds after the end of the stream. */
int ipckit__fifo_idle_hold(struct fifo *f);
void ipckit__fifo_idle_release(struct fifo *f);

/* fifo_frames.c: the backend's send and recv. */
int ipckit__fifo_send(void *state, long type, const void *buf, size_t len,
                      const struct timespec *deadline);
ssize_t ipckit__fifo_recv(void *state, long selector, long *type, void *buf, size_t cap,
                          const struct timespec *deadline);

#endif
