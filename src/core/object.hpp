// What a HANDLE names: a completion port, a thread or an event. They share
// one handle table (R3.2, R8.6), so CloseHandle and the wait functions take
// any of them and tell a stale value from a live one the same way.
#pragma once

#include <cstdint>

namespace psn::core {

class object {
 public:
  enum class kind : std::uint8_t { port, thread, event };

  explicit object(kind k) noexcept : kind_(k) {}
  object(const object&) = delete;
  object& operator=(const object&) = delete;
  virtual ~object() = default;

  kind type() const noexcept { return kind_; }

  // CloseHandle: the handle is already unusable when this runs. The object
  // itself lives on while references to it remain (a running thread holds
  // one on its own object).
  virtual void close() noexcept = 0;

 private:
  const kind kind_;
};

}  // namespace psn::core
