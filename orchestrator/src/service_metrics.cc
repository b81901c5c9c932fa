// Prometheus text exposition (format 0.0.4) of the service's counters.
#include <cstdio>

#include "service_internal.h"

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
  out += "# HELP vaultd_http_requests_total HTTP requests by endpoint and status code.\n";
  out += "# TYPE vaultd_http_requests_total counter\n";
  for (const auto& [key, n] : requests_)
    out += "vaultd_http_requests_total{endpoint=\"" + Label(key.first) + "\",code=\"" +
           std::to_string(key.second) + "\"} " + std::to_string(n) + "\n";
  out += "# HELP vaultd_http_request_duration_seconds Time from request to queued response.\n";
  out += "# TYPE vaultd_http_request_duration_seconds histogram\n";
  for (const auto& [endpoint, h] : latency_) {
    const std::string l = "endpoint=\"" + Label(endpoint) + "\"";
    for (size_t i = 0; i < kBuckets.size(); ++i)
      out += "vaultd_http_request_duration_seconds_bucket{" + l + ",le=\"" + Num(kBuckets[i]) + "\"} " +
             std::to_string(h.buckets[i]) + "\n";
    out += "vaultd_http_request_duration_seconds_bucket{" + l + ",le=\"+Inf\"} " + std::to_string(h.count) + "\n";
    out += "vaultd_http_request_duration_seconds_sum{" + l + "} " + Num(h.sum) + "\n";
    out += "vaultd_http_request_duration_seconds_count{" + l + "} " + std::to_string(h.count) + "\n";
  }
  out += "# HELP vaultd_decisions_total Authorization decisions by outcome.\n";
  out += "# TYPE vaultd_decisions_total counter\n";
  for (const auto& [outcome, n] : decisions_)
    out += "vaultd_decisions_total{outcome=\"" + Label(outcome) + "\"} " + std::to_string(n) + "\n";
  out += "# HELP vaultd_policy_reloads_total Policy reload attempts by result.\n";
  out += "# TYPE vaultd_policy_reloads_total counter\n";
  out += "vaultd_policy_reloads_total{result=\"success\"} " + std::to_string(policy.reload_successes) + "\n";
  out += "vaultd_policy_reloads_total{result=\"failure\"} " + std::to_string(policy.reload_failures) + "\n";
  out += "# HELP vaultd_policy_info The policy revision being served.\n";
  out += "# TYPE vaultd_policy_info gauge\n";
  out += "vaultd_policy_info{revision=\"" + Label(policy.revision) + "\"} 1\n";
  out += "# HELP vaultd_policy_loaded_timestamp_seconds When the served policy was loaded.\n";
  out += "# TYPE vaultd_policy_loaded_timestamp_seconds gauge\n";
  out += "vaultd_policy_loaded_timestamp_seconds " +
         std::to_string(std::chrono::duration_cast<std::chrono::seconds>(policy.loaded_at.time_since_epoch()).count()) +
         "\n";
  out += "# HELP vaultd_policy_reload_ok 0 while the policy file on disk fails to load (the last good one is served).\n";
  out += "# TYPE vaultd_policy_reload_ok gauge\n";
  out += std::string("vaultd_policy_reload_ok ") + (policy.reload_error ? "0" : "1") + "\n";
  out += "# HELP vaultd_token_cache_lookups_total Verified-token cache lookups by result.\n";
  out += "# TYPE vaultd_token_cache_lookups_total counter\n";
  out += "vaultd_token_cache_lookups_total{result=\"hit\"} " + std::to_string(caches.token_hits) + "\n";
  out += "vaultd_token_cache_lookups_total{result=\"miss\"} " + std::to_string(caches.token_misses) + "\n";
  out += "# HELP vaultd_decision_cache_lookups_total Rendered-decision cache lookups by result.\n";
  out += "# TYPE vaultd_decision_cache_lookups_total counter\n";
  out += "vaultd_decision_cache_lookups_total{result=\"hit\"} " + std::to_string(caches.decision_hits) + "\n";
  out += "vaultd_decision_cache_lookups_total{result=\"miss\"} " + std::to_string(caches.decision_misses) + "\n";
  return out;
}

}  // namespace vaultd::orchestrator::service
