// Workload 4: memory per registered socket. Each measurement runs in a fresh
// process (`psn-bench --memory-probe IMPL N`), so no implementation reuses
// heap another one freed: the probe creates N sockets, reads its anonymous
// resident size, registers them all (persistent, IN), reads it again and
// prints the difference per socket.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "harness.hpp"

namespace bench {
namespace {

// Bytes the kernel allocates per epoll registration (an epitem, and the
// wait-queue entry when its slab is not merged into another), from
// /proc/slabinfo; 0 when unreadable. Every implementation here registers
// each socket in exactly one epoll set, so this is the same for all.
std::uint64_t epoll_kernel_bytes(std::string* how) {
  std::ifstream f("/proc/slabinfo");
  std::string line;
  std::uint64_t total = 0;
  std::string parts;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string name;
    std::uint64_t active = 0, num = 0, objsize = 0;
    if (!(in >> name >> active >> num >> objsize)) continue;
    if (name == "eventpoll_epi" || name == "eventpoll_pwq") {
      total += objsize;
      parts += (parts.empty() ? "" : " + ") + name + " " + std::to_string(objsize) + " B";
    }
  }
  *how = parts.empty() ? "epoll slab caches not visible in /proc/slabinfo" : parts;
  return total;
}

double probe(const std::string& impl_name, int sockets) {
  int status = 0;
  // /proc/self/exe: this very binary, wherever it was started from.
  std::string text =
      spawn_capture({"psn-bench", "--memory-probe", impl_name, std::to_string(sockets)}, nullptr,
                    &status, "/proc/self/exe");
  BENCH_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 && !text.empty(),
              "memory probe for %s failed (status %d)", impl_name.c_str(), status);
  return std::strtod(text.c_str(), nullptr);
}

}  // namespace

int memory_probe_main(const std::string& impl_name, int sockets) {
  raise_fd_limit(sockets + 256, nullptr);
  const impl* im = nullptr;
  for (const impl* i : all_impls())
    if (impl_name == i->name) im = i;
  BENCH_CHECK(im && im->ring, "memory probe: unknown implementation %s", impl_name.c_str());
  ring r;
  for (int i = 0; i < sockets / 2; ++i) {
    int fds[2];
    make_socketpair(fds);
    r.rd.push_back(fds[0]);
    r.rd.push_back(fds[1]);
  }
  const std::uint64_t before = resident_bytes();
  auto loop = im->ring(r, arm::persistent);
  const std::uint64_t after = resident_bytes();
  std::printf("%.3f\n", (static_cast<double>(after) - static_cast<double>(before)) /
                            static_cast<double>(r.rd.size()));
  std::fflush(stdout);
  loop.reset();
  for (int fd : r.rd) ::close(fd);
  return 0;
}

void run_memory(const options& o, const std::vector<const impl*>& impls, results& out) {
  std::string how;
  const std::uint64_t kernel = epoll_kernel_bytes(&how);
  const int max_sockets = (o.fd_limit - 64) / 2 * 2;
  std::vector<int> done_sizes;
  for (int wanted : o.memory_sockets) {
    int n = wanted / 2 * 2;
    if (n > max_sockets) {
      n = max_sockets;
      out.note("memory: " + std::to_string(wanted) + " sockets reduced to " + std::to_string(n) +
               " (RLIMIT_NOFILE " + std::to_string(o.fd_limit) + ")");
    }
    if (std::find(done_sizes.begin(), done_sizes.end(), n) != done_sizes.end()) continue;
    done_sizes.push_back(n);
    const std::string params = "sockets=" + std::to_string(n);
    std::fprintf(stderr, "[memory %s]", params.c_str());
    for (int round = 0; round < o.rounds; ++round) {
      std::fprintf(stderr, " %d", round + 1);
      for (const impl* im : impls) {
        if (!im->ring) continue;
        watchdog(120, "memory " + params + " " + im->name);
        const double user = probe(im->name, n);
        out.add("memory", params, im->name, "B/socket (RSS)", better::lower, user);
        if (kernel > 0)
          out.add("memory", params, im->name, "B/socket (RSS+kernel)", better::lower,
                  user + static_cast<double>(kernel));
      }
    }
    watchdog(0, "");
    std::fputc('\n', stderr);
  }
  out.note(
      "memory: RSS = growth of anonymous resident pages (/proc/self/statm resident - "
      "shared) while registering, in a fresh process; kernel = " +
      how +
      " per registration (same for every "
      "implementation: each puts each socket in one epoll set)");
}

}  // namespace bench
