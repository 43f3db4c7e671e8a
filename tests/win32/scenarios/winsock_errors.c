/*
 * Scenario: a Winsock error-code checker. Provokes real failures on loopback
 * and checks that each sets the Windows code, that WSAGetLastError() and
 * GetLastError() agree on it, and that FormatMessageA/W give it a one-line
 * text; prints each code with its text (R8.3, R5.1, R6).
 *
 *   refused        blocking connect to a bound, non-listening port
 *   refused, async non-blocking connect: WSAEWOULDBLOCK, then ERR on the port
 *                  and getsockopt(SO_ERROR) = WSAECONNREFUSED
 *   would-block    recv / accept on non-blocking sockets with nothing there
 *   not-a-socket   a closed socket, INVALID_SOCKET, and registering a closed
 *                  socket with ProcessSocketNotifications
 *   address-in-use bind to a port a listener (and a UDP socket) holds
 *   and a few more: WSAESHUTDOWN, WSAENOTCONN, WSAEINVAL, WSAEAFNOSUPPORT,
 *   WSAEFAULT, WSAEMSGSIZE.
 *
 * Returns 0 only if every expectation held.
 */
#include "scenario.h"

#define WAIT_MS 10000

static int g_checked = 0;

/* The code just set must be `expected`, the same through both accessors,
 * and have a text. */
static void CheckCode(_In_ const char* what, _In_ int expected, _In_ int result,
                      _In_ int failureValue) {
  int wsa = WSAGetLastError();
  DWORD last = GetLastError();
  char text[512];
  WCHAR wide[512];
  DWORD length, wideLength, i;

  g_checked += 1;
  EXPECT(result == failureValue, "%s: returned %d, expected %d", what, result, failureValue);
  EXPECT(wsa == expected, "%s: WSAGetLastError() = %d, expected %d", what, wsa, expected);
  EXPECT(last == (DWORD)expected, "%s: GetLastError() = %lu, expected %d", what,
         (unsigned long)last, expected);

  length = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL,
                          (DWORD)wsa, 0, text, (DWORD)sizeof(text), NULL);
  EXPECT(length > 0 && length < sizeof(text), "%s: FormatMessageA(%d) failed: %lu", what, wsa,
         (unsigned long)GetLastError());
  if (length == 0 || length >= sizeof(text)) {
    return;
  }
  EXPECT(length == strlen(text), "%s: FormatMessageA length %lu for %zu chars", what,
         (unsigned long)length, strlen(text));
  /* One line: Windows ends its texts with "\r\n"; nothing else breaks it. */
  while (length > 0 &&
         (text[length - 1] == '\n' || text[length - 1] == '\r' || text[length - 1] == ' ')) {
    text[--length] = '\0';
  }
  EXPECT(length > 0, "%s: empty text", what);
  EXPECT(strchr(text, '\n') == NULL && strchr(text, '\r') == NULL, "%s: text is not one line",
         what);

  wideLength = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL,
                              (DWORD)wsa, 0, wide, RTL_NUMBER_OF(wide), NULL);
  EXPECT(wideLength >= length, "%s: FormatMessageW gave %lu chars", what,
         (unsigned long)wideLength);
  for (i = 0; i < length && i < wideLength; i += 1) {
    if (wide[i] != (WCHAR)(unsigned char)text[i]) {
      EXPECT(FALSE, "%s: FormatMessageW text differs at %lu", what, (unsigned long)i);
      break;
    }
  }
  printf("  %-34s %5d  %s\n", what, wsa, text);
}

static SOCKET NonBlockingSocket(_In_ int type) {
  u_long nonBlocking = 1;
  SOCKET s = socket(AF_INET, type, type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP);
  if (s != INVALID_SOCKET && ioctlsocket(s, FIONBIO, &nonBlocking) != 0) {
    closesocket(s);
    return INVALID_SOCKET;
  }
  return s;
}

/* A loopback address whose port is bound by a socket that does not listen:
 * connecting to it is refused, and no other program can take the port. */
static SOCKET ReserveRefusingPort(_Out_ SOCKADDR_IN* address) {
  int len = sizeof(*address);
  SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  ZeroMemory(address, sizeof(*address));
  address->sin_family = AF_INET;
  address->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (s == INVALID_SOCKET || bind(s, (SOCKADDR*)address, sizeof(*address)) != 0 ||
      getsockname(s, (SOCKADDR*)address, &len) != 0) {
    return INVALID_SOCKET;
  }
  return s;
}

static void Refused(void) {
  SOCKADDR_IN address;
  SOCKET holder = ReserveRefusingPort(&address);
  SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  int r;
  EXPECT(holder != INVALID_SOCKET && s != INVALID_SOCKET, "sockets");
  WSASetLastError(0);
  r = connect(s, (SOCKADDR*)&address, sizeof(address));
  CheckCode("connect, refused", WSAECONNREFUSED, r, SOCKET_ERROR);
  EXPECT(WSAECONNREFUSED == 10061, "WSAECONNREFUSED has Windows' value");
  closesocket(s);
  closesocket(holder);
}

static void RefusedAsync(void) {
  SOCKADDR_IN address;
  SOCKET holder = ReserveRefusingPort(&address);
  SOCKET s = NonBlockingSocket(SOCK_STREAM);
  HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
  SOCK_NOTIFY_REGISTRATION reg;
  OVERLAPPED_ENTRY entry;
  UINT32 received = 0, events;
  DWORD result;
  int r, soError = -1, len = sizeof(soError);

  EXPECT(holder != INVALID_SOCKET && s != INVALID_SOCKET && port != NULL, "setup");
  WSASetLastError(0);
  r = connect(s, (SOCKADDR*)&address, sizeof(address));
  /* Windows reports a non-blocking connect under way as WSAEWOULDBLOCK,
   * never WSAEINPROGRESS. */
  CheckCode("connect, non-blocking", WSAEWOULDBLOCK, r, SOCKET_ERROR);

  ZeroMemory(&reg, sizeof(reg));
  reg.socket = s;
  reg.completionKey = (PVOID)s;
  reg.eventFilter = SOCK_NOTIFY_REGISTER_EVENT_OUT | SOCK_NOTIFY_REGISTER_EVENT_HANGUP;
  reg.operation = SOCK_NOTIFY_OP_ENABLE;
  reg.triggerFlags = SOCK_NOTIFY_TRIGGER_ONESHOT | SOCK_NOTIFY_TRIGGER_LEVEL;
  result = ProcessSocketNotifications(port, 1, &reg, WAIT_MS, 1, &entry, &received);
  EXPECT(result == ERROR_SUCCESS && reg.registrationResult == ERROR_SUCCESS && received == 1,
         "waiting for the refused connect: %lu / %lu", (unsigned long)result,
         (unsigned long)reg.registrationResult);
  events = received == 1 ? SocketNotificationRetrieveEvents(&entry) : 0;
  EXPECT((events & SOCK_NOTIFY_EVENT_ERR) != 0, "refused connect: events 0x%x, no ERR",
         (unsigned)events); /* R6 */
  EXPECT(getsockopt(s, SOL_SOCKET, SO_ERROR, (char*)&soError, &len) == 0 && len == (int)sizeof(int),
         "getsockopt(SO_ERROR)");
  EXPECT(soError == WSAECONNREFUSED, "SO_ERROR = %d, expected WSAECONNREFUSED", soError);
  printf("  %-34s %5d  (getsockopt SO_ERROR after ERR)\n", "connect, non-blocking, refused",
         soError);
  closesocket(s);
  closesocket(holder);
  CloseHandle(port);
}

static void WouldBlock(void) {
  SOCKADDR_IN address;
  SOCKET listener = CreateLoopbackListener(&address);
  SOCKET client = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  SOCKET server, udp;
  u_long nonBlocking = 1;
  char buffer[16];
  int r;

  EXPECT(listener != INVALID_SOCKET && client != INVALID_SOCKET, "setup");
  EXPECT(ioctlsocket(listener, FIONBIO, &nonBlocking) == 0, "FIONBIO");
  WSASetLastError(0);
  server = accept(listener, NULL, NULL);
  CheckCode("accept, nothing pending", WSAEWOULDBLOCK, server == INVALID_SOCKET ? -1 : 0, -1);

  EXPECT(connect(client, (SOCKADDR*)&address, sizeof(address)) == 0, "connect");
  nonBlocking = 0;
  EXPECT(ioctlsocket(listener, FIONBIO, &nonBlocking) == 0, "FIONBIO off");
  server = accept(listener, NULL, NULL);
  EXPECT(server != INVALID_SOCKET, "accept");
  nonBlocking = 1;
  EXPECT(ioctlsocket(server, FIONBIO, &nonBlocking) == 0, "FIONBIO");
  WSASetLastError(0);
  r = recv(server, buffer, (int)sizeof(buffer), 0);
  CheckCode("recv, TCP, no data", WSAEWOULDBLOCK, r, SOCKET_ERROR);
  EXPECT(WSAEWOULDBLOCK == 10035, "WSAEWOULDBLOCK has Windows' value");

  udp = NonBlockingSocket(SOCK_DGRAM);
  address.sin_port = 0;
  EXPECT(udp != INVALID_SOCKET && bind(udp, (SOCKADDR*)&address, sizeof(address)) == 0, "udp");
  WSASetLastError(0);
  r = recvfrom(udp, buffer, (int)sizeof(buffer), 0, NULL, NULL);
  CheckCode("recvfrom, UDP, no data", WSAEWOULDBLOCK, r, SOCKET_ERROR);

  /* And a few more on the same connection. */
  EXPECT(shutdown(client, SD_SEND) == 0, "shutdown");
  WSASetLastError(0);
  r = send(client, "x", 1, 0);
  CheckCode("send after shutdown(SD_SEND)", WSAESHUTDOWN, r, SOCKET_ERROR);
  WSASetLastError(0);
  r = accept(server, NULL, NULL) == INVALID_SOCKET ? -1 : 0;
  CheckCode("accept on a connected socket", WSAEINVAL, r, -1);

  closesocket(udp);
  closesocket(server);
  closesocket(client);
  closesocket(listener);
}

static void NotASocket(void) {
  SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
  SOCK_NOTIFY_REGISTRATION reg;
  DWORD result;
  char buffer[4];
  int r;

  EXPECT(s != INVALID_SOCKET && port != NULL, "setup");
  EXPECT(closesocket(s) == 0, "first closesocket");
  /* Nothing else runs in this process now: the number stays free. */
  WSASetLastError(0);
  r = closesocket(s);
  CheckCode("closesocket, already closed", WSAENOTSOCK, r, SOCKET_ERROR);
  WSASetLastError(0);
  r = send(INVALID_SOCKET, "x", 1, 0);
  CheckCode("send(INVALID_SOCKET)", WSAENOTSOCK, r, SOCKET_ERROR);
  WSASetLastError(0);
  r = recv(s, buffer, (int)sizeof(buffer), 0);
  CheckCode("recv, closed socket", WSAENOTSOCK, r, SOCKET_ERROR);
  EXPECT(WSAENOTSOCK == 10038, "WSAENOTSOCK has Windows' value");

  /* R5.1: a per-entry failure; the call itself succeeds. */
  ZeroMemory(&reg, sizeof(reg));
  reg.socket = s;
  reg.completionKey = NULL;
  reg.eventFilter = SOCK_NOTIFY_REGISTER_EVENT_IN;
  reg.operation = SOCK_NOTIFY_OP_ENABLE;
  reg.triggerFlags = SOCK_NOTIFY_TRIGGER_LEVEL;
  result = ProcessSocketNotifications(port, 1, &reg, 0, 0, NULL, NULL);
  EXPECT(result == ERROR_SUCCESS, "ProcessSocketNotifications: %lu", (unsigned long)result);
  EXPECT(reg.registrationResult == WSAENOTSOCK, "registrationResult %lu, expected WSAENOTSOCK",
         (unsigned long)reg.registrationResult);
  printf("  %-34s %5lu  (registrationResult)\n", "register a closed socket",
         (unsigned long)reg.registrationResult);
  CloseHandle(port);
}

static void AddressInUse(void) {
  SOCKADDR_IN address, udpAddress;
  SOCKET listener = CreateLoopbackListener(&address);
  SOCKET second = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  SOCKET udp1 = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  SOCKET udp2 = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  int r, len = sizeof(udpAddress);

  EXPECT(listener != INVALID_SOCKET && second != INVALID_SOCKET, "setup");
  WSASetLastError(0);
  r = bind(second, (SOCKADDR*)&address, sizeof(address));
  CheckCode("bind, TCP port in use", WSAEADDRINUSE, r, SOCKET_ERROR);
  EXPECT(WSAEADDRINUSE == 10048, "WSAEADDRINUSE has Windows' value");

  ZeroMemory(&udpAddress, sizeof(udpAddress));
  udpAddress.sin_family = AF_INET;
  udpAddress.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT(udp1 != INVALID_SOCKET && udp2 != INVALID_SOCKET &&
             bind(udp1, (SOCKADDR*)&udpAddress, sizeof(udpAddress)) == 0 &&
             getsockname(udp1, (SOCKADDR*)&udpAddress, &len) == 0,
         "udp setup");
  WSASetLastError(0);
  r = bind(udp2, (SOCKADDR*)&udpAddress, sizeof(udpAddress));
  CheckCode("bind, UDP port in use", WSAEADDRINUSE, r, SOCKET_ERROR);

  closesocket(udp2);
  closesocket(udp1);
  closesocket(second);
  closesocket(listener);
}

static void Others(void) {
  SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  SOCKET udp;
  SOCKADDR_IN address;
  char buffer[4];
  char* big;
  int r, len;

  EXPECT(s != INVALID_SOCKET, "socket");
  WSASetLastError(0);
  r = recv(s, buffer, (int)sizeof(buffer), 0);
  CheckCode("recv, never connected", WSAENOTCONN, r, SOCKET_ERROR);

  WSASetLastError(0);
  r = send(s, "x", 1, 0);
  CheckCode("send, never connected", WSAENOTCONN, r, SOCKET_ERROR);

  /* Windows wants bind before listen (Linux would bind on its own). */
  WSASetLastError(0);
  r = listen(s, SOMAXCONN);
  CheckCode("listen, not bound", WSAEINVAL, r, SOCKET_ERROR);

  WSASetLastError(0);
  r = socket(12345, SOCK_STREAM, 0) == INVALID_SOCKET ? -1 : 0;
  CheckCode("socket, unknown family", WSAEAFNOSUPPORT, r, -1);

  /* Windows checks namelen: too small for the address is WSAEFAULT. */
  ZeroMemory(&address, sizeof(address));
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT(bind(s, (SOCKADDR*)&address, sizeof(address)) == 0, "bind");
  len = 4;
  WSASetLastError(0);
  r = getsockname(s, (SOCKADDR*)&address, &len);
  CheckCode("getsockname, namelen too small", WSAEFAULT, r, SOCKET_ERROR);
  closesocket(s);

  /* A datagram larger than UDP can carry. */
  udp = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  big = (char*)calloc(1, 70000);
  EXPECT(udp != INVALID_SOCKET && big != NULL, "udp");
  len = sizeof(address);
  address.sin_port = 0;
  EXPECT(bind(udp, (SOCKADDR*)&address, sizeof(address)) == 0 &&
             getsockname(udp, (SOCKADDR*)&address, &len) == 0,
         "udp bind");
  WSASetLastError(0);
  r = sendto(udp, big, 70000, 0, (SOCKADDR*)&address, len);
  CheckCode("sendto, datagram too large", WSAEMSGSIZE, r, SOCKET_ERROR);
  free(big);
  closesocket(udp);
}

int main(void) {
  WSADATA wsaData;
  LPSTR allocated = NULL;
  DWORD length;

  if (WSAStartup(MAKEWORD(2, 2), &wsaData) != 0) {
    fprintf(stderr, "WSAStartup failed\n");
    return 1;
  }
  printf("Winsock codes provoked on loopback:\n");
  Refused();
  RefusedAsync();
  WouldBlock();
  NotASocket();
  AddressInUse();
  Others();

  /* FORMAT_MESSAGE_ALLOCATE_BUFFER: the buffer argument is really an LPSTR*,
   * freed with LocalFree. */
  length = FormatMessageA(
      FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_IGNORE_INSERTS,
      NULL, WSAECONNRESET, 0, (LPSTR)&allocated, 0, NULL);
  EXPECT(length > 0 && allocated != NULL && strlen(allocated) == length,
         "FORMAT_MESSAGE_ALLOCATE_BUFFER");
  EXPECT(LocalFree(allocated) == NULL, "LocalFree");

  printf("%d codes checked\n", g_checked);
  WSACleanup();
  return ScenarioResult("winsock_errors");
}
