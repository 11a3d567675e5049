// Poll timeouts from deadlines (see deadline.h).
#include "core/deadline.h"

#include <algorithm>
#include <climits>
#include <cstdint>

namespace sp {

int poll_timeout_ms(std::optional<std::chrono::steady_clock::time_point> deadline,
                    std::chrono::steady_clock::time_point now) {
  if (!deadline) return -1;
  if (*deadline <= now) return 0;
  int64_t ms = std::chrono::ceil<std::chrono::milliseconds>(*deadline - now).count();
  return static_cast<int>(std::min<int64_t>(ms, INT_MAX));
}

}  // namespace sp
