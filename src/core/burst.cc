// The burst loop and its statistics (see burst.h).
#include "core/burst.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <deque>

#include <fmt/format.h>

#include "core/deadline.h"
#include "core/fd.h"
#include "core/serve.h"
#include "core/signals.h"
#include "core/tcpinfo.h"
#include "core/wait.h"

namespace sp {
namespace {

using Clock = std::chrono::steady_clock;

struct Attempt {
  Fd fd;
  Clock::time_point started;
  uint64_t seq = 0;  // 0: the slot is free
};

// The attempts in flight, by fd and in start order. A socket's fd indexes
// its slot (no allocation per connection), and as every attempt has the
// same timeout the oldest is always the next to expire (no scan of all in
// flight each round). A finished attempt leaves a stale entry in the
// order, skipped by its sequence number.
class Inflight {
 public:
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void add(Fd fd, Clock::time_point started);
  Attempt* find(int fd);
  const Attempt* oldest();
  // Closes it. Not EPOLL_CTL_DEL first: close() takes a socket out of the
  // epoll set (its only descriptor), a syscall per connection saved.
  void forget(int fd);

 private:
  std::vector<Attempt> by_fd_;
  std::deque<std::pair<int, uint64_t>> order_;  // (fd, seq), oldest first
  uint64_t next_seq_ = 1;
  size_t size_ = 0;
};

void Inflight::add(Fd fd, Clock::time_point started) {
  auto i = static_cast<size_t>(fd.get());
  if (i >= by_fd_.size()) by_fd_.resize(std::max(i + 1, by_fd_.size() * 2));
  uint64_t seq = next_seq_++;
  order_.emplace_back(fd.get(), seq);
  by_fd_[i] = Attempt{std::move(fd), started, seq};
  ++size_;
}

Attempt* Inflight::find(int fd) {
  auto i = static_cast<size_t>(fd);
  if (fd < 0 || i >= by_fd_.size() || by_fd_[i].seq == 0) return nullptr;
  return &by_fd_[i];
}

const Attempt* Inflight::oldest() {
  while (!order_.empty()) {
    auto [fd, seq] = order_.front();
    if (Attempt* a = find(fd); a && a->seq == seq) return a;
    order_.pop_front();
  }
  return nullptr;
}

void Inflight::forget(int fd) {
  if (Attempt* a = find(fd)) {
    *a = Attempt{};
    --size_;
  }
}

// Counts one failed attempt by its errno: refused, reset, timed out, or
// "other" by its text.
void classify(BurstResult* r, int err) {
  switch (err) {
    case ECONNREFUSED: ++r->refused; break;
    case ECONNRESET: ++r->reset; break;
    case ETIMEDOUT: ++r->timeout; break;
    default:
      ++r->other;
      ++r->other_errors[errno_text(err)];
  }
}

// Right after the handshake nothing else was sent, so tcpi_total_retrans
// counts the SYNs resent (measured: a connect held 2.03 s by a full accept
// queue showed 2, an unimpeded one 0).
//
// Decision: TCP_INFO is read only for handshakes that took at least
// kSynResendFloor, once the kernel has shown it reports total_retrans: a
// SYN is resent no sooner than the initial RTO (1 s, TCP_TIMEOUT_INIT), so
// a faster handshake resent none. Measured (strace -c, 2000 connections
// against burst-ref's server): 2 getsockopt per connection before, 1 after
// (SO_ERROR); TCP_INFO is the heavier one (it takes the socket lock and
// copies 232 bytes). A BPF program that lowers the SYN timeout
// (BPF_SOCK_OPS_TIMEOUT_INIT) below the floor would hide resends here; the
// latency histogram still shows them.
constexpr double kSynResendFloor = 0.5;  // seconds
void count_syn_retransmits(BurstResult* r, int fd, double latency) {
  if (latency < kSynResendFloor) {
    auto zero = r->syn_retransmits.find(0);
    if (zero != r->syn_retransmits.end()) {
      ++zero->second;
      return;
    }
  }
  auto info = get_tcp_info(fd);
  if (info.ok() && info->has(&TcpInfoRaw::total_retrans)) ++r->syn_retransmits[info->raw.total_retrans];
}

// When attempt number n may start at `rate` attempts per second (rate > 0).
Clock::time_point start_time(Clock::time_point t0, uint64_t n, uint64_t rate) {
  std::chrono::duration<double> due(static_cast<double>(n) / static_cast<double>(rate));
  return t0 + std::chrono::duration_cast<Clock::duration>(due);
}

// One burst: the epoll set (the SIGINT pipe and every handshake in
// flight), the attempts in flight by fd, and the counts so far. run() is
// the loop; each of its steps is one method.
class Burst {
 public:
  Burst(const Endpoint& target, const SocketConfig& cfg, const BurstOptions& opts)
      : target_(target),
        cfg_(cfg),
        opts_(opts),
        payload_(static_cast<size_t>(std::min<uint64_t>(opts.send_bytes, 1 << 20)), 'x') {
    r_.latencies.reserve(static_cast<size_t>(std::min<uint64_t>(opts.count, 1 << 20)));
  }
  Result<BurstResult> run();

 private:
  static constexpr int kMaxEvents = 256;
  // The safety net on every wait: at least once a second the loop looks again.
  static constexpr std::chrono::seconds kMaxWait{1};

  bool all_started() const { return started_ >= opts_.count; }
  bool done() const { return all_started() && inflight_.empty(); }
  Status open_epoll();
  Status plan_in_flight();
  void limit_in_flight(uint64_t n, int err);
  Status out_of_fds(int err);
  void watch(int fd, uint32_t events);
  Deadline next_start() const;
  Status start_allowed(Clock::time_point now);
  Status start_one();
  Deadline expire_overdue(Clock::time_point now);
  Status wait_and_finish(Deadline until);
  void finish_one(int fd);
  void connected(int fd, Clock::time_point started);

  const Endpoint& target_;
  const SocketConfig& cfg_;
  const BurstOptions& opts_;
  std::vector<char> payload_;  // --send's bytes, written on each connection
  Fd ep_;
  BurstResult r_;
  Inflight inflight_;
  uint64_t started_ = 0;  // attempts begun, counted or in flight
  uint64_t cap_ = 0;      // connections in flight at most: concurrency, or fewer by the fd limit
  bool fd_limit_told_ = false;
  // ENFILE with nothing in flight: the next socket() 5 ms doubling to 1 s
  // later, for up to the per-connection timeout since the first.
  AcceptBackoff fd_backoff_;
  Deadline retry_at_;
  Clock::time_point out_of_fds_since_;
  Clock::time_point t0_;
};

// Start what concurrency and rate allow, expire what is past its timeout,
// then wait for handshakes until the soonest of those deadlines.
Result<BurstResult> Burst::run() {
  if (Status s = open_epoll(); !s) return s.error();
  if (Status s = plan_in_flight(); !s) return s.error();
  t0_ = Clock::now();
  while (!done()) {
    // Expire first: the slots timeouts free are refilled in this round
    // (starting first left them empty for up to kMaxWait). The second
    // expire_overdue() expires nothing; it gives the next deadline, the
    // attempts just started included.
    auto now = Clock::now();
    expire_overdue(now);
    if (Status s = start_allowed(now); !s) return s.error();
    Deadline wake = earlier(now + kMaxWait, expire_overdue(now));
    // The rate's next start matters only with a free slot: with every slot
    // busy a past start time made the wait 0 ms, a spin until one freed.
    if (inflight_.size() < cap_) wake = earlier(wake, earlier(next_start(), retry_at_));
    if (done()) break;
    if (Status s = wait_and_finish(wake); !s) return s.error();
  }
  r_.seconds = seconds_since(t0_);
  return std::move(r_);
}

// The epoll set, with the SIGINT pipe in it so Ctrl-C ends a wait.
Status Burst::open_epoll() {
  ep_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep_.valid()) return system_error(fmt::format("epoll_create1: {}", errno_text(errno)));
  if (interrupt_fd() >= 0) watch(interrupt_fd(), EPOLLIN);
  return {};
}

// Adds fd to the epoll set (a connecting socket: EPOLLOUT, the handshake
// ended either way).
void Burst::watch(int fd, uint32_t events) { epoll_set(ep_.get(), EPOLL_CTL_ADD, fd, events); }

// At most --concurrency in flight, or what the open-file limit leaves room
// for when that is less (said once).
Status Burst::plan_in_flight() {
  cap_ = opts_.concurrency;
  if (!opts_.fd_room) return {};
  if (*opts_.fd_room == 0) {
    return system_error("no file descriptor is free for a connection: the open-file limit (ulimit -n) is reached");
  }
  if (*opts_.fd_room < cap_) limit_in_flight(*opts_.fd_room, 0);
  return {};
}

// From now on at most n in flight; the first time, on_fd_limit says why.
void Burst::limit_in_flight(uint64_t n, int err) {
  cap_ = n;
  r_.in_flight_limit = n;
  if (fd_limit_told_) return;
  fd_limit_told_ = true;
  if (opts_.on_fd_limit) opts_.on_fd_limit(BurstFdLimit{n, opts_.concurrency, err});
}

// socket() found no descriptor: a back-off, not a failed connection. With
// sockets in flight, at most that many from now on (each frees its fd as
// it ends). With none, EMFILE cannot change (nothing of ours to close) and
// ends the burst; ENFILE (the system's table) is retried until the
// per-connection timeout has passed since the first.
Status Burst::out_of_fds(int err) {
  ++r_.fd_backoffs;
  if (!inflight_.empty()) {
    limit_in_flight(inflight_.size(), err);
    return {};
  }
  auto now = Clock::now();
  if (err == EMFILE || (fd_backoff_.in_burst() && now - out_of_fds_since_ >= opts_.timeout)) {
    return system_error(fmt::format("socket: {}, with no connection of the burst open (see ulimit -n)", errno_text(err)));
  }
  if (!fd_backoff_.in_burst()) out_of_fds_since_ = now;
  retry_at_ = now + fd_backoff_.next();
  return {};
}

// When --rate lets the next attempt start; none without --rate or once
// every attempt has started.
Deadline Burst::next_start() const {
  if (opts_.rate == 0 || all_started()) return std::nullopt;
  return start_time(t0_, started_, opts_.rate);
}

// Starts as many attempts as concurrency and rate allow.
Status Burst::start_allowed(Clock::time_point now) {
  while (!all_started() && inflight_.size() < cap_) {
    if (Deadline due = next_start(); due && now < *due) break;
    if (retry_at_ && now < *retry_at_) break;
    if (Status s = start_one(); !s) return s;
  }
  return {};
}

// One attempt: a non-blocking socket and connect(). No descriptor free is
// a back-off (out_of_fds); only a buffer size that cannot be set ends the
// burst; every other failure is counted.
Status Burst::start_one() {
  int fd = ::socket(target_.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 && (errno == EMFILE || errno == ENFILE)) return out_of_fds(errno);
  ++started_;
  if (fd < 0) {
    // Out of memory: count it and go on, as a load tool should.
    classify(&r_, errno);
    return {};
  }
  if (retry_at_) {
    retry_at_.reset();
    fd_backoff_.reset();
  }
  Attempt a{Fd(fd), Clock::now()};
  if (Status s = apply_buffers(fd, cfg_); !s) return s;
  if (::connect(fd, target_.sa(), target_.len) != 0 && errno != EINPROGRESS) {
    classify(&r_, errno);
    return {};
  }
  watch(fd, EPOLLOUT);
  inflight_.add(std::move(a.fd), a.started);
  return {};
}

// Counts and drops the attempts past their timeout, oldest first; returns
// the soonest timeout of those left (none when none is in flight).
Deadline Burst::expire_overdue(Clock::time_point now) {
  while (const Attempt* a = inflight_.oldest()) {
    auto deadline = a->started + opts_.timeout;
    if (now < deadline) return deadline;
    ++r_.timeout;
    inflight_.forget(a->fd.get());
  }
  return std::nullopt;
}

// Waits until a handshake ends, the deadline passes, or Ctrl-C (an
// interrupted error); finishes every handshake that ended.
Status Burst::wait_and_finish(Deadline until) {
  epoll_event events[kMaxEvents];
  int n = 0;
  auto w = wait_epoll(ep_.get(), events, kMaxEvents, until, &n);
  if (!w.ok()) return w.take_error();
  if (*w == Wake::Interrupted) return interrupted_error();
  for (int i = 0; i < n; ++i) {
    if (events[i].data.fd != interrupt_fd()) finish_one(events[i].data.fd);
  }
  return {};
}

// A handshake ended, either way: count it and close the socket.
void Burst::finish_one(int fd) {
  const Attempt* a = inflight_.find(fd);
  if (a == nullptr) return;
  int err = pending_socket_error(fd);  // how the connect ended: 0, it connected
  if (err == 0) {
    connected(fd, a->started);
  } else {
    classify(&r_, err);
  }
  inflight_.forget(fd);
}

// A handshake that succeeded: its latency and SYNs resent, then --send's
// bytes (best effort: one send, and the socket closes right after).
void Burst::connected(int fd, Clock::time_point started) {
  double latency = seconds_since(started);
  r_.latencies.push_back(latency);
  ++r_.ok;
  count_syn_retransmits(&r_, fd, latency);
  if (!payload_.empty()) [[maybe_unused]] ssize_t n = ::send(fd, payload_.data(), payload_.size(), MSG_NOSIGNAL);
}

}  // namespace

Result<BurstResult> run_burst(const Endpoint& target, const SocketConfig& cfg, const BurstOptions& opts) {
  return Burst(target, cfg, opts).run();
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

std::vector<double> syn_retransmit_times(int linear_timeouts, int syn_retries, double initial_rto) {
  std::vector<double> out;
  double t = 0, rto = initial_rto;
  for (int i = 0; i < syn_retries; ++i) {
    t += rto;
    out.push_back(t);
    if (i >= linear_timeouts) rto *= 2;  // the first `linear` waits repeat the initial RTO
  }
  return out;
}

std::vector<HistogramBucket> latency_histogram(const std::vector<double>& samples, const std::vector<double>& marks) {
  const double inf = std::numeric_limits<double>::infinity();
  // Each label gives the bucket's bounds ("0.9-1.9s": one SYN resent, at
  // 1 s), not only its upper one.
  std::vector<HistogramBucket> b = {
      {100e-6, "<100us"}, {1e-3, "100us-1ms"}, {10e-3, "1-10ms"}, {100e-3, "10-100ms"}};
  double lower = 100e-3;
  for (size_t i = 0; i < marks.size() && marks[i] <= 15; ++i) {
    double upper = marks[i] - 0.1;
    if (upper > lower) b.push_back({upper, fmt::format("{:g}-{:g}s", lower, upper)});
    lower = upper;
  }
  b.push_back({inf, fmt::format(">={:g}s", lower)});
  for (double s : samples) {
    for (auto& bucket : b) {
      if (s < bucket.upper) {
        ++bucket.count;
        break;
      }
    }
  }
  return b;
}

std::vector<uint64_t> syn_retransmission_clusters(const std::vector<double>& samples, const std::vector<double>& marks) {
  std::vector<uint64_t> out(marks.size(), 0);
  for (double s : samples) {
    for (size_t k = 0; k < marks.size(); ++k) {
      if (s >= marks[k] - 0.02 && s < marks[k] + 0.5) ++out[k];
    }
  }
  return out;
}

std::string syn_callout_text(const std::vector<double>& marks, const std::vector<uint64_t>& counts) {
  uint64_t total = 0;
  std::string near;
  for (size_t k = 0; k < counts.size() && k < marks.size(); ++k) {
    total += counts[k];
    if (counts[k] > 0) near += fmt::format("{}{} near {:g}s", near.empty() ? "" : ", ", counts[k], marks[k]);
  }
  if (total == 0) return "";
  return fmt::format(
      "\n  {} completed at SYN retransmission times ({}): {} retransmitted.\n"
      "  That is the signature of a full listen backlog (see 'sockprobe backlog') or of packet loss.",
      counted(total, "connection"), near, total == 1 ? "its SYN was" : "their SYNs were");
}

uint64_t burst_fd_room(uint64_t fd_limit, uint64_t open_fds) {
  uint64_t used = open_fds + kBurstFdSpare;
  return fd_limit > used ? fd_limit - used : 0;
}

std::string port_exhaustion_note(const std::vector<int64_t>& port_range, std::optional<int64_t> time_wait,
                                 std::optional<int64_t> orphan) {
  std::string ports = "every local port";
  if (port_range.size() == 2 && port_range[1] >= port_range[0]) {
    ports = fmt::format("every local port of {}-{} ({} ports, net.ipv4.ip_local_port_range)", port_range[0],
                        port_range[1], port_range[1] - port_range[0] + 1);
  }
  std::string tw;
  if (time_wait && orphan) {
    tw = fmt::format("; {} TCP sockets are in TIME_WAIT now and {} closed ones still wait for their peer's FIN "
                     "(/proc/net/sockstat tw, orphan)", *time_wait, *orphan);
  } else if (time_wait) {
    tw = fmt::format("; {} TCP sockets are in TIME_WAIT now (/proc/net/sockstat tw)", *time_wait);
  }
  return fmt::format(
      "Cannot assign requested address: {} to this destination was taken{}. The side that closes first keeps "
      "its port in TIME_WAIT for 60s: widen the range, spread the burst (--rate) or wait",
      ports, tw);
}

}  // namespace sp
