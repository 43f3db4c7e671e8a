// Backend selection: the C++ option, else PSN_BACKEND, else the default (SPEC 1, R7.1).
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "backend/epoll_backend.hpp"
#include "psn/psn.h"
#if PSN_HAVE_IO_URING
#include "backend/uring_backend.hpp"
#endif

namespace psn::backends {
namespace {

std::uint32_t resource_error(int err) noexcept {
  return err == ENOMEM || err == EMFILE || err == ENFILE ? ERROR_NOT_ENOUGH_MEMORY
                                                         : ERROR_NOT_SUPPORTED;
}

std::unique_ptr<backend> try_uring(int* err) noexcept {
#if PSN_HAVE_IO_URING
  return make_uring(err);
#else
  *err = ENOSYS;  // built without liburing
  return nullptr;
#endif
}

}  // namespace

std::unique_ptr<backend> create(kind k, std::uint32_t* error) noexcept {
  bool explicit_choice = k != kind::automatic;
  if (k == kind::automatic) {
    const char* env = std::getenv("PSN_BACKEND");
    if (env == nullptr || *env == '\0') {
      k = kind::automatic;
    } else if (std::strcmp(env, "epoll") == 0) {
      k = kind::epoll;
      explicit_choice = true;
    } else if (std::strcmp(env, "io_uring") == 0) {
      k = kind::io_uring;
      explicit_choice = true;
    } else {
      // An unknown value is a configuration mistake: fail rather than guess.
      *error = ERROR_NOT_SUPPORTED;
      return nullptr;
    }
  }
  int err = 0;
  if (k != kind::epoll) {
    // R7.1: io_uring where the kernel allows it. Asked for by name, its
    // absence is an error; as the default, epoll takes over silently.
    auto b = try_uring(&err);
    if (b) return b;
    if (explicit_choice) {
      *error = resource_error(err);
      return nullptr;
    }
  }
  auto b = make_epoll(&err);
  if (!b) *error = ERROR_NOT_ENOUGH_MEMORY;
  return b;
}

}  // namespace psn::backends
