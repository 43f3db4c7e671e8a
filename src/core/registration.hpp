// A socket's registration on a port and the packet it queues (SPEC 5).
//
// States: enabled, disabled, removed. A registration owns at most one
// queued packet (R5.6): `pending` holds the events merged into it while it
// waits in the port's queue, so the packet is the registration itself and
// queueing a notification never allocates.
#pragma once

#include <cstdint>

#include "core/packet.hpp"

namespace psn::core {

struct registration : packet {
  enum class state : std::uint8_t { enabled, disabled, removed };

  int fd = -1;
  std::uint32_t seq = 0;    // distinguishes successive registrations of one fd
  std::uint64_t ino = 0;    // the socket's identity (R5.11, R5.12)
  std::uintptr_t key = 0;   // fixed for the registration's life (R5.3)
  std::uint16_t filter = 0; // SOCK_NOTIFY_REGISTER_EVENT_* bits
  bool edge = false;
  bool oneshot = false;
  bool parked = false;      // re-armed edge-triggered to stop a silent level report spinning
  bool deferred = false;    // a re-arm waits to go to the kernel with its call's wait (R7.2)
  state st = state::enabled;
  std::uint32_t pending = 0;  // events of the queued packet

  registration() noexcept : packet(kind::socket) {}

  // The kernel cookie: the fd and the sequence number, never a pointer. A
  // report whose cookie no longer matches a live registration is dropped.
  std::uint64_t cookie() const noexcept {
    return (static_cast<std::uint64_t>(seq) << 32) | static_cast<std::uint32_t>(fd);
  }
};

}  // namespace psn::core
