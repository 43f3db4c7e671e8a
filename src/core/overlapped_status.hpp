// The status of a finished overlapped operation (R9.3), three ways:
// the NTSTATUS that OVERLAPPED::Internal holds (as on Windows, so
// HasOverlappedIoCompleted and code that reads Internal work), the Win32
// error GetQueuedCompletionStatus and GetOverlappedResult report, and the
// Winsock error WSAGetOverlappedResult reports. Errors without an NTSTATUS
// of their own are kept as a customer status carrying the Winsock code.
#pragma once

#include <cerrno>
#include <cstdint>

namespace psn::core {

struct status_names {
  std::uint32_t ntstatus;
  std::uint32_t win32;
  std::uint32_t wsa;
};

// The table: errno first where one maps here.
struct status_row {
  int err;  // errno, or 0 for a row found by ntstatus only
  status_names n;
};

inline constexpr std::uint32_t kStatusCancelled = 0xC0000120;
inline constexpr std::uint32_t kStatusCustomer = 0xE0000000;  // | Winsock code

inline constexpr status_row kStatusRows[] = {
    {ECONNRESET, {0xC000020D, 64 /*ERROR_NETNAME_DELETED*/, 10054 /*WSAECONNRESET*/}},
    {EPIPE, {0xC000020D, 64, 10054}},
    {ECONNREFUSED, {0xC0000236, 1225 /*ERROR_CONNECTION_REFUSED*/, 10061}},
    {ECONNABORTED, {0xC0000241, 1236 /*ERROR_CONNECTION_ABORTED*/, 10053}},
    {ETIMEDOUT, {0xC00000B5, 121 /*ERROR_SEM_TIMEOUT*/, 10060}},
    {ENETUNREACH, {0xC000023C, 1231 /*ERROR_NETWORK_UNREACHABLE*/, 10051}},
    {EHOSTUNREACH, {0xC000023D, 1232 /*ERROR_HOST_UNREACHABLE*/, 10065}},
    {EMSGSIZE, {0x80000005, 234 /*ERROR_MORE_DATA*/, 10040 /*WSAEMSGSIZE*/}},
    {ENOMEM, {0xC000009A, 1450 /*ERROR_NO_SYSTEM_RESOURCES*/, 10055 /*WSAENOBUFS*/}},
    {ENOBUFS, {0xC000009A, 1450, 10055}},
    {0, {kStatusCancelled, 995 /*ERROR_OPERATION_ABORTED*/, 995 /*WSA_OPERATION_ABORTED*/}},
};

// errno -> NTSTATUS; `wsa` is the Winsock code psn-win32 gives that errno.
inline std::uint32_t ntstatus_of_errno(int err, std::uint32_t wsa) noexcept {
  for (const status_row& r : kStatusRows)
    if (r.err != 0 && r.err == err) return r.n.ntstatus;
  return kStatusCustomer | (wsa & 0xFFFF);
}

inline status_names names_of_status(std::uint32_t st) noexcept {
  if (st == 0) return {0, 0, 0};
  for (const status_row& r : kStatusRows)
    if (r.n.ntstatus == st) return r.n;
  if ((st & 0xFFFF0000u) == kStatusCustomer) return {st, st & 0xFFFF, st & 0xFFFF};
  return {st, 317 /*ERROR_MR_MID_NOT_FOUND*/, 317};
}

}  // namespace psn::core
