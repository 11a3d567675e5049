// See mover.h. The paths each case uses, and the measurements that chose
// them, in one table:
//
// bench/transfer.sh --only datapath, 1 GiB, 5 alternating runs of copy
// (SOCKPROBE_ZEROCOPY=0) and zero-copy (=1) on a quiet 2-core machine
// (load < 2); ratios are zero-copy/copy rate and copy/zero-copy CPU
// (user+sys of both ends), so above 1 means zero-copy won. Runs on the same
// machine under build load (4-10) blurred these to ~1.0 either way: trust
// quiet runs.
//   into the socket, regular file:  sendfile(). Into recv --discard: rate
//                         2.71 and 2.21, cpu 2.15 and 1.83; into recv -o:
//                         rate 1.14, cpu 1.04.
//   into the socket, pipe/stdin:    splice(pipe -> socket): rate 1.38, 1.24;
//                         cpu 1.13, 1.06.
//   out of the socket, pipe:        splice(socket -> pipe): rate 1.15, 0.98;
//                         cpu 1.22, 1.21.
//   out of the socket, regular file (recv -o): read + write. splice via a
//                         pipe: rate 0.94, 1.04; cpu 0.99, 1.09 -- a tie, so
//                         the simpler path (PathPolicy::splice_to_sink off).
//   out of the socket, /dev/null or a file (the relay, bench/relay.sh):
//                         through our own pipe costs about half the CPU of
//                         read()+write(), the copy to user space being most
//                         of it (splice_to_sink on).
//   recv --discard (not here: transfer.cc): recv(MSG_TRUNC) on TCP.
// Decision: the two "socket -> file" rows disagree (relay: SpliceVia wins;
// recv -o: a tie) and are kept as measured until one A/B run decides both.
// Pipes on either side are grown to 1 MiB whichever path is taken: a 64 KiB
// pipe costs the copy path as many wakeups as the splice path. A checksum
// needs the bytes in user space, so it always copies.
#include "core/mover.h"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>

#include <cerrno>

#include "core/signals.h"
#include "core/zerocopy.h"

namespace sp {
namespace {

// What Auto chooses, per case (the table above).
constexpr bool kAutoSendFile = true;
constexpr bool kAutoSplicePipeIn = true;
constexpr bool kAutoSplicePipeOut = true;

bool allowed(ZeroCopy mode, bool auto_choice) {
  return mode == ZeroCopy::On || (mode == ZeroCopy::Auto && auto_choice);
}

// The kernel refuses this pair of fds.
bool refused(int err) { return err == EINVAL || err == ENOSYS || err == EOPNOTSUPP; }

ssize_t one_move(Path path, int src, int dst, const Fd* via, size_t max) {
  switch (path) {
    case Path::SendFile: return ::sendfile(dst, src, nullptr, max);
    case Path::SpliceVia: return splice_via(src, via[1].get(), via[0].get(), dst, max);
    default: return ::splice(src, nullptr, dst, nullptr, max, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  }
}

}  // namespace

Path path_into_socket(int local_fd, const PathPolicy& policy) {
  int type = file_type(local_fd);
  if (type == S_IFIFO) grow_pipe(local_fd);
  if (policy.checksum) return Path::Copy;
  if (type == S_IFREG && allowed(policy.mode, kAutoSendFile)) return Path::SendFile;
  if (type == S_IFIFO && allowed(policy.mode, kAutoSplicePipeIn)) return Path::Splice;
  return Path::Copy;
}

Path path_out_of_socket(int local_fd, const PathPolicy& policy) {
  int type = file_type(local_fd);
  if (type == S_IFIFO) grow_pipe(local_fd);
  if (policy.checksum) return Path::Copy;
  if (type == S_IFIFO && allowed(policy.mode, kAutoSplicePipeOut)) return Path::Splice;
  if (never_blocking_sink(local_fd) && allowed(policy.mode, policy.splice_to_sink)) return Path::SpliceVia;
  return Path::Copy;
}

MoveResult move_zero_copy(Path path, int src, int dst, const Fd* via, size_t max) {
  // Asked only off the fast path (an EOF or an error): one fstat.
  auto from_socket = [&] { return path == Path::SpliceVia || file_type(src) == S_IFSOCK; };
  for (;;) {
    ssize_t n = one_move(path, src, dst, via, max);
    if (n > 0) return {Moved::Bytes, static_cast<size_t>(n)};
    if (n == 0) {
      // splice() reports a reset as an EOF (zerocopy.h).
      if (int err = from_socket() ? error_behind_splice_eof(src) : 0; err != 0) return {Moved::Failed, 0, err, false};
      return {Moved::Eof};
    }
    int err = errno;
    if (n == -2) return {Moved::Failed, 0, err, true};  // splice_via could not write dst
    if (err == EINTR) {
      if (interrupted()) return {Moved::Interrupted};
      continue;
    }
    if (err == EAGAIN) {
      // A file is always readable, so the socket is full; a pipe or socket
      // with bytes waiting means the destination is; else the source is empty.
      // SpliceVia's destination never makes us wait.
      if (path == Path::SendFile) return {Moved::DestFull};
      if (path != Path::SpliceVia && readable_bytes(src) > 0) return {Moved::DestFull};
      return {Moved::SourceEmpty};
    }
    if (refused(err)) return {Moved::Refused, 0, err};
    // Into a socket every error is the socket's (the write); out of one,
    // EPIPE is our output's reader gone, anything else the socket's read.
    bool at_dest = from_socket() ? err == EPIPE : true;
    return {Moved::Failed, 0, err, at_dest};
  }
}

}  // namespace sp
