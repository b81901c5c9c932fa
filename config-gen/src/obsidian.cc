// Writing Obsidian's files: merge order defaults < user < enforced, the user's
// part kept in the persistent profile, and no byte touched when nothing changed.
#include "vaultd/configgen/obsidian.h"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <filesystem>

#include "vaultd/common/fs.h"
#include "vaultd/common/sha256.h"

namespace vaultd::configgen {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// The four files of <vault>/.obsidian that we manage.
constexpr const char* kApp = "app.json";
constexpr const char* kAppearance = "appearance.json";
constexpr const char* kCorePlugins = "core-plugins.json";
constexpr const char* kCommunityPlugins = "community-plugins.json";

std::string Render(const json& j) { return j.dump(2) + "\n"; }

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// The file's JSON, or nullopt when it is absent; a file that does not parse is
// reported and treated as absent (Obsidian itself would start from defaults).
std::optional<json> ReadJson(const std::string& path, WriteReport* report) {
  if (!Exists(path)) return std::nullopt;
  auto text = ReadFile(path, 4u << 20);
  if (!text.ok()) {
    report->warnings.push_back("cannot read " + path + ": " + text.status().message());
    return std::nullopt;
  }
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded()) {
    report->warnings.push_back(path + " is not valid JSON; it is replaced");
    return std::nullopt;
  }
  return j;
}

bool Under(const std::string& path, const std::string& dir) {
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  return path == d ||
         (path.size() > d.size() && path.compare(0, d.size(), d) == 0 && path[d.size()] == '/');
}

// Refuses a path below a read-only mount of the mount set, or whose nearest
// existing directory is on a read-only file system.
Status CheckWritable(const std::string& path, const std::vector<std::string>& read_only) {
  for (const auto& ro : read_only)
    if (Under(path, ro))
      return Status::PermissionDenied("refusing to write " + path +
                                      ": inside the read-only mount " + ro);
  std::string dir = DirName(path);
  while (!Exists(dir) && dir != "/" && dir != ".") dir = DirName(dir);
  struct statvfs sv;
  if (::statvfs(dir.c_str(), &sv) == 0 && (sv.f_flag & ST_RDONLY))
    return Status::PermissionDenied("refusing to write " + path + ": " + dir +
                                    " is on a read-only file system");
  return Status::Ok();
}

Status MakeDirs(const std::string& dir, const std::vector<std::string>& read_only) {
  if (Exists(dir)) return Status::Ok();
  VAULTD_RETURN_IF_ERROR(CheckWritable(dir, read_only));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::FromErrno(ec.value(), "mkdir " + dir);
  return Status::Ok();
}

Status RemoveIfPresent(const std::string& path, const std::vector<std::string>& read_only,
                       WriteReport* report) {
  if (!Exists(path)) return Status::Ok();
  VAULTD_RETURN_IF_ERROR(CheckWritable(path, read_only));
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return Status::FromErrno(ec.value(), "removing " + path);
  report->written.push_back(path);
  return Status::Ok();
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// The user's own part of an object file: what they changed from the defaults,
// without the enforced keys (an enforced array's own entries are taken out,
// the user's extra entries kept).
json UserPart(const json& file, const ObjectPolicy& policy) {
  json out = json::object();
  if (!file.is_object()) return out;
  for (const auto& [k, v] : file.items()) {
    auto enforced = policy.enforced.find(k);
    if (enforced != policy.enforced.end()) {
      if (!enforced->is_array() || !v.is_array()) continue;
      json extra = json::array();
      for (const auto& e : v)
        if (std::find(enforced->begin(), enforced->end(), e) == enforced->end()) extra.push_back(e);
      if (!extra.empty()) out[k] = extra;
      continue;
    }
    auto def = policy.defaults.find(k);
    if (def != policy.defaults.end() && *def == v) continue;
    out[k] = v;
  }
  return out;
}

json Merge(const ObjectPolicy& policy, const json& user) {
  json out = policy.defaults;
  for (const auto& [k, v] : user.items()) out[k] = v;
  for (const auto& [k, v] : policy.enforced.items()) {
    auto u = user.find(k);
    if (v.is_array() && u != user.end() && u->is_array()) {
      json merged = v;
      for (const auto& e : *u)
        if (std::find(merged.begin(), merged.end(), e) == merged.end()) merged.push_back(e);
      out[k] = merged;
    } else {
      out[k] = v;
    }
  }
  return out;
}

std::vector<std::string> AllowedPlugins(const json& list, const ObsidianDefaults& d,
                                        std::vector<std::string>* removed) {
  std::vector<std::string> out;
  if (!list.is_array()) return out;
  for (const auto& e : list) {
    if (!e.is_string()) continue;
    const std::string id = e.get<std::string>();
    if (Contains(d.plugin_allow, id)) {
      if (!Contains(out, id)) out.push_back(id);
    } else if (removed && !Contains(*removed, id)) {
      removed->push_back(id);
    }
  }
  return out;
}

// The profile holds one file per managed vault file, with the user's part only;
// an empty part is no file.
Status StoreProfile(const ObsidianPaths& p, const char* file, const json& part,
                    WriteReport* report) {
  const std::string path = p.profile_dir + "/" + file;
  const bool empty = part.is_object() ? part.empty() : part.is_null();
  if (empty) return RemoveIfPresent(path, p.read_only, report);
  return WriteIfChanged(path, Render(part), p.read_only, report, 0600);
}

struct ObjectFile {
  const char* name;
  const ObjectPolicy* policy;
};

std::vector<ObjectFile> ObjectFiles(const ObsidianDefaults& d) {
  return {{kApp, &d.app}, {kAppearance, &d.appearance}, {kCorePlugins, &d.core_plugins}};
}

Status WriteObsidianJson(const ObsidianPaths& p, WriteReport* report) {
  json j = ReadJson(p.obsidian_json, report).value_or(json::object());
  if (!j.is_object()) j = json::object();
  if (!j.contains("vaults") || !j["vaults"].is_object()) j["vaults"] = json::object();
  std::string id;
  for (auto& [k, v] : j["vaults"].items()) {
    if (!v.is_object()) continue;
    if (id.empty() && v.value("path", "") == p.vault) {
      id = k;
    } else {
      v.erase("open");  // Obsidian opens the vault marked open: ours, directly
    }
  }
  // A stable id, so a second run writes the same bytes (Obsidian uses 16 hex digits).
  if (id.empty()) id = Sha256Hex("vaultd:" + p.vault).substr(0, 16);
  j["vaults"][id]["path"] = p.vault;
  j["vaults"][id]["open"] = true;
  // The image is updated as a whole; Obsidian must not replace itself inside a session.
  j["updateDisabled"] = true;
  return WriteIfChanged(p.obsidian_json, Render(j), p.read_only, report);
}

}  // namespace

ObsidianPaths DefaultObsidianPaths(const std::string& vault, const std::string& home,
                                   const std::string& xdg_config_home) {
  const std::string config = xdg_config_home.empty() ? home + "/.config" : xdg_config_home;
  ObsidianPaths p;
  p.vault = vault;
  p.profile_dir = config + "/vaultd/obsidian";
  p.obsidian_json = config + "/obsidian/obsidian.json";
  return p;
}

Status WriteIfChanged(const std::string& path, const std::string& data,
                      const std::vector<std::string>& read_only, WriteReport* report, mode_t mode) {
  if (Exists(path)) {
    auto old = ReadFile(path, 64u << 20);
    if (old.ok() && *old == data) {
      report->unchanged.push_back(path);
      return Status::Ok();
    }
  }
  VAULTD_RETURN_IF_ERROR(CheckWritable(path, read_only));
  VAULTD_RETURN_IF_ERROR(MakeDirs(DirName(path), read_only));
  VAULTD_RETURN_IF_ERROR(WriteFileAtomic(path, data, {.mode = mode, .sync = true}));
  report->written.push_back(path);
  return Status::Ok();
}

Status SaveUserSettings(const ObsidianPaths& p, const ObsidianDefaults& d, WriteReport* report) {
  const std::string dir = p.vault + "/.obsidian/";
  for (const auto& f : ObjectFiles(d)) {
    auto file = ReadJson(dir + f.name, report);
    if (!file) continue;
    VAULTD_RETURN_IF_ERROR(StoreProfile(p, f.name, UserPart(*file, *f.policy), report));
  }
  if (auto list = ReadJson(dir + kCommunityPlugins, report)) {
    // The user's choice among the allowed plugins; the org's default choice is not a choice.
    std::vector<std::string> chosen = AllowedPlugins(*list, d, nullptr);
    json part = chosen == d.plugin_defaults ? json() : json(chosen);
    VAULTD_RETURN_IF_ERROR(StoreProfile(p, kCommunityPlugins, part, report));
  }
  return Status::Ok();
}

Status WriteObsidianConfig(const ObsidianPaths& p, const ObsidianDefaults& d, WriteReport* report) {
  if (p.vault.empty() || p.vault[0] != '/')
    return Status::InvalidArgument("the vault must be an absolute path: '" + p.vault + "'");
  // Plugin ids outside the allow-list, in the vault's file, are collected
  // before the profile copy drops them, so the report names them.
  const std::string dir = p.vault + "/.obsidian/";
  std::vector<std::string> removed;
  if (auto list = ReadJson(dir + kCommunityPlugins, report)) AllowedPlugins(*list, d, &removed);
  VAULTD_RETURN_IF_ERROR(SaveUserSettings(p, d, report));
  for (const auto& f : ObjectFiles(d)) {
    json user = ReadJson(p.profile_dir + "/" + f.name, report).value_or(json::object());
    if (!user.is_object()) user = json::object();
    VAULTD_RETURN_IF_ERROR(
        WriteIfChanged(dir + f.name, Render(Merge(*f.policy, user)), p.read_only, report));
  }
  json chosen =
      ReadJson(p.profile_dir + "/" + kCommunityPlugins, report).value_or(json(d.plugin_defaults));
  json enabled = AllowedPlugins(chosen, d, &removed);
  VAULTD_RETURN_IF_ERROR(
      WriteIfChanged(dir + kCommunityPlugins, Render(enabled), p.read_only, report));
  // A plugin's code lives in .obsidian/plugins/<id>/: outside the allow-list it goes.
  std::error_code ec;
  std::vector<std::string> unallowed;
  if (fs::is_directory(dir + "plugins", ec)) {
    for (const auto& e : fs::directory_iterator(dir + "plugins", ec)) {
      const std::string id = e.path().filename().string();
      if (e.is_directory() && !Contains(d.plugin_allow, id)) unallowed.push_back(id);
    }
  }
  for (const auto& id : unallowed) {
    VAULTD_RETURN_IF_ERROR(RemoveIfPresent(dir + "plugins/" + id, p.read_only, report));
    if (!Contains(removed, id)) removed.push_back(id);
  }
  std::sort(removed.begin(), removed.end());
  report->removed_plugins = removed;
  return WriteObsidianJson(p, report);
}

}  // namespace vaultd::configgen
