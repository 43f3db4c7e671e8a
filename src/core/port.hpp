// A completion port: a completion queue (completion_queue.hpp: packets,
// waiters, the concurrency limit), a registration table
// (registration_table.hpp: SPEC 5) and overlapped operations
// (overlapped_io.hpp: SPEC 9) over one backend, and the poller that
// joins them: at most one waiting thread waits in the kernel on behalf of
// all, and turns what the kernel reports into packets.
//
// Locking: one mutex per port guards everything here and in both parts. It
// is held for short, non-blocking steps only; the kernel wait runs without
// it. See docs/design.md.
#pragma once

#include <time.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>

#include "backend/backend.hpp"
#include "core/completion_queue.hpp"
#include "core/counters.hpp"
#include "core/object.hpp"
#include "core/overlapped_io.hpp"
#include "core/registration_table.hpp"
#include "psn/psn.h"

namespace psn::core {

class port final : public object {
 public:
  using handle = std::uintptr_t;
  static constexpr kind kKind = kind::port;

  port(std::unique_ptr<backends::backend> b, std::uint32_t concurrency) noexcept;
  ~port() override;

  void set_handle(handle h) noexcept {
    self_ = h;
    registrations_.set_port(h);
    io_.set_port(h);
  }
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
  // backend that fuses, re-arms that need the kernel may be held back and go
  // to the kernel with that call's wait (R7.2). The call's dequeue, with the
  // same token, settles them before it returns.
  std::uint32_t apply(std::span<SOCK_NOTIFY_REGISTRATION> regs,
                      const void* defer_token = nullptr) noexcept;
  std::uint32_t dequeue(OVERLAPPED_ENTRY* out, std::uint32_t cap, std::uint32_t* got,
                        std::uint32_t timeout_ms, const void* defer_token) noexcept;
  // R3.9
  void close() noexcept override;
  // R5.11: drops fd's registration (if it is this socket's) without a
  // REMOVE packet; R9.6: cancels its overlapped operations.
  void drop_socket(int fd, std::uint64_t ino) noexcept;

  // SPEC 9: overlapped operations on sockets associated with this port.
  std::uint32_t io_prepare() noexcept;  // R9.1
  void io_start(int fd, std::uintptr_t key, bool skip_on_success, const io_request& rq,
                io_result* res) noexcept;
  std::uint32_t io_cancel(int fd, const OVERLAPPED* ov) noexcept;  // R9.6
  // Runs what the kernel allows now, without waiting (GetOverlappedResult).
  void io_poll() noexcept;

  // The calling thread stops counting as running on this port (R3.8).
  void stop_running() noexcept;

  port_counters stats() noexcept;

 private:
  std::uint32_t wait_locked(std::unique_lock<std::mutex>& lock, wake_list& wl,
                            OVERLAPPED_ENTRY* out, std::uint32_t cap, std::uint32_t* got,
                            std::uint32_t timeout_ms, const timespec& deadline,
                            const void* defer_token, bool looked);
  // Returns how many notifications went straight into out (see on_reports).
  std::uint32_t look_locked(std::unique_lock<std::mutex>& lock, OVERLAPPED_ENTRY* out = nullptr,
                            std::uint32_t cap = 0) noexcept;
  void quiesce_locked(std::unique_lock<std::mutex>& lock) noexcept;
  void flush_deferred_locked(std::unique_lock<std::mutex>& lock) noexcept;
  // Runs overlapped operations if the kernel reported their set.
  void drive_io(std::span<const backends::event> reports) noexcept;
  // The ring's submission side is free: no thread is inside a backend call.
  bool ring_free() const noexcept {
    return !queue_.poller_active && direct_looks_ == 0 && !inflight_;
  }
  // Ring mode: takes the ring's completions and sends deferred requests
  // when the ring is free; asks the poller to come back when it is not.
  void reap_ring(wake_list& wl) noexcept;

  std::mutex mu_;
  std::unique_ptr<backends::backend> backend_;
  handle self_ = 0;
  completion_queue queue_;
  registration_table registrations_;
  overlapped_io io_;

  // A poller's fused enter is under way: until it returns, its changes may
  // not have reached the epoll set, so nobody else touches the set.
  bool inflight_ = false;
  std::condition_variable inflight_done_;
  // Threads waiting for the poller to leave the ring (closesocket, R9.6).
  unsigned ring_waiters_ = 0;
  std::condition_variable ring_idle_;
  unsigned direct_looks_ = 0;  // non-blocking looks in the kernel, lock let go
};

}  // namespace psn::core
