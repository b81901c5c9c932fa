#include <cstdlib>

#include "commands.h"

namespace vaultd::daemon {
std::string DefaultConfigPath() {
  if (const char* c = std::getenv("VAULTD_CONFIG"); c && *c) return c;
  if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x)
    return std::string(x) + "/vaultd/vaultd.yaml";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/root") + "/.local/state/vaultd/vaultd.yaml";
}

cli::CommandTable& Commands() {
  static cli::CommandTable table;
  return table;
}
}  // namespace vaultd::daemon

int main(int argc, char** argv) {
  return vaultd::daemon::Commands().Main(argc, argv, "vaultd",
                                         "the vaultd sync daemon and container-side tools");
}
