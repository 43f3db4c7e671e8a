// psn-bench: psn's ProcessSocketNotifications against raw epoll (the floor)
// and libevent, libev, libuv and Boost.Asio, all in one process run, the
// implementations interleaved round by round.
//
//   psn-bench [--quick | --large] [--rounds R] [--only W,...] [--impl I,...]
//             [--json FILE] [--svg FILE]
//
// Workloads: dispatch, oneshot, rearm, packets, memory, echo.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "harness.hpp"

namespace {

const char* const kWorkloads[] = {"dispatch", "oneshot", "rearm", "packets", "memory", "echo"};

void usage(FILE* to) {
  std::fputs(
      "usage: psn-bench [options]\n"
      "  --quick          a small set, well under a minute\n"
      "  --large          also 100000 socket pairs / sockets (RLIMIT_NOFILE permitting)\n"
      "  --rounds R       rounds per measurement (default 5; 3 with --quick)\n"
      "  --only LIST      workloads, comma-separated: dispatch,oneshot,rearm,packets,memory,echo\n"
      "  --impl LIST      implementations, comma-separated (epoll is always kept: it is the floor)\n"
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
    o.ring_sizes = {100, 1000};
    o.ring_writes = 20000;
    o.memory_sockets = {10000};
    o.packets_one = o.packets_two = 100000;
    o.pingpongs = 2000;
    o.echo_bytes = 1024 * 1024;
  } else {
    o.ring_sizes = {100, 1000, 10000};
    o.ring_writes = 100000;
    o.memory_sockets = {10000};
    o.packets_one = o.packets_two = 1000000;
    o.pingpongs = 20000;
    o.echo_bytes = 4 * 1024 * 1024;
  }
  if (o.large) {
    o.ring_sizes.push_back(100000);
    o.memory_sockets.push_back(100000);
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace bench;
  if (argc == 4 && std::strcmp(argv[1], "--memory-probe") == 0)
    return memory_probe_main(argv[2], std::atoi(argv[3]));

  options o;
  bool rounds_set = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "psn-bench: %s needs a value\n", a.c_str());
        std::exit(1);
      }
      return argv[++i];
    };
    if (a == "--quick") o.quick = true;
    else if (a == "--large") o.large = true;
    else if (a == "--rounds") {
      o.rounds = std::atoi(value().c_str());
      rounds_set = true;
    } else if (a == "--only") o.only_workloads = split(value());
    else if (a == "--impl") o.only_impls = split(value());
    else if (a == "--json") o.json_path = value();
    else if (a == "--svg") o.svg_path = value();
    else if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else {
      std::fprintf(stderr, "psn-bench: unknown option %s\n", a.c_str());
      usage(stderr);
      return 1;
    }
  }
  if (o.quick && !rounds_set) o.rounds = 3;
  if (o.rounds < 1) {
    std::fputs("psn-bench: --rounds must be at least 1\n", stderr);
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
  std::vector<const impl*> impls;
  for (const impl* im : all_impls())
    if (std::string(im->name) == "epoll" || o.wants_impl(im->name)) impls.push_back(im);
  for (const std::string& name : o.only_impls) {
    bool known = false;
    for (const impl* im : all_impls()) known |= name == im->name;
    if (!known) {
      std::fprintf(stderr, "psn-bench: unknown or unavailable implementation %s\n", name.c_str());
      return 1;
    }
  }
  for (const std::string& m : missing_peers()) res.note("not built, left out everywhere: " + m);

  const int wanted_fds = 2 * (o.large ? 100000 : 10000) + 256;
  std::string fd_note;
  o.fd_limit = raise_fd_limit(wanted_fds, &fd_note);
  res.note(fd_note);

  std::fprintf(stderr, "psn-bench: %s set, %d rounds; implementations:", o.quick ? "quick" : "default",
               o.rounds);
  for (const impl* im : impls) std::fprintf(stderr, " %s", im->name);
  std::fputc('\n', stderr);

  const auto t0 = clock::now();
  if (o.wants_workload("dispatch")) run_ring(o, impls, res, arm::persistent);
  if (o.wants_workload("oneshot")) run_ring(o, impls, res, arm::oneshot);
  if (o.wants_workload("rearm")) run_rearm(o, res);
  if (o.wants_workload("packets")) run_packets(o, impls, res);
  if (o.wants_workload("memory")) run_memory(o, impls, res);
  if (o.wants_workload("echo")) run_echo(o, impls, res);
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
