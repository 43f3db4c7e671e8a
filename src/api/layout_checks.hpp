// What lets the C++ interface pass spans to the C calls without a copy, in
// the Linux build (src/api/cxx_api.cpp) and the Windows one
// (src/windows/cxx_api.cpp): registration and completion share the layout of
// SOCK_NOTIFY_REGISTRATION and OVERLAPPED_ENTRY, and the enumerations hold
// the C values.
#pragma once

#include <psn/psn.h>

#include <cstddef>
#include <psn/psn.hpp>
#include <type_traits>

namespace psn {

static_assert(sizeof(registration) == sizeof(SOCK_NOTIFY_REGISTRATION));
// R8.2: one SOCKET for both interfaces.
static_assert(std::is_same_v<native_socket, SOCKET> && invalid_socket == INVALID_SOCKET);
static_assert(offsetof(registration, socket) == offsetof(SOCK_NOTIFY_REGISTRATION, socket));
static_assert(offsetof(registration, key) == offsetof(SOCK_NOTIFY_REGISTRATION, completionKey));
static_assert(offsetof(registration, filter) == offsetof(SOCK_NOTIFY_REGISTRATION, eventFilter));
static_assert(offsetof(registration, op) == offsetof(SOCK_NOTIFY_REGISTRATION, operation));
static_assert(offsetof(registration, trigger_flags) ==
              offsetof(SOCK_NOTIFY_REGISTRATION, triggerFlags));
static_assert(offsetof(registration, result) ==
              offsetof(SOCK_NOTIFY_REGISTRATION, registrationResult));
static_assert(sizeof(completion) == sizeof(OVERLAPPED_ENTRY));
static_assert(offsetof(completion, key) == offsetof(OVERLAPPED_ENTRY, lpCompletionKey));
static_assert(offsetof(completion, overlapped) == offsetof(OVERLAPPED_ENTRY, lpOverlapped));
static_assert(offsetof(completion, internal) == offsetof(OVERLAPPED_ENTRY, Internal));
static_assert(offsetof(completion, bytes) ==
              offsetof(OVERLAPPED_ENTRY, dwNumberOfBytesTransferred));
static_assert(static_cast<unsigned>(event::in) == SOCK_NOTIFY_EVENT_IN &&
              static_cast<unsigned>(event::out) == SOCK_NOTIFY_EVENT_OUT &&
              static_cast<unsigned>(event::hangup) == SOCK_NOTIFY_EVENT_HANGUP &&
              static_cast<unsigned>(event::error) == SOCK_NOTIFY_EVENT_ERR &&
              static_cast<unsigned>(event::remove) == SOCK_NOTIFY_EVENT_REMOVE);
static_assert(static_cast<unsigned>(operation::enable) == SOCK_NOTIFY_OP_ENABLE &&
              static_cast<unsigned>(operation::disable) == SOCK_NOTIFY_OP_DISABLE &&
              static_cast<unsigned>(operation::remove) == SOCK_NOTIFY_OP_REMOVE);
static_assert(static_cast<unsigned>(trigger::oneshot) == SOCK_NOTIFY_TRIGGER_ONESHOT &&
              static_cast<unsigned>(trigger::persistent) == SOCK_NOTIFY_TRIGGER_PERSISTENT &&
              static_cast<unsigned>(trigger::level) == SOCK_NOTIFY_TRIGGER_LEVEL &&
              static_cast<unsigned>(trigger::edge) == SOCK_NOTIFY_TRIGGER_EDGE);
// An io_operation starts with an OVERLAPPED (SPEC 9).
static_assert(sizeof(io_operation) >= sizeof(OVERLAPPED));
static_assert(offsetof(io_operation, internal) == offsetof(OVERLAPPED, Internal));
static_assert(offsetof(io_operation, internal_high) == offsetof(OVERLAPPED, InternalHigh));
static_assert(offsetof(io_operation, offset) == offsetof(OVERLAPPED, Offset));
static_assert(offsetof(io_operation, offset_high) == offsetof(OVERLAPPED, OffsetHigh));
static_assert(offsetof(io_operation, event) == offsetof(OVERLAPPED, hEvent));
static_assert(static_cast<unsigned>(errc::io_pending) == ERROR_IO_PENDING &&
              static_cast<unsigned>(errc::operation_aborted) == ERROR_OPERATION_ABORTED);

}  // namespace psn
