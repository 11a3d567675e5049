// Why: `backlog --openmetrics` puts names other users choose (Unix socket
// paths and abstract names, process command names: any bytes) into label
// values, where a stray quote or newline would end the label or the line and
// forge samples for a scraper. Whatever the bytes, the escaped value must be
// valid UTF-8 with no control character, every backslash must start one of
// \\ \" \n and no quote may stand alone; and the whole exposition must stay
// one sample or comment per line. The same input is also read as a packet
// by synack_client_port (`backlog test --syn-queue` parses what its TUN
// device returns).
#include <string>

#include "core/openmetrics.h"
#include "core/syn_experiment.h"
#include "fuzz/fuzz.h"

namespace {

// Valid UTF-8 (RFC 3629: no overlong forms, surrogates or values past U+10FFFF).
bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : c & (0x7F >> n);
    for (size_t k = 1; k < n; ++k) {
      auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

void check_escaped(const std::string& v) {
  FUZZ_CHECK(valid_utf8(v));
  for (size_t i = 0; i < v.size(); ++i) {
    auto c = static_cast<unsigned char>(v[i]);
    FUZZ_CHECK(c >= 0x20 && c != 0x7F);
    FUZZ_CHECK(c != '"');  // a quote only ever after a backslash (skipped below)
    if (c == '\\') {
      FUZZ_CHECK(i + 1 < v.size());
      char e = v[++i];
      FUZZ_CHECK(e == '\\' || e == '"' || e == 'n');
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = sp::fuzz::as_text(data, size);
  check_escaped(sp::metrics_label_value(text));
  sp::ListenerMetrics l{"unix", std::string(text), std::nullopt, std::string(text), 1, 2, 3, std::nullopt, 0};
  std::string out = sp::format_metrics({l}, {});
  size_t start = 0;
  while (start < out.size()) {
    size_t nl = out.find('\n', start);
    FUZZ_CHECK(nl != std::string::npos);
    std::string_view line(out.data() + start, nl - start);
    FUZZ_CHECK(line.substr(0, 2) == "# " || line.substr(0, 19) == "sockprobe_listener_");
    start = nl + 1;
  }
  (void)sp::synack_client_port(data, size, 8080);
  return 0;
}
