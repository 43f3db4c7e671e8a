// SPEC section 5: registrations (R5.1 .. R5.12).
//
// Suite `Registration` holds the checks that do not depend on the kind of socket; suite
// `RegistrationBySocket` runs over TCP, UDP and Unix stream pairs (instantiated as `Sockets/`).
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/stat.h>

#include <climits>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "support.hpp"

namespace {

using namespace psntest;
using namespace psntest::regnames;

constexpr uintptr_t kKey1 = 0x1111;
constexpr uintptr_t kKey2 = 0x2222;
constexpr uintptr_t kKeyA = 0xAAA1;  // bystanders and posted packets
constexpr uintptr_t kKeyB = 0xBBB1;
constexpr uintptr_t kKeyBad = 0xBAD1;  // carried by entries that must fail

constexpr DWORD evIn = SOCK_NOTIFY_EVENT_IN;
constexpr DWORD evOut = SOCK_NOTIFY_EVENT_OUT;
constexpr DWORD evHup = SOCK_NOTIFY_EVENT_HANGUP;
constexpr DWORD evErr = SOCK_NOTIFY_EVENT_ERR;
constexpr DWORD evRemove = SOCK_NOTIFY_EVENT_REMOVE;

// ---------------------------------------------------------------------------------------------
// Helpers.

// Fills fd's send path until it stays unwritable for a moment (TCP may free space late).
void fill_until_blocked(int fd) {
  if (!fill_until_unwritable(fd, 100, 50)) ADD_FAILURE() << "could not fill the send path";
}

// Takes every packet that comes within `ms` (at most 16), in order.
std::vector<OVERLAPPED_ENTRY> take_all(HANDLE port, UINT32 ms = kQuietMs) {
  std::vector<OVERLAPPED_ENTRY> out;
  while (out.size() < 16) {
    auto e = next(port, ms);
    if (!e) break;
    out.push_back(*e);
  }
  return out;
}

// Waits for at most one late packet (a level notification queued before a DISABLE, drain or
// close may still come, R5.4/R5.7/R5.11); if one comes it must be `key`'s, without REMOVE.
void settle(HANDLE port, uintptr_t key) {
  if (auto e = next(port, kQuietMs)) {
    EXPECT_EQ(e->lpCompletionKey, key) << describe(*e);
    EXPECT_EQ(e->dwNumberOfBytesTransferred & evRemove, 0u) << describe(*e);
  }
}

DWORD enable(HANDLE port, int s, uintptr_t k, UINT16 filter, UINT8 trig) {
  return apply(port, reg(s, key(k), filter, kEnable, trig));
}
DWORD remove(HANDLE port, int s) { return apply(port, reg(s, nullptr, 0, kRemove, 0)); }

// Takes what is queued in one call (room for 8 entries): it must be exactly one packet, stored
// in *only.
void take_only_packet(HANDLE port, OVERLAPPED_ENTRY* only) {
  OVERLAPPED_ENTRY e[8]{};
  UINT32 got = 0;
  ASSERT_EQ(ProcessSocketNotifications(port, 0, nullptr, kWaitMs, 8, e, &got), kSuccess);
  ASSERT_EQ(got, 1u) << "second packet: " << describe(e[1]);
  *only = e[0];
}

// Applies a batch without waiting; the call itself must succeed (R5.1).
void apply_batch(HANDLE port, std::vector<SOCK_NOTIFY_REGISTRATION>& batch) {
  ASSERT_EQ(apply_all(port, batch), kSuccess);
}

// The kinds of socket pair, each made with .first opened before any other descriptor, so right
// after a close it takes the number just freed (R5.11, R5.12): hence tcp_pair_client_first.
const SocketKind kKinds[] = {
    {"tcp", tcp_pair_client_first, true}, {"udp", udp_pair, false}, {"unix", unix_pair, true}};

// A port and a connected pair; s() is the socket registered, peer() the other end.
class RegistrationBySocket : public testing::TestWithParam<SocketKind> {
 protected:
  Port port;
  std::pair<Fd, Fd> pair = GetParam().make();

  int s() const { return pair.first; }
  int peer() const { return pair.second; }
  bool stream() const { return GetParam().stream; }
  void arrive_at_s(size_t n = 1) { arrive(peer(), s(), n); }
  // Closes s() with a plain close() (R5.12); returns the number it had.
  int close_s() {
    const int n = s();
    pair.first.reset();
    return n;
  }
  // A new pair made right after s() was closed; its .first is closed (-1) unless it took
  // number n (see SKIP_UNLESS_REUSED).
  std::pair<Fd, Fd> reuse_number(int n) {
    std::pair<Fd, Fd> fresh = GetParam().make();
    if (fresh.first.get() != n) fresh.first.reset();
    return fresh;
  }
  // Drains peer() until s() (kKey1, OUT filtered, its send path full) notifies OUT: 100 tries
  // at most, 20 ms each. `none_came` is the failure message.
  void expect_out_once_peer_drains(const char* none_came) {
    bool notified = false;
    for (int i = 0; i < 100 && !notified; ++i) {
      drain(peer());
      if (auto e = next(port, 20)) {
        EXPECT_TRUE(is_note(e, kKey1, evOut));
        notified = true;
      }
    }
    EXPECT_TRUE(notified) << none_came;
  }
};

#define SKIP_UNLESS_STREAM(why) \
  if (!stream()) GTEST_SKIP() << why

// Skips the test unless `fresh`, made by reuse_number(n), took descriptor number n.
#define SKIP_UNLESS_REUSED(fresh, n) \
  if ((fresh).first.get() < 0) GTEST_SKIP() << "descriptor number " << (n) << " was not reused"

INSTANTIATE_TEST_SUITE_P(Sockets, RegistrationBySocket, testing::ValuesIn(kKinds),
                         [](const testing::TestParamInfo<SocketKind>& i) {
                           return std::string(i.param.name);
                         });

// Two sockets with data waiting, enabled (level, one-shot) by entries placed around the entries
// under test; both must still be applied (R5.1), each delivering one packet with its key.
struct Bystanders {
  std::pair<Fd, Fd> a = unix_pair();
  std::pair<Fd, Fd> b = unix_pair();
  Bystanders() {
    arrive(a.second, a.first);
    arrive(b.second, b.first);
  }
  SOCK_NOTIFY_REGISTRATION first() const {
    return reg(a.first, key(kKeyA), kIn, kEnable, kLevel | kOneshot);
  }
  SOCK_NOTIFY_REGISTRATION last() const {
    return reg(b.first, key(kKeyB), kIn, kEnable, kLevel | kOneshot);
  }
  // Both bystanders delivered, and nothing else came (e.g. for a wrongly applied entry).
  void expect_applied(HANDLE port) const {
    bool seen_a = false, seen_b = false;
    for (const auto& e : take_all(port, 200)) {
      if (e.lpCompletionKey == kKeyA && !seen_a) {
        seen_a = true;
      } else if (e.lpCompletionKey == kKeyB && !seen_b) {
        seen_b = true;
      } else {
        ADD_FAILURE() << "unexpected " << describe(e);
      }
    }
    EXPECT_TRUE(seen_a) << "the entry before the failing ones was not applied";
    EXPECT_TRUE(seen_b) << "the entry after the failing ones was not applied";
  }
};

// Builds [bystander, entries..., bystander], applies it and checks every result.
void run_batch(HANDLE port, const Bystanders& by,
               const std::vector<std::pair<SOCK_NOTIFY_REGISTRATION, DWORD>>& cases) {
  std::vector<SOCK_NOTIFY_REGISTRATION> batch{by.first()};
  for (const auto& c : cases) batch.push_back(c.first);
  batch.push_back(by.last());
  apply_batch(port, batch);
  EXPECT_EQ(batch.front().registrationResult, kSuccess);
  EXPECT_EQ(batch.back().registrationResult, kSuccess);
  for (size_t i = 0; i < cases.size(); ++i)
    EXPECT_EQ(batch[i + 1].registrationResult, cases[i].second)
        << "socket " << cases[i].first.socket << " op " << int{cases[i].first.operation}
        << " filter " << cases[i].first.eventFilter << " triggers "
        << int{cases[i].first.triggerFlags};
  by.expect_applied(port);
}

// ---------------------------------------------------------------------------------------------
// R5.1 per-entry validation: the failing entry gets its code, the others are applied, the call
// succeeds.

TEST(Registration, R5_1_UnknownOperationIsInvalid) {
  Port port;
  Bystanders by;
  auto [t, tpeer] = unix_pair();
  arrive(tpeer, t);  // if any bad entry were taken as an ENABLE, t would notify
  std::vector<std::pair<SOCK_NOTIFY_REGISTRATION, DWORD>> cases;
  for (UINT8 op : {3, 5, 6, 7, 8, 0x10, 0x80, 0xFF})
    cases.push_back({reg(t, key(kKeyBad), kIn, op, kLevel), kInval});
  run_batch(port, by, cases);
  EXPECT_EQ(disable(port, t), kNotFound);
}

TEST(Registration, R5_1_UnknownOperationLeavesRegistrationAlone) {
  Port port;
  auto [s, peer] = unix_pair();
  ASSERT_EQ(enable(port, s, kKey1, kIn, kLevel | kOneshot), kSuccess);
  std::vector<SOCK_NOTIFY_REGISTRATION> batch;
  for (UINT8 op : {3, 5, 6, 7}) batch.push_back(reg(s, key(kKeyBad), kOut, op, kLevel));
  apply_batch(port, batch);
  for (const auto& r : batch) EXPECT_EQ(r.registrationResult, kInval);
  EXPECT_TRUE(quiet(port)) << "no REMOVE packet, no OUT filter";
  arrive(peer, s);
  EXPECT_TRUE(is_note(next(port), kKey1, evIn)) << "still enabled with its key";
}

TEST(Registration, R5_1_FilterBitsOutsideAllAreInvalid) {
  Port port;
  Bystanders by;
  auto [t, tpeer] = unix_pair();
  arrive(tpeer, t);
  std::vector<std::pair<SOCK_NOTIFY_REGISTRATION, DWORD>> cases;
  for (UINT16 f : {0x08, 0x40, 0x80, 0x0F, 0x47, 0x100, 0xFFFF})
    cases.push_back({reg(t, key(kKeyBad), f, kEnable, kLevel), kInval});
  run_batch(port, by, cases);
  EXPECT_EQ(disable(port, t), kNotFound);
}

TEST(Registration, R5_1_InvalidFilterLeavesRegistrationAlone) {
  Port port;
  auto [s, peer] = unix_pair();
  ASSERT_EQ(enable(port, s, kKey1, kIn, kLevel), kSuccess);
  // OUT holds: had the filter become OUT | 0x08, a packet would come.
  EXPECT_EQ(enable(port, s, kKeyBad, kOut | 0x08, kLevel), kInval);
  EXPECT_EQ(enable(port, s, kKeyBad, kOut | 0x40, kLevel), kInval);
  EXPECT_TRUE(quiet(port));
  arrive(peer, s);
  EXPECT_TRUE(is_note(next(port), kKey1, evIn));
}

TEST(Registration, R5_1_InvalidTriggerFlagsAreInvalid) {
  Port port;
  Bystanders by;
  auto [t, tpeer] = unix_pair();
  arrive(tpeer, t);
  std::vector<std::pair<SOCK_NOTIFY_REGISTRATION, DWORD>> cases;
  const UINT8 bad[] = {
      kLevel | kEdge,                     // both
      0,                                  // neither
      kOneshot,                           // neither LEVEL nor EDGE
      kPersistent,                        // neither LEVEL nor EDGE
      kOneshot | kPersistent | kLevel,    // one-shot and persistent
      kOneshot | kPersistent | kEdge,     // one-shot and persistent
      0x10 | kLevel,                      // unknown bit
      0x10 | kEdge,                       // unknown bit
      0x80 | kLevel | kOneshot,           // unknown bit
      0xFF,                               // everything
  };
  for (UINT8 trig : bad) cases.push_back({reg(t, key(kKeyBad), kIn, kEnable, trig), kInval});
  run_batch(port, by, cases);
  EXPECT_EQ(disable(port, t), kNotFound);
}

TEST(Registration, R5_1_ValidTriggerFlagsAreAccepted) {
  Port port;
  const UINT8 good[] = {kLevel,          kEdge,          kLevel | kOneshot,
                        kLevel | kPersistent, kEdge | kOneshot, kEdge | kPersistent};
  for (UINT8 trig : good) {
    SCOPED_TRACE(testing::Message() << "triggers " << int{trig});
    auto [s, peer] = unix_pair();
    EXPECT_EQ(enable(port, s, kKey1, kIn, trig), kSuccess);
    EXPECT_EQ(remove(port, s), kSuccess);
    EXPECT_TRUE(is_note(next(port), kKey1, evRemove));
  }
}

TEST(Registration, R5_1_InvalidTriggersLeaveRegistrationAlone) {
  Port port;
  auto [s, peer] = unix_pair();
  ASSERT_EQ(enable(port, s, kKey1, kIn, kLevel), kSuccess);
  EXPECT_EQ(enable(port, s, kKeyBad, kOut, kLevel | kEdge), kInval);
  EXPECT_EQ(enable(port, s, kKeyBad, kOut, 0x10 | kLevel), kInval);
  EXPECT_TRUE(quiet(port)) << "the filter must still be IN only";
  arrive(peer, s);
  EXPECT_TRUE(is_note(next(port), kKey1, evIn));
  EXPECT_TRUE(is_note(next(port), kKey1, evIn)) << "still level, persistent";
}

// Filter and triggers are checked for ENABLE only.
TEST(Registration, R5_1_FilterAndTriggersIgnoredForDisableAndRemove) {
  Port port;
  auto [s, peer] = unix_pair();
  ASSERT_EQ(enable(port, s, kKey1, kIn, kLevel), kSuccess);
  EXPECT_EQ(apply(port, reg(s, key(kKeyBad), 0xFFFF, kDisable, 0xFF)), kSuccess);
  EXPECT_EQ(apply(port, reg(s, key(kKeyBad), 0xFFFF, kRemove, 0xFF)), kSuccess);
  EXPECT_TRUE(is_note(next(port), kKey1, evRemove));
  EXPECT_TRUE(quiet(port));
}

// A pipe, a regular file and /dev/null, opened for the test.
struct NonSockets {
  Fd pipe_r, pipe_w, file, null;
  NonSockets() {
    int p[2];
    EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
    pipe_r.reset(p[0]);
    pipe_w.reset(p[1]);
    char path[] = "/tmp/psn_test_XXXXXX";
    file.reset(::mkstemp(path));
    EXPECT_GE(file.get(), 0);
    ::unlink(path);
    null.reset(::open("/dev/null", O_RDWR | O_CLOEXEC));
    EXPECT_GE(null.get(), 0);
  }
  void expect_still_open() const {
    for (int fd : {pipe_r.get(), pipe_w.get(), file.get(), null.get()})
      EXPECT_NE(::fcntl(fd, F_GETFD), -1) << "fd " << fd << " was closed";
  }
};

TEST(Registration, R5_1_NotAnOpenSocketIsNotSock) {
  Port port;
  Bystanders by;
  NonSockets ns;
  Fd gone(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const int closed = gone.get();
  gone.reset();  // the lowest free number stays free until the batch runs
  const int bad[] = {-1, -2, INT_MIN, closed, ns.pipe_r, ns.pipe_w, ns.file, ns.null, 1 << 20};
  std::vector<std::pair<SOCK_NOTIFY_REGISTRATION, DWORD>> cases;
  for (int fd : bad) {
    cases.push_back({reg(fd, key(kKeyBad), kIn, kEnable, kLevel), kNotSock});
    cases.push_back({reg(fd, nullptr, 0, kDisable, 0), kNotSock});
    cases.push_back({reg(fd, nullptr, 0, kRemove, 0), kNotSock});
  }
  run_batch(port, by, cases);
  ns.expect_still_open();
}

// R8.2: SOCKET is as wide as a pointer. A value above any descriptor is not a
// socket, even when its low 32 bits name one: nothing may truncate it.
TEST(Registration, R8_2_WideSocketValueIsNotSockEvenIfLowBitsNameOne) {
  Port port;
  Bystanders by;
  auto pair = tcp_pair();
  const SOCKET real = static_cast<SOCKET>(pair.first.get());
  const SOCKET wide[] = {real | (SOCKET{1} << 32), real | (SOCKET{1} << 63),
                         SOCKET{0x80000000u} | real, INVALID_SOCKET};
  std::vector<std::pair<SOCK_NOTIFY_REGISTRATION, DWORD>> cases;
  for (SOCKET s : wide) {
    cases.push_back({reg(s, key(kKeyBad), kIn, kEnable, kLevel), kNotSock});
    cases.push_back({reg(s, nullptr, 0, kDisable, 0), kNotSock});
    cases.push_back({reg(s, nullptr, 0, kRemove, 0), kNotSock});
  }
  run_batch(port, by, cases);
  // The real socket was never registered: disabling it finds nothing.
  EXPECT_EQ(disable(port, real), static_cast<DWORD>(ERROR_NOT_FOUND));
  for (SOCKET s : wide) {
    EXPECT_EQ(closesocket(s), SOCKET_ERROR);
    EXPECT_EQ(WSAGetLastError(), WSAENOTSOCK);
  }
  EXPECT_NE(::fcntl(pair.first.get(), F_GETFD), -1) << "closesocket closed the truncated number";
}

// notes/decisions.md 2: operation, then filter and triggers, then the socket, then its state.
TEST(Registration, R5_1_ChecksInDecidedOrder) {
  Port port;
  Port other;
  NonSockets ns;
  auto [s, peer] = unix_pair();
  ASSERT_EQ(enable(other, s, kKey1, kIn, kLevel), kSuccess);
  std::vector<SOCK_NOTIFY_REGISTRATION> batch = {
      reg(-1, nullptr, kIn, 3, kLevel),                       // bad op before bad socket
      reg(ns.pipe_r, nullptr, 0x08, kEnable, kLevel),         // bad filter before bad socket
      reg(ns.pipe_r, nullptr, kIn, kEnable, kLevel | kEdge),  // bad triggers before bad socket
      reg(ns.pipe_r, nullptr, 0, kDisable, 0),                // bad socket before NOT_FOUND
      reg(s, nullptr, kIn, kEnable, kLevel),                  // registered on another port
      reg(s, nullptr, 0, kDisable, 0),                        // not registered on this port
  };
  apply_batch(port, batch);
  const DWORD want[] = {kInval, kInval, kInval, kNotSock, kInval, kNotFound};
  for (size_t i = 0; i < batch.size(); ++i)
    EXPECT_EQ(batch[i].registrationResult, want[i]) << "entry " << i;
}

// ---------------------------------------------------------------------------------------------
// R5.2 OP_NONE does nothing and reports ERROR_SUCCESS (the socket is not examined).

TEST(Registration, R5_2_NoneReportsSuccessWhateverItNames) {
  Port port;
  NonSockets ns;
  auto [s, peer] = unix_pair();
  ASSERT_EQ(enable(port, s, kKey1, kIn, kLevel), kSuccess);
  auto [u, upeer] = unix_pair();
  std::vector<SOCK_NOTIFY_REGISTRATION> batch = {
      reg(s, key(kKeyBad), kOut, kOpNone, kLevel),  // registered
      reg(u, key(kKeyBad), kOut, kOpNone, kLevel),  // not registered
      reg(-1, nullptr, 0, kOpNone, 0),
      reg(ns.pipe_r, nullptr, 0, kOpNone, 0),
      reg(1 << 20, nullptr, 0xFFFF, kOpNone, 0xFF),  // garbage filter and triggers
  };
  apply_batch(port, batch);
  for (const auto& r : batch) EXPECT_EQ(r.registrationResult, kSuccess);
}

TEST(Registration, R5_2_NoneChangesNothing) {
  Port port;
  auto [s, peer] = unix_pair();
  auto [u, upeer] = unix_pair();
  ASSERT_EQ(enable(port, s, kKey1, kIn, kLevel | kOneshot), kSuccess);
  std::vector<SOCK_NOTIFY_REGISTRATION> batch = {reg(s, key(kKeyBad), kOut, kOpNone, kEdge),
                                                 reg(u, key(kKeyBad), kOut, kOpNone, kLevel)};
  apply_batch(port, batch);
  EXPECT_TRUE(quiet(port)) << "s's filter must still be IN; u must not be registered";
  arrive(peer, s);
  EXPECT_TRUE(is_note(next(port), kKey1, evIn));
  EXPECT_EQ(disable(port, u), kNotFound);
}

// ---------------------------------------------------------------------------------------------
// R5.3 ENABLE.

TEST_P(RegistrationBySocket, R5_3_EnableCreatesRegistrationWithKey) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel), kSuccess);
  EXPECT_TRUE(quiet(port));
  arrive_at_s();
  EXPECT_TRUE(is_note(next(port), kKey1, evIn));
}

TEST_P(RegistrationBySocket, R5_3_ReenableKeepsOriginalKey) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel), kSuccess);
  ASSERT_EQ(enable(port, s(), kKey2, kIn, kLevel), kSuccess);
  arrive_at_s();
  EXPECT_TRUE(is_note(next(port), kKey1, evIn));
  EXPECT_TRUE(is_note(next(port), kKey1, evIn));
}

TEST_P(RegistrationBySocket, R5_3_ReenableReplacesFilter) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel), kSuccess);
  EXPECT_TRUE(quiet(port));
  ASSERT_EQ(enable(port, s(), kKey2, kOut, kLevel), kSuccess);
  EXPECT_TRUE(is_note(next(port), kKey1, evOut)) << "OUT holds and is now filtered";
  arrive_at_s();
  EXPECT_TRUE(is_note(next(port), kKey1, evOut)) << "IN is no longer filtered";
}

TEST_P(RegistrationBySocket, R5_3_ReenableNarrowsFilter) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel), kSuccess);
  ASSERT_EQ(enable(port, s(), kKey1, kNoEvents, kLevel), kSuccess);
  arrive_at_s();
  EXPECT_TRUE(quiet(port));
  ASSERT_EQ(enable(port, s(), kKey2, kIn, kLevel), kSuccess);
  EXPECT_TRUE(is_note(next(port), kKey1, evIn));
}

TEST_P(RegistrationBySocket, R5_3_ReenableReplacesTriggers) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel), kSuccess);
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel | kOneshot), kSuccess);
  arrive_at_s();
  EXPECT_TRUE(is_note(next(port), kKey1, evIn));
  EXPECT_TRUE(quiet(port)) << "now one-shot";
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel | kPersistent), kSuccess);
  EXPECT_TRUE(is_note(next(port), kKey1, evIn));
  EXPECT_TRUE(is_note(next(port), kKey1, evIn)) << "persistent again";
}

TEST_P(RegistrationBySocket, R5_3_ReenableEnablesDisabledRegistration) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel), kSuccess);
  ASSERT_EQ(disable(port, s()), kSuccess);
  arrive_at_s();
  EXPECT_TRUE(quiet(port));
  ASSERT_EQ(enable(port, s(), kKey2, kIn, kLevel), kSuccess);
  EXPECT_TRUE(is_note(next(port), kKey1, evIn));
}

TEST_P(RegistrationBySocket, R5_3_EnableOnAnotherPortIsInvalid) {
  Port other;
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel | kOneshot), kSuccess);
  EXPECT_EQ(enable(other, s(), kKey2, kIn, kLevel), kInval);
  arrive_at_s();
  EXPECT_TRUE(is_note(next(port), kKey1, evIn));
  EXPECT_TRUE(quiet(other));
  // Disabled (here by the one-shot delivery) still counts as registered.
  EXPECT_EQ(enable(other, s(), kKey2, kIn, kLevel), kInval);
  ASSERT_EQ(disable(port, s()), kSuccess);
  EXPECT_EQ(enable(other, s(), kKey2, kIn, kLevel), kInval);
  EXPECT_TRUE(quiet(other));
}

TEST_P(RegistrationBySocket, R5_3_AnotherPortMayEnableAfterRemove) {
  Port other;
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel), kSuccess);
  ASSERT_EQ(remove(port, s()), kSuccess);
  ASSERT_EQ(enable(other, s(), kKey2, kIn, kLevel | kOneshot), kSuccess);
  arrive_at_s();
  EXPECT_TRUE(is_note(next(other), kKey2, evIn));
  EXPECT_TRUE(is_note(next(port), kKey1, evRemove));
  EXPECT_TRUE(quiet(port));
}

// ---------------------------------------------------------------------------------------------
// R5.4 DISABLE; DISABLE/REMOVE without a registration on this port => ERROR_NOT_FOUND.

TEST_P(RegistrationBySocket, R5_4_DisableStopsNotifications) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel), kSuccess);
  ASSERT_EQ(disable(port, s()), kSuccess);
  arrive_at_s();
  EXPECT_TRUE(quiet(port));
}

TEST_P(RegistrationBySocket, R5_4_DisableStopsLevelRepeats) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn | kOut, kLevel), kSuccess);
  arrive_at_s();
  EXPECT_TRUE(is_note(next(port), kKey1, evIn | evOut));
  ASSERT_EQ(disable(port, s()), kSuccess);
  settle(port, kKey1);  // one already queued may still come
  EXPECT_TRUE(quiet(port));
  arrive_at_s();
  EXPECT_TRUE(quiet(port));
}

TEST_P(RegistrationBySocket, R5_4_DisabledRegistrationStaysRegistered) {
  Port other;
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel), kSuccess);
  ASSERT_EQ(disable(port, s()), kSuccess);
  EXPECT_EQ(disable(port, s()), kSuccess);
  EXPECT_EQ(enable(other, s(), kKey2, kIn, kLevel), kInval);
  EXPECT_EQ(remove(port, s()), kSuccess);
  EXPECT_TRUE(is_note(next(port), kKey1, evRemove));
}

TEST_P(RegistrationBySocket, R5_4_DisableWhenNotRegisteredIsNotFound) {
  EXPECT_EQ(disable(port, s()), kNotFound);
  EXPECT_TRUE(quiet(port));
  EXPECT_EQ(enable(port, s(), kKey1, kIn, kLevel), kSuccess) << "and it did not register it";
}

TEST_P(RegistrationBySocket, R5_4_RemoveWhenNotRegisteredIsNotFound) {
  EXPECT_EQ(remove(port, s()), kNotFound);
  EXPECT_TRUE(quiet(port)) << "no REMOVE packet";
}

TEST_P(RegistrationBySocket, R5_4_DisableOrRemoveOnAnotherPortIsNotFound) {
  Port other;
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel | kOneshot), kSuccess);
  EXPECT_EQ(disable(other, s()), kNotFound);
  EXPECT_EQ(remove(other, s()), kNotFound);
  EXPECT_TRUE(quiet(other));
  arrive_at_s();
  EXPECT_TRUE(is_note(next(port), kKey1, evIn)) << "still enabled, not removed";
}

// ---------------------------------------------------------------------------------------------
// R5.5 REMOVE: one packet with REMOVE and the key, nothing after; the socket is free again.

TEST_P(RegistrationBySocket, R5_5_RemoveQueuesOnePacketWithKey) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel), kSuccess);
  ASSERT_EQ(remove(port, s()), kSuccess);
  EXPECT_TRUE(is_note(next(port), kKey1, evRemove));
  EXPECT_TRUE(quiet(port));
  arrive_at_s();
  EXPECT_TRUE(quiet(port));
  EXPECT_EQ(disable(port, s()), kNotFound);
}

TEST_P(RegistrationBySocket, R5_5_NothingAfterRemovePacket) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn | kOut, kLevel), kSuccess);
  arrive_at_s();
  EXPECT_TRUE(is_note(next(port), kKey1, evIn | evOut));
  ASSERT_EQ(remove(port, s()), kSuccess);
  // A level packet queued before the REMOVE merges into it (R5.6): exactly one packet.
  EXPECT_TRUE(has_note(next(port), kKey1, evRemove));
  EXPECT_TRUE(quiet(port));
  arrive_at_s();
  EXPECT_TRUE(quiet(port));
}

TEST_P(RegistrationBySocket, R5_5_RemoveOfDisabledRegistrationQueuesPacket) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kEdge), kSuccess);
  ASSERT_EQ(disable(port, s()), kSuccess);
  ASSERT_EQ(remove(port, s()), kSuccess);
  EXPECT_TRUE(is_note(next(port), kKey1, evRemove));
  EXPECT_TRUE(quiet(port));
}

TEST_P(RegistrationBySocket, R5_5_RemoveTwiceIsNotFound) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel), kSuccess);
  ASSERT_EQ(remove(port, s()), kSuccess);
  EXPECT_EQ(remove(port, s()), kNotFound);
  EXPECT_TRUE(is_note(next(port), kKey1, evRemove));
  EXPECT_TRUE(quiet(port)) << "only one REMOVE packet";
}

TEST_P(RegistrationBySocket, R5_5_ReregisterWithNewKeyAfterRemove) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel), kSuccess);
  ASSERT_EQ(remove(port, s()), kSuccess);
  EXPECT_TRUE(is_note(next(port), kKey1, evRemove));
  ASSERT_EQ(enable(port, s(), kKey2, kIn, kLevel | kOneshot), kSuccess);
  arrive_at_s();
  EXPECT_TRUE(is_note(next(port), kKey2, evIn));
  EXPECT_TRUE(quiet(port));
}

// The REMOVE packet is not yet taken when the new registration starts: the two stay apart.
TEST_P(RegistrationBySocket, R5_5_ReregisterBeforeRemovePacketIsTaken) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel), kSuccess);
  std::vector<SOCK_NOTIFY_REGISTRATION> batch = {
      reg(s(), nullptr, 0, kRemove, 0), reg(s(), key(kKey2), kIn, kEnable, kLevel | kOneshot)};
  apply_batch(port, batch);
  EXPECT_EQ(batch[0].registrationResult, kSuccess);
  EXPECT_EQ(batch[1].registrationResult, kSuccess);
  arrive_at_s();
  EXPECT_TRUE(is_note(next(port), kKey1, evRemove));
  EXPECT_TRUE(is_note(next(port), kKey2, evIn));
  EXPECT_TRUE(quiet(port));
}

// ---------------------------------------------------------------------------------------------
// R5.6 at most one queued packet per registration; later events merge into it in place.

TEST_P(RegistrationBySocket, R5_6_SeveralConditionsOnePacket) {
  arrive_at_s();
  ASSERT_EQ(enable(port, s(), kKey1, kIn | kOut, kLevel), kSuccess);
  OVERLAPPED_ENTRY e{};
  ASSERT_NO_FATAL_FAILURE(take_only_packet(port, &e));
  EXPECT_TRUE(is_note(e, kKey1, evIn | evOut));
}

TEST_P(RegistrationBySocket, R5_6_SeveralArrivalsOnePacket) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kEdge), kSuccess);
  for (int i = 0; i < 3; ++i) arrive_at_s();
  OVERLAPPED_ENTRY e{};
  ASSERT_NO_FATAL_FAILURE(take_only_packet(port, &e));
  EXPECT_TRUE(is_note(e, kKey1, evIn));
  EXPECT_TRUE(quiet(port));
}

TEST_P(RegistrationBySocket, R5_6_LaterEventMergesIntoQueuedPacket) {
  SKIP_UNLESS_STREAM("datagram sockets have no hangup");
  ASSERT_EQ(enable(port, s(), kKey1, kIn | kHup, kEdge), kSuccess);
  arrive_at_s();
  ASSERT_EQ(::shutdown(peer(), SHUT_WR), 0);
  ASSERT_TRUE(wait_for(s(), POLLRDHUP));
  OVERLAPPED_ENTRY e{};
  ASSERT_NO_FATAL_FAILURE(take_only_packet(port, &e));
  EXPECT_TRUE(is_note(e, kKey1, evIn | evHup));
  EXPECT_TRUE(quiet(port));
}

// post A, socket event, post B, more socket events => A, socket (merged), B.
TEST_P(RegistrationBySocket, R5_6_MergedPacketKeepsItsPlace) {
  const UINT16 filter = stream() ? (kIn | kHup) : kIn;
  ASSERT_EQ(enable(port, s(), kKey1, filter, kEdge), kSuccess);
  ASSERT_TRUE(PostQueuedCompletionStatus(port, 1, kKeyA, nullptr));
  arrive_at_s();
  ASSERT_TRUE(PostQueuedCompletionStatus(port, 2, kKeyB, nullptr));
  arrive_at_s();
  if (stream()) {
    ASSERT_EQ(::shutdown(peer(), SHUT_WR), 0);
    ASSERT_TRUE(wait_for(s(), POLLRDHUP));
  }
  std::vector<OVERLAPPED_ENTRY> got;
  while (got.size() < 3) {
    OVERLAPPED_ENTRY e[8]{};
    UINT32 n = 0;
    if (ProcessSocketNotifications(port, 0, nullptr, kWaitMs, 8, e, &n) != kSuccess) break;
    got.insert(got.end(), e, e + n);
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].lpCompletionKey, kKeyA) << describe(got[0]);
  EXPECT_TRUE(is_note(got[1], kKey1, stream() ? (evIn | evHup) : evIn));
  EXPECT_EQ(got[2].lpCompletionKey, kKeyB) << describe(got[2]);
  EXPECT_TRUE(quiet(port));
}

// ---------------------------------------------------------------------------------------------
// R5.7 level-triggered.

TEST_P(RegistrationBySocket, R5_7_LevelRenotifiesWhileDataRemains) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel), kSuccess);
  arrive_at_s();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(is_note(next(port), kKey1, evIn)) << "take " << i;
}

TEST_P(RegistrationBySocket, R5_7_LevelStopsOnceDrained) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel), kSuccess);
  arrive_at_s(3);
  EXPECT_TRUE(is_note(next(port), kKey1, evIn));
  EXPECT_GE(drain(s()), 1u);
  settle(port, kKey1);
  EXPECT_TRUE(quiet(port));
}

TEST_P(RegistrationBySocket, R5_7_LevelNotifiesOnLaterArrival) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel), kSuccess);
  EXPECT_TRUE(quiet(port));
  arrive_at_s();
  EXPECT_TRUE(is_note(next(port), kKey1, evIn));
  EXPECT_GE(drain(s()), 1u);
  settle(port, kKey1);
  arrive_at_s();
  EXPECT_TRUE(is_note(next(port), kKey1, evIn)) << "again after drain and a new arrival";
}

TEST_P(RegistrationBySocket, R5_7_LevelOutFollowsTheSendPath) {
  SKIP_UNLESS_STREAM("a datagram send path does not stay full");
  ASSERT_EQ(enable(port, s(), kKey1, kOut, kLevel), kSuccess);
  EXPECT_TRUE(is_note(next(port), kKey1, evOut));
  EXPECT_TRUE(is_note(next(port), kKey1, evOut));
  fill_until_blocked(s());
  settle(port, kKey1);
  EXPECT_TRUE(quiet(port)) << "not writable, so no OUT";
  expect_out_once_peer_drains("no OUT after the peer drained");
}

// ---------------------------------------------------------------------------------------------
// R5.8 edge-triggered.

TEST_P(RegistrationBySocket, R5_8_EdgeNotifiesOnArrival) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kEdge), kSuccess);
  EXPECT_TRUE(quiet(port));
  arrive_at_s();
  EXPECT_TRUE(is_note(next(port), kKey1, evIn));
}

TEST_P(RegistrationBySocket, R5_8_EdgeNotRepeatedAfterTake) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kEdge), kSuccess);
  arrive_at_s();
  EXPECT_TRUE(is_note(next(port), kKey1, evIn));
  EXPECT_TRUE(quiet(port)) << "data remains, but it is the same edge";
}

TEST_P(RegistrationBySocket, R5_8_EdgeNotifiesAgainAfterDrain) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kEdge), kSuccess);
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(testing::Message() << "round " << round);
    arrive_at_s();
    EXPECT_TRUE(is_note(next(port), kKey1, evIn));
    EXPECT_GE(drain(s()), 1u);
    EXPECT_TRUE(quiet(port));
  }
}

TEST_P(RegistrationBySocket, R5_8_EdgeOutAfterSendPathFreed) {
  SKIP_UNLESS_STREAM("a datagram send path does not stay full");
  ASSERT_EQ(enable(port, s(), kKey1, kOut, kEdge), kSuccess);
  settle(port, kKey1);  // OUT already held at ENABLE: allowed, not required
  EXPECT_TRUE(quiet(port));
  fill_until_blocked(s());
  settle(port, kKey1);
  expect_out_once_peer_drains("no OUT edge after the peer drained");
}

TEST_P(RegistrationBySocket, R5_8_ConditionHeldAtEnableNotifiesAtMostOnce) {
  arrive_at_s();
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kEdge), kSuccess);
  if (auto e = next(port, kQuietMs)) {
    EXPECT_TRUE(is_note(e, kKey1, evIn));
  }
  EXPECT_TRUE(quiet(port));
}

// ---------------------------------------------------------------------------------------------
// R5.9 one-shot.

TEST_P(RegistrationBySocket, R5_9_OneshotDisablesOnDelivery) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel | kOneshot), kSuccess);
  arrive_at_s();
  EXPECT_TRUE(is_note(next(port), kKey1, evIn));
  EXPECT_TRUE(quiet(port)) << "data remains, but the registration is disabled";
  arrive_at_s();
  EXPECT_TRUE(quiet(port));
}

TEST_P(RegistrationBySocket, R5_9_OneshotStaysRegistered) {
  Port other;
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel | kOneshot), kSuccess);
  arrive_at_s();
  EXPECT_TRUE(is_note(next(port), kKey1, evIn));
  EXPECT_EQ(enable(other, s(), kKey2, kIn, kLevel), kInval);
  EXPECT_EQ(disable(port, s()), kSuccess);
  EXPECT_EQ(remove(port, s()), kSuccess);
  EXPECT_TRUE(is_note(next(port), kKey1, evRemove));
}

TEST_P(RegistrationBySocket, R5_9_ReenableRearmsLevelAndNotifiesAtOnce) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel | kOneshot), kSuccess);
  arrive_at_s();
  EXPECT_TRUE(is_note(next(port), kKey1, evIn));
  EXPECT_TRUE(quiet(port));
  SOCK_NOTIFY_REGISTRATION r = reg(s(), key(kKey2), kIn, kEnable, kLevel | kOneshot);
  OVERLAPPED_ENTRY e{};
  UINT32 got = 0;
  EXPECT_EQ(ProcessSocketNotifications(port, 1, &r, 0, 1, &e, &got), kSuccess);
  EXPECT_EQ(r.registrationResult, kSuccess);
  ASSERT_EQ(got, 1u);
  EXPECT_TRUE(is_note(e, kKey1, evIn));
  EXPECT_TRUE(quiet(port)) << "one-shot again";
}

TEST_P(RegistrationBySocket, R5_9_OneshotEdgeRearmedByEnable) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kEdge | kOneshot), kSuccess);
  arrive_at_s();
  EXPECT_TRUE(is_note(next(port), kKey1, evIn));
  drain(s());
  arrive_at_s();
  EXPECT_TRUE(quiet(port)) << "a new edge, but the registration is disabled";
  drain(s());
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kEdge | kOneshot), kSuccess);
  arrive_at_s();
  EXPECT_TRUE(is_note(next(port), kKey1, evIn));
  drain(s());
  arrive_at_s();
  EXPECT_TRUE(quiet(port));
}

// ---------------------------------------------------------------------------------------------
// R5.10 which events are delivered; never an empty mask.

TEST_P(RegistrationBySocket, R5_10_InOnlyWhenFiltered) {
  arrive_at_s();
  ASSERT_EQ(enable(port, s(), kKey1, kOut, kLevel | kOneshot), kSuccess);
  EXPECT_TRUE(is_note(next(port), kKey1, evOut));
}

TEST_P(RegistrationBySocket, R5_10_OutOnlyWhenFiltered) {
  arrive_at_s();
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel | kOneshot), kSuccess);
  EXPECT_TRUE(is_note(next(port), kKey1, evIn));
}

TEST_P(RegistrationBySocket, R5_10_HangupOnlyWhenFiltered) {
  SKIP_UNLESS_STREAM("datagram sockets have no hangup");
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel | kOneshot), kSuccess);
  pair.second.reset();
  EXPECT_TRUE(is_note(next(port), kKey1, evIn));
}

TEST_P(RegistrationBySocket, R5_10_HangupWhenFiltered) {
  SKIP_UNLESS_STREAM("datagram sockets have no hangup");
  ASSERT_EQ(enable(port, s(), kKey1, kHup, kLevel | kOneshot), kSuccess);
  EXPECT_TRUE(quiet(port)) << "connection open: no hangup";
  pair.second.reset();
  EXPECT_TRUE(is_note(next(port), kKey1, evHup));
}

TEST_P(RegistrationBySocket, R5_10_EmptyFilterGivesNoPacket) {
  arrive_at_s();  // IN and OUT hold, neither filtered
  ASSERT_EQ(enable(port, s(), kKey1, kNoEvents, kLevel), kSuccess);
  EXPECT_TRUE(quiet(port));
  arrive_at_s();
  EXPECT_TRUE(quiet(port));
}

TEST_P(RegistrationBySocket, R5_10_UnfilteredConditionGivesNoPacket) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel), kSuccess);  // only OUT holds
  EXPECT_TRUE(quiet(port));
  if (stream()) {
    ASSERT_EQ(enable(port, s(), kKey1, kHup, kEdge), kSuccess);
    arrive_at_s();  // IN holds, unfiltered
    EXPECT_TRUE(quiet(port));
  }
}

TEST_P(RegistrationBySocket, R5_10_RemoveWhateverTheFilter) {
  ASSERT_EQ(enable(port, s(), kKey1, kNoEvents, kLevel), kSuccess);
  ASSERT_EQ(remove(port, s()), kSuccess);
  EXPECT_TRUE(is_note(next(port), kKey1, evRemove));
}

// A non-blocking TCP socket and a loopback address where nothing listens.
struct Refused {
  Fd s{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
  sockaddr_in to{};
  Refused() {
    Fd probe(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof to;
    EXPECT_EQ(::bind(probe, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
    EXPECT_EQ(::getsockname(probe, reinterpret_cast<sockaddr*>(&to), &len), 0);
  }  // probe closes: the port is free and nothing listens on it
  // Starts the connect; false if it did not stay pending (then no error will be left pending).
  bool start() {
    return ::connect(s, reinterpret_cast<sockaddr*>(&to), sizeof to) == -1 && errno == EINPROGRESS;
  }
};

TEST(Registration, R5_10_ErrWhateverTheFilterOnRefusedConnect) {
  const UINT8 triggers[] = {kLevel | kOneshot, kEdge};
  for (UINT8 trig : triggers) {
    SCOPED_TRACE(testing::Message() << "triggers " << int{trig});
    Port port;
    Refused r;
    ASSERT_EQ(enable(port, r.s, kKey1, kNoEvents, trig), kSuccess);
    if (!r.start()) GTEST_SKIP() << "connect was refused synchronously";
    auto e = next(port);
    EXPECT_TRUE(is_note(e, kKey1, evErr)) << "ERR alone: nothing else is in the filter";
    EXPECT_TRUE(quiet(port));
  }
}

TEST(Registration, R5_10_ErrAlongsideFilteredEventsOnRefusedConnect) {
  Port port;
  Refused r;
  ASSERT_EQ(enable(port, r.s, kKey1, kIn, kLevel | kOneshot), kSuccess);
  if (!r.start()) GTEST_SKIP() << "connect was refused synchronously";
  auto e = next(port);
  EXPECT_TRUE(has_note(e, kKey1, evErr));
  if (e) {
    EXPECT_EQ(e->dwNumberOfBytesTransferred & ~(evIn | evErr), 0u) << describe(*e);
  }
}

TEST(Registration, R5_10_ErrOnUdpPortUnreachable) {
  Port port;
  Refused target;  // only its address is used: nothing is bound there
  Fd u(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  ASSERT_GE(u.get(), 0);
  ASSERT_EQ(::connect(u, reinterpret_cast<sockaddr*>(&target.to), sizeof target.to), 0);
  ASSERT_EQ(enable(port, u, kKey1, kNoEvents, kLevel | kOneshot), kSuccess);
  ASSERT_EQ(send_bytes(u), 1);
  EXPECT_TRUE(is_note(next(port), kKey1, evErr));
}

// ---------------------------------------------------------------------------------------------
// R5.11 closesocket drops the registration without a REMOVE packet; a reused number starts
// unregistered.

TEST_P(RegistrationBySocket, R5_11_ClosesocketDropsWithoutRemove) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel), kSuccess);
  EXPECT_EQ(closesocket(pair.first.release()), 0);
  EXPECT_TRUE(quiet(port)) << "no REMOVE packet";
}

TEST_P(RegistrationBySocket, R5_11_ClosesocketClosesDescriptor) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel), kSuccess);
  const int n = pair.first.release();
  EXPECT_EQ(closesocket(n), 0);
  errno = 0;
  EXPECT_EQ(::fcntl(n, F_GETFD), -1);
  EXPECT_EQ(errno, EBADF);
}

TEST_P(RegistrationBySocket, R5_11_QueuedPacketMayStillComeButNothingElse) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn | kOut, kLevel), kSuccess);
  arrive_at_s();
  EXPECT_EQ(closesocket(pair.first.release()), 0);
  settle(port, kKey1);
  EXPECT_TRUE(quiet(port));
}

TEST_P(RegistrationBySocket, R5_11_ReusedNumberStartsUnregistered) {
  Port other;
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel | kOneshot), kSuccess);
  const int n = pair.first.release();
  ASSERT_EQ(closesocket(n), 0);
  auto fresh = reuse_number(n);
  SKIP_UNLESS_REUSED(fresh, n);
  EXPECT_EQ(disable(port, n), kNotFound);
  EXPECT_EQ(remove(port, n), kNotFound);
  arrive(fresh.second, fresh.first);
  EXPECT_TRUE(quiet(port)) << "the new socket is not registered";
  EXPECT_EQ(enable(other, n, kKey2, kIn, kLevel | kOneshot), kSuccess) << "free for any port";
  EXPECT_TRUE(is_note(next(other), kKey2, evIn));
  EXPECT_TRUE(quiet(port));
}

TEST_P(RegistrationBySocket, R5_11_ReusedNumberGetsOnlyNewKeyAndSettings) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn | kOut, kLevel | kOneshot), kSuccess);
  const int n = pair.first.release();
  ASSERT_EQ(closesocket(n), 0);
  settle(port, kKey1);  // a packet queued for the old socket may still come
  auto fresh = reuse_number(n);
  SKIP_UNLESS_REUSED(fresh, n);
  ASSERT_EQ(enable(port, n, kKey2, kIn, kLevel), kSuccess);
  arrive(fresh.second, fresh.first);
  EXPECT_TRUE(is_note(next(port), kKey2, evIn)) << "new key, filter IN only";
  EXPECT_TRUE(is_note(next(port), kKey2, evIn)) << "persistent, not the old one-shot";
}

// ---------------------------------------------------------------------------------------------
// R5.12 the same after a plain close(): noticed at the latest when the number is registered
// again, and no packet ever carries the old key for the new socket.

TEST_P(RegistrationBySocket, R5_12_ClosedNumberIsNotASocket) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel), kSuccess);
  const int n = close_s();
  EXPECT_EQ(disable(port, n), kNotSock);
  EXPECT_EQ(remove(port, n), kNotSock);
  EXPECT_EQ(enable(port, n, kKey2, kIn, kLevel), kNotSock);
  EXPECT_TRUE(quiet(port)) << "no REMOVE packet";
}

TEST_P(RegistrationBySocket, R5_12_ReusedNumberWithoutRegistrationGetsNothing) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel), kSuccess);
  const int n = close_s();
  auto fresh = reuse_number(n);
  SKIP_UNLESS_REUSED(fresh, n);
  arrive(fresh.second, fresh.first);
  EXPECT_TRUE(quiet(port)) << "the old key must not reach the new socket";
}

TEST_P(RegistrationBySocket, R5_12_ReusedNumberDisableIsNotFound) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel), kSuccess);
  const int n = close_s();
  auto fresh = reuse_number(n);
  SKIP_UNLESS_REUSED(fresh, n);
  EXPECT_EQ(disable(port, n), kNotFound);
  EXPECT_TRUE(quiet(port));
}

TEST_P(RegistrationBySocket, R5_12_ReusedNumberRemoveIsNotFoundAndQueuesNothing) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel), kSuccess);
  const int n = close_s();
  auto fresh = reuse_number(n);
  SKIP_UNLESS_REUSED(fresh, n);
  EXPECT_EQ(remove(port, n), kNotFound);
  EXPECT_TRUE(quiet(port)) << "a REMOVE packet here would carry the old key";
}

TEST_P(RegistrationBySocket, R5_12_ReusedNumberGetsOnlyNewKey) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn | kOut, kLevel | kOneshot), kSuccess);
  const int n = close_s();
  auto fresh = reuse_number(n);
  SKIP_UNLESS_REUSED(fresh, n);
  ASSERT_EQ(enable(port, n, kKey2, kIn, kLevel), kSuccess);
  arrive(fresh.second, fresh.first);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(is_note(next(port), kKey2, evIn)) << "take " << i;
}

TEST_P(RegistrationBySocket, R5_12_ReusedNumberMayRegisterOnAnotherPort) {
  Port other;
  ASSERT_EQ(enable(port, s(), kKey1, kIn, kLevel), kSuccess);
  const int n = close_s();
  auto fresh = reuse_number(n);
  SKIP_UNLESS_REUSED(fresh, n);
  ASSERT_EQ(enable(other, n, kKey2, kIn, kLevel | kOneshot), kSuccess);
  arrive(fresh.second, fresh.first);
  EXPECT_TRUE(is_note(next(other), kKey2, evIn));
  EXPECT_TRUE(quiet(port)) << "the old port must not notify the new socket";
  EXPECT_EQ(disable(port, n), kNotFound) << "the old registration is gone by now";
}

TEST_P(RegistrationBySocket, R5_12_PortCloseAfterPlainCloseIsClean) {
  ASSERT_EQ(enable(port, s(), kKey1, kIn | kOut, kLevel), kSuccess);
  arrive_at_s();
  const int n = close_s();
  auto fresh = reuse_number(n);
  SKIP_UNLESS_REUSED(fresh, n);
  EXPECT_TRUE(CloseHandle(port.release()));  // drops the stale registration
  Port again;
  EXPECT_EQ(enable(again, n, kKey2, kIn, kLevel | kOneshot), kSuccess);
  arrive(fresh.second, fresh.first);
  EXPECT_TRUE(is_note(next(again), kKey2, evIn));
  EXPECT_TRUE(quiet(again));
}

}  // namespace
