#include "core/port.hpp"

#include <time.h>

#include <climits>

#include "core/futex.hpp"
#include "core/handle_table.hpp"
#include "core/socket_owners.hpp"

namespace psn::core {
namespace {

// Milliseconds left until `deadline`, rounded up so a wait never ends early;
// 0 when it has passed (R3.7: monotonic clock).
int remaining_ms(const timespec& deadline) noexcept {
  timespec n = now_monotonic();
  long long ns = (static_cast<long long>(deadline.tv_sec) - n.tv_sec) * 1000000000LL +
                 (deadline.tv_nsec - n.tv_nsec);
  if (ns <= 0) return 0;
  long long ms = (ns + 999999) / 1000000;
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

// The port on which this thread counts as running, if any (R3.8). A thread
// stops counting when it calls a dequeuing function again, on any port, or
// exits.
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

}  // namespace

port::port(std::unique_ptr<backends::backend> b, std::uint32_t concurrency) noexcept
    : object(kind::port),
      backend_(std::move(b)),
      queue_(concurrency),
      registrations_(*backend_, queue_),
      io_(*backend_, queue_) {
  queue_.set_owner(packet::kind::socket, &registrations_);
  queue_.set_owner(packet::kind::io, &io_);
}

port::~port() {
  close();
  // The ring goes first: overlapped operations it may still hold are freed
  // by the engine's destructor, once the kernel is done with them.
  backend_.reset();
}

// ---- the kernel ------------------------------------------------------------------

// Collects what the kernel has ready now, without waiting. The lock is let
// go during the system call.
std::uint32_t port::look_locked(std::unique_lock<std::mutex>& lock, OVERLAPPED_ENTRY* out,
                                std::uint32_t cap) noexcept {
  quiesce_locked(lock);
  backends::event evs[128];
  const std::uint64_t look = registrations_.start_look();
  int k = 0;
  if (backend_->ring_in_use()) {
    // The ring has one user at a time: a look that finds it busy leaves the
    // kernel to the thread inside; a quick look keeps the lock.
    if (ring_free()) k = backend_->wait(evs, 0);
  } else {
    ++direct_looks_;  // no fused enter starts meanwhile (see dequeue)
    lock.unlock();
    k = backend_->wait(evs, 0);
    lock.lock();
    --direct_looks_;
  }
  // The lock was let go: other threads may have taken the last running
  // slots meanwhile (R3.8).
  if (!queue_.may_release()) cap = 0;
  drive_io(std::span<const backends::event>(evs, static_cast<std::size_t>(k)));
  if (io_.uses_ring() && ring_free()) {
    wake_list wl(backend_.get());
    reap_ring(wl);
  }
  return registrations_.on_reports(
      std::span<const backends::event>(evs, static_cast<std::size_t>(k)), look, inflight_, out,
      cap);
}

// Waits until no fused enter is under way, interrupting it. Whoever touches
// the epoll set directly calls this first: a change of a fused enter that
// the kernel could not apply at once may still be queued in the kernel, and
// a direct change overtaking it would leave the set out of step with us.
void port::quiesce_locked(std::unique_lock<std::mutex>& lock) noexcept {
  while (inflight_) {
    if (!queue_.interrupt_pending) {
      queue_.interrupt_pending = true;
      backend_->interrupt();
    }
    inflight_done_.wait(lock);
  }
}

void port::flush_deferred_locked(std::unique_lock<std::mutex>& lock) noexcept {
  quiesce_locked(lock);
  registrations_.flush_deferred();
}

void port::reap_ring(wake_list& wl) noexcept {
  if (!io_.uses_ring()) return;
  io_.set_ring_free(ring_free());
  io_.reap();
  if (io_.take_kick() && queue_.poller_active && !queue_.interrupt_pending) {
    queue_.interrupt_pending = true;
    wl.interrupt();
  }
}

void port::drive_io(std::span<const backends::event> reports) noexcept {
  if (!io_.has_sockets() || queue_.closed) return;
  for (const backends::event& ev : reports) {
    if (ev.cookie == overlapped_io::kCookie) {
      io_.drive();
      return;
    }
  }
}

// ---- posting and taking ------------------------------------------------------------

void port::stop_running() noexcept {
  wake_list wl(backend_.get());
  std::lock_guard<std::mutex> lock(mu_);
  // A thread that leaves without waiting here again leaves no request of
  // its own unsubmitted (R9.9).
  if (io_.uses_ring() && ring_free() && !queue_.closed) backend_->ring_submit();
  queue_.stop_running();
  queue_.dispatch(wl);
  queue_.ensure_poller(wl);
}

std::uint32_t port::post(std::uint32_t bytes, std::uintptr_t key, void* ov) noexcept {
  wake_list wl(backend_.get());
  std::unique_lock<std::mutex> lock(mu_);
  if (queue_.closed) return ERROR_INVALID_HANDLE;
  if (registrations_.size() > 0 && !queue_.poller_active) {
    // R3.3: readiness that arrived before this post is queued before it.
    // Nobody is watching the kernel, so look now (sockets only: a port
    // used for posted packets alone never pays for this).
    look_locked(lock);
    if (queue_.closed) return ERROR_INVALID_HANDLE;
  }
  if (!queue_.post(bytes, key, ov)) return ERROR_NOT_ENOUGH_MEMORY;
  queue_.dispatch(wl);  // R3.4: wakes one waiter (the newest)
  return ERROR_SUCCESS;
}

std::uint32_t port::dequeue(OVERLAPPED_ENTRY* out, std::uint32_t cap, std::uint32_t* got,
                            std::uint32_t timeout_ms, const void* defer_token) noexcept {
  *got = 0;
  // R3.8: entering a dequeuing call ends the thread's running period.
  const bool was_running_here = t_running_on.handle == self_;
  if (was_running_here) {
    t_running_on.handle = 0;
  } else {
    t_running_on.leave();
  }

  timespec deadline{};
  if (timeout_ms != kInfinite && timeout_ms != 0) deadline = add_ms(now_monotonic(), timeout_ms);

  wake_list wl(backend_.get());
  std::unique_lock<std::mutex> lock(mu_);
  if (was_running_here) queue_.stop_running();
  if (queue_.closed) return ERROR_ABANDONED_WAIT_0;
  if (io_.uses_ring() && ring_free()) reap_ring(wl);  // completions join the queue first

  // This call's held-back re-arms (R7.2) go to the kernel with its wait when
  // it is about to be the poller with nobody else on the port; otherwise now,
  // before anything is looked at (R4.1). Fusing with other threads around
  // would make each of them wait for the fused enter to end (see inflight_).
  if (registrations_.holds_rearms_of(defer_token) &&
      !(timeout_ms != 0 && queue_.empty() && !queue_.poller_active && !queue_.has_waiters() &&
        queue_.running() == 0 && direct_looks_ == 0)) {
    flush_deferred_locked(lock);
    if (queue_.closed) return ERROR_ABANDONED_WAIT_0;
  }

  bool looked = false;  // has this call asked the kernel yet? (R4.5)
  if (queue_.may_release()) {
    // Fill a short batch from the kernel without waiting, unless a poller
    // is already watching it for everyone. A call that found nothing and may
    // wait skips this: it is about to wait in the kernel itself. Looking
    // before taking lets new events merge into packets already queued
    // (R5.6), and makes a notification caused by this call's own
    // registrations visible to it (R4.5).
    const std::size_t queued = queue_.size();
    if (queued < cap && (timeout_ms == 0 || (queued > 0 && !queue_.poller_active))) {
      // Ask for a full buffer, not just the shortfall: some reports may be
      // for registrations that are disabled or only see unfiltered events,
      // and must not crowd out the ones this call needs (R4.5). Extra
      // packets stay queued for later calls.
      // With nothing queued, what it finds goes straight into out.
      std::uint32_t direct = look_locked(lock, out, queued == 0 ? cap : 0);
      looked = true;
      if (queue_.closed) return ERROR_ABANDONED_WAIT_0;
      if (direct > 0) {
        out += direct;
        cap -= direct;
        *got = direct;
      }
    }
    // The lock was let go while looking: other threads may have taken the
    // last running slots meanwhile (R3.8).
    std::uint32_t n = *got;
    if (n > 0 || queue_.may_release()) n += queue_.take(out, cap);
    *got = 0;
    if (n > 0) {
      queue_.start_running();
      queue_.dispatch(wl);
      queue_.ensure_poller(wl);
      lock.unlock();
      t_running_on.handle = self_;
      *got = n;
      return ERROR_SUCCESS;
    }
  }
  if (timeout_ms == 0) {
    queue_.dispatch(wl);
    queue_.ensure_poller(wl);
    return WAIT_TIMEOUT;
  }
  return wait_locked(lock, wl, out, cap, got, timeout_ms, deadline, defer_token, looked);
}

// The blocking part of dequeue: the calling thread joins the waiters, and
// either sleeps on its futex or, when nobody watches the kernel, becomes the
// poller.
std::uint32_t port::wait_locked(std::unique_lock<std::mutex>& lock, wake_list& wl,
                                OVERLAPPED_ENTRY* out, std::uint32_t cap, std::uint32_t* got,
                                std::uint32_t timeout_ms, const timespec& deadline,
                                const void* defer_token, bool looked) {
  const bool infinite = timeout_ms == kInfinite;
  waiter w;
  w.out = out;
  w.cap = cap;
  queue_.add_waiter(&w);
  for (;;) {
    if (w.st == waiter::status::waiting && io_.uses_ring() && ring_free() && !queue_.closed) {
      reap_ring(wl);  // so deferred requests go with this thread's wait
      queue_.dispatch(wl, &w);
    }
    if (w.st != waiter::status::waiting) break;
    int ms = infinite ? -1 : remaining_ms(deadline);
    // Held-back re-arms of this call still go to the kernel when its time
    // has run out before it got here (then without waiting).
    const bool rearms_pending = registrations_.holds_rearms_of(defer_token);
    if (ms == 0 && !rearms_pending) {
      // R4.5: the time ran out before this call asked the kernel (say it
      // waited long for the port's lock); it still gets what its own
      // registrations made pending, as a call with time-out 0 would.
      if (looked || queue_.closed) break;
      look_locked(lock);
      looked = true;
      queue_.dispatch(wl, &w);
      continue;
    }
    if (!queue_.poller_active && queue_.empty() && queue_.may_release() && ring_waiters_ == 0) {
      // Become the poller: wait in the kernel on behalf of every waiter,
      // applying this call's held-back re-arms in the same kernel entry.
      bool fused = rearms_pending;
      if (fused && direct_looks_ > 0) {
        registrations_.flush_deferred();  // a look is in the kernel: no fused enter now
        fused = false;
      }
      queue_.poller_active = true;
      w.in_kernel = true;
      std::span<backends::change> changes;
      if (fused) {
        inflight_ = true;
        changes = registrations_.deferred_changes();
        registrations_.count_changes(changes.size());
      }
      const std::uint64_t look = registrations_.start_look();
      lock.unlock();
      wl.run();
      backends::event evs[256];
      int k = fused ? backend_->apply_and_wait(changes, evs, ms) : backend_->wait(evs, ms);
      lock.lock();
      if (fused) {
        inflight_ = false;
        inflight_done_.notify_all();
        registrations_.settle_deferred();
      }
      queue_.poller_active = false;
      queue_.interrupt_pending = false;
      if (ring_waiters_ > 0) ring_idle_.notify_all();
      w.in_kernel = false;
      w.signal.store(0, std::memory_order_relaxed);
      looked = true;
      const std::span<const backends::event> reports(evs, static_cast<std::size_t>(k));
      drive_io(reports);
      if (queue_.only_waiter(&w) && queue_.may_release()) {
        // Alone on the port: the packets would all be this thread's, so
        // they go straight into its array (R3.3: nothing was queued).
        w.got = registrations_.on_reports(reports, look, inflight_, w.out, w.cap);
        if (w.got > 0) {
          queue_.remove_waiter(&w);
          w.st = waiter::status::delivered;
          queue_.start_running();
        }
      } else {
        registrations_.on_reports(reports, look, inflight_);
      }
      queue_.dispatch(wl, &w);  // may hand packets to this thread too
    } else if (rearms_pending) {
      // Someone else polls: apply them now and look, as a call that does
      // not wait would (R4.1, R4.5).
      flush_deferred_locked(lock);
      look_locked(lock);
      looked = true;
      queue_.dispatch(wl, &w);
    } else {
      w.signal.store(0, std::memory_order_relaxed);
      lock.unlock();
      wl.run();
      futex_wait(&w.signal, 0, infinite ? nullptr : &deadline);
      lock.lock();
    }
  }

  // No call returns with its re-arms held back: they would be settled into
  // an entry array that is gone.
  if (registrations_.holds_rearms_of(defer_token)) flush_deferred_locked(lock);

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
      queue_.remove_waiter(&w);
      rc = WAIT_TIMEOUT;
      break;
  }
  queue_.dispatch(wl);
  queue_.ensure_poller(wl);
  return rc;
}

// ---- registrations and closing -------------------------------------------------------

std::uint32_t port::apply(std::span<SOCK_NOTIFY_REGISTRATION> regs,
                          const void* defer_token) noexcept {
  wake_list wl(backend_.get());
  std::unique_lock<std::mutex> lock(mu_);
  quiesce_locked(lock);
  if (queue_.closed) return ERROR_INVALID_HANDLE;
  // Re-arms are held back only for a thread alone on the port (itself
  // perhaps still counted as running): with others around its dequeue
  // applies them at once anyway, and until then another thread's look would
  // see the registration as re-armed while its watch is not yet.
  const bool alone =
      !queue_.has_waiters() && !queue_.poller_active && queue_.running() <= 1 && direct_looks_ == 0;
  if (!registrations_.apply(regs, alone ? defer_token : nullptr)) return ERROR_NOT_ENOUGH_MEMORY;
  // A REMOVE queues a packet that a waiting thread may take at once.
  queue_.dispatch(wl);
  return ERROR_SUCCESS;
}

void port::drop_socket(int fd, std::uint64_t ino) noexcept {
  wake_list wl(backend_.get());
  std::unique_lock<std::mutex> lock(mu_);
  quiesce_locked(lock);
  // A request for fd may sit in the ring unsubmitted, to go in with the
  // waiting thread's next enter: it must reach the kernel, with its
  // cancellation, before the caller closes the number. So the poller is
  // called back first.
  while (backend_->ring_in_use() && queue_.poller_active && !queue_.closed) {
    if (!queue_.interrupt_pending) {
      queue_.interrupt_pending = true;
      backend_->interrupt();
    }
    ++ring_waiters_;
    ring_idle_.wait(lock);
    --ring_waiters_;
  }
  if (queue_.closed) return;
  registrations_.drop_socket(fd, ino);
  io_.set_ring_free(ring_free());
  io_.drop_socket(fd);
  reap_ring(wl);
  queue_.dispatch(wl);       // the cancelled operations' completions (R9.6)
  queue_.ensure_poller(wl);  // a waiter held back from the kernel meanwhile
}

// ---- overlapped operations (SPEC 9) ------------------------------------------------

std::uint32_t port::io_prepare() noexcept {
  std::unique_lock<std::mutex> lock(mu_);
  quiesce_locked(lock);  // prepare may add to the kernel watch set
  if (queue_.closed) return ERROR_INVALID_HANDLE;
  const std::uint32_t rc = io_.prepare();
  // Its epoll set may have taken the number of a socket closed with close()
  // and still registered here: that registration must not steer the set's
  // watch (found by the fuzzer).
  if (rc == ERROR_SUCCESS && io_.watch_fd() >= 0) registrations_.forget_number(io_.watch_fd());
  return rc;
}

void port::io_start(int fd, std::uintptr_t key, bool skip_on_success, const io_request& rq,
                    io_result* res) noexcept {
  wake_list wl(backend_.get());
  std::lock_guard<std::mutex> lock(mu_);
  if (queue_.closed) {
    *res = io_result{WSAEINVAL, 0};
    return;
  }
  io_.set_ring_free(ring_free());
  io_.start(fd, key, skip_on_success, rq, res);
  if (io_.uses_ring()) {
    // The request goes with the calling thread's next wait if it took its
    // work from this port (it comes back to wait); else now.
    if (ring_free() && backend_->ring_unsubmitted() > 0 && t_running_on.handle != self_)
      backend_->ring_submit();
    if (io_.take_kick() && queue_.poller_active && !queue_.interrupt_pending) {
      queue_.interrupt_pending = true;
      wl.interrupt();
    }
  }
  queue_.dispatch(wl);  // R9.3: a completion at once wakes a waiter as a post does
}

std::uint32_t port::io_cancel(int fd, const OVERLAPPED* ov) noexcept {
  wake_list wl(backend_.get());
  std::lock_guard<std::mutex> lock(mu_);
  if (queue_.closed) return ERROR_NOT_FOUND;
  io_.set_ring_free(ring_free());
  std::uint32_t rc = io_.cancel(fd, ov);
  reap_ring(wl);
  queue_.dispatch(wl);
  return rc;
}

void port::io_poll() noexcept {
  wake_list wl(backend_.get());
  std::lock_guard<std::mutex> lock(mu_);
  if (queue_.closed || !io_.has_sockets()) return;
  if (io_.uses_ring()) {
    if (ring_free()) backend_->ring_submit();
    reap_ring(wl);
  } else {
    io_.drive();
  }
  queue_.dispatch(wl);
}

void port::close() noexcept {
  wake_list wl(backend_.get());
  std::lock_guard<std::mutex> lock(mu_);
  if (queue_.closed) return;
  queue_.closed = true;
  // A fused enter under way settles its own re-arms when it returns.
  if (!inflight_) registrations_.forget_deferred();
  queue_.abandon_all(wl);                        // R3.9: every waiter returns at once
  queue_.discard_all();                          // queued packets are discarded
  registrations_.drop_all();                     // and every socket may join another port
  io_.close_all();                               // operations under way end unreported
  socket_owners::instance().forget_port(self_);  // the sockets may join another port
}

port_counters port::stats() noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  port_counters c;
  c.packets_queued = queue_.packets_queued();
  c.packets_delivered = queue_.packets_delivered();
  c.kernel_entries = backend_->kernel_entries();
  c.changes_applied = registrations_.changes_applied();
  return c;
}

}  // namespace psn::core
