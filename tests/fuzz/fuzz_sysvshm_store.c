/*
 * Fuzz target: the sysvshm: region attached to a System V segment whose
 * every byte comes from the fuzzer, as a hostile process with write access
 * could leave PHP's store (PHP's own extension trusts it). Opening must
 * refuse a bad header (-EBADMSG); on a store it accepts, every call must
 * end in a value, an error or -EBADMSG, never a crash or a read or write
 * outside the segment. The segment is exactly as large as the input: an
 * access beyond its last page faults, and a write into the rest of that
 * page (which the kernel gives zeroed) is caught below.
 *
 * Input: byte 0 picks the calls; the rest is the segment (1 to 16384
 * bytes).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#include <ipckit/ipckit.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEG_MAX 16384

static void
remove_objects(key_t key)
{
    int id = shmget(key, 0, 0);
    if (id >= 0)
        (void) shmctl(id, IPC_RMID, NULL);
    id = semget(key, 0, 0);
    if (id >= 0)
        (void) semctl(id, 0, IPC_RMID);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char buf[SEG_MAX];
    key_t key = (key_t) (int) (0x1e000000u | (((unsigned) getpid() & 0xffffu) << 8) | 1u);
    char name[64];
    size_t segsz;
    ipckit_region *r = NULL;
    int id;
    void *p;

    if (size == 0)
        return 0;
    segsz = size - 1 == 0 ? 1 : size - 1 > SEG_MAX ? SEG_MAX : size - 1;
    remove_objects(key);
    id = shmget(key, segsz, IPC_CREAT | IPC_EXCL | 0600);
    if (id < 0 || semget(key, 3, IPC_CREAT | IPC_EXCL | 0600) < 0)
        abort();
    p = shmat(id, NULL, 0);
    if (p == (void *) -1)
        abort();
    memcpy(p, data + 1, size - 1 < segsz ? size - 1 : segsz);
    (void) snprintf(name, sizeof name, "sysvshm:%#x", (unsigned) key);

    if (ipckit_region_open(&r, name, 0, 0, NULL) == 0) {
        unsigned ops = data[0];
        long keys[8];
        int rc = ipckit_region_lock(r, 0);
        if (rc != 0 && rc != -EOWNERDEAD)
            abort(); /* nobody else holds it */
        for (long k = -1; k < 4; k++) {
            ssize_t n = ipckit_region_get(r, k, buf, (ops & 1) ? sizeof buf : 8);
            if (n > (ssize_t) sizeof buf)
                abort();
            (void) ipckit_region_has(r, k);
        }
        if (ipckit_region_keys(r, keys, 8) > (ssize_t) segsz)
            abort();
        if (ops & 2) {
            if (ipckit_region_put(r, 2, "i:5;", 4) == 0) {
                /* what was put reads back */
                if (ipckit_region_get(r, 2, buf, sizeof buf) != 4 || memcmp(buf, "i:5;", 4) != 0)
                    abort();
            }
        }
        if (ops & 4)
            (void) ipckit_region_remove(r, (ops >> 4) & 3);
        if (ops & 8) {
            memset(buf, 'v', sizeof buf);
            (void) ipckit_region_put(r, 7, buf, (size_t) (ops * 13) % (segsz + 1));
        }
        (void) ipckit_region_unlock(r);
        (void) ipckit_region_close(r);
    }
    {
        long page = sysconf(_SC_PAGESIZE);
        size_t end = (segsz + (size_t) page - 1) / (size_t) page * (size_t) page;
        for (size_t i = segsz; i < end; i++)
            if (((const volatile unsigned char *) p)[i] != 0)
                abort(); /* written past the segment */
    }
    (void) shmdt(p);
    remove_objects(key);
    return 0;
}
