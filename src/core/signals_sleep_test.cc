// sleep_interruptible: sleeps the whole time without SIGINT and stops for
// one. SIGINT is process-wide and one-shot, so that case runs in a child.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include <doctest/doctest.h>

#include "core/signals.h"

namespace sp {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

TEST_CASE("sleep_interruptible: without SIGINT it sleeps at least the time asked") {
  Clock::time_point start = Clock::now();
  CHECK(sleep_interruptible(20ms));
  CHECK(Clock::now() - start >= 20ms);
  CHECK(sleep_interruptible(0ms));
  CHECK(sleep_interruptible(-5ms));
}

// Exit 0: interrupted as it should be; 1: slept through SIGINT.
[[noreturn]] void interrupted_child() {
  install_signal_handlers();
  pid_t self = ::getpid();
  if (::fork() == 0) {
    ::usleep(50 * 1000);  // let the parent enter the sleep (either order is a valid test)
    ::kill(self, SIGINT);
    ::_exit(0);
  }
  bool slept = sleep_interruptible(30s);
  ::_exit(slept ? 1 : 0);
}

TEST_CASE("sleep_interruptible: SIGINT ends the sleep and returns false") {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) interrupted_child();
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace sp
