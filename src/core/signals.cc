// Signal handling (see signals.h).
#include "core/signals.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include "core/deadline.h"

namespace sp {
namespace {

volatile sig_atomic_t g_interrupted = 0;
int g_pipe[2] = {-1, -1};

void on_sigint(int) {
  int saved = errno;
  g_interrupted = 1;
  if (g_pipe[1] >= 0) {
    char c = 1;
    [[maybe_unused]] ssize_t n = ::write(g_pipe[1], &c, 1);
  }
  errno = saved;
}

}  // namespace

void install_signal_handlers() {
  ::signal(SIGPIPE, SIG_IGN);
  if (g_pipe[0] < 0 && ::pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) != 0) g_pipe[0] = g_pipe[1] = -1;
  struct sigaction sa = {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;  // no SA_RESTART: blocking calls return EINTR
  ::sigaction(SIGINT, &sa, nullptr);
}

bool interrupted() { return g_interrupted != 0; }

int interrupt_fd() { return g_pipe[0]; }

// Polls the interrupt pipe until the deadline; other signals' EINTR only
// shortens one poll, not the sleep.
bool sleep_interruptible(std::chrono::steady_clock::duration d) {
  using Clock = std::chrono::steady_clock;
  Clock::time_point deadline = Clock::now() + d;
  for (;;) {
    if (interrupted()) return false;
    int ms = poll_timeout_ms(deadline, Clock::now());
    if (ms == 0) return true;
    pollfd p = {interrupt_fd(), POLLIN, 0};
    if (::poll(&p, interrupt_fd() >= 0 ? 1 : 0, ms) > 0) return false;
  }
}

}  // namespace sp
