/*
 * winsock2.h for an SDK without socket notifications (mingw-w64 10 and
 * older): the SDK's own <winsock2.h>, then what <psn/psn.h> adds where the
 * SDK lacks ProcessSocketNotifications. With this directory on the include
 * path, a program written for the Windows SDK, which declares those in
 * <winsock2.h>, builds unchanged. The Windows build of psn uses it for the
 * examples; it is not installed.
 */
#ifndef PSN_SDK_COMPAT_WINSOCK2_H
#define PSN_SDK_COMPAT_WINSOCK2_H
/* The SDK's header first. */
/* clang-format off */
#include_next <winsock2.h>
#include <psn/psn.h>
/* clang-format on */
#endif
