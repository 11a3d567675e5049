// Ticker: the clock of periodic callbacks (--interval lines, the progress
// line) in the transfer loops, TCP (core/transfer.cc) and UDP
// (core/udpsend.cc, core/udprecv.cc) alike. due() / advance() step it; deadline() is what
// the loop's wait must not sleep past. every == 0: never due.
#pragma once

#include <chrono>

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

}  // namespace sp
