// psn_fuzz: a coverage-guided fuzzer for the C interface (<psn/psn.h>).
//
// An input is a little program: each step picks an operation (create or
// close a port, ProcessSocketNotifications with an arbitrary registration
// array, post, dequeue with time-out 0 or 1 ms, closesocket, plain close, writes and
// shutdowns that make sockets ready, ...) and its arguments from the input
// bytes. The harness keeps a model of what SPEC.md allows and checks every
// result against it as it goes; a violation traps (__builtin_trap), which
// libFuzzer reports as a crash.
//
// What is checked (rule numbers are SPEC.md's):
//  - every return value and last error is one the rules allow for the input
//    (R3.1, R3.2, R3.5, R3.6, R3.9, R4.2, R4.4, R5.1-R5.4, decisions.md);
//  - call-level violations return WSAEINVAL and touch nothing: no
//    registrationResult, no entry, no count (R4.2); a failed call changes no
//    registration (R4.3) -- later results would disagree with the model;
//  - every registrationResult is the one the model computes, entry by entry
//    in array order (R4.1, R5.1-R5.5);
//  - no packet has an empty mask or unknown bits; IN/OUT/HANGUP only if the
//    registration's filter ever had them (R5.10);
//  - each ENABLE that makes a new registration gets a fresh key, so keys
//    identify registrations: no packet for a key after its REMOVE packet, a
//    REMOVE packet exactly once (R5.5), nothing for a key whose socket was
//    closesocket()ed (R5.11, psn takes the queued packet back) or whose
//    number psn has since found reused (R5.12), nothing after a one-shot
//    fired (R5.9) or beyond the one already-queued packet after DISABLE
//    (R5.4) or plain close (R5.12), nothing after the port closed (R3.9);
//  - posted packets come out exactly as posted, in order (R3.3, R3.4), and a
//    REMOVE's packet comes out before any packet posted after the REMOVE;
//  - liveness with time-out 0: a dequeue must not time out while a posted
//    packet or a REMOVE packet is queued (R3.3, R5.5); a
//    ProcessSocketNotifications call whose own batch ENABLEd a level-
//    triggered registration with OUT on a UDP socket (always writable) must
//    not time out either (R4.5);
//  - at the end of an input every enabled level-triggered registration with
//    OUT on a UDP socket is notified within a few dequeues (R5.7);
//  - overlapped operations (WSARecv, WSASend on pairs each port holds of its
//    own, with CancelIoEx, closesocket and the peer's writes, reads and
//    shutdowns between them): each completes exactly once, on its port,
//    with its pair's key, no longer pending, never longer than its buffers;
//    none after its port closed (R9.3, R9.6, R9.8);
//  - at the end of an input every pair closes and every operation still
//    under way completes; every port drains its posted and REMOVE packets,
//    closes (a second close fails), and no descriptor is left open.
//
// Build with libFuzzer:  clang++-14 -fsanitize=fuzzer,address,undefined
// Replay (any compiler): link with replay_main.cpp. PSN_FUZZ_TRACE=1 prints
// each step to stderr.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include "psn/psn.h"

// The overlapped calls, with their psn-win32 signatures (this harness uses
// only <psn/psn.h>).
struct fuzz_wsabuf {  // WSABUF
  ULONG len;
  char* buf;
};
extern "C" {
int WSARecv(SOCKET s, fuzz_wsabuf* bufs, DWORD n, DWORD* bytes, DWORD* flags, OVERLAPPED* ov,
            void* routine);
int WSASend(SOCKET s, fuzz_wsabuf* bufs, DWORD n, DWORD* bytes, DWORD flags, OVERLAPPED* ov,
            void* routine);
BOOL CancelIoEx(HANDLE h, OVERLAPPED* ov);
}

namespace {

bool g_trace = false;

#define TRACE(...)                       \
  do {                                   \
    if (g_trace) {                       \
      std::fprintf(stderr, __VA_ARGS__); \
      std::fputc('\n', stderr);          \
    }                                    \
  } while (0)

[[noreturn]] void violated(int line, const char* what) {
  std::fprintf(stderr, "psn_fuzz: invariant violated at psn_fuzz.cpp:%d: %s\n", line, what);
  std::fflush(stderr);
  __builtin_trap();
}

#define CHECK(c)                      \
  do {                                \
    if (!(c)) violated(__LINE__, #c); \
  } while (0)

#define CHECK_EQ(a, b)                                                                             \
  do {                                                                                             \
    const unsigned long long va_ = static_cast<unsigned long long>(a);                             \
    const unsigned long long vb_ = static_cast<unsigned long long>(b);                             \
    if (va_ != vb_) {                                                                              \
      std::fprintf(stderr, "psn_fuzz: %s = %llu (0x%llx), %s = %llu (0x%llx)\n", #a, va_, va_, #b, \
                   vb_, vb_);                                                                      \
      violated(__LINE__, #a " == " #b);                                                            \
    }                                                                                              \
  } while (0)

// The harness itself could not set up what it needed (not a psn finding).
[[noreturn]] void harness_failed(const char* what) {
  std::fprintf(stderr, "psn_fuzz: harness: %s: %s\n", what, std::strerror(errno));
  std::fflush(stderr);
  std::abort();
}

// ---- input -----------------------------------------------------------------

class reader {
 public:
  reader(const std::uint8_t* d, std::size_t n) : p_(d), n_(n) {}
  bool empty() const { return n_ == 0; }
  std::uint8_t u8() {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  std::uint16_t u16() { return static_cast<std::uint16_t>(u8() | (u8() << 8)); }
  std::uint32_t u32() { return u16() | (static_cast<std::uint32_t>(u16()) << 16); }
  std::uint64_t u64() { return u32() | (static_cast<std::uint64_t>(u32()) << 32); }

 private:
  const std::uint8_t* p_;
  std::size_t n_;
};

// ---- the model ---------------------------------------------------------------

constexpr int kSlots = 10;      // descriptor pool
constexpr int kPortSlots = 4;   // ports alive at once
constexpr int kMaxSteps = 300;  // steps per input
constexpr int kMaxClients = 4;  // hidden connections to a listener
constexpr int kUdpWriteCap = 40;
constexpr ULONG_PTR kUserKeyBit = ULONG_PTR{1} << 63;
constexpr DWORD kSentinel = 0xA5A5A5A5u;

enum class kind : std::uint8_t {
  tcp,            // connected TCP socket; its peer is hidden
  udp,            // connected UDP socket; its peer is hidden
  unix_stream,    // socketpair(AF_UNIX, SOCK_STREAM); peer hidden
  listener,       // listening TCP socket; clients hidden
  tcp_fresh,      // socket() and nothing else
  tcp_refused,    // non-blocking connect to a closed port
  pipe,           // read end of a pipe (not a socket); write end hidden
  closed_number,  // a number that was free when chosen (may be reused later)
  raw_number,     // -1, INT_MAX, huge, small numbers (stdio, psn's own descriptors)
  count
};

const char* kind_name(kind k) {
  static const char* names[] = {"tcp",         "udp",  "unix",          "listener",   "tcp_fresh",
                                "tcp_refused", "pipe", "closed_number", "raw_number", "?"};
  return names[static_cast<int>(k)];
}

// A descriptor the harness opened.
struct fdrec {
  int fd = -1;
  std::uint64_t uid = 0;  // identity of the socket/pipe behind the number
  kind k = kind::tcp;
  bool socket = true;
  bool udp = false;
  bool stream = false;  // tcp or unix stream (shutdown, linger)
  bool tcp = false;
  int peer = -1;      // the other end, if the harness holds it
  int listener = -1;  // for a client: the listener it connected to
  std::vector<int> clients;
  int writes = 0;             // datagrams sent (udp)
  std::uint64_t reg_key = 0;  // its live registration (enabled or disabled), 0 = none
};

struct keyrec {
  enum class st : std::uint8_t { enabled, disabled, removing, closed_plain, dead };
  std::uint64_t port_uid = 0;
  int fd = -1;
  std::uint64_t sock_uid = 0;
  st s = st::enabled;
  std::uint16_t filter = 0;
  std::uint16_t filter_union = 0;
  bool level = false;
  bool oneshot = false;
  int allowance = 0;  // disabled / closed_plain: packets that may still arrive
};

struct posted {
  ULONG_PTR key;
  DWORD bytes;
  LPOVERLAPPED ov;
  std::uint64_t seq;
};

struct portrec {
  std::uint64_t uid = 0;
  HANDLE h = nullptr;
  bool open = false;
  std::map<int, std::uint64_t> by_fd;               // psn's table: number -> key (live or stale)
  std::deque<posted> posts;                         // posted, not yet taken (R3.3)
  std::map<std::uint64_t, std::uint64_t> removing;  // key -> seq of its REMOVE (R5.5)
};

struct slot {
  kind k = kind::raw_number;
  int fd = -1;
};

std::uint64_t g_uid = 0;
std::uint64_t g_key = 0;   // socket keys: 1, 2, 3, ... (top bit clear)
std::uint64_t g_post = 0;  // posted keys: top bit set
OVERLAPPED g_ovs[8];

// ---- overlapped operations (SPEC 9) ----
// Each port may hold a few AF_UNIX stream pairs of its own for overlapped
// I/O, outside the descriptor pool (no registration of theirs is modelled).
// Every operation started completes exactly once, on its port, with its
// pair's key (R9.3, R9.6), unless the port closes first (R9.8).
constexpr ULONG_PTR kIoKeyBit = ULONG_PTR{1} << 62;
constexpr int kIoPairs = 4;
constexpr int kIoOps = 24;
struct iopair {
  int a = -1, b = -1;  // a is associated; b is the peer the harness drives
  std::uint64_t port_uid = 0;
  ULONG_PTR key = 0;
};
struct ioop {
  OVERLAPPED ov;
  char buf[96];
  bool outstanding = false;
  std::uint64_t port_uid = 0;
  ULONG_PTR key = 0;
  ULONG len = 0;
};
// Static: the kernel may finish a request after its input has ended.
ioop g_io[kIoOps];

struct world {
  std::map<int, fdrec> fds;
  slot pool[kSlots];
  std::vector<portrec> ports;  // every port created by this input
  int port_slot[kPortSlots] = {-1, -1, -1, -1};
  std::vector<HANDLE> closed_handles;
  std::unordered_map<std::uint64_t, keyrec> keys;
  std::uint64_t seq = 0;
  iopair io[kIoPairs];
};

// ---- descriptors -------------------------------------------------------------

void set_nonblocking(int fd) {
  int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) harness_failed("fcntl");
}

fdrec& add_rec(world& w, int fd, kind k) {
  fdrec r;
  r.fd = fd;
  r.uid = ++g_uid;
  r.k = k;
  r.socket = k != kind::pipe;
  r.udp = k == kind::udp;
  r.tcp = k == kind::tcp || k == kind::listener || k == kind::tcp_fresh || k == kind::tcp_refused;
  r.stream = k == kind::tcp || k == kind::unix_stream;
  if (w.fds.count(fd)) harness_failed("descriptor recorded twice");
  return w.fds[fd] = r;
}

fdrec* rec(world& w, int fd) {
  auto it = w.fds.find(fd);
  return it == w.fds.end() ? nullptr : &it->second;
}

int tcp_listener(sockaddr_in* a) {
  int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (l < 0) harness_failed("socket");
  int one = 1;
  ::setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  *a = sockaddr_in{};
  a->sin_family = AF_INET;
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof *a;
  if (::bind(l, reinterpret_cast<sockaddr*>(a), sizeof *a) != 0 || ::listen(l, 16) != 0 ||
      ::getsockname(l, reinterpret_cast<sockaddr*>(a), &len) != 0)
    harness_failed("listen");
  return l;
}

void abortive_close(int fd) {
  linger lg{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

// Opens a descriptor of kind k; returns the number to put in the pool.
int open_kind(world& w, kind k, std::uint8_t extra) {
  switch (k) {
    case kind::tcp: {
      sockaddr_in a;
      int l = tcp_listener(&a);
      // Non-blocking connect, blocking accept: libFuzzer's timer signals
      // (EINTR) must not break the set-up.
      int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (c < 0) harness_failed("socket");
      if (::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS &&
          errno != EINTR)
        harness_failed("connect");
      int s;
      do s = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      while (s < 0 && errno == EINTR);
      if (s < 0) harness_failed("accept");
      ::close(l);
      pollfd pf{c, POLLOUT, 0};
      while (::poll(&pf, 1, 5000) < 0 && errno == EINTR) {
      }
      add_rec(w, c, kind::tcp).peer = s;
      add_rec(w, s, kind::tcp).peer = c;
      return c;
    }
    case kind::udp: {
      int a = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      int b = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (a < 0 || b < 0) harness_failed("socket");
      sockaddr_in sa{}, sb{};
      sa.sin_family = sb.sin_family = AF_INET;
      sa.sin_addr.s_addr = sb.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      socklen_t len = sizeof sa;
      if (::bind(a, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
          ::bind(b, reinterpret_cast<sockaddr*>(&sb), sizeof sb) != 0 ||
          ::getsockname(a, reinterpret_cast<sockaddr*>(&sa), &len) != 0 ||
          ::getsockname(b, reinterpret_cast<sockaddr*>(&sb), &len) != 0 ||
          ::connect(a, reinterpret_cast<sockaddr*>(&sb), sizeof sb) != 0 ||
          ::connect(b, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
        harness_failed("udp");
      add_rec(w, a, kind::udp).peer = b;
      add_rec(w, b, kind::udp).peer = a;
      return a;
    }
    case kind::unix_stream: {
      int sv[2];
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0)
        harness_failed("socketpair");
      add_rec(w, sv[0], kind::unix_stream).peer = sv[1];
      add_rec(w, sv[1], kind::unix_stream).peer = sv[0];
      return sv[0];
    }
    case kind::listener: {
      sockaddr_in a;
      int l = tcp_listener(&a);
      set_nonblocking(l);
      add_rec(w, l, kind::listener);
      return l;
    }
    case kind::tcp_fresh: {
      int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (s < 0) harness_failed("socket");
      add_rec(w, s, kind::tcp_fresh);
      return s;
    }
    case kind::tcp_refused: {
      sockaddr_in a;
      int l = tcp_listener(&a);
      ::close(l);
      int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (s < 0) harness_failed("socket");
      ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a);  // refused, now or soon
      add_rec(w, s, kind::tcp_refused);
      return s;
    }
    case kind::pipe: {
      int p[2];
      if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) harness_failed("pipe");
      add_rec(w, p[0], kind::pipe).peer = p[1];
      add_rec(w, p[1], kind::pipe).peer = p[0];
      return p[0];
    }
    case kind::closed_number: {
      int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (s < 0) harness_failed("socket");
      ::close(s);
      return s;
    }
    case kind::raw_number:
    case kind::count:
      break;
  }
  static const int raw[] = {-1, -2, INT_MIN, INT_MAX, 1 << 20, 65535, 0, 1, 2, 1 << 30};
  if (extra < 160) return raw[extra % 10];
  return extra % 64;  // stdio, psn's epoll and eventfd descriptors, ours
}

// Is fd an open socket? If so it must be one of ours.
fdrec* sock_at(world& w, int fd) {
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return nullptr;
  fdrec* r = rec(w, fd);
  if (!r) harness_failed("a socket the harness does not know");
  return r;
}

// Would EPOLL_CTL_MOD/DEL on fd fail with ENOENT or EBADF (so psn notices a
// stale registration)? Closed numbers, sockets, pipes and anonymous inodes
// (epoll, eventfd) do; a regular file or /dev/null gives EPERM instead.
bool noticeable(int fd) {
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) != 0) return true;
  return S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode) || (st.st_mode & S_IFMT) == 0;
}

bool fd_open(int fd) {
  return fd >= 0 && ::fcntl(fd, F_GETFD) >= 0;
}

// Model and reality of closing one of our descriptors.
void close_fd(world& w, int fd, bool via_closesocket, bool abort_conn) {
  fdrec* r = rec(w, fd);
  CHECK(r != nullptr);
  TRACE("  close fd %d (%s) %s%s", fd, kind_name(r->k), via_closesocket ? "closesocket" : "close",
        abort_conn ? " rst" : "");
  if (r->reg_key) {
    keyrec& k = w.keys.at(r->reg_key);
    CHECK(k.s == keyrec::st::enabled || k.s == keyrec::st::disabled);
    if (via_closesocket) {
      // R5.11: dropped without a packet; psn takes a queued packet back.
      k.s = keyrec::st::dead;
      for (portrec& p : w.ports)
        if (p.uid == k.port_uid) p.by_fd.erase(fd);
    } else {
      // R5.12: an already queued packet may still come; nothing new.
      if (k.s == keyrec::st::enabled) k.allowance = 1;
      k.s = keyrec::st::closed_plain;
    }
    r->reg_key = 0;
  }
  if (r->peer >= 0) {
    if (fdrec* p = rec(w, r->peer)) p->peer = -1;
  }
  if (r->listener >= 0) {
    if (fdrec* l = rec(w, r->listener)) {
      auto& c = l->clients;
      for (std::size_t i = 0; i < c.size(); ++i)
        if (c[i] == fd) {
          c.erase(c.begin() + static_cast<long>(i));
          break;
        }
    }
  }
  for (int c : r->clients)
    if (fdrec* cr = rec(w, c)) cr->listener = -1;
  if (abort_conn && r->tcp) abortive_close(fd);
  const bool is_socket = r->socket;
  w.fds.erase(fd);
  if (via_closesocket) {
    CHECK(is_socket);
    SetLastError(0);
    int rc = closesocket(fd);
    CHECK_EQ(rc, 0);
  } else {
    ::close(fd);
  }
  CHECK(!fd_open(fd));
  // Pool entries that named this descriptor now hold a dangling number.
  for (slot& s : w.pool)
    if (s.fd == fd && s.k != kind::closed_number && s.k != kind::raw_number)
      s.k = kind::closed_number;
}

void fill_slot(world& w, int i, kind k, std::uint8_t extra) {
  w.pool[i].fd = open_kind(w, k, extra);
  w.pool[i].k = k;
  TRACE("  slot %d := %s fd %d", i, kind_name(k), w.pool[i].fd);
}

// ---- ports -------------------------------------------------------------------

portrec* live_port(world& w, HANDLE h) {
  for (portrec& p : w.ports)
    if (p.open && p.h == h) return &p;
  return nullptr;
}

HANDLE pick_handle(world& w, reader& in) {
  std::uint8_t s = in.u8();
  HANDLE base = nullptr;
  for (int i = 0; i < kPortSlots && !base; ++i)
    if (w.port_slot[(s + i) % kPortSlots] >= 0)
      base = w.ports[static_cast<std::size_t>(w.port_slot[(s + i) % kPortSlots])].h;
  switch (s % 10) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
    case 5: {
      int pi = w.port_slot[s % kPortSlots];
      return pi >= 0 ? w.ports[static_cast<std::size_t>(pi)].h : base;
    }
    case 6:
      if (!w.closed_handles.empty()) return w.closed_handles[(s / 10) % w.closed_handles.size()];
      return base;
    case 7:
      return (s / 10) & 1 ? nullptr : INVALID_HANDLE_VALUE;
    default: {
      std::uint8_t v = in.u8();
      auto b = reinterpret_cast<std::uintptr_t>(base);
      switch (v % 7) {
        case 0:
          return reinterpret_cast<HANDLE>(static_cast<std::uintptr_t>(in.u64()));
        case 1:
          return reinterpret_cast<HANDLE>(b + (std::uintptr_t{1} << 32));  // next generation
        case 2:
          return reinterpret_cast<HANDLE>(b - (std::uintptr_t{1} << 32));  // previous one
        case 3:
          return reinterpret_cast<HANDLE>(b ^ 0x10);  // the neighbouring slot
        case 4:
          return reinterpret_cast<HANDLE>(b ^ (std::uintptr_t{1} << (v % 4)));  // tag bits
        case 5:
          return reinterpret_cast<HANDLE>(static_cast<std::uintptr_t>(v / 7));  // a descriptor
        default:
          return &w;  // a pointer
      }
    }
  }
}

void model_close_port(world& w, portrec& p) {
  for (auto& [fd, key] : p.by_fd) {
    keyrec& k = w.keys.at(key);
    if (k.s == keyrec::st::enabled || k.s == keyrec::st::disabled) {
      fdrec* r = rec(w, fd);
      CHECK(r && r->uid == k.sock_uid && r->reg_key == key);
      r->reg_key = 0;  // R3.9: may join another port now
    }
    k.s = keyrec::st::dead;
  }
  for (auto& [key, seq] : p.removing) w.keys.at(key).s = keyrec::st::dead;
  p.by_fd.clear();
  p.removing.clear();
  p.posts.clear();  // R3.9: discarded
  p.open = false;
  w.closed_handles.push_back(p.h);
  // R9.8: operations under way end without a completion.
  for (ioop& op : g_io) {
    if (op.outstanding && op.port_uid == p.uid) {
      CHECK(op.ov.Internal != 0x103);
      op.outstanding = false;
    }
  }
  for (iopair& io : w.io) {
    if (io.a >= 0 && io.port_uid == p.uid) {
      CHECK_EQ(closesocket(static_cast<SOCKET>(io.a)), 0);
      ::close(io.b);
      io = iopair{};
    }
  }
}

// A dequeue with time-out 0 must take something when this holds: a posted
// packet or a REMOVE packet is queued (R3.3, R5.5).
bool must_deliver(world& w, portrec& p) {
  (void)w;
  return !p.posts.empty() || !p.removing.empty();
}

// R4.5: a level-triggered ENABLE in this very call on a socket whose
// condition holds is visible to the call's own dequeue, even with time-out 0.
// A UDP socket is always writable (loopback frees its send buffer at once;
// the harness sends at most kUdpWriteCap small datagrams from it), so a level
// ENABLE with OUT on one is such an ENABLE.
bool must_deliver_r45(world& w, const std::vector<std::uint64_t>& enabled_here) {
  for (std::uint64_t key : enabled_here) {
    const keyrec& k = w.keys.at(key);
    if (k.s != keyrec::st::enabled || !k.level || !(k.filter & SOCK_NOTIFY_REGISTER_EVENT_OUT))
      continue;
    const fdrec* r = rec(w, k.fd);
    if (r && r->uid == k.sock_uid && r->udp && r->writes < kUdpWriteCap) return true;
  }
  return false;
}

// Checks one packet taken from port p against the model, and updates it.
bool is_io_op(const OVERLAPPED* ov) {
  const auto* base = reinterpret_cast<const char*>(&g_io[0]);
  const auto* at = reinterpret_cast<const char*>(ov);
  return at >= base && at < base + sizeof g_io;
}

void deliver(world& w, portrec& p, const OVERLAPPED_ENTRY& e, bool have_internal) {
  TRACE("  packet key=%#llx bytes=%#x ov=%p", static_cast<unsigned long long>(e.lpCompletionKey),
        e.dwNumberOfBytesTransferred, static_cast<void*>(e.lpOverlapped));
  if (is_io_op(e.lpOverlapped)) {  // an overlapped operation's completion (R9.3)
    ioop& op = g_io[(reinterpret_cast<const char*>(e.lpOverlapped) -
                     reinterpret_cast<const char*>(&g_io[0])) /
                    sizeof(ioop)];
    CHECK(e.lpOverlapped == &op.ov);
    CHECK(op.outstanding);  // exactly once
    CHECK_EQ(op.port_uid, p.uid);
    CHECK_EQ(e.lpCompletionKey, op.key);
    CHECK(e.dwNumberOfBytesTransferred <= op.len);
    CHECK(e.lpOverlapped->Internal != 0x103);  // no longer pending
    if (have_internal) CHECK_EQ(e.Internal, e.lpOverlapped->Internal);
    op.outstanding = false;
    return;
  }
  if (e.lpCompletionKey & kUserKeyBit) {
    CHECK(!p.posts.empty());  // a posted packet of this port, not yet taken
    const posted& f = p.posts.front();
    CHECK_EQ(e.lpCompletionKey, f.key);  // R3.3: FIFO, R3.4: exact
    CHECK_EQ(e.dwNumberOfBytesTransferred, f.bytes);
    CHECK(e.lpOverlapped == f.ov);
    // A REMOVE's packet was queued (or merged into an earlier one) before
    // anything posted after it.
    for (auto& [key, seq] : p.removing) CHECK(seq > f.seq);
    p.posts.pop_front();
    return;
  }
  // A socket notification (R3.5, decisions 5).
  CHECK(e.lpOverlapped == nullptr);
  if (have_internal) CHECK_EQ(e.Internal, 0);
  const DWORD mask = e.dwNumberOfBytesTransferred;
  CHECK(mask != 0);  // R5.10
  CHECK_EQ(mask & ~DWORD{SOCK_NOTIFY_EVENTS_ALL}, 0);
  auto it = w.keys.find(e.lpCompletionKey);
  CHECK(it != w.keys.end());  // a key this harness registered
  keyrec& k = it->second;
  CHECK_EQ(k.port_uid, p.uid);                      // on the port it was registered on
  CHECK_EQ(mask & 7u & ~DWORD{k.filter_union}, 0);  // R5.10: only filtered conditions
  switch (k.s) {
    case keyrec::st::enabled:
      CHECK_EQ(mask & SOCK_NOTIFY_EVENT_REMOVE, 0);
      if (k.oneshot) {  // R5.9
        k.s = keyrec::st::disabled;
        k.allowance = 0;
      }
      break;
    case keyrec::st::disabled:      // R5.4: only the packet queued before DISABLE
    case keyrec::st::closed_plain:  // R5.12: only the packet queued before close()
      CHECK_EQ(mask & SOCK_NOTIFY_EVENT_REMOVE, 0);
      CHECK(k.allowance > 0);
      --k.allowance;
      break;
    case keyrec::st::removing:  // R5.5: the last packet, with REMOVE
      CHECK(mask & SOCK_NOTIFY_EVENT_REMOVE);
      k.s = keyrec::st::dead;
      p.removing.erase(it->first);
      break;
    case keyrec::st::dead:
      violated(__LINE__, "a packet for a registration that has ended");
  }
}

// ---- steps -------------------------------------------------------------------

void close_port_checked(world& w, portrec& p) {
  SetLastError(0);
  BOOL r = CloseHandle(p.h);
  CHECK_EQ(r, TRUE);
  model_close_port(w, p);
}

void step_create(world& w, reader& in) {
  std::uint8_t b = in.u8();
  int ps = b % kPortSlots;
  HANDLE file = INVALID_HANDLE_VALUE, existing = nullptr;
  if ((b >> 2) % 6 == 5) {
    // Calls that must fail: a port given with no file, or a handle (never a
    // socket) as the file (R3.1). Associating sockets (R9.1) is left out:
    // it would change which port their registrations may use.
    if (in.u8() % 2 == 0) {
      existing = pick_handle(w, in);
    } else {
      file = pick_handle(w, in);
      existing = pick_handle(w, in);
      const auto v = reinterpret_cast<std::uintptr_t>(file);
      if (v <= static_cast<std::uintptr_t>(INT_MAX)) file = nullptr;  // a descriptor: no
    }
  }
  const ULONG_PTR key = in.u64();
  const DWORD n = in.u8() % 5;
  const bool normal = file == INVALID_HANDLE_VALUE && existing == nullptr;
  if (normal && w.port_slot[ps] >= 0 && w.ports[static_cast<std::size_t>(w.port_slot[ps])].open)
    close_port_checked(w, w.ports[static_cast<std::size_t>(w.port_slot[ps])]);
  SetLastError(0);
  HANDLE h = CreateIoCompletionPort(file, existing, key, n);
  TRACE("create(%p, %p, n=%u) -> %p", file, existing, n, h);
  if (!normal) {
    CHECK(h == nullptr);
    const DWORD e = GetLastError();
    CHECK(e == ERROR_NOT_SUPPORTED || e == ERROR_INVALID_HANDLE || e == ERROR_INVALID_PARAMETER);
    return;
  }
  if (h == nullptr) std::fprintf(stderr, "CreateIoCompletionPort: error %u\n", GetLastError());
  CHECK(h != nullptr && h != INVALID_HANDLE_VALUE);
  CHECK(live_port(w, h) == nullptr);
  for (HANDLE c : w.closed_handles) CHECK(c != h);  // R3.2: not reused soon
  portrec p;
  p.uid = ++g_uid;
  p.h = h;
  p.open = true;
  w.ports.push_back(std::move(p));
  w.port_slot[ps] = static_cast<int>(w.ports.size() - 1);
}

void step_close_port(world& w, reader& in) {
  HANDLE h = pick_handle(w, in);
  portrec* p = live_port(w, h);
  SetLastError(0);
  BOOL r = CloseHandle(h);
  TRACE("CloseHandle(%p) -> %d", h, r);
  if (p) {
    CHECK_EQ(r, TRUE);
    model_close_port(w, *p);
  } else {
    CHECK_EQ(r, FALSE);  // R3.2, R3.9
    CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
  }
}

void step_post(world& w, reader& in) {
  HANDLE h = pick_handle(w, in);
  const DWORD bytes = in.u32();
  const std::uint8_t o = in.u8();
  LPOVERLAPPED ov = o < 64 ? nullptr : &g_ovs[o % 8];
  const ULONG_PTR key = kUserKeyBit | ++g_post;
  portrec* p = live_port(w, h);
  SetLastError(0);
  BOOL r = PostQueuedCompletionStatus(h, bytes, key, ov);
  TRACE("post(%p, %#x, %#llx) -> %d", h, bytes, static_cast<unsigned long long>(key), r);
  if (p) {
    CHECK_EQ(r, TRUE);
    p->posts.push_back({key, bytes, ov, ++w.seq});
  } else {
    CHECK_EQ(r, FALSE);
    CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
  }
}

void step_gqcs(world& w, reader& in) {
  HANDLE h = pick_handle(w, in);
  portrec* p = live_port(w, h);
  const bool must = p && must_deliver(w, *p);
  DWORD bytes = 0xAAAAAAAAu;
  ULONG_PTR key = 0xBBBB;
  LPOVERLAPPED ov = &g_ovs[0];
  SetLastError(0);
  BOOL r = GetQueuedCompletionStatus(h, &bytes, &key, &ov, 0);
  TRACE("GQCS(%p) -> %d", h, r);
  if (!p) {
    CHECK_EQ(r, FALSE);
    CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    return;
  }
  if (r) {
    OVERLAPPED_ENTRY e{};
    e.lpCompletionKey = key;
    e.lpOverlapped = ov;
    e.dwNumberOfBytesTransferred = bytes;
    deliver(w, *p, e, false);
  } else if (ov != nullptr) {
    // R9.3: a failed operation's completion comes with FALSE and its error.
    CHECK(is_io_op(ov));
    CHECK(GetLastError() != ERROR_SUCCESS && GetLastError() != WAIT_TIMEOUT);
    OVERLAPPED_ENTRY e{};
    e.lpCompletionKey = key;
    e.lpOverlapped = ov;
    e.dwNumberOfBytesTransferred = bytes;
    deliver(w, *p, e, false);
  } else {
    CHECK_EQ(GetLastError(), WAIT_TIMEOUT);  // R3.5
    CHECK(!must);
  }
}

// Overlapped I/O on the port's own pairs (SPEC 9).
void step_io(world& w, reader& in) {
  const std::uint8_t b = in.u8();
  iopair& io = w.io[b % kIoPairs];
  const int what = (b >> 2) % 8;
  if (io.a < 0) {  // a new pair, associated with some open port (R9.1)
    HANDLE h = pick_handle(w, in);
    portrec* p = live_port(w, h);
    if (!p) return;
    int sv[2];
    CHECK_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
    // Above every number the pool's raw numbers can name (below 64).
    for (int& fd : sv) {
      const int high = ::fcntl(fd, F_DUPFD_CLOEXEC, 700);
      CHECK(high >= 700);
      ::close(fd);
      fd = high;
    }
    const ULONG_PTR key = kIoKeyBit | ++g_key;
    SetLastError(0);
    HANDLE got =
        CreateIoCompletionPort(reinterpret_cast<HANDLE>(static_cast<intptr_t>(sv[0])), h, key, 0);
    CHECK(got == h);
    io.a = sv[0];
    io.b = sv[1];
    io.port_uid = p->uid;
    io.key = key;
    TRACE("io pair %d/%d on %p", io.a, io.b, h);
    return;
  }
  switch (what) {
    case 0:
    case 1:
    case 2: {  // WSARecv (0, 1) or WSASend (2) with one or two buffers
      ioop* op = nullptr;
      for (ioop& o : g_io)
        if (!o.outstanding) op = &o;
      if (!op) return;
      std::memset(&op->ov, 0, sizeof op->ov);
      const ULONG l1 = 1 + in.u8() % 48, l2 = in.u8() % 48;
      fuzz_wsabuf bufs[2] = {{l1, op->buf}, {l2, op->buf + 48}};
      const DWORD n = l2 ? 2 : 1;
      DWORD bytes = 0, flags = 0;
      SetLastError(0);
      const int rc =
          what < 2 ? WSARecv(static_cast<SOCKET>(io.a), bufs, n, &bytes, &flags, &op->ov, nullptr)
                   : WSASend(static_cast<SOCKET>(io.a), bufs, n, &bytes, 0, &op->ov, nullptr);
      TRACE("%s(%d) -> %d / %u", what < 2 ? "WSARecv" : "WSASend", io.a, rc, GetLastError());
      if (rc == 0 || GetLastError() == ERROR_IO_PENDING) {
        if (rc == 0) CHECK(bytes <= l1 + l2);
        op->outstanding = true;  // R9.3: a completion follows either way
        op->port_uid = io.port_uid;
        op->key = io.key;
        op->len = l1 + l2;
      } else {
        CHECK(what == 2);  // only a send fails at once here (the peer is gone)
      }
      return;
    }
    case 3: {  // the peer writes
      char data[64];
      std::memset(data, 'x', sizeof data);
      ssize_t r = ::send(io.b, data, 1 + in.u8() % 64, MSG_NOSIGNAL | MSG_DONTWAIT);
      (void)r;
      return;
    }
    case 4: {  // the peer reads
      char data[256];
      ssize_t r = ::recv(io.b, data, sizeof data, MSG_DONTWAIT);
      (void)r;
      return;
    }
    case 5: {  // CancelIoEx of one operation or of all (R9.6)
      const std::uint8_t k = in.u8();
      OVERLAPPED* ov = k % 3 == 0 ? nullptr : &g_io[k % kIoOps].ov;
      SetLastError(0);
      BOOL r = CancelIoEx(reinterpret_cast<HANDLE>(static_cast<intptr_t>(io.a)), ov);
      if (!r) CHECK_EQ(GetLastError(), ERROR_NOT_FOUND);
      return;
    }
    case 6:  // closesocket: what is under way completes, cancelled (R9.6)
      CHECK_EQ(closesocket(static_cast<SOCKET>(io.a)), 0);
      ::close(io.b);
      io = iopair{};
      return;
    default:  // the peer closes
      if (io.b >= 0) ::shutdown(io.b, SHUT_WR);
      return;
  }
}

// The end of an input: every pair closes, and every operation still under
// way then completes, once (R9.6).
void finish_io(world& w) {
  for (iopair& io : w.io) {
    if (io.a < 0) continue;
    CHECK_EQ(closesocket(static_cast<SOCKET>(io.a)), 0);
    ::close(io.b);
    io = iopair{};
  }
  for (portrec& p : w.ports) {
    if (!p.open) continue;
    for (int i = 0; i < 500; ++i) {
      bool left = false;
      for (ioop& op : g_io) left |= op.outstanding && op.port_uid == p.uid;
      if (!left) break;
      OVERLAPPED_ENTRY ents[16];
      ULONG removed = 0;
      if (GetQueuedCompletionStatusEx(p.h, ents, 16, &removed, 10, FALSE))
        for (ULONG k = 0; k < removed; ++k) deliver(w, p, ents[k], true);
    }
    for (ioop& op : g_io) CHECK(!(op.outstanding && op.port_uid == p.uid));
  }
}

void step_gqcs_ex(world& w, reader& in) {
  HANDLE h = pick_handle(w, in);
  const ULONG count = 1 + in.u8() % 16;
  const BOOL alertable = in.u8() & 1;
  portrec* p = live_port(w, h);
  const bool must = p && must_deliver(w, *p);
  std::vector<OVERLAPPED_ENTRY> ents(count);
  std::memset(ents.data(), 0xCD, count * sizeof(OVERLAPPED_ENTRY));
  ULONG removed = 777;
  SetLastError(0);
  BOOL r = GetQueuedCompletionStatusEx(h, ents.data(), count, &removed, 0, alertable);
  TRACE("GQCSEx(%p, %u) -> %d, %u", h, count, r, removed);
  if (!p) {
    CHECK_EQ(r, FALSE);
    CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    CHECK_EQ(removed, 0);
    return;
  }
  if (r) {
    CHECK(removed >= 1 && removed <= count);  // R3.6
    for (ULONG i = 0; i < removed; ++i) deliver(w, *p, ents[i], true);
  } else {
    CHECK_EQ(GetLastError(), WAIT_TIMEOUT);
    CHECK_EQ(removed, 0);
    CHECK(!must);
  }
}

// Null out-pointers and count 0 (decisions 6, R3.6): refused, nothing taken.
void step_dequeue_bad_params(world& w, reader& in) {
  HANDLE h = pick_handle(w, in);
  const std::uint8_t v = in.u8() % 6;
  const bool live = live_port(w, h) != nullptr;
  SetLastError(0);
  BOOL r;
  ULONG removed = 777;
  if (v < 3) {
    DWORD bytes;
    ULONG_PTR key;
    LPOVERLAPPED ov;
    r = GetQueuedCompletionStatus(h, v == 0 ? nullptr : &bytes, v == 1 ? nullptr : &key,
                                  v == 2 ? nullptr : &ov, 0);
    removed = 0;
  } else {
    OVERLAPPED_ENTRY e[2];
    r = GetQueuedCompletionStatusEx(h, v == 3 ? nullptr : e, v == 5 ? 0 : 2,
                                    v == 4 ? nullptr : &removed, 0, FALSE);
    if (v == 4) removed = 0;
  }
  TRACE("dequeue with bad parameters (%u) on %p -> %d", v, h, r);
  CHECK_EQ(r, FALSE);
  const DWORD err = GetLastError();
  CHECK(err == ERROR_INVALID_PARAMETER || (!live && err == ERROR_INVALID_HANDLE));
  CHECK_EQ(removed, 0);
}

// One registration entry drawn from the input.
SOCK_NOTIFY_REGISTRATION make_entry(world& w, reader& in) {
  SOCK_NOTIFY_REGISTRATION e;
  std::memset(&e, 0, sizeof e);
  e.socket = w.pool[in.u8() % kSlots].fd;
  const std::uint8_t ob = in.u8();
  static const UINT8 ops[] = {
      SOCK_NOTIFY_OP_NONE,    SOCK_NOTIFY_OP_ENABLE, SOCK_NOTIFY_OP_ENABLE, SOCK_NOTIFY_OP_ENABLE,
      SOCK_NOTIFY_OP_DISABLE, SOCK_NOTIFY_OP_REMOVE, SOCK_NOTIFY_OP_REMOVE, 0};
  e.operation = ob % 8 == 7 ? in.u8() : ops[ob % 8];  // any value, 3, 5, 6, ... too
  const std::uint8_t fb = in.u8();
  e.eventFilter = fb < 240 ? static_cast<UINT16>(fb & 7) : in.u16();
  const std::uint8_t tb = in.u8();
  if (tb < 224) {
    static const UINT8 persistence[] = {0, SOCK_NOTIFY_TRIGGER_ONESHOT,
                                        SOCK_NOTIFY_TRIGGER_PERSISTENT};
    e.triggerFlags =
        static_cast<UINT8>((tb & 1 ? SOCK_NOTIFY_TRIGGER_EDGE : SOCK_NOTIFY_TRIGGER_LEVEL) |
                           persistence[(tb >> 1) % 3]);
  } else {
    e.triggerFlags = in.u8();
  }
  // Every entry gets a fresh key: an ENABLE that creates a registration
  // gives it a key nobody else ever had.
  e.completionKey = reinterpret_cast<PVOID>(static_cast<std::uintptr_t>(++g_key));
  e.registrationResult = kSentinel;
  return e;
}

// The model's answer for one entry, applied to the model (R4.1: in order).
DWORD model_entry(world& w, portrec& p, const SOCK_NOTIFY_REGISTRATION& e,
                  std::vector<std::uint64_t>* enabled_here) {
  const int fd = e.socket;
  const unsigned op = e.operation;
  if (op == SOCK_NOTIFY_OP_NONE) return ERROR_SUCCESS;  // R5.2
  if (op != SOCK_NOTIFY_OP_ENABLE && op != SOCK_NOTIFY_OP_DISABLE && op != SOCK_NOTIFY_OP_REMOVE)
    return WSAEINVAL;  // R5.1
  const unsigned t = e.triggerFlags;
  if (op == SOCK_NOTIFY_OP_ENABLE) {
    const bool level = t & SOCK_NOTIFY_TRIGGER_LEVEL, edge = t & SOCK_NOTIFY_TRIGGER_EDGE;
    if ((e.eventFilter & ~SOCK_NOTIFY_REGISTER_EVENTS_ALL) || (t & ~SOCK_NOTIFY_TRIGGER_ALL) ||
        level == edge ||
        ((t & SOCK_NOTIFY_TRIGGER_ONESHOT) && (t & SOCK_NOTIFY_TRIGGER_PERSISTENT)))
      return WSAEINVAL;  // R5.1
  }
  fdrec* cur = sock_at(w, fd);
  auto it = p.by_fd.find(fd);
  if (it != p.by_fd.end()) {
    const std::uint64_t key = it->second;
    keyrec& k = w.keys.at(key);
    const bool same = cur && cur->uid == k.sock_uid &&
                      (k.s == keyrec::st::enabled || k.s == keyrec::st::disabled);
    if (same) {
      CHECK_EQ(cur->reg_key, key);
      if (op == SOCK_NOTIFY_OP_ENABLE) {  // R5.3: the key stays
        enabled_here->push_back(key);
        k.s = keyrec::st::enabled;
        k.filter = e.eventFilter;
        k.filter_union = static_cast<std::uint16_t>(k.filter_union | e.eventFilter);
        k.level = t & SOCK_NOTIFY_TRIGGER_LEVEL;
        k.oneshot = t & SOCK_NOTIFY_TRIGGER_ONESHOT;
        k.allowance = 0;
      } else if (op == SOCK_NOTIFY_OP_DISABLE) {  // R5.4
        if (k.s == keyrec::st::enabled) k.allowance = 1;
        k.s = keyrec::st::disabled;
      } else {  // R5.5
        k.s = keyrec::st::removing;
        p.removing[key] = ++w.seq;
        cur->reg_key = 0;
        p.by_fd.erase(it);
      }
      return ERROR_SUCCESS;
    }
    // A registration of a socket closed with close() (R5.12): psn finds out
    // now, unless the number is something epoll refuses outright.
    CHECK(k.s == keyrec::st::closed_plain);
    if (noticeable(fd)) {
      k.s = keyrec::st::dead;
      p.by_fd.erase(it);
    }
  }
  if (!cur) return WSAENOTSOCK;                             // R5.1, decisions 2
  if (op != SOCK_NOTIFY_OP_ENABLE) return ERROR_NOT_FOUND;  // R5.4
  if (cur->reg_key) {                                       // R5.3: on another port
    CHECK(w.keys.at(cur->reg_key).port_uid != p.uid);
    return WSAEINVAL;
  }
  const auto key = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(e.completionKey));
  keyrec k;
  k.port_uid = p.uid;
  k.fd = fd;
  k.sock_uid = cur->uid;
  k.s = keyrec::st::enabled;
  k.filter = k.filter_union = e.eventFilter;
  k.level = t & SOCK_NOTIFY_TRIGGER_LEVEL;
  k.oneshot = t & SOCK_NOTIFY_TRIGGER_ONESHOT;
  CHECK(w.keys.count(key) == 0);
  w.keys[key] = k;
  enabled_here->push_back(key);
  cur->reg_key = key;
  p.by_fd[fd] = key;
  return ERROR_SUCCESS;
}

void step_process(world& w, reader& in, bool dequeue) {
  HANDLE h = pick_handle(w, in);
  const std::uint8_t shape = in.u8();
  UINT32 n = shape % 17;
  if (!dequeue && n == 0 && (shape & 0x80)) n = 1;
  const ULONG count = dequeue ? 1 + in.u8() % 16 : 0;
  // Sometimes the arrays and the count sit back to back in one buffer: they
  // touch but do not overlap, which is a valid call (R4.2).
  const bool packed = dequeue && n > 0 && (shape & 0x40) && (shape & 0x20);
  std::vector<SOCK_NOTIFY_REGISTRATION> own_regs;
  std::vector<OVERLAPPED_ENTRY> own_ents;
  UINT32 own_got = 0xBEEF;
  alignas(16) static unsigned char
      packed_buf[17 * sizeof(SOCK_NOTIFY_REGISTRATION) + 16 * sizeof(OVERLAPPED_ENTRY) + 16];
  SOCK_NOTIFY_REGISTRATION* regs = nullptr;
  OVERLAPPED_ENTRY* ents = nullptr;
  UINT32* got = nullptr;
  if (packed) {
    regs = reinterpret_cast<SOCK_NOTIFY_REGISTRATION*>(packed_buf);
    ents = reinterpret_cast<OVERLAPPED_ENTRY*>(packed_buf + n * sizeof *regs);
    got = reinterpret_cast<UINT32*>(reinterpret_cast<unsigned char*>(ents) + count * sizeof *ents);
    *got = 0xBEEF;
  } else {
    own_regs.resize(n);
    own_ents.resize(count);
    regs = n ? own_regs.data() : nullptr;
    ents = count ? own_ents.data() : nullptr;
    got = count ? &own_got : nullptr;
  }
  for (UINT32 i = 0; i < n; ++i) regs[i] = make_entry(w, in);
  if (count) std::memset(static_cast<void*>(ents), 0xCD, count * sizeof *ents);
  portrec* p = live_port(w, h);
  // The model first: the entries' expected results, in order.
  std::vector<DWORD> expected(n);
  std::vector<std::uint64_t> enabled_here;
  if (p)
    for (UINT32 i = 0; i < n; ++i) expected[i] = model_entry(w, *p, regs[i], &enabled_here);
  const bool must = p && count && must_deliver(w, *p);
  const bool must_r45 = p && count && must_deliver_r45(w, enabled_here);
  // Mostly time-out 0; sometimes 1 ms, so that re-arms go to the kernel
  // together with the wait (R7.2 on io_uring) and are settled afterwards.
  const UINT32 timeout = dequeue && (shape & 0x10) ? 1 : 0;
  DWORD rc = ProcessSocketNotifications(h, n, regs, timeout, count, ents, got);
  if (g_trace) {
    std::fprintf(stderr, "PSN(%p, %u entries, count %u, %u ms%s) -> %u", h, n, count, timeout,
                 packed ? ", packed" : "", rc);
    if (got) std::fprintf(stderr, ", got %u", *got);
    std::fputc('\n', stderr);
    for (UINT32 i = 0; i < n; ++i)
      std::fprintf(
          stderr, "  [%u] fd %d op %u filter %#x trig %#x key %#llx -> %u (model %u)\n", i,
          static_cast<int>(regs[i].socket), regs[i].operation, regs[i].eventFilter,
          regs[i].triggerFlags,
          static_cast<unsigned long long>(reinterpret_cast<std::uintptr_t>(regs[i].completionKey)),
          regs[i].registrationResult, expected[i]);
  }
  if (!p) {
    CHECK_EQ(rc, WSA_INVALID_HANDLE);  // R3.2, R4.2
    for (UINT32 i = 0; i < n; ++i) CHECK_EQ(regs[i].registrationResult, kSentinel);
    return;
  }
  CHECK(rc == ERROR_SUCCESS || (count > 0 && rc == WAIT_TIMEOUT));  // R4.4
  for (UINT32 i = 0; i < n; ++i) CHECK_EQ(regs[i].registrationResult, expected[i]);
  if (count == 0) return;
  if (rc == ERROR_SUCCESS) {
    CHECK(*got >= 1 && *got <= count);
    for (UINT32 i = 0; i < *got; ++i) deliver(w, *p, ents[i], true);
  } else {
    CHECK_EQ(*got, 0);
    CHECK(!must);      // R3.3, R5.5: something is queued
    CHECK(!must_r45);  // R4.5
  }
}

// Calls that break a call-level rule (R4.2): WSAEINVAL, nothing touched.
void step_bad_call(world& w, reader& in) {
  HANDLE h = pick_handle(w, in);
  const std::uint8_t v = in.u8() % 10;
  const UINT32 n = 1 + in.u8() % 8;
  const ULONG cnt = 1 + in.u8() % 8;
  alignas(16) static unsigned char
      buf[8 * sizeof(SOCK_NOTIFY_REGISTRATION) + 8 * sizeof(OVERLAPPED_ENTRY) + 64];
  std::memset(buf, 0x5A, sizeof buf);
  auto* regs = reinterpret_cast<SOCK_NOTIFY_REGISTRATION*>(buf);
  for (UINT32 i = 0; i < n; ++i) regs[i] = make_entry(w, in);
  unsigned char* ents_at = buf + n * sizeof(SOCK_NOTIFY_REGISTRATION);  // just after regs
  UINT32* got_at = reinterpret_cast<UINT32*>(ents_at + cnt * sizeof(OVERLAPPED_ENTRY));
  SOCK_NOTIFY_REGISTRATION* R = regs;
  UINT32 RC = n;
  auto* E = reinterpret_cast<OVERLAPPED_ENTRY*>(ents_at);
  ULONG C = cnt;
  UINT32* G = got_at;
  UINT32 T = 0;
  switch (v) {
    case 0:  // NULL array, count > 0
      R = nullptr;
      RC = in.u8() & 1 ? in.u32() | 1u : n;
      break;
    case 1:  // array, count 0
      RC = 0;
      break;
    case 2:  // no entries array for a dequeue
      E = nullptr;
      break;
    case 3:  // an entries array with count 0
      C = 0;
      G = nullptr;
      break;
    case 4:  // no receivedEntryCount for a dequeue
      G = nullptr;
      break;
    case 5:  // a receivedEntryCount without a dequeue
      C = 0;
      E = nullptr;
      break;
    case 6:  // a time-out without a dequeue
      C = 0;
      E = nullptr;
      G = nullptr;
      T = 1 + in.u32() % 1000000;
      break;
    case 7: {  // the arrays overlap
      std::size_t off = 8 * (in.u8() % (n * sizeof(SOCK_NOTIFY_REGISTRATION) / 8));
      E = reinterpret_cast<OVERLAPPED_ENTRY*>(buf + off);
      G = reinterpret_cast<UINT32*>(buf + sizeof buf - 4);
      break;
    }
    case 8:  // the count inside the registrations
      G = reinterpret_cast<UINT32*>(buf +
                                    4 * (in.u8() % (n * sizeof(SOCK_NOTIFY_REGISTRATION) / 4)));
      break;
    default:  // the count inside the entries
      G = reinterpret_cast<UINT32*>(ents_at + 4 * (in.u8() % (cnt * sizeof(OVERLAPPED_ENTRY) / 4)));
      break;
  }
  unsigned char before[sizeof buf];
  std::memcpy(before, buf, sizeof buf);
  const bool live = live_port(w, h) != nullptr;
  DWORD rc = ProcessSocketNotifications(h, RC, R, T, C, E, G);
  TRACE("PSN call-level violation %u on %p -> %u", v, h, rc);
  CHECK(rc == WSAEINVAL || (!live && rc == WSA_INVALID_HANDLE));  // R4.2
  CHECK(std::memcmp(before, buf, sizeof buf) == 0);               // nothing written
}

// Make sockets ready, drain them, shut them down, close them.
void step_socket(world& w, reader& in) {
  const int si = in.u8() % kSlots;
  slot& s = w.pool[si];
  const std::uint8_t sub = in.u8() % 12;
  const std::uint8_t arg = in.u8();
  fdrec* r = (s.k == kind::closed_number || s.k == kind::raw_number) ? nullptr : rec(w, s.fd);
  char data[64];
  std::memset(data, 'x', sizeof data);
  const std::size_t len = 1 + arg % sizeof data;
  TRACE("socket step %u on slot %d (%s fd %d)", sub, si, kind_name(s.k), s.fd);
  switch (sub) {
    case 0: {  // the other end writes (or connects, for a listener)
      if (!r) break;
      if (r->k == kind::listener) {
        if (r->clients.size() >= kMaxClients) close_fd(w, r->clients.front(), false, arg & 1);
        sockaddr_in a{};
        socklen_t alen = sizeof a;
        if (::getsockname(s.fd, reinterpret_cast<sockaddr*>(&a), &alen) != 0) break;
        int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (c < 0) harness_failed("socket");
        ::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);
        fdrec& cr = add_rec(w, c, kind::tcp);
        cr.listener = s.fd;
        rec(w, s.fd)->clients.push_back(c);
        break;
      }
      fdrec* peer = r->peer >= 0 ? rec(w, r->peer) : nullptr;
      if (!peer || (peer->udp && peer->writes >= kUdpWriteCap)) break;
      if (peer->udp) ++peer->writes;
      if (peer->socket) {
        ::send(peer->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
      } else {
        ssize_t k = ::write(peer->fd, data, len);
        (void)k;
      }
      break;
    }
    case 1:  // this end writes
      if (!r || !r->socket || r->k == kind::listener) break;
      if (r->udp && r->writes >= kUdpWriteCap) break;
      if (r->udp) ++r->writes;
      ::send(s.fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
      break;
    case 2:  // drain this end
      if (!r) break;
      for (int i = 0; i < 64; ++i) {
        if (r->k == kind::listener) {
          int a = ::accept4(s.fd, nullptr, nullptr, SOCK_CLOEXEC);
          if (a < 0) break;
          abortive_close(a);
          ::close(a);
        } else if (::read(s.fd, data, sizeof data) <= 0) {
          break;
        }
      }
      break;
    case 3:  // drain the other end
      if (!r || r->peer < 0) break;
      for (int i = 0; i < 64; ++i)
        if (::read(r->peer, data, sizeof data) <= 0) break;
      break;
    case 4:
    case 5:  // shut this end down
      if (r && r->socket) ::shutdown(s.fd, sub == 4 ? SHUT_WR : (arg & 1 ? SHUT_RD : SHUT_RDWR));
      break;
    case 6:  // shut the other end down
      if (r && r->peer >= 0 && rec(w, r->peer)->socket)
        ::shutdown(r->peer, arg & 1 ? SHUT_WR : SHUT_RDWR);
      break;
    case 7:  // close the other end (FIN, or RST with arg & 1)
      if (r && r->peer >= 0) close_fd(w, r->peer, false, arg & 1);
      break;
    case 8: {  // closesocket
      fdrec* target = sock_at(w, s.fd);
      if (target) {
        close_fd(w, s.fd, true, arg & 1);
        if (r) fill_slot(w, si, static_cast<kind>(arg % static_cast<int>(kind::count)), in.u8());
        break;
      }
      const bool was_open = fd_open(s.fd);
      SetLastError(0);
      int rc = closesocket(s.fd);
      TRACE("  closesocket(%d) on a non-socket -> %d", s.fd, rc);
      CHECK_EQ(rc, SOCKET_ERROR);  // decisions 9
      CHECK_EQ(WSAGetLastError(), WSAENOTSOCK);
      CHECK_EQ(fd_open(s.fd), was_open);  // a non-socket is left open
      break;
    }
    case 9:  // plain close
      if (!r) break;
      close_fd(w, s.fd, false, arg & 1);
      fill_slot(w, si, static_cast<kind>(arg / 2 % static_cast<int>(kind::count)), in.u8());
      break;
    case 10: {  // replace the slot
      if (r) close_fd(w, s.fd, arg & 1 && r->socket, arg & 2);
      fill_slot(w, si, static_cast<kind>(arg / 4 % static_cast<int>(kind::count)), in.u8());
      break;
    }
    default: {  // a number-only slot takes the number of another slot's socket
      const slot& o = w.pool[arg % kSlots];
      if (r) break;
      s.fd = o.fd;
      s.k = kind::closed_number;
      break;
    }
  }
}

void drain_port(world& w, portrec& p) {
  for (int i = 0; i < 512 && (!p.posts.empty() || !p.removing.empty()); ++i) {
    OVERLAPPED_ENTRY ents[16];
    ULONG removed = 0;
    const bool must = must_deliver(w, p);
    SetLastError(0);
    BOOL r = GetQueuedCompletionStatusEx(p.h, ents, 16, &removed, 0, FALSE);
    if (!r) {
      CHECK_EQ(GetLastError(), WAIT_TIMEOUT);
      CHECK(!must);
      break;
    }
    CHECK(removed >= 1 && removed <= 16);
    for (ULONG k = 0; k < removed; ++k) deliver(w, p, ents[k], true);
  }
  CHECK(p.posts.empty());     // R3.3: every posted packet came out
  CHECK(p.removing.empty());  // R5.5: every REMOVE packet came out
}

// R5.7: a level-triggered registration whose condition holds is notified
// again after its packet is taken. Every enabled level registration with OUT
// on a UDP socket (always writable) must come out within a few dequeues.
void check_level_renotified(world& w, portrec& p) {
  std::map<std::uint64_t, bool> want;  // key -> seen
  for (auto& [fd, key] : p.by_fd) {
    const keyrec& k = w.keys.at(key);
    if (k.s != keyrec::st::enabled || !k.level || !(k.filter & SOCK_NOTIFY_REGISTER_EVENT_OUT))
      continue;
    const fdrec* r = rec(w, fd);
    if (r && r->uid == k.sock_uid && r->udp && r->writes < kUdpWriteCap) want[key] = false;
  }
  if (want.empty()) return;
  std::size_t seen = 0;
  for (int i = 0; i < 64 && seen < want.size(); ++i) {
    OVERLAPPED_ENTRY ents[16];
    ULONG removed = 0;
    if (!GetQueuedCompletionStatusEx(p.h, ents, 16, &removed, 0, FALSE)) continue;
    for (ULONG k = 0; k < removed; ++k) {
      deliver(w, p, ents[k], true);
      auto it = want.find(ents[k].lpCompletionKey);
      if (it != want.end() && !it->second) {
        it->second = true;
        ++seen;
      }
    }
  }
  if (seen != want.size())
    for (auto& [key, ok] : want)
      if (!ok)
        std::fprintf(stderr, "psn_fuzz: level OUT registration %#llx never came\n",
                     static_cast<unsigned long long>(key));
  CHECK_EQ(seen, want.size());  // R5.7
}

int count_fds() {
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return -1;
  int n = 0;
  while (::readdir(d)) ++n;
  ::closedir(d);
  return n;
}

void run(const std::uint8_t* data, std::size_t size) {
  const int fds_before = count_fds();
  for (ioop& op : g_io) op.outstanding = false;
  auto w = std::make_unique<world>();
  reader in(data, size);
  static const kind initial[kSlots] = {
      kind::tcp,  kind::tcp,       kind::udp,         kind::unix_stream,   kind::listener,
      kind::pipe, kind::tcp_fresh, kind::tcp_refused, kind::closed_number, kind::raw_number};
  for (int i = 0; i < kSlots; ++i) fill_slot(*w, i, initial[i], 0);
  for (int i = 0; i < 2; ++i) {
    HANDLE h = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1 + i);
    CHECK(h != nullptr);
    portrec p;
    p.uid = ++g_uid;
    p.h = h;
    p.open = true;
    w->ports.push_back(std::move(p));
    w->port_slot[i] = i;
  }
  for (int steps = 0; steps < kMaxSteps && !in.empty(); ++steps) {
    switch (in.u8() % 19) {
      case 0:
        step_create(*w, in);
        break;
      case 1:
        step_close_port(*w, in);
        break;
      case 2:
      case 3:
        step_process(*w, in, false);
        break;
      case 4:
      case 5:
        step_process(*w, in, true);
        break;
      case 6:
        step_bad_call(*w, in);
        break;
      case 7:
        step_post(*w, in);
        break;
      case 8:
        step_gqcs(*w, in);
        break;
      case 9:
        step_gqcs_ex(*w, in);
        break;
      case 10:
        step_dequeue_bad_params(*w, in);
        break;
      case 17:
      case 18:
        step_io(*w, in);
        break;
      default:
        step_socket(*w, in);
        break;
    }
  }
  // The end: every port gives up its posted and REMOVE packets and closes
  // (a second close fails); then every descriptor goes.
  finish_io(*w);
  for (portrec& p : w->ports) {
    if (!p.open) continue;
    drain_port(*w, p);
    check_level_renotified(*w, p);
    HANDLE h = p.h;
    close_port_checked(*w, p);
    SetLastError(0);
    CHECK_EQ(CloseHandle(h), FALSE);
    CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
  }
  while (!w->fds.empty()) {
    fdrec& r = w->fds.begin()->second;
    close_fd(*w, r.fd, false, r.tcp);
  }
  w.reset();
  const int fds_after = count_fds();
  if (fds_before != fds_after)
    std::fprintf(stderr, "psn_fuzz: %d descriptors open before, %d after\n", fds_before, fds_after);
  CHECK_EQ(fds_after, fds_before);  // nothing outlives its port (R5.12), no leak
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool init = [] {
    ::signal(SIGPIPE, SIG_IGN);
    const char* t = std::getenv("PSN_FUZZ_TRACE");
    g_trace = t && *t && *t != '0';
    return true;
  }();
  (void)init;
  run(data, size);
  return 0;
}
