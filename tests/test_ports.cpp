// Conformance suite, SPEC section 3: completion ports (R3.1 .. R3.10).
//
// Everything here goes through the C interface (<psn/psn.h>) with real
// loopback sockets. Waits that would hang on a broken library carry a finite
// time-out or run on a watched background thread, so a failure never stalls
// the suite.

#include <dirent.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "support.hpp"

namespace {

using namespace psntest;
using namespace std::chrono_literals;

// The time-out for waits that should end much sooner; a broken library makes
// the test fail after this long instead of hanging.
constexpr DWORD kLongWait = 5000;

constexpr UINT32 kIn = SOCK_NOTIFY_EVENT_IN;

long long us_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
}

HANDLE new_port(DWORD concurrency = 0, ULONG_PTR key = 0) {
  return CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, key, concurrency);
}

HANDLE as_handle(uintptr_t v) { return reinterpret_cast<HANDLE>(v); }
uintptr_t value_of(HANDLE h) { return reinterpret_cast<uintptr_t>(h); }

bool post(HANDLE port, DWORD bytes, ULONG_PTR key, LPOVERLAPPED ov = nullptr) {
  return PostQueuedCompletionStatus(port, bytes, key, ov) != FALSE;
}

// ENABLEs s on port for IN, level-triggered, with key k; returns the registrationResult.
DWORD enable_in(HANDLE port, int s, uintptr_t k) {
  return apply(port, reg(s, key(k), SOCK_NOTIFY_REGISTER_EVENT_IN, SOCK_NOTIFY_OP_ENABLE,
                         SOCK_NOTIFY_TRIGGER_LEVEL));
}

// `call` returns FALSE and leaves `err` as the thread's last error (cleared before the call).
#define EXPECT_FAILS_WITH(err, call)                    \
  do {                                                  \
    SetLastError(0);                                    \
    EXPECT_FALSE(call);                                 \
    EXPECT_EQ(GetLastError(), static_cast<DWORD>(err)); \
  } while (0)

// ---------------------------------------------------------------------------
// One packet through any of the three dequeuing functions.

// What one dequeuing call did.
struct Got {
  bool ok = false;     // it returned a packet
  DWORD err = 0;       // otherwise GetLastError(), or what ProcessSocketNotifications returned
  ULONG count = 0;     // packets the call reported (1 for GetQueuedCompletionStatus)
  DWORD bytes = 0;
  ULONG_PTR key = 0;
  LPOVERLAPPED ov = nullptr;
  long long us = 0;    // how long the call took
};

// Takes one packet with the chosen function, waiting up to `ms`.
Got dequeue(HANDLE port, Via via, DWORD ms) {
  Got g;
  const auto t0 = Clock::now();
  OVERLAPPED_ENTRY e{};
  const Deq d = dequeue_via(port, via, &e, 1, ms);
  g.ok = d.err == ERROR_SUCCESS;
  g.err = d.err;
  g.count = d.n;
  g.bytes = e.dwNumberOfBytesTransferred;
  g.key = e.lpCompletionKey;
  g.ov = e.lpOverlapped;
  g.us = us_since(t0);
  return g;
}

// Takes up to `max` packets with the chosen function (one for
// GetQueuedCompletionStatus) into `out`; returns how many, 0 on any failure
// (with the code in *err).
ULONG dequeue_batch(HANDLE port, Via via, OVERLAPPED_ENTRY* out, ULONG max, DWORD ms, DWORD* err) {
  const Deq d = dequeue_via(port, via, out, max, ms);
  *err = d.err;
  return d.err == ERROR_SUCCESS ? d.n : 0;
}

// ---------------------------------------------------------------------------
// A call run on its own thread and watched from the test's thread.
//
// The callable must own what it uses (capture by value): if it is still
// running when the Background is destroyed (the library hung), the thread is
// detached rather than joined so the suite moves on.
template <class R>
class Background {
 public:
  template <class F>
  explicit Background(F f) : st_(std::make_shared<State>()) {
    thread_ = std::thread([st = st_, f = std::move(f)]() mutable {
      R r = f();
      {
        std::lock_guard lk(st->m);
        st->result = std::move(r);
      }
      st->cv.notify_all();
    });
  }
  ~Background() {
    if (wait(std::chrono::milliseconds(kLongWait) + 500ms))
      thread_.join();
    else
      thread_.detach();
  }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  // True once the call has returned, waiting up to d for it.
  bool wait(std::chrono::milliseconds d) {
    std::unique_lock lk(st_->m);
    return st_->cv.wait_for(lk, d, [&] { return st_->result.has_value(); });
  }
  bool done() { return wait(0ms); }
  // The thread, for pthread_kill(); valid until the Background is destroyed.
  pthread_t native_handle() { return thread_.native_handle(); }
  // The call's result; only after wait() or done() returned true.
  R result() {
    std::lock_guard lk(st_->m);
    return *st_->result;
  }

 private:
  struct State {
    std::mutex m;
    std::condition_variable cv;
    std::optional<R> result;
  };
  std::shared_ptr<State> st_;
  std::thread thread_;
};

using Waiter = Background<Got>;

std::unique_ptr<Waiter> start_waiter(HANDLE port, Via via, DWORD ms) {
  return std::make_unique<Waiter>([port, via, ms] { return dequeue(port, via, ms); });
}

// Waits up to 3 s for each waiter in turn; each must have taken a packet, whose key goes into
// *keys.
void collect_keys(std::vector<std::unique_ptr<Waiter>>& ws, std::set<ULONG_PTR>* keys) {
  for (auto& w : ws) {
    ASSERT_TRUE(w->wait(3000ms));
    Got g = w->result();
    EXPECT_TRUE(g.ok) << "error " << g.err;
    keys->insert(g.key);
  }
}

// Polls `cond` until it holds or `limit` passes.
template <class F>
bool eventually(F cond, std::chrono::milliseconds limit = 3000ms) {
  return wait_until(std::move(cond), Clock::now() + limit, 2ms);
}

// Descriptors open in this process.
std::set<int> open_fds() {
  std::set<int> fds;
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return fds;
  const int self = ::dirfd(d);
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const int fd = std::atoi(e->d_name);
    if (fd != self) fds.insert(fd);
  }
  ::closedir(d);
  return fds;
}

bool fd_is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

// ---------------------------------------------------------------------------
// R3.1 Creating a port.

TEST(Ports, R3_1_CreatesAPortForAnyKeyAndConcurrency) {
  for (DWORD n : {0u, 1u, 2u, 64u, 1000u}) {
    for (ULONG_PTR k : {ULONG_PTR{0}, ULONG_PTR{0xABCD}, ~ULONG_PTR{0}}) {
      SCOPED_TRACE(testing::Message() << "n=" << n << " key=" << k);
      HANDLE h = new_port(n, k);
      ASSERT_NE(h, nullptr);
      EXPECT_NE(h, INVALID_HANDLE_VALUE);
      // The port works: a packet goes through it.
      ASSERT_TRUE(post(h, 5, 6));
      Got g = dequeue(h, Via::Gqcs, 0);
      EXPECT_TRUE(g.ok);
      EXPECT_EQ(g.bytes, 5u);
      EXPECT_EQ(g.key, 6u);
      EXPECT_TRUE(CloseHandle(h));
    }
  }
}

TEST(Ports, R3_1_CreationKeyIsIgnored) {
  // Neither posted packets nor socket notifications carry the key given at
  // creation.
  HANDLE h = new_port(0, 0x5EED);
  ASSERT_NE(h, nullptr);
  auto [a, b] = tcp_pair();
  ASSERT_EQ(send_bytes(a, 1), 1);
  ASSERT_EQ(enable_in(h, b, 0x77), static_cast<DWORD>(ERROR_SUCCESS));
  Got g = dequeue(h, Via::Gqcs, kLongWait);
  EXPECT_TRUE(g.ok);
  EXPECT_EQ(g.key, 0x77u);
  ASSERT_TRUE(post(h, 0, 0));
  // Skip the level-triggered repeats of the socket's notification.
  bool saw_post = false;
  for (int i = 0; i < 10 && !saw_post; ++i) {
    Got p = dequeue(h, Via::Gqcs, 0);
    ASSERT_TRUE(p.ok);
    EXPECT_NE(p.key, 0x5EEDu);
    saw_post = p.key == 0 && p.ov == nullptr;
  }
  EXPECT_TRUE(saw_post);
  EXPECT_TRUE(CloseHandle(h));
}

TEST(Ports, R3_1_ZeroConcurrencyMeansNumberOfProcessors) {
  // "Number of processors" may be read as online CPUs or as this process's
  // affinity; the limit must lie between the two readings.
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(::sched_getaffinity(0, sizeof set, &set), 0);
  const int affinity = CPU_COUNT(&set);
  const int online = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
  const int hw = static_cast<int>(std::thread::hardware_concurrency());
  const int lo = std::max(1, std::min({affinity, online, hw > 0 ? hw : online}));
  const int hi = std::max({affinity, online, hw});

  HANDLE h = new_port(0);
  ASSERT_NE(h, nullptr);
  for (int i = 0; i < lo + 1; ++i) ASSERT_TRUE(post(h, 0, static_cast<ULONG_PTR>(i)));

  // `lo` threads each take a packet and keep running (no further dequeue).
  std::atomic<int> got{0};
  std::atomic<bool> release{false};
  std::vector<std::thread> holders;
  for (int i = 0; i < lo; ++i) {
    holders.emplace_back([&] {
      if (dequeue(h, Via::Gqcs, 3000).ok) ++got;
      eventually([&] { return release.load(); }, 10s);
    });
  }
  EXPECT_TRUE(eventually([&] { return got.load() == lo; })) << "only " << got << " of " << lo;
  if (lo == hi && got.load() == lo) {
    // The limit is reached: a packet is queued but nobody may take it.
    Got extra = dequeue(h, Via::Gqcs, 0);
    EXPECT_FALSE(extra.ok);
    EXPECT_EQ(extra.err, static_cast<DWORD>(WAIT_TIMEOUT));
  }
  release = true;
  for (auto& t : holders) t.join();
  EXPECT_TRUE(CloseHandle(h));
}

TEST(Ports, R3_1_AssociatingAnythingButASocketFails) {
  // R3.1 with R9.1: a socket can be associated (tests/win32/test_overlapped.cpp);
  // a pipe, another port, NULL, or a port with no file cannot.
  Port port, other(1);
  auto [a, b] = tcp_pair();
  int pfd[2];
  ASSERT_EQ(::pipe(pfd), 0);
  Fd pr(pfd[0]), pw(pfd[1]);

  const HANDLE pipe = as_handle(static_cast<uintptr_t>(pr.get()));
  struct Case {
    HANDLE file, existing;
    DWORD error;
  } cases[] = {
      {pipe, nullptr, ERROR_NOT_SUPPORTED},  // a non-socket descriptor
      {pipe, port, ERROR_NOT_SUPPORTED},
      {other.get(), port, ERROR_NOT_SUPPORTED},  // a handle is not a file
      {nullptr, nullptr, ERROR_INVALID_HANDLE},
      {nullptr, port, ERROR_INVALID_HANDLE},
      {INVALID_HANDLE_VALUE, port, ERROR_INVALID_PARAMETER},  // "create" with an existing port
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "file=" << c.file << " existing=" << c.existing);
    SetLastError(0);
    HANDLE h = CreateIoCompletionPort(c.file, c.existing, 9, 0);
    EXPECT_EQ(h, nullptr);
    EXPECT_EQ(GetLastError(), c.error);
    if (h && h != port.get()) CloseHandle(h);
  }
  // Nothing was changed: the descriptors are still open, the port still works
  // and the socket is free to be registered.
  EXPECT_TRUE(fd_is_open(a) && fd_is_open(pr));
  ASSERT_TRUE(post(port, 1, 2));
  Got g = dequeue(port, Via::Gqcs, 0);
  EXPECT_TRUE(g.ok);
  EXPECT_EQ(g.key, 2u);
  EXPECT_EQ(dequeue(port, Via::Gqcs, 0).err, static_cast<DWORD>(WAIT_TIMEOUT));
  EXPECT_EQ(enable_in(port, a, 1), static_cast<DWORD>(ERROR_SUCCESS));
}

// ---------------------------------------------------------------------------
// R3.2 Handles are opaque and checked.

// Every function given `h` fails with ERROR_INVALID_HANDLE (WSA_INVALID_HANDLE).
void expect_rejected_everywhere(HANDLE h) {
  DWORD bytes = 0;
  ULONG_PTR k = 0;
  LPOVERLAPPED ov = nullptr;
  OVERLAPPED_ENTRY e[2] = {};
  ULONG removed = 0;
  UINT32 got = 0;
  const DWORD bad = ERROR_INVALID_HANDLE;

  EXPECT_FAILS_WITH(bad, PostQueuedCompletionStatus(h, 1, 2, nullptr));
  EXPECT_FAILS_WITH(bad, GetQueuedCompletionStatus(h, &bytes, &k, &ov, 0));
  EXPECT_FAILS_WITH(bad, GetQueuedCompletionStatusEx(h, e, 2, &removed, 0, FALSE));
  EXPECT_EQ(ProcessSocketNotifications(h, 0, nullptr, 0, 2, e, &got),
            static_cast<DWORD>(WSA_INVALID_HANDLE));
  EXPECT_EQ(ProcessSocketNotifications(h, 0, nullptr, 0, 0, nullptr, nullptr),
            static_cast<DWORD>(WSA_INVALID_HANDLE));
  EXPECT_FAILS_WITH(bad, CloseHandle(h));
  if (h != nullptr) {
    // Not a port to associate a socket with either (R9.1).
    auto [a, b] = tcp_pair();
    SetLastError(0);
    HANDLE made = CreateIoCompletionPort(as_handle(static_cast<uintptr_t>(a.get())), h, 0, 0);
    EXPECT_EQ(made, nullptr);
    EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INVALID_HANDLE));
    if (made) CloseHandle(made);
  }
}

TEST(Ports, R3_2_BadHandlesFailWithInvalidHandleInEveryFunction) {
  Port live(64);
  HANDLE closed = new_port();
  ASSERT_NE(closed, nullptr);
  ASSERT_TRUE(CloseHandle(closed));

  int on_stack = 0;
  auto on_heap = std::make_unique<std::array<unsigned char, 256>>();
  on_heap->fill(0xA5);
  std::vector<HANDLE> bad = {
      nullptr,
      INVALID_HANDLE_VALUE,
      closed,
      as_handle(1),
      as_handle(0x12345678),
      as_handle(~uintptr_t{0} - 1),
      as_handle(uintptr_t{1} << 63),
      &on_stack,
      on_heap.get(),
  };
  // Values one bit away from a live handle.
  for (int bit = 0; bit < 64; ++bit) bad.push_back(as_handle(value_of(live) ^ (uintptr_t{1} << bit)));

  for (HANDLE h : bad) {
    if (h == live.get()) continue;
    SCOPED_TRACE(testing::Message() << "handle " << h);
    expect_rejected_everywhere(h);
  }

  // The live port was neither closed nor fed by any of that.
  Got none = dequeue(live, Via::Gqcs, 0);
  EXPECT_FALSE(none.ok);
  EXPECT_EQ(none.err, static_cast<DWORD>(WAIT_TIMEOUT));
  ASSERT_TRUE(post(live, 3, 4));
  Got g = dequeue(live, Via::Gqcs, 0);
  EXPECT_TRUE(g.ok);
  EXPECT_EQ(g.key, 4u);
}

TEST(Ports, R3_2_BadHandleIsReportedAtOnceWhateverTheTimeout) {
  HANDLE closed = new_port();
  ASSERT_NE(closed, nullptr);
  ASSERT_TRUE(CloseHandle(closed));
  for (Via via : kAllVia) {
    for (DWORD ms : {DWORD{1000}, INFINITE}) {
      SCOPED_TRACE(testing::Message() << via_name(via) << " ms=" << ms);
      Waiter w([closed, via, ms] { return dequeue(closed, via, ms); });
      ASSERT_TRUE(w.wait(2000ms)) << "a dequeue on a closed handle waited";
      Got g = w.result();
      EXPECT_FALSE(g.ok);
      EXPECT_EQ(g.err, static_cast<DWORD>(ERROR_INVALID_HANDLE));
      EXPECT_LT(g.us, 500'000);
    }
  }
}

TEST(Ports, R3_2_PortHandleIsNotADescriptor) {
  const std::set<int> before = open_fds();
  Port port(64);
  const std::set<int> after = open_fds();
  auto [a, b] = tcp_pair();

  // Descriptors the port opened for itself, and a socket, are no handles;
  // CloseHandle must not close them.
  std::vector<int> fds = {a.get()};
  for (int fd : after)
    if (!before.count(fd)) fds.push_back(fd);
  for (int fd : fds) {
    HANDLE h = as_handle(static_cast<uintptr_t>(fd));
    if (h == port.get()) continue;
    SCOPED_TRACE(testing::Message() << "descriptor " << fd);
    expect_rejected_everywhere(h);
    EXPECT_TRUE(fd_is_open(fd));
  }
  // And the port still works.
  ASSERT_TRUE(post(port, 1, 1));
  EXPECT_TRUE(dequeue(port, Via::Gqcs, 0).ok);
}

TEST(Ports, R3_2_HandleValuesAreNotReusedSoonAfterClose) {
  std::set<uintptr_t> seen;
  int reused = 0;
  std::vector<HANDLE> live, early;
  for (int i = 0; i < 8; ++i) {
    live.push_back(new_port());
    ASSERT_NE(live.back(), nullptr);
    seen.insert(value_of(live.back()));
  }
  for (int i = 0; i < 1000; ++i) {
    HANDLE h = new_port(static_cast<DWORD>(i % 3));
    ASSERT_NE(h, nullptr);
    EXPECT_NE(h, INVALID_HANDLE_VALUE);
    if (!seen.insert(value_of(h)).second) ++reused;
    if (i < 16) early.push_back(h);
    ASSERT_TRUE(CloseHandle(h));
  }
  EXPECT_EQ(reused, 0) << "handle values came back within 1000 creations";
  // Handles closed long ago are still recognised as stale.
  for (HANDLE h : early) {
    SCOPED_TRACE(testing::Message() << "stale handle " << h);
    EXPECT_FAILS_WITH(ERROR_INVALID_HANDLE, post(h, 0, 0));
  }
  for (HANDLE h : live) EXPECT_TRUE(CloseHandle(h));
}

TEST(Ports, R3_2_BadHandleInProcessSocketNotificationsRegistersNothing) {
  HANDLE closed = new_port();
  ASSERT_NE(closed, nullptr);
  ASSERT_TRUE(CloseHandle(closed));
  auto [a, b] = tcp_pair();
  SOCK_NOTIFY_REGISTRATION r = reg(a, key(1), SOCK_NOTIFY_REGISTER_EVENT_IN,
                                   SOCK_NOTIFY_OP_ENABLE, SOCK_NOTIFY_TRIGGER_LEVEL);
  EXPECT_EQ(ProcessSocketNotifications(closed, 1, &r, 0, 0, nullptr, nullptr),
            static_cast<DWORD>(WSA_INVALID_HANDLE));
  // The socket is not registered anywhere: a live port takes it.
  Port port(64);
  EXPECT_EQ(enable_in(port, a, 2), static_cast<DWORD>(ERROR_SUCCESS));
}

// ---------------------------------------------------------------------------
// R3.3 First in, first out.

TEST(Ports, R3_3_PostedPacketsLeaveInPostingOrder) {
  for (Via via : kAllVia) {
    SCOPED_TRACE(via_name(via));
    Port port(64);
    constexpr ULONG_PTR kCount = 100;
    for (ULONG_PTR i = 0; i < kCount; ++i) ASSERT_TRUE(post(port, static_cast<DWORD>(i), i));
    std::vector<ULONG_PTR> keys;
    for (int call = 0; call < 200 && keys.size() < kCount; ++call) {
      OVERLAPPED_ENTRY e[7] = {};
      DWORD err = 0;
      // Batches of varying size.
      const ULONG n = dequeue_batch(port, via, e, 1 + static_cast<ULONG>(call % 7), 0, &err);
      ASSERT_GT(n, 0u) << "error " << err;
      for (ULONG i = 0; i < n; ++i) {
        EXPECT_EQ(e[i].dwNumberOfBytesTransferred, e[i].lpCompletionKey);
        keys.push_back(e[i].lpCompletionKey);
      }
    }
    std::vector<ULONG_PTR> want(kCount);
    for (ULONG_PTR i = 0; i < kCount; ++i) want[i] = i;
    EXPECT_EQ(keys, want);
  }
}

TEST(Ports, R3_3_NotificationLeavesAfterPacketsQueuedBeforeIt) {
  // A socket becomes ready after two packets were posted: its notification
  // cannot overtake them.
  for (Via via : kAllVia) {
    for (ULONG batch : {1u, 8u}) {
      SCOPED_TRACE(testing::Message() << via_name(via) << " batch=" << batch);
      Port port(64);
      auto [a, b] = tcp_pair();
      ASSERT_TRUE(post(port, 0, 1));
      ASSERT_TRUE(post(port, 0, 2));
      ASSERT_EQ(send_bytes(a, 1), 1);
      pollfd pfd{b.get(), POLLIN, 0};
      ASSERT_EQ(::poll(&pfd, 1, 2000), 1);
      ASSERT_EQ(enable_in(port, b, 3), static_cast<DWORD>(ERROR_SUCCESS));
      std::vector<ULONG_PTR> keys;
      for (int call = 0; call < 10 && keys.size() < 3; ++call) {
        OVERLAPPED_ENTRY e[8] = {};
        DWORD err = 0;
        const ULONG n = dequeue_batch(port, via, e, batch, kLongWait, &err);
        ASSERT_GT(n, 0u) << "error " << err;
        for (ULONG i = 0; i < n; ++i) keys.push_back(e[i].lpCompletionKey);
      }
      ASSERT_GE(keys.size(), 3u);
      keys.resize(3);
      EXPECT_EQ(keys, (std::vector<ULONG_PTR>{1, 2, 3}));
    }
  }
}

// ---------------------------------------------------------------------------
// R3.4 PostQueuedCompletionStatus.

TEST(Ports, R3_4_PostCarriesExactValues) {
  OVERLAPPED ov1{}, ov2{};
  struct Case {
    DWORD bytes;
    ULONG_PTR key;
    LPOVERLAPPED ov;
  } const cases[] = {
      {0, 0, nullptr},
      {0xFFFFFFFFu, ~ULONG_PTR{0}, &ov1},
      {1, ULONG_PTR{1} << 63, &ov2},
      {12345, 0xDEADBEEFCAFEu, nullptr},
      // The pointer is carried, never followed.
      {0x80000000u, 7, reinterpret_cast<LPOVERLAPPED>(uintptr_t{0x10})},
  };
  for (Via via : kAllVia) {
    SCOPED_TRACE(via_name(via));
    Port port(64);
    for (const Case& c : cases) ASSERT_TRUE(post(port, c.bytes, c.key, c.ov));
    for (const Case& c : cases) {
      Got g = dequeue(port, via, 0);
      ASSERT_TRUE(g.ok) << "error " << g.err;
      EXPECT_EQ(g.count, 1u);
      EXPECT_EQ(g.bytes, c.bytes);
      EXPECT_EQ(g.key, c.key);
      EXPECT_EQ(g.ov, c.ov);
    }
    EXPECT_FALSE(dequeue(port, via, 0).ok);
  }
}

TEST(Ports, R3_4_PostWakesExactlyOneWaiter) {
  Port port(64);
  std::vector<std::unique_ptr<Waiter>> ws;
  for (Via via : kAllVia) ws.push_back(start_waiter(port, via, kLongWait));
  std::this_thread::sleep_for(200ms);  // let all three block
  for (auto& w : ws) ASSERT_FALSE(w->done());

  ASSERT_TRUE(post(port, 1, 101));
  ASSERT_TRUE(eventually([&] {
    return std::any_of(ws.begin(), ws.end(), [](auto& w) { return w->done(); });
  }));
  std::this_thread::sleep_for(300ms);  // time for a wrongly woken second waiter to return
  EXPECT_EQ(std::count_if(ws.begin(), ws.end(), [](auto& w) { return w->done(); }), 1);

  ASSERT_TRUE(post(port, 2, 102));
  ASSERT_TRUE(post(port, 3, 103));
  std::set<ULONG_PTR> keys;
  ASSERT_NO_FATAL_FAILURE(collect_keys(ws, &keys));
  EXPECT_EQ(keys, (std::set<ULONG_PTR>{101, 102, 103}));
}

// ---------------------------------------------------------------------------
// R3.5 GetQueuedCompletionStatus.

TEST(Ports, R3_5_TakesExactlyOnePacket) {
  Port port(64);
  for (ULONG_PTR k = 1; k <= 3; ++k) ASSERT_TRUE(post(port, 0, k));
  Got g = dequeue(port, Via::Gqcs, 0);
  ASSERT_TRUE(g.ok);
  EXPECT_EQ(g.key, 1u);
  // The other two are still there.
  std::vector<ULONG_PTR> rest;
  for (int i = 0; i < 4 && rest.size() < 2; ++i) {
    OVERLAPPED_ENTRY e[8] = {};
    DWORD err = 0;
    const ULONG n = dequeue_batch(port, Via::GqcsEx, e, 8, 0, &err);
    for (ULONG j = 0; j < n; ++j) rest.push_back(e[j].lpCompletionKey);
  }
  EXPECT_EQ(rest, (std::vector<ULONG_PTR>{2, 3}));
  EXPECT_FALSE(dequeue(port, Via::Gqcs, 0).ok);
}

TEST(Ports, R3_5_SocketNotificationGivesMaskKeyAndNullOverlapped) {
  Port port(64);
  auto [a, b] = tcp_pair();
  ASSERT_EQ(send_bytes(a, 3), 3);
  ASSERT_EQ(enable_in(port, b, 0x77), static_cast<DWORD>(ERROR_SUCCESS));
  OVERLAPPED junk{};
  DWORD bytes = 0xFFFF;
  ULONG_PTR k = 0;
  LPOVERLAPPED ov = &junk;
  ASSERT_TRUE(GetQueuedCompletionStatus(port, &bytes, &k, &ov, kLongWait));
  EXPECT_EQ(bytes, kIn);
  EXPECT_EQ(k, 0x77u);
  EXPECT_EQ(ov, nullptr);
}

TEST(Ports, R3_5_TimeoutGivesFalseNullOverlappedAndWaitTimeout) {
  Port port(64);
  for (DWORD ms : {0u, 20u}) {
    SCOPED_TRACE(testing::Message() << "ms=" << ms);
    OVERLAPPED junk{};
    DWORD bytes = 0;
    ULONG_PTR k = 0;
    LPOVERLAPPED ov = &junk;
    SetLastError(0);
    EXPECT_FALSE(GetQueuedCompletionStatus(port, &bytes, &k, &ov, ms));
    EXPECT_EQ(ov, nullptr);
    EXPECT_EQ(GetLastError(), static_cast<DWORD>(WAIT_TIMEOUT));
  }
}

TEST(Ports, R3_5_NullOutPointerIsInvalidParameter) {
  // decisions.md 6. A rejected call takes nothing from the port.
  Port port(64);
  ASSERT_TRUE(post(port, 8, 9));
  DWORD bytes = 0;
  ULONG_PTR k = 0;
  LPOVERLAPPED ov = nullptr;
  EXPECT_FAILS_WITH(ERROR_INVALID_PARAMETER, GetQueuedCompletionStatus(port, nullptr, &k, &ov, 0));
  EXPECT_FAILS_WITH(ERROR_INVALID_PARAMETER,
                    GetQueuedCompletionStatus(port, &bytes, nullptr, &ov, 0));
  EXPECT_FAILS_WITH(ERROR_INVALID_PARAMETER,
                    GetQueuedCompletionStatus(port, &bytes, &k, nullptr, 0));
  Got g = dequeue(port, Via::Gqcs, 0);
  EXPECT_TRUE(g.ok);
  EXPECT_EQ(g.key, 9u);
}

// ---------------------------------------------------------------------------
// R3.6 GetQueuedCompletionStatusEx.

TEST(Ports, R3_6_TakesBetweenOneAndCountPacketsInOrder) {
  Port port(64);
  constexpr ULONG kCount = 4;
  for (ULONG_PTR k = 1; k <= 10; ++k) ASSERT_TRUE(post(port, static_cast<DWORD>(k), k));
  std::vector<ULONG_PTR> keys;
  for (int call = 0; call < 20 && keys.size() < 10; ++call) {
    // Two guard entries after the `count` the call is given.
    std::array<OVERLAPPED_ENTRY, kCount + 2> e;
    for (auto& x : e) {
      x.lpCompletionKey = 0xABAB;
      x.lpOverlapped = nullptr;
      x.Internal = 0xABAB;
      x.dwNumberOfBytesTransferred = 0xABAB;
    }
    ULONG removed = 77;
    ASSERT_TRUE(GetQueuedCompletionStatusEx(port, e.data(), kCount, &removed, 0, FALSE));
    EXPECT_GE(removed, 1u);
    EXPECT_LE(removed, kCount);
    for (ULONG i = 0; i < removed && i < kCount; ++i) {
      EXPECT_EQ(e[i].dwNumberOfBytesTransferred, e[i].lpCompletionKey);
      keys.push_back(e[i].lpCompletionKey);
    }
    for (size_t i = kCount; i < e.size(); ++i) {
      EXPECT_EQ(e[i].lpCompletionKey, 0xABABu) << "wrote past count";
      EXPECT_EQ(e[i].dwNumberOfBytesTransferred, 0xABABu) << "wrote past count";
    }
  }
  EXPECT_EQ(keys, (std::vector<ULONG_PTR>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
}

TEST(Ports, R3_6_SocketNotificationEntryFields) {
  // decisions.md 5: key, NULL overlapped, Internal 0, the mask as bytes.
  for (Via via : {Via::GqcsEx, Via::Psn}) {
    SCOPED_TRACE(via_name(via));
    Port port(64);
    auto [a, b] = tcp_pair();
    ASSERT_EQ(send_bytes(a, 1), 1);
    ASSERT_EQ(enable_in(port, b, 0x99), static_cast<DWORD>(ERROR_SUCCESS));
    OVERLAPPED junk{};
    OVERLAPPED_ENTRY e[1];
    e[0].lpCompletionKey = 1;
    e[0].lpOverlapped = &junk;
    e[0].Internal = 0x5555;
    e[0].dwNumberOfBytesTransferred = 0x5555;
    DWORD err = 0;
    ASSERT_EQ(dequeue_batch(port, via, e, 1, kLongWait, &err), 1u) << "error " << err;
    EXPECT_EQ(e[0].lpCompletionKey, 0x99u);
    EXPECT_EQ(e[0].lpOverlapped, nullptr);
    EXPECT_EQ(e[0].Internal, 0u);
    EXPECT_EQ(e[0].dwNumberOfBytesTransferred, kIn);
    EXPECT_EQ(SocketNotificationRetrieveEvents(&e[0]), kIn);
  }
}

TEST(Ports, R3_6_TimeoutGivesFalseZeroRemovedAndWaitTimeout) {
  Port port(64);
  for (DWORD ms : {0u, 30u}) {
    SCOPED_TRACE(testing::Message() << "ms=" << ms);
    OVERLAPPED_ENTRY e[4] = {};
    ULONG removed = 99;
    SetLastError(0);
    EXPECT_FALSE(GetQueuedCompletionStatusEx(port, e, 4, &removed, ms, FALSE));
    EXPECT_EQ(removed, 0u);
    EXPECT_EQ(GetLastError(), static_cast<DWORD>(WAIT_TIMEOUT));
  }
}

TEST(Ports, R3_6_ZeroCountOrNullPointerIsInvalidParameter) {
  // count 0 (R3.6); entries or removed NULL (decisions.md 6). Checked before
  // any wait, and nothing is taken.
  Port port(64);
  OVERLAPPED_ENTRY e[2] = {};
  ULONG removed = 0;
  const auto t0 = Clock::now();
  EXPECT_FAILS_WITH(ERROR_INVALID_PARAMETER,
                    GetQueuedCompletionStatusEx(port, e, 0, &removed, 1000, FALSE));
  EXPECT_LT(ms_since(t0), 500) << "count 0 waited";

  ASSERT_TRUE(post(port, 1, 42));
  EXPECT_FAILS_WITH(ERROR_INVALID_PARAMETER,
                    GetQueuedCompletionStatusEx(port, e, 0, &removed, 0, FALSE));
  EXPECT_FAILS_WITH(ERROR_INVALID_PARAMETER,
                    GetQueuedCompletionStatusEx(port, nullptr, 2, &removed, 0, FALSE));
  EXPECT_FAILS_WITH(ERROR_INVALID_PARAMETER,
                    GetQueuedCompletionStatusEx(port, e, 2, nullptr, 0, FALSE));

  Got g = dequeue(port, Via::GqcsEx, 0);
  EXPECT_TRUE(g.ok);
  EXPECT_EQ(g.key, 42u);
}

TEST(Ports, R3_6_AlertableBehavesAsNotAlertable) {
  Port port(64);
  OVERLAPPED_ENTRY e[2] = {};
  ULONG removed = 9;
  const auto t0 = Clock::now();
  SetLastError(0);
  EXPECT_FALSE(GetQueuedCompletionStatusEx(port, e, 2, &removed, 100, TRUE));
  EXPECT_GE(us_since(t0), 100'000);
  EXPECT_EQ(removed, 0u);
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(WAIT_TIMEOUT));

  ASSERT_TRUE(post(port, 4, 5));
  EXPECT_TRUE(GetQueuedCompletionStatusEx(port, e, 2, &removed, kLongWait, TRUE));
  EXPECT_EQ(removed, 1u);
  EXPECT_EQ(e[0].lpCompletionKey, 5u);
  EXPECT_EQ(e[0].dwNumberOfBytesTransferred, 4u);
}

// ---------------------------------------------------------------------------
// R3.7 Time-outs.

TEST(Ports, R3_7_ZeroTimeoutNeverBlocks) {
  Port port(64);
  for (Via via : kAllVia) {
    SCOPED_TRACE(via_name(via));
    Waiter w([h = port.get(), via] { return dequeue(h, via, 0); });
    if (!w.wait(2000ms)) {
      post(port, 0, 0);  // unblock it
      FAIL() << "a time-out of 0 blocked";
    }
    Got g = w.result();
    EXPECT_FALSE(g.ok);
    EXPECT_EQ(g.err, static_cast<DWORD>(WAIT_TIMEOUT));
    EXPECT_LT(g.us, 1'000'000);
  }
  // A registration-only call with time-out 0 returns at once too.
  auto [a, b] = tcp_pair();
  SOCK_NOTIFY_REGISTRATION r = reg(a, key(1), SOCK_NOTIFY_REGISTER_EVENT_IN,
                                   SOCK_NOTIFY_OP_ENABLE, SOCK_NOTIFY_TRIGGER_LEVEL);
  const auto t0 = Clock::now();
  EXPECT_EQ(ProcessSocketNotifications(port, 1, &r, 0, 0, nullptr, nullptr),
            static_cast<DWORD>(ERROR_SUCCESS));
  EXPECT_LT(ms_since(t0), 1000);
}

TEST(Ports, R3_7_FiniteTimeoutWaitsTheFullTimeAndNotMuchLonger) {
  Port port(64);
  for (Via via : kAllVia) {
    for (DWORD ms : {1u, 200u}) {
      SCOPED_TRACE(testing::Message() << via_name(via) << " ms=" << ms);
      Got g = dequeue(port, via, ms);
      EXPECT_FALSE(g.ok);
      EXPECT_EQ(g.err, static_cast<DWORD>(WAIT_TIMEOUT));
      EXPECT_GE(g.us, static_cast<long long>(ms) * 1000) << "returned early";
      EXPECT_LT(g.us, static_cast<long long>(ms) * 1000 + 1'800'000) << "returned very late";
    }
  }
}

TEST(Ports, R3_7_InfiniteNeverTimesOut) {
  Port port(64);
  std::vector<std::unique_ptr<Waiter>> ws;
  for (Via via : kAllVia) ws.push_back(start_waiter(port, via, INFINITE));
  std::this_thread::sleep_for(400ms);
  for (auto& w : ws) EXPECT_FALSE(w->done()) << "an INFINITE wait ended with nothing posted";
  for (ULONG_PTR k = 1; k <= ws.size(); ++k) ASSERT_TRUE(post(port, 0, k));
  for (auto& w : ws) {
    ASSERT_TRUE(w->wait(3000ms));
    Got g = w->result();
    EXPECT_TRUE(g.ok) << "error " << g.err;
    EXPECT_GE(g.us, 300'000);  // it waited until the post (the thread began a little late)
  }
}

std::atomic<int> g_sigusr1_count{0};
void on_sigusr1(int) { g_sigusr1_count.fetch_add(1, std::memory_order_relaxed); }

// Installs a SIGUSR1 handler without SA_RESTART for the scope.
class ScopedSigusr1 {
 public:
  ScopedSigusr1() {
    struct sigaction sa {};
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: interrupted system calls fail with EINTR
    ::sigaction(SIGUSR1, &sa, &old_);
  }
  ~ScopedSigusr1() { ::sigaction(SIGUSR1, &old_, nullptr); }
  ScopedSigusr1(const ScopedSigusr1&) = delete;
  ScopedSigusr1& operator=(const ScopedSigusr1&) = delete;

 private:
  struct sigaction old_ {};
};

// Runs one dequeue on another thread and sends it SIGUSR1 every few
// milliseconds until it returns; posts a packet after `post_after_ms` (if >= 0).
// A call still blocked 3 s after the signals stop is reported as err ~0.
Got dequeue_under_signals(HANDLE port, Via via, DWORD ms, int post_after_ms) {
  Waiter w([port, via, ms] { return dequeue(port, via, ms); });
  const auto t0 = Clock::now();
  bool posted = false;
  while (!w.done() && ms_since(t0) < 4000) {
    ::pthread_kill(w.native_handle(), SIGUSR1);
    if (post_after_ms >= 0 && !posted && ms_since(t0) >= post_after_ms) {
      posted = post(port, 7, 0x5151);
    }
    std::this_thread::sleep_for(3ms);
  }
  if (w.wait(3000ms)) return w.result();
  Got hung;
  hung.err = ~DWORD{0};
  return hung;
}

TEST(Ports, R3_7_SignalsNeitherSurfaceNorShortenTheWait) {
  ScopedSigusr1 handler;
  Port port(64);
  for (Via via : kAllVia) {
    SCOPED_TRACE(via_name(via));
    // A 300 ms wait under a hail of signals still lasts 300 ms (no less, and
    // not restarted by each signal) and ends in an ordinary time-out.
    const int before = g_sigusr1_count.load();
    Got timed = dequeue_under_signals(port, via, 300, -1);
    EXPECT_FALSE(timed.ok);
    EXPECT_EQ(timed.err, static_cast<DWORD>(WAIT_TIMEOUT));
    EXPECT_GE(timed.us, 300'000);
    EXPECT_LT(timed.us, 2'000'000);
    EXPECT_GE(g_sigusr1_count.load() - before, 3) << "the signals did not arrive";

    // A packet posted while signals keep arriving is received normally.
    Got later = dequeue_under_signals(port, via, kLongWait, 150);
    EXPECT_TRUE(later.ok) << "error " << later.err;
    EXPECT_EQ(later.bytes, 7u);
    EXPECT_EQ(later.key, 0x5151u);
    EXPECT_LT(later.us, 2'000'000);
  }
}

// ---------------------------------------------------------------------------
// R3.8 Many waiters; last in, first out; the concurrency limit.

TEST(Ports, R3_8_ManyThreadsMayWaitOnOnePort) {
  Port port(64);
  constexpr int kThreads = 32;
  std::vector<std::unique_ptr<Waiter>> ws;
  for (int i = 0; i < kThreads; ++i) ws.push_back(start_waiter(port, kAllVia[i % 3], kLongWait));
  std::this_thread::sleep_for(200ms);
  for (ULONG_PTR k = 1; k <= kThreads; ++k) ASSERT_TRUE(post(port, 0, k));
  std::set<ULONG_PTR> keys;
  ASSERT_NO_FATAL_FAILURE(collect_keys(ws, &keys));
  EXPECT_EQ(keys.size(), static_cast<size_t>(kThreads));
}

// Starts one waiter per entry of `vias`, giving each time to block before the
// next starts, then posts packets one at a time (each only after the previous
// one was taken). Returns the waiters' indices in the order they were released.
std::vector<int> release_order(HANDLE port, const std::vector<Via>& vias) {
  std::mutex m;
  std::condition_variable cv;
  std::vector<int> order;
  std::vector<std::thread> ts;
  for (size_t i = 0; i < vias.size(); ++i) {
    ts.emplace_back([&, i] {
      Got g = dequeue(port, vias[i], kLongWait);
      std::lock_guard lk(m);
      order.push_back(g.ok ? static_cast<int>(i) : -1);
      cv.notify_all();
    });
    std::this_thread::sleep_for(150ms);
  }
  for (size_t k = 0; k < vias.size(); ++k) {
    post(port, 0, k);
    std::unique_lock lk(m);
    if (!cv.wait_for(lk, 3s, [&] { return order.size() > k; })) break;
  }
  for (auto& t : ts) t.join();
  return order;
}

TEST(Ports, R3_8_WaitersAreReleasedLastInFirstOut) {
  for (Via via : kAllVia) {
    SCOPED_TRACE(via_name(via));
    Port port(64);
    EXPECT_EQ(release_order(port, {via, via, via, via}), (std::vector<int>{3, 2, 1, 0}));
  }
}

TEST(Ports, R3_8_LastInFirstOutAcrossDequeueFunctions) {
  Port port(64);
  EXPECT_EQ(release_order(port, {Via::Gqcs, Via::Psn, Via::GqcsEx, Via::Gqcs, Via::Psn}),
            (std::vector<int>{4, 3, 2, 1, 0}));
}

// Runs threads that dequeue packets and hold each for a few milliseconds;
// returns the most threads ever seen running at once.
int max_running(DWORD n, int threads, int packets) {
  Port port(n);
  std::atomic<int> running{0}, max_seen{0}, received{0}, errors{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, via = kAllVia[t % 3]] {
      for (;;) {
        // This thread counts as running from the moment the call returns a
        // packet until its next call, so the count seen here never exceeds
        // the library's own.
        Got g = dequeue(port, via, 50);
        if (!g.ok) {
          if (g.err != WAIT_TIMEOUT) ++errors;
          if (stop.load()) return;
          continue;
        }
        const int now = ++running;
        atomic_max(max_seen, now);
        std::this_thread::sleep_for(4ms);
        --running;
        ++received;
      }
    });
  }
  for (int i = 0; i < packets; ++i) post(port, 0, static_cast<ULONG_PTR>(i));
  EXPECT_TRUE(eventually([&] { return received.load() == packets; }, 10s));
  stop = true;
  for (auto& t : ts) t.join();
  EXPECT_EQ(received.load(), packets);
  EXPECT_EQ(errors.load(), 0);
  return max_seen.load();
}

TEST(Ports, R3_8_NeverMoreThanNThreadsRun) {
  for (DWORD n : {1u, 2u}) {
    SCOPED_TRACE(testing::Message() << "n=" << n);
    const int seen = max_running(n, static_cast<int>(n) + 4, 80);
    EXPECT_LE(seen, static_cast<int>(n));
    EXPECT_EQ(seen, static_cast<int>(n)) << "the port never used its full concurrency";
  }
}

TEST(Ports, R3_8_ZeroTimeoutAtTheLimitTimesOutWithPacketsQueued) {
  Port port(1);
  ASSERT_TRUE(post(port, 0, 1));
  ASSERT_TRUE(post(port, 0, 2));
  ASSERT_TRUE(dequeue(port, Via::Gqcs, 0).ok);  // this thread now runs: the limit is reached
  for (Via via : kAllVia) {
    SCOPED_TRACE(via_name(via));
    Got other;
    std::thread([&] { other = dequeue(port, via, 0); }).join();
    EXPECT_FALSE(other.ok);
    EXPECT_EQ(other.err, static_cast<DWORD>(WAIT_TIMEOUT));
    EXPECT_LT(other.us, 1'000'000);
  }
  // A finite wait at the limit runs out too.
  Got other;
  std::thread([&] { other = dequeue(port, Via::Gqcs, 150); }).join();
  EXPECT_FALSE(other.ok);
  EXPECT_EQ(other.err, static_cast<DWORD>(WAIT_TIMEOUT));
  // The running thread itself may go on: its own call ends its running.
  Got mine = dequeue(port, Via::Gqcs, 0);
  EXPECT_TRUE(mine.ok);
  EXPECT_EQ(mine.key, 2u);
}

TEST(Ports, R3_8_RunningThreadReenteringADequeueLetsAnotherGo) {
  for (Via via : kAllVia) {
    SCOPED_TRACE(via_name(via));
    Port port(1);
    ASSERT_TRUE(post(port, 0, 1));
    ASSERT_TRUE(dequeue(port, Via::Gqcs, 0).ok);  // this thread runs
    Waiter other([h = port.get()] { return dequeue(h, Via::Gqcs, kLongWait); });
    std::this_thread::sleep_for(150ms);
    ASSERT_TRUE(post(port, 0, 2));
    std::this_thread::sleep_for(200ms);
    EXPECT_FALSE(other.done()) << "a second thread ran while the limit of 1 was taken";

    // This thread calls again. Either it takes packet 2 itself (as Windows
    // does), or the waiting thread gets it.
    ULONG_PTR want = 2;
    Got again = dequeue(port, via, 0);
    if (again.ok) {
      EXPECT_EQ(again.key, 2u);
      Got empty = dequeue(port, via, 0);  // ends this thread's running; nothing left
      EXPECT_FALSE(empty.ok);
      ASSERT_TRUE(post(port, 0, 3));
      want = 3;
    }
    ASSERT_TRUE(other.wait(3000ms)) << "the waiting thread was not let go";
    Got g = other.result();
    EXPECT_TRUE(g.ok);
    EXPECT_EQ(g.key, want);
  }
}

TEST(Ports, R3_8_RegistrationOnlyCallDoesNotEndRunning) {
  // decisions.md 13: ProcessSocketNotifications with completionCount 0 is
  // not a dequeuing call.
  Port port(1);
  auto [a, b] = tcp_pair();
  ASSERT_TRUE(post(port, 0, 1));
  ASSERT_TRUE(post(port, 0, 2));
  ASSERT_TRUE(dequeue(port, Via::Psn, 0).ok);  // this thread runs
  SOCK_NOTIFY_REGISTRATION r[2] = {
      reg(a, key(5), 0, SOCK_NOTIFY_OP_NONE, 0),
      reg(a, key(5), SOCK_NOTIFY_REGISTER_EVENT_IN, SOCK_NOTIFY_OP_ENABLE,
          SOCK_NOTIFY_TRIGGER_LEVEL),
  };
  ASSERT_EQ(ProcessSocketNotifications(port, 2, r, 0, 0, nullptr, nullptr),
            static_cast<DWORD>(ERROR_SUCCESS));
  Got other;
  std::thread([&] { other = dequeue(port, Via::Gqcs, 0); }).join();
  EXPECT_FALSE(other.ok) << "a registration-only call ended this thread's running";
  EXPECT_EQ(other.err, static_cast<DWORD>(WAIT_TIMEOUT));
  Got mine = dequeue(port, Via::Psn, 0);
  EXPECT_TRUE(mine.ok);
  EXPECT_EQ(mine.key, 2u);
}

TEST(Ports, R3_8_ThreadThatExitsOrDequeuesElsewhereStopsCounting) {
  // decisions.md 13.
  {
    SCOPED_TRACE("dequeues from another port");
    Port port(1), elsewhere(1);
    ASSERT_TRUE(post(port, 0, 1));
    ASSERT_TRUE(post(port, 0, 2));
    std::atomic<bool> moved{false}, release{false};
    std::thread t([&] {
      dequeue(port, Via::Gqcs, 0);
      dequeue(elsewhere, Via::Gqcs, 0);
      moved = true;
      eventually([&] { return release.load(); }, 10s);
    });
    ASSERT_TRUE(eventually([&] { return moved.load(); }));
    Got g = dequeue(port, Via::Gqcs, 0);
    EXPECT_TRUE(g.ok);
    EXPECT_EQ(g.key, 2u);
    release = true;
    t.join();
  }
  {
    SCOPED_TRACE("exits");
    Port port(1);
    ASSERT_TRUE(post(port, 0, 1));
    ASSERT_TRUE(post(port, 0, 2));
    Got first;
    std::thread([&] { first = dequeue(port, Via::Gqcs, 0); }).join();
    EXPECT_TRUE(first.ok);
    Got g = dequeue(port, Via::Gqcs, 0);
    EXPECT_TRUE(g.ok);
    EXPECT_EQ(g.key, 2u);
  }
}

// ---------------------------------------------------------------------------
// R3.9 Closing a port.

TEST(Ports, R3_9_CloseReleasesEveryWaiterAtOnce) {
  HANDLE h = new_port(64);
  ASSERT_NE(h, nullptr);
  auto [a, b] = tcp_pair();
  std::vector<std::unique_ptr<Waiter>> ws;
  for (Via via : kAllVia) {
    ws.push_back(start_waiter(h, via, INFINITE));
    ws.push_back(start_waiter(h, via, kLongWait));
  }
  // A batch wait, and a ProcessSocketNotifications that registers and waits.
  ws.push_back(std::make_unique<Waiter>([h] {
    OVERLAPPED_ENTRY e[8];
    Got g;
    g.ok = dequeue_batch(h, Via::GqcsEx, e, 8, INFINITE, &g.err) > 0;
    return g;
  }));
  ws.push_back(std::make_unique<Waiter>([h, s = b.get()] {
    SOCK_NOTIFY_REGISTRATION r = reg(s, key(5), SOCK_NOTIFY_REGISTER_EVENT_IN,
                                     SOCK_NOTIFY_OP_ENABLE, SOCK_NOTIFY_TRIGGER_LEVEL);
    OVERLAPPED_ENTRY e[4];
    UINT32 n = 0;
    Got g;
    g.err = ProcessSocketNotifications(h, 1, &r, INFINITE, 4, e, &n);
    g.ok = g.err == ERROR_SUCCESS;
    return g;
  }));
  std::this_thread::sleep_for(250ms);
  for (auto& w : ws) ASSERT_FALSE(w->done());

  const auto t0 = Clock::now();
  ASSERT_TRUE(CloseHandle(h));
  for (auto& w : ws) {
    ASSERT_TRUE(w->wait(2000ms)) << "a waiter stayed blocked on a closed port";
    Got g = w->result();
    EXPECT_FALSE(g.ok);
    EXPECT_EQ(g.err, static_cast<DWORD>(ERROR_ABANDONED_WAIT_0));
  }
  EXPECT_LT(ms_since(t0), 1000);

  // The registration made by the waiting call went with the port.
  Port next(64);
  EXPECT_EQ(enable_in(next, b, 6), static_cast<DWORD>(ERROR_SUCCESS));
}

TEST(Ports, R3_9_CloseDiscardsQueuedPackets) {
  HANDLE h = new_port(64);
  ASSERT_NE(h, nullptr);
  for (ULONG_PTR k = 1; k <= 3; ++k) ASSERT_TRUE(post(h, 0, k));
  auto [a, b] = tcp_pair();
  ASSERT_EQ(send_bytes(a, 1), 1);
  ASSERT_EQ(enable_in(h, b, 4), static_cast<DWORD>(ERROR_SUCCESS));
  ASSERT_TRUE(CloseHandle(h));

  // Nothing comes out of the old handle...
  for (Via via : kAllVia) {
    SCOPED_TRACE(via_name(via));
    Got g = dequeue(h, via, 0);
    EXPECT_FALSE(g.ok);
    EXPECT_EQ(g.err, static_cast<DWORD>(ERROR_INVALID_HANDLE));
  }
  // ...nor turns up in a new port, which only ever sees the new registration.
  Port next(64);
  Got none = dequeue(next, Via::Gqcs, 0);
  EXPECT_FALSE(none.ok);
  ASSERT_EQ(enable_in(next, b, 5), static_cast<DWORD>(ERROR_SUCCESS));
  for (int i = 0; i < 5; ++i) {
    Got g = dequeue(next, Via::Gqcs, kLongWait);
    ASSERT_TRUE(g.ok);
    EXPECT_EQ(g.key, 5u);
    EXPECT_EQ(g.bytes, kIn);
  }
}

TEST(Ports, R3_9_SocketsOfAClosedPortCanBeRegisteredElsewhere) {
  for (const SocketKind& kind : kSocketKinds) {
    SCOPED_TRACE(kind.name);
    auto [a, b] = kind.make();
    HANDLE h = new_port(64);
    ASSERT_NE(h, nullptr);
    ASSERT_EQ(enable_in(h, a, 1), static_cast<DWORD>(ERROR_SUCCESS));
    ASSERT_EQ(apply(h, reg(b, key(2), SOCK_NOTIFY_REGISTER_EVENTS_ALL, SOCK_NOTIFY_OP_ENABLE,
                           SOCK_NOTIFY_TRIGGER_EDGE | SOCK_NOTIFY_TRIGGER_ONESHOT)),
              static_cast<DWORD>(ERROR_SUCCESS));
    ASSERT_TRUE(CloseHandle(h));

    Port next(64);
    EXPECT_EQ(enable_in(next, a, 3), static_cast<DWORD>(ERROR_SUCCESS));
    EXPECT_EQ(enable_in(next, b, 4), static_cast<DWORD>(ERROR_SUCCESS));
    ASSERT_EQ(send_bytes(b, 1), 1);
    Got g = dequeue(next, Via::Gqcs, kLongWait);
    ASSERT_TRUE(g.ok);
    EXPECT_EQ(g.key, 3u);
    EXPECT_EQ(g.bytes, kIn);
  }
}

TEST(Ports, R3_9_SecondCloseFails) {
  HANDLE h = new_port();
  ASSERT_NE(h, nullptr);
  EXPECT_TRUE(CloseHandle(h));
  for (int i = 0; i < 2; ++i) {
    EXPECT_FAILS_WITH(ERROR_INVALID_HANDLE, CloseHandle(h));
  }
}

TEST(Ports, R3_9_CloseReleasesThePortsDescriptors) {
  // Warm up first: the library may open process-wide descriptors once.
  HANDLE warm = new_port();
  ASSERT_NE(warm, nullptr);
  ASSERT_TRUE(CloseHandle(warm));
  const size_t before = open_fds().size();
  auto [a, b] = tcp_pair();
  for (int i = 0; i < 100; ++i) {
    HANDLE h = new_port();
    ASSERT_NE(h, nullptr);
    ASSERT_TRUE(post(h, 0, 0));
    ASSERT_EQ(enable_in(h, a, 1), static_cast<DWORD>(ERROR_SUCCESS));
    ASSERT_TRUE(CloseHandle(h));
  }
  EXPECT_EQ(open_fds().size(), before + 2) << "closed ports left descriptors open";
}

// ---------------------------------------------------------------------------
// R3.10 Any thread, any time.

struct Traffic {
  int posters, consumers, each;
};

// Posters post (key = poster + 1, bytes = sequence number) while consumers
// take with all three functions. Every packet must arrive exactly once, and
// each consumer must see each poster's packets in increasing order.
void run_traffic(const Traffic& t) {
  Port port(0);
  std::atomic<int> total{0}, errors{0};
  std::atomic<bool> stop{false};
  std::vector<std::vector<std::vector<DWORD>>> seen(
      static_cast<size_t>(t.consumers), std::vector<std::vector<DWORD>>(static_cast<size_t>(t.posters)));
  std::vector<std::thread> consumers, posters;
  for (int c = 0; c < t.consumers; ++c) {
    consumers.emplace_back([&, c] {
      const Via via = kAllVia[c % 3];
      auto& mine = seen[static_cast<size_t>(c)];
      OVERLAPPED_ENTRY e[16];
      for (;;) {
        DWORD err = 0;
        const ULONG n = dequeue_batch(port, via, e, 16, 50, &err);
        if (n == 0) {
          if (err != WAIT_TIMEOUT) ++errors;
          if (stop.load()) return;
          continue;
        }
        for (ULONG i = 0; i < n; ++i) {
          const ULONG_PTR p = e[i].lpCompletionKey - 1;
          if (p >= static_cast<ULONG_PTR>(t.posters)) {
            ++errors;
            continue;
          }
          mine[p].push_back(e[i].dwNumberOfBytesTransferred);
        }
        total += static_cast<int>(n);
      }
    });
  }
  for (int p = 0; p < t.posters; ++p) {
    posters.emplace_back([&, p] {
      for (int s = 0; s < t.each; ++s)
        if (!post(port, static_cast<DWORD>(s), static_cast<ULONG_PTR>(p) + 1)) ++errors;
    });
  }
  for (auto& th : posters) th.join();
  const int want = t.posters * t.each;
  EXPECT_TRUE(eventually([&] { return total.load() >= want; }, 20s));
  std::this_thread::sleep_for(100ms);  // anything extra would show up now
  stop = true;
  for (auto& th : consumers) th.join();

  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(total.load(), want);
  for (int p = 0; p < t.posters; ++p) {
    std::vector<int> count(static_cast<size_t>(t.each), 0);
    for (int c = 0; c < t.consumers; ++c) {
      const auto& got = seen[static_cast<size_t>(c)][static_cast<size_t>(p)];
      EXPECT_TRUE(std::is_sorted(got.begin(), got.end()))
          << "consumer " << c << " saw poster " << p << " out of order";
      for (DWORD s : got)
        if (s < static_cast<DWORD>(t.each)) ++count[s];
    }
    EXPECT_TRUE(std::all_of(count.begin(), count.end(), [](int n) { return n == 1; }))
        << "poster " << p << ": some packet lost or duplicated";
  }
}

TEST(Ports, R3_10_ManyPostersManyConsumersEachPacketOnce) {
  run_traffic({4, 4, 2000});
}

TEST(Ports, R3_10_ManyPostersOneConsumerKeepsEachPostersOrder) {
  run_traffic({4, 1, 2000});
}

TEST(Ports, R3_10_ConcurrentCreateAndClose) {
  constexpr int kThreads = 4, kEach = 250;
  std::vector<std::vector<uintptr_t>> values(kThreads);
  std::atomic<int> errors{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        HANDLE h = new_port(static_cast<DWORD>(i % 3));
        if (!h) {
          ++errors;
          continue;
        }
        values[static_cast<size_t>(t)].push_back(value_of(h));
        const ULONG_PTR k = (static_cast<ULONG_PTR>(t) << 16) | static_cast<ULONG_PTR>(i);
        if (!post(h, 0, k)) ++errors;
        Got g = dequeue(h, Via::Gqcs, 0);
        if (!g.ok || g.key != k) ++errors;
        if (!CloseHandle(h)) ++errors;
      }
    });
  }
  for (auto& th : ts) th.join();
  EXPECT_EQ(errors.load(), 0);
  std::set<uintptr_t> all;
  for (auto& v : values) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kEach)) << "a handle value was reused";
}

TEST(Ports, R3_10_CloseRacingWithPostsAndWaits) {
  HANDLE h = new_port(0);
  ASSERT_NE(h, nullptr);
  std::atomic<bool> closed{false}, stop{false};
  std::atomic<int> bad{0}, posted{0};
  std::vector<std::thread> ts;
  for (int p = 0; p < 2; ++p) {
    ts.emplace_back([&] {
      while (!stop.load()) {
        const bool after_close = closed.load();
        SetLastError(0);
        if (post(h, 0, 1)) {
          ++posted;
          if (after_close) ++bad;  // a closed handle accepted a packet
        } else if (GetLastError() != ERROR_INVALID_HANDLE) {
          ++bad;
        }
      }
    });
  }
  for (Via via : kAllVia) {
    ts.emplace_back([&, via] {
      while (!stop.load()) {
        const bool after_close = closed.load();
        Got g = dequeue(h, via, 20);
        if (g.ok) {
          if (after_close) ++bad;
        } else if (after_close ? g.err != ERROR_INVALID_HANDLE
                               : (g.err != WAIT_TIMEOUT && g.err != ERROR_ABANDONED_WAIT_0 &&
                                  g.err != ERROR_INVALID_HANDLE)) {
          ++bad;
        }
      }
    });
  }
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(CloseHandle(h));
  closed = true;
  std::this_thread::sleep_for(100ms);
  stop = true;
  for (auto& t : ts) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(posted.load(), 0);
}

TEST(Ports, R3_10_ConcurrentRegistrationsOnOnePort) {
  constexpr int kThreads = 4, kEach = 8;
  Port port(64);
  std::vector<std::pair<Fd, Fd>> pairs;
  for (int i = 0; i < kThreads * kEach; ++i) pairs.push_back(i % 2 ? unix_pair() : tcp_pair());
  std::atomic<int> failures{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const int idx = t * kEach + i;
        const DWORD r = apply(port, reg(pairs[static_cast<size_t>(idx)].first,
                                        key(static_cast<uintptr_t>(idx) + 1),
                                        SOCK_NOTIFY_REGISTER_EVENT_IN, SOCK_NOTIFY_OP_ENABLE,
                                        SOCK_NOTIFY_TRIGGER_EDGE));
        if (r != ERROR_SUCCESS) ++failures;
        post(port, 0, 0x10000);  // posts interleaved with the registrations
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(failures.load(), 0);
  for (auto& pr : pairs) ASSERT_EQ(send_bytes(pr.second, 1), 1);

  std::set<ULONG_PTR> keys;
  int posts = 0;
  const auto t0 = Clock::now();
  while ((keys.size() < pairs.size() || posts < kThreads * kEach) && ms_since(t0) < 3000) {
    OVERLAPPED_ENTRY e[16];
    const UINT32 n = take(port, e, 16, 100);
    for (UINT32 i = 0; i < n; ++i) {
      if (e[i].lpCompletionKey == 0x10000) {
        ++posts;
        continue;
      }
      EXPECT_GE(e[i].lpCompletionKey, 1u);
      EXPECT_LE(e[i].lpCompletionKey, pairs.size());
      EXPECT_EQ(e[i].dwNumberOfBytesTransferred, kIn);
      keys.insert(e[i].lpCompletionKey);
    }
  }
  EXPECT_EQ(keys.size(), pairs.size());
  EXPECT_EQ(posts, kThreads * kEach);
}

}  // namespace
