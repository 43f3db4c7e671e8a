// Futex words and CLOCK_MONOTONIC deadlines for psn-win32's waits and locks
// (R8.6), over core/futex.hpp. Every timed wait takes an absolute deadline, so
// a signal (EINTR) or a spurious return simply waits again and never shortens
// or stretches the wait.
#pragma once

#include <time.h>

#include <cerrno>
#include <climits>
#include <cstdint>

#include "core/futex.hpp"

namespace psn::win32 {

using core::deadline_after;
using core::kInfinite;
using core::now_monotonic;

inline bool passed(const timespec& deadline) noexcept {
  timespec n = now_monotonic();
  return n.tv_sec > deadline.tv_sec ||
         (n.tv_sec == deadline.tv_sec && n.tv_nsec >= deadline.tv_nsec);
}

// How a futex wait ended.
enum class woke : std::uint8_t {
  up,           // woken, the word had changed already, or a spurious return
  interrupted,  // a signal handler ran (EINTR)
  timed_out,    // the absolute deadline has passed
};

// Sleeps while *w == expected, until woken or the absolute CLOCK_MONOTONIC
// deadline (nullptr: none). errno is left as it was.
inline woke futex_wait(void* w, std::uint32_t expected, const timespec* deadline) noexcept {
  int saved = errno;
  long r = core::futex_wait(w, expected, deadline);
  woke how = woke::up;
  if (r == -1 && errno == ETIMEDOUT) how = woke::timed_out;
  if (r == -1 && errno == EINTR) how = woke::interrupted;
  errno = saved;
  return how;
}

// Wakes up to n sleepers on w; returns how many were woken. errno is left as
// it was.
inline int futex_wake(void* w, int n) noexcept {
  int saved = errno;
  long r = core::futex_wake(w, n);
  errno = saved;
  return r > 0 ? static_cast<int>(r) : 0;
}

inline int futex_wake_all(void* w) noexcept {
  return futex_wake(w, INT_MAX);
}

}  // namespace psn::win32
