// Why: port lists ("22,80,8000-8010", connect -z) expand ranges; the result
// must hold each port 1-65535 once, whatever the commas, dashes and digits.
// PORT and counts (parse_port, parse_count) share the integer parsing.
#include <set>

#include "core/parse.h"
#include "fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = sp::fuzz::as_text(data, size);
  if (auto list = sp::parse_port_list(text); list.ok()) {
    FUZZ_CHECK(!list->empty() && list->size() <= 65535);
    std::set<uint16_t> seen;
    for (uint16_t p : *list) FUZZ_CHECK(p != 0 && seen.insert(p).second);
  }
  for (bool zero : {false, true}) {
    if (auto p = sp::parse_port(text, zero); p.ok()) FUZZ_CHECK(zero || *p != 0);
  }
  if (auto n = sp::parse_count(text, 1, 1 << 20); n.ok()) FUZZ_CHECK(*n >= 1 && *n <= (1 << 20));
  return 0;
}
