// Name resolution with Windows' interface (R8.7): getaddrinfo/freeaddrinfo/
// getnameinfo (as psn_ws_<name>; see winsock.cpp), GetAddrInfoW/FreeAddrInfoW/
// GetNameInfoW and gai_strerrorA/W, on glibc's resolver.
//
// Windows' ADDRINFOA has its own layout (size_t ai_addrlen, ai_canonname
// before ai_addr), so results are copied into psn-allocated nodes that only
// freeaddrinfo/FreeAddrInfoW may free. AI_* and NI_* flags have Windows'
// values and are translated; glibc's EAI_* results become the Winsock codes
// Windows returns, which are also set as the thread's last error.
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "psn_win32/base.h"
#include "win32/error_table.hpp"
#include "win32/winsock_layout.hpp"
#include "win32/winsock_util.hpp"

namespace {

using namespace psn::win32;
namespace wc = psn::win32::wsconst;

int fail_gai(DWORD code) noexcept {
  SetLastError(code);
  return static_cast<int>(code);
}

// Windows AI_* -> glibc. The flags that steer Windows' name-service
// providers (DNS only, secure, file server...) have nothing to steer here.
bool ai_flags_to_linux(int w, int* out) noexcept {
  constexpr int kKnown =
      wc::kAiPassive | wc::kAiCanonName | wc::kAiNumericHost | wc::kAiNumericServ | wc::kAiDnsOnly |
      wc::kAiAll | wc::kAiAddrConfig | wc::kAiV4Mapped | wc::kAiNonAuthoritative | wc::kAiSecure |
      wc::kAiReturnPreferredNames | wc::kAiFqdn | wc::kAiFileServer | wc::kAiDisableIdnEncoding;
  if (w & ~kKnown) return false;
  int l = 0;
  if (w & wc::kAiPassive) l |= AI_PASSIVE;
  if (w & (wc::kAiCanonName | wc::kAiFqdn)) l |= AI_CANONNAME;
  if (w & wc::kAiNumericHost) l |= AI_NUMERICHOST;
  if (w & wc::kAiNumericServ) l |= AI_NUMERICSERV;
  if (w & wc::kAiAll) l |= AI_ALL;
  if (w & wc::kAiAddrConfig) l |= AI_ADDRCONFIG;
  if (w & wc::kAiV4Mapped) l |= AI_V4MAPPED;
  *out = l;
  return true;
}

int ai_flags_to_windows(int l) noexcept {
  int w = 0;
  if (l & AI_PASSIVE) w |= wc::kAiPassive;
  if (l & AI_CANONNAME) w |= wc::kAiCanonName;
  if (l & AI_NUMERICHOST) w |= wc::kAiNumericHost;
  if (l & AI_NUMERICSERV) w |= wc::kAiNumericServ;
  if (l & AI_ALL) w |= wc::kAiAll;
  if (l & AI_ADDRCONFIG) w |= wc::kAiAddrConfig;
  if (l & AI_V4MAPPED) w |= wc::kAiV4Mapped;
  return w;
}

bool ni_flags_to_linux(int w, int* out) noexcept {
  constexpr int kKnown =
      wc::kNiNoFqdn | wc::kNiNumericHost | wc::kNiNameReqd | wc::kNiNumericServ | wc::kNiDgram;
  if (w & ~kKnown) return false;
  int l = 0;
  if (w & wc::kNiNoFqdn) l |= NI_NOFQDN;
  if (w & wc::kNiNumericHost) l |= NI_NUMERICHOST;
  if (w & wc::kNiNameReqd) l |= NI_NAMEREQD;
  if (w & wc::kNiNumericServ) l |= NI_NUMERICSERV;
  if (w & wc::kNiDgram) l |= NI_DGRAM;
  *out = l;
  return true;
}

// glibc's EAI_* -> what Windows' getaddrinfo/getnameinfo return.
DWORD gai_code(int rc, int err) noexcept {
  switch (rc) {
    case EAI_NONAME:
      return WSAHOST_NOT_FOUND;
    case EAI_AGAIN:
      return WSATRY_AGAIN;
    case EAI_FAIL:
      return WSANO_RECOVERY;
    case EAI_FAMILY:
      return WSAEAFNOSUPPORT;
    case EAI_MEMORY:
      return WSA_NOT_ENOUGH_MEMORY;
    case EAI_SOCKTYPE:
      return WSAESOCKTNOSUPPORT;
    case EAI_SERVICE:
      return WSATYPE_NOT_FOUND;
    case EAI_BADFLAGS:
      return WSAEINVAL;
    case EAI_NODATA:
    case EAI_ADDRFAMILY:
      return WSANO_DATA;  // the name exists, without an address of that kind
    case EAI_OVERFLOW:
      return WSAEFAULT;  // a result buffer too small
    case EAI_SYSTEM:
      return wsa_from_errno(err);
    default:
      return WSANO_RECOVERY;
  }
}

std::size_t round_up(std::size_t n, std::size_t a) noexcept {
  return (n + a - 1) / a * a;
}

// Characters (NUL included) of a canonical name in Char.
std::size_t canon_chars(const char* s, char*) noexcept {
  return std::strlen(s) + 1;
}
std::size_t canon_chars(const char* s, wchar_t*) noexcept {
  return utf8_to_wide(s, nullptr, 0);
}
void canon_copy(const char* s, char* out, std::size_t n) noexcept {
  std::memcpy(out, s, n);
}
void canon_copy(const char* s, wchar_t* out, std::size_t n) noexcept {
  utf8_to_wide(s, out, n);
}

template <class Char>
void free_list(ws_addrinfo<Char>* p) noexcept {
  while (p != nullptr) {
    ws_addrinfo<Char>* next = p->ai_next;
    std::free(p);
    p = next;
  }
}

// One allocation per node: the node, its address, its canonical name.
template <class Char>
ws_addrinfo<Char>* copy_list(const addrinfo* src) noexcept {
  ws_addrinfo<Char>* head = nullptr;
  ws_addrinfo<Char>** tail = &head;
  for (; src != nullptr; src = src->ai_next) {
    using node = ws_addrinfo<Char>;
    const std::size_t addr_at = round_up(sizeof(node), alignof(std::max_align_t));
    const std::size_t canon_at = round_up(addr_at + src->ai_addrlen, alignof(Char));
    const std::size_t chars =
        src->ai_canonname ? canon_chars(src->ai_canonname, static_cast<Char*>(nullptr)) : 0;
    auto* n = static_cast<node*>(std::calloc(1, canon_at + chars * sizeof(Char)));
    if (n == nullptr) {
      free_list(head);
      return nullptr;
    }
    auto* base = reinterpret_cast<unsigned char*>(n);
    n->ai_flags = ai_flags_to_windows(src->ai_flags);
    n->ai_family = src->ai_family;
    n->ai_socktype = src->ai_socktype;
    n->ai_protocol = src->ai_protocol;
    n->ai_addrlen = src->ai_addrlen;
    if (src->ai_addr != nullptr && src->ai_addrlen > 0) {
      std::memcpy(base + addr_at, src->ai_addr, src->ai_addrlen);
      n->ai_addr = base + addr_at;
    }
    if (src->ai_canonname != nullptr) {
      auto* c = reinterpret_cast<Char*>(base + canon_at);
      canon_copy(src->ai_canonname, c, chars);
      n->ai_canonname = c;
    }
    *tail = n;
    tail = &n->ai_next;
  }
  return head;
}

template <class Char>
int resolve(const char* node, const char* service, const ws_addrinfo<Char>* hints,
            ws_addrinfo<Char>** result) noexcept {
  if (result == nullptr) return fail_gai(WSAEINVAL);
  *result = nullptr;
  addrinfo h{};
  const addrinfo* hp = nullptr;
  if (hints != nullptr) {
    // Windows: every other member of the hints must be zero.
    if (hints->ai_addrlen != 0 || hints->ai_canonname != nullptr || hints->ai_addr != nullptr ||
        hints->ai_next != nullptr)
      return fail_gai(WSANO_RECOVERY);
    int lf = 0;
    if (!ai_flags_to_linux(hints->ai_flags, &lf)) return fail_gai(WSAEINVAL);
    h.ai_flags = lf;
    h.ai_family = hints->ai_family;
    h.ai_socktype = hints->ai_socktype;
    h.ai_protocol = hints->ai_protocol;
    hp = &h;
  }
  addrinfo* out = nullptr;
  int rc = ::getaddrinfo(node, service, hp, &out);
  if (rc != 0) return fail_gai(gai_code(rc, errno));
  ws_addrinfo<Char>* list = copy_list<Char>(out);
  ::freeaddrinfo(out);
  if (list == nullptr) return fail_gai(WSA_NOT_ENOUGH_MEMORY);
  *result = list;
  return 0;
}

// getnameinfo into char buffers (the W form converts afterwards).
int name_info(const sockaddr* sa, socklen_t salen, char* host, DWORD hostlen, char* serv,
              DWORD servlen, int flags) noexcept {
  if (sa == nullptr || salen < static_cast<socklen_t>(sizeof(sa_family_t)))
    return fail_gai(WSAEFAULT);
  if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) return fail_gai(WSAEAFNOSUPPORT);
  if (salen < (sa->sa_family == AF_INET ? sizeof(sockaddr_in) : 24u)) return fail_gai(WSAEFAULT);
  int lf = 0;
  if (!ni_flags_to_linux(flags, &lf)) return fail_gai(WSAEINVAL);
  int rc = ::getnameinfo(sa, salen, host, host ? hostlen : 0, serv, serv ? servlen : 0, lf);
  if (rc != 0) return fail_gai(gai_code(rc, errno));
  return 0;
}

thread_local char t_gai_text[256];
thread_local wchar_t t_gai_wtext[256];

// The text of a code for gai_strerror: one line, no line break (Windows
// formats it with FORMAT_MESSAGE_MAX_WIDTH_MASK). The last error is left alone.
const char* gai_text(int ecode) noexcept {
  const char* t = error_text(static_cast<DWORD>(ecode));
  return t ? t : "Unknown error.";
}

}  // namespace

extern "C" {

PSN_API INT psn_ws_getaddrinfo(const char* node, const char* service, const ws_addrinfoa* hints,
                               ws_addrinfoa** result) noexcept {
  return resolve<char>(node, service, hints, result);
}

PSN_API void psn_ws_freeaddrinfo(ws_addrinfoa* ai) noexcept {
  free_list(ai);
}

PSN_API INT psn_ws_getnameinfo(const sockaddr* sa, socklen_t salen, char* host, DWORD hostlen,
                               char* serv, DWORD servlen, INT flags) noexcept {
  return name_info(sa, salen, host, hostlen, serv, servlen, flags);
}

PSN_API INT GetAddrInfoW(const wchar_t* node, const wchar_t* service, const ws_addrinfow* hints,
                         ws_addrinfow** result) noexcept {
  try {
    std::string n, s;
    if (node) n = to_utf8(node);
    if (service) s = to_utf8(service);
    return resolve<wchar_t>(node ? n.c_str() : nullptr, service ? s.c_str() : nullptr, hints,
                            result);
  } catch (const std::bad_alloc&) {
    if (result) *result = nullptr;
    return fail_gai(WSA_NOT_ENOUGH_MEMORY);
  }
}

PSN_API void FreeAddrInfoW(ws_addrinfow* ai) noexcept {
  free_list(ai);
}

PSN_API INT GetNameInfoW(const sockaddr* sa, socklen_t salen, wchar_t* host, DWORD hostlen,
                         wchar_t* serv, DWORD servlen, INT flags) noexcept {
  char h[NI_MAXHOST];
  char s[NI_MAXSERV];
  int rc = name_info(sa, salen, host ? h : nullptr, host ? sizeof h : 0, serv ? s : nullptr,
                     serv ? sizeof s : 0, flags);
  if (rc != 0) return rc;
  if (host != nullptr && utf8_to_wide(h, host, hostlen) > hostlen) return fail_gai(WSAEFAULT);
  if (serv != nullptr && utf8_to_wide(s, serv, servlen) > servlen) return fail_gai(WSAEFAULT);
  return 0;
}

PSN_API char* gai_strerrorA(int ecode) noexcept {
  std::strncpy(t_gai_text, gai_text(ecode), sizeof t_gai_text - 1);
  return t_gai_text;
}

PSN_API wchar_t* gai_strerrorW(int ecode) noexcept {
  utf8_to_wide(gai_text(ecode), t_gai_wtext, sizeof t_gai_wtext / sizeof t_gai_wtext[0]);
  return t_gai_wtext;
}

}  // extern "C"
