// Small helpers shared by the fault tests: real sockets, descriptor counts,
// the descriptor limit and resident memory. No psn internals.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "psn/psn.h"

namespace psnfault {

// Descriptors open in this process right now. Asks each number in turn, so
// it works when the table is full (opening /proc/self/fd would need one).
inline int open_fd_count() {
  rlimit r{};
  ::getrlimit(RLIMIT_NOFILE, &r);
  // Up to the hard limit: descriptors above a lowered soft limit count too.
  rlim_t top = r.rlim_max > r.rlim_cur ? r.rlim_max : r.rlim_cur;
  if (top > (rlim_t{1} << 16)) top = rlim_t{1} << 16;
  int n = 0;
  for (int fd = 0; static_cast<rlim_t>(fd) < top; ++fd)
    if (::fcntl(fd, F_GETFD) >= 0) ++n;
  return n;
}

// The highest descriptor number open right now, or -1.
inline int highest_open_fd() {
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return -1;
  int self = ::dirfd(d), hi = -1;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    int fd = std::atoi(e->d_name);
    if (fd != self && fd > hi) hi = fd;
  }
  ::closedir(d);
  return hi;
}

inline bool fd_is_open(int fd) { return fd >= 0 && ::fcntl(fd, F_GETFD) >= 0; }

// Moves fd to the lowest free number >= min; returns the new number (or -1).
inline int move_fd_to(int fd, int min) {
  if (fd < 0) return -1;
  int n = ::fcntl(fd, F_DUPFD_CLOEXEC, min);
  ::close(fd);
  return n;
}

inline int udp_socket() {
  return ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
}

inline std::pair<int, int> unix_pair() {
  int sv[2] = {-1, -1};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0) return {-1, -1};
  return {sv[0], sv[1]};
}

inline rlimit nofile_limit() {
  rlimit r{};
  ::getrlimit(RLIMIT_NOFILE, &r);
  return r;
}

inline bool set_nofile_soft(rlim_t soft) {
  rlimit r = nofile_limit();
  r.rlim_cur = soft;
  return ::setrlimit(RLIMIT_NOFILE, &r) == 0;
}

// Resident set size in bytes (/proc/self/statm).
inline std::size_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

inline SOCK_NOTIFY_REGISTRATION reg(int s, std::uintptr_t key, UINT8 op,
                                    UINT16 filter = SOCK_NOTIFY_REGISTER_EVENT_OUT,
                                    UINT8 trig = SOCK_NOTIFY_TRIGGER_LEVEL) {
  SOCK_NOTIFY_REGISTRATION r;
  std::memset(&r, 0, sizeof r);
  r.socket = s;
  r.completionKey = reinterpret_cast<PVOID>(key);
  r.eventFilter = filter;
  r.operation = op;
  r.triggerFlags = trig;
  return r;
}

inline HANDLE new_port(DWORD n = 1) {
  return CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, n);
}

}  // namespace psnfault
