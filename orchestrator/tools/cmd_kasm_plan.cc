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
  if (!policy) return ExitForUnloadedPolicy(*args);
  nlohmann::json plan = KasmPlanJson(*policy);
  std::optional<nlohmann::json> user_mappings;
  if (req) {
    MountSet m = Evaluate(policy, *req);
    for (const std::string& w : m.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    nlohmann::json vm = KasmUserVolumeMappings(m);
    for (const auto& w : vm["warnings"]) plan["warnings"].push_back(w);
    plan["user"] = {{"name", req->user},
                    {"groups", req->groups},
                    {"volume_mappings", vm["volume_mappings"]},
                    {"not_mappable", vm["not_mappable"]}};
  }
  if (args->Has("json")) {
    std::printf("%s\n", PrettyJson(plan).c_str());
    return cli::kExitOk;
  }
  std::printf("%s", KasmPlanText(plan).c_str());
  if (req) {
    std::printf(
        "\nVolume Mappings for Kasm user '%s' (realises every rule above for this user):\n%s\n",
        req->user.c_str(), PrettyJson(plan["user"]["volume_mappings"]).c_str());
    for (const auto& n : plan["user"]["not_mappable"]) {
      std::printf(
          "NOT MAPPED for '%s': %s -> %s (%s) for folder '%s': host path already mapped for folder "
          "'%s' "
          "(see the warnings above)\n",
          req->user.c_str(), n["host_path"].get<std::string>().c_str(),
          n["bind"].get<std::string>().c_str(), n["mode"].get<std::string>().c_str(),
          n["folder"].get<std::string>().c_str(),
          n["host_path_mapped_for"].get<std::string>().c_str());
    }
  }
  return cli::kExitOk;
}

cli::Registrar reg(
    Commands(), {"kasm-plan", "the Kasm-native (Pattern A) translation",
                 "kasm-plan --policy P [--json] [--user U --groups g1,g2 [--at RFC3339]]\n\n"
                 "Lists the Kasm groups and Volume Mappings an admin would create per folder\n"
                 "and mode, every rule Kasm cannot express natively (AND, time windows, deny,\n"
                 "inherit) with the reason, ro/rw conflicts, and the count of admin objects\n"
                 "beside folders x groups. With --user: the exact Volume Mappings object to\n"
                 "place on that Kasm user. A Kasm mapping object holds one entry per host path:\n"
                 "when two folders share a host path, the second is listed as NOT MAPPED with a\n"
                 "warning naming both. --json prints the plan as JSON (docs/vault-permissions.md).",
                 &RunKasmPlan});

}  // namespace
}  // namespace vaultd::orchestrator
