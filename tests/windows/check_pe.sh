#!/usr/bin/env bash
# check_pe.sh DLL IMPORT_LIB STATIC_LIB -- PROGRAM...
#
# The Windows build's outputs are what a Windows machine needs (nothing here
# can run them): x86-64 PE files, the programs console executables that
# import only system DLLs and, for those built against it, libpsn.dll --
# never mingw-w64's own runtime DLLs, which a Windows machine lacks; the DLL
# exports the C++ interface and psn_version; the readiness examples import
# ProcessSocketNotifications from WS2_32.dll, the overlapped ones WSARecv,
# WSASend and WSAIoctl (AcceptEx comes through it) and GetQueuedCompletionStatus;
# the libraries hold x86-64 COFF objects.
set -euo pipefail
objdump=${OBJDUMP:-x86_64-w64-mingw32-objdump}
dll=$1 implib=$2 staticlib=$3
shift 3
[ "$1" = -- ] && shift
failures=0 passed=0
check() {
  if eval "$2"; then
    passed=$((passed + 1))
  else
    echo "FAIL $(basename "$1"): $2"
    failures=$((failures + 1))
  fi
}
# The headers of each file, read once (grep -q on a pipe would cut objdump
# short, and pipefail would count that as a failure).
declare -A headers
headers_of() {
  [ -n "${headers[$1]:-}" ] || headers[$1]=$("$objdump" -p "$1")
  printf '%s\n' "${headers[$1]}"
}
imports() { headers_of "$1" | awk '/DLL Name:/ {print tolower($3)}' | sort -u; }
exports() { headers_of "$1" | sed -n '/\[Ordinal\/Name Pointer\] Table/,/^$/p'; }

check "$dll" '[[ "$(file -b "$dll")" == "PE32+ executable (DLL)"*"x86-64"* ]]'
check "$dll" 'exports "$dll" | grep "[[:space:]]psn_version$" >/dev/null'
check "$dll" 'exports "$dll" | grep "_ZN3psn6detail7processE" >/dev/null'
check "$dll" 'exports "$dll" | grep "_ZN3psn8categoryEv" >/dev/null'
# Only psn's own functions: the C++ runtime inside stays private.
check "$dll" '! exports "$dll" | grep "_ZNSt\|_ZTI\|_Unwind" >/dev/null'
check "$dll" '! imports "$dll" | grep -E "^lib(stdc\+\+|gcc_s|winpthread)" >/dev/null'
for lib in "$implib" "$staticlib"; do
  check "$lib" '"$objdump" -f "$lib" | grep "file format pe-x86-64" >/dev/null'
done
for exe in "$@"; do
  name=$(basename "$exe")
  check "$exe" '[[ "$(file -b "$exe")" == "PE32+ executable (console) x86-64"* ]]'
  check "$exe" '"$objdump" -f "$exe" | grep "architecture:" | grep "i386:x86-64" >/dev/null'
  check "$exe" 'imports "$exe" | grep -x "ws2_32.dll" >/dev/null'
  check "$exe" '! imports "$exe" | grep -E "^lib(stdc\+\+|gcc_s|winpthread)" >/dev/null'
  case $name in
    psn_port_demo.exe) check "$exe" 'imports "$exe" | grep -x "libpsn.dll" >/dev/null' ;;
    psn_port_demo_static.exe) check "$exe" '! imports "$exe" | grep "libpsn" >/dev/null' ;;
    iocp_*.exe)
      for fn in WSARecv WSASend WSAIoctl GetQueuedCompletionStatus; do
        check "$exe" 'headers_of "$exe" | grep -w "$fn" >/dev/null'
      done ;;
    *) check "$exe" 'headers_of "$exe" | grep "ProcessSocketNotifications" >/dev/null' ;;
  esac
  echo "$name: $(file -b "$exe" | cut -d, -f1); imports $(imports "$exe" | tr '\n' ' ')"
done
echo "windows PE: $passed passed, $failures failed"
[ "$failures" = 0 ]
