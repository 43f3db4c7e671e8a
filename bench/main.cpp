// psn-bench: psn's ProcessSocketNotifications against raw epoll (the floor)
// and libevent, libev, libuv and Boost.Asio, all in one process run, the
// implementations interleaved round by round.
//
//   psn-bench [--quick | --large] [--rounds R] [--only W,...] [--impl I,...]
//             [--sizes N,...] [--active A] [--writes W] [--pairs P] [--threads T]
//             [--oecho-conns N] [--oecho-trips M]
//             [--cost] [--no-perf] [--json FILE] [--svg FILE]
//   psn-bench --dispatch-table [--cost]
//
// Workloads: dispatch, oneshot, oneshot4, rearm, packets, memory, echo, oecho.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "harness.hpp"

namespace {

const char* const kWorkloads[] = {"dispatch", "oneshot", "oneshot4", "rearm",
                                  "packets",  "memory",  "echo",     "oecho"};

void usage(FILE* to) {
  std::fputs(
      "usage: psn-bench [options]\n"
      "  --quick          a small set, well under a minute\n"
      "  --large          also 100000 socket pairs / sockets (RLIMIT_NOFILE permitting)\n"
      "  --rounds R       rounds per measurement (default 5; 3 with --quick)\n"
      "  --only LIST      workloads, comma-separated:\n"
      "                   dispatch,oneshot,oneshot4,rearm,packets,memory,echo,oecho\n"
      "                   (oneshot4: oneshot with --threads threads on one port / epoll set;\n"
      "                   oecho: echo served with overlapped WSARecv/WSASend and others)\n"
      "  --impl LIST      implementations, comma-separated (epoll is always kept: it is the "
      "floor)\n"
      "  --sizes LIST     ring sizes N (socket pairs) of dispatch, oneshot, oneshot4\n"
      "  --active A       active pairs of the ring (default 100)\n"
      "  --writes W       bytes passed on per ring run (default 100000; 20000 with --quick\n"
      "                   or --cost)\n"
      "  --pairs P        psn/epoll runs back to back per psn implementation and ring cell,\n"
      "                   for the paired time ratio (default 21; 5 with --quick; 0: none)\n"
      "  --threads T      threads of oneshot4 (default 4)\n"
      "  --oecho-conns N  connections of oecho's ping-pong (default 64; a one-connection\n"
      "                   ping-pong of 2M round trips runs too)\n"
      "  --oecho-trips M  round trips per connection of oecho's ping-pong (default 500;\n"
      "                   250 with --quick)\n"
      "  --cost           instead of timing: user-space instructions per event of dispatch\n"
      "                   and oneshot under valgrind --tool=callgrind, one child process per\n"
      "                   implementation (default --sizes 2000 --active 50)\n"
      "  --no-perf        count kernel entries and changes with the libraries' own counters\n"
      "                   even where perf tracepoints are readable\n"
      "  --dispatch-table the counts table of docs/benchmarks.md: --only dispatch,oneshot,oneshot4\n"
      "                   --sizes 2000 --active 50 (each can still be overridden)\n"
      "  --json FILE      write every measurement as JSON\n"
      "  --svg FILE       draw the ratios to raw epoll as an SVG bar chart\n"
      "  --help\n",
      to);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> v;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) v.push_back(item);
  return v;
}

void configure(bench::options& o) {
  if (o.quick) {
    if (!o.sizes_set) o.ring_sizes = {100, 1000};
    if (!o.writes_set) o.ring_writes = 20000;
    o.memory_sockets = {10000};
    o.packets_one = o.packets_two = 100000;
    o.pingpongs = 2000;
    o.echo_bytes = 1024 * 1024;
    if (!o.oecho_trips_set) o.oecho_trips = 250;
    o.oecho_stream_bytes = 2 * 1024 * 1024;
  } else {
    if (!o.sizes_set) o.ring_sizes = {100, 1000, 10000};
    if (!o.writes_set) o.ring_writes = 100000;
    o.memory_sockets = {10000};
    o.packets_one = o.packets_two = 1000000;
    o.pingpongs = 20000;
    o.echo_bytes = 4 * 1024 * 1024;
    if (!o.oecho_trips_set) o.oecho_trips = 500;
    o.oecho_stream_bytes = 4 * 1024 * 1024;
  }
  if (o.cost) {
    // valgrind is some 50 times slower: a smaller run of the 2000-pair, 50-active cell.
    if (!o.sizes_set) o.ring_sizes = {2000};
    if (!o.writes_set) o.ring_writes = 20000;
  }
  if (o.large && !o.sizes_set) o.ring_sizes.push_back(100000);
  if (o.large) {
    o.memory_sockets.push_back(100000);
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace bench;
  if (argc == 4 && std::strcmp(argv[1], "--memory-probe") == 0)
    return memory_probe_main(argv[2], std::atoi(argv[3]));
  if (argc == 7 && std::strcmp(argv[1], "--cost-child") == 0)
    return cost_child_main(argv[2], argv[3], std::atoi(argv[4]), std::atoi(argv[5]),
                           std::strtoull(argv[6], nullptr, 10));

  options o;
  bool rounds_set = false, pairs_set = false, active_set = false, only_set = false;
  bool table = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "psn-bench: %s needs a value\n", a.c_str());
        std::exit(1);
      }
      return argv[++i];
    };
    if (a == "--quick")
      o.quick = true;
    else if (a == "--large")
      o.large = true;
    else if (a == "--rounds") {
      o.rounds = std::atoi(value().c_str());
      rounds_set = true;
    } else if (a == "--only") {
      o.only_workloads = split(value());
      only_set = true;
    } else if (a == "--sizes") {
      o.ring_sizes.clear();
      for (const std::string& n : split(value())) o.ring_sizes.push_back(std::atoi(n.c_str()));
      o.sizes_set = true;
    } else if (a == "--active") {
      o.ring_active = std::atoi(value().c_str());
      active_set = true;
    } else if (a == "--writes") {
      o.ring_writes = std::strtoull(value().c_str(), nullptr, 10);
      o.writes_set = true;
    } else if (a == "--pairs") {
      o.pairs = std::atoi(value().c_str());
      pairs_set = true;
    } else if (a == "--threads")
      o.shared_threads = std::atoi(value().c_str());
    else if (a == "--oecho-conns")
      o.oecho_conns = std::atoi(value().c_str());
    else if (a == "--oecho-trips") {
      o.oecho_trips = std::strtoull(value().c_str(), nullptr, 10);
      o.oecho_trips_set = true;
    } else if (a == "--cost")
      o.cost = true;
    else if (a == "--no-perf")
      o.no_perf = true;
    else if (a == "--dispatch-table")
      table = true;
    else if (a == "--impl")
      o.only_impls = split(value());
    else if (a == "--json")
      o.json_path = value();
    else if (a == "--svg")
      o.svg_path = value();
    else if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else {
      std::fprintf(stderr, "psn-bench: unknown option %s\n", a.c_str());
      usage(stderr);
      return 1;
    }
  }
  if (table) {
    if (!only_set) o.only_workloads = {"dispatch", "oneshot", "oneshot4"};
    if (!o.sizes_set) o.ring_sizes = {2000};
    o.sizes_set = true;
    if (!active_set) o.ring_active = 50;
  }
  if (o.cost && !active_set) o.ring_active = 50;
  if (o.quick && !rounds_set) o.rounds = 3;
  if (o.quick && !pairs_set) o.pairs = 5;
  if (o.rounds < 1) {
    std::fputs("psn-bench: --rounds must be at least 1\n", stderr);
    return 1;
  }
  bool bad_size = o.ring_active < 1 || o.shared_threads < 1 || o.pairs < 0 ||
                  (o.writes_set && o.ring_writes < 1) || o.oecho_conns < 1 ||
                  (o.oecho_trips_set && o.oecho_trips < 2);
  for (int n : o.ring_sizes) bad_size |= n < 1;
  if (bad_size) {
    std::fputs(
        "psn-bench: --sizes, --active, --writes, --threads and --oecho-conns must be "
        "positive, --oecho-trips at least 2, --pairs not negative\n",
        stderr);
    return 1;
  }
  for (const std::string& w : o.only_workloads) {
    bool known = false;
    for (const char* k : kWorkloads) known |= w == k;
    if (!known) {
      std::fprintf(stderr, "psn-bench: unknown workload %s\n", w.c_str());
      return 1;
    }
  }
  configure(o);

  results res;
  std::vector<const impl*> impls, classic;
  for (const impl* im : all_impls())
    if (std::string(im->name) == "epoll" || o.wants_impl(im->name)) impls.push_back(im);
  // The implementations written for oecho alone are not listed as left out
  // of every other workload.
  for (const impl* im : impls)
    if (im->ring || im->packets || im->echo || im->shared_ring) classic.push_back(im);
  for (const std::string& name : o.only_impls) {
    bool known = false;
    for (const impl* im : all_impls()) known |= name == im->name;
    if (!known) {
      std::fprintf(stderr, "psn-bench: unknown or unavailable implementation %s\n", name.c_str());
      return 1;
    }
  }
  for (const std::string& m : missing_peers()) res.note("not built, left out everywhere: " + m);

  int biggest = o.large ? 100000 : 10000;
  for (int n : o.ring_sizes) biggest = std::max(biggest, n);
  const int wanted_fds = 2 * biggest + 256;
  std::string fd_note;
  o.fd_limit = raise_fd_limit(wanted_fds, &fd_note);
  res.note(fd_note);

  std::fprintf(stderr, "psn-bench: %s set, %d rounds; implementations:",
               o.cost    ? "cost"
               : o.quick ? "quick"
                         : "default",
               o.rounds);
  for (const impl* im : impls) std::fprintf(stderr, " %s", im->name);
  std::fputc('\n', stderr);

  const auto t0 = clock::now();
  if (o.cost) {
    // valgrind must be given this program's own path, not /proc/self/exe.
    char self[4096];
    const ssize_t len = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) fail("readlink /proc/self/exe: %s", std::strerror(errno));
    self[len] = '\0';
    run_cost(o, impls, res, self);
  } else {
    if (o.wants_workload("dispatch")) run_ring(o, classic, res, arm::persistent);
    if (o.wants_workload("oneshot")) run_ring(o, classic, res, arm::oneshot);
    if (o.wants_workload("oneshot4")) run_shared_ring(o, classic, res);
    if (o.wants_workload("rearm")) run_rearm(o, res);
    if (o.wants_workload("packets")) run_packets(o, classic, res);
    if (o.wants_workload("memory")) run_memory(o, classic, res);
    if (o.wants_workload("echo")) run_echo(o, classic, res);
    if (o.wants_workload("oecho")) run_oecho(o, impls, res);
  }
  std::fprintf(stderr, "psn-bench: done in %.0f s\n", seconds_between(t0, clock::now()));

  print_table(res, o);
  if (!o.json_path.empty()) {
    if (!write_json(res, o, o.json_path)) fail("cannot write %s", o.json_path.c_str());
    std::printf("\nJSON written to %s\n", o.json_path.c_str());
  }
  if (!o.svg_path.empty()) {
    if (!write_svg(res, o.svg_path)) fail("cannot write %s", o.svg_path.c_str());
    std::printf("SVG written to %s\n", o.svg_path.c_str());
  }
  return 0;
}
