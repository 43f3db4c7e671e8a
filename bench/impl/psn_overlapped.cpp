// psn's overlapped socket I/O (SPEC 9), used as a Windows completion-port
// server uses it: every socket associated with the port, one WSARecv or
// WSASend under way per connection, completions taken in batches by
// GetQueuedCompletionStatusEx on one thread. Workload 6 (oecho) only.
//
// WSARecv and WSASend are declared by psn-win32's <winsock2.h>, which cannot
// share a translation unit with the Linux socket headers bench.hpp brings
// (its send, recv... have the Windows signatures). This file therefore
// includes <psn/psn.h> only, and declares WSABUF and the two calls itself,
// with their exact C signatures.
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "bench.hpp"
#include "psn/psn.h"

extern "C" {
// Windows' layout: a 32-bit length, then the pointer (16 bytes on LP64).
struct WSABUF {
  ULONG len;
  char* buf;
};
typedef void (*LPWSAOVERLAPPED_COMPLETION_ROUTINE)(DWORD dwError, DWORD cbTransferred,
                                                   OVERLAPPED* lpOverlapped, DWORD dwFlags);
PSN_API int WSARecv(SOCKET s, WSABUF* lpBuffers, DWORD dwBufferCount, DWORD* lpNumberOfBytesRecvd,
                    DWORD* lpFlags, OVERLAPPED* lpOverlapped,
                    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
PSN_API int WSASend(SOCKET s, WSABUF* lpBuffers, DWORD dwBufferCount, DWORD* lpNumberOfBytesSent,
                    DWORD dwFlags, OVERLAPPED* lpOverlapped,
                    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
}
static_assert(sizeof(WSABUF) == 16 && offsetof(WSABUF, buf) == 8, "WSABUF has Windows' layout");

namespace bench {
namespace {

constexpr ULONG kBatch = 128;
constexpr int kWsaIoPending = ERROR_IO_PENDING;  // WSA_IO_PENDING

// The backend of the next port; the C interface chooses it through PSN_BACKEND.
psn_backend g_backend = psn_backend::epoll;

HANDLE new_port() {
  ::setenv("PSN_BACKEND", g_backend == psn_backend::epoll ? "epoll" : "io_uring", 1);
  HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
  ::unsetenv("PSN_BACKEND");
  BENCH_CHECK(port != nullptr, "CreateIoCompletionPort: error %u", GetLastError());
  return port;
}

// One connection: its OVERLAPPED, its buffer, and which operation is under way.
struct conn {
  enum class op : std::uint8_t { none, recv, send };
  SOCKET s = INVALID_SOCKET;
  OVERLAPPED ov{};
  WSABUF wb{};
  DWORD flags = 0;
  op busy = op::none;
  DWORD sending = 0;  // bytes of the WSASend under way
  std::uint64_t echoed = 0;
  char buf[kOechoBuffer];
};

class psn_ovl_oecho final : public oecho_server {
 public:
  psn_ovl_oecho(const std::vector<int>& fds, std::uint64_t bytes)
      : port_(new_port()), target_(bytes) {
    for (int fd : fds) {
      conns_.push_back(std::make_unique<conn>());
      conn& c = *conns_.back();
      c.s = static_cast<SOCKET>(fd);
      // R9.1: completions of the socket carry its conn as key.
      HANDLE h = CreateIoCompletionPort(reinterpret_cast<HANDLE>(c.s), port_,
                                        reinterpret_cast<ULONG_PTR>(&c), 0);
      BENCH_CHECK(h == port_, "CreateIoCompletionPort (associate %d): error %u", fd,
                  GetLastError());
    }
  }
  ~psn_ovl_oecho() override {
    // run() left nothing under way, so nothing may be queued either.
    OVERLAPPED_ENTRY e;
    ULONG n = 0;
    BENCH_CHECK(!GetQueuedCompletionStatusEx(port_, &e, 1, &n, 0, FALSE) && n == 0 &&
                    GetLastError() == WAIT_TIMEOUT,
                "psn overlapped oecho: a completion was left on the port after the run");
    for (const auto& c : conns_) closesocket(c->s);
    CloseHandle(port_);
  }

  void run() override {
    for (const auto& c : conns_) post_recv(*c);
    std::size_t done = 0;
    OVERLAPPED_ENTRY got[kBatch];
    while (done < conns_.size()) {
      ULONG n = 0;
      BENCH_CHECK(GetQueuedCompletionStatusEx(port_, got, kBatch, &n, INFINITE, FALSE),
                  "GetQueuedCompletionStatusEx: error %u", GetLastError());
      for (ULONG k = 0; k < n; ++k) {
        conn& c = *reinterpret_cast<conn*>(got[k].lpCompletionKey);
        const DWORD bytes = got[k].dwNumberOfBytesTransferred;
        // R9.3: the caller's OVERLAPPED, a success status, once per operation.
        BENCH_CHECK(got[k].lpOverlapped == &c.ov && c.busy != conn::op::none,
                    "psn overlapped oecho: a completion for no operation under way");
        BENCH_CHECK(got[k].Internal == 0, "psn overlapped oecho: an operation failed (status %#lx)",
                    static_cast<unsigned long>(got[k].Internal));
        if (c.busy == conn::op::recv) {
          BENCH_CHECK(bytes > 0, "psn overlapped oecho: a connection ended early");
          post_send(c, bytes);
          continue;
        }
        // R9.4: a stream send completes in full, never short.
        BENCH_CHECK(bytes == c.sending, "psn overlapped oecho: WSASend completed with %u of %u",
                    bytes, c.sending);
        c.busy = conn::op::none;
        c.echoed += bytes;
        if (c.echoed < target_)
          post_recv(c);
        else
          ++done;
      }
    }
  }
  std::uint64_t echoed() const override {
    std::uint64_t n = 0;
    for (const auto& c : conns_) n += c->echoed;
    return n;
  }

 private:
  // Either way (done at once or under way) the completion is queued (R9.3).
  static void started(int rc, const char* what) {
    if (rc == 0) return;
    const int err = WSAGetLastError();
    BENCH_CHECK(err == kWsaIoPending, "%s: error %d", what, err);
  }
  static void post_recv(conn& c) {
    c.wb = {static_cast<ULONG>(sizeof c.buf), c.buf};
    c.flags = 0;
    c.busy = conn::op::recv;
    started(WSARecv(c.s, &c.wb, 1, nullptr, &c.flags, &c.ov, nullptr), "WSARecv");
  }
  static void post_send(conn& c, DWORD len) {
    c.wb = {len, c.buf};
    c.busy = conn::op::send;
    c.sending = len;
    started(WSASend(c.s, &c.wb, 1, nullptr, 0, &c.ov, nullptr), "WSASend");
  }

  HANDLE port_;
  std::uint64_t target_;
  std::vector<std::unique_ptr<conn>> conns_;
};

std::unique_ptr<oecho_server> make_oecho(const std::vector<int>& fds, std::uint64_t bytes) {
  return std::make_unique<psn_ovl_oecho>(fds, bytes);
}

template <psn_backend B>
const impl on_backend{
    B == psn_backend::epoll ? "psn-ovl/epoll" : "psn-ovl/io_uring",
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    with_backend<B, &g_backend, make_oecho>,
    "overlapped: sockets associated with the port, one WSARecv or WSASend under way per "
    "connection, GetQueuedCompletionStatusEx batches of 128",
};

}  // namespace

const impl psn_ovl_impl = on_backend<psn_backend::epoll>;
const impl psn_ovl_uring_impl = on_backend<psn_backend::io_uring>;

}  // namespace bench
