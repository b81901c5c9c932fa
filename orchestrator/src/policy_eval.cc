// Evaluation (docs/vault-permissions.md "Semantics"): default deny, highest
// matching mode wins, inherit grants at most the source's mode, deny wins.
//
// Only folders that can matter are touched: those with an access rule naming
// one of the user's groups (or no groups), plus dependents of folders that are
// granted at some instant. For each of them we build its mode timeline from
// `at` onwards — a few (start, mode) segments — so expires_at/valid_until are
// exact: a boundary only counts when the mode really changes there.
#include <algorithm>
#include <functional>
#include <queue>

#include "policy_model.h"
#include "vaultd/common/fs.h"

namespace vaultd::orchestrator {
namespace {

struct Segment {
  WallTime start;
  Mode mode;
};

// Per-thread scratch so an evaluation allocates almost nothing; `epoch`
// invalidates per-folder slots without clearing them.
struct Scratch {
  std::vector<uint32_t> stamp;     // == epoch: folder is a candidate in this evaluation
  std::vector<uint32_t> seg_off;   // timeline of folder f: segs[seg_off[f] .. + seg_len[f]]
  std::vector<uint32_t> seg_len;
  std::vector<Segment> segs;
  std::vector<uint64_t> member;    // bitset over group ids
  std::vector<uint32_t> candidates;  // popped order (topo order)
  std::vector<WallTime> points;
  uint32_t epoch = 0;

  void Reset(size_t folders, size_t groups) {
    if (stamp.size() < folders) {
      stamp.resize(folders, 0);
      seg_off.resize(folders);
      seg_len.resize(folders);
    }
    size_t words = groups / 64 + 1;
    if (member.size() < words) member.resize(words, 0);
    if (++epoch == 0) {  // wrapped: clear for real
      std::fill(stamp.begin(), stamp.end(), 0);
      epoch = 1;
    }
    segs.clear();
    candidates.clear();
  }
  bool Member(uint32_t g) const { return (member[g >> 6] >> (g & 63)) & 1; }
};

thread_local Scratch tls_scratch;

bool GroupsMatch(const Scratch& s, const Rule& r) {
  if (r.groups.empty()) return true;
  if (r.compound == Compound::kAll) {
    for (uint32_t g : r.groups) {
      if (!s.Member(g)) return false;
    }
    return true;
  }
  for (uint32_t g : r.groups) {
    if (s.Member(g)) return true;
  }
  return false;
}

Mode ModeAt(const Scratch& s, uint32_t folder, WallTime t) {
  if (s.stamp[folder] != s.epoch) return Mode::kNone;
  const Segment* seg = &s.segs[s.seg_off[folder]];
  uint32_t n = s.seg_len[folder];
  Mode m = seg[0].mode;
  for (uint32_t i = 1; i < n && seg[i].start <= t; ++i) m = seg[i].mode;
  return m;
}

Mode FolderModeAt(const Scratch& s, const Folder& f, WallTime t) {
  for (const Rule& d : f.deny) {
    if (d.ActiveAt(t) && GroupsMatch(s, d)) return Mode::kNone;
  }
  Mode m = Mode::kNone;
  for (const Rule& r : f.access) {
    if (r.mode > m && r.ActiveAt(t) && GroupsMatch(s, r)) m = r.mode;
  }
  for (uint32_t src : f.inherit) m = std::max(m, ModeAt(s, src, t));
  return m;
}

void BuildTimeline(Scratch& s, const Folder& f, uint32_t index, WallTime at) {
  s.seg_off[index] = static_cast<uint32_t>(s.segs.size());
  bool changes = f.windowed;
  for (uint32_t src : f.inherit) {
    if (s.stamp[src] == s.epoch && s.seg_len[src] > 1) changes = true;
  }
  if (!changes) {
    s.segs.push_back({at, FolderModeAt(s, f, at)});
    s.seg_len[index] = 1;
    return;
  }
  s.points.clear();
  s.points.push_back(at);
  auto add_rule = [&](const Rule& r) {
    if (!GroupsMatch(s, r)) return;
    if (r.not_before && *r.not_before > at) s.points.push_back(*r.not_before);
    if (r.not_after && *r.not_after > at) s.points.push_back(*r.not_after);
  };
  for (const Rule& r : f.access) add_rule(r);
  for (const Rule& r : f.deny) add_rule(r);
  for (uint32_t src : f.inherit) {
    if (s.stamp[src] != s.epoch) continue;
    for (uint32_t i = 1; i < s.seg_len[src]; ++i) s.points.push_back(s.segs[s.seg_off[src] + i].start);
  }
  std::sort(s.points.begin(), s.points.end());
  s.points.erase(std::unique(s.points.begin(), s.points.end()), s.points.end());
  uint32_t n = 0;
  for (WallTime t : s.points) {
    Mode m = FolderModeAt(s, f, t);
    if (n > 0 && s.segs.back().mode == m) continue;
    s.segs.push_back({t, m});
    ++n;
  }
  s.seg_len[index] = n;
}

std::string TimeText(WallTime t) {
  auto since = t.time_since_epoch();
  return since % std::chrono::seconds(1) == std::chrono::nanoseconds(0) ? FormatRfc3339(t)
                                                                         : FormatRfc3339Millis(t);
}

std::string FolderRef(const Policy& p, uint32_t index) {
  return "folders[" + std::to_string(index) + "] '" + p.folders[index].name + "'";
}

std::string WindowText(const Rule& r) {
  if (r.not_before && r.not_after) return " [" + TimeText(*r.not_before) + ", " + TimeText(*r.not_after) + ")";
  if (r.not_before) return " from " + TimeText(*r.not_before);
  if (r.not_after) return " until " + TimeText(*r.not_after);
  return "";
}

std::vector<std::string> Because(const Policy& p, const Scratch& s, uint32_t index, Mode granted, WallTime at) {
  const Folder& f = p.folders[index];
  std::vector<std::string> out;
  for (size_t i = 0; i < f.access.size(); ++i) {
    const Rule& r = f.access[i];
    if (r.ActiveAt(at) && GroupsMatch(s, r)) {
      out.push_back(FolderRef(p, index) + " access[" + std::to_string(i) + "]: " + DescribeCondition(p, r) +
                    WindowText(r) + " -> " + ModeName(r.mode));
    }
  }
  for (uint32_t src : f.inherit) {
    Mode m = ModeAt(s, src, at);
    if (m != Mode::kNone) {
      out.push_back(FolderRef(p, index) + " inherit '" + p.folders[src].name + "' (granted " + ModeName(m) +
                    ") -> " + ModeName(m));
    }
  }
  (void)granted;
  return out;
}

std::vector<std::string> WhyNot(const Policy& p, const Scratch& s, uint32_t index, WallTime at) {
  const Folder& f = p.folders[index];
  std::vector<std::string> out;
  for (size_t i = 0; i < f.deny.size(); ++i) {
    const Rule& d = f.deny[i];
    if (d.ActiveAt(at) && GroupsMatch(s, d)) {
      out.push_back("denied by deny[" + std::to_string(i) + "] (" + DescribeCondition(p, d) + WindowText(d) + ")");
    }
  }
  if (f.access.empty() && f.inherit.empty()) out.push_back("no access rules");
  for (size_t i = 0; i < f.access.size(); ++i) {
    const Rule& r = f.access[i];
    std::string rule = "access[" + std::to_string(i) + "]: ";
    if (!GroupsMatch(s, r)) {
      std::vector<uint32_t> missing;
      for (uint32_t g : r.written) {
        if (!s.Member(g)) missing.push_back(g);
      }
      if (missing.size() == 1) {
        out.push_back(rule + "missing group " + p.GroupName(missing[0]));
      } else if (r.compound == Compound::kAll) {
        out.push_back(rule + "missing groups [" + GroupList(p, missing) + "] (needs all of [" +
                      GroupList(p, r.written) + "])");
      } else {
        out.push_back(rule + "missing all of [" + GroupList(p, missing) + "] (needs any one)");
      }
    } else if (r.not_before && at < *r.not_before) {
      out.push_back(rule + "outside window (starts at " + TimeText(*r.not_before) + ")");
    } else if (r.not_after && at >= *r.not_after) {
      out.push_back(rule + "outside window (ended at " + TimeText(*r.not_after) + ")");
    } else {
      out.push_back(rule + "matches (" + DescribeCondition(p, r) + " -> " + ModeName(r.mode) + ") but the folder is denied");
    }
  }
  for (uint32_t src : f.inherit) {
    Mode m = ModeAt(s, src, at);
    out.push_back("inherit '" + p.folders[src].name + "': " +
                  (m == Mode::kNone ? std::string("source not granted")
                                    : "source granted " + std::string(ModeName(m)) + " but the folder is denied"));
  }
  return out;
}

}  // namespace

MountSet Evaluate(const Policy& p, const EvalRequest& req) {
  MountSet out;
  out.user = req.user;
  out.groups = req.groups;
  out.policy_revision = p.revision;
  out.generated_at = req.at;
  out.sync_url = p.sync_url;
  out.explained = req.explain;

  Scratch& s = tls_scratch;
  s.Reset(p.folders.size(), p.group_names.size());
  std::vector<uint32_t> user_ids;
  user_ids.reserve(req.groups.size());
  for (const std::string& g : req.groups) {
    auto it = p.group_ids.find(g);
    if (it == p.group_ids.end()) continue;
    user_ids.push_back(it->second);
    s.member[it->second >> 6] |= uint64_t{1} << (it->second & 63);
  }

  // Candidates in topological order (a min-heap on topo rank), so every source's
  // timeline exists before a dependent reads it.
  std::vector<uint32_t> heap;
  auto push = [&](uint32_t f) {
    if (s.stamp[f] == s.epoch) return;
    s.stamp[f] = s.epoch;
    s.seg_len[f] = 0;
    heap.push_back(p.folders[f].topo_rank);
    std::push_heap(heap.begin(), heap.end(), std::greater<>());
  };
  for (uint32_t g : user_ids) {
    for (uint32_t f : p.folders_by_group[g]) push(f);
  }
  for (uint32_t f : p.folders_for_everyone) push(f);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>());
    uint32_t f = p.topo_order[heap.back()];
    heap.pop_back();
    BuildTimeline(s, p.folders[f], f, req.at);
    s.candidates.push_back(f);
    bool ever = false;
    for (uint32_t i = 0; i < s.seg_len[f]; ++i) ever |= s.segs[s.seg_off[f] + i].mode != Mode::kNone;
    if (ever) {
      for (uint32_t d : p.folders[f].dependents) push(d);
    }
  }

  for (uint32_t f : s.candidates) {
    const Segment* seg = &s.segs[s.seg_off[f]];
    uint32_t n = s.seg_len[f];
    std::optional<WallTime> change;
    if (n > 1) change = seg[1].start;
    if (change && (!out.valid_until || *change < *out.valid_until)) out.valid_until = change;
    if (seg[0].mode == Mode::kNone) continue;
    const Folder& fo = p.folders[f];
    Mount m;
    m.name = fo.name;
    m.source = fo.path;
    m.target = fo.target;
    m.mode = ModeName(seg[0].mode);
    m.room = fo.room;
    m.expires_at = change;
    m.because = Because(p, s, f, seg[0].mode, req.at);
    out.mounts.push_back(std::move(m));
  }

  if (p.personal) {
    const Personal& pe = *p.personal;
    if (!IsSafePathSegment(req.user) || req.user.find('{') != std::string::npos ||
        req.user.find('}') != std::string::npos) {
      out.warnings.push_back("username '" + req.user + "' is not a safe path segment: no personal folder");
    } else {
      Mount m;
      m.name = "personal";
      m.source = SubstituteUsername(pe.path, req.user);
      m.target = pe.target;
      m.mode = ModeName(pe.mode);
      m.room = SubstituteUsername(pe.room, req.user);
      m.because.push_back("personal");
      out.mounts.push_back(std::move(m));
    }
  }
  std::sort(out.mounts.begin(), out.mounts.end(),
            [](const Mount& a, const Mount& b) { return a.target < b.target; });

  if (req.explain) {
    for (uint32_t f = 0; f < p.folders.size(); ++f) {
      if (ModeAt(s, f, req.at) != Mode::kNone) continue;
      out.not_granted.push_back({p.folders[f].name, WhyNot(p, s, f, req.at)});
    }
    std::sort(out.not_granted.begin(), out.not_granted.end(),
              [](const NotGranted& a, const NotGranted& b) { return a.name < b.name; });
  }

  for (uint32_t g : user_ids) s.member[g >> 6] = 0;
  return out;
}

}  // namespace vaultd::orchestrator
