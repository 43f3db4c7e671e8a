/*
 * psn_win32/crt.h - the few Microsoft C runtime names that Windows socket
 * programs (the documentation's samples among them) take for granted: the
 * `_s` printf family, with MSVC's meaning of %s and %c in the wide ones,
 * and _ASSERT / _ASSERTE.
 *
 * Not included directly: every psn-win32 header includes it.
 */
#ifndef PSN_WIN32_CRT_H
#define PSN_WIN32_CRT_H

#include <psn/psn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Narrow: as printf; sprintf_s fails with -1 (and an empty buffer) instead
 * of truncating. */
PSN_API int printf_s(const char* format, ...) __attribute__((__format__(__printf__, 1, 2)));
PSN_API int fprintf_s(FILE* stream, const char* format, ...)
    __attribute__((__format__(__printf__, 2, 3)));
PSN_API int sprintf_s(char* buffer, size_t size, const char* format, ...)
    __attribute__((__format__(__printf__, 3, 4)));
PSN_API int vprintf_s(const char* format, va_list args);
PSN_API int vfprintf_s(FILE* stream, const char* format, va_list args);
PSN_API int vsprintf_s(char* buffer, size_t size, const char* format, va_list args);

/* Wide, as MSVC has them: %s and %c take wide strings and characters, %S
 * and %C narrow ones (glibc's wprintf reads them the other way round). The
 * text goes out as UTF-8 through the stream's byte interface, so a program
 * may mix these with printf on one stream as it can on Windows. */
PSN_API int wprintf_s(const wchar_t* format, ...);
PSN_API int fwprintf_s(FILE* stream, const wchar_t* format, ...);
PSN_API int swprintf_s(wchar_t* buffer, size_t size, const wchar_t* format, ...);
PSN_API int vwprintf_s(const wchar_t* format, va_list args);
PSN_API int vfwprintf_s(FILE* stream, const wchar_t* format, va_list args);
PSN_API int vswprintf_s(wchar_t* buffer, size_t size, const wchar_t* format, va_list args);

#ifdef __cplusplus
}
#endif

/* Debug assertions of <crtdbg.h>: active only in a _DEBUG build, as there. */
#ifndef _ASSERT
#ifdef _DEBUG
#define _ASSERT(expr) \
  ((expr) ? (void)0   \
          : (fprintf(stderr, "%s:%d: _ASSERT(%s) failed\n", __FILE__, __LINE__, #expr), abort()))
#define _ASSERTE(expr) _ASSERT(expr)
#define _ASSERT_EXPR(expr, msg) _ASSERT(expr)
#else
#define _ASSERT(expr) ((void)0)
#define _ASSERTE(expr) ((void)0)
#define _ASSERT_EXPR(expr, msg) ((void)0)
#endif
#endif

#endif /* PSN_WIN32_CRT_H */
