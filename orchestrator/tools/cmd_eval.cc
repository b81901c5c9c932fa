// `vault-orchestrator eval`: one user's mount set, the what-if for admins.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "policy_cli.h"

namespace vaultd::orchestrator {
namespace {

int RunEval(const std::vector<std::string>& argv) {
  auto args = ParseCommandLine("eval", argv, {"policy", "user", "groups", "at"}, {"explain"});
  if (!args) return cli::kExitUsage;
  auto req = RequestFromArgs("eval", *args);
  if (!req) return cli::kExitUsage;
  req->explain = args->Has("explain");
  auto policy = LoadPolicyForCommand("eval", *args);
  if (!policy) return ExitForUnloadedPolicy(*args);
  MountSet m = Evaluate(policy, *req);
  std::printf("%s\n", PrettyJson(MountSetToJson(m)).c_str());
  return cli::kExitOk;
}

cli::Registrar reg(
    Commands(), {"eval", "print one user's mount set",
                 "eval --policy P --user U --groups g1,g2 [--at RFC3339] [--explain]\n\n"
                 "  --policy P    vault-permissions.yaml\n"
                 "  --user U      the user name ({username} of the personal folder)\n"
                 "  --groups G    comma-separated groups (may be repeated)\n"
                 "  --at T        evaluate at this RFC 3339 instant (default: now)\n"
                 "  --explain     also list every folder not granted and why\n\n"
                 "Prints the mount set JSON (docs/mountset.md). Exit 1 when the policy is invalid.",
                 &RunEval});

}  // namespace
}  // namespace vaultd::orchestrator
