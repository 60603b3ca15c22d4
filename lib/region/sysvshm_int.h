/*
 * ipckit: what the two files of the sysvshm: region share (sysvshm.c: the
 * objects, opening, removing, the lock; sysvshm_store.c: PHP's store in the
 * segment, its variables). The layout is described in sysvshm.c and
 * docs/backends/sysvshm.md. Not installed.
 */
#ifndef IPCKIT_REGION_SYSVSHM_INT_H
#define IPCKIT_REGION_SYSVSHM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sysvshm.h"

/* ---- PHP's layout ------------------------------------------------------------ */

/* PHP's sysvshm_chunk_head and sysvshm_chunk, with zend_long as int64_t. */
struct php_head {
    char magic[8];
    int64_t start;
    int64_t end;
    int64_t free;
    int64_t total;
};

struct php_chunk {
    int64_t key;
    int64_t length;
    int64_t next;
    char mem; /* the value starts here; sizeof rounds the struct up to 32 */
};

#define PHP_HEAD ((int64_t) sizeof(struct php_head))         /* 40 */
#define PHP_CHUNK_HEAD ((int64_t) offsetof(struct php_chunk, mem)) /* 24 */
#define PHP_CHUNK_SIZEOF ((int64_t) sizeof(struct php_chunk))   /* 32 */

_Static_assert(sizeof(struct php_head) == 40 && offsetof(struct php_head, start) == 8 &&
                   offsetof(struct php_head, end) == 16 &&
                   offsetof(struct php_head, free) == 24 &&
                   offsetof(struct php_head, total) == 32,
               "PHP's sysvshm_chunk_head on a 64-bit build");
_Static_assert(sizeof(struct php_chunk) == 32 && offsetof(struct php_chunk, key) == 0 &&
                   offsetof(struct php_chunk, length) == 8 &&
                   offsetof(struct php_chunk, next) == 16 &&
                   offsetof(struct php_chunk, mem) == 24,
               "PHP's sysvshm_chunk on a 64-bit build");

#define OFF_START 8
#define OFF_END 16
#define OFF_FREE 24
#define OFF_TOTAL 32

struct ipckit__sysvshm {
    int shmid, semid;
    key_t shmkey, semkey;
    volatile unsigned char *base; /* shmat()'s address */
    size_t size;                  /* shm_segsz at open */
    unsigned reg_gen;             /* fork generation of this process's registration; 0: none */
    unsigned held_gen;            /* fork generation when this handle took the lock; 0: not held */
    char err[IPCKIT__DETAIL_MAX];
};

/* A validated view of the header, read once. */
struct store {
    int64_t end, free, total;
    int64_t count;   /* variables */
    int64_t used;    /* bytes of their values */
    int64_t found;   /* offset of the variable looked for, or -1 */
    int64_t flen;    /* its length */
    int64_t fnext;   /* its next */
    int64_t nfound;  /* how many variables have that key (PHP writes one at most) */
};

/* ---- sysvshm.c ------------------------------------------------------------- */

/* Fail with @p rc and a detail, kept on the handle too (when not NULL). */
int ipckit__sysvshm_error(struct ipckit__sysvshm *s, int rc, const char *fmt, ...)
    IPCKIT_PRINTF(3, 4);
/* Take the lock for one variable call unless the handle holds it already;
 * give it back after the call when this took it. */
int ipckit__sysvshm_var_begin(struct ipckit__sysvshm *s, bool *took);
void ipckit__sysvshm_var_end(struct ipckit__sysvshm *s, bool took);

/* ---- sysvshm_store.c ------------------------------------------------------- */

/* Write the 64-bit field at @p off, one store when it is aligned. */
void ipckit__sysvshm_wr64(struct ipckit__sysvshm *s, int64_t off, int64_t v);
/* Has the segment PHP's magic? Is its header all zero (nobody set it up)? */
bool ipckit__sysvshm_magic_ok(const struct ipckit__sysvshm *s);
bool ipckit__sysvshm_header_zero(const struct ipckit__sysvshm *s);
/* Set up an empty store, the magic last. */
void ipckit__sysvshm_store_init(struct ipckit__sysvshm *s);
/* Read and check the header and the whole chain (sysvshm_store.c). */
int ipckit__sysvshm_store_read(struct ipckit__sysvshm *s, bool find, long key, bool cut_ok,
                               struct store *st);

#endif /* IPCKIT_REGION_SYSVSHM_INT_H */
