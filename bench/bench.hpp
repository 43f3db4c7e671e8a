// bench.hpp - what the workloads of psn-bench and the implementations they
// measure share.
//
// Each implementation family (psn's C interface, psn's C++ interface, raw
// epoll, libevent, libev, libuv, Boost.Asio) lives in one file under impl/
// and exposes one `impl` record. Each workload lives in one file under
// workloads/ and drives every implementation that can express it, in
// interleaved rounds. This header includes no library header, so the names
// of psn.h (HANDLE, CloseHandle, ...) never meet Asio's or libevent's.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace bench {

using clock = std::chrono::steady_clock;

inline double seconds_between(clock::time_point a, clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Prints "psn-bench: <message>" to stderr and exits with status 2. A failed
// check is a bug in an implementation or in the benchmark, never a result.
[[noreturn]] void fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

#define BENCH_CHECK(cond, ...)               \
  do {                                       \
    if (!(cond)) ::bench::fail(__VA_ARGS__); \
  } while (0)

// ---- workloads 1 and 2 (dispatch, one-shot re-arm) and 4 (memory) ----------

// How the ring's read ends are registered.
enum class arm {
  persistent,  // level-triggered, stays armed (workload 1)
  oneshot,     // disarmed by each delivery, re-armed by the application (workload 2)
};

// The classic libevent benchmark: N socket pairs, A of them carrying a byte.
// Reading pair i's byte writes one byte into pair i+1 until `writes_left` is
// spent. Every byte sent is one event; the run ends when all were read.
struct ring {
  std::vector<int> rd;  // pair i's read end: the registered sockets
  std::vector<int> wr;  // pair i's write end (empty for the memory probe)
  std::uint64_t writes_left = 0;
  std::uint64_t target = 0;    // bytes to read before the run ends
  std::uint64_t reads = 0;     // bytes read (= events handled)
  std::uint64_t wakeups = 0;   // readiness callbacks
  std::uint64_t spurious = 0;  // callbacks that found nothing to read
  std::uint64_t send_fails = 0;
  std::uint64_t io_syscalls = 0;   // recv + send made by on_readable / on_read
  std::uint64_t own_syscalls = 0;  // other syscalls counted by raw epoll's own code
  std::uint64_t own_changes = 0;   // epoll_ctl calls among them

  // Pair i was reported readable: read its byte and pass one on. One byte
  // per event, as in the classic benchmark, so chains that meet on a pair do
  // not merge: that pair simply stays readable.
  void on_readable(std::size_t i) noexcept {
    ++wakeups;
    char c;
    ++io_syscalls;
    if (::recv(rd[i], &c, 1, 0) != 1) {
      ++spurious;
      return;
    }
    on_read(i, 1, false);
  }
  // For implementations whose library did the read: n bytes came from pair i.
  void on_read(std::size_t i, std::size_t n, bool callback = true) noexcept {
    if (callback) ++wakeups;
    reads += n;
    std::size_t next = i + 1 == wr.size() ? 0 : i + 1;
    for (std::size_t k = 0; k < n && writes_left > 0; ++k) {
      --writes_left;
      ++io_syscalls;
      if (::send(wr[next], "e", 1, MSG_NOSIGNAL) != 1) ++send_fails;
    }
  }
  bool done() const noexcept { return reads >= target; }
};

// What a loop counts of its own work, cumulative since it was created: the
// fallback when the kernel's tracepoints cannot be read.
struct loop_counts {
  std::uint64_t kernel_entries = 0;  // system calls the library made itself
  std::uint64_t changes = 0;         // registration changes sent to the kernel
};

// An event loop watching every ring.rd socket for IN. The constructor
// creates the loop and registers everything (not timed); run() dispatches
// until ring.done() (timed); the destructor unregisters and frees it all,
// leaving the sockets open for the next implementation.
class ring_loop {
 public:
  virtual ~ring_loop() = default;
  virtual void run(ring& r) = 0;
  // psn's port counters (port_stats); false where the library keeps none.
  virtual bool own_counts(loop_counts&) const { return false; }
};
using ring_factory = std::unique_ptr<ring_loop> (*)(ring& r, arm mode);

// ---- workload 2 with several threads (oneshot4) -----------------------------

// The ring shared by T threads waiting on one port or epoll set, one-shot:
// a delivery disarms its socket, so only the thread that took pair i's event
// reads pair i until it re-arms it. The counters are therefore the only
// shared state, and they are atomic.
struct shared_ring {
  std::vector<int> rd, wr;
  std::atomic<std::int64_t> writes_left{0};
  std::atomic<std::uint64_t> reads{0};
  std::uint64_t target = 0;
  std::atomic<std::uint64_t> spurious{0}, send_fails{0};

  // What one thread counted by hand, added to the totals when it stops.
  struct tally {
    std::uint64_t io_syscalls = 0, own_syscalls = 0, own_changes = 0, wakeups = 0;
  };
  std::atomic<std::uint64_t> io_syscalls{0}, own_syscalls{0}, own_changes{0}, wakeups{0};
  void add(const tally& t) noexcept {
    io_syscalls += t.io_syscalls;
    own_syscalls += t.own_syscalls;
    own_changes += t.own_changes;
    wakeups += t.wakeups;
  }

  // Pair i was reported readable: read its byte, pass one on. Returns true
  // when this read was the last of the run: the caller then stops the others.
  bool on_readable(std::size_t i, tally& t) noexcept {
    ++t.wakeups;
    char c;
    ++t.io_syscalls;
    if (::recv(rd[i], &c, 1, 0) != 1) {
      spurious.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    if (writes_left.fetch_sub(1, std::memory_order_relaxed) > 0) {
      ++t.io_syscalls;
      std::size_t next = i + 1 == wr.size() ? 0 : i + 1;
      if (::send(wr[next], "e", 1, MSG_NOSIGNAL) != 1)
        send_fails.fetch_add(1, std::memory_order_relaxed);
    }
    return reads.fetch_add(1, std::memory_order_acq_rel) + 1 == target;
  }
  bool done() const noexcept { return reads.load(std::memory_order_acquire) >= target; }
};

// T threads on one port / epoll set, every socket one-shot. The constructor
// registers (not timed); run() starts the threads, which dispatch until the
// last byte is read and are then stopped by a packet (psn) or an eventfd
// (raw epoll), and joins them (timed).
class shared_ring_loop {
 public:
  virtual ~shared_ring_loop() = default;
  virtual void run(shared_ring& r) = 0;
  virtual bool own_counts(loop_counts&) const { return false; }

 protected:
  // What every run() does: `serve` on `threads` threads, joined.
  template <class F>
  static void on_threads(int threads, F serve) {
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) ts.emplace_back(serve);
    for (auto& t : ts) t.join();
  }
};
using shared_ring_factory = std::unique_ptr<shared_ring_loop> (*)(shared_ring& r, int threads);
// Events each thread takes per wait in oneshot4, for every implementation:
// small enough that 50 active pairs spread over the threads.
constexpr unsigned kSharedBatch = 16;

// psn's port_stats of a port given by its handle value (the C HANDLE or
// psn::port::native_handle()).
loop_counts psn_port_counts(std::uintptr_t handle);

// ---- workload 3: user packets -------------------------------------------------

struct packet_bench {
  // Post then dequeue one packet, n times, on one thread: ns per packet.
  double (*one_thread)(std::uint64_t n);
  // One thread posts n packets, another dequeues them (in batches where the
  // API has them): ns per packet.
  double (*two_threads)(std::uint64_t n);
  // Two threads bounce one packet n times: median round trip / 2, in ns.
  double (*ping_pong)(std::uint64_t n);
};

// ---- workload 5: TCP echo ------------------------------------------------------

// Serves echo on `listen_fd` (already listening, non-blocking, owned by the
// server from now on) until `connections` connections have come and gone.
using echo_server = void (*)(int listen_fd, int connections);

// A readiness-driven echo connection: raw epoll, psn and libev share it.
struct echo_conn {
  enum class want : std::uint8_t { in, out, close };
  int fd = -1;
  std::size_t off = 0, len = 0;  // unsent echo in buf[off, len)
  std::uint64_t echoed = 0;      // bytes sent back so far
  want watching = want::in;
  char buf[64 * 1024];

  // The socket is ready for what `watching` says: read and echo, or finish
  // an echo the peer was not ready for. Returns what to watch next.
  want step() noexcept {
    if (off < len) {
      ssize_t w = ::send(fd, buf + off, len - off, MSG_NOSIGNAL);
      if (w < 0) return errno == EAGAIN ? want::out : want::close;
      off += static_cast<std::size_t>(w);
      echoed += static_cast<std::uint64_t>(w);
      if (off < len) return want::out;
      off = len = 0;
      return want::in;
    }
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) return want::close;
    if (n < 0) return errno == EAGAIN ? want::in : want::close;
    ssize_t w = ::send(fd, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL);
    if (w < 0) {
      if (errno != EAGAIN) return want::close;
      w = 0;
    }
    echoed += static_cast<std::uint64_t>(w);
    if (w < n) {
      off = static_cast<std::size_t>(w);
      len = static_cast<std::size_t>(n);
      return want::out;
    }
    return want::in;
  }
};

// Accepts every pending connection on a non-blocking listening socket;
// returns the new non-blocking descriptors through `out` (cleared first).
void accept_all(int listen_fd, std::vector<int>& out);

// ---- workload 6: overlapped echo (oecho) ---------------------------------------

// The server side of N connected TCP connections, each to be echoed for
// exactly `bytes_per_conn` bytes; the clients, identical for every
// implementation, are in workloads/oecho.cpp. The factory takes the server
// ends (non-blocking) and does everything that is not serving: the port or
// epoll set, associations, registrations (not timed). on_thread() runs
// first on the thread that will serve (a ring that must be created by its
// only submitter), then run() serves until every connection has echoed its
// bytes, leaving no operation under way (timed; its system calls counted).
// The destructor closes the descriptors and frees everything.
class oecho_server {
 public:
  virtual ~oecho_server() = default;
  virtual void on_thread() {}
  virtual void run() = 0;
  virtual std::uint64_t echoed() const = 0;  // bytes sent back, over all connections
};
using oecho_factory = std::unique_ptr<oecho_server> (*)(const std::vector<int>& fds,
                                                        std::uint64_t bytes_per_conn);
// The server's buffer per connection, for every implementation.
constexpr std::size_t kOechoBuffer = 64 * 1024;

// ---- the implementations ----------------------------------------------------

struct impl {
  const char* name;
  ring_factory ring = nullptr;            // workloads 1, 2, 4
  const char* ring_note = nullptr;        // how it expresses them, when notable
  const packet_bench* packets = nullptr;  // workload 3
  const char* no_packets = nullptr;       // why not
  echo_server echo = nullptr;             // workload 5
  const char* echo_note = nullptr;
  shared_ring_factory shared_ring = nullptr;  // oneshot4 (workload 2, several threads)
  oecho_factory oecho = nullptr;              // workload 6
  const char* oecho_note = nullptr;
};

// psn runs once per backend. Each psn implementation file keeps the backend
// its next port is created on in a variable; with_backend<B, &var, fn> is fn
// with that variable set to B first, for the function pointers of an impl.
enum class psn_backend { epoll, io_uring };
template <psn_backend B, psn_backend* Slot, auto Fn>
auto with_backend(auto... args) {
  *Slot = B;
  return Fn(args...);
}
// Whether this machine gives psn its io_uring backend (else those rows are left out).
bool psn_io_uring_available();

extern const impl psn_c_impl;
extern const impl psn_cxx_impl;
extern const impl psn_c_uring_impl;
extern const impl psn_cxx_uring_impl;
extern const impl psn_ovl_impl;  // overlapped WSARecv/WSASend (workload 6 only)
extern const impl psn_ovl_uring_impl;
extern const impl epoll_impl;
#ifdef PSN_BENCH_HAVE_LIBURING
extern const impl liburing_impl;  // raw liburing (workload 6 only)
// Whether this kernel lets the process create an io_uring.
bool liburing_available();
#endif
#ifdef PSN_BENCH_HAVE_LIBEVENT
extern const impl libevent_impl;
#endif
#ifdef PSN_BENCH_HAVE_LIBEV
extern const impl libev_impl;
#endif
#ifdef PSN_BENCH_HAVE_LIBUV
extern const impl libuv_impl;
#endif
#ifdef PSN_BENCH_HAVE_ASIO
extern const impl asio_impl;
#endif

// The implementations built into this binary, raw epoll first.
std::vector<const impl*> all_impls();
// Peers missing from this build, e.g. "libev (ev.h not found)".
std::vector<std::string> missing_peers();

}  // namespace bench
