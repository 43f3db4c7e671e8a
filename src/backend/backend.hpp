// The interface between the port core and a kernel readiness mechanism.
//
// The core speaks in psn event bits (IN, OUT, HANGUP, ERR) and opaque 64-bit
// cookies; a backend turns changes into kernel registrations and kernel
// readiness back into (cookie, events). A backend is used by one port. Its
// apply() is called with the port's lock held; wait() is called without it,
// by at most one thread at a time (the port's poller), and may run
// concurrently with apply() and with interrupt().
#pragma once

#include <cstdint>
#include <memory>
#include <span>

namespace psn::backends {

// Which backend a port gets.
enum class kind : std::uint8_t { automatic, epoll, io_uring };

// What the kernel is asked to watch for one socket.
struct interest {
  std::uint16_t filter = 0;  // SOCK_NOTIFY_REGISTER_EVENT_* bits
  bool edge = false;         // report transitions only
  bool oneshot = false;      // disarm in the kernel after one report
};

// One registration change. `result` is set by apply(): 0 or an errno value.
struct change {
  enum class kind : std::uint8_t {
    add,     // start watching fd
    modify,  // replace what is watched (and re-arm a one-shot watch)
    disarm,  // keep the watch but report nothing
    del,     // stop watching fd
  };
  kind what = kind::add;
  int fd = -1;
  std::uint64_t cookie = 0;
  struct interest interest;
  int result = 0;
};

// A readiness report. `events` holds SOCK_NOTIFY_EVENT_IN/OUT/HANGUP/ERR bits
// for what holds, before the registration's filter is applied.
struct event {
  std::uint64_t cookie;
  std::uint32_t events;
};

class backend {
 public:
  virtual ~backend() = default;

  // Applies the changes in order, setting each one's result. A backend may
  // defer submission of the changes to the next wait() as long as results
  // are set before apply() returns.
  virtual void apply(std::span<change> changes) noexcept = 0;

  // Waits up to timeout_ms (-1: no limit) for readiness and fills `out`.
  // Returns the number of reports; 0 on time-out, interruption or EINTR.
  virtual int wait(std::span<event> out, int timeout_ms) noexcept = 0;

  // Makes a concurrent or the next wait() return promptly.
  virtual void interrupt() noexcept = 0;

  virtual enum kind kind() const noexcept = 0;
};

// Creates a backend. Returns nullptr with *error set to an ERROR_* code:
// ERROR_NOT_SUPPORTED for a backend (or a PSN_BACKEND value) this build or
// kernel cannot provide, ERROR_NOT_ENOUGH_MEMORY when the kernel refuses
// resources (descriptors, memory).
std::unique_ptr<backend> create(kind k, std::uint32_t* error) noexcept;

}  // namespace psn::backends
