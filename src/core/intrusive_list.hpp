// A minimal intrusive doubly linked list: O(1) push, pop and unlink, no
// allocation. T derives from list_node.
#pragma once

#include <cstddef>

namespace psn::core {

struct list_node {
  list_node* prev = nullptr;
  list_node* next = nullptr;
  bool linked() const noexcept { return prev != nullptr; }
};

template <class T>
class intrusive_list {
 public:
  intrusive_list() noexcept { head_.prev = head_.next = &head_; }
  intrusive_list(const intrusive_list&) = delete;
  intrusive_list& operator=(const intrusive_list&) = delete;

  bool empty() const noexcept { return head_.next == &head_; }
  std::size_t size() const noexcept { return size_; }
  T* front() const noexcept { return empty() ? nullptr : static_cast<T*>(head_.next); }
  T* back() const noexcept { return empty() ? nullptr : static_cast<T*>(head_.prev); }

  void push_back(T* n) noexcept {
    list_node* node = n;
    node->prev = head_.prev;
    node->next = &head_;
    head_.prev->next = node;
    head_.prev = node;
    ++size_;
  }
  void unlink(T* n) noexcept {
    list_node* node = n;
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = node->next = nullptr;
    --size_;
  }
  T* pop_front() noexcept {
    T* n = front();
    if (n) unlink(n);
    return n;
  }

 private:
  list_node head_;
  std::size_t size_ = 0;
};

}  // namespace psn::core
