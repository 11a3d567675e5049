// Zero-copy building blocks shared by the relay (listen/connect) and the
// one-way transfers (send/recv): which kind of fd is on the local side, and
// the splice()/sendfile() moves that skip the user-space buffer. Whether a
// case uses them is decided by measurement, in the table atop mover.cc; the
// syscalls' quirks (EAGAIN meaning "one of the two sides", pipe sizes) are
// handled here once.
#pragma once

#include <sys/types.h>

#include <cstddef>

#include "core/fd.h"

namespace sp {

// The largest move per syscall, and the size pipes are grown to.
inline constexpr size_t kZeroCopyChunk = 1 << 20;

// S_IFREG, S_IFIFO, ... of an fd; 0 when it cannot be told.
int file_type(int fd);

// Sinks that take splice() and never make a writer wait: regular files
// opened without O_APPEND, and /dev/null (char device 1:3).
bool never_blocking_sink(int fd);

// /dev/null (char device 1:3).
bool is_dev_null(int fd);

// Bytes waiting to be read in a pipe or socket (FIONREAD); 0 on error.
int readable_bytes(int fd);

// A spliced pipe fills its 16 default slots with socket fragments, so the
// reader on the other end wakes for every few KiB; growing it to 1 MiB made
// the pipe case of bench/relay.sh about 3x faster. Only grows, best effort
// (unprivileged users are capped by /proc/sys/fs/pipe-max-size).
void grow_pipe(int fd);

// A private pipe for socket -> pipe -> file/dev-null moves, non-blocking,
// grown to kZeroCopyChunk. Returns false (and leaves `ends` empty) on error.
bool make_via_pipe(Fd ends[2]);

// socket -> our pipe (via_in) -> out (a file or /dev/null, which never makes
// us wait): everything taken from the socket is written out before
// returning. Returns the bytes moved, 0 at the socket's EOF, -1 with errno
// from the socket side (EAGAIN: nothing to read), or -2 with errno when
// writing to `out` failed.
ssize_t splice_via(int net_fd, int via_in, int via_out, int out, size_t max);

// splice() from a socket reports a reset connection as an EOF (it looks at
// the "done" flag before the error), where read() says ECONNRESET. Called
// when a splice returned 0: the socket's pending error (SO_ERROR, which
// also clears it), or 0 for a real EOF. EPIPE counts as 0: a reset after
// the peer's FIN, whose EOF this is.
int error_behind_splice_eof(int net_fd);

}  // namespace sp
