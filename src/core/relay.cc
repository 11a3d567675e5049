// The relay loop (see relay.h). Two directions, each a buffer that is filled
// by one read and drained by as many writes as it takes:
//   up:   in_fd  -> buffer -> net_fd
//   down: net_fd -> buffer -> out_fd
// After every read the matching write is tried at once (the socket is
// non-blocking, so this costs nothing when its buffer is full) instead of
// waiting for one more poll round: one poll per chunk instead of two.
#include "core/relay.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <memory>

#include <fmt/format.h>

#include "core/atomicio.h"
#include "core/signals.h"

namespace sp {
namespace {

struct Direction {
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

// One relay in progress: the fds, the two directions and the counters.
class Relay {
 public:
  Relay(int net_fd, int in_fd, int out_fd, const RelayOptions& opts, RelayStats* stats)
      : net_(net_fd), in_(in_fd), out_(out_fd), opts_(opts), stats_(stats) {
    // A datagram is read whole: 65507 is the largest UDP payload over IPv4.
    up_.size = opts.datagram ? std::min<size_t>(opts.buffer_size, 65507) : opts.buffer_size;
    up_.buf.reset(new char[up_.size]);
    down_.size = opts.buffer_size;
    down_.buf.reset(new char[down_.size]);
  }

  Status run();

 private:
  bool finished() const;
  int poll_timeout_ms() const;
  Status read_input();
  Status flush_up();
  Status read_net();
  Status flush_down();
  void after_up_progress();

  int net_, in_, out_;
  const RelayOptions& opts_;
  RelayStats* stats_;
  Direction up_, down_;
  Clock::time_point last_activity_ = Clock::now();
};

// Peer closed and all its bytes delivered: stop, unless --keep-sending asks
// to drain our input too. Decision (the lead's default): a peer EOF while
// stdin is still open ends the relay; bytes read from stdin but not yet sent
// at that moment are dropped, as the peer said it wants no more.
bool Relay::finished() const {
  if (down_.done && (up_.done || !opts_.keep_sending)) return true;
  return up_.done && opts_.close_on_eof;
}

int Relay::poll_timeout_ms() const {
  if (opts_.idle_timeout.count() <= 0) return -1;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(last_activity_ + opts_.idle_timeout -
                                                                    Clock::now()).count();
  return static_cast<int>(std::max<long long>(0, std::min<long long>(left + 1, 1 << 30)));
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
    if (w < 0) return system_error(fmt::format("write to peer: {}", errno_text(errno)));
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
    return system_error(fmt::format("read from peer: {}", errno_text(errno)));
  }
  if (r == 0) {
    // A zero-length datagram is not an EOF: UDP has none.
    if (!opts_.datagram) down_.eof = true;
  } else {
    stats_->bytes_received += static_cast<uint64_t>(r);
    last_activity_ = Clock::now();
    if (out_ >= 0) down_.fill(static_cast<size_t>(r));
  }
  return {};
}

// out_fd is usually stdout: we do not make it non-blocking (the file
// description is shared with the shell and other processes), so this write
// waits for the reader as nc's does; SIGINT still interrupts it.
Status Relay::flush_down() {
  if (down_.pending() > 0) {
    ssize_t w = write_some(out_, down_.buf.get() + down_.start, down_.pending());
    if (w < 0) {
      if (errno == EINTR) return interrupted_error();
      return system_error(fmt::format("write to output: {}", errno_text(errno)));
    }
    down_.start += static_cast<size_t>(w);
    if (w > 0) last_activity_ = Clock::now();
  }
  if (down_.eof && down_.pending() == 0) down_.done = true;
  return {};
}

Status Relay::run() {
  fcntl(net_, F_SETFL, fcntl(net_, F_GETFL) | O_NONBLOCK);
  if (in_ < 0) {
    up_.eof = true;
    after_up_progress();
  }
  while (!finished()) {
    enum { kIn, kOut, kNet, kSig, kCount };
    pollfd pfd[kCount] = {{-1, 0, 0}, {-1, 0, 0}, {-1, 0, 0}, {interrupt_fd(), POLLIN, 0}};
    if (!up_.eof && up_.pending() == 0) pfd[kIn] = {in_, POLLIN, 0};
    if (down_.pending() > 0) pfd[kOut] = {out_, POLLOUT, 0};
    short net_events = 0;
    if (!down_.eof && down_.pending() == 0) net_events |= POLLIN;
    if (up_.pending() > 0) net_events |= POLLOUT;
    // Not interested in the socket (peer EOF seen, nothing to send): leave
    // it out, or its POLLHUP would wake us in a loop.
    if (net_events != 0) pfd[kNet] = {net_, net_events, 0};

    int n = ::poll(pfd, kCount, poll_timeout_ms());
    if (interrupted()) return interrupted_error();
    if (n < 0) {
      if (errno == EINTR) continue;
      return system_error(fmt::format("poll: {}", errno_text(errno)));
    }
    if (n == 0) {
      return timeout_error(fmt::format("idle for {}: no data in either direction",
                                       human_duration(std::chrono::duration<double>(opts_.idle_timeout).count())));
    }
    if (pfd[kIn].revents != 0) {
      if (auto s = read_input(); !s) return s;
      if (auto s = flush_up(); !s) return s;
    } else if (pfd[kNet].revents & (POLLOUT | POLLERR | POLLHUP)) {
      if (auto s = flush_up(); !s) return s;
    }
    if (pfd[kNet].revents & (POLLIN | POLLERR | POLLHUP) && !down_.eof && down_.pending() == 0) {
      if (auto s = read_net(); !s) return s;
      if (auto s = flush_down(); !s) return s;
    } else if (pfd[kOut].revents != 0) {
      if (auto s = flush_down(); !s) return s;
    }
    if (interrupted()) return interrupted_error();
  }
  return {};
}

}  // namespace

Status readwrite(int net_fd, int in_fd, int out_fd, const RelayOptions& opts, RelayStats* stats) {
  Relay relay(net_fd, in_fd, out_fd, opts, stats);
  return relay.run();
}

}  // namespace sp
