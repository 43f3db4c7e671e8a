// libevent 2.x as its documentation ("Programming with Libevent") shows it:
// event_new + event_add for raw readiness, EV_PERSIST for persistent
// watches; evconnlistener + bufferevents for the echo server.
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include <cstring>

#include "bench.hpp"

namespace bench {
namespace {

// ---- workloads 1, 2 and 4 ----------------------------------------------------

class libevent_ring final : public ring_loop {
 public:
  libevent_ring(ring& r, arm mode)
      : ring_(&r), oneshot_(mode == arm::oneshot), base_(event_base_new()) {
    BENCH_CHECK(base_ != nullptr, "event_base_new failed");
    slots_.resize(r.rd.size());
    const short what = static_cast<short>(EV_READ | (oneshot_ ? 0 : EV_PERSIST));
    for (std::size_t i = 0; i < r.rd.size(); ++i) {
      slots_[i] = {this, i, event_new(base_, r.rd[i], what, on_read, &slots_[i])};
      BENCH_CHECK(slots_[i].ev && event_add(slots_[i].ev, nullptr) == 0, "event_add failed");
    }
  }
  ~libevent_ring() override {
    for (slot& s : slots_) event_free(s.ev);
    event_base_free(base_);
  }

  void run(ring& r) override {
    ring_ = &r;
    BENCH_CHECK(event_base_dispatch(base_) == 0, "event_base_dispatch failed");
  }

 private:
  struct slot {
    libevent_ring* self;
    std::size_t i;
    event* ev;
  };

  static void on_read(evutil_socket_t, short, void* arg) {
    auto* s = static_cast<slot*>(arg);
    libevent_ring* self = s->self;
    self->ring_->on_readable(s->i);
    if (self->oneshot_) event_add(s->ev, nullptr);
    if (self->ring_->done()) event_base_loopbreak(self->base_);
  }

  ring* ring_;
  bool oneshot_;
  event_base* base_;
  std::vector<slot> slots_;
};

std::unique_ptr<ring_loop> make_ring(ring& r, arm mode) {
  return std::make_unique<libevent_ring>(r, mode);
}

// ---- workload 5 ---------------------------------------------------------------------

struct echo_server_state {
  event_base* base = nullptr;
  int connections = 0;
  int closed = 0;
};

void on_echo_read(bufferevent* bev, void*) {
  evbuffer_add_buffer(bufferevent_get_output(bev), bufferevent_get_input(bev));
}

void on_echo_event(bufferevent* bev, short what, void* arg) {
  if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) return;
  auto* st = static_cast<echo_server_state*>(arg);
  bufferevent_free(bev);
  if (++st->closed == st->connections) event_base_loopbreak(st->base);
}

void on_accept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) {
  auto* st = static_cast<echo_server_state*>(arg);
  bufferevent* bev = bufferevent_socket_new(st->base, fd, BEV_OPT_CLOSE_ON_FREE);
  BENCH_CHECK(bev != nullptr, "bufferevent_socket_new failed");
  bufferevent_setcb(bev, on_echo_read, nullptr, on_echo_event, st);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
}

void echo(int listen_fd, int connections) {
  echo_server_state st;
  st.base = event_base_new();
  st.connections = connections;
  BENCH_CHECK(st.base != nullptr, "event_base_new failed");
  // Backlog 0: the socket is already listening.
  evconnlistener* lis =
      evconnlistener_new(st.base, on_accept, &st, LEV_OPT_CLOSE_ON_FREE, 0, listen_fd);
  BENCH_CHECK(lis != nullptr, "evconnlistener_new failed");
  BENCH_CHECK(event_base_dispatch(st.base) == 0, "event_base_dispatch failed");
  evconnlistener_free(lis);
  event_base_free(st.base);
}

}  // namespace

const impl libevent_impl{
    "libevent",
    make_ring,
    "one-shot: an event without EV_PERSIST, event_add again in the callback",
    nullptr,
    "no user-packet queue: event_active()/event_base_once carry no data across threads "
    "without extra machinery",
    echo,
    "evconnlistener + bufferevent (evbuffer_add_buffer echo)",
};

}  // namespace bench
