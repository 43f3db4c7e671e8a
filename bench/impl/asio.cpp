// Boost.Asio as its documentation shows it: async_read_some re-issued after
// each completion (Asio has no persistent watch), post()
// to an io_context for user packets, and the async_tcp_echo_server example's
// session pattern (async_read_some + async_write) for the echo server.
#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>

#include <array>
#include <thread>

#include "bench.hpp"
#include "harness.hpp"

namespace bench {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::local::stream_protocol;
using boost::system::error_code;

// ---- workloads 1, 2 and 4 ----------------------------------------------------

// Asio has no persistent readiness watch, and socket::async_wait misses a
// byte that is already there (its reactor is edge-triggered), so each socket
// keeps one async_read_some of one byte outstanding, re-issued after each
// completion: Asio's own way to read, in both modes.
class asio_ring final : public ring_loop {
 public:
  asio_ring(ring& r, arm) : ring_(&r), ctx_(1), bytes_(r.rd.size()) {
    socks_.reserve(r.rd.size());
    for (int fd : r.rd) {
      socks_.emplace_back(ctx_);
      socks_.back().assign(stream_protocol(), fd);
    }
    for (std::size_t i = 0; i < socks_.size(); ++i) read(i);
  }
  ~asio_ring() override {
    for (auto& s : socks_) s.release();  // the ring owns the descriptors
    ctx_.restart();
    ctx_.poll();  // runs the cancelled reads
  }

  void run(ring& r) override {
    ring_ = &r;
    ctx_.run();
  }

 private:
  void read(std::size_t i) {
    socks_[i].async_read_some(asio::buffer(&bytes_[i], 1),
                              [this, i](const error_code& ec, std::size_t n) {
                                if (ec) return;
                                ring_->on_read(i, n);
                                if (ring_->done()) {
                                  ctx_.stop();
                                  return;
                                }
                                read(i);
                              });
  }

  ring* ring_;
  asio::io_context ctx_;
  std::vector<stream_protocol::socket> socks_;
  std::vector<char> bytes_;
};

std::unique_ptr<ring_loop> make_ring(ring& r, arm mode) {
  return std::make_unique<asio_ring>(r, mode);
}

// ---- workload 3 ---------------------------------------------------------------------

double packets_one_thread(std::uint64_t n) {
  asio::io_context ctx(1);
  auto guard = asio::make_work_guard(ctx);
  std::uint64_t seen = 0;
  auto t0 = clock::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    asio::post(ctx, [&seen, i] { seen = i; });
    BENCH_CHECK(ctx.run_one() == 1 && seen == i, "asio: wrong handler");
  }
  return seconds_between(t0, clock::now()) * 1e9 / static_cast<double>(n);
}

double packets_two_threads(std::uint64_t n) {
  asio::io_context ctx;
  auto guard = asio::make_work_guard(ctx);
  std::uint64_t got = 0;
  auto t0 = clock::now();
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < n; ++i)
      asio::post(ctx, [&got, &ctx, i, n] {
        BENCH_CHECK(got == i, "asio: handlers out of order");
        if (++got == n) ctx.stop();
      });
  });
  ctx.run();
  double s = seconds_between(t0, clock::now());
  producer.join();
  BENCH_CHECK(got == n, "asio: %llu of %llu handlers ran", static_cast<unsigned long long>(got),
              static_cast<unsigned long long>(n));
  return s * 1e9 / static_cast<double>(n);
}

double packets_ping_pong(std::uint64_t n) {
  asio::io_context ping, pong;
  auto ping_guard = asio::make_work_guard(ping);
  auto pong_guard = asio::make_work_guard(pong);
  std::thread echo([&] { ping.run(); });
  std::vector<double> rtt;
  rtt.reserve(n);
  std::uint64_t seen = 0;
  for (std::uint64_t i = 0; i < n + 100; ++i) {  // the first 100 warm up
    auto t0 = clock::now();
    asio::post(ping, [&pong, &seen, i] { asio::post(pong, [&seen, i] { seen = i; }); });
    BENCH_CHECK(pong.run_one() == 1, "asio: run_one");
    auto t1 = clock::now();
    BENCH_CHECK(seen == i, "asio: wrong handler");
    if (i >= 100) rtt.push_back(seconds_between(t0, t1) * 1e9);
  }
  ping_guard.reset();
  ping.stop();
  echo.join();
  return median_of(rtt) / 2;
}

const packet_bench kPackets{packets_one_thread, packets_two_threads, packets_ping_pong};

// ---- workload 5 ---------------------------------------------------------------------

struct echo_server_state {
  asio::io_context ctx{1};
  tcp::acceptor acceptor{ctx};
  int connections = 0;
  int closed = 0;
};

class session : public std::enable_shared_from_this<session> {
 public:
  session(tcp::socket s, echo_server_state* st) : socket_(std::move(s)), st_(st) {}
  ~session() {
    if (++st_->closed == st_->connections) st_->acceptor.close();
  }
  void start() { read(); }

 private:
  void read() {
    auto self(shared_from_this());
    socket_.async_read_some(asio::buffer(data_), [this, self](error_code ec, std::size_t n) {
      if (!ec) write(n);
    });
  }
  void write(std::size_t n) {
    auto self(shared_from_this());
    asio::async_write(socket_, asio::buffer(data_, n), [this, self](error_code ec, std::size_t) {
      if (!ec) read();
    });
  }

  tcp::socket socket_;
  echo_server_state* st_;
  std::array<char, 64 * 1024> data_;
};

void accept(echo_server_state& st) {
  st.acceptor.async_accept([&st](error_code ec, tcp::socket s) {
    if (ec) return;
    std::make_shared<session>(std::move(s), &st)->start();
    accept(st);
  });
}

void echo(int listen_fd, int connections) {
  echo_server_state st;
  st.connections = connections;
  st.acceptor.assign(tcp::v4(), listen_fd);
  accept(st);
  st.ctx.run();  // ends once the last session closed the acceptor
}

}  // namespace

const impl asio_impl{
    "asio",
    make_ring,
    "async_read_some of 1 byte re-issued per event in both modes (Asio has no persistent "
    "watch; the read is Asio's own)",
    &kPackets,
    nullptr,
    echo,
    "async_accept + session (async_read_some / async_write), as in Asio's echo example",
};

}  // namespace bench
