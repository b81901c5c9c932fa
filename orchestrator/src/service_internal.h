// Private parts of the orchestrator service: the request/response shapes, the
// endpoint table, and the state handlers share (policy holder, verifier,
// metrics, audit log).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "vaultd/common/clock.h"
#include "vaultd/common/status.h"
#include "vaultd/orchestrator/jwt.h"
#include "vaultd/orchestrator/policy.h"
#include "vaultd/orchestrator/service.h"

namespace vaultd::orchestrator::service {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;
  std::string authorization;  // the raw Authorization header ("" when absent)
  std::string client_address;
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers ("name", "value")
};

// The latest good policy plus what happened to the last reload attempt.
struct PolicyState {
  std::shared_ptr<const Policy> policy;
  std::string revision;
  WallTime loaded_at;
  std::optional<std::string> reload_error;  // set while the file on disk does not load
  WallTime reload_error_at;
  std::string failed_hash;  // the bytes that failed, so the same broken file is not re-reported
  uint64_t reload_successes = 0;
  uint64_t reload_failures = 0;
};

// Counters, the latency histogram, and their Prometheus text form.
class Metrics {
 public:
  static constexpr std::array<double, 11> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                      0.01,   0.025,   0.05,   0.1,   0.5};
  void CountRequest(const std::string& endpoint, int status, double seconds);
  void CountDecision(const std::string& outcome) { ++decisions_[outcome]; }
  struct CacheCounts {
    uint64_t token_hits = 0, token_misses = 0, decision_hits = 0, decision_misses = 0;
  };
  std::string Render(const PolicyState& policy, const CacheCounts& caches) const;

 private:
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};
    uint64_t count = 0;
    double sum = 0;
  };
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::map<std::string, Histogram> latency_;
  std::map<std::string, uint64_t> decisions_;
};

// One JSON line per decision, appended to a file (or stderr).
class AuditLog {
 public:
  static Result<std::unique_ptr<AuditLog>> Open(const std::string& path, bool fsync);
  ~AuditLog();
  void Write(const nlohmann::json& line);
  // `line` is one serialized JSON object without the newline.
  void WriteLine(std::string line);

 private:
  AuditLog(int fd, std::string path, bool fsync) : fd_(fd), path_(std::move(path)), fsync_(fsync) {}
  int fd_;
  std::string path_;
  bool fsync_;
};

// A rendered answer for one (policy revision, endpoint, user, groups). The
// mount set cannot change before its valid_until, so until then only
// generated_at differs between two answers: it is patched in place. Serializing
// the JSON costs more than evaluating the policy, so this is what keeps the
// per-request cost flat.
struct CachedDecision {
  WallTime filled_at;
  std::optional<WallTime> valid_until;
  std::string body;
  size_t time_offset = std::string::npos;  // where generated_at's value is in body (npos = none)
  size_t time_length = 0;
  // Pre-serialized audit fields.
  std::string user_json, groups_json, mounts_json, warnings_json, revision_json;
};

class DecisionCache {
 public:
  explicit DecisionCache(size_t capacity = 10000) : capacity_(capacity) {}
  void set_capacity(size_t capacity) {
    capacity_ = capacity;
    entries_.clear();
  }
  // The entry for `key` if it is valid at `now` (filled_at <= now < valid_until).
  const CachedDecision* Find(const std::string& key, WallTime now);
  // Stores (replacing) and returns the entry; it answers the current request even if it is
  // valid for no time at all (a window boundary right now), later Finds then miss.
  const CachedDecision* Put(std::string key, CachedDecision decision);
  void Clear() { entries_.clear(); }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  size_t capacity_;
  std::map<std::string, CachedDecision> entries_;
  CachedDecision scratch_;  // capacity 0: the answer being sent, never found again
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

// Everything a handler may use. Single-threaded: the whole service runs on one libuv loop.
struct ServiceContext {
  ServiceOptions options;
  AuthConfig auth;
  std::unique_ptr<JwtVerifier> verifier;
  std::unique_ptr<VerifiedTokenCache> token_cache;
  std::string admin_key;  // empty = POST /v1/evaluate disabled
  PolicyState policy;
  DecisionCache decisions;
  Metrics metrics;
  std::unique_ptr<AuditLog> audit;
  const Clock* clock = &RealClock();
};

// An endpoint: method + exact path -> handler. Registered from their own
// files (register, don't switch); the HTTP layer only looks them up.
struct Endpoint {
  std::string method;
  std::string path;
  size_t max_body_bytes = 0;  // 0 = no body accepted
  void (*handle)(ServiceContext& ctx, const HttpRequest& req, HttpResponse& resp) = nullptr;
};

class EndpointTable {
 public:
  void Add(Endpoint e) { endpoints_.push_back(std::move(e)); }
  const Endpoint* Find(std::string_view method, std::string_view path) const;
  bool KnowsPath(std::string_view path) const;
  const std::vector<Endpoint>& all() const { return endpoints_; }

 private:
  std::vector<Endpoint> endpoints_;
};

EndpointTable& Endpoints();

struct EndpointRegistrar {
  explicit EndpointRegistrar(Endpoint e) { Endpoints().Add(std::move(e)); }
};

// Shared response helpers.
void JsonResponse(HttpResponse& resp, int status, const nlohmann::json& body);
// 401 that says nothing about why (the reason goes to the log and the audit line only).
void UnauthorizedResponse(HttpResponse& resp, bool token_present);
// A random 128-bit id in hex, for decision ids.
std::string NewDecisionId();

// Loads (or reloads) the policy file into ctx.policy. Returns true when a new revision was installed.
bool ReloadPolicy(ServiceContext& ctx, bool initial);

}  // namespace vaultd::orchestrator::service
