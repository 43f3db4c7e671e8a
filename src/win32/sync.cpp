// SRW locks, critical sections and condition variables of psn-win32 (R8.6).
//
// Each lives entirely inside the Windows-sized structure the program owns
// (SRWLOCK and CONDITION_VARIABLE: one pointer; CRITICAL_SECTION: 40 bytes),
// so structures embedding them keep Windows' layout; a pthread object would
// not fit. They are built on futex words in that storage, nothing is
// allocated, and the all-zero _INIT value is a valid initial state.

// The C++ library's min/max stay usable.
#define NOMINMAX

#include <atomic>
#include <cstdint>
#include <cstdlib>

#include "psn_win32/base.h"
#include "psn_win32/system.h"
#include "win32/sync_futex.hpp"
#include "win32/wait_objects.hpp"

namespace psn::win32 {
namespace {

static_assert(sizeof(SRWLOCK) == sizeof(void*));
static_assert(sizeof(CONDITION_VARIABLE) == sizeof(void*));
static_assert(sizeof(CRITICAL_SECTION) == 40);
static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

// The 32-bit futex words inside a program's structure: the n-th at 4n bytes.
std::atomic<std::uint32_t>* word(void* storage, int n = 0) noexcept {
  return reinterpret_cast<std::atomic<std::uint32_t>*>(static_cast<char*>(storage) + 4 * n);
}

inline void cpu_relax() noexcept {
  YieldProcessor();
}

// ---- SRW lock ---------------------------------------------------------------------
//
// Two 32-bit words in the pointer's storage. The state word holds the number
// of readers (or all ones in the low 30 bits for a writer) and two flags:
// readers are sleeping, writers are sleeping. Readers sleep on the state word,
// writers on the second word, a counter bumped for each writer wake-up, so a
// release wakes one writer or all readers, never a crowd of writers. Writers
// go first: a reader does not join while a writer waits (so a shared
// acquisition must not recurse, as on Windows).

constexpr std::uint32_t kReadLocked = 1;
constexpr std::uint32_t kMask = (1u << 30) - 1;
constexpr std::uint32_t kWriteLocked = kMask;
constexpr std::uint32_t kMaxReaders = kMask - 1;
constexpr std::uint32_t kReadersWaiting = 1u << 30;
constexpr std::uint32_t kWritersWaiting = 1u << 31;

constexpr bool unlocked(std::uint32_t s) {
  return (s & kMask) == 0;
}
constexpr bool write_locked(std::uint32_t s) {
  return (s & kMask) == kWriteLocked;
}
constexpr bool readers_waiting(std::uint32_t s) {
  return (s & kReadersWaiting) != 0;
}
constexpr bool writers_waiting(std::uint32_t s) {
  return (s & kWritersWaiting) != 0;
}
constexpr bool read_lockable(std::uint32_t s) {
  return (s & kMask) < kMaxReaders && !readers_waiting(s) && !writers_waiting(s);
}

struct srw {
  std::atomic<std::uint32_t>* state;
  std::atomic<std::uint32_t>* writer_seq;
  explicit srw(PSRWLOCK l) noexcept : state(word(&l->Ptr, 0)), writer_seq(word(&l->Ptr, 1)) {}

  // Spins briefly while the lock is held and nobody sleeps yet: short holds
  // are common and a futex round trip costs more.
  template <class Stop>
  std::uint32_t spin_until(Stop stop) const noexcept {
    std::uint32_t s = state->load(std::memory_order_relaxed);
    for (int i = 0; i < 100 && !stop(s); ++i) {
      cpu_relax();
      s = state->load(std::memory_order_relaxed);
    }
    return s;
  }

  bool try_shared() noexcept {
    std::uint32_t s = state->load(std::memory_order_relaxed);
    while (read_lockable(s))
      if (state->compare_exchange_weak(s, s + kReadLocked, std::memory_order_acquire,
                                       std::memory_order_relaxed))
        return true;
    return false;
  }

  void shared() noexcept {
    std::uint32_t s = state->load(std::memory_order_relaxed);
    if (read_lockable(s) &&
        state->compare_exchange_weak(s, s + kReadLocked, std::memory_order_acquire,
                                     std::memory_order_relaxed))
      return;
    s = spin_until([](std::uint32_t v) {
      return !write_locked(v) || readers_waiting(v) || writers_waiting(v);
    });
    for (;;) {
      if (read_lockable(s)) {
        if (state->compare_exchange_weak(s, s + kReadLocked, std::memory_order_acquire,
                                         std::memory_order_relaxed))
          return;
        continue;
      }
      if ((s & kMask) == kMaxReaders) std::abort();  // 2^30 readers: cannot happen
      if (!readers_waiting(s)) {
        if (!state->compare_exchange_weak(s, s | kReadersWaiting, std::memory_order_relaxed))
          continue;
      }
      futex_wait(state, s | kReadersWaiting, nullptr);
      s = spin_until([](std::uint32_t v) {
        return !write_locked(v) || readers_waiting(v) || writers_waiting(v);
      });
    }
  }

  void release_shared() noexcept {
    std::uint32_t s = state->fetch_sub(kReadLocked, std::memory_order_release) - kReadLocked;
    // Readers sleep on a read-held lock only behind a sleeping writer.
    if (unlocked(s) && writers_waiting(s)) wake_writer_or_readers(s);
  }

  bool try_exclusive() noexcept {
    std::uint32_t s = state->load(std::memory_order_relaxed);
    while (unlocked(s))
      if (state->compare_exchange_weak(s, s | kWriteLocked, std::memory_order_acquire,
                                       std::memory_order_relaxed))
        return true;
    return false;
  }

  void exclusive() noexcept {
    std::uint32_t s = 0;
    if (state->compare_exchange_strong(s, kWriteLocked, std::memory_order_acquire,
                                       std::memory_order_relaxed))
      return;
    s = spin_until([](std::uint32_t v) { return unlocked(v) || writers_waiting(v); });
    // Once this writer has slept, others may still sleep: it keeps the
    // writers-waiting flag when it takes the lock, so its release wakes one.
    std::uint32_t keep = 0;
    for (;;) {
      if (unlocked(s)) {
        if (state->compare_exchange_weak(s, s | kWriteLocked | keep, std::memory_order_acquire,
                                         std::memory_order_relaxed))
          return;
        continue;
      }
      if (!writers_waiting(s)) {
        if (!state->compare_exchange_weak(s, s | kWritersWaiting, std::memory_order_relaxed))
          continue;
      }
      keep = kWritersWaiting;
      // Read the wake-up counter before looking at the state once more: a
      // release after this look bumps it, and the futex wait returns at once.
      std::uint32_t seq = writer_seq->load(std::memory_order_acquire);
      s = state->load(std::memory_order_relaxed);
      if (unlocked(s) || !writers_waiting(s)) continue;
      futex_wait(writer_seq, seq, nullptr);
      s = spin_until([](std::uint32_t v) { return unlocked(v) || writers_waiting(v); });
    }
  }

  void release_exclusive() noexcept {
    std::uint32_t s = state->fetch_sub(kWriteLocked, std::memory_order_release) - kWriteLocked;
    if (readers_waiting(s) || writers_waiting(s)) wake_writer_or_readers(s);
  }

  // True if a writer was asleep to be woken.
  bool wake_writer() noexcept {
    writer_seq->fetch_add(1, std::memory_order_release);
    return futex_wake(writer_seq, 1) > 0;
  }

  // The lock has just been released (s: its state, unlocked, with flags).
  void wake_writer_or_readers(std::uint32_t s) noexcept {
    if (s == kWritersWaiting) {
      if (state->compare_exchange_strong(s, 0, std::memory_order_relaxed)) {
        wake_writer();
        return;
      }
    }
    if (s == (kReadersWaiting | kWritersWaiting)) {
      if (state->compare_exchange_strong(s, kReadersWaiting, std::memory_order_relaxed)) {
        if (wake_writer()) return;
        // No writer was asleep after all: the readers go.
        s = kReadersWaiting;
      }
    }
    if (s == kReadersWaiting) {
      if (state->compare_exchange_strong(s, 0, std::memory_order_relaxed)) futex_wake_all(state);
    }
    // Otherwise someone took the lock meanwhile; its release wakes the rest.
  }
};

// ---- critical section ---------------------------------------------------------------
//
// LockCount is the lock word: 0 free, 1 held, 2 held and someone may sleep
// on it. OwningThread holds the owner's thread id and RecursionCount its
// depth, as on Windows; only the owner writes them while it holds the lock.

std::atomic<std::uint32_t>* cs_word(LPCRITICAL_SECTION cs) noexcept {
  return word(&cs->LockCount);
}

HANDLE owner_of(LPCRITICAL_SECTION cs) noexcept {
  return __atomic_load_n(&cs->OwningThread, __ATOMIC_RELAXED);
}

void set_owner(LPCRITICAL_SECTION cs, std::uint32_t tid) noexcept {
  __atomic_store_n(&cs->OwningThread, reinterpret_cast<HANDLE>(std::uintptr_t{tid}),
                   __ATOMIC_RELAXED);
}

HANDLE as_owner(std::uint32_t tid) noexcept {
  return reinterpret_cast<HANDLE>(std::uintptr_t{tid});
}

void cs_lock(LPCRITICAL_SECTION cs) noexcept {
  auto* w = cs_word(cs);
  std::uint32_t c = 0;
  if (w->compare_exchange_strong(c, 1, std::memory_order_acquire, std::memory_order_relaxed))
    return;
  const std::uint32_t spins = static_cast<std::uint32_t>(cs->SpinCount & 0x00FFFFFF);
  for (std::uint32_t i = 0; i < spins && c != 2; ++i) {
    cpu_relax();
    c = 0;
    if (w->compare_exchange_weak(c, 1, std::memory_order_acquire, std::memory_order_relaxed))
      return;
  }
  // From here on take it as "held with sleepers": whoever releases it wakes one.
  c = w->exchange(2, std::memory_order_acquire);
  while (c != 0) {
    futex_wait(w, 2, nullptr);
    c = w->exchange(2, std::memory_order_acquire);
  }
}

void cs_unlock(LPCRITICAL_SECTION cs) noexcept {
  auto* w = cs_word(cs);
  if (w->exchange(0, std::memory_order_release) == 2) futex_wake(w, 1);
}

void cs_init(LPCRITICAL_SECTION cs, DWORD spin) noexcept {
  // No debug block, as Windows 8 and later by default: DebugInfo is -1.
  cs->DebugInfo = reinterpret_cast<PRTL_CRITICAL_SECTION_DEBUG>(static_cast<std::intptr_t>(-1));
  cs->LockCount = 0;
  cs->RecursionCount = 0;
  cs->OwningThread = nullptr;
  cs->LockSemaphore = nullptr;
  cs->SpinCount = spin & 0x00FFFFFF;
}

// ---- condition variable -----------------------------------------------------------
//
// A sequence word: a sleeper reads it before releasing its lock and sleeps
// only while it is unchanged; every wake bumps it. So a wake between the
// release and the sleep is never lost. Spurious wake-ups are allowed, as on
// Windows.

enum class cv_result : std::uint8_t { woken, timed_out };

// Call after reading seq and releasing the lock.
cv_result cv_sleep(std::atomic<std::uint32_t>* cv, std::uint32_t seq, DWORD ms,
                   const timespec& deadline) noexcept {
  if (ms == 0) return cv_result::timed_out;
  for (;;) {
    woke how = futex_wait(cv, seq, ms == kInfinite ? nullptr : &deadline);
    if (how == woke::timed_out) return cv_result::timed_out;
    if (how == woke::up) return cv_result::woken;
    // A signal: sleep on unless a wake came meanwhile (never time out early).
    if (cv->load(std::memory_order_relaxed) != seq) return cv_result::woken;
  }
}

}  // namespace
}  // namespace psn::win32

using namespace psn::win32;

extern "C" {

// ---- SRW locks -----------------------------------------------------------------

VOID WINAPI InitializeSRWLock(PSRWLOCK SRWLock) {
  SRWLock->Ptr = nullptr;
}
VOID WINAPI AcquireSRWLockExclusive(PSRWLOCK SRWLock) {
  srw(SRWLock).exclusive();
}
VOID WINAPI AcquireSRWLockShared(PSRWLOCK SRWLock) {
  srw(SRWLock).shared();
}
VOID WINAPI ReleaseSRWLockExclusive(PSRWLOCK SRWLock) {
  srw(SRWLock).release_exclusive();
}
VOID WINAPI ReleaseSRWLockShared(PSRWLOCK SRWLock) {
  srw(SRWLock).release_shared();
}
BOOLEAN WINAPI TryAcquireSRWLockExclusive(PSRWLOCK SRWLock) {
  return srw(SRWLock).try_exclusive() ? TRUE : FALSE;
}
BOOLEAN WINAPI TryAcquireSRWLockShared(PSRWLOCK SRWLock) {
  return srw(SRWLock).try_shared() ? TRUE : FALSE;
}

// ---- critical sections -----------------------------------------------------------

VOID WINAPI InitializeCriticalSection(LPCRITICAL_SECTION lpCriticalSection) {
  cs_init(lpCriticalSection, 0);
}

BOOL WINAPI InitializeCriticalSectionAndSpinCount(LPCRITICAL_SECTION lpCriticalSection,
                                                  DWORD dwSpinCount) {
  cs_init(lpCriticalSection, dwSpinCount);
  return TRUE;
}

BOOL WINAPI InitializeCriticalSectionEx(LPCRITICAL_SECTION lpCriticalSection, DWORD dwSpinCount,
                                        DWORD /*Flags: debug-info choices only*/) {
  cs_init(lpCriticalSection, dwSpinCount);
  return TRUE;
}

DWORD WINAPI SetCriticalSectionSpinCount(LPCRITICAL_SECTION lpCriticalSection, DWORD dwSpinCount) {
  auto* spin = &lpCriticalSection->SpinCount;
  ULONG_PTR old = __atomic_exchange_n(spin, ULONG_PTR{dwSpinCount & 0x00FFFFFFu}, __ATOMIC_RELAXED);
  return static_cast<DWORD>(old & 0x00FFFFFF);
}

VOID WINAPI EnterCriticalSection(LPCRITICAL_SECTION lpCriticalSection) {
  std::uint32_t me = current_tid();
  if (owner_of(lpCriticalSection) == as_owner(me)) {
    ++lpCriticalSection->RecursionCount;
    return;
  }
  cs_lock(lpCriticalSection);
  set_owner(lpCriticalSection, me);
  lpCriticalSection->RecursionCount = 1;
}

BOOL WINAPI TryEnterCriticalSection(LPCRITICAL_SECTION lpCriticalSection) {
  std::uint32_t me = current_tid();
  if (owner_of(lpCriticalSection) == as_owner(me)) {
    ++lpCriticalSection->RecursionCount;
    return TRUE;
  }
  std::uint32_t c = 0;
  if (!cs_word(lpCriticalSection)
           ->compare_exchange_strong(c, 1, std::memory_order_acquire, std::memory_order_relaxed))
    return FALSE;
  set_owner(lpCriticalSection, me);
  lpCriticalSection->RecursionCount = 1;
  return TRUE;
}

VOID WINAPI LeaveCriticalSection(LPCRITICAL_SECTION lpCriticalSection) {
  if (--lpCriticalSection->RecursionCount > 0) return;
  lpCriticalSection->RecursionCount = 0;
  set_owner(lpCriticalSection, 0);
  cs_unlock(lpCriticalSection);
}

VOID WINAPI DeleteCriticalSection(LPCRITICAL_SECTION lpCriticalSection) {
  // Nothing was allocated; leave it as a zeroed, unusable-until-initialised block.
  lpCriticalSection->DebugInfo = nullptr;
  lpCriticalSection->LockCount = 0;
  lpCriticalSection->RecursionCount = 0;
  lpCriticalSection->OwningThread = nullptr;
  lpCriticalSection->LockSemaphore = nullptr;
  lpCriticalSection->SpinCount = 0;
}

// ---- condition variables -----------------------------------------------------------

VOID WINAPI InitializeConditionVariable(PCONDITION_VARIABLE ConditionVariable) {
  ConditionVariable->Ptr = nullptr;
}

BOOL WINAPI SleepConditionVariableSRW(PCONDITION_VARIABLE ConditionVariable, PSRWLOCK SRWLock,
                                      DWORD dwMilliseconds, ULONG Flags) {
  if (Flags & ~ULONG{CONDITION_VARIABLE_LOCKMODE_SHARED}) {
    SetLastError(ERROR_INVALID_PARAMETER);
    return FALSE;
  }
  const bool shared = Flags & CONDITION_VARIABLE_LOCKMODE_SHARED;
  const timespec deadline =
      dwMilliseconds == kInfinite ? timespec{} : deadline_after(dwMilliseconds);
  auto* cv = word(&ConditionVariable->Ptr);
  std::uint32_t seq = cv->load(std::memory_order_relaxed);
  srw lock(SRWLock);
  if (shared) {
    lock.release_shared();
  } else {
    lock.release_exclusive();
  }
  cv_result r = cv_sleep(cv, seq, dwMilliseconds, deadline);
  if (shared) {
    lock.shared();
  } else {
    lock.exclusive();
  }
  if (r == cv_result::timed_out) {
    SetLastError(ERROR_TIMEOUT);
    return FALSE;
  }
  return TRUE;
}

BOOL WINAPI SleepConditionVariableCS(PCONDITION_VARIABLE ConditionVariable,
                                     PCRITICAL_SECTION CriticalSection, DWORD dwMilliseconds) {
  const timespec deadline =
      dwMilliseconds == kInfinite ? timespec{} : deadline_after(dwMilliseconds);
  auto* cv = word(&ConditionVariable->Ptr);
  std::uint32_t seq = cv->load(std::memory_order_relaxed);
  // Release the section completely, however deep the recursion, and restore
  // the depth once it is held again.
  LONG depth = CriticalSection->RecursionCount;
  CriticalSection->RecursionCount = 0;
  set_owner(CriticalSection, 0);
  cs_unlock(CriticalSection);
  cv_result r = cv_sleep(cv, seq, dwMilliseconds, deadline);
  cs_lock(CriticalSection);
  set_owner(CriticalSection, current_tid());
  CriticalSection->RecursionCount = depth;
  if (r == cv_result::timed_out) {
    SetLastError(ERROR_TIMEOUT);
    return FALSE;
  }
  return TRUE;
}

VOID WINAPI WakeConditionVariable(PCONDITION_VARIABLE ConditionVariable) {
  auto* cv = word(&ConditionVariable->Ptr);
  cv->fetch_add(1, std::memory_order_relaxed);
  futex_wake(cv, 1);
}

VOID WINAPI WakeAllConditionVariable(PCONDITION_VARIABLE ConditionVariable) {
  auto* cv = word(&ConditionVariable->Ptr);
  cv->fetch_add(1, std::memory_order_relaxed);
  futex_wake_all(cv);
}

}  // extern "C"
