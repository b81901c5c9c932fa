// `vault-orchestrator check`: validate a policy; errors and lint warnings as file:line.
#include <cstdio>

#include "commands.h"
#include "policy_cli.h"

namespace vaultd::orchestrator {
namespace {

int RunCheck(const std::vector<std::string>& argv) {
  auto args = ParseCommandLine("check", argv, {"policy"}, {});
  if (!args) return cli::kExitUsage;
  auto path = args->Get("policy");
  if (!path) {
    PrintUsageError("check", "--policy is required");
    return cli::kExitUsage;
  }
  LoadResult r = LoadPolicyFile(*path);
  size_t errors = 0, warnings = 0;
  for (const Diagnostic& d : r.diagnostics) {
    std::printf("%s\n", d.ToString().c_str());
    (d.error ? errors : warnings)++;
  }
  if (!r.policy) {
    std::printf("%s: invalid: %zu error(s), %zu warning(s)\n", path->c_str(), errors, warnings);
    return cli::kExitFailure;
  }
  std::printf("%s: valid (%s), %zu warning(s)\n", path->c_str(), PolicyRevision(*r.policy).c_str(),
              warnings);
  return cli::kExitOk;
}

cli::Registrar reg(Commands(),
                   {"check", "validate a policy file",
                    "check --policy P\n\n"
                    "Prints every error and lint warning as `file:line: error|warning: message`.\n"
                    "Exit 0 when the policy is valid (warnings allowed), 1 when it has errors.",
                    &RunCheck});

}  // namespace
}  // namespace vaultd::orchestrator
