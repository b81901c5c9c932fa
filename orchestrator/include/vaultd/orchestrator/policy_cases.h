// Policy unit tests (`vault-orchestrator test`): a YAML list of cases, each a
// user, groups and instant with the exact folder -> mode set expected.
// Format: docs/vault-permissions.md "Test cases".
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "vaultd/orchestrator/policy.h"

namespace vaultd::orchestrator {

struct PolicyCase {
  std::string name;
  int line = 0;
  std::string user;
  std::vector<std::string> groups;
  WallTime at;
  std::map<std::string, std::string> expect;  // mount name -> "ro" | "rw"
};

struct CasesLoadResult {
  std::vector<PolicyCase> cases;
  std::vector<Diagnostic> errors;  // empty on success
};

CasesLoadResult LoadCasesString(std::string_view yaml, std::string_view filename);
CasesLoadResult LoadCasesFile(const std::string& path);

struct CaseOutcome {
  bool passed = false;
  // One line per difference: "+ name: rw (not expected)", "- name: ro (missing)",
  // "~ name: got ro, expected rw".
  std::vector<std::string> diff;
};

CaseOutcome RunCase(const std::shared_ptr<const Policy>& policy, const PolicyCase& test_case);

}  // namespace vaultd::orchestrator
