// vault-permissions.yaml: load, validate and evaluate a policy into one user's
// mount set (docs/vault-permissions.md, docs/mountset.md).
//
//   LoadResult r = LoadPolicyFile("vault-permissions.yaml");
//   if (!r.policy) { for (auto& d : r.diagnostics) std::cerr << d.ToString() << "\n"; }
//   MountSet m = Evaluate(r.policy, {.user = "alice", .groups = {"legal"}, .at = now});
//   std::string json = MountSetToJson(m).dump(2);
//
// A Policy is immutable after load and safe to evaluate from many threads.
// The strings of a mount set's mounts are views of texts the policy owns (the
// personal mount's of texts the mount set owns); the MountSet holds the policy
// alive, so they stay valid as long as the MountSet (or a copy of it) does.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vaultd/common/clock.h"

namespace vaultd::orchestrator {

// Files larger than this are rejected before parsing.
inline constexpr uint64_t kMaxPolicyBytes = 16ull << 20;
// What a policy may expand to, so no file can make evaluation or answers huge.
// YAML aliases (*name) are refused altogether: they let a small file stand for a huge one.
inline constexpr size_t kMaxPolicyFolders = 10000;
inline constexpr size_t kMaxGroupsPerRule = 1000;
// The largest answer (an explained mount set listing every folder and rule) a policy may produce.
inline constexpr size_t kMaxPolicyAnswerBytes = 8u << 20;

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

// A short list of string views with room for two inline (most mounts are
// granted by one or two rules), so building a mount allocates nothing.
// A value type: copies are independent; the viewed texts must outlive it.
class TextList {
 public:
  TextList() = default;
  TextList(std::initializer_list<std::string_view> texts) {
    for (std::string_view t : texts) push_back(t);
  }
  void push_back(std::string_view text);
  void reserve(size_t n);
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const std::string_view* begin() const { return size_ <= kInline ? inline_ : spill_.data(); }
  const std::string_view* end() const { return begin() + size_; }
  const std::string_view& operator[](size_t i) const { return begin()[i]; }
  const std::string_view& front() const { return begin()[0]; }
  const std::string_view& back() const { return begin()[size_ - 1]; }
  std::span<const std::string_view> span() const { return {begin(), size_}; }
  std::vector<std::string> ToStrings() const { return {begin(), end()}; }
  friend bool operator==(const TextList& a, const TextList& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }

 private:
  static constexpr size_t kInline = 2;
  std::string_view inline_[kInline];
  size_t size_ = 0;
  std::vector<std::string_view> spill_;  // used once size_ > kInline
};

struct Mount {
  // Views of immutable texts owned by the policy (or, for the personal mount,
  // by the MountSet); valid while the MountSet that holds this mount lives.
  std::string_view name;    // the folder name; "personal" for the personal folder
  std::string_view source;  // absolute host path
  std::string_view target;  // relative to vault_root
  std::string_view mode;    // "ro" | "rw"
  std::string_view room;
  std::optional<WallTime> expires_at;  // when the granted mode next changes; none = never
  TextList because;                    // the rules that granted it
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

  // What the views in `mounts` point into. Shared and immutable, so copying or
  // moving a MountSet keeps every view valid.
  std::shared_ptr<const Policy> policy;
  std::shared_ptr<const std::vector<std::string>>
      owned_texts;  // the personal mount's source and room
};

// `policy` must not be null; the result keeps it alive.
MountSet Evaluate(std::shared_ptr<const Policy> policy, const EvalRequest& request);

// How the mount set writes an instant (generated_at, valid_until, expires_at):
// RFC 3339 UTC, with milliseconds only when the instant has a fraction of a second.
std::string FormatMountSetTime(WallTime t);

// The mount set JSON of docs/mountset.md.
nlohmann::json MountSetToJson(const MountSet& mounts);
// Docker SDK `volumes` for Kasm's Docker Run Config Override:
// {"volumes": {"/host": {"bind": "/vault/x", "mode": "ro"}}}, or the list form
// {"volumes": ["/host:/vault/x:ro", ...]} when one host path is mounted twice.
nlohmann::json DockerRunConfigJson(const MountSet& mounts);

}  // namespace vaultd::orchestrator
