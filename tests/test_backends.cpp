// SPEC 7: backends. The whole suite runs once per backend the machine
// supports (tests/CMakeLists.txt sets PSN_BACKEND for each run); these tests
// pin how the backend is chosen and what each promises.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "psn/psn.hpp"
#include "support.hpp"

namespace {

using namespace psntest;

// Sets an environment variable for the life of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (had_)
      ::setenv(name_, old_.c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

psn::backend expected_from_env() {
  const char* env = std::getenv("PSN_BACKEND");
  if (env && std::strcmp(env, "io_uring") == 0) return psn::backend::io_uring;
  return psn::backend::epoll;
}

// R7.3: the run's PSN_BACKEND is the backend every port of this run uses, so
// each run of the suite really exercises the backend it is named for.
TEST(Backends, R7_3_SuiteRunsOnTheBackendItNames) {
  psn::port p = psn::port::create();
  ASSERT_TRUE(p);
  EXPECT_EQ(p.backend(), expected_from_env());
}

// R7.1: with nothing chosen, ports use epoll (the default until io_uring
// passes the whole suite).
TEST(Backends, R7_1_DefaultIsEpoll) {
  ScopedEnv env("PSN_BACKEND", nullptr);
  psn::port p = psn::port::create();
  ASSERT_TRUE(p);
  EXPECT_EQ(p.backend(), psn::backend::epoll);
  HANDLE h = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 0);
  ASSERT_NE(h, nullptr);
  EXPECT_TRUE(CloseHandle(h));
}

// SPEC 1: an unknown PSN_BACKEND fails port creation clearly rather than
// silently picking something.
TEST(Backends, R7_1_UnknownBackendNameFailsClearly) {
  ScopedEnv env("PSN_BACKEND", "kqueue");
  SetLastError(0);
  EXPECT_EQ(CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 0), nullptr);
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_NOT_SUPPORTED));
  std::error_code ec;
  psn::port p = psn::port::create({}, ec);
  EXPECT_FALSE(p);
  EXPECT_EQ(ec, psn::errc::not_supported);
}

// A per-port choice from C++ wins over the environment.
TEST(Backends, R7_1_PerPortChoiceOverridesEnvironment) {
  ScopedEnv env("PSN_BACKEND", "kqueue");
  std::error_code ec;
  psn::port p = psn::port::create({.concurrency = 0, .backend = psn::backend::epoll}, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(p.backend(), psn::backend::epoll);
}

// R7.2: with io_uring, applying changes and waiting is one kernel entry. The
// io_uring backend is not built yet: asking for it fails clearly, and this
// test is skipped until it exists.
TEST(Backends, R7_2_IoUringAppliesAndWaitsInOneKernelEntry) {
  std::error_code ec;
  psn::port p = psn::port::create({.concurrency = 0, .backend = psn::backend::io_uring}, ec);
  if (ec == psn::errc::not_supported) GTEST_SKIP() << "the io_uring backend is not built yet";
  FAIL() << "an io_uring port exists: count its kernel entries here";
}

}  // namespace
