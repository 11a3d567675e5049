// The relay loop (see relay.h). Two directions, each a buffer that is filled
// by one read and drained by as many writes as it takes:
//   up:   in_fd  -> buffer -> net_fd
//   down: net_fd -> buffer -> out_fd
// After every read the matching write is tried at once (the socket is
// non-blocking, so this costs nothing when its buffer is full) instead of
// waiting for one more poll round: one poll per chunk instead of two.
//
// Zero-copy where the kernel allows it (measured with bench/relay.sh): a
// pipe on stdin is spliced straight into the socket, a regular file is
// sent with sendfile(), and the socket is spliced straight into a pipe on
// stdout. No user buffer is involved then, so partial transfers leave the
// rest where it was (in the pipe, the file or the socket). If the kernel
// refuses (EINVAL, e.g. an odd socket type), that direction falls back to
// read/write for good.
//
// Stall watch: the up direction is "blocked" while input bytes wait for the
// socket (a user buffer with pending bytes, or a zero-copy source that found
// the socket full). Blocked with no byte sent for stall_timeout is a stall:
// the kernel's numbers (SIOCOUTQ, TCP_INFO snd_wnd, retransmits) say why.
// An idle input is never a stall: nothing waits then.
#include "core/relay.h"

#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>
#include <string_view>

#include <fmt/format.h>

#include "core/atomicio.h"
#include "core/delivery.h"
#include "core/mover.h"
#include "core/deadline.h"
#include "core/fd.h"
#include "core/output.h"
#include "core/signals.h"
#include "core/stall.h"
#include "core/sock.h"
#include "core/wait.h"
#include "core/zerocopy.h"

namespace sp {
namespace {

struct Direction {
  Path path = Path::Copy;
  bool wait_dst = false;  // zero-copy: the destination was full, poll it
  std::unique_ptr<char[]> buf;
  size_t size = 0;
  size_t start = 0, end = 0;  // pending bytes are [start, end)
  bool eof = false;           // the reading side reached EOF
  bool done = false;          // EOF and everything written
  size_t pending() const { return end - start; }
  void fill(size_t n) {
    start = 0;
    end = n;
  }
};

using Clock = std::chrono::steady_clock;
const std::string kPeer = "peer";

// One relay in progress: the fds, the two directions and the counters.
class Relay {
 public:
  Relay(int net_fd, int in_fd, int out_fd, const RelayOptions& opts, RelayStats* stats)
      : net_(net_fd), in_(in_fd), out_(out_fd), opts_(opts), stats_(stats), stall_(opts.stall_timeout) {
    // A datagram is read whole: 65507 is the largest UDP payload over IPv4.
    up_.size = opts.datagram ? std::min<size_t>(opts.buffer_size, 65507) : opts.buffer_size;
    up_.buf.reset(new char[up_.size]);
    down_.size = opts.buffer_size;
    down_.buf.reset(new char[down_.size]);
  }

  Status run();

 private:
  Status loop();
  bool up_blocked() const;
  Deadline reply_deadline() const;
  Status output_error(int err);
  const std::string& target() const { return opts_.target.empty() ? kPeer : opts_.target; }
  Status watch_stall();
  void choose_paths();
  uint64_t input_left() const;
  Status move_up_zero_copy();
  Status move_down_zero_copy();
  bool finished() const;
  Deadline wake_deadline() const;
  Status read_input();
  Status flush_up();
  Status read_net();
  Status flush_down();
  void after_up_progress();
  void end_output();
  Status confirm_delivery();
  Error net_error(const char* op, int err) const;

  int net_, in_, out_;
  const RelayOptions& opts_;
  RelayStats* stats_;
  Direction up_, down_;
  Fd via_[2];  // SpliceVia: our pipe between the socket and out_
  OutputWriter output_;  // out_, written without blocking (core/output.h)
  Clock::time_point reply_since_;  // datagrams: input's EOF or the last reply
  Clock::time_point last_activity_ = Clock::now();
  StallClock stall_;  // see the top of this file
  uint64_t sent_seen_ = 0;
  bool peer_eof_first_ = false;  // the peer's EOF came while input was still open
  bool output_ended_ = false;    // end_output() done
};

// Peer's EOF, all its bytes delivered: done once our input is sent too.
// Decision: a peer's EOF may be a half-close (it still reads), so by default
// the input goes on to its own EOF, as OpenBSD nc's client does; stopping
// early dropped the rest of a stdin file with exit 0 (`listen </dev/null`
// sends its FIN at once). PeerEof::Stop (--stop-on-peer-eof, or a terminal
// on stdin) ends the relay at the peer's EOF and drops what is unsent; the
// front-end says how much (RelayStats::input_left).
bool Relay::finished() const {
  if (stats_->output_closed) return true;
  if (up_.done && opts_.close_on_eof) return true;
  if (auto end = reply_deadline(); end && Clock::now() >= *end) return true;
  if (!down_.done) return false;
  return up_.done || opts_.on_peer_eof == PeerEof::Stop;
}

// "write to 127.0.0.1 port 4242 (tcp): Connection reset by peer". A write
// refused after the peer's EOF means the peer had closed, not half-closed:
// say so, since the relay went on sending only because of that EOF.
Error Relay::net_error(const char* op, int err) const {
  std::string hint;
  if (down_.eof && (err == EPIPE || err == ECONNRESET) && std::string_view(op) == "write to") {
    hint = " (the peer closed the connection before reading all of the input)";
  }
  return system_error(fmt::format("{} {}: {}{}", op, target(), errno_text(err), hint));
}

bool Relay::up_blocked() const {
  if (opts_.datagram || up_.done) return false;
  return up_.path == Path::Copy ? up_.pending() > 0 : up_.wait_dst;
}

// Called after every round: restarts the clock on progress or when bytes
// start waiting, and reports a stall once per stall.
Status Relay::watch_stall() {
  auto now = Clock::now();
  stall_.update(up_blocked(), stats_->bytes_sent != sent_seen_, now);
  sent_seen_ = stats_->bytes_sent;
  if (!stall_.due(now)) return {};
  StallSnapshot snap = take_stall_snapshot(net_);
  std::string why = explain_send_stall(snap, stall_.seconds(now));
  stall_.mark_reported();
  if (opts_.on_stall) opts_.on_stall(snap, why, target());
  if (!opts_.stall_is_error) return {};
  return timeout_error(fmt::format("write to {}: {}", target(), why));
}

// Datagram clients after input's EOF: the end of the wait for replies.
Deadline Relay::reply_deadline() const {
  if (!opts_.datagram || !up_.done || opts_.reply_wait.count() <= 0) return std::nullopt;
  return reply_since_ + opts_.reply_wait;
}

// The reader of our output left: done, with success (see RelayStats).
// Anything else is an error.
Status Relay::output_error(int err) {
  if (err == EPIPE) {
    stats_->output_closed = true;
    return {};
  }
  return system_error(fmt::format("write to output: {}", errno_text(err)));
}

// The nearest of the idle, stall and reply deadlines.
Deadline Relay::wake_deadline() const {
  Deadline deadline = earlier(stall_.deadline(), reply_deadline());
  if (opts_.idle_timeout.count() > 0) deadline = earlier(deadline, last_activity_ + opts_.idle_timeout);
  return deadline;
}

Status Relay::read_input() {
  ssize_t r = read_some(in_, up_.buf.get(), up_.size);
  if (r < 0) {
    if (errno == EAGAIN) return {};
    if (errno == EINTR) return interrupted_error();
    return system_error(fmt::format("read from input: {}", errno_text(errno)));
  }
  if (r == 0) {
    up_.eof = true;
  } else {
    up_.fill(static_cast<size_t>(r));
    last_activity_ = Clock::now();
  }
  return {};
}

// Input EOF and everything sent: FIN to the peer (nc -N), unless datagrams.
void Relay::after_up_progress() {
  if (up_.eof && !up_.done && up_.pending() == 0) {
    up_.done = true;
    reply_since_ = Clock::now();
    if (!opts_.datagram && !opts_.close_on_eof) ::shutdown(net_, SHUT_WR);
  }
}

Status Relay::flush_up() {
  if (up_.pending() > 0) {
    ssize_t w;
    if (opts_.datagram) {
      do w = ::send(net_, up_.buf.get() + up_.start, up_.pending(), 0);
      while (w < 0 && errno == EINTR && !interrupted());
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return {};  // poll for POLLOUT
      if (w >= 0) w = static_cast<ssize_t>(up_.pending());  // a datagram goes whole or not at all
    } else {
      w = write_some(net_, up_.buf.get() + up_.start, up_.pending());
    }
    if (w < 0) return net_error("write to", errno);
    up_.start += static_cast<size_t>(w);
    stats_->bytes_sent += static_cast<uint64_t>(w);
    if (w > 0) last_activity_ = Clock::now();
  }
  after_up_progress();
  return {};
}

Status Relay::read_net() {
  ssize_t r = read_some(net_, down_.buf.get(), down_.size);
  if (r < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {};
    return net_error("read from", errno);
  }
  if (r == 0) {
    // A zero-length datagram is not an EOF: UDP has none.
    if (!opts_.datagram) {
      down_.eof = true;
      if (!up_.done) peer_eof_first_ = true;
    }
  } else {
    stats_->bytes_received += static_cast<uint64_t>(r);
    last_activity_ = reply_since_ = Clock::now();
    if (out_ >= 0) down_.fill(static_cast<size_t>(r));
  }
  return {};
}

// out_fd is usually stdout, written without blocking (core/output.h):
// a full one is a poll wait like a full socket.
Status Relay::flush_down() {
  while (down_.pending() > 0) {
    ssize_t w = output_.write(down_.buf.get() + down_.start, down_.pending());
    if (w < 0) {
      if (errno == EAGAIN) break;
      return output_error(errno);
    }
    down_.start += static_cast<size_t>(w);
    last_activity_ = Clock::now();
  }
  if (down_.eof && down_.pending() == 0) down_.done = true;
  return {};
}

// Zero-copy only for byte streams, and only with a pipe or a regular file
// on the local side (a terminal goes through the buffer); the choices and
// their measurements are in core/mover.cc.
void Relay::choose_paths() {
  if (opts_.datagram) return;
  PathPolicy policy;
  policy.splice_to_sink = true;  // bench/relay.sh: half the CPU of read()+write() into /dev/null
  if (in_ >= 0) up_.path = path_into_socket(in_, policy);
  if (out_ >= 0) down_.path = path_out_of_socket(out_, policy);
  if (down_.path == Path::SpliceVia && !make_via_pipe(via_)) down_.path = Path::Copy;
}

// in -> socket without a user buffer. Moves up to 16 chunks per wakeup
// (fairness with the other direction); stops when a side is not ready and
// remembers which, so that the next poll waits for the right fd.
Status Relay::move_up_zero_copy() {
  up_.wait_dst = false;
  for (int round = 0; round < 16; ++round) {
    MoveResult m = move_zero_copy(up_.path, in_, net_, nullptr, kZeroCopyChunk);
    switch (m.what) {
      case Moved::Bytes:
        stats_->bytes_sent += m.bytes;
        last_activity_ = Clock::now();
        continue;
      case Moved::Eof:
        up_.eof = true;
        after_up_progress();
        return {};
      case Moved::DestFull: up_.wait_dst = true; return {};
      case Moved::SourceEmpty: return {};
      case Moved::Refused: up_.path = Path::Copy; return {};  // not for this pair of fds: copy from now on
      case Moved::Interrupted: return interrupted_error();
      case Moved::Failed: return net_error("write to", m.err);
    }
  }
  return {};
}

// socket -> stdout without a user buffer (see move_up_zero_copy).
Status Relay::move_down_zero_copy() {
  down_.wait_dst = false;
  for (int round = 0; round < 16; ++round) {
    MoveResult m = move_zero_copy(down_.path, net_, out_, via_, kZeroCopyChunk);
    switch (m.what) {
      case Moved::Bytes:
        stats_->bytes_received += m.bytes;
        last_activity_ = Clock::now();
        continue;
      case Moved::Eof:
        down_.eof = down_.done = true;
        if (!up_.done) peer_eof_first_ = true;
        return {};
      case Moved::DestFull: down_.wait_dst = true; return {};  // data waits: the pipe is full
      case Moved::SourceEmpty: return {};
      case Moved::Refused: down_.path = Path::Copy; return {};
      case Moved::Interrupted: return interrupted_error();
      case Moved::Failed: return m.at_dest ? output_error(m.err) : net_error("read from", m.err);
    }
  }
  return {};
}

uint64_t Relay::input_left() const {
  if (up_.eof || in_ < 0) return 0;
  uint64_t left = up_.pending();
  struct stat st;
  if (::fstat(in_, &st) != 0) return left;
  if (S_ISFIFO(st.st_mode)) return left + static_cast<uint64_t>(readable_bytes(in_));
  if (S_ISREG(st.st_mode)) {
    off_t pos = ::lseek(in_, 0, SEEK_CUR);
    if (pos >= 0 && pos < st.st_size) left += static_cast<uint64_t>(st.st_size - pos);
  }
  return left;
}

Status Relay::run() {
  Status st = loop();
  if (st.ok() && down_.done && !up_.done) stats_->input_left = input_left();
  if (st.ok() && up_.done && in_ >= 0 && !opts_.datagram && !opts_.close_on_eof) st = confirm_delivery();
  return st;
}

// The peer's EOF is all the output there will be: while input goes on to
// its own EOF (PeerEof::KeepSending), the reader of a pipe or socket on
// stdout (`cmd | sockprobe connect ... | consumer`, a coprocess) gets its
// EOF now instead of waiting for our input to end, as nc closes its stdout
// when the network side is done. /dev/null takes the fd's place so nothing
// else lands on the number.
void Relay::end_output() {
  if (output_ended_ || out_ < 0) return;
  output_ended_ = true;
  output_.close_own();
  int type = file_type(out_);
  if (type != S_IFIFO && type != S_IFSOCK) return;
  int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null < 0) return;
  ::dup2(null, out_);
  ::close(null);
}

// Input sent to its EOF: exit 0 must mean delivered, so wait (TCP only)
// until the peer's kernel acknowledged everything or a reset says it will
// not (core/delivery.h). After the peer's EOF this is where a peer that
// closed rather than half-closed is found out. Bounded by the stall clock.
Status Relay::confirm_delivery() {
  AckWaitOptions ack;
  ack.stall_timeout = opts_.stall_timeout;
  ack.stall_is_error = opts_.stall_is_error;
  ack.target = target();
  ack.stall_prefix = fmt::format("write to {}: ", ack.target);
  ack.on_stall = [this](const StallSnapshot& snap, const std::string& why) {
    if (opts_.on_stall) opts_.on_stall(snap, why, target());
  };
  ack.socket_error = [this](int err) { return net_error("write to", err); };
  return wait_acknowledged(net_, ack);
}

Status Relay::loop() {
  fcntl(net_, F_SETFL, fcntl(net_, F_GETFL) | O_NONBLOCK);
  choose_paths();
  if (out_ >= 0) output_ = OutputWriter(out_);
  if (in_ < 0) {
    up_.eof = true;
    after_up_progress();
  }
  while (!finished()) {
    enum { kIn, kOut, kNet, kCount };
    pollfd pfd[kCount] = {{-1, 0, 0}, {-1, 0, 0}, {-1, 0, 0}};
    short net_events = 0;
    bool up_zc = up_.path != Path::Copy, down_zc = down_.path != Path::Copy;
    if (up_zc) {
      if (!up_.eof) {
        if (up_.wait_dst) net_events |= POLLOUT;
        else pfd[kIn] = {in_, POLLIN, 0};
      }
    } else {
      if (!up_.eof && up_.pending() == 0) pfd[kIn] = {in_, POLLIN, 0};
      if (up_.pending() > 0) net_events |= POLLOUT;
    }
    if (down_zc) {
      if (!down_.eof) {
        if (down_.wait_dst) pfd[kOut] = {out_, POLLOUT, 0};
        else net_events |= POLLIN;
      }
    } else {
      if (down_.pending() > 0) pfd[kOut] = {output_.poll_fd(), POLLOUT, 0};
      if (!down_.eof && down_.pending() == 0) net_events |= POLLIN;
    }
    // Not interested in the socket (peer EOF seen, nothing to send): leave
    // it out, or its POLLHUP would wake us in a loop.
    if (net_events != 0) pfd[kNet] = {net_, net_events, 0};

    auto w = wait_fds(pfd, wake_deadline());
    if (!w.ok()) return w.take_error();
    if (*w == Wake::Interrupted) return interrupted_error();
    if (*w == Wake::Timeout) {
      if (auto s = watch_stall(); !s) return s;
      if (opts_.idle_timeout.count() > 0 && Clock::now() - last_activity_ >= opts_.idle_timeout) {
        return timeout_error(fmt::format("idle for {}: no data in either direction",
                                         human_duration(std::chrono::duration<double>(opts_.idle_timeout).count())));
      }
      continue;
    }
    short net_rev = pfd[kNet].revents;
    // The peer's bytes (and EOF) first: a write refused right after the
    // peer's EOF is then known to follow it (see net_error).
    if (down_zc) {
      bool net_ready = !down_.wait_dst && (net_rev & (POLLIN | POLLERR | POLLHUP));
      if (net_ready || pfd[kOut].revents != 0) {
        if (auto s = move_down_zero_copy(); !s) return s;
      }
    } else if (net_rev & (POLLIN | POLLERR | POLLHUP) && !down_.eof && down_.pending() == 0) {
      if (auto s = read_net(); !s) return s;
      if (auto s = flush_down(); !s) return s;
    } else if (pfd[kOut].revents != 0) {
      if (auto s = flush_down(); !s) return s;
    }
    if (up_zc) {
      if (pfd[kIn].revents != 0 || (up_.wait_dst && (net_rev & (POLLOUT | POLLERR | POLLHUP)))) {
        if (auto s = move_up_zero_copy(); !s) return s;
      }
    } else if (pfd[kIn].revents != 0) {
      if (auto s = read_input(); !s) return s;
      if (auto s = flush_up(); !s) return s;
    } else if (net_rev & (POLLOUT | POLLERR | POLLHUP)) {
      if (auto s = flush_up(); !s) return s;
    }
    if (interrupted()) return interrupted_error();
    if (down_.done && !up_.done) end_output();
    if (auto s = watch_stall(); !s) return s;
  }
  return {};
}

}  // namespace

Status readwrite(int net_fd, int in_fd, int out_fd, const RelayOptions& opts, RelayStats* stats) {
  Relay relay(net_fd, in_fd, out_fd, opts, stats);
  return relay.run();
}

}  // namespace sp
