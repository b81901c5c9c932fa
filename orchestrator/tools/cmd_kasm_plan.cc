// `vault-orchestrator kasm-plan`: what Pattern A (Kasm-native mappings) would take.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "policy_cli.h"
#include "vaultd/orchestrator/kasm_plan.h"

namespace vaultd::orchestrator {
namespace {

int RunKasmPlan(const std::vector<std::string>& argv) {
  auto args = ParseCommandLine("kasm-plan", argv, {"policy", "user", "groups", "at"}, {"json"});
  if (!args) return cli::kExitUsage;
  std::optional<EvalRequest> req;
  if (args->Has("user")) {
    req = RequestFromArgs("kasm-plan", *args);
    if (!req) return cli::kExitUsage;
  } else if (args->Has("groups") || args->Has("at")) {
    PrintUsageError("kasm-plan", "--groups and --at need --user");
    return cli::kExitUsage;
  }
  auto policy = LoadPolicyForCommand("kasm-plan", *args);
  if (!policy) return args->Has("policy") ? cli::kExitFailure : cli::kExitUsage;
  nlohmann::json plan = KasmPlanJson(*policy);
  std::optional<nlohmann::json> user_mappings;
  if (req) {
    MountSet m = Evaluate(policy, *req);
    for (const std::string& w : m.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    Result<nlohmann::json> vm = KasmUserVolumeMappings(m);
    if (!vm.ok()) {
      std::fprintf(stderr, "vault-orchestrator kasm-plan: %s\n", vm.status().message().c_str());
      return cli::kExitFailure;
    }
    plan["user"] = {{"name", req->user}, {"groups", req->groups}, {"volume_mappings", *vm}};
  }
  if (args->Has("json")) {
    std::printf("%s\n", PrettyJson(plan).c_str());
    return cli::kExitOk;
  }
  std::printf("%s", KasmPlanText(plan).c_str());
  if (req) {
    std::printf("\nVolume Mappings for Kasm user '%s' (realises every rule above for this user):\n%s\n",
                req->user.c_str(), PrettyJson(plan["user"]["volume_mappings"]).c_str());
  }
  return cli::kExitOk;
}

cli::Registrar reg(Commands(), {"kasm-plan", "the Kasm-native (Pattern A) translation",
                                "kasm-plan --policy P [--json] [--user U --groups g1,g2 [--at RFC3339]]\n\n"
                                "Lists the Kasm groups and Volume Mappings an admin would create per folder\n"
                                "and mode, every rule Kasm cannot express natively (AND, time windows, deny,\n"
                                "inherit) with the reason, ro/rw conflicts, and the count of admin objects\n"
                                "beside folders x groups. With --user: the exact Volume Mappings object to\n"
                                "place on that Kasm user. --json prints the plan as JSON (docs/vault-permissions.md).",
                                &RunKasmPlan});

}  // namespace
}  // namespace vaultd::orchestrator
