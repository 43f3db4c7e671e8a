/*
 * R8.1 compile matrix: <ws2tcpip.h> alone gives everything (R8.7 names:
 * getaddrinfo, inet_pton/inet_ntop, SOCKADDR_IN6, SOCKADDR_STORAGE), with the
 * C library after it. Also valid C++.
 */
/* The order of inclusion is what is tested. */
/* clang-format off */
#include <ws2tcpip.h>
#include <stdio.h>
#include <string.h>
/* clang-format on */

#pragma comment(lib, "Ws2_32.lib")

static int ResolveLoopback(_In_ const char* service, _Out_ SOCKADDR_STORAGE* out,
                           _Out_ int* outLength) {
  ADDRINFOA hints;
  ADDRINFOA* result = NULL;
  int error;
  ZeroMemory(&hints, sizeof(hints));
  hints.ai_family = AF_INET6;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  error = getaddrinfo("::1", service, &hints, &result);
  if (error != 0) {
    return error;
  }
  *outLength = (int)result->ai_addrlen;
  CopyMemory(out, result->ai_addr, result->ai_addrlen);
  freeaddrinfo(result);
  return 0;
}

int main(void) {
  WSADATA data;
  SOCKADDR_STORAGE storage;
  SOCKADDR_IN6* six = (SOCKADDR_IN6*)&storage;
  IN_ADDR four;
  char text[INET6_ADDRSTRLEN];
  int length = 0;
  SOCKET s;
  int len;

  if (WSAStartup(WINSOCK_VERSION, &data) != 0) {
    return 1;
  }
  if (inet_pton(AF_INET, "127.0.0.1", &four) != 1 || four.s_addr != htonl(INADDR_LOOPBACK)) {
    return 2;
  }
  if (ResolveLoopback("0", &storage, &length) != 0 || storage.ss_family != AF_INET6) {
    return 3;
  }
  s = socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDP);
  if (s == INVALID_SOCKET) {
    return 4;
  }
  if (bind(s, (SOCKADDR*)six, length) == SOCKET_ERROR) {
    return 5;
  }
  len = sizeof storage;
  if (getsockname(s, (SOCKADDR*)&storage, &len) == SOCKET_ERROR || len != (int)sizeof(*six)) {
    return 6;
  }
  if (inet_ntop(AF_INET6, &six->sin6_addr, text, sizeof(text)) == NULL ||
      strcmp(text, "::1") != 0) {
    return 7;
  }
  closesocket(s);
  WSACleanup();
  printf("ws2tcpip_alone: ok ([%s]:%u)\n", text, (unsigned)ntohs(six->sin6_port));
  return 0;
}
