#include "policy_lint.h"

#include <algorithm>

namespace vaultd::orchestrator {

std::string GroupList(const Policy& p, const std::vector<uint32_t>& ids) {
  std::string out;
  for (uint32_t g : ids) out += (out.empty() ? "" : ", ") + p.GroupName(g);
  return out;
}

std::string WindowText(const Rule& r) {
  if (r.not_before && r.not_after)
    return " [" + FormatMountSetTime(*r.not_before) + ", " + FormatMountSetTime(*r.not_after) + ")";
  if (r.not_before) return " from " + FormatMountSetTime(*r.not_before);
  if (r.not_after) return " until " + FormatMountSetTime(*r.not_after);
  return "";
}

std::string DescribeCondition(const Policy& p, const Rule& r) {
  if (r.groups.empty()) return "every user";
  return std::string("member of ") + (r.compound == Compound::kAll ? "all" : "any") + " of [" +
         GroupList(p, r.written) + "]";
}

namespace {

// A one-group rule means the same under any and all.
Compound Effective(const Rule& r) { return r.groups.size() == 1 ? Compound::kAll : r.compound; }

bool Subset(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b) {
  return std::includes(b.begin(), b.end(), a.begin(), a.end());
}

bool Intersects(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i] == b[j]) return true;
    a[i] < b[j] ? ++i : ++j;
  }
  return false;
}

bool EmptyWindow(const Rule& r) {
  return r.not_before && r.not_after && *r.not_before >= *r.not_after;
}

// Every instant in a's window is in b's window.
bool WindowWithin(const Rule& a, const Rule& b) {
  bool start_ok = !b.not_before || (a.not_before && *a.not_before >= *b.not_before);
  bool end_ok = !b.not_after || (a.not_after && *a.not_after <= *b.not_after);
  return start_ok && end_ok;
}

}  // namespace

bool GroupConditionImplies(const Rule& a, const Rule& b) {
  if (b.groups.empty()) return true;
  if (a.groups.empty()) return false;
  Compound ca = Effective(a), cb = Effective(b);
  if (ca == Compound::kAll && cb == Compound::kAny) return Intersects(a.groups, b.groups);
  if (ca == Compound::kAll && cb == Compound::kAll) return Subset(b.groups, a.groups);
  if (ca == Compound::kAny && cb == Compound::kAny) return Subset(a.groups, b.groups);
  return false;  // any of >= 2 groups never implies all of a non-empty set... unless trivial
}

void LintPolicy(const Policy& p, WallTime now, std::vector<Diagnostic>* out) {
  auto warn = [&](int line, std::string msg) {
    out->push_back({p.file, line, 0, std::move(msg), false});
  };
  for (const Folder& f : p.folders) {
    std::string where = "folder '" + f.name + "'";
    if (f.access.empty() && f.inherit.empty()) {
      warn(f.line, where + " has no access rules and no inherit: nobody gets it");
    }
    auto window_checks = [&](const Rule& r, const std::string& rule) {
      if (EmptyWindow(r)) {
        warn(r.line, where + " " + rule + ": not_before " + FormatRfc3339(*r.not_before) +
                         " is not before not_after " + FormatRfc3339(*r.not_after) +
                         ": the rule never matches");
      } else if (r.not_after && *r.not_after <= now) {
        warn(r.line, where + " " + rule + ": window ended at " + FormatRfc3339(*r.not_after) +
                         "; the rule never matches again");
      }
    };
    for (size_t i = 0; i < f.access.size(); ++i) {
      const Rule& r = f.access[i];
      std::string rule = "access[" + std::to_string(i) + "]";
      window_checks(r, rule);
      if (r.groups.empty())
        warn(r.line, where + " " + rule + " names no groups: it grants every user");
      if (EmptyWindow(r)) continue;
      // A rule never matters when another rule with at least its mode matches whenever it does.
      for (size_t j = 0; j < f.access.size(); ++j) {
        const Rule& o = f.access[j];
        if (i == j || EmptyWindow(o) || o.mode < r.mode) continue;
        if (!GroupConditionImplies(r, o) || !WindowWithin(r, o)) continue;
        bool equivalent = GroupConditionImplies(o, r) && WindowWithin(o, r) && o.mode == r.mode;
        if (equivalent && j > i) continue;  // report only the later of two identical rules
        warn(r.line, where + " " + rule + " (" + DescribeCondition(p, r) + " -> " +
                         ModeName(r.mode) + ") never matters: access[" + std::to_string(j) + "] (" +
                         DescribeCondition(p, o) + " -> " + ModeName(o.mode) +
                         ") already grants it");
        break;
      }
    }
    for (size_t i = 0; i < f.deny.size(); ++i) {
      const Rule& d = f.deny[i];
      std::string rule = "deny[" + std::to_string(i) + "]";
      window_checks(d, rule);
      if (d.groups.empty()) {
        warn(d.line, where + " " + rule + " names no groups: it removes the folder for every user" +
                         (d.Windowed() ? std::string(" while its window is open") : std::string()));
        continue;
      }
      if (d.Windowed() || !f.inherit.empty() || f.access.empty()) continue;
      bool covers_all = std::all_of(f.access.begin(), f.access.end(),
                                    [&](const Rule& a) { return GroupConditionImplies(a, d); });
      if (covers_all) {
        warn(d.line, where + " " + rule + " (" + DescribeCondition(p, d) +
                         ") matches everyone its access rules grant: nobody gets the folder");
      }
    }
  }
}

}  // namespace vaultd::orchestrator
