/*
 * ipckit: the doorbell of a shm: ring's pollable descriptor; see shm_bell.h.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../core/internal.h"
#include "shm_bell.h"

/* "\0ipckit-bell." and 16 hex digits */
static socklen_t
bell_addr(uint64_t id, struct sockaddr_un *a)
{
    int n;
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "ipckit-bell.%016llx",
                 (unsigned long long) id);
    return (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 1 + (size_t) n);
}

void
ipckit__bell_init(struct ipckit__bell *b)
{
    b->rx = b->tx = -1;
    b->id = 0;
    b->slot = -1;
    b->pid = 0;
}

static int
bell_tx(struct ipckit__bell *b)
{
    if (b->tx < 0)
        b->tx = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    return b->tx;
}

/* Send one byte to the socket of @p id: 0, or -ECONNREFUSED when no such
 * socket exists (its poller is gone). */
static int
bell_send(struct ipckit__bell *b, uint64_t id)
{
    struct sockaddr_un a;
    socklen_t len = bell_addr(id, &a);
    int fd = bell_tx(b);
    if (fd < 0)
        return 0;
    if (sendto(fd, "", 1, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *) &a, len) < 0 &&
        errno == ECONNREFUSED)
        return -ECONNREFUSED;
    return 0; /* sent, or its buffer is full: it is readable anyway */
}

void
ipckit__bell_ring_slow(struct ipckit__bell *b, struct ipckit__bell_shared *sh)
{
    if (atomic_exchange(&sh->armed, 0) == 0)
        return; /* another sender rang */
    for (int i = 0; i < IPCKIT__BELL_SLOTS; i++) {
        uint64_t id = atomic_load_explicit(&sh->ids[i], memory_order_relaxed);
        if (id != 0 && bell_send(b, id) == -ECONNREFUSED)
            (void) atomic_compare_exchange_strong(&sh->ids[i], &id, 0); /* a dead poller */
    }
}

int
ipckit__bell_listen(struct ipckit__bell *b, struct ipckit__bell_shared *sh)
{
    struct sockaddr_un a;
    int fd, slot = -1;
    uint64_t id = 0;
    if (b->rx >= 0)
        return b->rx;
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return ipckit__fail(-errno, "fd: socket: %s", strerror(errno));
    for (int attempt = 0;; attempt++) {
        if (getrandom(&id, sizeof id, 0) != (ssize_t) sizeof id || id == 0 || attempt == 8) {
            (void) close(fd);
            return ipckit__fail(-EIO, "fd: no free name for the doorbell socket");
        }
        if (bind(fd, (struct sockaddr *) &a, bell_addr(id, &a)) == 0)
            break;
        if (errno != EADDRINUSE) {
            int e = errno;
            (void) close(fd);
            return ipckit__fail(-e, "fd: bind the doorbell socket: %s", strerror(e));
        }
    }
    /* a free slot; a slot whose socket is gone is free too */
    for (int pass = 0; pass < 2 && slot < 0; pass++) {
        for (int i = 0; i < IPCKIT__BELL_SLOTS && slot < 0; i++) {
            uint64_t seen = atomic_load(&sh->ids[i]);
            if (seen != 0 && (pass == 0 || bell_send(b, seen) != -ECONNREFUSED))
                continue;
            if (atomic_compare_exchange_strong(&sh->ids[i], &seen, id))
                slot = i;
        }
    }
    if (slot < 0) {
        (void) close(fd);
        return ipckit__fail(-EBUSY,
                            "fd: %d receiving handles poll this ring already; close one of"
                            " them, or receive without a descriptor",
                            IPCKIT__BELL_SLOTS);
    }
    b->rx = fd;
    b->id = id;
    b->slot = slot;
    b->pid = (int) getpid();
    return fd;
}

void
ipckit__bell_arm(struct ipckit__bell *b, struct ipckit__bell_shared *sh)
{
    char buf[16];
    while (recv(b->rx, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC) >= 0)
        ;
    /* the slot again, if a sender took it for a dead poller's */
    if (atomic_load_explicit(&sh->ids[b->slot], memory_order_relaxed) != b->id) {
        uint64_t zero = 0;
        (void) atomic_compare_exchange_strong(&sh->ids[b->slot], &zero, b->id);
    }
    atomic_store(&sh->armed, 1);
}

void
ipckit__bell_close(struct ipckit__bell *b, struct ipckit__bell_shared *sh)
{
    if (b->rx >= 0) {
        uint64_t id = b->id;
        if (sh != NULL && b->pid == (int) getpid())
            (void) atomic_compare_exchange_strong(&sh->ids[b->slot], &id, 0);
        (void) close(b->rx);
    }
    if (b->tx >= 0)
        (void) close(b->tx);
    ipckit__bell_init(b);
}
