// Allocation-failure injection (R4.3, docs/reference.md: ERROR_NOT_ENOUGH_MEMORY).
//
// This binary replaces the global operator new / new[] (throwing, nothrow and
// aligned forms) with versions that, while the calling thread is "armed",
// fail the Nth allocation (std::bad_alloc, or nullptr for the nothrow forms)
// -- or, in the persistent mode, the Nth and every later one. Each test
// sweeps N from 0 upward over one call and checks that the call either
// succeeded fully or failed with ERROR_NOT_ENOUGH_MEMORY (WSA_NOT_ENOUGH_MEMORY
// from ProcessSocketNotifications) having changed nothing: no registration,
// no packet queued or taken, no registrationResult written, no descriptor
// left open. The sweep ends when the call succeeds without reaching its Nth
// allocation. Run under ASan/LSan, which also finds leaks on the failure
// paths.
//
// The FreshProcess tests run each scenario as the very first psn call of a
// new process (this binary re-executed with --fresh-child), where psn's
// process-wide tables do not exist yet and are allocated on first use.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <set>
#include <string>
#include <vector>

#include "fault_support.hpp"
#include "psn/psn.h"

// ---- injection ---------------------------------------------------------------

namespace inject {

thread_local bool armed = false;
thread_local long fail_at = -1;        // 0-based index of the allocation to fail
thread_local bool persistent = false;  // fail every allocation from fail_at on
thread_local long seen = 0;            // allocations while armed
thread_local long injected = 0;        // failures injected while armed

inline bool fail_now() noexcept {
  if (!armed) return false;
  const long i = seen++;
  if (fail_at >= 0 && (i == fail_at || (persistent && i > fail_at))) {
    ++injected;
    return true;
  }
  return false;
}

// Arms injection on this thread. Nothing that allocates on its own account
// (gtest assertions) may run while armed: call disarm() first.
class scope {
 public:
  scope(long n, bool persist) {
    seen = 0;
    injected = 0;
    fail_at = n;
    persistent = persist;
    armed = true;
  }
  ~scope() { armed = false; }
  void disarm() { armed = false; }
  long failures() const { return injected; }
  long allocations() const { return seen; }
};

}  // namespace inject

namespace {

void* plain_alloc(std::size_t n) noexcept {
  return std::malloc(n ? n : 1);
}

void* aligned_alloc_(std::size_t n, std::align_val_t a) noexcept {
  std::size_t al = static_cast<std::size_t>(a);
  if (al < sizeof(void*)) al = sizeof(void*);
  void* p = nullptr;
  return ::posix_memalign(&p, al, n ? n : 1) == 0 ? p : nullptr;
}

}  // namespace

// The replacements pair malloc/posix_memalign with free; GCC, seeing
// operator new inlined into a caller and free in operator delete, would call
// that a mismatch.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

void* operator new(std::size_t n) {
  if (inject::fail_now()) throw std::bad_alloc();
  if (void* p = plain_alloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (inject::fail_now()) throw std::bad_alloc();
  if (void* p = plain_alloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return inject::fail_now() ? nullptr : plain_alloc(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return inject::fail_now() ? nullptr : plain_alloc(n);
}
void* operator new(std::size_t n, std::align_val_t a) {
  if (inject::fail_now()) throw std::bad_alloc();
  if (void* p = aligned_alloc_(n, a)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) {
  if (inject::fail_now()) throw std::bad_alloc();
  if (void* p = aligned_alloc_(n, a)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return inject::fail_now() ? nullptr : aligned_alloc_(n, a);
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return inject::fail_now() ? nullptr : aligned_alloc_(n, a);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(p);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// ---- helpers -----------------------------------------------------------------

namespace {

using namespace psnfault;

constexpr DWORD kSentinel = 0xA5A5A5A5u;
constexpr long kMaxSweep = 5000;  // no call here makes nearly this many allocations
constexpr int kBatch = 64;
constexpr ULONG_PTR kMarkerKey = 0x4D41524B;  // "MARK"

const char* g_self = nullptr;  // this executable, for the fresh-process tests

// Creating and closing a port once makes psn's process-wide tables exist, so
// the in-process sweeps see the steady state (first use is FreshProcess's).
void warm_up() {
  HANDLE h = new_port();
  ASSERT_NE(h, nullptr);
  int s = udp_socket();
  SOCK_NOTIFY_REGISTRATION r = reg(s, 1, SOCK_NOTIFY_OP_ENABLE);
  ASSERT_EQ(ProcessSocketNotifications(h, 1, &r, 0, 0, nullptr, nullptr), ERROR_SUCCESS);
  ASSERT_EQ(closesocket(s), 0);
  ASSERT_TRUE(CloseHandle(h));
}

// Sockets never registered before, at descriptor numbers above `min`.
struct batch {
  std::vector<int> socks;  // what gets registered
  std::vector<int> peers;  // other ends of the Unix pairs
  int max_fd = -1;

  bool open(int n, int min) {
    for (int i = 0; i < n; ++i) {
      int s;
      if (i % 2 == 0) {
        s = move_fd_to(udp_socket(), min);
      } else {
        auto [a, b] = unix_pair();
        s = move_fd_to(a, min);
        if (b >= 0) peers.push_back(b);
      }
      if (s < 0) return false;
      socks.push_back(s);
      if (s > max_fd) max_fd = s;
      min = s + 1;
    }
    return true;
  }
  void close_all() {
    for (int s : socks) ::close(s);
    for (int s : peers) ::close(s);
    socks.clear();
    peers.clear();
  }
};

// Where the next batch starts: above every number used so far while that
// fits under the descriptor limit, so psn's tables keep having to grow.
class numbering {
 public:
  numbering() {
    rlimit r = nofile_limit();
    if (r.rlim_cur < r.rlim_max && r.rlim_max != RLIM_INFINITY)
      set_nofile_soft(r.rlim_max);
    else if (r.rlim_max == RLIM_INFINITY)
      set_nofile_soft(65536);
    limit_ = static_cast<int>(nofile_limit().rlim_cur);
    base_ = highest_open_fd() + 16;
    next_ = base_;
  }
  int next(int need) {
    if (next_ + 2 * need + 64 >= limit_) next_ = base_;  // cannot go higher: start over
    int n = next_;
    next_ += 2 * need + 1;
    return n;
  }

 private:
  int limit_ = 1024, base_ = 0, next_ = 0;
};

// Takes every packet queued now (time-out 0); keys collected in order.
std::vector<OVERLAPPED_ENTRY> drain(HANDLE port) {
  std::vector<OVERLAPPED_ENTRY> all;
  for (int i = 0; i < 1000; ++i) {
    OVERLAPPED_ENTRY e[64];
    ULONG n = 0;
    if (!GetQueuedCompletionStatusEx(port, e, 64, &n, 0, FALSE)) break;
    all.insert(all.end(), e, e + n);
  }
  return all;
}

// The sockets are registered nowhere: REMOVE finds nothing on `port`, and
// another port can take every one of them (no ownership was left behind).
void expect_unregistered(HANDLE port, const std::vector<int>& socks) {
  std::vector<SOCK_NOTIFY_REGISTRATION> r;
  for (int s : socks) r.push_back(reg(s, 1, SOCK_NOTIFY_OP_REMOVE));
  ASSERT_EQ(ProcessSocketNotifications(port, static_cast<UINT32>(r.size()), r.data(), 0, 0, nullptr,
                                       nullptr),
            ERROR_SUCCESS);
  for (auto& e : r) EXPECT_EQ(e.registrationResult, ERROR_NOT_FOUND) << "socket " << e.socket;
  HANDLE q = new_port();
  ASSERT_NE(q, nullptr);
  r.clear();
  for (int s : socks) r.push_back(reg(s, 7, SOCK_NOTIFY_OP_ENABLE));
  ASSERT_EQ(ProcessSocketNotifications(q, static_cast<UINT32>(r.size()), r.data(), 0, 0, nullptr,
                                       nullptr),
            ERROR_SUCCESS);
  for (auto& e : r) EXPECT_EQ(e.registrationResult, ERROR_SUCCESS) << "socket " << e.socket;
  ASSERT_TRUE(CloseHandle(q));
}

// A port posts and dequeues.
void expect_no_failure_port(HANDLE h) {
  ASSERT_TRUE(PostQueuedCompletionStatus(h, 3, 4, nullptr));
  DWORD bytes = 0;
  ULONG_PTR key = 0;
  LPOVERLAPPED ov = nullptr;
  ASSERT_TRUE(GetQueuedCompletionStatus(h, &bytes, &key, &ov, 0));
  EXPECT_EQ(bytes, 3u);
  EXPECT_EQ(key, 4u);
}

// ---- in-process sweeps --------------------------------------------------------

class AllocSweep : public ::testing::TestWithParam<bool> {  // param: persistent
 protected:
  void SetUp() override { warm_up(); }
};

TEST_P(AllocSweep, CreateIoCompletionPort) {
  const bool persist = GetParam();
  const int fds_before = open_fd_count();
  long n = 0, failed = 0;
  for (; n < kMaxSweep; ++n) {
    inject::scope sc(n, persist);
    SetLastError(0);
    HANDLE h = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
    const DWORD err = GetLastError();
    sc.disarm();
    if (sc.failures() == 0) {  // the Nth allocation was never reached
      ASSERT_NE(h, nullptr) << "N=" << n << " error " << err;
      ASSERT_TRUE(CloseHandle(h));
      break;
    }
    if (h == nullptr) {
      ++failed;
      ASSERT_EQ(err, static_cast<DWORD>(ERROR_NOT_ENOUGH_MEMORY)) << "N=" << n;
      ASSERT_EQ(open_fd_count(), fds_before) << "N=" << n << ": a descriptor leaked";
      continue;
    }
    // Survived the failure: then it must be a whole, working port.
    ASSERT_TRUE(PostQueuedCompletionStatus(h, 5, 6, nullptr));
    DWORD bytes;
    ULONG_PTR key;
    LPOVERLAPPED ov;
    ASSERT_TRUE(GetQueuedCompletionStatus(h, &bytes, &key, &ov, 0));
    EXPECT_EQ(bytes, 5u);
    EXPECT_EQ(key, 6u);
    ASSERT_TRUE(CloseHandle(h));
  }
  ASSERT_LT(n, kMaxSweep);
  EXPECT_GT(failed, 0) << "no allocation failure was ever seen: is operator new replaced?";
  EXPECT_EQ(open_fd_count(), fds_before);
  std::printf("[ sweep    ] CreateIoCompletionPort: %ld allocation(s), %ld failed call(s)\n", n,
              failed);
}

TEST_P(AllocSweep, PostQueuedCompletionStatus) {
  const bool persist = GetParam();
  long n = 0, failed = 0;
  for (; n < kMaxSweep; ++n) {
    HANDLE h = new_port();  // a new port has no recycled packet nodes
    ASSERT_NE(h, nullptr);
    inject::scope sc(n, persist);
    SetLastError(0);
    BOOL ok = PostQueuedCompletionStatus(h, 42, 43, nullptr);
    const DWORD err = GetLastError();
    sc.disarm();
    DWORD bytes = 0;
    ULONG_PTR key = 0;
    LPOVERLAPPED ov = nullptr;
    BOOL got = GetQueuedCompletionStatus(h, &bytes, &key, &ov, 0);
    if (ok) {
      ASSERT_TRUE(got) << "N=" << n << ": a successful post queued nothing";
      EXPECT_EQ(bytes, 42u);
      EXPECT_EQ(key, 43u);
      EXPECT_EQ(ov, nullptr);
    } else {
      ++failed;
      ASSERT_EQ(err, static_cast<DWORD>(ERROR_NOT_ENOUGH_MEMORY)) << "N=" << n;
      ASSERT_FALSE(got) << "N=" << n << ": a failed post queued a packet";
      ASSERT_EQ(GetLastError(), static_cast<DWORD>(WAIT_TIMEOUT));
    }
    ASSERT_TRUE(CloseHandle(h));
    if (sc.failures() == 0) {
      ASSERT_TRUE(ok);
      break;
    }
  }
  ASSERT_LT(n, kMaxSweep);
  EXPECT_GT(failed, 0);
  std::printf("[ sweep    ] PostQueuedCompletionStatus: %ld allocation(s), %ld failed call(s)\n", n,
              failed);
}

// 64 new registrations at descriptor numbers above any used before, on a new
// port (its table must grow), with a dequeue in the same call. A packet
// posted first shows whether the failed call took anything.
TEST_P(AllocSweep, ProcessSocketNotificationsNewRegistrations) {
  const bool persist = GetParam();
  numbering numbers;
  const int fds_before = open_fd_count();
  long n = 0, failed = 0, max_allocs = 0;
  for (; n < kMaxSweep; ++n) {
    batch b;
    ASSERT_TRUE(b.open(kBatch, numbers.next(kBatch))) << "cannot open sockets";
    HANDLE h = new_port();
    ASSERT_NE(h, nullptr);
    ASSERT_TRUE(PostQueuedCompletionStatus(h, 1, kMarkerKey, nullptr));
    std::vector<SOCK_NOTIFY_REGISTRATION> regs;
    for (int i = 0; i < kBatch; ++i) {
      regs.push_back(reg(b.socks[static_cast<std::size_t>(i)],
                         1000 + static_cast<std::uintptr_t>(i), SOCK_NOTIFY_OP_ENABLE));
      regs.back().registrationResult = kSentinel;
    }
    OVERLAPPED_ENTRY out[4];
    std::memset(out, 0xCD, sizeof out);
    UINT32 got = 0xBEEF;
    inject::scope sc(n, persist);
    DWORD rc = ProcessSocketNotifications(h, kBatch, regs.data(), 0, 4, out, &got);
    sc.disarm();
    if (sc.allocations() > max_allocs) max_allocs = sc.allocations();
    if (rc == ERROR_SUCCESS) {
      for (auto& e : regs) ASSERT_EQ(e.registrationResult, ERROR_SUCCESS) << "N=" << n;
      ASSERT_GE(got, 1u);
      EXPECT_EQ(out[0].lpCompletionKey, kMarkerKey);  // R3.3: it was first
      // Every socket is registered: REMOVE succeeds for each and each
      // REMOVE packet arrives.
      std::vector<SOCK_NOTIFY_REGISTRATION> rm;
      for (int s : b.socks) rm.push_back(reg(s, 1, SOCK_NOTIFY_OP_REMOVE));
      ASSERT_EQ(ProcessSocketNotifications(h, kBatch, rm.data(), 0, 0, nullptr, nullptr),
                ERROR_SUCCESS);
      for (auto& e : rm) ASSERT_EQ(e.registrationResult, ERROR_SUCCESS);
      std::set<ULONG_PTR> removed;
      for (auto& e : drain(h))
        if (e.dwNumberOfBytesTransferred & SOCK_NOTIFY_EVENT_REMOVE)
          removed.insert(e.lpCompletionKey);
      EXPECT_EQ(removed.size(), static_cast<std::size_t>(kBatch));
    } else {
      ++failed;
      ASSERT_EQ(rc, static_cast<DWORD>(WSA_NOT_ENOUGH_MEMORY)) << "N=" << n;
      for (auto& e : regs) ASSERT_EQ(e.registrationResult, kSentinel) << "N=" << n;
      ASSERT_TRUE(got == 0 || got == 0xBEEFu) << got;  // R4.3: nothing was taken
      // The marker is still there, alone: nothing was taken, nothing queued.
      auto left = drain(h);
      ASSERT_EQ(left.size(), 1u) << "N=" << n;
      EXPECT_EQ(left[0].lpCompletionKey, kMarkerKey);
      expect_unregistered(h, b.socks);
    }
    ASSERT_TRUE(CloseHandle(h));
    b.close_all();
    if (sc.failures() == 0) {
      ASSERT_EQ(rc, ERROR_SUCCESS);
      break;
    }
  }
  ASSERT_LT(n, kMaxSweep);
  EXPECT_GT(failed, 0);
  EXPECT_EQ(open_fd_count(), fds_before);
  std::printf(
      "[ sweep    ] ProcessSocketNotifications, %d new registrations: %ld allocation(s), "
      "%ld failed call(s)\n",
      kBatch, n, failed);
}

// REMOVE then ENABLE (a new key) of 32 registered sockets in one batch: each
// REMOVE keeps its node until its packet is taken, so every ENABLE needs a
// new one. A failure must leave all 32 registered with their old keys and
// no REMOVE packet queued.
TEST_P(AllocSweep, ProcessSocketNotificationsRemoveThenEnable) {
  const bool persist = GetParam();
  constexpr int kSocks = 32;
  long n = 0, failed = 0;
  for (; n < kMaxSweep; ++n) {
    batch b;
    ASSERT_TRUE(b.open(kSocks, 0));
    HANDLE h = new_port();
    ASSERT_NE(h, nullptr);
    std::vector<SOCK_NOTIFY_REGISTRATION> first;
    for (int i = 0; i < kSocks; ++i)
      first.push_back(reg(b.socks[static_cast<std::size_t>(i)],
                          100 + static_cast<std::uintptr_t>(i), SOCK_NOTIFY_OP_ENABLE,
                          SOCK_NOTIFY_REGISTER_EVENT_IN));
    ASSERT_EQ(ProcessSocketNotifications(h, kSocks, first.data(), 0, 0, nullptr, nullptr),
              ERROR_SUCCESS);
    std::vector<SOCK_NOTIFY_REGISTRATION> regs;
    for (int i = 0; i < kSocks; ++i) {
      regs.push_back(reg(b.socks[static_cast<std::size_t>(i)], 0, SOCK_NOTIFY_OP_REMOVE));
      regs.push_back(reg(b.socks[static_cast<std::size_t>(i)], 200 + static_cast<std::uintptr_t>(i),
                         SOCK_NOTIFY_OP_ENABLE, SOCK_NOTIFY_REGISTER_EVENT_IN));
    }
    for (auto& e : regs) e.registrationResult = kSentinel;
    inject::scope sc(n, persist);
    DWORD rc = ProcessSocketNotifications(h, 2 * kSocks, regs.data(), 0, 0, nullptr, nullptr);
    sc.disarm();
    // Whatever happened, REMOVE now says which key each socket has.
    std::vector<SOCK_NOTIFY_REGISTRATION> rm;
    for (int s : b.socks) rm.push_back(reg(s, 0, SOCK_NOTIFY_OP_REMOVE));
    ASSERT_EQ(ProcessSocketNotifications(h, kSocks, rm.data(), 0, 0, nullptr, nullptr),
              ERROR_SUCCESS);
    for (auto& e : rm) ASSERT_EQ(e.registrationResult, ERROR_SUCCESS) << "N=" << n;
    std::multiset<ULONG_PTR> removed;
    for (auto& e : drain(h)) {
      ASSERT_TRUE(e.dwNumberOfBytesTransferred & SOCK_NOTIFY_EVENT_REMOVE);
      removed.insert(e.lpCompletionKey);
    }
    std::multiset<ULONG_PTR> want;
    if (rc == ERROR_SUCCESS) {
      for (auto& e : regs) ASSERT_EQ(e.registrationResult, ERROR_SUCCESS) << "N=" << n;
      for (int i = 0; i < kSocks; ++i) {
        want.insert(100 + static_cast<ULONG_PTR>(i));  // the batch's REMOVEs
        want.insert(200 + static_cast<ULONG_PTR>(i));  // the final REMOVEs
      }
    } else {
      ++failed;
      ASSERT_EQ(rc, static_cast<DWORD>(WSA_NOT_ENOUGH_MEMORY)) << "N=" << n;
      for (auto& e : regs) ASSERT_EQ(e.registrationResult, kSentinel) << "N=" << n;
      for (int i = 0; i < kSocks; ++i) want.insert(100 + static_cast<ULONG_PTR>(i));
    }
    EXPECT_EQ(removed, want) << "N=" << n;
    ASSERT_TRUE(CloseHandle(h));
    b.close_all();
    if (sc.failures() == 0) {
      ASSERT_EQ(rc, ERROR_SUCCESS);
      break;
    }
  }
  ASSERT_LT(n, kMaxSweep);
  EXPECT_GT(failed, 0);
  std::printf(
      "[ sweep    ] ProcessSocketNotifications, REMOVE+ENABLE of %d: %ld allocation(s), "
      "%ld failed call(s)\n",
      kSocks, n, failed);
}

// R9.1: associating a socket either succeeds or fails with
// ERROR_NOT_ENOUGH_MEMORY leaving the socket unassociated (another port can
// still take it).
TEST_P(AllocSweep, CreateIoCompletionPortAssociation) {
  const bool persist = GetParam();
  numbering numbers;  // ever higher numbers: psn's tables must grow
  long n = 0, failed = 0;
  for (; n < kMaxSweep; ++n) {
    HANDLE h = new_port();
    ASSERT_NE(h, nullptr);
    auto [a0, b] = unix_pair();
    const int a = move_fd_to(a0, numbers.next(1));
    ASSERT_GE(a, 0);
    inject::scope sc(n, persist);
    SetLastError(0);
    HANDLE got =
        CreateIoCompletionPort(reinterpret_cast<HANDLE>(static_cast<intptr_t>(a)), h, 5, 0);
    const DWORD err = GetLastError();
    sc.disarm();
    const bool done = sc.failures() == 0;
    if (got == nullptr) {
      ++failed;
      ASSERT_EQ(err, static_cast<DWORD>(ERROR_NOT_ENOUGH_MEMORY)) << "N=" << n;
      HANDLE q = new_port();
      ASSERT_EQ(CreateIoCompletionPort(reinterpret_cast<HANDLE>(static_cast<intptr_t>(a)), q, 6, 0),
                q)
          << "N=" << n << ": a failed association was left behind";
      ASSERT_TRUE(CloseHandle(q));
    } else {
      ASSERT_EQ(got, h) << "N=" << n;
    }
    ASSERT_EQ(closesocket(static_cast<SOCKET>(a)), 0);
    ::close(b);
    ASSERT_TRUE(CloseHandle(h));
    if (done) {
      ASSERT_NE(got, nullptr);
      break;
    }
  }
  ASSERT_LT(n, kMaxSweep);
  std::printf("[ sweep    ] association: %ld allocation(s), %ld failed call(s)\n", n, failed);
}

}  // namespace

// The Winsock call, declared here as psn-win32 declares it (this suite uses
// only <psn/psn.h>).
struct fault_wsabuf {
  ULONG len;
  char* buf;
};
extern "C" int WSARecv(SOCKET s, fault_wsabuf* bufs, DWORD n, DWORD* bytes, DWORD* flags,
                       OVERLAPPED* ov, void* routine);

namespace {

// R9.3: a receive that must wait either is pending or fails at once with
// WSAENOBUFS having queued nothing; the socket then takes a new receive.
TEST_P(AllocSweep, WSARecvPending) {
  const bool persist = GetParam();
  constexpr int kWSAENOBUFS = 10055, kIoPending = 997;
  long n = 0, failed = 0;
  for (; n < kMaxSweep; ++n) {
    HANDLE h = new_port();
    auto [a, b] = unix_pair();
    ASSERT_EQ(CreateIoCompletionPort(reinterpret_cast<HANDLE>(static_cast<intptr_t>(a)), h, 5, 0),
              h);
    char buf[4];
    fault_wsabuf w{sizeof buf, buf};
    DWORD flags = 0;
    OVERLAPPED ov{};
    inject::scope sc(n, persist);
    SetLastError(0);
    int rc = WSARecv(static_cast<SOCKET>(a), &w, 1, nullptr, &flags, &ov, nullptr);
    const DWORD err = GetLastError();
    sc.disarm();
    const bool done = sc.failures() == 0;
    ASSERT_EQ(rc, -1) << "N=" << n;
    if (err == static_cast<DWORD>(kWSAENOBUFS)) {
      ++failed;
      ASSERT_TRUE(drain(h).empty()) << "N=" << n << ": a failed call queued a completion";
      ASSERT_EQ(WSARecv(static_cast<SOCKET>(a), &w, 1, nullptr, &flags, &ov, nullptr), -1);
      ASSERT_EQ(GetLastError(), static_cast<DWORD>(kIoPending));
    } else {
      ASSERT_EQ(err, static_cast<DWORD>(kIoPending)) << "N=" << n;
    }
    // The pending receive completes with the byte sent now.
    ASSERT_EQ(::send(b, "x", 1, 0), 1);
    DWORD bytes = 0;
    ULONG_PTR key = 0;
    LPOVERLAPPED got = nullptr;
    ASSERT_TRUE(GetQueuedCompletionStatus(h, &bytes, &key, &got, 5000)) << "N=" << n;
    EXPECT_EQ(got, &ov);
    EXPECT_EQ(bytes, 1u);
    ASSERT_EQ(closesocket(static_cast<SOCKET>(a)), 0);
    ::close(b);
    ASSERT_TRUE(CloseHandle(h));
    if (done) break;
  }
  ASSERT_LT(n, kMaxSweep);
  std::printf("[ sweep    ] WSARecv pending: %ld allocation(s), %ld failed call(s)\n", n, failed);
}

INSTANTIATE_TEST_SUITE_P(Modes, AllocSweep, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? std::string("FailFromN") : std::string("FailNth");
                         });

// The handle table grows in chunks of 1024 slots when every slot is taken.
// Ports are created (and kept open) with the third allocation of each
// creation set to fail: an ordinary creation makes two, so only the one
// that needs a new chunk fails -- cleanly, and the next one gets the chunk.
TEST(AllocHandleTable, ChunkAllocationFails) {
  warm_up();
  const rlimit lim = nofile_limit();
  // Descriptors per port: two on epoll, three on io_uring (the ring).
  int per_port = 0;
  {
    const int before = open_fd_count();
    HANDLE h = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
    ASSERT_NE(h, nullptr);
    per_port = open_fd_count() - before;
    CloseHandle(h);
  }
  const rlim_t want = static_cast<rlim_t>(per_port) * 2100 + 256;  // up to ~2048 ports
  if (lim.rlim_cur < want && !(lim.rlim_max >= want && set_nofile_soft(want)))
    GTEST_SKIP() << "needs " << want << " descriptors, the hard limit is " << lim.rlim_max;
  const int fds_before = open_fd_count();
  std::vector<HANDLE> ports;
  bool hit = false;
  for (int i = 0; i < 2100 && !hit; ++i) {
    inject::scope sc(2, false);
    SetLastError(0);
    HANDLE h = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
    const DWORD err = GetLastError();
    sc.disarm();
    if (sc.failures() == 0) {
      ASSERT_NE(h, nullptr) << "port " << i << ": error " << err;
      ports.push_back(h);
      continue;
    }
    hit = true;
    ASSERT_EQ(h, nullptr) << "the creation that needed a new chunk succeeded without it";
    EXPECT_EQ(err, static_cast<DWORD>(ERROR_NOT_ENOUGH_MEMORY));
    EXPECT_EQ(open_fd_count(), fds_before + per_port * static_cast<int>(ports.size()))
        << "the failed creation left descriptors open";
    std::printf("[ sweep    ] handle table chunk: creation #%zu needed a new chunk\n",
                ports.size() + 1);
  }
  EXPECT_TRUE(hit) << "no creation needed a new chunk";
  // The next creation gets its chunk; every port works and closes.
  HANDLE h = new_port();
  ASSERT_NE(h, nullptr);
  ports.push_back(h);
  for (HANDLE p : ports) expect_no_failure_port(p);
  for (HANDLE p : ports) ASSERT_TRUE(CloseHandle(p));
  EXPECT_EQ(open_fd_count(), fds_before);
  set_nofile_soft(lim.rlim_cur);
}

// docs/design.md: "after warm-up, posting and registering allocate nothing".
TEST(AllocSteadyState, WarmPortAllocatesNothing) {
  warm_up();
  HANDLE h = new_port();
  ASSERT_NE(h, nullptr);
  std::vector<int> socks;
  for (int i = 0; i < 8; ++i) socks.push_back(udp_socket());
  // Every array is built before counting starts: only psn's allocations count.
  auto make = [&](std::uintptr_t key0, UINT8 op) {
    std::vector<SOCK_NOTIFY_REGISTRATION> r;
    for (std::size_t i = 0; i < socks.size(); ++i) r.push_back(reg(socks[i], key0 + i, op));
    return r;
  };
  auto first = make(1, SOCK_NOTIFY_OP_ENABLE), fresh = make(100, SOCK_NOTIFY_OP_ENABLE),
       rearm = make(200, SOCK_NOTIFY_OP_ENABLE), remove = make(0, SOCK_NOTIFY_OP_REMOVE),
       remove2 = remove;
  auto apply = [&](std::vector<SOCK_NOTIFY_REGISTRATION>& r) {
    return ProcessSocketNotifications(h, static_cast<UINT32>(r.size()), r.data(), 0, 0, nullptr,
                                      nullptr);
  };
  // Warm-up: nodes for 8 registrations and a few posted packets.
  ASSERT_EQ(apply(first), ERROR_SUCCESS);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(PostQueuedCompletionStatus(h, 1, 2, nullptr));
  drain(h);
  ASSERT_EQ(apply(remove), ERROR_SUCCESS);
  drain(h);

  long allocations;
  DWORD rc1, rc2, rc3;
  BOOL posted = TRUE;
  std::size_t taken = 0;
  OVERLAPPED_ENTRY e[64];
  {
    inject::scope sc(-1, false);  // count only
    rc1 = apply(fresh);           // new registrations from recycled nodes
    for (int i = 0; i < 4; ++i) posted &= PostQueuedCompletionStatus(h, 1, 2, nullptr);
    ULONG got = 0;
    for (int i = 0; i < 8 && GetQueuedCompletionStatusEx(h, e, 64, &got, 0, FALSE); ++i)
      taken += got;
    rc2 = apply(rearm);  // re-arm in place
    rc3 = apply(remove2);
    for (int i = 0; i < 8 && GetQueuedCompletionStatusEx(h, e, 64, &got, 0, FALSE); ++i)
      taken += got;
    allocations = sc.allocations();
  }
  EXPECT_EQ(rc1, ERROR_SUCCESS);
  EXPECT_EQ(rc2, ERROR_SUCCESS);
  EXPECT_EQ(rc3, ERROR_SUCCESS);
  EXPECT_TRUE(posted);
  EXPECT_GT(taken, 0u);
  EXPECT_EQ(allocations, 0) << "a warm port allocated";
  for (int s : socks) ::close(s);
  ASSERT_TRUE(CloseHandle(h));
}

// ---- first use, in a fresh process -------------------------------------------

// Exit codes of a --fresh-child run.
constexpr int kChildOk = 0;       // the Nth allocation failed and the contract held
constexpr int kChildDone = 10;    // the Nth allocation was never reached (and it all worked)
constexpr int kChildBroken = 20;  // a contract violation (printed on stderr)

#define CHILD_CHECK(c)                                                          \
  do {                                                                          \
    if (!(c)) {                                                                 \
      std::fprintf(stderr, "fresh child: %s:%d: %s\n", __FILE__, __LINE__, #c); \
      return kChildBroken;                                                      \
    }                                                                           \
  } while (0)

int child_create(long n, bool persist) {
  inject::scope sc(n, persist);
  SetLastError(0);
  HANDLE h = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
  const DWORD err = GetLastError();
  sc.disarm();
  if (h == nullptr) {
    CHILD_CHECK(err == ERROR_NOT_ENOUGH_MEMORY);
    h = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
    CHILD_CHECK(h != nullptr);
  }
  CHILD_CHECK(PostQueuedCompletionStatus(h, 1, 2, nullptr));
  DWORD bytes;
  ULONG_PTR key;
  LPOVERLAPPED ov;
  CHILD_CHECK(GetQueuedCompletionStatus(h, &bytes, &key, &ov, 0) && key == 2);
  CHILD_CHECK(CloseHandle(h));
  return sc.failures() ? kChildOk : kChildDone;
}

int child_closesocket(long n, bool persist) {
  int s = udp_socket();
  CHILD_CHECK(s >= 0);
  inject::scope sc(n, persist);
  int rc = closesocket(s);
  sc.disarm();
  CHILD_CHECK(rc == 0);
  CHILD_CHECK(!fd_is_open(s));
  return sc.failures() ? kChildOk : kChildDone;
}

// A made-up handle as the process's first psn call.
int child_bogus(long n, bool persist, int which) {
  HANDLE bogus = reinterpret_cast<HANDLE>(static_cast<std::uintptr_t>(0x100000015));
  inject::scope sc(n, persist);
  SetLastError(0);
  DWORD rc;
  switch (which) {
    case 0:
      rc = CloseHandle(bogus) ? 0 : GetLastError();
      break;
    case 1:
      rc = PostQueuedCompletionStatus(bogus, 1, 2, nullptr) ? 0 : GetLastError();
      break;
    case 2: {
      DWORD bytes;
      ULONG_PTR key;
      LPOVERLAPPED ov;
      rc = GetQueuedCompletionStatus(bogus, &bytes, &key, &ov, 0) ? 0 : GetLastError();
      break;
    }
    default:
      rc = ProcessSocketNotifications(bogus, 0, nullptr, 0, 0, nullptr, nullptr);
      break;
  }
  sc.disarm();
  CHILD_CHECK(rc == ERROR_INVALID_HANDLE);
  return sc.failures() ? kChildOk : kChildDone;
}

int child_process(long n, bool persist) {
  HANDLE h = new_port();
  CHILD_CHECK(h != nullptr);
  batch b;
  CHILD_CHECK(b.open(kBatch, 64));
  CHILD_CHECK(PostQueuedCompletionStatus(h, 1, kMarkerKey, nullptr));
  std::vector<SOCK_NOTIFY_REGISTRATION> regs;
  for (int i = 0; i < kBatch; ++i) {
    regs.push_back(reg(b.socks[static_cast<std::size_t>(i)], 1000 + static_cast<std::uintptr_t>(i),
                       SOCK_NOTIFY_OP_ENABLE));
    regs.back().registrationResult = kSentinel;
  }
  OVERLAPPED_ENTRY out[4];
  UINT32 got = 0xBEEF;
  inject::scope sc(n, persist);
  DWORD rc = ProcessSocketNotifications(h, kBatch, regs.data(), 0, 4, out, &got);
  sc.disarm();
  if (rc == ERROR_SUCCESS) {
    for (auto& e : regs) CHILD_CHECK(e.registrationResult == ERROR_SUCCESS);
    CHILD_CHECK(got >= 1 && out[0].lpCompletionKey == kMarkerKey);
  } else {
    CHILD_CHECK(rc == WSA_NOT_ENOUGH_MEMORY);
    for (auto& e : regs) CHILD_CHECK(e.registrationResult == kSentinel);
    CHILD_CHECK(got == 0 || got == 0xBEEF);
    auto left = drain(h);
    CHILD_CHECK(left.size() == 1 && left[0].lpCompletionKey == kMarkerKey);
    // Nothing registered, nothing owned: the same batch now succeeds.
    DWORD rc2 = ProcessSocketNotifications(h, kBatch, regs.data(), 0, 0, nullptr, nullptr);
    CHILD_CHECK(rc2 == ERROR_SUCCESS);
    for (auto& e : regs) CHILD_CHECK(e.registrationResult == ERROR_SUCCESS);
  }
  CHILD_CHECK(CloseHandle(h));
  b.close_all();
  return sc.failures() ? kChildOk : kChildDone;
}

int run_fresh_child(const std::string& scenario, long n, bool persist) {
  if (scenario == "create") return child_create(n, persist);
  if (scenario == "closesocket") return child_closesocket(n, persist);
  if (scenario == "process") return child_process(n, persist);
  if (scenario.rfind("bogus", 0) == 0) return child_bogus(n, persist, scenario[5] - '0');
  std::fprintf(stderr, "unknown scenario %s\n", scenario.c_str());
  return kChildBroken;
}

// Runs the scenario in fresh processes for N = 0, 1, ... until the Nth
// allocation is not reached. Fails on a crash (std::terminate: a bad_alloc
// escaping a noexcept function) or a contract violation.
void sweep_fresh(const char* scenario) {
  ASSERT_NE(g_self, nullptr);
  for (bool persist : {false, true}) {
    long n = 0;
    for (; n < 1000; ++n) {
      std::fflush(nullptr);
      pid_t pid = ::fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        std::string ns = std::to_string(n);
        ::execl(g_self, g_self, "--fresh-child", scenario, ns.c_str(), persist ? "1" : "0",
                static_cast<char*>(nullptr));
        ::_exit(127);
      }
      int status = 0;
      ASSERT_EQ(::waitpid(pid, &status, 0), pid);
      ASSERT_TRUE(WIFEXITED(status))
          << scenario << ": the process died of signal " << WTERMSIG(status) << " when allocation #"
          << n << (persist ? " and all later ones" : "")
          << " failed (first psn use in the process)";
      const int code = WEXITSTATUS(status);
      ASSERT_TRUE(code == kChildOk || code == kChildDone)
          << scenario << ": N=" << n << " exit code " << code;
      if (code == kChildDone) break;
    }
    ASSERT_LT(n, 1000);
    std::printf("[ fresh    ] %s (%s): %ld allocation(s) on first use\n", scenario,
                persist ? "fail from N" : "fail Nth", n);
  }
}

TEST(FreshProcess, ProcessSocketNotificationsFirstUse) {
  sweep_fresh("process");
}

// Regression: psn's process-wide tables were once allocated on first use with
// a throwing `new` inside noexcept functions, so a failed allocation there was
// std::terminate instead of a clean error. They now live in static storage.
TEST(FreshProcess, CreateIoCompletionPortFirstUse) {
  sweep_fresh("create");
}
TEST(FreshProcess, CloseSocketFirstUse) {
  sweep_fresh("closesocket");
}
TEST(FreshProcess, CloseHandleMadeUpFirstUse) {
  sweep_fresh("bogus0");
}
TEST(FreshProcess, PostMadeUpFirstUse) {
  sweep_fresh("bogus1");
}
TEST(FreshProcess, GetQueuedCompletionStatusMadeUpFirstUse) {
  sweep_fresh("bogus2");
}
TEST(FreshProcess, ProcessSocketNotificationsMadeUpFirstUse) {
  sweep_fresh("bogus3");
}

}  // namespace

int main(int argc, char** argv) {
  g_self = "/proc/self/exe";
  if (argc == 5 && std::strcmp(argv[1], "--fresh-child") == 0)
    return run_fresh_child(argv[2], std::atol(argv[3]), argv[4][0] == '1');
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
