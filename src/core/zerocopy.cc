// See zerocopy.h.
#include "core/zerocopy.h"

#include "core/atomicio.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>

#include "core/sock.h"

namespace sp {

int file_type(int fd) {
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) != 0) return 0;
  return st.st_mode & S_IFMT;
}

bool is_dev_null(int fd) {
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) != 0) return false;
  return S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3;
}

bool never_blocking_sink(int fd) {
  if (file_type(fd) == S_IFREG) return (::fcntl(fd, F_GETFL) & O_APPEND) == 0;
  return is_dev_null(fd);
}

int readable_bytes(int fd) {
  int n = 0;
  if (::ioctl(fd, FIONREAD, &n) != 0) return 0;
  return n;
}

void grow_pipe(int fd) {
  int size = ::fcntl(fd, F_GETPIPE_SZ);
  if (size >= 0 && static_cast<size_t>(size) < kZeroCopyChunk) {
    ::fcntl(fd, F_SETPIPE_SZ, static_cast<int>(kZeroCopyChunk));
  }
}

bool make_via_pipe(Fd ends[2]) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return false;
  ends[0].reset(p[0]);
  ends[1].reset(p[1]);
  ::fcntl(p[1], F_SETPIPE_SZ, static_cast<int>(kZeroCopyChunk));  // best effort
  return true;
}

ssize_t splice_via(int net_fd, int via_in, int via_out, int out, size_t max) {
  ssize_t n = splice_some(net_fd, via_in, max, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  if (n <= 0) return n;
  // The bytes in the pipe are taken from the socket: they go to the file
  // whole, SIGINT or not (a file write does not wait on a peer).
  size_t left = static_cast<size_t>(n);
  while (left > 0) {
    ssize_t w = ::splice(via_out, nullptr, out, nullptr, left, SPLICE_F_MOVE);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      // Not expected for these sinks short of a disk error (ENOSPC, EIO).
      if (w == 0 || errno == EINVAL) errno = EIO;
      return -2;
    }
    left -= static_cast<size_t>(w);
  }
  return n;
}

int error_behind_splice_eof(int net_fd) {
  int err = pending_socket_error(net_fd);
  return err == EPIPE ? 0 : err;
}

}  // namespace sp
