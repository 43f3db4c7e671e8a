// Helpers shared by the Winsock implementation files (winsock.cpp,
// addrinfo.cpp, overlapped.cpp): SOCKET values as descriptors, setting the last error, and
// (from utf8.hpp) the wchar_t <-> UTF-8 conversions of the W functions.
#pragma once

#include <sys/socket.h>
#include <sys/stat.h>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <string>

#include "psn_win32/base.h"
#include "utf8.hpp"

namespace psn::win32 {

// A SOCKET as a descriptor; -1 for a value no descriptor can have (R8.3:
// such a value is "not a socket").
inline int fd_of(SOCKET s) noexcept {
  return s <= static_cast<SOCKET>(INT_MAX) ? static_cast<int>(s) : -1;
}

// Sets the thread's last error (GetLastError and WSAGetLastError both read
// it) and returns the failure value of the call.
inline int fail(DWORD code) noexcept {
  SetLastError(code);
  return SOCKET_ERROR;
}
// Is fd an open socket?
inline bool is_socket(int fd) noexcept {
  struct stat st;
  return fd >= 0 && ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

// An int socket option's value, or -1 when it cannot be read.
inline int int_option(int fd, int level, int name) noexcept {
  int v = -1;
  socklen_t l = sizeof v;
  return ::getsockopt(fd, level, name, &v, &l) == 0 ? v : -1;
}

inline SOCKET fail_socket(DWORD code) noexcept {
  SetLastError(code);
  return INVALID_SOCKET;
}

// SIO_GET_EXTENSION_FUNCTION_POINTER (R9.2): the function the 16-byte GUID
// at `guid` names, or nullptr (overlapped.cpp).
const void* extension_function(const void* guid) noexcept;

}  // namespace psn::win32
