// Signal handling (see signals.h).
#include "core/signals.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace sp {
namespace {

volatile sig_atomic_t g_interrupted = 0;
int g_pipe[2] = {-1, -1};

// The path is written before the flag is raised and the flag is lowered
// before the path changes, so a handler never reads a half-written path.
char g_unlink_path[4096];
volatile sig_atomic_t g_unlink_armed = 0;

volatile sig_atomic_t g_reset_fd = -1;

void unlink_registered() {
  if (g_unlink_armed != 0) ::unlink(g_unlink_path);
}

// setsockopt() is a plain system call: safe in a handler.
void reset_registered() {
  int fd = g_reset_fd;
  if (fd < 0) return;
  linger l = {1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

// Ends the process as the signal's default action would (so the parent
// sees "killed by SIGTERM"), after removing the registered socket file.
void die_by(int sig) {
  unlink_registered();
  reset_registered();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void on_sigint(int sig) {
  int saved = errno;
  if (g_interrupted != 0) {  // the second Ctrl-C
    die_by(sig);
    return;
  }
  g_interrupted = 1;
  if (g_pipe[1] >= 0) {
    char c = 1;
    [[maybe_unused]] ssize_t n = ::write(g_pipe[1], &c, 1);
  }
  errno = saved;
}

void on_fatal(int sig) { die_by(sig); }

// SIGTERM/SIGHUP: only when not ignored at start (nohup must keep working).
void catch_unless_ignored(int sig) {
  struct sigaction old = {};
  if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) return;
  struct sigaction sa = {};
  sa.sa_handler = on_fatal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(sig, &sa, nullptr);
}

}  // namespace

void install_signal_handlers() {
  ::signal(SIGPIPE, SIG_IGN);
  if (g_pipe[0] < 0 && ::pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) != 0) g_pipe[0] = g_pipe[1] = -1;
  struct sigaction sa = {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking calls return EINTR
  ::sigaction(SIGINT, &sa, nullptr);
  catch_unless_ignored(SIGTERM);
  catch_unless_ignored(SIGHUP);
}

bool interrupted() { return g_interrupted != 0; }

int interrupt_fd() { return g_pipe[0]; }

void unlink_on_fatal_signal(const char* path) {
  g_unlink_armed = 0;
  // Keeps the compiler from moving the path's bytes ahead of the disarm: a
  // signal in between must never see a half-written path armed.
  std::atomic_signal_fence(std::memory_order_seq_cst);
  size_t n = ::strnlen(path, sizeof g_unlink_path - 1);
  std::memcpy(g_unlink_path, path, n);
  g_unlink_path[n] = '\0';
  std::atomic_signal_fence(std::memory_order_seq_cst);
  g_unlink_armed = 1;
}

void forget_unlink_on_fatal_signal() { g_unlink_armed = 0; }

void reset_on_fatal_signal(int fd) { g_reset_fd = fd; }

}  // namespace sp
