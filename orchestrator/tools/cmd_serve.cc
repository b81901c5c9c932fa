// vault-orchestrator serve: the JWT-authenticated HTTP service.
#include <cstdio>
#include <cstdlib>

#include "commands.h"
#include "policy_cli.h"
#include "vaultd/common/log.h"
#include "vaultd/orchestrator/service.h"

namespace vaultd::orchestrator {
namespace {

int RunServe(const std::vector<std::string>& argv) {
  auto parsed = ParseCommandLine(
      "serve", argv,
      {"policy", "listen", "auth", "audit", "port-file", "log-level", "decision-cache", "limits"},
      {"audit-fsync"});
  if (!parsed) return cli::kExitUsage;
  const cli::Args& args = *parsed;
  ServiceOptions options;
  auto policy = args.Get("policy");
  auto listen = args.Get("listen");
  auto auth = args.Get("auth");
  if (!policy || !listen || !auth) {
    PrintUsageError("serve", "--policy, --listen and --auth are required");
    return cli::kExitUsage;
  }
  const auto colon = listen->rfind(':');
  int port = -1;
  if (colon != std::string::npos && colon + 1 < listen->size()) {
    try {
      size_t used = 0;
      port = std::stoi(listen->substr(colon + 1), &used);
      if (used != listen->size() - colon - 1) port = -1;
    } catch (...) {
      port = -1;
    }
  }
  if (colon == std::string::npos || colon == 0 || port < 0 || port > 65535) {
    std::fprintf(stderr, "vault-orchestrator serve: --listen wants HOST:PORT, got '%s'\n",
                 listen->c_str());
    return cli::kExitUsage;
  }
  options.listen_host = listen->substr(0, colon);
  if (options.listen_host.size() > 2 && options.listen_host.front() == '[' &&
      options.listen_host.back() == ']')
    options.listen_host = options.listen_host.substr(1, options.listen_host.size() - 2);
  options.listen_port = port;
  options.policy_path = *policy;
  options.auth_path = *auth;
  options.audit_path = args.GetOr("audit", "");
  options.audit_fsync = args.Has("audit-fsync");
  options.port_file = args.GetOr("port-file", "");
  if (auto n = args.Get("decision-cache")) {
    char* end = nullptr;
    unsigned long long v = std::strtoull(n->c_str(), &end, 10);
    if (n->empty() || *end != '\0' || v > 10'000'000) {
      std::fprintf(
          stderr,
          "vault-orchestrator serve: --decision-cache wants a number of entries (0 = off)\n");
      return cli::kExitUsage;
    }
    options.decision_cache_entries = static_cast<size_t>(v);
  }
  if (auto limits = args.Get("limits")) {
    std::string_view rest = *limits;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      Status st = SetServiceLimit(rest.substr(0, comma), &options.limits);
      if (!st.ok()) {
        std::fprintf(stderr, "vault-orchestrator serve: --limits: %s\n", st.message().c_str());
        return cli::kExitUsage;
      }
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
  }
  if (auto level = args.Get("log-level")) {
    log::Level l;
    if (!log::ParseLevel(*level, &l)) {
      std::fprintf(
          stderr,
          "vault-orchestrator serve: --log-level must be debug, info, warn, error or off\n");
      return cli::kExitUsage;
    }
    log::SetLevel(l);
  }
  Status st = RunService(options);
  if (!st.ok()) {
    std::fprintf(stderr, "vault-orchestrator serve: %s\n", st.message().c_str());
    return cli::kExitFailure;
  }
  return cli::kExitOk;
}

cli::Registrar reg(
    Commands(),
    {"serve", "the JWT-authenticated HTTP service",
     "serve --policy P --listen HOST:PORT --auth AUTH.yaml [--audit FILE] [--audit-fsync]\n"
     "      [--port-file FILE] [--decision-cache N] [--limits NAME=V,...] [--log-level L]\n\n"
     "  --policy P         vault-permissions.yaml; reloaded when the file changes (also on "
     "SIGHUP);\n"
     "                     a broken edit keeps the last good policy and /healthz says 'degraded'\n"
     "  --listen HOST:PORT address to bind (port 0 = any free port, see --port-file)\n"
     "  --auth AUTH.yaml   token verification and the admin key (docs/orchestrator-service.md)\n"
     "  --audit FILE       append one JSON line per decision (default: stderr)\n"
     "  --audit-fsync      fdatasync the audit log after every line\n"
     "  --port-file FILE   write the bound port here once listening\n"
     "  --decision-cache N rendered answers kept until they could change (default 10000; 0 = off)\n"
     "  --limits NAME=V,.. connection caps, timeouts and buffer bounds, e.g.\n"
     "                     max_connections_per_client=64,header_timeout_ms=5000\n"
     "                     (every name and default: docs/orchestrator-service.md)\n\n"
     "Endpoints: GET /v1/mountset, GET /v1/docker-run-config (Authorization: Bearer <JWT>),\n"
     "POST /v1/evaluate, GET /v1/policy-status (Authorization: Bearer <admin key>), GET /healthz,\n"
     "GET /metrics.\n"
     "Stops cleanly on SIGTERM or SIGINT.",
     &RunServe});

}  // namespace
}  // namespace vaultd::orchestrator
