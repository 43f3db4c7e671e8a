// UTF-8 for the psn-win32 implementation: wchar_t is UTF-32 on Linux, and the
// W functions (winsock.cpp, addrinfo.cpp) and the wide printf family (crt.cpp)
// hand the system UTF-8.
#pragma once

#include <cstddef>
#include <string>

namespace psn::win32 {

// Appends the UTF-8 bytes of c, which is below 0x110000. Surrogates are
// encoded as any other value; a caller that wants only scalar values checks
// first.
inline void encode_utf8(char32_t c, std::string& out) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

// As encode_utf8, for any value: invalid code points become U+FFFD.
inline void append_utf8(char32_t c, std::string& out) {
  if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) c = 0xFFFD;
  encode_utf8(c, out);
}

// UTF-8 of a NUL-terminated wide string. Throws std::bad_alloc.
inline std::string to_utf8(const wchar_t* w) {
  std::string out;
  for (; *w != L'\0'; ++w) append_utf8(static_cast<char32_t>(*w), out);
  return out;
}

// Decodes one UTF-8 sequence at s (not at its end); advances s.
inline char32_t next_code_point(const unsigned char*& s) noexcept {
  unsigned char b = *s++;
  if (b < 0x80) return b;
  int extra = b >= 0xF0 ? 3 : b >= 0xE0 ? 2 : b >= 0xC0 ? 1 : -1;
  if (extra < 0 || b >= 0xF8) return 0xFFFD;
  char32_t c = b & (0x3F >> extra);
  for (int i = 0; i < extra; i++) {
    if ((*s & 0xC0) != 0x80) return 0xFFFD;  // truncated: leave the byte for the next call
    c = (c << 6) | (*s++ & 0x3F);
  }
  return c;
}

// Writes the wide form of UTF-8 s, NUL-terminated, into out[cap] if it fits.
// Returns the number of wchar_t it needs, the NUL included.
inline std::size_t utf8_to_wide(const char* s, wchar_t* out, std::size_t cap) noexcept {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s);
  std::size_t n = 0;
  while (*p != 0) {
    char32_t c = next_code_point(p);
    if (n + 1 < cap) out[n] = static_cast<wchar_t>(c);
    n++;
  }
  if (n < cap) out[n] = L'\0';
  return n + 1;
}

}  // namespace psn::win32
