// Error codes of psn-win32 (R8.3): the errno -> Winsock mapping every
// Winsock function uses, and FormatMessageA/W with LocalFree, which read the
// code -> name -> text table below. The texts are psn's own one-line English
// sentences.
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>

#include "psn_win32/base.h"
#include "win32/error_table.hpp"

namespace psn::win32 {
namespace {

struct message {
  std::uint32_t code;
  const char* name;
  const char* text;
};

// Every code psn can set: the ERROR_ codes of <psn/psn.h> and base.h, the
// wait results that double as errors, every WSAE code.
constexpr message kMessages[] = {
    {ERROR_SUCCESS, "ERROR_SUCCESS", "The operation succeeded."},
    {ERROR_INVALID_FUNCTION, "ERROR_INVALID_FUNCTION",
     "The function is not valid for this object."},
    {ERROR_FILE_NOT_FOUND, "ERROR_FILE_NOT_FOUND", "No file exists under the given name."},
    {ERROR_PATH_NOT_FOUND, "ERROR_PATH_NOT_FOUND", "The given path does not exist."},
    {ERROR_TOO_MANY_OPEN_FILES, "ERROR_TOO_MANY_OPEN_FILES",
     "The process has too many files open."},
    {ERROR_ACCESS_DENIED, "ERROR_ACCESS_DENIED", "Access to the object was refused."},
    {ERROR_INVALID_HANDLE, "ERROR_INVALID_HANDLE",
     "The handle is not valid: it was closed, or never issued."},
    {ERROR_NOT_ENOUGH_MEMORY, "ERROR_NOT_ENOUGH_MEMORY",
     "There is not enough memory to carry out the request."},
    {ERROR_INVALID_DATA, "ERROR_INVALID_DATA", "The data given is not valid."},
    {ERROR_OUTOFMEMORY, "ERROR_OUTOFMEMORY", "Memory ran out before the operation could finish."},
    {ERROR_GEN_FAILURE, "ERROR_GEN_FAILURE", "A device attached to the system failed."},
    {ERROR_HANDLE_EOF, "ERROR_HANDLE_EOF", "The end of the data was reached."},
    {ERROR_NOT_SUPPORTED, "ERROR_NOT_SUPPORTED", "This request is not supported."},
    {ERROR_NETNAME_DELETED, "ERROR_NETNAME_DELETED",
     "The network connection was reset or closed by the remote side."},
    {ERROR_INVALID_PARAMETER, "ERROR_INVALID_PARAMETER", "A parameter is not valid."},
    {ERROR_BROKEN_PIPE, "ERROR_BROKEN_PIPE", "The other end of the pipe was closed."},
    {ERROR_SEM_TIMEOUT, "ERROR_SEM_TIMEOUT", "The wait for a semaphore or device timed out."},
    {ERROR_INSUFFICIENT_BUFFER, "ERROR_INSUFFICIENT_BUFFER",
     "The buffer given is too small for the result."},
    {ERROR_INVALID_NAME, "ERROR_INVALID_NAME", "The syntax of the name is not valid."},
    {ERROR_BUSY, "ERROR_BUSY", "The resource is busy."},
    {ERROR_ALREADY_EXISTS, "ERROR_ALREADY_EXISTS", "An object with that name already exists."},
    {ERROR_MORE_DATA, "ERROR_MORE_DATA", "More data is available than the buffer could hold."},
    {WAIT_TIMEOUT, "WAIT_TIMEOUT", "The wait ended because its time-out elapsed."},
    {259, "ERROR_NO_MORE_ITEMS", "There are no more items."},
    {ERROR_MR_MID_NOT_FOUND, "ERROR_MR_MID_NOT_FOUND", "No text exists for this message number."},
    {ERROR_ABANDONED_WAIT_0, "ERROR_ABANDONED_WAIT_0",
     "The wait ended because the completion port was closed."},
    {ERROR_OPERATION_ABORTED, "ERROR_OPERATION_ABORTED",
     "The I/O operation was cancelled before it finished."},
    {ERROR_IO_INCOMPLETE, "ERROR_IO_INCOMPLETE", "The overlapped I/O operation has not finished."},
    {ERROR_IO_PENDING, "ERROR_IO_PENDING", "The overlapped I/O operation is under way."},
    {ERROR_NOACCESS, "ERROR_NOACCESS", "A memory address given is not accessible."},
    {ERROR_NOT_FOUND, "ERROR_NOT_FOUND", "The element was not found."},
    {ERROR_CANCELLED, "ERROR_CANCELLED", "The operation was cancelled by the user."},
    {ERROR_CONNECTION_REFUSED, "ERROR_CONNECTION_REFUSED",
     "The remote system refused the connection."},
    {ERROR_GRACEFUL_DISCONNECT, "ERROR_GRACEFUL_DISCONNECT",
     "The connection was already closed in an orderly way."},
    {ERROR_ADDRESS_ALREADY_ASSOCIATED, "ERROR_ADDRESS_ALREADY_ASSOCIATED",
     "The endpoint already has an address."},
    {ERROR_CONNECTION_INVALID, "ERROR_CONNECTION_INVALID",
     "The connection has not been established."},
    {ERROR_CONNECTION_ACTIVE, "ERROR_CONNECTION_ACTIVE", "The connection is already established."},
    {ERROR_NETWORK_UNREACHABLE, "ERROR_NETWORK_UNREACHABLE",
     "No route leads to the remote network."},
    {ERROR_HOST_UNREACHABLE, "ERROR_HOST_UNREACHABLE", "No route leads to the remote host."},
    {ERROR_PORT_UNREACHABLE, "ERROR_PORT_UNREACHABLE",
     "No service is listening on the remote port."},
    {ERROR_REQUEST_ABORTED, "ERROR_REQUEST_ABORTED", "The request was aborted."},
    {ERROR_CONNECTION_ABORTED, "ERROR_CONNECTION_ABORTED",
     "The local system aborted the connection."},
    {1287, "ERROR_UNIDENTIFIED_ERROR", "An error of unknown origin occurred."},
    {ERROR_NO_SYSTEM_RESOURCES, "ERROR_NO_SYSTEM_RESOURCES",
     "The system lacks the resources to carry out the request."},
    {ERROR_TIMEOUT, "ERROR_TIMEOUT", "The operation gave up because its time-out elapsed."},
    {ERROR_INVALID_USER_BUFFER, "ERROR_INVALID_USER_BUFFER",
     "The buffer given is not valid for this operation."},
    {WSAEINTR, "WSAEINTR", "A blocking call was interrupted by a signal."},
    {WSAEBADF, "WSAEBADF", "The file handle is not valid."},
    {WSAEACCES, "WSAEACCES", "Permission was denied for this use of the socket."},
    {WSAEFAULT, "WSAEFAULT",
     "A pointer or length argument refers to invalid or too little memory."},
    {WSAEINVAL, "WSAEINVAL", "An argument is not valid for this call or for the socket's state."},
    {WSAEMFILE, "WSAEMFILE", "The process has too many sockets open."},
    {WSAEWOULDBLOCK, "WSAEWOULDBLOCK",
     "The operation would block on a non-blocking socket; try again later."},
    {WSAEINPROGRESS, "WSAEINPROGRESS", "A blocking operation is already in progress."},
    {WSAEALREADY, "WSAEALREADY", "An operation is already under way on this non-blocking socket."},
    {WSAENOTSOCK, "WSAENOTSOCK", "The value given is not an open socket."},
    {WSAEDESTADDRREQ, "WSAEDESTADDRREQ", "A destination address is required for this operation."},
    {WSAEMSGSIZE, "WSAEMSGSIZE",
     "The message is larger than the buffer given or than the protocol allows."},
    {WSAEPROTOTYPE, "WSAEPROTOTYPE", "The protocol does not match the socket type."},
    {WSAENOPROTOOPT, "WSAENOPROTOOPT",
     "The option or its level is unknown or not supported for this socket."},
    {WSAEPROTONOSUPPORT, "WSAEPROTONOSUPPORT", "The protocol is not supported or not configured."},
    {WSAESOCKTNOSUPPORT, "WSAESOCKTNOSUPPORT",
     "The socket type is not supported in this address family."},
    {WSAEOPNOTSUPP, "WSAEOPNOTSUPP", "The operation is not supported for this kind of socket."},
    {WSAEPFNOSUPPORT, "WSAEPFNOSUPPORT", "The protocol family is not supported."},
    {WSAEAFNOSUPPORT, "WSAEAFNOSUPPORT", "The address family is not supported by the protocol."},
    {WSAEADDRINUSE, "WSAEADDRINUSE", "The address is already in use by another socket."},
    {WSAEADDRNOTAVAIL, "WSAEADDRNOTAVAIL", "The address is not valid in this context."},
    {WSAENETDOWN, "WSAENETDOWN", "The network is down."},
    {WSAENETUNREACH, "WSAENETUNREACH", "The network cannot be reached from this host."},
    {WSAENETRESET, "WSAENETRESET", "The connection was dropped because of a network reset."},
    {WSAECONNABORTED, "WSAECONNABORTED", "The connection was aborted on this host."},
    {WSAECONNRESET, "WSAECONNRESET", "The remote host reset the connection."},
    {WSAENOBUFS, "WSAENOBUFS", "No buffer space or queue entry was free for the operation."},
    {WSAEISCONN, "WSAEISCONN", "The socket is already connected."},
    {WSAENOTCONN, "WSAENOTCONN", "The socket is not connected and no destination was given."},
    {WSAESHUTDOWN, "WSAESHUTDOWN", "The socket was shut down in that direction."},
    {WSAETOOMANYREFS, "WSAETOOMANYREFS", "Too many references to a kernel object."},
    {WSAETIMEDOUT, "WSAETIMEDOUT", "The operation timed out before the other side responded."},
    {WSAECONNREFUSED, "WSAECONNREFUSED", "The remote host refused the connection."},
    {WSAELOOP, "WSAELOOP", "A name could not be translated because of a loop."},
    {WSAENAMETOOLONG, "WSAENAMETOOLONG", "A name is too long."},
    {WSAEHOSTDOWN, "WSAEHOSTDOWN", "The remote host is down."},
    {WSAEHOSTUNREACH, "WSAEHOSTUNREACH", "No route leads to the remote host."},
    {WSAENOTEMPTY, "WSAENOTEMPTY", "The directory is not empty."},
    {WSAEPROCLIM, "WSAEPROCLIM", "Too many processes are using Winsock."},
    {WSAEUSERS, "WSAEUSERS", "The user quota was exceeded."},
    {WSAEDQUOT, "WSAEDQUOT", "The disk quota was exceeded."},
    {WSAESTALE, "WSAESTALE", "The file handle refers to something that no longer exists."},
    {WSAEREMOTE, "WSAEREMOTE", "The item is not available locally."},
    {WSASYSNOTREADY, "WSASYSNOTREADY", "The network subsystem is not ready."},
    {WSAVERNOTSUPPORTED, "WSAVERNOTSUPPORTED", "The requested Winsock version is not supported."},
    {WSANOTINITIALISED, "WSANOTINITIALISED",
     "Winsock is not initialised: WSACleanup was called more often than WSAStartup."},
    {WSAEDISCON, "WSAEDISCON", "The remote side is closing the connection in an orderly way."},
    {WSAENOMORE, "WSAENOMORE", "No more results are available."},
    {WSAECANCELLED, "WSAECANCELLED", "The call was cancelled."},
    {WSAEINVALIDPROCTABLE, "WSAEINVALIDPROCTABLE",
     "The procedure table of a service provider is not valid."},
    {WSAEINVALIDPROVIDER, "WSAEINVALIDPROVIDER", "The service provider is not valid."},
    {WSAEPROVIDERFAILEDINIT, "WSAEPROVIDERFAILEDINIT", "The service provider failed to start."},
    {WSASYSCALLFAILURE, "WSASYSCALLFAILURE", "A system call failed in an unexpected way."},
    {WSASERVICE_NOT_FOUND, "WSASERVICE_NOT_FOUND",
     "The service is not known in the given name space."},
    {WSATYPE_NOT_FOUND, "WSATYPE_NOT_FOUND", "The service or service type was not found."},
    {WSA_E_NO_MORE, "WSA_E_NO_MORE", "The lookup has no more results."},
    {WSA_E_CANCELLED, "WSA_E_CANCELLED", "The lookup was cancelled."},
    {WSAEREFUSED, "WSAEREFUSED", "The database query was refused."},
    {WSAHOST_NOT_FOUND, "WSAHOST_NOT_FOUND", "No host by that name is known."},
    {WSATRY_AGAIN, "WSATRY_AGAIN", "The name server did not answer in time; try again later."},
    {WSANO_RECOVERY, "WSANO_RECOVERY", "Name resolution failed in a way that cannot be retried."},
    {WSANO_DATA, "WSANO_DATA", "The name is valid but has no data of the requested type."},
};

constexpr bool codes_unique() {
  for (std::size_t i = 0; i < std::size(kMessages); i++)
    for (std::size_t j = i + 1; j < std::size(kMessages); j++)
      if (kMessages[i].code == kMessages[j].code) return false;
  return true;
}
static_assert(codes_unique());

struct codes_array {
  std::uint32_t v[std::size(kMessages)];
};
constexpr codes_array make_codes() {
  codes_array a{};
  for (std::size_t i = 0; i < std::size(kMessages); i++) a.v[i] = kMessages[i].code;
  return a;
}
constexpr codes_array kCodes = make_codes();

const message* find(std::uint32_t code) noexcept {
  for (const message& m : kMessages)
    if (m.code == code) return &m;
  return nullptr;
}

// errno -> Winsock (R8.3). Context-dependent cases (EAGAIN with a time-out,
// EPIPE after this side's shutdown, EINPROGRESS from connect...) are decided
// by the caller in winsock.cpp; this is the default meaning of each value.
struct errno_entry {
  int err;
  std::uint32_t code;
};
constexpr errno_entry kErrnoTable[] = {
    {EINTR, WSAEINTR},
    {EBADF, WSAENOTSOCK},  // a closed descriptor is "not a socket" on Windows
    {EACCES, WSAEACCES},
    {EPERM, WSAEACCES},  // e.g. a raw socket without the capability
    {EFAULT, WSAEFAULT},
    {EINVAL, WSAEINVAL},
    {EMFILE, WSAEMFILE},
    {ENFILE, WSAEMFILE},
    {EAGAIN, WSAEWOULDBLOCK},
    {EINPROGRESS, WSAEWOULDBLOCK},  // a non-blocking connect under way
    {EALREADY, WSAEALREADY},
    {ENOTSOCK, WSAENOTSOCK},
    {EDESTADDRREQ, WSAEDESTADDRREQ},
    {EMSGSIZE, WSAEMSGSIZE},
    {EPROTOTYPE, WSAEPROTOTYPE},
    {ENOPROTOOPT, WSAENOPROTOOPT},
    {EPROTONOSUPPORT, WSAEPROTONOSUPPORT},
    {ESOCKTNOSUPPORT, WSAESOCKTNOSUPPORT},
    {EOPNOTSUPP, WSAEOPNOTSUPP},  // == ENOTSUP on Linux
    {EPFNOSUPPORT, WSAEPFNOSUPPORT},
    {EAFNOSUPPORT, WSAEAFNOSUPPORT},
    {EADDRINUSE, WSAEADDRINUSE},
    {EEXIST, WSAEADDRINUSE},  // an AF_UNIX path already taken
    {EADDRNOTAVAIL, WSAEADDRNOTAVAIL},
    {ENOENT, WSAEADDRNOTAVAIL},  // an AF_UNIX path that does not exist
    {ENXIO, WSAEADDRNOTAVAIL},
    {ENETDOWN, WSAENETDOWN},
    {ENODEV, WSAENETDOWN},  // an interface that does not exist
    {ENONET, WSAENETDOWN},
    {ENETUNREACH, WSAENETUNREACH},
    {ENETRESET, WSAENETRESET},
    {ECONNABORTED, WSAECONNABORTED},
    {EPROTO, WSAECONNABORTED},  // a connection that failed before accept took it
    {ECONNRESET, WSAECONNRESET},
    {EPIPE, WSAECONNRESET},  // refined by the send paths (WSAESHUTDOWN, WSAENOTCONN)
    {ENOBUFS, WSAENOBUFS},
    {ENOMEM, WSAENOBUFS},
    {ENOSPC, WSAENOBUFS},
    {EISCONN, WSAEISCONN},
    {ENOTCONN, WSAENOTCONN},
    {ESHUTDOWN, WSAESHUTDOWN},
    {ETOOMANYREFS, WSAETOOMANYREFS},
    {ETIMEDOUT, WSAETIMEDOUT},
    {ECONNREFUSED, WSAECONNREFUSED},
    {ELOOP, WSAELOOP},
    {ENAMETOOLONG, WSAENAMETOOLONG},
    {EHOSTDOWN, WSAEHOSTDOWN},
    {EHOSTUNREACH, WSAEHOSTUNREACH},
    {ENOTEMPTY, WSAENOTEMPTY},
    {EUSERS, WSAEUSERS},
    {EDQUOT, WSAEDQUOT},
    {ESTALE, WSAESTALE},
    {EREMOTE, WSAEREMOTE},
    {ECANCELED, WSA_OPERATION_ABORTED},
    {ENOSYS, WSAEOPNOTSUPP},
    {ENOTTY, WSAEOPNOTSUPP},  // an ioctl the socket does not know
    {EOVERFLOW, WSAEINVAL},
    {ERANGE, WSAEINVAL},
    {EROFS, WSAEACCES},
    {ENOTDIR, WSAEADDRNOTAVAIL},
};

}  // namespace

std::uint32_t wsa_from_errno(int err) noexcept {
  for (const errno_entry& e : kErrnoTable)
    if (e.err == err) return e.code;
  return WSASYSCALLFAILURE;  // unlisted: never report the raw errno (R8.3)
}

const char* error_text(std::uint32_t code) noexcept {
  const message* m = find(code);
  return m ? m->text : nullptr;
}

const char* error_name(std::uint32_t code) noexcept {
  const message* m = find(code);
  return m ? m->name : nullptr;
}

const std::uint32_t* error_codes(std::size_t* count) noexcept {
  *count = std::size(kCodes.v);
  return kCodes.v;
}

namespace {

// FormatMessage for either character type: the table's text, then "\r\n" as
// Windows' system texts end, unless a maximum width was asked for (psn's
// texts are one line, so any width just drops the line break).
template <class Char>
DWORD format_message(DWORD flags, DWORD id, Char* buffer, DWORD size) noexcept {
  if (flags & FORMAT_MESSAGE_FROM_STRING) {
    SetLastError(ERROR_NOT_SUPPORTED);
    return 0;
  }
  if (!(flags & FORMAT_MESSAGE_FROM_SYSTEM)) {
    // A module has no message table on Linux.
    SetLastError((flags & FORMAT_MESSAGE_FROM_HMODULE) ? ERROR_MR_MID_NOT_FOUND
                                                       : ERROR_INVALID_PARAMETER);
    return 0;
  }
  if (buffer == nullptr) {
    SetLastError(ERROR_INVALID_PARAMETER);
    return 0;
  }
  // HRESULT_FROM_WIN32(code) names the same text.
  if ((id & 0xFFFF0000u) == 0x80070000u) id &= 0xFFFFu;
  const char* text = error_text(id);
  if (text == nullptr) {
    SetLastError(ERROR_MR_MID_NOT_FOUND);
    return 0;
  }
  const bool line_break = (flags & FORMAT_MESSAGE_MAX_WIDTH_MASK) == 0;
  const std::size_t len = std::strlen(text) + (line_break ? 2 : 0);
  Char* out = buffer;
  if (flags & FORMAT_MESSAGE_ALLOCATE_BUFFER) {
    // lpBuffer is really a Char**; nSize is the least to allocate.
    std::size_t cap = len + 1 > size ? len + 1 : size;
    out = static_cast<Char*>(std::malloc(cap * sizeof(Char)));
    if (out == nullptr) {
      SetLastError(ERROR_NOT_ENOUGH_MEMORY);
      return 0;
    }
    *reinterpret_cast<Char**>(buffer) = out;
  } else if (size < len + 1) {
    SetLastError(ERROR_INSUFFICIENT_BUFFER);
    return 0;
  }
  std::size_t i = 0;
  for (; text[i] != '\0'; i++) out[i] = static_cast<Char>(static_cast<unsigned char>(text[i]));
  if (line_break) {
    out[i++] = static_cast<Char>('\r');
    out[i++] = static_cast<Char>('\n');
  }
  out[i] = static_cast<Char>(0);
  return static_cast<DWORD>(len);
}

}  // namespace
}  // namespace psn::win32

extern "C" {

// dwLanguageId is not checked: the texts are English whatever is asked for.
DWORD WINAPI FormatMessageA(DWORD dwFlags, LPCVOID /*lpSource*/, DWORD dwMessageId,
                            DWORD /*dwLanguageId*/, LPSTR lpBuffer, DWORD nSize,
                            va_list* /*Arguments: the texts have no inserts*/) {
  return psn::win32::format_message<char>(dwFlags, dwMessageId, lpBuffer, nSize);
}

DWORD WINAPI FormatMessageW(DWORD dwFlags, LPCVOID /*lpSource*/, DWORD dwMessageId,
                            DWORD /*dwLanguageId*/, LPWSTR lpBuffer, DWORD nSize,
                            va_list* /*Arguments*/) {
  return psn::win32::format_message<WCHAR>(dwFlags, dwMessageId, lpBuffer, nSize);
}

// Frees what FormatMessage allocated (malloc); LocalFree(NULL) is a no-op.
HLOCAL WINAPI LocalFree(HLOCAL hMem) {
  std::free(hMem);
  return nullptr;
}

}  // extern "C"
