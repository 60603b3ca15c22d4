/*
 * Fuzz target: the parser of creator records (lib/os/records.c).
 * A record is a file in /dev/shm, which every user can write, so the
 * reader must take any bytes: it returns a record or -EBADMSG, never reads
 * past the input, and what it accepts formats back to a record that parses
 * to the same fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/os/records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ipckit__crec r, again;
    static char line[IPCKIT__CREC_MAX + 1];
    char leaf[IPCKIT__CREC_LEAF_MAX];
    char *copy = malloc(size ? size : 1); /* exactly the input: overreads are caught */
    int len;

    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    if (ipckit__crec_parse(copy, size, &r) != 0) {
        free(copy);
        return 0;
    }
    free(copy);
    if (r.pid <= 0 || r.kind < IPCKIT__CREC_MQ || r.kind > IPCKIT__CREC_FIFO ||
        memchr(r.target, '\0', sizeof r.target) == NULL)
        abort();
    if (r.kind != IPCKIT__CREC_MQ && r.target[0] != '/')
        abort();
    if (ipckit__crec_leaf(&r, leaf, sizeof leaf) != 0)
        abort();
    len = ipckit__crec_format(&r, line, sizeof line);
    if (len <= 0 || ipckit__crec_parse(line, (size_t) len, &again) != 0 ||
        memcmp(&r, &again, sizeof r) != 0)
        abort();
    return 0;
}
