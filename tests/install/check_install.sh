#!/usr/bin/env bash
# Installs psn from BUILD_DIR into a scratch prefix, then builds and runs a
# C11 program that uses only <psn/psn.h> through pkg-config and through
# find_package(psn), as a user of the installed library would.
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

echo "== find_package(psn)"
cmake -S "$here" -B "$work/cmake" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" >/dev/null
cmake --build "$work/cmake" >/dev/null
LD_LIBRARY_PATH=$(dirname "$(find "$prefix" -name 'libpsn.so' | head -1)") "$work/cmake/consumer_cmake"
"$work/cmake/consumer_cmake_static"
echo "install: 1 passed, 0 failed"
