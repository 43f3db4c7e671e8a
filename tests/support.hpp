// Shared helpers for the conformance suite: real sockets on loopback, and the small checks the
// test files have in common. Everything here goes through the C interface (<psn/psn.h>).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "psn/psn.h"

namespace psntest {

// ---------------------------------------------------------------------------------------------
// Descriptors.

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

// ---------------------------------------------------------------------------------------------
// Sockets on loopback.

// An AF_INET socket of `type` (SOCK_STREAM or SOCK_DGRAM, with any SOCK_* flags; SOCK_CLOEXEC is
// added) bound to 127.0.0.1 on an ephemeral port, which it stores in *bound. It does not listen:
// a TCP connect to that address is refused, yet no one else can take the port.
inline Fd loopback_socket(int type, sockaddr_in* bound = nullptr) {
  Fd s(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  check(s >= 0, "socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  check(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0, "bind");
  socklen_t len = sizeof a;
  check(::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0, "getsockname");
  if (bound) *bound = a;
  return s;
}

// A listening TCP socket on 127.0.0.1 with an ephemeral port.
inline Fd tcp_listener(sockaddr_in* bound = nullptr) {
  Fd l = loopback_socket(SOCK_STREAM, bound);
  check(::listen(l, 128) == 0, "listen");
  return l;
}

namespace detail {
// A connected pair of TCP sockets on loopback, both non-blocking, with TCP_NODELAY. The client
// end (.first) is opened before the listener when `client_first`, else after it.
inline std::pair<Fd, Fd> tcp_pair(bool client_first) {
  Fd c;
  auto open_client = [&c] {
    c.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    check(c >= 0, "socket");
  };
  if (client_first) open_client();
  sockaddr_in a{};
  Fd l = tcp_listener(&a);
  if (!client_first) open_client();
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
}  // namespace detail

// A connected pair of TCP sockets on loopback, both non-blocking.
inline std::pair<Fd, Fd> tcp_pair() { return detail::tcp_pair(false); }

// As tcp_pair, but .first is opened before any other descriptor (the listener comes after it),
// so right after a close it takes the number just freed. The tests of a reused descriptor
// number (R5.11, R5.12) rely on that; tcp_pair opens the listener first and would not.
inline std::pair<Fd, Fd> tcp_pair_client_first() { return detail::tcp_pair(true); }

// Two UDP sockets on loopback connected to each other, both non-blocking.
inline std::pair<Fd, Fd> udp_pair() {
  sockaddr_in sa{}, sb{};
  Fd a = loopback_socket(SOCK_DGRAM | SOCK_NONBLOCK, &sa);
  Fd b = loopback_socket(SOCK_DGRAM | SOCK_NONBLOCK, &sb);
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

// A kind of connected socket pair, for tests that run over each.
struct SocketKind {
  const char* name;
  std::pair<Fd, Fd> (*make)();
  bool stream;  // false: datagrams (no hangup, and the send path does not stay full)
};
inline void PrintTo(const SocketKind& k, std::ostream* os) { *os << k.name; }

inline constexpr SocketKind kSocketKinds[] = {
    {"tcp", tcp_pair, true}, {"udp", udp_pair, false}, {"unix", unix_pair, true}};

// ---------------------------------------------------------------------------------------------
// Moving bytes.

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

constexpr UINT32 kWaitMs = 2000;  // waiting for something that should come
constexpr UINT32 kQuietMs = 60;   // asserting that nothing comes

// Whether poll() reports one of `events` on fd within `ms`.
inline bool wait_for(int fd, short events, int ms = static_cast<int>(kWaitMs)) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, ms) == 1;
}

// Fills fd's send path until it stays full: after fill(), poll() must see no POLLOUT for
// `settle_ms` (right after a write would block, data still in flight may make room again). At
// most `tries` rounds; whether it got there.
inline bool fill_until_unwritable(int fd, int tries, int settle_ms) {
  for (int i = 0; i < tries; ++i) {
    fill(fd);
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, settle_ms) == 0) return true;
  }
  return false;
}

// Sends `n` bytes from `from` and waits until `to` can read.
inline void arrive(int from, int to, size_t n = 1) {
  EXPECT_EQ(send_bytes(from, n), static_cast<ssize_t>(n));
  EXPECT_TRUE(wait_for(to, POLLIN));
}

// ---------------------------------------------------------------------------------------------
// Registrations.

constexpr DWORD kUntouched = 0xDEADBEEF;  // what reg() pre-fills registrationResult with

inline SOCK_NOTIFY_REGISTRATION reg(SOCKET s, void* key, UINT16 filter, UINT8 op, UINT8 trig) {
  SOCK_NOTIFY_REGISTRATION r{};
  r.socket = s;
  r.completionKey = key;
  r.eventFilter = filter;
  r.operation = op;
  r.triggerFlags = trig;
  r.registrationResult = kUntouched;  // the call must overwrite it
  return r;
}

inline void* key(uintptr_t v) { return reinterpret_cast<void*>(v); }

// Applies one registration without waiting; returns its registrationResult.
inline DWORD apply(HANDLE port, SOCK_NOTIFY_REGISTRATION r) {
  DWORD rc = ProcessSocketNotifications(port, 1, &r, 0, 0, nullptr, nullptr);
  if (rc != ERROR_SUCCESS) return rc;
  return r.registrationResult;
}

// Applies a batch of registrations without dequeuing; returns the call's result (ERROR_SUCCESS,
// without a call, for an empty batch).
inline DWORD apply_all(HANDLE port, std::vector<SOCK_NOTIFY_REGISTRATION>& regs) {
  if (regs.empty()) return ERROR_SUCCESS;
  return ProcessSocketNotifications(port, static_cast<UINT32>(regs.size()), regs.data(), 0, 0,
                                    nullptr, nullptr);
}

// DISABLEs s's registration on port; returns its registrationResult.
inline DWORD disable(HANDLE port, int s) {
  return apply(port, reg(s, nullptr, 0, SOCK_NOTIFY_OP_DISABLE, 0));
}

// Short names for the fields of a registration and for the results, for the files that build
// many registrations: `using namespace psntest::regnames;`. Not in psntest itself, because other
// files give kIn and the like to the event bits of a notification.
namespace regnames {
inline constexpr UINT16 kNoEvents = SOCK_NOTIFY_REGISTER_EVENT_NONE;
inline constexpr UINT16 kIn = SOCK_NOTIFY_REGISTER_EVENT_IN;
inline constexpr UINT16 kOut = SOCK_NOTIFY_REGISTER_EVENT_OUT;
inline constexpr UINT16 kHup = SOCK_NOTIFY_REGISTER_EVENT_HANGUP;
inline constexpr UINT8 kOpNone = SOCK_NOTIFY_OP_NONE;
inline constexpr UINT8 kEnable = SOCK_NOTIFY_OP_ENABLE;
inline constexpr UINT8 kDisable = SOCK_NOTIFY_OP_DISABLE;
inline constexpr UINT8 kRemove = SOCK_NOTIFY_OP_REMOVE;
inline constexpr UINT8 kLevel = SOCK_NOTIFY_TRIGGER_LEVEL;
inline constexpr UINT8 kEdge = SOCK_NOTIFY_TRIGGER_EDGE;
inline constexpr UINT8 kOneshot = SOCK_NOTIFY_TRIGGER_ONESHOT;
inline constexpr UINT8 kPersistent = SOCK_NOTIFY_TRIGGER_PERSISTENT;

inline constexpr DWORD kSuccess = ERROR_SUCCESS;
inline constexpr DWORD kTimeout = WAIT_TIMEOUT;
inline constexpr DWORD kInval = WSAEINVAL;
inline constexpr DWORD kNotFound = ERROR_NOT_FOUND;
inline constexpr DWORD kNotSock = WSAENOTSOCK;
}  // namespace regnames

// ---------------------------------------------------------------------------------------------
// Taking packets and checking them.

// Takes up to `n` packets, waiting up to `ms`; returns the count (0 on time-out).
inline UINT32 take(HANDLE port, OVERLAPPED_ENTRY* out, ULONG n, UINT32 ms) {
  UINT32 got = 0;
  DWORD rc = ProcessSocketNotifications(port, 0, nullptr, ms, n, out, &got);
  if (rc == WAIT_TIMEOUT) return 0;
  return got;
}

inline std::string describe(const OVERLAPPED_ENTRY& e) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "{key=%#zx mask/bytes=%#x ov=%p}",
                static_cast<size_t>(e.lpCompletionKey), e.dwNumberOfBytesTransferred,
                static_cast<void*>(e.lpOverlapped));
  return buf;
}

// Takes one packet, waiting up to `ms`; nullopt on time-out.
inline std::optional<OVERLAPPED_ENTRY> next(HANDLE port, UINT32 ms = kWaitMs) {
  OVERLAPPED_ENTRY e{};
  UINT32 got = 0;
  DWORD rc = ProcessSocketNotifications(port, 0, nullptr, ms, 1, &e, &got);
  if (rc == WAIT_TIMEOUT) return std::nullopt;
  EXPECT_EQ(rc, static_cast<DWORD>(ERROR_SUCCESS));
  EXPECT_EQ(got, 1u);
  if (rc != ERROR_SUCCESS || got != 1) return std::nullopt;
  return e;
}

// No packet comes within `ms`.
inline testing::AssertionResult quiet(HANDLE port, UINT32 ms = kQuietMs) {
  if (auto e = next(port, ms)) return testing::AssertionFailure() << "unexpected " << describe(*e);
  return testing::AssertionSuccess();
}

// A packet with exactly this key, byte count (a notification's mask) and OVERLAPPED pointer.
inline testing::AssertionResult is_packet(const std::optional<OVERLAPPED_ENTRY>& e,
                                          uintptr_t key, DWORD bytes, const void* ov) {
  if (!e) return testing::AssertionFailure() << "no packet came";
  if (e->lpCompletionKey != key || e->dwNumberOfBytesTransferred != bytes ||
      e->lpOverlapped != ov)
    return testing::AssertionFailure() << "got " << describe(*e) << ", expected key " << key
                                       << " mask/bytes " << bytes;
  return testing::AssertionSuccess();
}

// A socket notification: the registration's key, no OVERLAPPED, Internal 0, exactly `mask`.
inline testing::AssertionResult is_note(const std::optional<OVERLAPPED_ENTRY>& e, uintptr_t key,
                                        DWORD mask) {
  testing::AssertionResult r = is_packet(e, key, mask, nullptr);
  if (r && e->Internal != 0)
    return testing::AssertionFailure() << "got " << describe(*e) << " with Internal "
                                       << e->Internal << ", expected 0";
  return r;
}

// As is_note, but the mask need only contain `bits` (and Internal is not looked at).
inline testing::AssertionResult has_note(const std::optional<OVERLAPPED_ENTRY>& e, uintptr_t key,
                                         DWORD bits) {
  if (!e) return testing::AssertionFailure() << "no packet came";
  if (e->lpCompletionKey != key || (e->dwNumberOfBytesTransferred & bits) != bits ||
      e->lpOverlapped != nullptr)
    return testing::AssertionFailure() << "got " << describe(*e) << ", expected key " << key
                                       << " with bits " << bits;
  return testing::AssertionSuccess();
}

// ---------------------------------------------------------------------------------------------
// The three dequeuing functions.

enum class Via { Gqcs, GqcsEx, Psn };
inline constexpr Via kAllVia[] = {Via::Gqcs, Via::GqcsEx, Via::Psn};

inline const char* via_name(Via v) {
  switch (v) {
    case Via::Gqcs:
      return "GetQueuedCompletionStatus";
    case Via::GqcsEx:
      return "GetQueuedCompletionStatusEx";
    case Via::Psn:
      return "ProcessSocketNotifications";
  }
  return "?";
}

// The i-th of the three (i >= 0), round and round: for threads and calls that take turns.
inline Via nth_via(int i) { return kAllVia[i % 3]; }

// What one dequeuing call did.
struct Deq {
  DWORD err;  // ERROR_SUCCESS, WAIT_TIMEOUT, ERROR_ABANDONED_WAIT_0, ...
  UINT32 n;   // entries filled
};

// Takes up to `cap` packets into `out` with the chosen function (GetQueuedCompletionStatus takes
// one), waiting up to `ms`. out[0] is written only for a packet taken.
inline Deq dequeue_via(HANDLE port, Via via, OVERLAPPED_ENTRY* out, ULONG cap, DWORD ms) {
  switch (via) {
    case Via::Gqcs: {
      DWORD bytes = 0;
      ULONG_PTR key = 0;
      LPOVERLAPPED ov = nullptr;
      SetLastError(0);
      if (!GetQueuedCompletionStatus(port, &bytes, &key, &ov, ms)) return {GetLastError(), 0};
      out[0].lpCompletionKey = key;
      out[0].lpOverlapped = ov;
      out[0].Internal = 0;
      out[0].dwNumberOfBytesTransferred = bytes;
      return {ERROR_SUCCESS, 1};
    }
    case Via::GqcsEx: {
      ULONG n = 0;
      SetLastError(0);
      if (!GetQueuedCompletionStatusEx(port, out, cap, &n, ms, FALSE)) return {GetLastError(), n};
      return {ERROR_SUCCESS, n};
    }
    case Via::Psn: {
      UINT32 n = 0;
      DWORD rc = ProcessSocketNotifications(port, 0, nullptr, ms, cap, out, &n);
      return {rc, n};
    }
  }
  return {ERROR_INVALID_PARAMETER, 0};
}

// ---------------------------------------------------------------------------------------------
// Time and threads.

using Clock = std::chrono::steady_clock;
inline long long ms_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

// Polls cond() every `every` until it holds (true) or `deadline` passes (false).
template <class F>
bool wait_until(F cond, Clock::time_point deadline,
                std::chrono::milliseconds every = std::chrono::milliseconds(1)) {
  while (!cond()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
  return true;
}

// Raises `a` to `v` unless it already holds at least that: a maximum kept by many threads.
template <class T>
void atomic_max(std::atomic<T>& a, T v) {
  T cur = a.load();
  while (v > cur && !a.compare_exchange_weak(cur, v)) {
  }
}

// ---------------------------------------------------------------------------------------------

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
