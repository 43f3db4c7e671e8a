// psn-win32, R8.6: SRW locks, critical sections, condition variables, the
// Interlocked family, clocks, GetSystemInfo, RaiseFailFastException, the
// layouts Windows structures rely on, and the helper macros of <windows.h>.
//
// Written against <windows.h> as a ported program is. Waits that should end
// soon carry a long, finite bound, so a broken library fails the test instead
// of hanging the suite.
#include <windows.h>
// (the Windows header first, as a ported program has it)
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <bitset>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "win32_support.hpp"

namespace {

using namespace win32test;

// Runs f on n threads at once and joins them.
template <class F>
void on_threads(int n, F f) {
  std::vector<std::thread> ts;
  for (int i = 0; i < n; ++i) ts.emplace_back(f, i);
  for (auto& t : ts) t.join();
}

// ---- layouts ------------------------------------------------------------------------------

// R8.6: Windows' sizes and x64 layout, so structures embedding them keep theirs.
TEST(Win32Layout, LocksHaveWindowsSizes) {
  EXPECT_EQ(sizeof(SRWLOCK), sizeof(void*));
  EXPECT_EQ(sizeof(CONDITION_VARIABLE), sizeof(void*));
  EXPECT_EQ(sizeof(CRITICAL_SECTION), 40u);
  EXPECT_EQ(offsetof(CRITICAL_SECTION, DebugInfo), 0u);
  EXPECT_EQ(offsetof(CRITICAL_SECTION, LockCount), 8u);
  EXPECT_EQ(offsetof(CRITICAL_SECTION, RecursionCount), 12u);
  EXPECT_EQ(offsetof(CRITICAL_SECTION, OwningThread), 16u);
  EXPECT_EQ(offsetof(CRITICAL_SECTION, LockSemaphore), 24u);
  EXPECT_EQ(offsetof(CRITICAL_SECTION, SpinCount), 32u);
}

TEST(Win32Layout, SystemInfoHasWindowsLayout) {
  EXPECT_EQ(sizeof(SYSTEM_INFO), 48u);
  EXPECT_EQ(offsetof(SYSTEM_INFO, dwOemId), 0u);
  EXPECT_EQ(offsetof(SYSTEM_INFO, wProcessorArchitecture), 0u);
  EXPECT_EQ(offsetof(SYSTEM_INFO, wReserved), 2u);
  EXPECT_EQ(offsetof(SYSTEM_INFO, dwPageSize), 4u);
  EXPECT_EQ(offsetof(SYSTEM_INFO, lpMinimumApplicationAddress), 8u);
  EXPECT_EQ(offsetof(SYSTEM_INFO, lpMaximumApplicationAddress), 16u);
  EXPECT_EQ(offsetof(SYSTEM_INFO, dwActiveProcessorMask), 24u);
  EXPECT_EQ(offsetof(SYSTEM_INFO, dwNumberOfProcessors), 32u);
  EXPECT_EQ(offsetof(SYSTEM_INFO, dwProcessorType), 36u);
  EXPECT_EQ(offsetof(SYSTEM_INFO, dwAllocationGranularity), 40u);
  EXPECT_EQ(offsetof(SYSTEM_INFO, wProcessorLevel), 44u);
  EXPECT_EQ(offsetof(SYSTEM_INFO, wProcessorRevision), 46u);
  EXPECT_EQ(sizeof(SECURITY_ATTRIBUTES), 24u);
}

// ---- SRW locks -----------------------------------------------------------------------------

// R8.6: exclusive acquisition excludes: a plain counter stays exact, and no
// two threads are ever inside at once.
TEST(Win32Srw, ExclusiveExcludes) {
  SRWLOCK lock = SRWLOCK_INIT;
  long counter = 0;  // guarded by lock, deliberately not atomic
  std::atomic<int> inside{0}, most{0};
  constexpr int kThreads = 4, kRounds = 20000;
  on_threads(kThreads, [&](int) {
    for (int i = 0; i < kRounds; ++i) {
      AcquireSRWLockExclusive(&lock);
      int now = ++inside;
      if (now > most) most = now;
      ++counter;
      --inside;
      ReleaseSRWLockExclusive(&lock);
    }
  });
  EXPECT_EQ(counter, long{kThreads} * kRounds);
  EXPECT_EQ(most, 1);
}

// R8.6: shared acquisition admits several readers at once: three readers each
// stay inside until all three are; with exclusion they could never meet.
TEST(Win32Srw, SharedAdmitsSeveralReadersAtOnce) {
  SRWLOCK lock;
  InitializeSRWLock(&lock);
  std::atomic<int> inside{0};
  std::atomic<bool> met[3] = {false, false, false};
  on_threads(3, [&](int i) {
    AcquireSRWLockShared(&lock);
    ++inside;
    met[i] = eventually([&] { return inside == 3; });
    ReleaseSRWLockShared(&lock);
  });
  for (auto& m : met) EXPECT_TRUE(m);
}

// R8.6: the Try variants take the lock only when they can, and never wait.
TEST(Win32Srw, TryVariants) {
  SRWLOCK lock = SRWLOCK_INIT;
  EXPECT_EQ(TryAcquireSRWLockExclusive(&lock), TRUE);
  EXPECT_EQ(TryAcquireSRWLockExclusive(&lock), FALSE);  // not recursive
  EXPECT_EQ(TryAcquireSRWLockShared(&lock), FALSE);
  ReleaseSRWLockExclusive(&lock);
  EXPECT_EQ(TryAcquireSRWLockShared(&lock), TRUE);
  EXPECT_EQ(TryAcquireSRWLockShared(&lock), TRUE);
  EXPECT_EQ(TryAcquireSRWLockExclusive(&lock), FALSE);
  BOOLEAN other = TRUE;
  std::thread([&] { other = TryAcquireSRWLockExclusive(&lock); }).join();
  EXPECT_EQ(other, FALSE);
  std::thread([&] {
    other = TryAcquireSRWLockShared(&lock);
    if (other) ReleaseSRWLockShared(&lock);
  }).join();
  EXPECT_EQ(other, TRUE);
  ReleaseSRWLockShared(&lock);
  ReleaseSRWLockShared(&lock);
  EXPECT_EQ(TryAcquireSRWLockExclusive(&lock), TRUE);
  ReleaseSRWLockExclusive(&lock);
}

// R8.6: readers and writers blocked behind a writer all get the lock once it
// is released.
TEST(Win32Srw, BlockedReadersAndWritersAllProceed) {
  SRWLOCK lock = SRWLOCK_INIT;
  AcquireSRWLockExclusive(&lock);
  std::atomic<int> started{0}, done{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 6; ++i) {
    ts.emplace_back([&, i] {
      ++started;
      if (i % 2) {
        AcquireSRWLockShared(&lock);
        ReleaseSRWLockShared(&lock);
      } else {
        AcquireSRWLockExclusive(&lock);
        ReleaseSRWLockExclusive(&lock);
      }
      ++done;
    });
  }
  ASSERT_TRUE(eventually([&] { return started == 6; }));
  Sleep(50);  // let them block
  EXPECT_EQ(done, 0);
  ReleaseSRWLockExclusive(&lock);
  for (auto& t : ts) t.join();
  EXPECT_EQ(done, 6);
  EXPECT_EQ(TryAcquireSRWLockExclusive(&lock), TRUE);
  ReleaseSRWLockExclusive(&lock);
}

// R8.6: mixed readers and writers: a reader never sees a writer's update half
// done.
TEST(Win32Srw, ReadersNeverSeeAHalfDoneWrite) {
  SRWLOCK lock = SRWLOCK_INIT;
  long a = 0, b = 0;  // a writer changes both; guarded by lock
  std::atomic<int> torn{0};
  on_threads(4, [&](int i) {
    for (int k = 0; k < 20000; ++k) {
      if (i == 0 || k % 16 == 0) {
        AcquireSRWLockExclusive(&lock);
        ++a;
        ++b;
        ReleaseSRWLockExclusive(&lock);
      } else {
        AcquireSRWLockShared(&lock);
        if (a != b) ++torn;
        ReleaseSRWLockShared(&lock);
      }
    }
  });
  EXPECT_EQ(torn, 0);
  EXPECT_EQ(a, b);
}

// ---- critical sections -------------------------------------------------------------------

// R8.6: recursive for the owner, which OwningThread and RecursionCount show as
// on Windows; TryEnter from another thread fails while it is held.
TEST(Win32CriticalSection, RecursionAndOwnership) {
  CRITICAL_SECTION cs;
  InitializeCriticalSection(&cs);
  EnterCriticalSection(&cs);
  EnterCriticalSection(&cs);
  EXPECT_TRUE(TryEnterCriticalSection(&cs));
  EXPECT_EQ(cs.RecursionCount, 3);
  EXPECT_EQ(cs.OwningThread,
            reinterpret_cast<HANDLE>(static_cast<ULONG_PTR>(GetCurrentThreadId())));
  BOOL other = TRUE;
  std::thread([&] { other = TryEnterCriticalSection(&cs); }).join();
  EXPECT_FALSE(other);
  LeaveCriticalSection(&cs);
  LeaveCriticalSection(&cs);
  std::thread([&] { other = TryEnterCriticalSection(&cs); }).join();
  EXPECT_FALSE(other);  // still held once
  LeaveCriticalSection(&cs);
  EXPECT_EQ(cs.RecursionCount, 0);
  EXPECT_EQ(cs.OwningThread, nullptr);
  std::thread([&] {
    other = TryEnterCriticalSection(&cs);
    if (other) LeaveCriticalSection(&cs);
  }).join();
  EXPECT_TRUE(other);
  DeleteCriticalSection(&cs);
}

// R8.6: mutual exclusion under contention, for every way to initialise one.
TEST(Win32CriticalSection, Excludes) {
  CRITICAL_SECTION sections[3];
  InitializeCriticalSection(&sections[0]);
  EXPECT_TRUE(InitializeCriticalSectionAndSpinCount(&sections[1], 4000));
  EXPECT_TRUE(InitializeCriticalSectionEx(&sections[2], 100, CRITICAL_SECTION_NO_DEBUG_INFO));
  EXPECT_EQ(SetCriticalSectionSpinCount(&sections[1], 50), 4000u);
  for (CRITICAL_SECTION& cs : sections) {
    long counter = 0;
    std::atomic<int> inside{0}, most{0};
    on_threads(4, [&](int) {
      for (int i = 0; i < 20000; ++i) {
        EnterCriticalSection(&cs);
        EnterCriticalSection(&cs);  // recursion inside contention
        int now = ++inside;
        if (now > most) most = now;
        ++counter;
        --inside;
        LeaveCriticalSection(&cs);
        LeaveCriticalSection(&cs);
      }
    });
    EXPECT_EQ(counter, 80000);
    EXPECT_EQ(most, 1);
    DeleteCriticalSection(&cs);
  }
}

// ---- condition variables -------------------------------------------------------------------

// R8.6: a sleeper on SRW (exclusive) wakes when signalled, holding the lock.
TEST(Win32ConditionVariable, SrwExclusiveProducerConsumer) {
  SRWLOCK lock = SRWLOCK_INIT;
  CONDITION_VARIABLE cv = CONDITION_VARIABLE_INIT;
  std::vector<int> queue;
  long sum = 0;
  std::thread consumer([&] {
    AcquireSRWLockExclusive(&lock);
    for (int got = 0; got < 1000;) {
      while (queue.empty())
        if (!SleepConditionVariableSRW(&cv, &lock, kLongWait, 0)) break;
      if (queue.empty()) break;
      sum += queue.back();
      queue.pop_back();
      ++got;
    }
    ReleaseSRWLockExclusive(&lock);
  });
  for (int i = 1; i <= 1000; ++i) {
    AcquireSRWLockExclusive(&lock);
    queue.push_back(i);
    ReleaseSRWLockExclusive(&lock);
    WakeConditionVariable(&cv);
  }
  consumer.join();
  EXPECT_EQ(sum, 1000L * 1001 / 2);
}

// R8.6: WakeConditionVariable releases a sleeper; WakeAllConditionVariable
// releases every one. Each waiter needs a ticket; one wake with one ticket
// lets one through; one wake-all with the rest lets all the rest through
// (a single wake could not).
TEST(Win32ConditionVariable, WakeOneAndWakeAll) {
  SRWLOCK lock = SRWLOCK_INIT;
  CONDITION_VARIABLE cv;
  InitializeConditionVariable(&cv);
  int tickets = 0;  // guarded by lock
  std::atomic<int> waiting{0}, through{0}, timed_out{0};
  constexpr int kWaiters = 5;
  std::vector<std::thread> ts;
  for (int i = 0; i < kWaiters; ++i) {
    ts.emplace_back([&] {
      AcquireSRWLockExclusive(&lock);
      ++waiting;
      while (tickets == 0) {
        if (!SleepConditionVariableSRW(&cv, &lock, kLongWait, 0)) {
          ++timed_out;
          break;
        }
      }
      if (tickets > 0) {
        --tickets;
        ++through;
      }
      ReleaseSRWLockExclusive(&lock);
    });
  }
  ASSERT_TRUE(eventually([&] { return waiting == kWaiters; }));
  AcquireSRWLockExclusive(&lock);  // all are asleep once each released the lock
  tickets = 1;
  ReleaseSRWLockExclusive(&lock);
  WakeConditionVariable(&cv);
  ASSERT_TRUE(eventually([&] { return through == 1; }));
  AcquireSRWLockExclusive(&lock);
  tickets = kWaiters - 1;
  ReleaseSRWLockExclusive(&lock);
  WakeAllConditionVariable(&cv);
  for (auto& t : ts) t.join();
  EXPECT_EQ(through, kWaiters);
  EXPECT_EQ(timed_out, 0);
}

// R8.6: CONDITION_VARIABLE_LOCKMODE_SHARED: the sleepers hold the lock shared
// when they wake, so two are inside together.
TEST(Win32ConditionVariable, SrwSharedMode) {
  SRWLOCK lock = SRWLOCK_INIT;
  CONDITION_VARIABLE cv = CONDITION_VARIABLE_INIT;
  bool go = false;  // guarded by lock
  std::atomic<int> waiting{0}, inside{0};
  std::atomic<bool> ok[2] = {false, false};
  std::vector<std::thread> ts;
  for (int i = 0; i < 2; ++i) {
    ts.emplace_back([&, i] {
      AcquireSRWLockShared(&lock);
      ++waiting;
      bool woke = true;
      while (!go && woke)
        woke = SleepConditionVariableSRW(&cv, &lock, kLongWait, CONDITION_VARIABLE_LOCKMODE_SHARED);
      ++inside;
      ok[i] = woke && eventually([&] { return inside == 2; });
      ReleaseSRWLockShared(&lock);
    });
  }
  ASSERT_TRUE(eventually([&] { return waiting == 2; }));
  AcquireSRWLockExclusive(&lock);
  go = true;
  ReleaseSRWLockExclusive(&lock);
  WakeAllConditionVariable(&cv);
  for (auto& t : ts) t.join();
  EXPECT_TRUE(ok[0]);
  EXPECT_TRUE(ok[1]);
}

// R8.6: SleepConditionVariableCS releases the section completely, however deep
// the recursion, and restores the depth when it wakes.
TEST(Win32ConditionVariable, CriticalSectionRecursionIsReleasedAndRestored) {
  CRITICAL_SECTION cs;
  InitializeCriticalSection(&cs);
  CONDITION_VARIABLE cv = CONDITION_VARIABLE_INIT;
  bool go = false;  // guarded by cs
  std::atomic<bool> asleep{false};
  LONG depth_after = 0;
  HANDLE owner_after = nullptr, me = nullptr;
  BOOL woke = FALSE;
  std::thread sleeper([&] {
    me = reinterpret_cast<HANDLE>(static_cast<ULONG_PTR>(GetCurrentThreadId()));
    EnterCriticalSection(&cs);
    EnterCriticalSection(&cs);
    asleep = true;
    woke = TRUE;
    while (!go && woke) woke = SleepConditionVariableCS(&cv, &cs, kLongWait);
    depth_after = cs.RecursionCount;
    owner_after = cs.OwningThread;
    LeaveCriticalSection(&cs);
    LeaveCriticalSection(&cs);
  });
  ASSERT_TRUE(eventually([&] { return asleep.load(); }));
  EnterCriticalSection(&cs);  // possible only once the sleeper released both levels
  go = true;
  LeaveCriticalSection(&cs);
  WakeConditionVariable(&cv);
  sleeper.join();
  EXPECT_TRUE(woke);
  EXPECT_EQ(depth_after, 2);
  EXPECT_EQ(owner_after, me);
  EXPECT_TRUE(TryEnterCriticalSection(&cs));
  LeaveCriticalSection(&cs);
  DeleteCriticalSection(&cs);
}

// R8.6: a time-out returns FALSE with ERROR_TIMEOUT, no earlier than asked,
// with the lock held again.
TEST(Win32ConditionVariable, TimeOutReturnsFalseWithErrorTimeout) {
  SRWLOCK lock = SRWLOCK_INIT;
  CONDITION_VARIABLE cv = CONDITION_VARIABLE_INIT;
  AcquireSRWLockExclusive(&lock);
  SetLastError(0);
  auto t0 = Clock::now();
  EXPECT_FALSE(SleepConditionVariableSRW(&cv, &lock, 150, 0));
  EXPECT_GE(ms_since(t0), 150);
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_TIMEOUT));
  EXPECT_EQ(TryAcquireSRWLockShared(&lock), FALSE);  // held exclusive again
  SetLastError(0);
  EXPECT_FALSE(SleepConditionVariableSRW(&cv, &lock, 0, 0));
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_TIMEOUT));
  ReleaseSRWLockExclusive(&lock);

  AcquireSRWLockShared(&lock);
  SetLastError(0);
  EXPECT_FALSE(SleepConditionVariableSRW(&cv, &lock, 50, CONDITION_VARIABLE_LOCKMODE_SHARED));
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_TIMEOUT));
  EXPECT_EQ(TryAcquireSRWLockExclusive(&lock), FALSE);  // held shared again
  ReleaseSRWLockShared(&lock);

  CRITICAL_SECTION cs;
  InitializeCriticalSection(&cs);
  EnterCriticalSection(&cs);
  SetLastError(0);
  t0 = Clock::now();
  EXPECT_FALSE(SleepConditionVariableCS(&cv, &cs, 150));
  EXPECT_GE(ms_since(t0), 150);
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_TIMEOUT));
  EXPECT_EQ(cs.RecursionCount, 1);
  LeaveCriticalSection(&cs);
  DeleteCriticalSection(&cs);
}

TEST(Win32ConditionVariable, UnknownFlagsAreInvalidParameter) {
  SRWLOCK lock = SRWLOCK_INIT;
  CONDITION_VARIABLE cv = CONDITION_VARIABLE_INIT;
  AcquireSRWLockExclusive(&lock);
  SetLastError(0);
  EXPECT_FALSE(SleepConditionVariableSRW(&cv, &lock, 0, 0x2));
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INVALID_PARAMETER));
  EXPECT_EQ(TryAcquireSRWLockShared(&lock), FALSE);  // left held
  ReleaseSRWLockExclusive(&lock);
}

// ---- Interlocked ------------------------------------------------------------------------

// R8.6: values as on Windows: Increment, Decrement and Add return the new
// value; Exchange, CompareExchange, ExchangeAdd, And, Or, Xor the old one.
TEST(Win32Interlocked, ReturnValues32) {
  volatile LONG v = 5;
  EXPECT_EQ(InterlockedIncrement(&v), 6);
  EXPECT_EQ(InterlockedDecrement(&v), 5);
  EXPECT_EQ(InterlockedExchange(&v, 10), 5);
  EXPECT_EQ(v, 10);
  EXPECT_EQ(InterlockedCompareExchange(&v, 20, 11), 10);  // no match: unchanged
  EXPECT_EQ(v, 10);
  EXPECT_EQ(InterlockedCompareExchange(&v, 20, 10), 10);  // match: replaced
  EXPECT_EQ(v, 20);
  EXPECT_EQ(InterlockedExchangeAdd(&v, 3), 20);
  EXPECT_EQ(InterlockedAdd(&v, 3), 26);
  v = 0x0F0F;
  EXPECT_EQ(InterlockedAnd(&v, 0x00FF), 0x0F0F);
  EXPECT_EQ(v, 0x000F);
  EXPECT_EQ(InterlockedOr(&v, 0x0F00), 0x000F);
  EXPECT_EQ(v, 0x0F0F);
  EXPECT_EQ(InterlockedXor(&v, 0x0FF0), 0x0F0F);
  EXPECT_EQ(v, 0x00FF);
  v = 0x7FFFFFFF;
  EXPECT_EQ(InterlockedIncrement(&v), static_cast<LONG>(0x80000000u));  // wraps as 32 bits
  EXPECT_EQ(sizeof(LONG), 4u);
}

TEST(Win32Interlocked, ReturnValues64AndPointers) {
  volatile LONG64 q = 0x100000000LL;
  EXPECT_EQ(InterlockedIncrement64(&q), 0x100000001LL);
  EXPECT_EQ(InterlockedDecrement64(&q), 0x100000000LL);
  EXPECT_EQ(InterlockedExchange64(&q, 7), 0x100000000LL);
  EXPECT_EQ(InterlockedCompareExchange64(&q, 9, 8), 7);
  EXPECT_EQ(q, 7);
  EXPECT_EQ(InterlockedCompareExchange64(&q, 9, 7), 7);
  EXPECT_EQ(q, 9);
  EXPECT_EQ(InterlockedExchangeAdd64(&q, 0x100000000LL), 9);
  EXPECT_EQ(InterlockedAdd64(&q, 1), 0x10000000ALL);
  q = 0xFF00;
  EXPECT_EQ(InterlockedAnd64(&q, 0x0FF0), 0xFF00);
  EXPECT_EQ(q, 0x0F00);
  EXPECT_EQ(InterlockedOr64(&q, 0x1), 0x0F00);
  EXPECT_EQ(InterlockedXor64(&q, 0x0F01), 0x0F01);
  EXPECT_EQ(q, 0);

  int a = 0, b = 0;
  PVOID volatile p = &a;
  EXPECT_EQ(InterlockedExchangePointer(&p, &b), &a);
  EXPECT_EQ(p, &b);
  EXPECT_EQ(InterlockedCompareExchangePointer(&p, &a, &a), &b);  // no match
  EXPECT_EQ(p, &b);
  EXPECT_EQ(InterlockedCompareExchangePointer(&p, &a, &b), &b);
  EXPECT_EQ(p, &a);

  // The C++ overloads Windows' headers have for unsigned operands.
  volatile DWORD d = 0xFFFFFFFFu;
  EXPECT_EQ(InterlockedIncrement(&d), 0u);
  EXPECT_EQ(InterlockedCompareExchange(&d, 5u, 0u), 0u);
  EXPECT_EQ(d, 5u);
  volatile ULONGLONG u = 1;
  EXPECT_EQ(InterlockedExchangeAdd(&u, ULONGLONG{1} << 40), 1u);
  EXPECT_EQ(InterlockedDecrement(&u), ULONGLONG{1} << 40);

  MemoryBarrier();
  YieldProcessor();
}

// R8.6: atomic under contention.
TEST(Win32Interlocked, AtomicUnderThreads) {
  volatile LONG n = 0;
  volatile LONG64 n64 = 0;
  volatile LONG cas = 0;
  volatile LONG bits = 0;
  constexpr int kThreads = 4, kRounds = 50000;
  on_threads(kThreads, [&](int i) {
    for (int k = 0; k < kRounds; ++k) {
      InterlockedIncrement(&n);
      InterlockedExchangeAdd64(&n64, 3);
      LONG seen = 0;  // a guess; the exchange reports the real value
      for (;;) {
        LONG found = InterlockedCompareExchange(&cas, seen + 1, seen);
        if (found == seen) break;
        seen = found;
      }
    }
    InterlockedOr(&bits, 1 << i);
  });
  EXPECT_EQ(n, kThreads * kRounds);
  EXPECT_EQ(n64, 3LL * kThreads * kRounds);
  EXPECT_EQ(cas, kThreads * kRounds);
  EXPECT_EQ(bits, 0xF);
  on_threads(kThreads, [&](int) {
    for (int k = 0; k < kRounds; ++k) InterlockedDecrement(&n);
  });
  EXPECT_EQ(n, 0);
}

// ---- clocks, Sleep, the system ----------------------------------------------------------------

// R8.6: the tick counts and the performance counter are monotonic and agree
// with Sleep(100), within generous margins.
TEST(Win32Time, ClocksAreMonotonicAndAgreeWithSleep) {
  LARGE_INTEGER freq, c0, c1;
  ASSERT_TRUE(QueryPerformanceFrequency(&freq));
  EXPECT_EQ(freq.QuadPart, 10000000);
  ULONGLONG t0 = GetTickCount64();
  DWORD d0 = GetTickCount();
  ASSERT_TRUE(QueryPerformanceCounter(&c0));
  auto s0 = Clock::now();
  Sleep(100);
  long long slept = ms_since(s0);
  ASSERT_TRUE(QueryPerformanceCounter(&c1));
  ULONGLONG t1 = GetTickCount64();
  DWORD d1 = GetTickCount();
  EXPECT_GE(slept, 100);
  EXPECT_GE(t1 - t0, 100u);
  EXPECT_LT(t1 - t0, 100u + 5000u);
  EXPECT_GE(static_cast<DWORD>(d1 - d0), 100u);
  EXPECT_LT(static_cast<DWORD>(d1 - d0), 100u + 5000u);
  long long qpc_ms = (c1.QuadPart - c0.QuadPart) * 1000 / freq.QuadPart;
  EXPECT_GE(qpc_ms, 100);
  EXPECT_LT(qpc_ms, 100 + 5000);
  EXPECT_EQ(static_cast<DWORD>(GetTickCount64()) - GetTickCount() <= 1u, true);
  LARGE_INTEGER prev = c1;
  for (int i = 0; i < 1000; ++i) {
    LARGE_INTEGER now;
    QueryPerformanceCounter(&now);
    ASSERT_GE(now.QuadPart, prev.QuadPart);
    prev = now;
  }
}

// R8.6: Sleep(0), SleepEx and SwitchToThread return promptly.
TEST(Win32Time, YieldingCalls) {
  auto t0 = Clock::now();
  Sleep(0);
  EXPECT_EQ(SleepEx(0, TRUE), 0u);
  EXPECT_TRUE(SwitchToThread());
  EXPECT_LT(ms_since(t0), 5000);
  t0 = Clock::now();
  EXPECT_EQ(SleepEx(50, FALSE), 0u);
  EXPECT_GE(ms_since(t0), 50);
}

// R8.6: GetSystemInfo reports the processors and, on x86-64, 4 KiB pages.
TEST(Win32System, GetSystemInfo) {
  SYSTEM_INFO si;
  std::memset(&si, 0xAB, sizeof si);
  GetSystemInfo(&si);
  EXPECT_GE(si.dwNumberOfProcessors, 1u);
  EXPECT_EQ(si.dwNumberOfProcessors, static_cast<DWORD>(sysconf(_SC_NPROCESSORS_ONLN)));
  if (si.dwNumberOfProcessors < 64) {
    EXPECT_EQ(std::bitset<64>(si.dwActiveProcessorMask).count(), si.dwNumberOfProcessors);
  }
  EXPECT_EQ(si.dwPageSize, static_cast<DWORD>(sysconf(_SC_PAGESIZE)));
  EXPECT_EQ(si.dwAllocationGranularity % si.dwPageSize, 0u);
  EXPECT_LT(si.lpMinimumApplicationAddress, si.lpMaximumApplicationAddress);
  int local = 0;
  EXPECT_LT(reinterpret_cast<uintptr_t>(&local),
            reinterpret_cast<uintptr_t>(si.lpMaximumApplicationAddress));
#if defined(__x86_64__)
  EXPECT_EQ(si.dwPageSize, 4096u);
  EXPECT_EQ(si.wProcessorArchitecture, PROCESSOR_ARCHITECTURE_AMD64);
  EXPECT_EQ(si.dwProcessorType, static_cast<DWORD>(PROCESSOR_AMD_X8664));
  EXPECT_GE(si.wProcessorLevel, 6);
#endif
  EXPECT_EQ(si.wReserved, 0);
  SYSTEM_INFO native;
  GetNativeSystemInfo(&native);
  EXPECT_EQ(native.dwNumberOfProcessors, si.dwNumberOfProcessors);
  EXPECT_EQ(native.wProcessorArchitecture, si.wProcessorArchitecture);
}

void fail_fast_with_a_handler() {
  // A handler the program installed does not run: the process ends at once.
  struct sigaction sa = {};
  sa.sa_handler = [](int) { _exit(0); };
  sigaction(SIGABRT, &sa, nullptr);
  RaiseFailFastException(nullptr, nullptr, 0);
}

// R8.6: RaiseFailFastException ends the process at once (SIGABRT), whatever
// handler the program has.
TEST(Win32SystemDeathTest, RaiseFailFastExceptionEndsTheProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(RaiseFailFastException(nullptr, nullptr, FAIL_FAST_GENERATE_EXCEPTION_ADDRESS),
              testing::KilledBySignal(SIGABRT), "");
  EXPECT_EXIT(fail_fast_with_a_handler(), testing::KilledBySignal(SIGABRT), "");
}

// ---- helper macros (R8.6, from base.h) ---------------------------------------------------------

struct Outer {
  int first;
  double middle;
  char last;
};

TEST(Win32Macros, MemoryHelpers) {
  unsigned char buf[16];
  FillMemory(buf, sizeof buf, 0x5A);
  for (unsigned char c : buf) EXPECT_EQ(c, 0x5A);
  ZeroMemory(buf, 8);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(buf[i], i < 8 ? 0 : 0x5A);
  unsigned char src[4] = {1, 2, 3, 4};
  CopyMemory(buf, src, sizeof src);
  EXPECT_EQ(std::memcmp(buf, src, 4), 0);
  unsigned char overlap[6] = {1, 2, 3, 4, 5, 6};
  MoveMemory(overlap + 1, overlap, 5);  // overlapping: memmove semantics
  const unsigned char want[6] = {1, 1, 2, 3, 4, 5};
  EXPECT_EQ(std::memcmp(overlap, want, 6), 0);
}

TEST(Win32Macros, CountsRecordsAndWords) {
  int arr[7];
  EXPECT_EQ(RTL_NUMBER_OF(arr), 7u);
  EXPECT_EQ(ARRAYSIZE(arr), 7u);
  Outer o;
  EXPECT_EQ(CONTAINING_RECORD(&o.last, Outer, last), &o);
  EXPECT_EQ(CONTAINING_RECORD(&o.middle, Outer, middle), &o);
  int unused = 0;
  UNREFERENCED_PARAMETER(unused);
  EXPECT_EQ(MAKEWORD(2, 2), 0x0202);
  EXPECT_EQ(MAKEWORD(0x34, 0x12), 0x1234);
  EXPECT_EQ(LOBYTE(0x1234), 0x34);
  EXPECT_EQ(HIBYTE(0x1234), 0x12);
  EXPECT_EQ(LOWORD(0x12345678), 0x5678);
  EXPECT_EQ(HIWORD(0x12345678), 0x1234);
  EXPECT_EQ(LOWORD(0xFFFFFFFFu), 0xFFFF);
  EXPECT_EQ(HIWORD(0x0001FFFFu), 0x0001);
}

}  // namespace
