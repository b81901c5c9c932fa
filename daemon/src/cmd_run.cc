// `vaultd run`: the sync daemon.
#include <cstdio>
#include <string>
#include <vector>

#include "commands.h"
#include "vaultd/daemon/daemon.h"

namespace vaultd::daemon {
namespace {

int RunRun(const std::vector<std::string>& argv) {
  cli::Args args;
  std::string error;
  if (!cli::Args::Parse(argv, {"config", "journal"}, {}, &args, &error)) {
    std::fprintf(stderr, "vaultd run: %s (see vaultd run --help)\n", error.c_str());
    return cli::kExitUsage;
  }
  if (!args.positional().empty()) {
    std::fprintf(stderr, "vaultd run: unexpected argument '%s'\n", args.positional()[0].c_str());
    return cli::kExitUsage;
  }
  DaemonOptions o;
  o.config_path = args.GetOr("config", DefaultConfigPath());
  o.journal_dir = args.GetOr("journal", "");
  return RunDaemon(o);
}

cli::Registrar reg(
    Commands(), {"run", "sync the composite vault with the relay until SIGTERM",
                 "run [--config vaultd.yaml] [--journal DIR]\n\n"
                 "Keeps every room of vaultd.yaml (default $VAULTD_CONFIG, else\n"
                 "$XDG_STATE_HOME/vaultd/vaultd.yaml, else ~/.local/state/vaultd/vaultd.yaml) in\n"
                 "sync with its relay room until SIGTERM or SIGINT (flush, exit 0). SIGHUP\n"
                 "reloads the config: rooms added and removed without a restart.\n"
                 "At startup it finishes interrupted cross-mount moves (the move journal,\n"
                 "--journal or the default of `vaultd recover`), loads its state from\n"
                 "state_dir/vaultd.db, and reconciles each room after its first sync.\n"
                 "Logs are logfmt lines on stderr. `vaultd status` shows every room.\n"
                 "Formats: docs/vaultd-config.md, docs/daemon-sync.md.\n"
                 "Exit: 0 after SIGTERM, 1 when the config or the state cannot be loaded.",
                 &RunRun});

}  // namespace
}  // namespace vaultd::daemon
