// port_demo.cpp - a C++20 program on psn::port, built for Windows by
// `make windows` (against libpsn.dll and against libpsn.a) to show that the
// C++ interface of <psn/psn.hpp> is the same there, over the system's own
// completion port and ProcessSocketNotifications.
//
// Nothing in this repository runs it (it needs Windows 10 build 20348 or
// later). On Windows it checks, on loopback: a posted packet comes back as
// posted; a one-shot level-triggered registration on a connected socket
// reports IN once data is there; REMOVE ends it with a REMOVE packet; a wait
// on an empty port times out. It prints one line per check and exits 0 when
// all pass, 1 otherwise, 77 where the system lacks socket notifications.
#include <psn/psn.h>  // on Windows: <winsock2.h>, <windows.h>

#include <chrono>
#include <cstdio>
#include <psn/psn.hpp>
#include <system_error>

namespace {

int failures = 0;

void check(bool ok, const char* what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) ++failures;
}

// A connected TCP pair on 127.0.0.1.
bool loopback_pair(SOCKET* a, SOCKET* b) {
  SOCKET listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  if (listener == INVALID_SOCKET) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int len = sizeof addr;
  bool ok = bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
            listen(listener, 1) == 0 &&
            getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  *a = ok ? socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) : INVALID_SOCKET;
  ok = ok && *a != INVALID_SOCKET &&
       connect(*a, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  *b = ok ? accept(listener, nullptr, nullptr) : INVALID_SOCKET;
  closesocket(listener);
  return ok && *b != INVALID_SOCKET;
}

}  // namespace

int main() {
  using namespace std::chrono_literals;
  std::printf("psn %u.%u.%u (headers %s)\n", psn::version() >> 16, (psn::version() >> 8) & 0xFF,
              psn::version() & 0xFF, PSN_VERSION_STRING);

  WSADATA wsa;
  if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
    std::printf("FAIL WSAStartup\n");
    return 1;
  }

  std::error_code ec;
  psn::port port = psn::port::create({}, ec);
  check(!ec && static_cast<bool>(port), "port::create");
  if (!port) return 1;

  // A posted packet carries exactly what was posted.
  int token = 0;
  check(!port.post(42, &token), "port.post");
  psn::completion out[8];
  auto got = port.wait(out, 1000ms, ec);
  check(!ec && got.size() == 1 && got[0].bytes == 42 && got[0].key == &token,
        "wait returns the posted packet");

  // An empty port times out.
  got = port.wait(out, 10ms, ec);
  check(ec == psn::errc::timeout && got.empty(), "wait on an empty port times out");

  SOCKET client = INVALID_SOCKET, server = INVALID_SOCKET;
  check(loopback_pair(&client, &server), "loopback TCP pair");
  if (failures) return 1;

  int conn = 0;
  psn::registration changes[] = {
      psn::registration::enable(server, &conn, psn::event::in | psn::event::hangup,
                                psn::trigger::oneshot | psn::trigger::level)};
  check(send(client, "ping", 4, 0) == 4, "send");
  got = port.process(changes, out, 1000ms, ec);
  if (ec == psn::errc::not_supported) {
    std::printf("skip: this Windows has no ProcessSocketNotifications (build 20348 or later)\n");
    return 77;
  }
  check(!ec && changes[0].result == 0, "process: ENABLE applied");
  check(got.size() == 1 && got[0].key == &conn && got[0].events().has(psn::event::in),
        "process: IN reported for the registered socket");

  char buf[8];
  check(recv(server, buf, sizeof buf, 0) == 4, "recv");

  // REMOVE ends the registration with a REMOVE packet carrying the key.
  psn::registration remove[] = {psn::registration::remove(server)};
  got = port.process(remove, out, 1000ms, ec);
  check(!ec && got.size() == 1 && got[0].key == &conn && got[0].events().has(psn::event::remove),
        "process: REMOVE packet");

  check(!psn::close_socket(server), "close_socket");
  closesocket(client);
  port.close();
  check(!port, "port.close");
  WSACleanup();
  std::printf("%d failed\n", failures);
  return failures ? 1 : 0;
}
