/*
 * ipckit-bench: the content of every message and its checksum. Each message
 * is a function of its producer and its sequence number, so that the parent
 * can recompute the sum of what was sent and compare it with what arrived.
 */
#include <stdint.h>
#include <string.h>

#include "bench.h"

/* ---- message content and its checksum ------------------------------------ */

#define BX_GOLD 0x9e3779b97f4a7c15ull

static uint64_t
bx_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static uint64_t
bx_seed(uint32_t producer, uint64_t seq)
{
    return bx_mix(((uint64_t) producer << 40) ^ seq ^ 0x6970636b6974ull);
}

/* Checked words: every 8-byte word up to 4 KiB, one word in 64 (one per 512
 * bytes) above (and the last word, and any tail bytes), so that the check
 * costs far less than the copy it checks. One in 8 was not: at 64 KiB on one
 * CPU the fill and the hash took 46 % of the profile, more than the two
 * copies of the transport (40 %), and the ratios measured the checker. */
static size_t
bx_stride(size_t len)
{
    return len > 4096 ? 64 : 1;
}

void
bx_fill(unsigned char *buf, size_t len, uint32_t producer, uint64_t seq)
{
    uint64_t seed = bx_seed(producer, seq);
    size_t words = len / 8, stride = bx_stride(len), k;
    for (k = 0; k < words; k += stride) {
        uint64_t v = seed + k * BX_GOLD;
        memcpy(buf + 8 * k, &v, 8);
    }
    if (words > 0 && (words - 1) % stride != 0) {
        uint64_t v = seed + (words - 1) * BX_GOLD;
        memcpy(buf + 8 * (words - 1), &v, 8);
    }
    for (k = words * 8; k < len; k++)
        buf[k] = (unsigned char) (seed >> ((k & 7) * 8));
}

uint64_t
bx_hash(const unsigned char *buf, size_t len)
{
    uint64_t h = len * BX_GOLD;
    size_t words = len / 8, stride = bx_stride(len), k;
    uint64_t v;
    for (k = 0; k < words; k += stride) {
        memcpy(&v, buf + 8 * k, 8);
        h = (h ^ v) * 0x100000001b3ull;
    }
    if (words > 0 && (words - 1) % stride != 0) {
        memcpy(&v, buf + 8 * (words - 1), 8);
        h = (h ^ v) * 0x100000001b3ull;
    }
    for (k = words * 8; k < len; k++)
        h = (h ^ buf[k]) * 0x100000001b3ull;
    return bx_mix(h);
}

/* The message that tells a consumer that the producers are done. */
uint64_t
bx_stop_word(void)
{
    return bx_seed(UINT32_MAX, UINT64_MAX);
}
