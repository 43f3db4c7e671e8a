/*
 * psn/version.h - the version of psn, at compile time and at run time.
 *
 * Included by <psn/psn.h>; usable on its own from C and C++. The numbers
 * follow semantic versioning (see docs/packaging.md): the SONAME of the
 * shared library (libpsn.so.0) changes only when its ABI does.
 */
#ifndef PSN_VERSION_H
#define PSN_VERSION_H

#define PSN_VERSION_MAJOR 0
#define PSN_VERSION_MINOR 1
#define PSN_VERSION_PATCH 0
#define PSN_VERSION_STRING "0.1.0"

/* One number per version that grows with every release (minor and patch
 * stay below 256): PSN_VERSION >= PSN_VERSION_ENCODE(0, 2, 0). */
#define PSN_VERSION_ENCODE(major, minor, patch) \
  ((unsigned int)(((major) << 16) | ((minor) << 8) | (patch)))
#define PSN_VERSION PSN_VERSION_ENCODE(PSN_VERSION_MAJOR, PSN_VERSION_MINOR, PSN_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

/* The version of the library the program runs with, encoded as PSN_VERSION:
 * compare it with PSN_VERSION, the version the program was built with. */
#if defined(__GNUC__) && !defined(_WIN32)
#define PSN_VERSION_API __attribute__((visibility("default")))
#else
#define PSN_VERSION_API
#endif
PSN_VERSION_API unsigned int psn_version(void);

#ifdef __cplusplus
}
#endif

#endif /* PSN_VERSION_H */
