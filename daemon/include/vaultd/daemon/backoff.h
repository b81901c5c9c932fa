// Reconnect delays: capped exponential backoff with jitter, as a pure function
// so the room's reconnect policy is tested without a clock.
#pragma once

#include <cstdint>

namespace vaultd::daemon {

// The delay before reconnect attempt `attempt` (0 = the first retry after a
// connection ended). The ceiling doubles from `base_ms` per attempt up to
// `cap_ms`; the delay is drawn from [ceiling/2, ceiling] by `random01` in
// [0, 1) ("equal jitter": never zero, so many daemons cut off by one relay
// restart do not all come back in the same instant). Out-of-range inputs are
// clamped: attempt < 0 counts as 0, base_ms < 1 as 1, cap_ms < base_ms as base_ms.
int64_t BackoffDelayMs(int attempt, int64_t base_ms, int64_t cap_ms, double random01);

}  // namespace vaultd::daemon
