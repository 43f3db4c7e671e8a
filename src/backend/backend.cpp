// Backend selection: the C++ option, else PSN_BACKEND, else the default (SPEC 1, R7.1).
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "backend/epoll_backend.hpp"
#include "psn/psn.h"

namespace psn::backends {

std::unique_ptr<backend> create(kind k, std::uint32_t* error) noexcept {
  if (k == kind::automatic) {
    const char* env = std::getenv("PSN_BACKEND");
    if (env == nullptr || *env == '\0' || std::strcmp(env, "epoll") == 0) {
      k = kind::epoll;
    } else if (std::strcmp(env, "io_uring") == 0) {
      k = kind::io_uring;
    } else {
      // An unknown value is a configuration mistake: fail rather than guess.
      *error = ERROR_NOT_SUPPORTED;
      return nullptr;
    }
  }
  if (k != kind::epoll) {
    // The io_uring backend is not built yet; asking for it fails clearly.
    *error = ERROR_NOT_SUPPORTED;
    return nullptr;
  }
  int err = 0;
  auto b = make_epoll(&err);
  if (!b) *error = ERROR_NOT_ENOUGH_MEMORY;
  return b;
}

}  // namespace psn::backends
