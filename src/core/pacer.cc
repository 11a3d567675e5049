// Token-bucket arithmetic for --rate (see pacer.h).
#include "core/pacer.h"

#include <algorithm>

namespace sp {

uint64_t Pacer::allowance(double elapsed, uint64_t sent) const {
  if (rate_ == 0) return UINT64_MAX;
  double allowed = elapsed * static_cast<double>(rate_);
  if (allowed <= static_cast<double>(sent)) return 0;
  return static_cast<uint64_t>(allowed - static_cast<double>(sent));
}

double Pacer::wait_for(double elapsed, uint64_t sent, uint64_t want) const {
  if (rate_ == 0) return 0;
  double due = static_cast<double>(sent + want) / static_cast<double>(rate_);
  return std::max(0.0, due - elapsed);
}

}  // namespace sp
