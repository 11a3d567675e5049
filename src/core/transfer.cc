// The send and recv loops (see transfer.h): one Transfer drives one Mover
// to its end, with the pacer (--rate), the ticker (--interval, progress),
// the stall clock and --duration around it. Which path the bytes take, and
// the measurements behind it: core/mover.cc; one more case lives here:
// recv --discard without a checksum reads with MSG_TRUNC on TCP (the kernel
// drops the bytes without copying them out; receiver CPU 0.29 s vs 0.34 s
// with read()). Unix sockets and --checksum keep read(); output to
// /dev/null counts as --discard.
#include "core/transfer.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "core/checksum.h"
#include "core/deadline.h"
#include "core/delivery.h"
#include "core/pacer.h"
#include "core/signals.h"
#include "core/tcpinfo.h"
#include "core/sock.h"
#include "core/ticker.h"
#include "core/wait.h"
#include "core/zerocopy.h"

namespace sp {
namespace {

using Clock = std::chrono::steady_clock;


// The interval and progress callbacks. tcp_fd: the sending TCP socket
// whose TCP_INFO each interval reports (-1: none, a receiver or Unix).
struct Reporting {
  const TransferHooks& hooks;
  Clock::time_point start;
  IntervalClock<uint64_t> interval;  // over the bytes moved
  Ticker progress;
  int tcp_fd;
  uint32_t retrans_at = 0;

  Reporting(const TransferHooks& h, const TransferOptions& o, Clock::time_point s, int fd)
      : hooks(h), start(s), tcp_fd(fd) {
    interval.begin(s, o.interval);
    progress.every = o.progress_every;
    progress.start(s);
    if (o.interval.count() > 0 && tcp_fd >= 0) sample_tcp();
  }
  std::optional<IntervalTcp> sample_tcp() {
    if (tcp_fd < 0) return std::nullopt;
    auto info = get_tcp_info(tcp_fd);
    if (!info.ok() || !info->has(&TcpInfoRaw::total_retrans)) return std::nullopt;
    const TcpInfoRaw& r = info->raw;
    IntervalTcp t{r.total_retrans - retrans_at, r.snd_cwnd, r.snd_mss, r.rtt / 1e6};
    retrans_at = r.total_retrans;
    return t;
  }
  void report(double end, uint64_t bytes, std::optional<IntervalTcp> tcp) {
    interval.close(end, bytes, [&](double from, double to, uint64_t at) {
      if (hooks.on_interval) hooks.on_interval({from, to, bytes - at, tcp});
    });
  }
  void tick(uint64_t bytes) {
    auto now = Clock::now();
    if (auto end = interval.due(now)) report(*end, bytes, sample_tcp());
    if (progress.due(now)) {
      if (hooks.on_progress) hooks.on_progress(bytes, seconds_since(start));
      progress.catch_up(now);
    }
  }
  // The last, partial interval.
  void finish(uint64_t bytes) {
    double end = seconds_since(start);
    if (interval.tick.every.count() == 0 || end <= interval.start + 1e-3) return;
    // A last stretch under half an interval in which nothing moved or was
    // retransmitted (the wait for the final acknowledgement) is no line.
    auto tcp = sample_tcp();
    double half = std::chrono::duration<double>(interval.tick.every).count() / 2;
    bool empty = bytes == interval.at && (!tcp || tcp->retrans == 0) && end - interval.start < half;
    if (!empty) report(end, bytes, tcp);
  }
  // The next report due, at most `cap` from now.
  Deadline deadline(Duration cap) const {
    return earlier(Clock::now() + cap, earlier(interval.tick.deadline(), progress.deadline()));
  }
};

// After the last write: FIN, then wait until the peer's kernel acknowledged
// everything (core/delivery.h), so the time measured is end to end.
Status finish_delivery(int fd, const TransferOptions& opts, const TransferHooks& hooks) {
  ::shutdown(fd, SHUT_WR);
  AckWaitOptions ack;
  ack.stall_timeout = opts.stall_timeout;
  ack.target = opts.target;
  ack.on_stall = hooks.on_stall;
  ack.leave_incoming = opts.shared_reads;
  return wait_acknowledged(fd, ack);
}

// Decision: a receiver copying into a regular file reads up to 4 MiB per
// call. 512 MiB tmpfs -> send -> recv -o on tmpfs, 10 alternating runs
// (median wall, receiver start to exit): 256K 638 ms, 4M 388 ms, socat -b
// 262144 into a file 518 ms (4M: 0.81x -> 1.33x socat); again after the
// change: 4M 391 ms, --chunk 256K 561 ms, socat 601 ms. Reads return what
// the socket holds (~130 KiB under strace either way); the gain is in the
// page-cache writes, which the wall time shows and strace does not. Into a
// pipe, a socket or --discard the size made no difference, so they keep
// 256K (and its smaller buffer per connection).
size_t recv_chunk(const TransferOptions& opts, Path path, const Sink& sink) {
  if (opts.chunk != 0) return opts.chunk;
  if (path == Path::Copy && !sink.discards() && file_type(sink.direct_fd()) == S_IFREG) return kFileSinkChunk;
  return kDefaultChunk;
}

PathPolicy path_policy(const TransferOptions& opts) {
  PathPolicy p;
  p.mode = opts.zero_copy;
  p.checksum = opts.checksum;
  return p;
}

// Which way a Transfer goes, for its stall rule and its error wording.
enum class Way { Send, Recv };

// One direction driven to its end. The network is the destination of a
// send and the source of a recv: a stall is bytes waiting for the socket
// (send), or the socket bringing nothing (recv). Waiting for our own
// reader (recv | less: the pipe is full) is not a network stall.
class Transfer {
 public:
  Transfer(Way way, int net_fd, Mover& mover, const std::string& local_name, const TransferOptions& opts,
           const TransferHooks& hooks, TransferStats* stats)
      : way_(way), net_(net_fd), mover_(mover), local_(local_name), opts_(opts), hooks_(hooks), stats_(stats),
        pacer_(way == Way::Send ? opts.rate : 0), start_(Clock::now()), rep_(hooks, opts, start_, way == Way::Send ? net_fd : -1),
        stall_(opts.stall_timeout, start_) {
    // With --rate, go in slices of ~20 ms worth of bytes so pacing is smooth.
    slice_ = mover.chunk();
    if (pacer_.limited()) slice_ = static_cast<size_t>(std::clamp<uint64_t>(opts.rate / 50, 1, slice_));
    if (opts.checksum) sum_.emplace();
    mover_.set_checksum(sum_ ? &*sum_ : nullptr);
  }

  // Until the source's EOF (or --duration) and everything written.
  Status run();
  // stats: bytes, seconds, checksum; the last interval report on success.
  Status finish(Status st);
  // The socket wakes the wait only for SO_RCVLOWAT bytes (or its EOF): a
  // wait that ends by its deadline reads what is there anyway, so stalls
  // and interval lines see every byte.
  void read_on_timeout() { read_on_timeout_ = true; }

 private:
  Status step();
  Status wait(Deadline pace_until);
  Deadline pace_until() const;
  Deadline deadline() const;
  bool network_waits() const;
  Status check_stall();
  Error failure(const MoveResult& m) const;

  Way way_;
  int net_;
  Mover& mover_;
  const std::string& local_;
  const TransferOptions& opts_;
  const TransferHooks& hooks_;
  TransferStats* stats_;
  Pacer pacer_;
  size_t slice_;
  std::optional<Checksum> sum_;
  Clock::time_point start_;
  Reporting rep_;
  StallClock stall_;
  uint64_t seen_ = 0;  // bytes moved at the last stall check
  bool waiting_ = false;  // the last step found nothing to do now
  bool read_on_timeout_ = false;
};

Status Transfer::run() {
  while (!mover_.done()) {
    if (opts_.duration.count() > 0 && Clock::now() - start_ >= opts_.duration) {
      mover_.stop();
      break;
    }
    Deadline pace = pace_until();
    Status st = pace || waiting_ ? wait(pace) : step();
    if (!st) return st;
    if (interrupted()) return interrupted_error();
    if (auto s = check_stall(); !s) return s;
    rep_.tick(stats_->bytes);
  }
  return {};
}

// One move; SourceEmpty or DestFull make the next round wait.
Status Transfer::step() {
  MoveResult m = mover_.step(slice_);
  stats_->bytes = mover_.moved();
  waiting_ = m.what == Moved::SourceEmpty || m.what == Moved::DestFull;
  if (m.what == Moved::Interrupted) return interrupted_error();
  if (m.what == Moved::Failed) return failure(m);
  return {};
}

// For what the mover wants, the pacer's slice or the next report or
// deadline, whichever comes first.
Status Transfer::wait(Deadline pace_until) {
  Mover::Want want = pace_until ? Mover::Want{} : mover_.want();
  pollfd p{want.fd, want.events, 0};
  auto w = wait_fds(std::span<pollfd>(&p, 1), earlier(pace_until, deadline()));
  if (!w.ok()) return w.take_error();
  if (*w == Wake::Interrupted) return interrupted_error();
  if (*w == Wake::Ready) {
    mover_.woke(p.revents);
    waiting_ = false;
  }
  if (*w == Wake::Timeout && read_on_timeout_ && !pace_until) return step();
  return {};
}

// --rate: when the next slice is allowed, if not now (bytes already read
// are written whatever the pacer says).
Deadline Transfer::pace_until() const {
  if (!pacer_.limited() || mover_.pending() > 0) return std::nullopt;
  double elapsed = seconds_since(start_);
  if (pacer_.allowance(elapsed, mover_.moved()) >= slice_) return std::nullopt;
  double wait = pacer_.wait_for(elapsed, mover_.moved(), slice_);
  return Clock::now() + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(wait));
}

Deadline Transfer::deadline() const {
  constexpr Duration kCap = std::chrono::seconds(1);
  Deadline d = earlier(rep_.deadline(kCap), stall_.deadline());
  if (opts_.duration.count() > 0) d = earlier(d, start_ + opts_.duration);
  return d;
}

bool Transfer::network_waits() const { return way_ == Way::Send ? mover_.blocked() : !mover_.blocked(); }

Status Transfer::check_stall() {
  auto now = Clock::now();
  stall_.update(network_waits(), mover_.moved() != seen_, now);
  seen_ = mover_.moved();
  if (!stall_.due(now)) return {};
  StallSnapshot snap = take_stall_snapshot(net_);
  double seconds = stall_.seconds(now);
  std::string why = way_ == Way::Send ? explain_send_stall(snap, seconds) : explain_recv_stall(snap, seconds);
  stall_.mark_reported();
  if (hooks_.on_stall) hooks_.on_stall(snap, why);
  return timeout_error(why);
}

// "write to 127.0.0.1 port 80 (tcp): Broken pipe", "read stdin: ...".
Error Transfer::failure(const MoveResult& m) const {
  if (m.error) return *m.error;  // worded by the Source or the Sink
  bool network = m.at_dest == (way_ == Way::Send);
  if (network) return system_error(fmt::format("{} {}: {}", m.at_dest ? "write to" : "read from", opts_.target,
                                               errno_text(m.err)));
  return system_error(fmt::format("{} {}: {}", m.at_dest ? "write" : "read", local_, errno_text(m.err)));
}

Status Transfer::finish(Status st) {
  stats_->bytes = mover_.moved();
  stats_->seconds = seconds_since(start_);
  if (sum_) stats_->checksum = sum_->text();
  if (st.ok()) rep_.finish(stats_->bytes);
  return st;
}

}  // namespace

// A sender that fails or is interrupted (SIGINT here; SIGTERM, SIGHUP and a
// second SIGINT in the signal handler) aborts with a reset: a receiver must
// never take a truncated stream, ended by a clean FIN, for a complete one.
// SO_LINGER 0 is set before the first byte and cleared only once every byte
// is acknowledged, so a SIGKILL (no handler runs; the kernel closes the
// socket) resets too: tests/fault_matrix.sh kill-tx found recv -o keeping
// a truncated file, exit 0, after a FIN.
Status send_stream(int net_fd, Source& src, const TransferOptions& opts, const TransferHooks& hooks,
                   TransferStats* stats) {
  SourceReader reader(src);
  FdWriter writer(net_fd);
  Mover mover(path_into_socket(src.direct_fd(), path_policy(opts)), src.direct_fd(), net_fd, &reader, &writer,
              send_chunk(opts));
  std::string name = src.name();
  Transfer t(Way::Send, net_fd, mover, name, opts, hooks, stats);
  reset_on_fatal_signal(net_fd);
  abort_on_close(net_fd);
  Status st = t.run();
  if (st) st = finish_delivery(net_fd, opts, hooks);
  if (st) close_gracefully(net_fd);  // delivered: a FIN from here on
  no_reset_on_fatal_signal(net_fd);
  return t.finish(std::move(st));
}

namespace {

// Decision: a discarding TCP receiver is woken for 256 KiB at a time
// (SO_RCVLOWAT), not for every segment: bench/ceiling.sh, send FILE ->
// recv --discard, 1 GiB, 5-7 pairs x 2 runs each: 3.29-4.01 GB/s without,
// 4.93-5.48 GB/s with (0.74-0.88 -> 0.95-1.26 of loopback-ceiling mode 3);
// 1 MiB was slower (4.43-4.57). The kernel grows an unlocked receive
// buffer to fit it, and wakes a reader anyway when its window is nearly
// closed (a small -I: no deadlock). Only there: a sink that shows the
// bytes (stdout, a file) must get them as they come.
void wake_for_more(int net_fd) {
  int lowat = 256 * 1024;
  ::setsockopt(net_fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat);
}

}  // namespace

// MSG_TRUNC discards only on TCP (on Unix stream sockets it is ignored or
// means something else).
Status recv_stream(int net_fd, Sink& sink, const TransferOptions& opts, const TransferHooks& hooks,
                   TransferStats* stats) {
  bool discard = sink.discards() && !opts.checksum && socket_is_tcp(net_fd);
  FdReader reader(net_fd, {.discard = discard});
  SinkWriter writer(sink);
  Path path = discard ? Path::Copy : path_out_of_socket(sink.direct_fd(), path_policy(opts));
  Mover mover(path, net_fd, sink.direct_fd(), &reader, &writer, recv_chunk(opts, path, sink));
  std::string name = sink.name();
  Transfer t(Way::Recv, net_fd, mover, name, opts, hooks, stats);
  if (discard) {
    wake_for_more(net_fd);
    t.read_on_timeout();
  }
  return t.finish(t.run());
}

}  // namespace sp
