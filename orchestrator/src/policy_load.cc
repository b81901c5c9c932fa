// Loading and validating vault-permissions.yaml. yaml-cpp exceptions stop here.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

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

struct Field {
  YAML::Node key;
  YAML::Node value;
};
using Fields = std::map<std::string, Field>;

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
      : file_(std::move(file)), options_(options) {}

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
      yaml::Problems problems(file_);
      std::optional<YAML::Node> root = yaml::ParseDocument(text, problems);
      for (const yaml::Problem& p : problems.list()) ErrorAt(p.line, p.column, p.message);
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

  // Reads a mapping, reporting unknown and duplicate keys; `where` names it in messages.
  bool ReadMap(const YAML::Node& node, const std::string& where,
               std::initializer_list<const char*> allowed, Fields* out) {
    yaml::MapSchema schema = yaml::NamedMapSchema(where, {allowed.begin(), allowed.end()});
    schema.unknown_key = "{where}: unknown key '{key}' (expected one of: {allowed})";
    schema.duplicate_key = "{where}: duplicate key '{key}' (first at line {first_line})";
    yaml::Problems problems(file_);
    yaml::MapReader map(node, schema, problems);
    for (const yaml::Problem& p : problems.list()) ErrorAt(p.line, p.column, p.message);
    if (!map.is_mapping()) return false;
    for (const std::string& key : map.Keys()) (*out)[key] = Field{map.Key(key), map.Value(key)};
    return true;
  }

  std::optional<std::string> Str(const Field& f, const std::string& what) {
    if (!f.value.IsScalar()) {
      Error(f.value.IsNull() ? f.key : f.value, what + " must be a string");
      return std::nullopt;
    }
    if (!IsValidUtf8(f.value.Scalar())) {
      Error(f.value, what + " is not valid UTF-8");
      return std::nullopt;
    }
    return f.value.Scalar();
  }

  bool NoUsername(const Field& f, const std::string& value, const std::string& what) {
    if (value.find(kUsernameVar) != std::string::npos) {
      Error(f.value, what + ": {username} is allowed only in personal.path and personal.room");
      return false;
    }
    return true;
  }

  std::optional<WallTime> Time(const Field& f, const std::string& what) {
    auto s = Str(f, what);
    if (!s) return std::nullopt;
    Result<WallTime> t = ParseRfc3339(*s);
    if (!t.ok()) {
      Error(f.value, what + ": " + t.status().message());
      return std::nullopt;
    }
    return *t;
  }

  std::optional<Mode> ReadMode(const Field& f, const std::string& what) {
    auto s = Str(f, what);
    if (!s) return std::nullopt;
    if (*s == "ro") return Mode::kRo;
    if (*s == "rw") return Mode::kRw;
    Error(f.value, what + ": unknown mode '" + *s + "' (expected ro or rw)");
    return std::nullopt;
  }

  uint32_t Intern(const std::string& group) {
    auto [it, inserted] = policy_->group_ids.try_emplace(group, policy_->group_names.size());
    if (inserted) policy_->group_names.push_back(group);
    return it->second;
  }

  void Root(const YAML::Node& root) {
    Fields f;
    if (!ReadMap(root, "policy", {"version", "sync", "personal", "folders"}, &f)) return;
    if (!f.count("version")) {
      ErrorAt(LineOf(root), ColumnOf(root), "missing required key 'version' (use version: 1)");
    } else {
      const Field& v = f["version"];
      if (!v.value.IsScalar() || v.value.Scalar() != "1") {
        Error(v.value, "version must be 1 (this is the only format version)");
      }
    }
    if (f.count("sync")) Sync(f["sync"]);
    if (f.count("personal")) PersonalSection(f["personal"]);
    if (f.count("folders")) {
      const YAML::Node& list = f["folders"].value;
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

  void Sync(const Field& section) {
    Fields f;
    if (!ReadMap(section.value, "sync", {"url"}, &f)) return;
    if (!f.count("url")) {
      Error(section.key, "sync: missing required key 'url'");
      return;
    }
    auto url = Str(f["url"], "sync.url");
    if (!url) return;
    if (!NoUsername(f["url"], *url, "sync.url")) return;
    if (url->rfind("ws://", 0) != 0 && url->rfind("wss://", 0) != 0) {
      Error(f["url"].value, "sync.url must start with ws:// or wss:// (got '" + *url + "')");
      return;
    }
    policy_->sync_url = *url;
  }

  void PersonalSection(const Field& section) {
    Fields f;
    if (!ReadMap(section.value, "personal",
                 {"path", "target", "mode", "room", "username_extra_chars"}, &f))
      return;
    Personal p;
    p.line = LineOf(section.key);
    bool ok = true;
    if (!f.count("path")) {
      Error(section.key, "personal: missing required key 'path' (e.g. /users/{username}/personal)");
      ok = false;
    } else if (auto path = Str(f["path"], "personal.path")) {
      p.path = *path;
      // Check the shape with a stand-in safe user name; the real one is checked per request.
      std::string sample = ReplaceUsername(*path, "user");
      if (path->find(kUsernameVar) == std::string::npos) {
        Error(f["path"].value,
              "personal.path must contain {username}: without it every user shares one folder");
        ok = false;
      } else if (HasBrace(sample) || !IsSafeAbsolutePath(sample)) {
        Error(f["path"].value,
              "personal.path '" + *path +
                  "' must be an absolute path without '.', '..' or empty segments");
        ok = false;
      }
    } else {
      ok = false;
    }
    if (f.count("target")) {
      if (auto t = Str(f["target"], "personal.target")) {
        p.target = *t;
        if (!NoUsername(f["target"], *t, "personal.target")) {
          ok = false;
        } else if (!CheckTarget(f["target"].value, *t, "personal.target")) {
          ok = false;
        }
      } else {
        ok = false;
      }
    }
    if (f.count("mode")) {
      if (auto m = ReadMode(f["mode"], "personal.mode"))
        p.mode = *m;
      else
        ok = false;
    }
    if (f.count("room")) {
      if (auto r = Str(f["room"], "personal.room")) {
        p.room = *r;
        std::string sample = ReplaceUsername(*r, "user");
        if (r->find(kUsernameVar) == std::string::npos) {
          Error(f["room"].value,
                "personal.room must contain {username}: two users' rooms must never coincide");
          ok = false;
        } else if (r->find(kUsernameVar, r->find(kUsernameVar) + 1) != std::string::npos) {
          // The collision check against folder rooms assumes one substitution.
          Error(f["room"].value, "personal.room must contain {username} exactly once");
          ok = false;
        } else if (HasBrace(sample) || !IsSafePathSegment(sample)) {
          Error(f["room"].value,
                "personal.room '" + *r + "' must be one safe name (no '/', '.', '..')");
          ok = false;
        }
      } else {
        ok = false;
      }
    }
    if (f.count("username_extra_chars")) {
      if (auto extra = Str(f["username_extra_chars"], "personal.username_extra_chars")) {
        // Characters that would change a path, a Docker bind spec or a room name stay out.
        const std::string_view allowed = "+~=!#$%&'^`";
        for (char c : *extra) {
          if (allowed.find(c) == std::string_view::npos) {
            Error(f["username_extra_chars"].value,
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
    personal_target_node_ = f.count("target") ? f["target"].value : section.key;
    personal_room_node_ = f.count("room") ? f["room"].value : section.key;
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
    Fields f;
    bool ok =
        deny ? ReadMap(node, where, {"groups", "compound", "not_before", "not_after"}, &f)
             : ReadMap(node, where, {"groups", "compound", "mode", "not_before", "not_after"}, &f);
    if (!ok) return std::nullopt;
    Rule r;
    r.line = LineOf(node);
    if (!f.count("groups")) {
      Error(node, where + ": missing required key 'groups' (use [] to match every user)");
      ok = false;
    } else {
      const YAML::Node& g = f["groups"].value;
      if (!g.IsSequence()) {
        Error(g.IsNull() ? f["groups"].key : g, where + ".groups must be a list of group names");
        ok = false;
      } else if (g.size() > kMaxGroupsPerRule) {
        Error(g, where + ".groups: " + std::to_string(g.size()) + " groups; the limit is " +
                     std::to_string(kMaxGroupsPerRule));
        ok = false;
      } else {
        std::set<std::string> seen;
        for (size_t i = 0; i < g.size(); ++i) {
          if (!g[i].IsScalar() || g[i].Scalar().empty() || !IsValidUtf8(g[i].Scalar())) {
            Error(g[i], where + ".groups[" + std::to_string(i) +
                            "] must be a non-empty UTF-8 group name");
            ok = false;
            continue;
          }
          const std::string& name = g[i].Scalar();
          if (name.find(kUsernameVar) != std::string::npos) {
            Error(g[i],
                  where + ".groups: {username} is allowed only in personal.path and personal.room");
            ok = false;
            continue;
          }
          if (!seen.insert(name).second) {
            diags_.push_back({file_, LineOf(g[i]), ColumnOf(g[i]),
                              where + ".groups: group '" + name + "' listed twice", false});
            continue;
          }
          r.groups.push_back(Intern(name));
        }
        r.written = r.groups;
        std::sort(r.groups.begin(), r.groups.end());
      }
    }
    if (f.count("compound")) {
      auto c = Str(f["compound"], where + ".compound");
      if (!c) {
        ok = false;
      } else if (*c == "any") {
        r.compound = Compound::kAny;
      } else if (*c == "all") {
        r.compound = Compound::kAll;
      } else {
        Error(f["compound"].value,
              where + ".compound: unknown value '" + *c + "' (expected any or all)");
        ok = false;
      }
    }
    if (!deny) {
      if (!f.count("mode")) {
        Error(node, where + ": missing required key 'mode' (ro or rw)");
        ok = false;
      } else if (auto m = ReadMode(f["mode"], where + ".mode")) {
        r.mode = *m;
      } else {
        ok = false;
      }
    }
    if (f.count("not_before")) {
      r.not_before = Time(f["not_before"], where + ".not_before");
      if (!r.not_before) ok = false;
    }
    if (f.count("not_after")) {
      r.not_after = Time(f["not_after"], where + ".not_after");
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
    Fields f;
    if (!ReadMap(node, where, {"name", "path", "target", "room", "access", "deny", "inherit"}, &f))
      return;
    Folder folder;
    folder.line = LineOf(node);
    bool ok = true;
    auto required = [&](const char* key) -> std::optional<std::string> {
      if (!f.count(key)) {
        Error(node, where + ": missing required key '" + key + "'");
        return std::nullopt;
      }
      auto s = Str(f[key], where + "." + key);
      if (s && !NoUsername(f[key], *s, where + "." + key)) return std::nullopt;
      return s;
    };
    auto name = required("name");
    if (name) {
      if (HasBrace(*name) || !IsSafePathSegment(*name)) {
        Error(f["name"].value, where + ": name must be one safe path segment (no '/', '.', '..')");
        ok = false;
      } else {
        folder.name = *name;
      }
    } else {
      ok = false;
    }
    if (auto path = required("path")) {
      if (HasBrace(*path) || !IsSafeAbsolutePath(*path)) {
        Error(f["path"].value,
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
    YAML::Node target_node = f.count("name") ? f["name"].value : node;
    if (f.count("target")) {
      target_node = f["target"].value;
      auto t = Str(f["target"], where + ".target");
      if (t && NoUsername(f["target"], *t, where + ".target") &&
          CheckTarget(f["target"].value, *t, where + ".target")) {
        folder.target = *t;
      } else {
        ok = false;
      }
    } else {
      folder.target = folder.name;
    }
    YAML::Node room_node = f.count("name") ? f["name"].value : node;
    if (f.count("room")) {
      room_node = f["room"].value;
      auto r = Str(f["room"], where + ".room");
      if (r && NoUsername(f["room"], *r, where + ".room")) {
        if (HasBrace(*r) || !IsSafePathSegment(*r)) {
          Error(f["room"].value,
                where + ".room '" + *r + "' must be one safe name (no '/', '.', '..')");
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
      if (!f.count(key)) return;
      const YAML::Node& list = f[key].value;
      if (list.IsNull()) return;
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
    if (f.count("inherit")) {
      const YAML::Node& list = f["inherit"].value;
      if (!list.IsNull() && !list.IsSequence()) {
        Error(list, where + ".inherit must be a list of folder names");
        ok = false;
      } else if (list.IsSequence()) {
        for (size_t i = 0; i < list.size(); ++i) {
          if (!list[i].IsScalar() || !IsValidUtf8(list[i].Scalar())) {
            Error(list[i], where + ".inherit[" + std::to_string(i) + "] must be a folder name");
            ok = false;
            continue;
          }
          folder.inherit_names.push_back(list[i].Scalar());
          inherit_nodes_.push_back({policy_->folders.size(), list[i]});
        }
      }
    }
    for (const Rule& r : folder.access) folder.windowed |= r.Windowed();
    for (const Rule& r : folder.deny) folder.windowed |= r.Windowed();
    // Keep the folder even when broken so later cross-checks still line up indexes;
    // any error makes the whole load fail anyway.
    if (!ok) folder.name.clear();
    name_nodes_.push_back(f.count("name") ? f["name"].value : node);
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
