// Sleeping, clocks, GetSystemInfo and RaiseFailFastException of psn-win32
// (R8.6).

// The C++ library's min/max stay usable.
#define NOMINMAX

#include <sched.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "psn_win32/base.h"
#include "psn_win32/system.h"
#include "win32/sync_futex.hpp"

namespace psn::win32 {
namespace {

std::uint64_t monotonic_ns() noexcept {
  timespec t = now_monotonic();
  return static_cast<std::uint64_t>(t.tv_sec) * 1000000000u + static_cast<std::uint64_t>(t.tv_nsec);
}

void fill_system_info(LPSYSTEM_INFO si) noexcept {
  ZeroMemory(si, sizeof *si);
  long page = sysconf(_SC_PAGESIZE);
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus < 1) cpus = 1;
  si->dwPageSize = static_cast<DWORD>(page > 0 ? page : 4096);
  // Windows' lowest address; Linux's (vm.mmap_min_addr) is the same 64 KiB by
  // default.
  si->lpMinimumApplicationAddress = reinterpret_cast<LPVOID>(std::uintptr_t{0x10000});
  // The last byte of the usual user address space: 47 bits on x86-64, below
  // the kernel's guard page; 48 bits on arm64.
#if defined(__x86_64__)
  si->lpMaximumApplicationAddress = reinterpret_cast<LPVOID>(std::uintptr_t{0x00007FFFFFFFEFFF});
#elif defined(__aarch64__)
  si->lpMaximumApplicationAddress = reinterpret_cast<LPVOID>(std::uintptr_t{0x0000FFFFFFFFFFFF});
#else
  si->lpMaximumApplicationAddress = reinterpret_cast<LPVOID>(~std::uintptr_t{0} >> 1);
#endif
  si->dwNumberOfProcessors = static_cast<DWORD>(cpus);
  si->dwActiveProcessorMask =
      cpus >= 64 ? ~DWORD_PTR{0} : (DWORD_PTR{1} << static_cast<unsigned>(cpus)) - 1;
  // Windows' value; a multiple of every Linux page size, so whatever a program
  // aligns to it stays aligned.
  si->dwAllocationGranularity = 65536;
#if defined(__x86_64__) || defined(__i386__)
#if defined(__x86_64__)
  si->wProcessorArchitecture = PROCESSOR_ARCHITECTURE_AMD64;
  si->dwProcessorType = PROCESSOR_AMD_X8664;
#else
  si->wProcessorArchitecture = PROCESSOR_ARCHITECTURE_INTEL;
  si->dwProcessorType = PROCESSOR_INTEL_PENTIUM;
#endif
  // As Windows: the family, and (model << 8) | stepping, from CPUID leaf 1.
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(1, &a, &b, &c, &d)) {
    unsigned family = (a >> 8) & 0xF, model = (a >> 4) & 0xF, stepping = a & 0xF;
    if (family == 0xF) family += (a >> 20) & 0xFF;
    if (family == 0x6 || family >= 0xF) model |= ((a >> 16) & 0xF) << 4;
    si->wProcessorLevel = static_cast<WORD>(family);
    si->wProcessorRevision = static_cast<WORD>((model << 8) | stepping);
  }
#elif defined(__aarch64__)
  si->wProcessorArchitecture = PROCESSOR_ARCHITECTURE_ARM64;
#elif defined(__arm__)
  si->wProcessorArchitecture = PROCESSOR_ARCHITECTURE_ARM;
#else
  si->wProcessorArchitecture = PROCESSOR_ARCHITECTURE_UNKNOWN;
#endif
}

}  // namespace
}  // namespace psn::win32

using namespace psn::win32;

extern "C" {

VOID WINAPI Sleep(DWORD dwMilliseconds) {
  if (dwMilliseconds == 0) {
    sched_yield();  // as Windows: give up the rest of the time slice
    return;
  }
  if (dwMilliseconds == kInfinite) {
    for (;;) pause();
  }
  // An absolute deadline: a signal handler running meanwhile (EINTR) never
  // shortens the sleep, nor does resuming stretch it.
  timespec deadline = deadline_after(dwMilliseconds);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, nullptr) == EINTR) {
  }
}

DWORD WINAPI SleepEx(DWORD dwMilliseconds, BOOL /*alertable: no APCs on Linux*/) {
  Sleep(dwMilliseconds);
  return 0;
}

// sched_yield cannot tell whether another thread ran; say it did, so callers
// that fall back to Sleep(1) on FALSE do not sleep needlessly.
BOOL WINAPI SwitchToThread(void) {
  sched_yield();
  return TRUE;
}

DWORD WINAPI GetTickCount(void) {
  return static_cast<DWORD>(monotonic_ns() / 1000000u);
}

ULONGLONG WINAPI GetTickCount64(void) {
  return monotonic_ns() / 1000000u;
}

BOOL WINAPI QueryPerformanceCounter(LARGE_INTEGER* lpPerformanceCount) {
  lpPerformanceCount->QuadPart = static_cast<LONGLONG>(monotonic_ns() / 100u);
  return TRUE;
}

BOOL WINAPI QueryPerformanceFrequency(LARGE_INTEGER* lpFrequency) {
  lpFrequency->QuadPart = 10000000;  // 10 MHz: 100 ns ticks
  return TRUE;
}

VOID WINAPI GetSystemInfo(LPSYSTEM_INFO lpSystemInfo) {
  fill_system_info(lpSystemInfo);
}

VOID WINAPI GetNativeSystemInfo(LPSYSTEM_INFO lpSystemInfo) {
  fill_system_info(lpSystemInfo);
}

// Windows ends the process at once, running no exception handler; here no
// signal handler, atexit function or destructor runs either: SIGABRT with its
// default action (a core dump where those are enabled).
void WINAPI RaiseFailFastException(PEXCEPTION_RECORD, PCONTEXT, DWORD) {
  struct sigaction sa = {};
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGABRT, &sa, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGABRT);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  raise(SIGABRT);
  _exit(128 + SIGABRT);  // not reached
}

}  // extern "C"
