// The body of fuzz_orchestrator_client, shared with the corpus replay test of the normal build.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vaultd::orchestrator_client {
// First byte 'S': the rest is a mount set JSON document (ParseMountSet).
// Anything else: the rest is /proc/self/mountinfo text, parsed, then compared with a fixed mount
// set and run through Pattern-A discovery. Aborts when an invariant does not hold.
void FuzzClientOne(const uint8_t* data, size_t size);
}  // namespace vaultd::orchestrator_client
