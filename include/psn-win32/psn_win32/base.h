/*
 * psn_win32/base.h - the Win32 basics every psn-win32 header gives: types,
 * calling-convention and annotation macros, memory helpers, and the Win32
 * and Winsock error codes with their Windows values (R8.1, R8.3, R8.6).
 *
 * Not included directly: include <windows.h>, <winsock2.h>, <ws2tcpip.h> or
 * <mswsock.h> from the psn-win32 include directory. Everything here is
 * declared by <psn/psn.h> or builds on it, so a program may mix the two.
 */
#ifndef PSN_WIN32_BASE_H
#define PSN_WIN32_BASE_H

#include <psn/psn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* `#pragma comment(lib, "Ws2_32.lib")` is accepted silently (R8.1). For g++,
 * which cannot be told so from a header, pkg-config and the CMake target add
 * -Wno-unknown-pragmas. */
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunknown-pragmas"
#endif

/* ---- calling conventions and declaration decorations ------------------ */
#ifndef WINAPI
#define WINAPI
#endif
#ifndef WSAAPI
#define WSAAPI
#endif
#ifndef CALLBACK
#define CALLBACK
#endif
#ifndef APIENTRY
#define APIENTRY
#endif
#ifndef NTAPI
#define NTAPI
#endif
#ifndef WINAPIV
#define WINAPIV
#endif
#ifndef PASCAL
#define PASCAL
#endif
#ifndef __stdcall
#define __stdcall
#endif
#ifndef __cdecl
#define __cdecl
#endif
#ifndef __declspec
#define __declspec(x)
#endif
#ifndef FORCEINLINE
#ifdef __cplusplus
#define FORCEINLINE inline __attribute__((__always_inline__))
#else
/* GNU inline semantics: like MSVC, a plain FORCEINLINE definition also
 * emits an external copy, and `static FORCEINLINE` works too. */
#define FORCEINLINE __inline__ __attribute__((__always_inline__, __gnu_inline__))
#endif
#endif
#ifndef DECLSPEC_NORETURN
#define DECLSPEC_NORETURN __attribute__((__noreturn__))
#endif
#ifndef CONST
#define CONST const
#endif

/* ---- SAL annotations: accepted and ignored (R8.1) -------------------- */
#define _In_
#define _In_opt_
#define _In_z_
#define _In_opt_z_
#define _Inout_
#define _Inout_opt_
#define _Inout_z_
#define _Out_
#define _Out_opt_
#define _Outptr_
#define _Outptr_opt_
#define _Outptr_result_maybenull_
#define _Outptr_opt_result_maybenull_
#define _Outptr_result_buffer_(n)
#define _Outptr_result_bytebuffer_(n)
#define _Deref_out_
#define _Deref_out_opt_
#define _Post_invalid_
#define _Post_ptr_invalid_
#define _Post_z_
#define _Post_valid_
#define _Pre_valid_
#define _Pre_notnull_
#define _Pre_maybenull_
#define _Pre_satisfies_(x)
#define _Post_satisfies_(x)
#define _Post_equal_to_(x)
#define _Pre_
#define _Post_
#define _Notnull_
#define _Maybenull_
#define _Null_terminated_
#define _NullNull_terminated_
#define _Reserved_
#define _Ret_
#define _Ret_z_
#define _Ret_maybenull_
#define _Ret_notnull_
#define _Ret_range_(a, b)
#define _Ret_writes_(n)
#define _Ret_writes_bytes_(n)
#define _Must_inspect_result_
#define _Check_return_
#define _Success_(x)
#define _Return_type_success_(x)
#define _Result_nullonfailure_
#define _Result_zeroonfailure_
#define _When_(a, b)
#define _At_(a, b)
#define _At_buffer_(a, b, c, d)
#define _Use_decl_annotations_
#define _Analysis_assume_(x)
#define _Analysis_noreturn_
#define _Printf_format_string_
#define _Field_size_(n)
#define _Field_size_opt_(n)
#define _Field_size_bytes_(n)
#define _Field_size_bytes_opt_(n)
#define _Field_size_part_(n, m)
#define _Field_size_bytes_part_(n, m)
#define _Field_z_
#define _Field_range_(a, b)
#define _In_range_(a, b)
#define _Out_range_(a, b)
#define _Deref_in_range_(a, b)
#define _Deref_out_range_(a, b)
#define _In_reads_(n)
#define _In_reads_opt_(n)
#define _In_reads_z_(n)
#define _In_reads_or_z_(n)
#define _In_reads_bytes_(n)
#define _In_reads_bytes_opt_(n)
#define _In_reads_to_ptr_(p)
#define _Out_writes_(n)
#define _Out_writes_opt_(n)
#define _Out_writes_z_(n)
#define _Out_writes_opt_z_(n)
#define _Out_writes_to_(n, m)
#define _Out_writes_to_opt_(n, m)
#define _Out_writes_all_(n)
#define _Out_writes_bytes_(n)
#define _Out_writes_bytes_opt_(n)
#define _Out_writes_bytes_to_(n, m)
#define _Out_writes_bytes_to_opt_(n, m)
#define _Out_writes_bytes_all_(n)
#define _Out_writes_bytes_all_opt_(n)
#define _Inout_updates_(n)
#define _Inout_updates_opt_(n)
#define _Inout_updates_z_(n)
#define _Inout_updates_to_(n, m)
#define _Inout_updates_bytes_(n)
#define _Inout_updates_bytes_opt_(n)
#define _Inout_updates_bytes_to_(n, m)
#define _Frees_ptr_
#define _Frees_ptr_opt_
#define _Guarded_by_(x)
#define _Interlocked_operand_
#define _Acquires_lock_(x)
#define _Releases_lock_(x)
#define _Acquires_exclusive_lock_(x)
#define _Releases_exclusive_lock_(x)
#define _Acquires_shared_lock_(x)
#define _Releases_shared_lock_(x)
#define _Requires_lock_held_(x)
#define _Requires_lock_not_held_(x)
#define _Requires_exclusive_lock_held_(x)
#define _Requires_shared_lock_held_(x)
#define _Requires_no_locks_held_
#define _Create_lock_level_(x)
#define _Has_lock_kind_(x)
#define _Lock_level_order_(a, b)
#define _No_competing_thread_
#define _Benign_race_begin_
#define _Benign_race_end_
#define _Function_class_(x)
#define _IRQL_requires_max_(x)
#define _Kernel_requires_resource_held_(x)
#define _Strict_type_match_
#define _Points_to_data_
#define _Literal_
#define _Notliteral_
#define _Always_(x)
#define _On_failure_(x)
#define _Group_(x)
#define _Readable_bytes_(n)
#define _Writable_bytes_(n)
#define _Readable_elements_(n)
#define _Writable_elements_(n)
#define _Inexpressible_(x)
#define _Called_from_function_class_(x)
/* The old SAL 1 spellings (__in, __out...) are left out: the C++ library
 * uses those reserved names itself. */

/* ---- types (R8.6) ----------------------------------------------------- */
/* Sizes as on Windows: LONG is 32 bits (Linux `long` is 64). WCHAR is
 * wchar_t, so L"" literals work; on Linux it is 32 bits wide (see
 * docs/windows-differences.md). */
#ifndef VOID
#define VOID void
#endif
typedef char CHAR;
typedef unsigned char UCHAR;
typedef short SHORT;
typedef unsigned short USHORT;
typedef int INT;
typedef unsigned int UINT;
typedef int32_t LONG;
/* The 64-bit types are long long, as on Windows, so the printf formats a
 * Windows program uses for them (%lld, %llu, %I64d) match without a warning. */
typedef long long LONGLONG;
typedef unsigned long long ULONGLONG;
typedef long long LONG64;
typedef unsigned long long ULONG64;
typedef unsigned long long DWORD64;
typedef unsigned long long DWORDLONG;
typedef int8_t INT8;
typedef int16_t INT16;
typedef int32_t INT32;
typedef long long INT64;
typedef unsigned long long UINT64;
typedef uint8_t BYTE;
typedef uint16_t WORD;
typedef uint8_t BOOLEAN;
typedef float FLOAT;
typedef wchar_t WCHAR;
typedef intptr_t INT_PTR;
typedef intptr_t LONG_PTR;
typedef uintptr_t DWORD_PTR;
typedef size_t SIZE_T;
typedef intptr_t SSIZE_T;
typedef BOOLEAN* PBOOLEAN;
typedef BOOL* PBOOL;
typedef BOOL* LPBOOL;
typedef BYTE* PBYTE;
typedef BYTE* LPBYTE;
typedef WORD* PWORD;
typedef WORD* LPWORD;
typedef DWORD* PDWORD;
typedef DWORD* LPDWORD;
typedef LONG* PLONG;
typedef LONG* LPLONG;
typedef ULONG* PULONG;
typedef USHORT* PUSHORT;
typedef UINT* PUINT;
typedef INT* PINT;
typedef INT* LPINT;
typedef LONG64* PLONG64;
typedef ULONG_PTR* PULONG_PTR;
typedef SIZE_T* PSIZE_T;
typedef CHAR* PCHAR;
typedef CHAR* PSTR;
typedef CHAR* LPSTR;
typedef const CHAR* PCSTR;
typedef const CHAR* LPCSTR;
typedef WCHAR* PWCHAR;
typedef WCHAR* PWSTR;
typedef WCHAR* LPWSTR;
typedef const WCHAR* PCWSTR;
typedef const WCHAR* LPCWSTR;
typedef void* LPVOID;
typedef const void* LPCVOID;
typedef const void* PCVOID;
typedef HANDLE* PHANDLE;
typedef HANDLE* LPHANDLE;
typedef HANDLE HLOCAL;
typedef HANDLE HGLOBAL;
typedef HANDLE HMODULE;
typedef HANDLE HINSTANCE;
typedef OVERLAPPED* POVERLAPPED;
typedef OVERLAPPED_ENTRY* POVERLAPPED_ENTRY;

#ifdef UNICODE
typedef WCHAR TCHAR;
#define __TEXT(s) L##s
#else
typedef CHAR TCHAR;
#define __TEXT(s) s
#endif
typedef TCHAR* LPTSTR;
typedef const TCHAR* LPCTSTR;
#ifndef TEXT
#define TEXT(s) __TEXT(s)
#endif
#ifndef _T
#define _T(s) __TEXT(s)
#endif

typedef union _LARGE_INTEGER {
  struct {
    DWORD LowPart;
    LONG HighPart;
  } u;
  struct {
    DWORD LowPart;
    LONG HighPart;
  };
  LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;

typedef union _ULARGE_INTEGER {
  struct {
    DWORD LowPart;
    DWORD HighPart;
  } u;
  struct {
    DWORD LowPart;
    DWORD HighPart;
  };
  ULONGLONG QuadPart;
} ULARGE_INTEGER, *PULARGE_INTEGER;

/* ---- helper macros (R8.6) --------------------------------------------- */
#define ZeroMemory(d, n) ((void)memset((d), 0, (n)))
#define SecureZeroMemory(d, n) ((void)memset((d), 0, (n)))
#define CopyMemory(d, s, n) ((void)memcpy((d), (s), (n)))
#define MoveMemory(d, s, n) ((void)memmove((d), (s), (n)))
#define FillMemory(d, n, f) ((void)memset((d), (f), (n)))
#define RtlZeroMemory ZeroMemory
#define RtlCopyMemory CopyMemory
#define RtlMoveMemory MoveMemory
#define RtlFillMemory FillMemory
#define RTL_NUMBER_OF(a) (sizeof(a) / sizeof((a)[0]))
#define ARRAYSIZE(a) RTL_NUMBER_OF(a)
#ifndef _countof
#define _countof(a) RTL_NUMBER_OF(a)
#endif
#define FIELD_OFFSET(type, field) ((LONG)offsetof(type, field))
#define RTL_FIELD_SIZE(type, field) (sizeof(((type*)0)->field))
#define CONTAINING_RECORD(address, type, field) \
  ((type*)((char*)(address) - offsetof(type, field)))
#define UNREFERENCED_PARAMETER(p) ((void)(p))
#define DBG_UNREFERENCED_PARAMETER(p) ((void)(p))
#define DBG_UNREFERENCED_LOCAL_VARIABLE(v) ((void)(v))
#define MAKEWORD(a, b) \
  ((WORD)(((BYTE)(((DWORD_PTR)(a)) & 0xff)) | ((WORD)((BYTE)(((DWORD_PTR)(b)) & 0xff))) << 8))
#define MAKELONG(a, b) \
  ((LONG)(((WORD)(((DWORD_PTR)(a)) & 0xffff)) | ((DWORD)((WORD)(((DWORD_PTR)(b)) & 0xffff))) << 16))
#define LOWORD(l) ((WORD)(((DWORD_PTR)(l)) & 0xffff))
#define HIWORD(l) ((WORD)((((DWORD_PTR)(l)) >> 16) & 0xffff))
#define LOBYTE(w) ((BYTE)(((DWORD_PTR)(w)) & 0xff))
#define HIBYTE(w) ((BYTE)((((DWORD_PTR)(w)) >> 8) & 0xff))
/* min and max as <windows.h> defines them: macros, unless NOMINMAX. */
#if !defined(NOMINMAX) && defined(__cplusplus)
/* libstdc++ #undefs min/max macros (bits/c++config.h), so C++ gets them as
 * global templates: mixed argument types work as with the macro, and
 * std::min/std::max stay the better match under `using namespace std`. */
template <class A, class B>
constexpr auto min(const A& a, const B& b) -> decltype(b < a ? b : a) {
  return b < a ? b : a;
}
template <class A, class B>
constexpr auto max(const A& a, const B& b) -> decltype(a < b ? b : a) {
  return a < b ? b : a;
}
#elif !defined(NOMINMAX)
#ifndef max
#define max(a, b) (((a) > (b)) ? (a) : (b))
#endif
#ifndef min
#define min(a, b) (((a) < (b)) ? (a) : (b))
#endif
#endif

/* ---- Win32 error codes, Windows values (R8.6) -------------------------- */
/* ERROR_SUCCESS, ERROR_INVALID_HANDLE, ERROR_NOT_ENOUGH_MEMORY,
 * ERROR_NOT_SUPPORTED, ERROR_INVALID_PARAMETER, WAIT_TIMEOUT,
 * ERROR_ABANDONED_WAIT_0 and ERROR_NOT_FOUND come from <psn/psn.h>. */
#define NO_ERROR 0L
#define ERROR_INVALID_FUNCTION 1L
#define ERROR_FILE_NOT_FOUND 2L
#define ERROR_PATH_NOT_FOUND 3L
#define ERROR_TOO_MANY_OPEN_FILES 4L
#define ERROR_ACCESS_DENIED 5L
#define ERROR_INVALID_DATA 13L
#define ERROR_OUTOFMEMORY 14L
#define ERROR_GEN_FAILURE 31L
#define ERROR_HANDLE_EOF 38L
#define ERROR_NETNAME_DELETED 64L
#define ERROR_BROKEN_PIPE 109L
#define ERROR_SEM_TIMEOUT 121L
#define ERROR_INSUFFICIENT_BUFFER 122L
#define ERROR_INVALID_NAME 123L
#define ERROR_BUSY 170L
#define ERROR_ALREADY_EXISTS 183L
#define ERROR_MORE_DATA 234L
#define ERROR_MR_MID_NOT_FOUND 317L
#define ERROR_OPERATION_ABORTED 995L
#define ERROR_IO_INCOMPLETE 996L
#define ERROR_IO_PENDING 997L
#define ERROR_NOACCESS 998L
#define ERROR_CANCELLED 1223L
#define ERROR_CONNECTION_REFUSED 1225L
#define ERROR_GRACEFUL_DISCONNECT 1226L
#define ERROR_ADDRESS_ALREADY_ASSOCIATED 1227L
#define ERROR_CONNECTION_INVALID 1229L
#define ERROR_CONNECTION_ACTIVE 1230L
#define ERROR_NETWORK_UNREACHABLE 1231L
#define ERROR_HOST_UNREACHABLE 1232L
#define ERROR_PORT_UNREACHABLE 1234L
#define ERROR_REQUEST_ABORTED 1235L
#define ERROR_CONNECTION_ABORTED 1236L
#define ERROR_NO_SYSTEM_RESOURCES 1450L
#define ERROR_UNIDENTIFIED_ERROR 1287L
#define ERROR_TIMEOUT 1460L
#define ERROR_INVALID_USER_BUFFER 1784L

/* ---- Winsock error codes, Windows values (R8.3) ------------------------ */
/* WSAEFAULT, WSAEINVAL, WSAEWOULDBLOCK, WSAENOTSOCK, WSAENOBUFS and the
 * WSA_INVALID_HANDLE family come from <psn/psn.h>. */
#define WSABASEERR 10000
#define WSAEINTR 10004L
#define WSAEBADF 10009L
#define WSAEACCES 10013L
#define WSAEMFILE 10024L
#define WSAEINPROGRESS 10036L
#define WSAEALREADY 10037L
#define WSAEDESTADDRREQ 10039L
#define WSAEMSGSIZE 10040L
#define WSAEPROTOTYPE 10041L
#define WSAENOPROTOOPT 10042L
#define WSAEPROTONOSUPPORT 10043L
#define WSAESOCKTNOSUPPORT 10044L
#define WSAEOPNOTSUPP 10045L
#define WSAEPFNOSUPPORT 10046L
#define WSAEAFNOSUPPORT 10047L
#define WSAEADDRINUSE 10048L
#define WSAEADDRNOTAVAIL 10049L
#define WSAENETDOWN 10050L
#define WSAENETUNREACH 10051L
#define WSAENETRESET 10052L
#define WSAECONNABORTED 10053L
#define WSAECONNRESET 10054L
#define WSAEISCONN 10056L
#define WSAENOTCONN 10057L
#define WSAESHUTDOWN 10058L
#define WSAETOOMANYREFS 10059L
#define WSAETIMEDOUT 10060L
#define WSAECONNREFUSED 10061L
#define WSAELOOP 10062L
#define WSAENAMETOOLONG 10063L
#define WSAEHOSTDOWN 10064L
#define WSAEHOSTUNREACH 10065L
#define WSAENOTEMPTY 10066L
#define WSAEPROCLIM 10067L
#define WSAEUSERS 10068L
#define WSAEDQUOT 10069L
#define WSAESTALE 10070L
#define WSAEREMOTE 10071L
#define WSASYSNOTREADY 10091L
#define WSAVERNOTSUPPORTED 10092L
#define WSANOTINITIALISED 10093L
#define WSAEDISCON 10101L
#define WSAENOMORE 10102L
#define WSAECANCELLED 10103L
#define WSAEINVALIDPROCTABLE 10104L
#define WSAEINVALIDPROVIDER 10105L
#define WSAEPROVIDERFAILEDINIT 10106L
#define WSASYSCALLFAILURE 10107L
#define WSASERVICE_NOT_FOUND 10108L
#define WSATYPE_NOT_FOUND 10109L
#define WSA_E_NO_MORE 10110L
#define WSA_E_CANCELLED 10111L
#define WSAEREFUSED 10112L
#define WSAHOST_NOT_FOUND 11001L
#define WSATRY_AGAIN 11002L
#define WSANO_RECOVERY 11003L
#define WSANO_DATA 11004L
#define WSA_IO_PENDING ERROR_IO_PENDING
#define WSA_IO_INCOMPLETE ERROR_IO_INCOMPLETE
#define WSA_OPERATION_ABORTED ERROR_OPERATION_ABORTED
#define WSA_WAIT_FAILED ((DWORD)0xFFFFFFFF)
#define WSA_WAIT_TIMEOUT WAIT_TIMEOUT
#define WSA_INFINITE INFINITE

/* ---- FormatMessage (R8.3, R8.6) ---------------------------------------- */
#define FORMAT_MESSAGE_ALLOCATE_BUFFER 0x00000100
#define FORMAT_MESSAGE_IGNORE_INSERTS 0x00000200
#define FORMAT_MESSAGE_FROM_STRING 0x00000400
#define FORMAT_MESSAGE_FROM_HMODULE 0x00000800
#define FORMAT_MESSAGE_FROM_SYSTEM 0x00001000
#define FORMAT_MESSAGE_ARGUMENT_ARRAY 0x00002000
#define FORMAT_MESSAGE_MAX_WIDTH_MASK 0x000000FF
#define LANG_NEUTRAL 0x00
#define LANG_ENGLISH 0x09
#define SUBLANG_NEUTRAL 0x00
#define SUBLANG_DEFAULT 0x01
#define SUBLANG_ENGLISH_US 0x01
#define MAKELANGID(p, s) ((((WORD)(s)) << 10) | (WORD)(p))

#ifdef __cplusplus
extern "C" {
#endif

/* The text of a code psn can set: FORMAT_MESSAGE_FROM_SYSTEM, optionally
 * with FORMAT_MESSAGE_ALLOCATE_BUFFER (then lpBuffer is really a char** or
 * WCHAR** and the text is freed with LocalFree) and
 * FORMAT_MESSAGE_IGNORE_INSERTS. */
PSN_API DWORD WINAPI FormatMessageA(DWORD dwFlags, LPCVOID lpSource, DWORD dwMessageId,
                                    DWORD dwLanguageId, LPSTR lpBuffer, DWORD nSize,
                                    va_list* Arguments);
PSN_API DWORD WINAPI FormatMessageW(DWORD dwFlags, LPCVOID lpSource, DWORD dwMessageId,
                                    DWORD dwLanguageId, LPWSTR lpBuffer, DWORD nSize,
                                    va_list* Arguments);
PSN_API HLOCAL WINAPI LocalFree(HLOCAL hMem);

#ifdef __cplusplus
}
#endif

#ifdef UNICODE
#define FormatMessage FormatMessageW
#else
#define FormatMessage FormatMessageA
#endif

/* The C runtime names Windows programs take for granted (wprintf_s, _ASSERT). */
#include "crt.h"

#endif /* PSN_WIN32_BASE_H */
