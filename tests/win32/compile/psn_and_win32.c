/*
 * R8.1 compile matrix: <psn/psn.h> first, then <winsock2.h>: the two share
 * their declarations and may be mixed (psn_win32/base.h builds on psn.h).
 * Also valid C++.
 */
/* The order of inclusion is what is tested. */
/* clang-format off */
#include <psn/psn.h>
#include <stdio.h>
#include <winsock2.h>
#include <windows.h>
/* clang-format on */

#pragma comment(lib, "Ws2_32.lib")

int main(void) {
  HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
  DWORD bytes = 0;
  ULONG_PTR key = 0;
  LPOVERLAPPED overlapped = NULL;
  SOCKET s;
  if (port == NULL) {
    return 1;
  }
  if (!PostQueuedCompletionStatus(port, 7, (ULONG_PTR)42, NULL) ||
      !GetQueuedCompletionStatus(port, &bytes, &key, &overlapped, 0) || bytes != 7 || key != 42) {
    return 2;
  }
  /* R8.3: a failing Winsock call sets the code both GetLastError and
   * WSAGetLastError return. */
  s = (SOCKET)1000000;
  if (closesocket(s) != SOCKET_ERROR || WSAGetLastError() != WSAENOTSOCK ||
      GetLastError() != (DWORD)WSAENOTSOCK) {
    return 3;
  }
  if (!CloseHandle(port) || CloseHandle(port) || GetLastError() != ERROR_INVALID_HANDLE) {
    return 4;
  }
  printf("psn_and_win32: ok\n");
  return 0;
}
