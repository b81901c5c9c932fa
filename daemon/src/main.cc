#include "commands.h"

namespace vaultd::daemon {
cli::CommandTable& Commands() {
  static cli::CommandTable table;
  return table;
}
}  // namespace vaultd::daemon

int main(int argc, char** argv) {
  return vaultd::daemon::Commands().Main(
      argc, argv, "vaultd", "the vaultd sync daemon and container-side tools");
}
