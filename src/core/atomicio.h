// The one place where partial writes and EINTR are handled (after OpenBSD
// nc's atomicio). Used on non-blocking fds too: it stops at EAGAIN and says
// how much it moved, so callers poll and call again. EINTR is retried unless
// SIGINT arrived: then the call stops (-1/EINTR when nothing moved), so a
// write blocked on a full stdout pipe cannot hold the tool after Ctrl-C.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>

namespace sp {

// Writes up to len bytes, retrying on EINTR and continuing after short
// writes. Returns bytes written (may be < len on EAGAIN); -1 with errno set
// on error when nothing could be written.
ssize_t write_some(int fd, const void* buf, size_t len);

// Writes all len bytes to a blocking fd. Returns false with errno on error.
bool write_all(int fd, const void* buf, size_t len);

// read() retried on EINTR.
ssize_t read_some(int fd, void* buf, size_t len);
// recv() with `flags`, retried on EINTR. With `from`, the sender's
// address too (recvfrom; *from_len is in/out as there).
ssize_t recv_some(int fd, void* buf, size_t len, int flags, sockaddr* from = nullptr, socklen_t* from_len = nullptr);
// One send() retried on EINTR: a datagram goes whole or not at all.
ssize_t send_one(int fd, const void* buf, size_t len, int flags);

// One sendto() retried on EINTR (a reply on an unconnected datagram socket).
ssize_t send_one_to(int fd, const void* buf, size_t len, int flags, const sockaddr* to, socklen_t to_len);

// One splice()/sendfile() (no offsets: the fds' own positions) retried on
// EINTR: the zero-copy paths of the mover.
ssize_t splice_some(int from, int to, size_t len, unsigned flags);
ssize_t sendfile_some(int to, int from, size_t len);

// sendmmsg/recvmmsg retried on EINTR (UDP measured transfers): the number
// of datagrams moved, or -1 with errno.
int send_batch(int fd, mmsghdr* msgs, unsigned count, int flags);
int recv_batch(int fd, mmsghdr* msgs, unsigned count, int flags);

}  // namespace sp
