// psn-win32, R8.6: threads, events and the wait functions, over the one handle
// table that ports share (R3.2).
//
// Written against <windows.h> as a ported program is. Waits that should end
// soon carry a long, finite time-out, so a broken library fails the test
// instead of hanging the suite.
#include <windows.h>
// (the Windows header first, as a ported program has it)
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "win32_support.hpp"

namespace {

using namespace win32test;

HANDLE manual_event(bool set = false) {
  return CreateEventA(nullptr, TRUE, set, nullptr);
}
HANDLE auto_event(bool set = false) {
  return CreateEventA(nullptr, FALSE, set, nullptr);
}

bool signalled(HANDLE h) {
  return WaitForSingleObject(h, 0) == WAIT_OBJECT_0;
}

// A thread that waits for its gate event, then returns its code.
struct Gated {
  HANDLE gate = manual_event();
  DWORD code = 0;
  std::atomic<bool> ran{false};
};

DWORD WINAPI gated_routine(LPVOID p) {
  auto* g = static_cast<Gated*>(p);
  if (WaitForSingleObject(g->gate, kLongWait) != WAIT_OBJECT_0) return 1000;
  g->ran = true;
  return g->code;
}

HANDLE start_gated(Gated* g, DWORD flags = 0) {
  return CreateThread(nullptr, 0, gated_routine, g, flags, nullptr);
}

// ---- threads --------------------------------------------------------------------------

struct Seen {
  LPVOID arg = nullptr;
  DWORD id = 0;
};

DWORD WINAPI record_routine(LPVOID p) {
  auto* s = static_cast<Seen*>(p);
  s->arg = p;
  s->id = GetCurrentThreadId();
  return 0;
}

// R8.6: the routine runs on a new thread with its argument; the id CreateThread
// reports is the one the thread sees.
TEST(Win32Threads, CreateThreadRunsTheRoutineWithItsArgumentAndReportsItsId) {
  Seen seen;
  DWORD tid = 0;
  HANDLE t = CreateThread(nullptr, 0, record_routine, &seen, 0, &tid);
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(WaitForSingleObject(t, kLongWait), WAIT_OBJECT_0);
  EXPECT_EQ(seen.arg, &seen);
  EXPECT_NE(tid, 0u);
  EXPECT_EQ(seen.id, tid);
  EXPECT_NE(tid, GetCurrentThreadId());
  EXPECT_EQ(GetThreadId(t), tid);
  EXPECT_TRUE(CloseHandle(t));
}

// R8.6: the thread id parameter is optional.
TEST(Win32Threads, ThreadIdOutputIsOptional) {
  Seen seen;
  HANDLE t = CreateThread(nullptr, 0, record_routine, &seen, 0, nullptr);
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(WaitForSingleObject(t, kLongWait), WAIT_OBJECT_0);
  EXPECT_EQ(seen.id, GetThreadId(t));
  EXPECT_TRUE(CloseHandle(t));
}

// R8.6: STILL_ACTIVE while it runs; the wait ends when it returns, and the exit
// code is the routine's return value. A finished thread stays signalled.
TEST(Win32Threads, WaitEndsWhenTheThreadReturnsAndGetExitCodeGivesItsValue) {
  Gated g;
  g.code = 42;
  HANDLE t = start_gated(&g);
  ASSERT_NE(t, nullptr);
  DWORD code = 0;
  ASSERT_TRUE(GetExitCodeThread(t, &code));
  EXPECT_EQ(code, STILL_ACTIVE);
  EXPECT_EQ(code, 259u);
  EXPECT_EQ(WaitForSingleObject(t, 0), static_cast<DWORD>(WAIT_TIMEOUT));
  ASSERT_TRUE(SetEvent(g.gate));
  ASSERT_EQ(WaitForSingleObject(t, kLongWait), WAIT_OBJECT_0);
  EXPECT_TRUE(g.ran);
  ASSERT_TRUE(GetExitCodeThread(t, &code));
  EXPECT_EQ(code, 42u);
  EXPECT_EQ(WaitForSingleObject(t, 0), WAIT_OBJECT_0);
  EXPECT_EQ(WaitForSingleObjectEx(t, 0, TRUE), WAIT_OBJECT_0);
  EXPECT_TRUE(CloseHandle(t));
  EXPECT_TRUE(CloseHandle(g.gate));
}

// R8.6, as R3.7: a time-out ends the wait no earlier than asked.
TEST(Win32Threads, TimeOutOnARunningThreadIsNoEarlierThanAsked) {
  Gated g;
  HANDLE t = start_gated(&g);
  ASSERT_NE(t, nullptr);
  auto t0 = Clock::now();
  EXPECT_EQ(WaitForSingleObject(t, 200), static_cast<DWORD>(WAIT_TIMEOUT));
  long long took = ms_since(t0);
  EXPECT_GE(took, 200);
  EXPECT_LT(took, 200 + 5000);
  HANDLE both[] = {t, g.gate};
  t0 = Clock::now();
  EXPECT_EQ(WaitForMultipleObjects(2, both, FALSE, 150), static_cast<DWORD>(WAIT_TIMEOUT));
  EXPECT_GE(ms_since(t0), 150);
  SetEvent(g.gate);
  EXPECT_EQ(WaitForSingleObject(t, kLongWait), WAIT_OBJECT_0);
  CloseHandle(t);
  CloseHandle(g.gate);
}

// R8.6: CREATE_SUSPENDED starts nothing until ResumeThread, which returns the
// previous suspend count.
TEST(Win32Threads, CreateSuspendedRunsOnlyAfterResumeThread) {
  Gated g;
  g.code = 5;
  SetEvent(g.gate);
  DWORD tid = 0;
  HANDLE t = CreateThread(nullptr, 0, gated_routine, &g, CREATE_SUSPENDED, &tid);
  ASSERT_NE(t, nullptr);
  EXPECT_NE(tid, 0u);
  EXPECT_EQ(WaitForSingleObject(t, 100), static_cast<DWORD>(WAIT_TIMEOUT));
  EXPECT_FALSE(g.ran);
  DWORD code = 0;
  ASSERT_TRUE(GetExitCodeThread(t, &code));
  EXPECT_EQ(code, STILL_ACTIVE);
  EXPECT_EQ(ResumeThread(t), 1u);
  ASSERT_EQ(WaitForSingleObject(t, kLongWait), WAIT_OBJECT_0);
  EXPECT_TRUE(g.ran);
  ASSERT_TRUE(GetExitCodeThread(t, &code));
  EXPECT_EQ(code, 5u);
  EXPECT_EQ(ResumeThread(t), 0u);  // not suspended
  CloseHandle(t);
  CloseHandle(g.gate);
}

struct SetOnDestroy {
  std::atomic<bool>* flag;
  ~SetOnDestroy() { *flag = true; }
};

struct ExitArgs {
  std::atomic<bool> destroyed{false};
  std::atomic<bool> after_exit{false};
};

DWORD WINAPI exit_thread_routine(LPVOID p) {
  auto* a = static_cast<ExitArgs*>(p);
  SetOnDestroy guard{&a->destroyed};
  ExitThread(7);
  a->after_exit = true;  // never reached
  return 0;
}

// R8.6: ExitThread ends the thread with its code; the stack is unwound.
TEST(Win32Threads, ExitThreadEndsTheThreadWithItsCode) {
  ExitArgs a;
  HANDLE t = CreateThread(nullptr, 0, exit_thread_routine, &a, 0, nullptr);
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(WaitForSingleObject(t, kLongWait), WAIT_OBJECT_0);
  DWORD code = 0;
  ASSERT_TRUE(GetExitCodeThread(t, &code));
  EXPECT_EQ(code, 7u);
  EXPECT_TRUE(a.destroyed);
  EXPECT_FALSE(a.after_exit);
  CloseHandle(t);
}

// R8.6: unknown creation flags, and (psn) a NULL routine, fail cleanly.
TEST(Win32Threads, CreateThreadRejectsUnknownFlagsAndANullRoutine) {
  Seen seen;
  SetLastError(0);
  EXPECT_EQ(CreateThread(nullptr, 0, record_routine, &seen, 0x1, nullptr), nullptr);
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INVALID_PARAMETER));
  SetLastError(0);
  EXPECT_EQ(CreateThread(nullptr, 0, nullptr, &seen, 0, nullptr), nullptr);
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INVALID_PARAMETER));
  EXPECT_EQ(seen.id, 0u);
}

struct StackSeen {
  size_t size = 0;
};

DWORD WINAPI stack_routine(LPVOID p) {
  pthread_attr_t a;
  if (pthread_getattr_np(pthread_self(), &a) == 0) {
    pthread_attr_getstacksize(&a, &static_cast<StackSeen*>(p)->size);
    pthread_attr_destroy(&a);
  }
  return 0;
}

size_t stack_of(SIZE_T requested, DWORD flags) {
  StackSeen s;
  HANDLE t = CreateThread(nullptr, requested, stack_routine, &s, flags, nullptr);
  if (!t) return 0;
  WaitForSingleObject(t, kLongWait);
  CloseHandle(t);
  return s.size;
}

// R8.6: a reservation is the stack's size; a commit size never gives less than
// the default stack (Windows reserves at least its default too).
TEST(Win32Threads, StackSizeIsHonoured) {
  size_t def = 0;
  pthread_attr_t a;
  ASSERT_EQ(pthread_getattr_default_np(&a), 0);
  pthread_attr_getstacksize(&a, &def);
  pthread_attr_destroy(&a);

  const size_t reserve = 256 * 1024;
  size_t got = stack_of(reserve, STACK_SIZE_PARAM_IS_A_RESERVATION);
  EXPECT_GE(got, reserve);
  // Honoured, not the default (sanitizers may add some room of their own).
  EXPECT_LT(got, def);

  const size_t big = 64u * 1024 * 1024;
  EXPECT_GE(stack_of(big, 0), big);
  EXPECT_GE(stack_of(big, STACK_SIZE_PARAM_IS_A_RESERVATION), big);
  EXPECT_GE(stack_of(64 * 1024, 0), def);
  EXPECT_GE(stack_of(0, 0), def);
  EXPECT_GE(stack_of(1, STACK_SIZE_PARAM_IS_A_RESERVATION), static_cast<size_t>(PTHREAD_STACK_MIN));
}

// R8.6: GetCurrentProcessId is the process id.
TEST(Win32Threads, GetCurrentProcessIdIsThePid) {
  EXPECT_EQ(GetCurrentProcessId(), static_cast<DWORD>(getpid()));
  EXPECT_EQ(GetCurrentThreadId(), static_cast<DWORD>(gettid()));
}

// R8.6: after fork() the child's thread has its own id, and events and waits
// work there (the wait machinery is not left locked by the parent's threads).
TEST(Win32Threads, ForkedChildHasItsOwnIdAndWorkingWaits) {
  DWORD parent = GetCurrentThreadId();
  Gated busy;  // a parent thread blocked in a wait while the fork happens
  HANDLE t = start_gated(&busy);
  ASSERT_NE(t, nullptr);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    bool ok =
        GetCurrentThreadId() == static_cast<DWORD>(getpid()) && GetCurrentThreadId() != parent;
    HANDLE e = CreateEventA(nullptr, FALSE, FALSE, nullptr);
    ok = ok && e && SetEvent(e) && WaitForSingleObject(e, 1000) == WAIT_OBJECT_0 &&
         WaitForSingleObject(e, 50) == static_cast<DWORD>(WAIT_TIMEOUT) && CloseHandle(e);
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  SetEvent(busy.gate);
  EXPECT_EQ(WaitForSingleObject(t, kLongWait), WAIT_OBJECT_0);
  CloseHandle(t);
  CloseHandle(busy.gate);
}

// ---- events -----------------------------------------------------------------------------

struct Waiters {
  HANDLE event;
  std::atomic<int> released{0};
  std::atomic<int> failed{0};
};

DWORD WINAPI wait_event_routine(LPVOID p) {
  auto* w = static_cast<Waiters*>(p);
  if (WaitForSingleObject(w->event, kLongWait) == WAIT_OBJECT_0) {
    ++w->released;
  } else {
    ++w->failed;
  }
  return 0;
}

std::vector<HANDLE> start_waiters(Waiters* w, int n) {
  std::vector<HANDLE> ts;
  for (int i = 0; i < n; ++i)
    ts.push_back(CreateThread(nullptr, 0, wait_event_routine, w, 0, nullptr));
  return ts;
}

void join_all(const std::vector<HANDLE>& ts) {
  ASSERT_EQ(WaitForMultipleObjects(static_cast<DWORD>(ts.size()), ts.data(), TRUE, kLongWait),
            WAIT_OBJECT_0);
  for (HANDLE t : ts) CloseHandle(t);
}

// R8.6: each SetEvent of an auto-reset event releases exactly one waiter, and
// the release resets it.
TEST(Win32Events, AutoResetReleasesExactlyOneWaiterPerSetEvent) {
  Waiters w;
  w.event = auto_event();
  constexpr int kWaiters = 4;
  auto ts = start_waiters(&w, kWaiters);
  for (HANDLE t : ts) ASSERT_NE(t, nullptr);
  for (int i = 1; i <= kWaiters; ++i) {
    ASSERT_TRUE(SetEvent(w.event));
    ASSERT_TRUE(eventually([&] { return w.released == i; })) << "after SetEvent " << i;
    Sleep(100);  // the window in which a second waiter would be released
    EXPECT_EQ(w.released, i);
  }
  join_all(ts);
  EXPECT_EQ(w.failed, 0);
  EXPECT_FALSE(signalled(w.event));
  CloseHandle(w.event);
}

// R8.6: a manual-reset event releases every waiter and stays set until reset.
TEST(Win32Events, ManualResetReleasesAllWaitersUntilReset) {
  Waiters w;
  w.event = manual_event();
  auto ts = start_waiters(&w, 4);
  ASSERT_TRUE(SetEvent(w.event));
  join_all(ts);
  EXPECT_EQ(w.released, 4);
  EXPECT_TRUE(signalled(w.event));
  EXPECT_TRUE(signalled(w.event));
  ASSERT_TRUE(ResetEvent(w.event));
  EXPECT_FALSE(signalled(w.event));
  CloseHandle(w.event);
}

// R8.6: the initial state; a satisfied wait consumes an auto-reset event;
// ResetEvent clears either kind.
TEST(Win32Events, InitialStateAndResetEvent) {
  HANDLE a = auto_event(true);
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(signalled(a));
  EXPECT_FALSE(signalled(a));
  ASSERT_TRUE(SetEvent(a));
  ASSERT_TRUE(SetEvent(a));  // setting a set event changes nothing
  EXPECT_TRUE(signalled(a));
  EXPECT_FALSE(signalled(a));
  ASSERT_TRUE(SetEvent(a));
  ASSERT_TRUE(ResetEvent(a));
  EXPECT_FALSE(signalled(a));

  HANDLE m = CreateEventW(nullptr, TRUE, TRUE, nullptr);
  ASSERT_NE(m, nullptr);
  EXPECT_TRUE(signalled(m));
  ASSERT_TRUE(ResetEvent(m));
  ASSERT_TRUE(ResetEvent(m));
  EXPECT_FALSE(signalled(m));
  CloseHandle(a);
  CloseHandle(m);
}

// R8.6 (psn): a named event would be shared across processes, which psn does
// not do: refused with ERROR_NOT_SUPPORTED. An empty name is no name.
TEST(Win32Events, NamedEventsAreNotSupported) {
  SetLastError(0);
  EXPECT_EQ(CreateEventA(nullptr, TRUE, FALSE, "Global\\psn-test"), nullptr);
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_NOT_SUPPORTED));
  SetLastError(0);
  EXPECT_EQ(CreateEventW(nullptr, TRUE, FALSE, L"psn-test"), nullptr);
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_NOT_SUPPORTED));
  SetLastError(0);
  EXPECT_EQ(CreateEventExA(nullptr, "psn-test", 0, EVENT_ALL_ACCESS), nullptr);
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_NOT_SUPPORTED));
  HANDLE e = CreateEventA(nullptr, FALSE, FALSE, "");
  ASSERT_NE(e, nullptr);
  CloseHandle(e);
  HANDLE g = CreateEvent(nullptr, FALSE, FALSE, nullptr);  // the A/W macro
  ASSERT_NE(g, nullptr);
  CloseHandle(g);
}

// R8.6: CreateEventEx takes its kind and state as flags.
TEST(Win32Events, CreateEventExFlags) {
  HANDLE m = CreateEventExA(nullptr, nullptr, CREATE_EVENT_MANUAL_RESET | CREATE_EVENT_INITIAL_SET,
                            EVENT_ALL_ACCESS);
  ASSERT_NE(m, nullptr);
  EXPECT_TRUE(signalled(m));
  EXPECT_TRUE(signalled(m));  // manual: stays set
  HANDLE a = CreateEventExW(nullptr, nullptr, CREATE_EVENT_INITIAL_SET, SYNCHRONIZE);
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(signalled(a));
  EXPECT_FALSE(signalled(a));  // auto: consumed
  HANDLE u = CreateEventExA(nullptr, nullptr, 0, EVENT_MODIFY_STATE | SYNCHRONIZE);
  ASSERT_NE(u, nullptr);
  EXPECT_FALSE(signalled(u));
  SetLastError(0);
  EXPECT_EQ(CreateEventExA(nullptr, nullptr, 0x4, EVENT_ALL_ACCESS), nullptr);
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INVALID_PARAMETER));
  CloseHandle(m);
  CloseHandle(a);
  CloseHandle(u);
}

// R8.6: PulseEvent releases who is waiting and leaves the event reset.
TEST(Win32Events, PulseEventReleasesWaitersAndLeavesItReset) {
  Waiters w;
  w.event = manual_event();
  auto ts = start_waiters(&w, 3);
  // Each pulse releases those already waiting; repeat until all were.
  ASSERT_TRUE(eventually([&] {
    PulseEvent(w.event);
    return w.released == 3;
  }));
  join_all(ts);
  EXPECT_FALSE(signalled(w.event));
  HANDLE a = auto_event(true);
  ASSERT_TRUE(PulseEvent(a));
  EXPECT_FALSE(signalled(a));
  CloseHandle(a);
  CloseHandle(w.event);
}

// ---- WaitForMultipleObjects -----------------------------------------------------------

// R8.6: "any" returns the lowest signalled index and takes only that object.
TEST(Win32Waits, AnyReturnsTheLowestSignalledIndex) {
  HANDLE e[3] = {auto_event(), auto_event(true), auto_event(true)};
  EXPECT_EQ(WaitForMultipleObjects(3, e, FALSE, 0), WAIT_OBJECT_0 + 1);
  EXPECT_EQ(WaitForMultipleObjects(3, e, FALSE, 0), WAIT_OBJECT_0 + 2);
  EXPECT_EQ(WaitForMultipleObjects(3, e, FALSE, 0), static_cast<DWORD>(WAIT_TIMEOUT));
  HANDLE m[3] = {manual_event(), manual_event(true), manual_event(true)};
  EXPECT_EQ(WaitForMultipleObjects(3, m, FALSE, 0), WAIT_OBJECT_0 + 1);
  EXPECT_EQ(WaitForMultipleObjects(3, m, FALSE, 0), WAIT_OBJECT_0 + 1);
  EXPECT_TRUE(signalled(m[2]));
  for (HANDLE h : e) CloseHandle(h);
  for (HANDLE h : m) CloseHandle(h);
}

struct MultiWait {
  HANDLE* handles;
  DWORD n;
  BOOL all;
  DWORD result = 0;
};

DWORD WINAPI multi_wait_routine(LPVOID p) {
  auto* m = static_cast<MultiWait*>(p);
  m->result = WaitForMultipleObjects(m->n, m->handles, m->all, kLongWait);
  return 0;
}

// R8.6: a blocked "any" wait returns the index of the object that was set.
TEST(Win32Waits, BlockedAnyWaitReturnsTheIndexThatWasSet) {
  HANDLE e[3] = {auto_event(), auto_event(), auto_event()};
  MultiWait m{e, 3, FALSE};
  HANDLE t = CreateThread(nullptr, 0, multi_wait_routine, &m, 0, nullptr);
  ASSERT_NE(t, nullptr);
  ASSERT_TRUE(SetEvent(e[2]));
  ASSERT_EQ(WaitForSingleObject(t, kLongWait), WAIT_OBJECT_0);
  EXPECT_EQ(m.result, WAIT_OBJECT_0 + 2);
  EXPECT_FALSE(signalled(e[2]));  // consumed by that wait
  CloseHandle(t);
  for (HANDLE h : e) CloseHandle(h);
}

// R8.6: waitAll takes everything at once or nothing: with one auto-reset event
// set and the other not, it times out and the set one is still set.
TEST(Win32Waits, WaitAllIsAtomic) {
  HANDLE e[2] = {auto_event(true), auto_event()};
  EXPECT_EQ(WaitForMultipleObjects(2, e, TRUE, 100), static_cast<DWORD>(WAIT_TIMEOUT));
  EXPECT_TRUE(signalled(e[0]));  // still set (and now consumed by this poll)
  ASSERT_TRUE(SetEvent(e[0]));
  ASSERT_TRUE(SetEvent(e[1]));
  EXPECT_EQ(WaitForMultipleObjects(2, e, TRUE, 0), WAIT_OBJECT_0);
  EXPECT_FALSE(signalled(e[0]));  // both consumed together
  EXPECT_FALSE(signalled(e[1]));
  for (HANDLE h : e) CloseHandle(h);
}

// R8.6: a blocked waitAll leaves a set object alone while another is unset, and
// returns once all are set, consuming them together.
TEST(Win32Waits, BlockedWaitAllTakesNothingUntilAllAreSet) {
  HANDLE e[2] = {auto_event(), auto_event()};
  MultiWait m{e, 2, TRUE};
  HANDLE t = CreateThread(nullptr, 0, multi_wait_routine, &m, 0, nullptr);
  ASSERT_NE(t, nullptr);
  ASSERT_TRUE(SetEvent(e[0]));
  EXPECT_EQ(WaitForSingleObject(t, 100), static_cast<DWORD>(WAIT_TIMEOUT));
  EXPECT_TRUE(signalled(e[0]));  // whether or not the waiter had started: not taken
  ASSERT_TRUE(SetEvent(e[1]));   // the waiter still lacks e[0]
  EXPECT_EQ(WaitForSingleObject(t, 100), static_cast<DWORD>(WAIT_TIMEOUT));
  ASSERT_TRUE(SetEvent(e[0]));
  ASSERT_EQ(WaitForSingleObject(t, kLongWait), WAIT_OBJECT_0);
  EXPECT_EQ(m.result, WAIT_OBJECT_0);
  EXPECT_FALSE(signalled(e[0]));
  EXPECT_FALSE(signalled(e[1]));
  CloseHandle(t);
  for (HANDLE h : e) CloseHandle(h);
}

// R8.6: 1..64 handles; 0, 65, a NULL array, and a handle named twice with
// waitAll are ERROR_INVALID_PARAMETER.
TEST(Win32Waits, SixtyFourHandlesAndNoMore) {
  HANDLE e[MAXIMUM_WAIT_OBJECTS + 1];
  for (HANDLE& h : e) h = manual_event();
  ASSERT_EQ(MAXIMUM_WAIT_OBJECTS, 64);
  EXPECT_EQ(WaitForMultipleObjects(64, e, FALSE, 0), static_cast<DWORD>(WAIT_TIMEOUT));
  SetEvent(e[63]);
  EXPECT_EQ(WaitForMultipleObjects(64, e, FALSE, 0), WAIT_OBJECT_0 + 63);
  EXPECT_EQ(WaitForMultipleObjects(64, e, TRUE, 0), static_cast<DWORD>(WAIT_TIMEOUT));
  for (HANDLE h : e) SetEvent(h);
  EXPECT_EQ(WaitForMultipleObjects(64, e, TRUE, 0), WAIT_OBJECT_0);
  EXPECT_EQ(WaitForMultipleObjectsEx(64, e, TRUE, 0, TRUE), WAIT_OBJECT_0);

  SetLastError(0);
  EXPECT_EQ(WaitForMultipleObjects(65, e, FALSE, 0), WAIT_FAILED);
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INVALID_PARAMETER));
  SetLastError(0);
  EXPECT_EQ(WaitForMultipleObjects(0, e, FALSE, 0), WAIT_FAILED);
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INVALID_PARAMETER));
  SetLastError(0);
  EXPECT_EQ(WaitForMultipleObjects(2, nullptr, FALSE, 0), WAIT_FAILED);
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INVALID_PARAMETER));
  HANDLE twice[] = {e[0], e[1], e[0]};
  SetLastError(0);
  EXPECT_EQ(WaitForMultipleObjects(3, twice, TRUE, 0), WAIT_FAILED);
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INVALID_PARAMETER));
  EXPECT_EQ(WaitForMultipleObjects(3, twice, FALSE, 0), WAIT_OBJECT_0);  // "any" allows it
  for (HANDLE h : e) CloseHandle(h);
}

// R8.6: threads and events mix in one wait, "any" and "all".
TEST(Win32Waits, MixedThreadAndEventHandles) {
  Gated g;
  g.code = 3;
  HANDLE t = start_gated(&g);
  ASSERT_NE(t, nullptr);
  HANDLE e = manual_event();
  HANDLE hs[] = {e, t};
  EXPECT_EQ(WaitForMultipleObjects(2, hs, FALSE, 0), static_cast<DWORD>(WAIT_TIMEOUT));
  SetEvent(g.gate);
  EXPECT_EQ(WaitForMultipleObjects(2, hs, FALSE, kLongWait), WAIT_OBJECT_0 + 1);
  EXPECT_EQ(WaitForMultipleObjects(2, hs, TRUE, 50), static_cast<DWORD>(WAIT_TIMEOUT));
  SetEvent(e);
  EXPECT_EQ(WaitForMultipleObjects(2, hs, TRUE, 0), WAIT_OBJECT_0);
  EXPECT_EQ(WaitForMultipleObjects(2, hs, FALSE, 0), WAIT_OBJECT_0);
  CloseHandle(t);
  CloseHandle(e);
  CloseHandle(g.gate);
}

// R8.6: SignalObjectAndWait sets one event and waits on another object.
struct Relay {
  HANDLE in, out;
};

DWORD WINAPI relay_routine(LPVOID p) {
  auto* r = static_cast<Relay*>(p);
  if (WaitForSingleObject(r->in, kLongWait) != WAIT_OBJECT_0) return 1;
  return SetEvent(r->out) ? 0 : 2;
}

TEST(Win32Waits, SignalObjectAndWait) {
  Relay r{auto_event(), auto_event()};
  HANDLE t = CreateThread(nullptr, 0, relay_routine, &r, 0, nullptr);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(SignalObjectAndWait(r.in, r.out, kLongWait, FALSE), WAIT_OBJECT_0);
  ASSERT_EQ(WaitForSingleObject(t, kLongWait), WAIT_OBJECT_0);
  DWORD code = 9;
  GetExitCodeThread(t, &code);
  EXPECT_EQ(code, 0u);
  EXPECT_EQ(SignalObjectAndWait(r.in, r.out, 0, FALSE), static_cast<DWORD>(WAIT_TIMEOUT));
  EXPECT_TRUE(signalled(r.in));  // it was set all the same
  SetLastError(0);
  EXPECT_EQ(SignalObjectAndWait(t, r.out, 0, FALSE), WAIT_FAILED);  // a thread is not signalable
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INVALID_HANDLE));
  CloseHandle(t);
  CloseHandle(r.in);
  CloseHandle(r.out);
}

// ---- one handle table for every kind (R8.6, R3.2) ----------------------------------------

HANDLE finished_thread() {
  Seen s;
  HANDLE t = CreateThread(nullptr, 0, record_routine, &s, 0, nullptr);
  if (t) WaitForSingleObject(t, kLongWait);
  return t;
}

void expect_invalid_handle_everywhere(HANDLE h) {
  SetLastError(0);
  EXPECT_FALSE(CloseHandle(h));
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INVALID_HANDLE));
  SetLastError(0);
  EXPECT_EQ(WaitForSingleObject(h, 0), WAIT_FAILED);
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INVALID_HANDLE));
  SetLastError(0);
  EXPECT_FALSE(SetEvent(h));
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INVALID_HANDLE));
  SetLastError(0);
  EXPECT_FALSE(ResetEvent(h));
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INVALID_HANDLE));
  DWORD code = 0;
  SetLastError(0);
  EXPECT_FALSE(GetExitCodeThread(h, &code));
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INVALID_HANDLE));
}

// R8.6: CloseHandle takes threads, events and ports; afterwards each value is
// ERROR_INVALID_HANDLE everywhere, a second close included.
TEST(Win32Handles, CloseHandleOfEachKindThenItIsInvalid) {
  HANDLE t = finished_thread();
  HANDLE e = manual_event();
  HANDLE p = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 0);
  ASSERT_NE(t, nullptr);
  ASSERT_NE(e, nullptr);
  ASSERT_NE(p, nullptr);
  EXPECT_NE(t, e);
  EXPECT_NE(e, p);
  EXPECT_TRUE(CloseHandle(t));
  EXPECT_TRUE(CloseHandle(e));
  EXPECT_TRUE(CloseHandle(p));
  for (HANDLE h : {t, e, p}) expect_invalid_handle_everywhere(h);
  SetLastError(0);
  EXPECT_FALSE(PostQueuedCompletionStatus(p, 0, 0, nullptr));
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INVALID_HANDLE));
}

// R8.6, R3.2: made-up values fail, and nothing crashes.
TEST(Win32Handles, MadeUpHandlesFail) {
  int on_stack = 0;
  HANDLE made_up[] = {nullptr,
                      INVALID_HANDLE_VALUE,
                      reinterpret_cast<HANDLE>(1),
                      reinterpret_cast<HANDLE>(0x1234),
                      reinterpret_cast<HANDLE>(0x15),
                      reinterpret_cast<HANDLE>(&on_stack),
                      reinterpret_cast<HANDLE>(~std::uintptr_t{0} - 10)};
  for (HANDLE h : made_up) expect_invalid_handle_everywhere(h);
  HANDLE good = manual_event();
  HANDLE mixed[] = {good, reinterpret_cast<HANDLE>(0x1234)};
  SetLastError(0);
  EXPECT_EQ(WaitForMultipleObjects(2, mixed, FALSE, 0), WAIT_FAILED);
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INVALID_HANDLE));
  SetLastError(0);
  EXPECT_EQ(ResumeThread(reinterpret_cast<HANDLE>(0x1234)), static_cast<DWORD>(-1));
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INVALID_HANDLE));
  CloseHandle(good);
}

// R8.6: a handle of the wrong kind fails as a stale one: SetEvent on a thread
// or a port, thread calls on an event, port calls on an event, and (psn)
// waiting on a port.
TEST(Win32Handles, WrongKindIsInvalidHandle) {
  HANDLE t = finished_thread();
  HANDLE e = manual_event();
  HANDLE p = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 0);
  ASSERT_NE(t, nullptr);
  ASSERT_NE(p, nullptr);
  for (HANDLE h : {t, p}) {
    SetLastError(0);
    EXPECT_FALSE(SetEvent(h));
    EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INVALID_HANDLE));
    SetLastError(0);
    EXPECT_FALSE(ResetEvent(h));
    EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INVALID_HANDLE));
    SetLastError(0);
    EXPECT_FALSE(PulseEvent(h));
    EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INVALID_HANDLE));
  }
  DWORD code = 0;
  for (HANDLE h : {e, p}) {
    SetLastError(0);
    EXPECT_FALSE(GetExitCodeThread(h, &code));
    EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INVALID_HANDLE));
    SetLastError(0);
    EXPECT_EQ(ResumeThread(h), static_cast<DWORD>(-1));
    EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INVALID_HANDLE));
  }
  for (HANDLE h : {t, e}) {
    SetLastError(0);
    EXPECT_FALSE(PostQueuedCompletionStatus(h, 1, 2, nullptr));
    EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INVALID_HANDLE));
  }
  SetLastError(0);
  EXPECT_EQ(WaitForSingleObject(p, 0), WAIT_FAILED);
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INVALID_HANDLE));
  HANDLE with_port[] = {e, t, p};
  SetLastError(0);
  EXPECT_EQ(WaitForMultipleObjects(3, with_port, FALSE, 0), WAIT_FAILED);
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INVALID_HANDLE));
  // Each is still open and works as its own kind.
  EXPECT_TRUE(SetEvent(e));
  EXPECT_TRUE(signalled(t));
  EXPECT_TRUE(PostQueuedCompletionStatus(p, 1, 2, nullptr));
  EXPECT_TRUE(CloseHandle(t));
  EXPECT_TRUE(CloseHandle(e));
  EXPECT_TRUE(CloseHandle(p));
}

struct RunsOn {
  HANDLE gate = manual_event();
  HANDLE done = manual_event();
};

DWORD WINAPI runs_on_routine(LPVOID p) {
  auto* r = static_cast<RunsOn*>(p);
  if (WaitForSingleObject(r->gate, kLongWait) != WAIT_OBJECT_0) return 1;
  SetEvent(r->done);
  return 0;
}

// R8.6: closing a running thread's handle closes the handle only; the thread
// runs on to its end.
TEST(Win32Handles, CloseHandleOfARunningThreadLetsItRunOn) {
  RunsOn r;
  HANDLE t = CreateThread(nullptr, 0, runs_on_routine, &r, 0, nullptr);
  ASSERT_NE(t, nullptr);
  ASSERT_TRUE(CloseHandle(t));
  expect_invalid_handle_everywhere(t);
  ASSERT_TRUE(SetEvent(r.gate));
  EXPECT_EQ(WaitForSingleObject(r.done, kLongWait), WAIT_OBJECT_0);
  CloseHandle(r.gate);
  CloseHandle(r.done);
}

// R8.6: the same for a thread created suspended and then resumed through its
// handle, closed while the thread still runs.
TEST(Win32Handles, CloseHandleOfAResumedThreadLetsItRunOn) {
  RunsOn r;
  HANDLE t = CreateThread(nullptr, 0, runs_on_routine, &r, CREATE_SUSPENDED, nullptr);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(ResumeThread(t), 1u);
  ASSERT_TRUE(CloseHandle(t));
  ASSERT_TRUE(SetEvent(r.gate));
  EXPECT_EQ(WaitForSingleObject(r.done, kLongWait), WAIT_OBJECT_0);
  CloseHandle(r.gate);
  CloseHandle(r.done);
}

struct Crowd {
  std::atomic<int> finished{0};
  HANDLE all_done = manual_event();
  int total = 0;
};

DWORD WINAPI crowd_routine(LPVOID p) {
  auto* c = static_cast<Crowd*>(p);
  if (++c->finished == c->total) SetEvent(c->all_done);
  return 0;
}

// R8.6: many threads created and closed, some still running when closed,
// some after they ended: every one runs, and nothing leaks (under ASan).
TEST(Win32Handles, ManyThreadsCreatedAndClosed) {
  Crowd c;
  c.total = 600;
  for (int i = 0; i < c.total; ++i) {
    HANDLE t = CreateThread(nullptr, 0, crowd_routine, &c, 0, nullptr);
    ASSERT_NE(t, nullptr) << i;
    if (i % 3 == 0) {
      EXPECT_EQ(WaitForSingleObject(t, kLongWait), WAIT_OBJECT_0);
    }
    ASSERT_TRUE(CloseHandle(t));
  }
  EXPECT_EQ(WaitForSingleObject(c.all_done, kLongWait), WAIT_OBJECT_0);
  EXPECT_EQ(c.finished, c.total);
  CloseHandle(c.all_done);
}

// ---- signals (EINTR) ---------------------------------------------------------------------

std::atomic<int> g_handled{0};
void count_signal(int) {
  ++g_handled;
}

// Installs a SIGUSR1 handler without SA_RESTART, so blocking calls see EINTR.
class InterruptingHandler {
 public:
  InterruptingHandler() {
    struct sigaction sa = {};
    sa.sa_handler = count_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGUSR1, &sa, &old_);
  }
  ~InterruptingHandler() { sigaction(SIGUSR1, &old_, nullptr); }

 private:
  struct sigaction old_ = {};
};

// Sends SIGUSR1 to `target` every 20 ms while `*go`.
void pester(pthread_t target, const std::atomic<bool>* go) {
  while (*go) {
    pthread_kill(target, SIGUSR1);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// R8.6, as R3.7: signals delivered to a waiting thread neither end nor shorten
// the wait: a timed wait still times out no earlier than asked, an infinite
// one still returns only when its object is set, and Sleep sleeps its time.
TEST(Win32Signals, EintrDoesNotEndAWaitEarly) {
  InterruptingHandler handler;
  g_handled = 0;
  HANDLE e = auto_event();
  DWORD timed = 0, infinite = 0, multi = 0;
  long long timed_ms = 0, sleep_ms = 0;
  std::atomic<bool> in_infinite{false};
  std::thread waiter([&] {
    auto t0 = Clock::now();
    timed = WaitForSingleObject(e, 400);
    timed_ms = ms_since(t0);
    HANDLE hs[] = {e, e};
    t0 = Clock::now();
    Sleep(300);
    sleep_ms = ms_since(t0);
    multi = WaitForMultipleObjects(2, hs, FALSE, 200);
    in_infinite = true;
    infinite = WaitForSingleObject(e, INFINITE);
  });
  std::atomic<bool> go{true};
  std::thread pesterer(pester, waiter.native_handle(), &go);
  ASSERT_TRUE(eventually([&] { return in_infinite.load(); }));
  Sleep(200);  // more signals land in the infinite wait
  go = false;
  pesterer.join();
  SetEvent(e);
  waiter.join();
  EXPECT_GT(g_handled, 10);
  EXPECT_EQ(timed, static_cast<DWORD>(WAIT_TIMEOUT));
  EXPECT_GE(timed_ms, 400);
  EXPECT_GE(sleep_ms, 300);
  EXPECT_EQ(multi, static_cast<DWORD>(WAIT_TIMEOUT));
  EXPECT_EQ(infinite, WAIT_OBJECT_0);
  CloseHandle(e);
}

}  // namespace
