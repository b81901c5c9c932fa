#include "policy_full_scan.h"

#include <algorithm>
#include <unordered_set>

#include "policy_model.h"

namespace vaultd::testing {

using orchestrator::Compound;
using orchestrator::Folder;
using orchestrator::Mode;
using orchestrator::Rule;

size_t CountGrantedByFullScan(const orchestrator::Policy& p, const std::vector<std::string>& groups,
                              WallTime at) {
  std::unordered_set<uint32_t> ids;
  for (const auto& g : groups) {
    auto it = p.group_ids.find(g);
    if (it != p.group_ids.end()) ids.insert(it->second);
  }
  auto match = [&](const Rule& r) {
    if (r.groups.empty()) return true;
    if (r.compound == Compound::kAll) {
      return std::all_of(r.groups.begin(), r.groups.end(),
                         [&](uint32_t g) { return ids.count(g) > 0; });
    }
    return std::any_of(r.groups.begin(), r.groups.end(),
                       [&](uint32_t g) { return ids.count(g) > 0; });
  };
  std::vector<Mode> mode(p.folders.size(), Mode::kNone);
  size_t granted = 0;
  for (uint32_t f : p.topo_order) {
    const Folder& fo = p.folders[f];
    Mode m = Mode::kNone;
    for (const Rule& r : fo.access) {
      if (r.ActiveAt(at) && match(r)) m = std::max(m, r.mode);
    }
    for (uint32_t s : fo.inherit) m = std::max(m, mode[s]);
    for (const Rule& d : fo.deny) {
      if (d.ActiveAt(at) && match(d)) m = Mode::kNone;
    }
    mode[f] = m;
    granted += m != Mode::kNone;
  }
  return granted;
}

size_t PolicyGroupCount(const orchestrator::Policy& policy) { return policy.group_names.size(); }

}  // namespace vaultd::testing
