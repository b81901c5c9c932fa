#include "policy_cli.h"

#include <cstdio>

#include <nlohmann/json.hpp>

namespace vaultd::orchestrator {

void PrintUsageError(const char* command, const std::string& message) {
  std::fprintf(stderr, "vault-orchestrator %s: %s (see vault-orchestrator %s --help)\n", command,
               message.c_str(), command);
}

std::string PrettyJson(const nlohmann::json& value) {
  return value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<cli::Args> ParseCommandLine(const char* command, const std::vector<std::string>& args,
                                          const std::vector<std::string>& value_flags,
                                          const std::vector<std::string>& bool_flags) {
  cli::Args parsed;
  std::string error;
  if (!cli::Args::Parse(args, value_flags, bool_flags, &parsed, &error)) {
    PrintUsageError(command, error);
    return std::nullopt;
  }
  if (!parsed.positional().empty()) {
    PrintUsageError(command, "unexpected argument '" + parsed.positional()[0] + "'");
    return std::nullopt;
  }
  return parsed;
}

std::shared_ptr<const Policy> LoadPolicyForCommand(const char* command, const cli::Args& args) {
  auto path = args.Get("policy");
  if (!path) {
    PrintUsageError(command, "--policy is required");
    return nullptr;
  }
  LoadResult r = LoadPolicyFile(*path);
  for (const Diagnostic& d : r.diagnostics) std::fprintf(stderr, "%s\n", d.ToString().c_str());
  return r.policy;
}

int ExitForUnloadedPolicy(const cli::Args& args) {
  return args.Has("policy") ? cli::kExitFailure : cli::kExitUsage;
}

std::optional<EvalRequest> RequestFromArgs(const char* command, const cli::Args& args,
                                           bool user_required) {
  EvalRequest req;
  auto user = args.Get("user");
  if (!user) {
    if (user_required) PrintUsageError(command, "--user is required");
    return std::nullopt;
  }
  req.user = *user;
  for (const std::string& g : args.GetAll("groups")) {
    for (std::string& one : cli::SplitList(g)) req.groups.push_back(std::move(one));
  }
  req.at = RealClock().Now();
  if (auto at = args.Get("at")) {
    Result<WallTime> t = ParseRfc3339(*at);
    if (!t.ok()) {
      PrintUsageError(command, "--at: " + t.status().message());
      return std::nullopt;
    }
    req.at = *t;
  }
  return req;
}

}  // namespace vaultd::orchestrator
