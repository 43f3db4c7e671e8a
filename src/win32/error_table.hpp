// The error codes of psn-win32 (R8.3): the one errno -> Winsock mapping, and
// the code -> name -> text table that FormatMessage reads. Both live in
// errors.cpp. Includes only <cstdint>, so a test can include it next to the
// public Windows headers.
#pragma once

#include <cstddef>
#include <cstdint>

namespace psn::win32 {

// The Winsock code for an errno value. Every Winsock failure that comes from
// the kernel goes through here; an errno the table does not list gives
// WSASYSCALLFAILURE (10107), never the errno itself.
std::uint32_t wsa_from_errno(int err) noexcept;

// The English text (without line break) and the symbolic name of a code psn
// can set, or nullptr for a code it does not know.
const char* error_text(std::uint32_t code) noexcept;
const char* error_name(std::uint32_t code) noexcept;

// Every code in the table, for tests: *count receives the number of entries.
const std::uint32_t* error_codes(std::size_t* count) noexcept;

}  // namespace psn::win32
