#include "backend/uring_backend.hpp"

#include <liburing.h>
#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <new>

namespace psn::backends {
namespace {

// IORING_OP_EPOLL_WAIT (Linux 6.15) is newer than some liburing headers.
constexpr std::uint8_t kOpEpollWait = 59;

// Ring size: the most changes one call can fuse with its wait. Larger
// batches apply their head with epoll_ctl first (never the common case).
constexpr unsigned kRingEntries = 512;
constexpr std::size_t kMaxFused = kRingEntries - 1;
constexpr int kMaxEvents = 256;

// user_data of our requests: the kind in the top bits, the call's
// generation and the change's index below, so a completion that arrives for
// an earlier call is recognised and ignored.
constexpr std::uint64_t kTagWait = std::uint64_t{1} << 63;
constexpr std::uint64_t kTagCancel = std::uint64_t{1} << 62;
// Socket operations (SPEC R9.9): the operation's tag (a pointer) | kTagRing;
// the multishot poll of the epoll set that wakes a ring wait for readiness;
// cancellations of socket operations (their own results are not needed).
constexpr std::uint64_t kTagRing = std::uint64_t{1} << 61;
constexpr std::uint64_t kTagPoll = std::uint64_t{1} << 60;
constexpr std::uint64_t kTagRingCancel = std::uint64_t{1} << 59;
constexpr std::uint64_t kTagMask = kTagWait | kTagCancel | kTagRing | kTagPoll | kTagRingCancel;
// Completions of socket operations held until the port takes them; more
// stay in the kernel's completion queue meanwhile.
constexpr std::size_t kMaxHeld = 1024;

__kernel_timespec to_timespec(int ms) noexcept {
  __kernel_timespec ts{};
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = static_cast<long long>(ms % 1000) * 1000000LL;
  return ts;
}

class uring_backend final : public epoll_backend {
 public:
  uring_backend(int epfd, int evfd, const io_uring& ring) noexcept
      : epoll_backend(epfd, evfd), ring_(ring) {}
  ~uring_backend() override { io_uring_queue_exit(&ring_); }

  enum kind kind() const noexcept override { return backends::kind::io_uring; }
  bool fuses() const noexcept override { return true; }

  int wait(std::span<event> out, int timeout_ms) noexcept override {
    if (!ring_used_) return epoll_backend::wait(out, timeout_ms);
    return ring_wait(out, timeout_ms);
  }

  int apply_and_wait(std::span<change> changes, std::span<event> out,
                     int timeout_ms) noexcept override {
    if (ring_used_) return ring_apply_and_wait(changes, out, timeout_ms);
    if (timeout_ms == 0 || changes.empty() || io_uring_sq_ready(&ring_) != 0)
      return epoll_backend::apply_and_wait(changes, out, timeout_ms);
    if (changes.size() > kMaxFused) {
      epoll_backend::apply(changes.first(changes.size() - kMaxFused));
      changes = changes.last(kMaxFused);
    }
    const std::uint64_t gen = queue_changes(changes);
    const int max = out.size() < kMaxEvents ? static_cast<int>(out.size()) : kMaxEvents;
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    io_uring_prep_rw(kOpEpollWait, sqe, epfd_, wait_events_, static_cast<unsigned>(max), 0);
    sqe->user_data = kTagWait | gen;

    __kernel_timespec ts = to_timespec(timeout_ms);
    io_uring_cqe* cqe = nullptr;
    count_entries(1);
    io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, timeout_ms < 0 ? nullptr : &ts, nullptr);
    submit_leftovers();

    int n = -1;  // the wait's result once its completion is seen
    reap(gen, changes, &n);
    if (n < 0) n = finish_wait(gen, changes);
    return n > 0 ? translate(wait_events_, n, out) : 0;
  }

  // ---- the ring for socket operations ----
  bool has_ring() const noexcept override { return true; }
  bool ring_in_use() const noexcept override { return ring_used_; }

  bool ring_push(const ring_request& r) noexcept override {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) return false;
    switch (r.what) {
      case ring_request::kind::recvmsg:
        io_uring_prep_recvmsg(sqe, r.fd, static_cast<msghdr*>(r.arg),
                              static_cast<unsigned>(r.flags));
        break;
      case ring_request::kind::sendmsg:
        io_uring_prep_sendmsg(sqe, r.fd, static_cast<const msghdr*>(r.arg),
                              static_cast<unsigned>(r.flags | MSG_NOSIGNAL));
        break;
      case ring_request::kind::accept:
        io_uring_prep_accept(sqe, r.fd, nullptr, nullptr, SOCK_CLOEXEC);
        break;
      case ring_request::kind::connect:
        io_uring_prep_connect(sqe, r.fd, static_cast<const sockaddr*>(r.arg), r.addrlen);
        break;
      case ring_request::kind::writable:
        io_uring_prep_poll_add(sqe, r.fd, POLLOUT);
        break;
      case ring_request::kind::cancel:
        io_uring_prep_cancel64(sqe, r.tag | kTagRing, 0);
        sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
        sqe->user_data = kTagRingCancel;
        ring_used_ = true;
        return true;
    }
    sqe->user_data = r.tag | kTagRing;
    ring_used_ = true;
    return true;
  }

  unsigned ring_unsubmitted() const noexcept override {
    return io_uring_sq_ready(const_cast<io_uring*>(&ring_));
  }

  void ring_submit() noexcept override {
    if (io_uring_sq_ready(&ring_) == 0) {
      // Completions that wait for this thread to enter the kernel (see
      // make_uring): a look that does not wait collects them too.
      if (task_work_pending()) {
        count_entries(1);
        io_uring_get_events(&ring_);
      }
      return;
    }
    count_entries(1);
    io_uring_submit(&ring_);
    submit_leftovers();
  }

  std::size_t ring_take(std::span<ring_completion> out) noexcept override {
    reap();
    std::size_t n = held_ < out.size() ? held_ : out.size();
    for (std::size_t i = 0; i < n; ++i) out[i] = held_ring_[i];
    for (std::size_t i = n; i < held_; ++i) held_ring_[i - n] = held_ring_[i];
    held_ -= n;
    return n;
  }

 private:
  // Queues the changes, in order, under a new generation, which it returns.
  // A successful change posts no completion (IOSQE_CQE_SKIP_SUCCESS), so a
  // failing one is the only thing besides the wait's own completion that
  // can end the enter: a failure returns at once instead of waiting with
  // the change not made.
  std::uint64_t queue_changes(std::span<change> changes) noexcept {
    gen_ = (gen_ + 1) & 0x03FFFFFFu;  // below the tag bits
    const std::uint64_t gen = std::uint64_t{gen_} << 32;
    for (std::size_t i = 0; i < changes.size(); ++i) {
      change& c = changes[i];
      c.result = 0;
      int op = ctl_op(c, &ctl_events_[i]);
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      io_uring_prep_epoll_ctl(sqe, epfd_, c.fd, op, &ctl_events_[i]);
      sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
      sqe->user_data = gen | i;
    }
    return gen;
  }

  // IORING_SETUP_TASKRUN_FLAG: a request of the ring has finished in the
  // kernel, and its completion is posted once its submitter next enters.
  bool task_work_pending() const noexcept {
    return (IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_TASKRUN) != 0;
  }

  // Sorts one completion of the ring's own kinds; false for any other.
  bool sort_ring_cqe(const io_uring_cqe* cqe) noexcept {
    const std::uint64_t ud = cqe->user_data;
    if (ud & kTagRing) {
      held_ring_[held_++] = ring_completion{ud & ~kTagRing, cqe->res};
      return true;
    }
    if (ud == kTagPoll) {
      epoll_ready_ = true;
      if (!(cqe->flags & IORING_CQE_F_MORE)) poll_armed_ = false;  // ended: arm again
      return true;
    }
    return ud == kTagRingCancel;
  }

  // The wait once the ring carries socket operations: one enter submits
  // what is queued and sleeps until a completion arrives or the epoll set
  // becomes readable (a multishot poll of it, which the interrupt eventfd
  // in the set also triggers); then the set is read without waiting.
  // The changes queued under `gen`, if any, post a completion only when
  // they fail; the reaps here record those results (the enter that submits
  // the changes posts them).
  int ring_wait(std::span<event> out, int timeout_ms, std::uint64_t gen = 0,
                std::span<change> changes = {}) noexcept {
    if (!poll_armed_) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      if (sqe != nullptr) {
        io_uring_prep_poll_multishot(sqe, epfd_, POLLIN);
        sqe->user_data = kTagPoll;
        poll_armed_ = true;
      }
    }
    reap(gen, changes);
    if (held_ > 0 || epoll_ready_) timeout_ms = 0;
    if (timeout_ms == 0) {
      ring_submit();
    } else {
      __kernel_timespec ts = to_timespec(timeout_ms);
      io_uring_cqe* cqe = nullptr;
      count_entries(1);
      io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, timeout_ms < 0 ? nullptr : &ts, nullptr);
      submit_leftovers();
    }
    reap(gen, changes);
    if (!epoll_ready_) return 0;
    const int max = out.size() < kMaxEvents ? static_cast<int>(out.size()) : kMaxEvents;
    count_entries(1);
    int n = ::epoll_wait(epfd_, wait_events_, max, 0);
    // Only an empty set is drained: a level-triggered watch just reported is
    // still ready, and the poll reports wake-ups, not readiness that stays.
    if (n <= 0) epoll_ready_ = false;
    return n > 0 ? translate(wait_events_, n, out) : 0;
  }

  // R7.2 once the ring carries socket operations: the changes go in the same
  // enter as the wait. A change that fails posts a completion, which ends
  // the wait at once.
  int ring_apply_and_wait(std::span<change> changes, std::span<event> out,
                          int timeout_ms) noexcept {
    if (changes.size() > kMaxFused || io_uring_sq_space_left(&ring_) < changes.size() + 2)
      return epoll_backend::apply_and_wait(changes, out, timeout_ms);
    const std::uint64_t gen = queue_changes(changes);
    // The changes were applied before the wait went to sleep; the wait's
    // reaps record a failure's completion, which is posted by then (a reap
    // that took it as left over from an earlier call would lose the
    // failure, and the registration would stay as if the kernel had taken
    // the change: R5.12).
    return ring_wait(out, timeout_ms, gen, changes);
  }

  // The kernel normally takes every entry at once; should an enter have
  // been refused before taking them all, submit the rest now, so no change
  // of this call can reach the kernel in a later one.
  void submit_leftovers() noexcept {
    while (io_uring_sq_ready(&ring_) != 0) {
      count_entries(1);
      if (io_uring_submit(&ring_) < 0) ::sched_yield();
    }
  }

  // Consumes every completion the kernel has posted, without entering it:
  // socket operations' into the holding area (stopping while it is full),
  // and the results of this call's wait and changes (generation `gen`);
  // anything else is left over from an earlier call.
  void reap(std::uint64_t gen = 0, std::span<change> changes = {},
            int* wait_result = nullptr) noexcept {
    unsigned head, seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      if ((cqe->user_data & kTagRing) && held_ == kMaxHeld) break;
      ++seen;
      if (sort_ring_cqe(cqe)) continue;
      const std::uint64_t ud = cqe->user_data;
      if ((ud & kTagMask) == kTagWait) {
        if ((ud & ~kTagMask) == gen && wait_result) *wait_result = cqe->res > 0 ? cqe->res : 0;
      } else if ((ud & kTagMask) == 0 && (ud & ~std::uint64_t{0xFFFFFFFF}) == gen) {
        std::size_t i = ud & 0xFFFFFFFFu;
        if (i < changes.size() && cqe->res < 0) changes[i].result = -cqe->res;
      }
    }
    io_uring_cq_advance(&ring_, seen);
  }

  // The enter ended before the wait did (time-out, a failed change, a
  // signal): cancel the wait and collect it, with whatever events it took,
  // so nothing of this call is left in the kernel when it returns.
  int finish_wait(std::uint64_t gen, std::span<change> changes) noexcept {
    int n = -1;
    for (int attempt = 0; n < 0; ++attempt) {
      if (attempt == 0) {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        io_uring_prep_cancel64(sqe, kTagWait | gen, 0);
        sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
        sqe->user_data = kTagCancel;
      } else if (attempt == 1) {
        // Not cancellable yet (still being issued): make it complete.
        interrupt();
      }
      __kernel_timespec ts = to_timespec(10);
      io_uring_cqe* cqe = nullptr;
      count_entries(1);
      io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
      submit_leftovers();
      reap(gen, changes, &n);
    }
    return n;
  }

  io_uring ring_;
  std::uint32_t gen_ = 0;
  bool ring_used_ = false;    // socket operations went through the ring: waits use it
  bool poll_armed_ = false;   // the multishot poll of the epoll set is in the kernel
  bool epoll_ready_ = false;  // that poll fired: the set has reports to read
  std::size_t held_ = 0;
  ring_completion held_ring_[kMaxHeld];
  // Read by the kernel during the enter that submits them.
  epoll_event ctl_events_[kMaxFused];
  epoll_event wait_events_[kMaxEvents];
};

// Whether this kernel has what the backend needs; asked once per process.
int probe_kernel(io_uring* ring) noexcept {
  static std::atomic<int> verdict{-1};  // -1 unknown, else an errno value (0: fine)
  int v = verdict.load(std::memory_order_acquire);
  if (v >= 0) return v;
  v = ENOSYS;
  if ((ring->features & IORING_FEAT_EXT_ARG) != 0) {
    if (io_uring_probe* p = io_uring_get_probe_ring(ring)) {
      if (io_uring_opcode_supported(p, IORING_OP_EPOLL_CTL) &&
          io_uring_opcode_supported(p, kOpEpollWait) &&
          io_uring_opcode_supported(p, IORING_OP_ASYNC_CANCEL))
        v = 0;
      io_uring_free_probe(p);
    } else {
      return ENOMEM;  // not a verdict: ask again next time
    }
  }
  verdict.store(v, std::memory_order_release);
  return v;
}

}  // namespace

std::unique_ptr<backend> make_uring(int* err) noexcept {
  // COOP_TASKRUN: a completion is not pushed onto its submitter with an
  // interrupt while that thread runs in user space; it is posted at the
  // thread's next kernel entry (every wait is one) or timer tick. Waits are
  // where psn's threads spend their idle time, and the interrupt per
  // completion cost the echo workload almost twice the server CPU time
  // (docs/design.md). A kernel without it (before 5.19) lacks what the
  // probe asks for too: either way the backend is unavailable.
  io_uring ring;
  int rc = io_uring_queue_init(
      kRingEntries, &ring,
      IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG);
  if (rc < 0) {
    *err = -rc;
    return nullptr;
  }
  if (int v = probe_kernel(&ring); v != 0) {
    io_uring_queue_exit(&ring);
    *err = v;
    return nullptr;
  }
  int epfd, evfd;
  if (!open_epoll(&epfd, &evfd, err)) {
    io_uring_queue_exit(&ring);
    return nullptr;
  }
  auto* b = new (std::nothrow) uring_backend(epfd, evfd, ring);
  if (!b) {
    *err = ENOMEM;
    ::close(evfd);
    ::close(epfd);
    io_uring_queue_exit(&ring);
    return nullptr;
  }
  return std::unique_ptr<backend>(b);
}

}  // namespace psn::backends
