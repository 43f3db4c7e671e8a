// The buffers of a C++ overlapped operation (spans) as the WSABUF array the
// Winsock calls take: on the stack for the usual few, on the heap beyond.
// Shared by the Linux and the Windows implementations of <psn/psn.hpp>.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <span>

namespace psn::api {

template <class Buf>  // WSABUF: {ULONG len; CHAR* buf;}
class io_buffers {
 public:
  // False when a buffer is larger than 4 GiB - 1 or memory ran out.
  template <class Span>
  bool set(const Span* spans, std::size_t n) noexcept {
    if (n > kStack) {
      heap_ = new (std::nothrow) Buf[n];
      if (!heap_) return false;
    }
    Buf* b = data();
    for (std::size_t i = 0; i < n; ++i) {
      if (spans[i].size() > UINT32_MAX) return false;
      b[i].len = static_cast<decltype(b[i].len)>(spans[i].size());
      b[i].buf = reinterpret_cast<decltype(b[i].buf)>(const_cast<std::byte*>(spans[i].data()));
    }
    n_ = n;
    return true;
  }
  ~io_buffers() { delete[] heap_; }
  Buf* data() noexcept { return heap_ ? heap_ : stack_; }
  std::size_t size() const noexcept { return n_; }

 private:
  static constexpr std::size_t kStack = 16;
  Buf stack_[kStack];
  Buf* heap_ = nullptr;
  std::size_t n_ = 0;
};

}  // namespace psn::api
