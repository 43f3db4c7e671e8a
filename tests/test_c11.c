/*
 * test_c11.c - the C interface, <psn/psn.h>, from a strict C11 program.
 *
 * Built with -std=c11 (no GNU extensions) and warnings as errors, this proves
 * the header is plain C and walks the main path a Windows program takes:
 * create a port, register a socket one-shot and level-triggered, receive its
 * notification, re-arm it in the same ProcessSocketNotifications call that
 * waits for the next one, remove it, post and dequeue user packets, and see
 * the error codes for bad handles. Every check is printed; the last line is
 * "N passed, N failed" and the exit status is non-zero if anything failed.
 */
#define _POSIX_C_SOURCE 200809L

/* clang-format off */
/* First after the feature macro: the header must stand on its own. */
#include <psn/psn.h>
/* clang-format on */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The structures have the Windows layout for LP64. */
_Static_assert(sizeof(DWORD) == 4, "DWORD is 32-bit");
_Static_assert(sizeof(ULONG_PTR) == sizeof(void*), "ULONG_PTR holds a pointer");
_Static_assert(sizeof(SOCK_NOTIFY_REGISTRATION) == 24, "SOCK_NOTIFY_REGISTRATION is 24 bytes");
_Static_assert(sizeof(OVERLAPPED_ENTRY) == 32, "OVERLAPPED_ENTRY is 32 bytes");

static int passed;
static int failed;

static void check(int ok, const char* what) {
  if (ok) {
    ++passed;
    printf("  ok    %s\n", what);
  } else {
    ++failed;
    printf("  FAIL  %s\n", what);
  }
  fflush(stdout);
}

#define CHECK(cond) check((cond) != 0, #cond)

static void section(const char* title) {
  printf("%s\n", title);
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int set_nonblocking(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0;
}

/* A connected TCP pair on 127.0.0.1, both ends non-blocking. */
static int tcp_pair(SOCKET* client, SOCKET* server) {
  struct sockaddr_in addr;
  socklen_t len = sizeof addr;
  int one = 1;
  int ok = 0;
  SOCKET l = socket(AF_INET, SOCK_STREAM, 0);
  *client = *server = INVALID_SOCKET;
  if (l == INVALID_SOCKET) return 0;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(l, (struct sockaddr*)&addr, sizeof addr) == 0 && listen(l, 1) == 0 &&
      getsockname(l, (struct sockaddr*)&addr, &len) == 0) {
    *client = socket(AF_INET, SOCK_STREAM, 0);
    if (*client != INVALID_SOCKET && connect(*client, (struct sockaddr*)&addr, sizeof addr) == 0) {
      *server = accept(l, NULL, NULL);
      ok = *server != INVALID_SOCKET && set_nonblocking(*client) && set_nonblocking(*server);
      setsockopt(*client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
  }
  close(l);
  return ok;
}

static SOCK_NOTIFY_REGISTRATION make_reg(SOCKET s, PVOID key, UINT16 filter, UINT8 op, UINT8 trig) {
  SOCK_NOTIFY_REGISTRATION r;
  memset(&r, 0, sizeof r);
  r.socket = s;
  r.completionKey = key;
  r.eventFilter = filter;
  r.operation = op;
  r.triggerFlags = trig;
  r.registrationResult = 0xDEADBEEFu; /* the call must overwrite it */
  return r;
}

static int send_bytes(SOCKET s, const char* data, size_t n) {
  return send(s, data, n, 0) == (ssize_t)n;
}

/* Reads until the socket would block; returns the byte count. */
static size_t drain(SOCKET s) {
  char buf[512];
  size_t total = 0;
  for (;;) {
    ssize_t r = recv(s, buf, sizeof buf, 0);
    if (r > 0) {
      total += (size_t)r;
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else {
      return total;
    }
  }
}

int main(void) {
  static char key_tag; /* its address is the socket's completion key */
  PVOID const key = &key_tag;
  SOCKET client = INVALID_SOCKET, server = INVALID_SOCKET;
  HANDLE port;
  SOCK_NOTIFY_REGISTRATION reg;
  OVERLAPPED_ENTRY entries[4];
  UINT32 received;
  DWORD rc;
  long long t0;

  setvbuf(stdout, NULL, _IOLBF, 0);

  section("create a completion port");
  port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
  CHECK(port != NULL);
  CHECK(port != INVALID_HANDLE_VALUE);
  if (port == NULL) {
    printf("%d passed, %d failed\n", passed, failed + 1);
    return 1;
  }

  section("a TCP pair on loopback");
  CHECK(tcp_pair(&client, &server));

  section("ENABLE one-shot level-triggered IN, nothing to read yet");
  reg = make_reg(server, key, SOCK_NOTIFY_REGISTER_EVENT_IN, SOCK_NOTIFY_OP_ENABLE,
                 SOCK_NOTIFY_TRIGGER_ONESHOT | SOCK_NOTIFY_TRIGGER_LEVEL);
  rc = ProcessSocketNotifications(port, 1, &reg, 0, 0, NULL, NULL);
  CHECK(rc == ERROR_SUCCESS);
  CHECK(reg.registrationResult == ERROR_SUCCESS);
  received = 99;
  rc = ProcessSocketNotifications(port, 0, NULL, 0, 4, entries, &received);
  CHECK(rc == WAIT_TIMEOUT);
  CHECK(received == 0);

  section("data arrives: one packet with the key and IN");
  CHECK(send_bytes(client, "hello", 5));
  memset(entries, 0xAB, sizeof entries);
  received = 0;
  rc = ProcessSocketNotifications(port, 0, NULL, 2000, 4, entries, &received);
  CHECK(rc == ERROR_SUCCESS);
  CHECK(received == 1);
  CHECK(entries[0].lpCompletionKey == (ULONG_PTR)key);
  CHECK(entries[0].lpOverlapped == NULL);
  CHECK((SocketNotificationRetrieveEvents(&entries[0]) & SOCK_NOTIFY_EVENT_IN) != 0);
  CHECK((SocketNotificationRetrieveEvents(&entries[0]) & SOCK_NOTIFY_EVENT_REMOVE) == 0);

  section("one-shot: the unread data does not notify again until re-armed");
  received = 99;
  rc = ProcessSocketNotifications(port, 0, NULL, 50, 4, entries, &received);
  CHECK(rc == WAIT_TIMEOUT);
  CHECK(received == 0);

  section("re-arm in the same call that waits: notified at once (level)");
  reg.registrationResult = 0xDEADBEEFu;
  received = 0;
  rc = ProcessSocketNotifications(port, 1, &reg, 0, 4, entries, &received);
  CHECK(rc == ERROR_SUCCESS);
  CHECK(reg.registrationResult == ERROR_SUCCESS);
  CHECK(received == 1);
  CHECK(entries[0].lpCompletionKey == (ULONG_PTR)key);
  CHECK((entries[0].dwNumberOfBytesTransferred & SOCK_NOTIFY_EVENT_IN) != 0);

  section("drain, re-arm and wait: quiet, and the result is still set");
  CHECK(drain(server) == 5);
  reg.registrationResult = 0xDEADBEEFu;
  received = 99;
  t0 = now_ms();
  rc = ProcessSocketNotifications(port, 1, &reg, 60, 4, entries, &received);
  CHECK(rc == WAIT_TIMEOUT);
  CHECK(now_ms() - t0 >= 60);
  CHECK(received == 0);
  CHECK(reg.registrationResult == ERROR_SUCCESS);

  section("the next arrival wakes the armed registration");
  CHECK(send_bytes(client, "again", 5));
  received = 0;
  rc = ProcessSocketNotifications(port, 0, NULL, 2000, 4, entries, &received);
  CHECK(rc == ERROR_SUCCESS);
  CHECK(received == 1);
  CHECK(entries[0].lpCompletionKey == (ULONG_PTR)key);
  CHECK(drain(server) == 5);

  section("GetQueuedCompletionStatus takes a socket notification too");
  {
    DWORD bytes = 0;
    ULONG_PTR k = 0;
    OVERLAPPED dummy;
    LPOVERLAPPED got = &dummy;
    CHECK(send_bytes(client, "third", 5));
    reg.registrationResult = 0xDEADBEEFu;
    rc = ProcessSocketNotifications(port, 1, &reg, 0, 0, NULL, NULL); /* re-arm only */
    CHECK(rc == ERROR_SUCCESS);
    CHECK(reg.registrationResult == ERROR_SUCCESS);
    CHECK(GetQueuedCompletionStatus(port, &bytes, &k, &got, 2000) == TRUE);
    CHECK(k == (ULONG_PTR)key);
    CHECK(got == NULL);
    CHECK((bytes & SOCK_NOTIFY_EVENT_IN) != 0);
    CHECK(drain(server) == 5);
  }

  section("REMOVE: one packet with REMOVE and the registration's key");
  reg = make_reg(server, NULL, 0, SOCK_NOTIFY_OP_REMOVE, 0);
  received = 0;
  rc = ProcessSocketNotifications(port, 1, &reg, 1000, 4, entries, &received);
  CHECK(rc == ERROR_SUCCESS);
  CHECK(reg.registrationResult == ERROR_SUCCESS);
  CHECK(received == 1);
  CHECK(entries[0].lpCompletionKey == (ULONG_PTR)key);
  CHECK((SocketNotificationRetrieveEvents(&entries[0]) & SOCK_NOTIFY_EVENT_REMOVE) != 0);
  received = 99;
  rc = ProcessSocketNotifications(port, 0, NULL, 0, 4, entries, &received);
  CHECK(rc == WAIT_TIMEOUT);
  reg = make_reg(server, NULL, 0, SOCK_NOTIFY_OP_REMOVE, 0);
  rc = ProcessSocketNotifications(port, 1, &reg, 0, 0, NULL, NULL);
  CHECK(rc == ERROR_SUCCESS);
  CHECK(reg.registrationResult == ERROR_NOT_FOUND);

  section("per-entry and call-level errors");
  reg = make_reg(INVALID_SOCKET, key, SOCK_NOTIFY_REGISTER_EVENT_IN, SOCK_NOTIFY_OP_ENABLE,
                 SOCK_NOTIFY_TRIGGER_LEVEL);
  rc = ProcessSocketNotifications(port, 1, &reg, 0, 0, NULL, NULL);
  CHECK(rc == ERROR_SUCCESS);
  CHECK(reg.registrationResult == WSAENOTSOCK);
  reg = make_reg(server, key, SOCK_NOTIFY_REGISTER_EVENT_IN, SOCK_NOTIFY_OP_ENABLE,
                 SOCK_NOTIFY_TRIGGER_LEVEL | SOCK_NOTIFY_TRIGGER_EDGE);
  rc = ProcessSocketNotifications(port, 1, &reg, 0, 0, NULL, NULL);
  CHECK(rc == ERROR_SUCCESS);
  CHECK(reg.registrationResult == WSAEINVAL);
  rc = ProcessSocketNotifications(port, 1, NULL, 0, 0, NULL, NULL);
  CHECK(rc == WSAEINVAL);
  rc = ProcessSocketNotifications(port, 0, NULL, 0, 4, entries, NULL);
  CHECK(rc == WSAEINVAL);

  section("PostQueuedCompletionStatus / GetQueuedCompletionStatus");
  {
    OVERLAPPED ov;
    DWORD bytes = 0;
    ULONG_PTR k = 0;
    LPOVERLAPPED got = NULL;
    memset(&ov, 0, sizeof ov);
    CHECK(PostQueuedCompletionStatus(port, 1234, 0xC0FFEE, &ov) == TRUE);
    CHECK(GetQueuedCompletionStatus(port, &bytes, &k, &got, 1000) == TRUE);
    CHECK(bytes == 1234);
    CHECK(k == 0xC0FFEE);
    CHECK(got == &ov);

    got = &ov;
    SetLastError(0);
    t0 = now_ms();
    CHECK(GetQueuedCompletionStatus(port, &bytes, &k, &got, 30) == FALSE);
    CHECK(GetLastError() == WAIT_TIMEOUT);
    CHECK(got == NULL);
    CHECK(now_ms() - t0 >= 30);
  }

  section("GetQueuedCompletionStatusEx takes several, in order");
  {
    ULONG removed = 99;
    ULONG i;
    int in_order = 1;
    for (i = 0; i < 3; ++i) CHECK(PostQueuedCompletionStatus(port, 10 + i, 100 + i, NULL));
    CHECK(GetQueuedCompletionStatusEx(port, entries, 4, &removed, 1000, FALSE) == TRUE);
    CHECK(removed == 3);
    for (i = 0; i < removed && i < 3; ++i)
      in_order = in_order && entries[i].dwNumberOfBytesTransferred == 10 + i &&
                 entries[i].lpCompletionKey == 100 + i && entries[i].lpOverlapped == NULL;
    CHECK(in_order);

    removed = 99;
    CHECK(GetQueuedCompletionStatusEx(port, entries, 4, &removed, 0, TRUE) == FALSE);
    CHECK(GetLastError() == WAIT_TIMEOUT);
    CHECK(removed == 0);
    CHECK(GetQueuedCompletionStatusEx(port, entries, 0, &removed, 0, FALSE) == FALSE);
    CHECK(GetLastError() == ERROR_INVALID_PARAMETER);
  }

  section("closesocket");
  CHECK(closesocket(server) == 0);
  server = INVALID_SOCKET;
  CHECK(closesocket(INVALID_SOCKET) == SOCKET_ERROR);
  CHECK(WSAGetLastError() == WSAENOTSOCK);

  section("bad handles are detected");
  {
    HANDLE bogus = (HANDLE)(uintptr_t)0x5A5A5A50u;
    DWORD bytes;
    ULONG_PTR k;
    LPOVERLAPPED ov;
    CHECK(ProcessSocketNotifications(bogus, 0, NULL, 0, 4, entries, &received) ==
          WSA_INVALID_HANDLE);
    CHECK(ProcessSocketNotifications(NULL, 0, NULL, 0, 0, NULL, NULL) == WSA_INVALID_HANDLE);
    SetLastError(0);
    CHECK(PostQueuedCompletionStatus(bogus, 0, 0, NULL) == FALSE);
    CHECK(GetLastError() == ERROR_INVALID_HANDLE);
    SetLastError(0);
    CHECK(GetQueuedCompletionStatus(bogus, &bytes, &k, &ov, 0) == FALSE);
    CHECK(GetLastError() == ERROR_INVALID_HANDLE);
    SetLastError(0);
    CHECK(CloseHandle(bogus) == FALSE);
    CHECK(GetLastError() == ERROR_INVALID_HANDLE);
    SetLastError(0);
    CHECK(CloseHandle(INVALID_HANDLE_VALUE) == FALSE);
    CHECK(GetLastError() == ERROR_INVALID_HANDLE);
    SetLastError(0);
    CHECK(CreateIoCompletionPort(INVALID_HANDLE_VALUE, port, 0, 0) == NULL);
    CHECK(GetLastError() == ERROR_INVALID_PARAMETER);
  }

  section("CloseHandle");
  CHECK(PostQueuedCompletionStatus(port, 1, 1, NULL)); /* discarded by the close */
  CHECK(CloseHandle(port) == TRUE);
  SetLastError(0);
  CHECK(CloseHandle(port) == FALSE);
  CHECK(GetLastError() == ERROR_INVALID_HANDLE);
  CHECK(ProcessSocketNotifications(port, 0, NULL, 0, 1, entries, &received) == WSA_INVALID_HANDLE);
  SetLastError(0);
  CHECK(PostQueuedCompletionStatus(port, 0, 0, NULL) == FALSE);
  CHECK(GetLastError() == ERROR_INVALID_HANDLE);

  section("SetLastError / GetLastError");
  SetLastError(ERROR_NOT_FOUND);
  CHECK(GetLastError() == ERROR_NOT_FOUND);
  CHECK(WSAGetLastError() == ERROR_NOT_FOUND);

  if (client != INVALID_SOCKET) close(client);
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
