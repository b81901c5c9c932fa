// The orchestrator HTTP service (`vault-orchestrator serve`): JWT-authenticated
// mount sets for containers, an admin what-if endpoint, health and metrics,
// policy hot reload and an audit log. See docs/orchestrator-service.md.
#pragma once

#include <string>

#include "vaultd/common/status.h"

namespace vaultd::orchestrator {

struct ServiceOptions {
  std::string policy_path;  // vault-permissions.yaml, watched for changes
  std::string auth_path;    // AUTH.yaml
  std::string listen_host = "127.0.0.1";
  int listen_port = 8080;   // 0 = let the kernel pick (see port_file)
  std::string audit_path;   // empty = audit lines go to stderr
  bool audit_fsync = false;
  std::string port_file;    // if set, the bound port is written here once listening
  size_t decision_cache_entries = 10000;  // rendered answers kept until valid_until; 0 = off
};

// Runs until SIGTERM or SIGINT. Fails early (bad AUTH.yaml, invalid policy,
// port in use) with a message that names the file and line.
Status RunService(const ServiceOptions& options);

}  // namespace vaultd::orchestrator
