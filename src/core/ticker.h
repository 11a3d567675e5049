// Ticker: the clock of periodic callbacks (--interval lines, the progress
// line) in the transfer loops, TCP (core/transfer.cc) and UDP
// (core/udpsend.cc, core/udprecv.cc) alike. due() / advance() step it; deadline() is what
// the loop's wait must not sleep past. every == 0: never due.
// IntervalClock: one --interval series over a snapshot of counters, the
// one bookkeeping of where an interval starts (time and counts) for those
// loops and the --echo/--discard server (core/serve.cc).
#pragma once

#include <chrono>
#include <optional>

#include "core/parse.h"
#include "core/wait.h"

namespace sp {

struct Ticker {
  using Clock = std::chrono::steady_clock;
  Duration every{0};
  Clock::time_point next{};
  bool due(Clock::time_point now) const { return every.count() > 0 && now >= next; }
  void start(Clock::time_point t) { next = t + every; }
  void advance() { next += every; }
  // Steps past `now` (a loop that slept through several ticks reports once).
  void catch_up(Clock::time_point now) {
    while (due(now)) advance();
  }
  Deadline deadline() const { return every.count() > 0 ? Deadline(next) : std::nullopt; }
};

// Counts: the counters an interval line is the difference of (copyable).
template <typename Counts>
struct IntervalClock {
  using Clock = Ticker::Clock;
  Clock::time_point t0{};
  Ticker tick;
  double start = 0;  // seconds since t0 where the open interval began
  Counts at{};       // the counts then

  void begin(Clock::time_point t, Duration every) {
    t0 = t;
    tick.every = every;
    tick.start(t);
  }
  // The end (seconds since t0) of the interval a tick due at `now` closes;
  // nothing when none is due. A loop that slept through ticks closes one.
  std::optional<double> due(Clock::time_point now) {
    if (!tick.due(now)) return std::nullopt;
    double end = std::chrono::duration<double>(tick.next - t0).count();
    tick.catch_up(now);
    return end;
  }
  double elapsed(Clock::time_point now) const { return std::chrono::duration<double>(now - t0).count(); }
  // Closes the open interval at `end`: f(start, end, at) unless it is under
  // 1 ms long (nothing to say), then the next one starts at `end`, `now`.
  template <typename F>
  void close(double end, const Counts& now, F&& f) {
    if (end > start + 1e-3) f(start, end, at);
    start = end;
    at = now;
  }
};

}  // namespace sp
