// Streaming XXH3-128 of transferred bytes, printed as "xxh3-128:HEX" where
// HEX is the canonical (big-endian) form that `xxh128sum` prints, so a user
// can check a file with standard tools.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace sp {

class Checksum {
 public:
  Checksum();
  ~Checksum();
  Checksum(const Checksum&) = delete;
  Checksum& operator=(const Checksum&) = delete;
  void update(const void* data, size_t len);
  std::string hex() const;                 // 32 lowercase hex digits
  std::string text() const { return "xxh3-128:" + hex(); }

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Accepts "xxh3-128:HEX" or bare HEX (32 hex digits); returns the lowercase HEX.
Result<std::string> parse_checksum(std::string_view text);

}  // namespace sp
