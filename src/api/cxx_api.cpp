// The C++ interface's out-of-line part: the error category and the thin
// calls into the core. registration and completion share the layout of the
// C structures, so spans pass through without a copy.
#include <cstddef>
#include <string>
#include <system_error>

#include "core/api.hpp"
#include "psn/psn.h"
#include "psn/psn.hpp"

namespace psn {

static_assert(sizeof(registration) == sizeof(SOCK_NOTIFY_REGISTRATION));
// R8.2: one SOCKET for both interfaces.
static_assert(std::is_same_v<native_socket, SOCKET> && invalid_socket == INVALID_SOCKET);
static_assert(offsetof(registration, socket) == offsetof(SOCK_NOTIFY_REGISTRATION, socket));
static_assert(offsetof(registration, key) == offsetof(SOCK_NOTIFY_REGISTRATION, completionKey));
static_assert(offsetof(registration, filter) == offsetof(SOCK_NOTIFY_REGISTRATION, eventFilter));
static_assert(offsetof(registration, op) == offsetof(SOCK_NOTIFY_REGISTRATION, operation));
static_assert(offsetof(registration, trigger_flags) ==
              offsetof(SOCK_NOTIFY_REGISTRATION, triggerFlags));
static_assert(offsetof(registration, result) ==
              offsetof(SOCK_NOTIFY_REGISTRATION, registrationResult));
static_assert(sizeof(completion) == sizeof(OVERLAPPED_ENTRY));
static_assert(offsetof(completion, key) == offsetof(OVERLAPPED_ENTRY, lpCompletionKey));
static_assert(offsetof(completion, overlapped) == offsetof(OVERLAPPED_ENTRY, lpOverlapped));
static_assert(offsetof(completion, internal) == offsetof(OVERLAPPED_ENTRY, Internal));
static_assert(offsetof(completion, bytes) ==
              offsetof(OVERLAPPED_ENTRY, dwNumberOfBytesTransferred));
static_assert(static_cast<unsigned>(event::in) == SOCK_NOTIFY_EVENT_IN &&
              static_cast<unsigned>(event::out) == SOCK_NOTIFY_EVENT_OUT &&
              static_cast<unsigned>(event::hangup) == SOCK_NOTIFY_EVENT_HANGUP &&
              static_cast<unsigned>(event::error) == SOCK_NOTIFY_EVENT_ERR &&
              static_cast<unsigned>(event::remove) == SOCK_NOTIFY_EVENT_REMOVE);
static_assert(static_cast<unsigned>(operation::enable) == SOCK_NOTIFY_OP_ENABLE &&
              static_cast<unsigned>(operation::disable) == SOCK_NOTIFY_OP_DISABLE &&
              static_cast<unsigned>(operation::remove) == SOCK_NOTIFY_OP_REMOVE);
static_assert(static_cast<unsigned>(trigger::oneshot) == SOCK_NOTIFY_TRIGGER_ONESHOT &&
              static_cast<unsigned>(trigger::persistent) == SOCK_NOTIFY_TRIGGER_PERSISTENT &&
              static_cast<unsigned>(trigger::level) == SOCK_NOTIFY_TRIGGER_LEVEL &&
              static_cast<unsigned>(trigger::edge) == SOCK_NOTIFY_TRIGGER_EDGE);

namespace {

class psn_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "psn"; }
  std::string message(int code) const override {
    switch (code) {
      case 0:
        return "ERROR_SUCCESS: success";
      case ERROR_INVALID_HANDLE:
        return "ERROR_INVALID_HANDLE: not an open port";
      case ERROR_NOT_ENOUGH_MEMORY:
        return "ERROR_NOT_ENOUGH_MEMORY: out of memory";
      case ERROR_NOT_SUPPORTED:
        return "ERROR_NOT_SUPPORTED: not supported";
      case ERROR_INVALID_PARAMETER:
        return "ERROR_INVALID_PARAMETER: invalid parameter";
      case WAIT_TIMEOUT:
        return "WAIT_TIMEOUT: the wait timed out";
      case ERROR_ABANDONED_WAIT_0:
        return "ERROR_ABANDONED_WAIT_0: the port was closed";
      case ERROR_NOT_FOUND:
        return "ERROR_NOT_FOUND: no registration for this socket";
      case WSAEFAULT:
        return "WSAEFAULT: bad address";
      case WSAEINVAL:
        return "WSAEINVAL: invalid argument";
      case WSAEWOULDBLOCK:
        return "WSAEWOULDBLOCK: operation would block";
      case WSAENOTSOCK:
        return "WSAENOTSOCK: not a socket";
      case WSAENOBUFS:
        return "WSAENOBUFS: no buffer space available";
      default:
        return "psn error " + std::to_string(code);
    }
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
