/*
 * ipckit: the on-disk format of creator records. Not installed.
 *
 * The kernel records no creator for System V message queues, POSIX message
 * queues and FIFOs, so ipckit writes one for each of those it creates: a
 * small file in /dev/shm named by the object's kernel identity, holding one
 * line of text. docs/reliability.md ("Creator records") describes the format
 * and the rule by which a reader trusts a record.
 *
 * The code is in records.c, which uses only the C library: the library
 * compiles it, and the test kit and the fuzz targets link it as the
 * internal static library ipckit_records, so that they parse records with
 * the same code without the library exporting anything. In the library,
 * only the core uses it (core/creators.c, core/stale.c): backends say that
 * they created an object and what it is, and never touch a record. A
 * record is input from a world-writable directory: the reader bounds what
 * it reads and accepts only the exact format.
 */
#ifndef IPCKIT_CREATOR_RECORD_H
#define IPCKIT_CREATOR_RECORD_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>

#define IPCKIT__CREC_DIR "/dev/shm"
#define IPCKIT__CREC_PREFIX "ipckit-creator."
#define IPCKIT__CREC_MAGIC "ipckit-creator"
#define IPCKIT__CREC_VERSION 1
/* Longest record a reader accepts, in bytes (a path of PATH_MAX bytes, each
 * escaped as %XX, fits). */
#define IPCKIT__CREC_MAX 16384
/* Longest decoded name or path, with its NUL. */
#define IPCKIT__CREC_TARGET_MAX 4096
/* Longest file name of a record ("ipckit-creator.fifo.DEV.INO"). */
#define IPCKIT__CREC_LEAF_MAX 80
/* Mode of a record file: the pid and start time it holds are not secret
 * (ps shows them), and a monitoring user needs to read it. */
#define IPCKIT__CREC_MODE 0644

enum {
    IPCKIT__CREC_MQ = 1,  /* System V message queue: key, msqid, ctime */
    IPCKIT__CREC_POSIXMQ, /* POSIX message queue: inode, name */
    IPCKIT__CREC_FIFO     /* FIFO: device, inode, birth time, path */
};

struct ipckit__crec {
    int kind;
    /* the creator */
    long pid;                 /* > 0 */
    unsigned long long start; /* field 22 of /proc/PID/stat; 0: unknown */
    unsigned long uid;        /* its effective uid */
    /* the object: mq */
    unsigned long key;        /* 32 bits */
    long id;                  /* msqid */
    long long ctime;          /* msg_ctime after set-up, seconds */
    /* the object: posixmq, fifo */
    unsigned long long dev;   /* fifo: st_dev */
    unsigned long long ino;
    bool has_btime;           /* fifo: the file system reports a birth time */
    long long btime_sec;
    long btime_nsec;
    char target[IPCKIT__CREC_TARGET_MAX]; /* posixmq: "/NAME"; fifo: absolute path */
};

const char * ipckit__crec_kind_name(int kind);

int ipckit__crec_leaf(const struct ipckit__crec *r, char *buf, size_t cap);

unsigned long long ipckit__crec_proc_start(long pid);

int ipckit__crec_format(const struct ipckit__crec *r, char *buf, size_t cap);

int ipckit__crec_parse(const char *buf, size_t len, struct ipckit__crec *r);

int ipckit__crec_load(int dfd, const char *leaf, struct ipckit__crec *r, struct stat *sb);

bool ipckit__crec_same_object(const struct ipckit__crec *rec, const struct ipckit__crec *obj);

bool ipckit__crec_trusted(const struct ipckit__crec *rec, const struct stat *file, unsigned long obj_uid, const struct ipckit__crec *obj);

int ipckit__crec_fifo_identity(const char *path, struct ipckit__crec *obj, unsigned long *owner);

bool ipckit__crec_fifo_path_ok(const struct ipckit__crec *rec);

int ipckit__crec_lookup(const struct ipckit__crec *obj, unsigned long obj_uid, struct ipckit__crec *out);

/*
 * Writing, finding and removing the creator records of the objects whose
 * creator the kernel does not keep (mq:, posixmq:, fifo:). The caller
 * fills the object's kind and identity fields of the record.
 */
/* Start time of process @p pid in clock ticks after boot (field 22 of
 * /proc/PID/stat); 0 if unknown. */
uint64_t ipckit__proc_start_time(long pid);

/* Record this process as the creator of the object in @p r (fills the
 * creator fields). 0, or a negative errno: then the object has no record,
 * which must not fail the open. -EEXIST: another user's file holds the
 * name; it is left alone. */
int ipckit__creator_write(struct ipckit__crec *r);

/* The trusted record of object @p obj owned by @p obj_uid: 0, -ENOENT (none),
 * -EBADMSG (there is a file, but it is not trusted) or a negative errno. */
int ipckit__creator_lookup(const struct ipckit__crec *obj, unsigned long obj_uid,
                           struct ipckit__crec *out);

/* The creator pid of a trusted record of @p obj, else -1. */
long ipckit__creator_pid(const struct ipckit__crec *obj, unsigned long obj_uid);

/* Before an object is removed: should its record go with it? True for a
 * file of this process's uid under the object's identity, and, for root,
 * for a trusted record of another user. */
bool ipckit__creator_removable(const struct ipckit__crec *obj, unsigned long obj_uid);

/* Remove the record file of @p obj (after ipckit__creator_removable, or
 * after a successful ipckit__creator_write). */
void ipckit__creator_unlink(const struct ipckit__crec *obj);

#endif /* IPCKIT_CREATOR_RECORD_H */
