/* Exits 0 when a port can be created on the backend PSN_BACKEND names, 77
 * (CTest's "skipped") when this machine cannot provide that backend. The
 * suite runs once per backend; on a kernel without io_uring, or where it is
 * forbidden, the io_uring runs are reported as skipped, not passed. */
#include <psn/psn.h>
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
  if (port == NULL) {
    const char* b = getenv("PSN_BACKEND");
    fprintf(stderr, "backend %s is not available here (error %lu): skipped\n", b ? b : "(default)",
            (unsigned long)GetLastError());
    return GetLastError() == ERROR_NOT_SUPPORTED ? 77 : 1;
  }
  CloseHandle(port);
  return 0;
}
