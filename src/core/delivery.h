// "Delivered" means the peer's kernel acknowledged every byte: the one wait
// for that, shared by send (after its last byte) and the relay (after
// stdin's EOF). After our FIN, SIOCOUTQ (unsent + unacknowledged) must reach
// 0. The socket's pending error (SO_ERROR) is looked at first, because a
// reset empties the queue too: a reset fails the wait. A peer's EOF does
// not end it -- a peer that half-closed first (`listen </dev/null >copy`)
// still reads, and exiting before its kernel has our bytes would report a
// transfer that a cut link can still lose. Bounded by the stall clock:
// no acknowledgement for the stall timeout is a stall (an error, or a
// report after which the wait goes on), and SIGINT ends it.
#pragma once

#include <functional>
#include <string>

#include "core/parse.h"
#include "core/result.h"
#include "core/stall.h"

namespace sp {

struct AckWaitOptions {
  Duration stall_timeout{0};  // no acknowledgement for this long: a stall; 0: not watched
  bool stall_is_error = true;  // false: on_stall once per stall, keep waiting
  std::function<void(const StallSnapshot&, const std::string& why)> on_stall;
  // The error for a failed socket (errno: ECONNRESET, EPIPE, ...); default
  // "write to TARGET: TEXT" (TARGET "peer" when empty).
  std::function<Error(int err)> socket_error;
  std::string target;
  // A stall's error message: "TARGET_PREFIX" + why ("write to X: " for the
  // relay; empty for send, whose stall lines have no prefix).
  std::string stall_prefix;
  // Another thread reads the socket (--bidir): incoming bytes are left to
  // it, and the wait is on the timer alone.
  bool leave_incoming = false;
};

// Bytes the peer sends meanwhile are read and dropped (unless
// leave_incoming). Not TCP (Unix
// sockets, UDP): nothing to wait for, returns at once.
Status wait_acknowledged(int fd, const AckWaitOptions& opts);

// Abort instead of close: SO_LINGER {1, 0} makes the coming close() send a
// reset, so the peer sees a failed transfer, not a clean (truncated) EOF.
void abort_on_close(int fd);
// Undoes abort_on_close: the coming close() sends a FIN again.
void close_gracefully(int fd);

}  // namespace sp
