// `vault-orchestrator docker-run-config`: the volumes for Kasm's Docker Run Config Override.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "policy_cli.h"

namespace vaultd::orchestrator {
namespace {

int RunDockerRunConfig(const std::vector<std::string>& argv) {
  auto args = ParseCommandLine("docker-run-config", argv, {"policy", "user", "groups", "at"}, {});
  if (!args) return cli::kExitUsage;
  auto req = RequestFromArgs("docker-run-config", *args);
  if (!req) return cli::kExitUsage;
  auto policy = LoadPolicyForCommand("docker-run-config", *args);
  if (!policy) return ExitForUnloadedPolicy(*args);
  MountSet m = Evaluate(policy, *req);
  for (const std::string& w : m.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  std::printf("%s\n", PrettyJson(DockerRunConfigJson(m)).c_str());
  return cli::kExitOk;
}

cli::Registrar reg(
    Commands(),
    {"docker-run-config", "Kasm Docker Run Config Override volumes",
     "docker-run-config --policy P --user U --groups g1,g2 [--at RFC3339]\n\n"
     "Prints {\"volumes\": {\"/host\": {\"bind\": \"/vault/x\", \"mode\": \"ro\"}}}, the\n"
     "Docker SDK form Kasm passes to containers.run(); when one host path is\n"
     "mounted twice, the list form {\"volumes\": [\"/host:/vault/x:ro\", ...]}.",
     &RunDockerRunConfig});

}  // namespace
}  // namespace vaultd::orchestrator
