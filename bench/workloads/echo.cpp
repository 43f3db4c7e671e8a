// Workload 5: TCP echo on loopback. Each implementation serves on its own
// thread; the clients, identical for all, run on the calling thread over
// raw epoll: C connections each send B bytes in chunks, keeping at most a
// window of unechoed bytes in flight, and read the echo back. Result: echoed
// payload bytes per second, from the first byte sent to the last received.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <thread>

#include "harness.hpp"

namespace bench {
namespace {

constexpr std::size_t kChunk = 16 * 1024;
constexpr std::uint64_t kWindow = 64 * 1024;
constexpr std::size_t kReadSize = 64 * 1024;

void set_nodelay(int fd) {
  int one = 1;
  BENCH_CHECK(::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0,
              "TCP_NODELAY: %s", std::strerror(errno));
}

// A listening socket on 127.0.0.1, any port. TCP_NODELAY set here is
// inherited by every accepted connection, whatever the server library.
int listen_loopback(sockaddr_in* addr) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  BENCH_CHECK(fd >= 0, "socket: %s", std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  set_nodelay(fd);
  *addr = {};
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BENCH_CHECK(::bind(fd, reinterpret_cast<sockaddr*>(addr), sizeof *addr) == 0, "bind: %s",
              std::strerror(errno));
  BENCH_CHECK(::listen(fd, 1024) == 0, "listen: %s", std::strerror(errno));
  socklen_t len = sizeof *addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(addr), &len);
  return fd;
}

class clients {
 public:
  clients(const sockaddr_in& addr, int n, std::uint64_t bytes, bool verify)
      : total_(bytes), verify_(verify) {
    for (std::size_t i = 0; i < sizeof pattern_; ++i) pattern_[i] = static_cast<char>(i);
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    BENCH_CHECK(ep_ >= 0, "epoll_create1: %s", std::strerror(errno));
    conns_.resize(static_cast<std::size_t>(n));
    for (conn& c : conns_) {
      c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      BENCH_CHECK(c.fd >= 0, "socket: %s", std::strerror(errno));
      BENCH_CHECK(::connect(c.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0,
                  "connect: %s", std::strerror(errno));
      set_nodelay(c.fd);
      int fl = ::fcntl(c.fd, F_GETFL);
      ::fcntl(c.fd, F_SETFL, fl | O_NONBLOCK);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.ptr = &c;
      BENCH_CHECK(::epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev) == 0, "epoll_ctl: %s",
                  std::strerror(errno));
    }
  }
  ~clients() {
    for (conn& c : conns_) ::close(c.fd);  // the servers see EOF and finish
    ::close(ep_);
  }
  clients(const clients&) = delete;
  clients& operator=(const clients&) = delete;

  // Runs every transfer to the end; returns the seconds it took.
  double run() {
    auto t0 = clock::now();
    std::size_t remaining = conns_.size();
    for (conn& c : conns_) pump(c);
    char buf[kReadSize];
    epoll_event evs[64];
    while (remaining > 0) {
      int n = ::epoll_wait(ep_, evs, 64, -1);
      if (n < 0) {
        BENCH_CHECK(errno == EINTR, "epoll_wait: %s", std::strerror(errno));
        continue;
      }
      for (int k = 0; k < n; ++k) {
        conn& c = *static_cast<conn*>(evs[k].data.ptr);
        if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
          ssize_t got = ::recv(c.fd, buf, sizeof buf, 0);
          BENCH_CHECK(got != 0, "echo: the server closed a connection early");
          if (got < 0) {
            BENCH_CHECK(errno == EAGAIN, "recv: %s", std::strerror(errno));
          } else {
            const auto g = static_cast<std::uint64_t>(got);
            BENCH_CHECK(c.received + g <= c.sent, "echo: more bytes came back than were sent");
            if (verify_)
              BENCH_CHECK(std::memcmp(buf, pattern_ + c.received % 256, g) == 0,
                          "echo: the bytes that came back differ from those sent");
            c.received += g;
            if (c.received == total_) --remaining;
          }
        }
        pump(c);
      }
    }
    return seconds_between(t0, clock::now());
  }

 private:
  struct conn {
    int fd = -1;
    std::uint64_t sent = 0, received = 0;
    bool watching_out = false;
  };

  // Sends while the window allows; watches for OUT only while blocked.
  void pump(conn& c) {
    bool blocked = false;
    while (c.sent < total_ && c.sent - c.received < kWindow) {
      std::size_t len = static_cast<std::size_t>(
          std::min({static_cast<std::uint64_t>(kChunk), total_ - c.sent,
                    kWindow - (c.sent - c.received)}));
      ssize_t w = ::send(c.fd, pattern_ + c.sent % 256, len, MSG_NOSIGNAL);
      if (w < 0) {
        BENCH_CHECK(errno == EAGAIN, "send: %s", std::strerror(errno));
        blocked = true;
        break;
      }
      c.sent += static_cast<std::uint64_t>(w);
    }
    if (blocked == c.watching_out) return;
    epoll_event ev{};
    ev.events = EPOLLIN | (blocked ? EPOLLOUT : 0u);
    ev.data.ptr = &c;
    BENCH_CHECK(::epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev) == 0, "epoll_ctl: %s",
                std::strerror(errno));
    c.watching_out = blocked;
  }

  std::uint64_t total_;
  bool verify_;
  int ep_ = -1;
  std::vector<conn> conns_;
  char pattern_[kReadSize + 256];  // byte i is i mod 256: any offset mod 256 fits a read
};

// One transfer through `im`'s server; returns MB/s of echoed payload.
double run_once(const impl& im, int connections, std::uint64_t bytes, bool verify) {
  sockaddr_in addr;
  int lfd = listen_loopback(&addr);
  std::thread server(im.echo, lfd, connections);
  double seconds;
  {
    clients c(addr, connections, bytes, verify);
    seconds = c.run();
  }
  server.join();
  return static_cast<double>(bytes) * connections / seconds / 1e6;
}

}  // namespace

void run_echo(const options& o, const std::vector<const impl*>& impls, results& out) {
  const std::string params = "conns=" + std::to_string(o.echo_connections) +
                             " bytes/conn=" + std::to_string(o.echo_bytes / 1024) + "KiB";
  std::fprintf(stderr, "[echo %s]", params.c_str());
  for (const impl* im : impls) {
    if (!im->echo) continue;
    watchdog(120, "echo " + params + " " + im->name + " (warm-up, verifying content)");
    run_once(*im, o.echo_connections, o.echo_bytes / 4, true);
  }
  for (int round = 0; round < o.rounds; ++round) {
    std::fprintf(stderr, " %d", round + 1);
    for (const impl* im : impls) {
      if (!im->echo) continue;
      watchdog(120, "echo " + params + " " + im->name);
      out.add("echo", params, im->name, "MB/s", better::higher,
              run_once(*im, o.echo_connections, o.echo_bytes, false));
    }
  }
  watchdog(0, "");
  std::fputc('\n', stderr);
  for (const impl* im : impls)
    if (im->echo_note) out.note(std::string(im->name) + " (echo): " + im->echo_note);
  out.note("echo: " + std::to_string(kChunk / 1024) + " KiB sends, at most " +
           std::to_string(kWindow / 1024) +
           " KiB unechoed per connection; clients on the main thread over raw epoll, server on "
           "its own thread; TCP_NODELAY everywhere");
}

}  // namespace bench
