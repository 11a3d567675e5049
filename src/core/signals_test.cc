// unlink_on_fatal_signal: SIGTERM, SIGHUP and a second SIGINT remove the
// registered file and still end the process by that signal.
// Signals are process-wide (and SIGINT one-shot), so the cases run in a child.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include <doctest/doctest.h>

#include "core/signals.h"

namespace sp {
namespace {

std::string temp_path(const char* tag) {
  return "/tmp/sockprobe-signals-test-" + std::to_string(::getpid()) + "-" + tag;
}

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// Runs a child that registers `path` (forgotten first when `forget`), then
// sends itself `sig` `times` times; returns the wait status.
int child_status(const std::string& path, int sig, int times, bool forget) {
  pid_t pid = ::fork();
  if (pid == 0) {
    install_signal_handlers();
    unlink_on_fatal_signal(path.c_str());
    if (forget) forget_unlink_on_fatal_signal();
    for (int i = 0; i < times; ++i) ::kill(::getpid(), sig);
    ::_exit(0);  // reached only when the signals did not end it
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

void check_case(const char* tag, int sig, int times, bool forget, bool want_file) {
  std::string path = temp_path(tag);
  std::FILE* f = std::fopen(path.c_str(), "w");
  REQUIRE(f != nullptr);
  std::fclose(f);
  int status = child_status(path, sig, times, forget);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == sig);
  CHECK(exists(path) == want_file);
  ::unlink(path.c_str());
}

}  // namespace

TEST_CASE("SIGTERM and SIGHUP remove the registered file and end the process by the signal") {
  check_case("term", SIGTERM, 1, false, false);
  check_case("hup", SIGHUP, 1, false, false);
  check_case("second-int", SIGINT, 2, false, false);
}

TEST_CASE("a forgotten file is left alone") {
  check_case("forgotten", SIGTERM, 1, true, true);
}

TEST_CASE("one SIGINT does not end the process: it only raises the flag") {
  pid_t pid = ::fork();
  if (pid == 0) {
    install_signal_handlers();
    ::kill(::getpid(), SIGINT);
    ::_exit(interrupted() ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

}  // namespace sp
