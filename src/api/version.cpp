// psn_version(): the version of the library that runs, which may be newer
// than the headers a program was built with. Built into libpsn on Linux and
// on Windows (where the DLL exports it by name).
#include "psn/version.h"

#if defined(_WIN32) && defined(PSN_BUILDING_DLL)
#define PSN_VERSION_EXPORT __declspec(dllexport)
#else
#define PSN_VERSION_EXPORT
#endif

extern "C" PSN_VERSION_EXPORT unsigned int psn_version(void) {
  return PSN_VERSION;
}
