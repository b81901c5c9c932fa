// `vaultd recover`: finish or roll back the cross-mount moves that the shim
// (or the daemon) left unfinished when its process died. `vaultd run` calls
// the same RecoverMoves() at startup.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "commands.h"
#include "vaultd/shim/move.h"

namespace vaultd::daemon {
namespace {

void PrintLine(void*, const char* line) { std::printf("%s\n", line); }

int RunRecover(const std::vector<std::string>& argv) {
  cli::Args args;
  std::string error;
  if (!cli::Args::Parse(argv, {"journal"}, {}, &args, &error)) {
    std::fprintf(stderr, "vaultd recover: %s (see vaultd recover --help)\n", error.c_str());
    return cli::kExitUsage;
  }
  if (!args.positional().empty()) {
    std::fprintf(stderr, "vaultd recover: unexpected argument '%s'\n",
                 args.positional()[0].c_str());
    return cli::kExitUsage;
  }
  std::string journal;
  if (auto j = args.Get("journal")) {
    journal = *j;
  } else {
    char buf[4096];
    int r = move::DefaultJournalDir(buf, sizeof buf);
    if (r != 0) {
      std::fprintf(stderr,
                   "vaultd recover: no journal directory: set --journal, VAULTD_JOURNAL_DIR, "
                   "XDG_STATE_HOME or HOME (%s)\n",
                   std::strerror(-r));
      return cli::kExitUsage;
    }
    journal = buf;
  }
  if (journal.empty() || journal[0] != '/') {
    std::fprintf(stderr, "vaultd recover: the journal directory must be absolute: '%s'\n",
                 journal.c_str());
    return cli::kExitUsage;
  }
  move::RecoverResult result;
  int r = move::RecoverMoves(journal.c_str(), &PrintLine, nullptr, &result);
  std::fflush(stdout);
  if (r != 0) {
    std::fprintf(stderr, "vaultd recover: cannot read the journal %s: %s\n", journal.c_str(),
                 std::strerror(-r));
    return cli::kExitFailure;
  }
  std::fprintf(stderr, "vaultd recover: %s: %d resolved, %d unresolved, %d in progress\n",
               journal.c_str(), result.resolved, result.unresolved, result.busy);
  return result.unresolved > 0 ? cli::kExitFailure : cli::kExitOk;
}

cli::Registrar reg(Commands(),
                   {"recover", "finish or roll back interrupted cross-mount moves",
                    "recover [--journal DIR]\n\n"
                    "Finishes or rolls back every move recorded in the move journal (default\n"
                    "$VAULTD_JOURNAL_DIR, else $XDG_STATE_HOME/vaultd/journal, else\n"
                    "$HOME/.local/state/vaultd/journal). Prints one line per move it touched:\n"
                    "  rolled back ID: SRC -> DST (phase P): ...   the move did not happen\n"
                    "  completed ID: SRC -> DST (phase P): ...     the move is finished\n"
                    "  dropped ID: record ... torn at creation     nothing had been copied yet\n"
                    "  unresolved ID: ...                          needs a human (says why)\n"
                    "  in progress ID: ...                         a live process owns it\n"
                    "Idempotent. Exit 0 when everything is resolved, 1 when something is not.\n"
                    "Format of the journal: docs/move-journal.md.",
                    &RunRecover});

}  // namespace
}  // namespace vaultd::daemon
