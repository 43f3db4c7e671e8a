// resp_server.cpp - a small Redis-protocol (RESP2) key-value server on psn's
// C++ interface.
//
// What it shows (only <psn/psn.hpp>, no Windows names):
//
//   - A pool of threads serving one listening port through one psn::port, with
//     ONE-SHOT, LEVEL-TRIGGERED registrations: the thread that takes a
//     connection's notification owns the connection until it re-arms it, so
//     connection state needs no lock. The re-arms a thread collects while it
//     serves a batch go into its next port::process() call, which applies
//     them and waits for the next batch in one call.
//   - Pipelining falls out of that model: one notification, one read, then
//     every complete command in the buffer is executed and all the replies go
//     out in one send. A client that pipelines 16 commands costs the server
//     one notification, not 16.
//   - Back-pressure: while replies cannot be sent, the connection waits for OUT
//     only and stops reading, so a client that never reads cannot make the
//     server buffer without limit.
//   - Connection state is freed when the REMOVE notification arrives, never
//     while a packet for it could still be queued; SIGINT/SIGTERM stop the
//     server through a packet posted to the port.
//
// Commands: PING [msg], ECHO msg, SET key value, GET key, DEL key..., EXISTS
// key..., DBSIZE, FLUSHALL/FLUSHDB, SELECT 0, QUIT, plus enough of COMMAND and
// CONFIG GET for redis-cli and redis-benchmark. Unknown commands get an error
// reply (clients such as redis-benchmark carry on). Both request forms are
// understood: RESP arrays of bulk strings and inline commands ("PING\r\n").
// A protocol error gets "-ERR Protocol error: ..." and the connection is
// closed, as Redis does. The store is an in-memory map split into shards,
// each with its own mutex, shared by all threads.
//
// Usage: resp_server [--port N] [--threads N] [--address A]
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
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

constexpr std::size_t read_chunk = 16 * 1024;          // bytes read per notification
constexpr std::size_t output_high_water = 256 * 1024;  // stop executing while this much is unsent
constexpr std::size_t max_line = 64 * 1024;            // inline command or header line
constexpr long long max_args = 1024 * 1024;
constexpr long long max_bulk = 16 * 1024 * 1024;
constexpr std::size_t max_discard = 64 * 1024;         // bytes read and dropped while closing
constexpr std::size_t max_batch = 64;                  // notifications per process() call
constexpr int accepts_per_wakeup = 64;

char listener_tag, stop_tag;
void* const listener_key = &listener_tag;
void* const stop_key = &stop_tag;

// ---------------------------------------------------------------------------
// The key-value store

class store {
 public:
  // Appends the RESP reply for GET key to out.
  void get(std::string_view key, std::string& out) {
    shard& s = pick(key);
    std::lock_guard lock(s.mutex);
    auto it = s.map.find(key);
    if (it == s.map.end()) {
      out += "$-1\r\n";
      return;
    }
    out += '$';
    append_number(out, static_cast<long long>(it->second.size()));
    out += "\r\n";
    out += it->second;
    out += "\r\n";
  }
  void set(std::string_view key, std::string_view value) {
    shard& s = pick(key);
    std::lock_guard lock(s.mutex);
    auto it = s.map.find(key);
    if (it != s.map.end())
      it->second.assign(value);
    else
      s.map.emplace(key, value);
  }
  bool erase(std::string_view key) {
    shard& s = pick(key);
    std::lock_guard lock(s.mutex);
    auto it = s.map.find(key);
    if (it == s.map.end()) return false;
    s.map.erase(it);
    return true;
  }
  bool contains(std::string_view key) {
    shard& s = pick(key);
    std::lock_guard lock(s.mutex);
    return s.map.find(key) != s.map.end();
  }
  long long size() {
    long long n = 0;
    for (shard& s : shards_) {
      std::lock_guard lock(s.mutex);
      n += static_cast<long long>(s.map.size());
    }
    return n;
  }
  void clear() {
    for (shard& s : shards_) {
      std::lock_guard lock(s.mutex);
      s.map.clear();
    }
  }

  static void append_number(std::string& out, long long n) {
    char num[24];
    out.append(num, std::to_chars(num, num + sizeof num, n).ptr);
  }

 private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  struct shard {
    std::mutex mutex;
    std::unordered_map<std::string, std::string, string_hash, std::equal_to<>> map;
  };
  static constexpr std::size_t shard_count = 64;

  shard& pick(std::string_view key) {
    // The high bits choose the shard; the map's buckets use the whole hash.
    return shards_[(string_hash{}(key) >> 20) % shard_count];
  }

  std::array<shard, shard_count> shards_;
};

// ---------------------------------------------------------------------------
// Connections and the server

struct connection {
  explicit connection(int s) : fd(s) {}
  ~connection() { ::close(fd); }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  int fd;
  std::string in;  // bytes received and not yet executed (from in_pos on)
  std::size_t in_pos = 0;
  std::string out;  // replies to send (from out_pos on)
  std::size_t out_pos = 0;
  bool peer_done = false;  // the client shut down its side
  bool closing = false;    // send the replies, then close (QUIT, protocol error)
  bool shut_down = false;  // our side is shut down; draining until the client closes
  std::size_t discarded = 0;

  std::size_t unsent() const { return out.size() - out_pos; }
};

struct server {
  psn::port port;
  int listener = -1;
  store data;
  std::mutex live_mutex;
  std::unordered_map<connection*, std::unique_ptr<connection>> live;
  std::atomic<unsigned long long> accepted{0}, commands{0}, errors{0};
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
// RESP parsing

enum class parsed { command, incomplete, protocol_error };

// Reads a CRLF-terminated integer line starting after its type byte at
// data[pos]. Sets `next` past the CRLF.
parsed read_number_line(std::string_view data, std::size_t pos, long long& value,
                        std::size_t& next, const char*& error, const char* too_long) {
  std::size_t cr = data.find("\r\n", pos);
  if (cr == data.npos) {
    if (data.size() - pos > max_line) {
      error = too_long;
      return parsed::protocol_error;
    }
    return parsed::incomplete;
  }
  auto [end, ec] = std::from_chars(data.data() + pos, data.data() + cr, value);
  if (ec != std::errc() || end != data.data() + cr) {
    error = nullptr;  // the caller names the field
    return parsed::protocol_error;
  }
  next = cr + 2;
  return parsed::command;
}

// Parses one command at the start of `data`. On success `args` views into
// `data` and `used` is its length; an empty `args` is a blank line or an
// empty array, to be skipped.
parsed parse_command(std::string_view data, std::vector<std::string_view>& args,
                     std::size_t& used, const char*& error) {
  args.clear();
  if (data[0] != '*') {  // an inline command: words on one line
    std::size_t nl = data.find('\n');
    if (nl == data.npos) {
      if (data.size() > max_line) {
        error = "too big inline request";
        return parsed::protocol_error;
      }
      return parsed::incomplete;
    }
    std::string_view line = data.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    used = nl + 1;
    std::size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      std::size_t start = i;
      while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
      if (i > start) args.push_back(line.substr(start, i - start));
    }
    return parsed::command;
  }

  long long count = 0;
  std::size_t pos = 0;
  parsed r = read_number_line(data, 1, count, pos, error, "too big mbulk count string");
  if (r != parsed::command) {
    if (r == parsed::protocol_error && error == nullptr) error = "invalid multibulk length";
    return r;
  }
  if (count > max_args) {
    error = "invalid multibulk length";
    return parsed::protocol_error;
  }
  for (long long i = 0; i < count; ++i) {
    if (pos >= data.size()) return parsed::incomplete;
    if (data[pos] != '$') {
      error = "expected '$'";
      return parsed::protocol_error;
    }
    long long len = 0;
    r = read_number_line(data, pos + 1, len, pos, error, "too big bulk count string");
    if (r != parsed::command) {
      if (r == parsed::protocol_error && error == nullptr) error = "invalid bulk length";
      return r;
    }
    if (len < 0 || len > max_bulk) {
      error = "invalid bulk length";
      return parsed::protocol_error;
    }
    std::size_t n = static_cast<std::size_t>(len);
    if (data.size() - pos < n + 2) return parsed::incomplete;
    if (data[pos + n] != '\r' || data[pos + n + 1] != '\n') {
      error = "bulk string not terminated by CRLF";
      return parsed::protocol_error;
    }
    args.push_back(data.substr(pos, n));
    pos += n + 2;
  }
  used = pos;
  return parsed::command;
}

// ---------------------------------------------------------------------------
// Commands

bool is_command(std::string_view word, std::string_view name) {  // name is lower case
  if (word.size() != name.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i) {
    char ch = word[i];
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    if (ch != name[i]) return false;
  }
  return true;
}

void reply_bulk(std::string& out, std::string_view s) {
  out += '$';
  store::append_number(out, static_cast<long long>(s.size()));
  out += "\r\n";
  out += s;
  out += "\r\n";
}
void reply_integer(std::string& out, long long n) {
  out += ':';
  store::append_number(out, n);
  out += "\r\n";
}
// An error line must not carry CR or LF from the client's input.
void reply_error(std::string& out, std::string_view prefix, std::string_view quoted = {},
                 std::string_view suffix = {}) {
  out += "-ERR ";
  out += prefix;
  for (char ch : quoted.substr(0, 128))
    out += static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f ? '?' : ch;
  out += suffix;
  out += "\r\n";
}
void reply_arity(std::string& out, std::string_view name) {
  reply_error(out, "wrong number of arguments for '", name, "' command");
}

void execute(server& srv, connection& c, const std::vector<std::string_view>& a) {
  std::string& out = c.out;
  std::string_view cmd = a[0];
  std::size_t n = a.size();
  ++srv.commands;

  if (is_command(cmd, "get")) {
    if (n != 2) return reply_arity(out, cmd);
    srv.data.get(a[1], out);
  } else if (is_command(cmd, "set")) {
    if (n < 3) return reply_arity(out, cmd);
    if (n > 3) return reply_error(out, "syntax error (options are not supported)");
    srv.data.set(a[1], a[2]);
    out += "+OK\r\n";
  } else if (is_command(cmd, "ping")) {
    if (n > 2) return reply_arity(out, cmd);
    if (n == 2)
      reply_bulk(out, a[1]);
    else
      out += "+PONG\r\n";
  } else if (is_command(cmd, "del") || is_command(cmd, "exists")) {
    if (n < 2) return reply_arity(out, cmd);
    bool del = is_command(cmd, "del");
    long long count = 0;
    for (std::size_t i = 1; i < n; ++i)
      count += del ? srv.data.erase(a[i]) : srv.data.contains(a[i]);
    reply_integer(out, count);
  } else if (is_command(cmd, "echo")) {
    if (n != 2) return reply_arity(out, cmd);
    reply_bulk(out, a[1]);
  } else if (is_command(cmd, "dbsize")) {
    reply_integer(out, srv.data.size());
  } else if (is_command(cmd, "flushall") || is_command(cmd, "flushdb")) {
    srv.data.clear();
    out += "+OK\r\n";
  } else if (is_command(cmd, "select")) {
    if (n != 2) return reply_arity(out, cmd);
    if (a[1] != "0") return reply_error(out, "DB index is out of range");
    out += "+OK\r\n";
  } else if (is_command(cmd, "quit")) {
    out += "+OK\r\n";
    c.closing = true;
  } else if (is_command(cmd, "command")) {
    out += "*0\r\n";  // no command table; clients then use their defaults
  } else if (is_command(cmd, "config") && n == 3 && is_command(a[1], "get")) {
    // What redis-benchmark asks for before it starts: no persistence here.
    if (is_command(a[2], "save")) {
      out += "*2\r\n$4\r\nsave\r\n$0\r\n\r\n";
    } else if (is_command(a[2], "appendonly")) {
      out += "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n";
    } else {
      out += "*0\r\n";
    }
  } else {
    reply_error(out, "unknown command '", cmd, "'");
  }
}

// Executes every complete command in c.in, in order, until the connection is
// closing or enough output is waiting. Returns true when it stopped only
// because of the output.
bool handle_commands(server& srv, connection& c) {
  thread_local std::vector<std::string_view> args;
  bool output_full = false;
  while (!c.closing && c.in_pos < c.in.size()) {
    if (c.unsent() >= output_high_water) {
      output_full = true;
      break;
    }
    std::size_t used = 0;
    const char* error = nullptr;
    parsed r = parse_command(std::string_view(c.in).substr(c.in_pos), args, used, error);
    if (r == parsed::incomplete) break;
    if (r == parsed::protocol_error) {
      reply_error(c.out, "Protocol error: ", error);
      c.closing = true;
      ++srv.errors;
      break;
    }
    c.in_pos += used;
    if (!args.empty()) execute(srv, c, args);
  }
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
// Socket work (the same shape as in http_server.cpp)

enum class io { ok, failed };

// Reads once: level-triggered, so anything left is reported again at once.
io read_some(connection& c) {
  thread_local char buf[read_chunk];
  ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
  if (n > 0) {
    if (c.shut_down)
      c.discarded += static_cast<std::size_t>(n);
    else
      c.in.append(buf, static_cast<std::size_t>(n));
    return io::ok;
  }
  if (n == 0) {
    c.peer_done = true;
    return io::ok;
  }
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? io::ok : io::failed;
}

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

psn::registration serve(server& srv, connection& c, psn::events ev) {
  if (ev.has(psn::event::in) || ev.has(psn::event::hangup) || ev.has(psn::event::error)) {
    if (!c.peer_done && read_some(c) == io::failed) return remove_registration(&c);
  }
  for (;;) {
    bool output_full = !c.shut_down && handle_commands(srv, c);
    if (write_some(c) == io::failed) return remove_registration(&c);
    if (!(output_full && c.unsent() == 0)) break;
  }

  if (c.unsent() > 0) return arm(&c, psn::event::out);
  if (c.closing) {
    if (!c.shut_down) {
      ::shutdown(c.fd, SHUT_WR);
      c.shut_down = true;
      c.in.clear();
      c.in_pos = 0;
    }
    if (c.peer_done || c.discarded > max_discard) return remove_registration(&c);
    return arm(&c, psn::event::in | psn::event::hangup);
  }
  if (c.peer_done) return remove_registration(&c);
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
  changes.push_back(psn::registration::enable(srv.listener, listener_key, psn::event::in,
                                              psn::trigger::oneshot | psn::trigger::level));
}

void free_connection(server& srv, connection* c) {
  std::unique_ptr<connection> dead;
  std::lock_guard lock(srv.live_mutex);
  auto it = srv.live.find(c);
  if (it == srv.live.end()) return;
  dead = std::move(it->second);
  srv.live.erase(it);
}

// A refused change: see http_server.cpp. Only failed entries are touched; a
// re-armed connection may already be served by another thread.
void handle_refused(server& srv, const psn::registration& r,
                    std::vector<psn::registration>& next) {
  if (r.key == listener_key) {
    std::fprintf(stderr, "resp_server: cannot re-arm the listener: %s\n",
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
  std::vector<psn::registration> changes, followups;
  std::array<psn::completion, max_batch> slots;
  bool stop = false;
  while (!stop) {
    std::error_code ec;
    auto done = srv.port.process(changes, slots, psn::infinite, ec);
    if (ec && ec != psn::errc::timeout) {
      if (ec == psn::errc::abandoned || ec == psn::errc::invalid_handle) return;
      std::fprintf(stderr, "resp_server: process: %s\n", ec.message().c_str());
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;  // nothing was applied (R4.3): retry the same changes
    }
    followups.clear();
    for (const auto& r : changes)
      if (r.result != 0) handle_refused(srv, r, followups);
    changes.swap(followups);

    for (const psn::completion& n : done) {
      if (n.key == stop_key) {
        stop = true;
      } else if (n.key == listener_key) {
        accept_connections(srv, changes);
      } else if (n.events().has(psn::event::remove)) {
        free_connection(srv, static_cast<connection*>(n.key));
      } else {
        changes.push_back(serve(srv, *static_cast<connection*>(n.key), n.events()));
      }
    }
  }
  srv.port.post(0, stop_key);  // pass the stop request on to the next thread
}

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

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // inherited by every worker

  auto srv = std::make_unique<server>();  // the store's shards are large
  std::error_code ec;
  srv->port = psn::port::create({.concurrency = static_cast<unsigned>(threads)}, ec);
  if (ec) {
    std::fprintf(stderr, "resp_server: cannot create the port: %s\n", ec.message().c_str());
    return 1;
  }

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port_number));
  if (::inet_pton(AF_INET, address, &addr.sin_addr) != 1) usage(argv[0]);
  srv->listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  socklen_t len = sizeof addr;
  if (srv->listener < 0 ||
      ::setsockopt(srv->listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::bind(srv->listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(srv->listener, SOMAXCONN) != 0 ||
      ::getsockname(srv->listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("resp_server: listen");
    return 1;
  }
  std::array<psn::registration, 1> listen_reg{psn::registration::enable(
      srv->listener, listener_key, psn::event::in, psn::trigger::oneshot | psn::trigger::level)};
  if (srv->port.apply(listen_reg) || listen_reg[0].result != 0) {
    std::fprintf(stderr, "resp_server: cannot register the listener\n");
    return 1;
  }

  std::vector<std::thread> pool;
  for (unsigned long i = 0; i < threads; ++i) pool.emplace_back(worker, std::ref(*srv));

  std::printf("listening on %u\n", ntohs(addr.sin_port));
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::fprintf(stderr, "resp_server: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  srv->port.post(0, stop_key);
  for (auto& t : pool) t.join();

  srv->port.close();  // drops every registration (R3.9)
  ::close(srv->listener);
  std::size_t still_open = srv->live.size();
  srv->live.clear();
  std::fprintf(stderr,
               "resp_server: %llu connections, %llu commands, %llu errors; %zu connections open "
               "at exit\n",
               srv->accepted.load(), srv->commands.load(), srv->errors.load(), still_open);
  return 0;
}
