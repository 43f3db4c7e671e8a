#include "core/registration_table.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <new>

#include "core/socket_owners.hpp"

namespace psn::core {
namespace {

std::uint32_t map_errno(int e) noexcept {
  switch (e) {
    case ENOMEM:
    case ENOSPC:
      return WSAENOBUFS;
    case EBADF:
    case EPERM:
      return WSAENOTSOCK;
    default:
      return WSAEINVAL;
  }
}

// Is fd an open socket? Sets *ino to its identity.
bool fstat_socket(int fd, std::uint64_t* ino) noexcept {
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
  *ino = static_cast<std::uint64_t>(st.st_ino);
  return true;
}

// A registration that wasted a report re-arms with EPOLLONESHOT for this
// many re-arms, doubled each time up to the cap.
constexpr std::uint32_t kEagerFirst = 64;
constexpr std::uint8_t kMaxBackoff = 12;

// Restores what psn wants and what the kernel watch does, nothing else.
void restore_settings(registration* r, const registration& s) noexcept {
  r->filter = s.filter;
  r->edge = s.edge;
  r->oneshot = s.oneshot;
  r->trigger_flags = s.trigger_flags;
  r->parked = s.parked;
  r->st = s.st;
  r->armed = s.armed;
  r->kernel_oneshot = s.kernel_oneshot;
  r->eager_left = s.eager_left;
}

}  // namespace

registration_table::~registration_table() {
  while (registration* r = free_regs_) {
    free_regs_ = static_cast<registration*>(r->next);
    delete r;
  }
}

// ---- what the kernel watches --------------------------------------------------

// The change that makes the kernel watch r as it stands now. A level
// one-shot registration uses EPOLLONESHOT only while it is backing off
// after a wasted report (see the header); an edge one-shot one always.
backends::change registration_table::change_for(backends::change::kind what,
                                                registration* r) noexcept {
  backends::change c;
  c.what = what;
  c.fd = r->fd;
  c.cookie = r->cookie();
  c.interest.filter = r->filter;
  c.interest.edge = r->edge || r->parked;
  c.interest.oneshot = r->oneshot && (r->edge || r->eager_left > 0);
  if (c.interest.oneshot && what == backends::change::kind::modify) --r->eager_left;
  return c;
}

// The kernel accepted c for r: record what its watch does now.
void registration_table::note_applied(const backends::change& c, registration* r) noexcept {
  switch (c.what) {
    case backends::change::kind::add:
    case backends::change::kind::modify:
      r->armed = true;
      r->kernel_oneshot = c.interest.oneshot;
      break;
    case backends::change::kind::disarm:
      r->disarmed_after_look = looks_started_;
      r->armed = false;
      break;
    case backends::change::kind::del:
      r->armed = false;
      break;
  }
}

int registration_table::ctl(backends::change::kind what, registration* r) noexcept {
  backends::change c = change_for(what, r);
  ++changes_applied_;
  backend_.apply(std::span<backends::change>(&c, 1));
  if (c.result == 0) note_applied(c, r);
  return c.result;
}

// The kernel reported r while it is disabled: its watch stayed armed after
// a take and someone looked before the re-arm. Disarm it, and re-arm with
// EPOLLONESHOT for a while (the multi-threaded pattern would otherwise pay
// a disarm and a re-arm per event, twice what EPOLLONESHOT costs).
void registration_table::wasted_report(registration* r) noexcept {
  if (r->backoff < kMaxBackoff) ++r->backoff;
  r->eager_left = kEagerFirst << (r->backoff - 1);
  ctl(backends::change::kind::disarm, r);
}

// ---- kernel reports ------------------------------------------------------------

std::uint32_t registration_table::on_reports(std::span<const backends::event> evs,
                                             std::uint64_t look, bool enter_in_flight,
                                             OVERLAPPED_ENTRY* out, std::uint32_t cap) noexcept {
  if (queue_.closed) return 0;
  if (!queue_.empty()) cap = 0;
  std::uint32_t direct = 0;
  for (const backends::event& ev : evs) {
    int fd = static_cast<int>(static_cast<std::uint32_t>(ev.cookie));
    registration* r = lookup(fd);
    // The cookie is checked against the table: a report for a registration
    // that has since been removed, dropped or replaced is ignored.
    if (!r || r->cookie() != ev.cookie) continue;
    if (r->kernel_oneshot) r->armed = false;  // the kernel disarmed it
    // Not while a fused enter may still be applying changes, nor before a
    // held-back re-arm of this registration: it sets the watch itself.
    const bool may_change = !enter_in_flight && !r->deferred;
    if (r->st != registration::state::enabled) {
      if (r->armed && !r->kernel_oneshot && may_change && r->st == registration::state::disabled)
        wasted_report(r);
      continue;
    }
    // A look that started before the ENABLE may have seen readiness the
    // handler has consumed since. Only a watch that stays armed can be
    // ignored safely: the kernel reports it again at the next look. An
    // EPOLLONESHOT watch was disarmed while the registration was, so what
    // it reports was armed by the ENABLE's own change.
    if (!r->kernel_oneshot) {
      if (look <= r->enabled_after_look) continue;
    } else if (look <= r->disarmed_after_look && may_change) {
      // It may also predate the disarm of the watch that stayed armed
      // before; this EPOLLONESHOT watch may have been used up by it. Ask
      // the kernel again: re-arming looks at the socket as it is now.
      ctl(backends::change::kind::modify, r);
      continue;
    }
    std::uint32_t mask = ev.events & (r->filter | SOCK_NOTIFY_EVENT_ERR);  // R5.10
    if (mask == 0) {
      // Only unfiltered conditions hold (say a hang-up on a registration
      // without HANGUP). A level watch would report them forever, so watch
      // edges instead until the next ENABLE.
      if (!r->edge && !r->parked && may_change) {
        r->parked = true;
        ctl(backends::change::kind::modify, r);
      }
      continue;
    }
    if (r->linked()) {
      r->pending |= mask;  // R5.6: merge, keep the queued packet's place
    } else if (direct < cap) {
      r->pending = mask;
      fill(r, out[direct++]);
    } else {
      r->pending = mask;
      queue_.push(r);
    }
  }
  queue_.count_direct(direct);
  return direct;
}

// ---- packets -------------------------------------------------------------------

void registration_table::deliver_packet(packet_owner* self, packet* p,
                                        OVERLAPPED_ENTRY& e) noexcept {
  static_cast<registration_table*>(self)->fill(static_cast<registration*>(p), e);
}

void registration_table::fill(registration* r, OVERLAPPED_ENTRY& e) noexcept {
  // R3.5: a notification carries the key and the events, no OVERLAPPED.
  e.Internal = 0;
  e.lpCompletionKey = r->key;
  e.lpOverlapped = nullptr;
  e.dwNumberOfBytesTransferred = r->pending;
  r->pending = 0;
  if (r->st == registration::state::removed) {
    free_registration(r);  // R5.5: the REMOVE packet was its last
  } else if (r->oneshot) {
    r->st = registration::state::disabled;  // R5.9; the kernel watch may stay armed
  }
}

void registration_table::discard_packet(packet_owner* self, packet* p) noexcept {
  auto* table = static_cast<registration_table*>(self);
  auto* r = static_cast<registration*>(p);
  r->pending = 0;
  if (r->st == registration::state::removed) table->free_registration(r);  // only in the queue
}

// ---- the table -----------------------------------------------------------------

void registration_table::free_registration(registration* r) noexcept {
  r->st = registration::state::removed;
  r->deferred = false;
  r->prev = nullptr;
  r->next = free_regs_;
  free_regs_ = r;
  ++free_regs_count_;
}

// Forgets a registration whose socket is gone or was closed, with no packet.
void registration_table::drop(registration* r) noexcept {
  by_fd_[static_cast<std::size_t>(r->fd)] = nullptr;
  --watched_;
  socket_owners::instance().release(r->fd, r->ino, port_);
  if (r->linked()) queue_.unlink(r);
  r->pending = 0;
  free_registration(r);
}

// R5.5: ends the registration; its REMOVE packet is the last it gets.
void registration_table::remove(registration* r) noexcept {
  by_fd_[static_cast<std::size_t>(r->fd)] = nullptr;
  --watched_;
  socket_owners::instance().release(r->fd, r->ino, port_);
  r->st = registration::state::removed;
  if (r->linked()) {
    r->pending |= SOCK_NOTIFY_EVENT_REMOVE;  // R5.6
  } else {
    r->pending = SOCK_NOTIFY_EVENT_REMOVE;
    queue_.push(r);
  }
}

void registration_table::drop_socket(int fd, std::uint64_t ino) noexcept {
  registration* r = lookup(fd);
  if (r && r->deferred) {
    flush_deferred();
    r = lookup(fd);
  }
  if (!r || r->ino != ino) return;
  // Explicitly, in case another descriptor still refers to the socket.
  ctl(backends::change::kind::del, r);
  drop(r);
}

void registration_table::forget_number(int fd) noexcept {
  registration* r = lookup(fd);
  if (r && r->deferred) {
    flush_deferred();
    r = lookup(fd);
  }
  if (r) drop(r);
}

void registration_table::drop_all() noexcept {
  for (registration*& r : by_fd_) {
    if (!r) continue;
    socket_owners::instance().release(r->fd, r->ino, port_);
    registration* dead = r;
    r = nullptr;
    --watched_;
    free_registration(dead);
  }
}

// R4.3: everything a batch could need is allocated before the first change.
bool registration_table::reserve(std::span<const SOCK_NOTIFY_REGISTRATION> regs) noexcept {
  std::size_t fresh = 0, registered = 0;
  int max_fd = -1;
  // A REMOVE keeps its node until its packet is taken, so an ENABLE of a
  // registered socket in a batch with a REMOVE needs a new node too.
  bool removes = false;
  for (const auto& r : regs) {
    removes |= r.operation == SOCK_NOTIFY_OP_REMOVE;
    const int fd = socket_fd(r.socket);
    if (r.operation != SOCK_NOTIFY_OP_ENABLE || fd < 0) continue;
    if (lookup(fd)) {
      ++registered;
      continue;
    }
    // Only an open descriptor can become a registration; checking this one
    // only when the table would have to grow keeps a bogus number from
    // making it huge.
    if (static_cast<std::size_t>(fd) >= by_fd_.size() &&
        (backend_.count_entries(1), ::fcntl(fd, F_GETFD) < 0))
      continue;
    ++fresh;
    if (fd > max_fd) max_fd = fd;
  }
  const std::size_t new_regs = fresh + (removes ? registered : 0);
  try {
    if (deferring_) {
      deferred_.reserve(deferred_.size() + regs.size());
      deferred_changes_.reserve(deferred_changes_.size() + regs.size());
    }
    if (max_fd >= 0) {
      std::size_t need = static_cast<std::size_t>(max_fd) + 1;
      if (by_fd_.size() < need) by_fd_.resize(std::max(need, by_fd_.size() * 2), nullptr);
      socket_owners::instance().reserve(max_fd);
    }
  } catch (...) {
    return false;
  }
  while (free_regs_count_ < new_regs) {
    auto* r = new (std::nothrow) registration();
    if (!r) return false;
    free_registration(r);
  }
  return true;
}

bool registration_table::apply(std::span<SOCK_NOTIFY_REGISTRATION> regs,
                               const void* defer_token) noexcept {
  // One call's re-arms at a time are held back; another's apply at once.
  deferring_ =
      defer_token && backend_.fuses() && (deferred_.empty() || deferred_owner_ == defer_token);
  if (!reserve(regs)) {
    deferring_ = false;
    return false;
  }
  if (deferring_) deferred_owner_ = defer_token;
  for (auto& e : regs) {  // R4.1: in order
    // The common re-arm first, inline: the same key, filter and trigger
    // flags as the registration's (validated when it took them), on a
    // watch that is still armed. No kernel change (see the header). The key
    // must match too: an ENABLE with another key on a registered number is
    // how a socket that reused the number of one closed with close()
    // usually shows itself (R5.12), and only the kernel can tell.
    if (e.operation == SOCK_NOTIFY_OP_ENABLE) {
      registration* r = lookup(socket_fd(e.socket));
      if (r && r->armed && !r->kernel_oneshot && !r->edge && !r->parked && !r->deferred &&
          r->trigger_flags == e.triggerFlags && r->filter == e.eventFilter &&
          r->key == reinterpret_cast<std::uintptr_t>(e.completionKey)) {
        if (r->st != registration::state::enabled) {
          r->enabled_after_look = looks_started_;
          r->st = registration::state::enabled;  // R5.9: the next kernel look reports it
        }
        e.registrationResult = ERROR_SUCCESS;
        continue;
      }
    }
    e.registrationResult = apply_one(e);
  }
  deferring_ = false;
  return true;
}

// What DISABLE or REMOVE answers for a descriptor with no registration here.
bool registration_table::socket_identity(int fd, std::uint64_t* ino) noexcept {
  backend_.count_entries(1);
  return fstat_socket(fd, ino);
}

std::uint32_t registration_table::not_registered_result(int fd) noexcept {
  std::uint64_t ino;
  return socket_identity(fd, &ino) ? ERROR_NOT_FOUND : WSAENOTSOCK;  // R5.4, R5.1
}

std::uint32_t registration_table::apply_one(SOCK_NOTIFY_REGISTRATION& e) noexcept {
  const int fd = socket_fd(e.socket);
  switch (e.operation) {
    case SOCK_NOTIFY_OP_NONE:
      return ERROR_SUCCESS;  // R5.2
    case SOCK_NOTIFY_OP_ENABLE: {
      registration* r = lookup(fd);
      // R5.1: the filter and the trigger flags.
      const unsigned t = e.triggerFlags;
      const bool level = t & SOCK_NOTIFY_TRIGGER_LEVEL, edge = t & SOCK_NOTIFY_TRIGGER_EDGE;
      if ((e.eventFilter & ~SOCK_NOTIFY_REGISTER_EVENTS_ALL) || (t & ~SOCK_NOTIFY_TRIGGER_ALL) ||
          level == edge ||
          ((t & SOCK_NOTIFY_TRIGGER_ONESHOT) && (t & SOCK_NOTIFY_TRIGGER_PERSISTENT)))
        return WSAEINVAL;
      return enable(e, r);
    }
    case SOCK_NOTIFY_OP_DISABLE:
    case SOCK_NOTIFY_OP_REMOVE: {
      registration* r = lookup(fd);
      if (r && r->deferred) {  // its held-back re-arm goes first
        flush_deferred();
        r = lookup(fd);
      }
      if (!r) return not_registered_result(fd);
      const bool rm = e.operation == SOCK_NOTIFY_OP_REMOVE;
      int err = ctl(rm ? backends::change::kind::del : backends::change::kind::disarm, r);
      if (err == ENOENT || err == EBADF) {
        // R5.12: the descriptor was closed with close(), and may now be
        // another socket: the old registration is gone without a packet.
        drop(r);
        return not_registered_result(fd);
      }
      if (err != 0) return map_errno(err);
      if (rm) {
        remove(r);
      } else {
        r->st = registration::state::disabled;  // R5.4: a queued packet stays
      }
      return ERROR_SUCCESS;
    }
    default:
      return WSAEINVAL;  // R5.1
  }
}

std::uint32_t registration_table::enable(SOCK_NOTIFY_REGISTRATION& e, registration* r) noexcept {
  const int fd = socket_fd(e.socket);
  const std::uint16_t filter = e.eventFilter;
  const bool edge = e.triggerFlags & SOCK_NOTIFY_TRIGGER_EDGE;
  const bool oneshot = e.triggerFlags & SOCK_NOTIFY_TRIGGER_ONESHOT;
  const auto key = reinterpret_cast<std::uintptr_t>(e.completionKey);
  if (r && r->deferred) {  // the same socket twice in a batch: in order
    flush_deferred();
    r = lookup(fd);
  }
  // A level report that a look under way already took may predate this
  // ENABLE: that look's reports for it are not delivered.
  if (r && !edge && r->st != registration::state::enabled) r->enabled_after_look = looks_started_;
  if (r) {
    // R5.3: re-enable in place; the key stays. The kernel tells us whether
    // the descriptor still names the socket we registered.
    const registration saved = *r;
    r->filter = filter;
    r->edge = edge;
    r->oneshot = oneshot;
    r->trigger_flags = e.triggerFlags;
    r->parked = false;
    if (deferring_ && deferred_.size() < deferred_.capacity()) {
      // R7.2: hold the re-arm back for the call's wait. Its result is
      // success unless the kernel refuses it; settle_deferred() then
      // corrects the entry as the immediate path would have decided.
      deferred_changes_.push_back(change_for(backends::change::kind::modify, r));  // reserved
      deferred_.push_back({r, &e, saved});
      note_applied(deferred_changes_.back(), r);
      r->deferred = true;
      r->st = registration::state::enabled;
      return ERROR_SUCCESS;
    }
    int err = ctl(backends::change::kind::modify, r);
    if (err == 0) {
      r->st = registration::state::enabled;
      return ERROR_SUCCESS;
    }
    if (err != ENOENT && err != EBADF) {
      restore_settings(r, saved);
      return map_errno(err);
    }
    drop(r);  // R5.12: a stale registration of a closed descriptor
  }
  std::uint64_t ino;
  if (!socket_identity(fd, &ino)) return WSAENOTSOCK;  // R5.1
  if (socket_owners::instance().claim(fd, ino, port_) ==
      socket_owners::claim_result::owned_elsewhere)
    return WSAEINVAL;  // R5.3 (psn): registered on another port
  // reserve() guaranteed a free node and room in the tables.
  r = free_regs_;
  free_regs_ = static_cast<registration*>(r->next);
  --free_regs_count_;
  r->next = nullptr;
  r->fd = fd;
  r->seq = next_seq_++;
  if (next_seq_ == 0xFFFFFFFFu) next_seq_ = 1;  // keep cookies distinct from the interrupt cookie
  r->ino = ino;
  r->key = key;
  r->filter = filter;
  r->edge = edge;
  r->oneshot = oneshot;
  r->trigger_flags = e.triggerFlags;
  r->parked = false;
  r->armed = false;
  r->kernel_oneshot = false;
  r->backoff = 0;
  r->eager_left = 0;
  r->enabled_after_look = 0;
  r->disarmed_after_look = 0;
  r->pending = 0;
  r->st = registration::state::enabled;
  int err = ctl(backends::change::kind::add, r);
  if (err != 0) {
    socket_owners::instance().release(fd, ino, port_);
    free_registration(r);
    return map_errno(err);
  }
  by_fd_[static_cast<std::size_t>(fd)] = r;
  ++watched_;
  return ERROR_SUCCESS;
}

// ---- held-back re-arms (R7.2) ----------------------------------------------------

// Applies the held-back re-arms now, one system call each. The caller has
// made sure no fused enter is under way.
void registration_table::flush_deferred() noexcept {
  if (deferred_.empty()) return;
  changes_applied_ += deferred_changes_.size();
  backend_.apply(deferred_changes_);
  settle_deferred();
}

// The kernel has answered the held-back re-arms: those it refused are
// decided as the immediate path decides them, and their entries corrected.
void registration_table::settle_deferred() noexcept {
  const bool was_deferring = deferring_;
  deferring_ = false;  // corrections apply at once
  for (std::size_t i = 0; i < deferred_.size(); ++i) {
    deferred_rearm& d = deferred_[i];
    registration* r = d.reg;
    r->deferred = false;
    const int err = deferred_changes_[i].result;
    if (err == 0 || queue_.closed) continue;
    if (err == ENOENT || err == EBADF) {
      // R5.12: the descriptor was closed with close() and may now be another
      // socket, which this entry registers afresh with its own key.
      drop(r);
      d.entry->registrationResult = enable(*d.entry, nullptr);
    } else {
      restore_settings(r, d.saved);
      d.entry->registrationResult = map_errno(err);
    }
  }
  deferred_.clear();
  deferred_changes_.clear();
  deferring_ = was_deferring;
}

// The port closed: held-back re-arms are dropped with their registrations.
void registration_table::forget_deferred() noexcept {
  for (deferred_rearm& d : deferred_) d.reg->deferred = false;
  deferred_.clear();
  deferred_changes_.clear();
  deferred_owner_ = nullptr;
}

}  // namespace psn::core
