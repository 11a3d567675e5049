// The relay (see relay.h): two movers (core/mover.h) and a wait.
//   up:   in_fd  -> net_fd
//   down: net_fd -> out_fd
// Each mover owns its path (zero-copy where the kernel allows it, measured
// in core/mover.cc; a refusal falls back to read/write for good), its copy
// buffer and what it waits for; the relay polls what both want, steps the
// ones that woke (the peer's side first), and decides when it is over.
// After every read the matching write is tried at once (the socket is
// non-blocking, so this costs nothing when its buffer is full) instead of
// waiting for one more poll round.
//
// Stall watch: the up direction is "blocked" while input bytes wait for the
// socket (a copy buffer with pending bytes, or a zero-copy source that found
// the socket full). Blocked with no byte sent for stall_timeout is a stall:
// the kernel's numbers (SIOCOUTQ, TCP_INFO snd_wnd, retransmits) say why.
// An idle input is never a stall: nothing waits then.
#include "core/relay.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <string_view>

#include <fmt/format.h>

#include "core/atomicio.h"
#include "core/delivery.h"
#include "core/mover.h"
#include "core/deadline.h"
#include "core/output.h"
#include "core/signals.h"
#include "core/stall.h"
#include "core/sock.h"
#include "core/wait.h"
#include "core/zerocopy.h"

namespace sp {
namespace {

using Clock = std::chrono::steady_clock;
const std::string kPeer = "peer";

// A datagram goes whole or not at all.
class DatagramWriter : public ByteWriter {
 public:
  explicit DatagramWriter(int fd) : fd_(fd) {}
  MoveResult write(std::span<const char> data) override {
    ssize_t w = send_one(fd_, data.data(), data.size(), 0);
    if (w >= 0) return {Moved::Bytes, data.size()};
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {Moved::DestFull};
    if (errno == EINTR) return {Moved::Interrupted};
    return {Moved::Failed, 0, errno, true};
  }
  int poll_fd() const override { return fd_; }

 private:
  int fd_;
};

// Our stdout, written without blocking (core/output.h).
class OutputEnd : public ByteWriter {
 public:
  explicit OutputEnd(OutputWriter* w) : w_(w) {}
  MoveResult write(std::span<const char> data) override {
    ssize_t n = w_->write(data.data(), data.size());
    if (n > 0) return {Moved::Bytes, static_cast<size_t>(n)};
    if (n == 0 || errno == EAGAIN) return {Moved::DestFull};
    return {Moved::Failed, 0, errno, true};
  }
  int poll_fd() const override { return w_->poll_fd(); }

 private:
  OutputWriter* w_;
};

// Zero-copy only for byte streams, and only with a pipe or a regular file
// on the local side (a terminal goes through the buffer); the choices and
// their measurements are in core/mover.cc.
PathPolicy relay_policy() {
  PathPolicy policy;
  policy.splice_to_sink = true;  // into a regular file: core/mover.cc's table
  return policy;
}
// `listen > /dev/null` over TCP: the kernel drops the bytes (recv with
// MSG_TRUNC), as `recv > /dev/null` does; no copy, no splice.
bool discards_down(int net_fd, int out_fd, const RelayOptions& opts) {
  return out_fd >= 0 && !opts.datagram && is_dev_null(out_fd) && socket_is_tcp(net_fd);
}
Path up_path(int in_fd, const RelayOptions& opts) {
  return in_fd < 0 || opts.datagram ? Path::Copy : path_into_socket(in_fd, relay_policy());
}
Path down_path(int net_fd, int out_fd, const RelayOptions& opts) {
  if (out_fd < 0 || opts.datagram || discards_down(net_fd, out_fd, opts)) return Path::Copy;
  return path_out_of_socket(out_fd, relay_policy());
}
ByteWriter* down_writer(int net_fd, int out_fd, const RelayOptions& opts, ByteWriter* output, ByteWriter* drop) {
  return out_fd < 0 || discards_down(net_fd, out_fd, opts) ? drop : output;
}
// A datagram is read whole: 65507 is the largest UDP payload over IPv4.
size_t up_chunk(const RelayOptions& opts) {
  return opts.datagram ? std::min<size_t>(opts.buffer_size, 65507) : opts.buffer_size;
}

// The rounds one direction may move per wakeup: fairness with the other.
constexpr int kRounds = 16;

// One relay in progress: the fds, the two movers and the counters.
class Relay {
 public:
  Relay(int net_fd, int in_fd, int out_fd, const RelayOptions& opts, RelayStats* stats)
      : net_(net_fd), in_(in_fd), out_(out_fd), opts_(opts), stats_(stats),
        output_(out_fd >= 0 ? OutputWriter(out_fd) : OutputWriter()),
        in_reader_(in_fd, {.poll_first = true}), net_reader_(net_fd, {.datagram = opts.datagram,
                             .discard = discards_down(net_fd, out_fd, opts),
                             .only_from = opts.only_from ? &*opts.only_from : nullptr,
                             .foreign = &stats->foreign_datagrams}), net_writer_(net_fd),
        datagram_writer_(net_fd), output_end_(&output_),
        up_(up_path(in_fd, opts), in_fd, net_fd, &in_reader_,
            opts.datagram ? static_cast<ByteWriter*>(&datagram_writer_) : &net_writer_, up_chunk(opts)),
        down_(down_path(net_fd, out_fd, opts), net_fd, out_fd, &net_reader_,
              down_writer(net_fd, out_fd, opts, &output_end_, &drop_), opts.buffer_size),
        stall_(opts.stall_timeout) {}

  Status run();

 private:
  Status loop();
  Status on_timeout();
  Status move_up();
  Status move_down();
  void after_up_progress();
  bool finished() const;
  bool up_blocked() const;
  Deadline reply_deadline() const;
  Deadline wake_deadline() const;
  Clock::time_point last_activity() const { return std::max(up_.last_progress(), down_.last_progress()); }
  Status output_error(int err);
  Status watch_stall();
  uint64_t input_left() const;
  void end_output();
  Status confirm_delivery();
  const std::string& target() const { return opts_.target.empty() ? kPeer : opts_.target; }
  Error net_error(const char* op, int err) const;

  int net_, in_, out_;
  const RelayOptions& opts_;
  RelayStats* stats_;
  OutputWriter output_;  // out_, written without blocking (core/output.h)
  FdReader in_reader_, net_reader_;
  FdWriter net_writer_;
  DatagramWriter datagram_writer_;
  OutputEnd output_end_;
  DropWriter drop_;
  Mover up_, down_;
  Clock::time_point reply_since_;  // datagrams: input's EOF or the last reply
  StallClock stall_;               // see the top of this file
  uint64_t sent_seen_ = 0;
  bool up_finished_ = false;  // input's EOF and everything sent: after_up_progress() done
  bool output_ended_ = false;  // end_output() done
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
  if (up_finished_ && opts_.close_on_eof) return true;
  if (auto end = reply_deadline(); end && Clock::now() >= *end) return true;
  if (!down_.done()) return false;
  return up_finished_ || opts_.on_peer_eof == PeerEof::Stop;
}

// "write to 127.0.0.1 port 4242 (tcp): Connection reset by peer". A write
// refused after the peer's EOF means the peer had closed, not half-closed:
// say so, since the relay went on sending only because of that EOF.
Error Relay::net_error(const char* op, int err) const {
  std::string hint;
  if (down_.eof() && (err == EPIPE || err == ECONNRESET) && std::string_view(op) == "write to") {
    hint = " (the peer closed the connection before reading all of the input)";
  }
  return system_error(fmt::format("{} {}: {}{}", op, target(), errno_text(err), hint));
}

bool Relay::up_blocked() const { return !opts_.datagram && up_.blocked(); }

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
  if (!opts_.datagram || !up_finished_ || opts_.reply_wait.count() <= 0) return std::nullopt;
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
  if (opts_.idle_timeout.count() > 0) deadline = earlier(deadline, last_activity() + opts_.idle_timeout);
  return deadline;
}

// Input EOF and everything sent: FIN to the peer (nc -N), unless datagrams.
void Relay::after_up_progress() {
  stats_->bytes_sent = up_.moved();
  if (up_finished_ || !up_.done()) return;
  up_finished_ = true;
  reply_since_ = Clock::now();
  if (!opts_.datagram && !opts_.close_on_eof) ::shutdown(net_, SHUT_WR);
}

Status Relay::move_up() {
  MoveResult m = up_.pump(kRounds, kZeroCopyChunk);
  after_up_progress();
  if (m.what == Moved::Interrupted) return interrupted_error();
  if (m.what != Moved::Failed) return {};
  if (m.at_dest) return net_error("write to", m.err);
  return system_error(fmt::format("read from input: {}", errno_text(m.err)));
}

Status Relay::move_down() {
  uint64_t before = down_.taken();
  MoveResult m = down_.pump(kRounds, kZeroCopyChunk);
  stats_->bytes_received = down_.taken();
  if (down_.taken() != before) reply_since_ = Clock::now();
  if (m.what == Moved::Interrupted) return interrupted_error();
  if (m.what != Moved::Failed) return {};
  return m.at_dest ? output_error(m.err) : net_error("read from", m.err);
}

uint64_t Relay::input_left() const {
  if (up_.eof() || in_ < 0) return 0;
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

// Until it ends well, a relay that fails, is interrupted or dies (SIGKILL
// too: the kernel's close then sends the reset) resets the connection, as
// send does (core/transfer.cc): the peer must never take a truncated
// stream ended by a FIN for a whole one. tests/fault_matrix.sh kill-tx and
// term-tx found `listen >out` exiting 0 with 3 of 8 MiB after a FIN.
Status Relay::run() {
  bool guard = !opts_.datagram;
  if (guard) {
    reset_on_fatal_signal(net_);
    abort_on_close(net_);
  }
  Status st = loop();
  if (st.ok() && down_.done() && !up_finished_) stats_->input_left = input_left();
  if (st.ok() && up_finished_ && in_ >= 0 && !opts_.datagram && !opts_.close_on_eof) st = confirm_delivery();
  if (guard) {
    if (st.ok()) close_gracefully(net_);  // a FIN from here on
    no_reset_on_fatal_signal(net_);
  }
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

// Nothing woke us before the nearest deadline: a stall, or idle too long.
Status Relay::on_timeout() {
  if (auto s = watch_stall(); !s) return s;
  if (opts_.idle_timeout.count() > 0 && Clock::now() - last_activity() >= opts_.idle_timeout) {
    return timeout_error(fmt::format("idle for {}: no data in either direction",
                                     human_duration(std::chrono::duration<double>(opts_.idle_timeout).count())));
  }
  return {};
}

// Each round polls what the two movers wait for (the socket may be in both
// entries: poll takes an fd twice) and steps the ones that woke. A mover
// that is done wants nothing, so a socket whose peer's EOF was seen and
// that has nothing to send is left out (its POLLHUP would wake us in a loop).
Status Relay::loop() {
  if (in_ < 0) up_.end_source();
  after_up_progress();
  while (!finished()) {
    Mover::Want up = up_.want(), down = down_.want();
    pollfd pfd[2] = {{up.fd, up.events, 0}, {down.fd, down.events, 0}};
    auto w = wait_fds(pfd, wake_deadline());
    if (!w.ok()) return w.take_error();
    if (*w == Wake::Interrupted) return interrupted_error();
    if (*w == Wake::Timeout) {
      if (auto s = on_timeout(); !s) return s;
      continue;
    }
    // The peer's bytes (and EOF) first: a write refused right after the
    // peer's EOF is then known to follow it (see net_error).
    if (pfd[1].revents != 0) {
      down_.woke(pfd[1].revents);
      if (auto s = move_down(); !s) return s;
    }
    if (pfd[0].revents != 0 && !stats_->output_closed) {
      up_.woke(pfd[0].revents);
      if (auto s = move_up(); !s) return s;
    }
    if (interrupted()) return interrupted_error();
    if (down_.done() && !up_finished_) end_output();
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
