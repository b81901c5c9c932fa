#include "ydoc_commands.h"

namespace vaultd::crdt {
cli::CommandTable& YdocCommands() {
  static cli::CommandTable table;
  return table;
}
}  // namespace vaultd::crdt

int main(int argc, char** argv) {
  return vaultd::crdt::YdocCommands().Main(argc, argv, "ydoc",
                                           "inspect, merge and edit Yjs (update v1) documents");
}
