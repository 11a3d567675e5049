// Why: SIZE comes from every user (--size, -w, --buffer, backlog sizes) and
// is parsed with strtod and a power of 1024, where an overflowing or
// non-integral value could turn into a float-to-int cast the compiler may
// assume never happens. A parsed SIZE must also format back (human_bytes).
#include "core/parse.h"
#include "fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto v = sp::parse_size(sp::fuzz::as_text(data, size));
  if (v.ok()) {
    FUZZ_CHECK(!sp::human_bytes(*v).empty());
  } else {
    FUZZ_CHECK(v.error().kind == sp::ErrorKind::Usage && !v.error().message.empty());
  }
  return 0;
}
