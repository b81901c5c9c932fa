// Obsidian's configuration for the composite vault: <vault>/.obsidian/*.json
// and ~/.config/obsidian/obsidian.json. Keys we manage are enforced, org
// defaults fill what the user has not set, and the user's own settings survive,
// also into the next session through a copy in the persistent profile.
// Details: docs/config-gen.md.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vaultd/common/status.h"

namespace vaultd::configgen {

// One JSON object file: `defaults` apply where the user has no value,
// `enforced` always (an enforced array must be contained: user entries are kept after it).
struct ObjectPolicy {
  nlohmann::json defaults = nlohmann::json::object();
  nlohmann::json enforced = nlohmann::json::object();
};

struct ObsidianDefaults {
  ObjectPolicy app;           // .obsidian/app.json
  ObjectPolicy appearance;    // .obsidian/appearance.json
  ObjectPolicy core_plugins;  // .obsidian/core-plugins.json (object form: id -> enabled)
  std::vector<std::string>
      plugin_allow;  // community plugins that may be enabled; others are removed
  std::vector<std::string> plugin_defaults;  // enabled when the user has made no choice
  std::vector<std::string> sources;          // the files read, for messages
};

// What vaultd itself needs from Obsidian (attachments next to the note, links
// updated on rename, internal folders ignored, Obsidian Sync off, no community plugins).
ObsidianDefaults BuiltinObsidianDefaults();

inline constexpr const char* kDefaultObsidianDefaultsDir = "/etc/vaultd/obsidian-defaults";

// The built-ins, then every DIR/*.yaml in name order on top (later files
// override earlier ones). A missing DIR means the built-ins only. Unknown keys,
// wrong types and YAML errors are refused with "file:line: ...".
Result<ObsidianDefaults> LoadObsidianDefaults(const std::string& dir);

// Parses one defaults file's text over `base`; `name` is used in messages. Exposed for tests.
Status ApplyObsidianDefaultsYaml(const std::string& text, const std::string& name,
                                 ObsidianDefaults* base);

struct ObsidianPaths {
  std::string vault;          // absolute vault root; files go to <vault>/.obsidian/
  std::string profile_dir;    // persistent copy of the user's own settings (under $HOME)
  std::string obsidian_json;  // ~/.config/obsidian/obsidian.json
  // Absolute paths (read-only mounts) below which nothing is ever written;
  // a directory on a read-only file system is refused as well.
  std::vector<std::string> read_only;
};

// The profile and obsidian.json paths under `home` ($XDG_CONFIG_HOME when set, else home/.config).
ObsidianPaths DefaultObsidianPaths(const std::string& vault, const std::string& home,
                                   const std::string& xdg_config_home = "");

struct WriteReport {
  std::vector<std::string> written;    // files whose bytes changed (created, replaced or removed)
  std::vector<std::string> unchanged;  // files that already held exactly these bytes
  std::vector<std::string> removed_plugins;
  std::vector<std::string> warnings;
};

// Copies the user's own settings from <vault>/.obsidian/ into the profile
// (only for files present in the vault, so a fresh vault never erases it).
Status SaveUserSettings(const ObsidianPaths& paths, const ObsidianDefaults& defaults,
                        WriteReport* report);

// SaveUserSettings, then writes every Obsidian file: defaults, then the user's
// settings from the profile, then the enforced keys; community plugins filtered
// by the allow-list (their folders under .obsidian/plugins/ removed too). A
// file whose bytes would not change is not touched (mtime kept).
Status WriteObsidianConfig(const ObsidianPaths& paths, const ObsidianDefaults& defaults,
                           WriteReport* report);

// Writes `data` atomically unless the file already holds exactly these bytes;
// refuses paths below `read_only` or on a read-only file system. Creates parents.
Status WriteIfChanged(const std::string& path, const std::string& data,
                      const std::vector<std::string>& read_only, WriteReport* report,
                      mode_t mode = 0644);

}  // namespace vaultd::configgen
