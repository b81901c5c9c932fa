// The `vaultd` command table. Each subcommand lives in its own cmd_*.cc file
// that registers itself here; list that file in the vaultd executable's sources.
#pragma once

#include "vaultd/common/cli.h"

#include <string>

namespace vaultd::daemon {
cli::CommandTable& Commands();
// $VAULTD_CONFIG, else $XDG_STATE_HOME/vaultd/vaultd.yaml, else ~/.local/state/vaultd/vaultd.yaml.
std::string DefaultConfigPath();
}  // namespace vaultd::daemon
