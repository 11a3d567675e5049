// IntervalClock: due() closes one interval per due tick (a loop that slept
// through several closes one, ending at the last tick it passed), close()
// hands the start and the counts it began from, then starts the next; an
// interval under 1 ms says nothing but still moves the start.
#include "core/ticker.h"

#include <vector>

#include <doctest/doctest.h>

namespace sp {
namespace {

using std::chrono::milliseconds;

TEST_CASE("IntervalClock: one interval per due tick, from the counts it began with") {
  IntervalClock<int> c;
  auto t0 = Ticker::Clock::time_point{} + std::chrono::hours(1);
  c.begin(t0, milliseconds(100));
  CHECK_FALSE(c.due(t0 + milliseconds(99)).has_value());
  auto end = c.due(t0 + milliseconds(100));
  REQUIRE(end.has_value());
  CHECK(*end == doctest::Approx(0.1));
  std::vector<double> seen;
  c.close(*end, 7, [&](double start, double stop, int at) {
    seen.push_back(start);
    seen.push_back(stop);
    CHECK(at == 0);
  });
  CHECK(seen == std::vector<double>{0.0, 0.1});
  // Slept through three ticks: one interval, ending at the first due tick.
  end = c.due(t0 + milliseconds(450));
  REQUIRE(end.has_value());
  CHECK(*end == doctest::Approx(0.2));
  CHECK_FALSE(c.due(t0 + milliseconds(450)).has_value());
  CHECK(c.tick.next == t0 + milliseconds(500));
  int from = -1;
  c.close(*end, 9, [&](double, double, int at) { from = at; });
  CHECK(from == 7);
  CHECK(c.at == 9);
}

TEST_CASE("IntervalClock: under 1 ms is no interval, but the next starts there") {
  IntervalClock<int> c;
  c.begin(Ticker::Clock::time_point{}, milliseconds(0));
  CHECK_FALSE(c.due(Ticker::Clock::time_point{} + std::chrono::hours(1)).has_value());  // every 0: never
  bool called = false;
  c.close(0.0005, 3, [&](double, double, int) { called = true; });
  CHECK_FALSE(called);
  CHECK(c.start == 0.0005);
  CHECK(c.at == 3);
}

}  // namespace
}  // namespace sp
