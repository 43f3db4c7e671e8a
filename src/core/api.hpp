// The core's entry points, shared by the C and the C++ interfaces. Each
// returns a Windows result code (ERROR_*, WSA*, WAIT_TIMEOUT) and never
// throws.
#pragma once

#include <cstdint>

#include "backend/backend.hpp"
#include "core/counters.hpp"
#include "core/overlapped_io.hpp"
#include "psn/psn.h"

namespace psn::core {

using handle = std::uintptr_t;

// Whether h names an open object in the handle table (any kind).
bool is_handle(handle h) noexcept;
std::uint32_t create_port(std::uint32_t concurrency, backends::kind k, handle* out) noexcept;
// CloseHandle of any object in the handle table (R3.9 for a port, R8.6).
std::uint32_t close_handle(handle h) noexcept;
std::uint32_t post(handle h, std::uint32_t bytes, std::uintptr_t key, void* ov) noexcept;
std::uint32_t dequeue(handle h, OVERLAPPED_ENTRY* out, std::uint32_t count, std::uint32_t* got,
                      std::uint32_t timeout_ms) noexcept;
std::uint32_t process(handle h, std::uint32_t reg_count, SOCK_NOTIFY_REGISTRATION* regs,
                      std::uint32_t timeout_ms, std::uint32_t count, OVERLAPPED_ENTRY* out,
                      std::uint32_t* got) noexcept;
std::uint32_t close_socket(std::uintptr_t s) noexcept;

// SPEC 9. associate: R9.1 (ERROR_INVALID_PARAMETER for a second port,
// ERROR_INVALID_HANDLE for a bad port or socket, ERROR_NOT_SUPPORTED for a
// descriptor that is not a socket).
std::uint32_t associate(std::uintptr_t s, handle port, std::uintptr_t key) noexcept;
// FILE_SKIP_COMPLETION_PORT_ON_SUCCESS and friends: ERROR_SUCCESS,
// ERROR_INVALID_HANDLE for a value that is not a socket.
std::uint32_t set_completion_modes(std::uintptr_t s, std::uint8_t modes) noexcept;
inline constexpr std::uint8_t kSkipCompletionPortOnSuccess = 0x1;
// Starts an operation on s (see io_result). WSAEINVAL if s is not associated.
void start_io(std::uintptr_t s, const io_request& rq, io_result* res) noexcept;
// R9.6: ERROR_SUCCESS, or ERROR_NOT_FOUND when nothing was cancelled.
std::uint32_t cancel_io(std::uintptr_t s, const OVERLAPPED* ov) noexcept;
// Lets s's port run what the kernel allows now; false if s is not associated.
bool poll_io(std::uintptr_t s) noexcept;
// The counters of an open port; false if h is not one.
bool stats(handle h, port_counters* out) noexcept;
// The backend of an open port; backends::kind::automatic if h is not one.
backends::kind backend_of(handle h) noexcept;

}  // namespace psn::core
