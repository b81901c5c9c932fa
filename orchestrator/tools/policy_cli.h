// Shared plumbing of the policy subcommands (eval, check, test, docker-run-config, kasm-plan).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vaultd/common/cli.h"
#include "vaultd/orchestrator/policy.h"

namespace vaultd::orchestrator {

// Parses `args`; on a bad command line prints "vault-orchestrator CMD: ..." and returns nullopt.
std::optional<cli::Args> ParseCommandLine(const char* command, const std::vector<std::string>& args,
                                          const std::vector<std::string>& value_flags,
                                          const std::vector<std::string>& bool_flags);

// Loads --policy, printing every diagnostic ("file:line: error: ...") to stderr.
// Null when the flag is missing or the policy has errors.
std::shared_ptr<const Policy> LoadPolicyForCommand(const char* command, const cli::Args& args);
// The exit code after LoadPolicyForCommand returned null: a missing --policy
// is a usage error, a policy with errors a failure.
int ExitForUnloadedPolicy(const cli::Args& args);

// --user, --groups (comma-separated, repeatable) and --at (default: now) into a request.
// Prints the problem and returns nullopt on bad input.
std::optional<EvalRequest> RequestFromArgs(const char* command, const cli::Args& args,
                                           bool user_required = true);

void PrintUsageError(const char* command, const std::string& message);

// Pretty JSON as the commands print it (invalid UTF-8 from hostile input replaced, never thrown).
std::string PrettyJson(const nlohmann::json& value);

}  // namespace vaultd::orchestrator
