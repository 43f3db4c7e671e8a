/*
 * edge_udp.c - an edge-triggered UDP receiver on psn.
 *
 * What it shows:
 *
 *   - A socket can be registered before it is bound: the UDP socket joins the
 *     completion port first, and only then gets its address.
 *   - EDGE-TRIGGERED registration (SOCK_NOTIFY_TRIGGER_EDGE): a notification
 *     says "datagrams started arriving", not "how many". The receiver must
 *     drain the socket until recv() would block -- the Winsock habit of
 *     reading until WSAEWOULDBLOCK; here recv() returns -1 with errno EAGAIN.
 *     Only after that drain is the next arrival guaranteed to notify again
 *     (R5.8). Stopping early would strand datagrams with no wake-up coming.
 *   - The registration is persistent: nothing is re-armed between packets.
 *
 * A sender thread sends DATAGRAMS numbered datagrams to the receiver on
 * 127.0.0.1. UDP drops what does not fit in the receive buffer, so the sender
 * keeps at most WINDOW datagrams in flight (it waits for the receiver's count
 * to catch up). The receiver marks each sequence number it sees and the
 * program exits 0 only when every datagram was counted exactly once.
 *
 * The completion-port calls are the Windows ones from <psn/psn.h>.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <psn/psn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DATAGRAMS 20000
#define WINDOW 64         /* datagrams the sender lets be in flight */
#define PAYLOAD 128       /* bytes per datagram; the first 4 are its number */
#define WAIT_MS 5000      /* a wait this long without a notification is a failure */

static struct sockaddr_in receiver_addr;
static atomic_uint received;  /* distinct datagrams counted by the receiver */
static atomic_int sender_failed;
static atomic_int receiver_gave_up;

static void pause_briefly(void) {
  struct timespec ts = {0, 20000}; /* 20 us */
  nanosleep(&ts, NULL);
}

static void* sender_main(void* unused) {
  (void)unused;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    perror("sender: socket");
    atomic_store(&sender_failed, 1);
    return NULL;
  }
  unsigned char msg[PAYLOAD];
  memset(msg, 0xA5, sizeof msg);
  for (uint32_t seq = 0; seq < DATAGRAMS; ++seq) {
    /* Flow control: UDP would otherwise drop what the receiver cannot hold. */
    while (seq - atomic_load(&received) >= WINDOW) {
      if (atomic_load(&receiver_gave_up)) goto out;
      pause_briefly();
    }
    uint32_t wire = htonl(seq);
    memcpy(msg, &wire, sizeof wire);
    if (sendto(fd, msg, sizeof msg, 0, (struct sockaddr*)&receiver_addr,
               sizeof receiver_addr) != (ssize_t)sizeof msg) {
      perror("sender: sendto");
      atomic_store(&sender_failed, 1);
      break;
    }
  }
out:
  close(fd);
  return NULL;
}

int main(void) {
  HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
  if (port == NULL) {
    fprintf(stderr, "CreateIoCompletionPort failed: %lu\n", (unsigned long)GetLastError());
    return 1;
  }

  /* 1. A non-blocking UDP socket, not bound yet. */
  SOCKET s = socket(AF_INET, SOCK_DGRAM, 0);
  int fl = s >= 0 ? fcntl(s, F_GETFL) : -1;
  if (fl < 0 || fcntl(s, F_SETFL, fl | O_NONBLOCK) != 0) {
    perror("socket");
    return 1;
  }

  /* 2. Register it: IN only, edge-triggered, persistent. */
  SOCK_NOTIFY_REGISTRATION reg;
  memset(&reg, 0, sizeof reg);
  reg.socket = s;
  reg.completionKey = &reg; /* any unique value; this program has one socket */
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
  socklen_t alen = sizeof receiver_addr;
  if (bind(s, (struct sockaddr*)&receiver_addr, sizeof receiver_addr) != 0 ||
      getsockname(s, (struct sockaddr*)&receiver_addr, &alen) != 0) {
    perror("bind");
    return 1;
  }
  printf("receiving on 127.0.0.1:%u (registered before bind), expecting %d datagrams\n",
         ntohs(receiver_addr.sin_port), DATAGRAMS);

  static unsigned char seen[DATAGRAMS];
  unsigned long long notifications = 0, would_block = 0, duplicates = 0, bad = 0;
  unsigned max_per_notification = 0;

  pthread_t sender;
  if (pthread_create(&sender, NULL, sender_main, NULL) != 0) {
    fprintf(stderr, "cannot start the sender\n");
    return 1;
  }

  int ok = 1;
  while (atomic_load(&received) < DATAGRAMS) {
    DWORD events = 0;
    ULONG_PTR key = 0;
    LPOVERLAPPED ov = NULL;
    if (!GetQueuedCompletionStatus(port, &events, &key, &ov, WAIT_MS)) {
      fprintf(stderr, "no notification for %d ms (error %lu) with %u of %d datagrams counted\n",
              WAIT_MS, (unsigned long)GetLastError(), atomic_load(&received), DATAGRAMS);
      ok = 0;
      break;
    }
    ++notifications;
    if (!(events & SOCK_NOTIFY_EVENT_IN)) continue;

    /* Drain: read until the socket would block. */
    unsigned this_time = 0;
    for (;;) {
      unsigned char buf[PAYLOAD + 1];
      ssize_t n = recv(s, buf, sizeof buf, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          ++would_block; /* WSAEWOULDBLOCK: drained; the next datagram notifies again */
          break;
        }
        perror("recv");
        ok = 0;
        break;
      }
      uint32_t wire;
      memcpy(&wire, buf, sizeof wire);
      uint32_t seq = ntohl(wire);
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
      atomic_fetch_add(&received, 1);
    }
    if (!ok) break;
    if (this_time > max_per_notification) max_per_notification = this_time;
  }
  if (!ok) atomic_store(&receiver_gave_up, 1);
  pthread_join(sender, NULL);
  closesocket(s);
  CloseHandle(port);

  unsigned counted = 0;
  for (unsigned i = 0; i < DATAGRAMS; ++i) counted += seen[i];
  printf("datagrams: %u of %d counted, %llu duplicates, %llu malformed\n", counted, DATAGRAMS,
         duplicates, bad);
  printf("notifications: %llu (%.2f datagrams each, at most %u), drains ended by EAGAIN: %llu\n",
         notifications, notifications ? (double)counted / (double)notifications : 0.0,
         max_per_notification, would_block);
  ok = ok && !atomic_load(&sender_failed) && counted == DATAGRAMS && duplicates == 0 && bad == 0;
  printf("%s\n", ok ? "OK: every datagram counted" : "FAILED");
  return ok ? 0 : 1;
}
