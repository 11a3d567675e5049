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
//   out of the socket, regular file (recv -o): read + write in 4 MiB
//                         chunks. splice via a pipe: rate 0.94, 1.04; cpu
//                         0.99, 1.09 -- a tie; 2026-12-07 (load 2, same run
//                         as the relay rows): rate 0.72, cpu 0.68 -- copy
//                         wins (PathPolicy::splice_to_sink off).
//   out of the socket, regular file (the relay, `listen >FILE`): splice
//                         via our own pipe. 2026-12-07, same run: rate
//                         0.98, cpu 1.04 (a tie); old (splice) vs new (copy)
//                         binary alternating, 5 runs each at load 4: splice
//                         0.66-0.93 s CPU, copy 0.92-1.05 (splice_to_sink
//                         on). The relay copies through its 256 KiB buffer,
//                         recv -o through 4 MiB: the likely reason the two
//                         rows differ; unmeasured.
//   out of the socket, /dev/null (relay and recv alike): recv(MSG_TRUNC)
//                         on TCP, the kernel drops the bytes. Relay A/B
//                         against the splice it replaced: 264-278 ms vs
//                         267-276 ms, CPU equal (the sender's dominates);
//                         chosen as the one rule for both front-ends.
//   recv --discard (not here: transfer.cc): recv(MSG_TRUNC) on TCP.
// Pipes on either side are grown to 1 MiB whichever path is taken: a 64 KiB
// pipe costs the copy path as many wakeups as the splice path. A checksum
// needs the bytes in user space, so it always copies.
#include "core/mover.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "core/atomicio.h"
#include "core/checksum.h"
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
    case Path::SendFile: return sendfile_some(dst, src, max);
    case Path::SpliceVia: return splice_via(src, via[1].get(), via[0].get(), dst, max);
    default: return splice_some(src, dst, max, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
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
  ssize_t n = one_move(path, src, dst, via, max);
  if (n > 0) return {Moved::Bytes, static_cast<size_t>(n)};
  if (n == 0) {
    // splice() reports a reset as an EOF (zerocopy.h).
    if (int err = from_socket() ? error_behind_splice_eof(src) : 0; err != 0) return {Moved::Failed, 0, err, false};
    return {Moved::Eof};
  }
  int err = errno;
  if (n == -2) return {Moved::Failed, 0, err, true};  // splice_via could not write dst
  if (err == EINTR) return {Moved::Interrupted};  // atomicio retries all but SIGINT's
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

// The datagrams of other senders are dropped, at most kForeignPerRead per
// call so a flood of them cannot hold the loop: after that the caller sees
// EAGAIN, polls (the socket is still readable) and comes back.
constexpr int kForeignPerRead = 64;

ssize_t FdReader::recv_from_peer(char* buf, size_t max) {
  for (int i = 0; i < kForeignPerRead; ++i) {
    Endpoint from;
    from.len = sizeof from.addr;
    ssize_t n = recv_some(fd_, buf, max, 0, from.sa(), &from.len);
    if (n < 0 || same_endpoint(from, *mode_.only_from)) return n;
    if (mode_.foreign) ++*mode_.foreign;
  }
  errno = EAGAIN;
  return -1;
}

MoveResult FdReader::read(char* buf, size_t max, std::span<const char>* got) {
  ssize_t n = mode_.only_from ? recv_from_peer(buf, max)
              : mode_.discard ? recv_some(fd_, buf, max, MSG_TRUNC)
                              : read_some(fd_, buf, max);
  if (n > 0) {
    *got = std::span<const char>(buf, static_cast<size_t>(n));
    return {Moved::Bytes, static_cast<size_t>(n)};
  }
  if (n == 0) {
    *got = {};
    return mode_.datagram ? MoveResult{Moved::Bytes, 0} : MoveResult{Moved::Eof};
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK) return {Moved::SourceEmpty};
  if (errno == EINTR) return {Moved::Interrupted};  // read_some retries all but SIGINT's
  return {Moved::Failed, 0, errno, false};
}

MoveResult FdWriter::write(std::span<const char> data) {
  ssize_t n = write_some(fd_, data.data(), data.size());
  if (n > 0) return {Moved::Bytes, static_cast<size_t>(n)};
  if (n == 0) return {Moved::DestFull};
  if (errno == EINTR) return {Moved::Interrupted};
  return {Moved::Failed, 0, errno, true};
}

Mover::Mover(Path path, int src_fd, int dst_fd, ByteReader* reader, ByteWriter* writer, size_t chunk)
    : path_(path), src_fd_(src_fd), dst_fd_(dst_fd), reader_(reader), writer_(writer), chunk_(chunk) {
  if (path_ == Path::SpliceVia && !make_via_pipe(via_)) path_ = Path::Copy;
  // A reader with no fd to poll (a file, generated data) is always ready.
  src_ready_ = reader_ != nullptr && reader_->poll_fd() < 0;
}

bool Mover::blocked() const {
  if (done()) return false;
  return path_ == Path::Copy ? !pending_.empty() : wait_dst_;
}

Mover::Want Mover::want() const {
  if (done()) return {};
  if (path_ != Path::Copy) {
    if (wait_dst_) return {dst_fd_, POLLOUT};
    return {src_fd_, POLLIN};
  }
  if (!pending_.empty()) return {writer_->poll_fd(), POLLOUT};
  return {reader_->poll_fd(), POLLIN};  // fd -1: always readable
}

bool Mover::ready() const {
  if (done() || wait_dst_) return false;
  if (path_ != Path::Copy || !pending_.empty()) return true;
  return !eof_ && (src_ready_ || !reader_->poll_first());
}

void Mover::woke(short revents) {
  if (revents == 0) return;
  if (path_ == Path::Copy && pending_.empty()) src_ready_ = true;
  wait_dst_ = false;
}

MoveResult Mover::step(size_t max) {
  if (path_ != Path::Copy) {
    bool waited_for_dst = wait_dst_;
    MoveResult m = zero_copy_step(max);
    if (m.what != Moved::Refused) return m;
    // Nothing was moved: copy from now on. A reader that must be polled
    // first is ready unless what woke us was the destination.
    path_ = Path::Copy;
    src_ready_ = !waited_for_dst || reader_->poll_fd() < 0;
  }
  return copy_step(max);
}

MoveResult Mover::zero_copy_step(size_t max) {
  MoveResult m = move_zero_copy(path_, src_fd_, dst_fd_, via_, max);
  wait_dst_ = m.what == Moved::DestFull;
  if (m.what == Moved::Eof) eof_ = true;
  if (m.what == Moved::Bytes) {
    taken_ += m.bytes;
    moved_ += m.bytes;
    last_progress_ = Clock::now();
  }
  return m;
}

MoveResult Mover::copy_step(size_t max) {
  if (pending_.empty()) {
    if (eof_) return {Moved::Eof};
    if (!src_ready_ && reader_->poll_first()) return {Moved::SourceEmpty};
    char* buf = buf_ ? buf_.get() : shared_;
    if (!buf && reader_->needs_buffer()) {
      buf_.reset(new char[chunk_]);
      buf = buf_.get();
    }
    std::span<const char> got;
    MoveResult r = reader_->read(buf, std::min(max, chunk_), &got);
    src_ready_ = reader_->poll_fd() < 0;
    if (r.what == Moved::Eof) eof_ = true;
    if (r.what != Moved::Bytes) return r;
    pending_ = got;
    taken_ += got.size();
    last_progress_ = Clock::now();
    if (pending_.empty()) return {Moved::Bytes, 0};  // a zero-length datagram
  }
  MoveResult w = writer_->write(pending_);
  wait_dst_ = w.what == Moved::DestFull;
  if (w.what == Moved::Bytes) {
    if (sum_) sum_->update(pending_.data(), w.bytes);
    pending_ = pending_.subspan(w.bytes);
    moved_ += w.bytes;
    last_progress_ = Clock::now();
  }
  if (!pending_.empty() && !buf_ && shared_) stash_pending();
  return w;
}

// What is left in the shared buffer moves into this mover's own.
void Mover::stash_pending() {
  buf_.reset(new char[chunk_]);
  std::copy(pending_.begin(), pending_.end(), buf_.get());
  pending_ = std::span<const char>(buf_.get(), pending_.size());
}

MoveResult Mover::pump(int rounds, size_t max) {
  size_t total = 0;
  MoveResult m;
  for (int i = 0; i < rounds; ++i) {
    m = step(max);
    if (m.what != Moved::Bytes) break;
    total += m.bytes;
    if (!ready()) break;  // the next step would have to wait
  }
  m.bytes = total;
  return m;
}

}  // namespace sp
