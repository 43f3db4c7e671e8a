// A socket's registration on a port and the packet it queues (SPEC 5).
//
// States: enabled, disabled, removed. A registration owns at most one
// queued packet (R5.6): `pending` holds the events merged into it while it
// waits in the port's queue, so the packet is the registration itself and
// queueing a notification never allocates.
//
// What psn wants (st, filter, edge, oneshot) and what the kernel watch does
// (armed, kernel_oneshot) are kept apart: a one-shot registration usually
// stays armed in the kernel after its packet is taken, so that re-arming it
// needs no kernel change (see registration_table.hpp).
#pragma once

#include <cstdint>

#include "core/packet.hpp"

namespace psn::core {

struct registration : packet {
  enum class state : std::uint8_t { enabled, disabled, removed };

  int fd = -1;
  std::uint32_t seq = 0;     // distinguishes successive registrations of one fd
  std::uint64_t ino = 0;     // the socket's identity (R5.11, R5.12)
  std::uintptr_t key = 0;    // fixed for the registration's life (R5.3)
  std::uint16_t filter = 0;  // SOCK_NOTIFY_REGISTER_EVENT_* bits
  bool edge = false;
  bool oneshot = false;
  std::uint8_t trigger_flags = 0;  // as the ENABLE gave them (validated), for the re-arm fast path
  bool parked = false;             // watched edge-triggered to stop a silent level report spinning
  bool deferred = false;           // a re-arm waits to go to the kernel with its call's wait (R7.2)
  state st = state::enabled;
  // The kernel watch: whether it can report now, and whether it disarms
  // itself after one report (EPOLLONESHOT).
  bool armed = false;
  bool kernel_oneshot = false;
  // Re-arms left before a one-shot registration tries a watch that stays
  // armed again, and the back-off for the next time it wastes a report.
  std::uint8_t backoff = 0;
  std::uint32_t eager_left = 0;
  // Kernel looks started before the last ENABLE of this level-triggered
  // registration: what they report may predate it, and is not delivered.
  std::uint64_t enabled_after_look = 0;
  // Kernel looks started before the watch was last disarmed: what they
  // report may predate the disarm.
  std::uint64_t disarmed_after_look = 0;
  std::uint32_t pending = 0;  // events of the queued packet

  registration() noexcept : packet(kind::socket) {}

  // The kernel cookie: the fd and the sequence number, never a pointer. A
  // report whose cookie no longer matches a live registration is dropped.
  std::uint64_t cookie() const noexcept {
    return (static_cast<std::uint64_t>(seq) << 32) | static_cast<std::uint32_t>(fd);
  }
};

}  // namespace psn::core
