// Futex words and CLOCK_MONOTONIC deadlines for psn-win32's waits and locks
// (R8.6). Every timed wait takes an absolute deadline, so a signal (EINTR) or a
// spurious return simply waits again and never shortens or stretches the wait.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>

namespace psn::win32 {

constexpr std::uint32_t kInfinite = 0xFFFFFFFFu;

inline timespec now_monotonic() noexcept {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t;
}

inline timespec deadline_after(std::uint32_t ms) noexcept {
  timespec t = now_monotonic();
  t.tv_sec += ms / 1000;
  t.tv_nsec += static_cast<long>(ms % 1000) * 1000000L;
  if (t.tv_nsec >= 1000000000L) {
    t.tv_sec += 1;
    t.tv_nsec -= 1000000000L;
  }
  return t;
}

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
  long r = syscall(SYS_futex, static_cast<std::uint32_t*>(w), FUTEX_WAIT_BITSET_PRIVATE, expected,
                   deadline, nullptr, FUTEX_BITSET_MATCH_ANY);
  woke how = woke::up;
  if (r == -1 && errno == ETIMEDOUT) how = woke::timed_out;
  if (r == -1 && errno == EINTR) how = woke::interrupted;
  errno = saved;
  return how;
}

// Wakes up to n sleepers on w; returns how many were woken.
inline int futex_wake(void* w, int n) noexcept {
  int saved = errno;
  long r = syscall(SYS_futex, static_cast<std::uint32_t*>(w), FUTEX_WAKE_PRIVATE, n, nullptr,
                   nullptr, 0);
  errno = saved;
  return r > 0 ? static_cast<int>(r) : 0;
}

inline int futex_wake_all(void* w) noexcept {
  return futex_wake(w, INT_MAX);
}

}  // namespace psn::win32
