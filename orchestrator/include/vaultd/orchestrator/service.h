// The orchestrator HTTP service (`vault-orchestrator serve`): JWT-authenticated
// mount sets for containers, an admin what-if endpoint, health and metrics,
// policy hot reload and an audit log. See docs/orchestrator-service.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "vaultd/common/status.h"

namespace vaultd::orchestrator {

// Every bound the server keeps, with its default (docs/orchestrator-service.md
// lists them; `serve --limits name=value,...` changes them).
struct ServiceLimits {
  size_t max_connections = 1000;            // also kept below RLIMIT_NOFILE minus a reserve
  size_t max_connections_per_client = 256;  // per client IP address
  uint32_t header_timeout_ms = 10000;  // connection open or first byte -> complete request head
  uint32_t body_timeout_ms = 10000;    // request head -> complete body
  uint32_t idle_timeout_ms = 60000;    // keep-alive between requests
  uint32_t write_timeout_ms = 30000;   // a response the client does not read
  size_t max_head_bytes = 64 * 1024;   // request line + headers
  size_t max_headers = 100;
  size_t max_buffered_bytes = 16u << 20;  // received bytes of unfinished requests, all connections
  uint32_t accept_backoff_ms = 100;       // pause accepting after running out of descriptors
  uint32_t refusal_report_s = 10;         // repeated refusals: one aggregate audit line per this
  uint32_t log_lines_per_s = 20;  // request-path warnings beyond this are counted, not written
};

// Sets one limit from "name=value" (names as in ServiceLimits). Errors name the limit.
Status SetServiceLimit(std::string_view assignment, ServiceLimits* limits);

struct ServiceOptions {
  std::string policy_path;  // vault-permissions.yaml, watched for changes
  std::string auth_path;    // AUTH.yaml
  std::string listen_host = "127.0.0.1";
  int listen_port = 8080;  // 0 = let the kernel pick (see port_file)
  std::string audit_path;  // empty = audit lines go to stderr
  bool audit_fsync = false;
  std::string port_file;                  // if set, the bound port is written here once listening
  size_t decision_cache_entries = 10000;  // rendered answers kept until valid_until; 0 = off
  ServiceLimits limits;
};

// Runs until SIGTERM or SIGINT. Fails early (bad AUTH.yaml, invalid policy,
// port in use) with a message that names the file and line.
Status RunService(const ServiceOptions& options);

}  // namespace vaultd::orchestrator
