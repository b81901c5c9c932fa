#include "vaultd/daemon/backoff.h"

#include <algorithm>

namespace vaultd::daemon {

int64_t BackoffDelayMs(int attempt, int64_t base_ms, int64_t cap_ms, double random01) {
  base_ms = std::max<int64_t>(base_ms, 1);
  cap_ms = std::max(cap_ms, base_ms);
  attempt = std::max(attempt, 0);
  int64_t ceiling = base_ms;
  for (int i = 0; i < attempt && ceiling < cap_ms; ++i) ceiling *= 2;  // no shift overflow
  ceiling = std::min(ceiling, cap_ms);
  if (!(random01 >= 0.0)) random01 = 0.0;  // also NaN
  random01 = std::min(random01, 1.0);
  const int64_t half = ceiling / 2;
  const int64_t delay = half + static_cast<int64_t>(static_cast<double>(ceiling - half) * random01);
  return std::max<int64_t>(delay, 1);
}

}  // namespace vaultd::daemon
