/*
 * R8.1 compile matrix: <winsock2.h> first, then <ws2tcpip.h> and <windows.h>,
 * with C library headers before and after. Written the way a Windows program
 * is: SAL on its own functions, WSAAPI/WINAPI/CALLBACK/FORCEINLINE, the casts
 * R8.2 names. Also valid C++ (check_compile.sh builds it as C11, C++17, C++20).
 * At run time it does a little real work on loopback and returns 0 on success.
 */
/* The order of inclusion is what is tested. */
/* clang-format off */
#include <stdio.h>
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <stdlib.h>
#include <string.h>
/* clang-format on */

#pragma comment(lib, "Ws2_32.lib")

typedef struct LISTENER {
  SRWLOCK lock;
  _Guarded_by_(lock) LONG acceptedCount;
  SOCKET socket;
} LISTENER;

static FORCEINLINE BOOL IsValidSocketValue(_In_ SOCKET s) {
  return s != INVALID_SOCKET;
}

/* _Outptr_ / _Post_invalid_: the usual create/destroy pair. */
static int WSAAPI CreateListener(_Outptr_ LISTENER** listenerOut) {
  LISTENER* listener = (LISTENER*)malloc(sizeof(*listener));
  SOCKADDR_IN address;
  if (listener == NULL) {
    return WSAENOBUFS;
  }
  ZeroMemory(listener, sizeof(*listener));
  InitializeSRWLock(&listener->lock);
  listener->socket = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  if (!IsValidSocketValue(listener->socket)) {
    int error = WSAGetLastError();
    free(listener);
    return error;
  }
  ZeroMemory(&address, sizeof(address));
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(0);
  if (bind(listener->socket, (SOCKADDR*)&address, sizeof(address)) == SOCKET_ERROR ||
      listen(listener->socket, SOMAXCONN) == SOCKET_ERROR) {
    int error = WSAGetLastError();
    closesocket(listener->socket);
    free(listener);
    return error;
  }
  *listenerOut = listener;
  return 0;
}

static VOID WINAPI DestroyListener(_Inout_ _Post_invalid_ LISTENER* listener) {
  closesocket(listener->socket);
  free(listener);
}

/* _Out_ / _Out_opt_ / _In_opt_. */
static BOOL CALLBACK GetBoundPort(_In_ SOCKET s, _Out_ USHORT* port, _Out_opt_ int* family,
                                  _In_opt_ const char* label) {
  SOCKADDR_IN a;
  int len = sizeof a;
  *port = 0;
  if (getsockname(s, (SOCKADDR*)&a, &len) != 0) {
    return FALSE;
  }
  if (family != NULL) {
    *family = a.sin_family;
  }
  if (label != NULL && label[0] == '\0') {
    return FALSE;
  }
  *port = ntohs(a.sin_port);
  return len == (int)sizeof a;
}

/* _Inout_updates_opt_(n) / _Out_writes_to_opt_(n, m): the shapes
 * ProcessSocketNotifications' own parameters have. */
static DWORD PollOnce(_In_ HANDLE port, _In_ UINT32 count,
                      _Inout_updates_opt_(count) SOCK_NOTIFY_REGISTRATION* registrations,
                      _In_ ULONG capacity,
                      _Out_writes_to_opt_(capacity, *received) OVERLAPPED_ENTRY* entries,
                      _Out_opt_ UINT32* received) {
  return ProcessSocketNotifications(port, count, registrations, capacity == 0 ? 0 : 100, capacity,
                                    entries, received);
}

int main(void) {
  WSADATA data;
  LISTENER* listener = NULL;
  HANDLE port;
  SOCK_NOTIFY_REGISTRATION registration;
  OVERLAPPED_ENTRY entry;
  UINT32 received = 0;
  USHORT boundPort = 0;
  int family = 0;
  DWORD result;
  SOCKET fromKey;

  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) {
    return 1;
  }
  if (CreateListener(&listener) != 0) {
    return 2;
  }
  if (!GetBoundPort(listener->socket, &boundPort, &family, NULL) || boundPort == 0 ||
      family != AF_INET) {
    return 3;
  }
  AcquireSRWLockExclusive(&listener->lock);
  listener->acceptedCount += 1;
  ReleaseSRWLockExclusive(&listener->lock);

  port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
  if (port == NULL) {
    return 4;
  }
  ZeroMemory(&registration, sizeof(registration));
  registration.socket = listener->socket;
  registration.completionKey = (PVOID)listener->socket;
  registration.eventFilter = SOCK_NOTIFY_REGISTER_EVENT_IN;
  registration.operation = SOCK_NOTIFY_OP_ENABLE;
  registration.triggerFlags = SOCK_NOTIFY_TRIGGER_LEVEL;
  result = PollOnce(port, 1, &registration, 0, NULL, NULL);
  if (result != ERROR_SUCCESS || registration.registrationResult != ERROR_SUCCESS) {
    return 5;
  }
  registration.operation = SOCK_NOTIFY_OP_REMOVE;
  result = PollOnce(port, 1, &registration, 1, &entry, &received);
  if (result != ERROR_SUCCESS || received != 1) {
    return 6;
  }
  fromKey = (SOCKET)entry.lpCompletionKey;
  if (fromKey != listener->socket ||
      (SocketNotificationRetrieveEvents(&entry) & SOCK_NOTIFY_EVENT_REMOVE) == 0) {
    return 7;
  }
  CloseHandle(port);
  DestroyListener(listener);
  WSACleanup();
  printf("winsock2_first: ok (port %u)\n", (unsigned)boundPort);
  return 0;
}
