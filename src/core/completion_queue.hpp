// A port's completion queue: its FIFO of packets (R3.3), the threads waiting
// for them (R3.8, R3.9) and the concurrency limit (R3.8). It knows nothing
// of sockets: a packet of another kind (a socket notification) is filled in
// by the packet_owner that queued it.
//
// Every member ending in a verb is called with the port's lock held.
// Waiting threads form a stack: the newest is released first (R3.8). One
// packet wakes one thread: whoever finds packets for a waiter moves them
// straight into that waiter's output array and wakes it. Wake-ups decided
// under the lock run after it is released (wake_list).
#pragma once

#include <atomic>
#include <cstdint>

#include "backend/backend.hpp"
#include "core/futex.hpp"
#include "core/intrusive_list.hpp"
#include "core/packet.hpp"
#include "psn/psn.h"

namespace psn::core {

// Fills in and takes back packets that are not user packets. Plain function
// pointers, not virtual functions: one indirect call either way, and no
// dynamic type for a sanitizer to check on the hot path.
class packet_owner {
 public:
  // The packet leaves the queue for a dequeuing call: fill its entry.
  void deliver(packet* p, OVERLAPPED_ENTRY& e) noexcept { deliver_(this, p, e); }
  // The port closes with the packet still queued (R3.9).
  void discard(packet* p) noexcept { discard_(this, p); }

 protected:
  using deliver_fn = void (*)(packet_owner*, packet*, OVERLAPPED_ENTRY&) noexcept;
  using discard_fn = void (*)(packet_owner*, packet*) noexcept;
  packet_owner(deliver_fn d, discard_fn x) noexcept : deliver_(d), discard_(x) {}
  ~packet_owner() = default;

 private:
  deliver_fn deliver_;
  discard_fn discard_;
};

// A thread blocked in a dequeuing call.
struct waiter : list_node {
  enum class status : std::uint8_t { waiting, delivered, abandoned };
  OVERLAPPED_ENTRY* out = nullptr;
  std::uint32_t cap = 0;
  std::uint32_t got = 0;
  status st = status::waiting;
  bool in_kernel = false;                // this waiter is the poller, inside the backend's wait
  std::atomic<std::uint32_t> signal{0};  // futex word: 1 = look at your status again
};

// Wake-ups decided under the port lock and performed after it is released,
// so a woken thread does not run straight into a held lock.
class wake_list {
 public:
  explicit wake_list(backends::backend* b) noexcept : backend_(b) {}
  ~wake_list() { run(); }
  wake_list(const wake_list&) = delete;
  wake_list& operator=(const wake_list&) = delete;
  void add(std::atomic<std::uint32_t>* w) noexcept {
    if (n_ < kMax) {
      words_[n_++] = w;
    } else {
      futex_wake(w, 1);  // still under the lock, which keeps the waiter alive
    }
  }
  void interrupt() noexcept { interrupt_ = true; }
  void run() noexcept {
    for (unsigned i = 0; i < n_; ++i) futex_wake(words_[i], 1);
    n_ = 0;
    if (interrupt_) backend_->interrupt();
    interrupt_ = false;
  }

 private:
  static constexpr unsigned kMax = 32;
  backends::backend* backend_;
  std::atomic<std::uint32_t>* words_[kMax];
  unsigned n_ = 0;
  bool interrupt_ = false;
};

class completion_queue {
 public:
  explicit completion_queue(std::uint32_t concurrency) noexcept : concurrency_(concurrency) {}
  ~completion_queue();
  completion_queue(const completion_queue&) = delete;
  completion_queue& operator=(const completion_queue&) = delete;

  void set_owner(packet::kind k, packet_owner* o) noexcept {
    owners_[static_cast<unsigned>(k)] = o;
  }

  // ---- packets (R3.3) ----
  bool empty() const noexcept { return packets_.empty(); }
  std::size_t size() const noexcept { return packets_.size(); }
  // R3.4. False when no memory is left for the packet.
  bool post(std::uint32_t bytes, std::uintptr_t key, void* ov) noexcept;
  // Queues a packet of another kind at the back; its owner fills it in.
  void push(packet* p) noexcept {
    packets_.push_back(p);
    ++queued_;
  }
  void unlink(packet* p) noexcept { packets_.unlink(p); }
  // n packets went from the kernel straight to a caller's array, as if
  // queued and taken at once (only while the queue is empty: R3.3).
  void count_direct(std::uint32_t n) noexcept {
    queued_ += n;
    delivered_ += n;
  }
  // Whether w is the only waiter (so packets for waiters are all its own).
  bool only_waiter(const waiter* w) const noexcept {
    return waiters_.front() == w && waiters_.back() == w;
  }
  // Takes up to cap packets, oldest first, into out.
  std::uint32_t take(OVERLAPPED_ENTRY* out, std::uint32_t cap) noexcept;
  // R3.9: every packet is dropped.
  void discard_all() noexcept;

  // ---- waiters (R3.8, R3.9) ----
  void add_waiter(waiter* w) noexcept { waiters_.push_back(w); }
  void remove_waiter(waiter* w) noexcept { waiters_.unlink(w); }
  bool has_waiters() const noexcept { return !waiters_.empty(); }
  // Hands queued packets to waiting threads, newest first, while the
  // concurrency limit allows. `self` needs no wake-up.
  void dispatch(wake_list& wl, waiter* self = nullptr) noexcept;
  // Makes sure some waiter watches the kernel whenever one could be
  // released: wakes the oldest, so the newest stay free for packets.
  void ensure_poller(wake_list& wl) noexcept;
  // Tells w to look at its status again (interrupting the kernel wait if w
  // is the poller).
  void signal(waiter* w, wake_list& wl, waiter* self = nullptr) noexcept;
  // R3.9: every waiter returns at once.
  void abandon_all(wake_list& wl) noexcept;

  // ---- the concurrency limit (R3.8) ----
  bool may_release() const noexcept { return running_ < concurrency_; }
  std::uint32_t running() const noexcept { return running_; }
  void start_running() noexcept { ++running_; }
  void stop_running() noexcept {
    if (running_ > 0) --running_;
  }

  // ---- the poller: the one waiter inside the kernel ----
  bool poller_active = false;
  bool interrupt_pending = false;  // an interrupt of the poller is on its way
  bool closed = false;             // no poller is started once set

  std::uint64_t packets_queued() const noexcept { return queued_; }
  std::uint64_t packets_delivered() const noexcept { return delivered_; }

 private:
  intrusive_list<packet> packets_;
  intrusive_list<waiter> waiters_;  // back = newest
  const std::uint32_t concurrency_;
  std::uint32_t running_ = 0;  // threads returned a packet and not yet back
  packet_owner* owners_[3] = {nullptr, nullptr, nullptr};
  std::uint64_t queued_ = 0;
  std::uint64_t delivered_ = 0;
  // Recycled user packets, chained through next: after warm-up, posting
  // allocates nothing.
  user_packet* free_user_ = nullptr;
};

}  // namespace psn::core
