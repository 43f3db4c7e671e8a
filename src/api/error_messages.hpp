// The codes psn's error category knows by name, for its messages in the Linux
// build (src/api/cxx_api.cpp: "NAME: psn's text") and the Windows one
// (src/windows/cxx_api.cpp: "NAME: the system's text").
#pragma once

#include <psn/psn.h>

#include <cstdint>

namespace psn::api {

struct error_message {
  std::uint32_t code;
  const char* name;  // the Windows name, "WAIT_TIMEOUT"
  const char* text;  // psn's own text, "the wait timed out"
};

inline constexpr error_message kErrorMessages[] = {
    {ERROR_SUCCESS, "ERROR_SUCCESS", "success"},
    {ERROR_INVALID_HANDLE, "ERROR_INVALID_HANDLE", "not an open port"},
    {ERROR_NOT_ENOUGH_MEMORY, "ERROR_NOT_ENOUGH_MEMORY", "out of memory"},
    {ERROR_NOT_SUPPORTED, "ERROR_NOT_SUPPORTED", "not supported"},
    {ERROR_INVALID_PARAMETER, "ERROR_INVALID_PARAMETER", "invalid parameter"},
    {WAIT_TIMEOUT, "WAIT_TIMEOUT", "the wait timed out"},
    {ERROR_ABANDONED_WAIT_0, "ERROR_ABANDONED_WAIT_0", "the port was closed"},
    {ERROR_NOT_FOUND, "ERROR_NOT_FOUND", "no registration for this socket"},
    {WSAEFAULT, "WSAEFAULT", "bad address"},
    {WSAEINVAL, "WSAEINVAL", "invalid argument"},
    {WSAEWOULDBLOCK, "WSAEWOULDBLOCK", "operation would block"},
    {WSAENOTSOCK, "WSAENOTSOCK", "not a socket"},
    {WSAENOBUFS, "WSAENOBUFS", "no buffer space available"},
    {64, "ERROR_NETNAME_DELETED", "the connection was reset"},
    {234, "ERROR_MORE_DATA", "the message was longer than the buffers"},
    {ERROR_OPERATION_ABORTED, "ERROR_OPERATION_ABORTED", "the operation was cancelled"},
    {ERROR_IO_PENDING, "ERROR_IO_PENDING", "the operation is under way"},
    {1225, "ERROR_CONNECTION_REFUSED", "the connection was refused"},
    {1236, "ERROR_CONNECTION_ABORTED", "the connection was aborted"},
    {10045, "WSAEOPNOTSUPP", "operation not supported"},
};

// The entry for code; nullptr for a code not in the table.
inline const error_message* find_error_message(int code) noexcept {
  for (const error_message& m : kErrorMessages) {
    if (static_cast<int>(m.code) == code) return &m;
  }
  return nullptr;
}

}  // namespace psn::api
