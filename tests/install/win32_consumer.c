/*
 * A Windows-style C11 program built against an installed psn through
 * pkg-config (psn-win32) and find_package(psn) (psn::win32), as a ported
 * program is (R8.1): a thread sends over a loopback TCP connection, an event
 * says when it is done, and the main thread waits for the data with
 * ProcessSocketNotifications. Returns 0 on success.
 */
/* Windows order: <winsock2.h> first. */
/* clang-format off */
#include <winsock2.h>
#include <windows.h>
#include <stdio.h>
#include <string.h>
/* clang-format on */

#pragma comment(lib, "Ws2_32.lib")

static const char kMessage[] = "hello from a Win32 thread";

typedef struct SENDER {
  SOCKET socket;
  HANDLE done;
} SENDER;

static DWORD WINAPI SenderRoutine(_In_ LPVOID parameter) {
  SENDER* sender = (SENDER*)parameter;
  int sent = send(sender->socket, kMessage, (int)sizeof(kMessage), 0);
  SetEvent(sender->done);
  return sent == (int)sizeof(kMessage) ? 0 : 1;
}

int main(void) {
  WSADATA data;
  SOCKET listener, client, server;
  SOCKADDR_IN address;
  int len = sizeof(address);
  HANDLE port, thread;
  SENDER sender;
  SOCK_NOTIFY_REGISTRATION registration;
  OVERLAPPED_ENTRY entry;
  UINT32 received = 0;
  DWORD exitCode = 1, result;
  char buffer[64];

  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) {
    return 1;
  }
  ZeroMemory(&address, sizeof(address));
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  if (listener == INVALID_SOCKET || bind(listener, (SOCKADDR*)&address, sizeof(address)) != 0 ||
      listen(listener, SOMAXCONN) != 0 || getsockname(listener, (SOCKADDR*)&address, &len) != 0) {
    fprintf(stderr, "listener: %d\n", WSAGetLastError());
    return 2;
  }
  client = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  if (client == INVALID_SOCKET || connect(client, (SOCKADDR*)&address, sizeof(address)) != 0) {
    fprintf(stderr, "connect: %d\n", WSAGetLastError());
    return 3;
  }
  server = accept(listener, NULL, NULL);
  if (server == INVALID_SOCKET) {
    fprintf(stderr, "accept: %d\n", WSAGetLastError());
    return 4;
  }

  port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
  if (port == NULL) {
    return 5;
  }
  ZeroMemory(&registration, sizeof(registration));
  registration.socket = server;
  registration.completionKey = (PVOID)server;
  registration.eventFilter = SOCK_NOTIFY_REGISTER_EVENT_IN;
  registration.operation = SOCK_NOTIFY_OP_ENABLE;
  registration.triggerFlags = SOCK_NOTIFY_TRIGGER_ONESHOT | SOCK_NOTIFY_TRIGGER_LEVEL;

  sender.socket = client;
  sender.done = CreateEventA(NULL, TRUE, FALSE, NULL);
  if (sender.done == NULL) {
    return 6;
  }
  thread = CreateThread(NULL, 0, SenderRoutine, &sender, 0, NULL);
  if (thread == NULL) {
    return 7;
  }

  result = ProcessSocketNotifications(port, 1, &registration, 10000, 1, &entry, &received);
  if (result != ERROR_SUCCESS || registration.registrationResult != ERROR_SUCCESS ||
      received != 1 || (SOCKET)entry.lpCompletionKey != server ||
      (SocketNotificationRetrieveEvents(&entry) & SOCK_NOTIFY_EVENT_IN) == 0) {
    fprintf(stderr, "ProcessSocketNotifications: %lu\n", (unsigned long)result);
    return 8;
  }
  if (WaitForSingleObject(sender.done, 10000) != WAIT_OBJECT_0 ||
      WaitForSingleObject(thread, 10000) != WAIT_OBJECT_0 ||
      !GetExitCodeThread(thread, &exitCode) || exitCode != 0) {
    return 9;
  }
  if (recv(server, buffer, (int)sizeof(buffer), 0) != (int)sizeof(kMessage) ||
      strcmp(buffer, kMessage) != 0) {
    return 10;
  }
  CloseHandle(thread);
  CloseHandle(sender.done);
  CloseHandle(port);
  closesocket(server);
  closesocket(client);
  closesocket(listener);
  WSACleanup();
  printf("win32 consumer: ok\n");
  return 0;
}
