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
  int64_t start_ns;
  Mode mode;
};

constexpr uint32_t kNoRule = UINT32_MAX;

// Per-thread scratch so an evaluation allocates almost nothing; `epoch`
// invalidates per-rule and per-folder slots without clearing them.
struct Scratch {
  // Per rule: hits of the user's groups, and the next matched rule of the same folder.
  std::vector<uint32_t> rule_stamp, rule_hits, rule_next;
  // Per folder: first matched rule (valid when head_stamp == epoch); candidate stamp; timeline.
  std::vector<uint32_t> head_stamp, head, stamp, seg_off, seg_len;
  std::vector<Segment> segs;
  std::vector<uint64_t> member;     // bitset over group ids (explain and dedupe)
  std::vector<uint32_t> pending;    // folders a granting rule made candidates, in match order
  std::vector<uint32_t> heap;       // topo ranks of candidates that inherit (sources go first)
  std::vector<uint64_t> by_target;  // bitset over target ranks of the evaluated candidates
  bool by_target_dirty = false;     // an evaluation stopped (threw) before clearing by_target
  std::vector<uint32_t> user_ids;
  std::vector<int64_t> points;
  std::vector<uint32_t> locals;
  uint32_t epoch = 0;

  void Reset(size_t folders, size_t rules, size_t groups) {
    // The previous evaluation clears its own group bits when it returns; if it
    // threw instead, clear them here so one user's groups never reach the next.
    for (uint32_t g : user_ids) member[g >> 6] = 0;
    if (stamp.size() < folders) {
      head_stamp.resize(folders, 0);
      head.resize(folders);
      stamp.resize(folders, 0);
      seg_off.resize(folders);
      seg_len.resize(folders);
    }
    if (rule_stamp.size() < rules) {
      rule_stamp.resize(rules, 0);
      rule_hits.resize(rules);
      rule_next.resize(rules);
    }
    size_t words = groups / 64 + 1;
    if (member.size() < words) member.resize(words, 0);
    if (by_target_dirty) std::fill(by_target.begin(), by_target.end(), 0);
    if (by_target.size() < folders / 64 + 1) by_target.resize(folders / 64 + 1, 0);
    by_target_dirty = true;
    if (++epoch == 0) {  // wrapped: clear for real
      std::fill(stamp.begin(), stamp.end(), 0);
      std::fill(head_stamp.begin(), head_stamp.end(), 0);
      std::fill(rule_stamp.begin(), rule_stamp.end(), 0);
      epoch = 1;
    }
    segs.clear();
    pending.clear();
    heap.clear();
    user_ids.clear();
  }
  bool Member(uint32_t g) const { return (member[g >> 6] >> (g & 63)) & 1; }
  uint32_t Head(uint32_t f) const { return head_stamp[f] == epoch ? head[f] : kNoRule; }
};

thread_local Scratch tls_scratch;

int64_t Ns(WallTime t) { return static_cast<int64_t>(t.time_since_epoch().count()); }
WallTime FromNs(int64_t ns) { return WallTime(WallTime::duration(ns)); }

// Group condition of a rule from the member bitset (explain only; evaluation counts hits).
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

Mode ModeAt(const Scratch& s, uint32_t folder, int64_t t) {
  if (s.stamp[folder] != s.epoch || s.seg_len[folder] == 0) return Mode::kNone;
  const Segment* seg = &s.segs[s.seg_off[folder]];
  uint32_t n = s.seg_len[folder];
  Mode m = seg[0].mode;
  for (uint32_t i = 1; i < n && seg[i].start_ns <= t; ++i) m = seg[i].mode;
  return m;
}

Mode FolderModeAt(const Policy& p, const Scratch& s, uint32_t f, int64_t t) {
  Mode m = Mode::kNone;
  for (uint32_t r = s.Head(f); r != kNoRule; r = s.rule_next[r]) {
    const Policy::FlatRule& fr = p.flat_rules[r];
    if (!fr.ActiveAt(t)) continue;
    if (fr.mode == 0) return Mode::kNone;  // deny wins
    m = std::max(m, static_cast<Mode>(fr.mode));
  }
  if (p.folder_flags[f] & Policy::kHasInherit) {
    for (uint32_t src : p.folders[f].inherit) m = std::max(m, ModeAt(s, src, t));
  }
  return m;
}

void BuildTimeline(const Policy& p, Scratch& s, uint32_t f, int64_t at) {
  s.seg_off[f] = static_cast<uint32_t>(s.segs.size());
  bool changes = p.folder_flags[f] & Policy::kWindowed;
  if (p.folder_flags[f] & Policy::kHasInherit) {
    for (uint32_t src : p.folders[f].inherit) {
      if (s.stamp[src] == s.epoch && s.seg_len[src] > 1) changes = true;
    }
  }
  if (!changes) {
    s.segs.push_back({at, FolderModeAt(p, s, f, at)});
    s.seg_len[f] = 1;
    return;
  }
  // The mode can only change where a matched rule's window opens or closes, or a source changes.
  s.points.clear();
  s.points.push_back(at);
  for (uint32_t r = s.Head(f); r != kNoRule; r = s.rule_next[r]) {
    const Policy::FlatRule& fr = p.flat_rules[r];
    if (fr.not_before_ns > at) s.points.push_back(fr.not_before_ns);
    if (fr.not_after_ns > at && fr.not_after_ns != INT64_MAX) s.points.push_back(fr.not_after_ns);
  }
  if (p.folder_flags[f] & Policy::kHasInherit) {
    for (uint32_t src : p.folders[f].inherit) {
      if (s.stamp[src] != s.epoch) continue;
      for (uint32_t i = 1; i < s.seg_len[src]; ++i)
        s.points.push_back(s.segs[s.seg_off[src] + i].start_ns);
    }
  }
  std::sort(s.points.begin(), s.points.end());
  s.points.erase(std::unique(s.points.begin(), s.points.end()), s.points.end());
  uint32_t n = 0;
  for (int64_t t : s.points) {
    Mode m = FolderModeAt(p, s, f, t);
    if (n > 0 && s.segs.back().mode == m) continue;
    s.segs.push_back({t, m});
    ++n;
  }
  s.seg_len[f] = n;
}

void Because(const Policy& p, Scratch& s, uint32_t index, int64_t at, TextList& out) {
  // Matched access rules active now; flat ids of one folder follow the file order.
  std::vector<uint32_t>& ids = s.locals;
  ids.clear();
  for (uint32_t r = s.Head(index); r != kNoRule; r = s.rule_next[r]) {
    const Policy::FlatRule& fr = p.flat_rules[r];
    if (fr.mode != 0 && fr.ActiveAt(at)) ids.push_back(r);
  }
  if (ids.size() > 1) std::sort(ids.begin(), ids.end());
  bool inherits = p.folder_flags[index] & Policy::kHasInherit;
  out.reserve(ids.size() + (inherits ? p.folders[index].inherit.size() : 0));
  for (uint32_t r : ids) out.push_back(p.rule_because[r]);
  if (!inherits) return;
  const Folder& f = p.folders[index];
  for (size_t k = 0; k < f.inherit.size(); ++k) {
    Mode m = ModeAt(s, f.inherit[k], at);
    if (m != Mode::kNone) out.push_back(f.inherit_because[2 * k + (m == Mode::kRw ? 1 : 0)]);
  }
}

std::vector<std::string> WhyNot(const Policy& p, const Scratch& s, uint32_t index, WallTime at) {
  int64_t at_ns = Ns(at);
  const Folder& f = p.folders[index];
  std::vector<std::string> out;
  for (size_t i = 0; i < f.deny.size(); ++i) {
    const Rule& d = f.deny[i];
    if (d.ActiveAt(at) && GroupsMatch(s, d)) {
      out.push_back("denied by deny[" + std::to_string(i) + "] (" + DescribeCondition(p, d) +
                    WindowText(d) + ")");
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
      out.push_back(rule + "outside window (starts at " + FormatMountSetTime(*r.not_before) + ")");
    } else if (r.not_after && at >= *r.not_after) {
      out.push_back(rule + "outside window (ended at " + FormatMountSetTime(*r.not_after) + ")");
    } else {
      out.push_back(rule + "matches (" + DescribeCondition(p, r) + " -> " + ModeName(r.mode) +
                    ") but the folder is denied");
    }
  }
  for (uint32_t src : f.inherit) {
    Mode m = ModeAt(s, src, at_ns);
    out.push_back("inherit '" + p.folders[src].name + "': " +
                  (m == Mode::kNone ? std::string("source not granted")
                                    : "source granted " + std::string(ModeName(m)) +
                                          " but the folder is denied"));
  }
  return out;
}

std::string_view ModeText(Mode m) {
  static constexpr std::string_view kNames[] = {"none", "ro", "rw"};
  return kNames[static_cast<size_t>(m)];
}

// The allow-list for user names in personal paths and rooms: ASCII letters and
// digits first, then also '.', '_', '-', '@' and the policy's extra characters; at
// most 64 bytes. Everything else (spaces, '$(', '/', ':', ',', braces, control
// and bidirectional-override characters, any non-ASCII) gets no personal folder.
bool IsAllowedUsername(std::string_view user, std::string_view extra) {
  constexpr size_t kMaxUsernameBytes = 64;
  if (user.empty() || user.size() > kMaxUsernameBytes) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(user[0])) return false;
  for (char c : user)
    if (!alnum(c) && c != '.' && c != '_' && c != '-' && c != '@' &&
        extra.find(c) == std::string_view::npos)
      return false;
  return true;
}

// The personal mount, or none (with a warning in `out` when the user name is unsafe).
std::optional<Mount> PersonalMount(const Policy& p, const EvalRequest& req, MountSet& out) {
  if (!p.personal) return std::nullopt;
  const Personal& pe = *p.personal;
  if (!IsAllowedUsername(req.user, pe.username_extra_chars)) {
    std::string shown;  // the name may be hostile: keep the warning printable
    for (char c : req.user)
      shown +=
          (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) ? '?' : c;
    out.warnings.push_back(
        "username '" + shown +
        "' is not a safe path segment (allowed: 1 to 64 of letters, digits, . _ - @, starting "
        "with a letter or digit): no personal folder");
    return std::nullopt;
  }
  auto owned = std::make_shared<std::vector<std::string>>();
  owned->reserve(2);
  owned->push_back(SubstituteUsername(pe.path, req.user));
  owned->push_back(SubstituteUsername(pe.room, req.user));
  Mount m;
  m.name = "personal";
  m.source = (*owned)[0];
  m.target = pe.target;
  m.mode = ModeText(pe.mode);
  m.room = (*owned)[1];
  m.because.push_back("personal");
  out.owned_texts = std::move(owned);
  return m;
}

}  // namespace

void TextList::reserve(size_t n) {
  if (n > kInline) spill_.reserve(n);
}

void TextList::push_back(std::string_view text) {
  if (size_ < kInline) {
    inline_[size_++] = text;
    return;
  }
  if (size_ == kInline) spill_.assign(inline_, inline_ + kInline);
  spill_.push_back(text);
  ++size_;
}

MountSet Evaluate(std::shared_ptr<const Policy> policy, const EvalRequest& req) {
  const Policy& p = *policy;
  MountSet out;
  out.policy = std::move(policy);
  out.user = req.user;
  out.groups = req.groups;
  out.policy_revision = p.revision;
  out.generated_at = req.at;
  out.sync_url = p.sync_url;
  out.explained = req.explain;

  Scratch& s = tls_scratch;
  s.Reset(p.folders.size(), p.flat_rules.size(), p.group_names.size());
  const int64_t at = Ns(req.at);

  // Every source's timeline must exist before a dependent reads it: folders that
  // inherit wait in a min-heap on topo rank; the others depend on nothing but
  // their own rules and are evaluated first, in any order.
  auto push_heap = [&](uint32_t f) {
    s.heap.push_back(p.topo_rank_of[f]);
    std::push_heap(s.heap.begin(), s.heap.end(), std::greater<>());
  };
  auto mark = [&](uint32_t f) {  // false when f already is a candidate
    if (s.stamp[f] == s.epoch) return false;
    s.stamp[f] = s.epoch;
    s.seg_len[f] = 0;
    return true;
  };
  auto attach = [&](uint32_t r) {  // rule r matches the user's groups
    uint32_t f = p.flat_rules[r].folder;
    if (s.head_stamp[f] != s.epoch) {
      s.head_stamp[f] = s.epoch;
      s.head[f] = kNoRule;
    }
    s.rule_next[r] = s.head[f];
    s.head[f] = r;
    // A deny alone never makes a folder a candidate.
    if (p.flat_rules[r].mode != 0 && mark(f)) s.pending.push_back(f);
  };
  std::vector<uint32_t>& user_ids = s.user_ids;
  for (const std::string& g : req.groups) {
    auto it = p.group_ids.find(g);
    if (it == p.group_ids.end() || s.Member(it->second)) continue;  // unknown or repeated
    user_ids.push_back(it->second);
    s.member[it->second >> 6] |= uint64_t{1} << (it->second & 63);
  }
  for (uint32_t g : user_ids) {
    for (uint32_t r : p.rules_by_group[g]) {
      if (s.rule_stamp[r] != s.epoch) {
        s.rule_stamp[r] = s.epoch;
        s.rule_hits[r] = 0;
      }
      if (++s.rule_hits[r] == p.flat_rules[r].need) attach(r);
    }
  }
  for (uint32_t r : p.rules_for_everyone) attach(r);

  auto finish = [&](uint32_t f) {  // every source of f is finished
    BuildTimeline(p, s, f, at);
    uint32_t rank = p.target_rank_of[f];
    s.by_target[rank >> 6] |= uint64_t{1} << (rank & 63);
    if (!(p.folder_flags[f] & Policy::kHasDependents)) return;
    bool ever = false;  // granted at some instant from `at` on
    for (uint32_t i = 0; i < s.seg_len[f]; ++i)
      ever |= s.segs[s.seg_off[f] + i].mode != Mode::kNone;
    if (ever) {
      for (uint32_t d : p.folders[f].dependents) {
        if (mark(d)) push_heap(d);  // else already pending or in the heap
      }
    }
  };
  for (uint32_t f : s.pending) {
    if (p.folder_flags[f] & Policy::kHasInherit) {
      push_heap(f);
    } else {
      finish(f);
    }
  }
  while (!s.heap.empty()) {
    std::pop_heap(s.heap.begin(), s.heap.end(), std::greater<>());
    uint32_t f = p.topo_order[s.heap.back()];
    s.heap.pop_back();
    finish(f);
  }

  // Mounts come out sorted by target: walk the bitset of target ranks (cheaper
  // than sorting), clearing it for the next evaluation on this thread.
  size_t count = 0;
  for (size_t w = 0; w < s.by_target.size(); ++w)
    count += static_cast<size_t>(__builtin_popcountll(s.by_target[w]));
  out.mounts.reserve(count + 1);
  std::optional<Mount> personal = PersonalMount(p, req, out);
  std::optional<int64_t> valid_until;
  for (size_t w = 0; w < s.by_target.size(); ++w) {
    uint64_t bits = s.by_target[w];
    if (bits == 0) continue;
    s.by_target[w] = 0;
    for (; bits != 0; bits &= bits - 1) {
      auto rank = static_cast<uint32_t>(w * 64 + static_cast<size_t>(__builtin_ctzll(bits)));
      uint32_t f = p.by_target[rank];
      const Segment* seg = &s.segs[s.seg_off[f]];
      uint32_t n = s.seg_len[f];
      std::optional<int64_t> change;
      if (n > 1) change = seg[1].start_ns;
      if (change && (!valid_until || *change < *valid_until)) valid_until = change;
      if (seg[0].mode == Mode::kNone) continue;
      if (personal && rank >= p.personal_target_rank) {
        out.mounts.push_back(std::move(*personal));
        personal.reset();
      }
      const Policy::MountProto& proto = p.protos[f];
      Mount& m = out.mounts.emplace_back();
      m.name = proto.name;
      m.source = proto.source;
      m.target = proto.target;
      m.mode = ModeText(seg[0].mode);
      m.room = proto.room;
      if (change) m.expires_at = FromNs(*change);
      Because(p, s, f, at, m.because);
    }
  }
  s.by_target_dirty = false;
  if (personal) out.mounts.push_back(std::move(*personal));
  if (valid_until) out.valid_until = FromNs(*valid_until);

  if (req.explain) {
    for (uint32_t f = 0; f < p.folders.size(); ++f) {
      if (ModeAt(s, f, at) != Mode::kNone) continue;
      out.not_granted.push_back({p.folders[f].name, WhyNot(p, s, f, req.at)});
    }
    std::sort(out.not_granted.begin(), out.not_granted.end(),
              [](const NotGranted& a, const NotGranted& b) { return a.name < b.name; });
  }

  for (uint32_t g : user_ids) s.member[g >> 6] = 0;
  return out;
}

}  // namespace vaultd::orchestrator
