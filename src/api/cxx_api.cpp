// The C++ interface's out-of-line part: the error category and the thin
// calls into the core. registration and completion share the layout of the
// C structures, so spans pass through without a copy.
#include <cstddef>
#include <string>
#include <system_error>

#include "api/error_messages.hpp"
#include "api/io_buffers.hpp"
#include "api/layout_checks.hpp"
#include "core/api.hpp"
#include "core/overlapped_status.hpp"
#include "psn/psn.h"
#include "psn/psn.hpp"

// The overlapped calls of psn-win32 (src/win32/overlapped.cpp), with their
// C signatures: the C++ operations go through the same validation.
namespace {
struct wsabuf {
  ULONG len;
  char* buf;
};
}  // namespace
extern "C" {
int WSARecv(SOCKET s, wsabuf* bufs, DWORD n, DWORD* bytes, DWORD* flags, OVERLAPPED* ov,
            void* routine);
int WSASend(SOCKET s, wsabuf* bufs, DWORD n, DWORD* bytes, DWORD flags, OVERLAPPED* ov,
            void* routine);
BOOL AcceptEx(SOCKET listener, SOCKET accepted, void* buf, DWORD recv_len, DWORD local_len,
              DWORD remote_len, DWORD* bytes, OVERLAPPED* ov);
BOOL ConnectEx(SOCKET s, const void* name, int namelen, void* send_buf, DWORD send_len,
               DWORD* bytes, OVERLAPPED* ov);
BOOL CancelIoEx(HANDLE h, OVERLAPPED* ov);
}

namespace psn {

namespace {

class psn_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "psn"; }
  std::string message(int code) const override {
    if (const api::error_message* m = api::find_error_message(code))
      return std::string(m->name) + ": " + m->text;
    return "psn error " + std::to_string(code);
  }
};

std::error_code make(std::uint32_t rc) noexcept {
  return {static_cast<int>(rc), category()};
}

}  // namespace

const std::error_category& category() noexcept {
  static const psn_category c;
  return c;
}

namespace detail {

std::error_code create(unsigned concurrency, backend b, handle* out) noexcept {
  psn::backends::kind k = psn::backends::kind::automatic;
  if (b == backend::epoll) k = psn::backends::kind::epoll;
  if (b == backend::io_uring) k = psn::backends::kind::io_uring;
  return make(core::create_port(concurrency, k, out));
}

std::error_code close(handle h) noexcept {
  return make(core::close_handle(h));
}

std::error_code post(handle h, std::uint32_t bytes, void* key, void* ov) noexcept {
  return make(core::post(h, bytes, reinterpret_cast<std::uintptr_t>(key), ov));
}

std::error_code process(handle h, std::span<registration> changes, std::span<completion> out,
                        std::uint32_t timeout_ms, std::size_t* received) noexcept {
  *received = 0;
  if (changes.size() > UINT32_MAX || out.size() > UINT32_MAX) return make(WSAEINVAL);
  std::uint32_t got = 0;
  // Empty spans may carry a non-null pointer; the core wants null for none.
  auto* regs =
      changes.empty() ? nullptr : reinterpret_cast<SOCK_NOTIFY_REGISTRATION*>(changes.data());
  auto* entries = out.empty() ? nullptr : reinterpret_cast<OVERLAPPED_ENTRY*>(out.data());
  std::uint32_t rc = core::process(
      h, static_cast<std::uint32_t>(changes.size()), regs, out.empty() ? 0 : timeout_ms,
      static_cast<std::uint32_t>(out.size()), entries, out.empty() ? nullptr : &got);
  *received = got;
  return rc == ERROR_SUCCESS ? std::error_code() : make(rc);
}

std::error_code close_socket(native_socket s) noexcept {
  return make(core::close_socket(s));
}

std::error_code associate(handle h, native_socket s, void* key) noexcept {
  return make(core::associate(s, h, reinterpret_cast<std::uintptr_t>(key)));
}

namespace {

OVERLAPPED* as_overlapped(io_operation& op) noexcept {
  return reinterpret_cast<OVERLAPPED*>(&op);
}

// A Winsock-style result: 0 (done at once) or the thread's last error.
std::error_code winsock_result(bool done, DWORD n, std::size_t* bytes) noexcept {
  if (!done) return make(GetLastError());  // io_pending or the error
  if (bytes) *bytes = n;
  return {};
}

}  // namespace

std::error_code start(native_socket s, io_kind k, const void* bufs, std::size_t n, io_operation& op,
                      std::size_t* bytes) noexcept {
  api::io_buffers<wsabuf> b;
  const bool ok = k == io_kind::receive ? b.set(static_cast<const mutable_buffer*>(bufs), n)
                                        : b.set(static_cast<const const_buffer*>(bufs), n);
  if (!ok || n > UINT32_MAX) return make(WSAENOBUFS);
  DWORD got = 0, flags = 0;
  const int rc =
      k == io_kind::receive
          ? WSARecv(s, b.data(), static_cast<DWORD>(n), &got, &flags, as_overlapped(op), nullptr)
          : WSASend(s, b.data(), static_cast<DWORD>(n), &got, 0, as_overlapped(op), nullptr);
  return winsock_result(rc == 0, got, bytes);
}

std::error_code start_accept(native_socket listener, native_socket accepted, mutable_buffer out,
                             std::size_t receive, io_operation& op, std::size_t* bytes) noexcept {
  // The two address slots share what `out` has beyond the first bytes.
  if (receive > out.size()) return make(WSAEINVAL);
  const std::size_t slot = (out.size() - receive) / 2;
  if (slot > UINT32_MAX || receive > UINT32_MAX) return make(WSAEINVAL);
  DWORD got = 0;
  const BOOL ok =
      AcceptEx(listener, accepted, out.data(), static_cast<DWORD>(receive),
               static_cast<DWORD>(slot), static_cast<DWORD>(slot), &got, as_overlapped(op));
  return winsock_result(ok != FALSE, got, bytes);
}

std::error_code start_connect(native_socket s, const void* addr, std::size_t len, const_buffer data,
                              io_operation& op, std::size_t* bytes) noexcept {
  if (len > INT32_MAX || data.size() > UINT32_MAX) return make(WSAEINVAL);
  DWORD got = 0;
  const BOOL ok = ConnectEx(s, addr, static_cast<int>(len), const_cast<std::byte*>(data.data()),
                            static_cast<DWORD>(data.size()), &got, as_overlapped(op));
  return winsock_result(ok != FALSE, got, bytes);
}

std::error_code cancel(native_socket s, io_operation* op) noexcept {
  const BOOL ok = CancelIoEx(reinterpret_cast<HANDLE>(s), op ? as_overlapped(*op) : nullptr);
  return ok ? std::error_code() : make(GetLastError());
}

std::error_code status_error(std::uintptr_t status) noexcept {
  const auto names = core::names_of_status(static_cast<std::uint32_t>(status));
  return names.win32 == 0 ? std::error_code() : make(names.win32);
}

backend backend_of(handle h) noexcept {
  switch (core::backend_of(h)) {
    case psn::backends::kind::epoll:
      return backend::epoll;
    case psn::backends::kind::io_uring:
      return backend::io_uring;
    default:
      return backend::automatic;
  }
}

port_stats stats(handle h) noexcept {
  core::port_counters c;
  port_stats s;
  if (core::stats(h, &c)) {
    s.packets_queued = c.packets_queued;
    s.packets_delivered = c.packets_delivered;
    s.kernel_entries = c.kernel_entries;
    s.changes_applied = c.changes_applied;
  }
  return s;
}

void throw_error(std::error_code ec, const char* what) {
  throw std::system_error(ec, what);
}

}  // namespace detail
}  // namespace psn
