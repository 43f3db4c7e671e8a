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
  e.owner = owner;
  e.ino = ino;
  return claim_result::claimed;
}

void socket_owners::release(int fd, std::uint64_t ino, port_id owner) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  if (fd < 0 || static_cast<std::size_t>(fd) >= by_fd_.size()) return;
  entry& e = by_fd_[static_cast<std::size_t>(fd)];
  if (e.owner == owner && e.ino == ino) e = entry{};
}

socket_owners::port_id socket_owners::owner_of(int fd) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  if (fd < 0 || static_cast<std::size_t>(fd) >= by_fd_.size()) return 0;
  return by_fd_[static_cast<std::size_t>(fd)].owner;
}

}  // namespace psn::core
