/*
 * psn.h on Windows - the system's own completion ports and socket
 * notifications, under the name psn programs include.
 *
 * On Linux <psn/psn.h> (include/psn/psn.h) declares the Windows names itself.
 * On Windows the system has them: this header is what the Windows build of
 * psn installs as <psn/psn.h>, so one source includes <psn/psn.h> on both.
 * It includes <winsock2.h> and <windows.h> (in that order, as Windows wants)
 * and declares ProcessSocketNotifications, SOCK_NOTIFY_REGISTRATION, the
 * SOCK_NOTIFY_* constants and SocketNotificationRetrieveEvents only where the
 * SDK in use lacks them (mingw-w64 10, Debian 12's, does: its import library
 * ws2_32 has the function, its headers do not). The function needs Windows 10
 * build 20348 or later (Windows 11, Windows Server 2022) at run time.
 *
 * Define PSN_SDK_HAS_SOCK_NOTIFY if an SDK declares them under a guard this
 * header does not recognise.
 */
#ifndef PSN_PSN_H
#define PSN_PSN_H

/* clang-format off */
#include <winsock2.h>
#include <windows.h>
/* clang-format on */
#include <psn/version.h>

/* The SDKs that have socket notifications define these as macros. */
#if !defined(SOCK_NOTIFY_REGISTER_EVENT_IN) && !defined(PSN_SDK_HAS_SOCK_NOTIFY)

#ifdef __cplusplus
extern "C" {
#endif

typedef struct SOCK_NOTIFY_REGISTRATION {
  SOCKET socket;
  PVOID completionKey;
  UINT16 eventFilter;
  UINT8 operation;
  UINT8 triggerFlags;
  DWORD registrationResult;
} SOCK_NOTIFY_REGISTRATION;

/* Event filter of a registration. */
#define SOCK_NOTIFY_REGISTER_EVENT_NONE 0x00
#define SOCK_NOTIFY_REGISTER_EVENT_IN 0x01
#define SOCK_NOTIFY_REGISTER_EVENT_OUT 0x02
#define SOCK_NOTIFY_REGISTER_EVENT_HANGUP 0x04
#define SOCK_NOTIFY_REGISTER_EVENTS_ALL 0x07

/* Events in a notification (dwNumberOfBytesTransferred). */
#define SOCK_NOTIFY_EVENT_IN 0x01
#define SOCK_NOTIFY_EVENT_OUT 0x02
#define SOCK_NOTIFY_EVENT_HANGUP 0x04
#define SOCK_NOTIFY_EVENT_ERR 0x40
#define SOCK_NOTIFY_EVENT_REMOVE 0x80
#define SOCK_NOTIFY_EVENTS_ALL 0xC7

/* Registration operations. */
#define SOCK_NOTIFY_OP_NONE 0x00
#define SOCK_NOTIFY_OP_ENABLE 0x01
#define SOCK_NOTIFY_OP_DISABLE 0x02
#define SOCK_NOTIFY_OP_REMOVE 0x04

/* Trigger flags. */
#define SOCK_NOTIFY_TRIGGER_ONESHOT 0x01
#define SOCK_NOTIFY_TRIGGER_PERSISTENT 0x02
#define SOCK_NOTIFY_TRIGGER_LEVEL 0x04
#define SOCK_NOTIFY_TRIGGER_EDGE 0x08
#define SOCK_NOTIFY_TRIGGER_ALL 0x0F

WINSOCK_API_LINKAGE DWORD WSAAPI ProcessSocketNotifications(
    HANDLE completionPort, UINT32 registrationCount, SOCK_NOTIFY_REGISTRATION* registrationInfos,
    UINT32 timeoutMs, ULONG completionCount, OVERLAPPED_ENTRY* completionPortEntries,
    UINT32* receivedEntryCount);

static __inline UINT32 SocketNotificationRetrieveEvents(OVERLAPPED_ENTRY* notification) {
  return notification->dwNumberOfBytesTransferred;
}

#ifdef __cplusplus
}
#endif

#endif /* !SOCK_NOTIFY_REGISTER_EVENT_IN */

#endif /* PSN_PSN_H */
