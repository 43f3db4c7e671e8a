// A port's overlapped socket operations (SPEC 9): WSARecv, WSASend,
// AcceptEx, ConnectEx... started on sockets associated with the port, run
// to completion by psn, and queued as completion packets beside socket
// notifications and posted packets (R9.8).
//
// This is the readiness engine, used on every backend: an operation is
// first tried at once with a non-blocking system call (R9.3: "completes at
// once"); if the kernel has nothing for it yet, it waits in its socket's
// queue for that direction (R9.4: in issue order) and is tried again when
// the socket becomes ready. Sockets with operations under way sit, edge
// triggered, in an epoll set of their own, which itself sits in the port's
// kernel watch set under one cookie, so an associated socket can also have
// a SPEC 5 registration on the same port without the two watches meeting.
//
// On a backend with a ring (io_uring, R9.9) the operation at the head of a
// direction's queue runs as a ring request instead: no attempt and no
// readiness round trip, the kernel works on the caller's buffers, and the
// request goes to the kernel with the next entry the port makes (a waiting
// call's own, typically). Such an operation is always reported pending;
// its completion comes from the ring. A stream send the kernel took in
// part is requested again for the rest (R9.4). Cancelling one in the ring
// asks the ring to cancel it; its completion says which won.
//
// Every member is called with the port's lock held.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <vector>

#include "backend/backend.hpp"
#include "core/completion_queue.hpp"
#include "core/intrusive_list.hpp"
#include "core/packet.hpp"
#include "psn/psn.h"

namespace psn::core {

// NTSTATUS values kept in OVERLAPPED::Internal and OVERLAPPED_ENTRY::Internal
// (R9.3), as Windows keeps them;
// overlapped_status.hpp translates them.
inline constexpr std::uint32_t kStatusSuccess = 0;
inline constexpr std::uint32_t kStatusPending = 0x103;

// What an operation is asked to do; built and validated by the C layer.
struct io_request {
  // disconnect: DisconnectEx, ordered behind the socket's sends; msg_flags
  // holds TF_REUSE_SOCKET (2).
  enum class type : std::uint8_t { recv, send, accept, connect, disconnect };
  type what = type::recv;
  const iovec* bufs = nullptr;  // recv, send: copied, the array need not live on
  std::uint32_t nbufs = 0;
  int msg_flags = 0;             // MSG_PEEK, MSG_OOB, MSG_DONTROUTE...
  sockaddr* from = nullptr;      // WSARecvFrom: where the source goes
  int* fromlen = nullptr;        //   its size, in and out
  const sockaddr* to = nullptr;  // WSASendTo, ConnectEx: the peer (copied)
  socklen_t tolen = 0;
  std::uint32_t* flags_out = nullptr;  // WSARecv's lpFlags, set at completion
  int accept_fd = -1;                  // AcceptEx: the socket the caller created
  char* accept_buf = nullptr;          //   first bytes, then both addresses
  std::uint32_t accept_recv = 0;
  std::uint32_t accept_local = 0;
  std::uint32_t accept_remote = 0;
  OVERLAPPED* ov = nullptr;
};

// How start() ended: err is 0 (done at once: bytes holds the count),
// ERROR_IO_PENDING, or the Winsock error it failed with at once (nothing
// queued, R9.3).
struct io_result {
  std::uint32_t err = 0;
  std::uint32_t bytes = 0;
};

struct io_op;
struct io_socket;

class overlapped_io final : public packet_owner {
 public:
  overlapped_io(backends::backend& b, completion_queue& q) noexcept
      : packet_owner(&deliver_packet, &discard_packet), backend_(b), queue_(q) {}
  ~overlapped_io();
  overlapped_io(const overlapped_io&) = delete;
  overlapped_io& operator=(const overlapped_io&) = delete;

  // The cookie under which the port's kernel watch set reports this
  // engine's own epoll set. No registration cookie has these low bits.
  static constexpr std::uint64_t kCookie = ~std::uint64_t{1};

  // R9.1: makes the engine ready for fd (its epoll set exists and is
  // watched). Returns 0 or an ERROR_ code.
  std::uint32_t prepare() noexcept;

  // Starts an operation on fd (R9.2-R9.4). `key` is the association's,
  // `skip_on_success` its FILE_SKIP_COMPLETION_PORT_ON_SUCCESS.
  void start(int fd, std::uintptr_t key, bool skip_on_success, const io_request& rq,
             io_result* res) noexcept;

  // The engine's epoll set was reported ready: runs what can run now.
  // Returns the number of completions queued.
  std::uint32_t drive() noexcept;

  // R9.6: cancels fd's operation with that OVERLAPPED, or all of fd's with
  // ov NULL. ERROR_SUCCESS if one was cancelled, else ERROR_NOT_FOUND.
  std::uint32_t cancel(int fd, const OVERLAPPED* ov) noexcept;
  // closesocket (R9.6) or a replaced socket number: every operation of fd
  // is cancelled and fd leaves the engine's set.
  void drop_socket(int fd) noexcept;
  // R3.9: the port closes. Operations under way end, unreported.
  void close_all() noexcept;

  bool has_sockets() const noexcept { return sockets_ > 0; }
  void set_port(std::uintptr_t h) noexcept { port_ = h; }

  // ---- the ring (R9.9) ----
  bool uses_ring() const noexcept { return ring_; }
  // The engine's own epoll set (epoll mode), or -1.
  int watch_fd() const noexcept { return epfd_; }
  // Whether the ring's submission side is free (no thread inside a backend
  // wait): the port says so before every call; while it is not, requests
  // wait in deferred_ and the port interrupts the waiting thread.
  void set_ring_free(bool free) noexcept { ring_free_ = free; }
  // Takes the ring's completions and pushes deferred requests.
  void reap() noexcept;
  // A request was deferred since the last call: the port should interrupt
  // its poller so it comes back and submits it.
  bool take_kick() noexcept {
    const bool k = kick_;
    kick_ = false;
    return k;
  }

  // packet_owner: a completion leaves the queue, or the port closes.
  static void deliver_packet(packet_owner* self, packet* p, OVERLAPPED_ENTRY& e) noexcept;
  static void discard_packet(packet_owner* self, packet* p) noexcept;

 private:
  enum class step : std::uint8_t { done, again, failed };
  io_socket* socket_for(int fd) noexcept;  // nullptr when out of memory
  io_socket* find(int fd) const noexcept {
    return fd >= 0 && static_cast<std::size_t>(fd) < by_fd_.size()
               ? by_fd_[static_cast<std::size_t>(fd)]
               : nullptr;
  }
  bool watch(io_socket* s) noexcept;
  void run_queue(io_socket* s, intrusive_list<io_op>& q) noexcept;
  step attempt(io_socket* s, io_op* op) noexcept;
  step attempt_recv(int fd, io_op* op) noexcept;
  step attempt_send(int fd, io_op* op) noexcept;
  step attempt_accept(io_socket* s, io_op* op) noexcept;
  step attempt_connect(int fd, io_op* op) noexcept;
  step attempt_disconnect(int fd, io_op* op) noexcept;
  void complete(io_op* op, std::uint32_t status, bool queue_it = true) noexcept;
  // Ring mode.
  void start_head(io_socket* s, intrusive_list<io_op>& q) noexcept;
  void push(io_op* op) noexcept;
  void push_cancel(io_op* op) noexcept;
  void ring_done(io_op* op, int res) noexcept;
  void finish(io_op* op, std::uint32_t status) noexcept;
  int adopt_connection(io_op* op, int conn) noexcept;  // AcceptEx: 0 or an errno value
  bool keep_for_ring(io_op* op) noexcept;
  io_op* new_op() noexcept;
  void recycle(io_op* op) noexcept;
  void forget(io_socket* s) noexcept;

  backends::backend& backend_;
  completion_queue& queue_;
  int epfd_ = -1;
  std::uintptr_t port_ = 0;  // this port's handle (socket_owners records)
  bool prepared_ = false;    // a socket was associated: operations may start
  std::vector<io_socket*> by_fd_;
  std::size_t sockets_ = 0;
  io_op* free_ = nullptr;  // recycled operations: no allocation once warm
  const bool ring_ = backend_.has_ring();
  bool ring_free_ = true;
  bool kick_ = false;
  std::vector<io_op*> deferred_;  // ring requests waiting for the ring to be free
  std::vector<io_op*> deferred_cancels_;
  std::vector<io_op*> graveyard_;  // in the ring when the port closed: freed last
};

}  // namespace psn::core
