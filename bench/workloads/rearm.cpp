// Workload 2b: kernel entries per call. K ready sockets, registered one-shot
// level-triggered; every call re-arms the K taken by the previous one and
// waits for the next K, the pattern SPEC R7.2 is about. psn (C++ interface)
// on each backend against raw epoll, which needs K epoll_ctl calls and an
// epoll_wait. Reports system calls per call (traced warm-up), psn's own
// kernel-entry counter per call, and time per event.
#include <sys/epoll.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "harness.hpp"
#include "psn/psn.hpp"

namespace bench {
namespace {

struct ready_pairs {
  std::vector<int> rd, wr;
  explicit ready_pairs(int k) {
    for (int i = 0; i < k; ++i) {
      int fds[2];
      make_socketpair(fds);
      rd.push_back(fds[0]);
      wr.push_back(fds[1]);
      BENCH_CHECK(::send(fds[1], "x", 1, 0) == 1, "send");  // stays unread: always ready
    }
  }
  ~ready_pairs() {
    for (int fd : rd) ::close(fd);
    for (int fd : wr) ::close(fd);
  }
};

// Runs `calls` calls; returns seconds. Every call must return all K.
double raw_epoll(const ready_pairs& p, int calls) {
  const int k = static_cast<int>(p.rd.size());
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  for (int i = 0; i < k; ++i) {
    epoll_event ev{EPOLLIN | EPOLLONESHOT, {.u64 = static_cast<std::uint64_t>(i)}};
    BENCH_CHECK(::epoll_ctl(ep, EPOLL_CTL_ADD, p.rd[static_cast<std::size_t>(i)], &ev) == 0, "add");
  }
  std::vector<epoll_event> got(static_cast<std::size_t>(k));
  int n = ::epoll_wait(ep, got.data(), k, -1);  // the first batch, untimed
  auto t0 = clock::now();
  for (int c = 0; c < calls; ++c) {
    for (int j = 0; j < n; ++j) {
      epoll_event ev{EPOLLIN | EPOLLONESHOT, got[static_cast<std::size_t>(j)].data};
      ::epoll_ctl(ep, EPOLL_CTL_MOD, p.rd[got[static_cast<std::size_t>(j)].data.u64], &ev);
    }
    n = ::epoll_wait(ep, got.data(), k, -1);
    BENCH_CHECK(n == k, "raw epoll: %d of %d ready", n, k);
  }
  double s = seconds_between(t0, clock::now());
  ::close(ep);
  return s;
}

double with_psn(const ready_pairs& p, int calls, psn::backend b, double* entries_per_call) {
  const std::size_t k = p.rd.size();
  psn::port port = psn::port::create({.concurrency = 1, .backend = b});
  std::vector<psn::registration> regs;
  for (std::size_t i = 0; i < k; ++i)
    regs.push_back(psn::registration::enable(p.rd[i], reinterpret_cast<void*>(i), psn::event::in,
                                             psn::trigger::level | psn::trigger::oneshot));
  BENCH_CHECK(!port.apply(regs), "psn: register");
  std::vector<psn::completion> out(k);
  auto got = port.wait(out, psn::infinite);  // the first batch, untimed
  const psn::port_stats before = port.stats();
  auto t0 = clock::now();
  for (int c = 0; c < calls; ++c) {
    for (std::size_t j = 0; j < got.size(); ++j) {
      const auto i = reinterpret_cast<std::uintptr_t>(got[j].key);
      regs[j] = psn::registration::enable(p.rd[i], got[j].key, psn::event::in,
                                          psn::trigger::level | psn::trigger::oneshot);
    }
    got = port.process(std::span(regs).first(got.size()), out, psn::infinite);
    BENCH_CHECK(got.size() == k, "psn: %zu of %zu ready", got.size(), k);
  }
  double s = seconds_between(t0, clock::now());
  *entries_per_call = static_cast<double>(port.stats().kernel_entries - before.kernel_entries) /
                      static_cast<double>(calls);
  return s;
}

}  // namespace

void run_rearm(const options& o, results& out) {
  struct variant {
    const char* name;
    int which;  // 0 raw epoll, 1 psn on epoll, 2 psn on io_uring
  };
  std::vector<variant> vs{{"epoll", 0}};
  if (o.wants_impl("psn-c++/epoll")) vs.push_back({"psn-c++/epoll", 1});
  if (psn_io_uring_available() && o.wants_impl("psn-c++/io_uring"))
    vs.push_back({"psn-c++/io_uring", 2});
  syscall_counter counter;
  for (int k : {1, 16, 256}) {
    const std::string params = "K=" + std::to_string(k) + " re-arms + wait";
    const int calls = o.quick ? 2000 / k + 200 : 20000 / k + 2000;
    std::fprintf(stderr, "[rearm %s]", params.c_str());
    ready_pairs p(k);
    auto one = [&](const variant& v, double* entries) {
      if (v.which == 0) return raw_epoll(p, calls);
      return with_psn(p, calls, v.which == 1 ? psn::backend::epoll : psn::backend::io_uring,
                      entries);
    };
    for (const variant& v : vs) {  // untimed, traced
      watchdog(120, "rearm " + params + " " + v.name + " (warm-up, traced)");
      double entries = 0;
      counter.start();
      one(v, &entries);
      const std::uint64_t n = counter.stop();
      if (counter.ok())
        out.add("rearm", params, v.name, "syscalls/call", better::lower,
                static_cast<double>(n) / calls);
      if (v.which != 0)
        out.add("rearm", params, v.name, "kernel entries/call (counter)", better::lower, entries);
    }
    for (int round = 0; round < o.rounds; ++round) {
      std::fprintf(stderr, " %d", round + 1);
      for (const variant& v : vs) {
        watchdog(120, "rearm " + params + " " + v.name);
        double entries = 0;
        const double s = one(v, &entries);
        out.add("rearm", params, v.name, "ns/event", better::lower,
                s * 1e9 / (static_cast<double>(calls) * k));
      }
    }
    watchdog(0, "");
    std::fputc('\n', stderr);
  }
  for (const char* peer : {"libevent", "libev", "libuv", "asio"})
    out.skip("rearm", "all", peer,
             "has no call that applies registration changes and waits together (the oneshot "
             "rows show the same work through its own API)");
  out.note(
      "rearm: syscalls/call counts the calling thread in a traced warm-up pass, "
      "setup included; the counter row is psn's port_stats::kernel_entries per call, "
      "timed calls only");
}

}  // namespace bench
