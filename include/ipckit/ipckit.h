/**
 * @file
 * ipckit: inter-process communication for Linux, one channel API over
 * several kernel mechanisms. Umbrella header.
 *
 * Thread safety: a channel (or region, or signal dispatcher) may be used by
 * one thread at a time; distinct handles are independent. ipckit_strerror(),
 * ipckit_errname() and ipckit_version*() are safe from any thread.
 */
#ifndef IPCKIT_IPCKIT_H
#define IPCKIT_IPCKIT_H

#include <ipckit/export.h>
#include <ipckit/version.h>
#include <ipckit/error.h>
#include <ipckit/channel.h>
#include <ipckit/signal.h>
#include <ipckit/region.h>
#include <ipckit/object.h>
#include <ipckit/phpvalue.h>

#endif /* IPCKIT_IPCKIT_H */
