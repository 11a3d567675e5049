// OwnedPath: SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGALRM, a real-time signal
// and a second SIGINT remove the owned file and still end the process by
// that signal; a file put at the path since (another inode) is left alone,
// at scope exit and on a signal.
// join_interruptible wakes a worker blocked in a write after SIGINT.
// Signals are process-wide (and SIGINT one-shot), so the cases run in a child.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "core/atomicio.h"
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

void touch(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  REQUIRE(f != nullptr);
  std::fclose(f);
}

// Runs a child that owns `path` (released first when `forget`; replaced by
// a new file at the same path when `replace`), then sends itself `sig`
// `times` times; returns the wait status.
int child_status(const std::string& path, int sig, int times, bool forget, bool replace = false) {
  pid_t pid = ::fork();
  if (pid == 0) {
    // A background job of a non-interactive shell starts with SIGINT and
    // SIGQUIT ignored, and install_signal_handlers keeps an ignored signal
    // ignored (nohup): start from the default, as a terminal would.
    ::signal(sig, SIG_DFL);
    install_signal_handlers();
    static OwnedPath owned;  // never destroyed: only the signal may remove it
    owned = OwnedPath(path);
    if (forget) owned.release();
    if (replace) {
      std::string aside = path + ".aside";
      std::FILE* f = std::fopen(aside.c_str(), "w");
      if (f == nullptr || std::fclose(f) != 0 || ::rename(aside.c_str(), path.c_str()) != 0) ::_exit(3);
    }
    for (int i = 0; i < times; ++i) ::kill(::getpid(), sig);
    ::_exit(0);  // reached only when the signals did not end it
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

void check_case(const char* tag, int sig, int times, bool forget, bool want_file, bool replace = false) {
  std::string path = temp_path(tag);
  touch(path);
  int status = child_status(path, sig, times, forget, replace);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == sig);
  CHECK(exists(path) == want_file);
  ::unlink(path.c_str());
}

}  // namespace

TEST_CASE("every catchable fatal signal removes the owned file and ends the process by the signal") {
  check_case("term", SIGTERM, 1, false, false);
  check_case("hup", SIGHUP, 1, false, false);
  check_case("quit", SIGQUIT, 1, false, false);
  check_case("usr1", SIGUSR1, 1, false, false);
  check_case("alrm", SIGALRM, 1, false, false);
  check_case("xfsz", SIGXFSZ, 1, false, false);
  check_case("rt", SIGRTMIN + 1, 1, false, false);
  check_case("second-int", SIGINT, 2, false, false);
}

TEST_CASE("a released file is left alone") {
  check_case("forgotten", SIGTERM, 1, true, true);
}

TEST_CASE("a file put at the path since is not ours: a signal leaves it") {
  check_case("replaced", SIGTERM, 1, false, true, true);
}

TEST_CASE("OwnedPath: scope exit removes the file, unless it was replaced or released") {
  std::string path = temp_path("scope");
  touch(path);
  { OwnedPath p(path); }
  CHECK_FALSE(exists(path));

  touch(path);
  {
    OwnedPath p(path);
    touch(path + ".aside");  // created while the first exists: another inode
    REQUIRE(::rename((path + ".aside").c_str(), path.c_str()) == 0);
  }
  CHECK(exists(path));

  {
    OwnedPath p(path);
    OwnedPath moved = std::move(p);
    CHECK(p.empty());
    moved.release();
  }
  CHECK(exists(path));
  ::unlink(path.c_str());
  CHECK(OwnedPath(path).empty());  // nothing there: nothing owned
}

TEST_CASE("one SIGINT does not end the process: it only raises the flag") {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::signal(SIGINT, SIG_DFL);  // as in child_status
    install_signal_handlers();
    ::kill(::getpid(), SIGINT);
    ::_exit(interrupted() ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("join_interruptible: SIGINT ends a worker blocked in a write no poll covers") {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::signal(SIGINT, SIG_DFL);
    install_signal_handlers();
    ::alarm(5);  // a hang ends the child by SIGALRM: the check below fails
    int p[2];
    if (::pipe(p) != 0) ::_exit(2);
    std::atomic<bool> done{false};
    std::thread worker([&] {
      sigset_t only_int;
      sigemptyset(&only_int);
      sigaddset(&only_int, SIGINT);
      ::pthread_sigmask(SIG_BLOCK, &only_int, nullptr);  // SIGINT goes to the joiner
      static char big[1 << 20];
      write_all(p[1], big, sizeof big);  // nobody reads: blocks once the pipe is full
      done = true;
    });
    ::usleep(100'000);
    ::kill(::getpid(), SIGINT);
    join_interruptible(worker, done);
    ::_exit(interrupted() ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

}  // namespace sp
