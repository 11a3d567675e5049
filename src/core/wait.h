// The one wait primitive: every loop that waits for an fd, a deadline or
// Ctrl-C waits here. poll() (or epoll_wait()) on the caller's fds plus the
// SIGINT self-pipe from core/signals, bounded by an optional deadline; EINTR
// from other signals is retried here and nowhere else (the timeout is
// recomputed, so a stream of signals cannot stretch the wait), and the three
// outcomes come back as a value: Ready, Timeout, Interrupted. A failing
// poll() itself (EINVAL, ENOMEM) is an Error.
#pragma once

#include <sys/epoll.h>
#include <poll.h>

#include <chrono>
#include <optional>
#include <span>

#include "core/result.h"

namespace sp {

using WaitClock = std::chrono::steady_clock;
using Deadline = std::optional<WaitClock::time_point>;

enum class Wake { Ready, Timeout, Interrupted };

// Waits until one of `fds` has an event (revents filled in; fd -1 entries
// are ignored, as poll() does), the deadline passes (none: no limit), or
// SIGINT arrived (checked before waiting too, so a Ctrl-C that came while
// the caller worked is not missed).
Result<Wake> wait_fds(std::span<pollfd> fds, Deadline deadline);

// One fd, one event set: the common case.
Result<Wake> wait_fd(int fd, short events, Deadline deadline);

// epoll_wait() under the same rules (the SIGINT pipe must be in the set, or
// an interruption is seen on the next wake-up only). Ready: *count events.
Result<Wake> wait_epoll(int epfd, epoll_event* events, int max, Deadline deadline, int* count);

// epoll_ctl for the sets wait_epoll waits on (the burst client's, the
// --echo/--discard server's): each event carries its fd as data; `events`
// is ignored by EPOLL_CTL_DEL. 0, or -1 with errno.
int epoll_set(int epfd, int op, int fd, uint32_t events = 0);

// Sleeps until the deadline (an accept backoff, a --watch interval): true
// after the full time, false as soon as SIGINT arrives.
bool sleep_until(WaitClock::time_point deadline);
bool sleep_interruptible(WaitClock::duration d);

// The nearer of two optional deadlines.
Deadline earlier(Deadline a, Deadline b);

// Seconds from `t` to now, for elapsed times in reports.
inline double seconds_since(WaitClock::time_point t) {
  return std::chrono::duration<double>(WaitClock::now() - t).count();
}

}  // namespace sp
