#include "core/overlapped_io.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "core/overlapped_status.hpp"
#include "core/socket_owners.hpp"
#include "win32/error_table.hpp"

namespace psn::core {

struct io_socket {
  int fd = -1;
  bool watched = false;
  intrusive_list<io_op> reads;   // WSARecv, WSARecvFrom, AcceptEx: in issue order
  intrusive_list<io_op> writes;  // WSASend, WSASendTo, ConnectEx: in issue order
};

struct io_op : packet {
  io_op() noexcept : packet(kind::io) {}
  static constexpr std::uint32_t kInlineBufs = 8;
  io_request::type what = io_request::type::recv;
  std::uint8_t phase = 0;  // accept: 0 accept, 1 first bytes; connect: 0 connect, 1 send
  int fd = -1;             // the socket it runs on now
  int origin = -1;         // the socket it was started on (CancelIoEx names it)
  std::uintptr_t key = 0;
  OVERLAPPED* ov = nullptr;
  iovec inline_iov[kInlineBufs];
  iovec* iov = inline_iov;
  std::uint32_t niov = 0;
  std::uint32_t first = 0;  // send: the first buffer not yet sent in full
  int msg_flags = 0;
  sockaddr* from = nullptr;
  int* fromlen = nullptr;
  sockaddr_storage to{};
  socklen_t tolen = 0;
  int accept_fd = -1;
  char* accept_buf = nullptr;
  std::uint32_t accept_recv = 0, accept_local = 0, accept_remote = 0;
  std::uint32_t out_flags = 0;
  std::uint32_t status = kStatusPending;
  std::uint32_t bytes = 0;
  std::uint32_t wsa = 0;  // the Winsock code of an at-once failure
  // Ring mode: the queue it heads, and what the kernel reads while it runs.
  io_socket* sock = nullptr;
  msghdr msg{};
  sockaddr_storage from_ss{};
  bool in_ring = false;         // a request of it is in the kernel
  bool orphan = false;          // its socket was closed: report, touch nothing
  bool cancel_sent = false;     // the ring was asked to cancel it
  bool target_gone = false;     // AcceptEx: the socket it accepts into was closed
  bool resumed = false;         // sent to the ring again after its submitter exited
  bool await_writable = false;  // connect: the next request waits for the connection's end
};

namespace {

// O_NONBLOCK for the length of one call that has no MSG_DONTWAIT
// (accept, connect), then the socket's own mode again.
class nonblocking_scope {
 public:
  explicit nonblocking_scope(int fd) noexcept : fd_(fd), fl_(::fcntl(fd, F_GETFL)) {
    if (fl_ >= 0 && !(fl_ & O_NONBLOCK)) ::fcntl(fd_, F_SETFL, fl_ | O_NONBLOCK);
  }
  ~nonblocking_scope() {
    if (fl_ >= 0 && !(fl_ & O_NONBLOCK)) ::fcntl(fd_, F_SETFL, fl_);
  }
  nonblocking_scope(const nonblocking_scope&) = delete;
  nonblocking_scope& operator=(const nonblocking_scope&) = delete;

 private:
  int fd_;
  int fl_;
};

bool would_block(int err) noexcept {
  return err == EAGAIN || err == EWOULDBLOCK;
}

// The size of an address of this family as AcceptEx stores it.
socklen_t stored_size(const sockaddr_storage& ss, socklen_t got) noexcept {
  if (ss.ss_family == AF_INET) return sizeof(sockaddr_in);
  if (ss.ss_family == AF_INET6) return sizeof(sockaddr_in6);
  return got;
}

}  // namespace

overlapped_io::~overlapped_io() {
  close_all();
  // The port destroyed its backend, and the ring with it, first.
  for (io_op* op : graveyard_) recycle(op);
  graveyard_.clear();
  while (io_op* op = free_) {
    free_ = static_cast<io_op*>(op->next);
    delete op;
  }
}

std::uint32_t overlapped_io::prepare() noexcept {
  if (ring_) {
    prepared_ = true;  // the ring needs no watch set
    return ERROR_SUCCESS;
  }
  if (epfd_ >= 0) return ERROR_SUCCESS;
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return ERROR_NOT_ENOUGH_MEMORY;
  backends::change c;
  c.what = backends::change::kind::add;
  c.fd = ep;
  c.cookie = kCookie;
  c.interest.filter = SOCK_NOTIFY_REGISTER_EVENT_IN;
  backend_.apply(std::span<backends::change>(&c, 1));
  if (c.result != 0) {
    ::close(ep);
    return ERROR_NOT_ENOUGH_MEMORY;
  }
  epfd_ = ep;
  prepared_ = true;
  return ERROR_SUCCESS;
}

io_socket* overlapped_io::socket_for(int fd) noexcept {
  if (fd < 0) return nullptr;
  const auto i = static_cast<std::size_t>(fd);
  if (i >= by_fd_.size()) {
    try {
      by_fd_.resize(std::max(i + 1, by_fd_.size() * 2), nullptr);
    } catch (...) {
      return nullptr;
    }
  }
  if (!by_fd_[i]) {
    auto* s = new (std::nothrow) io_socket;
    if (!s) return nullptr;
    s->fd = fd;
    by_fd_[i] = s;
    ++sockets_;
  }
  return by_fd_[i];
}

bool overlapped_io::watch(io_socket* s) noexcept {
  if (s->watched) return true;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = static_cast<std::uint32_t>(s->fd);
  backend_.count_entries(1);
  int rc = ::epoll_ctl(epfd_, EPOLL_CTL_ADD, s->fd, &ev);
  if (rc != 0 && errno == EEXIST) {
    // A number the set still holds for a file closed with plain close()
    // while duplicated: watch what the number names now.
    backend_.count_entries(1);
    rc = ::epoll_ctl(epfd_, EPOLL_CTL_MOD, s->fd, &ev);
  }
  s->watched = rc == 0;
  return s->watched;
}

io_op* overlapped_io::new_op() noexcept {
  io_op* op = free_;
  if (op) {
    free_ = static_cast<io_op*>(op->next);
    op->next = nullptr;
    return op;
  }
  return new (std::nothrow) io_op;
}

void overlapped_io::recycle(io_op* op) noexcept {
  if (op->iov != op->inline_iov) delete[] op->iov;
  op->iov = op->inline_iov;
  op->next = free_;
  op->prev = nullptr;
  free_ = op;
}

void overlapped_io::start(int fd, std::uintptr_t key, bool skip_on_success, const io_request& rq,
                          io_result* res) noexcept {
  *res = io_result{};
  if (!prepared_) {
    res->err = WSAEINVAL;
    return;
  }
  io_socket* s = socket_for(fd);
  io_op* op = s ? new_op() : nullptr;
  if (!op) {
    res->err = WSAENOBUFS;
    return;
  }
  op->what = rq.what;
  op->phase = 0;
  op->fd = op->origin = fd;
  op->key = key;
  op->ov = rq.ov;
  op->niov = rq.nbufs;
  op->first = 0;
  if (rq.nbufs > io_op::kInlineBufs) {
    op->iov = new (std::nothrow) iovec[rq.nbufs];
    if (!op->iov) {
      op->iov = op->inline_iov;
      recycle(op);
      res->err = WSAENOBUFS;
      return;
    }
  }
  if (rq.nbufs) std::memcpy(op->iov, rq.bufs, sizeof(iovec) * rq.nbufs);
  op->msg_flags = rq.msg_flags;
  op->from = rq.from;
  op->fromlen = rq.fromlen;
  op->tolen = 0;
  if (rq.to && rq.tolen > 0 && rq.tolen <= static_cast<socklen_t>(sizeof op->to)) {
    std::memcpy(&op->to, rq.to, static_cast<std::size_t>(rq.tolen));
    op->tolen = rq.tolen;
  }
  op->accept_fd = rq.accept_fd;
  op->accept_buf = rq.accept_buf;
  op->accept_recv = rq.accept_recv;
  op->accept_local = rq.accept_local;
  op->accept_remote = rq.accept_remote;
  op->out_flags = 0;
  op->status = kStatusPending;
  op->bytes = 0;
  op->wsa = 0;
  op->ov->Internal = kStatusPending;
  op->ov->InternalHigh = 0;
  op->sock = s;
  op->in_ring = op->orphan = op->cancel_sent = op->target_gone = false;
  op->resumed = op->await_writable = false;

  if (ring_ && rq.what != io_request::type::disconnect) {
    // R9.9: the kernel runs it; it is reported pending (R9.3), and R9.4
    // holds because only the head of each direction is in the ring.
    const bool reads_q = rq.what == io_request::type::recv || rq.what == io_request::type::accept;
    intrusive_list<io_op>& rq_q = reads_q ? s->reads : s->writes;
    rq_q.push_back(op);
    if (rq_q.front() == op) start_head(s, rq_q);
    res->err = ERROR_IO_PENDING;
    return;
  }

  const bool reads = rq.what == io_request::type::recv || rq.what == io_request::type::accept;
  intrusive_list<io_op>& q = reads ? s->reads : s->writes;
  if (ring_) {
    // A DisconnectEx behind sends waits for them; alone it runs at once.
    if (!q.empty()) {
      q.push_back(op);
      res->err = ERROR_IO_PENDING;
      return;
    }
    const step r = attempt(s, op);
    if (r == step::done) {
      complete(op, op->status, !skip_on_success);
    } else {
      res->err = op->wsa;
      op->ov->Internal = op->status;
      recycle(op);
    }
    return;
  }
  io_socket* home = s;
  if (q.empty()) {  // R9.4: behind earlier operations of its direction, never before
    switch (attempt(s, op)) {
      case step::done:
        res->bytes = op->bytes;
        if (rq.flags_out) *rq.flags_out = op->out_flags;
        complete(op, op->status, !skip_on_success);  // R9.3
        return;
      case step::failed:
        res->err = op->wsa;
        op->ov->Internal = op->status;
        recycle(op);
        return;
      case step::again:
        if (op->fd != fd) home = socket_for(op->fd);  // AcceptEx waits for its first bytes
        break;
    }
  }
  if (!home || !watch(home)) {
    // Nothing queued: the operation fails at once (R9.3).
    res->err = WSAENOBUFS;
    op->ov->Internal = ntstatus_of_errno(ENOBUFS, WSAENOBUFS);
    recycle(op);
    return;
  }
  (home == s ? q : home->reads).push_back(op);
  res->err = ERROR_IO_PENDING;
}

overlapped_io::step overlapped_io::attempt(io_socket* s, io_op* op) noexcept {
  switch (op->what) {
    case io_request::type::recv:
      return attempt_recv(op->fd, op);
    case io_request::type::send:
      return attempt_send(op->fd, op);
    case io_request::type::accept:
      return attempt_accept(s, op);
    case io_request::type::connect:
      return attempt_connect(op->fd, op);
    case io_request::type::disconnect:
      return attempt_disconnect(op->fd, op);
  }
  return step::failed;
}

namespace {

// The operation ends with errno `err`: its status, and the Winsock code it
// fails with if that happens at once.
void set_failure(io_op* op, int err) noexcept {
  op->wsa = win32::wsa_from_errno(err);
  op->status = ntstatus_of_errno(err, op->wsa);
}

}  // namespace

overlapped_io::step overlapped_io::attempt_recv(int fd, io_op* op) noexcept {
  msghdr m{};
  sockaddr_storage from{};
  if (op->from) {
    m.msg_name = &from;
    m.msg_namelen = sizeof from;
  }
  m.msg_iov = op->iov;
  m.msg_iovlen = op->niov;
  ssize_t n;
  do {
    n = ::recvmsg(fd, &m, op->msg_flags | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (would_block(errno)) return step::again;
    set_failure(op, errno);
    return step::failed;
  }
  // R9.4: at least one byte, or 0 at the end of the stream.
  op->bytes = static_cast<std::uint32_t>(n);
  op->status = kStatusSuccess;
  if (m.msg_flags & MSG_TRUNC) {
    op->status = ntstatus_of_errno(EMSGSIZE, 10040);  // a datagram longer than the buffers
    op->out_flags |= 0x8000;                          // MSG_PARTIAL
  }
  if (op->from && op->fromlen) {
    const socklen_t want = m.msg_namelen;
    const socklen_t room = *op->fromlen > 0 ? static_cast<socklen_t>(*op->fromlen) : 0;
    std::memcpy(op->from, &from, want < room ? want : room);
    *op->fromlen = static_cast<int>(want);
  }
  return step::done;
}

overlapped_io::step overlapped_io::attempt_send(int fd, io_op* op) noexcept {
  for (;;) {
    msghdr m{};
    if (op->tolen) {
      m.msg_name = &op->to;
      m.msg_namelen = op->tolen;
    }
    m.msg_iov = op->iov + op->first;
    m.msg_iovlen = op->niov - op->first;
    ssize_t n;
    do {
      n = ::sendmsg(fd, &m, op->msg_flags | MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (would_block(errno)) return step::again;
      set_failure(op, errno);
      return step::failed;
    }
    op->bytes += static_cast<std::uint32_t>(n);
    // R9.4: a stream send goes on until every byte is queued, never short.
    auto left = static_cast<std::size_t>(n);
    while (op->first < op->niov && left >= op->iov[op->first].iov_len) {
      left -= op->iov[op->first].iov_len;
      ++op->first;
    }
    if (op->first == op->niov) break;
    op->iov[op->first].iov_base = static_cast<char*>(op->iov[op->first].iov_base) + left;
    op->iov[op->first].iov_len -= left;
  }
  op->status = kStatusSuccess;
  return step::done;
}

overlapped_io::step overlapped_io::attempt_accept(io_socket* s, io_op* op) noexcept {
  if (op->phase == 0) {
    int conn;
    {
      nonblocking_scope nb(s->fd);
      do {
        conn = ::accept4(s->fd, nullptr, nullptr, SOCK_CLOEXEC);
      } while (conn < 0 && errno == EINTR);
    }
    if (conn < 0) {
      if (would_block(errno)) return step::again;
      // A connection reset before it was taken: wait for the next one, as
      // Windows does.
      if (errno == ECONNABORTED || errno == EPROTO) return step::again;
      set_failure(op, errno);
      return step::failed;
    }
    if (int err = adopt_connection(op, conn); err != 0) {
      set_failure(op, err);
      return step::failed;
    }
    op->status = kStatusSuccess;
    if (op->accept_recv == 0) return step::done;
    op->phase = 1;
    op->fd = op->accept_fd;
    op->iov[0].iov_base = op->accept_buf;
    op->iov[0].iov_len = op->accept_recv;
    op->niov = 1;
  }
  return attempt_recv(op->fd, op);
}

int overlapped_io::adopt_connection(io_op* op, int conn) noexcept {
  // R9.7: the connection becomes the caller's socket, under its number and
  // with its blocking mode.
  const int fl = ::fcntl(op->accept_fd, F_GETFL);
  if (fl < 0 || ::dup3(conn, op->accept_fd, O_CLOEXEC) < 0) {
    const int err = fl < 0 ? ENOTSOCK : errno;
    ::close(conn);
    return err;
  }
  ::close(conn);
  ::fcntl(op->accept_fd, F_SETFL, fl);
  struct stat st;
  if (::fstat(op->accept_fd, &st) == 0)
    socket_owners::instance().rebind(op->accept_fd, static_cast<std::uint64_t>(st.st_ino));
  if (io_socket* a = find(op->accept_fd)) a->watched = false;  // a new file now
  // Both addresses where GetAcceptExSockaddrs finds them: after the first
  // bytes, local then remote, each in its own slot.
  char* slots = op->accept_buf + op->accept_recv;
  sockaddr_storage ss{};
  socklen_t l = sizeof ss;
  if (::getsockname(op->accept_fd, reinterpret_cast<sockaddr*>(&ss), &l) == 0) {
    l = stored_size(ss, l);
    std::memcpy(slots, &ss, l < op->accept_local ? l : op->accept_local);
  }
  ss = sockaddr_storage{};
  l = sizeof ss;
  if (::getpeername(op->accept_fd, reinterpret_cast<sockaddr*>(&ss), &l) == 0) {
    l = stored_size(ss, l);
    std::memcpy(slots + op->accept_local, &ss, l < op->accept_remote ? l : op->accept_remote);
  }
  return 0;
}

overlapped_io::step overlapped_io::attempt_connect(int fd, io_op* op) noexcept {
  if (op->phase == 0) {
    int rc;
    {
      nonblocking_scope nb(fd);
      rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&op->to), op->tolen);
    }
    if (rc != 0 && errno != EINPROGRESS && errno != EINTR) {
      if (errno == EALREADY) return step::again;
      set_failure(op, errno);
      return step::failed;
    }
    op->phase = rc == 0 ? 2 : 1;
    if (op->phase == 1) return step::again;
  }
  if (op->phase == 1) {
    // Writable, or an error: connected only once the peer's name is known.
    int err = 0;
    socklen_t l = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) == 0 && err != 0) {
      set_failure(op, err);
      return step::failed;
    }
    sockaddr_storage ss;
    l = sizeof ss;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &l) != 0) return step::again;
    op->phase = 2;
  }
  // Connected: ConnectEx's data, if any, goes as a send that is not short.
  op->tolen = 0;
  op->status = kStatusSuccess;
  if (op->niov == 0) return step::done;
  return attempt_send(fd, op);
}

overlapped_io::step overlapped_io::attempt_disconnect(int fd, io_op* op) noexcept {
  if (::shutdown(fd, SHUT_WR) != 0) {
    set_failure(op, errno);
    return step::failed;
  }
  if (op->msg_flags & 2) {
    // TF_REUSE_SOCKET: dissolve the connection so the socket can connect
    // again (AcceptEx replaces its file anyway).
    sockaddr unspec{};
    unspec.sa_family = AF_UNSPEC;
    ::connect(fd, &unspec, sizeof unspec);
  }
  op->status = kStatusSuccess;
  return step::done;
}

void overlapped_io::complete(io_op* op, std::uint32_t status, bool queue_it) noexcept {
  if (op->what == io_request::type::accept)
    socket_owners::instance().clear_accept_port(op->accept_fd, port_);
  op->status = status;
  op->ov->Offset = op->out_flags;  // WSAGetOverlappedResult's flags (sockets use no offset)
  op->ov->InternalHigh = op->bytes;
  op->ov->Internal = status;
  if (queue_it && !queue_.closed) {
    queue_.push(op);
  } else {
    recycle(op);
  }
}

void overlapped_io::run_queue(io_socket* s, intrusive_list<io_op>& q) noexcept {
  while (io_op* op = q.front()) {
    const step r = attempt(s, op);
    if (r == step::again) {
      if (op->fd == s->fd) break;
      // AcceptEx took a connection and waits for its first bytes there.
      q.unlink(op);
      io_socket* a = socket_for(op->fd);
      if (a && watch(a)) {
        a->reads.push_back(op);
        run_queue(a, a->reads);  // the bytes may be there already
      } else {
        complete(op, ntstatus_of_errno(ENOBUFS, WSAENOBUFS));
      }
      continue;
    }
    q.unlink(op);
    complete(op, op->status);
  }
}

std::uint32_t overlapped_io::drive() noexcept {
  if (epfd_ < 0) return 0;
  const std::size_t before = queue_.size();
  epoll_event evs[64];
  backend_.count_entries(1);
  int n = ::epoll_wait(epfd_, evs, 64, 0);
  for (int i = 0; i < n; ++i) {
    io_socket* s = find(static_cast<int>(evs[i].data.u64));
    if (!s) continue;
    const std::uint32_t ev = evs[i].events;
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) run_queue(s, s->reads);
    if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) run_queue(s, s->writes);
  }
  return static_cast<std::uint32_t>(queue_.size() - before);
}

std::uint32_t overlapped_io::cancel(int fd, const OVERLAPPED* ov) noexcept {
  bool found = false;
  // An AcceptEx that waits for its first bytes sits on the accepted socket:
  // look at every socket, for operations started on fd.
  for (io_socket* s : by_fd_) {
    if (!s) continue;
    for (intrusive_list<io_op>* q : {&s->reads, &s->writes}) {
      for (io_op* op = q->front(); op;) {
        io_op* next =
            op->next != nullptr && q->back() != op ? static_cast<io_op*>(op->next) : nullptr;
        if (op->origin == fd && (ov == nullptr || op->ov == ov)) {
          found = true;
          if (op->in_ring) {
            push_cancel(op);  // its completion says whether the cancel won
          } else if (ring_ && q->front() != op && q->front()->cancel_sent) {
            // Behind a cancelled head still in the kernel: it completes
            // right after it, in issue order (R9.4; see start_head).
            op->cancel_sent = true;
          } else {
            q->unlink(op);
            complete(op, kStatusCancelled);  // R9.6
          }
        }
        op = next;
      }
    }
  }
  if (ring_ && found) {
    if (ring_free_) {
      backend_.ring_submit();  // the cancel takes effect now, not at the next wait
    } else {
      kick_ = true;
    }
  }
  return found ? ERROR_SUCCESS : ERROR_NOT_FOUND;
}

void overlapped_io::forget(io_socket* s) noexcept {
  if (s->watched && epfd_ >= 0) {
    backend_.count_entries(1);
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, s->fd, nullptr);
  }
  by_fd_[static_cast<std::size_t>(s->fd)] = nullptr;
  --sockets_;
  delete s;
}

void overlapped_io::drop_socket(int fd) noexcept {
  // R9.6: every pending operation of fd completes, cancelled, once; so do
  // those of others waiting on fd (AcceptEx's first bytes), and an AcceptEx
  // that would have put its connection under fd's number.
  cancel(fd, nullptr);
  for (io_socket* s : by_fd_) {
    if (!s || s->fd == fd) continue;
    for (io_op* op = s->reads.front(); op;) {
      io_op* next = s->reads.back() != op ? static_cast<io_op*>(op->next) : nullptr;
      if (op->what == io_request::type::accept && op->phase == 0 && op->accept_fd == fd) {
        if (op->in_ring) {
          op->target_gone = true;
          push_cancel(op);
        } else {
          s->reads.unlink(op);
          complete(op, kStatusCancelled);
        }
      }
      op = next;
    }
  }
  if (io_socket* s = find(fd)) {
    for (intrusive_list<io_op>* q : {&s->reads, &s->writes}) {
      while (io_op* op = q->pop_front()) {
        if (op->in_ring) {
          // Still in the kernel: reported when the ring gives it back,
          // without touching a socket that is gone.
          op->orphan = true;
          op->sock = nullptr;
          push_cancel(op);
        } else {
          complete(op, kStatusCancelled);
        }
      }
    }
    forget(s);
  }
  // The ring holds a reference to the file of every request in it: the
  // cancellations go to the kernel before the caller closes the descriptor.
  if (ring_) {
    if (ring_free_) {
      backend_.ring_submit();
    } else {
      kick_ = true;
    }
  }
}

void overlapped_io::close_all() noexcept {
  for (io_socket* s : by_fd_) {
    if (!s) continue;
    for (intrusive_list<io_op>* q : {&s->reads, &s->writes}) {
      while (io_op* op = q->pop_front()) {
        op->ov->Internal = kStatusCancelled;
        op->ov->InternalHigh = op->bytes;
        if (op->in_ring && !keep_for_ring(op)) continue;  // the kernel may still write it
        if (!op->in_ring) recycle(op);
      }
    }
    delete s;
  }
  by_fd_.clear();
  sockets_ = 0;
  deferred_.clear();
  deferred_cancels_.clear();
  if (epfd_ >= 0) ::close(epfd_);  // leaves the port's set with its last descriptor
  epfd_ = -1;
}

// ---- the ring (R9.9) ---------------------------------------------------------

bool overlapped_io::keep_for_ring(io_op* op) noexcept {
  try {
    graveyard_.push_back(op);
    return true;
  } catch (...) {
    return false;  // leaked: never freed while the kernel may use it
  }
}

void overlapped_io::start_head(io_socket* s, intrusive_list<io_op>& q) noexcept {
  while (io_op* h = q.front()) {
    if (h->in_ring) return;
    if (h->cancel_sent) {  // cancelled while waiting behind the head
      q.unlink(h);
      complete(h, kStatusCancelled);
      continue;
    }
    if (h->what == io_request::type::disconnect) {
      attempt_disconnect(s->fd, h);  // runs at once
      q.unlink(h);
      complete(h, h->status);
      continue;
    }
    push(h);
    return;
  }
}

void overlapped_io::push(io_op* op) noexcept {
  backends::ring_request r;
  r.fd = op->fd;
  r.tag = reinterpret_cast<std::uintptr_t>(op);
  const bool receiving = op->what == io_request::type::recv ||
                         (op->what == io_request::type::accept && op->phase == 1);
  const bool sending = op->what == io_request::type::send ||
                       (op->what == io_request::type::connect && op->phase == 2);
  if (receiving) {
    op->msg = msghdr{};
    if (op->from) {
      op->msg.msg_name = &op->from_ss;
      op->msg.msg_namelen = sizeof op->from_ss;
    }
    op->msg.msg_iov = op->iov;
    op->msg.msg_iovlen = op->niov;
    r.what = backends::ring_request::kind::recvmsg;
    r.arg = &op->msg;
    r.flags = op->msg_flags;
  } else if (sending) {
    op->msg = msghdr{};
    if (op->tolen) {
      op->msg.msg_name = &op->to;
      op->msg.msg_namelen = op->tolen;
    }
    op->msg.msg_iov = op->iov + op->first;
    op->msg.msg_iovlen = op->niov - op->first;
    r.what = backends::ring_request::kind::sendmsg;
    r.arg = &op->msg;
    r.flags = op->msg_flags;
  } else if (op->what == io_request::type::accept) {
    r.what = backends::ring_request::kind::accept;
  } else if (op->await_writable) {
    r.what = backends::ring_request::kind::writable;
  } else {
    r.what = backends::ring_request::kind::connect;
    r.arg = &op->to;
    r.addrlen = op->tolen;
  }
  op->in_ring = true;
  if (!ring_free_) {
    // A thread waits in the kernel on this ring: the request goes in once
    // it is back (the port interrupts it).
    try {
      deferred_.push_back(op);
      kick_ = true;
      return;
    } catch (...) {
      op->in_ring = false;
      finish(op, ntstatus_of_errno(ENOBUFS, WSAENOBUFS));
      return;
    }
  }
  if (!backend_.ring_push(r)) {
    backend_.ring_submit();  // full: make room
    if (!backend_.ring_push(r)) {
      op->in_ring = false;
      finish(op, ntstatus_of_errno(ENOBUFS, WSAENOBUFS));
    }
  }
}

void overlapped_io::push_cancel(io_op* op) noexcept {
  if (op->cancel_sent) return;
  op->cancel_sent = true;
  for (io_op* d : deferred_)
    if (d == op) return;  // not in the kernel yet: the flush ends it instead
  backends::ring_request r;
  r.what = backends::ring_request::kind::cancel;
  r.tag = reinterpret_cast<std::uintptr_t>(op);
  if (ring_free_ && backend_.ring_push(r)) return;
  if (ring_free_) {
    backend_.ring_submit();
    if (backend_.ring_push(r)) return;
  }
  try {
    deferred_cancels_.push_back(op);
    kick_ = true;
  } catch (...) {
    // Left to run: it completes when its socket is ready or closed.
  }
}

void overlapped_io::reap() noexcept {
  if (!ring_ || !ring_free_) return;
  if (!deferred_.empty() || !deferred_cancels_.empty()) {
    std::vector<io_op*> d;
    d.swap(deferred_);
    for (io_op* op : d) {
      op->in_ring = false;
      if (op->cancel_sent) {
        finish(op, kStatusCancelled);
      } else {
        push(op);
      }
    }
    std::vector<io_op*> c;
    c.swap(deferred_cancels_);
    for (io_op* op : c) {
      op->cancel_sent = false;
      if (op->in_ring) push_cancel(op);
    }
  }
  backends::ring_completion done[64];
  while (std::size_t n = backend_.ring_take(done)) {
    for (std::size_t i = 0; i < n; ++i)
      ring_done(reinterpret_cast<io_op*>(static_cast<std::uintptr_t>(done[i].tag)), done[i].res);
  }
}

namespace {

std::uint32_t status_of_errno(int err) noexcept {
  if (err == ECANCELED) return kStatusCancelled;
  return ntstatus_of_errno(err, win32::wsa_from_errno(err));
}

}  // namespace

void overlapped_io::finish(io_op* op, std::uint32_t status) noexcept {
  io_socket* s = op->sock;
  intrusive_list<io_op>* q = nullptr;
  if (s) {
    const bool reads = op->what == io_request::type::recv || op->what == io_request::type::accept;
    q = reads ? &s->reads : &s->writes;
    q->unlink(op);
  }
  complete(op, status);
  if (s) start_head(s, *q);  // the next operation of that direction
}

void overlapped_io::ring_done(io_op* op, int res) noexcept {
  op->in_ring = false;
  if (res == -ECANCELED && !op->cancel_sent && !op->orphan && !queue_.closed) {
    // Nobody asked for this: the kernel cancels a thread's ring requests
    // when the thread exits. On Windows an operation on a socket associated
    // with a port outlives the thread that started it, so the request goes
    // to the ring again, from a thread still here. A connect's handshake
    // may still be under way in the kernel: it is waited for first, then
    // connecting again says how it ended.
    op->resumed = true;
    if (op->what == io_request::type::connect && op->phase == 0) op->await_writable = true;
    push(op);
    return;
  }
  const int err = res < 0 ? -res : 0;
  if (op->orphan) {
    // Its socket was closed: what the kernel did is reported, nothing else.
    if (op->what == io_request::type::accept && op->phase == 0 && res >= 0) {
      ::close(res);
      res = -ECANCELED;
    }
    if (res >= 0 && op->what != io_request::type::accept)
      op->bytes += static_cast<std::uint32_t>(res);
    complete(op, res >= 0 ? kStatusSuccess : status_of_errno(-res));
    return;
  }
  switch (op->what) {
    case io_request::type::accept:
      if (op->phase == 0) {
        if (res < 0) return finish(op, status_of_errno(err));
        if (op->target_gone) {
          ::close(res);  // its socket was closed meanwhile: the connection goes too
          return finish(op, kStatusCancelled);
        }
        if (int e = adopt_connection(op, res); e != 0) return finish(op, status_of_errno(e));
        if (op->accept_recv == 0) return finish(op, kStatusSuccess);
        // The first bytes: on the accepted socket, so the listener's next
        // AcceptEx need not wait for them.
        io_socket* l = op->sock;
        io_socket* a = socket_for(op->accept_fd);
        if (!a) return finish(op, ntstatus_of_errno(ENOBUFS, WSAENOBUFS));
        l->reads.unlink(op);
        op->phase = 1;
        op->fd = op->accept_fd;
        op->iov[0].iov_base = op->accept_buf;
        op->iov[0].iov_len = op->accept_recv;
        op->niov = 1;
        op->sock = a;
        a->reads.push_back(op);
        start_head(a, a->reads);
        start_head(l, l->reads);
        return;
      }
      [[fallthrough]];
    case io_request::type::recv: {
      if (res < 0) return finish(op, status_of_errno(err));
      op->bytes = static_cast<std::uint32_t>(res);
      std::uint32_t st = kStatusSuccess;
      if (op->msg.msg_flags & MSG_TRUNC) {
        st = ntstatus_of_errno(EMSGSIZE, 10040);
        op->out_flags |= 0x8000;  // MSG_PARTIAL
      }
      if (op->from && op->fromlen) {
        const socklen_t want = op->msg.msg_namelen;
        const socklen_t room = *op->fromlen > 0 ? static_cast<socklen_t>(*op->fromlen) : 0;
        std::memcpy(op->from, &op->from_ss, want < room ? want : room);
        *op->fromlen = static_cast<int>(want);
      }
      return finish(op, st);
    }
    case io_request::type::connect:
      if (op->phase == 0) {
        if (op->await_writable) {
          // The handshake has ended, either way (or CancelIoEx stopped the
          // wait): connecting again says how.
          op->await_writable = false;
          if (res < 0) return finish(op, status_of_errno(err));
          push(op);
          return;
        }
        if (op->resumed && res == -EISCONN) res = 0;  // connected while it waited
        if (res < 0) return finish(op, status_of_errno(-res));
        op->tolen = 0;
        if (op->niov == 0) return finish(op, kStatusSuccess);
        op->phase = 2;
        push(op);  // ConnectEx's data
        return;
      }
      [[fallthrough]];
    case io_request::type::send: {
      if (res < 0) return finish(op, status_of_errno(err));
      op->bytes += static_cast<std::uint32_t>(res);
      // R9.4: the kernel took part of a stream send: ask for the rest.
      auto left = static_cast<std::size_t>(res);
      while (op->first < op->niov && left >= op->iov[op->first].iov_len) {
        left -= op->iov[op->first].iov_len;
        ++op->first;
      }
      if (op->first == op->niov) return finish(op, kStatusSuccess);
      op->iov[op->first].iov_base = static_cast<char*>(op->iov[op->first].iov_base) + left;
      op->iov[op->first].iov_len -= left;
      if (op->cancel_sent) return finish(op, kStatusCancelled);
      push(op);
      return;
    }
    case io_request::type::disconnect:
      return finish(op, kStatusSuccess);  // never in the ring
  }
}

void overlapped_io::deliver_packet(packet_owner* self, packet* p, OVERLAPPED_ENTRY& e) noexcept {
  auto* op = static_cast<io_op*>(p);
  e.lpCompletionKey = op->key;
  e.lpOverlapped = op->ov;
  e.dwNumberOfBytesTransferred = op->bytes;
  e.Internal = op->status;
  static_cast<overlapped_io*>(self)->recycle(op);
}

void overlapped_io::discard_packet(packet_owner* self, packet* p) noexcept {
  static_cast<overlapped_io*>(self)->recycle(static_cast<io_op*>(p));
}

}  // namespace psn::core
