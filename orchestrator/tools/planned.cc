// vault-orchestrator subcommands not built yet (the orchestrator issue fills them in).
#include "commands.h"

namespace vaultd::orchestrator {
namespace {
cli::Registrar serve(Commands(), {"serve", "the JWT-authenticated HTTP service", "serve --policy P --listen HOST:PORT --auth AUTH.yaml", nullptr});
}  // namespace
}  // namespace vaultd::orchestrator
