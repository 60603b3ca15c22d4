/**
 * @file
 * ipckit: symbol visibility and attribute macros.
 *
 * The library is built with -fvisibility=hidden; only declarations marked
 * IPCKIT_API are exported from libipckit.so.
 */
#ifndef IPCKIT_EXPORT_H
#define IPCKIT_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define IPCKIT_API __attribute__((visibility("default")))
#define IPCKIT_NODISCARD __attribute__((warn_unused_result))
#define IPCKIT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define IPCKIT_API
#define IPCKIT_NODISCARD
#define IPCKIT_PRINTF(f, a)
#endif

#ifdef __cplusplus
#define IPCKIT_BEGIN_DECLS extern "C" {
#define IPCKIT_END_DECLS }
#else
#define IPCKIT_BEGIN_DECLS
#define IPCKIT_END_DECLS
#endif

#endif /* IPCKIT_EXPORT_H */
