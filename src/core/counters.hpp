// What a port has done so far, for tests and benchmarks (psn::port::stats).
#pragma once

#include <cstdint>

namespace psn::core {

struct port_counters {
  std::uint64_t packets_queued = 0;     // posted, notifications, REMOVE packets
  std::uint64_t packets_delivered = 0;  // taken by dequeuing calls
  std::uint64_t kernel_entries = 0;     // system calls made for the port
  std::uint64_t changes_applied = 0;    // registration changes sent to the kernel
};

}  // namespace psn::core
