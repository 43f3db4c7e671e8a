// Winsock on Linux sockets (R8.2-R8.5, R8.7): the BSD calls with Windows'
// signatures (defined here as psn_ws_<name>; the public header's asm labels
// send the Windows names here), WSAStartup and friends, ioctlsocket,
// WSAIoctl, WSAPoll, WSASocket, the address conversions.
//
// Every failure sets the thread's last error to a Winsock code, taken from
// the one errno table (errors.cpp) plus the few context-dependent rules
// below; no raw errno value ever reaches the caller (R8.3). Every send passes
// MSG_NOSIGNAL (R8.4).
//
// This file includes the Linux headers, never the public winsock.h (whose
// declarations would clash with them): the Windows-only layouts are mirrored
// in winsock_layout.hpp.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "psn_win32/base.h"
#include "win32/error_table.hpp"
#include "win32/winsock_layout.hpp"
#include "win32/winsock_util.hpp"

// The layouts psn hands to the kernel unchanged must be Linux's (R8.2).
static_assert(sizeof(sockaddr) == psn::win32::layout::kSockaddrSize);
static_assert(sizeof(sockaddr_in) == psn::win32::layout::kSockaddrInSize);
static_assert(sizeof(sockaddr_in6) == psn::win32::layout::kSockaddrIn6Size);
static_assert(offsetof(sockaddr_in6, sin6_scope_id) ==
              psn::win32::layout::kSockaddrIn6ScopeIdOffset);
static_assert(sizeof(sockaddr_storage) == psn::win32::layout::kSockaddrStorageSize);
static_assert(sizeof(in_addr) == psn::win32::layout::kInAddrSize);
static_assert(sizeof(in6_addr) == psn::win32::layout::kIn6AddrSize);
static_assert(sizeof(ip_mreq) == psn::win32::layout::kIpMreqSize);
static_assert(sizeof(ipv6_mreq) == psn::win32::layout::kIpv6MreqSize);
static_assert(sizeof(SOCKET) == sizeof(void*));
// The public header spells these Linux values out.
static_assert(AF_INET6 == 10 && SOL_SOCKET == 1 && SO_REUSEADDR == 2 && SO_LINGER == 13);
static_assert(SO_RCVTIMEO == 20 && SO_SNDTIMEO == 21 && SO_ERROR == 4 && IPV6_V6ONLY == 26);
static_assert(MSG_WAITALL == 0x100 && MSG_TRUNC == 0x20 && TCP_KEEPIDLE == 4);
static_assert(SHUT_RD == 0 && SHUT_WR == 1 && SHUT_RDWR == 2);

namespace {

using namespace psn::win32;
namespace wc = psn::win32::wsconst;

// TCP states (the kernel's tcp_states.h; stable ABI of TCP_INFO).
enum tcp_state : std::uint8_t {
  kTcpListen = 10,
  kTcpClose = 7,
  kTcpFinWait1 = 4,
  kTcpFinWait2 = 5,
  kTcpTimeWait = 6,
  kTcpLastAck = 9,
  kTcpClosing = 11,
};

bool is_nonblocking(int fd) noexcept {
  int fl = ::fcntl(fd, F_GETFL);
  return fl >= 0 && (fl & O_NONBLOCK) != 0;
}

// The code for a failed call on fd. EAGAIN is "would block" on a
// non-blocking socket; on a blocking one it means SO_RCVTIMEO/SO_SNDTIMEO ran
// out, which Windows reports as WSAETIMEDOUT (R8.3).
DWORD code_for(int fd, int err) noexcept {
  if (err == EAGAIN) return is_nonblocking(fd) ? WSAEWOULDBLOCK : WSAETIMEDOUT;
  return wsa_from_errno(err);
}

int fail_errno(int fd, int err) noexcept {
  return fail(code_for(fd, err));
}

// The sockets this process shut down for sending, by descriptor, with the
// socket's identity (inode number) so that a reused number is not mistaken
// for the old socket. Only shutdown() and a send failing with EPIPE use it.
class send_shutdowns {
 public:
  // Never destroyed, so usable until exit; NULL only if memory ran out.
  static send_shutdowns* instance() noexcept {
    static send_shutdowns* p = new (std::nothrow) send_shutdowns;
    return p;
  }
  void mark(int fd) noexcept {
    struct stat st;
    if (::fstat(fd, &st) != 0) return;
    std::lock_guard<std::mutex> g(mu_);
    try {
      if (ino_.size() <= static_cast<std::size_t>(fd))
        ino_.resize(static_cast<std::size_t>(fd) + 1);
    } catch (...) {
      return;  // best effort: the TCP state still tells most cases apart
    }
    ino_[static_cast<std::size_t>(fd)] = st.st_ino;
  }
  bool marked(int fd) noexcept {
    struct stat st;
    if (::fstat(fd, &st) != 0) return false;
    std::lock_guard<std::mutex> g(mu_);
    return static_cast<std::size_t>(fd) < ino_.size() &&
           ino_[static_cast<std::size_t>(fd)] == st.st_ino;
  }

 private:
  std::mutex mu_;
  std::vector<std::uint64_t> ino_;
};

// Linux never restarts a socket call that has a time-out (SO_RCVTIMEO or
// SO_SNDTIMEO) once it was interrupted, by a signal or by io_uring task work
// a psn port queued to this thread; Windows has neither. Such a call is
// resumed until its time-out has passed since the first interruption. A call
// without a time-out the kernel restarts by itself, unless a handler was
// installed without SA_RESTART: that EINTR is reported (WSAEINTR).
class eintr_budget {
 public:
  eintr_budget(int fd, int timeout_option) noexcept : fd_(fd), option_(timeout_option) {}

  // After an EINTR: whether to call again.
  bool retry() noexcept {
    timespec now{};
    if (!interrupted_) {
      interrupted_ = true;
      timeval tv{};
      socklen_t l = sizeof tv;
      if (::getsockopt(fd_, SOL_SOCKET, option_, &tv, &l) != 0) return false;
      if (tv.tv_sec == 0 && tv.tv_usec == 0) return false;
      clock_gettime(CLOCK_MONOTONIC, &now);
      deadline_ns_ = to_ns(now) + static_cast<long long>(tv.tv_sec) * 1000000000LL +
                     static_cast<long long>(tv.tv_usec) * 1000LL;
      return true;
    }
    if (deadline_ns_ == 0) return false;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (to_ns(now) >= deadline_ns_) {
      timed_out_ = true;
      return false;
    }
    return true;
  }
  bool interrupted() const noexcept { return interrupted_; }
  bool timed_out() const noexcept { return timed_out_; }

 private:
  static long long to_ns(const timespec& t) noexcept {
    return static_cast<long long>(t.tv_sec) * 1000000000LL + t.tv_nsec;
  }
  int fd_;
  int option_;
  bool interrupted_ = false;
  bool timed_out_ = false;
  long long deadline_ns_ = 0;
};

// The code for a call that failed with `err` after the retries of `b`.
DWORD code_after(int fd, int err, const eintr_budget& b) noexcept {
  return b.timed_out() ? WSAETIMEDOUT : code_for(fd, err);
}

// EPIPE from a send: Windows says WSAESHUTDOWN after this side's
// shutdown(SD_SEND), WSAENOTCONN on a socket never connected, and
// WSAECONNRESET once the connection is gone (R8.3, R8.4).
DWORD epipe_code(int fd) noexcept {
  const int type = int_option(fd, SOL_SOCKET, SO_TYPE);
  if (type == SOCK_DGRAM) return WSAESHUTDOWN;  // only shutdown makes a datagram send EPIPE
  send_shutdowns* shut = send_shutdowns::instance();
  if (shut != nullptr && shut->marked(fd)) return WSAESHUTDOWN;
  tcp_info ti{};
  socklen_t l = sizeof ti;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l) != 0) return WSAECONNRESET;  // AF_UNIX
  switch (ti.tcpi_state) {
    case kTcpFinWait1:
    case kTcpFinWait2:
    case kTcpClosing:
    case kTcpLastAck:
    case kTcpTimeWait:
      return WSAESHUTDOWN;
    case kTcpListen:
      return WSAENOTCONN;
    case kTcpClose:
      // Closed without ever sending a segment: it was never connected.
      if (l >= offsetof(tcp_info, tcpi_segs_out) + sizeof ti.tcpi_segs_out && ti.tcpi_segs_out == 0)
        return WSAENOTCONN;
      return WSAECONNRESET;
    default:
      return WSAECONNRESET;
  }
}

// Windows fails an address shorter than its family's structure with
// WSAEFAULT (Linux would say EINVAL, or read a truncated address).
bool address_ok(const sockaddr* sa, int len) noexcept {
  if (sa == nullptr || len < static_cast<int>(sizeof(sa_family_t))) return false;
  switch (sa->sa_family) {
    case AF_INET:
      return len >= static_cast<int>(sizeof(sockaddr_in));
    case AF_INET6:
      return len >= 24;  // sockaddr_in6 without sin6_scope_id, as both accept
    default:
      return true;
  }
}

// For an AF_INET/AF_INET6 address: whether it is the wildcard address, and
// its port.
bool inet_parts(const sockaddr* sa, bool* any, std::uint16_t* port) noexcept {
  if (sa->sa_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(sa);
    *any = a->sin_addr.s_addr == htonl(INADDR_ANY);
    *port = ntohs(a->sin_port);
    return true;
  }
  if (sa->sa_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(sa);
    *any = IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr);
    *port = ntohs(a->sin6_port);
    return true;
  }
  return false;
}

// The socket's own address, as getsockname gives it, into *ss and *l.
// Returns 0, or the call's failure value with the last error set: the
// system's error, or WSAEINVAL for an AF_INET/AF_INET6 socket not bound yet.
int bound_name(int fd, sockaddr_storage* ss, socklen_t* l) noexcept {
  *l = sizeof *ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(ss), l) != 0) return fail_errno(fd, errno);
  bool any = false;
  std::uint16_t port = 0;
  if (inet_parts(reinterpret_cast<sockaddr*>(ss), &any, &port) && port == 0) return fail(WSAEINVAL);
  return 0;
}

bool buffer_ok(const void* buf, int len) noexcept {
  return len >= 0 && (buf != nullptr || len == 0);
}

SOCKET create_socket(int af, int type, int protocol) noexcept {
  // SOCK_CLOEXEC always: Windows handles are not inherited by default either.
  int fd = ::socket(af, type | SOCK_CLOEXEC, protocol);
  if (fd < 0) {
    int e = errno;
    const int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (e == EINVAL && (base < SOCK_STREAM || base > SOCK_SEQPACKET))
      return fail_socket(WSAESOCKTNOSUPPORT);
    return fail_socket(wsa_from_errno(e));
  }
  // Windows' IPv6 sockets are IPv6-only until told otherwise, so a program
  // may bind the same port on 0.0.0.0 and [::] (Linux defaults to dual stack).
  if (af == AF_INET6) {
    int one = 1;
    (void)::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  return static_cast<SOCKET>(fd);
}

SOCKET wsa_socket(int af, int type, int protocol, const void* info, DWORD flags) noexcept {
  // No protocol catalogue: lpProtocolInfo must be NULL. Overlapped I/O needs
  // no flag (every socket can do it), and no socket is inherited anyway.
  if (info != nullptr) return fail_socket(WSAEINVAL);
  if (flags & ~(wc::kWsaFlagOverlapped | wc::kWsaFlagNoHandleInherit))
    return fail_socket(WSAEINVAL);
  return create_socket(af, type, protocol);
}

// Copies a kernel-filled address to a Windows caller's buffer: WSAEFAULT if
// it does not fit, where Linux would truncate silently.
bool copy_address(const sockaddr_storage& ss, socklen_t l, sockaddr* out, int* outlen) noexcept {
  if (static_cast<socklen_t>(*outlen) < l) return false;
  std::memcpy(out, &ss, l);
  *outlen = static_cast<int>(l);
  return true;
}

// ---- socket options --------------------------------------------------------

enum class opt_kind { passthrough, boolean, integer };

opt_kind kind_of(int level, int name) noexcept {
  if (level == SOL_SOCKET) {
    switch (name) {
      case SO_DEBUG:
      case SO_REUSEADDR:
      case SO_DONTROUTE:
      case SO_BROADCAST:
      case SO_KEEPALIVE:
      case SO_OOBINLINE:
      case SO_ACCEPTCONN:
        return opt_kind::boolean;
      case SO_SNDBUF:
      case SO_RCVBUF:
      case SO_TYPE:
      case SO_RCVLOWAT:
      case SO_SNDLOWAT:
        return opt_kind::integer;
      default:
        return opt_kind::passthrough;
    }
  }
  if (level == IPPROTO_TCP) {
    switch (name) {
      case TCP_NODELAY:
        return opt_kind::boolean;
      case TCP_MAXSEG:
      case TCP_KEEPIDLE:
      case TCP_KEEPINTVL:
      case TCP_KEEPCNT:
        return opt_kind::integer;
      default:
        return opt_kind::passthrough;
    }
  }
  if (level == IPPROTO_IPV6) {
    switch (name) {
      case IPV6_V6ONLY:
      case IPV6_MULTICAST_LOOP:
        return opt_kind::boolean;
      case IPV6_UNICAST_HOPS:
      case IPV6_MULTICAST_HOPS:
      case IPV6_MULTICAST_IF:
        return opt_kind::integer;
      default:
        return opt_kind::passthrough;
    }
  }
  if (level == IPPROTO_IP) {
    switch (name) {
      case IP_HDRINCL:
        return opt_kind::boolean;
      case IP_TTL:
      case IP_TOS:
        return opt_kind::integer;
      default:
        return opt_kind::passthrough;
    }
  }
  return opt_kind::passthrough;
}

// An int or BOOL option value from a Windows caller. Windows takes a BOOL
// option from a single byte too; Linux wants an int.
bool read_int(const char* optval, int optlen, bool boolean, int* out) noexcept {
  if (optval == nullptr) return false;
  if (optlen >= static_cast<int>(sizeof(int))) {
    std::memcpy(out, optval, sizeof(int));
    if (boolean) *out = *out != 0;
    return true;
  }
  if (boolean && optlen >= 1) {
    *out = optval[0] != 0;
    return true;
  }
  return false;
}

// Stores an int or BOOL result: 4 bytes, or 1 for a BOOL the caller gave
// fewer bytes for.
int write_int(int v, bool boolean, char* optval, int* optlen) noexcept {
  if (*optlen >= static_cast<int>(sizeof(int))) {
    std::memcpy(optval, &v, sizeof v);
    *optlen = sizeof v;
    return 0;
  }
  if (boolean && *optlen >= 1) {
    optval[0] = static_cast<char>(v != 0);
    *optlen = 1;
    return 0;
  }
  return fail(WSAEFAULT);
}

int get_sockopt(int fd, int level, int name, char* optval, int* optlen) noexcept {
  if (level == SOL_SOCKET) {
    switch (name) {
      case SO_RCVTIMEO:
      case SO_SNDTIMEO: {
        // Windows: a DWORD of milliseconds; Linux: a struct timeval.
        if (*optlen < static_cast<int>(sizeof(DWORD))) return fail(WSAEFAULT);
        timeval tv{};
        socklen_t l = sizeof tv;
        if (::getsockopt(fd, level, name, &tv, &l) != 0) return fail_errno(fd, errno);
        unsigned long long ms = static_cast<unsigned long long>(tv.tv_sec) * 1000u +
                                (static_cast<unsigned long long>(tv.tv_usec) + 999u) / 1000u;
        DWORD v = ms > 0xFFFFFFFFull ? 0xFFFFFFFFu : static_cast<DWORD>(ms);
        std::memcpy(optval, &v, sizeof v);
        *optlen = sizeof v;
        return 0;
      }
      case SO_LINGER:
      case wc::kSoDontLinger: {
        const bool dont = name == wc::kSoDontLinger;
        if (!dont && *optlen < static_cast<int>(sizeof(ws_linger))) return fail(WSAEFAULT);
        ::linger lg{};
        socklen_t l = sizeof lg;
        if (::getsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, &l) != 0) return fail_errno(fd, errno);
        if (dont) return write_int(lg.l_onoff == 0, true, optval, optlen);
        ws_linger w{static_cast<std::uint16_t>(lg.l_onoff != 0),
                    static_cast<std::uint16_t>(lg.l_linger > 0xFFFF ? 0xFFFF : lg.l_linger)};
        std::memcpy(optval, &w, sizeof w);
        *optlen = sizeof w;
        return 0;
      }
      case SO_ERROR: {
        // A Winsock code, never an errno (R8.3).
        if (*optlen < static_cast<int>(sizeof(int))) return fail(WSAEFAULT);
        int err = 0;
        socklen_t l = sizeof err;
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0) return fail_errno(fd, errno);
        int v = err == 0 ? 0 : static_cast<int>(wsa_from_errno(err));
        std::memcpy(optval, &v, sizeof v);
        *optlen = sizeof v;
        return 0;
      }
      case wc::kSoExclusiveAddrUse: {
        // Without SO_REUSEADDR, a Linux binding is already exclusive.
        int reuse = int_option(fd, SOL_SOCKET, SO_REUSEADDR);
        if (reuse < 0) return fail_errno(fd, errno);
        return write_int(reuse == 0, true, optval, optlen);
      }
      case wc::kSoConditionalAccept:
        return write_int(0, true, optval, optlen);
      case wc::kSoMaxMsgSize: {
        int type = int_option(fd, SOL_SOCKET, SO_TYPE);
        if (type < 0) return fail_errno(fd, errno);
        if (type != SOCK_DGRAM) return fail(WSAENOPROTOOPT);  // meaningless for streams
        int family = int_option(fd, SOL_SOCKET, SO_DOMAIN);
        // The largest UDP payload: 65535 minus the IP and UDP headers.
        return write_int(family == AF_INET6 ? 65527 : 65507, false, optval, optlen);
      }
      case wc::kSoUpdateAcceptContext:
      case wc::kSoUpdateConnectContext:
        return fail(WSAENOPROTOOPT);  // set-only
      default:
        break;
    }
  }
  if (level == IPPROTO_IP && name == wc::kIpDontFragment) {
    int mode = int_option(fd, IPPROTO_IP, IP_MTU_DISCOVER);
    if (mode < 0) return fail_errno(fd, errno);
    return write_int(mode == IP_PMTUDISC_DO || mode == IP_PMTUDISC_PROBE, true, optval, optlen);
  }
  const opt_kind k = kind_of(level, name);
  if (k != opt_kind::passthrough) {
    if (*optlen < static_cast<int>(sizeof(int)) && k != opt_kind::boolean) return fail(WSAEFAULT);
    if (*optlen < 1) return fail(WSAEFAULT);
    int v = 0;
    socklen_t l = sizeof v;
    if (::getsockopt(fd, level, name, &v, &l) != 0) return fail_errno(fd, errno);
    return write_int(v, k == opt_kind::boolean, optval, optlen);
  }
  socklen_t l = static_cast<socklen_t>(*optlen);
  if (::getsockopt(fd, level, name, optval, &l) != 0) return fail_errno(fd, errno);
  *optlen = static_cast<int>(l);
  return 0;
}

int set_sockopt(int fd, int level, int name, const char* optval, int optlen) noexcept {
  if (level == SOL_SOCKET) {
    switch (name) {
      case SO_RCVTIMEO:
      case SO_SNDTIMEO: {
        if (optval == nullptr || optlen < static_cast<int>(sizeof(DWORD))) return fail(WSAEFAULT);
        DWORD ms;
        std::memcpy(&ms, optval, sizeof ms);
        timeval tv{};
        tv.tv_sec = static_cast<time_t>(ms / 1000u);
        tv.tv_usec = static_cast<suseconds_t>((ms % 1000u) * 1000u);
        if (::setsockopt(fd, level, name, &tv, sizeof tv) != 0) return fail_errno(fd, errno);
        return 0;
      }
      case SO_LINGER: {
        if (optval == nullptr || optlen < static_cast<int>(sizeof(ws_linger)))
          return fail(WSAEFAULT);
        ws_linger w;
        std::memcpy(&w, optval, sizeof w);
        ::linger lg{w.l_onoff != 0, w.l_linger};
        if (::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) != 0)
          return fail_errno(fd, errno);
        return 0;
      }
      case wc::kSoDontLinger: {
        // SO_DONTLINGER FALSE lingers with the timeout already set.
        int v;
        if (!read_int(optval, optlen, true, &v)) return fail(WSAEFAULT);
        ::linger lg{};
        socklen_t l = sizeof lg;
        if (::getsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, &l) != 0) return fail_errno(fd, errno);
        lg.l_onoff = !v;
        if (::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) != 0)
          return fail_errno(fd, errno);
        return 0;
      }
      case wc::kSoExclusiveAddrUse: {
        // Accepted: a Linux binding without SO_REUSEADDR is already
        // exclusive. As on Windows, it cannot be combined with SO_REUSEADDR.
        int v;
        if (!read_int(optval, optlen, true, &v)) return fail(WSAEFAULT);
        int reuse = int_option(fd, SOL_SOCKET, SO_REUSEADDR);
        if (reuse < 0) return fail_errno(fd, errno);
        if (v && reuse) return fail(WSAEINVAL);
        return 0;
      }
      case wc::kSoConditionalAccept: {
        // No WSAAccept, so no condition function: only FALSE is meaningful.
        int v;
        if (!read_int(optval, optlen, true, &v)) return fail(WSAEFAULT);
        if (v) return fail(WSAENOPROTOOPT);
        return 0;
      }
      case wc::kSoUpdateAcceptContext:
      case wc::kSoUpdateConnectContext:
        // A Linux socket from accept/connect already has its full state.
        if (!is_socket(fd)) return fail(WSAENOTSOCK);
        return 0;
      case wc::kSoMaxMsgSize:
        return fail(WSAENOPROTOOPT);  // get-only
      default:
        break;
    }
  }
  if (level == IPPROTO_IP && name == wc::kIpDontFragment) {
    int v;
    if (!read_int(optval, optlen, true, &v)) return fail(WSAEFAULT);
    int mode = v ? IP_PMTUDISC_DO : IP_PMTUDISC_DONT;
    if (::setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &mode, sizeof mode) != 0)
      return fail_errno(fd, errno);
    return 0;
  }
  const opt_kind k = kind_of(level, name);
  if (k != opt_kind::passthrough) {
    int v;
    if (!read_int(optval, optlen, k == opt_kind::boolean, &v)) return fail(WSAEFAULT);
    if (::setsockopt(fd, level, name, &v, sizeof v) != 0) return fail_errno(fd, errno);
    return 0;
  }
  if (optlen < 0 || (optval == nullptr && optlen > 0)) return fail(WSAEFAULT);
  if (::setsockopt(fd, level, name, optval, static_cast<socklen_t>(optlen)) != 0)
    return fail_errno(fd, errno);
  return 0;
}

// ---- ioctls -----------------------------------------------------------------

int set_nonblocking(int fd, bool on) noexcept {
  int v = on ? 1 : 0;
  if (::ioctl(fd, FIONBIO, &v) != 0) return fail_errno(fd, errno);
  return 0;
}

// Bytes readable now; a listening socket has none (Linux says EINVAL).
bool bytes_readable(int fd, int* n) noexcept {
  if (::ioctl(fd, FIONREAD, n) == 0) return true;
  if (errno == EINVAL && int_option(fd, SOL_SOCKET, SO_ACCEPTCONN) == 1) {
    *n = 0;
    return true;
  }
  return false;
}

std::atomic<int> g_startups{0};

thread_local char t_ntoa[INET_ADDRSTRLEN];

}  // namespace

extern "C" {

// ---- WSAStartup (R8.5) ------------------------------------------------------

PSN_API int WSAStartup(WORD wVersionRequested, void* lpWSAData) noexcept {
  if (lpWSAData == nullptr) return WSAEFAULT;  // returned, not set (as Windows)
  auto* d = static_cast<ws_wsadata*>(lpWSAData);
  const unsigned major = wVersionRequested & 0xFFu;
  const unsigned minor = (wVersionRequested >> 8) & 0xFFu;
  constexpr WORD kHighest = 0x0202;  // MAKEWORD(2, 2)
  std::memset(d, 0, sizeof *d);
  d->wHighVersion = kHighest;
  std::strncpy(d->szDescription, "psn-win32 Winsock 2.2 on Linux", kWsaDescriptionLen);
  std::strncpy(d->szSystemStatus, "Running", kWsaSysStatusLen);
  if (major < 1 || (major == 1 && minor < 1)) {
    d->wVersion = kHighest;
    return WSAVERNOTSUPPORTED;
  }
  d->wVersion = (major > 2 || (major == 2 && minor > 2)) ? kHighest : wVersionRequested;
  if (major == 1) {  // Winsock 1.1 reported limits; 2.x leaves them 0
    d->iMaxSockets = 32767;
    d->iMaxUdpDg = 65467;
  }
  g_startups.fetch_add(1, std::memory_order_relaxed);
  return 0;
}

PSN_API int WSACleanup(void) noexcept {
  int n = g_startups.load(std::memory_order_relaxed);
  while (n > 0) {
    if (g_startups.compare_exchange_weak(n, n - 1, std::memory_order_relaxed)) return 0;
  }
  return fail(WSANOTINITIALISED);
}

PSN_API void WSASetLastError(int iError) noexcept {
  SetLastError(static_cast<DWORD>(iError));
}

// ---- sockets ------------------------------------------------------------------

PSN_API SOCKET psn_ws_socket(int af, int type, int protocol) noexcept {
  return create_socket(af, type, protocol);
}

PSN_API SOCKET WSASocketA(int af, int type, int protocol, void* lpProtocolInfo,
                          unsigned /*g: no socket groups*/, DWORD dwFlags) noexcept {
  return wsa_socket(af, type, protocol, lpProtocolInfo, dwFlags);
}

PSN_API SOCKET WSASocketW(int af, int type, int protocol, void* lpProtocolInfo, unsigned /*g*/,
                          DWORD dwFlags) noexcept {
  return wsa_socket(af, type, protocol, lpProtocolInfo, dwFlags);
}

PSN_API int psn_ws_bind(SOCKET s, const sockaddr* name, int namelen) noexcept {
  const int fd = fd_of(s);
  if (fd < 0) return fail(WSAENOTSOCK);
  if (!address_ok(name, namelen)) return fail(WSAEFAULT);
  if (::bind(fd, name, static_cast<socklen_t>(namelen)) != 0) return fail_errno(fd, errno);
  return 0;
}

PSN_API int psn_ws_listen(SOCKET s, int backlog) noexcept {
  const int fd = fd_of(s);
  if (fd < 0) return fail(WSAENOTSOCK);
  // Windows refuses to listen on an unbound socket; Linux would pick a port.
  sockaddr_storage ss{};
  socklen_t l = 0;
  if (bound_name(fd, &ss, &l) != 0) return SOCKET_ERROR;
  if (backlog < 0) {  // SOMAXCONN_HINT(n): n, kept within 200..65535 as Windows does
    long long hint = -static_cast<long long>(backlog);
    backlog = static_cast<int>(hint < 200 ? 200 : hint > 65535 ? 65535 : hint);
  }
  if (::listen(fd, backlog) != 0) {
    int e = errno;
    if (e == EINVAL) {
      // A connected socket: Windows says WSAEISCONN.
      sockaddr_storage peer{};
      socklen_t pl = sizeof peer;
      if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl) == 0) return fail(WSAEISCONN);
    }
    return fail_errno(fd, e);
  }
  return 0;
}

PSN_API SOCKET psn_ws_accept(SOCKET s, sockaddr* addr, int* addrlen) noexcept {
  const int fd = fd_of(s);
  if (fd < 0) return fail_socket(WSAENOTSOCK);
  if (addr != nullptr && (addrlen == nullptr || *addrlen < 0)) return fail_socket(WSAEFAULT);
  // As on Windows, the new socket inherits the listener's non-blocking mode.
  int flags = SOCK_CLOEXEC;
  if (is_nonblocking(fd)) flags |= SOCK_NONBLOCK;
  sockaddr_storage ss{};
  socklen_t l = sizeof ss;
  eintr_budget b(fd, SO_RCVTIMEO);
  int nfd;
  int e = 0;
  do {
    l = sizeof ss;
    nfd = ::accept4(fd, reinterpret_cast<sockaddr*>(&ss), &l, flags);
    e = errno;
  } while (nfd < 0 && e == EINTR && b.retry());
  if (nfd < 0) return fail_socket(code_after(fd, e, b));
  if (addr != nullptr && !copy_address(ss, l, addr, addrlen)) {
    // The address does not fit: Windows fails before taking the connection;
    // psn has taken it already and drops it.
    ::close(nfd);
    return fail_socket(WSAEFAULT);
  }
  return static_cast<SOCKET>(nfd);
}

PSN_API int psn_ws_connect(SOCKET s, const sockaddr* name, int namelen) noexcept {
  const int fd = fd_of(s);
  if (fd < 0) return fail(WSAENOTSOCK);
  if (!address_ok(name, namelen)) return fail(WSAEFAULT);
  bool any = false;
  std::uint16_t port = 0;
  if (inet_parts(name, &any, &port) && (any || port == 0)) {
    // Windows: connecting a datagram socket to the wildcard address
    // dissolves its association; for anything else such an address (or
    // port 0) is WSAEADDRNOTAVAIL, where Linux would connect to this host.
    const int type = int_option(fd, SOL_SOCKET, SO_TYPE);
    if (type < 0) return fail_errno(fd, errno);
    if (type == SOCK_DGRAM && any) {
      sockaddr unspec{};
      unspec.sa_family = AF_UNSPEC;
      if (::connect(fd, &unspec, sizeof unspec) != 0) return fail_errno(fd, errno);
      return 0;
    }
    return fail(WSAEADDRNOTAVAIL);
  }
  // A blocking connect called again after an interruption goes on waiting.
  eintr_budget b(fd, SO_SNDTIMEO);
  int r;
  int e = 0;
  do {
    r = ::connect(fd, name, static_cast<socklen_t>(namelen));
    e = errno;
  } while (r != 0 && e == EINTR && b.retry());
  if (r == 0) return 0;
  if (b.timed_out()) return fail(WSAETIMEDOUT);
  // A blocking connect only says EINPROGRESS when SO_SNDTIMEO ran out (or
  // EALREADY, when that happened after an interruption).
  if (e == EINPROGRESS || (e == EALREADY && b.interrupted()))
    return fail(is_nonblocking(fd) ? WSAEWOULDBLOCK : WSAETIMEDOUT);
  if (e == EAGAIN && name->sa_family != AF_UNIX)
    return fail(WSAENOBUFS);  // no local port left: what Windows reports then
  return fail_errno(fd, e);
}

PSN_API int psn_ws_send(SOCKET s, const char* buf, int len, int flags) noexcept {
  const int fd = fd_of(s);
  if (fd < 0) return fail(WSAENOTSOCK);
  if (!buffer_ok(buf, len)) return fail(WSAEFAULT);
  eintr_budget b(fd, SO_SNDTIMEO);
  ssize_t n;
  int e = 0;
  do {
    n = ::send(fd, buf, static_cast<size_t>(len), flags | MSG_NOSIGNAL);  // R8.4
    e = errno;
  } while (n < 0 && e == EINTR && b.retry());
  if (n >= 0) return static_cast<int>(n);
  if (e == EPIPE) return fail(epipe_code(fd));
  if (e == EDESTADDRREQ) return fail(WSAENOTCONN);  // an unconnected datagram socket
  return fail(code_after(fd, e, b));
}

PSN_API int psn_ws_sendto(SOCKET s, const char* buf, int len, int flags, const sockaddr* to,
                          int tolen) noexcept {
  const int fd = fd_of(s);
  if (fd < 0) return fail(WSAENOTSOCK);
  if (!buffer_ok(buf, len)) return fail(WSAEFAULT);
  flags |= MSG_NOSIGNAL;  // R8.4
  const sockaddr* dest = to;
  socklen_t dest_len = 0;
  if (to != nullptr) {
    if (!address_ok(to, tolen)) return fail(WSAEFAULT);
    bool any = false;
    std::uint16_t port = 0;
    bool ignore_to = false;
    if (inet_parts(to, &any, &port) && (any || port == 0)) {
      // Not a destination (Linux would send to this host), unless the socket
      // is a stream, whose `to` Windows ignores.
      const int type = int_option(fd, SOL_SOCKET, SO_TYPE);
      if (type < 0) return fail_errno(fd, errno);
      if (type != SOCK_STREAM) return fail(WSAEADDRNOTAVAIL);
      ignore_to = true;
    }
    if (ignore_to)
      dest = nullptr;
    else
      dest_len = static_cast<socklen_t>(tolen);
  }
  eintr_budget b(fd, SO_SNDTIMEO);
  ssize_t n;
  int e = 0;
  for (;;) {
    n = ::sendto(fd, buf, static_cast<size_t>(len), flags, dest, dest_len);
    e = errno;
    if (n < 0 && e == EISCONN && dest != nullptr) {  // a connected stream: Windows ignores `to`
      dest = nullptr;
      dest_len = 0;
      continue;
    }
    if (n < 0 && e == EINTR && b.retry()) continue;
    break;
  }
  if (n >= 0) return static_cast<int>(n);
  if (e == EPIPE) return fail(epipe_code(fd));
  return fail(code_after(fd, e, b));
}

// recv and recvfrom use recvmsg to see MSG_TRUNC: a datagram larger than the
// buffer fills it and fails with WSAEMSGSIZE, as on Windows.
PSN_API int psn_ws_recvfrom(SOCKET s, char* buf, int len, int flags, sockaddr* from,
                            int* fromlen) noexcept {
  const int fd = fd_of(s);
  if (fd < 0) return fail(WSAENOTSOCK);
  if (!buffer_ok(buf, len)) return fail(WSAEFAULT);
  if (from != nullptr && (fromlen == nullptr || *fromlen < 0)) return fail(WSAEFAULT);
  iovec iov{buf, static_cast<size_t>(len)};
  sockaddr_storage ss{};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  if (from != nullptr) {
    m.msg_name = &ss;
    m.msg_namelen = sizeof ss;
  }
  eintr_budget b(fd, SO_RCVTIMEO);
  ssize_t n;
  int e = 0;
  do {
    m.msg_namelen = from != nullptr ? sizeof ss : 0;
    m.msg_flags = 0;
    n = ::recvmsg(fd, &m, flags);
    e = errno;
  } while (n < 0 && e == EINTR && b.retry());
  if (n < 0) return fail(code_after(fd, e, b));
  // A stream socket reports no address; Windows leaves `from` alone then.
  if (from != nullptr && m.msg_namelen > 0 && !copy_address(ss, m.msg_namelen, from, fromlen))
    return fail(WSAEFAULT);  // the datagram is consumed, unlike on Windows
  if (m.msg_flags & MSG_TRUNC) return fail(WSAEMSGSIZE);
  return static_cast<int>(n);
}

PSN_API int psn_ws_recv(SOCKET s, char* buf, int len, int flags) noexcept {
  return psn_ws_recvfrom(s, buf, len, flags, nullptr, nullptr);
}

PSN_API int psn_ws_shutdown(SOCKET s, int how) noexcept {
  const int fd = fd_of(s);
  if (fd < 0) return fail(WSAENOTSOCK);
  if (how < 0 || how > 2) return fail(WSAEINVAL);  // SD_RECEIVE, SD_SEND, SD_BOTH
  if (::shutdown(fd, how) != 0) return fail_errno(fd, errno);
  send_shutdowns* shut = send_shutdowns::instance();
  if (how != SHUT_RD && shut != nullptr) shut->mark(fd);
  return 0;
}

PSN_API int psn_ws_getsockname(SOCKET s, sockaddr* name, int* namelen) noexcept {
  const int fd = fd_of(s);
  if (fd < 0) return fail(WSAENOTSOCK);
  if (name == nullptr || namelen == nullptr || *namelen < 0) return fail(WSAEFAULT);
  sockaddr_storage ss{};
  socklen_t l = 0;
  // Not bound yet is WSAEINVAL: Windows has no name to give.
  if (bound_name(fd, &ss, &l) != 0) return SOCKET_ERROR;
  if (!copy_address(ss, l, name, namelen)) return fail(WSAEFAULT);
  return 0;
}

PSN_API int psn_ws_getpeername(SOCKET s, sockaddr* name, int* namelen) noexcept {
  const int fd = fd_of(s);
  if (fd < 0) return fail(WSAENOTSOCK);
  if (name == nullptr || namelen == nullptr || *namelen < 0) return fail(WSAEFAULT);
  sockaddr_storage ss{};
  socklen_t l = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &l) != 0) return fail_errno(fd, errno);
  if (!copy_address(ss, l, name, namelen)) return fail(WSAEFAULT);
  return 0;
}

PSN_API int psn_ws_getsockopt(SOCKET s, int level, int optname, char* optval,
                              int* optlen) noexcept {
  const int fd = fd_of(s);
  if (fd < 0) return fail(WSAENOTSOCK);
  if (optval == nullptr || optlen == nullptr || *optlen < 0) return fail(WSAEFAULT);
  return get_sockopt(fd, level, optname, optval, optlen);
}

PSN_API int psn_ws_setsockopt(SOCKET s, int level, int optname, const char* optval,
                              int optlen) noexcept {
  const int fd = fd_of(s);
  if (fd < 0) return fail(WSAENOTSOCK);
  return set_sockopt(fd, level, optname, optval, optlen);
}

// ---- ioctlsocket, WSAIoctl ------------------------------------------------------

PSN_API int ioctlsocket(SOCKET s, long cmd, unsigned long* argp) noexcept {
  const int fd = fd_of(s);
  if (!is_socket(fd)) return fail(WSAENOTSOCK);  // ioctl would work on a pipe too
  if (argp == nullptr) return fail(WSAEFAULT);
  // Compared on 32 bits: a program may have passed FIONBIO through a LONG.
  switch (static_cast<std::uint32_t>(cmd)) {
    case wc::kFionbio:
      return set_nonblocking(fd, *argp != 0);
    case wc::kFionread: {
      int n = 0;
      if (!bytes_readable(fd, &n)) return fail_errno(fd, errno);
      *argp = static_cast<unsigned long>(n);
      return 0;
    }
    default:
      return fail(WSAEINVAL);
  }
}

// Synchronous: lpOverlapped is accepted and the call completes at once (no
// completion is queued); completion routines (APCs) are not supported.
PSN_API int WSAIoctl(SOCKET s, DWORD code, void* in, DWORD cb_in, void* out, DWORD cb_out,
                     DWORD* returned, OVERLAPPED* ov, void* routine) noexcept {
  const int fd = fd_of(s);
  if (!is_socket(fd)) return fail(WSAENOTSOCK);
  if (routine != nullptr) return fail(WSAEOPNOTSUPP);
  if (returned == nullptr && ov == nullptr) return fail(WSAEFAULT);
  switch (code) {
    case wc::kFionbio: {
      // A u_long (8 bytes here) or a 4-byte value from code that assumed
      // Windows' u_long.
      if (in == nullptr || cb_in < sizeof(std::uint32_t)) return fail(WSAEFAULT);
      unsigned long v = 0;
      if (cb_in >= sizeof(unsigned long)) {
        std::memcpy(&v, in, sizeof v);
      } else {
        std::uint32_t v32;
        std::memcpy(&v32, in, sizeof v32);
        v = v32;
      }
      if (set_nonblocking(fd, v != 0) != 0) return SOCKET_ERROR;
      if (returned) *returned = 0;
      return 0;
    }
    case wc::kFionread: {
      if (out == nullptr || cb_out < sizeof(std::uint32_t)) return fail(WSAEFAULT);
      int n = 0;
      if (!bytes_readable(fd, &n)) return fail_errno(fd, errno);
      DWORD written;
      if (cb_out >= sizeof(unsigned long)) {
        unsigned long v = static_cast<unsigned long>(n);
        std::memcpy(out, &v, sizeof v);
        written = sizeof v;
      } else {
        std::uint32_t v = static_cast<std::uint32_t>(n);
        std::memcpy(out, &v, sizeof v);
        written = sizeof v;
      }
      if (returned) *returned = written;
      return 0;
    }
    case wc::kSioGetExtensionFunctionPointer: {
      // R9.2: AcceptEx, ConnectEx, DisconnectEx, GetAcceptExSockaddrs.
      if (in == nullptr || cb_in < 16 || out == nullptr || cb_out < sizeof(void*))
        return fail(WSAEFAULT);
      const void* fn = extension_function(in);
      if (fn == nullptr) return fail(WSAEINVAL);
      std::memcpy(out, &fn, sizeof fn);
      if (returned) *returned = sizeof fn;
      return 0;
    }
    default:
      return fail(WSAEINVAL);
  }
}

// ---- WSAPoll -----------------------------------------------------------------------

// WSAPOLLFD is wider than struct pollfd and uses other bit values, so the
// array is translated in and out. A signal never ends the wait early: the
// poll is resumed for the time left (Windows has no EINTR).
PSN_API int WSAPoll(void* fdArray, ULONG fds, INT timeout) noexcept {
  auto* a = static_cast<ws_pollfd*>(fdArray);
  if (fds == 0) return fail(WSAEINVAL);
  if (a == nullptr) return fail(WSAEFAULT);
  constexpr std::int16_t kKnown = wc::kPollRdNorm | wc::kPollRdBand | wc::kPollPri |
                                  wc::kPollWrNorm | wc::kPollWrBand | wc::kPollErr | wc::kPollHup |
                                  wc::kPollNval;
  for (ULONG i = 0; i < fds; i++)
    if (a[i].events & ~kKnown) return fail(WSAEINVAL);

  constexpr ULONG kStack = 64;
  pollfd stack[kStack];
  std::unique_ptr<pollfd[]> heap;
  pollfd* p = stack;
  if (fds > kStack) {
    heap.reset(new (std::nothrow) pollfd[fds]);
    if (!heap) return fail(WSAENOBUFS);
    p = heap.get();
  }
  for (ULONG i = 0; i < fds; i++) {
    const std::int16_t ev = a[i].events;
    // INVALID_SOCKET is skipped, as Windows skips a "negative" fd; any other
    // value no descriptor can have is reported POLLNVAL below.
    p[i].fd = a[i].fd == INVALID_SOCKET ? -1 : fd_of(a[i].fd);
    // POLLRDHUP always: Windows reports POLLHUP once the peer has closed.
    short e = POLLRDHUP;
    if (ev & wc::kPollRdNorm) e |= POLLIN;
    if (ev & (wc::kPollRdBand | wc::kPollPri)) e |= POLLPRI;
    if (ev & wc::kPollWrNorm) e |= POLLOUT;
    if (ev & wc::kPollWrBand) e |= POLLWRBAND;
    p[i].events = e;
    p[i].revents = 0;
  }

  timespec deadline{};
  if (timeout > 0) {
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout / 1000;
    deadline.tv_nsec += static_cast<long>(timeout % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
      deadline.tv_sec++;
      deadline.tv_nsec -= 1000000000L;
    }
  }
  int wait = timeout < 0 ? -1 : timeout;
  for (;;) {
    int n = ::poll(p, fds, wait);
    if (n >= 0) break;
    if (errno != EINTR) {
      int e = errno;
      return fail(e == EINVAL ? WSAEINVAL : wsa_from_errno(e));
    }
    if (timeout > 0) {
      timespec now{};
      clock_gettime(CLOCK_MONOTONIC, &now);
      long long left_ms = (static_cast<long long>(deadline.tv_sec) - now.tv_sec) * 1000 +
                          (deadline.tv_nsec - now.tv_nsec + 999999) / 1000000;
      wait = left_ms > 0 ? static_cast<int>(left_ms) : 0;
    }
  }

  int ready = 0;
  for (ULONG i = 0; i < fds; i++) {
    const std::int16_t ev = a[i].events;
    std::int16_t r = 0;
    if (a[i].fd != INVALID_SOCKET && p[i].fd < 0) {
      r = wc::kPollNval;
    } else {
      const short lr = p[i].revents;
      if (lr & POLLNVAL) r |= wc::kPollNval;
      if (lr & POLLERR) r |= wc::kPollErr;
      if (lr & (POLLHUP | POLLRDHUP)) r |= wc::kPollHup;
      if (lr & POLLIN) r |= ev & wc::kPollRdNorm;
      if (lr & POLLPRI) r |= ev & (wc::kPollRdBand | wc::kPollPri);
      if (lr & POLLOUT) r |= ev & wc::kPollWrNorm;
      if (lr & POLLWRBAND) r |= ev & wc::kPollWrBand;
    }
    a[i].revents = r;
    if (r != 0) ready++;
  }
  return ready;
}

// ---- byte order and addresses ---------------------------------------------------------

PSN_API std::uint32_t psn_ws_htonl(std::uint32_t v) noexcept {
  return htonl(v);
}
PSN_API std::uint16_t psn_ws_htons(std::uint16_t v) noexcept {
  return htons(v);
}
PSN_API std::uint32_t psn_ws_ntohl(std::uint32_t v) noexcept {
  return ntohl(v);
}
PSN_API std::uint16_t psn_ws_ntohs(std::uint16_t v) noexcept {
  return ntohs(v);
}

PSN_API std::uint32_t psn_ws_inet_addr(const char* cp) noexcept {
  if (cp == nullptr) return INADDR_NONE;
  in_addr a{};
  if (::inet_aton(cp, &a) == 0) return INADDR_NONE;
  return a.s_addr;
}

// A per-thread buffer, as Windows documents.
PSN_API char* psn_ws_inet_ntoa(in_addr in) noexcept {
  if (::inet_ntop(AF_INET, &in, t_ntoa, sizeof t_ntoa) == nullptr) return nullptr;
  return t_ntoa;
}

PSN_API INT psn_ws_inet_pton(INT family, const char* src, void* dst) noexcept {
  if (family != AF_INET && family != AF_INET6) {
    SetLastError(WSAEAFNOSUPPORT);
    return -1;
  }
  if (src == nullptr || dst == nullptr) {
    SetLastError(WSAEFAULT);
    return -1;
  }
  return ::inet_pton(family, src, dst) == 1 ? 1 : 0;
}

PSN_API const char* psn_ws_inet_ntop(INT family, const void* addr, char* buf,
                                     size_t size) noexcept {
  if (family != AF_INET && family != AF_INET6) {
    SetLastError(WSAEAFNOSUPPORT);
    return nullptr;
  }
  // Windows: a missing or too small buffer is ERROR_INVALID_PARAMETER.
  if (addr == nullptr || buf == nullptr || size == 0) {
    SetLastError(ERROR_INVALID_PARAMETER);
    return nullptr;
  }
  char tmp[INET6_ADDRSTRLEN];
  if (::inet_ntop(family, addr, tmp, sizeof tmp) == nullptr) {
    SetLastError(ERROR_INVALID_PARAMETER);
    return nullptr;
  }
  const size_t len = std::strlen(tmp);
  if (len + 1 > size) {
    SetLastError(ERROR_INVALID_PARAMETER);
    return nullptr;
  }
  std::memcpy(buf, tmp, len + 1);
  return buf;
}

PSN_API INT InetPtonA(INT family, const char* src, void* dst) noexcept {
  return psn_ws_inet_pton(family, src, dst);
}

PSN_API INT InetPtonW(INT family, const wchar_t* src, void* dst) noexcept {
  if (src == nullptr) return psn_ws_inet_pton(family, nullptr, dst);
  // An address is ASCII; anything longer or wider is simply not one.
  char narrow[INET6_ADDRSTRLEN + 1];
  size_t i = 0;
  for (; src[i] != L'\0'; i++) {
    if (i + 1 >= sizeof narrow || src[i] < 0 || src[i] > 0x7F)
      return psn_ws_inet_pton(family, "", dst);
    narrow[i] = static_cast<char>(src[i]);
  }
  narrow[i] = '\0';
  return psn_ws_inet_pton(family, narrow, dst);
}

PSN_API const char* InetNtopA(INT family, const void* addr, char* buf, size_t size) noexcept {
  return psn_ws_inet_ntop(family, addr, buf, size);
}

PSN_API const wchar_t* InetNtopW(INT family, const void* addr, wchar_t* buf, size_t size) noexcept {
  char tmp[INET6_ADDRSTRLEN];
  if (psn_ws_inet_ntop(family, addr, tmp, sizeof tmp) == nullptr) return nullptr;
  if (buf == nullptr || utf8_to_wide(tmp, buf, size) > size) {
    SetLastError(ERROR_INVALID_PARAMETER);
    return nullptr;
  }
  return buf;
}

// in6addr_any and in6addr_loopback (libc has variables of these names too).
extern PSN_API const in6_addr psn_ws_in6addr_any;
extern PSN_API const in6_addr psn_ws_in6addr_loopback;
const in6_addr psn_ws_in6addr_any = IN6ADDR_ANY_INIT;
const in6_addr psn_ws_in6addr_loopback = IN6ADDR_LOOPBACK_INIT;

// ---- host name ------------------------------------------------------------------------

PSN_API int psn_ws_gethostname(char* name, int namelen) noexcept {
  if (name == nullptr || namelen <= 0) return fail(WSAEFAULT);
  char tmp[HOST_NAME_MAX + 1] = {};
  if (::gethostname(tmp, sizeof tmp - 1) != 0) return fail(wsa_from_errno(errno));
  const size_t len = std::strlen(tmp);
  if (len + 1 > static_cast<size_t>(namelen)) return fail(WSAEFAULT);
  std::memcpy(name, tmp, len + 1);
  return 0;
}

PSN_API int GetHostNameW(wchar_t* name, int namelen) noexcept {
  if (name == nullptr || namelen <= 0) return fail(WSAEFAULT);
  char tmp[HOST_NAME_MAX + 1] = {};
  if (::gethostname(tmp, sizeof tmp - 1) != 0) return fail(wsa_from_errno(errno));
  if (utf8_to_wide(tmp, name, static_cast<size_t>(namelen)) > static_cast<size_t>(namelen))
    return fail(WSAEFAULT);
  return 0;
}

}  // extern "C"
