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
  std::vector<uint32_t> groups;  // interned ids, sorted, unique; empty = every user
  std::vector<uint32_t> written;  // the same ids in the order the file lists them (messages)
  Compound compound = Compound::kAny;
  Mode mode = Mode::kNone;  // kNone for deny rules
  std::optional<WallTime> not_before;
  std::optional<WallTime> not_after;  // exclusive

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
  std::vector<uint32_t> inherit;     // folder indexes of the sources
  std::vector<uint32_t> dependents;  // folders that inherit from this one
  uint32_t topo_rank = 0;            // sources come before their dependents
  bool windowed = false;             // any access or deny rule has a window
};

struct Personal {
  int line = 0;
  std::string path;  // contains {username}
  std::string target = "personal";
  Mode mode = Mode::kRw;
  std::string room = "personal-{username}";
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
  // group id -> folders with an access rule naming that group (sorted by topo rank, unique).
  std::vector<std::vector<uint32_t>> folders_by_group;
  // Folders with an access rule that names no groups (it matches every user).
  std::vector<uint32_t> folders_for_everyone;

  const std::string& GroupName(uint32_t id) const { return group_names[id]; }
};

// Replaces every "{username}" in `tmpl`.
std::string SubstituteUsername(std::string_view tmpl, std::string_view user);

// "a, b, c" from group ids.
std::string GroupList(const Policy& p, const std::vector<uint32_t>& ids);
// Human description of a rule's group condition: "member of all of [legal, executive]".
std::string DescribeCondition(const Policy& p, const Rule& r);

}  // namespace vaultd::orchestrator
