#include "policy_loader_entry.h"

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string_view>

#include "vaultd/orchestrator/kasm_plan.h"
#include "vaultd/orchestrator/policy.h"

namespace vaultd::orchestrator {
namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

void CheckMountSet(const MountSet& m, const EvalRequest& req) {
  std::set<std::string_view> targets;
  for (size_t i = 0; i < m.mounts.size(); ++i) {
    const Mount& mount = m.mounts[i];
    Check(mount.mode == "ro" || mount.mode == "rw", "mode is ro or rw");
    Check(!mount.source.empty() && mount.source[0] == '/', "source is absolute");
    Check(targets.insert(mount.target).second, "targets are unique");
    Check(i == 0 || m.mounts[i - 1].target < mount.target, "mounts sorted by target");
    Check(!mount.because.empty(), "every mount says why");
    if (mount.expires_at)
      Check(*mount.expires_at > req.at, "expires_at is after the evaluation instant");
    if (mount.expires_at)
      Check(m.valid_until && *m.valid_until <= *mount.expires_at, "valid_until <= expires_at");
    if (mount.name == "personal") {
      Check(mount.room.find(req.user) != std::string_view::npos, "personal room names the user");
    }
  }
}

}  // namespace

void FuzzPolicyLoaderOne(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  LoadOptions options;
  options.now = WallTime{std::chrono::seconds(1'780'000'000)};
  LoadResult r = LoadPolicyString(text, "fuzz.yaml", options);
  for (const Diagnostic& d : r.diagnostics) {
    Check(!d.message.empty(), "diagnostics have a message");
    Check(d.line >= 0 && d.column >= 0, "diagnostic positions are not negative");
  }
  if (!r.policy) {
    bool any_error = false;
    for (const Diagnostic& d : r.diagnostics) any_error |= d.error;
    Check(any_error, "a rejected policy has an error");
    return;
  }
  // The policy's own group names are the interesting users; take them from the plan.
  nlohmann::json plan = KasmPlanJson(*r.policy);
  (void)KasmPlanText(plan);
  std::vector<std::string> groups;
  for (const auto& g : plan["kasm_groups"]) {
    if (!g["synthetic"].get<bool>()) groups.push_back(g["name"].get<std::string>());
  }
  const WallTime instants[] = {options.now, WallTime{std::chrono::seconds(0)},
                               WallTime{std::chrono::seconds(1'800'000'000)}};
  const char* users[] = {"alice", "../x", ""};
  for (size_t u = 0; u < 3; ++u) {
    for (WallTime at : instants) {
      std::vector<std::string> subset;
      for (size_t i = 0; i < groups.size(); ++i) {
        if ((i + u) % 2 == 0) subset.push_back(groups[i]);
      }
      EvalRequest req{users[u], u == 0 ? groups : subset, at, true};
      MountSet m = Evaluate(r.policy, req);
      CheckMountSet(m, req);
      (void)MountSetToJson(m).dump();
      (void)DockerRunConfigJson(m).dump();
      nlohmann::json kasm = KasmUserVolumeMappings(m);
      Check(kasm["volume_mappings"].size() + kasm["not_mappable"].size() == m.mounts.size(),
            "every mount is in the Kasm user mappings or listed as not mappable");
      Check(kasm["warnings"].size() == kasm["not_mappable"].size(),
            "every unmappable mount has a warning");
    }
  }
  // A mount set keeps what its views point into alive: a copy outlives both
  // the original and every other owner of the policy (ASan checks the reads).
  EvalRequest last{"alice", groups, options.now, false};
  std::optional<MountSet> kept = Evaluate(r.policy, last);
  MountSet copy = *kept;
  kept.reset();
  r.policy.reset();
  CheckMountSet(copy, last);
  (void)MountSetToJson(copy).dump();
}

}  // namespace vaultd::orchestrator
