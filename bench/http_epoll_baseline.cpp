// http_epoll_baseline.cpp - the yardstick for examples/http_server.cpp: the
// same server model written directly on epoll, with no psn in between.
//
// Same model as the example: N threads wait on ONE epoll instance; every
// socket is EPOLLONESHOT and level-triggered, so the thread that gets a
// socket owns it until it re-arms it with epoll_ctl(EPOLL_CTL_MOD); one read
// per wake-up; responses are written at once, and EPOLLOUT is waited for only
// when the send buffer is full. Differences: epoll_ctl is one system call per
// re-arm (psn batches them into the next process() call), the HTTP parsing is
// minimal ("GET / " -> 200, anything else -> 404; no 400/431 handling), and
// a connection is closed as soon as it is done (epoll needs no REMOVE step).
// The 200 response has the example's headers and body, so wrk reads the same
// bytes from both.
//
// Build:  g++ -std=c++20 -O2 bench/http_epoll_baseline.cpp -lpthread -o http_epoll_baseline
// Run:    http_epoll_baseline [--port N] [--threads N]   (prints "listening on PORT")
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

int epfd = -1;
int listener = -1;

struct conn {
  int fd;
  std::string in, out;
  std::size_t out_pos = 0;
};

std::string_view http_date() {
  thread_local std::time_t cached = 0;
  thread_local char text[64];
  std::time_t now = std::time(nullptr);
  if (now != cached) {
    cached = now;
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  }
  return text;
}

void respond(std::string& out, bool found) {
  out += found ? "HTTP/1.1 200 OK" : "HTTP/1.1 404 Not Found";
  out += "\r\nServer: psn-http-example\r\nDate: ";
  out += http_date();
  out += "\r\nContent-Type: text/plain\r\nContent-Length: ";
  out += found ? "16\r\nConnection: keep-alive\r\n\r\nHello from psn!\n"
               : "10\r\nConnection: keep-alive\r\n\r\nnot found\n";
}

void rearm(int fd, void* ptr, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events | EPOLLONESHOT;
  ev.data.ptr = ptr;
  epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

void drop(conn* c) {
  ::close(c->fd);  // closing removes it from the epoll set
  delete c;
}

// Returns false when the connection is finished.
bool serve(conn* c) {
  char buf[16384];
  ssize_t n = ::recv(c->fd, buf, sizeof buf, 0);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return false;
  if (n > 0) c->in.append(buf, static_cast<std::size_t>(n));
  std::size_t pos = 0, end;
  while ((end = c->in.find("\r\n\r\n", pos)) != std::string::npos) {
    respond(c->out, c->in.compare(pos, 6, "GET / ") == 0);
    pos = end + 4;
  }
  c->in.erase(0, pos);
  return c->in.size() <= 8192;
}

bool flush(conn* c) {
  while (c->out_pos < c->out.size()) {
    ssize_t n = ::send(c->fd, c->out.data() + c->out_pos, c->out.size() - c->out_pos,
                       MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    if (n <= 0) return false;
    c->out_pos += static_cast<std::size_t>(n);
  }
  c->out.clear();
  c->out_pos = 0;
  return true;
}

void worker() {
  epoll_event events[64];
  for (;;) {
    int n = epoll_wait(epfd, events, 64, -1);
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == nullptr) {  // the listener
        for (int k = 0; k < 64; ++k) {
          int s = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (s < 0) break;
          int one = 1;
          ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          epoll_event ev{};
          ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
          ev.data.ptr = new conn{s, {}, {}, 0};
          epoll_ctl(epfd, EPOLL_CTL_ADD, s, &ev);
        }
        rearm(listener, nullptr, EPOLLIN);
        continue;
      }
      auto* c = static_cast<conn*>(events[i].data.ptr);
      bool alive = (events[i].events & EPOLLOUT) ? true : serve(c);
      if (!alive || !flush(c)) {
        drop(c);
        continue;
      }
      rearm(c->fd, c, c->out.empty() ? EPOLLIN | EPOLLRDHUP : EPOLLOUT);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view a = argv[i];
    if (a == "--port") {
      port = std::atoi(argv[i + 1]);
    } else if (a == "--threads") {
      threads = static_cast<unsigned>(std::max(1, std::atoi(argv[i + 1])));
    } else {
      std::fprintf(stderr, "usage: %s [--port N] [--threads N]\n", argv[0]);
      return 2;
    }
  }
  listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  socklen_t len = sizeof addr;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener, SOMAXCONN) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("listen");
    return 1;
  }
  epfd = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLONESHOT;
  ev.data.ptr = nullptr;
  epoll_ctl(epfd, EPOLL_CTL_ADD, listener, &ev);

  std::vector<std::thread> pool;
  for (unsigned i = 0; i < threads; ++i) pool.emplace_back(worker);
  std::printf("listening on %u\n", ntohs(addr.sin_port));
  std::fflush(stdout);
  for (auto& t : pool) t.join();  // runs until killed
}
