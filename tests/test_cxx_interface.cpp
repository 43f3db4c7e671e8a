// CxxInterface: the C++20 interface, <psn/psn.hpp>, on its own.
//
// This file deliberately includes neither <psn/psn.h> nor support.hpp: psn.hpp
// must stand alone, so the few socket helpers needed here are local. Test names
// say what they pin and cite the SPEC rule where one applies.

// clang-format off
// First, so that it is compiled with nothing else before it.
#include <psn/psn.hpp>
// clang-format on

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------
// Local helpers: plain POSIX sockets on loopback.

// Owns a descriptor and closes it with plain close() unless released.
class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  Socket(Socket&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Socket& operator=(Socket&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() { reset(); }

  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

void make_nonblocking(int fd) {
  int fl = ::fcntl(fd, F_GETFL);
  ASSERT_GE(fl, 0);
  ASSERT_EQ(::fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

// A connected TCP pair on 127.0.0.1; both ends non-blocking. `first` is the
// connecting end, `second` the accepted one.
struct TcpPair {
  Socket first;
  Socket second;
};

void make_tcp_pair(TcpPair* out) {
  Socket listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_GE(listener.get(), 0) << std::strerror(errno);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener.get(), 4), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);

  Socket client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_GE(client.get(), 0);
  ASSERT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0)
      << std::strerror(errno);
  Socket server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_GE(server.get(), 0) << std::strerror(errno);

  make_nonblocking(client.get());
  make_nonblocking(server.get());
  int one = 1;
  ::setsockopt(client.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(server.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  out->first = std::move(client);
  out->second = std::move(server);
}

void send_some(int fd, std::size_t n = 1) {
  std::string data(n, 'p');
  ASSERT_EQ(::send(fd, data.data(), n, MSG_NOSIGNAL), static_cast<ssize_t>(n));
}

// Reads until the socket would block; returns the byte count.
std::size_t drain(int fd) {
  char buf[4096];
  std::size_t total = 0;
  for (;;) {
    ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r > 0) {
      total += static_cast<std::size_t>(r);
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else {
      return total;
    }
  }
}

bool fd_is_open(int fd) {
  return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

void* key_of(std::uintptr_t v) {
  return reinterpret_cast<void*>(v);
}

long long ms_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

constexpr psn::triggers kOneshotLevel = psn::trigger::oneshot | psn::trigger::level;
constexpr psn::triggers kPersistentLevel = psn::trigger::persistent | psn::trigger::level;
constexpr psn::triggers kPersistentEdge = psn::trigger::persistent | psn::trigger::edge;

// ---------------------------------------------------------------------------
// Layout: registration and completion pass to the core without a copy, so
// they must have the layout of SOCK_NOTIFY_REGISTRATION and OVERLAPPED_ENTRY.

static_assert(sizeof(psn::registration) == 24, "registration must be 24 bytes");
static_assert(sizeof(psn::completion) == 32, "completion must be 32 bytes");
static_assert(std::is_standard_layout_v<psn::registration>);
static_assert(std::is_standard_layout_v<psn::completion>);
static_assert(std::is_trivially_copyable_v<psn::registration>);
static_assert(std::is_trivially_copyable_v<psn::completion>);
// Member offsets of the Windows structures (socket, completionKey, eventFilter,
// operation, triggerFlags, registrationResult / lpCompletionKey, lpOverlapped,
// Internal, dwNumberOfBytesTransferred).
static_assert(offsetof(psn::registration, socket) == 0);
static_assert(offsetof(psn::registration, key) == 8);
static_assert(offsetof(psn::registration, filter) == 16);
static_assert(offsetof(psn::registration, op) == 18);
static_assert(offsetof(psn::registration, trigger_flags) == 19);
static_assert(offsetof(psn::registration, result) == 20);
static_assert(offsetof(psn::completion, key) == 0);
static_assert(offsetof(psn::completion, overlapped) == 8);
static_assert(offsetof(psn::completion, internal) == 16);
static_assert(offsetof(psn::completion, bytes) == 24);
// The port is a move-only value.
static_assert(!std::is_copy_constructible_v<psn::port>);
static_assert(!std::is_copy_assignable_v<psn::port>);
static_assert(std::is_nothrow_move_constructible_v<psn::port>);
static_assert(std::is_nothrow_move_assignable_v<psn::port>);
static_assert(std::is_error_code_enum_v<psn::errc>);

// ---------------------------------------------------------------------------
// Creating, moving and closing ports.

TEST(CxxInterface, DefaultConstructedPortIsEmpty) {
  psn::port p;
  EXPECT_FALSE(p);
  EXPECT_EQ(p.native_handle(), 0u);
}

TEST(CxxInterface, R3_1_CreateGivesAUsablePort) {
  psn::port p = psn::port::create();
  ASSERT_TRUE(p);
  EXPECT_NE(p.native_handle(), 0u);
  EXPECT_FALSE(p.post(1, key_of(1)));
  std::array<psn::completion, 1> out;
  EXPECT_EQ(p.wait(out, 1s).size(), 1u);
}

TEST(CxxInterface, CreateWithErrorCodeOverloadClearsCode) {
  std::error_code ec = psn::errc::invalid_argument;
  psn::port p = psn::port::create({}, ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_TRUE(p);
}

TEST(CxxInterface, R3_2_EachCreateGivesADistinctHandle) {
  psn::port a = psn::port::create();
  psn::port b = psn::port::create();
  EXPECT_NE(a.native_handle(), b.native_handle());
  // A packet posted to one port is not seen by the other.
  ASSERT_FALSE(a.post(7, key_of(0xA)));
  std::array<psn::completion, 1> out;
  std::error_code ec;
  EXPECT_TRUE(b.wait(out, 0ms, ec).empty());
  EXPECT_EQ(ec, psn::errc::timeout);
  EXPECT_EQ(a.wait(out, 0ms, ec).size(), 1u);
  EXPECT_FALSE(ec);
}

TEST(CxxInterface, MoveConstructionLeavesSourceEmpty) {
  psn::port a = psn::port::create();
  const auto h = a.native_handle();
  ASSERT_FALSE(a.post(3, key_of(0x33)));

  psn::port b(std::move(a));
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): the moved-from state is specified
  EXPECT_EQ(a.native_handle(), 0u);
  ASSERT_TRUE(b);
  EXPECT_EQ(b.native_handle(), h);

  // The packet queued before the move belongs to the moved-to port.
  std::array<psn::completion, 1> out;
  auto got = b.wait(out, 1s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].key, key_of(0x33));
  EXPECT_EQ(got[0].bytes, 3u);
}

TEST(CxxInterface, MoveAssignmentLeavesSourceEmptyAndClosesTarget) {
  psn::port a = psn::port::create();
  psn::port b = psn::port::create();
  const auto ha = a.native_handle();
  ASSERT_FALSE(b.post(5, key_of(0x55)));

  // The port `a` held is closed by the assignment: a packet posted to it is
  // gone, and b's own packet arrives through a.
  a = std::move(b);
  EXPECT_FALSE(b);  // NOLINT(bugprone-use-after-move)
  ASSERT_TRUE(a);
  EXPECT_NE(a.native_handle(), ha);
  std::array<psn::completion, 2> out;
  auto got = a.wait(out, 1s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].key, key_of(0x55));

  // Self-move-assignment keeps the port.
  psn::port& same = a;
  a = std::move(same);
  EXPECT_TRUE(a);
  EXPECT_FALSE(a.post(1, key_of(1)));
}

TEST(CxxInterface, MovedFromPortCanBeReused) {
  psn::port a = psn::port::create();
  psn::port b(std::move(a));
  a = psn::port::create();  // NOLINT(bugprone-use-after-move)
  ASSERT_TRUE(a);
  EXPECT_NE(a.native_handle(), b.native_handle());
  EXPECT_FALSE(a.post(9, key_of(9)));
}

TEST(CxxInterface, R3_9_ClosingTwiceIsHarmless) {
  psn::port p = psn::port::create();
  p.close();
  EXPECT_FALSE(p);
  p.close();
  EXPECT_FALSE(p);
  // Destroying a closed port is harmless too (the destructor runs at scope end).
}

TEST(CxxInterface, R3_9_CloseWhileWaitingReturnsAbandoned) {
  psn::port p = psn::port::create();
  std::atomic<bool> entered{false};
  std::error_code result;
  std::size_t got_size = 99;
  long long waited_ms = -1;

  std::thread waiter([&] {
    std::array<psn::completion, 4> out;
    entered.store(true);
    auto t0 = Clock::now();
    std::error_code ec;
    auto got = p.wait(out, psn::infinite, ec);
    waited_ms = ms_since(t0);
    got_size = got.size();
    result = ec;
  });
  while (!entered.load()) std::this_thread::yield();
  std::this_thread::sleep_for(200ms);  // let the waiter block inside the port
  auto t0 = Clock::now();
  p.close();
  waiter.join();

  EXPECT_EQ(result, psn::errc::abandoned) << result.message();
  EXPECT_EQ(got_size, 0u);
  EXPECT_GE(waited_ms, 100);
  EXPECT_LT(ms_since(t0), 5000) << "the waiter was not released at once";
  EXPECT_FALSE(p);
}

TEST(CxxInterface, R3_9_CloseWhileWaitingThrowsAbandonedFromThrowingOverload) {
  psn::port p = psn::port::create();
  std::atomic<bool> entered{false};
  std::error_code thrown;
  bool threw = false;

  std::thread waiter([&] {
    std::array<psn::completion, 1> out;
    entered.store(true);
    try {
      (void)p.wait(out, 10s);
    } catch (const std::system_error& e) {
      threw = true;
      thrown = e.code();
    }
  });
  while (!entered.load()) std::this_thread::yield();
  std::this_thread::sleep_for(200ms);
  p.close();
  waiter.join();

  EXPECT_TRUE(threw);
  EXPECT_EQ(thrown, psn::errc::abandoned) << thrown.message();
}

// ---------------------------------------------------------------------------
// process() and wait() with spans.

TEST(CxxInterface, R5_9_OneshotThroughSpan) {
  TcpPair sp;
  ASSERT_NO_FATAL_FAILURE(make_tcp_pair(&sp));
  psn::port p = psn::port::create();

  std::array<psn::registration, 1> regs{
      psn::registration::enable(sp.second.get(), key_of(0x1111), psn::event::in, kOneshotLevel)};
  regs[0].result = 0xDEADBEEF;
  std::array<psn::completion, 4> out;
  std::error_code ec;

  // Nothing to read yet: the ENABLE is applied and the wait times out.
  auto got = p.process(regs, out, 0ms, ec);
  EXPECT_EQ(ec, psn::errc::timeout);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(regs[0].result, 0u);
  EXPECT_FALSE(regs[0].error());

  send_some(sp.first.get(), 10);
  got = p.wait(out, 2s, ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].key, key_of(0x1111));
  EXPECT_EQ(got[0].overlapped, nullptr);
  EXPECT_TRUE(got[0].events().has(psn::event::in));

  // Taking the packet disabled the registration: the unread data does not
  // notify again.
  got = p.wait(out, 50ms, ec);
  EXPECT_EQ(ec, psn::errc::timeout);
  EXPECT_TRUE(got.empty());

  // Re-arming in the same call that waits: level-triggered notifies at once,
  // even with no time to wait (R4.5).
  regs[0].result = 0xDEADBEEF;
  got = p.process(regs, out, 0ms, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(regs[0].result, 0u);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].key, key_of(0x1111));
  EXPECT_TRUE(got[0].events().has(psn::event::in));

  // Drained and re-armed: quiet until the next arrival.
  EXPECT_EQ(drain(sp.second.get()), 10u);
  got = p.process(regs, out, 50ms, ec);
  EXPECT_EQ(ec, psn::errc::timeout);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(regs[0].result, 0u);
  send_some(sp.first.get());
  got = p.wait(out, 2s, ec);
  ASSERT_EQ(got.size(), 1u) << ec.message();
  EXPECT_EQ(got[0].key, key_of(0x1111));
}

TEST(CxxInterface, R5_7_LevelPersistentThroughSpanRepeats) {
  TcpPair sp;
  ASSERT_NO_FATAL_FAILURE(make_tcp_pair(&sp));
  psn::port p = psn::port::create();
  std::array<psn::registration, 1> regs{
      psn::registration::enable(sp.second.get(), key_of(0x2222), psn::event::in, kPersistentLevel)};
  ASSERT_FALSE(p.apply(regs));
  EXPECT_EQ(regs[0].result, 0u);

  send_some(sp.first.get(), 3);
  std::array<psn::completion, 2> out;
  for (int round = 0; round < 3; ++round) {
    auto got = p.wait(out, 2s);
    ASSERT_EQ(got.size(), 1u) << "round " << round;
    EXPECT_EQ(got[0].key, key_of(0x2222));
    EXPECT_TRUE(got[0].events().has(psn::event::in));
  }
  EXPECT_EQ(drain(sp.second.get()), 3u);
  std::error_code ec;
  EXPECT_TRUE(p.wait(out, 50ms, ec).empty());
  EXPECT_EQ(ec, psn::errc::timeout);
}

TEST(CxxInterface, R5_8_EdgeThroughSpan) {
  TcpPair sp;
  ASSERT_NO_FATAL_FAILURE(make_tcp_pair(&sp));
  psn::port p = psn::port::create();
  std::array<psn::registration, 1> regs{
      psn::registration::enable(sp.second.get(), key_of(0x3333), psn::event::in, kPersistentEdge)};
  std::array<psn::completion, 2> out;
  std::error_code ec;
  auto got = p.process(regs, out, 0ms, ec);
  EXPECT_EQ(ec, psn::errc::timeout);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(regs[0].result, 0u);

  send_some(sp.first.get(), 4);
  got = p.wait(out, 2s, ec);
  ASSERT_EQ(got.size(), 1u) << ec.message();
  EXPECT_EQ(got[0].key, key_of(0x3333));
  EXPECT_TRUE(got[0].events().has(psn::event::in));

  // The same edge is not reported twice, although the data is still unread.
  got = p.wait(out, 50ms, ec);
  EXPECT_EQ(ec, psn::errc::timeout);
  EXPECT_TRUE(got.empty());

  // Drained until it would block, the next arrival notifies again.
  EXPECT_EQ(drain(sp.second.get()), 4u);
  send_some(sp.first.get(), 2);
  got = p.wait(out, 2s, ec);
  ASSERT_EQ(got.size(), 1u) << ec.message();
  EXPECT_EQ(got[0].key, key_of(0x3333));
}

TEST(CxxInterface, R5_5_RemoveThroughSpanQueuesRemovePacket) {
  TcpPair sp;
  ASSERT_NO_FATAL_FAILURE(make_tcp_pair(&sp));
  psn::port p = psn::port::create();
  std::array<psn::registration, 1> regs{
      psn::registration::enable(sp.second.get(), key_of(0x4444), psn::event::in, kOneshotLevel)};
  ASSERT_FALSE(p.apply(regs));
  ASSERT_EQ(regs[0].result, 0u);

  regs[0] = psn::registration::remove(sp.second.get());
  regs[0].result = 0xDEADBEEF;
  std::array<psn::completion, 4> out;
  auto got = p.process(regs, out, 1s);
  EXPECT_EQ(regs[0].result, 0u);
  ASSERT_EQ(got.size(), 1u);
  // The key is the registration's, although the REMOVE entry carried none.
  EXPECT_EQ(got[0].key, key_of(0x4444));
  EXPECT_TRUE(got[0].events().has(psn::event::remove));
  EXPECT_EQ(got[0].overlapped, nullptr);

  // Nothing follows the REMOVE packet, and the registration is gone.
  send_some(sp.first.get());
  std::error_code ec;
  EXPECT_TRUE(p.wait(out, 50ms, ec).empty());
  EXPECT_EQ(ec, psn::errc::timeout);
  regs[0] = psn::registration::remove(sp.second.get());
  EXPECT_FALSE(p.apply(regs));
  EXPECT_EQ(regs[0].error(), psn::errc::not_found);
}

TEST(CxxInterface, R5_4_DisableThroughSpanStopsNotifications) {
  TcpPair sp;
  ASSERT_NO_FATAL_FAILURE(make_tcp_pair(&sp));
  psn::port p = psn::port::create();
  std::array<psn::registration, 1> regs{
      psn::registration::enable(sp.second.get(), key_of(0x5555), psn::event::in, kPersistentLevel)};
  ASSERT_FALSE(p.apply(regs));
  regs[0] = psn::registration::disable(sp.second.get());
  ASSERT_FALSE(p.apply(regs));
  EXPECT_EQ(regs[0].result, 0u);

  send_some(sp.first.get());
  std::array<psn::completion, 2> out;
  std::error_code ec;
  EXPECT_TRUE(p.wait(out, 50ms, ec).empty());
  EXPECT_EQ(ec, psn::errc::timeout);
}

TEST(CxxInterface, R4_4_R5_1_ResultSetForEveryEntry) {
  TcpPair sp;
  ASSERT_NO_FATAL_FAILURE(make_tcp_pair(&sp));
  TcpPair other;
  ASSERT_NO_FATAL_FAILURE(make_tcp_pair(&other));
  psn::port p = psn::port::create();

  std::vector<psn::registration> regs{
      // 0: valid
      psn::registration::enable(sp.second.get(), key_of(1), psn::event::in, kOneshotLevel),
      // 1: both LEVEL and EDGE
      psn::registration::enable(sp.first.get(), key_of(2), psn::event::in,
                                psn::trigger::level | psn::trigger::edge),
      // 2: not a socket
      psn::registration::enable(-1, key_of(3), psn::event::in, kOneshotLevel),
      // 3: DISABLE of a socket with no registration here
      psn::registration::disable(other.first.get()),
      // 4: OP_NONE does nothing and succeeds
      psn::registration{},
      // 5: filter bits outside IN|OUT|HANGUP
      psn::registration::enable(other.second.get(), key_of(6), psn::events(std::uint16_t{0x40}),
                                kOneshotLevel),
      // 6: an unknown operation
      psn::registration{static_cast<psn::native_socket>(other.second.get()), key_of(7),
                        psn::event::in, static_cast<psn::operation>(3), kOneshotLevel, 0},
  };
  for (auto& r : regs) r.result = 0xDEADBEEF;

  std::error_code ec;
  std::array<psn::completion, 1> out;
  auto got = p.process(regs, out, 0ms, ec);
  // The failing entries do not fail the call: it applied them and timed out.
  EXPECT_EQ(ec, psn::errc::timeout) << ec.message();
  EXPECT_TRUE(got.empty());

  EXPECT_EQ(regs[0].error(), psn::errc::success);
  EXPECT_FALSE(regs[0].error());
  EXPECT_EQ(regs[1].error(), psn::errc::invalid_argument);
  EXPECT_EQ(regs[2].error(), psn::errc::not_socket);
  EXPECT_EQ(regs[3].error(), psn::errc::not_found);
  EXPECT_EQ(regs[4].error(), psn::errc::success);
  EXPECT_EQ(regs[5].error(), psn::errc::invalid_argument);
  EXPECT_EQ(regs[6].error(), psn::errc::invalid_argument);
  // error() carries the raw value in psn's category.
  EXPECT_EQ(regs[2].error().value(), 10038);
  EXPECT_EQ(&regs[2].error().category(), &psn::category());

  // The valid entry took effect.
  send_some(sp.first.get());
  got = p.wait(out, 2s, ec);
  ASSERT_EQ(got.size(), 1u) << ec.message();
  EXPECT_EQ(got[0].key, key_of(1));
}

TEST(CxxInterface, R3_3_WaitReturnsTheFilledPrefixInOrder) {
  psn::port p = psn::port::create();
  for (std::uint32_t i = 0; i < 5; ++i) ASSERT_FALSE(p.post(i, key_of(100 + i)));

  std::array<psn::completion, 3> small;
  auto got = p.wait(small, 1s);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got.data(), small.data());  // a prefix of the caller's array
  for (std::uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i].bytes, i);
    EXPECT_EQ(got[i].key, key_of(100 + i));
  }

  std::array<psn::completion, 8> large;
  for (auto& c : large) c.bytes = 0xFFFFFFFF;
  got = p.wait(large, 1s);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got.data(), large.data());
  EXPECT_EQ(got[0].bytes, 3u);
  EXPECT_EQ(got[1].bytes, 4u);
  EXPECT_EQ(large[2].bytes, 0xFFFFFFFFu);  // entries past the prefix are untouched
}

TEST(CxxInterface, R3_7_TimeoutWithErrorCodeOverload) {
  psn::port p = psn::port::create();
  std::array<psn::completion, 2> out;
  std::error_code ec;
  auto t0 = Clock::now();
  auto got = p.wait(out, 60ms, ec);
  auto waited = ms_since(t0);
  EXPECT_EQ(ec, psn::errc::timeout);
  EXPECT_EQ(ec.value(), 258);
  EXPECT_TRUE(got.empty());
  EXPECT_GE(waited, 60);
  EXPECT_LT(waited, 5000);

  // Zero never blocks.
  t0 = Clock::now();
  got = p.wait(out, 0ms, ec);
  EXPECT_EQ(ec, psn::errc::timeout);
  EXPECT_TRUE(got.empty());
  EXPECT_LT(ms_since(t0), 1000);
}

TEST(CxxInterface, R3_7_TimeoutWithThrowingOverloadIsAnEmptySpan) {
  psn::port p = psn::port::create();
  std::array<psn::completion, 2> out;
  std::span<psn::completion> got;
  EXPECT_NO_THROW(got = p.wait(out, 20ms));
  EXPECT_TRUE(got.empty());
  std::array<psn::registration, 0> none;
  EXPECT_NO_THROW(got = p.process(none, out, 20ms));
  EXPECT_TRUE(got.empty());
}

TEST(CxxInterface, ProcessWithoutCompletionsNeverWaits) {
  psn::port p = psn::port::create();
  TcpPair sp;
  ASSERT_NO_FATAL_FAILURE(make_tcp_pair(&sp));
  std::array<psn::registration, 1> regs{
      psn::registration::enable(sp.second.get(), key_of(8), psn::event::in, kOneshotLevel)};
  std::error_code ec = psn::errc::invalid_argument;
  auto t0 = Clock::now();
  auto got = p.process(regs, {}, 10s, ec);  // no room for packets: the time-out is moot
  EXPECT_LT(ms_since(t0), 2000);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(regs[0].result, 0u);
}

TEST(CxxInterface, InfiniteWaitReturnsWhenAPacketArrives) {
  psn::port p = psn::port::create();
  std::thread poster([&] {
    std::this_thread::sleep_for(30ms);
    EXPECT_FALSE(p.post(42, key_of(0x42)));
  });
  std::array<psn::completion, 1> out;
  auto got = p.wait(out, psn::infinite);
  poster.join();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].bytes, 42u);
}

TEST(CxxInterface, R3_2_ThrowingOverloadThrowsInvalidHandleForMovedFromPort) {
  psn::port a = psn::port::create();
  psn::port b(std::move(a));
  std::array<psn::completion, 1> out;
  std::array<psn::registration, 0> none;
  try {
    (void)a.wait(out, 10ms);  // NOLINT(bugprone-use-after-move)
    ADD_FAILURE() << "wait() on a moved-from port did not throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), psn::errc::invalid_handle) << e.code().message();
  }
  EXPECT_THROW((void)a.process(none, out, 0ms), std::system_error);
  // Registration-only calls report it too (they go through the error_code overload).
  EXPECT_EQ(a.apply(none), psn::errc::invalid_handle);
}

TEST(CxxInterface, R3_2_ClosedPortGivesInvalidHandle) {
  psn::port p = psn::port::create();
  p.close();
  std::array<psn::completion, 1> out;
  std::error_code ec;
  auto got = p.wait(out, 10ms, ec);
  EXPECT_EQ(ec, psn::errc::invalid_handle) << ec.message();
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(p.post(1, key_of(1)), psn::errc::invalid_handle);
  try {
    (void)p.wait(out, 10ms);
    ADD_FAILURE() << "wait() on a closed port did not throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), psn::errc::invalid_handle);
  }
}

TEST(CxxInterface, R3_4_PostRoundTripsKeyOverlappedAndBytes) {
  psn::port p = psn::port::create();
  int key_target = 0;
  double ov_target = 0;
  ASSERT_FALSE(p.post(0xFEEDF00Du, &key_target, &ov_target));
  ASSERT_FALSE(p.post(0, nullptr));                               // all zero: still a packet
  ASSERT_FALSE(p.post(0xFFFFFFFFu, key_of(~std::uintptr_t{0})));  // extreme values

  std::array<psn::completion, 4> out;
  auto got = p.wait(out, 1s);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].bytes, 0xFEEDF00Du);
  EXPECT_EQ(got[0].key, &key_target);
  EXPECT_EQ(got[0].overlapped, &ov_target);
  EXPECT_EQ(got[1].bytes, 0u);
  EXPECT_EQ(got[1].key, nullptr);
  EXPECT_EQ(got[1].overlapped, nullptr);
  EXPECT_EQ(got[2].bytes, 0xFFFFFFFFu);
  EXPECT_EQ(got[2].key, key_of(~std::uintptr_t{0}));
  EXPECT_EQ(got[2].overlapped, nullptr);
}

TEST(CxxInterface, R3_4_PostWakesAWaiterOnAnotherThread) {
  psn::port p = psn::port::create();
  std::array<psn::completion, 1> out;
  std::span<psn::completion> got;
  std::thread waiter([&] { got = p.wait(out, 5s); });
  std::this_thread::sleep_for(30ms);
  ASSERT_FALSE(p.post(11, key_of(0x11)));
  waiter.join();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].bytes, 11u);
  EXPECT_EQ(got[0].key, key_of(0x11));
}

// ---------------------------------------------------------------------------
// Small value types.

TEST(CxxInterface, CompletionEventsDecodesBytes) {
  psn::completion c;
  c.bytes = 0xC5;  // REMOVE | ERR | HANGUP | IN
  psn::events e = c.events();
  EXPECT_EQ(e.raw(), 0xC5);
  EXPECT_TRUE(e.has(psn::event::in));
  EXPECT_FALSE(e.has(psn::event::out));
  EXPECT_TRUE(e.has(psn::event::hangup));
  EXPECT_TRUE(e.has(psn::event::error));
  EXPECT_TRUE(e.has(psn::event::remove));
  EXPECT_TRUE(e.has_all(psn::event::in | psn::event::remove));
  EXPECT_FALSE(e.has_all(psn::event::in | psn::event::out));

  psn::completion empty;
  EXPECT_TRUE(empty.events().empty());
  EXPECT_EQ(empty.key, nullptr);
  EXPECT_EQ(empty.overlapped, nullptr);
}

TEST(CxxInterface, EventAndTriggerValuesMatchWindows) {
  EXPECT_EQ(static_cast<unsigned>(psn::event::in), 0x01u);
  EXPECT_EQ(static_cast<unsigned>(psn::event::out), 0x02u);
  EXPECT_EQ(static_cast<unsigned>(psn::event::hangup), 0x04u);
  EXPECT_EQ(static_cast<unsigned>(psn::event::error), 0x40u);
  EXPECT_EQ(static_cast<unsigned>(psn::event::remove), 0x80u);
  EXPECT_EQ(static_cast<unsigned>(psn::operation::enable), 1u);
  EXPECT_EQ(static_cast<unsigned>(psn::operation::disable), 2u);
  EXPECT_EQ(static_cast<unsigned>(psn::operation::remove), 4u);
  EXPECT_EQ(static_cast<unsigned>(psn::trigger::oneshot), 1u);
  EXPECT_EQ(static_cast<unsigned>(psn::trigger::persistent), 2u);
  EXPECT_EQ(static_cast<unsigned>(psn::trigger::level), 4u);
  EXPECT_EQ(static_cast<unsigned>(psn::trigger::edge), 8u);
}

TEST(CxxInterface, FlagsOperators) {
  // Usable in constant expressions.
  constexpr psn::events io = psn::event::in | psn::event::out;
  static_assert(io.raw() == 0x03);
  static_assert(io.has(psn::event::in) && io.has(psn::event::out));
  static_assert(!io.has(psn::event::hangup));
  static_assert((io & psn::events(psn::event::out)) == psn::events(psn::event::out));
  static_assert(psn::events{}.empty());
  static_assert(kOneshotLevel.raw() == 0x05);

  psn::events e;
  EXPECT_TRUE(e.empty());
  EXPECT_FALSE(static_cast<bool>(e));
  e |= psn::event::hangup;
  EXPECT_FALSE(e.empty());
  EXPECT_TRUE(static_cast<bool>(e));
  EXPECT_EQ(e, psn::events(psn::event::hangup));
  e |= io;
  EXPECT_EQ(e.raw(), 0x07);
  EXPECT_TRUE(e.has_all(io));
  EXPECT_TRUE(e.has_all(psn::events{}));  // every set includes the empty set
  e &= psn::events(psn::event::out);
  EXPECT_EQ(e.raw(), 0x02);
  EXPECT_NE(e, io);
  EXPECT_EQ((io & psn::events(psn::event::hangup)).raw(), 0);
  EXPECT_EQ(psn::events(std::uint16_t{0xC7}).raw(), 0xC7);

  psn::triggers t = psn::trigger::edge;
  t |= psn::trigger::oneshot;
  EXPECT_EQ(t.raw(), 0x09);
  EXPECT_EQ(t, psn::trigger::edge | psn::trigger::oneshot);
  EXPECT_TRUE(t.has(psn::trigger::edge));
  EXPECT_FALSE(t.has(psn::trigger::level));
}

TEST(CxxInterface, RegistrationFactoriesFillTheEntry) {
  constexpr auto r =
      psn::registration::enable(7, nullptr, psn::event::in | psn::event::hangup, kOneshotLevel);
  static_assert(r.socket == 7 && r.op == psn::operation::enable && r.result == 0);
  static_assert(r.filter.raw() == 0x05 && r.trigger_flags.raw() == 0x05);
  constexpr auto d = psn::registration::disable(8);
  static_assert(d.socket == 8 && d.op == psn::operation::disable && d.key == nullptr);
  constexpr auto x = psn::registration::remove(9);
  static_assert(x.socket == 9 && x.op == psn::operation::remove);
  constexpr psn::registration none{};
  static_assert(none.socket == psn::invalid_socket && none.op == psn::operation::none);
  // R8.2: one SOCKET definition for both interfaces, as wide as a pointer.
  static_assert(sizeof(psn::native_socket) == sizeof(void*));
  SUCCEED();
}

// ---------------------------------------------------------------------------
// Errors.

TEST(CxxInterface, ErrorMessagesNameTheWindowsCode) {
  const std::error_category& cat = psn::category();
  EXPECT_NE(std::string(cat.name()), "");
  auto starts_with = [&](int code, std::initializer_list<const char*> names) {
    std::string m = cat.message(code);
    for (const char* n : names)
      if (m.rfind(n, 0) == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << code << " -> \"" << m << "\"";
  };
  EXPECT_TRUE(starts_with(10022, {"WSAEINVAL"}));
  EXPECT_TRUE(starts_with(10014, {"WSAEFAULT"}));
  EXPECT_TRUE(starts_with(10035, {"WSAEWOULDBLOCK"}));
  EXPECT_TRUE(starts_with(10038, {"WSAENOTSOCK"}));
  EXPECT_TRUE(starts_with(10055, {"WSAENOBUFS"}));
  EXPECT_TRUE(starts_with(0, {"ERROR_SUCCESS"}));
  EXPECT_TRUE(starts_with(50, {"ERROR_NOT_SUPPORTED"}));
  EXPECT_TRUE(starts_with(258, {"WAIT_TIMEOUT"}));
  EXPECT_TRUE(starts_with(735, {"ERROR_ABANDONED_WAIT_0"}));
  EXPECT_TRUE(starts_with(1168, {"ERROR_NOT_FOUND"}));
  // These have two Windows names with the same value.
  EXPECT_TRUE(starts_with(6, {"ERROR_INVALID_HANDLE", "WSA_INVALID_HANDLE"}));
  EXPECT_TRUE(starts_with(8, {"ERROR_NOT_ENOUGH_MEMORY", "WSA_NOT_ENOUGH_MEMORY"}));
  EXPECT_TRUE(starts_with(87, {"ERROR_INVALID_PARAMETER", "WSA_INVALID_PARAMETER"}));

  // The message reached through an error_code is the category's.
  std::error_code ec = psn::errc::invalid_argument;
  EXPECT_EQ(ec.message(), cat.message(10022));
  // An unknown value still has some message.
  EXPECT_FALSE(cat.message(123456).empty());
}

TEST(CxxInterface, ErrcComparisons) {
  std::error_code ec = psn::errc::timeout;  // implicit: errc is an error code enum
  EXPECT_EQ(ec, psn::errc::timeout);
  EXPECT_NE(ec, psn::errc::abandoned);
  EXPECT_EQ(ec.value(), 258);
  EXPECT_EQ(&ec.category(), &psn::category());
  EXPECT_TRUE(ec);
  EXPECT_EQ(psn::make_error_code(psn::errc::not_found), std::error_code(1168, psn::category()));

  // success is the "no error" value.
  std::error_code ok = psn::errc::success;
  EXPECT_FALSE(ok);

  // Same number, other category: not equal.
  EXPECT_NE(std::error_code(258, std::generic_category()), psn::errc::timeout);
  EXPECT_NE(std::error_code(10022, std::system_category()), psn::errc::invalid_argument);

  // Every errc value carries its Windows number.
  EXPECT_EQ(static_cast<int>(psn::errc::invalid_handle), 6);
  EXPECT_EQ(static_cast<int>(psn::errc::not_enough_memory), 8);
  EXPECT_EQ(static_cast<int>(psn::errc::not_supported), 50);
  EXPECT_EQ(static_cast<int>(psn::errc::invalid_parameter), 87);
  EXPECT_EQ(static_cast<int>(psn::errc::abandoned), 735);
  EXPECT_EQ(static_cast<int>(psn::errc::not_found), 1168);
  EXPECT_EQ(static_cast<int>(psn::errc::fault), 10014);
  EXPECT_EQ(static_cast<int>(psn::errc::invalid_argument), 10022);
  EXPECT_EQ(static_cast<int>(psn::errc::would_block), 10035);
  EXPECT_EQ(static_cast<int>(psn::errc::not_socket), 10038);
  EXPECT_EQ(static_cast<int>(psn::errc::no_buffers), 10055);
}

// ---------------------------------------------------------------------------
// close_socket.

TEST(CxxInterface, R5_11_CloseSocketClosesWithoutARemovePacket) {
  TcpPair sp;
  ASSERT_NO_FATAL_FAILURE(make_tcp_pair(&sp));
  psn::port p = psn::port::create();
  std::array<psn::registration, 1> regs{
      psn::registration::enable(sp.second.get(), key_of(0x6666), psn::event::in, kPersistentLevel)};
  ASSERT_FALSE(p.apply(regs));
  ASSERT_EQ(regs[0].result, 0u);

  const int fd = sp.second.release();
  EXPECT_FALSE(psn::close_socket(fd));
  EXPECT_FALSE(fd_is_open(fd));

  // No REMOVE packet, and nothing else for that registration.
  send_some(sp.first.get());
  std::array<psn::completion, 2> out;
  std::error_code ec;
  EXPECT_TRUE(p.wait(out, 50ms, ec).empty());
  EXPECT_EQ(ec, psn::errc::timeout);
}

TEST(CxxInterface, CloseSocketRejectsNonSockets) {
  EXPECT_EQ(psn::close_socket(-1), psn::errc::not_socket);

  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  EXPECT_EQ(psn::close_socket(fds[0]), psn::errc::not_socket);
  EXPECT_TRUE(fd_is_open(fds[0])) << "a pipe must be left open";
  ::close(fds[0]);
  ::close(fds[1]);
  // A descriptor that is already closed.
  EXPECT_EQ(psn::close_socket(fds[0]), psn::errc::not_socket);
}

// ---------------------------------------------------------------------------
// Backends.

TEST(CxxInterface, R7_1_EpollBackendWorks) {
  std::error_code ec;
  psn::port p = psn::port::create({.concurrency = 0, .backend = psn::backend::epoll}, ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(p);

  TcpPair sp;
  ASSERT_NO_FATAL_FAILURE(make_tcp_pair(&sp));
  std::array<psn::registration, 1> regs{
      psn::registration::enable(sp.second.get(), key_of(0x7777), psn::event::in, kOneshotLevel)};
  send_some(sp.first.get());
  std::array<psn::completion, 1> out;
  auto got = p.process(regs, out, 2s);
  EXPECT_EQ(regs[0].result, 0u);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].key, key_of(0x7777));
}

// A port asks for io_uring from C++: it gets it, whatever PSN_BACKEND says,
// or -- where the kernel cannot provide it -- a clear not_supported (thrown
// by the throwing overload), never a port on another backend.
TEST(CxxInterface, R7_1_IoUringChosenPerPort) {
  std::error_code ec;
  psn::port p = psn::port::create({.concurrency = 0, .backend = psn::backend::io_uring}, ec);
  if (ec) {
    EXPECT_EQ(ec, psn::errc::not_supported) << ec.message();
    EXPECT_FALSE(p);
    try {
      (void)psn::port::create({.concurrency = 0, .backend = psn::backend::io_uring});
      ADD_FAILURE() << "create() with io_uring did not throw";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), psn::errc::not_supported);
    }
    return;
  }
  ASSERT_TRUE(p);
  EXPECT_EQ(p.backend(), psn::backend::io_uring);
  psn::port q = psn::port::create({.concurrency = 0, .backend = psn::backend::epoll});
  EXPECT_EQ(q.backend(), psn::backend::epoll);
}

TEST(CxxInterface, ConcurrencyOptionIsAccepted) {
  psn::port p = psn::port::create({.concurrency = 1, .backend = psn::backend::automatic});
  ASSERT_TRUE(p);
  ASSERT_FALSE(p.post(1, key_of(1)));
  std::array<psn::completion, 1> out;
  EXPECT_EQ(p.wait(out, 1s).size(), 1u);
}

// ---------------------------------------------------------------------------
// SPEC 9 through the C++ interface: associate, receive and send with spans
// of buffers, completions that name their operation, cancel.

TEST(CxxOverlapped, R9_3_ReceiveCompletesWithItsOperationAndKey) {
  psn::port p = psn::port::create();
  TcpPair tp;
  ASSERT_NO_FATAL_FAILURE(make_tcp_pair(&tp));
  int key = 0;
  ASSERT_FALSE(p.associate(static_cast<psn::native_socket>(tp.second.get()), &key));
  std::array<std::byte, 3> a{};
  std::array<std::byte, 8> b{};
  const psn::mutable_buffer bufs[] = {a, b};
  psn::io_operation op;
  std::error_code ec = psn::receive(static_cast<psn::native_socket>(tp.second.get()), bufs, op);
  EXPECT_EQ(ec, psn::errc::io_pending);
  EXPECT_FALSE(op.done());
  ASSERT_EQ(::send(tp.first.get(), "abcdef", 6, 0), 6);
  std::array<psn::completion, 4> out;
  auto got = p.wait(out, 5s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].key, &key);
  ASSERT_EQ(got[0].operation(), &op);
  EXPECT_EQ(got[0].operation()->kind, psn::io_kind::receive);
  EXPECT_FALSE(got[0].error());
  EXPECT_EQ(got[0].bytes, 6u);
  EXPECT_TRUE(op.done());
  EXPECT_EQ(op.bytes(), 6u);
  EXPECT_EQ(std::memcmp(a.data(), "abc", 3), 0);
  EXPECT_EQ(std::memcmp(b.data(), "def", 3), 0);
  EXPECT_FALSE(psn::close_socket(static_cast<psn::native_socket>(tp.second.release())));
}

TEST(CxxOverlapped, R9_4_SendIsNeverShortAndCancelAborts) {
  psn::port p = psn::port::create();
  TcpPair tp;
  ASSERT_NO_FATAL_FAILURE(make_tcp_pair(&tp));
  const auto s = static_cast<psn::native_socket>(tp.first.get());
  ASSERT_FALSE(p.associate(s, nullptr));
  std::vector<std::byte> data(4u << 20, std::byte{0x5A});
  const psn::const_buffer bufs[] = {data};
  psn::io_operation op;
  std::size_t at_once = 0;
  std::error_code ec = psn::send(s, bufs, op, &at_once);
  ASSERT_TRUE(!ec || ec == psn::errc::io_pending) << ec.message();
  std::size_t got_bytes = 0;
  std::thread reader([&] {
    std::vector<char> buf(1 << 16);
    while (got_bytes < data.size()) {
      ssize_t n = ::recv(tp.second.get(), buf.data(), buf.size(), 0);
      if (n > 0) {
        got_bytes += static_cast<std::size_t>(n);
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        break;
      } else {
        std::this_thread::sleep_for(1ms);  // the pair is non-blocking
      }
    }
  });
  std::array<psn::completion, 1> out;
  auto got = p.wait(out, 20s);
  reader.join();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].operation()->kind, psn::io_kind::send);
  EXPECT_EQ(got[0].bytes, data.size()) << "R9.4: never short";
  EXPECT_EQ(got_bytes, data.size());
  // A receive with nothing to read, cancelled.
  std::array<std::byte, 4> rb{};
  const psn::mutable_buffer rbufs[] = {rb};
  psn::io_operation rop;
  ASSERT_EQ(psn::receive(s, rbufs, rop), psn::errc::io_pending);
  EXPECT_FALSE(psn::cancel(s, &rop));
  got = p.wait(out, 5s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].operation(), &rop);
  EXPECT_EQ(got[0].error(), psn::errc::operation_aborted);
  EXPECT_EQ(psn::cancel(s, &rop), psn::errc::not_found);
  EXPECT_FALSE(psn::close_socket(static_cast<psn::native_socket>(tp.first.release())));
}

TEST(CxxOverlapped, R9_7_AcceptAndConnect) {
  psn::port p = psn::port::create();
  Socket listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener.get(), 4), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const auto l = static_cast<psn::native_socket>(listener.get());
  ASSERT_FALSE(p.associate(l, nullptr));
  Socket accepted(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  std::array<std::byte, 2 * (sizeof(sockaddr_in) + 16) + 4> abuf{};
  psn::io_operation aop;
  ASSERT_EQ(psn::accept(l, static_cast<psn::native_socket>(accepted.get()), abuf, 4, aop),
            psn::errc::io_pending);

  Socket client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in any{};
  any.sin_family = AF_INET;
  any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(client.get(), reinterpret_cast<sockaddr*>(&any), sizeof any), 0);
  const auto c = static_cast<psn::native_socket>(client.get());
  ASSERT_FALSE(p.associate(c, nullptr));
  const char hello[] = "ping";
  psn::io_operation cop;
  std::error_code ec = psn::connect(c, &addr, sizeof addr,
                                    std::as_bytes(std::span<const char>(hello, 4)), cop);
  ASSERT_TRUE(!ec || ec == psn::errc::io_pending) << ec.message();
  bool saw_accept = false, saw_connect = false;
  for (int i = 0; i < 2; ++i) {
    std::array<psn::completion, 2> out;
    for (const psn::completion& x : p.wait(out, 5s)) {
      EXPECT_FALSE(x.error()) << x.error().message();
      if (x.operation()->kind == psn::io_kind::accept) {
        saw_accept = true;
        EXPECT_EQ(x.bytes, 4u);
        EXPECT_EQ(std::memcmp(abuf.data(), "ping", 4), 0);
      } else if (x.operation()->kind == psn::io_kind::connect) {
        saw_connect = true;
        EXPECT_EQ(x.bytes, 4u);
      }
    }
    if (saw_accept && saw_connect) break;
  }
  EXPECT_TRUE(saw_accept && saw_connect);
  EXPECT_FALSE(psn::close_socket(static_cast<psn::native_socket>(client.release())));
  EXPECT_FALSE(psn::close_socket(static_cast<psn::native_socket>(listener.release())));
}

}  // namespace
