#!/usr/bin/env bash
# check_package.sh SOURCE_DIR WORK_DIR CC CXX VERSION
#
# The Debian packages as a user gets them (issue 13):
#  1. builds libpsn0 and libpsn-dev from SOURCE_DIR (a build of its own in
#     WORK_DIR, prefix /usr, as `make package` does) and checks their fields
#     and contents (SONAME, what goes in which package);
#  2. installs them with `dpkg -i` when run as root and neither package is
#     installed already; otherwise (not root, a psn package installed by
#     someone, or PSN_PACKAGE_TEST_MODE=scratch) unpacks them with `dpkg -x`
#     into a scratch root, so that a user's install is never touched;
#  3. builds a C11 consumer through pkg-config (shared and static) and
#     through find_package(psn) (psn::psn, psn::static, psn::win32), and a
#     Windows-style one through pkg-config psn-win32; runs them all;
#  4. reads the man pages from the package;
#  5. removes the packages again (dpkg -P), also when a step fails, and
#     checks that nothing of them is left.
# Installed packages live in /usr only: a `make install` into /usr/local
# and the install check (a scratch prefix) are unaffected even while they
# are there; the consumers here are pointed at the package's files
# explicitly, never at whatever else is installed.
set -euo pipefail
src=$1
work=$2
cc=$3
cxx=$4
version=$5
here=$(cd "$(dirname "$0")" && pwd)
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
build=$work/build
mkdir -p "$work"
rm -rf "$work/root" "$work/consumer" "$work/bin" "$work/unpacked"
mkdir -p "$work/bin"

fail() {
  echo "FAIL: $*"
  exit 1
}
# run LOG CMD...: runs CMD with its output in LOG, shown if it fails.
run() {
  local log=$1
  shift
  if ! "$@" >"$log" 2>&1; then
    cat "$log"
    fail "$*"
  fi
}

echo "== building the packages (prefix /usr)"
run "$work/configure.log" cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
  -DPSN_BUILD_TESTS=OFF -DPSN_BUILD_EXAMPLES=OFF -DPSN_BUILD_BENCH=OFF
run "$work/build.log" cmake --build "$build" -j "${PSN_PACKAGE_JOBS:-2}"
rm -f "$build"/*.deb
run "$work/cpack.log" cpack --config "$build/CPackConfig.cmake" -B "$build" -G DEB
runtime_deb=$(ls "$build"/libpsn0_*.deb)
dev_deb=$(ls "$build"/libpsn-dev_*.deb)
echo "$runtime_deb"
echo "$dev_deb"

echo "== package fields and contents"
field() { dpkg-deb -f "$1" "$2"; }
[ "$(field "$runtime_deb" Package)" = libpsn0 ] || fail "runtime package name"
[ "$(field "$dev_deb" Package)" = libpsn-dev ] || fail "dev package name"
[ "$(field "$runtime_deb" Version)" = "$version-1" ] || fail "runtime version $(field "$runtime_deb" Version)"
[ "$(field "$runtime_deb" Section)" = libs ] || fail "runtime section"
field "$runtime_deb" Depends | grep -q 'libc6' || fail "libpsn0 Depends lacks libc6: $(field "$runtime_deb" Depends)"
field "$runtime_deb" Depends | grep -q 'libstdc++6' || fail "libpsn0 Depends lacks libstdc++6"
field "$dev_deb" Depends | grep -qF "libpsn0 (= $version-1)" ||
  fail "libpsn-dev Depends: $(field "$dev_deb" Depends)"
dpkg-deb -c "$runtime_deb" | awk '{print $6}' >"$work/runtime.list"
dpkg-deb -c "$dev_deb" | awk '{print $6}' >"$work/dev.list"
has() { grep -qxF "./$2" "$work/$1.list" || fail "$1 package lacks $2"; }
lacks() { ! grep -q "$2" "$work/$1.list" || fail "$1 package has $2"; }
has runtime "usr/lib/$ma/libpsn.so.0"
has runtime "usr/lib/$ma/libpsn.so.$version"
lacks runtime "usr/include"
lacks runtime "libpsn.a"
lacks runtime "libpsn.so$"
for f in include/psn/psn.h include/psn/psn.hpp include/psn/version.h include/psn-win32/winsock2.h \
  include/psn-win32/windows.h "lib/$ma/libpsn.a" "lib/$ma/libpsn.so" "lib/$ma/pkgconfig/psn.pc" \
  "lib/$ma/pkgconfig/psn-win32.pc" "lib/$ma/cmake/psn/psnConfig.cmake" \
  "lib/$ma/cmake/psn/psnTargets.cmake"; do
  has dev "usr/$f"
done
lacks dev "libpsn.so.0"
with_man=0
if grep -q 'usr/share/man/' "$work/dev.list"; then
  with_man=1
  has dev "usr/share/man/man3/ProcessSocketNotifications.3.gz"
  has dev "usr/share/man/man7/psn.7.gz"
else
  echo "(no man pages in the package: pandoc was not found)"
fi
mkdir -p "$work/unpacked"
dpkg-deb -x "$runtime_deb" "$work/unpacked"
soname=$(objdump -p "$work/unpacked/usr/lib/$ma/libpsn.so.$version" | awk '$1 == "SONAME" {print $2}')
[ "$soname" = libpsn.so.0 ] || fail "SONAME is '$soname'"
echo "SONAME $soname"

mode=scratch
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q ' installed$'; }
if [ "$(id -u)" = 0 ] && [ "${PSN_PACKAGE_TEST_MODE:-}" != scratch ]; then
  if installed libpsn0 || installed libpsn-dev; then
    echo "libpsn0 or libpsn-dev is installed on this machine already: left alone;" \
      "the packages are unpacked into a scratch root instead"
  else
    mode=system
  fi
fi

if [ "$mode" = system ]; then
  # One run at a time installs (several build directories may test at once);
  # dpkg's own lock may be held by apt for a while: wait for it.
  exec 9>/tmp/psn-package-test.lock
  flock -w 600 9 || fail "another package test holds /tmp/psn-package-test.lock"
  dpkg_wait() {
    local i
    for i in $(seq 1 60); do
      if dpkg "$@" >"$work/dpkg.log" 2>&1; then return 0; fi
      grep -qi 'lock' "$work/dpkg.log" || break
      sleep 5
    done
    cat "$work/dpkg.log"
    return 1
  }
  remove_packages() {
    if installed libpsn-dev || installed libpsn0; then
      dpkg_wait -P libpsn-dev libpsn0 || echo "could not remove libpsn-dev libpsn0: dpkg -P them"
    fi
  }
  trap remove_packages EXIT
  echo "== dpkg -i"
  dpkg_wait -i "$runtime_deb" "$dev_deb" || fail "dpkg -i"
  installed libpsn0 && installed libpsn-dev || fail "dpkg does not list both packages as installed"
  root=
else
  echo "== dpkg -x into a scratch root"
  root=$work/root
  dpkg-deb -x "$runtime_deb" "$root"
  dpkg-deb -x "$dev_deb" "$root"
fi
libdir=$root/usr/lib/$ma
[ -e "$libdir/libpsn.so.0" ] || fail "$libdir/libpsn.so.0 missing after install"
# Run a program built against the package: from the system's library path
# when installed, from the scratch root otherwise.
run_program() {
  if [ "$mode" = system ]; then "$@"; else LD_LIBRARY_PATH=$libdir "$@"; fi
}

echo "== pkg-config psn"
# Only the package's .pc files: never another psn installed in /usr/local.
export PKG_CONFIG_LIBDIR=$libdir/pkgconfig
[ "$(pkg-config --modversion psn)" = "$version" ] || fail "pkg-config --modversion psn"
"$cc" -std=c11 -Wall -Wextra -Werror "$here/consumer.c" -o "$work/bin/consumer_pc" \
  $(pkg-config --cflags --libs psn)
run_program "$work/bin/consumer_pc"
if [ "$mode" = system ]; then
  # Found by the dynamic loader through the system's path (ldconfig ran).
  loaded=$(ldd "$work/bin/consumer_pc" | awk '$1 == "libpsn.so.0" {print $3}')
  [ -n "$loaded" ] && [ "$(readlink -f "$loaded")" = "$(readlink -f "/usr/lib/$ma/libpsn.so.0")" ] ||
    fail "consumer_pc loads '$loaded', not the package's library"
fi

echo "== pkg-config psn, static"
"$cc" -std=c11 -Wall -Wextra -Werror "$here/consumer.c" -o "$work/bin/consumer_pc_static" \
  $(pkg-config --cflags psn) "$(pkg-config --variable=libdir psn)/libpsn.a" \
  $(pkg-config --libs --static psn | sed 's/-lpsn\b//')
if ldd "$work/bin/consumer_pc_static" | grep -q libpsn; then fail "the static consumer needs libpsn.so"; fi
"$work/bin/consumer_pc_static"

echo "== pkg-config psn-win32"
"$cc" -std=c11 -Wall -Werror "$here/win32_consumer.c" -o "$work/bin/win32_pc" \
  $(pkg-config --cflags --libs psn-win32)
run_program "$work/bin/win32_pc"
unset PKG_CONFIG_LIBDIR

echo "== find_package(psn)"
run "$work/consumer.log" cmake -S "$here/consumer" -B "$work/consumer" -G Ninja \
  -Dpsn_DIR="$libdir/cmake/psn" -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="-Wall -Wextra -Werror"
grep -q "psn_DIR=$libdir/cmake/psn psn_VERSION=$version" "$work/consumer.log" ||
  fail "find_package found another psn: $(grep psn_DIR "$work/consumer.log")"
run "$work/consumer-build.log" cmake --build "$work/consumer"
run_program "$work/consumer/consumer_shared"
"$work/consumer/consumer_static"
run_program "$work/consumer/consumer_win32"

if [ "$with_man" = 1 ]; then
  echo "== man pages"
  manroot=$root/usr/share/man
  if [ ! -e "$manroot/man3/ProcessSocketNotifications.3.gz" ]; then
    # Some images tell dpkg not to install man pages (path-exclude).
    echo "(dpkg left out /usr/share/man here: reading the pages from the package file)"
    dpkg-deb -x "$dev_deb" "$work/unpacked"
    manroot=$work/unpacked/usr/share/man
  fi
  for page in "3 ProcessSocketNotifications" "3 SetLastError" "7 psn"; do
    # shellcheck disable=SC2086
    out=$(MANWIDTH=80 man -M "$manroot" $page 2>&1) || fail "man $page: $out"
    echo "$out" | grep -q "^NAME" || fail "man $page shows no NAME section"
    echo "man $page: $(echo "$out" | sed -n '/^NAME/{n;p;q}' | sed 's/^ *//')"
  done
fi

if [ "$mode" = system ]; then
  echo "== dpkg -P"
  trap - EXIT
  dpkg_wait -P libpsn-dev libpsn0 || fail "dpkg -P"
  if installed libpsn0 || installed libpsn-dev; then fail "packages still installed"; fi
  for f in "/usr/lib/$ma/libpsn.so.0" "/usr/lib/$ma/libpsn.so" /usr/include/psn/psn.h \
    /usr/include/psn-win32/windows.h "/usr/lib/$ma/pkgconfig/psn.pc" \
    /usr/share/man/man3/ProcessSocketNotifications.3.gz; do
    [ ! -e "$f" ] || fail "$f left after dpkg -P"
  done
fi
echo "package ($mode): 1 passed, 0 failed"
