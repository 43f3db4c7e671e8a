// The table behind HANDLE values (R3.2): ports, threads and events (R8.6).
//
// A handle is an opaque number that encodes a slot index and the slot's
// generation; it is never a pointer or a descriptor. Looking a handle up
// takes a reference on the port without a lock (one compare-and-swap on the
// slot), so concurrent calls on different ports share nothing. A closed,
// stale or made-up value fails the lookup. Freed slots are reused oldest
// first and each reuse bumps the generation, so a value comes back only
// after 2^32 reuses of its slot.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include "core/object.hpp"

namespace psn::core {

class port;

class handle_table {
 public:
  using handle = std::uintptr_t;

  // The process-wide table. Never destroyed, so it outlives thread exit.
  static handle_table& instance();

  // Makes a handle for o, which the table then owns. Returns 0 when full or
  // out of memory (o is left to the caller).
  handle insert(object* o) noexcept;

  struct slot;

  // Takes a reference on the object behind h; nullptr if h is not open. *where
  // receives the slot to pass to release().
  object* acquire(handle h, slot** where) noexcept;

  // Drops a reference; the last one destroys a closed object.
  void release(slot* s) noexcept;
  void release(handle h) noexcept;

  // Marks h closed: later lookups fail. Returns the object with a reference
  // held for the caller (who runs the close and then calls release() twice:
  // once for its own reference, once for the table's); nullptr if h was not
  // open.
  object* close(handle h) noexcept;

  struct slot {
    // generation (high 32 bits) | closed flag (bit 31) | references (bits 0-30)
    std::atomic<std::uint64_t> state{std::uint64_t{1} << 31};
    core::object* object = nullptr;
    std::uint32_t index = 0;
    slot* next_free = nullptr;  // free slots form a FIFO through this
  };

 private:
  static constexpr unsigned kChunkBits = 10;
  static constexpr unsigned kChunkSize = 1u << kChunkBits;
  static constexpr unsigned kChunks = 1u << 12;  // up to 4M objects at once
  static constexpr std::uint64_t kClosed = std::uint64_t{1} << 31;
  static constexpr std::uint64_t kRefs = kClosed - 1;

  slot* find(handle h, std::uint32_t* gen) noexcept;
  void free_slot(slot* s) noexcept;

  std::atomic<slot*> chunks_[kChunks] = {};
  std::mutex mu_;  // guards the free FIFO and next_; taken only on insert and final release
  slot* free_head_ = nullptr;
  slot* free_tail_ = nullptr;
  std::uint32_t next_ = 0;
};

// A reference to an open object of type T (T::kKind) for the length of one
// call. A handle of another kind fails the lookup as a stale one would.
template <class T>
class object_ref {
 public:
  explicit object_ref(handle_table::handle h) noexcept {
    auto& t = handle_table::instance();
    object* o = t.acquire(h, &slot_);
    if (!o) return;
    if (o->type() != T::kKind) {
      t.release(slot_);
      return;
    }
    p_ = static_cast<T*>(o);
  }
  ~object_ref() {
    if (p_) handle_table::instance().release(slot_);
  }
  object_ref(const object_ref&) = delete;
  object_ref& operator=(const object_ref&) = delete;
  explicit operator bool() const noexcept { return p_ != nullptr; }
  T* operator->() const noexcept { return p_; }
  T& operator*() const noexcept { return *p_; }
  T* get() const noexcept { return p_; }

 private:
  handle_table::slot* slot_ = nullptr;
  T* p_ = nullptr;
};

using port_ref = object_ref<port>;

}  // namespace psn::core
