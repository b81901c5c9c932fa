// Prometheus text exposition (format 0.0.4) of the service's counters.
#include <cstdio>

#include "service_context.h"

namespace vaultd::orchestrator::service {
namespace {

std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// Label values are ours (endpoint paths, outcomes, sha256 revisions), but escape anyway.
std::string Label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

void Metrics::CountRequest(const std::string& endpoint, int status, double seconds) {
  ++requests_[{endpoint, status}];
  Histogram& h = latency_[endpoint];
  for (size_t i = 0; i < kBuckets.size(); ++i)
    if (seconds <= kBuckets[i]) ++h.buckets[i];
  ++h.count;
  h.sum += seconds;
}

std::string Metrics::Render(const PolicyState& policy, const CacheCounts& caches) const {
  std::string out;
  auto family = [&](std::string_view name, std::string_view type, std::string_view help) {
    out.append("# HELP ")
        .append(name)
        .append(" ")
        .append(help)
        .append("\n# TYPE ")
        .append(name)
        .append(" ");
    out.append(type).append("\n");
  };
  auto sample = [&](std::string_view name, const std::string& labels, const std::string& value) {
    out.append(name);
    if (!labels.empty()) out.append("{").append(labels).append("}");
    out.append(" ").append(value).append("\n");
  };
  auto hit_miss = [&](std::string_view name, std::string_view help, uint64_t hits,
                      uint64_t misses) {
    family(name, "counter", help);
    sample(name, "result=\"hit\"", std::to_string(hits));
    sample(name, "result=\"miss\"", std::to_string(misses));
  };

  family("vaultd_http_requests_total", "counter", "HTTP requests by endpoint and status code.");
  for (const auto& [key, n] : requests_)
    sample("vaultd_http_requests_total",
           "endpoint=\"" + Label(key.first) + "\",code=\"" + std::to_string(key.second) + "\"",
           std::to_string(n));
  family("vaultd_http_request_duration_seconds", "histogram",
         "Time from request to queued response.");
  for (const auto& [endpoint, h] : latency_) {
    const std::string l = "endpoint=\"" + Label(endpoint) + "\"";
    for (size_t i = 0; i < kBuckets.size(); ++i)
      sample("vaultd_http_request_duration_seconds_bucket", l + ",le=\"" + Num(kBuckets[i]) + "\"",
             std::to_string(h.buckets[i]));
    sample("vaultd_http_request_duration_seconds_bucket", l + ",le=\"+Inf\"",
           std::to_string(h.count));
    sample("vaultd_http_request_duration_seconds_sum", l, Num(h.sum));
    sample("vaultd_http_request_duration_seconds_count", l, std::to_string(h.count));
  }
  family("vaultd_decisions_total", "counter", "Authorization decisions by outcome.");
  for (const auto& [outcome, n] : decisions_)
    sample("vaultd_decisions_total", "outcome=\"" + Label(outcome) + "\"", std::to_string(n));
  family("vaultd_policy_reloads_total", "counter", "Policy reload attempts by result.");
  sample("vaultd_policy_reloads_total", "result=\"success\"",
         std::to_string(policy.reload_successes));
  sample("vaultd_policy_reloads_total", "result=\"failure\"",
         std::to_string(policy.reload_failures));
  family("vaultd_policy_info", "gauge", "The policy revision being served.");
  sample("vaultd_policy_info", "revision=\"" + Label(policy.revision) + "\"", "1");
  family("vaultd_policy_loaded_timestamp_seconds", "gauge", "When the served policy was loaded.");
  sample("vaultd_policy_loaded_timestamp_seconds", "",
         std::to_string(
             std::chrono::duration_cast<std::chrono::seconds>(policy.loaded_at.time_since_epoch())
                 .count()));
  family("vaultd_policy_reload_ok", "gauge",
         "0 while the policy file on disk fails to load (the last good one is served).");
  sample("vaultd_policy_reload_ok", "", policy.reload_error ? "0" : "1");
  family("vaultd_policy_reload_checks_total", "counter",
         "Policy loads started because the file (or its ConfigMap link) changed, or on SIGHUP.");
  sample("vaultd_policy_reload_checks_total", "", std::to_string(policy.reload_checks));
  family("vaultd_http_connection_events_total", "counter",
         "Connections timed out or refused: idle_timeout, timeout, write_timeout, server_limit, "
         "client_limit, buffer_budget, no_descriptors.");
  for (const auto& [event, n] : connection_events_)
    sample("vaultd_http_connection_events_total", "event=\"" + Label(event) + "\"",
           std::to_string(n));
  family("vaultd_log_lines_suppressed_total", "counter",
         "Request-path log lines held back by the rate limit.");
  sample("vaultd_log_lines_suppressed_total", "", std::to_string(log_lines_suppressed_));
  family("vaultd_refusals_aggregated_total", "counter",
         "Refusals counted in an aggregate audit line instead of a line of their own.");
  sample("vaultd_refusals_aggregated_total", "", std::to_string(refusals_aggregated_));
  hit_miss("vaultd_token_cache_lookups_total", "Verified-token cache lookups by result.",
           caches.token_hits, caches.token_misses);
  hit_miss("vaultd_decision_cache_lookups_total", "Rendered-decision cache lookups by result.",
           caches.decision_hits, caches.decision_misses);
  return out;
}

}  // namespace vaultd::orchestrator::service
