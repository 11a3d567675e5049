// Escaping for human output (see textsafe.h).
#include "core/textsafe.h"

#include <cstdint>

namespace sp {
namespace {

// Length of the valid, printable UTF-8 sequence at s[i] (0: escape s[i]).
size_t printable_run(std::string_view s, size_t i) {
  auto b = static_cast<uint8_t>(s[i]);
  if (b >= 0x20 && b < 0x7f) return 1;
  if (b < 0xc2 || b > 0xf4) return 0;  // controls, DEL, continuation bytes, overlong leads
  size_t n = b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
  if (i + n > s.size()) return 0;
  uint32_t cp = b & (0x7f >> n);
  for (size_t k = 1; k < n; ++k) {
    auto c = static_cast<uint8_t>(s[i + k]);
    if ((c & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (c & 0x3f);
  }
  static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  if (cp >= 0x80 && cp <= 0x9f) return 0;  // C1 controls (CSI is U+009B)
  return n;
}

void escape_byte(std::string& out, uint8_t b) {
  switch (b) {
    case '\n': out += "\\n"; return;
    case '\r': out += "\\r"; return;
    case '\t': out += "\\t"; return;
    default: break;
  }
  out += '\\';
  out += static_cast<char>('0' + ((b >> 6) & 7));
  out += static_cast<char>('0' + ((b >> 3) & 7));
  out += static_cast<char>('0' + (b & 7));
}

}  // namespace

bool is_terminal_safe(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    size_t n = printable_run(text, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string terminal_safe(std::string_view text) {
  if (is_terminal_safe(text)) return std::string(text);
  std::string out;
  out.reserve(text.size() + 16);
  for (size_t i = 0; i < text.size();) {
    size_t n = printable_run(text, i);
    if (n == 0) {
      escape_byte(out, static_cast<uint8_t>(text[i]));
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

}  // namespace sp
