#include "core/api.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <new>
#include <thread>

#include "core/handle_table.hpp"
#include "core/port.hpp"
#include "core/socket_owners.hpp"

namespace psn::core {

bool is_handle(handle h) noexcept {
  auto& t = handle_table::instance();
  handle_table::slot* where = nullptr;
  if (!t.acquire(h, &where)) return false;
  t.release(where);
  return true;
}

std::uint32_t create_port(std::uint32_t concurrency, backends::kind k, handle* out) noexcept {
  *out = 0;
  std::uint32_t err = ERROR_SUCCESS;
  auto b = backends::create(k, &err);
  if (!b) return err;
  if (concurrency == 0) {  // R3.1: 0 means the number of processors
    unsigned n = std::thread::hardware_concurrency();
    concurrency = n ? n : 1;
  }
  auto* p = new (std::nothrow) port(std::move(b), concurrency);
  if (!p) return ERROR_NOT_ENOUGH_MEMORY;
  handle h = handle_table::instance().insert(p);
  if (h == 0) {
    delete p;
    return ERROR_NOT_ENOUGH_MEMORY;
  }
  p->set_handle(h);
  *out = h;
  return ERROR_SUCCESS;
}

std::uint32_t close_handle(handle h) noexcept {
  auto& table = handle_table::instance();
  object* o = table.close(h);  // later lookups of h fail from here on
  if (!o) return ERROR_INVALID_HANDLE;
  o->close();        // a port: R3.9
  table.release(h);  // the caller's reference
  table.release(h);  // the table's own: the last reference frees the port
  return ERROR_SUCCESS;
}

std::uint32_t post(handle h, std::uint32_t bytes, std::uintptr_t key, void* ov) noexcept {
  port_ref p(h);
  if (!p) return ERROR_INVALID_HANDLE;
  return p->post(bytes, key, ov);
}

std::uint32_t dequeue(handle h, OVERLAPPED_ENTRY* out, std::uint32_t count, std::uint32_t* got,
                      std::uint32_t timeout_ms) noexcept {
  *got = 0;
  port_ref p(h);
  if (!p) return ERROR_INVALID_HANDLE;
  return p->dequeue(out, count, got, timeout_ms);
}

namespace {

bool overlap(const void* a, std::size_t alen, const void* b, std::size_t blen) noexcept {
  auto pa = reinterpret_cast<std::uintptr_t>(a), pb = reinterpret_cast<std::uintptr_t>(b);
  return pa < pb + blen && pb < pa + alen;
}

}  // namespace

std::uint32_t process(handle h, std::uint32_t reg_count, SOCK_NOTIFY_REGISTRATION* regs,
                      std::uint32_t timeout_ms, std::uint32_t count, OVERLAPPED_ENTRY* out,
                      std::uint32_t* got) noexcept {
  // R4.2: the whole call is validated before anything happens.
  if ((regs == nullptr) != (reg_count == 0)) return WSAEINVAL;
  if ((out == nullptr) != (count == 0)) return WSAEINVAL;
  if ((got == nullptr) != (count == 0)) return WSAEINVAL;
  if (count == 0 && timeout_ms != 0) return WSAEINVAL;
  if (reg_count && count &&
      overlap(regs, std::size_t{reg_count} * sizeof *regs, out, std::size_t{count} * sizeof *out))
    return WSAEINVAL;
  if (got && overlap(got, sizeof *got, out, std::size_t{count} * sizeof *out)) return WSAEINVAL;
  if (got && reg_count && overlap(got, sizeof *got, regs, std::size_t{reg_count} * sizeof *regs))
    return WSAEINVAL;
  port_ref p(h);
  if (!p) return WSA_INVALID_HANDLE;
  if (got) *got = 0;
  // A call that will wait may hand its re-arms to the kernel with its wait
  // (R7.2); the address of this frame names the call to the port.
  const void* token = count && timeout_ms != 0 ? static_cast<const void*>(&p) : nullptr;
  if (reg_count) {
    std::uint32_t rc = p->apply(std::span<SOCK_NOTIFY_REGISTRATION>(regs, reg_count), token);
    if (rc != ERROR_SUCCESS) return rc;
  }
  if (count == 0) return ERROR_SUCCESS;
  return p->dequeue(out, count, got, timeout_ms, token);  // R4.1: after the registrations
}

bool stats(handle h, port_counters* out) noexcept {
  port_ref p(h);
  if (!p) return false;
  *out = p->stats();
  return true;
}

backends::kind backend_of(handle h) noexcept {
  port_ref p(h);
  return p ? p->backend_kind() : backends::kind::automatic;
}

std::uint32_t close_socket(std::uintptr_t s) noexcept {
  const int fd = socket_fd(s);
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return WSAENOTSOCK;
  // R5.11: the registration goes first, without a REMOVE packet; R9.6: so
  // do pending operations, cancelled, before the number can be reused.
  auto& owners = socket_owners::instance();
  const socket_owners::port_id owner = owners.owner_of(fd);
  const socket_owners::port_id io_port = owners.dissociate(fd);
  const socket_owners::port_id accept_port = owners.accept_port_of(fd);
  const auto ino = static_cast<std::uint64_t>(st.st_ino);
  if (owner != 0) {
    if (port_ref p(owner); p) p->drop_socket(fd, ino);
  }
  if (io_port != 0 && io_port != owner) {
    if (port_ref p(io_port); p) p->drop_socket(fd, ino);
  }
  // An AcceptEx of another port that would accept into this socket.
  if (accept_port != 0 && accept_port != owner && accept_port != io_port) {
    if (port_ref p(accept_port); p) p->drop_socket(fd, 0);
  }
  // close() releases the descriptor even when it reports EINTR; never retry.
  ::close(fd);
  return ERROR_SUCCESS;
}

std::uint32_t associate(std::uintptr_t s, handle h, std::uintptr_t key) noexcept {
  const int fd = socket_fd(s);
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) != 0) return ERROR_INVALID_HANDLE;
  if (!S_ISSOCK(st.st_mode)) return ERROR_NOT_SUPPORTED;  // files and pipes: not yet (SPEC 10)
  port_ref p(h);
  if (!p) return ERROR_INVALID_HANDLE;
  auto& owners = socket_owners::instance();
  try {
    owners.reserve(fd);
  } catch (...) {
    return ERROR_NOT_ENOUGH_MEMORY;
  }
  if (std::uint32_t rc = p->io_prepare(); rc != ERROR_SUCCESS) return rc;
  socket_owners::port_id stale = 0;
  switch (owners.associate(fd, static_cast<std::uint64_t>(st.st_ino), h, key, &stale)) {
    case socket_owners::associate_result::already_associated:
    case socket_owners::associate_result::registered_elsewhere:
      return ERROR_INVALID_PARAMETER;  // R9.1
    case socket_owners::associate_result::replaced:
      // The number belonged to a socket closed with plain close(): what it
      // left under way ends, cancelled, on its port.
      if (port_ref old(stale); old) old->drop_socket(fd, 0);
      break;
    case socket_owners::associate_result::associated:
      break;
  }
  return ERROR_SUCCESS;
}

std::uint32_t set_completion_modes(std::uintptr_t s, std::uint8_t modes) noexcept {
  const int fd = socket_fd(s);
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return ERROR_INVALID_HANDLE;
  auto& owners = socket_owners::instance();
  try {
    owners.reserve(fd);
  } catch (...) {
    return ERROR_NOT_ENOUGH_MEMORY;
  }
  owners.set_modes(fd, static_cast<std::uint64_t>(st.st_ino), modes);
  return ERROR_SUCCESS;
}

void start_io(std::uintptr_t s, const io_request& rq, io_result* res) noexcept {
  const int fd = socket_fd(s);
  socket_owners::association a;
  if (!socket_owners::instance().association_of(fd, &a)) {
    *res = io_result{WSAEINVAL, 0};
    return;
  }
  port_ref p(a.port);
  if (!p) {
    *res = io_result{WSAEINVAL, 0};
    return;
  }
  if (rq.what == io_request::type::accept) {
    // closesocket of the accept socket must reach this port (R9.6).
    try {
      socket_owners::instance().reserve(rq.accept_fd);
    } catch (...) {
      *res = io_result{WSAENOBUFS, 0};
      return;
    }
    socket_owners::instance().set_accept_port(rq.accept_fd, a.port);
  }
  p->io_start(fd, a.key, (a.modes & kSkipCompletionPortOnSuccess) != 0, rq, res);
  if (rq.what == io_request::type::accept && res->err != ERROR_IO_PENDING)
    socket_owners::instance().clear_accept_port(rq.accept_fd, a.port);
}

std::uint32_t cancel_io(std::uintptr_t s, const OVERLAPPED* ov) noexcept {
  const int fd = socket_fd(s);
  socket_owners::association a;
  if (!socket_owners::instance().association_of(fd, &a)) return ERROR_NOT_FOUND;
  port_ref p(a.port);
  return p ? p->io_cancel(fd, ov) : ERROR_NOT_FOUND;
}

bool poll_io(std::uintptr_t s) noexcept {
  socket_owners::association a;
  if (!socket_owners::instance().association_of(socket_fd(s), &a)) return false;
  port_ref p(a.port);
  if (p) p->io_poll();
  return true;
}

}  // namespace psn::core
