// Descriptor exhaustion (docs/reference.md: CreateIoCompletionPort fails with
// ERROR_NOT_ENOUGH_MEMORY "when the kernel or the allocator refuses
// (including running out of descriptors)").
//
// The test lowers RLIMIT_NOFILE to what is open now plus a margin, fills the
// table with real sockets and checks that port creation fails cleanly (NULL,
// ERROR_NOT_ENOUGH_MEMORY, no descriptor left behind -- also when only the
// second of a port's two descriptors cannot be had), that a port made before
// keeps working (post, dequeue, registrations, notifications, REMOVE), and
// that closing descriptors lets creation succeed again. The limit is
// restored at the end and every descriptor is accounted for.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "fault_support.hpp"
#include "psn/psn.h"

namespace {

using namespace psnfault;

class FdExhaustion : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_ = nofile_limit();
    baseline_ = open_fd_count();
    ASSERT_GT(baseline_, 0);
  }
  void TearDown() override {
    for (int s : fill_) ::close(s);
    fill_.clear();
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved_), 0);
    EXPECT_EQ(open_fd_count(), baseline_) << "descriptors leaked";
  }

  // Lowers the soft limit to the number of descriptors open now plus
  // `margin`: about `margin` numbers below it are free (descriptors open
  // above the limit stay open; the limit only stops new ones).
  void limit_to(int margin) {
    const rlim_t soft = static_cast<rlim_t>(open_fd_count() + margin);
    ASSERT_LE(soft, saved_.rlim_max);
    ASSERT_TRUE(set_nofile_soft(soft));
    int free_numbers = 0;
    for (int fd = 0; static_cast<rlim_t>(fd) < soft; ++fd)
      if (!fd_is_open(fd)) ++free_numbers;
    std::printf("[ fds      ] RLIMIT_NOFILE %llu -> %llu: %d descriptors free\n",
                static_cast<unsigned long long>(saved_.rlim_cur),
                static_cast<unsigned long long>(soft), free_numbers);
  }

  // Opens UDP sockets until the table is full.
  void fill() {
    for (;;) {
      int s = udp_socket();
      if (s < 0) {
        ASSERT_TRUE(errno == EMFILE || errno == ENFILE) << errno;
        break;
      }
      fill_.push_back(s);
      ASSERT_LT(fill_.size(), 100000u);
    }
  }
  void free_some(int n) {
    for (int i = 0; i < n && !fill_.empty(); ++i) {
      ::close(fill_.back());
      fill_.pop_back();
    }
  }

  rlimit saved_{};
  int baseline_ = 0;
  std::vector<int> fill_;
};

void expect_port_works(HANDLE h) {
  ASSERT_TRUE(PostQueuedCompletionStatus(h, 11, 12, nullptr));
  DWORD bytes = 0;
  ULONG_PTR key = 0;
  LPOVERLAPPED ov = nullptr;
  ASSERT_TRUE(GetQueuedCompletionStatus(h, &bytes, &key, &ov, 0));
  EXPECT_EQ(bytes, 11u);
  EXPECT_EQ(key, 12u);
}

TEST_F(FdExhaustion, CreateFailsCleanlyAndExistingPortsKeepWorking) {
  limit_to(40);
  // A port made while descriptors were available, with a registration.
  HANDLE before = new_port();
  ASSERT_NE(before, nullptr);
  auto [a, b] = unix_pair();
  ASSERT_GE(a, 0);
  fill_.push_back(a);
  fill_.push_back(b);
  SOCK_NOTIFY_REGISTRATION r = reg(a, 77, SOCK_NOTIFY_OP_ENABLE, SOCK_NOTIFY_REGISTER_EVENT_IN);
  ASSERT_EQ(ProcessSocketNotifications(before, 1, &r, 0, 0, nullptr, nullptr), ERROR_SUCCESS);
  ASSERT_EQ(r.registrationResult, ERROR_SUCCESS);

  fill();
  ASSERT_GT(fill_.size(), 2u);
  const int full = open_fd_count();
  for (int i = 0; i < 20; ++i) {
    SetLastError(0);
    HANDLE h = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
    ASSERT_EQ(h, nullptr);
    EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_NOT_ENOUGH_MEMORY));
  }
  EXPECT_EQ(open_fd_count(), full) << "a failed creation left a descriptor open";

  // The existing port: posts, dequeues, notifications.
  expect_port_works(before);
  ASSERT_EQ(::write(b, "x", 1), 1);
  OVERLAPPED_ENTRY e[4];
  UINT32 got = 0;
  ASSERT_EQ(ProcessSocketNotifications(before, 0, nullptr, 0, 4, e, &got), ERROR_SUCCESS);
  ASSERT_EQ(got, 1u);
  EXPECT_EQ(e[0].lpCompletionKey, 77u);
  EXPECT_TRUE(SocketNotificationRetrieveEvents(&e[0]) & SOCK_NOTIFY_EVENT_IN);
  char c;
  ASSERT_EQ(::read(a, &c, 1), 1);  // level-triggered: otherwise it comes again

  // New registrations need no descriptors: 16 of the filler sockets join.
  std::vector<SOCK_NOTIFY_REGISTRATION> regs;
  for (std::size_t i = 2; i < 18 && i < fill_.size(); ++i)
    regs.push_back(reg(fill_[i], 1000 + i, SOCK_NOTIFY_OP_ENABLE));  // UDP: OUT holds
  ASSERT_EQ(ProcessSocketNotifications(before, static_cast<UINT32>(regs.size()), regs.data(), 0, 0,
                                       nullptr, nullptr),
            ERROR_SUCCESS);
  for (auto& x : regs) EXPECT_EQ(x.registrationResult, ERROR_SUCCESS);
  got = 0;
  ASSERT_EQ(ProcessSocketNotifications(before, 0, nullptr, 0, 4, e, &got), ERROR_SUCCESS);
  EXPECT_GE(got, 1u);
  // REMOVE them all: one REMOVE packet each.
  for (auto& x : regs) x.operation = SOCK_NOTIFY_OP_REMOVE;
  ASSERT_EQ(ProcessSocketNotifications(before, static_cast<UINT32>(regs.size()), regs.data(), 0, 0,
                                       nullptr, nullptr),
            ERROR_SUCCESS);
  std::size_t removes = 0;
  for (int i = 0; i < 100 && removes < regs.size(); ++i) {
    OVERLAPPED_ENTRY many[32];
    ULONG n = 0;
    if (!GetQueuedCompletionStatusEx(before, many, 32, &n, 0, FALSE)) break;
    for (ULONG k = 0; k < n; ++k)
      if (many[k].dwNumberOfBytesTransferred & SOCK_NOTIFY_EVENT_REMOVE) ++removes;
  }
  EXPECT_EQ(removes, regs.size());
  // closesocket needs no descriptor either.
  int victim = fill_.back();
  fill_.pop_back();
  EXPECT_EQ(closesocket(victim), 0);

  // With one descriptor free, the first of the port's two is had and the
  // second is not: that one must be given back.
  ASSERT_EQ(open_fd_count(), full - 1);
  {
    SetLastError(0);
    HANDLE h = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
    if (h != nullptr) {
      // A backend that needs a single descriptor: fine, it must work.
      expect_port_works(h);
      ASSERT_TRUE(CloseHandle(h));
    } else {
      EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_NOT_ENOUGH_MEMORY));
    }
    EXPECT_EQ(open_fd_count(), full - 1) << "half a port was left open";
    int s = udp_socket();  // the free number is still free
    ASSERT_GE(s, 0);
    fill_.push_back(s);
  }

  // Closing descriptors makes creation work again, and it can be repeated.
  for (int round = 0; round < 3; ++round) {
    free_some(4);
    HANDLE h = new_port();
    ASSERT_NE(h, nullptr) << "round " << round << ": error " << GetLastError();
    expect_port_works(h);
    SOCK_NOTIFY_REGISTRATION x = reg(fill_.back(), 5, SOCK_NOTIFY_OP_ENABLE);
    ASSERT_EQ(ProcessSocketNotifications(h, 1, &x, 0, 0, nullptr, nullptr), ERROR_SUCCESS);
    EXPECT_EQ(x.registrationResult, ERROR_SUCCESS);
    fill();  // full again
    HANDLE none = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
    EXPECT_EQ(none, nullptr);
    EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_NOT_ENOUGH_MEMORY));
    ASSERT_TRUE(CloseHandle(h));  // gives back its descriptors...
    HANDLE again = new_port();    // ...which the next port can have
    ASSERT_NE(again, nullptr);
    ASSERT_TRUE(CloseHandle(again));
  }
  expect_port_works(before);
  ASSERT_TRUE(CloseHandle(before));
}

// Many ports, created until the descriptors run out and closed again, leave
// nothing behind; the last failure does not disturb the ports that exist.
TEST_F(FdExhaustion, PortsUntilFullThenClose) {
  limit_to(40);
  std::vector<HANDLE> ports;
  for (int i = 0; i < 1000; ++i) {
    SetLastError(0);
    HANDLE h = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
    if (!h) {
      EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_NOT_ENOUGH_MEMORY));
      break;
    }
    ports.push_back(h);
  }
  ASSERT_GE(ports.size(), 10u);
  ASSERT_LT(ports.size(), 1000u);
  for (HANDLE h : ports) expect_port_works(h);
  for (HANDLE h : ports) ASSERT_TRUE(CloseHandle(h));
  for (HANDLE h : ports) {
    EXPECT_FALSE(CloseHandle(h));
    EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INVALID_HANDLE));
  }
  std::printf("[ fds      ] %zu ports fit before creation failed\n", ports.size());
}

}  // namespace
