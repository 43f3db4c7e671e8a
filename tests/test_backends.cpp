// SPEC 7: backends. The whole suite runs once per backend the machine
// supports (tests/CMakeLists.txt sets PSN_BACKEND for each run); these tests
// pin how the backend is chosen and what each promises.
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "psn/psn.hpp"
#include "support.hpp"

namespace {

using namespace psntest;

// Sets an environment variable for the life of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (had_)
      ::setenv(name_, old_.c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

// Whether this machine can run the io_uring backend at all.
bool io_uring_available() {
  std::error_code ec;
  psn::port p = psn::port::create({.concurrency = 0, .backend = psn::backend::io_uring}, ec);
  return !ec;
}

psn::backend expected_from_env() {
  const char* env = std::getenv("PSN_BACKEND");
  if (env && std::strcmp(env, "io_uring") == 0) return psn::backend::io_uring;
  if (env && std::strcmp(env, "epoll") == 0) return psn::backend::epoll;
  return io_uring_available() ? psn::backend::io_uring : psn::backend::epoll;
}

// R7.3: the run's PSN_BACKEND is the backend every port of this run uses, so
// each run of the suite really exercises the backend it is named for.
TEST(Backends, R7_3_SuiteRunsOnTheBackendItNames) {
  psn::port p = psn::port::create();
  ASSERT_TRUE(p);
  EXPECT_EQ(p.backend(), expected_from_env());
}

// R7.1: with nothing chosen, ports use io_uring where the kernel allows it,
// else epoll.
TEST(Backends, R7_1_DefaultIsIoUringWhereTheKernelAllowsIt) {
  ScopedEnv env("PSN_BACKEND", nullptr);
  psn::port p = psn::port::create();
  ASSERT_TRUE(p);
  EXPECT_EQ(p.backend(), io_uring_available() ? psn::backend::io_uring : psn::backend::epoll);
  HANDLE h = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 0);
  ASSERT_NE(h, nullptr);
  EXPECT_TRUE(CloseHandle(h));
}

// Runs `body` in a child process in which io_uring_setup fails with `err`,
// the way a container's seccomp profile or io_uring_disabled makes it fail.
// Returns the child's exit status (0 when every check in it held).
int with_io_uring_blocked(int err, int (*body)()) {
  pid_t pid = ::fork();
  if (pid == 0) {
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (static_cast<unsigned>(err) & 0xFFFF)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
      ::_exit(100);
    ::_exit(body());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 200;
}

int check_fallback() {
  ::unsetenv("PSN_BACKEND");
  // The default falls back to epoll silently...
  HANDLE h = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 0);
  if (h == nullptr) return 1;
  psn::port p = psn::port::create();
  if (p.backend() != psn::backend::epoll) return 2;
  // ...and the fallback port works.
  if (!PostQueuedCompletionStatus(h, 7, 1, nullptr)) return 3;
  DWORD bytes = 0;
  ULONG_PTR k = 0;
  LPOVERLAPPED ov = nullptr;
  if (!GetQueuedCompletionStatus(h, &bytes, &k, &ov, 1000) || bytes != 7) return 4;
  CloseHandle(h);
  // Asked for by name, io_uring fails clearly: from C++...
  std::error_code ec;
  psn::port q = psn::port::create({.concurrency = 0, .backend = psn::backend::io_uring}, ec);
  if (q || ec != psn::errc::not_supported) return 5;
  // ...and through PSN_BACKEND.
  ::setenv("PSN_BACKEND", "io_uring", 1);
  SetLastError(0);
  if (CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 0) != nullptr) return 6;
  if (GetLastError() != ERROR_NOT_SUPPORTED) return 7;
  return 0;
}

// R7.1: where io_uring_setup is refused (EPERM: seccomp or io_uring_disabled;
// ENOSYS: an old or stripped kernel), the default is epoll, silently, and an
// explicit request for io_uring fails with ERROR_NOT_SUPPORTED.
TEST(Backends, R7_1_FallsBackToEpollWhenIoUringIsRefused) {
  for (int err : {EPERM, ENOSYS}) {
    const int status = with_io_uring_blocked(err, check_fallback);
    if (status == 100)
      GTEST_SKIP() << "this machine does not let a process install a seccomp filter";
    EXPECT_EQ(status, 0) << "errno " << err << ": check " << status << " of check_fallback failed";
  }
}

// SPEC 1: an unknown PSN_BACKEND fails port creation clearly rather than
// silently picking something.
TEST(Backends, R7_1_UnknownBackendNameFailsClearly) {
  ScopedEnv env("PSN_BACKEND", "kqueue");
  SetLastError(0);
  EXPECT_EQ(CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 0), nullptr);
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_NOT_SUPPORTED));
  std::error_code ec;
  psn::port p = psn::port::create({}, ec);
  EXPECT_FALSE(p);
  EXPECT_EQ(ec, psn::errc::not_supported);
}

// A per-port choice from C++ wins over the environment.
TEST(Backends, R7_1_PerPortChoiceOverridesEnvironment) {
  ScopedEnv env("PSN_BACKEND", "kqueue");
  std::error_code ec;
  psn::port p = psn::port::create({.concurrency = 0, .backend = psn::backend::epoll}, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(p.backend(), psn::backend::epoll);
}

// Registers n ready socket pairs one-shot level-triggered and takes their
// first packets, so each is registered and disabled, ready to be re-armed.
struct ReadyOneshots {
  std::vector<std::pair<Fd, Fd>> pairs;
  std::vector<SOCK_NOTIFY_REGISTRATION> rearm;
  ReadyOneshots(HANDLE port, int n) {
    for (int i = 0; i < n; ++i) {
      pairs.push_back(unix_pair());
      EXPECT_EQ(send_bytes(pairs.back().second), 1);
      rearm.push_back(reg(pairs.back().first, key(100 + i), SOCK_NOTIFY_REGISTER_EVENT_IN,
                          SOCK_NOTIFY_OP_ENABLE,
                          SOCK_NOTIFY_TRIGGER_LEVEL | SOCK_NOTIFY_TRIGGER_ONESHOT));
    }
    EXPECT_EQ(ProcessSocketNotifications(port, static_cast<UINT32>(rearm.size()), rearm.data(), 0,
                                         0, nullptr, nullptr),
              static_cast<DWORD>(ERROR_SUCCESS));
    std::vector<OVERLAPPED_ENTRY> out(static_cast<size_t>(n));
    int seen = 0;
    for (int tries = 0; seen < n && tries < 100; ++tries)
      seen += static_cast<int>(take(port, out.data(), static_cast<ULONG>(n), 1000));
    EXPECT_EQ(seen, n);
  }
};

// R7.2 on every backend: a call that re-arms K level-triggered one-shot
// registrations with their settings unchanged, and then waits, enters the
// kernel once and changes nothing there: the watches stayed armed after the
// takes. A re-arm that changes the settings does reach the kernel: with
// io_uring still in the wait's one entry, with epoll one epoll_ctl each.
// The port's counters tell.
TEST(Backends, R7_2_RearmAndWaitIsOneKernelEntry) {
  for (psn::backend b : {psn::backend::epoll, psn::backend::io_uring}) {
    if (b == psn::backend::io_uring && !io_uring_available()) continue;
    for (bool change_filter : {false, true}) {
      for (int k : {1, 16, 256}) {
        SCOPED_TRACE(testing::Message()
                     << (b == psn::backend::epoll ? "epoll" : "io_uring") << ", " << k
                     << (change_filter ? " re-arms adding HANGUP" : " plain re-arms"));
        psn::port p = psn::port::create({.concurrency = 0, .backend = b});
        HANDLE h = reinterpret_cast<HANDLE>(p.native_handle());
        ReadyOneshots socks(h, k);
        if (change_filter)
          for (auto& r : socks.rearm)
            r.eventFilter = SOCK_NOTIFY_REGISTER_EVENT_IN | SOCK_NOTIFY_REGISTER_EVENT_HANGUP;
        const psn::port_stats before = p.stats();
        std::vector<OVERLAPPED_ENTRY> out(static_cast<size_t>(k));
        UINT32 got = 0;
        ASSERT_EQ(ProcessSocketNotifications(h, static_cast<UINT32>(k), socks.rearm.data(), 5000,
                                             static_cast<UINT32>(k), out.data(), &got),
                  static_cast<DWORD>(ERROR_SUCCESS));
        const psn::port_stats after = p.stats();
        for (const auto& r : socks.rearm) EXPECT_EQ(r.registrationResult, 0u);
        EXPECT_EQ(got, static_cast<UINT32>(k));  // every re-armed socket is ready (R5.9)
        EXPECT_EQ(after.packets_delivered - before.packets_delivered, static_cast<uint64_t>(k));
        const uint64_t changes = change_filter ? static_cast<uint64_t>(k) : 0;
        EXPECT_EQ(after.changes_applied - before.changes_applied, changes);
        EXPECT_EQ(after.kernel_entries - before.kernel_entries,
                  b == psn::backend::io_uring ? 1u : changes + 1);
      }
    }
  }
}

// The lazy re-arm's way back: a one-shot registration whose socket the
// kernel reports while it is disabled (here a look by a call that re-arms
// nothing) is disarmed in the kernel then, so it is not reported again and
// again; its next re-arm reaches the kernel and notifies at once (R5.9).
TEST(Backends, R5_9_ReportWhileDisabledDisarmsAndTheRearmStillNotifies) {
  for (psn::backend b : {psn::backend::epoll, psn::backend::io_uring}) {
    if (b == psn::backend::io_uring && !io_uring_available()) continue;
    SCOPED_TRACE(b == psn::backend::epoll ? "epoll" : "io_uring");
    psn::port p = psn::port::create({.concurrency = 0, .backend = b});
    HANDLE h = reinterpret_cast<HANDLE>(p.native_handle());
    ReadyOneshots socks(h, 1);  // taken, disabled, still readable
    OVERLAPPED_ENTRY e{};
    psn::port_stats s0 = p.stats();
    EXPECT_EQ(take(h, &e, 1, 0), 0u) << "R5.9: disabled after its packet was taken";
    psn::port_stats s1 = p.stats();
    EXPECT_EQ(s1.changes_applied - s0.changes_applied, 1u) << "the wasted report disarms";
    EXPECT_EQ(take(h, &e, 1, 0), 0u);
    psn::port_stats s2 = p.stats();
    EXPECT_EQ(s2.changes_applied - s1.changes_applied, 0u) << "and it stays quiet";
    UINT32 got = 0;
    ASSERT_EQ(ProcessSocketNotifications(h, 1, socks.rearm.data(), 0, 1, &e, &got),
              static_cast<DWORD>(ERROR_SUCCESS));
    EXPECT_EQ(socks.rearm[0].registrationResult, 0u);
    ASSERT_EQ(got, 1u) << "R4.5, R5.9: the re-arm notifies at once";
    EXPECT_TRUE(is_note(e, 100, SOCK_NOTIFY_EVENT_IN));
    EXPECT_EQ(p.stats().changes_applied - s2.changes_applied, 1u)
        << "this re-arm is a kernel change";
  }
}

// The counters count what they name.
TEST(Backends, CountersCountPacketsAndChanges) {
  psn::port p = psn::port::create();
  EXPECT_EQ(p.stats().packets_queued, 0u);
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(p.post(static_cast<uint32_t>(i), nullptr));
  psn::completion out[4];
  auto got = p.wait(out, std::chrono::milliseconds(1000));
  EXPECT_EQ(got.size(), 3u);
  auto [a, b] = unix_pair();
  psn::registration r = psn::registration::enable(a, nullptr, psn::event::in, psn::trigger::level);
  ASSERT_FALSE(p.apply(std::span(&r, 1)));
  r = psn::registration::remove(a);
  ASSERT_FALSE(p.apply(std::span(&r, 1)));
  got = p.wait(out, std::chrono::milliseconds(1000));
  EXPECT_EQ(got.size(), 1u);  // the REMOVE packet
  const psn::port_stats s = p.stats();
  EXPECT_EQ(s.packets_queued, 4u);
  EXPECT_EQ(s.packets_delivered, 4u);
  EXPECT_EQ(s.changes_applied, 2u);
  EXPECT_GE(s.kernel_entries, 2u);
  p.close();
  EXPECT_EQ(p.stats().packets_queued, 0u);  // a closed port has none
}

// R5.12 with a re-arm that goes to the kernel with the wait: the number was
// closed with close() and now names a new, readable socket. The call
// registers the new socket with the entry's key and delivers its packet at
// once, instead of waiting with nothing registered.
TEST(Backends, R5_12_RearmOfAReusedNumberRegistersTheNewSocketInTheSameCall) {
  HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 0);
  ASSERT_NE(port, nullptr);
  ReadyOneshots old(port, 1);
  const int n = old.pairs[0].first.release();
  ASSERT_EQ(::close(n), 0);  // plain close() while registered
  auto [fresh, peer] = unix_pair();
  ASSERT_EQ(::dup2(fresh, n), n);
  Fd reused(n);
  ASSERT_EQ(send_bytes(peer), 1);
  SOCK_NOTIFY_REGISTRATION r = reg(n, key(2), SOCK_NOTIFY_REGISTER_EVENT_IN, SOCK_NOTIFY_OP_ENABLE,
                                   SOCK_NOTIFY_TRIGGER_LEVEL | SOCK_NOTIFY_TRIGGER_ONESHOT);
  OVERLAPPED_ENTRY e{};
  UINT32 got = 0;
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(ProcessSocketNotifications(port, 1, &r, 10000, 1, &e, &got),
            static_cast<DWORD>(ERROR_SUCCESS));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(r.registrationResult, 0u);
  ASSERT_EQ(got, 1u);
  EXPECT_TRUE(is_note(e, 2, SOCK_NOTIFY_EVENT_IN));
  EXPECT_TRUE(CloseHandle(port));
}

// As above with the number left closed: the entry fails WSAENOTSOCK, the
// stale registration is gone, and the wait still runs its course.
TEST(Backends, R5_12_RearmOfAClosedNumberFailsAndStillWaits) {
  HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 0);
  ASSERT_NE(port, nullptr);
  ReadyOneshots old(port, 1);
  const int n = old.pairs[0].first.release();
  ASSERT_EQ(::close(n), 0);
  SOCK_NOTIFY_REGISTRATION r = reg(n, key(1), SOCK_NOTIFY_REGISTER_EVENT_IN, SOCK_NOTIFY_OP_ENABLE,
                                   SOCK_NOTIFY_TRIGGER_LEVEL | SOCK_NOTIFY_TRIGGER_ONESHOT);
  OVERLAPPED_ENTRY e{};
  UINT32 got = 0;
  EXPECT_EQ(ProcessSocketNotifications(port, 1, &r, 200, 1, &e, &got),
            static_cast<DWORD>(WAIT_TIMEOUT));
  EXPECT_EQ(r.registrationResult, static_cast<UINT32>(WSAENOTSOCK));
  EXPECT_EQ(apply(port, reg(n, nullptr, 0, SOCK_NOTIFY_OP_REMOVE, 0)),
            static_cast<DWORD>(WSAENOTSOCK));
  EXPECT_TRUE(CloseHandle(port));
}

// The same socket twice in one waiting call: the entries apply in order
// (R4.1), so a re-arm followed by DISABLE leaves it disabled.
TEST(Backends, R4_1_RearmThenDisableInOneWaitingCallEndsDisabled) {
  HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 0);
  ASSERT_NE(port, nullptr);
  ReadyOneshots socks(port, 2);
  SOCK_NOTIFY_REGISTRATION regs[3] = {
      socks.rearm[0], reg(socks.pairs[0].first, nullptr, 0, SOCK_NOTIFY_OP_DISABLE, 0),
      socks.rearm[1]};
  OVERLAPPED_ENTRY out[4];
  UINT32 got = 0;
  ASSERT_EQ(ProcessSocketNotifications(port, 3, regs, 5000, 4, out, &got),
            static_cast<DWORD>(ERROR_SUCCESS));
  for (const auto& r : regs) EXPECT_EQ(r.registrationResult, 0u);
  ASSERT_EQ(got, 1u);
  EXPECT_TRUE(is_note(out[0], 101, SOCK_NOTIFY_EVENT_IN));
  EXPECT_TRUE(quiet(port));
  EXPECT_TRUE(CloseHandle(port));
}

// Regression (found by the fuzzer): a call with a 1 ms time-out whose time
// ran out before it reached its kernel wait returned with its re-arms still
// held back, so they applied late (the packet they make pending was not
// delivered, against R4.5) and their results were later written into an
// array the caller had already freed. Here another thread keeps the port
// busy with long batches (thousands of changes under the port's lock), so
// the call's deadline often passes while it waits for the lock.
TEST(Backends, R4_5_FuzzRearmsOfACallWhoseTimeRanOutStillApply) {
  HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 0);
  ASSERT_NE(port, nullptr);
  ReadyOneshots socks(port, 1);
  // Quiet sockets for the other thread's batches: they never queue a packet.
  constexpr int kQuiet = 3000;
  std::vector<std::pair<Fd, Fd>> quiet_pairs;
  std::vector<SOCK_NOTIFY_REGISTRATION> enable, disable;
  for (int i = 0; i < kQuiet; ++i) {
    quiet_pairs.push_back(unix_pair());
    enable.push_back(reg(quiet_pairs.back().first, key(5000 + i), SOCK_NOTIFY_REGISTER_EVENT_IN,
                         SOCK_NOTIFY_OP_ENABLE, SOCK_NOTIFY_TRIGGER_LEVEL));
    disable.push_back(reg(quiet_pairs.back().first, nullptr, 0, SOCK_NOTIFY_OP_DISABLE, 0));
  }
  ASSERT_EQ(apply_all(port, enable), static_cast<DWORD>(ERROR_SUCCESS));
  // The busy thread runs one pair of batches per call, so it cannot starve
  // the calls of the lock (an unfair mutex, a slow sanitizer build) and each
  // call still meets a batch under way.
  std::atomic<bool> stop{false};
  std::atomic<int> turn{0};
  std::thread busy([&] {
    int seen = 0;
    while (!stop.load()) {
      if (turn.load() == seen) {
        std::this_thread::yield();
        continue;
      }
      seen = turn.load();
      apply_all(port, disable);
      apply_all(port, enable);
    }
  });
  int failures = 0, calls = 0;
  const auto start = std::chrono::steady_clock::now();
  const auto until = start + std::chrono::seconds(2);
  const auto cap = start + std::chrono::seconds(120);
  while ((std::chrono::steady_clock::now() < until || calls < 20) &&
         std::chrono::steady_clock::now() < cap) {
    turn.fetch_add(1);
    auto regs = std::make_unique<SOCK_NOTIFY_REGISTRATION[]>(1);  // gone after each call
    regs[0] = socks.rearm[0];
    OVERLAPPED_ENTRY e{};
    UINT32 got = 0;
    DWORD rc = ProcessSocketNotifications(port, 1, regs.get(), 1, 1, &e, &got);
    ++calls;
    if (rc != ERROR_SUCCESS || got != 1 || regs[0].registrationResult != 0 ||
        e.lpCompletionKey != 100)
      ++failures;
  }
  stop = true;
  busy.join();
  EXPECT_GT(calls, 10);
  EXPECT_EQ(failures, 0) << "of " << calls << " calls";
  EXPECT_TRUE(CloseHandle(port));
}

// R3.10 while a call re-arms and waits in one kernel entry: a registration
// made from another thread wakes it promptly.
TEST(Backends, R3_10_RegistrationWakesACallWaitingWithItsRearms) {
  HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 0);
  ASSERT_NE(port, nullptr);
  ReadyOneshots idle(port, 1);
  drain(idle.pairs[0].first);  // its re-arm finds nothing to report
  auto [ready, peer] = unix_pair();
  ASSERT_EQ(send_bytes(peer), 1);
  std::atomic<bool> done{false};
  OVERLAPPED_ENTRY e{};
  UINT32 got = 0;
  DWORD rc = 0;
  std::thread waiter([&] {
    rc = ProcessSocketNotifications(port, 1, idle.rearm.data(), 20000, 1, &e, &got);
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let it enter the wait
  EXPECT_FALSE(done.load());
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(apply(port, reg(ready, key(9), SOCK_NOTIFY_REGISTER_EVENT_IN, SOCK_NOTIFY_OP_ENABLE,
                            SOCK_NOTIFY_TRIGGER_LEVEL)),
            0u);
  waiter.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(rc, static_cast<DWORD>(ERROR_SUCCESS));
  EXPECT_EQ(idle.rearm[0].registrationResult, 0u);
  EXPECT_TRUE(is_note(e, 9, SOCK_NOTIFY_EVENT_IN));
  EXPECT_TRUE(CloseHandle(port));
}

// No socket is kept open behind the application's back: a registered TCP
// connection closed with close() while another thread waits on the port
// (on io_uring, in a fused enter with a re-arm of its own) is closed for its
// peer at once.
TEST(Backends, R5_12_CloseWhileAWaitIsArmedReallyClosesTheSocket) {
  HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 0);
  ASSERT_NE(port, nullptr);
  auto [client, server] = tcp_pair();
  ASSERT_EQ(apply(port, reg(server, key(1), SOCK_NOTIFY_REGISTER_EVENT_IN, SOCK_NOTIFY_OP_ENABLE,
                            SOCK_NOTIFY_TRIGGER_LEVEL | SOCK_NOTIFY_TRIGGER_ONESHOT)),
            0u);
  ReadyOneshots idle(port, 1);
  drain(idle.pairs[0].first);
  std::thread waiter([&] {
    OVERLAPPED_ENTRY e{};
    UINT32 got = 0;
    ProcessSocketNotifications(port, 1, idle.rearm.data(), 3000, 1, &e, &got);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server.reset();  // plain close()
  ASSERT_TRUE(wait_for(client, POLLIN, 2000));
  char c;
  EXPECT_EQ(::recv(client, &c, 1, 0), 0);  // end of stream: the socket is gone
  waiter.join();
  EXPECT_TRUE(CloseHandle(port));
}

}  // namespace
