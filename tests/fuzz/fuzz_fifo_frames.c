/*
 * Fuzz target: the fifo: frame decoder, fed through a real FIFO as a hostile
 * foreign writer would feed it. Whatever the bytes, every receive must end in
 * a message (of at most the buffer's size), -EBADMSG (a message discarded),
 * -EPROTO (the framing lost), -EMSGSIZE or -EPIPE; never a crash, an
 * overread, a hang or a leak.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ipckit/ipckit.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], path[128], name[160];

static void
cleanup(void)
{
    /* ipckit_unlink, not unlink: it removes the FIFO's creator record too */
    (void) ipckit_unlink(name);
    (void) rmdir(dir);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char buf[1 << 17];
    ipckit_opts o = IPCKIT_OPTS_INIT;
    ipckit_channel *rx = NULL;
    int fd;

    if (dir[0] == '\0') {
        snprintf(dir, sizeof dir, "/tmp/ipckit-fuzz.XXXXXX");
        if (mkdtemp(dir) == NULL)
            abort();
        snprintf(path, sizeof path, "%s/frames.pipe", dir);
        snprintf(name, sizeof name, "fifo:%s", path);
        atexit(cleanup);
    }
    if (size > 60000)
        size = 60000; /* fits the pipe: one write, then EOF */
    o.max_msg_size = 100000;
    if (ipckit_open(&rx, name, IPCKIT_RECV | IPCKIT_CREATE, &o) < 0)
        abort();
    fd = open(path, O_WRONLY | O_NONBLOCK);
    if (fd < 0 || write(fd, data, size) != (ssize_t) size)
        abort();
    (void) close(fd);
    for (int i = 0; i < 100000; i++) {
        /* alternate buffer sizes so that -EMSGSIZE paths run too, and
         * receives that wait (large whole frames go straight into the
         * buffer; the writer is gone, so they end) with ones that do not */
        size_t cap = (i & 1) ? sizeof buf : 64;
        int timeout = (i & 2) ? -1 : 0;
        long type = 0;
        ssize_t n = ipckit_recv_typed(rx, 0, &type, buf, cap, timeout);
        if (n >= 0) {
            if ((size_t) n > cap || type <= 0)
                abort();
            continue;
        }
        if (n == -EMSGSIZE) {
            if (cap == sizeof buf)
                abort(); /* nothing under max_msg_size is larger than buf */
            continue;
        }
        if (n == -EBADMSG)
            continue; /* one message discarded: the channel goes on */
        if (n == -EPIPE || n == -EPROTO)
            break;
        abort(); /* -EAGAIN would mean a hang: the writer is gone */
    }
    (void) ipckit_close(rx);
    return 0;
}
