// The mover: how one direction moves its bytes (Source -> socket, socket ->
// Sink), shared by the relay (listen/connect: two directions), send and
// recv (one each). It owns the path choice (read/write, sendfile, splice,
// splice through our own pipe) with the table of measured choices, and the
// zero-copy step with its reasoning about EAGAIN ("a file is always
// readable, so the socket is full"), the kernel refusing a pair of fds, a
// reset hidden behind splice's EOF, and EINTR. The loops around it (polling,
// pacing, stall clocks, reports) stay with their callers.
#pragma once

#include <sys/types.h>

#include <cstddef>

#include "core/fd.h"

namespace sp {

// How a direction moves its bytes.
enum class Path {
  Copy,       // through a user-space buffer (read + write)
  SendFile,   // regular file -> socket
  Splice,     // pipe -> socket, or socket -> pipe
  SpliceVia,  // socket -> our own pipe -> regular file or /dev/null
};

enum class ZeroCopy { Auto, On, Off };

// What the caller wants; the measured answer for each case is in mover.cc.
struct PathPolicy {
  ZeroCopy mode = ZeroCopy::Auto;
  bool checksum = false;  // the bytes are needed in user space: always Copy
  // Socket -> regular file or /dev/null through our own pipe (SpliceVia).
  // The relay measured it a win, recv -o a tie (so Copy there): see the
  // table in mover.cc.
  bool splice_to_sink = false;
};

// The path for the bytes that go from local_fd into the socket (send, the
// relay's up direction). Pipes are grown to kZeroCopyChunk whatever the path.
Path path_into_socket(int local_fd, const PathPolicy& policy);
// The path for the bytes that go from the socket to local_fd.
Path path_out_of_socket(int local_fd, const PathPolicy& policy);

// What one zero-copy step did.
enum class Moved {
  Bytes,        // `bytes` moved
  Eof,          // the source ended cleanly
  SourceEmpty,  // nothing to read now: wait for the source to be readable
  DestFull,     // the destination takes nothing now: wait for it to be writable
  Refused,      // the kernel does not do this path for these fds: copy from now on (nothing was moved)
  Interrupted,  // SIGINT (other signals' EINTR are retried here)
  Failed,       // `err`; at_dest: writing the destination failed, else reading the source
};

struct MoveResult {
  Moved what = Moved::Bytes;
  size_t bytes = 0;
  int err = 0;
  bool at_dest = false;
};

// One zero-copy move of up to `max` bytes from src to dst along `path`
// (not Copy). For SpliceVia, via[1] is the write end and via[0] the read
// end of make_via_pipe(). A splice from a socket that reports EOF is checked
// for the reset behind it (error_behind_splice_eof).
MoveResult move_zero_copy(Path path, int src, int dst, const Fd* via, size_t max);

}  // namespace sp
