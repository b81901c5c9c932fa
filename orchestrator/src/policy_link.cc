// Linking a read policy: the checks across folders (duplicate names, targets and
// rooms, nested targets, rooms a personal room could take), inherit resolution
// with cycle reports, and the indexes evaluation uses.
#include "policy_link.h"

#include <algorithm>
#include <unordered_map>

namespace vaultd::orchestrator {
namespace {

// Each cycle among the folders left unresolved, once, as "'a' -> 'b' -> 'a'".
void ReportCycles(const Policy& p, const LinkInput& in, const std::vector<uint32_t>& pending,
                  const LinkReport& report) {
  std::vector<uint8_t> reported(p.folders.size(), 0);
  for (size_t start = 0; start < p.folders.size(); ++start) {
    if (pending[start] == 0 || reported[start]) continue;
    // Walk unresolved sources until a folder repeats: that loop is a cycle.
    std::vector<uint32_t> path;
    std::unordered_map<uint32_t, size_t> pos;
    uint32_t cur = static_cast<uint32_t>(start);
    bool hit_reported = false;
    while (!pos.count(cur)) {
      if (reported[cur]) {
        hit_reported = true;
        break;
      }
      pos[cur] = path.size();
      path.push_back(cur);
      uint32_t next = cur;
      for (uint32_t s : p.folders[cur].inherit) {
        if (pending[s] != 0) {
          next = s;
          break;
        }
      }
      cur = next;
    }
    for (uint32_t f : path) reported[f] = 1;
    if (hit_reported) continue;
    std::string chain;
    for (size_t i = pos[cur]; i < path.size(); ++i)
      chain += "'" + p.folders[path[i]].name + "' -> ";
    chain += "'" + p.folders[cur].name + "'";
    const Folder& first = p.folders[cur];
    int line = first.line;
    for (const LinkInput::Inherit& inh : in.inherits) {
      if (inh.folder == cur) {
        line = inh.where.line;
        break;
      }
    }
    report({line, 0}, "inherit cycle: " + chain + " (each folder inherits from the next)", true);
  }
}

}  // namespace

bool LinkPolicy(Policy& p, const LinkInput& in, const LinkReport& report) {
  size_t errors = 0;
  auto Error = [&](SourcePosition where, std::string message) {
    ++errors;
    report(where, std::move(message), true);
  };
  std::unordered_map<std::string, size_t> by_name, by_target, by_room;
  auto dup = [&](std::unordered_map<std::string, size_t>& seen, const std::string& key, size_t i,
                 const std::vector<SourcePosition>& nodes, const char* what) {
    auto [it, inserted] = seen.try_emplace(key, i);
    if (!inserted) {
      Error(nodes[i], std::string("duplicate ") + what + " '" + key + "' (also folder '" +
                          p.folders[it->second].name + "' at line " +
                          std::to_string(p.folders[it->second].line) + ")");
    }
  };
  for (size_t i = 0; i < p.folders.size(); ++i) {
    const Folder& fo = p.folders[i];
    dup(by_name, fo.name, i, in.names, "folder name");
    dup(by_target, fo.target, i, in.targets, "target");
    dup(by_room, fo.room, i, in.rooms, "room");
    if (p.personal) {
      if (fo.name == "personal") {
        Error(in.names[i], "folder name 'personal' is reserved for the personal folder");
      }
      if (fo.target == p.personal->target) {
        Error(in.targets[i], "duplicate target '" + fo.target + "' (also personal.target)");
      }
      // Rooms of the form <prefix><anything><suffix> belong to the personal template.
      const std::string& tmpl = p.personal->room;
      size_t at = tmpl.find(kUsernameVar);
      std::string prefix = tmpl.substr(0, at), suffix = tmpl.substr(at + kUsernameVar.size());
      if (fo.room.size() > prefix.size() + suffix.size() && fo.room.rfind(prefix, 0) == 0 &&
          fo.room.compare(fo.room.size() - suffix.size(), suffix.size(), suffix) == 0) {
        Error(in.rooms[i],
              "room '" + fo.room + "' can coincide with personal.room '" + tmpl + "' of user '" +
                  fo.room.substr(prefix.size(), fo.room.size() - prefix.size() - suffix.size()) +
                  "'");
      }
    }
  }
  // Nested targets: a target that is a parent directory of another would hide it.
  std::unordered_map<std::string, int> targets;  // target -> folder index, -1 = personal
  for (size_t i = 0; i < p.folders.size(); ++i)
    targets.emplace(p.folders[i].target, static_cast<int>(i));
  if (p.personal) targets.emplace(p.personal->target, -1);
  auto nested = [&](const std::string& t, SourcePosition node) {
    for (size_t slash = t.find('/'); slash != std::string::npos; slash = t.find('/', slash + 1)) {
      auto it = targets.find(t.substr(0, slash));
      if (it != targets.end()) {
        std::string owner =
            it->second < 0 ? "personal.target" : "folder '" + p.folders[it->second].name + "'";
        Error(node, "target '" + t + "' is nested inside target '" + it->first + "' of " + owner +
                        "; mounts must not overlap");
      }
    }
  };
  for (size_t i = 0; i < p.folders.size(); ++i) nested(p.folders[i].target, in.targets[i]);
  if (p.personal) nested(p.personal->target, in.personal_target);

  // Inherit: resolve names, then order sources before dependents (Kahn); leftovers are cycles.
  for (const LinkInput::Inherit& inh : in.inherits) {
    const size_t fi = inh.folder;
    const SourcePosition node = inh.where;
    Folder& fo = p.folders[fi];
    const std::string& src = inh.source;
    auto it = by_name.find(src);
    if (it == by_name.end()) {
      Error(node, "folder '" + fo.name + "' inherits from unknown folder '" + src + "'");
      continue;
    }
    uint32_t si = static_cast<uint32_t>(it->second);
    if (std::find(fo.inherit.begin(), fo.inherit.end(), si) != fo.inherit.end()) {
      report(node, "folder '" + fo.name + "' inherits from '" + src + "' twice", false);
      continue;
    }
    fo.inherit.push_back(si);
    p.folders[si].dependents.push_back(static_cast<uint32_t>(fi));
  }
  if (errors > 0) return false;
  size_t n = p.folders.size();
  std::vector<uint32_t> pending(n);
  std::vector<uint32_t> ready;
  for (size_t i = 0; i < n; ++i) {
    pending[i] = static_cast<uint32_t>(p.folders[i].inherit.size());
    if (pending[i] == 0) ready.push_back(static_cast<uint32_t>(i));
  }
  while (!ready.empty()) {
    uint32_t f = ready.back();
    ready.pop_back();
    p.folders[f].topo_rank = static_cast<uint32_t>(p.topo_order.size());
    p.topo_order.push_back(f);
    for (uint32_t d : p.folders[f].dependents) {
      if (--pending[d] == 0) ready.push_back(d);
    }
  }
  if (p.topo_order.size() != n) {
    ReportCycles(p, in, pending, report);
    return false;
  }
  if (errors > 0) return false;

  std::vector<uint32_t> target_order(n);
  for (uint32_t i = 0; i < n; ++i) target_order[i] = i;
  std::sort(target_order.begin(), target_order.end(),
            [&](uint32_t a, uint32_t b) { return p.folders[a].target < p.folders[b].target; });
  for (uint32_t i = 0; i < n; ++i) p.folders[target_order[i]].target_rank = i;
  if (p.personal) {
    const std::string& t = p.personal->target;
    p.personal_target_rank =
        static_cast<uint32_t>(std::lower_bound(target_order.begin(), target_order.end(), t,
                                               [&](uint32_t f, const std::string& v) {
                                                 return p.folders[f].target < v;
                                               }) -
                              target_order.begin());
  }
  p.by_target = std::move(target_order);
  for (uint32_t i = 0; i < n; ++i) {
    Folder& fo = p.folders[i];
    for (size_t j = 0; j < fo.access.size(); ++j) {
      Rule& r = fo.access[j];
      r.because = "folders[" + std::to_string(i) + "] '" + fo.name + "' access[" +
                  std::to_string(j) + "]: " + DescribeCondition(p, r) + WindowText(r) + " -> " +
                  ModeName(r.mode);
    }
    fo.inherit_because.clear();
    for (uint32_t src : fo.inherit) {
      for (Mode m : {Mode::kRo, Mode::kRw}) {
        fo.inherit_because.push_back("folders[" + std::to_string(i) + "] '" + fo.name +
                                     "' inherit '" + p.folders[src].name + "' (granted " +
                                     ModeName(m) + ") -> " + ModeName(m));
      }
    }
  }

  p.rules_by_group.assign(p.group_names.size(), {});
  p.topo_rank_of.resize(n);
  p.target_rank_of.resize(n);
  p.folder_flags.assign(n, 0);
  auto to_ns = [](const std::optional<WallTime>& t, int64_t open) {
    return t ? static_cast<int64_t>(t->time_since_epoch().count()) : open;
  };
  for (uint32_t f = 0; f < n; ++f) {
    const Folder& fo = p.folders[f];
    p.topo_rank_of[f] = fo.topo_rank;
    p.target_rank_of[f] = fo.target_rank;
    if (fo.windowed) p.folder_flags[f] |= Policy::kWindowed;
    if (!fo.inherit.empty()) p.folder_flags[f] |= Policy::kHasInherit;
    if (!fo.dependents.empty()) p.folder_flags[f] |= Policy::kHasDependents;
    auto flatten = [&](const std::vector<Rule>& rules, bool deny) {
      for (uint32_t j = 0; j < rules.size(); ++j) {
        const Rule& r = rules[j];
        auto id = static_cast<uint32_t>(p.flat_rules.size());
        uint32_t need = r.compound == Compound::kAll ? static_cast<uint32_t>(r.groups.size()) : 1;
        p.flat_rules.push_back({f, j, need,
                                static_cast<uint8_t>(deny ? 0 : static_cast<uint8_t>(r.mode)),
                                to_ns(r.not_before, INT64_MIN), to_ns(r.not_after, INT64_MAX)});
        p.rule_because.push_back(r.because);
        if (r.groups.empty()) p.rules_for_everyone.push_back(id);
        for (uint32_t g : r.groups) p.rules_by_group[g].push_back(id);
      }
    };
    flatten(fo.access, false);
    flatten(fo.deny, true);
    p.protos.push_back({fo.name, fo.path, fo.target, fo.room});
  }
  return true;
}

}  // namespace vaultd::orchestrator
