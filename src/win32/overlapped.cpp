// Overlapped socket I/O (SPEC 9): WSARecv, WSASend and their -From/-To
// forms, AcceptEx, ConnectEx, DisconnectEx, GetAcceptExSockaddrs, the
// extension-function table of WSAIoctl, GetOverlappedResult and
// WSAGetOverlappedResult, SetFileCompletionNotificationModes, CancelIo and
// CancelIoEx. This layer validates and translates; the operations run in
// the port's engine (src/core/overlapped_io.cpp).
//
// Like winsock.cpp, this file includes the Linux headers, never the public
// winsock.h: WSABUF and GUID are mirrored below.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

#include "core/api.hpp"
#include "core/overlapped_status.hpp"
#include "psn_win32/base.h"
#include "win32/error_table.hpp"
#include "win32/winsock_util.hpp"

// The BSD calls of winsock.cpp, for the calls without an OVERLAPPED.
extern "C" {
PSN_API int psn_ws_recvfrom(SOCKET s, char* buf, int len, int flags, sockaddr* from,
                            int* fromlen) noexcept;
PSN_API int psn_ws_sendto(SOCKET s, const char* buf, int len, int flags, const sockaddr* to,
                          int tolen) noexcept;
PSN_API int psn_ws_send(SOCKET s, const char* buf, int len, int flags) noexcept;
}

namespace {

using namespace psn::win32;
using psn::core::io_request;
using psn::core::io_result;

// WSABUF: a 32-bit length, then the pointer (Windows' layout).
struct ws_buf {
  std::uint32_t len;
  char* buf;
};
static_assert(sizeof(ws_buf) == 16 && offsetof(ws_buf, buf) == 8);

constexpr std::uint32_t kMaxBuffers = 1024;  // IOV_MAX
// From winsock.h and system.h, which this file does not include.
constexpr DWORD kTfReuseSocket = 0x02;
constexpr UCHAR kSkipCompletionPortOnSuccess = 0x1, kSkipSetEventOnHandle = 0x2;
constexpr unsigned kStackBuffers = 16;

// The buffers as iovecs: on the stack for the usual few, else on the heap.
class iov_array {
 public:
  // False (with *err set) for a bad array.
  bool set(const ws_buf* b, DWORD n, DWORD* err) noexcept {
    if (b == nullptr || n == 0) return (*err = WSAEFAULT, false);
    if (n > kMaxBuffers) return (*err = WSAENOBUFS, false);
    if (n > kStackBuffers) {
      heap_ = new (std::nothrow) iovec[n];
      if (!heap_) return (*err = WSAENOBUFS, false);
    }
    iovec* v = data();
    for (DWORD i = 0; i < n; ++i) {
      if (b[i].buf == nullptr && b[i].len != 0) return (*err = WSAEFAULT, false);
      v[i].iov_base = b[i].buf;
      v[i].iov_len = b[i].len;
    }
    n_ = n;
    return true;
  }
  ~iov_array() { delete[] heap_; }
  iovec* data() noexcept { return heap_ ? heap_ : stack_; }
  std::uint32_t size() const noexcept { return n_; }

 private:
  iovec stack_[kStackBuffers];
  iovec* heap_ = nullptr;
  std::uint32_t n_ = 0;
};

// Starts an operation; an unassociated descriptor that is no socket at all
// is WSAENOTSOCK (checked only then, off the common path).
void start(SOCKET s, const io_request& rq, io_result* r) noexcept {
  psn::core::start_io(s, rq, r);
  if (r->err == WSAEINVAL && !is_socket(fd_of(s))) r->err = WSAENOTSOCK;
}

// The result of a started operation as Winsock returns it (R9.3).
int finish(const io_result& r, DWORD* bytes) noexcept {
  if (r.err == 0) {
    if (bytes) *bytes = r.bytes;
    return 0;
  }
  return fail(r.err);  // WSA_IO_PENDING, or the error it failed with at once
}
BOOL finish_bool(const io_result& r, DWORD* bytes) noexcept {
  return finish(r, bytes) == 0 ? TRUE : FALSE;
}

// The largest address a socket of this family has (AcceptEx's slots hold
// one plus 16 bytes, as on Windows).
socklen_t address_room(int family) noexcept {
  switch (family) {
    case AF_INET:
      return sizeof(sockaddr_in);
    case AF_INET6:
      return sizeof(sockaddr_in6);
    default:
      return sizeof(sockaddr_un);
  }
}

// An address's length as AcceptEx stored it. The slot may be unaligned
// (it follows the first bytes), so it is read byte-wise.
int stored_length(const sockaddr* sa, DWORD slot) noexcept {
  sa_family_t family;
  std::memcpy(&family, sa, sizeof family);
  switch (family) {
    case AF_INET:
      return sizeof(sockaddr_in);
    case AF_INET6:
      return sizeof(sockaddr_in6);
    case AF_UNIX: {
      const char* path = reinterpret_cast<const char*>(sa) + offsetof(sockaddr_un, sun_path);
      const std::size_t room =
          slot > offsetof(sockaddr_un, sun_path) ? slot - offsetof(sockaddr_un, sun_path) : 0;
      return static_cast<int>(offsetof(sockaddr_un, sun_path) + strnlen(path, room));
    }
    default:
      return 0;
  }
}

// Common checks of an overlapped call on s. Returns 0 or the error. No
// system call: an operation needs an association, which only a socket can
// have, and a number reused since by something else fails in the kernel.
DWORD check_overlapped(int fd, const OVERLAPPED* ov, const void* routine) noexcept {
  if (fd < 0) return WSAENOTSOCK;
  if (routine != nullptr) return WSAEOPNOTSUPP;  // completion routines need APCs (SPEC 10)
  if (ov == nullptr) return WSAEFAULT;
  return 0;
}

int recv_common(SOCKET s, ws_buf* bufs, DWORD n, DWORD* bytes, DWORD* flags, sockaddr* from,
                int* fromlen, OVERLAPPED* ov, void* routine) noexcept {
  const int fd = fd_of(s);
  if (flags == nullptr) return fail(WSAEFAULT);
  if (from != nullptr && (fromlen == nullptr || *fromlen < 0)) return fail(WSAEFAULT);
  if (ov == nullptr && routine == nullptr) {
    // A plain call. One buffer goes through recvfrom, with its error rules.
    if (bufs == nullptr || n == 0) return fail(WSAEFAULT);
    if (n == 1) {
      if (bufs[0].len > static_cast<std::uint32_t>(INT_MAX)) return fail(WSAEFAULT);
      int got = psn_ws_recvfrom(s, bufs[0].buf, static_cast<int>(bufs[0].len),
                                static_cast<int>(*flags), from, fromlen);
      if (got < 0) return SOCKET_ERROR;
      if (bytes) *bytes = static_cast<DWORD>(got);
      *flags = 0;
      return 0;
    }
  }
  if (DWORD e = check_overlapped(fd, ov, routine); e != 0 && ov != nullptr) return fail(e);
  if (routine != nullptr) return fail(WSAEOPNOTSUPP);
  if ((*flags & MSG_WAITALL) != 0 && ov != nullptr) return fail(WSAEOPNOTSUPP);
  iov_array iov;
  DWORD err = 0;
  if (!iov.set(bufs, n, &err)) return fail(err);
  if (ov == nullptr) {
    // Several buffers, no OVERLAPPED: one recvmsg.
    msghdr m{};
    sockaddr_storage ss{};
    if (from) {
      m.msg_name = &ss;
      m.msg_namelen = sizeof ss;
    }
    m.msg_iov = iov.data();
    m.msg_iovlen = iov.size();
    ssize_t got;
    do {
      got = ::recvmsg(fd, &m, static_cast<int>(*flags));
    } while (got < 0 && errno == EINTR);
    if (got < 0) return fail(errno == EAGAIN ? WSAEWOULDBLOCK : wsa_from_errno(errno));
    if (from) {
      const socklen_t room = static_cast<socklen_t>(*fromlen);
      std::memcpy(from, &ss, m.msg_namelen < room ? m.msg_namelen : room);
      *fromlen = static_cast<int>(m.msg_namelen);
    }
    if (bytes) *bytes = static_cast<DWORD>(got);
    *flags = (m.msg_flags & MSG_TRUNC) ? 0x8000u : 0u;
    return (m.msg_flags & MSG_TRUNC) ? fail(WSAEMSGSIZE) : 0;
  }
  io_request rq;
  rq.what = io_request::type::recv;
  rq.bufs = iov.data();
  rq.nbufs = iov.size();
  rq.msg_flags = static_cast<int>(*flags);
  rq.from = from;
  rq.fromlen = fromlen;
  rq.flags_out = flags;
  rq.ov = ov;
  io_result r;
  start(s, rq, &r);
  return finish(r, bytes);
}

int send_common(SOCKET s, ws_buf* bufs, DWORD n, DWORD* bytes, DWORD flags, const sockaddr* to,
                int tolen, OVERLAPPED* ov, void* routine) noexcept {
  const int fd = fd_of(s);
  if (ov == nullptr && routine == nullptr && bufs != nullptr && n == 1) {
    if (bufs[0].len > static_cast<std::uint32_t>(INT_MAX)) return fail(WSAEFAULT);
    int sent =
        to ? psn_ws_sendto(s, bufs[0].buf, static_cast<int>(bufs[0].len), static_cast<int>(flags),
                           to, tolen)
           : psn_ws_send(s, bufs[0].buf, static_cast<int>(bufs[0].len), static_cast<int>(flags));
    if (sent < 0) return SOCKET_ERROR;
    if (bytes) *bytes = static_cast<DWORD>(sent);
    return 0;
  }
  if (DWORD e = check_overlapped(fd, ov, routine); e != 0 && ov != nullptr) return fail(e);
  if (routine != nullptr) return fail(WSAEOPNOTSUPP);
  if (to != nullptr && (tolen < static_cast<int>(sizeof(sa_family_t)) ||
                        tolen > static_cast<int>(sizeof(sockaddr_storage))))
    return fail(WSAEFAULT);
  iov_array iov;
  DWORD err = 0;
  if (!iov.set(bufs, n, &err)) return fail(err);
  if (ov == nullptr) {
    msghdr m{};
    if (to) {
      m.msg_name = const_cast<sockaddr*>(to);
      m.msg_namelen = static_cast<socklen_t>(tolen);
    }
    m.msg_iov = iov.data();
    m.msg_iovlen = iov.size();
    ssize_t sent;
    do {
      sent = ::sendmsg(fd, &m, static_cast<int>(flags) | MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0)
      return fail(errno == EAGAIN  ? WSAEWOULDBLOCK
                  : errno == EPIPE ? WSAECONNRESET
                                   : wsa_from_errno(errno));
    if (bytes) *bytes = static_cast<DWORD>(sent);
    return 0;
  }
  io_request rq;
  rq.what = io_request::type::send;
  rq.bufs = iov.data();
  rq.nbufs = iov.size();
  rq.msg_flags = static_cast<int>(flags);
  rq.to = to;
  rq.tolen = to ? static_cast<socklen_t>(tolen) : 0;
  rq.ov = ov;
  io_result r;
  start(s, rq, &r);
  return finish(r, bytes);
}

// The status an OVERLAPPED holds, for the *GetOverlappedResult pair:
// false while the operation is under way and the caller does not wait.
// Waiting drives the socket's port meanwhile (nobody else may be).
bool settled(SOCKET s, OVERLAPPED* ov, BOOL wait) noexcept {
  if (static_cast<DWORD>(ov->Internal) != psn::core::kStatusPending) return true;
  if (!wait) return false;
  long delay_us = 50;
  for (;;) {
    psn::core::poll_io(s);
    if (static_cast<DWORD>(__atomic_load_n(&ov->Internal, __ATOMIC_ACQUIRE)) !=
        psn::core::kStatusPending)
      return true;
    timespec ts{0, delay_us * 1000};
    ::nanosleep(&ts, nullptr);
    if (delay_us < 2000) delay_us *= 2;
  }
}

}  // namespace

extern "C" {

PSN_API BOOL AcceptEx(SOCKET listener, SOCKET accepted, void* buf, DWORD recv_len, DWORD local_len,
                      DWORD remote_len, DWORD* bytes, OVERLAPPED* ov);
PSN_API void GetAcceptExSockaddrs(void* buf, DWORD recv_len, DWORD local_len, DWORD remote_len,
                                  sockaddr** local, int* local_size, sockaddr** remote,
                                  int* remote_size);
PSN_API BOOL ConnectEx(SOCKET s, const sockaddr* name, int namelen, void* send_buf, DWORD send_len,
                       DWORD* bytes, OVERLAPPED* ov);
PSN_API BOOL DisconnectEx(SOCKET s, OVERLAPPED* ov, DWORD flags, DWORD reserved);

PSN_API int WSARecv(SOCKET s, void* bufs, DWORD n, DWORD* bytes, DWORD* flags, OVERLAPPED* ov,
                    void* routine) {
  return recv_common(s, static_cast<ws_buf*>(bufs), n, bytes, flags, nullptr, nullptr, ov, routine);
}

PSN_API int WSARecvFrom(SOCKET s, void* bufs, DWORD n, DWORD* bytes, DWORD* flags, sockaddr* from,
                        int* fromlen, OVERLAPPED* ov, void* routine) {
  return recv_common(s, static_cast<ws_buf*>(bufs), n, bytes, flags, from, fromlen, ov, routine);
}

PSN_API int WSASend(SOCKET s, void* bufs, DWORD n, DWORD* bytes, DWORD flags, OVERLAPPED* ov,
                    void* routine) {
  return send_common(s, static_cast<ws_buf*>(bufs), n, bytes, flags, nullptr, 0, ov, routine);
}

PSN_API int WSASendTo(SOCKET s, void* bufs, DWORD n, DWORD* bytes, DWORD flags, const sockaddr* to,
                      int tolen, OVERLAPPED* ov, void* routine) {
  return send_common(s, static_cast<ws_buf*>(bufs), n, bytes, flags, to, tolen, ov, routine);
}

PSN_API BOOL AcceptEx(SOCKET listener, SOCKET accepted, void* buf, DWORD recv_len, DWORD local_len,
                      DWORD remote_len, DWORD* bytes, OVERLAPPED* ov) {
  const int lfd = fd_of(listener), afd = fd_of(accepted);
  if (!is_socket(lfd) || !is_socket(afd)) return fail(WSAENOTSOCK), FALSE;
  if (ov == nullptr || buf == nullptr) return fail(WSAEFAULT), FALSE;
  if (int_option(lfd, SOL_SOCKET, SO_ACCEPTCONN) != 1) return fail(WSAEINVAL), FALSE;
  const int family = int_option(lfd, SOL_SOCKET, SO_DOMAIN);
  if (int_option(afd, SOL_SOCKET, SO_DOMAIN) != family) return fail(WSAEINVAL), FALSE;
  const DWORD room = static_cast<DWORD>(address_room(family)) + 16;
  if (local_len < room || remote_len < room) return fail(WSAEINVAL), FALSE;
  // The accept socket must be fresh: neither connected nor listening.
  sockaddr_storage ss;
  socklen_t l = sizeof ss;
  if (::getpeername(afd, reinterpret_cast<sockaddr*>(&ss), &l) == 0 ||
      int_option(afd, SOL_SOCKET, SO_ACCEPTCONN) == 1)
    return fail(WSAEINVAL), FALSE;
  io_request rq;
  rq.what = io_request::type::accept;
  rq.accept_fd = afd;
  rq.accept_buf = static_cast<char*>(buf);
  rq.accept_recv = recv_len;
  rq.accept_local = local_len;
  rq.accept_remote = remote_len;
  rq.ov = ov;
  io_result r;
  start(listener, rq, &r);
  return finish_bool(r, bytes);
}

PSN_API void GetAcceptExSockaddrs(void* buf, DWORD recv_len, DWORD local_len, DWORD remote_len,
                                  sockaddr** local, int* local_size, sockaddr** remote,
                                  int* remote_size) {
  char* slots = static_cast<char*>(buf) + recv_len;
  auto* lsa = reinterpret_cast<sockaddr*>(slots);
  auto* rsa = reinterpret_cast<sockaddr*>(slots + local_len);
  if (local) *local = lsa;
  if (local_size) *local_size = stored_length(lsa, local_len);
  if (remote) *remote = rsa;
  if (remote_size) *remote_size = stored_length(rsa, remote_len);
}

PSN_API BOOL ConnectEx(SOCKET s, const sockaddr* name, int namelen, void* send_buf, DWORD send_len,
                       DWORD* bytes, OVERLAPPED* ov) {
  const int fd = fd_of(s);
  if (!is_socket(fd)) return fail(WSAENOTSOCK), FALSE;
  if (ov == nullptr || name == nullptr || namelen < static_cast<int>(sizeof(sa_family_t)) ||
      namelen > static_cast<int>(sizeof(sockaddr_storage)) || (send_len && !send_buf))
    return fail(WSAEFAULT), FALSE;
  if (int_option(fd, SOL_SOCKET, SO_TYPE) != SOCK_STREAM) return fail(WSAEINVAL), FALSE;
  // R9.7: ConnectEx needs a bound socket, as on Windows.
  sockaddr_storage ss{};
  socklen_t l = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &l) != 0) return fail(WSAEINVAL), FALSE;
  if ((ss.ss_family == AF_INET && reinterpret_cast<sockaddr_in*>(&ss)->sin_port == 0) ||
      (ss.ss_family == AF_INET6 && reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port == 0) ||
      (ss.ss_family == AF_UNIX && l <= offsetof(sockaddr_un, sun_path)))
    return fail(WSAEINVAL), FALSE;
  sockaddr_storage peer;
  l = sizeof peer;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &l) == 0)
    return fail(WSAEISCONN), FALSE;
  iovec v{send_buf, send_len};
  io_request rq;
  rq.what = io_request::type::connect;
  rq.to = name;
  rq.tolen = static_cast<socklen_t>(namelen);
  rq.bufs = send_len ? &v : nullptr;
  rq.nbufs = send_len ? 1 : 0;
  rq.ov = ov;
  io_result r;
  start(s, rq, &r);
  return finish_bool(r, bytes);
}

PSN_API BOOL DisconnectEx(SOCKET s, OVERLAPPED* ov, DWORD flags, DWORD reserved) {
  const int fd = fd_of(s);
  if (!is_socket(fd)) return fail(WSAENOTSOCK), FALSE;
  if (reserved != 0 || (flags & ~kTfReuseSocket) != 0) return fail(WSAEINVAL), FALSE;
  if (ov == nullptr) {
    if (::shutdown(fd, SHUT_WR) != 0) return fail(wsa_from_errno(errno)), FALSE;
    if (flags & kTfReuseSocket) {
      sockaddr unspec{};
      unspec.sa_family = AF_UNSPEC;
      ::connect(fd, &unspec, sizeof unspec);
    }
    return TRUE;
  }
  io_request rq;
  rq.what = io_request::type::disconnect;
  rq.msg_flags = static_cast<int>(flags);
  rq.ov = ov;
  io_result r;
  start(s, rq, &r);
  return finish_bool(r, nullptr);
}

PSN_API BOOL WSAGetOverlappedResult(SOCKET s, OVERLAPPED* ov, DWORD* bytes, BOOL wait,
                                    DWORD* flags) {
  if (ov == nullptr || bytes == nullptr || flags == nullptr) return fail(WSAEFAULT), FALSE;
  if (!is_socket(fd_of(s))) return fail(WSAENOTSOCK), FALSE;
  if (!settled(s, ov, wait)) return fail(WSA_IO_INCOMPLETE), FALSE;
  *bytes = static_cast<DWORD>(ov->InternalHigh);
  *flags = ov->Offset;
  const auto names = psn::core::names_of_status(static_cast<std::uint32_t>(ov->Internal));
  return names.ntstatus == 0 ? TRUE : (fail(names.wsa), FALSE);
}

PSN_API BOOL GetOverlappedResult(HANDLE h, OVERLAPPED* ov, DWORD* bytes, BOOL wait) {
  const auto s = reinterpret_cast<SOCKET>(h);
  if (ov == nullptr || bytes == nullptr) return fail(ERROR_INVALID_PARAMETER), FALSE;
  if (!is_socket(fd_of(s))) return fail(ERROR_INVALID_HANDLE), FALSE;
  if (!settled(s, ov, wait)) return fail(ERROR_IO_INCOMPLETE), FALSE;
  *bytes = static_cast<DWORD>(ov->InternalHigh);
  const auto names = psn::core::names_of_status(static_cast<std::uint32_t>(ov->Internal));
  return names.ntstatus == 0 ? TRUE : (fail(names.win32), FALSE);
}

PSN_API BOOL SetFileCompletionNotificationModes(HANDLE h, UCHAR modes) {
  if (modes & ~(kSkipCompletionPortOnSuccess | kSkipSetEventOnHandle))
    return fail(ERROR_INVALID_PARAMETER), FALSE;
  DWORD rc = psn::core::set_completion_modes(reinterpret_cast<SOCKET>(h), modes);
  return rc == ERROR_SUCCESS ? TRUE : (fail(rc), FALSE);
}

PSN_API BOOL CancelIoEx(HANDLE h, OVERLAPPED* ov) {
  const auto s = reinterpret_cast<SOCKET>(h);
  if (!is_socket(fd_of(s))) return fail(ERROR_INVALID_HANDLE), FALSE;
  DWORD rc = psn::core::cancel_io(s, ov);
  return rc == ERROR_SUCCESS ? TRUE : (fail(rc), FALSE);
}

PSN_API BOOL CancelIo(HANDLE h) {
  const auto s = reinterpret_cast<SOCKET>(h);
  if (!is_socket(fd_of(s))) return fail(ERROR_INVALID_HANDLE), FALSE;
  psn::core::cancel_io(s, nullptr);  // nothing under way is not a failure here
  return TRUE;
}

}  // extern "C"

namespace psn::win32 {

const void* extension_function(const void* guid) noexcept {
  struct entry {
    std::uint8_t id[16];
    const void* fn;
  };
  // The GUIDs in memory order (Data1..3 little-endian, then Data4).
  static const entry kTable[] = {
      {{0xf1, 0x7d, 0x36, 0xb5, 0xac, 0xcb, 0xcf, 0x11, 0x95, 0xca, 0x00, 0x80, 0x5f, 0x48, 0xa1,
        0x92},
       reinterpret_cast<const void*>(&AcceptEx)},
      {{0xf2, 0x7d, 0x36, 0xb5, 0xac, 0xcb, 0xcf, 0x11, 0x95, 0xca, 0x00, 0x80, 0x5f, 0x48, 0xa1,
        0x92},
       reinterpret_cast<const void*>(&GetAcceptExSockaddrs)},
      {{0xb9, 0x07, 0xa2, 0x25, 0xf3, 0xdd, 0x60, 0x46, 0x8e, 0xe9, 0x76, 0xe5, 0x8c, 0x74, 0x06,
        0x3e},
       reinterpret_cast<const void*>(&ConnectEx)},
      {{0x11, 0x2e, 0xda, 0x7f, 0x30, 0x86, 0x6f, 0x43, 0xa0, 0x31, 0xf5, 0x36, 0xa6, 0xee, 0xc1,
        0x57},
       reinterpret_cast<const void*>(&DisconnectEx)},
  };
  for (const entry& e : kTable)
    if (std::memcmp(e.id, guid, 16) == 0) return e.fn;
  return nullptr;
}

}  // namespace psn::win32
