/*
 * ipckit: what a region holds, read without mapping it, for the
 * description of shm: objects (lib/backends/shm_objects.c): its data size
 * from the header; the variables of its variable store, counted from the
 * entries, with the bytes of their values; or, when the data area is no
 * variable store (ipckit_region_data() used raw), whether any byte of it is
 * not zero. Everything is read with pread() and trusted in nothing: any
 * user who may write the object may have scribbled on it.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "region_format.h"

/* 1 when a byte of [@p from, @p to) of @p fd is not zero, 0 when none is,
 * -1 on error. Holes read as zero and are skipped (SEEK_DATA); the rest is
 * read 16 KiB at a time, stopping at the first byte that is not zero. */
static int
region_any_nonzero(int fd, off_t from, off_t to)
{
    unsigned char buf[16384];
    off_t at = from;
    while (at < to) {
        off_t data = lseek(fd, at, SEEK_DATA), end;
        if (data < 0)
            return errno == ENXIO ? 0 : -1; /* ENXIO: only holes from here */
        if (data >= to)
            return 0;
        end = lseek(fd, data, SEEK_HOLE);
        if (end < 0 || end > to)
            end = to;
        for (at = data; at < end;) {
            size_t want = (size_t) (end - at) < sizeof buf ? (size_t) (end - at) : sizeof buf;
            ssize_t n = pread(fd, buf, want, at);
            if (n <= 0)
                return -1;
            for (ssize_t i = 0; i < n; i++)
                if (buf[i] != 0)
                    return 1;
            at += n;
        }
    }
    return 0;
}

/* The variables of the store of @p nentries entries: 0, or -1 when the
 * entries cannot be read. */
static int
region_count(int fd, uint32_t nentries, long long *vars, long long *bytes)
{
    unsigned char e[256 * sizeof(struct region_entry)];
    *vars = *bytes = 0;
    for (uint32_t i = 0; i < nentries;) {
        uint32_t k = nentries - i < 256 ? nentries - i : 256;
        size_t len = (size_t) k * sizeof(struct region_entry);
        off_t at = (off_t) REGION_HDR + (off_t) sizeof(struct region_store) +
                   (off_t) i * (off_t) sizeof(struct region_entry);
        if (pread(fd, e, len, at) != (ssize_t) len)
            return -1;
        for (uint32_t j = 0; j < k; j++) {
            uint64_t d;
            memcpy(&d, e + (size_t) j * sizeof(struct region_entry) +
                           offsetof(struct region_entry, desc),
                   sizeof d);
            if (d != 0) {
                ++*vars;
                *bytes += (long long) (d >> 32);
            }
        }
        i += k;
    }
    return 0;
}

int
ipckit__region_peek(int fd, long long size, bool full, struct ipckit__region_peek *out)
{
    unsigned char b[sizeof(struct region_store)];
    uint32_t magic, version, nentries;
    uint64_t dsize;
    int r;

    out->data_size = out->variables = out->bytes = -1;
    out->holds = -1;
    out->why = "";
    if (size < (long long) REGION_HDR ||
        pread(fd, &dsize, sizeof dsize, offsetof(struct region_hdr, data_size)) !=
            (ssize_t) sizeof dsize ||
        dsize != (uint64_t) size - REGION_HDR) {
        out->why = "its header does not match its size";
        return -EBADMSG;
    }
    out->data_size = (long long) dsize;
    if (!full) {
        out->why = "not read";
        return 0;
    }
    /* a variable store: the magic, version 1, and the entry count the
     * library gives a store of this size */
    if (dsize >= sizeof b && pread(fd, b, sizeof b, REGION_HDR) == (ssize_t) sizeof b) {
        memcpy(&magic, b + offsetof(struct region_store, magic), sizeof magic);
        memcpy(&version, b + offsetof(struct region_store, version), sizeof version);
        memcpy(&nentries, b + offsetof(struct region_store, nentries), sizeof nentries);
        if (magic == STORE_MAGIC && version == STORE_VERSION &&
            nentries == region_store_entries((size_t) dsize) &&
            sizeof b + (uint64_t) nentries * sizeof(struct region_entry) <= dsize) {
            if (region_count(fd, nentries, &out->variables, &out->bytes) < 0) {
                out->variables = out->bytes = -1;
                out->why = "its variable store cannot be read";
                return 0;
            }
            out->holds = out->variables > 0 || out->bytes > 0;
            return 0;
        }
    }
    /* raw data: it holds state when a byte of it is not zero */
    r = region_any_nonzero(fd, REGION_HDR, (off_t) size);
    if (r < 0)
        out->why = "its data area cannot be read";
    else
        out->holds = r;
    return 0;
}
