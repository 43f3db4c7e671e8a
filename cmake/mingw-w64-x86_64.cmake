# Cross-compiling psn for x86-64 Windows with Debian's mingw-w64
# (g++-mingw-w64-x86-64):
#   cmake -S . -B build-windows -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake
# `make windows` does this. Nothing here runs the result: that needs Windows
# 10 build 20348 or later (docs/packaging.md).
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(PSN_MINGW_TRIPLET x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${PSN_MINGW_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${PSN_MINGW_TRIPLET}-g++)
set(CMAKE_RC_COMPILER ${PSN_MINGW_TRIPLET}-windres)

# Headers and libraries come from the mingw-w64 tree (and from the roots a
# user adds, say -DCMAKE_FIND_ROOT_PATH=<prefix of a Windows psn install>),
# programs from the host.
list(APPEND CMAKE_FIND_ROOT_PATH /usr/${PSN_MINGW_TRIPLET})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
