#!/usr/bin/env bash
# Installs psn from BUILD_DIR into a scratch prefix, then builds and runs a
# C11 program that uses only <psn/psn.h> through pkg-config and through
# find_package(psn), as a user of the installed library would; and a
# Windows-style C11 program (win32_consumer.c) through pkg-config psn-win32
# (warning flags before and after the pkg-config ones) and through psn::win32
# (R8.1).
set -euo pipefail
build_dir=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

cmake --install "$build_dir" --prefix "$prefix" >/dev/null

echo "== pkg-config"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig:${prefix}/lib/$(gcc -print-multiarch 2>/dev/null || true)/pkgconfig
cc -std=c11 -Wall -Wextra -Werror "$here/consumer.c" -o "$work/consumer_pc" \
  $(pkg-config --cflags --libs psn) -Wl,-rpath,"$(pkg-config --variable=libdir psn)"
"$work/consumer_pc"

echo "== pkg-config, static"
cc -std=c11 -Wall -Wextra -Werror "$here/consumer.c" -o "$work/consumer_pc_static" \
  $(pkg-config --cflags psn) "$(pkg-config --variable=libdir psn)/libpsn.a" \
  $(pkg-config --libs-only-other --static psn) \
  $(pkg-config --libs-only-l --static psn | sed 's/-lpsn\b//')
"$work/consumer_pc_static"

echo "== pkg-config psn-win32"
win32_rpath=-Wl,-rpath,"$(pkg-config --variable=libdir psn)"
cc -std=c11 -Wall -Werror "$here/win32_consumer.c" -o "$work/win32_pc" \
  $(pkg-config --cflags --libs psn-win32) "$win32_rpath"
"$work/win32_pc"
echo "== pkg-config psn-win32, -Wall -Werror after its flags"
cc -std=c11 $(pkg-config --cflags psn-win32) -Wall -Wextra -Werror "$here/win32_consumer.c" \
  -o "$work/win32_pc_after" $(pkg-config --libs psn-win32) -Wall -Werror "$win32_rpath"
"$work/win32_pc_after"

echo "== find_package(psn)"
cmake -S "$here" -B "$work/cmake" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" >/dev/null
cmake --build "$work/cmake" >/dev/null
LD_LIBRARY_PATH=$(dirname "$(find "$prefix" -name 'libpsn.so' | head -1)") "$work/cmake/consumer_cmake"
"$work/cmake/consumer_cmake_static"
LD_LIBRARY_PATH=$(dirname "$(find "$prefix" -name 'libpsn.so' | head -1)") "$work/cmake/win32_consumer_cmake"
echo "install: 1 passed, 0 failed"
