// Kasm outputs beyond the Docker Run Config Override: the Kasm-native
// (Pattern A) translation of a policy, and the per-user volume mapping object.
// Field names follow Kasm's documented Volume Mappings JSON (docs/vault-permissions.md).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "vaultd/common/status.h"
#include "vaultd/orchestrator/policy.h"

namespace vaultd::orchestrator {

// What an admin would have to create in Kasm to approximate the policy with
// group volume mappings, every rule Kasm cannot express natively and why,
// and the object counts ("N folders x M groups").
nlohmann::json KasmPlanJson(const Policy& policy);
// The same plan for a human reader.
std::string KasmPlanText(const nlohmann::json& plan);

// The Volume Mappings object for one Kasm user: {"/host": {"bind": "/vault/x",
// "mode": "ro", "uid": 1000, "gid": 1000, "required": true, "skip_check": true}}.
// Fails when one host path is mounted twice (a JSON object cannot hold it).
Result<nlohmann::json> KasmUserVolumeMappings(const MountSet& mounts);

}  // namespace vaultd::orchestrator
