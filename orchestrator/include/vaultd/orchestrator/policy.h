// vault-permissions.yaml: load, validate and evaluate a policy into one user's
// mount set (docs/vault-permissions.md, docs/mountset.md).
//
//   LoadResult r = LoadPolicyFile("vault-permissions.yaml");
//   if (!r.policy) { for (auto& d : r.diagnostics) std::cerr << d.ToString() << "\n"; }
//   MountSet m = Evaluate(*r.policy, {.user = "alice", .groups = {"legal"}, .at = now});
//   std::string json = MountSetToJson(m).dump(2);
//
// A Policy is immutable after load and safe to evaluate from many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vaultd/common/clock.h"

namespace vaultd::orchestrator {

// Files larger than this are rejected before parsing.
inline constexpr uint64_t kMaxPolicyBytes = 16ull << 20;

inline constexpr const char* kMountSetSchema = "vaultd.mountset/1";
inline constexpr const char* kVaultRoot = "/vault";

// One validation finding. `line`/`column` are 1-based (0 when unknown).
struct Diagnostic {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;
  bool error = true;  // false: a lint warning, the policy still loads
  // "file:line: error: message" / "file:line: warning: message".
  std::string ToString() const;
};

class Policy;

struct LoadResult {
  // Null when any diagnostic is an error; set (possibly with warnings) otherwise.
  std::shared_ptr<const Policy> policy;
  std::vector<Diagnostic> diagnostics;
  bool ok() const { return policy != nullptr; }
};

struct LoadOptions {
  // "Now" for lint warnings about windows that already ended.
  WallTime now = RealClock().Now();
};

LoadResult LoadPolicyFile(const std::string& path, const LoadOptions& options = {});
// `filename` is only used in diagnostics and Policy::file().
LoadResult LoadPolicyString(std::string_view yaml, std::string_view filename,
                            const LoadOptions& options = {});

// "sha256:<hex of the file bytes>".
std::string PolicyRevision(const Policy& policy);
// The file name the policy was loaded from (as given).
const std::string& PolicyFile(const Policy& policy);

struct EvalRequest {
  std::string user;
  std::vector<std::string> groups;
  WallTime at;
  bool explain = false;  // fill MountSet::not_granted
};

struct Mount {
  std::string name;    // the folder name; "personal" for the personal folder
  std::string source;  // absolute host path
  std::string target;  // relative to vault_root
  std::string mode;    // "ro" | "rw"
  std::string room;
  std::optional<WallTime> expires_at;  // when the granted mode next changes; none = never
  std::vector<std::string> because;    // the rules that granted it
};

// A folder the user does not get, and why (explain mode only).
struct NotGranted {
  std::string name;
  std::vector<std::string> reasons;
};

struct MountSet {
  std::string schema = kMountSetSchema;
  std::string user;
  std::vector<std::string> groups;
  std::string policy_revision;
  WallTime generated_at;
  // The earliest instant the mount set would change (a mount expiring or
  // changing mode, or a folder becoming granted); none = never.
  std::optional<WallTime> valid_until;
  std::string vault_root = kVaultRoot;
  std::vector<Mount> mounts;  // sorted by target
  std::optional<std::string> sync_url;
  std::vector<std::string> warnings;
  bool explained = false;
  std::vector<NotGranted> not_granted;  // sorted by name; only when explained
};

MountSet Evaluate(const Policy& policy, const EvalRequest& request);

// The mount set JSON of docs/mountset.md.
nlohmann::json MountSetToJson(const MountSet& mounts);
// Docker SDK `volumes` for Kasm's Docker Run Config Override:
// {"volumes": {"/host": {"bind": "/vault/x", "mode": "ro"}}}, or the list form
// {"volumes": ["/host:/vault/x:ro", ...]} when one host path is mounted twice.
nlohmann::json DockerRunConfigJson(const MountSet& mounts);

}  // namespace vaultd::orchestrator
