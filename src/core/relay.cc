// The relay loop (see relay.h). Two directions, each a buffer that is filled
// by one read and drained by as many writes as it takes:
//   up:   in_fd  -> buffer -> net_fd
//   down: net_fd -> buffer -> out_fd
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
};

using Clock = std::chrono::steady_clock;

}  // namespace

Status readwrite(int net_fd, int in_fd, int out_fd, const RelayOptions& opts, RelayStats* stats) {
  fcntl(net_fd, F_SETFL, fcntl(net_fd, F_GETFL) | O_NONBLOCK);
  size_t up_size = opts.datagram ? std::min<size_t>(opts.buffer_size, 65507) : opts.buffer_size;
  Direction up, down;
  up.buf.reset(new char[up_size]);
  up.size = up_size;
  down.buf.reset(new char[opts.buffer_size]);
  down.size = opts.buffer_size;

  if (in_fd < 0) {
    up.eof = up.done = true;
    if (!opts.datagram) ::shutdown(net_fd, SHUT_WR);
  }
  auto last_activity = Clock::now();
  bool idle_limited = opts.idle_timeout.count() > 0;

  for (;;) {
    // Finished? Peer closed and all its bytes delivered: stop, unless
    // --keep-sending asks to drain our input too.
    if (down.done && (up.done || !opts.keep_sending)) return {};
    if (up.done && opts.close_on_eof) return {};

    enum { kIn, kOut, kNet, kSig, kCount };
    pollfd pfd[kCount] = {{-1, 0, 0}, {-1, 0, 0}, {-1, 0, 0}, {interrupt_fd(), POLLIN, 0}};
    if (!up.eof && up.pending() == 0) pfd[kIn] = {in_fd, POLLIN, 0};
    if (down.pending() > 0 && out_fd >= 0) pfd[kOut] = {out_fd, POLLOUT, 0};
    short net_events = 0;
    if (!down.eof && down.pending() == 0) net_events |= POLLIN;
    if (up.pending() > 0) net_events |= POLLOUT;
    pfd[kNet] = {net_fd, net_events, 0};

    int timeout_ms = -1;
    if (idle_limited) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      last_activity + opts.idle_timeout - Clock::now()).count();
      timeout_ms = static_cast<int>(std::max<long long>(0, std::min<long long>(left, 1 << 30)));
    }
    int n = ::poll(pfd, kCount, timeout_ms);
    if (interrupted()) return interrupted_error();
    if (n < 0) {
      if (errno == EINTR) continue;
      return system_error(fmt::format("poll: {}", errno_text(errno)));
    }
    if (n == 0) {
      return timeout_error(fmt::format("idle for {}: no data in either direction",
                                       human_duration(std::chrono::duration<double>(opts.idle_timeout).count())));
    }
    bool moved = false;

    // Input -> buffer.
    if (pfd[kIn].revents != 0) {
      ssize_t r = read_some(in_fd, up.buf.get(), up.size);
      if (r < 0) return system_error(fmt::format("read from input: {}", errno_text(errno)));
      if (r == 0) {
        up.eof = true;
      } else {
        up.start = 0;
        up.end = static_cast<size_t>(r);
        moved = true;
      }
    }
    // Buffer -> socket.
    if (up.pending() > 0 && (pfd[kNet].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w;
      if (opts.datagram) {
        do w = ::send(net_fd, up.buf.get() + up.start, up.pending(), 0);
        while (w < 0 && errno == EINTR);
        if (w < 0 && errno == EAGAIN) w = 0;
      } else {
        w = write_some(net_fd, up.buf.get() + up.start, up.pending());
      }
      if (w < 0) return system_error(fmt::format("write to peer: {}", errno_text(errno)));
      up.start += static_cast<size_t>(w);
      stats->bytes_sent += static_cast<uint64_t>(w);
      if (opts.datagram) up.start = up.end;  // a datagram goes whole or not at all
      moved = moved || w > 0;
    }
    if (up.eof && !up.done && up.pending() == 0) {
      up.done = true;
      if (!opts.datagram && !opts.close_on_eof) ::shutdown(net_fd, SHUT_WR);
    }

    // Socket -> buffer.
    if (!down.eof && down.pending() == 0 && (pfd[kNet].revents & (POLLIN | POLLERR | POLLHUP))) {
      ssize_t r = read_some(net_fd, down.buf.get(), down.size);
      if (r < 0 && errno != EAGAIN) {
        return system_error(fmt::format("read from peer: {}", errno_text(errno)));
      }
      if (r == 0 && !opts.datagram) {
        down.eof = true;
      } else if (r > 0) {
        down.start = 0;
        down.end = static_cast<size_t>(r);
        stats->bytes_received += static_cast<uint64_t>(r);
        moved = true;
      }
      if (out_fd < 0) down.start = down.end;  // discard
    }
    // Buffer -> output.
    if (down.pending() > 0 && pfd[kOut].revents != 0) {
      ssize_t w = write_some(out_fd, down.buf.get() + down.start, down.pending());
      if (w < 0) return system_error(fmt::format("write to output: {}", errno_text(errno)));
      down.start += static_cast<size_t>(w);
      moved = moved || w > 0;
    }
    if (down.eof && down.pending() == 0) down.done = true;

    if (moved) last_activity = Clock::now();
  }
}

}  // namespace sp
