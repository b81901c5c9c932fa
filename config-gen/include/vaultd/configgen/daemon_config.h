// The daemon's configuration, vaultd.yaml: the contract between config-gen
// (which writes it at session start) and `vaultd run` (which reads it).
// Format: docs/config-gen.md and DESIGN §5.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vaultd/common/clock.h"

namespace vaultd::configgen {

struct RoomConfig {
  std::string name;  // the mount's name
  std::string room;  // the relay room
  std::string path;  // relative to the vault; nested targets such as "deals/acme" allowed
  std::string mode;  // "rw" | "ro"
  std::optional<WallTime> expires_at;
};

struct DaemonConfig {
  std::string vault = "/vault";
  std::string state_dir;
  std::string user;
  std::string relay_url;          // "" is written as null (no relay: the daemon cannot sync)
  std::string relay_token_file;   // "" = the line is left out
  std::vector<RoomConfig> rooms;  // written in the given order
  uint64_t text_max_bytes = 8388608;
  uint64_t binary_max_bytes = 16777216;
  int debounce_ms = 10;
  std::string log_level = "info";
};

// The exact bytes of vaultd.yaml: same input, same bytes. Strings that YAML
// would read as something else (null, true, 10, ": " inside ...) are quoted.
std::string RenderDaemonConfig(const DaemonConfig& config);

// A YAML scalar for `text`: plain when YAML reads it back as this string, else double-quoted.
std::string YamlScalar(const std::string& text);

}  // namespace vaultd::configgen
