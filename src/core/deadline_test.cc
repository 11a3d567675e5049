// poll_timeout_ms: no deadline, past, exact and fractional milliseconds, and
// timeouts too long for an int.
#include "core/deadline.h"

#include <climits>

#include <doctest/doctest.h>

namespace sp {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

const Clock::time_point kNow = Clock::time_point(1000h);

TEST_CASE("poll_timeout_ms: no deadline waits forever") { CHECK(poll_timeout_ms(std::nullopt, kNow) == -1); }

TEST_CASE("poll_timeout_ms: a passed or present deadline is 0") {
  CHECK(poll_timeout_ms(kNow, kNow) == 0);
  CHECK(poll_timeout_ms(kNow - 1ns, kNow) == 0);
  CHECK(poll_timeout_ms(kNow - 5s, kNow) == 0);
  CHECK(poll_timeout_ms(Clock::time_point::min(), kNow) == 0);
}

TEST_CASE("poll_timeout_ms: rounds up so a poll never wakes before the deadline") {
  CHECK(poll_timeout_ms(kNow + 1ns, kNow) == 1);
  CHECK(poll_timeout_ms(kNow + 999us, kNow) == 1);
  CHECK(poll_timeout_ms(kNow + 1ms, kNow) == 1);
  CHECK(poll_timeout_ms(kNow + 1ms + 1ns, kNow) == 2);
  CHECK(poll_timeout_ms(kNow + 250ms, kNow) == 250);
  CHECK(poll_timeout_ms(kNow + 2s, kNow) == 2000);
}

TEST_CASE("poll_timeout_ms: long timeouts clamp to INT_MAX instead of wrapping") {
  CHECK(poll_timeout_ms(kNow + std::chrono::milliseconds(INT_MAX), kNow) == INT_MAX);
  CHECK(poll_timeout_ms(kNow + std::chrono::milliseconds(INT_MAX) + 1ms, kNow) == INT_MAX);
  CHECK(poll_timeout_ms(kNow + 1000h * 24, kNow) == INT_MAX);
  CHECK(poll_timeout_ms(Clock::time_point::max(), kNow) == INT_MAX);
}

}  // namespace
}  // namespace sp
