#include "backend/epoll_backend.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <new>

#include "psn/psn.h"

namespace psn::backends {
namespace {

// The eventfd's cookie; registration cookies never have all bits set.
constexpr std::uint64_t kInterruptCookie = ~std::uint64_t{0};

std::uint32_t to_epoll(const interest& in) {
  std::uint32_t ev = 0;
  if (in.filter & SOCK_NOTIFY_REGISTER_EVENT_IN) ev |= EPOLLIN;
  if (in.filter & SOCK_NOTIFY_REGISTER_EVENT_OUT) ev |= EPOLLOUT;
  if (in.filter & SOCK_NOTIFY_REGISTER_EVENT_HANGUP) ev |= EPOLLRDHUP;
  if (in.edge) ev |= EPOLLET;
  if (in.oneshot) ev |= EPOLLONESHOT;
  return ev;
}

// SPEC 6: what each epoll bit means in psn's terms.
std::uint32_t from_epoll(std::uint32_t ev) {
  std::uint32_t out = 0;
  if (ev & EPOLLIN) out |= SOCK_NOTIFY_EVENT_IN;
  if (ev & EPOLLOUT) out |= SOCK_NOTIFY_EVENT_OUT;
  if (ev & (EPOLLRDHUP | EPOLLHUP)) out |= SOCK_NOTIFY_EVENT_HANGUP;
  if (ev & EPOLLERR) out |= SOCK_NOTIFY_EVENT_ERR;
  return out;
}

class epoll_backend final : public backend {
 public:
  epoll_backend(int epfd, int evfd) : epfd_(epfd), evfd_(evfd) {}
  ~epoll_backend() override {
    ::close(evfd_);
    ::close(epfd_);
  }

  void apply(std::span<change> changes) noexcept override {
    for (change& c : changes) {
      epoll_event ev{};
      ev.data.u64 = c.cookie;
      int op = EPOLL_CTL_MOD;
      switch (c.what) {
        case change::kind::add:
          op = EPOLL_CTL_ADD;
          ev.events = to_epoll(c.interest);
          break;
        case change::kind::modify:
          ev.events = to_epoll(c.interest);
          break;
        case change::kind::disarm:
          // The kernel always watches EPOLLERR and EPOLLHUP; a one-shot watch
          // with nothing else reports them at most once, then stays silent.
          ev.events = EPOLLONESHOT;
          break;
        case change::kind::del:
          op = EPOLL_CTL_DEL;
          break;
      }
      c.result = ::epoll_ctl(epfd_, op, c.fd, &ev) == 0 ? 0 : errno;
    }
  }

  int wait(std::span<event> out, int timeout_ms) noexcept override {
    constexpr int kMax = 256;
    epoll_event evs[kMax];
    int max = out.size() < kMax ? static_cast<int>(out.size()) : kMax;
    int n = ::epoll_wait(epfd_, evs, max, timeout_ms);
    if (n <= 0) return 0;  // time-out or EINTR: the caller decides whether to wait again
    int k = 0;
    for (int i = 0; i < n; ++i) {
      if (evs[i].data.u64 == kInterruptCookie) continue;
      out[static_cast<std::size_t>(k++)] = {evs[i].data.u64, from_epoll(evs[i].events)};
    }
    return k;
  }

  void interrupt() noexcept override {
    // The eventfd is watched edge-triggered, so every write is one report and
    // it never needs to be read (its counter cannot overflow in practice).
    std::uint64_t one = 1;
    ssize_t r;
    do r = ::write(evfd_, &one, sizeof one);
    while (r < 0 && errno == EINTR);
  }

  enum kind kind() const noexcept override { return backends::kind::epoll; }

 private:
  int epfd_;
  int evfd_;
};

}  // namespace

std::unique_ptr<backend> make_epoll(int* err) noexcept {
  int epfd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) {
    *err = errno;
    return nullptr;
  }
  int evfd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (evfd < 0) {
    *err = errno;
    ::close(epfd);
    return nullptr;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.u64 = kInterruptCookie;
  if (::epoll_ctl(epfd, EPOLL_CTL_ADD, evfd, &ev) != 0) {
    *err = errno;
    ::close(evfd);
    ::close(epfd);
    return nullptr;
  }
  auto* b = new (std::nothrow) epoll_backend(epfd, evfd);
  if (!b) {
    *err = ENOMEM;
    ::close(evfd);
    ::close(epfd);
    return nullptr;
  }
  return std::unique_ptr<backend>(b);
}

}  // namespace psn::backends
