// readwrite: the full-duplex relay between a connected socket and a pair of
// local fds (stdin/stdout, or a file and a sink). Shared by listen, connect,
// send and recv. One buffer per direction; the socket is non-blocking so a
// full send buffer is a poll wait, never a blocked write(); partial writes are
// completed; EOF on input becomes shutdown(SHUT_WR) (a FIN) and reading goes
// on until the peer closes. SIGINT ends it with ErrorKind::Interrupted and
// the counts so far in `stats`.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/parse.h"
#include "core/result.h"

namespace sp {

struct RelayOptions {
  bool close_on_eof = false;  // input EOF: stop at once instead of half-closing
  bool keep_sending = false;  // peer EOF: keep sending input until its EOF
  bool datagram = false;      // UDP: one read = one datagram, no FIN
  Duration idle_timeout{0};   // 0: none
  size_t buffer_size = 256 * 1024;
};

struct RelayStats {
  uint64_t bytes_sent = 0;      // input -> socket
  uint64_t bytes_received = 0;  // socket -> output
  // When the peer's EOF ended the relay before input's EOF: the input bytes
  // known to be left unsent (buffered, in a stdin pipe, or the rest of a
  // stdin file), so the front-end can say so. 0 when unknown or none.
  uint64_t input_left = 0;
};

// in_fd < 0: nothing to send (the socket's write side is shut down at once
// unless the transport is a datagram one). out_fd < 0: received bytes are
// discarded.
Status readwrite(int net_fd, int in_fd, int out_fd, const RelayOptions& opts, RelayStats* stats);

}  // namespace sp
