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
#include <unordered_map>

#include <fmt/format.h>

#include "core/deadline.h"
#include "core/fd.h"
#include "core/signals.h"
#include "core/tcpinfo.h"

namespace sp {
namespace {

using Clock = std::chrono::steady_clock;

struct Attempt {
  Fd fd;
  Clock::time_point started;
};

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
void count_syn_retransmits(BurstResult* r, int fd) {
  auto info = get_tcp_info(fd);
  if (info.ok() && info->has(&TcpInfoRaw::total_retrans)) ++r->syn_retransmits[info->raw.total_retrans];
}

// When attempt number n may start at `rate` attempts per second (rate > 0).
Clock::time_point start_time(Clock::time_point t0, uint64_t n, uint64_t rate) {
  std::chrono::duration<double> due(static_cast<double>(n) / static_cast<double>(rate));
  return t0 + std::chrono::duration_cast<Clock::duration>(due);
}

}  // namespace

Result<BurstResult> run_burst(const Endpoint& target, const SocketConfig& cfg, const BurstOptions& opts) {
  Fd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep.valid()) return system_error(fmt::format("epoll_create1: {}", errno_text(errno)));
  if (interrupt_fd() >= 0) {
    epoll_event ev = {};
    ev.events = EPOLLIN;
    ev.data.fd = interrupt_fd();
    ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, interrupt_fd(), &ev);
  }
  BurstResult r;
  r.latencies.reserve(static_cast<size_t>(std::min<uint64_t>(opts.count, 1 << 20)));
  std::unordered_map<int, Attempt> inflight;
  std::vector<char> payload(static_cast<size_t>(std::min<uint64_t>(opts.send_bytes, 1 << 20)), 'x');
  uint64_t started = 0;
  auto t0 = Clock::now();

  auto start_one = [&]() -> Status {
    int fd = ::socket(target.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      // Out of fds or memory: count it and go on, as a load tool should.
      classify(&r, errno);
      ++started;
      return {};
    }
    Attempt a{Fd(fd), Clock::now()};
    ++started;
    if (Status s = apply_buffers(fd, cfg); !s) return s;
    if (::connect(fd, target.sa(), target.len) != 0 && errno != EINPROGRESS) {
      classify(&r, errno);
      return {};
    }
    epoll_event ev = {};
    ev.events = EPOLLOUT;
    ev.data.fd = fd;
    ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev);
    inflight.emplace(fd, std::move(a));
    return {};
  };
  auto finish_one = [&](int fd) {
    auto it = inflight.find(fd);
    if (it == inflight.end()) return;
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err == 0) {
      r.latencies.push_back(std::chrono::duration<double>(Clock::now() - it->second.started).count());
      ++r.ok;
      count_syn_retransmits(&r, fd);
      if (!payload.empty()) [[maybe_unused]] ssize_t n = ::send(fd, payload.data(), payload.size(), MSG_NOSIGNAL);
    } else {
      classify(&r, err);
    }
    ::epoll_ctl(ep.get(), EPOLL_CTL_DEL, fd, nullptr);
    inflight.erase(it);
  };

  while (started < opts.count || !inflight.empty()) {
    auto now = Clock::now();
    // Start as many as concurrency and rate allow.
    while (started < opts.count && inflight.size() < opts.concurrency) {
      if (opts.rate > 0 && now < start_time(t0, started, opts.rate)) break;
      if (Status s = start_one(); !s) return s.error();
    }
    // Expire attempts past the timeout.
    int wait_ms = 1000;
    for (auto it = inflight.begin(); it != inflight.end();) {
      auto deadline = it->second.started + opts.timeout;
      if (now >= deadline) {
        ++r.timeout;
        ::epoll_ctl(ep.get(), EPOLL_CTL_DEL, it->first, nullptr);
        it = inflight.erase(it);
        continue;
      }
      wait_ms = std::min(wait_ms, poll_timeout_ms(deadline, now));
      ++it;
    }
    if (opts.rate > 0 && started < opts.count) {
      wait_ms = std::min(wait_ms, poll_timeout_ms(start_time(t0, started, opts.rate), now));
    }
    if (inflight.empty() && started >= opts.count) break;
    epoll_event events[256];
    int n = ::epoll_wait(ep.get(), events, 256, wait_ms);
    if (interrupted()) {
      r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
      return interrupted_error();
    }
    for (int i = 0; i < n; ++i) {
      if (events[i].data.fd != interrupt_fd()) finish_one(events[i].data.fd);
    }
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return r;
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
  std::vector<HistogramBucket> b = {{100e-6, "<100us"}, {1e-3, "<1ms"}, {10e-3, "<10ms"}, {100e-3, "<100ms"}};
  double lower = 100e-3;
  for (size_t i = 0; i < marks.size() && marks[i] <= 15; ++i) {
    double upper = marks[i] - 0.1;
    if (upper > lower) b.push_back({upper, fmt::format("<{:g}s", upper)});
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

}  // namespace sp
