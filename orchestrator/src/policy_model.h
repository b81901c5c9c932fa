// The compiled policy: what the loader builds and the evaluator reads.
// Private to vaultd_policy (and its tests); callers use policy.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "vaultd/common/clock.h"
#include "vaultd/orchestrator/policy.h"

namespace vaultd::orchestrator {

enum class Compound : uint8_t { kAny, kAll };
// Ordered: a higher value is a stronger grant.
enum class Mode : uint8_t { kNone = 0, kRo = 1, kRw = 2 };

const char* ModeName(Mode m);

struct Rule {
  int line = 0;
  std::vector<uint32_t> groups;   // interned ids, sorted, unique; empty = every user
  std::vector<uint32_t> written;  // the same ids in the order the file lists them (messages)
  Compound compound = Compound::kAny;
  Mode mode = Mode::kNone;  // kNone for deny rules
  std::optional<WallTime> not_before;
  std::optional<WallTime> not_after;  // exclusive
  std::string
      because;  // precomputed "folders[i] 'x' access[j]: member of ... -> rw" (access rules)

  bool Windowed() const { return not_before || not_after; }
  bool ActiveAt(WallTime t) const {
    return (!not_before || t >= *not_before) && (!not_after || t < *not_after);
  }
};

struct Folder {
  int line = 0;
  std::string name;
  std::string path;
  std::string target;
  std::string room;
  std::vector<Rule> access;
  std::vector<Rule> deny;
  std::vector<std::string> inherit_names;
  std::vector<uint32_t> inherit;  // folder indexes of the sources
  // Precomputed `because` of inheriting from inherit[k] granted ro ([2k]) or rw ([2k + 1]).
  std::vector<std::string> inherit_because;
  std::vector<uint32_t> dependents;  // folders that inherit from this one
  uint32_t topo_rank = 0;            // sources come before their dependents
  uint32_t target_rank = 0;          // position in target order (mounts are sorted by target)
  bool windowed = false;             // any access or deny rule has a window
};

struct Personal {
  int line = 0;
  std::string path;  // contains {username}
  std::string target = "personal";
  Mode mode = Mode::kRw;
  std::string room = "personal-{username}";
  std::string
      username_extra_chars;  // allowed in user names besides ASCII letters, digits, '.', '_', '-'
};

class Policy {
 public:
  std::string file;
  std::string revision;
  std::optional<std::string> sync_url;
  std::optional<Personal> personal;
  std::vector<Folder> folders;
  std::vector<uint32_t> topo_order;  // folder indexes, sources first

  std::vector<std::string> group_names;                 // id -> name
  std::unordered_map<std::string, uint32_t> group_ids;  // name -> id

  // The evaluator's inverted index: every rule flattened into one contiguous
  // array, and per group the ids of the rules that name it. An evaluation walks
  // only the postings of the user's groups (sequential memory) and counts hits;
  // rules of other groups are never touched.
  struct FlatRule {
    uint32_t folder;
    uint32_t local;         // index in Folder::access (mode != 0) or Folder::deny (mode == 0)
    uint32_t need;          // hits that make it match: 1 for any, the group count for all
    uint8_t mode;           // Mode; 0 = a deny rule
    int64_t not_before_ns;  // INT64_MIN when open
    int64_t not_after_ns;   // INT64_MAX when open
    bool ActiveAt(int64_t t) const { return t >= not_before_ns && t < not_after_ns; }
  };
  std::vector<FlatRule> flat_rules;
  std::vector<std::string> rule_because;  // flat rule id -> Rule::because (empty for deny rules)
  // What a mount copies from its folder, packed together so building a large
  // mount set reads a few contiguous lines per mount instead of the whole Folder.
  struct MountProto {
    std::string name, source, target, room;
  };
  std::vector<MountProto> protos;
  std::vector<std::vector<uint32_t>> rules_by_group;  // group id -> flat rule ids
  std::vector<uint32_t> rules_for_everyone;           // rules that name no groups
  std::vector<uint32_t> topo_rank_of;                 // folder -> topo rank (contiguous copy)
  std::vector<uint32_t> target_rank_of;               // folder -> rank in target order
  std::vector<uint32_t> by_target;                    // rank in target order -> folder
  uint32_t personal_target_rank = 0;  // folders whose target sorts before the personal mount's
  enum : uint8_t { kWindowed = 1, kHasInherit = 2, kHasDependents = 4 };
  std::vector<uint8_t> folder_flags;

  const std::string& GroupName(uint32_t id) const { return group_names[id]; }
};

// Replaces every "{username}" in `tmpl`.
std::string SubstituteUsername(std::string_view tmpl, std::string_view user);

// The placeholder in personal.path and personal.room.
inline constexpr std::string_view kUsernameVar = "{username}";

// "[2026-01-01T00:00:00Z, 2026-07-01T00:00:00Z)", " until ...", " from ..." or "".
std::string WindowText(const Rule& r);

// "a, b, c" from group ids.
std::string GroupList(const Policy& p, const std::vector<uint32_t>& ids);
// Human description of a rule's group condition: "member of all of [legal, executive]".
std::string DescribeCondition(const Policy& p, const Rule& r);

}  // namespace vaultd::orchestrator
