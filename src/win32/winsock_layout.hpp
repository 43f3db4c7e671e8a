// Private mirrors of the Winsock structures whose Windows layout differs from
// Linux's, and the Windows values of the constants psn translates (R8.2, R8.7).
//
// The implementation cannot include the public <psn_win32/winsock.h>: its
// declarations would clash with the Linux headers it needs. So the layouts
// are written twice: here, checked below against fixed numbers, and in the
// public header, which tests/win32/test_winsock_basics.cpp checks against
// this file. Neither can change without a build or a test failing.
//
// This file includes only <cstddef>/<cstdint>, so the test can include it
// next to the public header.
#pragma once

#include <cstddef>
#include <cstdint>

namespace psn::win32 {

// struct linger: u_short members on Windows, int on Linux.
struct ws_linger {
  std::uint16_t l_onoff;
  std::uint16_t l_linger;
};

// ADDRINFOA / ADDRINFOW: ai_addrlen is a size_t and ai_canonname comes before
// ai_addr on Windows. ai_addr points to a sockaddr (the same layout on both).
template <class Char>
struct ws_addrinfo {
  int ai_flags;
  int ai_family;
  int ai_socktype;
  int ai_protocol;
  std::size_t ai_addrlen;
  Char* ai_canonname;
  void* ai_addr;
  ws_addrinfo* ai_next;
};
using ws_addrinfoa = ws_addrinfo<char>;
using ws_addrinfow = ws_addrinfo<wchar_t>;

// WSAPOLLFD: a pointer-wide SOCKET where struct pollfd has an int.
struct ws_pollfd {
  std::uintptr_t fd;
  std::int16_t events;
  std::int16_t revents;
};

// WSADATA, Win64 layout (Win32 puts the strings before iMaxSockets).
inline constexpr int kWsaDescriptionLen = 256;
inline constexpr int kWsaSysStatusLen = 128;
struct ws_wsadata {
  std::uint16_t wVersion;
  std::uint16_t wHighVersion;
  std::uint16_t iMaxSockets;
  std::uint16_t iMaxUdpDg;
  char* lpVendorInfo;
  char szDescription[kWsaDescriptionLen + 1];
  char szSystemStatus[kWsaSysStatusLen + 1];
};

// WSABUF: a 32-bit length first.
struct ws_wsabuf {
  std::uint32_t len;
  char* buf;
};

// The sizes and offsets, as Windows (x64) has them.
namespace layout {
inline constexpr std::size_t kLingerSize = 4;
inline constexpr std::size_t kAddrinfoSize = 48;
inline constexpr std::size_t kAddrinfoAddrlenOffset = 16;
inline constexpr std::size_t kAddrinfoCanonnameOffset = 24;
inline constexpr std::size_t kAddrinfoAddrOffset = 32;
inline constexpr std::size_t kAddrinfoNextOffset = 40;
inline constexpr std::size_t kPollfdSize = 16;
inline constexpr std::size_t kPollfdEventsOffset = 8;
inline constexpr std::size_t kPollfdReventsOffset = 10;
inline constexpr std::size_t kWsadataSize = 408;
inline constexpr std::size_t kWsadataVendorInfoOffset = 8;
inline constexpr std::size_t kWsadataDescriptionOffset = 16;
inline constexpr std::size_t kWsadataSystemStatusOffset = 273;
inline constexpr std::size_t kWsabufSize = 16;
inline constexpr std::size_t kWsabufBufOffset = 8;
// Structures psn passes to the kernel unchanged: Windows' layout is Linux's.
inline constexpr std::size_t kSockaddrSize = 16;
inline constexpr std::size_t kSockaddrInSize = 16;
inline constexpr std::size_t kSockaddrIn6Size = 28;
inline constexpr std::size_t kSockaddrIn6ScopeIdOffset = 24;
inline constexpr std::size_t kSockaddrStorageSize = 128;
inline constexpr std::size_t kInAddrSize = 4;
inline constexpr std::size_t kIn6AddrSize = 16;
inline constexpr std::size_t kIpMreqSize = 8;
inline constexpr std::size_t kIpv6MreqSize = 20;
}  // namespace layout

static_assert(sizeof(ws_linger) == layout::kLingerSize);
static_assert(sizeof(ws_addrinfoa) == layout::kAddrinfoSize);
static_assert(offsetof(ws_addrinfoa, ai_addrlen) == layout::kAddrinfoAddrlenOffset);
static_assert(offsetof(ws_addrinfoa, ai_canonname) == layout::kAddrinfoCanonnameOffset);
static_assert(offsetof(ws_addrinfoa, ai_addr) == layout::kAddrinfoAddrOffset);
static_assert(offsetof(ws_addrinfoa, ai_next) == layout::kAddrinfoNextOffset);
static_assert(sizeof(ws_addrinfow) == layout::kAddrinfoSize);
static_assert(offsetof(ws_addrinfow, ai_addr) == layout::kAddrinfoAddrOffset);
static_assert(sizeof(ws_pollfd) == layout::kPollfdSize);
static_assert(offsetof(ws_pollfd, events) == layout::kPollfdEventsOffset);
static_assert(offsetof(ws_pollfd, revents) == layout::kPollfdReventsOffset);
static_assert(sizeof(ws_wsadata) == layout::kWsadataSize);
static_assert(offsetof(ws_wsadata, lpVendorInfo) == layout::kWsadataVendorInfoOffset);
static_assert(offsetof(ws_wsadata, szDescription) == layout::kWsadataDescriptionOffset);
static_assert(offsetof(ws_wsadata, szSystemStatus) == layout::kWsadataSystemStatusOffset);
static_assert(sizeof(ws_wsabuf) == layout::kWsabufSize);
static_assert(offsetof(ws_wsabuf, buf) == layout::kWsabufBufOffset);

// Constants with Windows values, which the implementation translates.
namespace wsconst {
inline constexpr std::uint32_t kFionbio = 0x8004667Eu;
inline constexpr std::uint32_t kFionread = 0x4004667Fu;
inline constexpr std::uint32_t kSioGetExtensionFunctionPointer = 0xC8000006u;

// SOL_SOCKET options that only Windows has.
inline constexpr int kSoDontLinger = ~13;       // ~SO_LINGER (Linux value)
inline constexpr int kSoExclusiveAddrUse = ~2;  // ~SO_REUSEADDR (Linux value)
inline constexpr int kSoMaxMsgSize = 0x2003;
inline constexpr int kSoConditionalAccept = 0x3002;
inline constexpr int kSoUpdateAcceptContext = 0x700B;
inline constexpr int kSoUpdateConnectContext = 0x7010;
inline constexpr int kIpDontFragment = 14;  // IPPROTO_IP

inline constexpr std::uint32_t kWsaFlagOverlapped = 0x01;
inline constexpr std::uint32_t kWsaFlagNoHandleInherit = 0x80;

inline constexpr std::int16_t kPollRdNorm = 0x0100;
inline constexpr std::int16_t kPollRdBand = 0x0200;
inline constexpr std::int16_t kPollPri = 0x0400;
inline constexpr std::int16_t kPollWrNorm = 0x0010;
inline constexpr std::int16_t kPollWrBand = 0x0020;
inline constexpr std::int16_t kPollErr = 0x0001;
inline constexpr std::int16_t kPollHup = 0x0002;
inline constexpr std::int16_t kPollNval = 0x0004;

inline constexpr int kAiPassive = 0x00000001;
inline constexpr int kAiCanonName = 0x00000002;
inline constexpr int kAiNumericHost = 0x00000004;
inline constexpr int kAiNumericServ = 0x00000008;
inline constexpr int kAiDnsOnly = 0x00000010;
inline constexpr int kAiAll = 0x00000100;
inline constexpr int kAiAddrConfig = 0x00000400;
inline constexpr int kAiV4Mapped = 0x00000800;
inline constexpr int kAiNonAuthoritative = 0x00004000;
inline constexpr int kAiSecure = 0x00008000;
inline constexpr int kAiReturnPreferredNames = 0x00010000;
inline constexpr int kAiFqdn = 0x00020000;
inline constexpr int kAiFileServer = 0x00040000;
inline constexpr int kAiDisableIdnEncoding = 0x00080000;

inline constexpr int kNiNoFqdn = 0x01;
inline constexpr int kNiNumericHost = 0x02;
inline constexpr int kNiNameReqd = 0x04;
inline constexpr int kNiNumericServ = 0x08;
inline constexpr int kNiDgram = 0x10;
}  // namespace wsconst

}  // namespace psn::win32
