/* A C11 program that knows psn only as the installed Debian package
 * libpsn-dev: check_package.sh builds it through pkg-config and through
 * find_package(psn) and runs it. It checks the version (headers and library
 * agree) and the basic contract end to end on a socketpair. */
#define _POSIX_C_SOURCE 200809L
#include <psn/psn.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

static int failures;
#define CHECK(cond)                                          \
  do {                                                       \
    if (!(cond)) {                                           \
      printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                            \
    }                                                        \
  } while (0)

int main(void) {
  /* The library that runs is the one the headers describe. */
  CHECK(psn_version() == PSN_VERSION);
  CHECK(PSN_VERSION == PSN_VERSION_ENCODE(PSN_VERSION_MAJOR, PSN_VERSION_MINOR, PSN_VERSION_PATCH));
  printf("psn %s (library %u.%u.%u)\n", PSN_VERSION_STRING, psn_version() >> 16,
         (psn_version() >> 8) & 0xFFu, psn_version() & 0xFFu);

  HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
  CHECK(port != NULL);
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  CHECK(write(sv[1], "x", 1) == 1);

  SOCK_NOTIFY_REGISTRATION reg = {0};
  reg.socket = (SOCKET)sv[0];
  reg.completionKey = &sv[0];
  reg.eventFilter = SOCK_NOTIFY_REGISTER_EVENT_IN;
  reg.operation = SOCK_NOTIFY_OP_ENABLE;
  reg.triggerFlags = SOCK_NOTIFY_TRIGGER_ONESHOT | SOCK_NOTIFY_TRIGGER_LEVEL;
  OVERLAPPED_ENTRY e[4];
  UINT32 n = 0;
  /* R4.5: the ENABLE's own notification is available to the same call. */
  CHECK(ProcessSocketNotifications(port, 1, &reg, 0, 4, e, &n) == ERROR_SUCCESS);
  CHECK(reg.registrationResult == ERROR_SUCCESS);
  CHECK(n == 1 && e[0].lpCompletionKey == (ULONG_PTR)&sv[0]);
  CHECK(n == 1 && SocketNotificationRetrieveEvents(&e[0]) == SOCK_NOTIFY_EVENT_IN);

  /* R3.4, R3.5 */
  CHECK(PostQueuedCompletionStatus(port, 7, 9, NULL));
  DWORD bytes = 0;
  ULONG_PTR key = 0;
  LPOVERLAPPED ov = NULL;
  CHECK(GetQueuedCompletionStatus(port, &bytes, &key, &ov, 1000) && bytes == 7 && key == 9);
  CHECK(!GetQueuedCompletionStatus(port, &bytes, &key, &ov, 0) && GetLastError() == WAIT_TIMEOUT);

  CHECK(closesocket((SOCKET)sv[0]) == 0);
  close(sv[1]);
  CHECK(CloseHandle(port));
  CHECK(!CloseHandle(port) && GetLastError() == ERROR_INVALID_HANDLE);
  printf("%d passed, %d failed\n", failures ? 0 : 1, failures ? 1 : 0);
  return failures ? 1 : 0;
}
