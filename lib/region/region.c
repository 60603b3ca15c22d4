/*
 * ipckit: shared-memory regions with a robust lock and variable slots.
 * See include/ipckit/region.h and docs/backends/shm.md.
 *
 * Object layout (POSIX shm, /dev/shm/NAME):
 *
 *   [0, 4096)          struct region_hdr: magic (published last), version,
 *                      sizes, the lock (a PI futex word, lib/os/lock.h)
 *   [4096, 4096+size)  the data area
 *
 * Variable store (inside the data area, formatted on first use):
 *
 *   struct region_store      magic, version, entry and chunk counts
 *   struct region_entry[n]   key + descriptor ((len << 32) | (head + 1); 0 = empty)
 *   uint64_t bitmap[]        chunks in use
 *   chunk[m]                 64 bytes: next + 1, checksum (head only), 56 bytes of value
 *
 * A put writes the value into free chunks, then commits with one atomic
 * store of the entry's descriptor, then frees the old chunks. A writer
 * killed at any point leaves either the old or the new descriptor, both
 * pointing at complete chains; at worst some chunks stay marked in use,
 * which the repair run by the next locker (-EOWNERDEAD) takes back by
 * rebuilding the bitmap from the entries. Every field read from the store is
 * checked against values derived from the validated region size.
 */
#include <errno.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <ipckit/region.h>

#include "region_format.h"
#include "sysvshm.h"

struct region_layout {
    uint32_t nentries, nchunks;
    size_t entries_off, bitmap_off, chunks_off;
};

struct ipckit_region {
    struct ipckit__sysvshm *php; /* a sysvshm: region (sysvshm.c); NULL for shm: */
    struct region_hdr *hdr;
    unsigned char *data;
    size_t data_size;
    size_t map_size;
    unsigned held_gen; /* ipckit__shmobj_fork_gen when this handle took the lock; 0: not held */
    char err[IPCKIT__DETAIL_MAX];
};

/* ---- errors ------------------------------------------------------------- */

static int
region_error(ipckit_region *r, int rc, const char *fmt, ...) IPCKIT_PRINTF(3, 4);

static int
region_error(ipckit_region *r, int rc, const char *fmt, ...)
{
    char buf[IPCKIT__DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    (void) vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    (void) ipckit__fail(rc, "%s", buf);
    if (r != NULL)
        memcpy(r->err, buf, sizeof r->err);
    return rc;
}

/* True when this handle holds the lock in this process (not in a parent
 * that forked us while holding it). */
static bool
region_held(const ipckit_region *r)
{
    return r->held_gen != 0 &&
           r->held_gen == atomic_load_explicit(&ipckit__shmobj_fork_gen, memory_order_relaxed);
}

/* ---- opening ------------------------------------------------------------ */

static int
region_init(void *base, size_t size, void *arg)
{
    struct region_hdr *h = base;
    (void) arg;
    h->version = REGION_VERSION;
    h->hdr_size = REGION_HDR;
    h->creator_pid = (int32_t) getpid();
    h->creator_start = ipckit__proc_start_time((long) getpid());
    h->total_size = size;
    h->data_size = size - REGION_HDR;
    atomic_store_explicit(&h->magic, REGION_MAGIC, memory_order_release);
    return 0;
}

static int
region_check(void *base, size_t size, void *arg)
{
    const struct region_hdr *h = base;
    size_t want = *(size_t *) arg;
    uint32_t magic;
    if (size < REGION_HDR)
        return size == 0 ? -EINPROGRESS
                         : ipckit__fail(-EBADMSG,
                                                "region: object of %zu bytes is too small to be"
                                                " a region",
                                                size);
    magic = atomic_load_explicit(&h->magic, memory_order_acquire);
    if (magic == 0)
        return -EINPROGRESS;
    if (magic != REGION_MAGIC)
        return ipckit__fail(-EBADMSG,
                                    "region: not an ipckit region (magic %#x, want %#x)", magic,
                                    REGION_MAGIC);
    if (h->version != REGION_VERSION)
        return ipckit__fail(-EPROTO,
                                    "region: layout version %u, this library speaks %u",
                                    h->version, REGION_VERSION);
    if (h->hdr_size != REGION_HDR || h->total_size != size || h->data_size != size - REGION_HDR)
        return ipckit__fail(-EBADMSG,
                                    "region: header sizes (header %u, total %llu, data %llu)"
                                    " do not match the object's %zu bytes",
                                    h->hdr_size, (unsigned long long) h->total_size,
                                    (unsigned long long) h->data_size, size);
    if (want != 0 && want != size - REGION_HDR)
        return ipckit__fail(-EINVAL,
                                    "region: exists with %zu bytes of data, not the %zu asked"
                                    " for",
                                    size - REGION_HDR, want);
    return 0;
}

int
ipckit_region_open(ipckit_region **out, const char *name, unsigned flags, size_t size,
                   const ipckit_opts *opts)
{
    ipckit_name *n = NULL;
    ipckit_opts o;
    struct ipckit__trust trust;
    ipckit_region *r;
    struct ipckit__shmobj_map m;
    struct timespec ts;
    const struct timespec *deadline;
    char pname[IPCKIT__SHMOBJ_NAME_MAX + 2];
    int rc;

    ipckit__detail_clear();
    if (out == NULL)
        return ipckit__fail(-EINVAL, "region: out is NULL");
    *out = NULL;
    if (flags & ~(unsigned) (IPCKIT_CREATE | IPCKIT_EXCL))
        return ipckit__fail(-EINVAL,
                                    "region: flags may only be IPCKIT_CREATE and IPCKIT_EXCL");
    if ((flags & IPCKIT_EXCL) && !(flags & IPCKIT_CREATE))
        return ipckit__fail(-EINVAL, "region: IPCKIT_EXCL needs IPCKIT_CREATE");
    if ((flags & IPCKIT_CREATE) && size == 0)
        return ipckit__fail(-EINVAL, "region: creating needs a size above 0");
    if (size > REGION_SIZE_MAX)
        return ipckit__fail(-EINVAL, "region: size %zu is above %zu", size,
                                    REGION_SIZE_MAX);
    rc = ipckit__opts_resolve(opts, &o);
    if (rc < 0)
        return rc;
    rc = ipckit_name_parse(name, &n);
    if (rc < 0)
        return rc;
    if (strcmp(ipckit_name_scheme(n), "sysvshm") == 0) {
        struct ipckit__sysvshm *php = NULL;
        rc = ipckit_name_check_params(n, ipckit__sysvshm_params);
        if (rc == 0)
            rc = ipckit__trust_merge(n, &o, &trust);
        if (rc == 0)
            rc = ipckit__sysvshm_open(&php, n, flags, size, &o);
        ipckit_name_free(n);
        if (rc < 0)
            return rc;
        r = calloc(1, sizeof *r);
        if (r == NULL) {
            (void) ipckit__sysvshm_close(php);
            return -ENOMEM;
        }
        r->php = php;
        *out = r;
        return 0;
    }
    if (strcmp(ipckit_name_scheme(n), "shm") != 0) {
        rc = ipckit__fail(-EINVAL,
                                  "region: \"%s\": a region is named shm:NAME (with no"
                                  " parameter but trust) or sysvshm:KEY",
                                  name);
        ipckit_name_free(n);
        return rc;
    }
    rc = ipckit_name_check_params(n, NULL);
    if (rc == 0)
        rc = ipckit__shmobj_posix_name(n, pname, sizeof pname);
    if (rc == 0)
        rc = ipckit__trust_merge(n, &o, &trust);
    ipckit_name_free(n);
    if (rc < 0)
        return rc;
    r = calloc(1, sizeof *r);
    if (r == NULL)
        return -ENOMEM;
    ipckit__shmobj_fork_watch();
    deadline = o.open_timeout_ms < 0 ? NULL : ipckit__deadline(o.open_timeout_ms, &ts);
    /* Round the object to whole pages; the data area is exactly size bytes. */
    rc = ipckit__shmobj_map(pname, flags, &o, REGION_HDR + size, region_init,
                           region_check, &size, deadline, &m);
    if (rc < 0) {
        free(r);
        return rc;
    }
    r->hdr = m.base;
    r->data = (unsigned char *) m.base + REGION_HDR;
    r->map_size = m.size;
    r->data_size = m.size - REGION_HDR;
    *out = r;
    return 0;
}

int
ipckit_region_close(ipckit_region *r)
{
    int rc = 0;
    if (r == NULL)
        return 0;
    if (r->php != NULL) {
        rc = ipckit__sysvshm_close(r->php);
        free(r);
        return rc;
    }
    if (region_held(r))
        (void) ipckit__lock_give(&r->hdr->lock);
    if (munmap(r->hdr, r->map_size) < 0)
        rc = -errno;
    free(r);
    return rc;
}

int
ipckit_region_unlink(const char *name)
{
    ipckit_name *n = NULL;
    char pname[IPCKIT__SHMOBJ_NAME_MAX + 2];
    int rc;
    ipckit__detail_clear();
    rc = ipckit_name_parse(name, &n);
    if (rc < 0)
        return rc;
    if (strcmp(ipckit_name_scheme(n), "sysvshm") == 0) {
        rc = ipckit__sysvshm_unlink(n);
        ipckit_name_free(n);
        return rc;
    }
    if (strcmp(ipckit_name_scheme(n), "shm") != 0)
        rc = ipckit__fail(-EINVAL, "region: \"%s\" is not a shm: or sysvshm: name", name);
    else
        rc = ipckit__shmobj_posix_name(n, pname, sizeof pname);
    ipckit_name_free(n);
    if (rc < 0)
        return rc;
    return ipckit__shmobj_unlink(pname, IPCKIT__SHMOBJ_REGION);
}

int
ipckit_region_sysv_keys(const char *name, key_t *shm_key, key_t *sem_key)
{
    ipckit_name *n = NULL;
    int rc;
    ipckit__detail_clear();
    if (shm_key == NULL || sem_key == NULL)
        return ipckit__fail(-EINVAL, "region: sysv_keys needs two key pointers");
    rc = ipckit_name_parse(name, &n);
    if (rc < 0)
        return rc;
    if (strcmp(ipckit_name_scheme(n), "sysvshm") != 0)
        rc = ipckit__fail(-EINVAL,
                          "region: \"%s\" is not a sysvshm: name (a shm: region has no System V"
                          " key)",
                          name);
    else
        rc = ipckit__sysvshm_name_keys(n, shm_key, sem_key);
    ipckit_name_free(n);
    return rc;
}

void *
ipckit_region_data(const ipckit_region *r)
{
    /* A sysvshm: region is all PHP's store: no raw data area. */
    return r == NULL || r->php != NULL ? NULL : r->data;
}

size_t
ipckit_region_size(const ipckit_region *r)
{
    if (r != NULL && r->php != NULL)
        return ipckit__sysvshm_size(r->php);
    return r == NULL ? 0 : r->data_size;
}

const char *
ipckit_region_last_error(const ipckit_region *r)
{
    if (r != NULL && r->php != NULL)
        return ipckit__sysvshm_last_error(r->php);
    return r == NULL ? "" : r->err;
}

/* ---- the variable store -------------------------------------------------- */

static void
region_layout(size_t size, struct region_layout *l)
{
    size_t rest, n;
    memset(l, 0, sizeof *l);
    l->nentries = region_store_entries(size);
    n = l->nentries;
    l->entries_off = sizeof(struct region_store);
    rest = size > l->entries_off + n * sizeof(struct region_entry)
               ? size - l->entries_off - n * sizeof(struct region_entry)
               : 0;
    /* each chunk costs CHUNK bytes plus one bit; keep 64 bytes of slack for
     * the bitmap's rounding and the chunks' alignment */
    rest = rest > 64 ? rest - 64 : 0;
    n = rest * 8 / (CHUNK * 8 + 1);
    if (n > UINT32_MAX - 1)
        n = UINT32_MAX - 1;
    l->nchunks = (uint32_t) n;
    l->bitmap_off = l->entries_off + (size_t) l->nentries * sizeof(struct region_entry);
    l->chunks_off = (l->bitmap_off + (n + 63) / 64 * 8 + 63) & ~(size_t) 63;
}

static struct region_entry *
store_entries(ipckit_region *r, const struct region_layout *l)
{
    return (struct region_entry *) (void *) (r->data + l->entries_off);
}

static _Atomic uint64_t *
store_bitmap(ipckit_region *r, const struct region_layout *l)
{
    return (_Atomic uint64_t *) (void *) (r->data + l->bitmap_off);
}

static struct region_chunk *
store_chunk(ipckit_region *r, const struct region_layout *l, uint32_t i)
{
    return (struct region_chunk *) (void *) (r->data + l->chunks_off + (size_t) i * CHUNK);
}

static bool
bit_get(_Atomic uint64_t *bm, uint32_t i)
{
    return (atomic_load_explicit(&bm[i / 64], memory_order_relaxed) >> (i % 64)) & 1u;
}

static void
bit_set(_Atomic uint64_t *bm, uint32_t i, bool on)
{
    uint64_t w = atomic_load_explicit(&bm[i / 64], memory_order_relaxed);
    w = on ? (w | (UINT64_C(1) << (i % 64))) : (w & ~(UINT64_C(1) << (i % 64)));
    atomic_store_explicit(&bm[i / 64], w, memory_order_relaxed);
}

static uint32_t
value_sum(long key, const unsigned char *v, size_t len)
{
    uint32_t h = 2166136261u;
    uint64_t k = (uint64_t) key, l = len;
    for (int i = 0; i < 8; i++) {
        h = (h ^ (uint8_t) (k >> (8 * i))) * 16777619u;
        h = (h ^ (uint8_t) (l >> (8 * i))) * 16777619u;
    }
    for (size_t i = 0; i < len; i++)
        h = (h ^ v[i]) * 16777619u;
    return h;
}

static size_t
chunks_for(size_t len)
{
    return len == 0 ? 1 : (len + CHUNK_PAYLOAD - 1) / CHUNK_PAYLOAD;
}

/* Validate the store's header; format it if it was never used. */
static int
store_ready(ipckit_region *r, struct region_layout *l)
{
    struct region_store *s = (struct region_store *) (void *) r->data;
    uint32_t magic;
    region_layout(r->data_size, l);
    if (r->data_size < l->chunks_off + CHUNK || l->nchunks == 0)
        return region_error(r, -ENOSPC,
                            "region: %zu bytes of data are too few for variables", r->data_size);
    magic = atomic_load_explicit(&s->magic, memory_order_acquire);
    if (magic == 0) {
        /* Never formatted (or a formatter died half-way: start again). */
        memset(r->data, 0, l->chunks_off);
        s->version = STORE_VERSION;
        s->nentries = l->nentries;
        s->nchunks = l->nchunks;
        atomic_store_explicit(&s->magic, STORE_MAGIC, memory_order_release);
        return 0;
    }
    if (magic != STORE_MAGIC)
        return region_error(r, -EBADMSG,
                            "region: the data area is not a variable store (magic %#x); it"
                            " was written through ipckit_region_data()",
                            magic);
    if (s->version != STORE_VERSION)
        return region_error(r, -EPROTO, "region: variable store version %u, want %u",
                            s->version, STORE_VERSION);
    if (s->nentries != l->nentries || s->nchunks != l->nchunks)
        return region_error(r, -EBADMSG,
                            "region: variable store header is corrupt (%u entries, %u chunks;"
                            " want %u, %u)",
                            s->nentries, s->nchunks, l->nentries, l->nchunks);
    return 0;
}

/* Decode a descriptor; false when it cannot be a valid chain head. */
static bool
desc_decode(const struct region_layout *l, uint64_t d, uint32_t *head, size_t *len)
{
    uint32_t h = (uint32_t) d;
    if (h == 0 || h > l->nchunks)
        return false;
    *head = h - 1;
    *len = (size_t) (d >> 32);
    return chunks_for(*len) <= l->nchunks;
}

/*
 * Walk the chain of a value: check every link and the checksum, and copy
 * the value into @p buf when it is not NULL. @p mark: NULL, or a bitmap in
 * which the chain's chunks must be free (they are not marked here).
 */
static bool
chain_check(ipckit_region *r, const struct region_layout *l, long key, uint64_t d,
            unsigned char *buf, _Atomic uint64_t *mark)
{
    uint32_t head, c;
    size_t len, left, need, i;
    uint32_t h = 2166136261u, want;
    uint64_t k = (uint64_t) key, ll;
    if (!desc_decode(l, d, &head, &len))
        return false;
    ll = len;
    for (int b = 0; b < 8; b++) {
        h = (h ^ (uint8_t) (k >> (8 * b))) * 16777619u;
        h = (h ^ (uint8_t) (ll >> (8 * b))) * 16777619u;
    }
    need = chunks_for(len);
    want = atomic_load_explicit(&store_chunk(r, l, head)->sum, memory_order_relaxed);
    c = head;
    left = len;
    for (i = 0; i < need; i++) {
        struct region_chunk *ch;
        uint32_t next;
        size_t n = left < CHUNK_PAYLOAD ? left : CHUNK_PAYLOAD;
        if (c >= l->nchunks || (mark != NULL && bit_get(mark, c)))
            return false;
        ch = store_chunk(r, l, c);
        for (size_t j = 0; j < n; j++)
            h = (h ^ ch->payload[j]) * 16777619u;
        if (buf != NULL)
            memcpy(buf + (len - left), ch->payload, n);
        left -= n;
        next = atomic_load_explicit(&ch->next, memory_order_relaxed);
        if (i + 1 == need)
            return next == 0 && h == want;
        if (next == 0 || next > l->nchunks)
            return false;
        c = next - 1;
    }
    return false;
}

static void
chain_mark(ipckit_region *r, const struct region_layout *l, uint64_t d, bool on)
{
    uint32_t head, c;
    size_t len, need;
    _Atomic uint64_t *bm = store_bitmap(r, l);
    if (!desc_decode(l, d, &head, &len))
        return;
    need = chunks_for(len);
    c = head;
    for (size_t i = 0; i < need && c < l->nchunks; i++) {
        uint32_t next = atomic_load_explicit(&store_chunk(r, l, c)->next, memory_order_relaxed);
        bit_set(bm, c, on);
        if (next == 0 || next > l->nchunks)
            break;
        c = next - 1;
    }
}

/*
 * After a holder died: drop entries whose chains are broken and rebuild the
 * bitmap from the surviving ones, taking back chunks that a killed put had
 * claimed but never committed.
 */
static void
store_repair(ipckit_region *r)
{
    struct region_layout l;
    struct region_store *s = (struct region_store *) (void *) r->data;
    struct region_entry *e;
    _Atomic uint64_t *bm;
    region_layout(r->data_size, &l);
    if (r->data_size < l.chunks_off + CHUNK || l.nchunks == 0 ||
        atomic_load_explicit(&s->magic, memory_order_acquire) != STORE_MAGIC ||
        s->version != STORE_VERSION || s->nentries != l.nentries || s->nchunks != l.nchunks)
        return;
    e = store_entries(r, &l);
    bm = store_bitmap(r, &l);
    for (uint32_t w = 0; w < (l.nchunks + 63) / 64; w++)
        atomic_store_explicit(&bm[w], 0, memory_order_relaxed);
    for (uint32_t i = 0; i < l.nentries; i++) {
        uint64_t d = atomic_load_explicit(&e[i].desc, memory_order_acquire);
        if (d == 0)
            continue;
        if (!chain_check(r, &l, (long) atomic_load(&e[i].key), d, NULL, bm)) {
            atomic_store_explicit(&e[i].desc, 0, memory_order_release);
            continue;
        }
        chain_mark(r, &l, d, true);
    }
}

/* ---- locking ------------------------------------------------------------- */

int
ipckit_region_lock(ipckit_region *r, int timeout_ms)
{
    struct timespec ts;
    const struct timespec *deadline;
    int rc;
    if (r == NULL)
        return -EINVAL;
    if (r->php != NULL)
        return ipckit__sysvshm_lock(r->php, timeout_ms);
    if (timeout_ms < -1)
        return region_error(r, -EINVAL, "region lock: timeout_ms %d is below -1", timeout_ms);
    if (region_held(r))
        return region_error(r, -EDEADLK, "region lock: this handle already holds the lock");
    deadline = ipckit__deadline(timeout_ms, &ts);
    rc = ipckit__lock_take(&r->hdr->lock, deadline);
    if (rc == 0 || rc == -EOWNERDEAD) {
        r->held_gen = atomic_load_explicit(&ipckit__shmobj_fork_gen, memory_order_relaxed);
        if (rc == -EOWNERDEAD) {
            store_repair(r);
            (void) region_error(r, rc,
                                "region lock: the previous holder died while holding the lock;"
                                " the data may be inconsistent");
        }
        return rc;
    }
    if (rc == -EAGAIN || rc == -ETIMEDOUT)
        return region_error(r, rc, "region lock: still held by another process after %d ms",
                            timeout_ms);
    if (rc == -EDEADLK)
        return region_error(r, rc, "region lock: this thread already holds it (another handle)");
    if (rc == -EBADMSG)
        return region_error(r, rc,
                            "region lock: the lock word holds a value no lock could (%#x): a"
                            " peer wrote over it",
                            (unsigned) atomic_load(&r->hdr->lock));
    return region_error(r, rc, "region lock: %s", ipckit_strerror(rc));
}

int
ipckit_region_unlock(ipckit_region *r)
{
    int rc;
    if (r == NULL)
        return -EINVAL;
    if (r->php != NULL)
        return ipckit__sysvshm_unlock(r->php);
    if (!region_held(r))
        return region_error(r, -EPERM, "region unlock: this handle does not hold the lock");
    rc = ipckit__lock_give(&r->hdr->lock);
    if (rc != 0) {
        r->held_gen = 0;
        return region_error(r, rc,
                            "region unlock: the lock word no longer names this thread (%#x):"
                            " a peer wrote over it, or another thread took this handle's lock",
                            (unsigned) atomic_load(&r->hdr->lock));
    }
    r->held_gen = 0;
    return 0;
}

/* Take the lock for one variable call unless the handle holds it already. */
static int
var_begin(ipckit_region *r, bool *took)
{
    int rc;
    *took = false;
    if (r == NULL)
        return -EINVAL;
    if (region_held(r))
        return 0;
    rc = ipckit_region_lock(r, IPCKIT_FOREVER);
    if (rc < 0 && rc != -EOWNERDEAD)
        return rc;
    *took = true;
    return 0;
}

static void
var_end(ipckit_region *r, bool took)
{
    if (took)
        (void) ipckit_region_unlock(r);
}

static struct region_entry *
var_find(ipckit_region *r, const struct region_layout *l, long key, uint64_t *desc)
{
    struct region_entry *e = store_entries(r, l);
    for (uint32_t i = 0; i < l->nentries; i++) {
        uint64_t d = atomic_load_explicit(&e[i].desc, memory_order_acquire);
        if (d != 0 && atomic_load_explicit(&e[i].key, memory_order_relaxed) == (int64_t) key) {
            *desc = d;
            return &e[i];
        }
    }
    return NULL;
}

static int
var_put_locked(ipckit_region *r, long key, const unsigned char *val, size_t len)
{
    struct region_layout l;
    struct region_entry *e, *ents;
    _Atomic uint64_t *bm;
    uint64_t old = 0, d;
    uint32_t prev = UINT32_MAX, head = 0;
    size_t need, got = 0, left = len;
    int rc = store_ready(r, &l);
    if (rc < 0)
        return rc;
    if (len > UINT32_MAX)
        return region_error(r, -EINVAL, "region put: value of %zu bytes is too large", len);
    need = chunks_for(len);
    ents = store_entries(r, &l);
    bm = store_bitmap(r, &l);
    e = var_find(r, &l, key, &old);
    if (e == NULL) {
        for (uint32_t i = 0; i < l.nentries && e == NULL; i++)
            if (atomic_load_explicit(&ents[i].desc, memory_order_relaxed) == 0)
                e = &ents[i];
        if (e == NULL)
            return region_error(r, -ENOSPC, "region put: all %u variable slots are in use",
                                l.nentries);
    }
    for (uint32_t c = 0; c < l.nchunks && got < need; c++)
        if (!bit_get(bm, c))
            got++;
    if (got < need)
        return region_error(r, -ENOSPC,
                            "region put: a value of %zu bytes needs %zu free chunks, %zu left",
                            len, need, got);
    /* Claim and fill the new chain, linking it from its tail. */
    got = 0;
    for (uint32_t c = 0; c < l.nchunks && got < need; c++) {
        struct region_chunk *ch;
        size_t n = left < CHUNK_PAYLOAD ? left : CHUNK_PAYLOAD;
        if (bit_get(bm, c))
            continue;
        bit_set(bm, c, true);
        ch = store_chunk(r, &l, c);
        memcpy(ch->payload, val + (len - left), n);
        atomic_store_explicit(&ch->next, 0, memory_order_relaxed);
        atomic_store_explicit(&ch->sum, 0, memory_order_relaxed);
        if (prev == UINT32_MAX)
            head = c;
        else
            atomic_store_explicit(&store_chunk(r, &l, prev)->next, c + 1, memory_order_relaxed);
        prev = c;
        left -= n;
        got++;
    }
    atomic_store_explicit(&store_chunk(r, &l, head)->sum, value_sum(key, val, len),
                          memory_order_relaxed);
    d = ((uint64_t) len << 32) | (uint64_t) (head + 1);
    if (old == 0)
        atomic_store_explicit(&e->key, (int64_t) key, memory_order_relaxed);
    /* The commit: one atomic store publishes the complete new chain. */
    atomic_store_explicit(&e->desc, d, memory_order_release);
    if (old != 0)
        chain_mark(r, &l, old, false);
    return 0;
}

int
ipckit_region_put(ipckit_region *r, long key, const void *val, size_t len)
{
    bool took;
    int rc;
    if (r != NULL && r->php != NULL)
        return ipckit__sysvshm_put(r->php, key, val, len);
    if (val == NULL && len > 0)
        return region_error(r, -EINVAL, "region put: NULL value with length %zu", len);
    rc = var_begin(r, &took);
    if (rc < 0)
        return rc;
    rc = var_put_locked(r, key, val, len);
    var_end(r, took);
    return rc;
}

ssize_t
ipckit_region_get(ipckit_region *r, long key, void *buf, size_t cap)
{
    struct region_layout l;
    uint64_t d = 0;
    uint32_t head;
    size_t len;
    bool took;
    ssize_t rc;
    if (r != NULL && r->php != NULL)
        return ipckit__sysvshm_get(r->php, key, buf, cap);
    rc = var_begin(r, &took);
    if (rc < 0)
        return rc;
    rc = store_ready(r, &l);
    if (rc == 0) {
        if (var_find(r, &l, key, &d) == NULL) {
            rc = region_error(r, -ENOENT, "region get: no variable %ld", key);
        } else if (!desc_decode(&l, d, &head, &len)) {
            rc = region_error(r, -EBADMSG, "region get: variable %ld has a corrupt slot", key);
        } else if (len > cap) {
            rc = region_error(r, -EMSGSIZE,
                              "region get: variable %ld has %zu bytes, the buffer %zu", key, len,
                              cap);
        } else if (len > 0 && buf == NULL) {
            rc = region_error(r, -EINVAL, "region get: NULL buffer");
        } else if (!chain_check(r, &l, key, d, buf, NULL)) {
            rc = region_error(r, -EBADMSG, "region get: variable %ld has a corrupt slot", key);
        } else {
            rc = (ssize_t) len;
        }
    }
    var_end(r, took);
    return rc;
}

int
ipckit_region_has(ipckit_region *r, long key)
{
    struct region_layout l;
    uint64_t d;
    bool took;
    int rc;
    if (r != NULL && r->php != NULL)
        return ipckit__sysvshm_has(r->php, key);
    rc = var_begin(r, &took);
    if (rc < 0)
        return rc;
    rc = store_ready(r, &l);
    if (rc == 0)
        rc = var_find(r, &l, key, &d) != NULL;
    var_end(r, took);
    return rc;
}

int
ipckit_region_remove(ipckit_region *r, long key)
{
    struct region_layout l;
    struct region_entry *e;
    uint64_t d = 0;
    bool took;
    int rc;
    if (r != NULL && r->php != NULL)
        return ipckit__sysvshm_remove(r->php, key);
    rc = var_begin(r, &took);
    if (rc < 0)
        return rc;
    rc = store_ready(r, &l);
    if (rc == 0) {
        e = var_find(r, &l, key, &d);
        if (e == NULL) {
            rc = region_error(r, -ENOENT, "region remove: no variable %ld", key);
        } else {
            atomic_store_explicit(&e->desc, 0, memory_order_release);
            chain_mark(r, &l, d, false);
        }
    }
    var_end(r, took);
    return rc;
}

ssize_t
ipckit_region_keys(ipckit_region *r, long *keys, size_t cap)
{
    struct region_layout l;
    struct region_entry *e;
    bool took;
    ssize_t rc;
    if (r == NULL || (keys == NULL && cap > 0))
        return -EINVAL;
    if (r->php != NULL)
        return ipckit__sysvshm_keys(r->php, keys, cap);
    rc = var_begin(r, &took);
    if (rc < 0)
        return rc;
    rc = store_ready(r, &l);
    if (rc == 0) {
        size_t n = 0;
        e = store_entries(r, &l);
        for (uint32_t i = 0; i < l.nentries; i++) {
            if (atomic_load_explicit(&e[i].desc, memory_order_acquire) == 0)
                continue;
            if (n < cap)
                keys[n] = (long) atomic_load_explicit(&e[i].key, memory_order_relaxed);
            n++;
        }
        rc = (ssize_t) n;
    }
    var_end(r, took);
    return rc;
}
