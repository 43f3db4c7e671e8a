// CLOCK_MONOTONIC deadlines and futex words, for the port's waits (R3.7, R3.8)
// and psn-win32's waits and locks (R8.6, win32/sync_futex.hpp). Every timed
// wait takes an absolute deadline, so a signal (EINTR) or a spurious return
// simply waits again and never shortens or stretches the wait.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>

namespace psn::core {

// A time-out in milliseconds that never runs out (INFINITE).
constexpr std::uint32_t kInfinite = 0xFFFFFFFFu;

inline timespec now_monotonic() noexcept {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t;
}

inline timespec add_ms(timespec t, std::uint32_t ms) noexcept {
  t.tv_sec += ms / 1000;
  t.tv_nsec += static_cast<long>(ms % 1000) * 1000000L;
  if (t.tv_nsec >= 1000000000L) {
    t.tv_sec += 1;
    t.tv_nsec -= 1000000000L;
  }
  return t;
}

// The CLOCK_MONOTONIC time `ms` milliseconds from now.
inline timespec deadline_after(std::uint32_t ms) noexcept {
  return add_ms(now_monotonic(), ms);
}

// Sleeps while the 32-bit word at w equals expected, until woken, a signal,
// a spurious return or the absolute CLOCK_MONOTONIC deadline (nullptr: none).
// Returns the system call's result: 0, or -1 with errno set (ETIMEDOUT,
// EINTR, EAGAIN).
inline long futex_wait(void* w, std::uint32_t expected, const timespec* deadline) noexcept {
  // FUTEX_WAIT_BITSET takes an absolute deadline, where FUTEX_WAIT takes a
  // relative one.
  return syscall(SYS_futex, static_cast<std::uint32_t*>(w), FUTEX_WAIT_BITSET_PRIVATE, expected,
                 deadline, nullptr, FUTEX_BITSET_MATCH_ANY);
}

// Wakes up to n sleepers on the word at w. Returns the system call's result:
// how many were woken, or -1 with errno set.
inline long futex_wake(void* w, int n) noexcept {
  return syscall(SYS_futex, static_cast<std::uint32_t*>(w), FUTEX_WAKE_PRIVATE, n, nullptr, nullptr,
                 0);
}

}  // namespace psn::core
