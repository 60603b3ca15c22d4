/**
 * @file
 * ipckit: the nats: backend, a plug-in library (libipckit-nats.so.0).
 *
 * Channels named "nats://HOST:PORT/QUEUE" run over NATS JetStream: a work
 * queue on a server, the same channel API across hosts. See ipckit-nats(7)
 * and docs/backends/nats.md.
 *
 * A program linked against libipckit.so needs nothing of this header: the
 * first nats: name it opens loads the plug-in from libipckit's directory.
 * A program that links the plug-in itself (a static build, or to fail at
 * link time rather than at the first open) calls ipckit_nats_register().
 */
#ifndef IPCKIT_NATS_H
#define IPCKIT_NATS_H

#include <ipckit/backend.h>

IPCKIT_BEGIN_DECLS

/**
 * Register the nats: backend with ipckit_backend_register(). Calling it
 * again, or after the plug-in was loaded for a nats: name, is a no-op.
 *
 * @return 0, or a negative errno from ipckit_backend_register() (-EEXIST
 *         when another table has the scheme "nats").
 */
IPCKIT_API int ipckit_nats_register(void);

/** The backend's table, for ipckit_backend_register() and inspection. */
IPCKIT_API const ipckit_backend *ipckit_nats_backend(void);

IPCKIT_END_DECLS

#endif /* IPCKIT_NATS_H */
