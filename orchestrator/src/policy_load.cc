// Loading and validating vault-permissions.yaml. yaml-cpp exceptions stop here.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

#include "policy_link.h"
#include "policy_lint.h"
#include "policy_model.h"
#include "vaultd/common/fs.h"
#include "vaultd/common/sha256.h"
#include "vaultd/common/utf8.h"
#include "vaultd/common/yaml.h"

namespace vaultd::orchestrator {

std::string Diagnostic::ToString() const {
  return file + ":" + std::to_string(line) + ": " + (error ? "error: " : "warning: ") + message;
}

const char* ModeName(Mode m) {
  switch (m) {
    case Mode::kRo:
      return "ro";
    case Mode::kRw:
      return "rw";
    default:
      return "none";
  }
}

std::string PolicyRevision(const Policy& policy) { return policy.revision; }
const std::string& PolicyFile(const Policy& policy) { return policy.file; }

namespace {

bool HasBrace(std::string_view s) {
  return s.find('{') != std::string_view::npos || s.find('}') != std::string_view::npos;
}

// An absolute host path made of safe segments ("/shared/wiki"; not "/", "a/b", "/a/../b", "/a//b").
bool IsSafeAbsolutePath(std::string_view p) {
  if (p.size() < 2 || p[0] != '/') return false;
  std::string_view rest = p.substr(1);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  return IsSafeRelativePath(rest);
}

}  // namespace

namespace {

// Diagnostics quote the input; keep them printable as JSON too.
std::string SanitizeUtf8(const std::string& s) {
  if (IsValidUtf8(s)) return s;
  std::string out;
  for (char c : s) out += (static_cast<unsigned char>(c) < 0x80) ? c : '?';
  return out;
}

std::string ReplaceUsername(std::string_view tmpl, std::string_view user) {
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t at = tmpl.find(kUsernameVar, pos);
    if (at == std::string_view::npos) break;
    out.append(tmpl.substr(pos, at - pos));
    out.append(user);
    pos = at + kUsernameVar.size();
  }
  out.append(tmpl.substr(pos));
  return out;
}

class Loader {
 public:
  Loader(std::string file, const LoadOptions& options)
      : file_(std::move(file)), options_(options), problems_(file_, [this](yaml::Problem p) {
          ErrorAt(p.line, p.column, std::move(p.message));
        }) {}

  LoadResult Run(std::string_view text) {
    LoadResult result;
    auto policy = std::make_shared<Policy>();
    policy_ = policy.get();
    policy_->file = file_;
    policy_->revision = "sha256:" + Sha256Hex(text);
    if (text.size() > kMaxPolicyBytes) {
      ErrorAt(0, 0,
              "policy is " + std::to_string(text.size()) + " bytes; the limit is " +
                  std::to_string(kMaxPolicyBytes));
    } else {
      std::optional<YAML::Node> root = yaml::ParseDocument(text, problems_);
      if (root && (!root->IsDefined() || root->IsNull())) {
        ErrorAt(1, 1, "empty policy: expected a mapping with 'version' and 'folders'");
      } else if (root) {
        try {
          Root(*root);
        } catch (const YAML::Exception& e) {
          ErrorAt(e.mark.is_null() ? 0 : e.mark.line + 1, e.mark.is_null() ? 0 : e.mark.column + 1,
                  "YAML: " + e.msg);
        } catch (const std::exception& e) {
          ErrorAt(0, 0, std::string("YAML: ") + e.what());
        }
      }
    }
    if (!HasErrors()) Link();
    if (!HasErrors()) LintPolicy(*policy_, options_.now, &diags_);
    std::stable_sort(diags_.begin(), diags_.end(),
                     [](const Diagnostic& a, const Diagnostic& b) { return a.line < b.line; });
    if (errors_ > kMaxErrors) {
      diags_.push_back(
          {file_, 0, 0, std::to_string(errors_ - kMaxErrors) + " more errors not listed", true});
    }
    for (Diagnostic& d : diags_) d.message = SanitizeUtf8(d.message);
    result.diagnostics = std::move(diags_);
    if (!HasErrors(result.diagnostics)) result.policy = std::move(policy);
    return result;
  }

 private:
  static bool HasErrors(const std::vector<Diagnostic>& d) {
    return std::any_of(d.begin(), d.end(), [](const Diagnostic& x) { return x.error; });
  }
  bool HasErrors() const { return HasErrors(diags_); }

  static int LineOf(const YAML::Node& n) { return yaml::LineOf(n); }
  static int ColumnOf(const YAML::Node& n) { return yaml::ColumnOf(n); }
  // A hostile file could hold millions of broken entries; past this many errors the
  // rest add nothing an admin can act on, so they are counted, not kept.
  static constexpr size_t kMaxErrors = 500;
  void ErrorAt(int line, int col, std::string msg) {
    if (errors_++ >= kMaxErrors) return;
    diags_.push_back({file_, line, col, std::move(msg), true});
  }
  void Error(const YAML::Node& n, std::string msg) {
    ErrorAt(LineOf(n), ColumnOf(n), std::move(msg));
  }

  // The schema of one mapping of the policy; `where` names it in messages.
  static yaml::MapSchema Schema(const std::string& where,
                                std::initializer_list<std::string_view> allowed) {
    yaml::MapSchema schema = yaml::NamedMapSchema(where, allowed);
    schema.unknown_key = "{where}: unknown key '{key}' (expected one of: {allowed})";
    schema.duplicate_key = "{where}: duplicate key '{key}' (first at line {first_line})";
    schema.utf8 = true;
    return schema;
  }

  bool NoUsername(const YAML::Node& node, const std::string& value, const std::string& what) {
    if (value.find(kUsernameVar) != std::string::npos) {
      Error(node, what + ": {username} is allowed only in personal.path and personal.room");
      return false;
    }
    return true;
  }

  static std::optional<Mode> ReadMode(yaml::MapReader& map, const std::string& what) {
    return map.Enum<Mode>("mode", {{"ro", Mode::kRo}, {"rw", Mode::kRw}}, what, "mode");
  }

  uint32_t Intern(const std::string& group) {
    auto [it, inserted] = policy_->group_ids.try_emplace(group, policy_->group_names.size());
    if (inserted) policy_->group_names.push_back(group);
    return it->second;
  }

  void Root(const YAML::Node& root) {
    yaml::MapReader map(root, Schema("policy", {"version", "sync", "personal", "folders"}),
                        problems_);
    if (!map.is_mapping()) return;
    if (!map.Has("version")) {
      ErrorAt(LineOf(root), ColumnOf(root), "missing required key 'version' (use version: 1)");
    } else {
      const YAML::Node v = map.Value("version");
      if (!v.IsScalar() || v.Scalar() != "1") {
        Error(v, "version must be 1 (this is the only format version)");
      }
    }
    if (map.Has("sync")) Sync(map.Key("sync"), map.Value("sync"));
    if (map.Has("personal")) PersonalSection(map.Key("personal"), map.Value("personal"));
    if (map.Has("folders")) {
      const YAML::Node list = map.Value("folders");
      if (list.IsNull()) return;  // "folders:" with nothing: no shared folders
      if (!list.IsSequence()) {
        Error(list, "folders must be a list");
        return;
      }
      if (list.size() > kMaxPolicyFolders) {
        Error(list, "folders: " + std::to_string(list.size()) + " entries; the limit is " +
                        std::to_string(kMaxPolicyFolders));
        return;
      }
      for (size_t i = 0; i < list.size(); ++i) FolderEntry(list[i], i);
      CheckAnswerSize(list);
    }
  }

  // The largest answer this policy can produce: every folder with every rule explained.
  void CheckAnswerSize(const YAML::Node& list) {
    size_t bytes = 0;
    for (const Folder& folder : policy_->folders) {
      bytes +=
          128 + folder.name.size() + folder.path.size() + folder.target.size() + folder.room.size();
      for (const auto* rules : {&folder.access, &folder.deny})
        for (const Rule& r : *rules) {
          bytes += 96;
          for (uint32_t g : r.groups) bytes += 4 + policy_->group_names[g].size();
        }
    }
    if (bytes > kMaxPolicyAnswerBytes)
      Error(list, "folders: an answer could be " + std::to_string(bytes >> 20) +
                      " MiB; the limit is " + std::to_string(kMaxPolicyAnswerBytes >> 20) +
                      " MiB (fewer folders, rules or groups)");
  }

  void Sync(const YAML::Node& key, const YAML::Node& section) {
    yaml::MapReader map(section, Schema("sync", {"url"}), problems_);
    if (!map.is_mapping()) return;
    if (!map.Has("url")) {
      Error(key, "sync: missing required key 'url'");
      return;
    }
    auto url = map.String("url", /*allow_empty=*/true, "sync.url");
    if (!url) return;
    if (!NoUsername(map.Value("url"), *url, "sync.url")) return;
    if (url->rfind("ws://", 0) != 0 && url->rfind("wss://", 0) != 0) {
      Error(map.Value("url"), "sync.url must start with ws:// or wss:// (got '" + *url + "')");
      return;
    }
    policy_->sync_url = *url;
  }

  void PersonalSection(const YAML::Node& key, const YAML::Node& section) {
    yaml::MapReader map(
        section, Schema("personal", {"path", "target", "mode", "room", "username_extra_chars"}),
        problems_);
    if (!map.is_mapping()) return;
    Personal p;
    p.line = LineOf(key);
    bool ok = true;
    if (!map.Has("path")) {
      Error(key, "personal: missing required key 'path' (e.g. /users/{username}/personal)");
      ok = false;
    } else if (auto path = map.String("path", /*allow_empty=*/true, "personal.path")) {
      p.path = *path;
      // Check the shape with a stand-in safe user name; the real one is checked per request.
      std::string sample = ReplaceUsername(*path, "user");
      if (path->find(kUsernameVar) == std::string::npos) {
        Error(map.Value("path"),
              "personal.path must contain {username}: without it every user shares one folder");
        ok = false;
      } else if (HasBrace(sample) || !IsSafeAbsolutePath(sample)) {
        Error(map.Value("path"),
              "personal.path '" + *path +
                  "' must be an absolute path without '.', '..' or empty segments");
        ok = false;
      }
    } else {
      ok = false;
    }
    if (map.Has("target")) {
      if (auto t = map.String("target", /*allow_empty=*/true, "personal.target")) {
        p.target = *t;
        if (!NoUsername(map.Value("target"), *t, "personal.target")) {
          ok = false;
        } else if (!CheckTarget(map.Value("target"), *t, "personal.target")) {
          ok = false;
        }
      } else {
        ok = false;
      }
    }
    if (map.Has("mode")) {
      if (auto m = ReadMode(map, "personal.mode"))
        p.mode = *m;
      else
        ok = false;
    }
    if (map.Has("room")) {
      if (auto r = map.String("room", /*allow_empty=*/true, "personal.room")) {
        p.room = *r;
        std::string sample = ReplaceUsername(*r, "user");
        if (r->find(kUsernameVar) == std::string::npos) {
          Error(map.Value("room"),
                "personal.room must contain {username}: two users' rooms must never coincide");
          ok = false;
        } else if (r->find(kUsernameVar, r->find(kUsernameVar) + 1) != std::string::npos) {
          // The collision check against folder rooms assumes one substitution.
          Error(map.Value("room"), "personal.room must contain {username} exactly once");
          ok = false;
        } else if (HasBrace(sample) || !IsSafePathSegment(sample)) {
          Error(map.Value("room"),
                "personal.room '" + *r + "' must be one safe name (no '/', '.', '..')");
          ok = false;
        }
      } else {
        ok = false;
      }
    }
    if (map.Has("username_extra_chars")) {
      if (auto extra = map.String("username_extra_chars", /*allow_empty=*/true,
                                  "personal.username_extra_chars")) {
        // Characters that would change a path, a Docker bind spec or a room name stay out.
        const std::string_view allowed = "+~=!#$%&'^`";
        for (char c : *extra) {
          if (allowed.find(c) == std::string_view::npos) {
            Error(map.Value("username_extra_chars"),
                  "personal.username_extra_chars: '" + std::string(1, c) +
                      "' cannot be allowed (choose from " + std::string(allowed) + ")");
            ok = false;
            break;
          }
        }
        p.username_extra_chars = *extra;
      } else {
        ok = false;
      }
    }
    personal_target_node_ = map.Has("target") ? map.Value("target") : key;
    personal_room_node_ = map.Has("room") ? map.Value("room") : key;
    if (ok) policy_->personal = p;
  }

  bool CheckTarget(const YAML::Node& node, const std::string& t, const std::string& what) {
    if (HasBrace(t) || !IsSafeRelativePath(t)) {
      Error(node, what + " '" + t +
                      "' must be a relative path of safe segments (no leading '/', '.', '..')");
      return false;
    }
    std::string first = t.substr(0, t.find('/'));
    if (first == ".obsidian" || first == ".vaultd") {
      Error(node, what + " '" + t + "' is reserved for vaultd's own files at the vault root");
      return false;
    }
    return true;
  }

  std::optional<Rule> RuleEntry(const YAML::Node& node, const std::string& where, bool deny) {
    yaml::MapReader map(
        node,
        deny ? Schema(where, {"groups", "compound", "not_before", "not_after"})
             : Schema(where, {"groups", "compound", "mode", "not_before", "not_after"}),
        problems_);
    if (!map.is_mapping()) return std::nullopt;
    bool ok = true;
    Rule r;
    r.line = LineOf(node);
    if (!map.Has("groups")) {
      Error(node, where + ": missing required key 'groups' (use [] to match every user)");
      ok = false;
    } else if (const YAML::Node g = map.Value("groups");
               g.IsSequence() && g.size() > kMaxGroupsPerRule) {
      Error(g, where + ".groups: " + std::to_string(g.size()) + " groups; the limit is " +
                   std::to_string(kMaxGroupsPerRule));
      ok = false;
    } else {
      std::set<std::string> seen;
      const yaml::ListRules rules{
          .of = "group names", .item = "a non-empty UTF-8 group name", .empty_items = false};
      auto each = [&](const YAML::Node& item, const std::string& name) {
        if (name.find(kUsernameVar) != std::string::npos) {
          Error(item,
                where + ".groups: {username} is allowed only in personal.path and personal.room");
          ok = false;
        } else if (!seen.insert(name).second) {
          diags_.push_back({file_, LineOf(item), ColumnOf(item),
                            where + ".groups: group '" + name + "' listed twice", false});
        } else {
          r.groups.push_back(Intern(name));
        }
      };
      if (!map.Strings("groups", rules, where + ".groups", each)) ok = false;
      r.written = r.groups;
      std::sort(r.groups.begin(), r.groups.end());
    }
    if (map.Has("compound")) {
      if (auto c = map.Enum<Compound>(
              "compound", {{"any", Compound::kAny}, {"all", Compound::kAll}}, where + ".compound"))
        r.compound = *c;
      else
        ok = false;
    }
    if (!deny) {
      if (!map.Has("mode")) {
        Error(node, where + ": missing required key 'mode' (ro or rw)");
        ok = false;
      } else if (auto m = ReadMode(map, where + ".mode")) {
        r.mode = *m;
      } else {
        ok = false;
      }
    }
    if (map.Has("not_before")) {
      r.not_before = map.Time("not_before", where + ".not_before");
      if (!r.not_before) ok = false;
    }
    if (map.Has("not_after")) {
      r.not_after = map.Time("not_after", where + ".not_after");
      if (!r.not_after) ok = false;
    }
    if (!ok) return std::nullopt;
    return r;
  }

  void FolderEntry(const YAML::Node& node, size_t index) {
    std::string where = "folders[" + std::to_string(index) + "]";
    // Name the folder in every message, including unknown keys that come before 'name'.
    if (node.IsMap()) {
      const YAML::Node name_node = node["name"];
      if (name_node.IsDefined() && name_node.IsScalar()) where += " '" + name_node.Scalar() + "'";
    }
    yaml::MapReader map(
        node, Schema(where, {"name", "path", "target", "room", "access", "deny", "inherit"}),
        problems_);
    if (!map.is_mapping()) return;
    Folder folder;
    folder.line = LineOf(node);
    bool ok = true;
    auto required = [&](const char* key) -> std::optional<std::string> {
      if (!map.Has(key)) {
        Error(node, where + ": missing required key '" + key + "'");
        return std::nullopt;
      }
      auto s = map.String(key, /*allow_empty=*/true, where + "." + key);
      if (s && !NoUsername(map.Value(key), *s, where + "." + key)) return std::nullopt;
      return s;
    };
    auto name = required("name");
    if (name) {
      if (HasBrace(*name) || !IsSafePathSegment(*name)) {
        Error(map.Value("name"),
              where + ": name must be one safe path segment (no '/', '.', '..')");
        ok = false;
      } else {
        folder.name = *name;
      }
    } else {
      ok = false;
    }
    if (auto path = required("path")) {
      if (HasBrace(*path) || !IsSafeAbsolutePath(*path)) {
        Error(map.Value("path"),
              where + ".path '" + *path +
                  "' must be an absolute host path without '.', '..' or empty segments");
        ok = false;
      } else {
        folder.path = *path;
        if (folder.path.size() > 1 && folder.path.back() == '/') folder.path.pop_back();
      }
    } else {
      ok = false;
    }
    const YAML::Node name_node = map.Has("name") ? map.Value("name") : node;
    YAML::Node target_node = name_node;
    if (map.Has("target")) {
      target_node = map.Value("target");
      auto t = map.String("target", /*allow_empty=*/true, where + ".target");
      if (t && NoUsername(target_node, *t, where + ".target") &&
          CheckTarget(target_node, *t, where + ".target")) {
        folder.target = *t;
      } else {
        ok = false;
      }
    } else {
      folder.target = folder.name;
    }
    YAML::Node room_node = name_node;
    if (map.Has("room")) {
      room_node = map.Value("room");
      auto r = map.String("room", /*allow_empty=*/true, where + ".room");
      if (r && NoUsername(room_node, *r, where + ".room")) {
        if (HasBrace(*r) || !IsSafePathSegment(*r)) {
          Error(room_node, where + ".room '" + *r + "' must be one safe name (no '/', '.', '..')");
          ok = false;
        } else {
          folder.room = *r;
        }
      } else {
        ok = false;
      }
    } else {
      folder.room = folder.name;
    }
    auto rules = [&](const char* key, bool deny, std::vector<Rule>* out) {
      const YAML::Node list = map.Value(key);
      if (!list.IsDefined() || list.IsNull()) return;
      if (!list.IsSequence()) {
        Error(list, where + "." + key + " must be a list of rules");
        ok = false;
        return;
      }
      for (size_t i = 0; i < list.size(); ++i) {
        auto r = RuleEntry(list[i], where + "." + key + "[" + std::to_string(i) + "]", deny);
        if (r)
          out->push_back(std::move(*r));
        else
          ok = false;
      }
    };
    rules("access", false, &folder.access);
    rules("deny", true, &folder.deny);
    const yaml::ListRules inherit{
        .of = "folder names", .item = "a folder name", .null_is_empty = true};
    if (!map.Strings("inherit", inherit, where + ".inherit",
                     [&](const YAML::Node& item, const std::string& name) {
                       folder.inherit_names.push_back(name);
                       inherit_nodes_.push_back({policy_->folders.size(), item});
                     }))
      ok = false;
    for (const Rule& r : folder.access) folder.windowed |= r.Windowed();
    for (const Rule& r : folder.deny) folder.windowed |= r.Windowed();
    // Keep the folder even when broken so later cross-checks still line up indexes;
    // any error makes the whole load fail anyway.
    if (!ok) folder.name.clear();
    name_nodes_.push_back(name_node);
    target_nodes_.push_back(target_node);
    room_nodes_.push_back(room_node);
    policy_->folders.push_back(std::move(folder));
  }

  // Where each folder's parts are in the file, for the cross-folder checks.
  void Link() {
    LinkInput in;
    auto at = [](const YAML::Node& n) { return SourcePosition{LineOf(n), ColumnOf(n)}; };
    for (size_t i = 0; i < policy_->folders.size(); ++i) {
      in.names.push_back(at(name_nodes_[i]));
      in.targets.push_back(at(target_nodes_[i]));
      in.rooms.push_back(at(room_nodes_[i]));
    }
    in.personal_target = at(personal_target_node_);
    for (const auto& [fi, node] : inherit_nodes_)
      in.inherits.push_back({fi, at(node), node.Scalar()});
    LinkPolicy(*policy_, in, [&](SourcePosition where, std::string message, bool error) {
      if (error) {
        ErrorAt(where.line, where.column, std::move(message));
      } else {
        diags_.push_back({file_, where.line, where.column, std::move(message), false});
      }
    });
  }

  std::string file_;
  LoadOptions options_;
  // Every problem the YAML reader finds becomes an error as it is found, so errors and
  // warnings keep the order they were found in.
  yaml::Problems problems_;
  std::vector<Diagnostic> diags_;
  size_t errors_ = 0;
  Policy* policy_ = nullptr;
  std::vector<YAML::Node> name_nodes_, target_nodes_, room_nodes_;
  std::vector<std::pair<size_t, YAML::Node>> inherit_nodes_;
  YAML::Node personal_target_node_, personal_room_node_;
};

}  // namespace

LoadResult LoadPolicyString(std::string_view yaml, std::string_view filename,
                            const LoadOptions& options) {
  return Loader(std::string(filename), options).Run(yaml);
}

LoadResult LoadPolicyFile(const std::string& path, const LoadOptions& options) {
  Result<std::string> text = ReadFile(path, kMaxPolicyBytes);
  if (!text.ok()) {
    LoadResult r;
    r.diagnostics.push_back({path, 0, 0, text.status().message(), true});
    return r;
  }
  return LoadPolicyString(*text, path, options);
}

std::string SubstituteUsername(std::string_view tmpl, std::string_view user) {
  return ReplaceUsername(tmpl, user);
}

}  // namespace vaultd::orchestrator
