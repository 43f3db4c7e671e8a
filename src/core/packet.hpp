// A completion packet in a port's FIFO queue (R3.3): a posted user packet,
// a socket registration's notification, or an overlapped operation's
// completion (R9.8).
#pragma once

#include <cstdint>

#include "core/intrusive_list.hpp"

namespace psn::core {

struct packet : list_node {
  enum class kind : std::uint8_t { user, socket, io };
  explicit packet(kind k) noexcept : type(k) {}
  kind type;
};

// What PostQueuedCompletionStatus queued (R3.4).
struct user_packet : packet {
  user_packet() noexcept : packet(kind::user) {}
  std::uint32_t bytes = 0;
  std::uintptr_t key = 0;
  void* overlapped = nullptr;
};

}  // namespace psn::core
