// The Microsoft C runtime names of psn_win32/crt.h: the `_s` printf family.
//
// The wide functions read their format as MSVC does (%s and %c are wide, %S
// and %C narrow; I64, I32, I and w length prefixes), so the format is
// rewritten into glibc's spelling first. Their output is encoded as UTF-8 and
// written through the stream's byte interface: glibc fixes a stream's
// orientation at first use, and Windows programs mix printf and wprintf on
// stdout freely.
#include <psn_win32/crt.h>

#include <cstdio>
#include <cstring>
#include <cwchar>
#include <string>
#include <vector>

#include "utf8.hpp"

namespace {

// MSVC's wide format -> glibc's. Throws std::bad_alloc only.
std::wstring glibc_wide_format(const wchar_t* f) {
  std::wstring out;
  while (*f) {
    if (*f != L'%') {
      out += *f++;
      continue;
    }
    out += *f++;
    if (*f == L'%') {
      out += *f++;
      continue;
    }
    while (*f && std::wcschr(L"-+ #0'", *f)) out += *f++;          // flags
    while (*f == L'*' || (*f >= L'0' && *f <= L'9')) out += *f++;  // width
    if (*f == L'.') {
      out += *f++;
      while (*f == L'*' || (*f >= L'0' && *f <= L'9')) out += *f++;
    }
    enum { none, narrow, wide, other } len = none;
    std::wstring mod;
    for (;;) {
      if (f[0] == L'I' && f[1] == L'6' && f[2] == L'4') {
        mod += L"ll", f += 3, len = other;
      } else if (f[0] == L'I' && f[1] == L'3' && f[2] == L'2') {
        f += 3, len = other;
      } else if (f[0] == L'I') {
        mod += L"z", f += 1, len = other;
      } else if (f[0] == L'h') {
        mod += L"h", f += 1, len = len == none ? narrow : other;
      } else if (f[0] == L'l' || f[0] == L'w') {
        mod += L"l", f += 1, len = len == none ? wide : other;
      } else if (f[0] && std::wcschr(L"Ljztq", f[0])) {
        mod += f[0], f += 1, len = other;
      } else {
        break;
      }
    }
    const wchar_t c = *f;
    if (c == 0) break;
    ++f;
    if (c == L's' || c == L'c' || c == L'S' || c == L'C') {
      const bool upper = c == L'S' || c == L'C';
      const wchar_t conv = upper ? static_cast<wchar_t>(c - L'A' + L'a') : c;
      // No prefix: %s is wide, %S narrow. h: narrow. l/w: wide.
      const bool is_wide = len == wide || (len == none && !upper);
      out += is_wide ? L"l" : L"";
      out += conv;
      continue;
    }
    out += mod;
    out += c;
  }
  return out;
}

// Formats into a growing buffer; -1 on a bad format.
int format_wide(std::vector<wchar_t>& buf, const wchar_t* format, va_list args) {
  std::wstring f = glibc_wide_format(format);
  buf.resize(256);
  for (;;) {
    va_list copy;
    va_copy(copy, args);
    int n = std::vswprintf(buf.data(), buf.size(), f.c_str(), copy);
    va_end(copy);
    if (n >= 0) return n;
    // vswprintf says -1 both for "too small" and for a bad format or an
    // unencodable character; stop growing at a size no line needs.
    if (buf.size() >= (std::size_t{1} << 24)) return -1;
    buf.resize(buf.size() * 4);
  }
}

// A value past U+10FFFF becomes '?'; any other, surrogates too, is encoded as it is.
void append_utf8(std::string& out, char32_t c) {
  if (c < 0x110000) {
    psn::win32::encode_utf8(c, out);
  } else {
    out += '?';
  }
}

int write_wide(FILE* stream, const wchar_t* format, va_list args) noexcept {
  if (stream == nullptr || format == nullptr) return -1;
  try {
    std::vector<wchar_t> buf;
    int n = format_wide(buf, format, args);
    if (n < 0) return -1;
    std::string utf8;
    utf8.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i)
      append_utf8(utf8, static_cast<char32_t>(buf[static_cast<std::size_t>(i)]));
    if (std::fwrite(utf8.data(), 1, utf8.size(), stream) != utf8.size()) return -1;
    return n;
  } catch (...) {
    return -1;
  }
}

}  // namespace

extern "C" {

int vprintf_s(const char* format, va_list args) {
  return format ? std::vprintf(format, args) : -1;
}
int vfprintf_s(FILE* stream, const char* format, va_list args) {
  return stream && format ? std::vfprintf(stream, format, args) : -1;
}
int vsprintf_s(char* buffer, size_t size, const char* format, va_list args) {
  if (buffer == nullptr || size == 0 || format == nullptr) return -1;
  int n = std::vsnprintf(buffer, size, format, args);
  if (n < 0 || static_cast<size_t>(n) >= size) {
    buffer[0] = '\0';  // as MSVC: never a truncated string
    return -1;
  }
  return n;
}
int printf_s(const char* format, ...) {
  va_list a;
  va_start(a, format);
  int n = vprintf_s(format, a);
  va_end(a);
  return n;
}
int fprintf_s(FILE* stream, const char* format, ...) {
  va_list a;
  va_start(a, format);
  int n = vfprintf_s(stream, format, a);
  va_end(a);
  return n;
}
int sprintf_s(char* buffer, size_t size, const char* format, ...) {
  va_list a;
  va_start(a, format);
  int n = vsprintf_s(buffer, size, format, a);
  va_end(a);
  return n;
}

int vwprintf_s(const wchar_t* format, va_list args) {
  return write_wide(stdout, format, args);
}
int vfwprintf_s(FILE* stream, const wchar_t* format, va_list args) {
  return write_wide(stream, format, args);
}
int vswprintf_s(wchar_t* buffer, size_t size, const wchar_t* format, va_list args) {
  if (buffer == nullptr || size == 0 || format == nullptr) return -1;
  try {
    std::wstring f = glibc_wide_format(format);
    int n = std::vswprintf(buffer, size, f.c_str(), args);
    if (n < 0) buffer[0] = L'\0';
    return n;
  } catch (...) {
    buffer[0] = L'\0';
    return -1;
  }
}
int wprintf_s(const wchar_t* format, ...) {
  va_list a;
  va_start(a, format);
  int n = vwprintf_s(format, a);
  va_end(a);
  return n;
}
int fwprintf_s(FILE* stream, const wchar_t* format, ...) {
  va_list a;
  va_start(a, format);
  int n = vfwprintf_s(stream, format, a);
  va_end(a);
  return n;
}
int swprintf_s(wchar_t* buffer, size_t size, const wchar_t* format, ...) {
  va_list a;
  va_start(a, format);
  int n = vswprintf_s(buffer, size, format, a);
  va_end(a);
  return n;
}

}  // extern "C"
