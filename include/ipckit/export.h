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
/** Marks a declaration exported from libipckit.so. */
#define IPCKIT_API __attribute__((visibility("default")))
/** The compiler warns when the result of the function is ignored. */
#define IPCKIT_NODISCARD __attribute__((warn_unused_result))
/** The compiler checks argument @p a and on against printf format @p f. */
#define IPCKIT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
/** Marks a declaration exported from libipckit.so. */
#define IPCKIT_API
/** The compiler warns when the result of the function is ignored. */
#define IPCKIT_NODISCARD
/** The compiler checks argument @p a and on against printf format @p f. */
#define IPCKIT_PRINTF(f, a)
#endif

#ifdef __cplusplus
/** Opens the declarations of a header: extern "C" in C++. */
#define IPCKIT_BEGIN_DECLS extern "C" {
/** Closes what IPCKIT_BEGIN_DECLS opened. */
#define IPCKIT_END_DECLS }
#else
/** Opens the declarations of a header: extern "C" in C++. */
#define IPCKIT_BEGIN_DECLS
/** Closes what IPCKIT_BEGIN_DECLS opened. */
#define IPCKIT_END_DECLS
#endif

#endif /* IPCKIT_EXPORT_H */
