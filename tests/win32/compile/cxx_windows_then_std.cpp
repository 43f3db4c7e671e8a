// R8.1 compile matrix, C++ only: <windows.h> first (no NOMINMAX), then
// standard C++ headers and the psn C++ header, as a
// Windows C++ program mixes them (psn.hpp only as C++20). C++ spellings a Windows program uses:
// bare `sockaddr_in a = {}` and `sockaddr*`, static_cast/reinterpret_cast of SOCKET and completion
// keys, a capture-less lambda as a thread routine.
// The order of inclusion is what is tested.
// clang-format off
#include <windows.h>
#include <winsock2.h>
#include <ws2tcpip.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

#if __cplusplus >= 202002L
#include <psn/psn.hpp>  // a C++20 header
#endif
// clang-format on

#pragma comment(lib, "Ws2_32.lib")

namespace {

struct Connection {
  SOCKET socket = INVALID_SOCKET;
  std::string name;
};

FORCEINLINE int Larger(_In_ int a, _In_ int b) {
  return (std::max)(a, b);
}

DWORD WINAPI CountRoutine(_In_ LPVOID parameter) {
  auto* counter = static_cast<std::atomic<int>*>(parameter);
  counter->fetch_add(1);
  return 0;
}

}  // namespace

int main() {
  WSADATA data;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return 1;

  std::vector<Connection> connections(2);
  for (Connection& c : connections) {
    c.socket = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    if (c.socket == INVALID_SOCKET) return 2;
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(c.socket, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return 3;
    int len = sizeof a;
    if (getsockname(c.socket, (SOCKADDR*)&a, &len) != 0) return 4;
    c.name = "udp:" + std::to_string(ntohs(a.sin_port));
  }

  HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 0);
  if (port == nullptr) return 5;
  SOCK_NOTIFY_REGISTRATION r = {};
  r.socket = connections[0].socket;
  r.completionKey = reinterpret_cast<PVOID>(connections[0].socket);
  r.eventFilter = SOCK_NOTIFY_REGISTER_EVENT_OUT;
  r.operation = SOCK_NOTIFY_OP_ENABLE;
  r.triggerFlags = SOCK_NOTIFY_TRIGGER_LEVEL | SOCK_NOTIFY_TRIGGER_ONESHOT;
  OVERLAPPED_ENTRY entry{};
  UINT32 received = 0;
  if (ProcessSocketNotifications(port, 1, &r, 1000, 1, &entry, &received) != ERROR_SUCCESS ||
      r.registrationResult != ERROR_SUCCESS || received != 1)
    return 6;
  if (static_cast<SOCKET>(entry.lpCompletionKey) != connections[0].socket) return 7;
  if ((SocketNotificationRetrieveEvents(&entry) & SOCK_NOTIFY_EVENT_OUT) == 0) return 8;

  std::atomic<int> counter{0};
  HANDLE threads[2] = {
      CreateThread(nullptr, 0, CountRoutine, &counter, 0, nullptr),
      CreateThread(
          nullptr, 0, [](LPVOID p) -> DWORD { return CountRoutine(p); }, &counter, 0, nullptr)};
  if (threads[0] == nullptr || threads[1] == nullptr) return 9;
  if (WaitForMultipleObjects(2, threads, TRUE, INFINITE) != WAIT_OBJECT_0) return 10;
  for (HANDLE t : threads) CloseHandle(t);
  if (counter.load() != 2) return 11;

  // The parenthesised std:: call Windows code writes to dodge the macros
  // (the unqualified min/max are cxx_minmax.cpp's).
  if (Larger(1, 2) != 2 || (std::min)(5, 6) != 5) return 12;

  CloseHandle(port);
  for (Connection& c : connections) closesocket(c.socket);
  WSACleanup();
  std::printf("cxx_windows_then_std: ok (%s, %s)\n", connections[0].name.c_str(),
              connections[1].name.c_str());
  return 0;
}
