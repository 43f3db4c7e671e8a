// Workloads 1 (dispatch) and 2 (one-shot re-arm): the classic libevent
// benchmark. N socket pairs, A of them active; every byte read is passed to
// the next pair until W bytes have been passed on. oneshot4 is workload 2
// with T threads on one port / epoll set.
//
// Reported per implementation:
//   - time per event over interleaved rounds (median, min, max);
//   - for psn, time relative to raw epoll as the median of per-pair ratios,
//     each pair run back to back in alternating order, so drift and noise
//     that last longer than a pair cancel out;
//   - kernel entries and epoll changes per event, counted (not timed) in a
//     traced warm-up pass: deterministic, so they show small differences
//     that time cannot;
//   - with --cost, user-space instructions per event under callgrind, one
//     child process per implementation.
#include <sys/wait.h>
#include <unistd.h>
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define PSN_BENCH_HAVE_CALLGRIND 1
#else
// Without the header --cost cannot bracket the run; it says so and stops.
#define CALLGRIND_TOGGLE_COLLECT \
  do {                           \
  } while (0)
#endif

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
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

  // Starts the A chains, spread evenly over the ring.
  void seed(int active) const {
    const std::size_t space = rd.size() / static_cast<std::size_t>(active);
    for (int k = 0; k < active; ++k)
      BENCH_CHECK(::send(wr[static_cast<std::size_t>(k) * space], "e", 1, MSG_NOSIGNAL) == 1,
                  "send: %s", std::strerror(errno));
  }
};

// How one run is measured besides its time.
struct probes {
  syscall_counter* counter = nullptr;  // traced: kernel_counts of the run
  bool instrument = false;             // under callgrind: collect the run only
};

struct outcome {
  double seconds = 0;
  std::uint64_t events = 0;  // bytes read
  std::uint64_t wakeups = 0, spurious = 0;
  kernel_counts kernel;   // with probes::counter
  bool have_own = false;  // the implementation's own counts, below
  loop_counts own;        // kernel entries (recv/send included) and changes of the run
};

// Brackets the timed part of a run.
struct timed {
  const probes& p;
  outcome& o;
  clock::time_point t0;
  timed(const probes& pr, outcome& out) : p(pr), o(out) {
    if (p.counter) p.counter->start();
    if (p.instrument) CALLGRIND_TOGGLE_COLLECT;
    t0 = clock::now();
  }
  void end() {
    auto t1 = clock::now();
    if (p.instrument) CALLGRIND_TOGGLE_COLLECT;
    if (p.counter) o.kernel = p.counter->stop_all();
    o.seconds = seconds_between(t0, t1);
  }
};

// What every ring kind's run does once `r` is filled in and `loop` has
// registered it: seed, the timed run, teardown, then `check` (that every
// byte was accounted for, in the ring kind's terms) and the outcome.
template <class Ring, class Loop, class Check>
outcome run_loop(const impl& im, const socket_pairs& p, int active, Ring& r,
                 std::unique_ptr<Loop> loop, const probes& pr, Check check) {
  outcome o;
  p.seed(active);
  loop_counts before, after;
  const bool own = loop->own_counts(before);
  timed t(pr, o);
  loop->run(r);
  t.end();
  if (own) loop->own_counts(after);
  loop.reset();
  check();
  std::size_t left = p.leftover();
  BENCH_CHECK(left == 0, "%s: %zu bytes left unread after the run", im.name, left);
  o.events = r.reads;
  o.wakeups = r.wakeups;
  o.spurious = r.spurious;
  if (own) {
    o.have_own = true;
    o.own = {after.kernel_entries - before.kernel_entries + r.io_syscalls,
             after.changes - before.changes};
  } else if (std::string(im.name) == "epoll") {
    o.have_own = true;
    o.own = {r.own_syscalls + r.io_syscalls, r.own_changes};
  }
  return o;
}

outcome run_once(const impl& im, const socket_pairs& p, int active, std::uint64_t writes, arm mode,
                 const probes& pr) {
  ring r;
  r.rd = p.rd;
  r.wr = p.wr;
  r.writes_left = writes;
  r.target = static_cast<std::uint64_t>(active) + writes;
  return run_loop(im, p, active, r, im.ring(r, mode), pr, [&] {
    // Every event accounted for: each byte sent was read exactly once.
    BENCH_CHECK(r.reads == r.target && r.writes_left == 0 && r.send_fails == 0,
                "%s: %llu of %llu bytes read, %llu writes left, %llu failed sends", im.name,
                static_cast<unsigned long long>(r.reads), static_cast<unsigned long long>(r.target),
                static_cast<unsigned long long>(r.writes_left),
                static_cast<unsigned long long>(r.send_fails));
  });
}

outcome run_shared_once(const impl& im, const socket_pairs& p, int active, std::uint64_t writes,
                        int threads, const probes& pr) {
  shared_ring r;
  r.rd = p.rd;
  r.wr = p.wr;
  r.writes_left = static_cast<std::int64_t>(writes);
  r.target = static_cast<std::uint64_t>(active) + writes;
  return run_loop(im, p, active, r, im.shared_ring(r, threads), pr, [&] {
    // Every read decremented writes_left once; the first W of them sent.
    BENCH_CHECK(r.reads == r.target && r.writes_left == -static_cast<std::int64_t>(active) &&
                    r.send_fails == 0,
                "%s: %llu of %llu bytes read, writes_left %lld, %llu failed sends", im.name,
                static_cast<unsigned long long>(r.reads.load()),
                static_cast<unsigned long long>(r.target),
                static_cast<long long>(r.writes_left.load()),
                static_cast<unsigned long long>(r.send_fails.load()));
  });
}

std::string format_count(std::uint64_t n) {
  if (n % 1000000 == 0) return std::to_string(n / 1000000) + "M";
  if (n % 1000 == 0) return std::to_string(n / 1000) + "k";
  return std::to_string(n);
}

bool is_psn(const impl* im) {
  return std::string(im->name).rfind("psn", 0) == 0;
}

// One cell of a ring workload: which implementations take part and how one
// of them runs once.
struct cell {
  std::string workload, params;
  std::vector<const impl*> impls;  // raw epoll first
  std::function<outcome(const impl&, std::uint64_t writes, const probes&)> run;
};

// The measuring shared by dispatch, oneshot and oneshot4.
void measure_cell(const options& o, const cell& c, syscall_counter& counter, results& out) {
  const std::string& w = c.workload;
  const std::string& params = c.params;
  const bool perf = counter.ok() && !o.no_perf;
  // Warm-up, traced (or counted by the libraries): counts per event.
  for (const impl* im : c.impls) {
    watchdog(120, w + " " + params + " " + im->name + " (warm-up)");
    probes pr;
    if (perf) pr.counter = &counter;
    outcome r = c.run(*im, o.ring_writes / 2, pr);
    const double per = 1.0 / static_cast<double>(r.events);
    if (perf) {
      const kernel_counts& k = r.kernel;
      out.add(w, params, im->name, "kernel entries/event", better::lower,
              static_cast<double>(k.entries) * per);
      if (counter.counts_epoll_ctl()) {
        double changes = static_cast<double>(k.epoll_ctl);
        if (counter.counts_uring_epoll_ctl()) changes += static_cast<double>(k.uring_epoll_ctl);
        out.add(w, params, im->name, "epoll changes/event", better::lower, changes * per);
      }
      if (counter.counts_uring() && std::string(im->name).find("io_uring") != std::string::npos)
        out.add(w, params, im->name, "io_uring submits/event", better::lower,
                static_cast<double>(k.uring_submits) * per);
      if (std::string(im->name) == "epoll" && r.have_own &&
          std::fabs(static_cast<double>(r.own.kernel_entries) - static_cast<double>(k.entries)) >
              0.01 * static_cast<double>(r.own.kernel_entries) + 2 + 2 * o.shared_threads)
        out.note(w + " " + params + ": raw epoll counted " + std::to_string(r.own.kernel_entries) +
                 " syscalls itself, the tracepoint " + std::to_string(k.entries));
    } else if (r.have_own) {
      out.add(w, params, im->name, "kernel entries/event", better::lower,
              static_cast<double>(r.own.kernel_entries) * per);
      out.add(w, params, im->name, "epoll changes/event", better::lower,
              static_cast<double>(r.own.changes) * per);
    }
  }
  // Timed rounds, interleaved.
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> spurious;  // impl: of, in
  auto timed_run = [&](const impl* im) {
    watchdog(120, w + " " + params + " " + im->name);
    outcome m = c.run(*im, o.ring_writes, probes{});
    spurious[im->name].first += m.spurious;
    spurious[im->name].second += m.wakeups;
    return m.seconds * 1e9 / static_cast<double>(m.events);
  };
  for (int round = 0; round < o.rounds; ++round) {
    std::fprintf(stderr, " %d", round + 1);
    for (const impl* im : c.impls)
      out.add(w, params, im->name, "ns/event", better::lower, timed_run(im));
  }
  // Pairs: psn and raw epoll back to back, the order alternating.
  const impl* base = c.impls.front();
  if (o.pairs > 0) std::fputs(" pairs", stderr);
  for (const impl* im : c.impls) {
    if (!is_psn(im) || o.pairs <= 0) continue;
    std::fputc('.', stderr);
    for (int k = 0; k < o.pairs; ++k) {
      double t_psn, t_epoll;
      if (k % 2 == 0) {
        t_psn = timed_run(im);
        t_epoll = timed_run(base);
      } else {
        t_epoll = timed_run(base);
        t_psn = timed_run(im);
      }
      out.add(w, params, im->name, "time/epoll (paired)", better::lower, t_psn / t_epoll);
    }
  }
  for (const auto& [name, s] : spurious)
    if (s.first > 0)
      out.note(w + " " + params + " " + name + ": " + std::to_string(s.first) + " of " +
               std::to_string(s.second) + " readiness callbacks found nothing to read");
  watchdog(0, "");
  std::fputc('\n', stderr);
}

void note_sources(const options& o, const syscall_counter& counter, results& out,
                  const std::string& w) {
  if (counter.ok() && !o.no_perf) {
    std::string how = w +
                      ": kernel entries/event and epoll changes/event from perf tracepoints "
                      "(raw_syscalls:sys_enter; syscalls:sys_enter_epoll_ctl";
    if (counter.counts_uring_epoll_ctl())
      how += " + io_uring:io_uring_submit_req filtered to IORING_OP_EPOLL_CTL";
    how +=
        "), every thread of the process, over an untimed warm-up pass of W/2 writes; "
        "recv/send of the ring included";
    out.note(how);
    if (!counter.changes_why_not().empty())
      out.note(w + ": " + counter.changes_why_not() +
               (counter.counts_uring() && !counter.counts_uring_epoll_ctl()
                    ? "; io_uring rows count epoll_ctl syscalls only, see io_uring submits/event "
                      "(every op) for the rest"
                    : ""));
    if (counter.counts_uring())
      out.note(w +
               ": io_uring submits/event = every io_uring_submit_req (epoll_ctl, epoll_wait, "
               "cancel ops) of the io_uring rows");
  } else {
    out.note(w +
             ": kernel entries/event and epoll changes/event from the libraries' own "
             "counters (" +
             (o.no_perf ? std::string("--no-perf")
                        : "perf tracepoints unavailable: " + counter.why_not()) +
             "): psn::port::stats() kernel_entries + the ring's recv/send, changes_applied; "
             "raw epoll's hand counts; peers have none");
  }
}

// The ring cells to run: (N, A, params) for each wanted size.
struct size_cell {
  int n, active;
  std::string params;
};
std::vector<size_cell> ring_cells(const options& o, results& out, const std::string& w) {
  const int max_pairs = (o.fd_limit - 64) / 2;
  std::vector<size_cell> cells;
  for (int wanted : o.ring_sizes) {
    int n = wanted;
    if (n > max_pairs) {
      n = max_pairs;
      out.note(w + ": N=" + std::to_string(wanted) + " reduced to " + std::to_string(n) +
               " socket pairs (RLIMIT_NOFILE " + std::to_string(o.fd_limit) + ")");
    }
    bool seen = false;
    for (const size_cell& c : cells) seen |= c.n == n;
    if (seen) continue;
    const int active = std::min(o.ring_active, n);
    cells.push_back({n, active,
                     "N=" + std::to_string(n) + " A=" + std::to_string(active) +
                         " W=" + format_count(o.ring_writes)});
  }
  return cells;
}

}  // namespace

void run_ring(const options& o, const std::vector<const impl*>& impls, results& out, arm mode) {
  const std::string wname = mode == arm::persistent ? "dispatch" : "oneshot";
  syscall_counter counter(syscall_counter::scope::process, true);
  note_sources(o, counter, out, wname);
  for (const size_cell& sc : ring_cells(o, out, wname)) {
    socket_pairs pairs(sc.n);
    std::fprintf(stderr, "[%s %s]", wname.c_str(), sc.params.c_str());
    cell c{wname, sc.params, {}, nullptr};
    for (const impl* im : impls)
      if (im->ring) c.impls.push_back(im);
    c.run = [&](const impl& im, std::uint64_t writes, const probes& pr) {
      return run_once(im, pairs, sc.active, writes, mode, pr);
    };
    measure_cell(o, c, counter, out);
  }
  for (const impl* im : impls)
    if (im->ring_note)
      out.note(std::string(im->name) + " (dispatch, oneshot, memory): " + im->ring_note);
  if (o.pairs > 0)
    out.note(wname + ": time/epoll (paired) = median and quartiles of " + std::to_string(o.pairs) +
             " ratios psn/epoll, each from one psn run and one raw epoll run back to back, "
             "the order alternating pair by pair");
}

void run_shared_ring(const options& o, const std::vector<const impl*>& impls, results& out) {
  const std::string wname = "oneshot4";
  syscall_counter counter(syscall_counter::scope::process, true);
  note_sources(o, counter, out, wname);
  for (const size_cell& sc : ring_cells(o, out, wname)) {
    const std::string params = sc.params + " T=" + std::to_string(o.shared_threads);
    socket_pairs pairs(sc.n);
    std::fprintf(stderr, "[%s %s]", wname.c_str(), params.c_str());
    cell c{wname, params, {}, nullptr};
    for (const impl* im : impls) {
      if (im->shared_ring)
        c.impls.push_back(im);
      else
        out.skip(wname, "all", im->name, "not written for several threads on one loop");
    }
    c.run = [&](const impl& im, std::uint64_t writes, const probes& pr) {
      return run_shared_once(im, pairs, sc.active, writes, o.shared_threads, pr);
    };
    measure_cell(o, c, counter, out);
  }
  out.note("oneshot4: T threads on one port / epoll set, every socket one-shot, batches of " +
           std::to_string(kSharedBatch) +
           " per wait; psn re-arms what a thread took in that thread's next "
           "ProcessSocketNotifications, raw epoll uses EPOLL_CTL_MOD after each event; "
           "stopped by T posted packets / an eventfd; thread start and join are timed");
}

// ---- --cost -----------------------------------------------------------------------

int cost_child_main(const std::string& workload, const std::string& impl_name, int n, int active,
                    std::uint64_t writes) {
  raise_fd_limit(2 * n + 256, nullptr);
  const impl* im = nullptr;
  for (const impl* i : all_impls())
    if (impl_name == i->name) im = i;
  BENCH_CHECK(im && im->ring, "cost: unknown implementation %s", impl_name.c_str());
  const arm mode = workload == "dispatch" ? arm::persistent : arm::oneshot;
  socket_pairs pairs(n);
  // One run first, so lazy binding, first-touch allocation and the like are
  // not part of the count; then the counted run.
  run_once(*im, pairs, active, writes / 4, mode, probes{});
  probes pr;
  pr.instrument = true;
  outcome r = run_once(*im, pairs, active, writes, mode, pr);
  std::printf("%llu\n", static_cast<unsigned long long>(r.events));
  return 0;
}

namespace {

// The total of the first event (Ir) of a callgrind output file; -1 if absent.
double callgrind_total(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  double total = -1;
  while (std::getline(f, line)) {
    for (const char* key : {"summary:", "totals:"})
      if (line.rfind(key, 0) == 0) total = std::strtod(line.c_str() + std::strlen(key), nullptr);
  }
  return total;
}

}  // namespace

void run_cost(const options& o, const std::vector<const impl*>& impls, results& out,
              const char* self) {
#ifndef PSN_BENCH_HAVE_CALLGRIND
  fail("--cost: built without valgrind/callgrind.h (install valgrind's headers and rebuild)");
#endif
  {
    int status = 0;
    spawn_capture({"valgrind", "--version"}, "/dev/null", &status);
    BENCH_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                "--cost needs valgrind on PATH (callgrind)");
  }
  char dir_tmpl[] = "/tmp/psn-bench-cost.XXXXXX";
  BENCH_CHECK(::mkdtemp(dir_tmpl) != nullptr, "mkdtemp: %s", std::strerror(errno));
  const std::string dir = dir_tmpl;
  for (arm mode : {arm::persistent, arm::oneshot}) {
    const std::string w = mode == arm::persistent ? "dispatch" : "oneshot";
    if (!o.wants_workload(w)) continue;
    for (const size_cell& sc : ring_cells(o, out, w)) {
      std::fprintf(stderr, "[cost %s %s]", w.c_str(), sc.params.c_str());
      std::map<std::string, double> per;
      for (const impl* im : impls) {
        if (!im->ring) continue;
        std::fprintf(stderr, " %s", im->name);
        std::string tag = im->name;
        std::replace(tag.begin(), tag.end(), '/', '_');
        const std::string file = dir + "/" + w + "-" + tag + ".out";
        const std::string log = dir + "/" + w + "-" + tag + ".log";
        int status = 0;
        watchdog(600, "cost " + w + " " + sc.params + " " + im->name);
        std::string text = spawn_capture(
            {"valgrind", "--tool=callgrind", "--collect-atstart=no", "--callgrind-out-file=" + file,
             self, "--cost-child", w, im->name, std::to_string(sc.n), std::to_string(sc.active),
             std::to_string(o.ring_writes)},
            log.c_str(), &status);
        watchdog(0, "");
        const double ir = callgrind_total(file);
        const double events = std::strtod(text.c_str(), nullptr);
        BENCH_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 && ir > 0 && events > 0,
                    "cost: %s %s under callgrind failed (status %d), see %s", w.c_str(), im->name,
                    status, log.c_str());
        per[im->name] = ir / events;
        out.add(w, sc.params, im->name, "Ir/event (callgrind)", better::lower, ir / events);
        ::unlink(file.c_str());
        ::unlink(log.c_str());
      }
      std::fputc('\n', stderr);
      if (per.count("epoll"))
        for (const auto& [name, v] : per)
          if (name != "epoll")
            out.add(w, sc.params, name, "Ir/event - epoll", better::lower, v - per["epoll"]);
    }
  }
  ::rmdir(dir.c_str());
  out.note(
      "cost: Ir/event = user-space instructions per event under valgrind --tool=callgrind, "
      "collected only around the run (registration, teardown and a first warm-up run "
      "excluded), W=" +
      format_count(o.ring_writes) +
      "; deterministic: the same binary gives the same count on every machine and run");
  if (o.wants_workload("oneshot4"))
    out.note(
        "cost: oneshot4 left out: under valgrind threads run one at a time, so its "
        "instruction count says nothing about contention");
}

}  // namespace bench
