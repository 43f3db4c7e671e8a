#!/usr/bin/env bash
# R8.1 compile matrix. check_compile.sh SOURCE_DIR BUILD_DIR
#
# Builds every program in this folder against the source tree's psn-win32
# headers, with the flags pkg-config gives (-I include/psn-win32 -I include
# -Wno-unknown-pragmas) followed by -O2 -Wall -Wextra -Werror:
#   *.c    as C11 (gcc, clang-14) and as C++17/C++20 (g++, clang++-14)
#   *.cpp  as C++17/C++20 (g++, clang++-14)
# links each against BUILD_DIR's libpsn.so and runs it (it must exit 0).
# The gcc, clang and clang++ builds are repeated without -Wno-unknown-pragmas:
# the headers themselves silence `#pragma comment` for those (psn_win32/base.h;
# g++ before 13 cannot be told so from a header, GCC PR 53431).
# A missing clang is skipped with a message; gcc and g++ must exist.
set -uo pipefail
src=${1:?usage: check_compile.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: check_compile.sh SOURCE_DIR BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
lib=$(find "$build" -maxdepth 1 -name 'libpsn.so' | head -1)
if [[ -z $lib ]]; then
  echo "check_compile: no libpsn.so in $build" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cflags=(-I "$src/include/psn-win32" -I "$src/include" -Wno-unknown-pragmas)
# -O2: some warnings (-Wmaybe-uninitialized) need the optimizer.
warn=(-O2 -Wall -Wextra -Werror)
libs=(-L "$build" -lpsn "-Wl,-rpath,$build")

c_compilers=()
cxx_compilers=()
for c in gcc clang-14; do
  if command -v "$c" >/dev/null; then c_compilers+=("$c"); else echo "SKIP: $c is not installed"; fi
done
for c in g++ clang++-14; do
  if command -v "$c" >/dev/null; then cxx_compilers+=("$c"); else echo "SKIP: $c is not installed"; fi
done
if ! command -v gcc >/dev/null || ! command -v g++ >/dev/null; then
  echo "check_compile: gcc and g++ are required" >&2
  exit 1
fi

passed=0
failed=0
failures=()
n=0
# build_and_run LABEL COMPILER SOURCE FLAGS...
build_and_run() {
  local label=$1 compiler=$2 file=$3
  shift 3
  n=$((n + 1))
  local exe="$work/prog$n"
  if ! "$compiler" "$@" "$file" -o "$exe" "${libs[@]}" >"$work/log" 2>&1; then
    echo "FAIL (compile): $label"
    sed 's/^/    /' "$work/log" | head -40
    failed=$((failed + 1))
    failures+=("$label")
    return
  fi
  if ! timeout 60 "$exe" >"$work/log" 2>&1; then
    echo "FAIL (run, exit $?): $label"
    sed 's/^/    /' "$work/log" | head -20
    failed=$((failed + 1))
    failures+=("$label")
    return
  fi
  echo "ok: $label"
  passed=$((passed + 1))
}

shopt -s nullglob
no_pragma_flag=(-I "$src/include/psn-win32" -I "$src/include")
for f in "$here"/*.c; do
  name=$(basename "$f")
  for c in "${c_compilers[@]}"; do
    build_and_run "$name $c -std=c11" "$c" "$f" -std=c11 "${cflags[@]}" "${warn[@]}"
    build_and_run "$name $c -std=c11 (no -Wno-unknown-pragmas)" "$c" "$f" -std=c11 \
      "${no_pragma_flag[@]}" "${warn[@]}"
  done
  for c in "${cxx_compilers[@]}"; do
    for std in c++17 c++20; do
      build_and_run "$name $c -std=$std" "$c" "$f" -x c++ -std=$std "${cflags[@]}" "${warn[@]}"
    done
    if [[ $c != g++ ]]; then
      build_and_run "$name $c -std=c++20 (no -Wno-unknown-pragmas)" "$c" "$f" -x c++ -std=c++20 \
        "${no_pragma_flag[@]}" "${warn[@]}"
    fi
  done
done
for f in "$here"/*.cpp; do
  name=$(basename "$f")
  for c in "${cxx_compilers[@]}"; do
    for std in c++17 c++20; do
      build_and_run "$name $c -std=$std" "$c" "$f" -std=$std "${cflags[@]}" "${warn[@]}"
    done
    if [[ $c != g++ ]]; then
      build_and_run "$name $c -std=c++20 (no -Wno-unknown-pragmas)" "$c" "$f" -std=c++20 \
        "${no_pragma_flag[@]}" "${warn[@]}"
    fi
  done
done

echo "win32.compile: $passed passed, $failed failed"
for l in "${failures[@]}"; do echo "  failed: $l"; done
[[ $failed -eq 0 ]]
