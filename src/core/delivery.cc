// See delivery.h.
#include "core/delivery.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "core/atomicio.h"
#include "core/sock.h"
#include "core/wait.h"

namespace sp {
namespace {

Error socket_error(const AckWaitOptions& o, int err) {
  if (o.socket_error) return o.socket_error(err);
  return system_error(fmt::format("write to {}: {}", o.target.empty() ? "peer" : o.target, errno_text(err)));
}

// Reads and drops what the peer sends meanwhile. 0: go on; -1: the peer's
// EOF (stop reading, keep waiting); else the errno of a failed read.
int drop_incoming(int fd) {
  char scratch[4096];
  for (int i = 0; i < 64; ++i) {
    ssize_t r = recv_some(fd, scratch, sizeof scratch, MSG_DONTWAIT);
    if (r == 0) return -1;
    if (r < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : errno;  // EINTR: SIGINT's
  }
  return 0;
}

}  // namespace

// ACKs raise no poll event, so SIOCOUTQ is looked at after 1 ms, doubling
// to 32 ms while it does not move: a fast peer adds about a millisecond, a
// slow or stalled one costs a few wake-ups a second. After the peer's EOF
// the socket is left out of the poll set (with both FINs it is POLLHUP for
// good and would wake us in a loop); a reset is then seen within 32 ms.
Status wait_acknowledged(int fd, const AckWaitOptions& o) {
  if (!socket_is_tcp(fd)) return {};
  StallClock clock(o.stall_timeout);
  int last_outq = -1;
  int wait_ms = 1;
  // Not read, not polled: bytes another reader owns (leave_incoming), or
  // nothing more to come after the peer's EOF.
  bool watch_incoming = !o.leave_incoming;
  for (;;) {
    if (int err = pending_socket_error(fd); err != 0) return socket_error(o, err);
    int outq = 0;
    if (::ioctl(fd, SIOCOUTQ, &outq) != 0 || outq == 0) return {};
    auto now = WaitClock::now();
    clock.update(true, outq != last_outq, now);
    wait_ms = outq != last_outq ? 1 : std::min(wait_ms * 2, 32);
    last_outq = outq;
    if (clock.due(now)) {
      StallSnapshot snap = take_stall_snapshot(fd);
      std::string why = explain_send_stall(snap, clock.seconds(now));
      clock.mark_reported();
      if (o.on_stall) o.on_stall(snap, why);
      if (o.stall_is_error) return timeout_error(o.stall_prefix + why);
    }
    pollfd p[1] = {{watch_incoming ? fd : -1, POLLIN, 0}};
    auto w = wait_fds(p, earlier(now + std::chrono::milliseconds(wait_ms), clock.deadline()));
    if (!w.ok()) return w.take_error();
    if (*w == Wake::Interrupted) return interrupted_error();
    if (*w == Wake::Ready && p[0].revents != 0) {
      int r = drop_incoming(fd);
      if (r == -1) watch_incoming = false;  // the peer's EOF
      else if (r != 0) return socket_error(o, r);
    }
  }
}

void abort_on_close(int fd) {
  linger l = {1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

void close_gracefully(int fd) {
  linger l = {0, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

}  // namespace sp
