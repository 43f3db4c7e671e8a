// The epoll backend: one epoll set per port, an eventfd to interrupt a wait.
#pragma once

#include "backend/backend.hpp"

namespace psn::backends {

// Returns nullptr and sets *err (an errno value) when the kernel refuses.
std::unique_ptr<backend> make_epoll(int* err) noexcept;

}  // namespace psn::backends
