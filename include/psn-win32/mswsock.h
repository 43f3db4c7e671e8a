/*
 * <mswsock.h> from psn-win32: Winsock and the Win32 basics a socket server uses,
 * with Windows' names, signatures and error codes, on Linux (R8.1). Each of
 * the psn-win32 headers gives all of it, in any order of inclusion. Found
 * with `pkg-config --cflags --libs psn-win32` or the CMake target psn::win32.
 * See docs/win32.md.
 */
#ifndef PSN_WIN32_MSWSOCK_H
#define PSN_WIN32_MSWSOCK_H

#include "psn_win32/base.h"
#include "psn_win32/system.h"
#include "psn_win32/winsock.h"

#endif
