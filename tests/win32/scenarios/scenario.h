/*
 * Shared by the scenario programs: plain Windows code (C11), no Linux header
 * or call. A failed expectation prints where and why, and is counted; the
 * program returns non-zero if any expectation failed.
 */
#ifndef PSN_SCENARIO_H
#define PSN_SCENARIO_H

/* Windows order: <winsock2.h> first. */
/* clang-format off */
#include <winsock2.h>
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* clang-format on */

#pragma comment(lib, "Ws2_32.lib")

static volatile LONG g_failures = 0;

#define EXPECT(cond, ...)                                                            \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      InterlockedIncrement(&g_failures);                                             \
      fprintf(stderr, "%s:%d: expectation failed: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                                  \
      fprintf(stderr, "\n");                                                         \
    }                                                                                \
  } while (0)

/* Returns from the calling function (with `ret`) when the condition fails. */
#define REQUIRE(cond, ret, ...)  \
  do {                           \
    if (!(cond)) {               \
      EXPECT(cond, __VA_ARGS__); \
      return ret;                \
    }                            \
  } while (0)

static __inline int ScenarioResult(_In_ const char* name) {
  if (g_failures != 0) {
    fprintf(stderr, "%s: FAILED (%ld expectations)\n", name, (long)g_failures);
    return 1;
  }
  printf("%s: ok\n", name);
  return 0;
}

/* A TCP listener on 127.0.0.1 with an ephemeral port; *address gets the
 * bound address. */
static __inline SOCKET CreateLoopbackListener(_Out_ SOCKADDR_IN* address) {
  SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  int len = sizeof(*address);
  ZeroMemory(address, sizeof(*address));
  if (s == INVALID_SOCKET) {
    return INVALID_SOCKET;
  }
  address->sin_family = AF_INET;
  address->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address->sin_port = 0;
  if (bind(s, (SOCKADDR*)address, sizeof(*address)) == SOCKET_ERROR ||
      listen(s, SOMAXCONN) == SOCKET_ERROR ||
      getsockname(s, (SOCKADDR*)address, &len) == SOCKET_ERROR) {
    closesocket(s);
    return INVALID_SOCKET;
  }
  return s;
}

/* The byte at offset `offset` of every client's stream: the receiver can
 * check content whatever the chunking. */
static FORCEINLINE char PatternByte(_In_ DWORD offset) {
  return (char)((offset * 7u + 3u) & 0x7fu);
}

#endif /* PSN_SCENARIO_H */
