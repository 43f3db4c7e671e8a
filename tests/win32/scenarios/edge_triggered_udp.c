/*
 * Scenario: an edge-triggered UDP receiver, in the style of the "Winsock
 * socket state notifications" documentation. The socket is registered
 * (persistent, edge-triggered, IN) BEFORE it is bound, so no datagram can
 * arrive unnoticed; it is non-blocking and drained until WSAEWOULDBLOCK
 * after each notification. A client thread sends BURST_COUNT bursts of
 * BURST_SIZE datagrams, each after the receiver signals (an auto-reset event)
 * that it drained the previous one.
 *
 * Checked: every datagram arrives once, in order; each burst brings a
 * notification; a taken notification is not repeated for the same edge
 * while the data is still unread (R5.8); after the final drain nothing more
 * is queued; REMOVE is delivered (R5.5). Returns 0 only if all held.
 */
#include "scenario.h"

#define BURST_COUNT 4
#define BURST_SIZE 6
#define WAIT_MS 10000
#define QUIET_MS 200 /* how long "no repeated notification" is watched */

typedef struct SHARED {
  SOCKADDR_IN server;
  HANDLE drained; /* auto-reset: the receiver drained a burst */
  HANDLE sent;    /* auto-reset: the client sent a whole burst */
} SHARED;

static DWORD WINAPI ClientRoutine(_In_ LPVOID parameter) {
  SHARED* shared = (SHARED*)parameter;
  DWORD sequence = 0;
  int burst, i;
  SOCKET s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  if (s == INVALID_SOCKET) {
    return 1;
  }
  for (burst = 0; burst < BURST_COUNT; burst += 1) {
    if (WaitForSingleObject(shared->drained, WAIT_MS) != WAIT_OBJECT_0) {
      closesocket(s);
      return 2;
    }
    for (i = 0; i < BURST_SIZE; i += 1) {
      DWORD datagram[4] = {sequence, sequence * 3u, ~sequence, 0x5A5A5A5Au};
      sequence += 1;
      if (sendto(s, (const char*)datagram, (int)sizeof(datagram), 0,
                 (const SOCKADDR*)&shared->server,
                 sizeof(shared->server)) != (int)sizeof(datagram)) {
        closesocket(s);
        return 3;
      }
    }
    SetEvent(shared->sent);
  }
  closesocket(s);
  return 0;
}

/* Receives until the socket would block; checks each datagram's sequence.
 * Returns how many arrived, or -1 on an unexpected error. */
static int Drain(_In_ SOCKET s, _Inout_ DWORD* nextSequence, _In_ int limit) {
  int count = 0;
  while (limit < 0 || count < limit) {
    DWORD datagram[8];
    int got = recv(s, (char*)datagram, (int)sizeof(datagram), 0);
    if (got == SOCKET_ERROR) {
      int error = WSAGetLastError();
      EXPECT(error == WSAEWOULDBLOCK, "recv: %d", error);
      EXPECT(GetLastError() == (DWORD)error, "GetLastError %lu != WSAGetLastError %d",
             (unsigned long)GetLastError(), error);
      return error == WSAEWOULDBLOCK ? count : -1;
    }
    EXPECT(got == 4 * (int)sizeof(DWORD), "datagram of %d bytes", got);
    EXPECT(datagram[0] == *nextSequence && datagram[1] == *nextSequence * 3u &&
               datagram[2] == ~*nextSequence && datagram[3] == 0x5A5A5A5Au,
           "datagram %lu out of order or corrupted (expected %lu)", (unsigned long)datagram[0],
           (unsigned long)*nextSequence);
    *nextSequence += 1;
    count += 1;
  }
  return count;
}

int main(void) {
  WSADATA wsaData;
  SHARED shared;
  HANDLE port, client;
  SOCKET s;
  SOCK_NOTIFY_REGISTRATION r;
  OVERLAPPED_ENTRY entry;
  ULONG removed = 0;
  UINT32 received = 0;
  u_long nonBlocking = 1;
  int len, burst, total = 0, got;
  DWORD nextSequence = 0, exitCode = 0, result;

  REQUIRE(WSAStartup(MAKEWORD(2, 2), &wsaData) == 0, 1, "WSAStartup");
  ZeroMemory(&shared, sizeof(shared));
  shared.drained = CreateEventA(NULL, FALSE, FALSE, NULL);
  shared.sent = CreateEventA(NULL, FALSE, FALSE, NULL);
  REQUIRE(shared.drained != NULL && shared.sent != NULL, 1, "CreateEvent");
  port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
  REQUIRE(port != NULL, 1, "CreateIoCompletionPort");

  s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  REQUIRE(s != INVALID_SOCKET, 1, "socket: %d", WSAGetLastError());

  /* Register first, bind afterwards: nothing can arrive before the
   * registration exists. */
  ZeroMemory(&r, sizeof(r));
  r.socket = s;
  r.completionKey = (PVOID)s;
  r.eventFilter = SOCK_NOTIFY_REGISTER_EVENT_IN;
  r.operation = SOCK_NOTIFY_OP_ENABLE;
  r.triggerFlags = SOCK_NOTIFY_TRIGGER_EDGE;
  result = ProcessSocketNotifications(port, 1, &r, 0, 0, NULL, NULL);
  REQUIRE(result == ERROR_SUCCESS && r.registrationResult == ERROR_SUCCESS, 1,
          "register: %lu / %lu", (unsigned long)result, (unsigned long)r.registrationResult);
  REQUIRE(ioctlsocket(s, FIONBIO, &nonBlocking) == 0, 1, "FIONBIO");

  ZeroMemory(&shared.server, sizeof(shared.server));
  shared.server.sin_family = AF_INET;
  shared.server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(s, (SOCKADDR*)&shared.server, sizeof(shared.server)) == 0, 1, "bind: %d",
          WSAGetLastError());
  len = sizeof(shared.server);
  REQUIRE(getsockname(s, (SOCKADDR*)&shared.server, &len) == 0, 1, "getsockname");

  /* Nothing has been sent: an unbound-then-bound idle socket is quiet. */
  EXPECT(!GetQueuedCompletionStatusEx(port, &entry, 1, &removed, 0, FALSE) &&
             GetLastError() == WAIT_TIMEOUT,
         "a notification before any datagram");

  client = CreateThread(NULL, 0, ClientRoutine, &shared, 0, NULL);
  REQUIRE(client != NULL, 1, "CreateThread");

  for (burst = 0; burst < BURST_COUNT; burst += 1) {
    SetEvent(shared.drained); /* ask for the next burst */
    EXPECT(WaitForSingleObject(shared.sent, WAIT_MS) == WAIT_OBJECT_0, "burst %d not sent", burst);

    /* The rising edge of this burst. */
    if (!GetQueuedCompletionStatusEx(port, &entry, 1, &removed, WAIT_MS, FALSE)) {
      EXPECT(FALSE, "no notification for burst %d: %lu", burst, (unsigned long)GetLastError());
      break;
    }
    EXPECT(removed == 1 && (SOCKET)entry.lpCompletionKey == s, "wrong packet");
    EXPECT(SocketNotificationRetrieveEvents(&entry) == SOCK_NOTIFY_EVENT_IN, "events 0x%x",
           (unsigned)SocketNotificationRetrieveEvents(&entry));

    /* Read one datagram only: data remains, but the edge was taken, so no
     * new notification may come for it (R5.8). */
    got = Drain(s, &nextSequence, 1);
    EXPECT(got == 1, "first read of burst %d: %d", burst, got);
    total += got > 0 ? got : 0;
    EXPECT(!GetQueuedCompletionStatusEx(port, &entry, 1, &removed, QUIET_MS, FALSE) &&
               GetLastError() == WAIT_TIMEOUT,
           "edge-triggered registration notified twice for one edge (burst %d)", burst);

    /* Now drain to WSAEWOULDBLOCK, which re-arms the edge. */
    got = Drain(s, &nextSequence, -1);
    EXPECT(got == BURST_SIZE - 1, "burst %d: drained %d more", burst, got);
    total += got > 0 ? got : 0;
  }

  EXPECT(WaitForSingleObject(client, WAIT_MS) == WAIT_OBJECT_0, "client did not finish");
  EXPECT(GetExitCodeThread(client, &exitCode) && exitCode == 0, "client exit %lu",
         (unsigned long)exitCode);
  CloseHandle(client);
  EXPECT(total == BURST_COUNT * BURST_SIZE, "received %d datagrams", total);
  EXPECT(!GetQueuedCompletionStatusEx(port, &entry, 1, &removed, 0, FALSE) &&
             GetLastError() == WAIT_TIMEOUT,
         "a notification after the final drain");

  /* Deregister and wait for the REMOVE packet (R5.5). */
  ZeroMemory(&r, sizeof(r));
  r.socket = s;
  r.operation = SOCK_NOTIFY_OP_REMOVE;
  result = ProcessSocketNotifications(port, 1, &r, WAIT_MS, 1, &entry, &received);
  EXPECT(result == ERROR_SUCCESS && r.registrationResult == ERROR_SUCCESS && received == 1,
         "remove: %lu / %lu / %u", (unsigned long)result, (unsigned long)r.registrationResult,
         (unsigned)received);
  EXPECT((SocketNotificationRetrieveEvents(&entry) & SOCK_NOTIFY_EVENT_REMOVE) != 0 &&
             (SOCKET)entry.lpCompletionKey == s,
         "REMOVE packet");

  closesocket(s);
  CloseHandle(shared.drained);
  CloseHandle(shared.sent);
  EXPECT(CloseHandle(port), "CloseHandle(port)");
  WSACleanup();
  return ScenarioResult("edge_triggered_udp");
}
