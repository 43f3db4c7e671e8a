/* Finding (psn_fuzz): R4.5 fails when a kernel report that psn ignores takes
 * the place of one it needs.
 *
 * ProcessSocketNotifications with completionCount = 1 and time-out 0 asks
 * the kernel for at most cap - queued = 1 report before taking. If that one
 * report is for a registration psn then drops -- here a level-triggered
 * registration with filter NONE on an unconnected TCP socket (EPOLLOUT|
 * EPOLLHUP, nothing filtered: psn "parks" it), or a DISABLEd registration's
 * one stray ERR/HUP report -- the call's own level ENABLE with OUT on an
 * always-writable UDP socket is not seen, and the call returns WAIT_TIMEOUT
 * with nothing taken. The next call gets the packet.
 *
 * Fixed in 7096311 (a short kernel look asks for a full buffer).
 * Fuzzer input: fuzz/corpus/regress-r4_5-ignored-report-fills-harvest (11 bytes).
 *
 *   cc -std=c11 -I include fuzz/crashes/r4_5_ignored_report_fills_harvest.c \
 *      build/libpsn.a -lstdc++ -lpthread -o r45 && ./r45
 *
 * Expected (R4.5): rc 0, got 1 on both calls. Exit status 1 while the bug is there.
 */
#define _DEFAULT_SOURCE
#include <psn/psn.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static SOCK_NOTIFY_REGISTRATION enable(int s, uintptr_t key, UINT16 filter) {
  SOCK_NOTIFY_REGISTRATION r;
  memset(&r, 0, sizeof r);
  r.socket = s;
  r.completionKey = (PVOID)key;
  r.eventFilter = filter;
  r.operation = SOCK_NOTIFY_OP_ENABLE;
  r.triggerFlags = SOCK_NOTIFY_TRIGGER_LEVEL | SOCK_NOTIFY_TRIGGER_PERSISTENT;
  return r;
}

int main(void) {
  int failures = 0;
  for (int round = 0; round < 2; ++round) {
    HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
    int fresh = socket(AF_INET, SOCK_STREAM, 0); /* unconnected: EPOLLOUT|EPOLLHUP */
    int udp = socket(AF_INET, SOCK_DGRAM, 0);    /* always writable */
    SOCK_NOTIFY_REGISTRATION r[2] = {enable(fresh, 1, SOCK_NOTIFY_REGISTER_EVENT_NONE),
                                     enable(udp, 2, SOCK_NOTIFY_REGISTER_EVENT_OUT)};
    OVERLAPPED_ENTRY out[1];
    UINT32 got = 0;
    DWORD rc;
    if (round == 0) {
      rc = ProcessSocketNotifications(port, 2, r, 0, 1, out, &got);
      printf("one call, ENABLE both + dequeue 1 (time-out 0): rc %u got %u\n", rc, got);
    } else {
      /* The same with a DISABLEd registration's stray report in front. */
      int sv[2];
      socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
      SOCK_NOTIFY_REGISTRATION d[2] = {enable(sv[0], 3, SOCK_NOTIFY_REGISTER_EVENT_IN),
                                       enable(sv[0], 3, 0)};
      d[1].operation = SOCK_NOTIFY_OP_DISABLE;
      ProcessSocketNotifications(port, 2, d, 0, 0, NULL, NULL);
      close(sv[1]); /* sv[0]: EPOLLHUP, reported once by the disarmed watch */
      rc = ProcessSocketNotifications(port, 1, &r[1], 0, 1, out, &got);
      printf("DISABLEd socket hung up, then ENABLE UDP OUT + dequeue 1: rc %u got %u\n", rc, got);
    }
    if (rc != ERROR_SUCCESS || got != 1) ++failures;
    rc = ProcessSocketNotifications(port, 0, NULL, 0, 1, out, &got);
    printf("  next call: rc %u got %u key %lu\n", rc, got,
           rc == 0 ? (unsigned long)out[0].lpCompletionKey : 0ul);
    CloseHandle(port);
  }
  printf(failures ? "R4.5 VIOLATED\n" : "ok\n");
  return failures ? 1 : 0;
}
