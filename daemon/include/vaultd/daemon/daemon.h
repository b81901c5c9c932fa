// The daemon: one libuv loop running every room of a vaultd.yaml, the
// status socket, and the signals (SIGTERM/SIGINT stop, SIGHUP reloads).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "vaultd/common/clock.h"
#include "vaultd/daemon/config.h"
#include "vaultd/daemon/room.h"

struct uv_loop_s;

namespace vaultd::daemon {

struct DaemonOptions {
  std::string config_path;
  std::string journal_dir;       // move journal to recover at startup; "" = the default
  const Clock* clock = nullptr;  // nullptr = the real clock
};

// Runs until SIGTERM/SIGINT; returns the process exit code.
int RunDaemon(const DaemonOptions& options);

// The status document `vaultd status --json` prints (schema vaultd.status/1).
std::string StatusJson(const DaemonConfig& config, uint64_t client_id,
                       const std::vector<RoomStatus>& rooms, WallTime started, WallTime now);

// The status socket's path for a state_dir.
std::string StatusSocketPath(const std::string& state_dir);

}  // namespace vaultd::daemon
