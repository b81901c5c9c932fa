// Subcommands whose issues have not landed yet: listed so `--help` shows the
// whole interface, and they exit 2 with "not built yet".
#include "commands.h"

namespace vaultd::daemon {
namespace {
cli::Registrar first_launch(Commands(),
                            {"first-launch",
                             "session start: fetch the mount set, verify mounts, write config",
                             "first-launch [--orchestrator URL] [--vault /vault]", nullptr});
}  // namespace
}  // namespace vaultd::daemon
