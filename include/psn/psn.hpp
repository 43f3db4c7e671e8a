// psn.hpp - the C++20 interface of psn.
//
// The same machinery as <psn/psn.h>, without Windows names: a move-only port,
// registrations and completions as small value types, batches as std::span,
// time-outs as std::chrono durations and errors as std::error_code.
//
// registration and completion have the layout of the C interface's
// SOCK_NOTIFY_REGISTRATION and OVERLAPPED_ENTRY, so a batch passes to the core
// without a copy.
#ifndef PSN_PSN_HPP
#define PSN_PSN_HPP

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <type_traits>
#include <utility>

#if defined(__GNUC__)
#define PSN_CXX_API __attribute__((visibility("default")))
#else
#define PSN_CXX_API
#endif

namespace psn {

// A set of flags drawn from the enumeration E, stored in Storage.
template <class E, class Storage = std::underlying_type_t<E>>
class flags {
 public:
  constexpr flags() noexcept = default;
  constexpr flags(E e) noexcept : bits_(static_cast<Storage>(e)) {}  // NOLINT: implicit by design
  constexpr explicit flags(Storage raw) noexcept : bits_(raw) {}

  constexpr Storage raw() const noexcept { return bits_; }
  constexpr bool empty() const noexcept { return bits_ == 0; }
  constexpr bool has(E e) const noexcept { return (bits_ & static_cast<Storage>(e)) != 0; }
  constexpr bool has_all(flags f) const noexcept { return (bits_ & f.bits_) == f.bits_; }
  constexpr explicit operator bool() const noexcept { return bits_ != 0; }

  friend constexpr flags operator|(flags a, flags b) noexcept {
    return flags(static_cast<Storage>(a.bits_ | b.bits_));
  }
  friend constexpr flags operator&(flags a, flags b) noexcept {
    return flags(static_cast<Storage>(a.bits_ & b.bits_));
  }
  constexpr flags& operator|=(flags b) noexcept { return *this = *this | b; }
  constexpr flags& operator&=(flags b) noexcept { return *this = *this & b; }
  friend constexpr bool operator==(flags a, flags b) noexcept = default;

 private:
  Storage bits_ = 0;
};

// What a registration watches for, and what a notification reports.
enum class event : std::uint16_t {
  none = 0x00,
  in = 0x01,      // a read would not block
  out = 0x02,     // a write would not block
  hangup = 0x04,  // the peer closed or aborted the connection
  error = 0x40,   // the socket has a pending error (reported whatever the filter)
  remove = 0x80,  // the registration ended; the last notification it gets
};
using events = flags<event, std::uint16_t>;
constexpr events operator|(event a, event b) noexcept {
  return events(a) | events(b);
}

// How a registration is changed by one entry of a batch.
enum class operation : std::uint8_t { none = 0x00, enable = 0x01, disable = 0x02, remove = 0x04 };

// When a registration notifies.
enum class trigger : std::uint8_t { oneshot = 0x01, persistent = 0x02, level = 0x04, edge = 0x08 };
using triggers = flags<trigger, std::uint8_t>;
constexpr triggers operator|(trigger a, trigger b) noexcept {
  return triggers(a) | triggers(b);
}

// Result codes; the values are those of the Windows codes named in the comments.
enum class errc : std::uint32_t {
  success = 0,               // ERROR_SUCCESS
  invalid_handle = 6,        // ERROR_INVALID_HANDLE / WSA_INVALID_HANDLE
  not_enough_memory = 8,     // ERROR_NOT_ENOUGH_MEMORY / WSA_NOT_ENOUGH_MEMORY
  not_supported = 50,        // ERROR_NOT_SUPPORTED
  invalid_parameter = 87,    // ERROR_INVALID_PARAMETER
  timeout = 258,             // WAIT_TIMEOUT
  abandoned = 735,           // ERROR_ABANDONED_WAIT_0
  not_found = 1168,          // ERROR_NOT_FOUND
  fault = 10014,             // WSAEFAULT
  invalid_argument = 10022,  // WSAEINVAL
  would_block = 10035,       // WSAEWOULDBLOCK
  not_socket = 10038,        // WSAENOTSOCK
  no_buffers = 10055,        // WSAENOBUFS
  // Overlapped operations (SPEC 9).
  netname_deleted = 64,             // ERROR_NETNAME_DELETED: the connection was reset
  more_data = 234,                  // ERROR_MORE_DATA: a datagram longer than the buffers
  operation_aborted = 995,          // ERROR_OPERATION_ABORTED: cancelled or closed
  io_pending = 997,                 // ERROR_IO_PENDING: started; the completion comes later
  connection_refused = 1225,        // ERROR_CONNECTION_REFUSED
  connection_aborted = 1236,        // ERROR_CONNECTION_ABORTED
  operation_not_supported = 10045,  // WSAEOPNOTSUPP
};

}  // namespace psn

template <>
struct std::is_error_code_enum<psn::errc> : std::true_type {};

namespace psn {

// The category of psn's codes; its messages name the Windows code.
PSN_CXX_API const std::error_category& category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), category()};
}

// A socket descriptor, held as SOCKET is in <psn/psn.h>: an integer as wide
// as a pointer, so both interfaces share one layout.
using native_socket = std::uintptr_t;
inline constexpr native_socket invalid_socket = ~native_socket{0};

// One entry of a registration batch (layout of SOCK_NOTIFY_REGISTRATION).
struct registration {
  native_socket socket = invalid_socket;
  void* key = nullptr;
  events filter;
  psn::operation op = psn::operation::none;
  psn::triggers trigger_flags;
  std::uint32_t result = 0;  // set by the call: 0 or an errc value

  std::error_code error() const noexcept { return {static_cast<int>(result), category()}; }

  static constexpr registration enable(native_socket s, void* key, events filter,
                                       psn::triggers t) noexcept {
    return {s, key, filter, psn::operation::enable, t, 0};
  }
  static constexpr registration disable(native_socket s) noexcept {
    return {s, nullptr, {}, psn::operation::disable, {}, 0};
  }
  static constexpr registration remove(native_socket s) noexcept {
    return {s, nullptr, {}, psn::operation::remove, {}, 0};
  }
};

// ---- overlapped operations (SPEC 9) ----------------------------------------

// Which overlapped operation an io_operation carries.
enum class io_kind : std::uint8_t { none, receive, send, accept, connect };

// The state of one overlapped operation, owned by the caller: it must live,
// untouched, from the call that starts the operation until its completion
// is taken from the port (R9.5). Its head has the layout of OVERLAPPED, so a
// completion's `overlapped` is the address of the io_operation.
struct io_operation {
  std::uintptr_t internal = 0;       // the status while and after it runs (an NTSTATUS)
  std::uintptr_t internal_high = 0;  // the bytes transferred
  std::uint32_t offset = 0;          // receive: the result flags
  std::uint32_t offset_high = 0;
  void* event = nullptr;  // unused by psn
  io_kind kind = io_kind::none;
  void* user = nullptr;  // free for the caller

  bool done() const noexcept { return static_cast<std::uint32_t>(internal) != 0x103; }
  std::uint32_t bytes() const noexcept { return static_cast<std::uint32_t>(internal_high); }
};

// A buffer of an operation, as the kernel takes it.
using mutable_buffer = std::span<std::byte>;
using const_buffer = std::span<const std::byte>;

// One packet taken from a port (layout of OVERLAPPED_ENTRY). For a socket
// notification, key is the registration's key, overlapped is null and the
// events are in bytes; for a posted packet, all three are what was posted.
struct completion {
  void* key = nullptr;
  void* overlapped = nullptr;
  std::uintptr_t internal = 0;
  std::uint32_t bytes = 0;

  psn::events events() const noexcept { return psn::events(static_cast<std::uint16_t>(bytes)); }
  // For an overlapped operation's completion: the operation, and how it
  // ended (an empty code for success).
  io_operation* operation() const noexcept { return static_cast<io_operation*>(overlapped); }
  std::error_code error() const noexcept;
};

// Which kernel interface a port uses.
enum class backend : std::uint8_t {
  automatic,  // PSN_BACKEND if set, else the best the kernel allows
  epoll,
  io_uring,
};

// What a port has done since it was created. kernel_entries counts the
// system calls psn made for the port (epoll_ctl, epoll_wait, io_uring_enter,
// wake-ups of a waiting kernel call, descriptor checks); futex waits and
// wakes between threads are not counted.
struct port_stats {
  std::uint64_t packets_queued = 0;     // posted packets, notifications, REMOVE packets
  std::uint64_t packets_delivered = 0;  // packets taken by dequeuing calls
  std::uint64_t kernel_entries = 0;
  std::uint64_t changes_applied = 0;  // registration changes sent to the kernel
};

// A wait that never times out.
// (Parenthesised so a min/max macro from <windows.h> cannot take it apart.)
inline constexpr std::chrono::milliseconds infinite = (std::chrono::milliseconds::max)();

namespace detail {
using handle = std::uintptr_t;
PSN_CXX_API std::error_code create(unsigned concurrency, backend b, handle* out) noexcept;
PSN_CXX_API std::error_code close(handle h) noexcept;
PSN_CXX_API std::error_code post(handle h, std::uint32_t bytes, void* key, void* ov) noexcept;
PSN_CXX_API std::error_code process(handle h, std::span<registration> changes,
                                    std::span<completion> out, std::uint32_t timeout_ms,
                                    std::size_t* received) noexcept;
PSN_CXX_API std::error_code close_socket(native_socket s) noexcept;
PSN_CXX_API std::error_code associate(handle h, native_socket s, void* key) noexcept;
PSN_CXX_API std::error_code start(native_socket s, io_kind k, const void* bufs, std::size_t n,
                                  io_operation& op, std::size_t* bytes) noexcept;
PSN_CXX_API std::error_code start_accept(native_socket listener, native_socket accepted,
                                         mutable_buffer out, std::size_t receive, io_operation& op,
                                         std::size_t* bytes) noexcept;
PSN_CXX_API std::error_code start_connect(native_socket s, const void* addr, std::size_t len,
                                          const_buffer data, io_operation& op,
                                          std::size_t* bytes) noexcept;
PSN_CXX_API std::error_code cancel(native_socket s, io_operation* op) noexcept;
PSN_CXX_API std::error_code status_error(std::uintptr_t status) noexcept;
PSN_CXX_API backend backend_of(handle h) noexcept;
PSN_CXX_API port_stats stats(handle h) noexcept;

constexpr std::uint32_t to_ms(std::chrono::milliseconds t) noexcept {
  if (t.count() <= 0) return 0;
  if (t >= std::chrono::milliseconds(0xFFFFFFFFll)) return 0xFFFFFFFFu;
  return static_cast<std::uint32_t>(t.count());
}

[[noreturn]] PSN_CXX_API void throw_error(std::error_code ec, const char* what);
}  // namespace detail

// A completion port. Move-only; closing it (or destroying it) releases every
// thread waiting on it and drops every registration.
class port {
 public:
  struct options {
    unsigned concurrency = 0;  // threads released to run at once; 0 = number of processors
    psn::backend backend = psn::backend::automatic;
  };

  // Creates a port; throws std::system_error on failure.
  static port create() { return create(options{}); }
  static port create(const options& o) {
    std::error_code ec;
    port p = create(o, ec);
    if (ec) detail::throw_error(ec, "psn::port::create");
    return p;
  }
  static port create(const options& o, std::error_code& ec) noexcept {
    detail::handle h = 0;
    ec = detail::create(o.concurrency, o.backend, &h);
    return port(h);
  }

  port() noexcept = default;
  port(port&& o) noexcept : h_(o.h_.exchange(0)) {}
  port& operator=(port&& o) noexcept {
    if (this != &o) {
      close();
      h_.store(o.h_.exchange(0));
    }
    return *this;
  }
  port(const port&) = delete;
  port& operator=(const port&) = delete;
  ~port() { close(); }

  explicit operator bool() const noexcept { return h_.load() != 0; }
  // The backend this port runs on (never backend::automatic for an open port).
  psn::backend backend() const noexcept { return detail::backend_of(h_.load()); }
  // Counters of what the port has done (all zero for a closed port).
  port_stats stats() const noexcept { return detail::stats(h_.load()); }

  // The opaque handle value (the same value the C interface's HANDLE holds).
  detail::handle native_handle() const noexcept { return h_.load(); }

  // Closes the port now; threads waiting on it return errc::abandoned. Safe
  // to call while other threads use the port (the handle is atomic).
  void close() noexcept {
    if (detail::handle h = h_.exchange(0)) detail::close(h);
  }

  // Applies `changes` in order (each entry's result is set), then takes up to
  // out.size() packets, waiting up to `timeout`. Returns the filled prefix of
  // `out`; on time-out it is empty and ec is errc::timeout.
  std::span<completion> process(std::span<registration> changes, std::span<completion> out,
                                std::chrono::milliseconds timeout, std::error_code& ec) noexcept {
    std::size_t n = 0;
    ec = detail::process(h_.load(), changes, out, out.empty() ? 0 : detail::to_ms(timeout), &n);
    return out.first(n);
  }
  // As above; a time-out returns an empty span, other errors throw.
  std::span<completion> process(std::span<registration> changes, std::span<completion> out,
                                std::chrono::milliseconds timeout) {
    std::error_code ec;
    auto got = process(changes, out, timeout, ec);
    if (ec && ec != errc::timeout) detail::throw_error(ec, "psn::port::process");
    return got;
  }

  // Applies registration changes without waiting.
  std::error_code apply(std::span<registration> changes) noexcept {
    std::error_code ec;
    process(changes, {}, std::chrono::milliseconds(0), ec);
    return ec;
  }

  // Takes up to out.size() packets, waiting up to `timeout`.
  std::span<completion> wait(std::span<completion> out, std::chrono::milliseconds timeout,
                             std::error_code& ec) noexcept {
    return process({}, out, timeout, ec);
  }
  std::span<completion> wait(std::span<completion> out, std::chrono::milliseconds timeout) {
    return process({}, out, timeout);
  }

  // Queues a packet carrying exactly these values and wakes one waiter.
  std::error_code post(std::uint32_t bytes, void* key, void* overlapped = nullptr) noexcept {
    return detail::post(h_.load(), bytes, key, overlapped);
  }

  // R9.1: the socket's overlapped operations complete on this port with
  // `key`. A socket is associated with one port, once.
  std::error_code associate(native_socket s, void* key) noexcept {
    return detail::associate(h_.load(), s, key);
  }

 private:
  explicit port(detail::handle h) noexcept : h_(h) {}
  std::atomic<detail::handle> h_{0};
};

// Closes a socket and drops its registration, without a REMOVE notification;
// its overlapped operations complete, cancelled (R9.6).
inline std::error_code close_socket(native_socket s) noexcept {
  return detail::close_socket(s);
}

inline std::error_code completion::error() const noexcept {
  return detail::status_error(internal);
}

// Overlapped operations on a socket associated with a port (SPEC 9). Each
// returns an empty code when it completed at once (*bytes set; the
// completion is still queued, R9.3), errc::io_pending when it is under way,
// or the error it failed with at once (nothing queued). The buffers must
// live until the completion is taken; the span of them need not.
inline std::error_code receive(native_socket s, std::span<const mutable_buffer> buffers,
                               io_operation& op, std::size_t* bytes = nullptr) noexcept {
  op.kind = io_kind::receive;
  return detail::start(s, io_kind::receive, buffers.data(), buffers.size(), op, bytes);
}
// Completes when every byte is queued to the kernel, never short (R9.4).
inline std::error_code send(native_socket s, std::span<const const_buffer> buffers,
                            io_operation& op, std::size_t* bytes = nullptr) noexcept {
  op.kind = io_kind::send;
  return detail::start(s, io_kind::send, buffers.data(), buffers.size(), op, bytes);
}
// Accepts a connection into `accepted` (a fresh socket of the listener's
// family), receiving up to `receive` first bytes into the head of `out`; the
// rest of `out` holds the two addresses, as AcceptEx lays them out (R9.7).
inline std::error_code accept(native_socket listener, native_socket accepted, mutable_buffer out,
                              std::size_t receive, io_operation& op,
                              std::size_t* bytes = nullptr) noexcept {
  op.kind = io_kind::accept;
  return detail::start_accept(listener, accepted, out, receive, op, bytes);
}
// Connects a bound socket to the address (a sockaddr of `len` bytes), then
// sends `data` (R9.7).
inline std::error_code connect(native_socket s, const void* addr, std::size_t len,
                               const_buffer data, io_operation& op,
                               std::size_t* bytes = nullptr) noexcept {
  op.kind = io_kind::connect;
  return detail::start_connect(s, addr, len, data, op, bytes);
}
// R9.6: cancels `op`, or every operation of the socket with nullptr.
// errc::not_found when there was nothing to cancel.
inline std::error_code cancel(native_socket s, io_operation* op = nullptr) noexcept {
  return detail::cancel(s, op);
}

}  // namespace psn

// The version of the library the program runs with (PSN_VERSION encoding;
// PSN_VERSION is the version the program was built with).
#include <psn/version.h>
namespace psn {
inline unsigned int version() noexcept {
  return ::psn_version();
}
}  // namespace psn

#endif  // PSN_PSN_HPP
