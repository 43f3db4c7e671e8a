// A port's socket registrations (SPEC 5): the table by descriptor, the
// state machine of each registration, and what the kernel is asked to
// watch for it.
//
// Every member is called with the port's lock held.
//
// Re-arming without a kernel change. A level-triggered one-shot
// registration is watched by
// the kernel with a watch that stays armed after a report, not with
// EPOLLONESHOT: taking its packet disables it in psn only (R5.9). When the
// application re-arms it with the same key, filter and triggers, nothing
// reaches the kernel; the next kernel wait reports the socket if its
// condition holds, as a level re-arm must (R5.9, R4.5). Only when the
// kernel reports a registration that is disabled (someone looked at the
// kernel between the take and the re-arm: another thread, or a handler
// that re-arms late) is the watch disarmed, and the registration then
// re-arms with EPOLLONESHOT for a while, backing off exponentially each
// time it wastes a report again. So a registration costs at most what
// EPOLLONESHOT + EPOLL_CTL_MOD costs, and usually nothing.
//
// A kernel look that started before a level-triggered ENABLE may report
// readiness that the handler has since consumed; such reports are not
// delivered (the kernel repeats a level report at the next look if the
// condition still holds); an EPOLLONESHOT watch reports only what its
// re-arm armed, and is never ignored. Edge-triggered one-shot registrations keep
// EPOLLONESHOT: an edge cannot be asked for again. docs/design.md has the
// measurements.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "backend/backend.hpp"
#include "core/completion_queue.hpp"
#include "core/registration.hpp"
#include "psn/psn.h"

namespace psn::core {

class registration_table final : public packet_owner {
 public:
  registration_table(backends::backend& b, completion_queue& q) noexcept
      : packet_owner(&deliver_packet, &discard_packet), backend_(b), queue_(q) {}
  ~registration_table();
  registration_table(const registration_table&) = delete;
  registration_table& operator=(const registration_table&) = delete;

  void set_port(std::uintptr_t h) noexcept { port_ = h; }
  std::size_t size() const noexcept { return watched_; }
  std::uint64_t changes_applied() const noexcept { return changes_applied_; }

  // Applies a validated batch in order (R4.1), setting every entry's result;
  // false, with nothing changed, when memory ran out (R4.3). With
  // defer_token set and a backend that fuses, re-arms that need the kernel
  // are held back for that call's wait (R7.2).
  bool apply(std::span<SOCK_NOTIFY_REGISTRATION> regs, const void* defer_token) noexcept;

  // Numbers the kernel looks: the port takes one before each wait or look
  // and hands it to on_reports with what that look found.
  std::uint64_t start_look() noexcept { return ++looks_started_; }

  // Kernel reports become packets (R5.6, R5.7, R5.10). `enter_in_flight`:
  // a fused enter may still be applying changes, so the epoll set is not
  // touched.
  // With `out`, while the queue is empty, the first `cap` notifications go
  // straight into out as if queued and taken at once (R3.3 holds: nothing
  // was queued before them); returns how many.
  std::uint32_t on_reports(std::span<const backends::event> evs, std::uint64_t look,
                           bool enter_in_flight, OVERLAPPED_ENTRY* out = nullptr,
                           std::uint32_t cap = 0) noexcept;

  // R5.11: drops fd's registration, if it is this socket's, without a packet.
  void drop_socket(int fd, std::uint64_t ino) noexcept;
  // R3.9: every registration is dropped (after the queue discarded its packets).
  void drop_all() noexcept;
  // psn itself now holds descriptor number fd (the overlapped engine's own
  // epoll set, in this port's watch set): a registration left under that
  // number by a socket closed with close() is stale and goes, without
  // touching the kernel watch, which is no longer its (R5.12).
  void forget_number(int fd) noexcept;

  // packet_owner: a notification leaves the queue (R5.5, R5.9), or the port closes.
  static void deliver_packet(packet_owner* self, packet* p, OVERLAPPED_ENTRY& e) noexcept;
  static void discard_packet(packet_owner* self, packet* p) noexcept;

  // ---- held-back re-arms (R7.2) ----
  bool holds_rearms_of(const void* token) const noexcept {
    return token && !deferred_.empty() && deferred_owner_ == token;
  }
  // What a fused enter applies; settle_deferred() once it returned.
  std::span<backends::change> deferred_changes() noexcept { return deferred_changes_; }
  void count_changes(std::size_t n) noexcept { changes_applied_ += n; }
  void flush_deferred() noexcept;
  void settle_deferred() noexcept;
  void forget_deferred() noexcept;

 private:
  std::uint32_t apply_one(SOCK_NOTIFY_REGISTRATION& e) noexcept;
  void fill(registration* r, OVERLAPPED_ENTRY& e) noexcept;
  std::uint32_t enable(SOCK_NOTIFY_REGISTRATION& e, registration* r) noexcept;
  std::uint32_t not_registered_result(int fd) noexcept;
  registration* lookup(int fd) const noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= by_fd_.size()) return nullptr;
    return by_fd_[static_cast<std::size_t>(fd)];
  }
  backends::change change_for(backends::change::kind what, registration* r) noexcept;
  void note_applied(const backends::change& c, registration* r) noexcept;
  int ctl(backends::change::kind what, registration* r) noexcept;
  void wasted_report(registration* r) noexcept;
  void remove(registration* r) noexcept;
  void drop(registration* r) noexcept;
  void free_registration(registration* r) noexcept;
  bool reserve(std::span<const SOCK_NOTIFY_REGISTRATION> regs) noexcept;
  bool socket_identity(int fd, std::uint64_t* ino) noexcept;

  backends::backend& backend_;
  completion_queue& queue_;
  std::uintptr_t port_ = 0;
  std::vector<registration*> by_fd_;  // live registrations by descriptor
  std::size_t watched_ = 0;           // live registrations (entries of by_fd_)
  std::uint32_t next_seq_ = 1;
  std::uint64_t changes_applied_ = 0;
  std::uint64_t looks_started_ = 0;

  // Recycled nodes, chained through next: after warm-up, registering
  // allocates nothing.
  registration* free_regs_ = nullptr;
  std::size_t free_regs_count_ = 0;

  // Re-arms held back for one call's fused wait (R7.2). deferred_changes_[i]
  // is what the kernel is asked; deferred_[i] what to undo or redo if it
  // refuses. Both are reserved before a batch starts (R4.3).
  struct deferred_rearm {
    registration* reg;
    SOCK_NOTIFY_REGISTRATION* entry;  // the call's entry, to correct its result
    registration saved;               // the registration before the re-arm
  };
  std::vector<backends::change> deferred_changes_;
  std::vector<deferred_rearm> deferred_;
  const void* deferred_owner_ = nullptr;
  bool deferring_ = false;  // inside apply() for a call that may defer
};

}  // namespace psn::core
