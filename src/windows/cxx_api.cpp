// The C++ interface on Windows: the psn::detail calls of <psn/psn.hpp> over
// the system's own completion ports, so a program written against psn::port
// builds for Linux and Windows from one source.
//
// ProcessSocketNotifications is looked up at run time rather than imported:
// the library then loads on Windows older than build 20348, where posting
// and waiting (PostQueuedCompletionStatus, GetQueuedCompletionStatusEx) work
// and only a call that carries registrations fails, with not_supported.
#include <mswsock.h>
#include <psn/psn.h>

#include <cstddef>
#include <cstdint>
#include <psn/psn.hpp>
#include <string>
#include <system_error>
#include <type_traits>

#include "../api/error_messages.hpp"
#include "../api/io_buffers.hpp"
#include "../api/layout_checks.hpp"

// The DLL exports exactly the functions <psn/psn.hpp> declares (and
// psn_version): nothing of the static C++ runtime inside it.
#if defined(PSN_BUILDING_DLL)
#define PSN_EXPORT __declspec(dllexport)
#else
#define PSN_EXPORT
#endif

namespace psn {

// registration and completion are passed to the system as they are
// (../api/layout_checks.hpp).

// psn::errc holds the Windows values, so system codes compare equal to it.
static_assert(static_cast<DWORD>(errc::invalid_handle) == ERROR_INVALID_HANDLE &&
              static_cast<DWORD>(errc::timeout) == WAIT_TIMEOUT &&
              static_cast<DWORD>(errc::abandoned) == ERROR_ABANDONED_WAIT_0 &&
              static_cast<DWORD>(errc::not_found) == ERROR_NOT_FOUND &&
              static_cast<DWORD>(errc::invalid_argument) == WSAEINVAL &&
              static_cast<DWORD>(errc::not_socket) == WSAENOTSOCK);

namespace {

// Messages are the system's text, after the Windows name where psn knows it,
// as on Linux ("WAIT_TIMEOUT: ...").
class windows_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "psn"; }
  std::string message(int code) const override {
    std::string text;
    char buf[512];
    DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr,
                             static_cast<DWORD>(code), 0, buf, sizeof buf, nullptr);
    while (n > 0 && (buf[n - 1] == '\r' || buf[n - 1] == '\n' || buf[n - 1] == ' ')) --n;
    text.assign(buf, n);
    if (text.empty()) text = "error " + std::to_string(code);
    if (const api::error_message* m = api::find_error_message(code))
      return std::string(m->name) + ": " + text;
    return text;
  }
};

std::error_code make(DWORD rc) noexcept {
  return {static_cast<int>(rc), category()};
}

HANDLE to_handle(detail::handle h) noexcept {
  return reinterpret_cast<HANDLE>(h);
}

using process_fn = DWORD(WSAAPI*)(HANDLE, UINT32, SOCK_NOTIFY_REGISTRATION*, UINT32, ULONG,
                                  OVERLAPPED_ENTRY*, UINT32*);

// ws2_32.dll is loaded with this library (closesocket comes from it), so
// its handle needs no reference of our own.
process_fn process_notifications() noexcept {
  static const process_fn fn = []() noexcept -> process_fn {
    HMODULE ws2 = GetModuleHandleW(L"ws2_32.dll");
    if (ws2 == nullptr) return nullptr;
    FARPROC p = GetProcAddress(ws2, "ProcessSocketNotifications");
    // Through void(*)(): the one function pointer type a cast may go via
    // without -Wcast-function-type.
    return reinterpret_cast<process_fn>(reinterpret_cast<void (*)()>(p));
  }();
  return fn;
}

}  // namespace

PSN_EXPORT const std::error_category& category() noexcept {
  static const windows_category c;
  return c;
}

namespace detail {

PSN_EXPORT std::error_code create(unsigned concurrency, backend b, handle* out) noexcept {
  *out = 0;
  // Windows has one kind of port; epoll and io_uring are Linux's.
  if (b != backend::automatic) return make(ERROR_NOT_SUPPORTED);
  HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, concurrency);
  if (port == nullptr) return make(GetLastError());
  *out = reinterpret_cast<handle>(port);
  return {};
}

PSN_EXPORT std::error_code close(handle h) noexcept {
  if (h == 0) return make(ERROR_INVALID_HANDLE);
  return CloseHandle(to_handle(h)) ? std::error_code() : make(GetLastError());
}

PSN_EXPORT std::error_code post(handle h, std::uint32_t bytes, void* key, void* ov) noexcept {
  if (h == 0) return make(ERROR_INVALID_HANDLE);
  BOOL ok = PostQueuedCompletionStatus(to_handle(h), bytes, reinterpret_cast<ULONG_PTR>(key),
                                       static_cast<LPOVERLAPPED>(ov));
  return ok ? std::error_code() : make(GetLastError());
}

PSN_EXPORT std::error_code process(handle h, std::span<registration> changes,
                                   std::span<completion> out, std::uint32_t timeout_ms,
                                   std::size_t* received) noexcept {
  *received = 0;
  if (h == 0) return make(WSA_INVALID_HANDLE);
  if (changes.size() > UINT32_MAX || out.size() > UINT32_MAX) return make(WSAEINVAL);
  auto* entries = out.empty() ? nullptr : reinterpret_cast<OVERLAPPED_ENTRY*>(out.data());
  if (changes.empty()) {
    if (out.empty()) return {};
    // A plain wait: GetQueuedCompletionStatusEx works on every Windows.
    ULONG got = 0;
    BOOL ok = GetQueuedCompletionStatusEx(to_handle(h), entries, static_cast<ULONG>(out.size()),
                                          &got, timeout_ms, FALSE);
    if (!ok) return make(GetLastError());  // WAIT_TIMEOUT is errc::timeout
    *received = got;
    return {};
  }
  process_fn fn = process_notifications();
  if (fn == nullptr) return make(ERROR_NOT_SUPPORTED);  // before Windows 10 build 20348
  UINT32 got = 0;
  DWORD rc =
      fn(to_handle(h), static_cast<UINT32>(changes.size()),
         reinterpret_cast<SOCK_NOTIFY_REGISTRATION*>(changes.data()), out.empty() ? 0 : timeout_ms,
         static_cast<ULONG>(out.size()), entries, out.empty() ? nullptr : &got);
  *received = got;
  return rc == ERROR_SUCCESS ? std::error_code() : make(rc);
}

PSN_EXPORT std::error_code close_socket(native_socket s) noexcept {
  return closesocket(static_cast<SOCKET>(s)) == 0 ? std::error_code()
                                                  : make(static_cast<DWORD>(WSAGetLastError()));
}

PSN_EXPORT std::error_code associate(handle h, native_socket s, void* key) noexcept {
  HANDLE got = CreateIoCompletionPort(reinterpret_cast<HANDLE>(s), to_handle(h),
                                      reinterpret_cast<ULONG_PTR>(key), 0);
  return got ? std::error_code() : make(GetLastError());
}

namespace {

OVERLAPPED* as_overlapped(io_operation& op) noexcept {
  return reinterpret_cast<OVERLAPPED*>(&op);
}

std::error_code winsock_result(bool done, DWORD n, std::size_t* bytes) noexcept {
  if (!done) return make(static_cast<DWORD>(WSAGetLastError()));
  if (bytes) *bytes = n;
  return {};
}

// AcceptEx and ConnectEx through WSAIoctl, as Windows programs get them.
template <class Fn>
Fn extension(native_socket s, GUID id) noexcept {
  Fn fn = nullptr;
  DWORD got = 0;
  WSAIoctl(static_cast<SOCKET>(s), SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id, &fn,
           sizeof fn, &got, nullptr, nullptr);
  return fn;
}

}  // namespace

PSN_EXPORT std::error_code start(native_socket s, io_kind k, const void* bufs, std::size_t n,
                                 io_operation& op, std::size_t* bytes) noexcept {
  api::io_buffers<WSABUF> b;
  const bool ok = k == io_kind::receive ? b.set(static_cast<const mutable_buffer*>(bufs), n)
                                        : b.set(static_cast<const const_buffer*>(bufs), n);
  if (!ok || n > UINT32_MAX) return make(WSAENOBUFS);
  DWORD got = 0, flags = 0;
  const int rc = k == io_kind::receive
                     ? WSARecv(static_cast<SOCKET>(s), b.data(), static_cast<DWORD>(n), &got,
                               &flags, as_overlapped(op), nullptr)
                     : WSASend(static_cast<SOCKET>(s), b.data(), static_cast<DWORD>(n), &got, 0,
                               as_overlapped(op), nullptr);
  return winsock_result(rc == 0, got, bytes);
}

PSN_EXPORT std::error_code start_accept(native_socket listener, native_socket accepted,
                                        mutable_buffer out, std::size_t receive, io_operation& op,
                                        std::size_t* bytes) noexcept {
  if (receive > out.size()) return make(WSAEINVAL);
  const std::size_t slot = (out.size() - receive) / 2;
  if (slot > UINT32_MAX || receive > UINT32_MAX) return make(WSAEINVAL);
  GUID id = WSAID_ACCEPTEX;
  auto fn = extension<LPFN_ACCEPTEX>(listener, id);
  if (!fn) return make(static_cast<DWORD>(WSAGetLastError()));
  DWORD got = 0;
  const BOOL ok = fn(static_cast<SOCKET>(listener), static_cast<SOCKET>(accepted), out.data(),
                     static_cast<DWORD>(receive), static_cast<DWORD>(slot),
                     static_cast<DWORD>(slot), &got, as_overlapped(op));
  return winsock_result(ok != FALSE, got, bytes);
}

PSN_EXPORT std::error_code start_connect(native_socket s, const void* addr, std::size_t len,
                                         const_buffer data, io_operation& op,
                                         std::size_t* bytes) noexcept {
  if (len > INT32_MAX || data.size() > UINT32_MAX) return make(WSAEINVAL);
  GUID id = WSAID_CONNECTEX;
  auto fn = extension<LPFN_CONNECTEX>(s, id);
  if (!fn) return make(static_cast<DWORD>(WSAGetLastError()));
  DWORD got = 0;
  const BOOL ok = fn(static_cast<SOCKET>(s), static_cast<const sockaddr*>(addr),
                     static_cast<int>(len), const_cast<std::byte*>(data.data()),
                     static_cast<DWORD>(data.size()), &got, as_overlapped(op));
  return winsock_result(ok != FALSE, got, bytes);
}

PSN_EXPORT std::error_code cancel(native_socket s, io_operation* op) noexcept {
  const BOOL ok = CancelIoEx(reinterpret_cast<HANDLE>(s), op ? as_overlapped(*op) : nullptr);
  return ok ? std::error_code() : make(GetLastError());
}

// The system's own translation of an NTSTATUS to the Win32 code
// GetQueuedCompletionStatus reports.
PSN_EXPORT std::error_code status_error(std::uintptr_t status) noexcept {
  if (status == 0) return {};
  using fn_t = ULONG(WINAPI*)(LONG);
  static const fn_t fn = []() noexcept -> fn_t {
    HMODULE nt = GetModuleHandleW(L"ntdll.dll");
    if (nt == nullptr) return nullptr;
    return reinterpret_cast<fn_t>(
        reinterpret_cast<void (*)()>(GetProcAddress(nt, "RtlNtStatusToDosError")));
  }();
  return make(fn ? static_cast<DWORD>(fn(static_cast<LONG>(status))) : ERROR_MR_MID_NOT_FOUND);
}

// Windows has one kind of port: automatic stands for it.
PSN_EXPORT backend backend_of(handle) noexcept {
  return backend::automatic;
}

// Windows keeps no such counters for a port.
PSN_EXPORT port_stats stats(handle) noexcept {
  return {};
}

PSN_EXPORT void throw_error(std::error_code ec, const char* what) {
  throw std::system_error(ec, what);
}

}  // namespace detail
}  // namespace psn
