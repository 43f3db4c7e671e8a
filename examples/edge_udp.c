/*
 * edge_udp.c - an edge-triggered UDP receiver on psn, as a plain Windows
 * program (Winsock and Win32 only, built on Linux through psn-win32).
 *
 * What it shows:
 *
 *   - A socket can be registered before it is bound: the UDP socket joins the
 *     completion port first, and only then gets its address, so no datagram
 *     can arrive before the registration exists.
 *   - EDGE-TRIGGERED registration (SOCK_NOTIFY_TRIGGER_EDGE): a notification
 *     says "datagrams started arriving", not "how many". The receiver must
 *     drain the socket until recv() would block: recv() returns SOCKET_ERROR
 *     and WSAGetLastError() is WSAEWOULDBLOCK. Only after that drain is the
 *     next arrival guaranteed to notify again (R5.8). Stopping early would
 *     strand datagrams with no wake-up coming.
 *   - The registration is persistent: nothing is re-armed between packets.
 *
 * A sender thread (CreateThread) sends DATAGRAMS numbered datagrams to the
 * receiver on 127.0.0.1. UDP drops what does not fit in the receive buffer, so
 * the sender keeps at most WINDOW datagrams in flight: when the window is
 * full it waits on an auto-reset event that the receiver sets after each
 * drain. The receiver marks each sequence number it sees and the program exits
 * 0 only when every datagram was counted exactly once.
 */
/* On Windows <winsock2.h> must come before <windows.h>: keep this order. */
/* clang-format off */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma comment(lib, "Ws2_32.lib")

#define DATAGRAMS 20000
#define WINDOW 64    /* datagrams the sender lets be in flight */
#define PAYLOAD 128  /* bytes per datagram; the first 4 are its number */
#define WAIT_MS 5000 /* a wait this long without a notification is a failure */

static SOCKADDR_IN receiver_addr;
static volatile LONG received; /* distinct datagrams counted by the receiver */
static volatile LONG sender_failed;
static volatile LONG receiver_gave_up;
static HANDLE window_open; /* auto-reset: the receiver made room */

static LONG read_flag(volatile LONG* v) {
  return InterlockedCompareExchange(v, 0, 0);
}

static DWORD WINAPI sender_main(LPVOID unused) {
  UNREFERENCED_PARAMETER(unused);
  SOCKET s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  if (s == INVALID_SOCKET) {
    fprintf(stderr, "sender: socket failed: %d\n", WSAGetLastError());
    InterlockedExchange(&sender_failed, 1);
    return 1;
  }
  char msg[PAYLOAD];
  memset(msg, 0xA5, sizeof msg);
  for (UINT32 seq = 0; seq < DATAGRAMS; ++seq) {
    /* Flow control: UDP would otherwise drop what the receiver cannot hold.
     * The event stays set if the receiver set it after the check, so no
     * wake-up is lost; the time-out only lets the sender notice a receiver
     * that gave up. */
    while (seq - (UINT32)read_flag(&received) >= WINDOW) {
      if (read_flag(&receiver_gave_up)) goto out;
      WaitForSingleObject(window_open, 100);
    }
    UINT32 wire = (UINT32)htonl(seq);
    memcpy(msg, &wire, sizeof wire);
    if (sendto(s, msg, (int)sizeof msg, 0, (const SOCKADDR*)&receiver_addr,
               (int)sizeof receiver_addr) != (int)sizeof msg) {
      fprintf(stderr, "sender: sendto failed: %d\n", WSAGetLastError());
      InterlockedExchange(&sender_failed, 1);
      break;
    }
  }
out:
  closesocket(s);
  return 0;
}

int main(void) {
  WSADATA wsa;
  if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
    fprintf(stderr, "WSAStartup failed\n");
    return 1;
  }
  HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
  if (port == NULL) {
    fprintf(stderr, "CreateIoCompletionPort failed: %lu\n", (unsigned long)GetLastError());
    return 1;
  }
  window_open = CreateEvent(NULL, FALSE, FALSE, NULL);
  if (window_open == NULL) {
    fprintf(stderr, "CreateEvent failed: %lu\n", (unsigned long)GetLastError());
    return 1;
  }

  /* 1. A non-blocking UDP socket, not bound yet. */
  SOCKET s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  u_long nonblocking = 1;
  if (s == INVALID_SOCKET || ioctlsocket(s, FIONBIO, &nonblocking) != 0) {
    fprintf(stderr, "socket: error %d\n", WSAGetLastError());
    return 1;
  }

  /* 2. Register it: IN only, edge-triggered, persistent. */
  SOCK_NOTIFY_REGISTRATION reg;
  ZeroMemory(&reg, sizeof reg);
  reg.socket = s;
  reg.completionKey = (PVOID)s; /* this program has one socket: the key can be the socket */
  reg.eventFilter = SOCK_NOTIFY_REGISTER_EVENT_IN;
  reg.operation = SOCK_NOTIFY_OP_ENABLE;
  reg.triggerFlags = SOCK_NOTIFY_TRIGGER_EDGE | SOCK_NOTIFY_TRIGGER_PERSISTENT;
  DWORD rc = ProcessSocketNotifications(port, 1, &reg, 0, 0, NULL, NULL);
  if (rc != ERROR_SUCCESS || reg.registrationResult != ERROR_SUCCESS) {
    fprintf(stderr, "registration failed: %lu / %lu\n", (unsigned long)rc,
            (unsigned long)reg.registrationResult);
    return 1;
  }

  /* 3. Only now bind it to an ephemeral loopback port. */
  receiver_addr.sin_family = AF_INET;
  receiver_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int alen = (int)sizeof receiver_addr;
  if (bind(s, (const SOCKADDR*)&receiver_addr, (int)sizeof receiver_addr) != 0 ||
      getsockname(s, (SOCKADDR*)&receiver_addr, &alen) != 0) {
    fprintf(stderr, "bind: error %d\n", WSAGetLastError());
    return 1;
  }
  printf("receiving on 127.0.0.1:%u (registered before bind), expecting %d datagrams\n",
         ntohs(receiver_addr.sin_port), DATAGRAMS);

  static unsigned char seen[DATAGRAMS];
  unsigned long long notifications = 0, would_block = 0, duplicates = 0, bad = 0;
  unsigned max_per_notification = 0;
  LONG counted_so_far = 0; /* the receiver's own copy of `received` */

  HANDLE sender = CreateThread(NULL, 0, sender_main, NULL, 0, NULL);
  if (sender == NULL) {
    fprintf(stderr, "cannot start the sender: %lu\n", (unsigned long)GetLastError());
    return 1;
  }

  int ok = 1;
  while (counted_so_far < DATAGRAMS) {
    DWORD events = 0;
    ULONG_PTR key = 0;
    LPOVERLAPPED ov = NULL;
    if (!GetQueuedCompletionStatus(port, &events, &key, &ov, WAIT_MS)) {
      fprintf(stderr, "no notification for %d ms (error %lu) with %ld of %d datagrams counted\n",
              WAIT_MS, (unsigned long)GetLastError(), (long)counted_so_far, DATAGRAMS);
      ok = 0;
      break;
    }
    ++notifications;
    if (!(events & SOCK_NOTIFY_EVENT_IN)) continue;

    /* Drain: read until the socket would block. */
    SOCKET current = (SOCKET)key;
    unsigned this_time = 0;
    for (;;) {
      char buf[PAYLOAD + 1];
      int n = recv(current, buf, (int)sizeof buf, 0);
      if (n == SOCKET_ERROR) {
        int error = WSAGetLastError();
        if (error == WSAEWOULDBLOCK) {
          ++would_block; /* drained: the next datagram notifies again */
          break;
        }
        fprintf(stderr, "recv failed: %d\n", error);
        ok = 0;
        break;
      }
      UINT32 wire;
      memcpy(&wire, buf, sizeof wire);
      UINT32 seq = (UINT32)ntohl(wire);
      if (n != PAYLOAD || seq >= DATAGRAMS) {
        ++bad;
        continue;
      }
      if (seen[seq]) {
        ++duplicates;
        continue;
      }
      seen[seq] = 1;
      ++this_time;
      counted_so_far = InterlockedIncrement(&received);
    }
    SetEvent(window_open); /* the drain made room in the sender's window */
    if (!ok) break;
    if (this_time > max_per_notification) max_per_notification = this_time;
  }
  if (!ok) InterlockedExchange(&receiver_gave_up, 1);
  WaitForSingleObject(sender, INFINITE);
  CloseHandle(sender);
  CloseHandle(window_open);
  closesocket(s);
  CloseHandle(port);
  WSACleanup();

  unsigned counted = 0;
  for (unsigned i = 0; i < DATAGRAMS; ++i) counted += seen[i];
  printf("datagrams: %u of %d counted, %llu duplicates, %llu malformed\n", counted, DATAGRAMS,
         duplicates, bad);
  printf(
      "notifications: %llu (%.2f datagrams each, at most %u), "
      "drains ended by WSAEWOULDBLOCK: %llu\n",
      notifications, notifications ? (double)counted / (double)notifications : 0.0,
      max_per_notification, would_block);
  ok = ok && !read_flag(&sender_failed) && counted == DATAGRAMS && duplicates == 0 && bad == 0;
  printf("%s\n", ok ? "OK: every datagram counted" : "FAILED");
  return ok ? 0 : 1;
}
