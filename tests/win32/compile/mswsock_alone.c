/*
 * R8.1 compile matrix: <mswsock.h> alone gives everything: Winsock, the
 * Win32 basics and ProcessSocketNotifications. Also valid C++.
 */
#include <mswsock.h>

#pragma comment(lib, "Ws2_32.lib")

static DWORD CALLBACK SenderRoutine(_In_ PVOID parameter) {
  SOCKET s = (SOCKET)(ULONG_PTR)parameter;
  const char message[] = "ping";
  return send(s, message, (int)sizeof(message), 0) == (int)sizeof(message) ? 0 : 1;
}

int main(void) {
  SOCKET listener, client, server;
  SOCKADDR_IN address;
  int len = sizeof address;
  HANDLE port, thread;
  SOCK_NOTIFY_REGISTRATION registration;
  OVERLAPPED_ENTRY entries[2];
  UINT32 received = 0;
  u_long nonBlocking = 1;
  char buffer[16];
  DWORD threadResult = 1;

  listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  ZeroMemory(&address, sizeof(address));
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (listener == INVALID_SOCKET || bind(listener, (SOCKADDR*)&address, sizeof(address)) != 0 ||
      listen(listener, SOMAXCONN) != 0 || getsockname(listener, (SOCKADDR*)&address, &len) != 0) {
    return 1;
  }
  client = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  if (client == INVALID_SOCKET || connect(client, (SOCKADDR*)&address, len) != 0) {
    return 2;
  }
  server = accept(listener, NULL, NULL);
  if (server == INVALID_SOCKET || ioctlsocket(server, FIONBIO, &nonBlocking) != 0) {
    return 3;
  }
  port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
  ZeroMemory(&registration, sizeof(registration));
  registration.socket = server;
  registration.completionKey = (PVOID)server;
  registration.eventFilter = SOCK_NOTIFY_REGISTER_EVENT_IN;
  registration.operation = SOCK_NOTIFY_OP_ENABLE;
  registration.triggerFlags = SOCK_NOTIFY_TRIGGER_ONESHOT | SOCK_NOTIFY_TRIGGER_LEVEL;
  if (port == NULL ||
      ProcessSocketNotifications(port, 1, &registration, 0, 0, NULL, NULL) != ERROR_SUCCESS ||
      registration.registrationResult != ERROR_SUCCESS) {
    return 4;
  }
  thread = CreateThread(NULL, 0, SenderRoutine, (PVOID)client, 0, NULL);
  if (thread == NULL) {
    return 5;
  }
  if (ProcessSocketNotifications(port, 0, NULL, 10000, RTL_NUMBER_OF(entries), entries,
                                 &received) != ERROR_SUCCESS ||
      received != 1 || (SOCKET)entries[0].lpCompletionKey != server ||
      (SocketNotificationRetrieveEvents(&entries[0]) & SOCK_NOTIFY_EVENT_IN) == 0) {
    return 6;
  }
  if (recv(server, buffer, sizeof(buffer), 0) != 5 || buffer[0] != 'p') {
    return 7;
  }
  if (WaitForSingleObject(thread, INFINITE) != WAIT_OBJECT_0 ||
      !GetExitCodeThread(thread, &threadResult) || threadResult != 0) {
    return 8;
  }
  CloseHandle(thread);
  CloseHandle(port);
  closesocket(server);
  closesocket(client);
  closesocket(listener);
  return 0;
}
