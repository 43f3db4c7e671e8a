// psn through its Windows-named C interface, used as a Windows program
// would: ProcessSocketNotifications applies the re-arms of the previous
// batch and waits for the next one in the same call.
#include <unistd.h>

#include <cstring>
#include <thread>

#include "bench.hpp"
#include "harness.hpp"
#include "psn/psn.h"

namespace bench {
namespace {

constexpr ULONG kBatch = 128;

// The backend of the next port; the C interface chooses it through PSN_BACKEND.
psn_backend g_backend = psn_backend::epoll;

HANDLE new_port(DWORD threads) {
  ::setenv("PSN_BACKEND", g_backend == psn_backend::epoll ? "epoll" : "io_uring", 1);
  HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, threads);
  ::unsetenv("PSN_BACKEND");
  BENCH_CHECK(port != nullptr, "CreateIoCompletionPort: error %u", GetLastError());
  return port;
}

PVOID key_of(std::size_t i) {
  return reinterpret_cast<PVOID>(static_cast<std::uintptr_t>(i));
}

// ---- workloads 1, 2 and 4 ----------------------------------------------------

// Pair i's read end, watched for IN with key i.
SOCK_NOTIFY_REGISTRATION watch_in(const std::vector<int>& rd, std::size_t i, UINT8 triggers) {
  return {static_cast<SOCKET>(rd[i]), key_of(i), SOCK_NOTIFY_REGISTER_EVENT_IN,
          SOCK_NOTIFY_OP_ENABLE,      triggers,  0};
}

// A port with every read end of a ring registered (not timed), closed with
// the loop that owns it.
class ring_port {
 public:
  ring_port(const std::vector<int>& rd, DWORD threads, UINT8 triggers) : h_(new_port(threads)) {
    std::vector<SOCK_NOTIFY_REGISTRATION> regs(rd.size());
    for (std::size_t i = 0; i < regs.size(); ++i) regs[i] = watch_in(rd, i, triggers);
    DWORD rc = ProcessSocketNotifications(h_, static_cast<UINT32>(regs.size()), regs.data(), 0, 0,
                                          nullptr, nullptr);
    BENCH_CHECK(rc == ERROR_SUCCESS, "ProcessSocketNotifications (register): %u", rc);
    for (const auto& e : regs)
      BENCH_CHECK(e.registrationResult == ERROR_SUCCESS, "registration of %d: %u",
                  static_cast<int>(e.socket), e.registrationResult);
  }
  ~ring_port() { CloseHandle(h_); }
  ring_port(const ring_port&) = delete;
  ring_port& operator=(const ring_port&) = delete;

  HANDLE handle() const { return h_; }
  bool counts(loop_counts& c) const {
    c = psn_port_counts(reinterpret_cast<std::uintptr_t>(h_));
    return true;
  }

  // One ProcessSocketNotifications of a dispatch loop: applies the nrearm
  // re-arms of the last batch (each checked, nrearm reset) and waits for up
  // to `max` notifications. Inlined so the timed loops make the same calls
  // as when it was written out in each.
  [[gnu::always_inline]] UINT32 process(SOCK_NOTIFY_REGISTRATION* rearm, UINT32& nrearm,
                                        OVERLAPPED_ENTRY* got, ULONG max) {
    UINT32 n = 0;
    DWORD rc =
        ProcessSocketNotifications(h_, nrearm, nrearm ? rearm : nullptr, INFINITE, max, got, &n);
    BENCH_CHECK(rc == ERROR_SUCCESS, "ProcessSocketNotifications: %u", rc);
    for (UINT32 k = 0; k < nrearm; ++k)
      BENCH_CHECK(rearm[k].registrationResult == ERROR_SUCCESS, "re-arm: %u",
                  rearm[k].registrationResult);
    nrearm = 0;
    return n;
  }

 private:
  HANDLE h_;
};

class psn_c_ring final : public ring_loop {
 public:
  psn_c_ring(ring& r, arm mode) : port_(r.rd, 1, triggers_of(mode)), triggers_(triggers_of(mode)) {}
  bool own_counts(loop_counts& c) const override { return port_.counts(c); }

  void run(ring& r) override {
    const bool oneshot = triggers_ & SOCK_NOTIFY_TRIGGER_ONESHOT;
    OVERLAPPED_ENTRY got[kBatch];
    SOCK_NOTIFY_REGISTRATION rearm[kBatch];
    UINT32 nrearm = 0;
    while (!r.done()) {
      const UINT32 n = port_.process(rearm, nrearm, got, kBatch);
      for (UINT32 k = 0; k < n; ++k) {
        const std::size_t i = got[k].lpCompletionKey;
        const UINT32 events = SocketNotificationRetrieveEvents(&got[k]);
        BENCH_CHECK(events == SOCK_NOTIFY_EVENT_IN, "unexpected events %#x", events);
        r.on_readable(i);
        if (oneshot) rearm[nrearm++] = watch_in(r.rd, i, triggers_);
      }
    }
  }

 private:
  static UINT8 triggers_of(arm mode) {
    return SOCK_NOTIFY_TRIGGER_LEVEL |
           (mode == arm::oneshot ? SOCK_NOTIFY_TRIGGER_ONESHOT : SOCK_NOTIFY_TRIGGER_PERSISTENT);
  }

  ring_port port_;
  UINT8 triggers_;
};

std::unique_ptr<ring_loop> make_ring(ring& r, arm mode) {
  return std::make_unique<psn_c_ring>(r, mode);
}

// oneshot4: T threads on one port, each re-arming in its next
// ProcessSocketNotifications what it took in the last one, as a Windows
// server using ProcessSocketNotifications from a thread pool does. Stopped
// by one posted packet per thread.
constexpr ULONG_PTR kStopKey = ~ULONG_PTR{0};

class psn_c_shared_ring final : public shared_ring_loop {
 public:
  psn_c_shared_ring(shared_ring& r, int threads)
      : port_(r.rd, static_cast<DWORD>(threads), kTriggers), threads_(threads) {}
  bool own_counts(loop_counts& c) const override { return port_.counts(c); }

  void run(shared_ring& r) override {
    on_threads(threads_, [&] { serve(r); });
  }

 private:
  static constexpr UINT8 kTriggers = SOCK_NOTIFY_TRIGGER_LEVEL | SOCK_NOTIFY_TRIGGER_ONESHOT;

  void stop_one() {
    BENCH_CHECK(PostQueuedCompletionStatus(port_.handle(), 0, kStopKey, nullptr),
                "PostQueuedCompletionStatus: %u", GetLastError());
  }

  void serve(shared_ring& r) {
    shared_ring::tally t;
    OVERLAPPED_ENTRY got[kSharedBatch];
    SOCK_NOTIFY_REGISTRATION rearm[kSharedBatch];
    UINT32 nrearm = 0;
    for (;;) {
      const UINT32 n = port_.process(rearm, nrearm, got, kSharedBatch);
      int stops = 0;
      for (UINT32 k = 0; k < n; ++k) {
        if (got[k].lpCompletionKey == kStopKey) {
          ++stops;
          continue;
        }
        const std::size_t i = got[k].lpCompletionKey;
        const UINT32 events = SocketNotificationRetrieveEvents(&got[k]);
        BENCH_CHECK(events == SOCK_NOTIFY_EVENT_IN, "unexpected events %#x", events);
        if (r.on_readable(i, t))
          for (int s = 0; s < threads_; ++s) stop_one();
        rearm[nrearm++] = watch_in(r.rd, i, kTriggers);
      }
      if (stops > 0) {
        // One stop packet each: hand on the ones this batch took for others.
        for (int s = 1; s < stops; ++s) stop_one();
        break;
      }
    }
    r.add(t);
  }

  ring_port port_;
  int threads_;
};

std::unique_ptr<shared_ring_loop> make_shared_ring(shared_ring& r, int threads) {
  return std::make_unique<psn_c_shared_ring>(r, threads);
}

// ---- workload 3 ---------------------------------------------------------------------

double packets_one_thread(std::uint64_t n) {
  HANDLE port = new_port(1);
  auto t0 = clock::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    BENCH_CHECK(PostQueuedCompletionStatus(port, static_cast<DWORD>(i), 7, nullptr),
                "PostQueuedCompletionStatus: %u", GetLastError());
    DWORD bytes = 0;
    ULONG_PTR key = 0;
    LPOVERLAPPED ov = nullptr;
    BENCH_CHECK(GetQueuedCompletionStatus(port, &bytes, &key, &ov, INFINITE),
                "GetQueuedCompletionStatus: %u", GetLastError());
    BENCH_CHECK(bytes == static_cast<DWORD>(i) && key == 7, "psn: wrong packet");
  }
  double s = seconds_between(t0, clock::now());
  CloseHandle(port);
  return s * 1e9 / static_cast<double>(n);
}

double packets_two_threads(std::uint64_t n) {
  HANDLE port = new_port(0);
  auto t0 = clock::now();
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < n; ++i)
      BENCH_CHECK(PostQueuedCompletionStatus(port, static_cast<DWORD>(i), 7, nullptr),
                  "PostQueuedCompletionStatus: %u", GetLastError());
  });
  OVERLAPPED_ENTRY batch[64];
  for (std::uint64_t got = 0; got < n;) {
    ULONG k = 0;
    BENCH_CHECK(GetQueuedCompletionStatusEx(port, batch, 64, &k, INFINITE, FALSE),
                "GetQueuedCompletionStatusEx: %u", GetLastError());
    for (ULONG j = 0; j < k; ++j)
      BENCH_CHECK(batch[j].dwNumberOfBytesTransferred == static_cast<DWORD>(got + j),
                  "psn: packets out of order");
    got += k;
  }
  double s = seconds_between(t0, clock::now());
  producer.join();
  CloseHandle(port);
  return s * 1e9 / static_cast<double>(n);
}

double packets_ping_pong(std::uint64_t n) {
  HANDLE ping = new_port(1), pong = new_port(1);
  std::thread echo([&] {
    for (;;) {
      DWORD bytes;
      ULONG_PTR key;
      LPOVERLAPPED ov;
      BENCH_CHECK(GetQueuedCompletionStatus(ping, &bytes, &key, &ov, INFINITE),
                  "GetQueuedCompletionStatus: %u", GetLastError());
      if (key == 0) return;
      PostQueuedCompletionStatus(pong, bytes, key, ov);
    }
  });
  std::vector<double> rtt;
  rtt.reserve(n);
  for (std::uint64_t i = 0; i < n + 100; ++i) {  // the first 100 warm up
    auto t0 = clock::now();
    PostQueuedCompletionStatus(ping, static_cast<DWORD>(i), 1, nullptr);
    DWORD bytes;
    ULONG_PTR key;
    LPOVERLAPPED ov;
    BENCH_CHECK(GetQueuedCompletionStatus(pong, &bytes, &key, &ov, INFINITE),
                "GetQueuedCompletionStatus: %u", GetLastError());
    auto t1 = clock::now();
    BENCH_CHECK(bytes == static_cast<DWORD>(i), "psn: wrong packet");
    if (i >= 100) rtt.push_back(seconds_between(t0, t1) * 1e9);
  }
  PostQueuedCompletionStatus(ping, 0, 0, nullptr);
  echo.join();
  CloseHandle(ping);
  CloseHandle(pong);
  return median_of(rtt) / 2;
}

template <psn_backend B>
const packet_bench kPackets{with_backend<B, &g_backend, packets_one_thread>,
                            with_backend<B, &g_backend, packets_two_threads>,
                            with_backend<B, &g_backend, packets_ping_pong>};

// ---- workload 5 ---------------------------------------------------------------------

SOCK_NOTIFY_REGISTRATION watch(echo_conn* c, UINT16 filter) {
  return {static_cast<SOCKET>(c->fd),
          c,
          filter,
          SOCK_NOTIFY_OP_ENABLE,
          SOCK_NOTIFY_TRIGGER_LEVEL | SOCK_NOTIFY_TRIGGER_PERSISTENT,
          0};
}

void echo(int listen_fd, int connections) {
  HANDLE port = new_port(1);
  std::vector<std::unique_ptr<echo_conn>> conns;
  std::vector<SOCK_NOTIFY_REGISTRATION> changes;
  changes.push_back({static_cast<SOCKET>(listen_fd), nullptr, SOCK_NOTIFY_REGISTER_EVENT_IN,
                     SOCK_NOTIFY_OP_ENABLE,
                     SOCK_NOTIFY_TRIGGER_LEVEL | SOCK_NOTIFY_TRIGGER_PERSISTENT, 0});
  std::vector<int> fresh;
  OVERLAPPED_ENTRY got[kBatch];
  int closed = 0;
  while (closed < connections) {
    UINT32 n = 0;
    DWORD rc = ProcessSocketNotifications(port, static_cast<UINT32>(changes.size()),
                                          changes.empty() ? nullptr : changes.data(), INFINITE,
                                          kBatch, got, &n);
    BENCH_CHECK(rc == ERROR_SUCCESS, "ProcessSocketNotifications: %u", rc);
    for (const auto& e : changes)
      BENCH_CHECK(e.registrationResult == ERROR_SUCCESS, "registration: %u", e.registrationResult);
    changes.clear();
    for (UINT32 k = 0; k < n; ++k) {
      auto* c = reinterpret_cast<echo_conn*>(got[k].lpCompletionKey);
      if (!c) {
        accept_all(listen_fd, fresh);
        for (int fd : fresh) {
          conns.push_back(std::make_unique<echo_conn>());
          conns.back()->fd = fd;
          changes.push_back(watch(conns.back().get(), SOCK_NOTIFY_REGISTER_EVENT_IN));
        }
        continue;
      }
      echo_conn::want w = c->step();
      if (w == c->watching) continue;
      if (w == echo_conn::want::close) {
        closesocket(c->fd);
        ++closed;
      } else {
        changes.push_back(watch(c, w == echo_conn::want::in ? SOCK_NOTIFY_REGISTER_EVENT_IN
                                                            : SOCK_NOTIFY_REGISTER_EVENT_OUT));
      }
      c->watching = w;
    }
  }
  closesocket(listen_fd);
  CloseHandle(port);
}

// ---- workload 6 ---------------------------------------------------------------------

// The readiness echo of workload 5 on connections already accepted: every
// socket registered level-triggered and persistent for IN, or for OUT while
// an echo waits for room; the changes of a batch go with the next wait.
class psn_c_oecho final : public oecho_server {
 public:
  psn_c_oecho(const std::vector<int>& fds, std::uint64_t bytes)
      : port_(new_port(1)), target_(bytes) {
    std::vector<SOCK_NOTIFY_REGISTRATION> regs;
    for (int fd : fds) {
      conns_.push_back(std::make_unique<conn>());
      conns_.back()->fd = fd;
      regs.push_back(watch(conns_.back().get(), SOCK_NOTIFY_REGISTER_EVENT_IN));
    }
    DWORD rc = ProcessSocketNotifications(port_, static_cast<UINT32>(regs.size()), regs.data(), 0,
                                          0, nullptr, nullptr);
    BENCH_CHECK(rc == ERROR_SUCCESS, "ProcessSocketNotifications (register): %u", rc);
    for (const auto& e : regs)
      BENCH_CHECK(e.registrationResult == ERROR_SUCCESS, "registration: %u", e.registrationResult);
  }
  ~psn_c_oecho() override {
    for (const auto& c : conns_) closesocket(static_cast<SOCKET>(c->fd));
    CloseHandle(port_);
  }

  void run() override {
    std::vector<SOCK_NOTIFY_REGISTRATION> changes;
    changes.reserve(kBatch);
    OVERLAPPED_ENTRY got[kBatch];
    std::size_t done = 0;
    while (done < conns_.size()) {
      UINT32 n = 0;
      DWORD rc = ProcessSocketNotifications(port_, static_cast<UINT32>(changes.size()),
                                            changes.empty() ? nullptr : changes.data(), INFINITE,
                                            kBatch, got, &n);
      BENCH_CHECK(rc == ERROR_SUCCESS, "ProcessSocketNotifications: %u", rc);
      for (const auto& e : changes)
        BENCH_CHECK(e.registrationResult == ERROR_SUCCESS, "registration: %u",
                    e.registrationResult);
      changes.clear();
      for (UINT32 k = 0; k < n; ++k) {
        auto* c = static_cast<conn*>(reinterpret_cast<echo_conn*>(got[k].lpCompletionKey));
        echo_conn::want w = c->step();
        BENCH_CHECK(w != echo_conn::want::close, "psn oecho: a connection ended early");
        if (c->echoed == target_ && w == echo_conn::want::in && !c->finished) {
          c->finished = true;
          ++done;
        }
        if (w == c->watching) continue;
        changes.push_back(watch(c, w == echo_conn::want::in ? SOCK_NOTIFY_REGISTER_EVENT_IN
                                                            : SOCK_NOTIFY_REGISTER_EVENT_OUT));
        c->watching = w;
      }
    }
    // Changes of the last batch (a connection back to IN) are left unapplied:
    // the port is closed next.
  }
  std::uint64_t echoed() const override {
    std::uint64_t n = 0;
    for (const auto& c : conns_) n += c->echoed;
    return n;
  }

 private:
  struct conn : echo_conn {
    bool finished = false;
  };
  HANDLE port_;
  std::uint64_t target_;
  std::vector<std::unique_ptr<conn>> conns_;
};

std::unique_ptr<oecho_server> make_oecho(const std::vector<int>& fds, std::uint64_t bytes) {
  return std::make_unique<psn_c_oecho>(fds, bytes);
}

template <psn_backend B>
const impl on_backend{
    B == psn_backend::epoll ? "psn-c/epoll" : "psn-c/io_uring",
    with_backend<B, &g_backend, make_ring>,
    nullptr,
    &kPackets<B>,
    nullptr,
    with_backend<B, &g_backend, echo>,
    nullptr,
    with_backend<B, &g_backend, make_shared_ring>,
    with_backend<B, &g_backend, make_oecho>,
    "readiness: ProcessSocketNotifications, level-triggered persistent, recv/send, batches "
    "of 128",
};

}  // namespace

const impl psn_c_impl = on_backend<psn_backend::epoll>;
const impl psn_c_uring_impl = on_backend<psn_backend::io_uring>;

bool psn_io_uring_available() {
  ::setenv("PSN_BACKEND", "io_uring", 1);
  HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
  ::unsetenv("PSN_BACKEND");
  if (port == nullptr) return false;
  CloseHandle(port);
  return true;
}

}  // namespace bench
