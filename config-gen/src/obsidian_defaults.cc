// The built-in Obsidian settings vaultd needs, and the org's defaults files
// (/etc/vaultd/obsidian-defaults/*.yaml) read strictly: an unknown key or a
// wrong type is an error naming file:line, never silently ignored.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "vaultd/common/fs.h"
#include "vaultd/configgen/obsidian.h"

namespace vaultd::configgen {
namespace {

using nlohmann::json;

std::string At(const std::string& name, const YAML::Node& n) {
  return name + ":" + std::to_string(n.Mark().line + 1) + ": ";
}

// YAML 1.2 core schema for plain scalars; quoted scalars stay strings.
json ScalarToJson(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return s;
  if (s == "null" || s == "Null" || s == "NULL" || s == "~" || s.empty()) return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  errno = 0;
  char* end = nullptr;
  long long i = std::strtoll(s.c_str(), &end, 10);
  if (end && *end == '\0' && errno == 0) return i;
  errno = 0;
  double d = std::strtod(s.c_str(), &end);
  if (end && *end == '\0' && errno == 0 && s.find_first_of("0123456789") != std::string::npos &&
      s.find_first_of("xXnN") == std::string::npos)
    return d;
  return s;
}

Result<json> ToJson(const YAML::Node& n, const std::string& name, int depth = 0) {
  if (depth > 32) return Status::InvalidArgument(At(name, n) + "nested too deeply");
  switch (n.Type()) {
    case YAML::NodeType::Null:
      return json(nullptr);
    case YAML::NodeType::Scalar:
      return ScalarToJson(n);
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto& e : n) {
        VAULTD_ASSIGN_OR_RETURN(json v, ToJson(e, name, depth + 1));
        a.push_back(std::move(v));
      }
      return a;
    }
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : n) {
        if (!kv.first.IsScalar())
          return Status::InvalidArgument(At(name, kv.first) + "keys must be strings");
        VAULTD_ASSIGN_OR_RETURN(json v, ToJson(kv.second, name, depth + 1));
        o[kv.first.Scalar()] = std::move(v);
      }
      return o;
    }
    default:
      return Status::InvalidArgument(At(name, n) + "unsupported YAML node");
  }
}

// Every key of map `n` must be one of `allowed`.
Status CheckKeys(const YAML::Node& n, const std::string& name, const std::string& where,
                 std::initializer_list<const char*> allowed) {
  if (!n.IsMap()) return Status::InvalidArgument(At(name, n) + where + " must be a mapping");
  for (const auto& kv : n) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "?";
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; })) {
      std::string list;
      for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
      return Status::InvalidArgument(At(name, kv.first) + "unknown key '" + key + "' in " + where +
                                     " (expected one of: " + list + ")");
    }
  }
  return Status::Ok();
}

Status MergeObject(const YAML::Node& n, const std::string& name, const std::string& where,
                   bool bools_only, json* into) {
  if (!n.IsMap()) return Status::InvalidArgument(At(name, n) + where + " must be a mapping");
  VAULTD_ASSIGN_OR_RETURN(json o, ToJson(n, name));
  for (auto& [k, v] : o.items()) {
    if (bools_only && !v.is_boolean())
      return Status::InvalidArgument(At(name, n[k]) + where + "." + k + " must be true or false");
    (*into)[k] = v;
  }
  return Status::Ok();
}

Status ApplyPolicy(const YAML::Node& n, const std::string& name, const std::string& section,
                   bool bools_only, ObjectPolicy* p) {
  VAULTD_RETURN_IF_ERROR(CheckKeys(n, name, section, {"defaults", "enforce"}));
  if (n["defaults"])
    VAULTD_RETURN_IF_ERROR(
        MergeObject(n["defaults"], name, section + ".defaults", bools_only, &p->defaults));
  if (n["enforce"])
    VAULTD_RETURN_IF_ERROR(
        MergeObject(n["enforce"], name, section + ".enforce", bools_only, &p->enforced));
  return Status::Ok();
}

Result<std::vector<std::string>> PluginList(const YAML::Node& n, const std::string& name,
                                            const std::string& where) {
  if (!n.IsSequence())
    return Status::InvalidArgument(At(name, n) + where + " must be a list of plugin ids");
  std::vector<std::string> out;
  for (const auto& e : n) {
    if (!e.IsScalar() || !IsSafePathSegment(e.Scalar()))
      return Status::InvalidArgument(At(name, e) + where +
                                     ": a plugin id must be a plain folder name");
    if (std::find(out.begin(), out.end(), e.Scalar()) == out.end()) out.push_back(e.Scalar());
  }
  return out;
}

}  // namespace

ObsidianDefaults BuiltinObsidianDefaults() {
  ObsidianDefaults d;
  // Attachments next to the note keep them inside the same mount (and room);
  // links follow renames, including the shim's cross-mount moves.
  d.app.enforced = {{"attachmentFolderPath", "./"},
                    {"alwaysUpdateLinks", true},
                    {"newLinkFormat", "relative"},
                    // Deleted notes go to <vault>/.trash (never synced), not to a desktop trash
                    // outside the vault.
                    {"trashOption", "local"},
                    {"userIgnoreFilters", json::array({".vaultd/", ".trash/"})}};
  d.appearance.defaults = {{"theme", "system"}};
  // Obsidian Sync and Publish would copy notes to third-party services; vaultd is the sync.
  d.core_plugins.enforced = {{"sync", false}, {"publish", false}};
  for (const char* p :
       {"file-explorer", "global-search", "switcher", "graph", "backlink", "canvas",
        "outgoing-link", "tag-pane", "page-preview", "daily-notes", "templates", "note-composer",
        "command-palette", "editor-status", "bookmarks", "outline", "word-count", "file-recovery"})
    d.core_plugins.defaults[p] = true;
  return d;
}

Status ApplyObsidianDefaultsYaml(const std::string& text, const std::string& name,
                                 ObsidianDefaults* d) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(name + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (root.IsNull()) return Status::Ok();
  try {
    VAULTD_RETURN_IF_ERROR(CheckKeys(root, name, "the defaults file",
                                     {"app", "appearance", "core_plugins", "community_plugins"}));
    if (root["app"]) VAULTD_RETURN_IF_ERROR(ApplyPolicy(root["app"], name, "app", false, &d->app));
    if (root["appearance"])
      VAULTD_RETURN_IF_ERROR(
          ApplyPolicy(root["appearance"], name, "appearance", false, &d->appearance));
    if (root["core_plugins"])
      VAULTD_RETURN_IF_ERROR(
          ApplyPolicy(root["core_plugins"], name, "core_plugins", true, &d->core_plugins));
    if (const YAML::Node c = root["community_plugins"]) {
      VAULTD_RETURN_IF_ERROR(CheckKeys(c, name, "community_plugins", {"allow", "defaults"}));
      if (c["allow"]) {
        VAULTD_ASSIGN_OR_RETURN(d->plugin_allow,
                                PluginList(c["allow"], name, "community_plugins.allow"));
      }
      if (c["defaults"]) {
        VAULTD_ASSIGN_OR_RETURN(d->plugin_defaults,
                                PluginList(c["defaults"], name, "community_plugins.defaults"));
      }
    }
    for (const auto& p : d->plugin_defaults)
      if (std::find(d->plugin_allow.begin(), d->plugin_allow.end(), p) == d->plugin_allow.end())
        return Status::InvalidArgument(name + ": community_plugins.defaults names '" + p +
                                       "', which is not in community_plugins.allow");
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(name + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  d->sources.push_back(name);
  return Status::Ok();
}

Result<ObsidianDefaults> LoadObsidianDefaults(const std::string& dir) {
  ObsidianDefaults d = BuiltinObsidianDefaults();
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return d;
  std::set<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string p = e.path().string();
    if (e.path().extension() == ".yaml" && e.is_regular_file()) files.insert(p);
  }
  if (ec) return Status::FromErrno(ec.value(), "reading " + dir);
  for (const auto& f : files) {
    VAULTD_ASSIGN_OR_RETURN(std::string text, ReadFile(f, 1u << 20));
    VAULTD_RETURN_IF_ERROR(ApplyObsidianDefaultsYaml(text, f, &d));
  }
  return d;
}

}  // namespace vaultd::configgen
