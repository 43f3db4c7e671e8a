// The C runtime names Windows programs take for granted (psn_win32/crt.h):
// the `_s` printf family with MSVC's reading of wide formats, and _ASSERT.
// R8.1: the documentation's samples print with wprintf_s(L"%s", wide).
#include <windows.h>
// clang-format off
#include <gtest/gtest.h>
// clang-format on

#include <cstdio>
#include <string>

namespace {

// Everything written to a temporary stream, as bytes.
template <class F>
std::string capture(F&& write) {
  FILE* f = std::tmpfile();
  EXPECT_NE(f, nullptr);
  write(f);
  std::fflush(f);
  std::rewind(f);
  std::string out;
  char buf[256];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

TEST(Crt, WidePercentSIsAWideStringAsInMsvc) {
  const WCHAR wide[] = L"wide";
  std::string out = capture([&](FILE* f) {
    EXPECT_EQ(fwprintf_s(f, L"[%s] [%S] [%c] [%C] [%ls] [%hs]", wide, "narrow", L'w', 'n', wide,
                         "h"),
              static_cast<int>(std::wcslen(L"[wide] [narrow] [w] [n] [wide] [h]")));
  });
  EXPECT_EQ(out, "[wide] [narrow] [w] [n] [wide] [h]");
}

TEST(Crt, WideLengthPrefixesOfMsvc) {
  std::string out = capture([](FILE* f) {
    fwprintf_s(f, L"%I64d %I64u %Id %I32u %d %u %lu %5.2f %%", static_cast<long long>(-5),
               static_cast<unsigned long long>(1) << 40, static_cast<ptrdiff_t>(-7), 9u, -3, 4u,
               5ul, 1.5);
  });
  EXPECT_EQ(out, "-5 1099511627776 -7 9 -3 4 5  1.50 %");
}

TEST(Crt, WideOutputIsUtf8AndMixesWithNarrowOutputOnOneStream) {
  std::string out = capture([](FILE* f) {
    std::fprintf(f, "narrow ");
    fwprintf_s(f, L"\u00e9\u20ac\U0001F600 ");
    std::fprintf(f, "again");
  });
  EXPECT_EQ(out, "narrow \xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80 again");
}

TEST(Crt, SprintfSRefusesToTruncate) {
  char buf[8];
  EXPECT_EQ(sprintf_s(buf, sizeof buf, "%s", "1234567"), 7);
  EXPECT_STREQ(buf, "1234567");
  EXPECT_EQ(sprintf_s(buf, sizeof buf, "%s", "12345678"), -1);
  EXPECT_STREQ(buf, "");
  EXPECT_EQ(sprintf_s(nullptr, 4, "x"), -1);
}

TEST(Crt, SwprintfSFormatsAsMsvc) {
  WCHAR buf[32];
  EXPECT_EQ(swprintf_s(buf, RTL_NUMBER_OF(buf), L"%s-%S-%d", L"a", "b", 3), 5);
  EXPECT_STREQ(buf, L"a-b-3");
  EXPECT_EQ(swprintf_s(buf, 3, L"%s", L"toolong"), -1);
  EXPECT_STREQ(buf, L"");
}

TEST(Crt, AssertIsANoOpWithoutDebug) {
  int evaluated = 0;
  _ASSERT((++evaluated, false));  // not _DEBUG: neither evaluated nor fatal
  _ASSERTE(false);
  EXPECT_EQ(evaluated, 0);
}

}  // namespace
