/*
 * ipckit: the doorbell that gives a shm: ring's receiver, and a broadcast
 * ring's subscriber, a pollable descriptor (ipckit_fd()). Not installed.
 *
 * A futex is no file, and an eventfd cannot be handed to a process that did
 * not inherit it. A receiving handle that asks for a descriptor binds a
 * datagram socket of its own in the abstract Unix namespace (no file to
 * leave behind; it goes with the socket), named "ipckit-bell." and a random
 * 64-bit number, and enters the number in one of the ring header's bell
 * slots. When a receive finds the ring empty, it drains its socket, arms the
 * bell (one word in the header) and looks at the ring again. A sender that
 * publishes a message and finds the bell armed disarms it and sends one
 * byte to every registered socket. So senders pay one load of the armed
 * word per message while nobody polls, and a system call per poller only
 * for the first message after a poller found the ring empty.
 *
 * The ordering that makes it sound: the receiver stores armed, then loads
 * tail; the sender stores tail, then loads armed (both sequentially
 * consistent): one of them sees the other's store, so either the receiver
 * sees the message or the sender rings. In a broadcast ring the sequence
 * word of the subscriber's next slot takes the place of tail: the
 * publisher's commit stores it.
 *
 * Everything in the header is untrusted: a number in a slot names only a
 * socket of this form (a peer that writes one makes senders send a byte
 * there); a peer that arms the bell for ever makes senders ring for every
 * message. Neither corrupts memory or loses a message.
 */
#ifndef IPCKIT_SHM_BELL_H
#define IPCKIT_SHM_BELL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define IPCKIT__BELL_SLOTS 7

/* In the ring header, on a cache line of its own. */
struct ipckit__bell_shared {
    _Atomic uint32_t armed;
    uint32_t reserved;
    _Atomic uint64_t ids[IPCKIT__BELL_SLOTS];
};

/* In a handle. */
struct ipckit__bell {
    int rx;      /* a receiver's socket, -1 until ipckit_fd() */
    int tx;      /* a sender's socket for ringing, -1 until the first ring */
    uint64_t id; /* the rx socket's number, in slot `slot` */
    int slot;
    int pid;     /* the process that registered rx: a forked child's close leaves it */
};

void ipckit__bell_init(struct ipckit__bell *b);

/* ipckit_fd() of a receiving handle: the socket, made on the first call;
 * -EBUSY when every slot is taken by a live poller. */
int ipckit__bell_listen(struct ipckit__bell *b, struct ipckit__bell_shared *sh);

/* Close the handle's sockets and free its slot. */
void ipckit__bell_close(struct ipckit__bell *b, struct ipckit__bell_shared *sh);

/* A receive found the ring empty: drain the socket and arm the bell; the
 * caller then looks at the ring again before it returns or sleeps. */
void ipckit__bell_arm(struct ipckit__bell *b, struct ipckit__bell_shared *sh);

void ipckit__bell_ring_slow(struct ipckit__bell *b, struct ipckit__bell_shared *sh);

/* After a message was published (tail stored, then a full fence). */
static inline void
ipckit__bell_ring(struct ipckit__bell *b, struct ipckit__bell_shared *sh)
{
    if (atomic_load(&sh->armed) != 0)
        ipckit__bell_ring_slow(b, sh);
}

#endif /* IPCKIT_SHM_BELL_H */
