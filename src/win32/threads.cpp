// Threads, events and the wait functions of psn-win32 (R8.6).
//
// Threads and events live in the handle table shared with ports, so
// CloseHandle and the waits take any of them, and a stale value fails as
// ERROR_INVALID_HANDLE (R3.2). The wait machinery, and why it is built the
// way it is, is described in wait_objects.hpp: one process-wide mutex over
// all waitable state, a wait block on each waiter's stack linked on every
// object it waits for, and a futex per waiter, so a SetEvent wakes only the
// threads it releases.

// The C++ library's min/max stay usable.
#define NOMINMAX

#include <limits.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <new>
#include <type_traits>

#include "core/api.hpp"
#include "core/handle_table.hpp"
#include "psn_win32/base.h"
#include "psn_win32/system.h"
#include "win32/sync_futex.hpp"
#include "win32/wait_objects.hpp"

namespace psn::win32 {
namespace {

using core::handle_table;

// Constant-initialised and trivially destructible, so it works from the
// first static constructor to the last thread to exit.
constinit std::mutex g_wait_mutex;
static_assert(std::is_trivially_destructible_v<std::mutex>);

thread_local std::uint32_t t_tid = 0;
thread_local thread_object* t_self = nullptr;  // in threads CreateThread started

// fork(): the wait mutex is held across it, so the child never inherits it
// locked by a thread that does not exist there; and the child's one thread
// has a new id, so the cached one is forgotten.
void before_fork() noexcept {
  g_wait_mutex.lock();
}
void after_fork_in_parent() noexcept {
  g_wait_mutex.unlock();
}
void after_fork_in_child() noexcept {
  g_wait_mutex.unlock();
  t_tid = 0;
}
[[maybe_unused]] const int g_atfork =
    pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child);

BOOL fail(DWORD code) noexcept {
  SetLastError(code);
  return FALSE;
}

HANDLE fail_handle(DWORD code) noexcept {
  SetLastError(code);
  return nullptr;
}

DWORD fail_wait(DWORD code) noexcept {
  SetLastError(code);
  return WAIT_FAILED;
}

handle_table::handle to_handle(HANDLE h) noexcept {
  return reinterpret_cast<std::uintptr_t>(h);
}

// A reference, for one call, on a thread or an event (anything a wait takes).
// A port, a closed or made-up value leaves it empty.
class waitable_ref {
 public:
  waitable_ref() noexcept = default;
  explicit waitable_ref(HANDLE h) noexcept { take(h); }
  ~waitable_ref() { drop(); }
  waitable_ref(const waitable_ref&) = delete;
  waitable_ref& operator=(const waitable_ref&) = delete;

  bool take(HANDLE h) noexcept {
    auto& t = handle_table::instance();
    core::object* o = t.acquire(to_handle(h), &slot_);
    if (!o) return false;
    if (o->type() != core::object::kind::thread && o->type() != core::object::kind::event) {
      t.release(slot_);
      return false;
    }
    p_ = static_cast<waitable*>(o);
    return true;
  }
  void drop() noexcept {
    if (p_) handle_table::instance().release(slot_);
    p_ = nullptr;
  }
  waitable* get() const noexcept { return p_; }

 private:
  handle_table::slot* slot_ = nullptr;
  waitable* p_ = nullptr;
};

using event_ref = core::object_ref<event_object>;
using thread_ref = core::object_ref<thread_object>;

// ---- waiting ----------------------------------------------------------------

// Under the mutex: takes what the block waits for if it can be had now, and
// returns the index to report (the lowest signalled one for "any"), else -1.
int try_satisfy(waitable* const* objects, std::uint32_t n, bool all) noexcept {
  if (all) {
    for (std::uint32_t i = 0; i < n; ++i)
      if (!objects[i]->signalled()) return -1;
    for (std::uint32_t i = 0; i < n; ++i) objects[i]->consume();
    return 0;
  }
  for (std::uint32_t i = 0; i < n; ++i) {
    if (objects[i]->signalled()) {
      objects[i]->consume();
      return static_cast<int>(i);
    }
  }
  return -1;
}

void unlink_block(wait_block* b) noexcept {
  for (std::uint32_t i = 0; i < b->count; ++i) b->objects[i]->unlink(&b->links[i]);
}

}  // namespace

std::mutex& wait_mutex() noexcept {
  return g_wait_mutex;
}

std::uint32_t current_tid() noexcept {
  if (t_tid == 0) t_tid = static_cast<std::uint32_t>(syscall(SYS_gettid));
  return t_tid;
}

void waitable::link(wait_link* l) noexcept {
  l->next = nullptr;
  l->prev = tail_;
  if (tail_) {
    tail_->next = l;
  } else {
    head_ = l;
  }
  tail_ = l;
}

void waitable::unlink(wait_link* l) noexcept {
  if (l->prev) {
    l->prev->next = l->next;
  } else {
    head_ = l->next;
  }
  if (l->next) {
    l->next->prev = l->prev;
  } else {
    tail_ = l->prev;
  }
  l->prev = l->next = nullptr;
}

void waitable::release_waiters() noexcept {
  wait_link* l = head_;
  while (l && signalled()) {
    wait_block* b = l->block;
    // A block links all its objects in one step, so its links on this list
    // (one per time it names this object) are adjacent: step past them all
    // before unlinking the block.
    wait_link* next = l->next;
    while (next && next->block == b) next = next->next;
    int i = try_satisfy(b->objects, b->count, b->all);
    if (i >= 0) {
      b->satisfied = i;
      unlink_block(b);
      b->word.store(1, std::memory_order_release);
      // Still under the mutex: the waiter cannot return, and take its block
      // off its stack, before it has the mutex again.
      futex_wake(&b->word, 1);
    }
    l = next;
  }
}

std::uint32_t wait_for(waitable* const* objects, std::uint32_t n, bool all, std::uint32_t ms,
                       event_object* to_signal) noexcept {
  const bool infinite = ms == kInfinite;
  const timespec deadline = infinite ? timespec{} : deadline_after(ms);
  wait_block b;
  std::unique_lock<std::mutex> lock(g_wait_mutex);
  if (to_signal) to_signal->set();
  int i = try_satisfy(objects, n, all);
  if (i >= 0) return WAIT_OBJECT_0 + static_cast<std::uint32_t>(i);
  if (ms == 0) return WAIT_TIMEOUT;
  b.count = n;
  b.all = all;
  for (std::uint32_t k = 0; k < n; ++k) {
    b.objects[k] = objects[k];
    b.links[k].block = &b;
    objects[k]->link(&b.links[k]);
  }
  for (;;) {
    lock.unlock();
    // A signal or a spurious return just looks again, against the same
    // absolute deadline: it never shortens the wait (R8.6, as R3.7).
    woke how = futex_wait(&b.word, 0, infinite ? nullptr : &deadline);
    lock.lock();
    if (b.satisfied >= 0) return WAIT_OBJECT_0 + static_cast<std::uint32_t>(b.satisfied);
    if (how == woke::timed_out || (!infinite && passed(deadline))) {
      unlink_block(&b);
      return WAIT_TIMEOUT;
    }
  }
}

namespace {

// ---- threads ------------------------------------------------------------------

// Publishes the thread's end: its exit code, its handle signalled, its own
// reference dropped. A destructor, so ExitThread's unwinding runs it too.
struct thread_end {
  thread_object* t;
  bool returned = false;
  std::uint32_t code = 0;
  ~thread_end() {
    {
      std::lock_guard<std::mutex> lock(g_wait_mutex);
      t->exit_code = returned ? code : t->exit_request;
      t->finished = true;
      t->release_waiters();
    }
    t_self = nullptr;
    // May free t, if its handle is closed already.
    handle_table::instance().release(t->self_slot);
  }
};

// Not noexcept: ExitThread unwinds the thread's stack through here
// (pthread_exit's forced unwinding), which a noexcept frame would turn into
// std::terminate.
void* thread_main(void* arg) {
  auto* t = static_cast<thread_object*>(arg);
  t_self = t;
  t->tid.store(current_tid(), std::memory_order_release);
  futex_wake_all(&t->tid);
  for (;;) {
    std::uint32_t c = t->suspend.load(std::memory_order_acquire);
    if (c == 0) break;
    futex_wait(&t->suspend, c, nullptr);
  }
  thread_end end{t};
  end.code = t->routine(t->argument);
  end.returned = true;
  return nullptr;
}

DWORD from_pthread_error(int e) noexcept {
  switch (e) {
    case EPERM:
      return ERROR_ACCESS_DENIED;
    case EINVAL:
      return ERROR_INVALID_PARAMETER;
    default:  // EAGAIN (too many threads, no memory for a stack), ENOMEM
      return ERROR_NOT_ENOUGH_MEMORY;
  }
}

// The size the new thread's stack gets, 0 for Linux's default. With
// STACK_SIZE_PARAM_IS_A_RESERVATION the size is the whole stack, as Windows
// reserves it; without, it is what Windows commits at first, and the stack is
// never smaller than the default (Windows reserves at least its default
// too), so a program never has less stack than it would there.
int stack_size_for(SIZE_T requested, DWORD flags, size_t* out) noexcept {
  *out = 0;
  if (requested == 0) return 0;
  constexpr SIZE_T kMaxStack = SIZE_T{1} << 40;
  if (requested > kMaxStack) return ENOMEM;
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  // PTHREAD_STACK_MIN is a sysconf call in newer C libraries.
  const size_t min_stack = static_cast<size_t>(PTHREAD_STACK_MIN);
  size_t size = requested < min_stack ? min_stack : requested;
  size = (size + page - 1) / page * page;
  if (!(flags & STACK_SIZE_PARAM_IS_A_RESERVATION)) {
    pthread_attr_t def;
    size_t default_size = 0;
    if (pthread_getattr_default_np(&def) == 0) {
      pthread_attr_getstacksize(&def, &default_size);
      pthread_attr_destroy(&def);
    }
    if (size <= default_size) return 0;
  }
  *out = size;
  return 0;
}

// ---- events -------------------------------------------------------------------------

HANDLE new_event(bool manual, bool initial) noexcept {
  auto* e = new (std::nothrow) event_object(manual, initial);
  if (!e) return fail_handle(ERROR_NOT_ENOUGH_MEMORY);
  handle_table::handle h = handle_table::instance().insert(e);
  if (!h) {
    delete e;
    return fail_handle(ERROR_NOT_ENOUGH_MEMORY);
  }
  SetLastError(ERROR_SUCCESS);  // as Windows: no ERROR_ALREADY_EXISTS
  return reinterpret_cast<HANDLE>(h);
}

constexpr DWORD kEventExFlags = CREATE_EVENT_MANUAL_RESET | CREATE_EVENT_INITIAL_SET;

}  // namespace
}  // namespace psn::win32

using namespace psn::win32;
using psn::core::handle_table;

extern "C" {

// ---- threads ------------------------------------------------------------------

HANDLE WINAPI CreateThread(LPSECURITY_ATTRIBUTES /*ignored*/, SIZE_T dwStackSize,
                           LPTHREAD_START_ROUTINE lpStartAddress, LPVOID lpParameter,
                           DWORD dwCreationFlags, LPDWORD lpThreadId) {
  if (dwCreationFlags & ~DWORD{CREATE_SUSPENDED | STACK_SIZE_PARAM_IS_A_RESERVATION})
    return fail_handle(ERROR_INVALID_PARAMETER);
  // (psn) Windows would start the thread and let it crash.
  if (!lpStartAddress) return fail_handle(ERROR_INVALID_PARAMETER);
  size_t stack = 0;
  if (int e = stack_size_for(dwStackSize, dwCreationFlags, &stack))
    return fail_handle(from_pthread_error(e));

  auto* t = new (std::nothrow)
      thread_object(lpStartAddress, lpParameter, (dwCreationFlags & CREATE_SUSPENDED) ? 1u : 0u);
  if (!t) return fail_handle(ERROR_NOT_ENOUGH_MEMORY);
  auto& table = handle_table::instance();
  handle_table::handle h = table.insert(t);
  if (!h) {
    delete t;
    return fail_handle(ERROR_NOT_ENOUGH_MEMORY);
  }
  // References beside the table's: the thread's own, and ours until it has
  // told us its id (a made-up CloseHandle of this very value cannot free it
  // under us).
  // Only a CloseHandle of a guessed value, between insert and here, can make
  // these fail; t is then gone or going, and the thread is never started.
  handle_table::slot* own = nullptr;
  handle_table::slot* ours = nullptr;
  if (!table.acquire(h, &own)) return fail_handle(ERROR_INVALID_HANDLE);
  if (!table.acquire(h, &ours)) {
    table.release(own);
    return fail_handle(ERROR_INVALID_HANDLE);
  }
  t->self_slot = own;

  pthread_attr_t attr;
  int e = pthread_attr_init(&attr);
  if (e == 0) {
    e = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (e == 0 && stack) e = pthread_attr_setstacksize(&attr, stack);
    pthread_t id;
    if (e == 0) e = pthread_create(&id, &attr, thread_main, t);
    pthread_attr_destroy(&attr);
  }
  if (e != 0) {
    table.release(own);
    table.release(ours);
    psn::core::close_handle(h);  // frees t
    return fail_handle(from_pthread_error(e));
  }
  std::uint32_t tid;
  while ((tid = t->tid.load(std::memory_order_acquire)) == 0) futex_wait(&t->tid, 0, nullptr);
  table.release(ours);
  if (lpThreadId) *lpThreadId = tid;
  return reinterpret_cast<HANDLE>(h);
}

DWORD WINAPI ResumeThread(HANDLE hThread) {
  thread_ref t(to_handle(hThread));
  if (!t) {
    SetLastError(ERROR_INVALID_HANDLE);
    return static_cast<DWORD>(-1);
  }
  std::uint32_t c = t->suspend.load(std::memory_order_relaxed);
  while (c != 0 && !t->suspend.compare_exchange_weak(c, c - 1, std::memory_order_release,
                                                     std::memory_order_relaxed)) {
  }
  if (c == 1) futex_wake_all(&t->suspend);
  return c;
}

BOOL WINAPI GetExitCodeThread(HANDLE hThread, LPDWORD lpExitCode) {
  thread_ref t(to_handle(hThread));
  if (!t) return fail(ERROR_INVALID_HANDLE);
  if (!lpExitCode) return fail(ERROR_INVALID_PARAMETER);
  std::lock_guard<std::mutex> lock(g_wait_mutex);
  *lpExitCode = t->exit_code;
  return TRUE;
}

DWORD WINAPI GetThreadId(HANDLE Thread) {
  thread_ref t(to_handle(Thread));
  if (!t) {
    SetLastError(ERROR_INVALID_HANDLE);
    return 0;
  }
  return t->tid.load(std::memory_order_acquire);
}

DWORD WINAPI GetCurrentThreadId(void) {
  return current_tid();
}

DWORD WINAPI GetCurrentProcessId(void) {
  return static_cast<DWORD>(getpid());
}

void WINAPI ExitThread(DWORD dwExitCode) {
  if (t_self) t_self->exit_request = dwExitCode;
  // Unwinds to thread_main, whose thread_end publishes the code.
  pthread_exit(nullptr);
}

// ---- events -------------------------------------------------------------------

// (psn) Named events are shared between processes on Windows; psn has no
// cross-process objects, so a name is refused rather than ignored.
HANDLE WINAPI CreateEventA(LPSECURITY_ATTRIBUTES, BOOL bManualReset, BOOL bInitialState,
                           LPCSTR lpName) {
  if (lpName && *lpName) return fail_handle(ERROR_NOT_SUPPORTED);
  return new_event(bManualReset != FALSE, bInitialState != FALSE);
}

HANDLE WINAPI CreateEventW(LPSECURITY_ATTRIBUTES, BOOL bManualReset, BOOL bInitialState,
                           LPCWSTR lpName) {
  if (lpName && *lpName) return fail_handle(ERROR_NOT_SUPPORTED);
  return new_event(bManualReset != FALSE, bInitialState != FALSE);
}

HANDLE WINAPI CreateEventExA(LPSECURITY_ATTRIBUTES, LPCSTR lpName, DWORD dwFlags,
                             DWORD /*access: every handle has all rights*/) {
  if (dwFlags & ~kEventExFlags) return fail_handle(ERROR_INVALID_PARAMETER);
  if (lpName && *lpName) return fail_handle(ERROR_NOT_SUPPORTED);
  return new_event(dwFlags & CREATE_EVENT_MANUAL_RESET, dwFlags & CREATE_EVENT_INITIAL_SET);
}

HANDLE WINAPI CreateEventExW(LPSECURITY_ATTRIBUTES, LPCWSTR lpName, DWORD dwFlags, DWORD) {
  if (dwFlags & ~kEventExFlags) return fail_handle(ERROR_INVALID_PARAMETER);
  if (lpName && *lpName) return fail_handle(ERROR_NOT_SUPPORTED);
  return new_event(dwFlags & CREATE_EVENT_MANUAL_RESET, dwFlags & CREATE_EVENT_INITIAL_SET);
}

BOOL WINAPI SetEvent(HANDLE hEvent) {
  event_ref e(to_handle(hEvent));
  if (!e) return fail(ERROR_INVALID_HANDLE);
  std::lock_guard<std::mutex> lock(g_wait_mutex);
  e->set();
  return TRUE;
}

BOOL WINAPI ResetEvent(HANDLE hEvent) {
  event_ref e(to_handle(hEvent));
  if (!e) return fail(ERROR_INVALID_HANDLE);
  std::lock_guard<std::mutex> lock(g_wait_mutex);
  e->reset();
  return TRUE;
}

// Releases the threads waiting at this moment that the event can release (one
// for auto-reset, all for manual-reset) and leaves it reset.
BOOL WINAPI PulseEvent(HANDLE hEvent) {
  event_ref e(to_handle(hEvent));
  if (!e) return fail(ERROR_INVALID_HANDLE);
  std::lock_guard<std::mutex> lock(g_wait_mutex);
  e->set();
  e->reset();
  return TRUE;
}

// ---- waits ----------------------------------------------------------------------

DWORD WINAPI WaitForSingleObject(HANDLE hHandle, DWORD dwMilliseconds) {
  waitable_ref r(hHandle);
  if (!r.get()) return fail_wait(ERROR_INVALID_HANDLE);
  waitable* o = r.get();
  return wait_for(&o, 1, false, dwMilliseconds, nullptr);
}

DWORD WINAPI WaitForSingleObjectEx(HANDLE hHandle, DWORD dwMilliseconds, BOOL /*alertable*/) {
  return WaitForSingleObject(hHandle, dwMilliseconds);
}

DWORD WINAPI WaitForMultipleObjects(DWORD nCount, const HANDLE* lpHandles, BOOL bWaitAll,
                                    DWORD dwMilliseconds) {
  if (nCount == 0 || nCount > kMaxWaitObjects || !lpHandles)
    return fail_wait(ERROR_INVALID_PARAMETER);
  waitable_ref refs[kMaxWaitObjects];
  waitable* objects[kMaxWaitObjects];
  for (DWORD i = 0; i < nCount; ++i) {
    if (!refs[i].take(lpHandles[i])) return fail_wait(ERROR_INVALID_HANDLE);
    objects[i] = refs[i].get();
  }
  if (bWaitAll) {
    // As Windows: an object named twice cannot be waited for "all at once".
    for (DWORD i = 1; i < nCount; ++i)
      for (DWORD j = 0; j < i; ++j)
        if (objects[i] == objects[j]) return fail_wait(ERROR_INVALID_PARAMETER);
  }
  return wait_for(objects, nCount, bWaitAll != FALSE, dwMilliseconds, nullptr);
}

DWORD WINAPI WaitForMultipleObjectsEx(DWORD nCount, const HANDLE* lpHandles, BOOL bWaitAll,
                                      DWORD dwMilliseconds, BOOL /*alertable*/) {
  return WaitForMultipleObjects(nCount, lpHandles, bWaitAll, dwMilliseconds);
}

DWORD WINAPI SignalObjectAndWait(HANDLE hObjectToSignal, HANDLE hObjectToWaitOn,
                                 DWORD dwMilliseconds, BOOL /*alertable*/) {
  // Windows also signals mutexes and semaphores, which psn does not have.
  event_ref e(to_handle(hObjectToSignal));
  if (!e) return fail_wait(ERROR_INVALID_HANDLE);
  waitable_ref r(hObjectToWaitOn);
  if (!r.get()) return fail_wait(ERROR_INVALID_HANDLE);
  waitable* o = r.get();
  return wait_for(&o, 1, false, dwMilliseconds, e.get());
}

}  // extern "C"
