// The body of fuzz_policy_loader, shared with the corpus replay test of the normal build.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vaultd::orchestrator {
// Loads `data` as a policy; when it loads, evaluates it for a few users and renders
// every output. Aborts when an invariant of the result does not hold.
void FuzzPolicyLoaderOne(const uint8_t* data, size_t size);
}  // namespace vaultd::orchestrator
