#include "core/port.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <new>

#include "core/futex.hpp"
#include "core/handle_table.hpp"
#include "core/socket_owners.hpp"

namespace psn::core {
namespace {

// ---- time (R3.7: monotonic clock; now_monotonic, add_ms in core/futex.hpp) ----

// Milliseconds left until `deadline`, rounded up so a wait never ends early;
// 0 when it has passed.
int remaining_ms(const timespec& deadline) noexcept {
  timespec n = now_monotonic();
  long long ns = (static_cast<long long>(deadline.tv_sec) - n.tv_sec) * 1000000000LL +
                 (deadline.tv_nsec - n.tv_nsec);
  if (ns <= 0) return 0;
  long long ms = (ns + 999999) / 1000000;
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

// ---- per-thread running association (R3.8) -----------------------------------

// The port on which this thread counts as running, if any. A thread stops
// counting when it calls a dequeuing function again, on any port, or exits.
struct association {
  std::uintptr_t handle = 0;
  ~association() { leave(); }
  void leave() noexcept {
    std::uintptr_t h = handle;
    handle = 0;
    if (h == 0) return;
    port_ref p(h);
    if (p) p->stop_running();
  }
};
thread_local association t_running_on;

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

}  // namespace

// Wake-ups decided under the port lock and performed after it is released,
// so a woken thread does not run straight into a held lock.
class wake_list {
 public:
  explicit wake_list(backends::backend* b) noexcept : backend_(b) {}
  ~wake_list() { run(); }
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

port::port(std::unique_ptr<backends::backend> b, std::uint32_t concurrency) noexcept
    : object(kind::port), backend_(std::move(b)), concurrency_(concurrency) {}

port::~port() {
  close();
  while (free_user_) {
    user_packet* u = free_user_;
    free_user_ = static_cast<user_packet*>(u->next);
    delete u;
  }
  while (free_regs_) {
    registration* r = free_regs_;
    free_regs_ = static_cast<registration*>(r->next);
    delete r;
  }
}

// ---- the queue -----------------------------------------------------------

std::uint32_t port::take_locked(OVERLAPPED_ENTRY* out, std::uint32_t cap) noexcept {
  std::uint32_t n = 0;
  while (n < cap) {
    packet* p = queue_.pop_front();
    if (!p) break;
    OVERLAPPED_ENTRY& e = out[n++];
    e.Internal = 0;
    if (p->type == packet::kind::user) {
      auto* u = static_cast<user_packet*>(p);
      e.lpCompletionKey = u->key;
      e.lpOverlapped = static_cast<LPOVERLAPPED>(u->overlapped);
      e.dwNumberOfBytesTransferred = u->bytes;
      u->next = free_user_;
      free_user_ = u;
      continue;
    }
    // R3.5: a notification carries the key and the events, no OVERLAPPED.
    auto* r = static_cast<registration*>(p);
    e.lpCompletionKey = r->key;
    e.lpOverlapped = nullptr;
    e.dwNumberOfBytesTransferred = r->pending;
    r->pending = 0;
    if (r->st == registration::state::removed) {
      free_registration(r);  // R5.5: the REMOVE packet was its last
    } else if (r->oneshot) {
      r->st = registration::state::disabled;  // R5.9
    }
  }
  packets_delivered_ += n;
  return n;
}

void port::enqueue_events_locked(std::span<const backends::event> evs) noexcept {
  if (closed_) return;
  for (const backends::event& ev : evs) {
    int fd = static_cast<int>(static_cast<std::uint32_t>(ev.cookie));
    registration* r = lookup_locked(fd);
    // The cookie is checked against the table: a report for a registration
    // that has since been removed, dropped or replaced is ignored.
    if (!r || r->cookie() != ev.cookie || r->st != registration::state::enabled) continue;
    std::uint32_t mask = ev.events & (r->filter | SOCK_NOTIFY_EVENT_ERR);  // R5.10
    if (mask == 0) {
      // Only unfiltered conditions hold (say a hang-up on a registration
      // without HANGUP). A level watch would report them forever, so watch
      // edges instead until the next ENABLE.
      // Not while a fused enter may still be applying changes, nor before a
      // held-back re-arm of this registration: the next report parks it.
      if (!r->edge && !r->parked && !inflight_ && !r->deferred) {
        r->parked = true;
        ctl_locked(backends::change::kind::modify, r);
      }
      continue;
    }
    if (r->linked()) {
      r->pending |= mask;  // R5.6: merge, keep the queued packet's place
    } else {
      r->pending = mask;
      queue_.push_back(r);
      ++packets_queued_;
    }
  }
}

// Collects what the kernel has ready now, without waiting. The lock is let
// go during the system call.
void port::look_locked(std::unique_lock<std::mutex>& lock) noexcept {
  quiesce_locked(lock);
  backends::event evs[128];
  ++direct_looks_;  // no fused enter starts meanwhile (see quiesce_locked)
  lock.unlock();
  int k = backend_->wait(evs, 0);
  lock.lock();
  --direct_looks_;
  enqueue_events_locked(std::span<const backends::event>(evs, static_cast<std::size_t>(k)));
}

// ---- waiters -----------------------------------------------------------------

void port::signal_locked(waiter* w, wake_list& wl, waiter* self) noexcept {
  w->signal.store(1, std::memory_order_release);
  if (w == self) return;  // the calling thread needs no wake-up
  if (w->in_kernel) {
    if (!interrupt_pending_) {
      interrupt_pending_ = true;
      wl.interrupt();
    }
  } else {
    wl.add(&w->signal);
  }
}

// Hands queued packets to waiting threads, newest first (R3.8), while the
// concurrency value allows.
void port::dispatch_locked(wake_list& wl, waiter* self) noexcept {
  while (!queue_.empty() && !waiters_.empty() && running_ < concurrency_) {
    waiter* w = waiters_.back();
    waiters_.unlink(w);
    w->got = take_locked(w->out, w->cap);
    w->st = waiter::status::delivered;
    ++running_;
    signal_locked(w, wl, self);
  }
}

// Makes sure some waiter watches the kernel whenever one could be released.
void port::ensure_poller_locked(wake_list& wl) noexcept {
  if (poller_active_ || closed_ || waiters_.empty() || !queue_.empty() || running_ >= concurrency_)
    return;
  waiter* w = waiters_.front();  // the oldest: the newest stay free for packets
  if (w->signal.load(std::memory_order_relaxed) == 0) signal_locked(w, wl);
}

void port::stop_running() noexcept {
  wake_list wl(backend_.get());
  std::lock_guard<std::mutex> lock(mu_);
  if (running_ > 0) --running_;
  dispatch_locked(wl);
  ensure_poller_locked(wl);
}

std::uint32_t port::post(std::uint32_t bytes, std::uintptr_t key, void* ov) noexcept {
  wake_list wl(backend_.get());
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_) return ERROR_INVALID_HANDLE;
  if (watched_ > 0 && !poller_active_) {
    // R3.3: readiness that arrived before this post is queued before it.
    // Nobody is watching the kernel, so look now (sockets only: a port
    // used for posted packets alone never pays for this).
    look_locked(lock);
    if (closed_) return ERROR_INVALID_HANDLE;
  }
  user_packet* u = free_user_;
  if (u) {
    free_user_ = static_cast<user_packet*>(u->next);
    u->next = nullptr;
  } else {
    u = new (std::nothrow) user_packet();
    if (!u) return ERROR_NOT_ENOUGH_MEMORY;
  }
  u->bytes = bytes;
  u->key = key;
  u->overlapped = ov;
  queue_.push_back(u);
  ++packets_queued_;
  dispatch_locked(wl);  // R3.4: wakes one waiter (the newest)
  return ERROR_SUCCESS;
}

std::uint32_t port::dequeue(OVERLAPPED_ENTRY* out, std::uint32_t cap, std::uint32_t* got,
                            std::uint32_t timeout_ms, const void* defer_token) noexcept {
  *got = 0;
  // R3.8: entering a dequeuing call ends the thread's running period.
  bool was_running_here = t_running_on.handle == self_;
  if (was_running_here) {
    t_running_on.handle = 0;
  } else {
    t_running_on.leave();
  }

  timespec deadline{};
  const bool infinite = timeout_ms == kInfinite;
  if (!infinite && timeout_ms != 0) deadline = add_ms(now_monotonic(), timeout_ms);

  wake_list wl(backend_.get());
  std::unique_lock<std::mutex> lock(mu_);
  if (was_running_here && running_ > 0) --running_;
  if (closed_) return ERROR_ABANDONED_WAIT_0;

  // This call's held-back re-arms (R7.2) go to the kernel with its wait when
  // it is about to be the poller with nobody else on the port; otherwise now,
  // before anything is looked at (R4.1). Fusing with other threads around
  // would make each of them wait for the fused enter to end (see inflight_).
  const bool mine = holds_rearms_of(defer_token);
  if (mine && !(timeout_ms != 0 && queue_.empty() && !poller_active_ && waiters_.empty() &&
                running_ == 0 && direct_looks_ == 0)) {
    quiesce_locked(lock);
    flush_deferred_locked();
    if (closed_) return ERROR_ABANDONED_WAIT_0;
  }

  std::uint32_t n = 0;
  bool looked = false;  // has this call asked the kernel yet? (R4.5)
  if (running_ < concurrency_) {
    // Fill a short batch from the kernel without waiting, unless a poller
    // is already watching it for everyone. A call that found nothing and may
    // wait skips this: it is about to wait in the kernel itself. Looking
    // before taking lets new events merge into packets already queued
    // (R5.6), and makes a notification caused by this call's own
    // registrations visible to it (R4.5).
    const std::size_t queued = queue_.size();
    if (queued < cap && (timeout_ms == 0 || (queued > 0 && !poller_active_))) {
      // Ask for a full buffer, not just the shortfall: some reports may be
      // for registrations that are disabled or only see unfiltered events,
      // and must not crowd out the ones this call needs (R4.5). Extra
      // packets stay queued for later calls.
      look_locked(lock);
      looked = true;
      if (closed_) return ERROR_ABANDONED_WAIT_0;
    }
    // The lock was let go while looking: other threads may have taken the
    // last running slots meanwhile (R3.8).
    if (running_ < concurrency_) n = take_locked(out, cap);
    if (n > 0) {
      ++running_;
      dispatch_locked(wl);
      ensure_poller_locked(wl);
      lock.unlock();
      t_running_on.handle = self_;
      *got = n;
      return ERROR_SUCCESS;
    }
  }
  if (timeout_ms == 0) {
    dispatch_locked(wl);
    ensure_poller_locked(wl);
    return WAIT_TIMEOUT;
  }

  waiter w;
  w.out = out;
  w.cap = cap;
  waiters_.push_back(&w);
  for (;;) {
    if (w.st != waiter::status::waiting) break;
    int ms = infinite ? -1 : remaining_ms(deadline);
    // Held-back re-arms of this call still go to the kernel when its time
    // has run out before it got here (then without waiting).
    const bool rearms_pending = holds_rearms_of(defer_token);
    if (ms == 0 && !rearms_pending) {
      // R4.5: the time ran out before this call asked the kernel (say it
      // waited long for the port's lock); it still gets what its own
      // registrations made pending, as a call with time-out 0 would.
      if (looked || closed_) break;
      look_locked(lock);
      looked = true;
      dispatch_locked(wl, &w);
      continue;
    }
    if (!poller_active_ && queue_.empty() && running_ < concurrency_) {
      // Become the poller: wait in the kernel on behalf of every waiter,
      // applying this call's held-back re-arms in the same kernel entry.
      bool fused = rearms_pending;
      if (fused && direct_looks_ > 0) {
        flush_deferred_locked();  // a look is in the kernel: no fused enter now
        fused = false;
      }
      poller_active_ = true;
      w.in_kernel = true;
      if (fused) {
        inflight_ = true;
        changes_applied_ += deferred_changes_.size();
      }
      lock.unlock();
      wl.run();
      backends::event evs[256];
      int k =
          fused ? backend_->apply_and_wait(deferred_changes_, evs, ms) : backend_->wait(evs, ms);
      lock.lock();
      if (fused) {
        inflight_ = false;
        inflight_done_.notify_all();
        settle_deferred_locked();
      }
      poller_active_ = false;
      interrupt_pending_ = false;
      w.in_kernel = false;
      w.signal.store(0, std::memory_order_relaxed);
      looked = true;
      enqueue_events_locked(std::span<const backends::event>(evs, static_cast<std::size_t>(k)));
      dispatch_locked(wl, &w);  // may hand packets to this thread too
    } else if (rearms_pending) {
      // Someone else polls: apply them now and look, as a call that does
      // not wait would (R4.1, R4.5).
      quiesce_locked(lock);
      flush_deferred_locked();
      look_locked(lock);
      looked = true;
      dispatch_locked(wl, &w);
    } else {
      w.signal.store(0, std::memory_order_relaxed);
      lock.unlock();
      wl.run();
      futex_wait(&w.signal, 0, infinite ? nullptr : &deadline);
      lock.lock();
    }
  }

  // No call returns with its re-arms held back: they would be settled into
  // an entry array that is gone (found by the fuzzer).
  if (holds_rearms_of(defer_token)) {
    quiesce_locked(lock);
    flush_deferred_locked();
  }

  std::uint32_t rc;
  switch (w.st) {
    case waiter::status::delivered:
      *got = w.got;
      t_running_on.handle = self_;
      rc = ERROR_SUCCESS;
      break;
    case waiter::status::abandoned:
      rc = ERROR_ABANDONED_WAIT_0;  // R3.9
      break;
    default:
      waiters_.unlink(&w);
      rc = WAIT_TIMEOUT;
      break;
  }
  dispatch_locked(wl);
  ensure_poller_locked(wl);
  return rc;
}

void port::close() noexcept {
  wake_list wl(backend_.get());
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return;
  closed_ = true;
  // A fused enter under way settles its own re-arms when it returns.
  if (!inflight_) forget_deferred_locked();
  // R3.9: every waiter returns at once.
  while (waiter* w = waiters_.back()) {
    waiters_.unlink(w);
    w->st = waiter::status::abandoned;
    signal_locked(w, wl);
  }
  // Queued packets are discarded; removed registrations live only in the queue.
  while (packet* p = queue_.pop_front()) {
    if (p->type == packet::kind::user) {
      auto* u = static_cast<user_packet*>(p);
      u->next = free_user_;
      free_user_ = u;
    } else {
      auto* r = static_cast<registration*>(p);
      r->pending = 0;
      if (r->st == registration::state::removed) free_registration(r);
    }
  }
  // Every registration is dropped, and its socket may join another port.
  for (registration*& r : by_fd_) {
    if (!r) continue;
    socket_owners::instance().release(r->fd, r->ino, self_);
    registration* dead = r;
    r = nullptr;
    --watched_;
    free_registration(dead);
  }
}

// ---- registrations (SPEC 5) -------------------------------------------------

registration* port::lookup_locked(int fd) const noexcept {
  if (fd < 0 || static_cast<std::size_t>(fd) >= by_fd_.size()) return nullptr;
  return by_fd_[static_cast<std::size_t>(fd)];
}

void port::free_registration(registration* r) noexcept {
  r->st = registration::state::removed;
  r->deferred = false;
  r->prev = nullptr;
  r->next = free_regs_;
  free_regs_ = r;
  ++free_regs_count_;
}

// What the kernel is asked for a registration as it stands now.
backends::change port::change_for(backends::change::kind what, const registration* r) noexcept {
  backends::change c;
  c.what = what;
  c.fd = r->fd;
  c.cookie = r->cookie();
  c.interest.filter = r->filter;
  c.interest.edge = r->edge || r->parked;
  c.interest.oneshot = r->oneshot;
  return c;
}

int port::ctl_locked(backends::change::kind what, registration* r) noexcept {
  backends::change c = change_for(what, r);
  ++changes_applied_;
  backend_->apply(std::span<backends::change>(&c, 1));
  return c.result;
}

// Forgets a registration whose socket is gone or was closed, with no packet.
void port::drop_locked(registration* r) noexcept {
  by_fd_[static_cast<std::size_t>(r->fd)] = nullptr;
  --watched_;
  socket_owners::instance().release(r->fd, r->ino, self_);
  if (r->linked()) queue_.unlink(r);
  r->pending = 0;
  free_registration(r);
}

// R5.5: ends the registration; its REMOVE packet is the last it gets.
void port::remove_locked(registration* r) noexcept {
  by_fd_[static_cast<std::size_t>(r->fd)] = nullptr;
  --watched_;
  socket_owners::instance().release(r->fd, r->ino, self_);
  r->st = registration::state::removed;
  if (r->linked()) {
    r->pending |= SOCK_NOTIFY_EVENT_REMOVE;  // R5.6
  } else {
    r->pending = SOCK_NOTIFY_EVENT_REMOVE;
    queue_.push_back(r);
    ++packets_queued_;
  }
}

void port::drop_socket(int fd, std::uint64_t ino) noexcept {
  std::unique_lock<std::mutex> lock(mu_);
  quiesce_locked(lock);
  if (closed_) return;
  registration* r = lookup_locked(fd);
  if (r && r->deferred) {
    flush_deferred_locked();
    r = lookup_locked(fd);
  }
  if (!r || r->ino != ino) return;
  // Explicitly, in case another descriptor still refers to the socket.
  ctl_locked(backends::change::kind::del, r);
  drop_locked(r);
}

// R4.3: everything a batch could need is allocated before the first change.
bool port::reserve_locked(std::span<const SOCK_NOTIFY_REGISTRATION> regs) noexcept {
  std::size_t new_regs = 0;
  int max_fd = -1;
  // A REMOVE keeps its node until its packet is taken, so an ENABLE after it
  // in the same batch needs a new one even for a registered socket.
  bool removes = false;
  for (const auto& r : regs) removes |= r.operation == SOCK_NOTIFY_OP_REMOVE;
  for (const auto& r : regs) {
    const int fd = socket_fd(r.socket);
    if (r.operation != SOCK_NOTIFY_OP_ENABLE || fd < 0) continue;
    if (lookup_locked(fd)) {
      if (removes) ++new_regs;
      continue;
    }
    // Only an open descriptor can become a registration; checking this one
    // only when the table would have to grow keeps a bogus number from
    // making it huge.
    if (static_cast<std::size_t>(fd) >= by_fd_.size() &&
        (backend_->count_entries(1), ::fcntl(fd, F_GETFD) < 0))
      continue;
    ++new_regs;
    if (fd > max_fd) max_fd = fd;
  }
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

std::uint32_t port::apply(std::span<SOCK_NOTIFY_REGISTRATION> regs,
                          const void* defer_token) noexcept {
  wake_list wl(backend_.get());
  std::unique_lock<std::mutex> lock(mu_);
  quiesce_locked(lock);
  if (closed_) return ERROR_INVALID_HANDLE;
  // One call's re-arms at a time are held back; another's apply at once.
  deferring_ =
      defer_token && backend_->fuses() && (deferred_.empty() || deferred_owner_ == defer_token);
  if (!reserve_locked(regs)) {
    deferring_ = false;
    return ERROR_NOT_ENOUGH_MEMORY;
  }
  if (deferring_) deferred_owner_ = defer_token;
  for (auto& r : regs) r.registrationResult = apply_one_locked(r);  // R4.1: in order
  deferring_ = false;
  // A REMOVE queues a packet that a waiting thread may take at once.
  dispatch_locked(wl);
  return ERROR_SUCCESS;
}

// What DISABLE or REMOVE answers for a descriptor with no registration here.
bool port::socket_identity(int fd, std::uint64_t* ino) noexcept {
  backend_->count_entries(1);
  return fstat_socket(fd, ino);
}

std::uint32_t port::not_registered_result(int fd) noexcept {
  std::uint64_t ino;
  return socket_identity(fd, &ino) ? ERROR_NOT_FOUND : WSAENOTSOCK;  // R5.4, R5.1
}

std::uint32_t port::apply_one_locked(SOCK_NOTIFY_REGISTRATION& e) noexcept {
  const int fd = socket_fd(e.socket);
  switch (e.operation) {
    case SOCK_NOTIFY_OP_NONE:
      return ERROR_SUCCESS;  // R5.2
    case SOCK_NOTIFY_OP_ENABLE: {
      // R5.1: the filter and the trigger flags.
      const unsigned t = e.triggerFlags;
      const bool level = t & SOCK_NOTIFY_TRIGGER_LEVEL, edge = t & SOCK_NOTIFY_TRIGGER_EDGE;
      if ((e.eventFilter & ~SOCK_NOTIFY_REGISTER_EVENTS_ALL) || (t & ~SOCK_NOTIFY_TRIGGER_ALL) ||
          level == edge ||
          ((t & SOCK_NOTIFY_TRIGGER_ONESHOT) && (t & SOCK_NOTIFY_TRIGGER_PERSISTENT)))
        return WSAEINVAL;
      return enable_locked(e, lookup_locked(fd));
    }
    case SOCK_NOTIFY_OP_DISABLE:
    case SOCK_NOTIFY_OP_REMOVE: {
      registration* r = lookup_locked(fd);
      if (r && r->deferred) {  // its held-back re-arm goes first
        flush_deferred_locked();
        r = lookup_locked(fd);
      }
      if (!r) return not_registered_result(fd);
      const bool remove = e.operation == SOCK_NOTIFY_OP_REMOVE;
      int err =
          ctl_locked(remove ? backends::change::kind::del : backends::change::kind::disarm, r);
      if (err == ENOENT || err == EBADF) {
        // R5.12: the descriptor was closed with close(), and may now be
        // another socket: the old registration is gone without a packet.
        drop_locked(r);
        return not_registered_result(fd);
      }
      if (err != 0) return map_errno(err);
      if (remove) {
        remove_locked(r);
      } else {
        r->st = registration::state::disabled;  // R5.4: a queued packet stays
      }
      return ERROR_SUCCESS;
    }
    default:
      return WSAEINVAL;  // R5.1
  }
}

std::uint32_t port::enable_locked(SOCK_NOTIFY_REGISTRATION& e, registration* r) noexcept {
  const int fd = socket_fd(e.socket);
  const std::uint16_t filter = e.eventFilter;
  const bool edge = e.triggerFlags & SOCK_NOTIFY_TRIGGER_EDGE;
  const bool oneshot = e.triggerFlags & SOCK_NOTIFY_TRIGGER_ONESHOT;
  if (r && r->deferred) {  // the same socket twice in a batch: in order
    flush_deferred_locked();
    r = lookup_locked(fd);
  }
  if (r) {
    // R5.3: re-enable in place; the key stays. The kernel tells us whether
    // the descriptor still names the socket we registered.
    registration saved = *r;
    r->filter = filter;
    r->edge = edge;
    r->oneshot = oneshot;
    r->parked = false;
    if (deferring_ && deferred_.size() < deferred_.capacity()) {
      // R7.2: hold the re-arm back for the call's wait. Its result is
      // success unless the kernel refuses it; settle_deferred_locked() then
      // corrects the entry as the immediate path would have decided.
      deferred_changes_.push_back(change_for(backends::change::kind::modify, r));  // reserved
      deferred_.push_back({r, &e, saved.filter, saved.edge, saved.oneshot, saved.parked, saved.st});
      r->deferred = true;
      r->st = registration::state::enabled;
      return ERROR_SUCCESS;
    }
    int err = ctl_locked(backends::change::kind::modify, r);
    if (err == 0) {
      r->st = registration::state::enabled;
      return ERROR_SUCCESS;
    }
    if (err != ENOENT && err != EBADF) {
      r->filter = saved.filter;
      r->edge = saved.edge;
      r->oneshot = saved.oneshot;
      r->parked = saved.parked;
      return map_errno(err);
    }
    drop_locked(r);  // R5.12: a stale registration of a closed descriptor
  }
  std::uint64_t ino;
  if (!socket_identity(fd, &ino)) return WSAENOTSOCK;  // R5.1
  if (socket_owners::instance().claim(fd, ino, self_) ==
      socket_owners::claim_result::owned_elsewhere)
    return WSAEINVAL;  // R5.3 (psn): registered on another port
  // reserve_locked() guaranteed a free node and room in the tables.
  r = free_regs_;
  free_regs_ = static_cast<registration*>(r->next);
  --free_regs_count_;
  r->next = nullptr;
  r->fd = fd;
  r->seq = next_seq_++;
  if (next_seq_ == 0xFFFFFFFFu) next_seq_ = 1;  // keep cookies distinct from the interrupt cookie
  r->ino = ino;
  r->key = reinterpret_cast<std::uintptr_t>(e.completionKey);
  r->filter = filter;
  r->edge = edge;
  r->oneshot = oneshot;
  r->parked = false;
  r->pending = 0;
  r->st = registration::state::enabled;
  int err = ctl_locked(backends::change::kind::add, r);
  if (err != 0) {
    socket_owners::instance().release(fd, ino, self_);
    free_registration(r);
    return map_errno(err);
  }
  by_fd_[static_cast<std::size_t>(fd)] = r;
  ++watched_;
  return ERROR_SUCCESS;
}

// ---- held-back re-arms (R7.2) -------------------------------------------------

// Waits until no fused enter is under way, interrupting it. Whoever touches
// the epoll set directly calls this first: a change of a fused enter that
// the kernel could not apply at once may still be queued in the kernel, and
// a direct change overtaking it would leave the set out of step with us.
void port::quiesce_locked(std::unique_lock<std::mutex>& lock) noexcept {
  while (inflight_) {
    if (!interrupt_pending_) {
      interrupt_pending_ = true;
      backend_->interrupt();
    }
    inflight_done_.wait(lock);
  }
}

// Applies the held-back re-arms now, one system call each.
void port::flush_deferred_locked() noexcept {
  if (deferred_.empty()) return;
  changes_applied_ += deferred_changes_.size();
  backend_->apply(deferred_changes_);
  settle_deferred_locked();
}

// The kernel has answered the held-back re-arms: those it refused are
// decided as the immediate path decides them, and their entries corrected.
void port::settle_deferred_locked() noexcept {
  const bool was_deferring = deferring_;
  deferring_ = false;  // corrections apply at once
  for (std::size_t i = 0; i < deferred_.size(); ++i) {
    deferred_rearm& d = deferred_[i];
    registration* r = d.reg;
    r->deferred = false;
    const int err = deferred_changes_[i].result;
    if (err == 0 || closed_) continue;
    if (err == ENOENT || err == EBADF) {
      // R5.12: the descriptor was closed with close() and may now be another
      // socket, which this entry registers afresh with its own key.
      drop_locked(r);
      d.entry->registrationResult = enable_locked(*d.entry, nullptr);
    } else {
      r->filter = d.filter;
      r->edge = d.edge;
      r->oneshot = d.oneshot;
      r->parked = d.parked;
      r->st = d.st;
      d.entry->registrationResult = map_errno(err);
    }
  }
  deferred_.clear();
  deferred_changes_.clear();
  deferring_ = was_deferring;
}

// The port closed: held-back re-arms are dropped with their registrations.
void port::forget_deferred_locked() noexcept {
  for (deferred_rearm& d : deferred_) d.reg->deferred = false;
  deferred_.clear();
  deferred_changes_.clear();
  deferred_owner_ = nullptr;
}

port_counters port::stats() noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  port_counters c;
  c.packets_queued = packets_queued_;
  c.packets_delivered = packets_delivered_;
  c.kernel_entries = backend_->kernel_entries();
  c.changes_applied = changes_applied_;
  return c;
}

}  // namespace psn::core
