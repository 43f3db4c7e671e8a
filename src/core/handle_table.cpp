#include "core/handle_table.hpp"

#include <new>

namespace psn::core {
namespace {

// handle = generation << 32 | (index + 1) << 4 | kTag. The low tag makes
// aligned pointers, small integers and descriptors fail the lookup.
constexpr std::uintptr_t kTag = 0x5;
constexpr std::uintptr_t kTagMask = 0xF;

}  // namespace

handle_table& handle_table::instance() {
  // Built in static storage, so first use cannot fail for want of memory,
  // and never destroyed, so it outlives threads that exit late.
  alignas(handle_table) static unsigned char storage[sizeof(handle_table)];
  static handle_table* t = new (storage) handle_table();
  return *t;
}

handle_table::slot* handle_table::find(handle h, std::uint32_t* gen) noexcept {
  if ((h & kTagMask) != kTag) return nullptr;
  std::uint64_t idx1 = (static_cast<std::uint64_t>(h) & 0xFFFFFFFFu) >> 4;
  if (idx1 == 0) return nullptr;
  std::uint64_t index = idx1 - 1;
  std::uint64_t chunk = index >> kChunkBits;
  if (chunk >= kChunks) return nullptr;
  slot* c = chunks_[chunk].load(std::memory_order_acquire);
  if (!c) return nullptr;
  *gen = static_cast<std::uint32_t>(static_cast<std::uint64_t>(h) >> 32);
  return &c[index & (kChunkSize - 1)];
}

handle_table::handle handle_table::insert(object* p) noexcept {
  std::uint32_t index;
  slot* s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (free_head_) {
      index = free_head_->index;
      free_head_ = free_head_->next_free;
      if (!free_head_) free_tail_ = nullptr;
    } else {
      if (next_ >= kChunks * kChunkSize) return 0;
      index = next_;
      std::uint32_t chunk = index >> kChunkBits;
      if (!chunks_[chunk].load(std::memory_order_relaxed)) {
        slot* c = new (std::nothrow) slot[kChunkSize];
        if (!c) return 0;
        for (std::uint32_t i = 0; i < kChunkSize; ++i) c[i].index = index + i;
        chunks_[chunk].store(c, std::memory_order_release);
      }
      ++next_;
    }
    s = &chunks_[index >> kChunkBits].load(std::memory_order_relaxed)[index & (kChunkSize - 1)];
  }
  // A free slot holds (generation << 32) | kClosed with no references.
  std::uint64_t old = s->state.load(std::memory_order_relaxed);
  std::uint32_t gen = static_cast<std::uint32_t>(old >> 32);
  if (gen == 0) gen = 1;  // generation 0 is never handed out
  s->object = p;
  s->state.store((static_cast<std::uint64_t>(gen) << 32) | 1u, std::memory_order_release);
  return (static_cast<std::uintptr_t>(gen) << 32) | (static_cast<std::uintptr_t>(index + 1) << 4) |
         kTag;
}

object* handle_table::acquire(handle h, slot** where) noexcept {
  std::uint32_t gen;
  slot* s = find(h, &gen);
  if (!s) return nullptr;
  *where = s;
  std::uint64_t st = s->state.load(std::memory_order_acquire);
  for (;;) {
    if (static_cast<std::uint32_t>(st >> 32) != gen || (st & kClosed)) return nullptr;
    if (s->state.compare_exchange_weak(st, st + 1, std::memory_order_acquire,
                                       std::memory_order_acquire))
      return s->object;
  }
}

void handle_table::release(slot* s) noexcept {
  std::uint64_t st = s->state.fetch_sub(1, std::memory_order_acq_rel) - 1;
  if ((st & kRefs) == 0 && (st & kClosed)) free_slot(s);
}

void handle_table::release(handle h) noexcept {
  std::uint32_t gen;
  release(find(h, &gen));
}

object* handle_table::close(handle h) noexcept {
  std::uint32_t gen;
  slot* s = find(h, &gen);
  if (!s) return nullptr;
  std::uint64_t st = s->state.load(std::memory_order_acquire);
  for (;;) {
    if (static_cast<std::uint32_t>(st >> 32) != gen || (st & kClosed)) return nullptr;
    // Mark closed and take the caller's reference in one step.
    if (s->state.compare_exchange_weak(st, (st | kClosed) + 1, std::memory_order_acq_rel,
                                       std::memory_order_acquire))
      return s->object;
  }
}

void handle_table::free_slot(slot* s) noexcept {
  object* o = s->object;
  s->object = nullptr;
  delete o;
  std::uint64_t gen = (s->state.load(std::memory_order_relaxed) >> 32) + 1;
  if ((gen & 0xFFFFFFFFu) == 0) gen = 1;
  s->state.store((gen << 32) | kClosed, std::memory_order_release);
  std::lock_guard<std::mutex> lock(mu_);
  // Oldest freed first: a value comes back as late as possible (R3.2).
  s->next_free = nullptr;
  if (free_tail_) {
    free_tail_->next_free = s;
  } else {
    free_head_ = s;
  }
  free_tail_ = s;
}

}  // namespace psn::core
