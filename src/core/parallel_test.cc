// The -P pieces without sockets: --size split with the remainder first,
// the runner's results in stream order, and the merger's sums (every
// running stream's k-th report, ended streams left out, nothing lost).
#include "core/parallel.h"

#include <atomic>

#include <doctest/doctest.h>

using namespace sp;

TEST_CASE("split_size gives the remainder to the first streams and adds up") {
  CHECK(split_size(10, 4) == std::vector<uint64_t>{3, 3, 2, 2});
  CHECK(split_size(8, 4) == std::vector<uint64_t>{2, 2, 2, 2});
  CHECK(split_size(2, 4) == std::vector<uint64_t>{1, 1, 0, 0});
  CHECK(split_size(5, 1) == std::vector<uint64_t>{5});
}

TEST_CASE("run_streams runs every body at once and keeps their results in order") {
  std::atomic<int> ran{0};
  auto out = run_streams(4, [&](size_t i) -> Status {
    ++ran;
    if (i == 2) return timeout_error("stream 3");
    return {};
  });
  CHECK(ran == 4);
  REQUIRE(out.size() == 4);
  CHECK(out[0].ok());
  CHECK_FALSE(out[2].ok());
  CHECK(out[2].error().message == "stream 3");
}

TEST_CASE("The merger sums the k-th report of every running stream") {
  std::vector<std::pair<double, uint64_t>> sums;
  std::vector<size_t> counts;
  int lines = 0;
  IntervalMerger m(
      3, 1.0, [&](size_t, const IntervalReport&) { ++lines; },
      [&](const IntervalReport& s, size_t n) {
        sums.push_back({s.end, s.bytes});
        counts.push_back(n);
      });
  m.add(0, {0, 1, 10, std::nullopt});
  m.add(1, {0, 1.01, 20, std::nullopt});
  CHECK(sums.empty());  // stream 2's first interval is still to come
  m.add(2, {0, 0.99, 30, std::nullopt});
  REQUIRE(sums.size() == 1);
  CHECK(sums[0].first == 1.01);
  CHECK(sums[0].second == 60);
  // Stream 1 ends; the next sums are of streams 0 and 2.
  m.finished(1);
  m.add(0, {1, 2, 1, std::nullopt});
  m.add(2, {1, 2, 2, std::nullopt});
  REQUIRE(sums.size() == 2);
  CHECK(sums[1].second == 3);
  CHECK(counts[1] == 2);
  // A stream's last report still counts after it ended.
  m.add(0, {2, 2.5, 5, std::nullopt});
  m.finished(2);
  REQUIRE(sums.size() == 3);
  CHECK(sums[2].second == 5);
  m.finished(0);
  CHECK(sums.size() == 3);
  CHECK(lines == 6);
}

TEST_CASE("The merger adds the streams' retransmits") {
  IntervalReport got;
  IntervalMerger m(2, 1.0, nullptr, [&](const IntervalReport& s, size_t) { got = s; });
  m.add(0, {0, 1, 10, IntervalTcp{2, 10, 1000, 0.001}});
  m.add(1, {0, 1, 10, IntervalTcp{3, 10, 1000, 0.001}});
  REQUIRE(got.tcp);
  CHECK(got.tcp->retrans == 5);
}

TEST_CASE("The merger matches reports by tick: a stream that slept through one is not shifted") {
  std::vector<std::pair<double, uint64_t>> sums;  // (start, bytes)
  IntervalMerger m(2, 1.0, nullptr, [&](const IntervalReport& s, size_t) { sums.push_back({s.start, s.bytes}); });
  m.add(0, {0, 1, 1, std::nullopt});
  m.add(1, {0, 1, 10, std::nullopt});
  m.add(0, {1, 3, 2, std::nullopt});  // stream 0 slept through tick 2
  m.add(1, {1, 2, 20, std::nullopt});
  REQUIRE(sums.size() == 2);
  CHECK(sums[1].second == 22);  // tick 1: both streams' reports starting at 1
  m.add(1, {2, 3, 30, std::nullopt});
  CHECK(sums.size() == 2);  // tick 2 waits until stream 0 shows it has nothing for it
  m.add(0, {3, 4, 3, std::nullopt});
  REQUIRE(sums.size() == 3);
  CHECK(sums[2].first == 2);
  CHECK(sums[2].second == 30);  // tick 2: stream 1 alone
  m.add(1, {3, 4, 40, std::nullopt});
  REQUIRE(sums.size() == 4);
  CHECK(sums[3].second == 43);
}
