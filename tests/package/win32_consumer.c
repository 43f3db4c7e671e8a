/* A Windows-style C11 program built against the installed libpsn-dev
 * through pkg-config psn-win32 and find_package(psn) (psn::win32): only
 * <winsock2.h> and <windows.h>, a posted packet and a timed-out wait. */
/* On Windows <winsock2.h> must come before <windows.h>: keep this order. */
/* clang-format off */
#include <winsock2.h>
#include <windows.h>
/* clang-format on */
#include <stdio.h>

#pragma comment(lib, "Ws2_32.lib")

int main(void) {
  HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
  DWORD bytes = 0;
  ULONG_PTR key = 0;
  LPOVERLAPPED ov = NULL;
  int ok = port != NULL && PostQueuedCompletionStatus(port, 3, 5, NULL) &&
           GetQueuedCompletionStatus(port, &bytes, &key, &ov, INFINITE) && bytes == 3 && key == 5 &&
           !GetQueuedCompletionStatus(port, &bytes, &key, &ov, 0) &&
           GetLastError() == WAIT_TIMEOUT && CloseHandle(port);
  printf("win32 consumer: %s\n", ok ? "ok" : "FAIL");
  return ok ? 0 : 1;
}
