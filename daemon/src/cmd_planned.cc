// Subcommands whose issues have not landed yet: listed so `--help` shows the
// whole interface, and they exit 2 with "not built yet".
#include "commands.h"

namespace vaultd::daemon {
namespace {
cli::Registrar run(Commands(), {"run", "sync the composite vault with the relay until SIGTERM",
                                "run [--config vaultd.yaml]", nullptr});
cli::Registrar status(Commands(), {"status", "show the daemon's rooms, files and health",
                                   "status [--config vaultd.yaml]", nullptr});
}  // namespace
}  // namespace vaultd::daemon
