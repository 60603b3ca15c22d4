/*
 * Fuzz target: the shm: ring and the region, attached to a shared-memory
 * object whose every byte comes from the fuzzer, as a hostile process with
 * write access could leave it. Attaching must refuse a bad header
 * (-EBADMSG, -EPROTO, -EINVAL) and operations on an accepted one must end
 * in a message, an error or a timeout; never a crash, an overread, a hang
 * past the timeout, or a message longer than the buffer.
 *
 * Input: byte 0 picks ring (even) or region (odd); the rest is the object,
 * zero-padded or cut to 8192 bytes (a 4096-byte header and the smallest
 * ring).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <ipckit/ipckit.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OBJ_SIZE 8192

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char obj[OBJ_SIZE];
    static char buf[OBJ_SIZE];
    char pname[64], name[80];
    ipckit_opts o = IPCKIT_OPTS_INIT;
    int fd;

    if (size == 0)
        return 0;
    memset(obj, 0, sizeof obj);
    memcpy(obj, data + 1, size - 1 < sizeof obj ? size - 1 : sizeof obj);
    snprintf(pname, sizeof pname, "/ipckit-fuzz.%ld", (long) getpid());
    snprintf(name, sizeof name, "shm:%s", pname);
    fd = shm_open(pname, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, obj, sizeof obj) != (ssize_t) sizeof obj)
        abort();
    (void) close(fd);
    o.open_timeout_ms = 0;

    if ((data[0] & 1) == 0) {
        ipckit_channel *ch = NULL;
        if (ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_RECV, &o) == 0) {
            for (int i = 0; i < 8; i++) {
                long type = 0;
                ssize_t n = ipckit_recv_typed(ch, 0, &type, buf, (i & 1) ? sizeof buf : 16, 0);
                if (n > (ssize_t) sizeof buf || (n >= 0 && type <= 0))
                    abort();
                if (n == -EAGAIN)
                    (void) ipckit_send_typed(ch, 3, "fuzz", 4, 0);
            }
            (void) ipckit_close(ch);
        }
    } else {
        ipckit_region *r = NULL;
        if (ipckit_region_open(&r, name, 0, 0, &o) == 0) {
            int rc = ipckit_region_lock(r, 0);
            /* the variable calls wait for the lock when they do not hold it */
            if (rc == 0 || rc == -EOWNERDEAD) {
                for (long key = 0; key < 4; key++) {
                    ssize_t n = ipckit_region_get(r, key, buf, sizeof buf);
                    if (n > (ssize_t) sizeof buf)
                        abort();
                    (void) ipckit_region_has(r, key);
                }
                (void) ipckit_region_put(r, 2, "value", 5);
                (void) ipckit_region_remove(r, 1);
                (void) ipckit_region_unlock(r);
            }
            (void) ipckit_region_close(r);
        }
    }
    (void) shm_unlink(pname);
    return 0;
}
