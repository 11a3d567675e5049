// The burst statistics are pure, so they are checked on made-up samples:
// percentiles, the SYN retransmission schedule, histogram buckets and the
// clusters that point at retransmitted SYNs.
#include "core/burst.h"

#include <algorithm>

#include <doctest/doctest.h>

using namespace sp;

TEST_CASE("percentile: nearest rank") {
  std::vector<double> v = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  CHECK(percentile(v, 50) == 5);
  CHECK(percentile(v, 90) == 9);
  CHECK(percentile(v, 99) == 10);
  CHECK(percentile(v, 100) == 10);
  CHECK(percentile({}, 50) == 0);
  CHECK(percentile({0.25}, 99) == 0.25);
}

TEST_CASE("SYN retransmission schedule: exponential, or linear first") {
  CHECK(syn_retransmit_times(0, 4) == std::vector<double>{1, 3, 7, 15});
  CHECK(syn_retransmit_times(4, 7) == std::vector<double>{1, 2, 3, 4, 5, 7, 11});
  CHECK(syn_retransmit_times(0, 0).empty());
}

TEST_CASE("latency histogram buckets follow the schedule") {
  auto marks = syn_retransmit_times(0, 6);  // 1 3 7 15 31 63
  auto h = latency_histogram({50e-6, 0.5e-3, 0.5e-3, 5e-3, 1.01, 1.2, 3.05, 7.1, 20}, marks);
  REQUIRE(h.size() == 9);
  CHECK(h[0].count == 1);  // <100us
  CHECK(h[1].count == 2);  // <1ms
  CHECK(h[2].count == 1);  // <10ms
  CHECK(h[4].label == "<0.9s");
  CHECK(h[5].label == "<2.9s");
  CHECK(h[5].count == 2);  // 0.9-2.9 s: one retransmitted SYN
  CHECK(h[6].count == 1);  // 2.9-6.9 s
  CHECK(h[7].count == 1);  // 6.9-14.9 s
  CHECK(h[8].label == ">=14.9s");
  CHECK(h[8].count == 1);
  auto linear = latency_histogram({2.04}, syn_retransmit_times(4, 6));
  CHECK(linear[5].label == "<1.9s");
  CHECK(linear[6].label == "<2.9s");
  CHECK(linear[6].count == 1);
}

TEST_CASE("SYN retransmission clusters near the marks") {
  auto exp = syn_retransmit_times(0, 4);
  auto c = syn_retransmission_clusters({0.0001, 1.003, 1.02, 1.4, 2.0, 3.001, 7.2, 15.01, 0.5}, exp);
  CHECK(c == std::vector<uint64_t>{3, 1, 1, 1});
  auto lin = syn_retransmission_clusters({2.04, 2.05, 0.001}, syn_retransmit_times(4, 6));
  CHECK(lin[1] == 2);
}
