// XXH3-128 via libxxhash (see checksum.h).
#include "core/checksum.h"

#include <fmt/format.h>
#include <xxhash.h>

namespace sp {

struct Checksum::State {
  XXH3_state_t* st = XXH3_createState();
  ~State() { XXH3_freeState(st); }
};

Checksum::Checksum() : state_(std::make_unique<State>()) { XXH3_128bits_reset(state_->st); }
Checksum::~Checksum() = default;

void Checksum::update(const void* data, size_t len) { XXH3_128bits_update(state_->st, data, len); }

std::string Checksum::hex() const {
  XXH128_hash_t h = XXH3_128bits_digest(state_->st);
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, h);
  std::string out;
  for (unsigned char b : c.digest) out += fmt::format("{:02x}", b);
  return out;
}

Result<std::string> parse_checksum(std::string_view text) {
  std::string_view hex = text;
  if (hex.substr(0, 9) == "xxh3-128:") hex.remove_prefix(9);
  std::string out;
  for (char ch : hex) {
    if (ch >= 'A' && ch <= 'F') ch = static_cast<char>(ch - 'A' + 'a');
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) { out.clear(); break; }
    out += ch;
  }
  if (out.size() != 32) {
    return usage_error(fmt::format("'{}' is not a checksum (xxh3-128:HEX with 32 hex digits)", text));
  }
  return out;
}

}  // namespace sp
