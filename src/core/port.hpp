// A completion port: its FIFO packet queue (R3.3), its waiting threads
// (R3.8, R3.9) and its socket registrations (SPEC 5), over one backend.
//
// Locking: one mutex per port guards everything here. It is held for short,
// non-blocking steps only; the kernel wait runs without it. Waiting threads
// form a stack: the newest is released first (R3.8). At most one of them,
// the poller, waits in the kernel; the others sleep on a futex of their own.
// Whoever finds packets for a waiter (a poster, the poller after a kernel
// wait) moves them straight into that waiter's output array and wakes it,
// so one packet wakes one thread and nobody spins. See docs/design.md.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "backend/backend.hpp"
#include "core/counters.hpp"
#include "core/intrusive_list.hpp"
#include "core/object.hpp"
#include "core/packet.hpp"
#include "core/registration.hpp"
#include "psn/psn.h"

namespace psn::core {

class wake_list;

// A thread blocked in a dequeuing call.
struct waiter : list_node {
  enum class status : std::uint8_t { waiting, delivered, abandoned };
  OVERLAPPED_ENTRY* out = nullptr;
  std::uint32_t cap = 0;
  std::uint32_t got = 0;
  status st = status::waiting;
  bool in_kernel = false;                // this waiter is the poller, inside backend::wait
  std::atomic<std::uint32_t> signal{0};  // futex word: 1 = look at your status again
};

class port final : public object {
 public:
  using handle = std::uintptr_t;
  static constexpr kind kKind = kind::port;

  port(std::unique_ptr<backends::backend> b, std::uint32_t concurrency) noexcept;
  ~port() override;

  void set_handle(handle h) noexcept { self_ = h; }
  handle self() const noexcept { return self_; }
  backends::kind backend_kind() const noexcept { return backend_->kind(); }

  // R3.4
  std::uint32_t post(std::uint32_t bytes, std::uintptr_t key, void* ov) noexcept;
  // R3.5, R3.6, R3.7, R3.8: takes 1..cap packets, waiting up to timeout_ms.
  std::uint32_t dequeue(OVERLAPPED_ENTRY* out, std::uint32_t cap, std::uint32_t* got,
                        std::uint32_t timeout_ms) noexcept {
    return dequeue(out, cap, got, timeout_ms, nullptr);
  }
  // SPEC 5: applies a validated batch (R4.1, R4.3); sets every entry's result.
  // A call that will wait next passes a token naming itself: then, on a
  // backend that fuses, re-arms of registered sockets may be held back and
  // go to the kernel with that call's wait (R7.2). The call's dequeue, with
  // the same token, settles them before it returns.
  std::uint32_t apply(std::span<SOCK_NOTIFY_REGISTRATION> regs,
                      const void* defer_token = nullptr) noexcept;
  std::uint32_t dequeue(OVERLAPPED_ENTRY* out, std::uint32_t cap, std::uint32_t* got,
                        std::uint32_t timeout_ms, const void* defer_token) noexcept;
  // R3.9
  void close() noexcept override;
  // R5.11: drops fd's registration (if it is this socket's) without a REMOVE packet.
  void drop_socket(int fd, std::uint64_t ino) noexcept;

  // The calling thread stops counting as running on this port (R3.8).
  void stop_running() noexcept;

  port_counters stats() noexcept;

 private:
  std::uint32_t take_locked(OVERLAPPED_ENTRY* out, std::uint32_t cap) noexcept;
  void enqueue_events_locked(std::span<const backends::event> evs) noexcept;
  void look_locked(std::unique_lock<std::mutex>& lock) noexcept;
  void dispatch_locked(wake_list& wl, waiter* self = nullptr) noexcept;
  void ensure_poller_locked(wake_list& wl) noexcept;
  void signal_locked(waiter* w, wake_list& wl, waiter* self = nullptr) noexcept;

  std::uint32_t apply_one_locked(SOCK_NOTIFY_REGISTRATION& r) noexcept;
  std::uint32_t enable_locked(SOCK_NOTIFY_REGISTRATION& r, registration* rec) noexcept;
  std::uint32_t not_registered_result(int fd) noexcept;
  registration* lookup_locked(int fd) const noexcept;
  static backends::change change_for(backends::change::kind what, const registration* rec) noexcept;
  int ctl_locked(backends::change::kind what, registration* rec) noexcept;
  void remove_locked(registration* rec) noexcept;
  void drop_locked(registration* rec) noexcept;
  void free_registration(registration* rec) noexcept;
  bool reserve_locked(std::span<const SOCK_NOTIFY_REGISTRATION> regs) noexcept;
  bool socket_identity(int fd, std::uint64_t* ino) noexcept;
  // Held-back re-arms (R7.2): see apply().
  void quiesce_locked(std::unique_lock<std::mutex>& lock) noexcept;
  void flush_deferred_locked() noexcept;
  void settle_deferred_locked() noexcept;
  void forget_deferred_locked() noexcept;
  // Whether re-arms of the call named by `token` are held back.
  bool holds_rearms_of(const void* token) const noexcept {
    return token && !deferred_.empty() && deferred_owner_ == token;
  }

  std::mutex mu_;
  std::unique_ptr<backends::backend> backend_;
  handle self_ = 0;
  const std::uint32_t concurrency_;
  std::uint32_t running_ = 0;  // threads returned a packet and not yet back (R3.8)
  bool closed_ = false;
  bool poller_active_ = false;
  bool interrupt_pending_ = false;

  intrusive_list<packet> queue_;      // R3.3
  intrusive_list<waiter> waiters_;    // back = newest (R3.8)
  std::vector<registration*> by_fd_;  // live registrations by descriptor
  std::size_t watched_ = 0;           // live registrations (entries of by_fd_)
  std::uint32_t next_seq_ = 1;

  // Re-arms held back for one call's fused wait (R7.2). deferred_changes_[i]
  // is what the kernel is asked; deferred_[i] what to undo or redo if it
  // refuses. Both are reserved before a batch starts (R4.3).
  struct deferred_rearm {
    registration* reg;
    SOCK_NOTIFY_REGISTRATION* entry;  // the call's entry, to correct its result
    std::uint16_t filter;
    bool edge, oneshot, parked;
    registration::state st;
  };
  std::vector<backends::change> deferred_changes_;
  std::vector<deferred_rearm> deferred_;
  const void* deferred_owner_ = nullptr;
  bool deferring_ = false;  // inside apply() for a call that may defer
  // A poller's fused enter is under way: until it returns, its changes may
  // not have reached the epoll set, so nobody else touches the set.
  bool inflight_ = false;
  std::condition_variable inflight_done_;
  unsigned direct_looks_ = 0;  // non-blocking looks in the kernel, lock let go

  std::uint64_t packets_queued_ = 0;
  std::uint64_t packets_delivered_ = 0;
  std::uint64_t changes_applied_ = 0;

  // Recycled nodes: after warm-up, posting and registering allocate nothing.
  // Free nodes are chained through list_node::next.
  user_packet* free_user_ = nullptr;
  registration* free_regs_ = nullptr;
  std::size_t free_regs_count_ = 0;
};

}  // namespace psn::core
