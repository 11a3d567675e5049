// See output.h.
#include "core/output.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "core/zerocopy.h"

namespace sp {

OutputWriter::OutputWriter(int fd) : fd_(fd) {
  int type = file_type(fd);
  if (type == S_IFSOCK) {
    socket_ = true;
    return;
  }
  if (type == S_IFREG || is_dev_null(fd)) return;
  if ((::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0) return;  // already ours to poll
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  int own = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (own >= 0) {
    own_.reset(own);
    return;
  }
  may_block_ = true;
}

// EINTR (a blocking write when the reopen failed) comes back as EAGAIN:
// the caller's wait, the one place EINTR is retried, looks at SIGINT.
ssize_t OutputWriter::write(const char* data, size_t len) {
  ssize_t n = socket_ ? ::send(fd_, data, len, MSG_DONTWAIT | MSG_NOSIGNAL) : ::write(poll_fd(), data, len);
  if (n < 0 && (errno == EWOULDBLOCK || errno == EINTR)) errno = EAGAIN;
  return n;
}

}  // namespace sp
