// vault-orchestrator subcommands not built yet (the orchestrator issue fills them in).
#include "commands.h"

namespace vaultd::orchestrator {
namespace {
cli::Registrar eval(Commands(), {"eval", "print one user's mount set", "eval --policy P --user U --groups g1,g2 [--at RFC3339] [--explain]", nullptr});
cli::Registrar check(Commands(), {"check", "validate a policy file", "check --policy P", nullptr});
cli::Registrar test(Commands(), {"test", "run policy unit tests", "test --policy P --cases CASES.yaml", nullptr});
cli::Registrar drc(Commands(), {"docker-run-config", "Kasm Docker Run Config Override volumes", "docker-run-config --policy P --user U --groups ...", nullptr});
cli::Registrar plan(Commands(), {"kasm-plan", "the Kasm-native (Pattern A) translation", "kasm-plan --policy P [--json] [--user U --groups ...]", nullptr});
}  // namespace
}  // namespace vaultd::orchestrator
