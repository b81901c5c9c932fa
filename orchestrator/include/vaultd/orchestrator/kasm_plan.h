// Kasm outputs beyond the Docker Run Config Override: the Kasm-native
// (Pattern A) translation of a policy, and the per-user volume mapping object.
// Field names follow Kasm's documented Volume Mappings JSON (docs/vault-permissions.md).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "vaultd/orchestrator/policy.h"

namespace vaultd::orchestrator {

// What an admin would have to create in Kasm to approximate the policy with
// group volume mappings, every rule Kasm cannot express natively and why,
// and the object counts ("N folders x M groups").
nlohmann::json KasmPlanJson(const Policy& policy);
// The same plan for a human reader.
std::string KasmPlanText(const nlohmann::json& plan);

// The Volume Mappings for one Kasm user: {"volume_mappings": {"/host": {"bind":
// "/vault/x", "mode": "ro", "uid": 1000, "gid": 1000, "required": true,
// "skip_check": true}}, "not_mappable": [...], "warnings": [...]}. An object
// keyed by host path holds one bind per host path: when two mounts share one,
// the first (in target order) keeps the key and the other is listed under
// not_mappable ({"folder", "host_path", "bind", "mode", "host_path_mapped_for"})
// with a warning naming both folders.
nlohmann::json KasmUserVolumeMappings(const MountSet& mounts);

}  // namespace vaultd::orchestrator
