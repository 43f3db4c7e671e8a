// The objects the Win32 wait functions take (R8.6): threads and events, in the
// shared handle table next to ports, and the machinery that waits on them.
//
// Why it is built so: WaitForMultipleObjects with bWaitAll must take every
// object at once or none (an auto-reset event is consumed only together with
// the others), and that needs one consistent view of several objects. So all
// waitable state (event flags, thread completion, the lists of waiters) sits
// under one process-wide mutex, held only for short, non-blocking steps. Each
// waiting call puts a wait_block on its own stack and links it on every object
// it waits for; it then sleeps on its block's own futex word. Whoever makes an
// object signalled (SetEvent, a thread's end) walks that object's waiters in
// FIFO order under the mutex, satisfies those it can (consuming an auto-reset
// event for the first one, so exactly one is released), unlinks them and wakes
// just their futexes: no thread is woken that cannot proceed, and no thread
// that is woken has to compete for the object again.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include "core/handle_table.hpp"
#include "core/object.hpp"

namespace psn::win32 {

constexpr std::uint32_t kMaxWaitObjects = 64;  // MAXIMUM_WAIT_OBJECTS
constexpr std::uint32_t kStillActive = 259;    // STILL_ACTIVE

struct wait_block;

// One object of one waiting call, on that object's list of waiters.
struct wait_link {
  wait_link* prev = nullptr;
  wait_link* next = nullptr;
  wait_block* block = nullptr;
};

// Guards every field marked so below, in every waitable object, and every
// wait_block while it is linked.
std::mutex& wait_mutex() noexcept;

class waitable : public core::object {
 public:
  using core::object::object;

  // Both under wait_mutex(). A satisfied wait consumes the signal: an
  // auto-reset event resets; a finished thread stays signalled.
  virtual bool signalled() const noexcept = 0;
  virtual void consume() noexcept {}

  // CloseHandle: the object stays as it is for calls that still hold it.
  void close() noexcept override {}

  // FIFO list of waiters, under wait_mutex().
  void link(wait_link* l) noexcept;
  void unlink(wait_link* l) noexcept;

  // Under wait_mutex(), after this object became signalled: releases the
  // waiters that can now be satisfied, oldest first, while it stays signalled.
  void release_waiters() noexcept;

 private:
  wait_link* head_ = nullptr;
  wait_link* tail_ = nullptr;
};

class event_object final : public waitable {
 public:
  static constexpr kind kKind = kind::event;
  event_object(bool manual_reset, bool initially_set) noexcept
      : waitable(kKind), manual_(manual_reset), set_(initially_set) {}

  bool signalled() const noexcept override { return set_; }
  void consume() noexcept override {
    if (!manual_) set_ = false;
  }
  // Under wait_mutex().
  void set() noexcept {
    set_ = true;
    release_waiters();
  }
  void reset() noexcept { set_ = false; }
  bool manual_reset() const noexcept { return manual_; }

 private:
  const bool manual_;
  bool set_;  // wait_mutex()
};

using thread_routine = std::uint32_t (*)(void*);

class thread_object final : public waitable {
 public:
  static constexpr kind kKind = kind::thread;
  thread_object(thread_routine fn, void* arg, std::uint32_t suspend_count) noexcept
      : waitable(kKind), routine(fn), argument(arg), suspend(suspend_count) {}

  bool signalled() const noexcept override { return finished; }

  const thread_routine routine;
  void* const argument;
  // The running thread's own reference on its handle-table slot: it keeps the
  // object alive after CloseHandle until the thread ends.
  core::handle_table::slot* self_slot = nullptr;
  // Futex words. tid: the Linux thread id, published by the thread as it
  // starts (0 until then). suspend: the suspend count; the thread waits for 0
  // before calling its routine (CREATE_SUSPENDED, ResumeThread).
  std::atomic<std::uint32_t> tid{0};
  std::atomic<std::uint32_t> suspend;
  // ExitThread's code, written by the thread itself only.
  std::uint32_t exit_request = 0;
  bool finished = false;                   // wait_mutex()
  std::uint32_t exit_code = kStillActive;  // wait_mutex()
};

// A waiting call, on the waiter's stack while it is linked.
struct wait_block {
  waitable* objects[kMaxWaitObjects];
  wait_link links[kMaxWaitObjects];
  std::uint32_t count = 0;
  bool all = false;
  int satisfied = -1;                  // wait_mutex(): the index returned, once satisfied
  std::atomic<std::uint32_t> word{0};  // futex: becomes 1 when satisfied
};

// Waits on n (1..64) objects the caller holds references on, as
// WaitForMultipleObjects does; with to_signal, sets that event first in the
// same step (SignalObjectAndWait). Returns WAIT_OBJECT_0 + index or
// WAIT_TIMEOUT.
std::uint32_t wait_for(waitable* const* objects, std::uint32_t n, bool all, std::uint32_t ms,
                       event_object* to_signal) noexcept;

// The calling thread's Linux thread id (GetCurrentThreadId), cached.
std::uint32_t current_tid() noexcept;

}  // namespace psn::win32
