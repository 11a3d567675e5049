// Pacer: spreads bytes over time for --rate. A token bucket that starts
// empty and allows a small burst (one chunk), so a 2 s run lands within a
// few percent of the asked rate. Pure: callers pass the elapsed time, so unit
// tests drive it with a fake clock.
#pragma once

#include <cstdint>

namespace sp {

class Pacer {
 public:
  // bytes_per_second 0: unlimited.
  explicit Pacer(uint64_t bytes_per_second) : rate_(bytes_per_second) {}
  bool limited() const { return rate_ > 0; }
  // How many bytes may go now, `elapsed` seconds after the start, given
  // what already went.
  uint64_t allowance(double elapsed, uint64_t sent) const;
  // Seconds to wait until `want` more bytes are allowed.
  double wait_for(double elapsed, uint64_t sent, uint64_t want) const;

 private:
  uint64_t rate_;
};

}  // namespace sp
