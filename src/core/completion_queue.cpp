#include "core/completion_queue.hpp"

#include <new>

namespace psn::core {

completion_queue::~completion_queue() {
  while (user_packet* u = free_user_) {
    free_user_ = static_cast<user_packet*>(u->next);
    delete u;
  }
}

bool completion_queue::post(std::uint32_t bytes, std::uintptr_t key, void* ov) noexcept {
  user_packet* u = free_user_;
  if (u) {
    free_user_ = static_cast<user_packet*>(u->next);
    u->next = nullptr;
  } else {
    u = new (std::nothrow) user_packet();
    if (!u) return false;
  }
  u->bytes = bytes;
  u->key = key;
  u->overlapped = ov;
  push(u);
  return true;
}

std::uint32_t completion_queue::take(OVERLAPPED_ENTRY* out, std::uint32_t cap) noexcept {
  std::uint32_t n = 0;
  while (n < cap) {
    packet* p = packets_.pop_front();
    if (!p) break;
    OVERLAPPED_ENTRY& e = out[n++];
    e.Internal = 0;
    if (p->type != packet::kind::user) {
      owners_[static_cast<unsigned>(p->type)]->deliver(p, e);
      continue;
    }
    auto* u = static_cast<user_packet*>(p);
    e.lpCompletionKey = u->key;
    e.lpOverlapped = static_cast<LPOVERLAPPED>(u->overlapped);
    e.dwNumberOfBytesTransferred = u->bytes;
    u->next = free_user_;
    free_user_ = u;
  }
  delivered_ += n;
  return n;
}

void completion_queue::discard_all() noexcept {
  while (packet* p = packets_.pop_front()) {
    if (p->type != packet::kind::user) {
      owners_[static_cast<unsigned>(p->type)]->discard(p);
      continue;
    }
    auto* u = static_cast<user_packet*>(p);
    u->next = free_user_;
    free_user_ = u;
  }
}

void completion_queue::signal(waiter* w, wake_list& wl, waiter* self) noexcept {
  w->signal.store(1, std::memory_order_release);
  if (w == self) return;
  if (w->in_kernel) {
    if (!interrupt_pending) {
      interrupt_pending = true;
      wl.interrupt();
    }
  } else {
    wl.add(&w->signal);
  }
}

void completion_queue::dispatch(wake_list& wl, waiter* self) noexcept {
  while (!packets_.empty() && !waiters_.empty() && running_ < concurrency_) {
    waiter* w = waiters_.back();  // R3.8: last in, first out
    waiters_.unlink(w);
    w->got = take(w->out, w->cap);
    w->st = waiter::status::delivered;
    ++running_;
    signal(w, wl, self);
  }
}

void completion_queue::ensure_poller(wake_list& wl) noexcept {
  if (poller_active || closed || waiters_.empty() || !packets_.empty() || running_ >= concurrency_)
    return;
  waiter* w = waiters_.front();
  if (w->signal.load(std::memory_order_relaxed) == 0) signal(w, wl);
}

void completion_queue::abandon_all(wake_list& wl) noexcept {
  while (waiter* w = waiters_.back()) {
    waiters_.unlink(w);
    w->st = waiter::status::abandoned;
    signal(w, wl);
  }
}

}  // namespace psn::core
