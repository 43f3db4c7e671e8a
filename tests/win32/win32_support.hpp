// Helpers shared by the Win32 suites (test_win32_threads.cpp, test_win32_sync.cpp): the long,
// finite bound that waits which should end soon carry, and polling against it.
#pragma once

#include <windows.h>
// (the Windows header first, as a ported program has it)

#include <chrono>

namespace win32test {

using Clock = std::chrono::steady_clock;

// For waits that must succeed: far longer than they ever take.
constexpr DWORD kLongWait = 10000;

inline long long ms_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

// Polls pred for up to kLongWait; true once it holds.
template <class Pred>
bool eventually(Pred pred) {
  auto t0 = Clock::now();
  while (!pred()) {
    if (ms_since(t0) > kLongWait) return false;
    Sleep(1);
  }
  return true;
}

}  // namespace win32test
