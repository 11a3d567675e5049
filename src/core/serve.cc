// Accept loop with backoff, peer filter, and the --echo/--discard server
// (see serve.h).
#include "core/serve.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <unordered_map>

#include <fmt/format.h>

#include "core/atomicio.h"
#include "core/signals.h"
#include "core/sock.h"

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

// Sleeps for the backoff delay, waking early on SIGINT.
void backoff_sleep(std::chrono::milliseconds d) {
  pollfd p = {interrupt_fd(), POLLIN, 0};
  ::poll(&p, interrupt_fd() >= 0 ? 1 : 0, static_cast<int>(d.count()));
}

}  // namespace

Result<Fd> accept_allowed(int listen_fd, const std::vector<Cidr>& allow, const std::vector<Cidr>& deny,
                          AcceptBackoff* backoff, const AcceptHooks& hooks, Endpoint* peer) {
  // Non-blocking, so a connection that vanished between poll and accept
  // (ECONNABORTED) cannot leave us blocked in accept().
  fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
  for (;;) {
    pollfd p[2] = {{listen_fd, POLLIN, 0}, {interrupt_fd(), POLLIN, 0}};
    int n = ::poll(p, interrupt_fd() >= 0 ? 2 : 1, -1);
    if (interrupted()) return interrupted_error();
    if (n < 0) {
      if (errno == EINTR) continue;
      return system_error(fmt::format("poll: {}", errno_text(errno)));
    }
    int err = 0;
    int fd = try_accept(listen_fd, peer, &err);
    if (fd < 0) {
      if (err == EAGAIN || err == EINTR) continue;
      if (!accept_error_is_temporary(err)) return system_error(fmt::format("accept: {}", errno_text(err)));
      bool first = !backoff->in_burst();
      auto d = backoff->next();
      if (first && hooks.on_backoff) hooks.on_backoff(err, d);
      backoff_sleep(d);
      continue;
    }
    backoff->reset();
    Fd conn(fd);
    if (!peer_allowed(*peer, allow, deny)) {
      if (hooks.on_refused) hooks.on_refused(*peer);
      continue;  // conn closes here
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return conn;
  }
}

namespace {

using Clock = std::chrono::steady_clock;

struct Conn {
  Fd fd;
  ConnectionReport report;
  Clock::time_point started, last_activity;
  std::unique_ptr<char[]> buf;
  size_t start = 0, end = 0;  // echo bytes waiting to go back
  bool read_eof = false;
};

constexpr size_t kConnBuffer = 64 * 1024;

}  // namespace

Status serve(int listen_fd, const ServeOptions& opts, const ServeHooks& hooks) {
  fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
  Fd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep.valid()) return system_error(fmt::format("epoll_create1: {}", errno_text(errno)));
  auto ctl = [&](int op, int fd, uint32_t events) {
    epoll_event ev = {};
    ev.events = events;
    ev.data.fd = fd;
    return ::epoll_ctl(ep.get(), op, fd, &ev);
  };
  ctl(EPOLL_CTL_ADD, listen_fd, EPOLLIN);
  if (interrupt_fd() >= 0) ctl(EPOLL_CTL_ADD, interrupt_fd(), EPOLLIN);

  std::unordered_map<int, std::unique_ptr<Conn>> conns;
  uint64_t next_id = 1;
  bool listening = true;        // listener is in the epoll set
  bool stop_accepting = false;  // !keep_open and one connection came
  AcceptBackoff backoff;
  Clock::time_point resume_accept{};
  std::unique_ptr<char[]> discard_buf(new char[kConnBuffer]);

  auto close_conn = [&](Conn& c, std::string error) {
    c.report.seconds = std::chrono::duration<double>(Clock::now() - c.started).count();
    c.report.error = std::move(error);
    if (auto ti = get_tcp_info(c.fd.get()); ti.ok()) {
      c.report.has_tcp_info = true;
      c.report.tcp_info = *ti;
    }
    if (hooks.on_close) hooks.on_close(c.report);
    int fd = c.fd.get();
    ::epoll_ctl(ep.get(), EPOLL_CTL_DEL, fd, nullptr);
    conns.erase(fd);
  };
  auto set_listening = [&](bool on) {
    if (on == listening) return;
    ctl(on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, listen_fd, EPOLLIN);
    listening = on;
  };

  // Moves data for one connection; returns false once it was closed.
  auto service = [&](Conn& c, uint32_t events) -> bool {
    bool moved = false;
    for (int round = 0; round < 16; ++round) {  // bounded fairness per wakeup
      if (c.end > c.start) {
        ssize_t w = write_some(c.fd.get(), c.buf.get() + c.start, c.end - c.start);
        if (w < 0) {
          close_conn(c, fmt::format("write: {}", errno_text(errno)));
          return false;
        }
        c.start += static_cast<size_t>(w);
        c.report.bytes_out += static_cast<uint64_t>(w);
        moved = moved || w > 0;
        if (c.end > c.start) break;  // send buffer full: wait for EPOLLOUT
      }
      if (c.read_eof) break;
      char* dst = opts.mode == ServeOptions::Mode::Echo ? c.buf.get() : discard_buf.get();
      ssize_t r = read_some(c.fd.get(), dst, kConnBuffer);
      if (r < 0) {
        if (errno == EAGAIN) break;
        close_conn(c, fmt::format("read: {}", errno_text(errno)));
        return false;
      }
      if (r == 0) {
        c.read_eof = true;
        break;
      }
      moved = true;
      c.report.bytes_in += static_cast<uint64_t>(r);
      if (opts.mode == ServeOptions::Mode::Echo) {
        c.start = 0;
        c.end = static_cast<size_t>(r);
      }
    }
    (void)events;
    if (moved) c.last_activity = Clock::now();
    if (c.read_eof && c.end == c.start) {
      close_conn(c, "");
      return false;
    }
    // Level-triggered, and no EPOLLRDHUP: a half-closed peer that is slow to
    // read our echo must not wake us in a loop; read() reports its EOF.
    uint32_t want = c.end > c.start ? EPOLLOUT : EPOLLIN;
    ctl(EPOLL_CTL_MOD, c.fd.get(), want);
    return true;
  };

  for (;;) {
    if (stop_accepting && conns.empty()) return {};
    // Re-arm the listener after a backoff pause or when below --max-conns.
    bool may_accept = !stop_accepting && conns.size() < opts.max_conns && Clock::now() >= resume_accept;
    set_listening(may_accept);

    int timeout_ms = -1;
    auto now = Clock::now();
    if (!may_accept && !stop_accepting && conns.size() < opts.max_conns) {
      timeout_ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(resume_accept - now).count()) + 1;
    }
    if (opts.idle_timeout.count() > 0 && !conns.empty()) {
      auto soonest = Clock::time_point::max();
      for (auto& [fd, c] : conns) soonest = std::min(soonest, c->last_activity + opts.idle_timeout);
      // Clamped: a long --idle-timeout (1000h) must not wrap to a negative int.
      int ms = static_cast<int>(std::clamp<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(soonest - now).count() + 1, 0, 1000 * 1000));
      timeout_ms = timeout_ms < 0 ? ms : std::min(timeout_ms, ms);
    }
    epoll_event events[64];
    int n = ::epoll_wait(ep.get(), events, 64, timeout_ms);
    if (interrupted()) {
      while (!conns.empty()) close_conn(*conns.begin()->second, "interrupted");
      return interrupted_error();
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      return system_error(fmt::format("epoll_wait: {}", errno_text(errno)));
    }
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == listen_fd) {
        for (int k = 0; k < 64 && conns.size() < opts.max_conns && !stop_accepting; ++k) {
          Endpoint peer;
          int err = 0;
          int cfd = try_accept(listen_fd, &peer, &err);
          if (cfd < 0) {
            if (err == EAGAIN || err == EINTR) break;
            if (!accept_error_is_temporary(err)) {
              return system_error(fmt::format("accept: {}", errno_text(err)));
            }
            bool first = !backoff.in_burst();
            auto d = backoff.next();
            if (first && hooks.on_backoff) hooks.on_backoff(err, d);
            resume_accept = Clock::now() + d;
            break;
          }
          backoff.reset();
          Fd cfd_owned(cfd);
          if (!peer_allowed(peer, opts.allow, opts.deny)) {
            if (hooks.on_refused) hooks.on_refused(peer);
            continue;
          }
          auto c = std::make_unique<Conn>();
          c->fd = std::move(cfd_owned);
          c->report.id = next_id++;
          c->report.peer = peer;
          BufferSizes b = effective_buffers(cfd);
          c->report.sndbuf = b.sndbuf;
          c->report.rcvbuf = b.rcvbuf;
          c->started = c->last_activity = Clock::now();
          if (opts.mode == ServeOptions::Mode::Echo) c->buf.reset(new char[kConnBuffer]);
          if (hooks.on_accept) hooks.on_accept(c->report);
          ctl(EPOLL_CTL_ADD, cfd, EPOLLIN);
          conns[cfd] = std::move(c);
          if (!opts.keep_open) stop_accepting = true;
        }
        continue;
      }
      if (fd == interrupt_fd()) continue;
      auto it = conns.find(fd);
      if (it == conns.end()) continue;
      service(*it->second, events[i].events);
    }
    if (opts.idle_timeout.count() > 0) {
      auto now2 = Clock::now();
      std::vector<int> idle;
      for (auto& [fd, c] : conns) {
        if (now2 - c->last_activity >= opts.idle_timeout) idle.push_back(fd);
      }
      for (int fd : idle) close_conn(*conns[fd], "idle timeout");
    }
  }
}

}  // namespace sp
