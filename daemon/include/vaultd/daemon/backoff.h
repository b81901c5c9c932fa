// Reconnect delays: capped exponential backoff with full jitter.
#pragma once

#include <algorithm>
#include <cstdint>

namespace vaultd::daemon {

// attempt 0, 1, 2, ... -> a delay in [base/2, min(cap, base * 2^attempt)];
// `random01` is uniform in [0, 1).
inline int BackoffDelayMs(int attempt, int base_ms, int cap_ms, double random01) {
  int64_t ceiling = base_ms;
  for (int i = 0; i < attempt && ceiling < cap_ms; ++i) ceiling *= 2;
  ceiling = std::min<int64_t>(ceiling, cap_ms);
  int64_t floor = std::min<int64_t>(base_ms / 2, ceiling);
  return static_cast<int>(floor + static_cast<int64_t>(random01 * static_cast<double>(ceiling - floor)));
}

}  // namespace vaultd::daemon
