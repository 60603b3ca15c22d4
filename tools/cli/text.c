/*
 * ipckit(1): text that reaches a terminal or a JSON reader. Names are
 * anybody's bytes (any user can create /dev/shm/NAME or a FIFO in /tmp),
 * so every name printed goes through cli_esc() or cli_json_string().
 */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

void
cli_json_string(FILE *f, const char *s)
{
    (void) fputc('"', f);
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        if (*p == '"' || *p == '\\')
            (void) fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            (void) fputs("\\n", f);
        else if (*p == '\t')
            (void) fputs("\\t", f);
        else if (*p < 0x20 || *p == 0x7f)
            (void) fprintf(f, "\\u%04x", *p);
        else
            (void) fputc(*p, f);
    }
    (void) fputc('"', f);
}

/* Length of the valid UTF-8 sequence at @p p (1 to 4), with its code point
 * in *cp, or 0 when it is not one (overlong, a surrogate, above U+10FFFF,
 * cut short). */
static size_t
utf8_seq(const unsigned char *p, unsigned long *cp)
{
    size_t n;
    unsigned long c, min;
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
        c = p[0] & 0x1fu;
        min = 0x80;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        c = p[0] & 0x0fu;
        min = 0x800;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        c = p[0] & 0x07u;
        min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0u) != 0x80u) /* also stops at the NUL */
            return 0;
        c = (c << 6) | (p[i] & 0x3fu);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

/* Code points that must not reach a terminal as they are: the C1 controls,
 * and the marks and overrides that reorder the text shown after them. */
static bool
cp_unsafe(unsigned long c)
{
    return (c >= 0x80 && c <= 0x9f) || c == 0x061c || c == 0x200e || c == 0x200f ||
           (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

#define ESC_SLOTS 4
#define ESC_CAP (4 * PATH_MAX + 8)

/*
 * @p s made safe for a terminal and kept on one line, for the table of
 * "ipckit ls" and the lines of "rm --stale": a backslash is written "\\",
 * newline, tab and carriage return "\n", "\t", "\r", and every other byte
 * of a control character (below 0x20, 0x7f, the C1 controls U+0080..U+009F,
 * the bidirectional marks and overrides) or of a sequence that is not valid
 * UTF-8 "\xHH". Valid UTF-8 text is kept. The result lives in one of
 * ESC_SLOTS static buffers, so a printf() may take that many; text that would
 * not fit ends in "...".
 */
const char *
cli_esc(const char *s)
{
    static char bufs[ESC_SLOTS][ESC_CAP];
    static unsigned next;
    char *out = bufs[next++ % ESC_SLOTS];
    size_t o = 0;
    const unsigned char *p = (const unsigned char *) s;
    while (*p != '\0') {
        unsigned long c = 0;
        size_t n = utf8_seq(p, &c);
        char piece[32];
        size_t plen = 0;
        if (*p == '\\' || *p == '\n' || *p == '\t' || *p == '\r') {
            piece[0] = '\\';
            piece[1] = *p == '\\' ? '\\' : *p == '\n' ? 'n' : *p == '\t' ? 't' : 'r';
            plen = 2;
            n = 1;
        } else if (n == 0 || c < 0x20 || c == 0x7f || cp_unsafe(c)) {
            if (n == 0)
                n = 1;
            for (size_t i = 0; i < n; i++)
                plen += (size_t) snprintf(piece + plen, sizeof piece - plen, "\\x%02x", p[i]);
        } else {
            memcpy(piece, p, n);
            plen = n;
        }
        if (o + plen + 4 > ESC_CAP) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(out + o, piece, plen);
        o += plen;
        p += n;
    }
    out[o] = '\0';
    return out;
}
