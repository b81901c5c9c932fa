// Loading and running policy test cases. yaml-cpp exceptions stop here.
#include "vaultd/orchestrator/policy_cases.h"

#include <algorithm>

#include "vaultd/common/fs.h"
#include "vaultd/common/yaml.h"

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
      yaml::Problems problems(file_);
      std::optional<YAML::Node> parsed = yaml::ParseDocument(text, problems);
      for (const yaml::Problem& p : problems.list())
        errors_.push_back({file_, p.line, p.column, p.message, true});
      if (parsed && !parsed->IsSequence()) {
        Error(*parsed,
              "a cases file is a YAML list of cases (- name: ..., user: ..., groups: [...], at: "
              "..., expect: {...})");
      } else if (parsed) {
        for (size_t i = 0; i < parsed->size(); ++i) Case((*parsed)[i], i, &out.cases);
      }
    } catch (const YAML::Exception& e) {
      errors_.push_back({file_, e.mark.is_null() ? 0 : e.mark.line + 1,
                         e.mark.is_null() ? 0 : e.mark.column + 1, "YAML: " + e.msg, true});
    }
    out.errors = std::move(errors_);
    if (!out.errors.empty()) out.cases.clear();
    return out;
  }

 private:
  static int LineOf(const YAML::Node& n) { return yaml::LineOf(n); }
  void Error(const YAML::Node& n, std::string msg) {
    errors_.push_back({file_, LineOf(n), 0, std::move(msg), true});
  }

  void Case(const YAML::Node& node, size_t index, std::vector<PolicyCase>* out) {
    const std::string where = "cases[" + std::to_string(index) + "]";
    const yaml::MapSchema schema =
        yaml::NamedMapSchema(where, {"name", "user", "groups", "at", "expect"});
    yaml::Problems problems(file_);
    yaml::MapReader map(node, schema, problems);
    PolicyCase c;
    c.line = LineOf(node);
    if (map.is_mapping()) {
      if (auto v = map.String("name", /*allow_empty=*/true, where + ".name")) c.name = *v;
      if (auto v = map.String("user", /*allow_empty=*/true, where + ".user")) c.user = *v;
      if (map.Has("groups")) {
        const YAML::Node v = map.Value("groups");
        if (!v.IsSequence()) {
          problems.Add(v, where + ".groups must be a list");
        } else {
          for (size_t i = 0; i < v.size(); ++i) {
            if (!v[i].IsScalar()) {
              problems.Add(v[i], where + ".groups entries must be strings");
            } else {
              c.groups.push_back(v[i].Scalar());
            }
          }
        }
      }
      if (map.Has("at")) {
        const YAML::Node v = map.Value("at");
        Result<WallTime> t =
            v.IsScalar() ? ParseRfc3339(v.Scalar())
                         : Result<WallTime>(Status::InvalidArgument("must be an RFC 3339 time"));
        if (!t.ok()) {
          problems.Add(v, where + ".at: " + t.status().message());
        } else {
          c.at = *t;
        }
      }
      if (map.Has("expect")) Expect(map.Value("expect"), where, &c, problems);
    }
    // In file order, then what is missing.
    std::vector<yaml::Problem> found = problems.list();
    std::stable_sort(
        found.begin(), found.end(),
        [](const yaml::Problem& x, const yaml::Problem& y) { return x.line < y.line; });
    for (const yaml::Problem& p : found) errors_.push_back({file_, p.line, 0, p.message, true});
    if (!map.is_mapping()) return;
    bool ok = found.empty();
    if (c.name.empty()) c.name = where;
    if (c.user.empty()) {
      Error(node, where + ": missing required key 'user'");
      ok = false;
    }
    if (!map.Has("at")) {
      Error(node, where + ": missing required key 'at' (cases must not depend on today's date)");
      ok = false;
    }
    if (!map.Has("expect")) {
      Error(node, where + ": missing required key 'expect' (use expect: {} for no mounts)");
      ok = false;
    }
    if (ok) out->push_back(std::move(c));
  }

  // expect: {folder: ro|rw, ...}; null expects nothing at all.
  void Expect(const YAML::Node& v, const std::string& where, PolicyCase* c,
              yaml::Problems& problems) {
    if (v.IsNull()) return;
    if (!v.IsMap()) {
      problems.Add(v, where + ".expect must be a mapping of folder name to ro|rw");
      return;
    }
    for (auto e = v.begin(); e != v.end(); ++e) {
      if (!e->first.IsScalar() || !e->second.IsScalar() ||
          (e->second.Scalar() != "ro" && e->second.Scalar() != "rw")) {
        problems.Add(e->first, where + ".expect entries are 'folder: ro' or 'folder: rw'");
        continue;
      }
      if (!c->expect.emplace(e->first.Scalar(), e->second.Scalar()).second)
        problems.Add(e->first, where + ".expect: folder '" + e->first.Scalar() + "' listed twice");
    }
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
    if (!got.count(name))
      out.diff.push_back("- " + name + ": " + mode + " (expected, not granted)");
  }
  out.passed = out.diff.empty();
  return out;
}

}  // namespace vaultd::orchestrator
