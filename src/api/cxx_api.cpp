// The C++ interface's out-of-line part: the error category and the thin
// calls into the core. registration and completion share the layout of the
// C structures, so spans pass through without a copy.
#include <cstddef>
#include <string>
#include <system_error>

#include "api/error_messages.hpp"
#include "api/layout_checks.hpp"
#include "core/api.hpp"
#include "psn/psn.h"
#include "psn/psn.hpp"

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
