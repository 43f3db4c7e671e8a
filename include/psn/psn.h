/*
 * psn.h - the Windows-named C interface of psn.
 *
 * Socket readiness notifications delivered through a completion port, as
 * Windows' ProcessSocketNotifications does, on Linux. Code written against
 * the Windows API compiles against this header with only its includes
 * changed. Usable from C11 and C++.
 *
 * The behaviour of every function is described in docs/reference.md.
 */
#ifndef PSN_PSN_H
#define PSN_PSN_H

#include <stddef.h>
#include <stdint.h>
#include <psn/version.h>

#if defined(__GNUC__)
#define PSN_API __attribute__((visibility("default")))
#else
#define PSN_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Types, with the Windows names, sized for Linux LP64. */
typedef uint32_t DWORD;
typedef uint32_t ULONG;
typedef uint32_t UINT32;
typedef uint16_t UINT16;
typedef uint8_t UINT8;
typedef int BOOL;
typedef uintptr_t ULONG_PTR;
typedef uintptr_t UINT_PTR;
typedef void* PVOID;
typedef void* HANDLE;
/* A POSIX socket descriptor, in an integer as wide as a pointer, as on
 * Windows: (PVOID)s and (SOCKET)key round-trip without a warning. */
typedef UINT_PTR SOCKET;

#define INVALID_SOCKET ((SOCKET)~(SOCKET)0)
#define SOCKET_ERROR (-1)
#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif
#define INFINITE 0xFFFFFFFFu
#define INVALID_HANDLE_VALUE ((HANDLE)(intptr_t)-1)

/* Windows' layout (R9.2). For an overlapped socket operation psn keeps its
 * status (an NTSTATUS) in Internal and its byte count in InternalHigh. */
typedef struct _OVERLAPPED {
  ULONG_PTR Internal;
  ULONG_PTR InternalHigh;
  union {
    struct {
      DWORD Offset;
      DWORD OffsetHigh;
    };
    PVOID Pointer;
  };
  HANDLE hEvent;
} OVERLAPPED, *LPOVERLAPPED;

typedef struct _OVERLAPPED_ENTRY {
  ULONG_PTR lpCompletionKey;
  LPOVERLAPPED lpOverlapped;
  ULONG_PTR Internal;
  DWORD dwNumberOfBytesTransferred;
} OVERLAPPED_ENTRY, *LPOVERLAPPED_ENTRY;

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

/* Result codes, with their Windows values. */
#define ERROR_SUCCESS 0L
#define ERROR_INVALID_HANDLE 6L
#define ERROR_NOT_ENOUGH_MEMORY 8L
#define ERROR_NOT_SUPPORTED 50L
#define ERROR_INVALID_PARAMETER 87L
#define WAIT_TIMEOUT 258L
#define ERROR_ABANDONED_WAIT_0 735L
#define ERROR_OPERATION_ABORTED 995L
#define ERROR_IO_PENDING 997L
#define ERROR_NOT_FOUND 1168L
#define WSA_INVALID_HANDLE ERROR_INVALID_HANDLE
#define WSA_NOT_ENOUGH_MEMORY ERROR_NOT_ENOUGH_MEMORY
#define WSA_INVALID_PARAMETER ERROR_INVALID_PARAMETER
#define WSAEFAULT 10014L
#define WSAEINVAL 10022L
#define WSAEWOULDBLOCK 10035L
#define WSAENOTSOCK 10038L
#define WSAENOBUFS 10055L

/* Completion ports. */
PSN_API HANDLE CreateIoCompletionPort(HANDLE FileHandle, HANDLE ExistingCompletionPort,
                                      ULONG_PTR CompletionKey, DWORD NumberOfConcurrentThreads);
PSN_API BOOL CloseHandle(HANDLE hObject);
PSN_API BOOL PostQueuedCompletionStatus(HANDLE CompletionPort,
                                        DWORD dwNumberOfBytesTransferred,
                                        ULONG_PTR dwCompletionKey, LPOVERLAPPED lpOverlapped);
PSN_API BOOL GetQueuedCompletionStatus(HANDLE CompletionPort, DWORD* lpNumberOfBytesTransferred,
                                       ULONG_PTR* lpCompletionKey, LPOVERLAPPED* lpOverlapped,
                                       DWORD dwMilliseconds);
PSN_API BOOL GetQueuedCompletionStatusEx(HANDLE CompletionPort,
                                         OVERLAPPED_ENTRY* lpCompletionPortEntries, ULONG ulCount,
                                         ULONG* ulNumEntriesRemoved, DWORD dwMilliseconds,
                                         BOOL fAlertable);

/* Socket notifications. */
PSN_API DWORD ProcessSocketNotifications(HANDLE completionPort, UINT32 registrationCount,
                                         SOCK_NOTIFY_REGISTRATION* registrationInfos,
                                         UINT32 timeoutMs, ULONG completionCount,
                                         OVERLAPPED_ENTRY* completionPortEntries,
                                         UINT32* receivedEntryCount);

static inline UINT32 SocketNotificationRetrieveEvents(OVERLAPPED_ENTRY* notification) {
  return notification->dwNumberOfBytesTransferred;
}

/* Closes a socket and drops its registration, without a REMOVE packet. */
PSN_API int closesocket(SOCKET s);

/* Per-thread last error. */
PSN_API DWORD GetLastError(void);
PSN_API void SetLastError(DWORD dwErrCode);
PSN_API int WSAGetLastError(void);

#ifdef __cplusplus
}
#endif

#endif /* PSN_PSN_H */
