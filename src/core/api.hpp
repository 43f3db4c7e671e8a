// The core's entry points, shared by the C and the C++ interfaces. Each
// returns a Windows result code (ERROR_*, WSA*, WAIT_TIMEOUT) and never
// throws.
#pragma once

#include <cstdint>

#include "backend/backend.hpp"
#include "core/counters.hpp"
#include "psn/psn.h"

namespace psn::core {

using handle = std::uintptr_t;

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
// The counters of an open port; false if h is not one.
bool stats(handle h, port_counters* out) noexcept;
// The backend of an open port; backends::kind::automatic if h is not one.
backends::kind backend_of(handle h) noexcept;

}  // namespace psn::core
