// Accept loop with backoff, peer filter, and the --echo/--discard server
// (see serve.h).
#include "core/serve.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>
#include <unordered_map>

#include <fmt/format.h>

#include "core/atomicio.h"
#include "core/checksum.h"
#include "core/mover.h"
#include "core/signals.h"
#include "core/sock.h"
#include "core/ticker.h"
#include "core/wait.h"

namespace sp {

bool accept_error_is_temporary(int err) {
  switch (err) {
    case EINTR:
    case EAGAIN:
    case ECONNABORTED:
    case EPROTO:
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
    case EPERM:  // firewall rejections surface here on Linux
      return true;
    default:
      return false;
  }
}

std::chrono::milliseconds AcceptBackoff::next() {
  using std::chrono::milliseconds;
  delay_ = delay_.count() == 0 ? milliseconds(5) : std::min(delay_ * 2, milliseconds(1000));
  return delay_;
}

bool peer_allowed(const Endpoint& peer, const std::vector<Cidr>& allow, const std::vector<Cidr>& deny) {
  const unsigned char* bytes = endpoint_address_bytes(peer);
  if (bytes == nullptr) return true;
  for (const Cidr& c : deny) {
    if (cidr_contains(c, peer.family(), bytes)) return false;
  }
  if (allow.empty()) return true;
  for (const Cidr& c : allow) {
    if (cidr_contains(c, peer.family(), bytes)) return true;
  }
  return false;
}

namespace {

// One accept attempt on a (possibly non-blocking) listener. Returns an fd,
// or -1 with *err set (EAGAIN when nothing is pending).
int try_accept(int listen_fd, Endpoint* peer, int* err) {
  peer->len = sizeof peer->addr;
  int fd = ::accept4(listen_fd, peer->sa(), &peer->len, SOCK_CLOEXEC | SOCK_NONBLOCK);
  *err = fd < 0 ? errno : 0;
  return fd;
}

}  // namespace

Result<Fd> accept_allowed(int listen_fd, const std::vector<Cidr>& allow, const std::vector<Cidr>& deny,
                          AcceptBackoff* backoff, const AcceptHooks& hooks, Endpoint* peer) {
  // The listener is non-blocking (make_socket), so a connection that
  // vanished between poll and accept (ECONNABORTED) cannot leave us
  // blocked in accept().
  for (;;) {
    auto w = wait_fd(listen_fd, POLLIN, std::nullopt);
    if (!w.ok()) return w.take_error();
    if (*w == Wake::Interrupted) return interrupted_error();
    int err = 0;
    int fd = try_accept(listen_fd, peer, &err);
    if (fd < 0) {
      if (err == EAGAIN || err == EINTR) continue;
      if (!accept_error_is_temporary(err)) return system_error(fmt::format("accept: {}", errno_text(err)));
      bool first = !backoff->in_burst();
      auto d = backoff->next();
      if (first && hooks.on_backoff) hooks.on_backoff(err, d);
      sleep_interruptible(d);  // SIGINT ends it: the wait above sees the flag
      continue;
    }
    backoff->reset();
    Fd conn(fd);
    if (!peer_allowed(*peer, allow, deny)) {
      if (hooks.on_refused) hooks.on_refused(*peer);
      continue;  // conn closes here
    }
    return conn;
  }
}

void record_close_state(int fd, ConnectionReport* c) {
  BufferSizes b = effective_buffers(fd);
  c->sndbuf = b.sndbuf;
  c->rcvbuf = b.rcvbuf;
  if (auto ti = get_tcp_info(fd); ti.ok()) {
    c->has_tcp_info = true;
    c->tcp_info = *ti;
  }
}

namespace {

using Clock = std::chrono::steady_clock;

// An echo connection's buffer (allocated per connection, on its first byte).
constexpr size_t kConnBuffer = 64 * 1024;
// Decision: --discard and recv -k read 256K per call (recv's default chunk):
// their one buffer is shared, so the size costs nothing per connection, and
// recv -k with 8 senders made 4x the recvfrom calls of recv at 64K
// (strace -c -f). bench/recv_keep.sh, 8 senders: 0.69x socat -b 262144's
// rate at 64K, 1.26x at 256K (68 vs 54 Gbit/s, 0.032 vs 0.101 CPU s/GB).
constexpr size_t kDiscardRead = 256 * 1024;

// One connection: a mover from the socket back into itself (--echo) or
// into nothing (--discard). Every mover reads into the server's one shared
// buffer; an echo mover gets its own only when its socket does not take
// back all it read (Mover::share_buffer), so an idle connection, or one
// whose echo goes out whole, costs no buffer (bench/echo_soak.py). On TCP
// --discard reads with MSG_TRUNC, so the bytes are not even copied out.
struct Conn {
  Conn(int fd, bool echo, bool tcp, bool checksum, char* shared)
      : reader(fd, {.discard = !echo && tcp && !checksum}), writer(fd),
        mover(Path::Copy, fd, fd, &reader, echo ? static_cast<ByteWriter*>(&writer) : &drop,
              echo ? kConnBuffer : kDiscardRead) {
    mover.share_buffer(shared);
    if (checksum) {
      sum = std::make_unique<Checksum>();
      mover.set_checksum(sum.get());
    }
  }
  std::unique_ptr<Checksum> sum;
  Fd fd;
  ConnectionReport report;
  Clock::time_point started, last_activity;
  FdReader reader;
  FdWriter writer;
  DropWriter drop;
  Mover mover;
  uint32_t armed = 0;  // the events it is in the epoll set for; 0: not in it yet
};

constexpr int kMaxEvents = 64;

// The --echo/--discard server: one epoll set holding the listener, the
// SIGINT pipe and every connection. Each step is one method: decide whether
// to accept and how long to wait, accept what is pending, move one
// connection's data, close (and report) a connection, close idle ones.
class Server {
 public:
  Server(int listen_fd, const ServeOptions& opts, const ServeHooks& hooks)
      : listen_fd_(listen_fd),
        tcp_(socket_is_tcp(listen_fd)),
        opts_(opts),
        hooks_(hooks),
        discard_buf_(new char[kDiscardRead]) {}

  Status run();

 private:
  int ctl(int op, int fd, uint32_t events);
  void set_listening(bool on);
  Deadline wait_deadline(bool may_accept) const;
  Status accept_pending();
  Status accept_batch();
  void add_connection(Fd fd, const Endpoint& peer);
  void service(Conn& c, uint32_t events);
  bool pump(Conn& c);
  void arm(Conn& c);
  void close_conn(Conn& c, std::string error);
  struct IdleEnd {
    Deadline at;
    const std::string* reason = nullptr;
  };
  IdleEnd idle_end(const Conn& c) const;
  void close_idle();
  Status interrupt_all();
  void tick(Clock::time_point now);

  int listen_fd_;
  bool tcp_;  // the listener's, so every accepted socket's
  const ServeOptions& opts_;
  const ServeHooks& hooks_;
  Fd ep_;
  std::unordered_map<int, std::unique_ptr<Conn>> conns_;
  std::vector<int> fresh_;  // accepted by this accept_pending, not read yet
  uint64_t next_id_ = 1;
  bool listening_ = true;        // listener is in the epoll set
  bool stop_accepting_ = false;  // !keep_open and one connection came
  bool max_reported_ = false;    // on_max_conns was called
  AcceptBackoff backoff_;
  Clock::time_point resume_accept_{};
  std::unique_ptr<char[]> discard_buf_;
  Clock::time_point t0_ = Clock::now();
  IntervalClock<uint64_t> interval_;  // over bytes_in_
  uint64_t bytes_in_ = 0;              // every connection's, ever
};

int Server::ctl(int op, int fd, uint32_t events) { return epoll_set(ep_.get(), op, fd, events); }

void Server::set_listening(bool on) {
  if (on == listening_) return;
  ctl(on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, listen_fd_, EPOLLIN);
  listening_ = on;
}

// Until the backoff pause ends (when accepting is paused only by it), or the
// soonest idle deadline; -1: no limit.
Deadline Server::wait_deadline(bool may_accept) const {
  Deadline deadline;
  if (!may_accept && !stop_accepting_ && conns_.size() < opts_.max_conns) deadline = resume_accept_;
  if (opts_.idle_timeout.count() > 0 || opts_.silent_timeout.count() > 0) {
    for (auto& [fd, c] : conns_) deadline = earlier(deadline, idle_end(*c).at);
  }
  return earlier(deadline, interval_.tick.deadline());
}

// The sooner of the connection's two quiet limits and its reason (an
// unset deadline: none applies).
Server::IdleEnd Server::idle_end(const Conn& c) const {
  IdleEnd end;
  if (opts_.idle_timeout.count() > 0) end = {c.last_activity + opts_.idle_timeout, &opts_.idle_reason};
  bool silent = c.report.bytes_in == 0 && opts_.silent_timeout.count() > 0;
  if (silent && (!end.at || c.started + opts_.silent_timeout < *end.at)) {
    end = {c.started + opts_.silent_timeout, &opts_.silent_reason};
  }
  return end;
}

// Accepts up to kMaxEvents pending connections, then reads each (see
// add_connection); a temporary error pauses accepting for the backoff
// delay (said once per burst).
Status Server::accept_pending() {
  Status st = accept_batch();
  for (int fd : fresh_) {
    auto it = conns_.find(fd);
    if (it != conns_.end() && pump(*it->second)) arm(*it->second);
  }
  fresh_.clear();
  return st;
}

Status Server::accept_batch() {
  for (int k = 0; k < kMaxEvents && conns_.size() < opts_.max_conns && !stop_accepting_; ++k) {
    Endpoint peer;
    int err = 0;
    int cfd = try_accept(listen_fd_, &peer, &err);
    if (cfd < 0) {
      if (err == EAGAIN || err == EINTR) break;
      if (!accept_error_is_temporary(err)) return system_error(fmt::format("accept: {}", errno_text(err)));
      bool first = !backoff_.in_burst();
      auto d = backoff_.next();
      if (first && hooks_.on_backoff) hooks_.on_backoff(err, d);
      resume_accept_ = Clock::now() + d;
      break;
    }
    backoff_.reset();
    Fd owned(cfd);
    if (!peer_allowed(peer, opts_.allow, opts_.deny)) {
      if (hooks_.on_refused) hooks_.on_refused(peer);
      continue;  // closes here
    }
    add_connection(std::move(owned), peer);
    if (!opts_.keep_open) stop_accepting_ = true;
  }
  return {};
}

// Decision: a new connection is read right after its batch of accepts,
// before it joins the epoll set: a client that sent and closed before the
// accept (a connect burst, a health check) is finished without an
// epoll_ctl or a wake-up, and one that has not is added for EPOLLIN as
// before. Reading after the whole batch, not after each accept, gives the
// clients' FINs that much longer to arrive. Measured with burst-ref's
// client (2000 connections, strace -c -f of listen --discard -q): per
// connection 10 getsockopt, 2.2 epoll_ctl, accept4, recvfrom and close
// before (14.6k conn/s under strace); accept4, recvfrom and close after,
// 8 of 2000 needing the epoll set (32.3k conn/s under strace). The
// getsockopt calls went with socket_state (-q) and the listener's
// protocol read once. What is left is the reading itself: a discard
// server waits for the client's FIN, so the client closes first and holds
// the TIME_WAIT, which costs its next connect() a port search.
// bench/burst_ref.sh 2026-12-07, load 0.2, 7 pairs: 0.62 of burst-ref's
// server (it closes at accept, the TIME_WAIT stays with it) and 0.99 of
// bench/ref/discard-ref.c (accept4, read to EOF, close: the same work).
void Server::add_connection(Fd fd, const Endpoint& peer) {
  int cfd = fd.get();
  auto owned = std::make_unique<Conn>(cfd, opts_.mode == ServeOptions::Mode::Echo, tcp_, opts_.checksum,
                                      discard_buf_.get());
  Conn& c = *owned;
  c.fd = std::move(fd);
  c.report.id = next_id_++;
  c.report.peer = peer;
  if (opts_.socket_state) {
    BufferSizes b = effective_buffers(cfd);
    c.report.sndbuf = b.sndbuf;
    c.report.rcvbuf = b.rcvbuf;
  }
  c.started = c.last_activity = Clock::now();
  if (hooks_.on_accept) hooks_.on_accept(c.report);
  conns_[cfd] = std::move(owned);
  if (conns_.size() >= opts_.max_conns && !max_reported_) {
    max_reported_ = true;
    if (hooks_.on_max_conns) hooks_.on_max_conns(opts_.max_conns);
  }
  fresh_.push_back(cfd);
}

// A wake-up: what epoll said, then the moves.
void Server::service(Conn& c, uint32_t events) {
  c.mover.woke(static_cast<short>(events));
  if (pump(c)) arm(c);
}

// Moves one connection's bytes (a bounded number of rounds: fairness),
// closing it at its EOF (everything echoed) or on an error; false when it
// closed. SIGINT's EINTR is left to the next wait, which sees the
// interrupt fd.
bool Server::pump(Conn& c) {
  uint64_t before = c.mover.taken() + c.mover.moved();
  MoveResult m = c.mover.pump(16, c.mover.chunk());
  bytes_in_ += c.mover.taken() - c.report.bytes_in;
  c.report.bytes_in = c.mover.taken();
  if (opts_.mode == ServeOptions::Mode::Echo) c.report.bytes_out = c.mover.moved();
  if (m.what == Moved::Failed) {
    close_conn(c, fmt::format("{}: {}", m.at_dest ? "write" : "read", errno_text(m.err)));
    return false;
  }
  if (c.mover.taken() + c.mover.moved() != before) c.last_activity = Clock::now();
  if (c.mover.done()) {
    close_conn(c, "");
    return false;
  }
  return true;
}

// In the epoll set for what the mover waits on, changed only when that
// changes. Level-triggered, and no EPOLLRDHUP: a half-closed peer that is
// slow to read our echo must not wake us in a loop; read() reports its EOF.
void Server::arm(Conn& c) {
  uint32_t want = c.mover.blocked() ? EPOLLOUT : EPOLLIN;
  if (want == c.armed) return;
  ctl(c.armed == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c.fd.get(), want);
  c.armed = want;
}

// Reports the connection (counts, duration, buffers, TCP_INFO) and drops
// it. Not EPOLL_CTL_DEL first: closing its only descriptor takes it out of
// the epoll set.
void Server::close_conn(Conn& c, std::string error) {
  c.report.seconds = std::chrono::duration<double>(Clock::now() - c.started).count();
  c.report.error = std::move(error);
  if (c.sum) c.report.checksum = c.sum->text();
  if (opts_.socket_state) record_close_state(c.fd.get(), &c.report);
  if (hooks_.on_close) hooks_.on_close(c.report);
  conns_.erase(c.fd.get());
}

void Server::close_idle() {
  if (opts_.idle_timeout.count() <= 0 && opts_.silent_timeout.count() <= 0) return;
  auto now = Clock::now();
  std::vector<std::pair<int, const std::string*>> idle;
  for (auto& [fd, c] : conns_) {
    IdleEnd end = idle_end(*c);
    if (end.at && now >= *end.at) idle.emplace_back(fd, end.reason);
  }
  for (auto& [fd, reason] : idle) close_conn(*conns_[fd], *reason);
}

// --interval: the bytes every connection brought since the last line.
void Server::tick(Clock::time_point now) {
  auto end = interval_.due(now);
  if (!end) return;
  interval_.close(*end, bytes_in_, [&](double start, double stop, uint64_t at) {
    if (hooks_.on_interval) hooks_.on_interval({start, stop, bytes_in_ - at, conns_.size()});
  });
}

Status Server::interrupt_all() {
  while (!conns_.empty()) close_conn(*conns_.begin()->second, "interrupted");
  return interrupted_error();
}

Status Server::run() {
  ep_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep_.valid()) return system_error(fmt::format("epoll_create1: {}", errno_text(errno)));
  ctl(EPOLL_CTL_ADD, listen_fd_, EPOLLIN);
  if (interrupt_fd() >= 0) ctl(EPOLL_CTL_ADD, interrupt_fd(), EPOLLIN);
  interval_.begin(t0_, opts_.interval);
  for (;;) {
    if (stop_accepting_ && conns_.empty()) return {};
    // Re-arm the listener after a backoff pause or when below --max-conns.
    bool may_accept = !stop_accepting_ && conns_.size() < opts_.max_conns && Clock::now() >= resume_accept_;
    set_listening(may_accept);
    epoll_event events[kMaxEvents];
    int n = 0;
    auto w = wait_epoll(ep_.get(), events, kMaxEvents, wait_deadline(may_accept), &n);
    if (!w.ok()) return w.take_error();
    if (*w == Wake::Interrupted) return interrupt_all();
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == listen_fd_) {
        if (Status st = accept_pending(); !st) return st;
        continue;
      }
      auto it = conns_.find(fd);
      if (it != conns_.end()) service(*it->second, events[i].events);
    }
    close_idle();
    tick(Clock::now());
  }
}

}  // namespace

Status serve(int listen_fd, const ServeOptions& opts, const ServeHooks& hooks) {
  return Server(listen_fd, opts, hooks).run();
}

}  // namespace sp
