// Partial-write and EINTR loops (see atomicio.h).
#include "core/atomicio.h"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "core/signals.h"

namespace sp {

ssize_t write_some(int fd, const void* buf, size_t len) {
  const char* p = static_cast<const char*>(buf);
  size_t done = 0;
  while (done < len) {
    ssize_t n = ::write(fd, p + done, len - done);
    if (n < 0) {
      if (errno == EINTR && !interrupted()) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (done == 0) return -1;
      break;  // report progress now; the error comes back on the next call
    }
    done += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

bool write_all(int fd, const void* buf, size_t len) {
  const char* p = static_cast<const char*>(buf);
  while (len > 0) {
    ssize_t n = ::write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR && !interrupted()) continue;  // SIGINT ends a blocked write
      return false;
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

ssize_t read_some(int fd, void* buf, size_t len) {
  for (;;) {
    ssize_t n = ::read(fd, buf, len);
    if (n >= 0 || errno != EINTR || interrupted()) return n;
  }
}

ssize_t recv_some(int fd, void* buf, size_t len, int flags, sockaddr* from, socklen_t* from_len) {
  for (;;) {
    ssize_t n = ::recvfrom(fd, buf, len, flags, from, from_len);
    if (n >= 0 || errno != EINTR || interrupted()) return n;
  }
}

ssize_t send_one(int fd, const void* buf, size_t len, int flags) {
  for (;;) {
    ssize_t n = ::send(fd, buf, len, flags);
    if (n >= 0 || errno != EINTR || interrupted()) return n;
  }
}

ssize_t send_one_to(int fd, const void* buf, size_t len, int flags, const sockaddr* to, socklen_t to_len) {
  for (;;) {
    ssize_t n = ::sendto(fd, buf, len, flags, to, to_len);
    if (n >= 0 || errno != EINTR || interrupted()) return n;
  }
}

ssize_t splice_some(int from, int to, size_t len, unsigned flags) {
  for (;;) {
    ssize_t n = ::splice(from, nullptr, to, nullptr, len, flags);
    if (n >= 0 || errno != EINTR || interrupted()) return n;
  }
}

ssize_t sendfile_some(int to, int from, size_t len) {
  for (;;) {
    ssize_t n = ::sendfile(to, from, nullptr, len);
    if (n >= 0 || errno != EINTR || interrupted()) return n;
  }
}

int send_batch(int fd, mmsghdr* msgs, unsigned count, int flags) {
  for (;;) {
    int n = ::sendmmsg(fd, msgs, count, flags);
    if (n >= 0 || errno != EINTR || interrupted()) return n;
  }
}

int recv_batch(int fd, mmsghdr* msgs, unsigned count, int flags) {
  for (;;) {
    int n = ::recvmmsg(fd, msgs, count, flags, nullptr);
    if (n >= 0 || errno != EINTR || interrupted()) return n;
  }
}

}  // namespace sp
