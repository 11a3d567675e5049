// readwrite: the full-duplex relay between a connected socket and a pair of
// local fds (stdin/stdout, or a file and a sink). Shared by listen, connect,
// send and recv. One buffer per direction; the socket (non-blocking, as every
// socket is from make_socket or accept4) makes a full send buffer a poll
// wait, never a blocked write(); partial writes are
// completed; EOF on input becomes shutdown(SHUT_WR) (a FIN) and reading goes
// on until the peer closes. SIGINT ends it with ErrorKind::Interrupted and
// the counts so far in `stats`. Bytes waiting for the socket with no progress
// for `stall_timeout` are a stall, explained from the kernel's numbers
// (core/stall.h): an error (ErrorKind::Timeout) or, if asked, a report
// through `on_stall` after which the relay keeps waiting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/address.h"
#include "core/parse.h"
#include "core/result.h"
#include "core/stall.h"

namespace sp {

// The peer's EOF while our input is still open. The peer may have closed
// only its sending side (a half-close) and still read, so by default the
// input is sent to its EOF (OpenBSD nc); Stop drops what is left (the
// front-end picks Stop for a terminal on stdin, see connect/listen).
enum class PeerEof { KeepSending, Stop };

struct RelayOptions {
  bool close_on_eof = false;  // input EOF: stop at once instead of half-closing
  PeerEof on_peer_eof = PeerEof::KeepSending;
  bool datagram = false;      // UDP: one read = one datagram, no FIN
  Duration idle_timeout{0};   // 0: none
  // Input bytes wait for the socket and none goes out for this long: a
  // stall. 0: not watched.
  Duration stall_timeout{0};
  bool stall_is_error = true;  // false: call on_stall once per stall and go on
  // `why`: explain_send_stall()'s sentence; `target`: the target below.
  std::function<void(const StallSnapshot&, const std::string& why, const std::string& target)> on_stall;
  // Names the peer in error messages: "write to TARGET: Connection reset by
  // peer", e.g. "127.0.0.1 port 4242 (tcp)". Empty: "peer".
  std::string target;
  // Datagram clients: after input's EOF, wait this long for replies (each
  // reply restarts it), then finish (nc -u -w). 0: until interrupted.
  Duration reply_wait{0};
  size_t buffer_size = 256 * 1024;
  // Datagrams: read only this sender's (listen -u: the chosen peer; what
  // others sent before connect() is dropped and counted).
  std::optional<Endpoint> only_from;
};

struct RelayStats {
  uint64_t bytes_sent = 0;      // input -> socket
  uint64_t bytes_received = 0;  // socket -> output
  // When the peer's EOF ended the relay before input's EOF: the input bytes
  // known to be left unsent (buffered, in a stdin pipe, or the rest of a
  // stdin file), so the front-end can say so. 0 when unknown or none.
  uint64_t input_left = 0;
  // Our output's reader left (`connect ... | head -1`): the relay's job is
  // done, so it ended with success (nc, ncat and socat agree).
  bool output_closed = false;
  // Datagrams from senders other than only_from, dropped.
  uint64_t foreign_datagrams = 0;
};

// in_fd < 0: nothing to send (the socket's write side is shut down at once
// unless the transport is a datagram one). out_fd < 0: received bytes are
// discarded.
Status readwrite(int net_fd, int in_fd, int out_fd, const RelayOptions& opts, RelayStats* stats);

}  // namespace sp
