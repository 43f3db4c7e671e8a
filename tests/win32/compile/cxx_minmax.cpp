// R8.6 / R8.1, C++: without NOMINMAX, <windows.h> gives min and max, and the
// standard C++ headers included after it still compile (on Windows, MSVC's
// library is written to survive the macros). Windows C++ code calls them
// unqualified, with mixed argument types, also under `using namespace std`,
// next to (std::min)(...) and std::numeric_limits<T>::max().
// <windows.h> first is what is tested.
// clang-format off
#include <windows.h>
// clang-format on

#include <algorithm>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

using namespace std;

int main() {
  int small = 1;
  LONG64 large = 2;
  size_t count = 3;
  DWORD dword = 4;
  vector<int> values{3, 1, 2};

  if (min(small, large) != 1) return 1;          // mixed types, as the macro allows
  if (max(count, (size_t)dword) != 4) return 2;  // same types: no ambiguity with std::max
  if (min(3, 4) != 3 || max(3, 4) != 4) return 3;
  if ((std::min)(5, 6) != 5) return 4;
  if (std::numeric_limits<int>::max() <= 0) return 5;
  if (*max_element(values.begin(), values.end()) != 3) return 6;
  std::printf("cxx_minmax: ok\n");
  return 0;
}
