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
#include "vaultd/common/log.h"
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
  uint64_t reload_checks = 0;  // loads started by a change of the file (or SIGHUP)
};

// Counters, the latency histogram, and their Prometheus text form.
class Metrics {
 public:
  static constexpr std::array<double, 11> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                      0.01,   0.025,   0.05,   0.1,   0.5};
  void CountRequest(const std::string& endpoint, int status, double seconds);
  void CountDecision(const std::string& outcome) { ++decisions_[outcome]; }
  // Connection-level events: timeouts, refusals over a cap, running out of descriptors.
  void CountConnectionEvent(const std::string& event) { ++connection_events_[event]; }
  void CountSuppressedLogLine() { ++log_lines_suppressed_; }
  void CountAggregatedRefusal() { ++refusals_aggregated_; }
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
  std::map<std::string, uint64_t> connection_events_;
  uint64_t log_lines_suppressed_ = 0;
  uint64_t refusals_aggregated_ = 0;
};

class AuditLog;

// Warnings on the request path, at most `per_second` lines a second: a flood of bad
// requests must not become a flood of log lines. What is held back is counted
// (metrics) and the count is logged with the next line that gets through.
class LogLimiter {
 public:
  LogLimiter(Metrics* metrics, const Clock** clock) : metrics_(metrics), clock_(clock) {}
  void set_per_second(uint32_t n) { per_second_ = n; }
  void Warn(std::string_view msg, std::initializer_list<log::Field> fields) {
    Write(log::Level::kWarn, msg, fields);
  }
  void Error(std::string_view msg, std::initializer_list<log::Field> fields) {
    Write(log::Level::kError, msg, fields);
  }

 private:
  void Write(log::Level level, std::string_view msg, std::initializer_list<log::Field> fields);
  Metrics* metrics_;
  const Clock** clock_;
  uint32_t per_second_ = 20;
  MonoTime window_start_{};
  uint32_t in_window_ = 0;
  uint64_t held_back_ = 0;
};

// Repeated refusals from one client for one reason: the first in each period gets
// its full audit line (and log line), the rest are counted and written as one
// aggregate line per (client, reason) when the period ends.
class RefusalAggregator {
 public:
  // At most this many (client, reason) pairs are tracked; further pairs share one entry.
  static constexpr size_t kMaxKeys = 4096;
  // True when this refusal should be written in full.
  bool Admit(const std::string& client, const std::string& endpoint, const std::string& reason);
  // Appends the aggregate lines of the period that ends `now` and starts a new one.
  void Flush(WallTime now, AuditLog& audit);

 private:
  struct Entry {
    std::string endpoint;
    uint64_t repeated = 0;
  };
  std::map<std::pair<std::string, std::string>, Entry> entries_;
  WallTime period_start_ = RealClock().Now();
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
  LogLimiter log_limiter{&metrics, &clock};
  RefusalAggregator refusals;
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

Status ParseLimitValue(std::string_view name, std::string_view text, uint64_t max, uint64_t* out);

// One policy load, done off the loop: the file read (regular files only, opened
// without blocking), hashed, and parsed unless it is the revision being served.
struct PolicyLoad {
  std::string path;
  std::string served_revision;  // input: skip parsing when the file still has these bytes
  std::string failed_hash;      // input: ... or the bytes that already failed
  WallTime now;
  std::string hash;  // "sha256:..." of the bytes read; empty when the read failed
  std::string read_error;
  bool unchanged = false;
  LoadResult loaded;
};
void RunPolicyLoad(PolicyLoad& load);
// Installs the result on the loop thread. Returns true when a new revision was installed.
bool ApplyPolicyLoad(ServiceContext& ctx, PolicyLoad& load, bool initial);

}  // namespace vaultd::orchestrator::service
