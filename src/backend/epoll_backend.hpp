// The epoll backend: one epoll set per port, an eventfd to interrupt a wait.
// Each registration change is one epoll_ctl; each wait one epoll_wait.
#pragma once

#include <sys/epoll.h>

#include "backend/backend.hpp"

namespace psn::backends {

// The interrupt eventfd's cookie; registration cookies never have all bits set.
inline constexpr std::uint64_t kInterruptCookie = ~std::uint64_t{0};

class epoll_backend : public backend {
 public:
  epoll_backend(int epfd, int evfd) noexcept : epfd_(epfd), evfd_(evfd) {}
  ~epoll_backend() override;

  void apply(std::span<change> changes) noexcept override;
  int wait(std::span<event> out, int timeout_ms) noexcept override;
  void interrupt() noexcept override;
  enum kind kind() const noexcept override { return backends::kind::epoll; }

 protected:
  // Builds the epoll_ctl arguments for a change.
  static int ctl_op(const change& c, epoll_event* ev) noexcept;
  // Turns epoll reports into psn reports, dropping the interrupt's.
  static int translate(const epoll_event* evs, int n, std::span<event> out) noexcept;

  int epfd_;
  int evfd_;
};

// Creates the epoll set and its interrupt eventfd. Returns false and sets
// *err (an errno value) when the kernel refuses.
bool open_epoll(int* epfd, int* evfd, int* err) noexcept;

// Returns nullptr and sets *err (an errno value) when the kernel refuses.
std::unique_ptr<backend> make_epoll(int* err) noexcept;

}  // namespace psn::backends
