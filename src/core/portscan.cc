// Parallel, ordered, optionally waiting port probes (see portscan.h).
#include "core/portscan.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/signals.h"
#include "core/wait.h"

namespace sp {
namespace {

using Clock = std::chrono::steady_clock;

// One attempt: resolve first, so that a name that does not resolve is
// "unresolved" rather than a connect failure.
PortProbe attempt(const std::string& host, uint16_t port, const SocketConfig& cfg, Duration timeout,
                  bool* interrupted_out) {
  PortProbe p;
  p.port = port;
  auto eps = resolve(host, port, cfg.transport, cfg.family, false);
  if (!eps.ok()) {
    p.state = PortState::Unresolved;
    p.error = eps.error().message;
    return p;
  }
  auto c = remote_connect(host, port, cfg, timeout);
  if (c.ok()) {
    p.state = PortState::Open;
    p.peer = c->peer;
    return p;
  }
  *interrupted_out = c.error().kind == ErrorKind::Interrupted;
  p.state = c.error().kind == ErrorKind::Timeout ? PortState::Timeout : PortState::Closed;
  p.error = c.error().message;
  return p;
}

// Probes one port until it opens, the deadline passes (wait) or once.
PortProbe probe_one(const std::string& host, uint16_t port, const SocketConfig& cfg, const ScanOptions& o,
                    Clock::time_point started, bool* stop) {
  std::optional<Clock::time_point> deadline;
  if (o.wait) deadline = started + *o.wait;
  PortProbe p;
  for (int n = 1;; ++n) {
    Duration budget = o.timeout;
    if (deadline) {
      auto left = std::chrono::duration_cast<Duration>(*deadline - Clock::now());
      if (left.count() <= 0) left = Duration(1);
      if (budget.count() == 0 || budget > left) budget = left;
    }
    Clock::time_point tried = Clock::now();
    p = attempt(host, port, cfg, budget, stop);
    p.attempts = n;
    if (*stop || p.state == PortState::Open || !deadline || Clock::now() >= *deadline) break;
    // No attempt squeezed into the last moment: it would only time out and
    // hide the port's real state ("closed").
    if (tried + o.retry_every >= *deadline) break;
    auto next = tried + o.retry_every;
    if (!sleep_interruptible(next - Clock::now())) {
      *stop = true;
      break;
    }
  }
  p.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return p;
}

}  // namespace

const char* port_state_name(PortState s) {
  switch (s) {
    case PortState::Open: return "open";
    case PortState::Closed: return "closed";
    case PortState::Timeout: return "timeout";
    case PortState::Unresolved: return "unresolved";
  }
  return "closed";
}

Status probe_ports(const std::string& host, const std::vector<uint16_t>& ports, const SocketConfig& cfg,
                   const ScanOptions& opts, const std::function<void(const PortProbe&)>& on_result) {
  std::vector<std::optional<PortProbe>> results(ports.size());
  std::mutex mu;
  std::condition_variable ready;
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  auto worker = [&] {
    while (!stop) {
      size_t i = next++;
      if (i >= ports.size()) break;
      bool interrupted_here = false;
      PortProbe p = probe_one(host, ports[i], cfg, opts, Clock::now(), &interrupted_here);
      if (interrupted_here) stop = true;
      std::lock_guard<std::mutex> lock(mu);
      if (!interrupted_here) results[i] = std::move(p);
      ready.notify_all();
    }
  };
  size_t n = std::clamp<size_t>(opts.concurrency, 1, std::max<size_t>(ports.size(), 1));
  std::vector<std::thread> threads;
  for (size_t k = 0; k < n; ++k) threads.emplace_back(worker);
  // Hand results over in port order as soon as each is the next one.
  for (size_t shown = 0; shown < ports.size() && !stop;) {
    std::unique_lock<std::mutex> lock(mu);
    ready.wait(lock, [&] { return results[shown].has_value() || stop; });
    while (shown < ports.size() && results[shown]) {
      PortProbe p = std::move(*results[shown]);
      lock.unlock();
      on_result(p);
      lock.lock();
      ++shown;
    }
  }
  for (auto& t : threads) t.join();
  if (stop || interrupted()) return interrupted_error();
  return {};
}

}  // namespace sp
