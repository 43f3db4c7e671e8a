// Shared helpers for the conformance suite: real sockets on loopback.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include "psn/psn.h"

namespace psntest {

// An owned descriptor, closed with plain close() unless released.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    reset(std::exchange(o.fd_, -1));
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  operator int() const { return fd_; }  // NOLINT
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

inline void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}

inline void set_nonblocking(int fd) {
  int fl = ::fcntl(fd, F_GETFL);
  check(fl >= 0 && ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0, "fcntl");
}

// A listening TCP socket on 127.0.0.1 with an ephemeral port.
inline Fd tcp_listener(sockaddr_in* bound = nullptr) {
  Fd l(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  check(l >= 0, "socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  check(::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0, "bind");
  check(::listen(l, 128) == 0, "listen");
  socklen_t len = sizeof a;
  check(::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) == 0, "getsockname");
  if (bound) *bound = a;
  return l;
}

// A connected pair of TCP sockets on loopback, both non-blocking.
inline std::pair<Fd, Fd> tcp_pair() {
  sockaddr_in a{};
  Fd l = tcp_listener(&a);
  Fd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  check(c >= 0, "socket");
  check(::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0, "connect");
  Fd s(::accept4(l, nullptr, nullptr, SOCK_CLOEXEC));
  check(s >= 0, "accept");
  set_nonblocking(c);
  set_nonblocking(s);
  int one = 1;
  ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return {std::move(c), std::move(s)};
}

// Two UDP sockets on loopback connected to each other, both non-blocking.
inline std::pair<Fd, Fd> udp_pair() {
  Fd a(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  Fd b(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  check(a >= 0 && b >= 0, "socket");
  sockaddr_in sa{}, sb{};
  sa.sin_family = sb.sin_family = AF_INET;
  sa.sin_addr.s_addr = sb.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  check(::bind(a, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0, "bind");
  check(::bind(b, reinterpret_cast<sockaddr*>(&sb), sizeof sb) == 0, "bind");
  socklen_t len = sizeof sa;
  check(::getsockname(a, reinterpret_cast<sockaddr*>(&sa), &len) == 0, "getsockname");
  len = sizeof sb;
  check(::getsockname(b, reinterpret_cast<sockaddr*>(&sb), &len) == 0, "getsockname");
  check(::connect(a, reinterpret_cast<sockaddr*>(&sb), sizeof sb) == 0, "connect");
  check(::connect(b, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0, "connect");
  return {std::move(a), std::move(b)};
}

// A connected pair of Unix stream sockets, both non-blocking.
inline std::pair<Fd, Fd> unix_pair() {
  int sv[2];
  check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0,
        "socketpair");
  return {Fd(sv[0]), Fd(sv[1])};
}

// Writes n bytes (default 1); returns what write() returned.
inline ssize_t send_bytes(int fd, size_t n = 1) {
  std::string buf(n, 'x');
  return ::send(fd, buf.data(), n, MSG_NOSIGNAL);
}

// Reads until the socket would block; returns the bytes read.
inline size_t drain(int fd) {
  char buf[65536];
  size_t total = 0;
  for (;;) {
    ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r > 0) {
      total += static_cast<size_t>(r);
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    return total;
  }
}

// Fills a socket's send path until a write would block.
inline size_t fill(int fd) {
  static char buf[65536];
  size_t total = 0;
  for (;;) {
    ssize_t r = ::send(fd, buf, sizeof buf, MSG_NOSIGNAL);
    if (r > 0) {
      total += static_cast<size_t>(r);
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    return total;
  }
}

inline SOCK_NOTIFY_REGISTRATION reg(SOCKET s, void* key, UINT16 filter, UINT8 op, UINT8 trig) {
  SOCK_NOTIFY_REGISTRATION r{};
  r.socket = s;
  r.completionKey = key;
  r.eventFilter = filter;
  r.operation = op;
  r.triggerFlags = trig;
  r.registrationResult = 0xDEADBEEF;  // the call must overwrite it
  return r;
}

inline void* key(uintptr_t v) { return reinterpret_cast<void*>(v); }

// Applies one registration without waiting; returns its registrationResult.
inline DWORD apply(HANDLE port, SOCK_NOTIFY_REGISTRATION r) {
  DWORD rc = ProcessSocketNotifications(port, 1, &r, 0, 0, nullptr, nullptr);
  if (rc != ERROR_SUCCESS) return rc;
  return r.registrationResult;
}

// Takes up to `n` packets, waiting up to `ms`; returns the count (0 on time-out).
inline UINT32 take(HANDLE port, OVERLAPPED_ENTRY* out, ULONG n, UINT32 ms) {
  UINT32 got = 0;
  DWORD rc = ProcessSocketNotifications(port, 0, nullptr, ms, n, out, &got);
  if (rc == WAIT_TIMEOUT) return 0;
  return got;
}

using Clock = std::chrono::steady_clock;
inline long long ms_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

// A port that closes itself.
class Port {
 public:
  explicit Port(DWORD concurrency = 0)
      : h_(CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, concurrency)) {
    if (h_ == nullptr) throw std::runtime_error("CreateIoCompletionPort failed");
  }
  ~Port() {
    if (h_) CloseHandle(h_);
  }
  Port(const Port&) = delete;
  Port& operator=(const Port&) = delete;
  HANDLE get() const { return h_; }
  operator HANDLE() const { return h_; }  // NOLINT
  HANDLE release() { return std::exchange(h_, nullptr); }

 private:
  HANDLE h_;
};

}  // namespace psntest
