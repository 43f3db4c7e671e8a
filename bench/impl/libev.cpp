// libev 4 as its manual shows it: ev_io watchers on a loop from
// ev_loop_new(EVFLAG_AUTO); a watcher is stopped and started again to re-arm
// or to change what it watches (libev has no one-shot watchers).
#include <ev.h>

#include <unistd.h>

#include <cstring>

#include "bench.hpp"

namespace bench {
namespace {

// ---- workloads 1, 2 and 4 ----------------------------------------------------

class libev_ring final : public ring_loop {
 public:
  libev_ring(ring& r, arm mode)
      : ring_(&r), oneshot_(mode == arm::oneshot), loop_(ev_loop_new(EVFLAG_AUTO)) {
    BENCH_CHECK(loop_ != nullptr, "ev_loop_new failed");
    slots_.resize(r.rd.size());
    for (std::size_t i = 0; i < r.rd.size(); ++i) {
      slot& s = slots_[i];
      s.self = this;
      s.i = i;
      ev_io_init(&s.io, on_read, r.rd[i], EV_READ);
      s.io.data = &s;
      ev_io_start(loop_, &s.io);
    }
  }
  ~libev_ring() override {
    for (slot& s : slots_) ev_io_stop(loop_, &s.io);
    ev_loop_destroy(loop_);
  }

  void run(ring& r) override {
    ring_ = &r;
    ev_run(loop_, 0);
  }

 private:
  struct slot {
    ev_io io;
    libev_ring* self;
    std::size_t i;
  };

  static void on_read(struct ev_loop* loop, ev_io* w, int) {
    auto* s = static_cast<slot*>(w->data);
    libev_ring* self = s->self;
    self->ring_->on_readable(s->i);
    if (self->oneshot_) {
      ev_io_stop(loop, w);
      ev_io_start(loop, w);
    }
    if (self->ring_->done()) ev_break(loop, EVBREAK_ALL);
  }

  ring* ring_;
  bool oneshot_;
  struct ev_loop* loop_;
  std::vector<slot> slots_;
};

std::unique_ptr<ring_loop> make_ring(ring& r, arm mode) {
  return std::make_unique<libev_ring>(r, mode);
}

// ---- workload 5 ---------------------------------------------------------------------

struct echo_server_state {
  struct ev_loop* loop = nullptr;
  int listen_fd = -1;
  int connections = 0;
  int closed = 0;
  std::vector<std::unique_ptr<echo_conn>> conns;
  std::vector<std::unique_ptr<ev_io>> watchers;
  std::vector<int> fresh;
};

void on_conn(struct ev_loop* loop, ev_io* w, int) {
  auto* st = static_cast<echo_server_state*>(ev_userdata(loop));
  auto* c = static_cast<echo_conn*>(w->data);
  echo_conn::want next = c->step();
  if (next == c->watching) return;
  ev_io_stop(loop, w);
  if (next == echo_conn::want::close) {
    ::close(c->fd);
    if (++st->closed == st->connections) ev_break(loop, EVBREAK_ALL);
  } else {
    ev_io_set(w, c->fd, next == echo_conn::want::in ? EV_READ : EV_WRITE);
    ev_io_start(loop, w);
  }
  c->watching = next;
}

void on_accept(struct ev_loop* loop, ev_io*, int) {
  auto* st = static_cast<echo_server_state*>(ev_userdata(loop));
  accept_all(st->listen_fd, st->fresh);
  for (int fd : st->fresh) {
    st->conns.push_back(std::make_unique<echo_conn>());
    st->conns.back()->fd = fd;
    st->watchers.push_back(std::make_unique<ev_io>());
    ev_io* w = st->watchers.back().get();
    ev_io_init(w, on_conn, fd, EV_READ);
    w->data = st->conns.back().get();
    ev_io_start(loop, w);
  }
}

void echo(int listen_fd, int connections) {
  echo_server_state st;
  st.loop = ev_loop_new(EVFLAG_AUTO);
  st.listen_fd = listen_fd;
  st.connections = connections;
  BENCH_CHECK(st.loop != nullptr, "ev_loop_new failed");
  ev_set_userdata(st.loop, &st);
  ev_io lw;
  ev_io_init(&lw, on_accept, listen_fd, EV_READ);
  ev_io_start(st.loop, &lw);
  ev_run(st.loop, 0);
  ev_io_stop(st.loop, &lw);
  ev_loop_destroy(st.loop);
  ::close(listen_fd);
}

}  // namespace

const impl libev_impl{
    "libev",
    make_ring,
    "one-shot: ev_io_stop + ev_io_start in the callback (no one-shot watchers)",
    nullptr,
    "no user-packet queue: ev_async coalesces wake-ups and carries no data",
    echo,
    "ev_io watchers sharing the raw-epoll echo logic",
};

}  // namespace bench
