// http_server.cpp - a multi-threaded HTTP/1.1 server on psn's C++ interface.
//
// What it shows (only <psn/psn.hpp>, no Windows names):
//
//   - Several threads serve one listening port through one psn::port. Every
//     socket is registered ONE-SHOT and LEVEL-TRIGGERED: taking a socket's
//     notification disables its registration, so the connection belongs to
//     the thread that took it -- no locks per connection -- until that thread
//     re-arms it.
//   - Re-arming is batched: a thread collects the ENABLE (and REMOVE) changes
//     for everything it served and hands them to its NEXT port::process()
//     call, which applies them and waits for more work in one call.
//   - What a connection waits for follows its state: IN|HANGUP while it reads
//     requests, OUT alone while a response is stuck in a full send buffer.
//   - A finished connection is REMOVEd; its state is freed (and the socket
//     closed) only when the REMOVE notification comes out of the port -- the
//     registration's last packet -- on whichever thread takes it.
//   - SIGINT/SIGTERM: the main thread waits for the signal with sigwait() and
//     posts a packet (port::post) that wakes one worker; each worker passes it
//     on before it exits, so every thread stops.
//
// The HTTP side is deliberately small: GET or HEAD of "/" answers 200 with a
// fixed body, any other path 404, other methods 405. Connections are kept
// alive (HTTP/1.1 default, or "Connection: keep-alive" from HTTP/1.0) and
// pipelined requests are answered in order. A malformed request gets 400 and
// the connection is closed; a header section larger than 8 KiB gets 431 and
// is closed. Closing after an error is "lingering": the response is sent,
// the sending side shut down, and the rest of the client's data read and
// dropped until it closes, so the client sees the response and not a reset.
// (A production server would also time out idle connections; psn has no
// timers, so this example does not.)
//
// Usage: http_server [--port N] [--threads N] [--address A]
//   --port 0 (the default) picks a free port. When ready the server prints
//   "listening on PORT" and flushes stdout.
#include <psn/psn.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

constexpr std::size_t max_header_bytes = 8 * 1024;  // larger => 431
constexpr std::size_t max_body_bytes = 1024 * 1024;  // larger => 413
constexpr std::size_t read_chunk = 16 * 1024;       // bytes read per notification
constexpr std::size_t output_high_water = 256 * 1024;  // stop parsing while this much is unsent
constexpr std::size_t max_discard = 64 * 1024;      // bytes read and dropped while closing
constexpr std::size_t max_batch = 64;               // notifications taken per process() call
constexpr int accepts_per_wakeup = 64;
constexpr std::string_view hello_body = "Hello from psn!\n";

// Completion keys of the listener and of the stop packet; connections use
// their own address.
char listener_tag, stop_tag;
void* const listener_key = &listener_tag;
void* const stop_key = &stop_tag;

// ---------------------------------------------------------------------------
// Connections

struct connection {
  explicit connection(int s) : fd(s) {}
  ~connection() { ::close(fd); }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  int fd;
  std::string in;       // bytes received and not yet parsed (from in_pos on)
  std::size_t in_pos = 0;
  std::string out;      // bytes to send (from out_pos on)
  std::size_t out_pos = 0;
  bool peer_done = false;     // the client shut down its side (read returned 0)
  bool closing = false;       // answer what was parsed, then close
  bool shut_down = false;     // our sending side is shut down; draining before close
  std::size_t discarded = 0;  // bytes dropped while closing

  std::size_t unsent() const { return out.size() - out_pos; }
};

struct server {
  psn::port port;
  int listener = -1;
  // Every live connection, so that shutdown can free the ones still open.
  // Only accept (insert) and the REMOVE notification (erase) take the lock.
  std::mutex live_mutex;
  std::unordered_map<connection*, std::unique_ptr<connection>> live;
  std::atomic<unsigned long long> accepted{0}, requests{0}, errors{0};
};

psn::registration arm(connection* c, psn::events filter) {
  return psn::registration::enable(c->fd, c, filter, psn::trigger::oneshot | psn::trigger::level);
}
psn::registration remove_registration(connection* c) {
  psn::registration r = psn::registration::remove(c->fd);
  r.key = c;  // ignored by REMOVE; kept so a failed entry still names its connection
  return r;
}

// ---------------------------------------------------------------------------
// HTTP

bool is_tchar(char ch) {
  if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
    return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(ch) != std::string_view::npos;
}
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char ch : s)
    if (!is_tchar(ch)) return false;
  return true;
}
bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The current time as an HTTP date, recomputed at most once a second per thread.
std::string_view http_date() {
  thread_local std::time_t cached_second = 0;
  thread_local char text[64];
  std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    cached_second = now;
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  }
  return text;
}

void append_response(std::string& out, int status, std::string_view reason,
                     std::string_view body, bool with_body, bool keep_alive,
                     std::string_view extra_headers = {}) {
  char num[24];
  out += "HTTP/1.1 ";
  out.append(num, std::to_chars(num, num + sizeof num, status).ptr);
  out += ' ';
  out += reason;
  out += "\r\nServer: psn-http-example\r\nDate: ";
  out += http_date();
  out += "\r\nContent-Type: text/plain\r\nContent-Length: ";
  out.append(num, std::to_chars(num, num + sizeof num, body.size()).ptr);
  out += keep_alive ? "\r\nConnection: keep-alive\r\n" : "\r\nConnection: close\r\n";
  out += extra_headers;
  out += "\r\n";
  if (with_body) out += body;
}

// Answers an error and marks the connection to close once it is sent.
void fail(connection& c, int status, std::string_view reason) {
  std::string body(reason);
  body += '\n';
  append_response(c.out, status, reason, body, true, false);
  c.closing = true;
}

struct request {
  std::string_view method, target;
  bool http10 = false;
  bool keep_alive = true;
  bool has_host = false;
  std::size_t content_length = 0;
};

// Where the header section in `data` ends (just past its empty line), or npos
// if it is not complete yet. Lines end in CRLF; a bare LF is accepted too.
std::size_t header_end(std::string_view data) {
  std::size_t pos = 0;
  for (;;) {
    std::size_t nl = data.find('\n', pos);
    if (nl == std::string_view::npos) return nl;
    std::size_t len = nl - pos;
    if (len > 0 && data[nl - 1] == '\r') --len;
    if (len == 0) return nl + 1;
    pos = nl + 1;
  }
}

// Parses one complete header section. Returns 0 when it is acceptable, else
// the status code to fail with.
int parse_request(std::string_view head, request& req) {
  bool first = true, seen_length = false;
  while (!head.empty()) {
    std::size_t nl = head.find('\n');
    std::string_view line = head.substr(0, nl);
    head.remove_prefix(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // the end of the header section
    for (char ch : line)
      if ((static_cast<unsigned char>(ch) < 0x20 && ch != '\t') || ch == 0x7f) return 400;

    if (first) {  // request-line: method SP request-target SP HTTP-version
      first = false;
      std::size_t sp1 = line.find(' ');
      std::size_t sp2 = sp1 == line.npos ? line.npos : line.find(' ', sp1 + 1);
      if (sp2 == line.npos || line.find(' ', sp2 + 1) != line.npos) return 400;
      req.method = line.substr(0, sp1);
      req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      std::string_view version = line.substr(sp2 + 1);
      if (!is_token(req.method) || req.target.empty() || req.target.find('\t') != line.npos)
        return 400;
      if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
          version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9')
        return 400;
      if (version[5] != '1') return 505;
      req.http10 = version[7] == '0';
      req.keep_alive = !req.http10;
      continue;
    }

    std::size_t colon = line.find(':');
    if (colon == line.npos || !is_token(line.substr(0, colon))) return 400;  // also obs-fold
    std::string_view name = line.substr(0, colon);
    std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "host")) {
      if (req.has_host) return 400;
      req.has_host = true;
    } else if (iequals(name, "content-length")) {
      std::size_t n = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || end != value.data() + value.size() || value.empty()) return 400;
      if (seen_length && n != req.content_length) return 400;
      seen_length = true;
      req.content_length = n;
    } else if (iequals(name, "transfer-encoding")) {
      return 501;  // no chunked request bodies here; the message cannot be framed
    } else if (iequals(name, "connection")) {
      while (!value.empty()) {
        std::size_t comma = value.find(',');
        std::string_view option = trim(value.substr(0, comma));
        if (iequals(option, "close")) req.keep_alive = false;
        if (iequals(option, "keep-alive") && req.http10) req.keep_alive = true;
        value.remove_prefix(comma == value.npos ? value.size() : comma + 1);
      }
    }
  }
  if (first) return 400;
  if (!req.http10 && !req.has_host) return 400;  // RFC 9112, 3.2
  return 0;
}

const char* reason_of(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
  }
}

// Answers every complete request in c.in, in order, until the connection is
// closing or enough output is waiting. Returns true when it stopped only
// because of the output.
bool handle_requests(server& srv, connection& c) {
  bool output_full = false;
  while (!c.closing) {
    if (c.unsent() >= output_high_water) {
      output_full = true;
      break;
    }
    std::string_view data = std::string_view(c.in).substr(c.in_pos);
    // Empty lines before a request line are ignored (RFC 9112, 2.2).
    while (!data.empty() && (data.front() == '\r' || data.front() == '\n')) {
      data.remove_prefix(1);
      ++c.in_pos;
    }
    if (data.empty()) break;
    std::size_t end = header_end(data);
    if (end == data.npos ? data.size() > max_header_bytes : end > max_header_bytes) {
      fail(c, 431, reason_of(431));
      ++srv.errors;
      break;
    }
    if (end == data.npos) break;  // wait for the rest of the header

    request req;
    if (int status = parse_request(data.substr(0, end), req)) {
      fail(c, status, reason_of(status));
      ++srv.errors;
      break;
    }
    if (req.content_length > max_body_bytes) {
      fail(c, 413, reason_of(413));
      ++srv.errors;
      break;
    }
    if (data.size() - end < req.content_length) break;  // wait for the body
    c.in_pos += end + req.content_length;               // the body is ignored

    std::string_view path = req.target.substr(0, req.target.find('?'));
    bool head = req.method == "HEAD";
    ++srv.requests;
    if (req.method != "GET" && !head) {
      append_response(c.out, 405, "Method Not Allowed", "method not allowed\n", true,
                      req.keep_alive, "Allow: GET, HEAD\r\n");
    } else if (path == "/") {
      append_response(c.out, 200, "OK", hello_body, !head, req.keep_alive);
    } else {
      append_response(c.out, 404, "Not Found", "not found\n", !head, req.keep_alive);
    }
    if (!req.keep_alive) c.closing = true;
  }
  // Drop what was parsed.
  if (c.in_pos == c.in.size()) {
    c.in.clear();
    c.in_pos = 0;
  } else if (c.in_pos > 0) {
    c.in.erase(0, c.in_pos);
    c.in_pos = 0;
  }
  return output_full;
}

// ---------------------------------------------------------------------------
// Socket work

enum class io { ok, failed };

// Reads once (level-triggered: if more is left, the re-armed registration
// reports it again at once).
io read_some(connection& c) {
  thread_local char buf[read_chunk];
  ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
  if (n > 0) {
    if (c.shut_down) {
      c.discarded += static_cast<std::size_t>(n);
    } else {
      c.in.append(buf, static_cast<std::size_t>(n));
    }
    return io::ok;
  }
  if (n == 0) {
    c.peer_done = true;
    return io::ok;
  }
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? io::ok : io::failed;
}

// Sends as much of c.out as the socket takes.
io write_some(connection& c) {
  while (c.unsent() > 0) {
    ssize_t n = ::send(c.fd, c.out.data() + c.out_pos, c.unsent(), MSG_NOSIGNAL);
    if (n > 0) {
      c.out_pos += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return io::ok;
    } else {
      return io::failed;
    }
  }
  c.out.clear();
  c.out_pos = 0;
  if (c.out.capacity() > output_high_water) c.out.shrink_to_fit();
  return io::ok;
}

// Serves one notification for a connection this thread now owns, and says
// what happens to its registration next.
psn::registration serve(server& srv, connection& c, psn::events ev) {
  if (ev.has(psn::event::in) || ev.has(psn::event::hangup) || ev.has(psn::event::error)) {
    if (!c.peer_done && read_some(c) == io::failed) return remove_registration(&c);
  }
  for (;;) {
    bool output_full = !c.shut_down && handle_requests(srv, c);
    if (write_some(c) == io::failed) return remove_registration(&c);
    // Parsing stopped because output piled up, and it has all gone out: there
    // may be more requests to answer right away.
    if (!(output_full && c.unsent() == 0)) break;
  }

  if (c.unsent() > 0) return arm(&c, psn::event::out);  // wait for room; nothing else
  if (c.closing) {
    if (!c.shut_down) {
      ::shutdown(c.fd, SHUT_WR);  // the client sees the response, then end-of-file
      c.shut_down = true;
      c.in.clear();
      c.in_pos = 0;
    }
    if (c.peer_done || c.discarded > max_discard) return remove_registration(&c);
    return arm(&c, psn::event::in | psn::event::hangup);  // drain until the client closes
  }
  if (c.peer_done) return remove_registration(&c);  // every complete request was answered
  return arm(&c, psn::event::in | psn::event::hangup);
}

void accept_connections(server& srv, std::vector<psn::registration>& changes) {
  for (int i = 0; i < accepts_per_wakeup; ++i) {
    int s = ::accept4(srv.listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (s < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) std::perror("accept4");
      break;
    }
    int one = 1;
    ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto owned = std::make_unique<connection>(s);
    connection* c = owned.get();
    {
      std::lock_guard lock(srv.live_mutex);
      srv.live.emplace(c, std::move(owned));
    }
    ++srv.accepted;
    changes.push_back(arm(c, psn::event::in | psn::event::hangup));
  }
  // The listener is one-shot too: re-armed with the rest of this batch's changes.
  changes.push_back(psn::registration::enable(srv.listener, listener_key, psn::event::in,
                                              psn::trigger::oneshot | psn::trigger::level));
}

void free_connection(server& srv, connection* c) {
  std::unique_ptr<connection> dead;
  {
    std::lock_guard lock(srv.live_mutex);
    auto it = srv.live.find(c);
    if (it == srv.live.end()) return;
    dead = std::move(it->second);
    srv.live.erase(it);
  }
  // `dead` closes the socket here, outside the lock.
}

// Changes the port refused. A connection whose ENABLE failed has no enabled
// registration, so no other thread can be serving it: remove it instead. If
// even REMOVE fails, no registration exists any more and the state can go.
void handle_refused(server& srv, const psn::registration& r,
                    std::vector<psn::registration>& next) {
  if (r.key == listener_key) {
    std::fprintf(stderr, "http_server: cannot re-arm the listener: %s\n",
                 r.error().message().c_str());
    ::kill(::getpid(), SIGTERM);
    return;
  }
  auto* c = static_cast<connection*>(r.key);
  ++srv.errors;
  if (r.op == psn::operation::enable)
    next.push_back(remove_registration(c));
  else
    free_connection(srv, c);
}

void worker(server& srv) {
  std::vector<psn::registration> changes, refused_followups;
  std::array<psn::completion, max_batch> slots;
  bool stop = false;
  while (!stop) {
    std::error_code ec;
    auto done = srv.port.process(changes, slots, psn::infinite, ec);
    if (ec && ec != psn::errc::timeout) {
      if (ec == psn::errc::abandoned || ec == psn::errc::invalid_handle) return;
      // Nothing was applied or taken (R4.3): keep the changes and try again.
      std::fprintf(stderr, "http_server: process: %s\n", ec.message().c_str());
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    // Only failed entries may be looked at: a successfully re-armed connection
    // may already be in another thread's hands.
    refused_followups.clear();
    for (const auto& r : changes)
      if (r.result != 0) handle_refused(srv, r, refused_followups);
    changes.swap(refused_followups);

    for (const psn::completion& n : done) {
      if (n.key == stop_key) {
        stop = true;
        continue;
      }
      if (n.key == listener_key) {
        accept_connections(srv, changes);
        continue;
      }
      auto* c = static_cast<connection*>(n.key);
      if (n.events().has(psn::event::remove)) {
        free_connection(srv, c);  // the registration's last packet
        continue;
      }
      changes.push_back(serve(srv, *c, n.events()));
    }
  }
  // Pass the stop request on to the next thread; it is ignored once all are gone.
  srv.port.post(0, stop_key);
}

// ---------------------------------------------------------------------------

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr, "usage: %s [--port N] [--threads N] [--address IPv4]\n", argv0);
  std::exit(2);
}

bool parse_number(const char* s, unsigned long max, unsigned long& out) {
  std::string_view v(s);
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc() && end == v.data() + v.size() && out <= max;
}

}  // namespace

int main(int argc, char** argv) {
  unsigned long port_number = 0;
  unsigned long threads = std::max(1u, std::thread::hardware_concurrency());
  const char* address = "127.0.0.1";
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (i + 1 >= argc) usage(argv[0]);
    if (arg == "--port") {
      if (!parse_number(argv[++i], 65535, port_number)) usage(argv[0]);
    } else if (arg == "--threads") {
      if (!parse_number(argv[++i], 1024, threads) || threads == 0) usage(argv[0]);
    } else if (arg == "--address") {
      address = argv[++i];
    } else {
      usage(argv[0]);
    }
  }

  // SIGINT and SIGTERM are taken by sigwait() in main; every thread started
  // from here on inherits the blocked mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  server srv;
  std::error_code ec;
  srv.port = psn::port::create({.concurrency = static_cast<unsigned>(threads)}, ec);
  if (ec) {
    std::fprintf(stderr, "http_server: cannot create the port: %s\n", ec.message().c_str());
    return 1;
  }

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port_number));
  if (::inet_pton(AF_INET, address, &addr.sin_addr) != 1) usage(argv[0]);
  srv.listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  socklen_t len = sizeof addr;
  if (srv.listener < 0 ||
      ::setsockopt(srv.listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::bind(srv.listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(srv.listener, SOMAXCONN) != 0 ||
      ::getsockname(srv.listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("http_server: listen");
    return 1;
  }
  std::array<psn::registration, 1> listen_reg{psn::registration::enable(
      srv.listener, listener_key, psn::event::in, psn::trigger::oneshot | psn::trigger::level)};
  if (srv.port.apply(listen_reg) || listen_reg[0].result != 0) {
    std::fprintf(stderr, "http_server: cannot register the listener\n");
    return 1;
  }

  std::vector<std::thread> pool;
  for (unsigned long i = 0; i < threads; ++i) pool.emplace_back(worker, std::ref(srv));

  std::printf("listening on %u\n", ntohs(addr.sin_port));
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::fprintf(stderr, "http_server: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  srv.port.post(0, stop_key);
  for (auto& t : pool) t.join();

  // Closing the port drops every registration (R3.9); then the connections
  // still open are closed and freed.
  srv.port.close();
  ::close(srv.listener);
  std::size_t still_open = srv.live.size();
  srv.live.clear();
  std::fprintf(stderr,
               "http_server: %llu connections, %llu requests, %llu refused requests or "
               "registrations; %zu connections open at exit\n",
               srv.accepted.load(), srv.requests.load(), srv.errors.load(), still_open);
  return 0;
}
