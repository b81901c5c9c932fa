// vaultd.yaml: the daemon's configuration (config-gen writes it, `vaultd run`
// reads it). Format: docs/vaultd-config.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vaultd/common/clock.h"
#include "vaultd/common/log.h"
#include "vaultd/common/status.h"

namespace vaultd::daemon {

struct RoomConfig {
  std::string name;  // the mount's name (status, logs)
  std::string room;  // relay room
  std::string path;  // relative to the vault; may be nested ("deals/acme")
  bool read_only = false;
  std::optional<WallTime> expires_at;
};

struct RelayConfig {
  std::string url;         // ws://host:port or wss://...; rooms are appended as /<room>
  std::string token_file;  // optional; else env VAULTD_RELAY_TOKEN
};

struct Limits {
  uint64_t text_max_bytes = 8ull << 20;
  uint64_t binary_max_bytes = 16ull << 20;
};

struct DaemonConfig {
  std::string source;     // the file it was read from
  std::string vault;      // absolute
  std::string state_dir;  // absolute
  std::string user;
  RelayConfig relay;
  std::vector<RoomConfig> rooms;
  Limits limits;
  int debounce_ms = 10;
  log::Level log_level = log::Level::kInfo;

  std::string RoomDir(const RoomConfig& r) const { return vault + "/" + r.path; }
};

// Parses and validates; every error is "FILE:LINE: what was found, what is allowed".
Result<DaemonConfig> ParseDaemonConfig(std::string_view yaml_text, const std::string& source);
Result<DaemonConfig> LoadDaemonConfig(const std::string& path);

// The relay token: the token file's content (trimmed), else $VAULTD_RELAY_TOKEN, else "".
Result<std::string> LoadRelayToken(const RelayConfig& relay);

}  // namespace vaultd::daemon
