// The `vaultd` command table. Each subcommand lives in its own cmd_*.cc file
// that registers itself here; list that file in the vaultd executable's sources.
#pragma once

#include "vaultd/common/cli.h"

namespace vaultd::daemon {
cli::CommandTable& Commands();
}
