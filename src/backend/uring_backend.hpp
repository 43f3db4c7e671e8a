// The io_uring backend (SPEC R7.2). It keeps the epoll backend's epoll set,
// so registrations behave exactly as there, and drives that set through a
// ring when a call has changes to apply before it waits: every change is an
// IORING_OP_EPOLL_CTL and the wait an IORING_OP_EPOLL_WAIT, all submitted and
// waited for by one io_uring_enter. See docs/design.md.
#pragma once

#include "backend/epoll_backend.hpp"

namespace psn::backends {

// Returns nullptr and sets *err (an errno value) when io_uring is missing,
// forbidden (seccomp, /proc/sys/kernel/io_uring_disabled) or lacks the
// opcodes this backend needs (ENOSYS then).
std::unique_ptr<backend> make_uring(int* err) noexcept;

}  // namespace psn::backends
