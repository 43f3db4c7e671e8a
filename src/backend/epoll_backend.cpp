#include "backend/epoll_backend.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <new>

#include "psn/psn.h"

namespace psn::backends {
namespace {

std::uint32_t to_epoll(const interest& in) noexcept {
  std::uint32_t ev = 0;
  if (in.filter & SOCK_NOTIFY_REGISTER_EVENT_IN) ev |= EPOLLIN;
  if (in.filter & SOCK_NOTIFY_REGISTER_EVENT_OUT) ev |= EPOLLOUT;
  if (in.filter & SOCK_NOTIFY_REGISTER_EVENT_HANGUP) ev |= EPOLLRDHUP;
  if (in.edge) ev |= EPOLLET;
  if (in.oneshot) ev |= EPOLLONESHOT;
  return ev;
}

// SPEC 6: what each epoll bit means in psn's terms.
std::uint32_t from_epoll(std::uint32_t ev) noexcept {
  std::uint32_t out = 0;
  if (ev & EPOLLIN) out |= SOCK_NOTIFY_EVENT_IN;
  if (ev & EPOLLOUT) out |= SOCK_NOTIFY_EVENT_OUT;
  if (ev & (EPOLLRDHUP | EPOLLHUP)) out |= SOCK_NOTIFY_EVENT_HANGUP;
  if (ev & EPOLLERR) out |= SOCK_NOTIFY_EVENT_ERR;
  return out;
}

}  // namespace

epoll_backend::~epoll_backend() {
  ::close(evfd_);
  ::close(epfd_);
}

int epoll_backend::ctl_op(const change& c, epoll_event* ev) noexcept {
  *ev = epoll_event{};
  ev->data.u64 = c.cookie;
  switch (c.what) {
    case change::kind::add:
      ev->events = to_epoll(c.interest);
      return EPOLL_CTL_ADD;
    case change::kind::modify:
      ev->events = to_epoll(c.interest);
      return EPOLL_CTL_MOD;
    case change::kind::disarm:
      // The kernel always watches EPOLLERR and EPOLLHUP; a one-shot watch
      // with nothing else reports them at most once, then stays silent.
      ev->events = EPOLLONESHOT;
      return EPOLL_CTL_MOD;
    case change::kind::del:
      break;
  }
  return EPOLL_CTL_DEL;
}

int epoll_backend::translate(const epoll_event* evs, int n, std::span<event> out) noexcept {
  int k = 0;
  for (int i = 0; i < n; ++i) {
    if (evs[i].data.u64 == kInterruptCookie) continue;
    out[static_cast<std::size_t>(k++)] = {evs[i].data.u64, from_epoll(evs[i].events)};
  }
  return k;
}

void epoll_backend::apply(std::span<change> changes) noexcept {
  for (change& c : changes) {
    epoll_event ev;
    int op = ctl_op(c, &ev);
    count_entries(1);
    c.result = ::epoll_ctl(epfd_, op, c.fd, &ev) == 0 ? 0 : errno;
  }
}

int epoll_backend::wait(std::span<event> out, int timeout_ms) noexcept {
  constexpr int kMax = 256;
  epoll_event evs[kMax];
  int max = out.size() < kMax ? static_cast<int>(out.size()) : kMax;
  count_entries(1);
  int n = ::epoll_wait(epfd_, evs, max, timeout_ms);
  if (n <= 0) return 0;  // time-out or EINTR: the caller decides whether to wait again
  return translate(evs, n, out);
}

void epoll_backend::interrupt() noexcept {
  // The eventfd is watched edge-triggered, so every write is one report and
  // it never needs to be read (its counter cannot overflow in practice).
  std::uint64_t one = 1;
  ssize_t r;
  count_entries(1);
  do r = ::write(evfd_, &one, sizeof one);
  while (r < 0 && errno == EINTR);
}

bool open_epoll(int* epfd, int* evfd, int* err) noexcept {
  *epfd = ::epoll_create1(EPOLL_CLOEXEC);
  if (*epfd < 0) {
    *err = errno;
    return false;
  }
  *evfd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (*evfd < 0) {
    *err = errno;
    ::close(*epfd);
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.u64 = kInterruptCookie;
  if (::epoll_ctl(*epfd, EPOLL_CTL_ADD, *evfd, &ev) != 0) {
    *err = errno;
    ::close(*evfd);
    ::close(*epfd);
    return false;
  }
  return true;
}

std::unique_ptr<backend> make_epoll(int* err) noexcept {
  int epfd, evfd;
  if (!open_epoll(&epfd, &evfd, err)) return nullptr;
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
