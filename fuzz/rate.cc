// Why: RATE (--rate, buffers --bdp) accepts bytes/s with binary prefixes or
// bits/s with SI ones; both paths cast a double to uint64. A parsed rate is
// at least 1 byte/s (a 0 rate would divide by zero in the pacer) and formats.
#include "core/parse.h"
#include "fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto v = sp::parse_rate(sp::fuzz::as_text(data, size));
  if (v.ok()) {
    FUZZ_CHECK(*v >= 1);
    FUZZ_CHECK(!sp::human_bits_per_second(static_cast<double>(*v)).empty());
  } else {
    FUZZ_CHECK(v.error().kind == sp::ErrorKind::Usage);
  }
  return 0;
}
