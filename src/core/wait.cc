// See wait.h.
#include "core/wait.h"

#include <cerrno>
#include <vector>

#include <fmt/format.h>

#include "core/deadline.h"
#include "core/signals.h"

namespace sp {

namespace {

// Small sets (every loop but backlog test's) are copied to the stack.
constexpr size_t kStackFds = 8;

}  // namespace

Result<Wake> wait_fds(std::span<pollfd> fds, Deadline deadline) {
  pollfd stack[kStackFds];
  std::vector<pollfd> heap;
  pollfd* set = stack;
  if (fds.size() + 1 > kStackFds) {
    heap.resize(fds.size() + 1);
    set = heap.data();
  }
  for (size_t i = 0; i < fds.size(); ++i) set[i] = {fds[i].fd, fds[i].events, 0};
  const int sig = interrupt_fd();
  set[fds.size()] = {sig, POLLIN, 0};
  const nfds_t n = fds.size() + (sig >= 0 ? 1 : 0);
  for (;;) {
    if (interrupted()) return Wake::Interrupted;
    int r = ::poll(set, n, poll_timeout_ms(deadline, WaitClock::now()));
    if (interrupted()) return Wake::Interrupted;
    if (r < 0) {
      if (errno == EINTR) continue;  // the one place EINTR is retried
      return system_error(fmt::format("poll: {}", errno_text(errno)));
    }
    if (r == 0) return Wake::Timeout;
    for (size_t i = 0; i < fds.size(); ++i) fds[i].revents = set[i].revents;
    return Wake::Ready;
  }
}

Result<Wake> wait_fd(int fd, short events, Deadline deadline) {
  pollfd p = {fd, events, 0};
  return wait_fds(std::span<pollfd>(&p, 1), deadline);
}

Result<Wake> wait_epoll(int epfd, epoll_event* events, int max, Deadline deadline, int* count) {
  *count = 0;
  for (;;) {
    if (interrupted()) return Wake::Interrupted;
    int r = ::epoll_wait(epfd, events, max, poll_timeout_ms(deadline, WaitClock::now()));
    if (interrupted()) return Wake::Interrupted;
    if (r < 0) {
      if (errno == EINTR) continue;
      return system_error(fmt::format("epoll_wait: {}", errno_text(errno)));
    }
    if (r == 0) return Wake::Timeout;
    *count = r;
    return Wake::Ready;
  }
}

// Polls nothing but the SIGINT pipe; a wait_fds() error (none expected
// with no fds) ends the sleep early rather than spinning.
bool sleep_until(WaitClock::time_point deadline) {
  for (;;) {
    auto w = wait_fds({}, deadline);
    if (!w.ok() || *w == Wake::Interrupted) return false;
    if (*w == Wake::Timeout) return true;
  }
}

bool sleep_interruptible(WaitClock::duration d) { return sleep_until(WaitClock::now() + d); }

int epoll_set(int epfd, int op, int fd, uint32_t events) {
  epoll_event ev = {};
  ev.events = events;
  ev.data.fd = fd;
  return ::epoll_ctl(epfd, op, fd, &ev);
}

Deadline earlier(Deadline a, Deadline b) {
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}

}  // namespace sp
