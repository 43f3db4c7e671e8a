// Churn soak: as many sockets as the descriptor limit allows (soft limit
// raised to the hard one, at most 20000), put through cycles of register /
// re-arm / (disable) / remove / close, with closesocket and plain close()
// mixed, a socket's number reused at once by a new socket, and registrations
// moving between two ports. Every REMOVE's packet must arrive exactly once
// (R5.5), no packet may carry the key of a registration that has ended
// (R5.5, R5.11, R5.12), and resident memory must stay flat once warm.
//
// PSN_SOAK_CYCLES sets the number of cycles (one cycle = one socket taken
// from a new registration to closed); the default, 200000, keeps the CI run
// short. Prints the memory each registration costs and the memory growth.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "fault_support.hpp"
#include "psn/psn.h"

namespace {

using namespace psnfault;

constexpr int kBatch = 64;
constexpr long kDefaultCycles = 200000;
constexpr std::size_t kMaxGrowth = 8u << 20;  // bytes, after warm-up
constexpr int kMaxSockets = 20000;

// Keys name (slot, generation): a slot's generation grows with each new
// registration of the slot's socket.
constexpr unsigned kGenBits = 24;
constexpr std::uint64_t kGenMask = (std::uint64_t{1} << kGenBits) - 1;

struct slot {
  enum class st : std::uint8_t { none, enabled, disabled, removing, closed };
  int fd = -1;
  int peer = -1;  // Unix stream slots: the other end
  std::uint32_t gen = 0;
  st s = st::none;
  // Registrations ended by plain close(): each may still deliver the one
  // packet it had queued (R5.12). The last few are remembered.
  static constexpr int kStale = 4;
  std::uint32_t stale_gen[kStale] = {};
  bool stale[kStale] = {};
  int stale_next = 0;
};

class soak {
 public:
  explicit soak(int n) : slots_(static_cast<std::size_t>(n)) {
    ports_[0] = new_port(2);
    ports_[1] = new_port(2);
    for (std::size_t i = 0; i < slots_.size(); ++i) open_slot(i);
    regs_.resize(kBatch * 2);
    out_.resize(256);
  }
  ~soak() {
    for (HANDLE h : ports_)
      if (h) CloseHandle(h);
    for (auto& s : slots_) {
      if (s.fd >= 0) ::close(s.fd);
      if (s.peer >= 0) ::close(s.peer);
    }
  }
  bool ok() const { return ports_[0] && ports_[1] && opened_; }
  std::size_t size() const { return slots_.size(); }

  // Registers every socket on port 0 (filter IN: quiet), then removes them
  // all; returns the resident growth while they were registered.
  long long register_all_and_measure() {
    const std::size_t before = resident_bytes();
    for (std::size_t i = 0; i < slots_.size(); i += kBatch) {
      UINT32 n = 0;
      for (std::size_t j = i; j < slots_.size() && j < i + kBatch; ++j)
        regs_[n++] = reg(slots_[j].fd, key_of(j, ++slots_[j].gen), SOCK_NOTIFY_OP_ENABLE,
                         SOCK_NOTIFY_REGISTER_EVENT_IN);
      apply(ports_[0], n, 0);
      for (UINT32 k = 0; k < n; ++k) {
        EXPECT_EQ(regs_[k].registrationResult, ERROR_SUCCESS);
        slots_[i + k].s = slot::st::enabled;
      }
    }
    const std::size_t during = resident_bytes();
    for (std::size_t i = 0; i < slots_.size(); i += kBatch) {
      UINT32 n = 0;
      for (std::size_t j = i; j < slots_.size() && j < i + kBatch; ++j) {
        regs_[n++] = reg(slots_[j].fd, 0, SOCK_NOTIFY_OP_REMOVE);
        slots_[j].s = slot::st::removing;
        ++pending_removes_;
      }
      apply(ports_[0], n, 0);
      drain(ports_[0], true);
    }
    return static_cast<long long>(during) - static_cast<long long>(before);
  }

  // One round: kBatch sockets through a whole cycle.
  void round() {
    const std::size_t first = next_;
    const std::size_t n = slots_.size() < kBatch ? slots_.size() : kBatch;
    next_ = (next_ + n) % slots_.size();
    HANDLE port = ports_[round_ & 1];  // sockets move between the ports
    const unsigned r = static_cast<unsigned>(round_++);

    // Register: a new key each; triggers and filters vary.
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t i = (first + k) % slots_.size();
      slot& s = slots_[i];
      const UINT8 trig = static_cast<UINT8>(
          ((i + r) & 1 ? SOCK_NOTIFY_TRIGGER_EDGE : SOCK_NOTIFY_TRIGGER_LEVEL) |
          ((i + r) % 3 == 0 ? SOCK_NOTIFY_TRIGGER_ONESHOT : 0));
      regs_[k] = reg(s.fd, key_of(i, ++s.gen), SOCK_NOTIFY_OP_ENABLE,
                     static_cast<UINT16>(1 + (i + r) % 7), trig);
      s.s = slot::st::enabled;  // before the call: its own dequeue may bring packets (R4.5)
    }
    apply(port, static_cast<UINT32>(n), 64);
    for (std::size_t k = 0; k < n; ++k) {
      slot& s = slots_[(first + k) % slots_.size()];
      if (regs_[k].registrationResult != ERROR_SUCCESS) {
        ADD_FAILURE() << "ENABLE of a new socket: " << regs_[k].registrationResult;
        s.s = slot::st::none;
      }
    }
    // Make some ready: the Unix peers write.
    for (std::size_t k = 0; k < n; ++k) {
      const slot& s = slots_[(first + k) % slots_.size()];
      if (s.peer >= 0 && ::write(s.peer, "x", 1) != 1) ADD_FAILURE() << "write";
    }
    // Re-arm with another filter (the key stays), and disable a third.
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t i = (first + k) % slots_.size();
      regs_[k] = reg(slots_[i].fd, 0, SOCK_NOTIFY_OP_ENABLE,
                     static_cast<UINT16>(1 + (i + r + 3) % 7), SOCK_NOTIFY_TRIGGER_LEVEL);
      regs_[n + k] = reg(slots_[i].fd, 0, (i + r) % 3 == 1 ? SOCK_NOTIFY_OP_DISABLE
                                                             : SOCK_NOTIFY_OP_NONE);
    }
    apply(port, static_cast<UINT32>(2 * n), 64);
    for (std::size_t k = 0; k < n; ++k) {
      slot& s = slots_[(first + k) % slots_.size()];
      EXPECT_EQ(regs_[k].registrationResult, ERROR_SUCCESS);
      EXPECT_EQ(regs_[n + k].registrationResult, ERROR_SUCCESS);
      if (regs_[n + k].operation == SOCK_NOTIFY_OP_DISABLE) s.s = slot::st::disabled;
    }
    // The end of the cycle, four ways: REMOVE then closesocket, REMOVE then
    // close(), closesocket while registered (R5.11), close() while
    // registered (R5.12: psn notices when the number is registered again).
    UINT32 removes = 0;
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t i = (first + k) % slots_.size();
      if ((i + r) % 4 < 2) {
        regs_[removes++] = reg(slots_[i].fd, 0, SOCK_NOTIFY_OP_REMOVE);
        slots_[i].s = slot::st::removing;
        ++pending_removes_;
      }
    }
    apply(port, removes, 64);
    for (UINT32 k = 0; k < removes; ++k) EXPECT_EQ(regs_[k].registrationResult, ERROR_SUCCESS);
    drain(port, true);
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t i = (first + k) % slots_.size();
      slot& s = slots_[i];
      switch ((i + r) % 4) {
        case 0:
          EXPECT_EQ(closesocket(s.fd), 0);
          break;
        case 1:
          ::close(s.fd);
          break;
        case 2:
          EXPECT_EQ(closesocket(s.fd), 0);
          s.s = slot::st::closed;
          break;
        default:
          ::close(s.fd);
          s.stale[s.stale_next] = true;  // a packet queued before the close may still come
          s.stale_gen[s.stale_next] = s.gen;
          s.stale_next = (s.stale_next + 1) % slot::kStale;
          s.s = slot::st::closed;
          break;
      }
      s.fd = -1;
      if (s.peer >= 0) ::close(s.peer);
      s.peer = -1;
      ++cycles_;
    }
    // New sockets, on the numbers just freed.
    for (std::size_t k = 0; k < n; ++k) open_slot((first + k) % slots_.size());
  }

  long cycles() const { return cycles_; }
  long packets() const { return packets_; }
  long pending_removes() const { return pending_removes_; }

  // Takes what is queued on both ports, then closes every registration.
  void finish() {
    for (HANDLE h : ports_) drain(h, true);
  }

 private:
  static std::uintptr_t key_of(std::size_t slot, std::uint32_t gen) {
    return (static_cast<std::uintptr_t>(slot) << kGenBits) | (gen & kGenMask);
  }

  void open_slot(std::size_t i) {
    slot& s = slots_[i];
    if (i % 8 == 7) {
      auto [a, b] = unix_pair();
      s.fd = a;
      s.peer = b;
    } else {
      s.fd = udp_socket();
    }
    if (s.fd < 0) opened_ = false;
    s.s = slot::st::none;
  }

  void apply(HANDLE port, UINT32 n, ULONG count) {
    UINT32 got = 0;
    DWORD rc = ProcessSocketNotifications(port, n, n ? regs_.data() : nullptr, 0, count,
                                          count ? out_.data() : nullptr, count ? &got : nullptr);
    if (rc == WAIT_TIMEOUT) return;
    if (rc != ERROR_SUCCESS) {
      ADD_FAILURE() << "ProcessSocketNotifications: " << rc;
      return;
    }
    for (UINT32 k = 0; k < got; ++k) check(out_[k]);
  }

  // Dequeues with time-out 0 until nothing is left or, with `removes`, until
  // every REMOVE packet asked for has come.
  void drain(HANDLE port, bool removes) {
    for (int i = 0; i < 10000; ++i) {
      if (removes && pending_removes_ == 0) return;
      ULONG got = 0;
      if (!GetQueuedCompletionStatusEx(port, out_.data(), static_cast<ULONG>(out_.size()), &got, 0,
                                       FALSE))
        break;
      for (ULONG k = 0; k < got; ++k) check(out_[k]);
    }
  }

  void check(const OVERLAPPED_ENTRY& e) {
    ++packets_;
    const DWORD ev = e.dwNumberOfBytesTransferred;
    if (ev == 0 || (ev & ~DWORD{SOCK_NOTIFY_EVENTS_ALL}) || e.lpOverlapped != nullptr) {
      ADD_FAILURE() << "bad packet: events " << ev;
      return;
    }
    const std::size_t i = e.lpCompletionKey >> kGenBits;
    const auto gen = static_cast<std::uint32_t>(e.lpCompletionKey & kGenMask);
    if (i >= slots_.size()) {
      ADD_FAILURE() << "a key never handed out: " << e.lpCompletionKey;
      return;
    }
    slot& s = slots_[i];
    if (gen == (s.gen & kGenMask) && s.s == slot::st::removing) {
      if (!(ev & SOCK_NOTIFY_EVENT_REMOVE)) {
        ADD_FAILURE() << "a packet without REMOVE after REMOVE, slot " << i;
        return;
      }
      s.s = slot::st::none;  // its last packet
      --pending_removes_;
      return;
    }
    if (ev & SOCK_NOTIFY_EVENT_REMOVE) {
      ADD_FAILURE() << "a REMOVE packet nobody asked for, slot " << i << " gen " << gen;
      return;
    }
    if (gen == (s.gen & kGenMask) &&
        (s.s == slot::st::enabled || s.s == slot::st::disabled))
      return;
    for (int k = 0; k < slot::kStale; ++k)
      if (s.stale[k] && gen == (s.stale_gen[k] & kGenMask)) {
        s.stale[k] = false;  // at most the one packet queued before close()
        return;
      }
    ADD_FAILURE() << "a packet for an ended registration: slot " << i << " gen " << gen
                  << " (current " << s.gen << ", state " << static_cast<int>(s.s) << ")";
  }

  std::vector<slot> slots_;
  std::vector<SOCK_NOTIFY_REGISTRATION> regs_;
  std::vector<OVERLAPPED_ENTRY> out_;
  HANDLE ports_[2] = {nullptr, nullptr};
  bool opened_ = true;
  std::size_t next_ = 0;
  long round_ = 0;
  long cycles_ = 0;
  long packets_ = 0;
  long pending_removes_ = 0;
};

long soak_cycles() {
  const char* e = std::getenv("PSN_SOAK_CYCLES");
  if (e && *e) {
    long n = std::atol(e);
    if (n > 0) return n;
  }
  return kDefaultCycles;
}

TEST(ChurnSoak, RegisterRearmRemoveCloseMemoryFlat) {
  const rlimit saved = nofile_limit();
  rlim_t want = saved.rlim_max == RLIM_INFINITY ? rlim_t{kMaxSockets + 256} : saved.rlim_max;
  if (want > rlim_t{kMaxSockets + 256}) want = kMaxSockets + 256;
  if (want > saved.rlim_cur) {
    ASSERT_TRUE(set_nofile_soft(want));
  }
  const int baseline_fds = open_fd_count();
  const rlim_t limit = nofile_limit().rlim_cur;
  // Room for the ports (2 descriptors each), the Unix peers (one slot in 8)
  // and some slack.
  long n = (static_cast<long>(limit) - baseline_fds - 64) * 8 / 9;
  if (n > kMaxSockets) n = kMaxSockets;
  ASSERT_GE(n, kBatch) << "the descriptor limit leaves too few sockets";
  const long cycles = soak_cycles();
  {
    const std::size_t rss0 = resident_bytes();
    soak s(static_cast<int>(n));
    ASSERT_TRUE(s.ok());
    const long long reg_bytes = s.register_all_and_measure();
    ASSERT_EQ(s.pending_removes(), 0) << "REMOVE packets missing";
    std::printf("[ soak     ] %zu sockets (descriptor limit %llu); registering all of them took "
                "%lld bytes resident: %.1f bytes per registration\n",
                s.size(), static_cast<unsigned long long>(limit), reg_bytes,
                static_cast<double>(reg_bytes) / static_cast<double>(s.size()));

    const auto t0 = std::chrono::steady_clock::now();
    // Warm-up: every socket through two cycles (or a fifth of the run).
    long warm = 2 * static_cast<long>(s.size());
    if (warm > cycles / 5) warm = cycles / 5;
    while (s.cycles() < warm) s.round();
    const std::size_t rss_warm = resident_bytes();
    std::size_t rss_peak = rss_warm;
    while (s.cycles() < cycles) {
      s.round();
      if (s.cycles() % 8192 < kBatch) {
        std::size_t now = resident_bytes();
        if (now > rss_peak) rss_peak = now;
      }
      if (::testing::Test::HasFailure()) break;
    }
    s.finish();
    const std::size_t rss_end = resident_bytes();
    if (rss_end > rss_peak) rss_peak = rss_end;
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(s.pending_removes(), 0) << "REMOVE packets missing";
    const long long growth = static_cast<long long>(rss_peak) - static_cast<long long>(rss_warm);
    std::printf("[ soak     ] %ld cycles, %ld packets in %.1f s (%.0f cycles/s); resident: "
                "%.1f MiB at start, %.1f MiB warm, %.1f MiB peak, %.1f MiB at end; growth after "
                "warm-up %lld bytes\n",
                s.cycles(), s.packets(), secs, static_cast<double>(s.cycles()) / secs,
                static_cast<double>(rss0) / 1048576.0, static_cast<double>(rss_warm) / 1048576.0,
                static_cast<double>(rss_peak) / 1048576.0, static_cast<double>(rss_end) / 1048576.0,
                growth);
    EXPECT_LT(growth, static_cast<long long>(kMaxGrowth))
        << "resident memory kept growing after warm-up";
  }
  EXPECT_EQ(open_fd_count(), baseline_fds) << "descriptors leaked";
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
}

}  // namespace
