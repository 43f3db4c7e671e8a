// Which port each socket descriptor is registered on (R5.3) and which port
// it is associated with for overlapped I/O (R9.1), process-wide.
//
// epoll lets one socket join many epoll sets, so the kernel cannot refuse a
// second port's ENABLE; this table does. Each entry also records the
// socket's identity (its inode number) so that a number reused by a new
// socket after a plain close() is told apart from the old one (R5.12).
// Only new registrations, removals and closes touch it, never a re-arm.
#pragma once

#include <climits>
#include <cstdint>
#include <mutex>
#include <vector>

namespace psn::core {

// A SOCKET (R8.2: as wide as a pointer) as a descriptor; -1 for a value no
// descriptor can have, which then fails as "not a socket".
inline int socket_fd(std::uintptr_t s) noexcept {
  return s <= static_cast<std::uintptr_t>(INT_MAX) ? static_cast<int>(s) : -1;
}

class socket_owners {
 public:
  using port_id = std::uintptr_t;

  static socket_owners& instance();

  // Makes room for descriptors up to max_fd. Throws std::bad_alloc.
  void reserve(int max_fd);

  enum class claim_result { claimed, owned_elsewhere };
  // Records fd (with identity ino) as registered on `owner`. A record for the
  // same socket on another port refuses; a record for another socket that
  // once had this number is stale and is replaced. Needs reserve(fd) first.
  claim_result claim(int fd, std::uint64_t ino, port_id owner) noexcept;

  // Forgets fd if it is still recorded for this owner and socket.
  void release(int fd, std::uint64_t ino, port_id owner) noexcept;

  // The port fd is recorded on, or 0.
  port_id owner_of(int fd) noexcept;

  // ---- associations (R9.1) ----
  struct association {
    port_id port = 0;
    std::uintptr_t key = 0;
    std::uint8_t modes = 0;  // FILE_SKIP_COMPLETION_PORT_ON_SUCCESS...
  };
  enum class associate_result { associated, already_associated, registered_elsewhere, replaced };
  // Associates fd (identity ino) with `port`. An association of another
  // socket that had this number is stale and is replaced (`replaced`: the
  // caller cancels what it left). Needs reserve(fd) first.
  associate_result associate(int fd, std::uint64_t ino, port_id port, std::uintptr_t key,
                             port_id* stale_port) noexcept;
  // fd's association, whatever socket has the number now (no system call
  // on an operation's path; closesocket and CreateIoCompletionPort tell
  // sockets apart). False if there is none.
  bool association_of(int fd, association* out) noexcept;
  // SetFileCompletionNotificationModes, before or after the association.
  // Needs reserve(fd) first.
  void set_modes(int fd, std::uint64_t ino, std::uint8_t modes) noexcept;
  // closesocket: fd's association ends; returns its port, or 0.
  port_id dissociate(int fd) noexcept;
  // AcceptEx put a new socket under fd's number: its records follow it.
  void rebind(int fd, std::uint64_t ino) noexcept;
  // An AcceptEx of `port` will put its connection under fd's number (or is
  // receiving its first bytes there): closesocket(fd) must tell that port.
  // Needs reserve(fd) first.
  void set_accept_port(int fd, port_id port) noexcept;
  void clear_accept_port(int fd, port_id port) noexcept;
  port_id accept_port_of(int fd) noexcept;
  // R3.9: the port closed; its associations end.
  void forget_port(port_id port) noexcept;

 private:
  struct entry {
    port_id owner = 0;
    std::uint64_t ino = 0;
    association io;
    std::uint64_t io_ino = 0;
    port_id accept_port = 0;
  };
  std::mutex mu_;
  std::vector<entry> by_fd_;
};

}  // namespace psn::core
