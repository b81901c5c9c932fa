// ydoc subcommands not built yet (the CRDT issue fills them in).
#include "ydoc_commands.h"

namespace vaultd::crdt {
namespace {
cli::Registrar inspect(YdocCommands(), {"inspect", "print a document as canonical JSON",
                                        "inspect [--root NAME:KIND]... FILE...", nullptr});
cli::Registrar merge(YdocCommands(), {"merge", "merge update files into one update",
                                      "merge FILE... -o OUT", nullptr});
cli::Registrar diff(YdocCommands(), {"diff", "what a state vector lacks, as one update",
                                     "diff --sv SV FILE... -o OUT", nullptr});
cli::Registrar sv(YdocCommands(), {"sv", "the state vector of update files",
                                   "sv FILE... -o OUT", nullptr});
cli::Registrar edit(YdocCommands(), {"edit", "produce an update from the command line",
                                     "edit ...", nullptr});
cli::Registrar trace(YdocCommands(), {"apply-trace", "replay an editing trace and time it",
                                      "apply-trace TRACE.json.gz", nullptr});
}  // namespace
}  // namespace vaultd::crdt
