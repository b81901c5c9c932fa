// Lint warnings: rules that can never matter, windows that ended, deny rules
// that remove a folder for everyone. Run after a policy loaded without errors.
#pragma once

#include <vector>

#include "policy_model.h"

namespace vaultd::orchestrator {

// True when every user matching `a`'s group condition also matches `b`'s.
bool GroupConditionImplies(const Rule& a, const Rule& b);

void LintPolicy(const Policy& policy, WallTime now, std::vector<Diagnostic>* out);

}  // namespace vaultd::orchestrator
