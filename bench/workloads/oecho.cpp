// Workload 6 (oecho): echo over N TCP connections on loopback, served on one
// thread by completion-based servers (psn's overlapped WSARecv/WSASend on a
// port, raw liburing) and readiness-based ones (raw epoll, psn's
// ProcessSocketNotifications), side by side.
//
// Two shapes: ping-pong (each connection sends a small message, waits for
// its echo, sends the next, M round trips), on one connection and on N; and
// streaming (each connection keeps a window of bytes in flight). A message
// is one send of the clients: 64 bytes, or 16 KiB when streaming. The
// clients are the same for every server: the calling thread, non-blocking
// sockets in a raw epoll set, so that the measurement is about the server
// side:
//   - ns/msg: wall time from the first byte sent to the last echo received,
//     per message (clients included, the same for all);
//   - server CPU ns/msg: the serving thread's CPU time (user + system) over
//     its run, per message;
//   - kernel entries/msg: the serving thread's system calls over its run,
//     counted by the raw_syscalls:sys_enter tracepoint in an untimed pass
//     (the clients' thread is not counted); io_uring submits/msg likewise.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>
#include <thread>

#include "harness.hpp"

namespace bench {
namespace {

constexpr std::size_t kPingBytes = 64;
constexpr std::size_t kStreamChunk = 16 * 1024;
constexpr std::uint64_t kStreamWindow = 64 * 1024;
constexpr std::size_t kClientRead = 64 * 1024;

void set_nodelay(int fd) {
  int one = 1;
  BENCH_CHECK(::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0, "TCP_NODELAY: %s",
              std::strerror(errno));
}

// n connected TCP connections over 127.0.0.1, TCP_NODELAY on both ends:
// the client ends and the server ends, both non-blocking.
void tcp_connections(int n, std::vector<int>& clients, std::vector<int>& servers) {
  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  BENCH_CHECK(lfd >= 0, "socket: %s", std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BENCH_CHECK(::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0, "bind: %s",
              std::strerror(errno));
  BENCH_CHECK(::listen(lfd, n) == 0, "listen: %s", std::strerror(errno));
  socklen_t len = sizeof addr;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  clients.clear();
  servers.clear();
  for (int i = 0; i < n; ++i) {
    int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    BENCH_CHECK(c >= 0, "socket: %s", std::strerror(errno));
    BENCH_CHECK(::connect(c, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0,
                "connect: %s", std::strerror(errno));
    ::fcntl(c, F_SETFL, ::fcntl(c, F_GETFL) | O_NONBLOCK);
    set_nodelay(c);
    clients.push_back(c);
    int s = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    BENCH_CHECK(s >= 0, "accept4: %s", std::strerror(errno));
    set_nodelay(s);
    servers.push_back(s);
  }
  ::close(lfd);
}

// One shape of the workload.
struct shape {
  std::string params;
  int conns;
  std::size_t chunk;       // bytes per client send (the message)
  std::uint64_t window;    // unechoed bytes allowed per connection
  std::uint64_t per_conn;  // bytes each connection sends in a timed run
  std::uint64_t messages(std::uint64_t bytes) const {
    return static_cast<std::uint64_t>(conns) * (bytes / chunk);
  }
};

// The clients of one run: every connection sends `total` bytes in sends of
// at most `chunk`, never more than `window` ahead of what came back.
class clients {
 public:
  clients(std::vector<int> fds, const shape& sh, std::uint64_t total, bool verify)
      : chunk_(sh.chunk), window_(sh.window), total_(total), verify_(verify) {
    for (std::size_t i = 0; i < sizeof pattern_; ++i) pattern_[i] = static_cast<char>(i);
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    BENCH_CHECK(ep_ >= 0, "epoll_create1: %s", std::strerror(errno));
    conns_.resize(fds.size());
    for (std::size_t i = 0; i < fds.size(); ++i) {
      conn& c = conns_[i];
      c.fd = fds[i];
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.ptr = &c;
      BENCH_CHECK(::epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev) == 0, "epoll_ctl: %s",
                  std::strerror(errno));
    }
  }
  ~clients() {
    for (conn& c : conns_) ::close(c.fd);
    ::close(ep_);
  }
  clients(const clients&) = delete;
  clients& operator=(const clients&) = delete;

  // Runs every connection to its last echo; returns the seconds it took.
  double run() {
    auto t0 = clock::now();
    std::size_t remaining = conns_.size();
    for (conn& c : conns_) pump(c);
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
          ssize_t got = ::recv(c.fd, buf_, sizeof buf_, 0);
          BENCH_CHECK(got != 0, "oecho: the server closed a connection");
          if (got < 0) {
            BENCH_CHECK(errno == EAGAIN, "recv: %s", std::strerror(errno));
          } else {
            const auto g = static_cast<std::uint64_t>(got);
            BENCH_CHECK(c.received + g <= c.sent, "oecho: more bytes came back than were sent");
            if (verify_)
              BENCH_CHECK(std::memcmp(buf_, pattern_ + c.received % 256, g) == 0,
                          "oecho: the bytes that came back differ from those sent");
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
    while (c.sent < total_ && c.sent - c.received < window_) {
      const std::size_t len = static_cast<std::size_t>(std::min(
          {static_cast<std::uint64_t>(chunk_), total_ - c.sent, window_ - (c.sent - c.received)}));
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

  std::size_t chunk_;
  std::uint64_t window_, total_;
  bool verify_;
  int ep_ = -1;
  std::vector<conn> conns_;
  char buf_[kClientRead];
  char pattern_[kClientRead + 256];  // byte i is i mod 256: any offset mod 256 fits a read
};

double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct outcome {
  double seconds = 0;      // wall, first send to last echo
  double cpu_seconds = 0;  // the serving thread's, over run()
  std::uint64_t messages = 0;
  bool counted = false;
  kernel_counts kernel;  // the serving thread's, over run(), when counted
};

// One run of `sh` with `per_conn` bytes per connection through `im`'s
// server on its own thread. `traced`: count the server's system calls
// (tracing slows them: never in a timed round); `verify`: check every byte.
outcome run_once(const impl& im, const shape& sh, std::uint64_t per_conn, bool traced,
                 bool verify) {
  std::vector<int> cfds, sfds;
  tcp_connections(sh.conns, cfds, sfds);
  std::unique_ptr<oecho_server> server = im.oecho(sfds, per_conn);
  outcome o;
  o.messages = sh.messages(per_conn);
  std::atomic<bool> serving{false};
  std::thread t([&] {
    server->on_thread();
    std::optional<syscall_counter> counter;
    if (traced) counter.emplace(syscall_counter::scope::this_thread, true);
    const double cpu0 = thread_cpu_seconds();
    if (counter) counter->start();
    serving.store(true, std::memory_order_release);
    serving.notify_one();
    server->run();
    if (counter) {
      o.kernel = counter->stop_all();
      o.counted = counter->ok();
    }
    o.cpu_seconds = thread_cpu_seconds() - cpu0;
  });
  serving.wait(false, std::memory_order_acquire);
  {
    clients c(cfds, sh, per_conn, verify);
    o.seconds = c.run();
    t.join();
  }
  const std::uint64_t want = per_conn * static_cast<std::uint64_t>(sh.conns);
  BENCH_CHECK(server->echoed() == want, "%s: the server echoed %llu of %llu bytes", im.name,
              static_cast<unsigned long long>(server->echoed()),
              static_cast<unsigned long long>(want));
  return o;
}

std::string size_text(std::uint64_t bytes) {
  if (bytes % (1024 * 1024) == 0) return std::to_string(bytes / (1024 * 1024)) + "MiB";
  if (bytes % 1024 == 0) return std::to_string(bytes / 1024) + "KiB";
  return std::to_string(bytes) + "B";
}

bool uses_uring(const impl* im) {
  const std::string n = im->name;
  return n.find("io_uring") != std::string::npos || n == "liburing";
}

}  // namespace

void run_oecho(const options& o, const std::vector<const impl*>& impls, results& out) {
  std::vector<const impl*> servers;
  for (const impl* im : impls) {
    if (im->oecho) {
      servers.push_back(im);
    } else if (std::string(im->name).rfind("psn-c++", 0) == 0) {
      out.skip("oecho", "all", im->name,
               "the readiness path is psn-c's (ProcessSocketNotifications), measured in its rows");
    } else {
      out.skip("oecho", "all", im->name,
               "not written for this workload (the echo workload serves TCP echo through it)");
    }
  }
#ifdef PSN_BENCH_HAVE_LIBURING
  if (!liburing_available())
    out.skip("oecho", "all", "liburing", "this kernel refuses to create an io_uring");
#endif
  // Ping-pong on one connection first: every WSARecv then finds nothing
  // and waits, so its counts are those of one whole operation each way.
  auto ping_pong = [&](int conns, std::uint64_t trips) {
    return shape{"ping-pong N=" + std::to_string(conns) + " msg=" + size_text(kPingBytes) +
                     " trips=" + std::to_string(trips),
                 conns, kPingBytes, kPingBytes, kPingBytes * trips};
  };
  std::vector<shape> shapes;
  if (o.oecho_conns != 1) shapes.push_back(ping_pong(1, 2 * o.oecho_trips));
  shapes.push_back(ping_pong(o.oecho_conns, o.oecho_trips));
  shapes.push_back(shape{
      "stream N=" + std::to_string(o.oecho_stream_conns) + " msg=" + size_text(kStreamChunk) +
          " window=" + size_text(kStreamWindow) + " " + size_text(o.oecho_stream_bytes) + "/conn",
      o.oecho_stream_conns, kStreamChunk, kStreamWindow, o.oecho_stream_bytes});
  // Whether the tracepoints can be read. The probe is closed again at once:
  // while a tracepoint event is open, every system call runs its probe,
  // timed ones too.
  bool perf = false, uring_counts = false;
  std::string why_not;
  {
    const syscall_counter probe(syscall_counter::scope::this_thread, true);
    perf = probe.ok() && !o.no_perf;
    uring_counts = probe.counts_uring();
    why_not = probe.why_not();
  }
  for (const shape& sh : shapes) {
    std::fprintf(stderr, "[oecho %s]", sh.params.c_str());
    // Warm-up: every byte checked, the server's system calls counted (with perf).
    const std::uint64_t warm = sh.per_conn / 2 / sh.chunk * sh.chunk;
    for (const impl* im : servers) {
      watchdog(120, "oecho " + sh.params + " " + im->name + " (warm-up, traced, verifying)");
      const outcome r = run_once(*im, sh, warm, perf, true);
      if (!r.counted) continue;
      const double per = 1.0 / static_cast<double>(r.messages);
      out.add("oecho", sh.params, im->name, "kernel entries/msg", better::lower,
              static_cast<double>(r.kernel.entries) * per);
      if (uring_counts && uses_uring(im))
        out.add("oecho", sh.params, im->name, "io_uring submits/msg", better::lower,
                static_cast<double>(r.kernel.uring_submits) * per);
    }
    for (int round = 0; round < o.rounds; ++round) {
      std::fprintf(stderr, " %d", round + 1);
      for (const impl* im : servers) {
        watchdog(120, "oecho " + sh.params + " " + im->name);
        const outcome r = run_once(*im, sh, sh.per_conn, false, false);
        const double per = 1e9 / static_cast<double>(r.messages);
        out.add("oecho", sh.params, im->name, "ns/msg", better::lower, r.seconds * per);
        out.add("oecho", sh.params, im->name, "server CPU ns/msg", better::lower,
                r.cpu_seconds * per);
      }
    }
    watchdog(0, "");
    std::fputc('\n', stderr);
  }
  for (const impl* im : servers)
    if (im->oecho_note) out.note(std::string(im->name) + " (oecho): " + im->oecho_note);
  out.note(
      "oecho: TCP over 127.0.0.1, TCP_NODELAY; the server on its own thread, the clients on "
      "the main thread (non-blocking sockets in a raw epoll set, the same for every server); "
      "ns/msg = wall time first send to last echo per message; server CPU ns/msg = the "
      "serving thread's CPU time (user + system) per message");
  if (perf)
    out.note(
        "oecho: kernel entries/msg and io_uring submits/msg count the serving thread only "
        "(raw_syscalls:sys_enter, io_uring:io_uring_submit_req), over its whole run in an "
        "untimed warm-up pass of half the bytes, every echoed byte checked; the clients' "
        "system calls are not counted");
  else
    out.note("oecho: kernel entries not counted (" +
             (o.no_perf ? std::string("--no-perf") : "perf tracepoints unavailable: " + why_not) +
             "); the psn overlapped engine's own system calls are not in psn's port counters");
}

}  // namespace bench
