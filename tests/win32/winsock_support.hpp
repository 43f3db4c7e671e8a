// Helpers shared by the Winsock suites (test_winsock_basics.cpp, test_winsock_errors.cpp),
// written against the Windows headers as the suites are: the last-error check, an owned
// SOCKET, and sockets on 127.0.0.1.
#pragma once

#include <winsock2.h>
#include <ws2tcpip.h>
// (the Windows headers first, as a ported program has them)
#include <gtest/gtest.h>

// The failed call's code, seen the same through both functions (R8.3).
#define EXPECT_LAST_ERROR(code)                           \
  do {                                                    \
    EXPECT_EQ(WSAGetLastError(), static_cast<int>(code)); \
    EXPECT_EQ(GetLastError(), static_cast<DWORD>(code));  \
  } while (0)

namespace winsocktest {

class Sock {
 public:
  Sock() = default;
  explicit Sock(SOCKET s) : s_(s) {}
  Sock(Sock&& o) noexcept : s_(o.release()) {}
  Sock& operator=(Sock&& o) noexcept {
    reset(o.release());
    return *this;
  }
  ~Sock() { reset(); }
  operator SOCKET() const { return s_; }  // NOLINT
  SOCKET release() {
    SOCKET s = s_;
    s_ = INVALID_SOCKET;
    return s;
  }
  void reset(SOCKET s = INVALID_SOCKET) {
    if (s_ != INVALID_SOCKET) closesocket(s_);
    s_ = s;
  }

 private:
  SOCKET s_ = INVALID_SOCKET;
};

inline SOCKADDR_IN loopback4(USHORT port = 0) {
  SOCKADDR_IN a;
  ZeroMemory(&a, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// A socket of `type` bound to 127.0.0.1 on an ephemeral port, stored in *bound.
inline Sock bound4(int type, SOCKADDR_IN* bound) {
  Sock s(socket(AF_INET, type, 0));
  EXPECT_NE(static_cast<SOCKET>(s), INVALID_SOCKET);
  SOCKADDR_IN a = loopback4();
  EXPECT_EQ(bind(s, reinterpret_cast<SOCKADDR*>(&a), sizeof a), 0);
  int len = sizeof *bound;
  EXPECT_EQ(getsockname(s, reinterpret_cast<SOCKADDR*>(bound), &len), 0);
  return s;
}

struct Pair {
  Sock client, server;
};

// A connected TCP pair over 127.0.0.1.
inline Pair tcp_pair() {
  SOCKADDR_IN addr;
  Sock l = bound4(SOCK_STREAM, &addr);
  EXPECT_EQ(listen(l, 4), 0);
  Pair p;
  p.client = Sock(socket(AF_INET, SOCK_STREAM, 0));
  EXPECT_EQ(connect(p.client, reinterpret_cast<SOCKADDR*>(&addr), sizeof addr), 0);
  p.server = Sock(accept(l, nullptr, nullptr));
  EXPECT_NE(static_cast<SOCKET>(p.server), INVALID_SOCKET);
  return p;
}

}  // namespace winsocktest
