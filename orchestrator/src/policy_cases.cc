// Loading and running policy test cases. yaml-cpp exceptions stop here.
#include "vaultd/orchestrator/policy_cases.h"

#include <yaml-cpp/yaml.h>

#include <set>

#include "vaultd/common/fs.h"

namespace vaultd::orchestrator {
namespace {

// Cases files are small; the same cap as policies keeps a typo'd path from reading a disk image.
constexpr uint64_t kMaxCasesBytes = kMaxPolicyBytes;

class CasesLoader {
 public:
  explicit CasesLoader(std::string file) : file_(std::move(file)) {}

  CasesLoadResult Run(std::string_view text) {
    CasesLoadResult out;
    try {
      YAML::Node root = YAML::Load(std::string(text));
      if (!root.IsSequence()) {
        Error(root, "a cases file is a YAML list of cases (- name: ..., user: ..., groups: [...], at: ..., expect: {...})");
      } else {
        for (size_t i = 0; i < root.size(); ++i) Case(root[i], i, &out.cases);
      }
    } catch (const YAML::Exception& e) {
      errors_.push_back({file_, e.mark.is_null() ? 0 : e.mark.line + 1, e.mark.is_null() ? 0 : e.mark.column + 1,
                         "YAML: " + e.msg, true});
    }
    out.errors = std::move(errors_);
    if (!out.errors.empty()) out.cases.clear();
    return out;
  }

 private:
  static int LineOf(const YAML::Node& n) { return n.IsDefined() && !n.Mark().is_null() ? n.Mark().line + 1 : 0; }
  void Error(const YAML::Node& n, std::string msg) { errors_.push_back({file_, LineOf(n), 0, std::move(msg), true}); }

  void Case(const YAML::Node& node, size_t index, std::vector<PolicyCase>* out) {
    std::string where = "cases[" + std::to_string(index) + "]";
    if (!node.IsMap()) {
      Error(node, where + " must be a mapping");
      return;
    }
    PolicyCase c;
    c.line = LineOf(node);
    std::set<std::string> seen;
    bool ok = true, has_at = false, has_expect = false;
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!it->first.IsScalar()) {
        Error(it->first, where + ": keys must be plain strings");
        ok = false;
        continue;
      }
      std::string key = it->first.Scalar();
      YAML::Node v = it->second;
      if (!seen.insert(key).second) {
        Error(it->first, where + ": duplicate key '" + key + "'");
        ok = false;
      } else if (key == "name" || key == "user") {
        if (!v.IsScalar()) {
          Error(v, where + "." + key + " must be a string");
          ok = false;
        } else {
          (key == "name" ? c.name : c.user) = v.Scalar();
        }
      } else if (key == "groups") {
        if (!v.IsSequence()) {
          Error(v, where + ".groups must be a list");
          ok = false;
          continue;
        }
        for (size_t i = 0; i < v.size(); ++i) {
          if (!v[i].IsScalar()) {
            Error(v[i], where + ".groups entries must be strings");
            ok = false;
          } else {
            c.groups.push_back(v[i].Scalar());
          }
        }
      } else if (key == "at") {
        has_at = true;
        Result<WallTime> t = v.IsScalar() ? ParseRfc3339(v.Scalar())
                                          : Result<WallTime>(Status::InvalidArgument("must be an RFC 3339 time"));
        if (!t.ok()) {
          Error(v, where + ".at: " + t.status().message());
          ok = false;
        } else {
          c.at = *t;
        }
      } else if (key == "expect") {
        has_expect = true;
        if (v.IsNull()) continue;  // expect nothing at all
        if (!v.IsMap()) {
          Error(v, where + ".expect must be a mapping of folder name to ro|rw");
          ok = false;
          continue;
        }
        for (auto e = v.begin(); e != v.end(); ++e) {
          if (!e->first.IsScalar() || !e->second.IsScalar() ||
              (e->second.Scalar() != "ro" && e->second.Scalar() != "rw")) {
            Error(e->first, where + ".expect entries are 'folder: ro' or 'folder: rw'");
            ok = false;
            continue;
          }
          if (!c.expect.emplace(e->first.Scalar(), e->second.Scalar()).second) {
            Error(e->first, where + ".expect: folder '" + e->first.Scalar() + "' listed twice");
            ok = false;
          }
        }
      } else {
        Error(it->first, where + ": unknown key '" + key + "' (expected name, user, groups, at, expect)");
        ok = false;
      }
    }
    if (c.name.empty()) c.name = where;
    if (c.user.empty()) {
      Error(node, where + ": missing required key 'user'");
      ok = false;
    }
    if (!has_at) {
      Error(node, where + ": missing required key 'at' (cases must not depend on today's date)");
      ok = false;
    }
    if (!has_expect) {
      Error(node, where + ": missing required key 'expect' (use expect: {} for no mounts)");
      ok = false;
    }
    if (ok) out->push_back(std::move(c));
  }

  std::string file_;
  std::vector<Diagnostic> errors_;
};

}  // namespace

CasesLoadResult LoadCasesString(std::string_view yaml, std::string_view filename) {
  if (yaml.size() > kMaxCasesBytes) {
    CasesLoadResult r;
    r.errors.push_back({std::string(filename), 0, 0, "cases file too large", true});
    return r;
  }
  return CasesLoader(std::string(filename)).Run(yaml);
}

CasesLoadResult LoadCasesFile(const std::string& path) {
  Result<std::string> text = ReadFile(path, kMaxCasesBytes);
  if (!text.ok()) {
    CasesLoadResult r;
    r.errors.push_back({path, 0, 0, text.status().message(), true});
    return r;
  }
  return LoadCasesString(*text, path);
}

CaseOutcome RunCase(const std::shared_ptr<const Policy>& policy, const PolicyCase& c) {
  MountSet m = Evaluate(policy, {c.user, c.groups, c.at, false});
  std::map<std::string, std::string> got;
  for (const Mount& mount : m.mounts) got[std::string(mount.name)] = mount.mode;
  CaseOutcome out;
  for (const auto& [name, mode] : got) {
    auto it = c.expect.find(name);
    if (it == c.expect.end()) {
      out.diff.push_back("+ " + name + ": " + mode + " (granted, not expected)");
    } else if (it->second != mode) {
      out.diff.push_back("~ " + name + ": got " + mode + ", expected " + it->second);
    }
  }
  for (const auto& [name, mode] : c.expect) {
    if (!got.count(name)) out.diff.push_back("- " + name + ": " + mode + " (expected, not granted)");
  }
  out.passed = out.diff.empty();
  return out;
}

}  // namespace vaultd::orchestrator
