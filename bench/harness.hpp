// harness.hpp - options, result collection and measuring aids of psn-bench.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bench.hpp"

namespace bench {

struct options {
  int rounds = 5;
  bool quick = false;
  bool large = false;
  std::string json_path;
  std::string svg_path;
  std::vector<std::string> only_workloads;  // empty: all
  std::vector<std::string> only_impls;      // empty: all

  // Sizes, set from quick/large by configure().
  std::vector<int> ring_sizes;      // N, socket pairs
  int ring_active = 100;            // A
  std::uint64_t ring_writes = 0;    // W, bytes passed on per run
  std::vector<int> memory_sockets;  // registered sockets
  std::uint64_t packets_one = 0, packets_two = 0, pingpongs = 0;
  int echo_connections = 50;
  std::uint64_t echo_bytes = 0;  // per connection
  int fd_limit = 0;              // RLIMIT_NOFILE after raising
  int pairs = 21;                // psn/epoll back-to-back pairs per ring cell (0: none)
  int shared_threads = 4;        // threads of oneshot4
  bool no_perf = false;          // count with the libraries' own counters only
  bool sizes_set = false, writes_set = false;

  // oecho: ping-pong, oecho_trips round trips of a small message on each of
  // oecho_conns connections; streaming, oecho_stream_bytes on each of
  // oecho_stream_conns connections.
  int oecho_conns = 64, oecho_stream_conns = 16;
  std::uint64_t oecho_trips = 0, oecho_stream_bytes = 0;
  bool oecho_trips_set = false;

  // --cost: instructions per event under callgrind, one child per implementation.
  bool cost = false;

  bool wants_workload(const std::string& w) const;
  bool wants_impl(const std::string& i) const;
};

// Which way is better for a unit; ratios are always "cost relative to raw
// epoll": value / epoll for lower-is-better units, epoll / value otherwise.
enum class better { lower, higher };

struct measurement {
  std::string workload, params, impl, unit;
  better dir = better::lower;
  std::vector<double> samples;
  double median() const;
  double quantile(double q) const;
  double min() const;
  double max() const;
};

struct skipped {
  std::string workload, params, impl, reason;
};

class results {
 public:
  void add(const std::string& workload, const std::string& params, const std::string& impl,
           const std::string& unit, better dir, double value);
  void skip(const std::string& workload, const std::string& params, const std::string& impl,
            const std::string& reason);
  void note(const std::string& text);  // printed under the table, once each

  const std::vector<measurement>& rows() const { return rows_; }
  const std::vector<skipped>& skips() const { return skips_; }
  const std::vector<std::string>& notes() const { return notes_; }
  // The raw epoll row of the same workload, params and unit, if measured.
  const measurement* baseline(const measurement& m) const;
  // Cost relative to raw epoll (see `better`); nullopt without a usable baseline.
  std::optional<double> ratio(const measurement& m) const;

 private:
  std::vector<measurement> rows_;
  std::vector<skipped> skips_;
  std::vector<std::string> notes_;
};

// ---- measuring aids ---------------------------------------------------------

// Raises RLIMIT_NOFILE towards `wanted` as far as the system allows; returns
// the soft limit reached and describes it in *how.
int raise_fd_limit(int wanted, std::string* how);

// Anonymous resident memory of this process in bytes: resident minus shared
// pages of /proc/self/statm.
std::uint64_t resident_bytes();

// What a syscall_counter counted between start() and stop().
struct kernel_counts {
  std::uint64_t entries = 0;          // raw_syscalls:sys_enter
  std::uint64_t epoll_ctl = 0;        // syscalls:sys_enter_epoll_ctl
  std::uint64_t uring_submits = 0;    // io_uring:io_uring_submit_req, every op
  std::uint64_t uring_epoll_ctl = 0;  // io_uring:io_uring_submit_req, IORING_OP_EPOLL_CTL only
};

// Counts system calls through the raw_syscalls:sys_enter tracepoint
// (perf_event_open), and with `changes` also epoll changes: epoll_ctl calls
// and io_uring submissions (all, and those of IORING_OP_EPOLL_CTL through a
// tracepoint filter on the opcode). scope::process also counts every thread
// started after the counter was made (perf's inherit). Tracing slows every
// system call, so it is used only in untimed warm-up passes.
class syscall_counter {
 public:
  enum class scope { this_thread, process };
  explicit syscall_counter(scope s = scope::this_thread, bool changes = false);
  ~syscall_counter();
  syscall_counter(const syscall_counter&) = delete;
  syscall_counter& operator=(const syscall_counter&) = delete;
  bool ok() const { return fds_[0] >= 0; }
  const std::string& why_not() const { return why_not_; }
  // Which of the change counters could be opened (all false without `changes`).
  bool counts_epoll_ctl() const { return fds_[1] >= 0; }
  bool counts_uring() const { return fds_[2] >= 0; }
  bool counts_uring_epoll_ctl() const { return fds_[3] >= 0; }
  const std::string& changes_why_not() const { return changes_why_not_; }
  void start();
  std::uint64_t stop() { return stop_all().entries; }
  kernel_counts stop_all();

 private:
  // The leader (sys_enter), epoll_ctl, io_uring (every op), io_uring (epoll_ctl).
  int fds_[4] = {-1, -1, -1, -1};
  std::uint64_t base_[4] = {};  // the counts at start()
  std::string why_not_, changes_why_not_;
};

// Kills the program with a message if the current step takes longer than
// `seconds` (0 disarms). A hung implementation must not hang the benchmark.
void watchdog(unsigned seconds, const std::string& what);

// A non-blocking, close-on-exec Unix stream socket pair.
void make_socketpair(int fds[2]);

// Runs args[0] (found on PATH; `file` instead when given, e.g. a path) with
// `args` as its argv, waits for it and returns what it wrote to stdout. Its
// stderr goes to the file `log`, or stays ours when `log` is null.
std::string spawn_capture(const std::vector<std::string>& args, const char* log, int* status,
                          const char* file = nullptr);

// The median of v (reorders v).
double median_of(std::vector<double>& v);
// The q-quantile of v, 0 <= q <= 1, interpolated between order statistics
// (sorts v); quantile_of(v, 0.5) is the median.
double quantile_of(std::vector<double>& v, double q);

// Whether a unit counts something (system calls, changes, instructions)
// rather than measuring time or space; counts are grouped after times.
bool is_count_unit(const std::string& unit);

// ---- the workloads ------------------------------------------------------------

void run_ring(const options& o, const std::vector<const impl*>& impls, results& out, arm mode);
void run_packets(const options& o, const std::vector<const impl*>& impls, results& out);
void run_rearm(const options& o, results& out);
void run_memory(const options& o, const std::vector<const impl*>& impls, results& out);
void run_echo(const options& o, const std::vector<const impl*>& impls, results& out);
void run_shared_ring(const options& o, const std::vector<const impl*>& impls, results& out);
void run_oecho(const options& o, const std::vector<const impl*>& impls, results& out);

// --cost: re-runs this program once per implementation and ring cell under
// callgrind and reports user-space instructions per event.
void run_cost(const options& o, const std::vector<const impl*>& impls, results& out,
              const char* self);
// The child side: `psn-bench --cost-child WORKLOAD IMPL N A W`; prints the
// events of the instrumented run.
int cost_child_main(const std::string& workload, const std::string& impl_name, int n, int active,
                    std::uint64_t writes);

// The child side of the memory workload: `psn-bench --memory-probe IMPL N`.
int memory_probe_main(const std::string& impl_name, int sockets);

// ---- output -------------------------------------------------------------------

void print_table(const results& r, const options& o);
bool write_json(const results& r, const options& o, const std::string& path);
bool write_svg(const results& r, const std::string& path);

}  // namespace bench
