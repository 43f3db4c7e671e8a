// Workload 3: user packets. PostQueuedCompletionStatus then dequeue on one
// thread; a producer and a consumer thread (throughput); and the wake-up
// latency of a thread waiting for a packet (ping-pong between two threads,
// median round trip / 2). The floor is an eventfd + epoll loop doing the same.
#include <cstdio>

#include "harness.hpp"

namespace bench {

void run_packets(const options& o, const std::vector<const impl*>& impls, results& out) {
  syscall_counter counter;  // the calling thread only: the consumer, or the pinging side
  struct kind {
    const char* params;
    const char* unit;
    std::uint64_t n;
    double (*packet_bench::*fn)(std::uint64_t);
  };
  const kind kinds[] = {
      {"1 thread, post+get", "ns/packet", o.packets_one, &packet_bench::one_thread},
      {"2 threads, batches of 64", "ns/packet", o.packets_two, &packet_bench::two_threads},
      {"wake-up, ping-pong", "ns (RTT/2)", o.pingpongs, &packet_bench::ping_pong},
  };
  for (const impl* im : impls)
    if (!im->packets)
      out.skip("packets", "all", im->name, im->no_packets ? im->no_packets : "no packet queue");
  for (const kind& k : kinds) {
    const std::string params = std::string(k.params) + " n=" + std::to_string(k.n);
    std::fprintf(stderr, "[packets %s]", params.c_str());
    for (const impl* im : impls) {
      if (!im->packets) continue;
      watchdog(120, "packets " + params + " " + im->name + " (warm-up, traced)");
      const std::uint64_t n = k.n / 10 + 1;
      counter.start();
      (im->packets->*k.fn)(n);
      const std::uint64_t calls = counter.stop();
      if (counter.ok())
        out.add("packets", params, im->name, "syscalls/packet", better::lower,
                static_cast<double>(calls) / static_cast<double>(n));
    }
    for (int round = 0; round < o.rounds; ++round) {
      std::fprintf(stderr, " %d", round + 1);
      for (const impl* im : impls) {
        if (!im->packets) continue;
        watchdog(120, "packets " + params + " " + im->name);
        out.add("packets", params, im->name, k.unit, better::lower, (im->packets->*k.fn)(k.n));
      }
    }
    watchdog(0, "");
    std::fputc('\n', stderr);
  }
  out.note("packets: syscalls/packet counts the calling thread only (the consumer; the "
           "pinging side), in a traced warm-up run of n/10, thread creation included");
  out.note("packets: the epoll row is a locked FIFO plus an eventfd in an epoll set, written "
           "only while the consumer sleeps; asio posts handlers to an io_context");
}

}  // namespace bench
