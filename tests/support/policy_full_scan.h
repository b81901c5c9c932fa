// A reference evaluation for benchmarks and tests: every folder's rules checked
// in turn, without the group index or timelines (modes only, at one instant).
// It reads the compiled policy, so it lives here and not in a public header.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "vaultd/common/clock.h"
#include "vaultd/orchestrator/policy.h"

namespace vaultd::testing {

// How many folders `groups` get at `at`, found by scanning every rule.
size_t CountGrantedByFullScan(const orchestrator::Policy& policy,
                              const std::vector<std::string>& groups, WallTime at);

// How many distinct groups the policy names.
size_t PolicyGroupCount(const orchestrator::Policy& policy);

}  // namespace vaultd::testing
