// libuv as its guide (docs.libuv.org, "An Introduction to libuv") shows it:
// uv_poll_t for readiness of sockets libuv does not own, uv_tcp_t with
// uv_read_start/uv_write for the echo server.
#include <uv.h>

#include <cstdlib>
#include <cstring>

#include "bench.hpp"

namespace bench {
namespace {

#define UV_CHECK(call)                                                         \
  do {                                                                         \
    int uv_rc_ = (call);                                                       \
    BENCH_CHECK(uv_rc_ == 0, "%s: %s", #call, uv_strerror(uv_rc_));            \
  } while (0)

// ---- workloads 1, 2 and 4 ----------------------------------------------------

class libuv_ring final : public ring_loop {
 public:
  libuv_ring(ring& r, arm mode) : ring_(&r), oneshot_(mode == arm::oneshot) {
    UV_CHECK(uv_loop_init(&loop_));
    slots_.resize(r.rd.size());
    for (std::size_t i = 0; i < r.rd.size(); ++i) {
      slot& s = slots_[i];
      s.self = this;
      s.i = i;
      UV_CHECK(uv_poll_init_socket(&loop_, &s.poll, r.rd[i]));
      s.poll.data = &s;
      UV_CHECK(uv_poll_start(&s.poll, UV_READABLE, on_read));
    }
  }
  ~libuv_ring() override {
    for (slot& s : slots_) uv_close(reinterpret_cast<uv_handle_t*>(&s.poll), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);  // runs the closes
    UV_CHECK(uv_loop_close(&loop_));
  }

  void run(ring& r) override {
    ring_ = &r;
    uv_run(&loop_, UV_RUN_DEFAULT);
  }

 private:
  struct slot {
    uv_poll_t poll;
    libuv_ring* self;
    std::size_t i;
  };

  static void on_read(uv_poll_t* h, int status, int) {
    BENCH_CHECK(status == 0, "uv_poll: %s", uv_strerror(status));
    auto* s = static_cast<slot*>(h->data);
    libuv_ring* self = s->self;
    self->ring_->on_readable(s->i);
    if (self->oneshot_) {
      uv_poll_stop(h);
      uv_poll_start(h, UV_READABLE, on_read);
    }
    if (self->ring_->done()) uv_stop(&self->loop_);
  }

  ring* ring_;
  bool oneshot_;
  uv_loop_t loop_;
  std::vector<slot> slots_;
};

std::unique_ptr<ring_loop> make_ring(ring& r, arm mode) {
  return std::make_unique<libuv_ring>(r, mode);
}

// ---- workload 5 ---------------------------------------------------------------------

struct echo_server_state {
  uv_tcp_t server;
  int connections;
  int closed = 0;
};

struct write_req {
  uv_write_t req;
  uv_buf_t buf;
};

void on_alloc(uv_handle_t*, std::size_t suggested, uv_buf_t* buf) {
  buf->base = static_cast<char*>(std::malloc(suggested));
  buf->len = suggested;
}

void on_closed(uv_handle_t* h) {
  auto* st = static_cast<echo_server_state*>(h->loop->data);
  delete reinterpret_cast<uv_tcp_t*>(h);
  if (++st->closed == st->connections)
    uv_close(reinterpret_cast<uv_handle_t*>(&st->server), nullptr);
}

void on_written(uv_write_t* req, int) {
  auto* w = reinterpret_cast<write_req*>(req);
  std::free(w->buf.base);
  delete w;
}

void on_read(uv_stream_t* client, ssize_t nread, const uv_buf_t* buf) {
  if (nread > 0) {
    auto* w = new write_req;
    w->buf = uv_buf_init(buf->base, static_cast<unsigned>(nread));
    UV_CHECK(uv_write(&w->req, client, &w->buf, 1, on_written));
    return;
  }
  std::free(buf->base);
  if (nread < 0) uv_close(reinterpret_cast<uv_handle_t*>(client), on_closed);
}

void on_connection(uv_stream_t* server, int status) {
  BENCH_CHECK(status == 0, "uv_listen: %s", uv_strerror(status));
  auto* client = new uv_tcp_t;
  UV_CHECK(uv_tcp_init(server->loop, client));
  UV_CHECK(uv_accept(server, reinterpret_cast<uv_stream_t*>(client)));
  UV_CHECK(uv_read_start(reinterpret_cast<uv_stream_t*>(client), on_alloc, on_read));
}

void echo(int listen_fd, int connections) {
  uv_loop_t loop;
  UV_CHECK(uv_loop_init(&loop));
  echo_server_state st{};
  st.connections = connections;
  loop.data = &st;
  UV_CHECK(uv_tcp_init(&loop, &st.server));
  UV_CHECK(uv_tcp_open(&st.server, listen_fd));
  UV_CHECK(uv_listen(reinterpret_cast<uv_stream_t*>(&st.server), 1024, on_connection));
  uv_run(&loop, UV_RUN_DEFAULT);  // ends once the server handle is closed
  UV_CHECK(uv_loop_close(&loop));
}

}  // namespace

const impl libuv_impl{
    "libuv",
    make_ring,
    "uv_poll_t; one-shot: uv_poll_stop + uv_poll_start in the callback",
    nullptr,
    "no user-packet queue: uv_async_send coalesces wake-ups and carries no data",
    echo,
    "uv_tcp_t, uv_read_start + uv_write (malloc'd buffers, as in the guide)",
};

}  // namespace bench
