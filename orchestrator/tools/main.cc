#include "commands.h"

namespace vaultd::orchestrator {
cli::CommandTable& Commands() {
  static cli::CommandTable table;
  return table;
}
}  // namespace vaultd::orchestrator

int main(int argc, char** argv) {
  return vaultd::orchestrator::Commands().Main(
      argc, argv, "vault-orchestrator",
      "turn vault-permissions.yaml into each user's exact bind mounts");
}
