// The version a program sees at compile time (<psn/version.h>, through
// <psn/psn.h>) is the version the library reports at run time, in C and in
// C++, and PSN_VERSION_STRING spells the same numbers (issue 13).
#include <psn/psn.h>

#include <cstdio>
#include <cstring>
#include <psn/psn.hpp>
#include <string>

namespace {
int failures = 0;
void check(bool ok, const char* what) {
  if (!ok) {
    std::printf("FAIL %s\n", what);
    ++failures;
  }
}
}  // namespace

int main() {
  check(psn_version() == PSN_VERSION, "psn_version() == PSN_VERSION");
  check(psn::version() == psn_version(), "psn::version() == psn_version()");
  check(PSN_VERSION == PSN_VERSION_ENCODE(PSN_VERSION_MAJOR, PSN_VERSION_MINOR, PSN_VERSION_PATCH),
        "PSN_VERSION encodes MAJOR.MINOR.PATCH");
  const std::string spelled = std::to_string(PSN_VERSION_MAJOR) + "." +
                              std::to_string(PSN_VERSION_MINOR) + "." +
                              std::to_string(PSN_VERSION_PATCH);
  check(spelled == PSN_VERSION_STRING, "PSN_VERSION_STRING spells MAJOR.MINOR.PATCH");
  check(PSN_VERSION_ENCODE(0, 2, 0) > PSN_VERSION_ENCODE(0, 1, 255) &&
            PSN_VERSION_ENCODE(1, 0, 0) > PSN_VERSION_ENCODE(0, 255, 255),
        "later versions encode to larger numbers");
  std::printf("psn %s: %d passed, %d failed\n", PSN_VERSION_STRING, failures ? 0 : 1,
              failures ? 1 : 0);
  return failures ? 1 : 0;
}
