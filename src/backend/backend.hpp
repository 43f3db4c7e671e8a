// The interface between the port core and a kernel readiness mechanism.
//
// The core speaks in psn event bits (IN, OUT, HANGUP, ERR) and opaque 64-bit
// cookies; a backend turns changes into kernel registrations and kernel
// readiness back into (cookie, events). A backend is used by one port. Its
// apply() is called with the port's lock held; wait() and apply_and_wait()
// are called without it, by at most one thread at a time (the port's
// poller), and may run concurrently with apply() and with interrupt().
#pragma once

#include <atomic>
#include <cstddef>
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

// A socket operation a backend with a ring runs in the kernel (SPEC R9.9):
// the kernel works on the caller's buffers and reports the result as a
// ring_completion carrying the same tag.
struct ring_request {
  // writable: completes once fd is writable or has an error (a connect
  // that is already under way in the kernel waits for its end this way).
  enum class kind : std::uint8_t { recvmsg, sendmsg, accept, connect, writable, cancel };
  kind what = kind::recvmsg;
  int fd = -1;
  void* arg = nullptr;        // msghdr* (recvmsg, sendmsg); const sockaddr* (connect)
  std::uint32_t addrlen = 0;  // connect
  int flags = 0;              // MSG_* flags (recvmsg, sendmsg)
  std::uint64_t tag = 0;      // non-zero; cancel: the tag of the request to cancel
};

struct ring_completion {
  std::uint64_t tag;
  int res;  // the system call's result: >= 0, or -errno
};

class backend {
 public:
  virtual ~backend() = default;

  // Applies the changes in order, setting each one's result.
  virtual void apply(std::span<change> changes) noexcept = 0;

  // Waits up to timeout_ms (-1: no limit) for readiness and fills `out`.
  // Returns the number of reports; 0 on time-out, interruption or EINTR.
  virtual int wait(std::span<event> out, int timeout_ms) noexcept = 0;

  // Applies the changes in order, setting each one's result, then waits as
  // wait() does (SPEC R7.2). A backend that fuses() does both in one kernel
  // entry in the common case and returns early, with nothing waited for,
  // when a change fails; the others simply apply, then wait.
  virtual int apply_and_wait(std::span<change> changes, std::span<event> out,
                             int timeout_ms) noexcept {
    apply(changes);
    return wait(out, timeout_ms);
  }

  // Whether apply_and_wait() saves kernel entries over apply() then wait().
  virtual bool fuses() const noexcept { return false; }

  // Makes a concurrent or the next wait() return promptly.
  virtual void interrupt() noexcept = 0;

  virtual enum kind kind() const noexcept = 0;

  // ---- the ring (io_uring only) ----
  // Every ring_* member is called with the port's lock held, and never while
  // a wait (or apply_and_wait) is under way: the ring's submission side has
  // one user at a time.
  virtual bool has_ring() const noexcept { return false; }
  // Whether waits go through the ring (socket operations were pushed): then
  // wait() too has one caller at a time, never beside a ring_* call.
  virtual bool ring_in_use() const noexcept { return false; }
  // Queues a request for the next kernel entry: the next wait submits it
  // with its own, or ring_submit() does. False when the ring is full.
  virtual bool ring_push(const ring_request&) noexcept { return false; }
  // Requests queued and not submitted yet.
  virtual unsigned ring_unsubmitted() const noexcept { return 0; }
  // Submits the queued requests now (one kernel entry), without waiting.
  virtual void ring_submit() noexcept {}
  // Moves completions collected by waits and submits (and any the kernel
  // has posted since, without entering it) into out; returns how many.
  virtual std::size_t ring_take(std::span<ring_completion> out) noexcept {
    (void)out;
    return 0;
  }

  // System calls made on this port's behalf (its share of the port's
  // counters): every epoll_ctl, epoll_wait, io_uring_enter and interrupt.
  std::uint64_t kernel_entries() const noexcept { return entries_.load(std::memory_order_relaxed); }
  void count_entries(std::uint64_t n) noexcept { entries_.fetch_add(n, std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> entries_{0};
};

// Creates a backend. `automatic` means PSN_BACKEND, else io_uring where the
// kernel allows it, else epoll (SPEC 1, R7.1). Returns nullptr with *error
// set to an ERROR_* code: ERROR_NOT_SUPPORTED for a backend (or a
// PSN_BACKEND value) this build or kernel cannot provide,
// ERROR_NOT_ENOUGH_MEMORY when the kernel refuses resources (descriptors,
// memory).
std::unique_ptr<backend> create(kind k, std::uint32_t* error) noexcept;

}  // namespace psn::backends
