// Raw liburing: the floor for a completion-based echo (workload 6 only).
// One ring, one recv or send under way per connection, the operations of a
// batch of completions submitted together with the wait for the next batch
// in one io_uring_submit_and_wait.
#include <liburing.h>
#include <unistd.h>

#include <cstring>
#include <iterator>

#include "bench.hpp"

namespace bench {
namespace {

// Ring set-ups tried in order: the leanest this kernel accepts. With
// DEFER_TASKRUN completions are run only when the thread waits, in the same
// kernel entry; SINGLE_ISSUER (which it needs) binds the ring to the thread
// that creates it, so the ring is created on the serving thread.
struct ring_setup {
  unsigned flags;
  const char* name;
};
constexpr ring_setup kSetups[] = {
    {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
     "IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN"},
    {IORING_SETUP_COOP_TASKRUN, "IORING_SETUP_COOP_TASKRUN"},
    {0, "no setup flags"},
};

// Creates `ring` with the first set-up the kernel accepts; returns its
// index in kSetups, or -1 (with *err) if none.
int init_ring(io_uring* ring, unsigned entries, int* err) {
  for (std::size_t i = 0; i < std::size(kSetups); ++i) {
    io_uring_params p{};
    p.flags = kSetups[i].flags;
    *err = -io_uring_queue_init_params(entries, ring, &p);
    if (*err == 0) return static_cast<int>(i);
  }
  return -1;
}

struct conn {
  int fd = -1;
  bool sending = false;
  std::uint32_t off = 0, len = 0;  // the echo under way: buf[off, len) still to send
  std::uint64_t echoed = 0;
  char buf[kOechoBuffer];
};

class uring_oecho final : public oecho_server {
 public:
  uring_oecho(const std::vector<int>& fds, std::uint64_t bytes) : target_(bytes) {
    for (int fd : fds) {
      conns_.push_back(std::make_unique<conn>());
      conns_.back()->fd = fd;
    }
  }
  ~uring_oecho() override {
    if (have_ring_) io_uring_queue_exit(&ring_);
    for (const auto& c : conns_) ::close(c->fd);
  }

  void on_thread() override {
    // Room for one operation per connection: never more are under way.
    unsigned entries = 64;
    while (entries < conns_.size()) entries *= 2;
    int err = 0;
    BENCH_CHECK(init_ring(&ring_, entries, &err) >= 0, "io_uring_queue_init_params: %s",
                std::strerror(err));
    have_ring_ = true;
  }

  void run() override {
    for (const auto& c : conns_) prep_recv(*c);
    std::size_t done = 0;
    while (done < conns_.size()) {
      int rc = io_uring_submit_and_wait(&ring_, 1);
      if (rc < 0) {
        BENCH_CHECK(rc == -EINTR, "io_uring_submit_and_wait: %s", std::strerror(-rc));
        continue;
      }
      unsigned head, seen = 0;
      io_uring_cqe* cqe;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        ++seen;
        conn& c = *reinterpret_cast<conn*>(static_cast<std::uintptr_t>(cqe->user_data));
        const int res = cqe->res;
        BENCH_CHECK(res >= 0, "liburing oecho: %s failed: %s", c.sending ? "send" : "recv",
                    std::strerror(-res));
        if (!c.sending) {
          BENCH_CHECK(res > 0, "liburing oecho: a connection ended early");
          c.sending = true;
          c.off = 0;
          c.len = static_cast<std::uint32_t>(res);
          prep_send(c);
          continue;
        }
        c.off += static_cast<std::uint32_t>(res);
        c.echoed += static_cast<std::uint64_t>(res);
        if (c.off < c.len) {  // a short send: the rest goes next
          prep_send(c);
          continue;
        }
        c.sending = false;
        if (c.echoed < target_)
          prep_recv(c);
        else
          ++done;
      }
      io_uring_cq_advance(&ring_, seen);
    }
  }
  std::uint64_t echoed() const override {
    std::uint64_t n = 0;
    for (const auto& c : conns_) n += c->echoed;
    return n;
  }

 private:
  io_uring_sqe* sqe_for(conn& c) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    BENCH_CHECK(sqe != nullptr, "liburing oecho: submission queue full");
    io_uring_sqe_set_data(sqe, &c);
    return sqe;
  }
  void prep_recv(conn& c) { io_uring_prep_recv(sqe_for(c), c.fd, c.buf, sizeof c.buf, 0); }
  void prep_send(conn& c) {
    io_uring_prep_send(sqe_for(c), c.fd, c.buf + c.off, c.len - c.off, MSG_NOSIGNAL);
  }

  std::uint64_t target_;
  io_uring ring_{};
  bool have_ring_ = false;
  std::vector<std::unique_ptr<conn>> conns_;
};

std::unique_ptr<oecho_server> make_oecho(const std::vector<int>& fds, std::uint64_t bytes) {
  return std::make_unique<uring_oecho>(fds, bytes);
}

}  // namespace

const impl liburing_impl{
    "liburing",
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    make_oecho,
    "io_uring_prep_recv / io_uring_prep_send, one io_uring_submit_and_wait per batch of "
    "completions; the ring set up with SINGLE_ISSUER | DEFER_TASKRUN where the kernel takes "
    "them (else COOP_TASKRUN, else no flags)",
};

bool liburing_available() {
  io_uring ring;
  int err = 0;
  if (init_ring(&ring, 8, &err) < 0) return false;
  io_uring_queue_exit(&ring);
  return true;
}

}  // namespace bench
