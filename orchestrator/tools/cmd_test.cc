// `vault-orchestrator test`: policy unit tests, one PASS/FAIL line per case.
#include <cstdio>

#include "commands.h"
#include "policy_cli.h"
#include "vaultd/orchestrator/policy_cases.h"

namespace vaultd::orchestrator {
namespace {

int RunTest(const std::vector<std::string>& argv) {
  auto args = ParseCommandLine("test", argv, {"policy", "cases"}, {});
  if (!args) return cli::kExitUsage;
  auto cases_path = args->Get("cases");
  if (!cases_path || !args->Has("policy")) {
    PrintUsageError("test", "--policy and --cases are required");
    return cli::kExitUsage;
  }
  auto policy = LoadPolicyForCommand("test", *args);
  if (!policy) return cli::kExitFailure;
  CasesLoadResult cases = LoadCasesFile(*cases_path);
  for (const Diagnostic& d : cases.errors) std::fprintf(stderr, "%s\n", d.ToString().c_str());
  if (!cases.errors.empty()) return cli::kExitFailure;
  size_t passed = 0, failed = 0;
  for (const PolicyCase& c : cases.cases) {
    CaseOutcome o = RunCase(policy, c);
    std::printf("%s %s (%s:%d)\n", o.passed ? "PASS" : "FAIL", c.name.c_str(), cases_path->c_str(),
                c.line);
    for (const std::string& d : o.diff) std::printf("    %s\n", d.c_str());
    (o.passed ? passed : failed)++;
  }
  std::printf("%zu passed, %zu failed\n", passed, failed);
  return failed == 0 ? cli::kExitOk : cli::kExitFailure;
}

cli::Registrar reg(Commands(),
                   {"test", "run policy unit tests",
                    "test --policy P --cases CASES.yaml\n\n"
                    "CASES.yaml is a list of cases:\n"
                    "  - name: legal and executive get the deal room\n"
                    "    user: alice\n"
                    "    groups: [legal, executive]\n"
                    "    at: \"2026-03-01T00:00:00Z\"\n"
                    "    expect: {deal-room-acme: rw, personal: rw}   # the exact set of mounts\n\n"
                    "Prints PASS/FAIL per case (with a diff), then \"N passed, N failed\".\n"
                    "Exit 1 when any case fails or a file is invalid.",
                    &RunTest});

}  // namespace
}  // namespace vaultd::orchestrator
