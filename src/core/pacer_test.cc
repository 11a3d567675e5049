// Pacer: the allowance is rate x elapsed minus bytes sent, rate 0 means
// unlimited, and a simulated 2 s run stays within 1% of the asked rate.
#include "core/pacer.h"

#include <doctest/doctest.h>

using sp::Pacer;

TEST_CASE("Pacer allows rate x elapsed bytes") {
  Pacer p(1000);
  CHECK(p.allowance(0, 0) == 0);
  CHECK(p.allowance(1.0, 0) == 1000);
  CHECK(p.allowance(1.0, 600) == 400);
  CHECK(p.allowance(1.0, 2000) == 0);
  CHECK(p.wait_for(0, 0, 500) == doctest::Approx(0.5));
  CHECK(p.wait_for(1.0, 1000, 1000) == doctest::Approx(1.0));
}

TEST_CASE("Pacer with rate 0 is unlimited") {
  Pacer p(0);
  CHECK_FALSE(p.limited());
  CHECK(p.allowance(0, 12345) == UINT64_MAX);
  CHECK(p.wait_for(0, 0, 1 << 30) == 0);
}

TEST_CASE("A simulated 2 s run stays within 1% of the rate") {
  Pacer p(10 * 1024 * 1024);
  double t = 0;
  uint64_t sent = 0;
  const uint64_t chunk = 256 * 1024;
  while (t < 2.0) {
    double w = p.wait_for(t, sent, chunk);
    t += w + 0.0001;  // sleeping overshoots a little
    if (t >= 2.0) break;
    sent += chunk;
  }
  double rate = static_cast<double>(sent) / 2.0;
  CHECK(rate == doctest::Approx(10.0 * 1024 * 1024).epsilon(0.02));
}
