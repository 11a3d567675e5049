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

TEST_CASE("latency histogram buckets") {
  auto h = latency_histogram({50e-6, 0.5e-3, 0.5e-3, 5e-3, 1.01, 1.2, 3.05, 7.1, 20});
  CHECK(h[0].count == 1);  // <100us
  CHECK(h[1].count == 2);  // <1ms
  CHECK(h[2].count == 1);  // <10ms
  CHECK(h[5].count == 2);  // 0.9-2.9 s: one retransmitted SYN
  CHECK(h[6].count == 1);  // 2.9-6.9 s
  CHECK(h[7].count == 1);  // 6.9-14.9 s
  CHECK(h[8].count == 1);
  uint64_t total = 0;
  for (auto& b : h) total += b.count;
  CHECK(total == 9);
}

TEST_CASE("SYN retransmission clusters near 1, 3, 7 and 15 s") {
  auto c = syn_retransmission_clusters({0.0001, 1.003, 1.02, 1.4, 2.0, 3.001, 7.2, 15.01, 0.5});
  CHECK(c[0] == 3);
  CHECK(c[1] == 1);
  CHECK(c[2] == 1);
  CHECK(c[3] == 1);
}
