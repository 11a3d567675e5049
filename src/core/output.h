// Writing to a stdout we share with the shell without ever blocking on it.
// O_NONBLOCK cannot be set on fd 1 itself: the open file description is
// shared with the shell and every other process holding it. So:
//   - a socket is written with send(MSG_DONTWAIT | MSG_NOSIGNAL), non-blocking
//     per call;
//   - a pipe, FIFO or terminal is reopened through /proc/self/fd/N, which
//     gives a description of our own (same pipe, same terminal) on which
//     O_NONBLOCK affects nobody else;
//   - a regular file or /dev/null never makes a writer wait: plain write().
// If reopening fails (no /proc), writes block as they always did.
// Then every write returns at once (EAGAIN: poll POLLOUT on poll_fd()), so
// SIGINT, --idle-timeout and --stall-timeout hold while nobody reads stdout.
#pragma once

#include <sys/types.h>

#include <cstddef>

#include "core/fd.h"

namespace sp {

class OutputWriter {
 public:
  OutputWriter() = default;
  explicit OutputWriter(int fd);
  // Bytes written (> 0), or -1 with errno (EAGAIN: full; EPIPE: the reader
  // left). Never raises SIGPIPE (SIGPIPE is ignored, and sockets get
  // MSG_NOSIGNAL).
  ssize_t write(const char* data, size_t len);
  // The fd to poll for POLLOUT.
  int poll_fd() const { return own_.valid() ? own_.get() : fd_; }
  // Writes may still block (the reopen failed).
  bool may_block() const { return may_block_; }
  // Drops our own description (the reader must see EOF once fd 1 goes).
  void close_own() { own_.reset(); }

 private:
  int fd_ = -1;
  Fd own_;
  bool socket_ = false;
  bool may_block_ = false;
};

}  // namespace sp
