// psn through its C++ interface: psn::port::process with spans, the
// non-throwing overloads on the hot path.
#include <cstring>
#include <thread>

#include "bench.hpp"
#include "harness.hpp"
#include "psn/psn.hpp"

namespace bench {
namespace {

constexpr std::size_t kBatch = 128;

// The backend of the next port.
psn_backend g_backend = psn_backend::epoll;

psn::port new_port(unsigned concurrency) {
  std::error_code ec;
  psn::port p = psn::port::create(
      {concurrency, g_backend == psn_backend::epoll ? psn::backend::epoll : psn::backend::io_uring},
      ec);
  BENCH_CHECK(!ec, "psn::port::create: %s", ec.message().c_str());
  return p;
}

void* key_of(std::size_t i) {
  return reinterpret_cast<void*>(static_cast<std::uintptr_t>(i));
}

// ---- workloads 1, 2 and 4 ----------------------------------------------------

// Registers every read end of a ring for IN, key i for pair i (not timed).
void register_all(psn::port& port, const std::vector<int>& rd, psn::triggers triggers) {
  std::vector<psn::registration> regs;
  regs.reserve(rd.size());
  for (std::size_t i = 0; i < rd.size(); ++i)
    regs.push_back(psn::registration::enable(rd[i], key_of(i), psn::event::in, triggers));
  std::error_code ec = port.apply(regs);
  BENCH_CHECK(!ec, "psn::port::apply: %s", ec.message().c_str());
  for (const auto& e : regs)
    BENCH_CHECK(!e.error(), "registration of %d: %s", static_cast<int>(e.socket),
                e.error().message().c_str());
}

// One process() of a dispatch loop: applies the nrearm re-arms of the last
// batch (each checked, nrearm reset) and waits for completions into `out`.
// Inlined so the timed loops make the same calls as when it was written out
// in each.
[[gnu::always_inline]] inline std::span<psn::completion> process(psn::port& port,
                                                                 psn::registration* rearm,
                                                                 std::size_t& nrearm,
                                                                 std::span<psn::completion> out,
                                                                 std::error_code& ec) {
  auto got = port.process(std::span(rearm, nrearm), out, psn::infinite, ec);
  BENCH_CHECK(!ec, "psn::port::process: %s", ec.message().c_str());
  for (std::size_t k = 0; k < nrearm; ++k)
    BENCH_CHECK(rearm[k].result == 0, "re-arm: %u", rearm[k].result);
  nrearm = 0;
  return got;
}

class psn_cxx_ring final : public ring_loop {
 public:
  psn_cxx_ring(ring& r, arm mode)
      : port_(new_port(1)),
        triggers_(psn::trigger::level |
                  (mode == arm::oneshot ? psn::trigger::oneshot : psn::trigger::persistent)) {
    register_all(port_, r.rd, triggers_);
  }

  bool own_counts(loop_counts& c) const override {
    c = psn_port_counts(port_.native_handle());
    return true;
  }

  void run(ring& r) override {
    const bool oneshot = triggers_.has(psn::trigger::oneshot);
    psn::completion out[kBatch];
    psn::registration rearm[kBatch];
    std::size_t nrearm = 0;
    std::error_code ec;
    while (!r.done()) {
      for (const psn::completion& c : process(port_, rearm, nrearm, out, ec)) {
        const std::size_t i = reinterpret_cast<std::uintptr_t>(c.key);
        BENCH_CHECK(c.events() == psn::event::in, "unexpected events %#x", c.bytes);
        r.on_readable(i);
        if (oneshot)
          rearm[nrearm++] = psn::registration::enable(r.rd[i], c.key, psn::event::in, triggers_);
      }
    }
  }

 private:
  psn::port port_;
  psn::triggers triggers_;
};

std::unique_ptr<ring_loop> make_ring(ring& r, arm mode) {
  return std::make_unique<psn_cxx_ring>(r, mode);
}

// oneshot4: as psn_c_shared_ring, through psn::port::process.
void* const kStopKey = reinterpret_cast<void*>(~std::uintptr_t{0});

class psn_cxx_shared_ring final : public shared_ring_loop {
 public:
  psn_cxx_shared_ring(shared_ring& r, int threads)
      : port_(new_port(static_cast<unsigned>(threads))), threads_(threads) {
    register_all(port_, r.rd, kTriggers);
  }
  bool own_counts(loop_counts& c) const override {
    c = psn_port_counts(port_.native_handle());
    return true;
  }

  void run(shared_ring& r) override {
    on_threads(threads_, [&] { serve(r); });
  }

 private:
  static constexpr psn::triggers kTriggers = psn::trigger::level | psn::trigger::oneshot;

  void stop_one() {
    std::error_code ec = port_.post(0, kStopKey);
    BENCH_CHECK(!ec, "psn::port::post: %s", ec.message().c_str());
  }

  void serve(shared_ring& r) {
    shared_ring::tally t;
    psn::completion out[kSharedBatch];
    psn::registration rearm[kSharedBatch];
    std::size_t nrearm = 0;
    std::error_code ec;
    for (;;) {
      int stops = 0;
      for (const psn::completion& c : process(port_, rearm, nrearm, out, ec)) {
        if (c.key == kStopKey) {
          ++stops;
          continue;
        }
        const std::size_t i = reinterpret_cast<std::uintptr_t>(c.key);
        BENCH_CHECK(c.events() == psn::event::in, "unexpected events %#x", c.bytes);
        if (r.on_readable(i, t))
          for (int s = 0; s < threads_; ++s) stop_one();
        rearm[nrearm++] = psn::registration::enable(r.rd[i], c.key, psn::event::in, kTriggers);
      }
      if (stops > 0) {
        // One stop packet each: hand on the ones this batch took for others.
        for (int s = 1; s < stops; ++s) stop_one();
        break;
      }
    }
    r.add(t);
  }

  psn::port port_;
  int threads_;
};

std::unique_ptr<shared_ring_loop> make_shared_ring(shared_ring& r, int threads) {
  return std::make_unique<psn_cxx_shared_ring>(r, threads);
}

// ---- workload 3 ---------------------------------------------------------------------

double packets_one_thread(std::uint64_t n) {
  psn::port port = new_port(1);
  std::error_code ec;
  auto t0 = clock::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    ec = port.post(static_cast<std::uint32_t>(i), key_of(7));
    BENCH_CHECK(!ec, "psn::port::post: %s", ec.message().c_str());
    psn::completion c;
    auto got = port.wait(std::span(&c, 1), psn::infinite, ec);
    BENCH_CHECK(got.size() == 1 && c.bytes == static_cast<std::uint32_t>(i) && c.key == key_of(7),
                "psn::port::wait: wrong packet");
  }
  return seconds_between(t0, clock::now()) * 1e9 / static_cast<double>(n);
}

double packets_two_threads(std::uint64_t n) {
  psn::port port = new_port(0);
  auto t0 = clock::now();
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < n; ++i)
      BENCH_CHECK(!port.post(static_cast<std::uint32_t>(i), key_of(7)), "psn::port::post");
  });
  psn::completion batch[64];
  std::error_code ec;
  for (std::uint64_t got = 0; got < n;) {
    auto some = port.wait(batch, psn::infinite, ec);
    BENCH_CHECK(!ec, "psn::port::wait: %s", ec.message().c_str());
    for (std::size_t j = 0; j < some.size(); ++j)
      BENCH_CHECK(some[j].bytes == static_cast<std::uint32_t>(got + j), "psn: out of order");
    got += some.size();
  }
  double s = seconds_between(t0, clock::now());
  producer.join();
  return s * 1e9 / static_cast<double>(n);
}

double packets_ping_pong(std::uint64_t n) {
  psn::port ping = new_port(1), pong = new_port(1);
  std::thread echo([&] {
    std::error_code ec;
    for (;;) {
      psn::completion c;
      auto got = ping.wait(std::span(&c, 1), psn::infinite, ec);
      BENCH_CHECK(got.size() == 1, "psn::port::wait: %s", ec.message().c_str());
      if (c.key == nullptr) return;
      pong.post(c.bytes, c.key, c.overlapped);
    }
  });
  std::vector<double> rtt;
  rtt.reserve(n);
  std::error_code ec;
  for (std::uint64_t i = 0; i < n + 100; ++i) {  // the first 100 warm up
    auto t0 = clock::now();
    ping.post(static_cast<std::uint32_t>(i), key_of(1));
    psn::completion c;
    auto got = pong.wait(std::span(&c, 1), psn::infinite, ec);
    auto t1 = clock::now();
    BENCH_CHECK(got.size() == 1 && c.bytes == static_cast<std::uint32_t>(i), "psn: wrong packet");
    if (i >= 100) rtt.push_back(seconds_between(t0, t1) * 1e9);
  }
  ping.post(0, nullptr);
  echo.join();
  return median_of(rtt) / 2;
}

template <psn_backend B>
const packet_bench kPackets{with_backend<B, &g_backend, packets_one_thread>,
                            with_backend<B, &g_backend, packets_two_threads>,
                            with_backend<B, &g_backend, packets_ping_pong>};

// ---- workload 5 ---------------------------------------------------------------------

psn::registration watch(echo_conn* c, psn::events filter) {
  return psn::registration::enable(c->fd, c, filter,
                                   psn::trigger::level | psn::trigger::persistent);
}

void echo(int listen_fd, int connections) {
  psn::port port = new_port(1);
  std::vector<std::unique_ptr<echo_conn>> conns;
  std::vector<psn::registration> changes;
  changes.push_back(psn::registration::enable(listen_fd, nullptr, psn::event::in,
                                              psn::trigger::level | psn::trigger::persistent));
  std::vector<int> fresh;
  psn::completion out[kBatch];
  std::error_code ec;
  int closed = 0;
  while (closed < connections) {
    auto got = port.process(changes, out, psn::infinite, ec);
    BENCH_CHECK(!ec, "psn::port::process: %s", ec.message().c_str());
    for (const auto& e : changes)
      BENCH_CHECK(!e.error(), "registration: %s", e.error().message().c_str());
    changes.clear();
    for (const psn::completion& done : got) {
      auto* c = static_cast<echo_conn*>(done.key);
      if (!c) {
        accept_all(listen_fd, fresh);
        for (int fd : fresh) {
          conns.push_back(std::make_unique<echo_conn>());
          conns.back()->fd = fd;
          changes.push_back(watch(conns.back().get(), psn::event::in));
        }
        continue;
      }
      echo_conn::want w = c->step();
      if (w == c->watching) continue;
      if (w == echo_conn::want::close) {
        psn::close_socket(c->fd);
        ++closed;
      } else {
        changes.push_back(watch(c, w == echo_conn::want::in ? psn::event::in : psn::event::out));
      }
      c->watching = w;
    }
  }
  psn::close_socket(listen_fd);
}

template <psn_backend B>
const impl on_backend{
    B == psn_backend::epoll ? "psn-c++/epoll" : "psn-c++/io_uring",
    with_backend<B, &g_backend, make_ring>,
    nullptr,
    &kPackets<B>,
    nullptr,
    with_backend<B, &g_backend, echo>,
    nullptr,
    with_backend<B, &g_backend, make_shared_ring>,
};

}  // namespace

const impl psn_cxx_impl = on_backend<psn_backend::epoll>;
const impl psn_cxx_uring_impl = on_backend<psn_backend::io_uring>;

loop_counts psn_port_counts(std::uintptr_t handle) {
  const psn::port_stats s = psn::detail::stats(handle);
  return {s.kernel_entries, s.changes_applied};
}

}  // namespace bench
