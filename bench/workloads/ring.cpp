// Workloads 1 (dispatch) and 2 (one-shot re-arm): the classic libevent
// benchmark. N socket pairs, A of them active; every byte read is passed to
// the next pair until W bytes have been passed on. Time per event, and
// system calls per event from an untimed, traced warm-up pass.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

#include "harness.hpp"

namespace bench {
namespace {

// The descriptors every implementation in a cell registers in turn.
struct socket_pairs {
  std::vector<int> rd, wr;
  explicit socket_pairs(int n) {
    rd.reserve(static_cast<std::size_t>(n));
    wr.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      int fds[2];
      make_socketpair(fds);
      rd.push_back(fds[0]);
      wr.push_back(fds[1]);
    }
  }
  ~socket_pairs() {
    for (int fd : rd) ::close(fd);
    for (int fd : wr) ::close(fd);
  }
  socket_pairs(const socket_pairs&) = delete;
  socket_pairs& operator=(const socket_pairs&) = delete;

  // Bytes still queued anywhere: must be none between runs.
  std::size_t leftover() const {
    std::size_t left = 0;
    char buf[64];
    for (int fd : rd) {
      ssize_t n;
      while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) left += static_cast<std::size_t>(n);
    }
    return left;
  }
};

struct outcome {
  double seconds = 0;
  ring r;
};

outcome run_once(const impl& im, const socket_pairs& p, int active, std::uint64_t writes,
                 arm mode, syscall_counter* counter, std::uint64_t* syscalls) {
  outcome o;
  ring& r = o.r;
  r.rd = p.rd;
  r.wr = p.wr;
  r.writes_left = writes;
  r.target = static_cast<std::uint64_t>(active) + writes;
  auto loop = im.ring(r, mode);
  const std::size_t space = p.rd.size() / static_cast<std::size_t>(active);
  for (int k = 0; k < active; ++k)
    BENCH_CHECK(::send(p.wr[static_cast<std::size_t>(k) * space], "e", 1, MSG_NOSIGNAL) == 1,
                "send: %s", std::strerror(errno));
  if (counter) counter->start();
  auto t0 = clock::now();
  loop->run(r);
  auto t1 = clock::now();
  if (counter) *syscalls = counter->stop();
  loop.reset();
  o.seconds = seconds_between(t0, t1);
  // Every event accounted for: each byte sent was read exactly once.
  BENCH_CHECK(r.reads == r.target && r.writes_left == 0 && r.send_fails == 0,
              "%s: %llu of %llu bytes read, %llu writes left, %llu failed sends", im.name,
              static_cast<unsigned long long>(r.reads), static_cast<unsigned long long>(r.target),
              static_cast<unsigned long long>(r.writes_left),
              static_cast<unsigned long long>(r.send_fails));
  std::size_t left = p.leftover();
  BENCH_CHECK(left == 0, "%s: %zu bytes left unread after the run", im.name, left);
  return o;
}

std::string format_count(std::uint64_t n) {
  if (n % 1000000 == 0) return std::to_string(n / 1000000) + "M";
  if (n % 1000 == 0) return std::to_string(n / 1000) + "k";
  return std::to_string(n);
}

}  // namespace

void run_ring(const options& o, const std::vector<const impl*>& impls, results& out, arm mode) {
  const std::string wname = mode == arm::persistent ? "dispatch" : "oneshot";
  syscall_counter counter;
  if (!counter.ok()) out.note("syscalls/event: tracepoint counter unavailable (" +
                              counter.why_not() + "); only raw epoll's own count is reported");
  const int max_pairs = (o.fd_limit - 64) / 2;
  std::vector<int> done_sizes;
  for (int wanted : o.ring_sizes) {
    int n = wanted;
    if (n > max_pairs) {
      n = max_pairs;
      out.note(wname + ": N=" + std::to_string(wanted) + " reduced to " + std::to_string(n) +
               " socket pairs (RLIMIT_NOFILE " + std::to_string(o.fd_limit) + ")");
    }
    if (std::find(done_sizes.begin(), done_sizes.end(), n) != done_sizes.end()) continue;
    done_sizes.push_back(n);
    const int active = std::min(o.ring_active, n);
    const std::string params = "N=" + std::to_string(n) + " A=" + std::to_string(active) +
                               " W=" + format_count(o.ring_writes);
    socket_pairs pairs(n);
    std::fprintf(stderr, "[%s %s]", wname.c_str(), params.c_str());

    // Warm-up, traced: system calls per event.
    for (const impl* im : impls) {
      if (!im->ring) continue;
      watchdog(120, wname + " " + params + " " + im->name + " (warm-up)");
      std::uint64_t calls = 0;
      outcome w = run_once(*im, pairs, active, o.ring_writes / 2, mode,
                           counter.ok() ? &counter : nullptr, &calls);
      const double per = 1.0 / static_cast<double>(w.r.reads);
      if (counter.ok()) {
        out.add(wname, params, im->name, "syscalls/event", better::lower,
                static_cast<double>(calls) * per);
      }
      if (std::string(im->name) == "epoll") {
        const std::uint64_t own = w.r.io_syscalls + w.r.own_syscalls;
        if (!counter.ok()) {
          out.add(wname, params, im->name, "syscalls/event", better::lower,
                  static_cast<double>(own) * per);
        } else if (std::fabs(static_cast<double>(own) - static_cast<double>(calls)) >
                   0.01 * static_cast<double>(own) + 2) {
          out.note(wname + " " + params + ": raw epoll counted " + std::to_string(own) +
                   " syscalls itself, the tracepoint " + std::to_string(calls));
        }
      }
    }
    // Timed rounds, interleaved.
    std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> spurious;  // impl: of, in
    for (int round = 0; round < o.rounds; ++round) {
      std::fprintf(stderr, " %d", round + 1);
      for (const impl* im : impls) {
        if (!im->ring) continue;
        watchdog(120, wname + " " + params + " " + im->name);
        outcome m = run_once(*im, pairs, active, o.ring_writes, mode, nullptr, nullptr);
        out.add(wname, params, im->name, "ns/event", better::lower,
                m.seconds * 1e9 / static_cast<double>(m.r.reads));
        spurious[im->name].first += m.r.spurious;
        spurious[im->name].second += m.r.wakeups;
      }
    }
    for (const auto& [name, s] : spurious)
      if (s.first > 0)
        out.note(wname + " " + params + " " + name + ": " + std::to_string(s.first) + " of " +
                 std::to_string(s.second) +
                 " readiness callbacks found nothing to read");
    watchdog(0, "");
    std::fputc('\n', stderr);
  }
  for (const impl* im : impls)
    if (im->ring_note) out.note(std::string(im->name) + " (dispatch, oneshot, memory): " + im->ring_note);
}

}  // namespace bench
