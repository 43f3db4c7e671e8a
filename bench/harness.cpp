// harness.cpp - result collection and measuring aids of psn-bench.
#include "harness.hpp"

#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

extern char** environ;

namespace bench {

void fail(const char* fmt, ...) {
  std::fflush(stdout);
  std::fputs("psn-bench: ", stderr);
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
  std::exit(2);
}

// ---- options -----------------------------------------------------------------

namespace {
bool listed(const std::vector<std::string>& list, const std::string& s) {
  return list.empty() || std::find(list.begin(), list.end(), s) != list.end();
}
}  // namespace

bool options::wants_workload(const std::string& w) const {
  return listed(only_workloads, w);
}
bool options::wants_impl(const std::string& i) const {
  return listed(only_impls, i);
}

// ---- results -------------------------------------------------------------------

double measurement::median() const {
  std::vector<double> v = samples;
  return median_of(v);
}
double measurement::quantile(double q) const {
  std::vector<double> v = samples;
  return quantile_of(v, q);
}
double measurement::min() const {
  return *std::min_element(samples.begin(), samples.end());
}
double measurement::max() const {
  return *std::max_element(samples.begin(), samples.end());
}

void results::add(const std::string& workload, const std::string& params, const std::string& impl,
                  const std::string& unit, better dir, double value) {
  for (measurement& m : rows_) {
    if (m.workload == workload && m.params == params && m.impl == impl && m.unit == unit) {
      m.samples.push_back(value);
      return;
    }
  }
  rows_.push_back({workload, params, impl, unit, dir, {value}});
}

void results::skip(const std::string& workload, const std::string& params, const std::string& impl,
                   const std::string& reason) {
  for (const skipped& s : skips_)
    if (s.workload == workload && s.params == params && s.impl == impl) return;
  skips_.push_back({workload, params, impl, reason});
}

void results::note(const std::string& text) {
  if (std::find(notes_.begin(), notes_.end(), text) == notes_.end()) notes_.push_back(text);
}

const measurement* results::baseline(const measurement& m) const {
  for (const measurement& b : rows_)
    if (b.impl == "epoll" && b.workload == m.workload && b.params == m.params && b.unit == m.unit)
      return &b;
  return nullptr;
}

bool is_count_unit(const std::string& unit) {
  return unit.find("syscalls") != std::string::npos || unit.find("/event (") != std::string::npos ||
         unit.find("entries") != std::string::npos || unit.find("changes") != std::string::npos ||
         unit.find("submits") != std::string::npos;
}

std::optional<double> results::ratio(const measurement& m) const {
  const measurement* b = baseline(m);
  if (!b) return std::nullopt;
  double bv = b->median(), v = m.median();
  // A floor of (nearly) nothing makes a ratio meaningless: no bytes, or a
  // handful of system calls over a whole run.
  const double tiny = is_count_unit(m.unit) ? 0.005 : 1e-9;
  if (m.dir == better::lower ? bv < tiny : v < 1e-9) return std::nullopt;
  return m.dir == better::lower ? v / bv : bv / v;
}

// ---- measuring aids ---------------------------------------------------------------

int raise_fd_limit(int wanted, std::string* how) {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  const rlim_t want = static_cast<rlim_t>(wanted);
  std::string refused;
  if (rl.rlim_max < want) {
    rlimit up{want, want};
    if (setrlimit(RLIMIT_NOFILE, &up) == 0) {
      rl = up;
    } else {
      refused = std::string("raising the hard limit to ") + std::to_string(wanted) +
                " was refused (" + std::strerror(errno) + ")";
    }
  }
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  getrlimit(RLIMIT_NOFILE, &rl);
  const int got = rl.rlim_cur > 1u << 30 ? 1 << 30 : static_cast<int>(rl.rlim_cur);
  if (how) {
    *how = "RLIMIT_NOFILE " + std::to_string(got);
    if (!refused.empty()) *how += ": " + refused + ", stopped at the hard limit";
  }
  return got;
}

std::uint64_t resident_bytes() {
  std::ifstream f("/proc/self/statm");
  std::uint64_t size = 0, resident = 0, shared = 0;
  f >> size >> resident >> shared;
  // File-backed pages are left out: on some kernels they grow with
  // registrations that allocate nothing in the process.
  return (resident - shared) * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

namespace {
long read_tracepoint_id(const char* event) {
  for (const char* root : {"/sys/kernel/tracing/events/", "/sys/kernel/debug/tracing/events/"}) {
    std::ifstream f(std::string(root) + event + "/id");
    long id = -1;
    if (f >> id) return id;
  }
  return -1;
}

int open_tracepoint(long id, bool inherit, int group) {
  perf_event_attr a{};
  a.size = sizeof a;
  a.type = PERF_TYPE_TRACEPOINT;
  a.config = static_cast<std::uint64_t>(id);
  a.disabled = group < 0 ? 1 : 0;  // members follow the leader
  a.exclude_hv = 1;
  a.inherit = inherit ? 1 : 0;
  return static_cast<int>(syscall(SYS_perf_event_open, &a, 0, -1, group, PERF_FLAG_FD_CLOEXEC));
}
}  // namespace

syscall_counter::syscall_counter(scope s, bool changes) {
  const bool inherit = s == scope::process;
  long id = read_tracepoint_id("raw_syscalls/sys_enter");
  if (id < 0) {
    why_not_ = "raw_syscalls:sys_enter tracepoint not readable";
    return;
  }
  fds_[0] = open_tracepoint(id, inherit, -1);
  if (fds_[0] < 0) {
    why_not_ = std::string("perf_event_open: ") + std::strerror(errno);
    return;
  }
  if (!changes) return;
  // One group, enabled and disabled by one ioctl on the leader, so no
  // counter sees the ioctls that switch the others.
  std::string missing;
  if ((id = read_tracepoint_id("syscalls/sys_enter_epoll_ctl")) < 0 ||
      (fds_[1] = open_tracepoint(id, inherit, fds_[0])) < 0)
    missing += " syscalls:sys_enter_epoll_ctl";
  if ((id = read_tracepoint_id("io_uring/io_uring_submit_req")) < 0 ||
      (fds_[2] = open_tracepoint(id, inherit, fds_[0])) < 0) {
    missing += " io_uring:io_uring_submit_req";
  } else {
    fds_[3] = open_tracepoint(id, inherit, fds_[0]);
    const std::string filter = "opcode == " + std::to_string(IORING_OP_EPOLL_CTL);
    if (fds_[3] >= 0 && ioctl(fds_[3], PERF_EVENT_IOC_SET_FILTER, filter.c_str()) != 0) {
      ::close(fds_[3]);
      fds_[3] = -1;
    }
    if (fds_[3] < 0) missing += " io_uring:io_uring_submit_req with an opcode filter";
  }
  if (!missing.empty()) changes_why_not_ = "not countable:" + missing;
}

syscall_counter::~syscall_counter() {
  for (int fd : fds_)
    if (fd >= 0) ::close(fd);
}

namespace {
std::uint64_t read_count(int fd) {
  std::uint64_t n = 0;
  if (fd < 0 || ::read(fd, &n, sizeof n) != sizeof n) return 0;
  return n;
}
}  // namespace

void syscall_counter::start() {
  if (fds_[0] < 0) return;
  // Differences, not PERF_EVENT_IOC_RESET: a reset leaves the counts that
  // exited inherited threads handed back to their parent event.
  for (int i = 0; i < 4; ++i) base_[i] = read_count(fds_[i]);
  ioctl(fds_[0], PERF_EVENT_IOC_ENABLE, PERF_IOC_FLAG_GROUP);
}

kernel_counts syscall_counter::stop_all() {
  kernel_counts k;
  if (fds_[0] < 0) return k;
  ioctl(fds_[0], PERF_EVENT_IOC_DISABLE, PERF_IOC_FLAG_GROUP);
  std::uint64_t* into[4] = {&k.entries, &k.epoll_ctl, &k.uring_submits, &k.uring_epoll_ctl};
  for (int i = 0; i < 4; ++i) *into[i] = read_count(fds_[i]) - base_[i];
  // The ioctl that disabled the counters was counted too.
  if (k.entries > 0) --k.entries;
  return k;
}

namespace {
char g_watchdog_what[256];

void on_alarm(int) {
  static const char head[] = "psn-bench: timed out: ";
  ssize_t ignored = ::write(2, head, sizeof head - 1);
  ignored = ::write(2, g_watchdog_what, std::strlen(g_watchdog_what));
  ignored = ::write(2, "\n", 1);
  (void)ignored;
  _exit(3);
}
}  // namespace

void watchdog(unsigned seconds, const std::string& what) {
  static bool installed = false;
  if (!installed) {
    struct sigaction sa {};
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, nullptr);
    installed = true;
  }
  std::snprintf(g_watchdog_what, sizeof g_watchdog_what, "%s", what.c_str());
  alarm(seconds);
}

void make_socketpair(int fds[2]) {
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0)
    fail("socketpair: %s", std::strerror(errno));
}

std::string spawn_capture(const std::vector<std::string>& args, const char* log, int* status,
                          const char* file) {
  int out[2];
  BENCH_CHECK(::pipe2(out, O_CLOEXEC) == 0, "pipe2: %s", std::strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  if (log) posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  if (!file) file = argv[0];
  pid_t pid;
  int rc = posix_spawnp(&pid, file, &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  BENCH_CHECK(rc == 0, "posix_spawn %s: %s", file, std::strerror(rc));
  ::close(out[1]);
  std::string text;
  char buf[256];
  ssize_t k;
  while ((k = ::read(out[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(k));
  ::close(out[0]);
  ::waitpid(pid, status, 0);
  return text;
}

double median_of(std::vector<double>& v) {
  if (v.empty()) return 0;
  std::size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  double hi = v[mid];
  if (v.size() % 2 == 1) return hi;
  double lo = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid));
  return (lo + hi) / 2;
}

double quantile_of(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const std::size_t lo = static_cast<std::size_t>(pos);
  if (lo + 1 >= v.size()) return v.back();
  return v[lo] + (pos - static_cast<double>(lo)) * (v[lo + 1] - v[lo]);
}

void accept_all(int listen_fd, std::vector<int>& out) {
  out.clear();
  for (;;) {
    int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      out.push_back(fd);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EAGAIN) return;
    fail("accept4: %s", std::strerror(errno));
  }
}

// ---- the implementations in this build ---------------------------------------------

std::vector<const impl*> all_impls() {
  std::vector<const impl*> v{&epoll_impl, &psn_c_impl, &psn_cxx_impl};
  static const bool uring = psn_io_uring_available();
  if (uring) {
    v.push_back(&psn_c_uring_impl);
    v.push_back(&psn_cxx_uring_impl);
  }
  v.push_back(&psn_ovl_impl);
  if (uring) v.push_back(&psn_ovl_uring_impl);
#ifdef PSN_BENCH_HAVE_LIBURING
  static const bool raw_uring = liburing_available();
  if (raw_uring) v.push_back(&liburing_impl);
#endif
#ifdef PSN_BENCH_HAVE_LIBEVENT
  v.push_back(&libevent_impl);
#endif
#ifdef PSN_BENCH_HAVE_LIBEV
  v.push_back(&libev_impl);
#endif
#ifdef PSN_BENCH_HAVE_LIBUV
  v.push_back(&libuv_impl);
#endif
#ifdef PSN_BENCH_HAVE_ASIO
  v.push_back(&asio_impl);
#endif
  return v;
}

std::vector<std::string> missing_peers() {
  std::vector<std::string> v;
#ifndef PSN_BENCH_HAVE_LIBEVENT
  v.push_back("libevent (pkg-config module libevent not found at build time)");
#endif
#ifndef PSN_BENCH_HAVE_LIBEV
  v.push_back("libev (ev.h / libev not found at build time)");
#endif
#ifndef PSN_BENCH_HAVE_LIBUV
  v.push_back("libuv (pkg-config module libuv not found at build time)");
#endif
#ifndef PSN_BENCH_HAVE_ASIO
  v.push_back("Boost.Asio (Boost headers not found at build time)");
#endif
#ifndef PSN_BENCH_HAVE_LIBURING
  v.push_back("liburing (psn was built without its io_uring backend)");
#endif
  return v;
}

}  // namespace bench
