// The `ydoc` command table; each subcommand registers itself from its own file.
#pragma once

#include "vaultd/common/cli.h"

namespace vaultd::crdt {
cli::CommandTable& YdocCommands();
}
