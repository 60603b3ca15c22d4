/*
 * ipckit: the layout of a region (lib/region/region.c), shared with the
 * code that describes regions without mapping them (region_objects.c).
 * Not installed. The layout is a format shared between processes
 * (docs/backends/shm.md).
 */
#ifndef IPCKIT_REGION_FORMAT_H
#define IPCKIT_REGION_FORMAT_H

#include <stdalign.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "../os/shm_object.h"

#define REGION_MAGIC IPCKIT__SHMOBJ_REGION_MAGIC
#define REGION_VERSION 2u
#define REGION_HDR 4096u
#define REGION_SIZE_MAX ((size_t) 1 << 40)

#define STORE_MAGIC 0x53564b49u /* "IKVS" */
#define STORE_VERSION 1u
#define CHUNK 64u
#define CHUNK_PAYLOAD (CHUNK - 8u)

struct region_hdr {
    _Atomic uint32_t magic;
    uint32_t version;
    uint32_t hdr_size;
    int32_t creator_pid;
    uint64_t data_size;
    uint64_t total_size;
    uint64_t reserved0[2];
    uint64_t creator_start; /* IPCKIT__SHMOBJ_CREATOR_START_OFFSET */
    alignas(64) ipckit__lock lock;
};

_Static_assert(offsetof(struct region_hdr, creator_pid) == 12 &&
                   offsetof(struct region_hdr, creator_start) ==
                       IPCKIT__SHMOBJ_CREATOR_START_OFFSET &&
                   offsetof(struct region_hdr, lock) == 64,
               "region header layout");

_Static_assert(sizeof(struct region_hdr) <= REGION_HDR, "region header fits its page");

struct region_store {
    _Atomic uint32_t magic;
    uint32_t version;
    uint32_t nentries;
    uint32_t nchunks;
};

struct region_entry {
    _Atomic int64_t key;
    _Atomic uint64_t desc;
};

struct region_chunk {
    _Atomic uint32_t next; /* index + 1 of the next chunk; 0 ends the chain */
    _Atomic uint32_t sum;  /* head chunk: checksum of key, length and value */
    unsigned char payload[CHUNK_PAYLOAD];
};

/* Entries of the variable store of a data area of @p size bytes. */
static inline uint32_t
region_store_entries(size_t size)
{
    size_t n = size / 512;
    return (uint32_t) (n < 4 ? 4 : n > 65536 ? 65536 : n);
}

/* region_objects.c: what the region open at a descriptor holds, read with
 * pread() (nothing is mapped; any byte may be a peer's scribble). */
struct ipckit__region_peek {
    long long data_size; /* bytes of the data area */
    long long variables; /* variables of its variable store; -1: no store, or not read */
    long long bytes;     /* bytes of their values; -1 likewise */
    int holds;           /* 1 variables, or raw data not all zero; 0 nothing; -1 cannot tell */
    const char *why;     /* holds -1: why; else "" */
};

/*
 * Describe the region open at @p fd, @p size bytes long. Without @p full,
 * only the data size (holds -1: "not read"). Returns 0, or -EBADMSG when
 * the header does not match the size (out->why says so).
 */
int ipckit__region_peek(int fd, long long size, bool full, struct ipckit__region_peek *out);

#endif /* IPCKIT_REGION_FORMAT_H */
