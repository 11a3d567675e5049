// The mover: how one direction moves its bytes (Source -> socket, socket ->
// Sink), shared by the relay (listen/connect: two directions), send and
// recv (one each). It owns the path choice (read/write, sendfile, splice,
// splice through our own pipe) with the table of measured choices, the
// zero-copy step with its reasoning about EAGAIN ("a file is always
// readable, so the socket is full"), the kernel refusing a pair of fds, a
// reset hidden behind splice's EOF, and EINTR; and the Mover, which runs
// one direction on either path: the copy buffer (allocated on first use,
// filled by one read and drained by as many writes as it takes), what to
// poll for next, byte counts and the time of the last progress. The loops
// around movers (waiting, pacing, stall clocks, reports) stay with their
// callers.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "core/address.h"
#include "core/fd.h"
#include "core/result.h"

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
  MoveResult(Moved w = Moved::Bytes, size_t n = 0, int e = 0, bool dest = false)
      : what(w), bytes(n), err(e), at_dest(dest) {}
  Moved what = Moved::Bytes;
  size_t bytes = 0;
  int err = 0;
  bool at_dest = false;
  std::optional<Error> error;  // Failed, from an end that words its own error (a Source, a Sink)
};

// One zero-copy move of up to `max` bytes from src to dst along `path`
// (not Copy). For SpliceVia, via[1] is the write end and via[0] the read
// end of make_via_pipe(). A splice from a socket that reports EOF is checked
// for the reset behind it (error_behind_splice_eof).
MoveResult move_zero_copy(Path path, int src, int dst, const Fd* via, size_t max);

// Where the copy path reads. read() fills `buf` (max bytes; null when
// needs_buffer() is false), or points `*got` at bytes of its own (a
// Source's buffer, generated data), and says Bytes (got non-empty, or empty
// for a zero-length datagram), Eof, SourceEmpty, Interrupted or Failed.
class ByteReader {
 public:
  virtual ~ByteReader() = default;
  virtual MoveResult read(char* buf, size_t max, std::span<const char>* got) = 0;
  // false: read() brings its own bytes, so the mover allocates no buffer.
  virtual bool needs_buffer() const { return true; }
  // The fd to poll for POLLIN, -1 for none (read() never waits).
  virtual int poll_fd() const = 0;
  // read() may block unless poll said the fd is readable (stdin: a pipe or
  // terminal we must not make non-blocking). Otherwise the mover reads
  // first and polls only after SourceEmpty.
  virtual bool poll_first() const { return false; }
};

// Where the copy path writes: Bytes (how many were taken: maybe fewer than
// offered, never 0), DestFull, Interrupted or Failed (at_dest).
class ByteWriter {
 public:
  virtual ~ByteWriter() = default;
  virtual MoveResult write(std::span<const char> data) = 0;
  virtual int poll_fd() const = 0;  // to poll for POLLOUT
};

// read(2) on an fd (EINTR retried unless SIGINT; EAGAIN is SourceEmpty).
// On a datagram socket a 0 is a zero-length datagram, not an EOF. With
// `discard` (a TCP socket only) the kernel drops the bytes instead of
// copying them out (recv with MSG_TRUNC): they are counted, never seen.
// With `only_from` (a datagram socket) only that sender's datagrams are
// read: a socket connect()ed to its peer still holds what others sent
// before, and those are dropped and counted in *foreign.
class FdReader : public ByteReader {
 public:
  struct Mode {
    bool poll_first = false;
    bool datagram = false;
    bool discard = false;
    const Endpoint* only_from = nullptr;
    uint64_t* foreign = nullptr;  // with only_from: datagrams dropped
  };
  FdReader(int fd, Mode mode) : fd_(fd), mode_(mode) {}
  MoveResult read(char* buf, size_t max, std::span<const char>* got) override;
  int poll_fd() const override { return fd_; }
  bool poll_first() const override { return mode_.poll_first; }

 private:
  ssize_t recv_from_peer(char* buf, size_t max);

  int fd_;
  Mode mode_;
};

// write(2) on an fd through write_some (core/atomicio.h).
class FdWriter : public ByteWriter {
 public:
  explicit FdWriter(int fd) : fd_(fd) {}
  MoveResult write(std::span<const char> data) override;
  int poll_fd() const override { return fd_; }

 private:
  int fd_;
};

// No destination (relay -d, listen --discard): bytes are counted and
// dropped, all of them at once.
class DropWriter : public ByteWriter {
 public:
  MoveResult write(std::span<const char> data) override { return {Moved::Bytes, data.size()}; }
  int poll_fd() const override { return -1; }
};

class Checksum;

// One direction on its path. On a zero-copy path the bytes go from src_fd
// to dst_fd without a user buffer (a SpliceVia pipe is made here, or the
// mover falls back to Copy); on the copy path they go from `reader` through
// a buffer of `chunk` bytes to `writer`. A path the kernel refuses falls
// back to Copy for good, which is why a zero-copy mover needs its copy ends
// too.
class Mover {
 public:
  using Clock = std::chrono::steady_clock;
  Mover(Path path, int src_fd, int dst_fd, ByteReader* reader, ByteWriter* writer, size_t chunk);

  // One step of at most `max` bytes: zero-copy, one move; copy, a read when
  // nothing is pending (if the source may be read now), then a write of
  // what is pending. Bytes: `bytes` reached the destination (0 when a read
  // brought a zero-length datagram or the write is to come).
  MoveResult step(size_t max);
  // Up to `rounds` steps while they move bytes (fairness between the two
  // directions of a relay); the result of the last step, with `bytes` the
  // total moved by all of them.
  MoveResult pump(int rounds, size_t max);

  // What to wait for when a step said SourceEmpty or DestFull: the
  // source's fd for POLLIN or the destination's for POLLOUT; fd -1 when
  // done, or when the source needs no wait (a file, generated data).
  struct Want {
    int fd = -1;
    short events = 0;
  };
  Want want() const;
  // The revents of the fd want() named: marks that side ready.
  void woke(short revents);
  // step() can go on without waiting first.
  bool ready() const;

  void end_source() { eof_ = true; }  // no input at all (stdin closed by -d)
  void stop() { eof_ = true, pending_ = {}; }  // the end (send --duration): what is pending is dropped
  void set_checksum(Checksum* sum) { sum_ = sum; }  // fed every byte written (copy path only)
  // Reads go into `buf` (at least chunk() bytes), shared with other
  // movers, while this one has no buffer of its own. Bytes a write leaves
  // pending are copied into one of its own (allocated then, and read into
  // from then on), so the shared one is free again whenever a step
  // returns. listen --echo/--discard and recv -k share one per server: an
  // idle connection, or one whose echo always goes out whole, holds none.
  void share_buffer(char* buf) { shared_ = buf; }

  Path path() const { return path_; }
  bool eof() const { return eof_; }                     // the source ended
  bool done() const { return eof_ && pending_.empty(); }  // ... and everything is written
  bool blocked() const;                                  // bytes wait for the destination
  size_t pending() const { return pending_.size(); }
  uint64_t taken() const { return taken_; }  // bytes read from the source
  uint64_t moved() const { return moved_; }  // bytes written to the destination
  size_t chunk() const { return chunk_; }     // the most one step copies
  Clock::time_point last_progress() const { return last_progress_; }

 private:
  MoveResult copy_step(size_t max);
  void stash_pending();
  MoveResult zero_copy_step(size_t max);

  Path path_;
  int src_fd_, dst_fd_;
  ByteReader* reader_;
  ByteWriter* writer_;
  size_t chunk_;
  Fd via_[2];
  std::unique_ptr<char[]> buf_;  // allocated by the first copy step, or the first stash
  char* shared_ = nullptr;       // share_buffer()
  std::span<const char> pending_;
  Checksum* sum_ = nullptr;
  bool eof_ = false;
  bool src_ready_ = false;  // poll said the source is readable (poll_first readers)
  bool wait_dst_ = false;   // the last step found the destination full
  uint64_t taken_ = 0, moved_ = 0;
  Clock::time_point last_progress_ = Clock::now();
};

}  // namespace sp
