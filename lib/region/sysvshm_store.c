/*
 * ipckit: the sysvshm: region's store, PHP's variables in the segment
 * (sysvshm.c describes the layout and the rules): each field read once
 * and checked, the whole chain walked on every call, and every update
 * made so that the chain is complete at every instant.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <ipckit/region.h>

#include "sysvshm_int.h"

/* ---- reading and writing the segment ----------------------------------------------- */

/* One 64-bit field at @p off (which the caller checked: off + 8 <= size). */
static int64_t
rd64(const struct ipckit__sysvshm *s, int64_t off)
{
    unsigned char b[8];
    int64_t v;
    for (int i = 0; i < 8; i++)
        b[i] = s->base[off + i];
    memcpy(&v, b, sizeof v);
    return v;
}

void
ipckit__sysvshm_wr64(struct ipckit__sysvshm *s, int64_t off, int64_t v)
{
    /* The header fields are 8-byte aligned (shmat() gives a page); one
     * store each, so that a holder killed at any point leaves either the
     * old or the new value of a field. */
    if (off % 8 == 0) {
        *(volatile int64_t *) (void *) (s->base + off) = v;
    } else {
        unsigned char b[8];
        memcpy(b, &v, sizeof b);
        for (int i = 0; i < 8; i++)
            s->base[off + i] = b[i];
    }
}

/* The compiler keeps the order of the steps of an update. */
static void
step(void)
{
    atomic_thread_fence(memory_order_seq_cst);
}

static unsigned char *
raw(struct ipckit__sysvshm *s, int64_t off)
{
    return (unsigned char *) (uintptr_t) (s->base + off);
}

/* PHP's space for a variable of @p len bytes (len <= INT64_MAX - 40). */
static int64_t
chunk_size(int64_t len)
{
    return ((len + PHP_CHUNK_SIZEOF - 1) / 8) * 8 + 8;
}

bool
ipckit__sysvshm_magic_ok(const struct ipckit__sysvshm *s)
{
    static const char want[7] = "PHP_SM";
    for (int i = 0; i < 7; i++)
        if (s->base[i] != (unsigned char) want[i])
            return false;
    return true;
}

bool
ipckit__sysvshm_header_zero(const struct ipckit__sysvshm *s)
{
    for (int64_t i = 0; i < PHP_HEAD; i++)
        if (s->base[i] != 0)
            return false;
    return true;
}

/* Set up an empty store, as shm_attach() does for a new segment, but with
 * the magic written last: a PHP process that attaches meanwhile sees no
 * magic (and sets the store up the same way) or a complete header. */
void
ipckit__sysvshm_store_init(struct ipckit__sysvshm *s)
{
    static const char magic[8] = "PHP_SM";
    ipckit__sysvshm_wr64(s, OFF_START, PHP_HEAD);
    ipckit__sysvshm_wr64(s, OFF_END, PHP_HEAD);
    ipckit__sysvshm_wr64(s, OFF_TOTAL, (int64_t) s->size);
    ipckit__sysvshm_wr64(s, OFF_FREE, (int64_t) s->size - PHP_HEAD);
    step();
    for (int i = 0; i < 8; i++)
        s->base[i] = (unsigned char) magic[i];
}

/*
 * Read and check the header and the whole chain, looking for @p key when
 * @p find. Returns 0 with @p st filled, or -EBADMSG with a detail. With
 * @p cut_ok, free may be below total - end (an update that was cut off);
 * otherwise it must be exactly total - end.
 */
int
ipckit__sysvshm_store_read(struct ipckit__sysvshm *s, bool find, long key, bool cut_ok,
                           struct store *st)
{
    int64_t start, pos;
    const char *what = "store";
    if (!ipckit__sysvshm_magic_ok(s)) {
        char m[8];
        for (int i = 0; i < 7; i++) {
            unsigned char c = s->base[i];
            m[i] = c >= 0x20 && c < 0x7f ? (char) c : '?';
        }
        m[7] = '\0';
        return ipckit__sysvshm_error(s, -EBADMSG,
                                     "sysvshm: segment %#x is not PHP's: its magic is \"%s\", not"
                                     " \"PHP_SM\"",
                                     (unsigned) s->shmkey, m);
    }
    start = rd64(s, OFF_START);
    st->end = rd64(s, OFF_END);
    st->free = rd64(s, OFF_FREE);
    st->total = rd64(s, OFF_TOTAL);
    st->count = st->used = 0;
    st->found = -1;
    st->flen = st->fnext = st->nfound = 0;
    if (start != PHP_HEAD || st->total < PHP_HEAD || (uint64_t) st->total > s->size ||
        st->end < start || st->end > st->total || st->free < 0 ||
        st->free > st->total - st->end || (!cut_ok && st->free != st->total - st->end))
        return ipckit__sysvshm_error(
            s, -EBADMSG,
            "sysvshm: segment %#x: corrupt %s header (start %lld, end %lld,"
            " free %lld, total %lld; the segment has %zu bytes)",
            (unsigned) s->shmkey, what, (long long) start, (long long) st->end,
            (long long) st->free, (long long) st->total, s->size);
    for (pos = start; pos < st->end;) {
        int64_t k, len, next;
        if (st->end - pos < PHP_CHUNK_HEAD)
            return ipckit__sysvshm_error(
                s, -EBADMSG,
                "sysvshm: segment %#x: corrupt store: the variable at offset"
                " %lld is cut off by the end at %lld",
                (unsigned) s->shmkey, (long long) pos, (long long) st->end);
        k = rd64(s, pos);
        len = rd64(s, pos + 8);
        next = rd64(s, pos + 16);
        if (len < 0 || len > st->end - pos - PHP_CHUNK_HEAD || next != chunk_size(len) ||
            next > st->end - pos)
            return ipckit__sysvshm_error(
                s, -EBADMSG,
                "sysvshm: segment %#x: corrupt store: the variable at offset"
                " %lld has length %lld and next %lld (want %lld), and %lld"
                " bytes remain",
                (unsigned) s->shmkey, (long long) pos, (long long) len, (long long) next,
                len >= 0 && len <= st->total ? (long long) chunk_size(len) : -1LL,
                (long long) (st->end - pos));
        if (find && k == (int64_t) key && st->nfound++ == 0) {
            st->found = pos;
            st->flen = len;
            st->fnext = next;
        }
        st->count++;
        st->used += len;
        pos += next;
    }
    return 0;
}

/* ---- variables ---------------------------------------------------------------------------- */

/*
 * A store that holds @p key twice, which PHP never writes (its put removes
 * the old variable first): which one is the value cannot be told, so get
 * and has refuse it; put and remove take away every copy, which repairs it.
 */
static int
store_dup(struct ipckit__sysvshm *s, const char *what, long key, const struct store *st)
{
    return ipckit__sysvshm_error(s, -EBADMSG,
                                 "sysvshm %s: segment %#x: corrupt store: variable %ld is there"
                                 " %lld times (put or remove it to repair the store)",
                                 what, (unsigned) s->shmkey, key, (long long) st->nfound);
}

/*
 * Remove the variable at @p pos (@p next bytes) from a store whose end is
 * @p end: the chain is cut before it, the variables after it are moved
 * down, then the end is set past them. free is left as it was (now below
 * total - end) for the caller to set when its update is complete.
 * Returns the new end.
 */
static int64_t
store_cut(struct ipckit__sysvshm *s, int64_t end, int64_t pos, int64_t next)
{
    int64_t tail = end - pos - next;
    ipckit__sysvshm_wr64(s, OFF_END, pos);
    step();
    if (tail > 0)
        memmove(raw(s, pos), raw(s, pos + next), (size_t) tail);
    step();
    ipckit__sysvshm_wr64(s, OFF_END, pos + tail);
    step();
    return pos + tail;
}

/*
 * Cut every variable of @p key out of the store @p st (read with that key),
 * a corrupt store holding more than one; the new end in @p end_out. free
 * is left for the caller, as store_cut() leaves it.
 */
static int
store_cut_key(struct ipckit__sysvshm *s, long key, struct store *st, int64_t *end_out)
{
    int64_t end = st->end;
    while (st->found >= 0) {
        end = store_cut(s, end, st->found, st->fnext);
        if (st->nfound == 1)
            break;
        int rc = ipckit__sysvshm_store_read(s, true, key, true, st);
        if (rc < 0)
            return rc;
        end = st->end;
    }
    *end_out = end;
    return 0;
}

static int
var_put_locked(struct ipckit__sysvshm *s, long key, const void *val, size_t len)
{
    struct store st;
    int64_t need, room, end;
    int rc = ipckit__sysvshm_store_read(s, true, key, true, &st);
    if (rc < 0)
        return rc;
    if (len > (size_t) st.total)
        return ipckit__sysvshm_error(
            s, -ENOSPC, "sysvshm put: a value of %zu bytes is larger than the store", len);
    need = chunk_size((int64_t) len);
    room = st.total - st.end + (st.found >= 0 ? st.fnext : 0);
    if (need > room && st.nfound <= 1)
        return ipckit__sysvshm_error(s, -ENOSPC,
                                     "sysvshm put: variable %ld needs %lld bytes, %lld are free",
                                     key, (long long) need, (long long) room);
    rc = store_cut_key(s, key, &st, &end);
    if (rc < 0)
        return rc;
    room = st.total - end;
    if (need > room) {
        step();
        ipckit__sysvshm_wr64(s, OFF_FREE, room);
        return ipckit__sysvshm_error(s, -ENOSPC,
                                     "sysvshm put: variable %ld needs %lld bytes, %lld are free"
                                     " (its %lld copies were removed)",
                                     key, (long long) need, (long long) room,
                                     (long long) st.nfound);
    }
    /* Write the variable past the end, then count its space out of free,
     * then publish it with the end. */
    ipckit__sysvshm_wr64(s, end, (int64_t) key);
    ipckit__sysvshm_wr64(s, end + 8, (int64_t) len);
    ipckit__sysvshm_wr64(s, end + 16, need);
    if (len > 0)
        memcpy(raw(s, end + PHP_CHUNK_HEAD), val, len);
    if (need - PHP_CHUNK_HEAD > (int64_t) len)
        memset(raw(s, end + PHP_CHUNK_HEAD + (int64_t) len), 0,
               (size_t) (need - PHP_CHUNK_HEAD - (int64_t) len));
    step();
    ipckit__sysvshm_wr64(s, OFF_FREE, st.total - end - need);
    step();
    ipckit__sysvshm_wr64(s, OFF_END, end + need);
    return 0;
}

int
ipckit__sysvshm_put(struct ipckit__sysvshm *s, long key, const void *val, size_t len)
{
    bool took;
    int rc;
    if (val == NULL && len > 0)
        return ipckit__sysvshm_error(s, -EINVAL, "sysvshm put: NULL value with length %zu", len);
    rc = ipckit__sysvshm_var_begin(s, &took);
    if (rc < 0)
        return rc;
    rc = var_put_locked(s, key, val, len);
    ipckit__sysvshm_var_end(s, took);
    return rc;
}

ssize_t
ipckit__sysvshm_get(struct ipckit__sysvshm *s, long key, void *buf, size_t cap)
{
    struct store st;
    bool took;
    ssize_t rc = ipckit__sysvshm_var_begin(s, &took);
    if (rc < 0)
        return rc;
    rc = ipckit__sysvshm_store_read(s, true, key, true, &st);
    if (rc == 0) {
        if (st.nfound > 1) {
            rc = store_dup(s, "get", key, &st);
        } else if (st.found < 0) {
            rc = ipckit__sysvshm_error(s, -ENOENT, "sysvshm get: no variable %ld", key);
        } else if ((uint64_t) st.flen > cap) {
            rc = ipckit__sysvshm_error(s, -EMSGSIZE,
                                       "sysvshm get: variable %ld has %lld bytes, the buffer %zu",
                                       key, (long long) st.flen, cap);
        } else if (st.flen > 0 && buf == NULL) {
            rc = ipckit__sysvshm_error(s, -EINVAL, "sysvshm get: NULL buffer");
        } else {
            if (st.flen > 0)
                memcpy(buf, raw(s, st.found + PHP_CHUNK_HEAD), (size_t) st.flen);
            rc = (ssize_t) st.flen;
        }
    }
    ipckit__sysvshm_var_end(s, took);
    return rc;
}

int
ipckit__sysvshm_has(struct ipckit__sysvshm *s, long key)
{
    struct store st;
    bool took;
    int rc = ipckit__sysvshm_var_begin(s, &took);
    if (rc < 0)
        return rc;
    rc = ipckit__sysvshm_store_read(s, true, key, true, &st);
    if (rc == 0)
        rc = st.nfound > 1 ? store_dup(s, "has", key, &st) : st.found >= 0;
    ipckit__sysvshm_var_end(s, took);
    return rc;
}

ssize_t
ipckit__sysvshm_keys(struct ipckit__sysvshm *s, long *keys, size_t cap)
{
    struct store st;
    bool took;
    ssize_t rc = ipckit__sysvshm_var_begin(s, &took);
    if (rc < 0)
        return rc;
    rc = ipckit__sysvshm_store_read(s, false, 0, true, &st);
    if (rc == 0) {
        /* The chain was whole a moment ago; walk it again with the same
         * checks, in case a writer that ignores the lock changed it. */
        int64_t pos = PHP_HEAD;
        size_t n = 0;
        while (pos < st.end && st.end - pos >= PHP_CHUNK_HEAD) {
            int64_t len = rd64(s, pos + 8), next = rd64(s, pos + 16);
            if (len < 0 || len > st.end - pos - PHP_CHUNK_HEAD || next != chunk_size(len) ||
                next > st.end - pos)
                break;
            if (n < cap && keys != NULL)
                keys[n] = (long) rd64(s, pos);
            n++;
            pos += next;
        }
        rc = (ssize_t) n;
    }
    ipckit__sysvshm_var_end(s, took);
    return rc;
}

int
ipckit__sysvshm_remove(struct ipckit__sysvshm *s, long key)
{
    struct store st;
    bool took;
    int rc = ipckit__sysvshm_var_begin(s, &took);
    if (rc < 0)
        return rc;
    rc = ipckit__sysvshm_store_read(s, true, key, true, &st);
    if (rc == 0) {
        if (st.found < 0) {
            rc = ipckit__sysvshm_error(s, -ENOENT, "sysvshm remove: no variable %ld", key);
        } else {
            int64_t end;
            rc = store_cut_key(s, key, &st, &end);
            if (rc == 0) {
                step();
                ipckit__sysvshm_wr64(s, OFF_FREE, st.total - end);
            }
        }
    }
    ipckit__sysvshm_var_end(s, took);
    return rc;
}
