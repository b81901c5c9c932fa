// Helpers shared by the policy tests.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vaultd/orchestrator/policy.h"

namespace vaultd::orchestrator::testing {

WallTime T(const char* rfc3339);
// "Now" for lint in every test, so expired-window warnings do not depend on the date.
inline const char* kNow = "2026-06-01T00:00:00Z";

LoadResult LoadYaml(const std::string& yaml);
// Loads and fails the test (with every diagnostic) when the policy has errors.
std::shared_ptr<const Policy> MustLoad(const std::string& yaml);
std::string Diagnostics(const LoadResult& r);

// name -> mode of the mounts a user gets.
std::map<std::string, std::string> Modes(const std::shared_ptr<const Policy>& p,
                                         const std::string& user,
                                         const std::vector<std::string>& groups,
                                         const char* at = kNow);
const Mount* FindMount(const MountSet& m, const std::string& name);

}  // namespace vaultd::orchestrator::testing
