#include "core/socket_owners.hpp"

#include <new>

namespace psn::core {

socket_owners& socket_owners::instance() {
  // Static storage (first use cannot run out of memory), never destroyed.
  alignas(socket_owners) static unsigned char storage[sizeof(socket_owners)];
  static socket_owners* t = new (storage) socket_owners();
  return *t;
}

void socket_owners::reserve(int max_fd) {
  std::lock_guard<std::mutex> lock(mu_);
  std::size_t need = static_cast<std::size_t>(max_fd) + 1;
  if (by_fd_.size() < need) by_fd_.resize(std::max(need, by_fd_.size() * 2));
}

socket_owners::claim_result socket_owners::claim(int fd, std::uint64_t ino,
                                                 port_id owner) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  entry& e = by_fd_[static_cast<std::size_t>(fd)];
  if (e.owner != 0 && e.owner != owner && e.ino == ino) return claim_result::owned_elsewhere;
  // R9.1: a socket's registration and its association share one port.
  if (e.io.port != 0 && e.io.port != owner && e.io_ino == ino) return claim_result::owned_elsewhere;
  e.owner = owner;
  e.ino = ino;
  return claim_result::claimed;
}

void socket_owners::release(int fd, std::uint64_t ino, port_id owner) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  if (fd < 0 || static_cast<std::size_t>(fd) >= by_fd_.size()) return;
  entry& e = by_fd_[static_cast<std::size_t>(fd)];
  if (e.owner == owner && e.ino == ino) {
    e.owner = 0;
    e.ino = 0;
  }
}

socket_owners::port_id socket_owners::owner_of(int fd) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  if (fd < 0 || static_cast<std::size_t>(fd) >= by_fd_.size()) return 0;
  return by_fd_[static_cast<std::size_t>(fd)].owner;
}

socket_owners::associate_result socket_owners::associate(int fd, std::uint64_t ino, port_id port,
                                                         std::uintptr_t key,
                                                         port_id* stale_port) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  *stale_port = 0;
  entry& e = by_fd_[static_cast<std::size_t>(fd)];
  if (e.owner != 0 && e.owner != port && e.ino == ino)
    return associate_result::registered_elsewhere;
  associate_result r = associate_result::associated;
  if (e.io.port != 0) {
    if (e.io_ino == ino) return associate_result::already_associated;
    *stale_port = e.io.port;
    r = associate_result::replaced;
  }
  // Modes set before the association, on this socket, stay.
  const std::uint8_t modes = e.io_ino == ino ? e.io.modes : 0;
  e.io = association{port, key, modes};
  e.io_ino = ino;
  return r;
}

bool socket_owners::association_of(int fd, association* out) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  if (fd < 0 || static_cast<std::size_t>(fd) >= by_fd_.size()) return false;
  const entry& e = by_fd_[static_cast<std::size_t>(fd)];
  if (e.io.port == 0) return false;
  *out = e.io;
  return true;
}

void socket_owners::set_modes(int fd, std::uint64_t ino, std::uint8_t modes) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  entry& e = by_fd_[static_cast<std::size_t>(fd)];
  if (e.io_ino != ino) e.io = association{};  // another socket's leftovers
  e.io_ino = ino;
  e.io.modes = modes;
}

socket_owners::port_id socket_owners::dissociate(int fd) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  if (fd < 0 || static_cast<std::size_t>(fd) >= by_fd_.size()) return 0;
  entry& e = by_fd_[static_cast<std::size_t>(fd)];
  port_id p = e.io.port;
  e.io = association{};
  e.io_ino = 0;
  return p;
}

void socket_owners::rebind(int fd, std::uint64_t ino) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  if (fd < 0 || static_cast<std::size_t>(fd) >= by_fd_.size()) return;
  entry& e = by_fd_[static_cast<std::size_t>(fd)];
  if (e.io.port != 0) e.io_ino = ino;
}

void socket_owners::set_accept_port(int fd, port_id port) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  by_fd_[static_cast<std::size_t>(fd)].accept_port = port;
}

void socket_owners::clear_accept_port(int fd, port_id port) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  if (fd < 0 || static_cast<std::size_t>(fd) >= by_fd_.size()) return;
  entry& e = by_fd_[static_cast<std::size_t>(fd)];
  if (e.accept_port == port) e.accept_port = 0;
}

socket_owners::port_id socket_owners::accept_port_of(int fd) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  if (fd < 0 || static_cast<std::size_t>(fd) >= by_fd_.size()) return 0;
  return by_fd_[static_cast<std::size_t>(fd)].accept_port;
}

void socket_owners::forget_port(port_id port) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  for (entry& e : by_fd_) {
    if (e.io.port == port) {
      e.io = association{};
      e.io_ino = 0;
    }
    if (e.accept_port == port) e.accept_port = 0;
  }
}

}  // namespace psn::core
