// The Windows-named C interface: validates what is specific to each
// function, translates to the core and sets the thread's last error. No
// exception crosses this boundary (the core never throws).
#include <climits>
#include <cstdint>

#include "core/api.hpp"
#include "core/overlapped_status.hpp"
#include "psn/psn.h"

namespace {

thread_local DWORD t_last_error = ERROR_SUCCESS;

psn::core::handle to_handle(HANDLE h) noexcept { return reinterpret_cast<std::uintptr_t>(h); }

BOOL fail(DWORD code) noexcept {
  t_last_error = code;
  return FALSE;
}

}  // namespace

extern "C" {

DWORD GetLastError(void) { return t_last_error; }
void SetLastError(DWORD code) { t_last_error = code; }
int WSAGetLastError(void) { return static_cast<int>(t_last_error); }

HANDLE CreateIoCompletionPort(HANDLE file, HANDLE existing, ULONG_PTR key, DWORD concurrency) {
  if (file == INVALID_HANDLE_VALUE && existing != nullptr) {
    t_last_error = ERROR_INVALID_PARAMETER;
    return nullptr;
  }
  // R9.1: a socket (a descriptor number) is associated; any other handle
  // (a port, a thread, an event: never below 2^32) cannot be (R3.1).
  const bool socket = file != INVALID_HANDLE_VALUE &&
                      reinterpret_cast<std::uintptr_t>(file) <= static_cast<std::uintptr_t>(INT_MAX);
  if (file == nullptr || (file != INVALID_HANDLE_VALUE && !socket)) {
    t_last_error = psn::core::is_handle(to_handle(file)) ? ERROR_NOT_SUPPORTED : ERROR_INVALID_HANDLE;
    return nullptr;
  }
  psn::core::handle h = to_handle(existing);
  bool created = false;
  if (existing == nullptr) {  // R3.1: the creation key is ignored
    DWORD rc = psn::core::create_port(concurrency, psn::backends::kind::automatic, &h);
    if (rc != ERROR_SUCCESS) {
      t_last_error = rc;
      return nullptr;
    }
    created = true;
  }
  if (socket) {
    DWORD rc = psn::core::associate(reinterpret_cast<std::uintptr_t>(file), h, key);
    if (rc != ERROR_SUCCESS) {
      if (created) psn::core::close_handle(h);
      t_last_error = rc;
      return nullptr;
    }
  }
  return reinterpret_cast<HANDLE>(h);
}

BOOL CloseHandle(HANDLE h) {
  DWORD rc = psn::core::close_handle(to_handle(h));
  return rc == ERROR_SUCCESS ? TRUE : fail(rc);
}

BOOL PostQueuedCompletionStatus(HANDLE port, DWORD bytes, ULONG_PTR key, LPOVERLAPPED ov) {
  DWORD rc = psn::core::post(to_handle(port), bytes, key, ov);
  return rc == ERROR_SUCCESS ? TRUE : fail(rc);
}

BOOL GetQueuedCompletionStatus(HANDLE port, DWORD* bytes, ULONG_PTR* key, LPOVERLAPPED* ov,
                               DWORD ms) {
  if (bytes == nullptr || key == nullptr || ov == nullptr) return fail(ERROR_INVALID_PARAMETER);
  *ov = nullptr;
  OVERLAPPED_ENTRY e{};
  UINT32 got = 0;
  DWORD rc = psn::core::dequeue(to_handle(port), &e, 1, &got, ms);
  if (rc != ERROR_SUCCESS) return fail(rc);  // R3.5: WAIT_TIMEOUT, *ov stays NULL
  *bytes = e.dwNumberOfBytesTransferred;
  *key = e.lpCompletionKey;
  *ov = e.lpOverlapped;
  // R9.3: a failed overlapped operation's packet is returned with FALSE
  // and the operation's error (Internal holds its status).
  if (e.Internal != 0) return fail(psn::core::names_of_status(static_cast<DWORD>(e.Internal)).win32);
  return TRUE;
}

BOOL GetQueuedCompletionStatusEx(HANDLE port, OVERLAPPED_ENTRY* entries, ULONG count,
                                 ULONG* removed, DWORD ms, BOOL /*alertable: no APCs, R3.6*/) {
  if (removed) *removed = 0;
  if (entries == nullptr || removed == nullptr || count == 0)
    return fail(ERROR_INVALID_PARAMETER);  // R3.6
  UINT32 got = 0;
  DWORD rc = psn::core::dequeue(to_handle(port), entries, count, &got, ms);
  *removed = got;
  return rc == ERROR_SUCCESS ? TRUE : fail(rc);
}

DWORD ProcessSocketNotifications(HANDLE port, UINT32 reg_count, SOCK_NOTIFY_REGISTRATION* regs,
                                 UINT32 timeout_ms, ULONG count, OVERLAPPED_ENTRY* entries,
                                 UINT32* received) {
  return psn::core::process(to_handle(port), reg_count, regs, timeout_ms, count, entries,
                            received);
}

int closesocket(SOCKET s) {
  DWORD rc = psn::core::close_socket(s);
  if (rc == ERROR_SUCCESS) return 0;
  t_last_error = rc;
  return SOCKET_ERROR;
}

}  // extern "C"
