// Why: DURATION (-w, --idle-timeout, --stall-timeout, --duration) is a
// double times a unit cast to int64 nanoseconds; a huge value must be a usage
// error, never a float-cast overflow, and a parsed one is never negative.
#include "core/parse.h"
#include "fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto v = sp::parse_duration(sp::fuzz::as_text(data, size));
  if (v.ok()) {
    FUZZ_CHECK(v->count() >= 0);
    FUZZ_CHECK(!sp::human_duration(static_cast<double>(v->count()) / 1e9).empty());
  } else {
    FUZZ_CHECK(v.error().kind == sp::ErrorKind::Usage);
  }
  return 0;
}
