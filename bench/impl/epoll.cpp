// Raw epoll, written as tightly as an epoll program can be: the floor every
// other implementation is measured against. Every system call it makes is
// also counted by hand (ring::own_syscalls, ring::io_syscalls), which
// cross-checks the tracepoint counter.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "bench.hpp"
#include "harness.hpp"

namespace bench {
namespace {

constexpr int kBatch = 128;

// ---- workloads 1, 2 and 4 ----------------------------------------------------

// Watches every read end of a ring for `events`, data i for pair i (not timed).
void add_all(int ep, const std::vector<int>& rd, std::uint32_t events) {
  for (std::size_t i = 0; i < rd.size(); ++i) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = i;
    BENCH_CHECK(::epoll_ctl(ep, EPOLL_CTL_ADD, rd[i], &ev) == 0, "epoll_ctl ADD: %s",
                std::strerror(errno));
  }
}

// Re-arms pair i's one-shot watch, counted in `c` (the ring or a thread's
// tally). Inlined so the timed loops make the same calls as when it was
// written out in each.
template <class Counts>
[[gnu::always_inline]] inline void rearm(int ep, int fd, std::uint64_t i, Counts& c) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLONESHOT;
  ev.data.u64 = i;
  ++c.own_syscalls;
  ++c.own_changes;
  BENCH_CHECK(::epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) == 0, "epoll_ctl MOD: %s",
              std::strerror(errno));
}

class epoll_ring final : public ring_loop {
 public:
  epoll_ring(ring& r, arm mode) : oneshot_(mode == arm::oneshot) {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    BENCH_CHECK(ep_ >= 0, "epoll_create1: %s", std::strerror(errno));
    add_all(ep_, r.rd, EPOLLIN | (oneshot_ ? EPOLLONESHOT : 0u));
  }
  ~epoll_ring() override { ::close(ep_); }

  void run(ring& r) override {
    epoll_event evs[kBatch];
    while (!r.done()) {
      int n = ::epoll_wait(ep_, evs, kBatch, -1);
      ++r.own_syscalls;
      if (n < 0) {
        BENCH_CHECK(errno == EINTR, "epoll_wait: %s", std::strerror(errno));
        continue;
      }
      for (int k = 0; k < n; ++k) {
        const std::size_t i = evs[k].data.u64;
        r.on_readable(i);
        if (oneshot_) rearm(ep_, r.rd[i], i, r);
      }
    }
  }

 private:
  int ep_ = -1;
  bool oneshot_;
};

std::unique_ptr<ring_loop> make_ring(ring& r, arm mode) {
  return std::make_unique<epoll_ring>(r, mode);
}

// oneshot4: T threads in epoll_wait on one set, each event re-armed by
// EPOLL_CTL_MOD right after its byte was handled, as a multi-threaded epoll
// server does. The stop signal is an eventfd in the set, level-triggered and
// never read, so every thread sees it.
class epoll_shared_ring final : public shared_ring_loop {
 public:
  epoll_shared_ring(shared_ring& r, int threads) : threads_(threads) {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    stop_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    BENCH_CHECK(ep_ >= 0 && stop_ >= 0, "epoll_create1/eventfd: %s", std::strerror(errno));
    epoll_event sev{};
    sev.events = EPOLLIN;
    sev.data.u64 = kStop;
    BENCH_CHECK(::epoll_ctl(ep_, EPOLL_CTL_ADD, stop_, &sev) == 0, "epoll_ctl ADD: %s",
                std::strerror(errno));
    add_all(ep_, r.rd, EPOLLIN | EPOLLONESHOT);
  }
  ~epoll_shared_ring() override {
    ::close(ep_);
    ::close(stop_);
  }

  void run(shared_ring& r) override {
    on_threads(threads_, [&] { serve(r); });
  }

 private:
  static constexpr std::uint64_t kStop = ~std::uint64_t{0};

  void serve(shared_ring& r) {
    shared_ring::tally t;
    epoll_event evs[kSharedBatch];
    for (;;) {
      int n = ::epoll_wait(ep_, evs, kSharedBatch, -1);
      ++t.own_syscalls;
      if (n < 0) {
        BENCH_CHECK(errno == EINTR, "epoll_wait: %s", std::strerror(errno));
        continue;
      }
      bool stop = false;
      for (int k = 0; k < n; ++k) {
        const std::uint64_t i = evs[k].data.u64;
        if (i == kStop) {
          stop = true;
          continue;
        }
        if (r.on_readable(i, t)) {
          std::uint64_t one = 1;
          ++t.own_syscalls;
          BENCH_CHECK(::write(stop_, &one, sizeof one) == sizeof one, "eventfd write");
        }
        rearm(ep_, r.rd[i], i, t);
      }
      if (stop) break;
    }
    r.add(t);
  }

  int ep_ = -1, stop_ = -1;
  int threads_;
};

std::unique_ptr<shared_ring_loop> make_shared_ring(shared_ring& r, int threads) {
  return std::make_unique<epoll_shared_ring>(r, threads);
}

// ---- workload 3: the eventfd + epoll baseline for user packets --------------------

// What an epoll program writes to get packets from other threads into its
// loop: a locked FIFO, and an eventfd in the epoll set that is written only
// when the loop is asleep. One consumer per queue.
class efd_queue {
 public:
  struct packet {
    std::uint32_t bytes;
    std::uintptr_t key;
    void* overlapped;
  };

  efd_queue() {
    efd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    BENCH_CHECK(efd_ >= 0 && ep_ >= 0, "eventfd/epoll_create1: %s", std::strerror(errno));
    epoll_event ev{};
    ev.events = EPOLLIN;
    BENCH_CHECK(::epoll_ctl(ep_, EPOLL_CTL_ADD, efd_, &ev) == 0, "epoll_ctl: %s",
                std::strerror(errno));
  }
  ~efd_queue() {
    ::close(ep_);
    ::close(efd_);
  }
  efd_queue(const efd_queue&) = delete;
  efd_queue& operator=(const efd_queue&) = delete;

  void post(const packet& p) {
    bool wake;
    {
      std::lock_guard<std::mutex> lock(mu_);
      q_.push_back(p);
      wake = sleeping_ && !woken_;
      if (wake) woken_ = true;
    }
    if (wake) {
      std::uint64_t one = 1;
      BENCH_CHECK(::write(efd_, &one, sizeof one) == sizeof one, "eventfd write");
    }
  }

  // Takes 1..cap packets, sleeping in epoll_wait while there are none.
  std::size_t take(packet* out, std::size_t cap) {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      std::size_t n = 0;
      while (n < cap && !q_.empty()) {
        out[n++] = q_.front();
        q_.pop_front();
      }
      if (n > 0) return n;
      sleeping_ = true;
      lock.unlock();
      epoll_event ev;
      while (::epoll_wait(ep_, &ev, 1, -1) < 0) BENCH_CHECK(errno == EINTR, "epoll_wait");
      std::uint64_t v;
      ssize_t ignored = ::read(efd_, &v, sizeof v);
      (void)ignored;
      lock.lock();
      sleeping_ = woken_ = false;
    }
  }

 private:
  std::mutex mu_;
  std::deque<packet> q_;
  bool sleeping_ = false;
  bool woken_ = false;
  int efd_ = -1, ep_ = -1;
};

double packets_one_thread(std::uint64_t n) {
  efd_queue q;
  auto t0 = clock::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    q.post({static_cast<std::uint32_t>(i), 7, nullptr});
    efd_queue::packet p;
    q.take(&p, 1);
    BENCH_CHECK(p.bytes == static_cast<std::uint32_t>(i) && p.key == 7, "efd_queue: wrong packet");
  }
  return seconds_between(t0, clock::now()) * 1e9 / static_cast<double>(n);
}

double packets_two_threads(std::uint64_t n) {
  efd_queue q;
  auto t0 = clock::now();
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < n; ++i) q.post({static_cast<std::uint32_t>(i), 7, nullptr});
  });
  efd_queue::packet batch[64];
  for (std::uint64_t got = 0; got < n;) {
    std::size_t k = q.take(batch, 64);
    for (std::size_t j = 0; j < k; ++j)
      BENCH_CHECK(batch[j].bytes == static_cast<std::uint32_t>(got + j), "efd_queue: out of order");
    got += k;
  }
  double s = seconds_between(t0, clock::now());
  producer.join();
  return s * 1e9 / static_cast<double>(n);
}

double packets_ping_pong(std::uint64_t n) {
  efd_queue ping, pong;
  std::thread echo([&] {
    for (;;) {
      efd_queue::packet p;
      ping.take(&p, 1);
      if (p.key == 0) return;
      pong.post(p);
    }
  });
  std::vector<double> rtt;
  rtt.reserve(n);
  for (std::uint64_t i = 0; i < n + 100; ++i) {  // the first 100 warm up
    auto t0 = clock::now();
    ping.post({static_cast<std::uint32_t>(i), 1, nullptr});
    efd_queue::packet p;
    pong.take(&p, 1);
    auto t1 = clock::now();
    BENCH_CHECK(p.bytes == static_cast<std::uint32_t>(i), "efd_queue: wrong packet");
    if (i >= 100) rtt.push_back(seconds_between(t0, t1) * 1e9);
  }
  ping.post({0, 0, nullptr});
  echo.join();
  return median_of(rtt) / 2;
}

const packet_bench kPackets{packets_one_thread, packets_two_threads, packets_ping_pong};

// ---- workload 5 ---------------------------------------------------------------------

void echo(int listen_fd, int connections) {
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  BENCH_CHECK(ep >= 0, "epoll_create1: %s", std::strerror(errno));
  epoll_event lev{};
  lev.events = EPOLLIN;
  lev.data.ptr = nullptr;  // the listening socket
  BENCH_CHECK(::epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &lev) == 0, "epoll_ctl: %s",
              std::strerror(errno));
  std::vector<std::unique_ptr<echo_conn>> conns;
  std::vector<int> fresh;
  int closed = 0;
  epoll_event evs[kBatch];
  while (closed < connections) {
    int n = ::epoll_wait(ep, evs, kBatch, -1);
    if (n < 0) {
      BENCH_CHECK(errno == EINTR, "epoll_wait: %s", std::strerror(errno));
      continue;
    }
    for (int k = 0; k < n; ++k) {
      auto* c = static_cast<echo_conn*>(evs[k].data.ptr);
      if (!c) {
        accept_all(listen_fd, fresh);
        for (int fd : fresh) {
          conns.push_back(std::make_unique<echo_conn>());
          conns.back()->fd = fd;
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.ptr = conns.back().get();
          BENCH_CHECK(::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0, "epoll_ctl: %s",
                      std::strerror(errno));
        }
        continue;
      }
      echo_conn::want w = c->step();
      if (w == c->watching) continue;
      if (w == echo_conn::want::close) {
        ::close(c->fd);  // also leaves the epoll set
        ++closed;
      } else {
        epoll_event ev{};
        ev.events = w == echo_conn::want::in ? EPOLLIN : EPOLLOUT;
        ev.data.ptr = c;
        BENCH_CHECK(::epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == 0, "epoll_ctl: %s",
                    std::strerror(errno));
      }
      c->watching = w;
    }
  }
  ::close(listen_fd);
  ::close(ep);
}

// ---- workload 6 ---------------------------------------------------------------------

// The echo of workload 5 on connections already accepted, each left alone
// once it has echoed its bytes: every socket level-triggered for IN, or for
// OUT while an echo waits for room.
class epoll_oecho final : public oecho_server {
 public:
  epoll_oecho(const std::vector<int>& fds, std::uint64_t bytes) : target_(bytes) {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    BENCH_CHECK(ep_ >= 0, "epoll_create1: %s", std::strerror(errno));
    for (int fd : fds) {
      conns_.push_back(std::make_unique<conn>());
      conns_.back()->fd = fd;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.ptr = conns_.back().get();
      BENCH_CHECK(::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) == 0, "epoll_ctl: %s",
                  std::strerror(errno));
    }
  }
  ~epoll_oecho() override {
    for (const auto& c : conns_) ::close(c->fd);
    ::close(ep_);
  }

  void run() override {
    std::size_t done = 0;
    epoll_event evs[kBatch];
    while (done < conns_.size()) {
      int n = ::epoll_wait(ep_, evs, kBatch, -1);
      if (n < 0) {
        BENCH_CHECK(errno == EINTR, "epoll_wait: %s", std::strerror(errno));
        continue;
      }
      for (int k = 0; k < n; ++k) {
        auto* c = static_cast<conn*>(evs[k].data.ptr);
        echo_conn::want w = c->step();
        BENCH_CHECK(w != echo_conn::want::close, "epoll oecho: a connection ended early");
        if (c->echoed == target_ && w == echo_conn::want::in && !c->finished) {
          c->finished = true;
          ++done;
        }
        if (w == c->watching) continue;
        epoll_event ev{};
        ev.events = w == echo_conn::want::in ? EPOLLIN : EPOLLOUT;
        ev.data.ptr = c;
        BENCH_CHECK(::epoll_ctl(ep_, EPOLL_CTL_MOD, c->fd, &ev) == 0, "epoll_ctl: %s",
                    std::strerror(errno));
        c->watching = w;
      }
    }
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
  std::uint64_t target_;
  int ep_ = -1;
  std::vector<std::unique_ptr<conn>> conns_;
};

std::unique_ptr<oecho_server> make_oecho(const std::vector<int>& fds, std::uint64_t bytes) {
  return std::make_unique<epoll_oecho>(fds, bytes);
}

}  // namespace

const impl epoll_impl{
    "epoll",
    make_ring,
    "epoll_wait batches of 128; one-shot: EPOLLONESHOT + EPOLL_CTL_MOD per event",
    &kPackets,
    nullptr,
    echo,
    nullptr,
    make_shared_ring,
    make_oecho,
    "recv/send, epoll_wait batches of 128, level-triggered",
};

}  // namespace bench
