// The service's endpoints. Each registers itself in the endpoint table; the
// HTTP layer (service.cc) knows none of them by name.
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "service_context.h"
#include "vaultd/common/log.h"
#include "vaultd/common/sha256.h"

namespace vaultd::orchestrator::service {
namespace {

constexpr size_t kMaxEvaluateBody = 64 * 1024;

// "Bearer <token>" (scheme case-insensitive, RFC 6750 §2.1); nullopt otherwise.
std::optional<std::string_view> BearerToken(std::string_view header) {
  constexpr std::string_view kScheme = "bearer";
  if (header.size() <= kScheme.size() || header[kScheme.size()] != ' ') return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return std::nullopt;
  std::string_view token = header.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  return token;
}

// Compares digests so neither the content nor the length of the key leaks through timing.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  std::string da = Sha256Hex(a), db = Sha256Hex(b);
  return CRYPTO_memcmp(da.data(), db.data(), da.size()) == 0;
}

nlohmann::json AuditBase(const ServiceContext& ctx, const HttpRequest& req, const std::string& id) {
  return {{"decision_id", id},
          {"time", FormatRfc3339Millis(ctx.clock->Now())},
          {"endpoint", req.path},
          {"client", req.client_address}};
}

nlohmann::json MountSummary(const MountSet& ms) {
  nlohmann::json mounts = nlohmann::json::array();
  for (const auto& m : ms.mounts) mounts.push_back({{"name", m.name}, {"mode", m.mode}});
  return mounts;
}

std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Length-prefixed so no user or group name can make two keys collide.
std::string DecisionKey(const std::string& revision, bool docker, const VerifiedToken& who) {
  std::string key = revision + (docker ? "|d|" : "|m|");
  auto add = [&](const std::string& v) { key += std::to_string(v.size()) + ":" + v; };
  add(who.username);
  for (const auto& g : who.groups) add(g);
  return key;
}

CachedDecision Render(const std::shared_ptr<const Policy>& policy, const VerifiedToken& who,
                      WallTime now, bool docker) {
  EvalRequest er;
  er.user = who.username;
  er.groups = who.groups;
  er.at = now;
  MountSet ms = Evaluate(policy, er);
  CachedDecision d;
  d.filled_at = now;
  d.valid_until = ms.valid_until;
  d.body = Dump(docker ? DockerRunConfigJson(ms) : MountSetToJson(ms));
  if (!docker) {
    // Find generated_at's value; only patch it later if it is exactly what FormatMountSetTime()
    // writes.
    const std::string marker = "\"generated_at\":\"" + FormatMountSetTime(now) + "\"";
    size_t at = d.body.find(marker);
    if (at != std::string::npos) {
      d.time_offset = at + 16;
      d.time_length = marker.size() - 17;
    } else {
      d.valid_until = now;  // unknown format: never reuse this rendering
    }
  }
  d.body.push_back('\n');
  d.user_json = Dump(ms.user);
  d.groups_json = Dump(ms.groups);
  d.revision_json = Dump(ms.policy_revision);
  d.mounts_json = Dump(MountSummary(ms));
  if (!ms.warnings.empty()) d.warnings_json = Dump(ms.warnings);
  return d;
}

// GET /v1/mountset and GET /v1/docker-run-config: who is this token, and what do they get now.
void Decide(ServiceContext& ctx, const HttpRequest& req, HttpResponse& resp, bool docker) {
  const WallTime now = ctx.clock->Now();
  const std::string id = NewDecisionId();
  auto token = BearerToken(req.authorization);
  Result<VerifiedToken> verified =
      !token ? Result<VerifiedToken>(Status::Unauthenticated("no bearer token"))
             : (ctx.token_cache ? ctx.token_cache->Verify(*token, now)
                                : ctx.verifier->Verify(*token, now));
  if (!verified.ok()) {
    ctx.metrics.CountDecision("unauthenticated");
    UnauthorizedResponse(resp, token.has_value());
    resp.headers.emplace_back("x-vaultd-decision-id", id);
    const std::string& reason = verified.status().message();
    if (!ctx.refusals.Admit(req.client_address, req.path, reason)) {
      ctx.metrics.CountAggregatedRefusal();  // in the aggregate line at the end of the period
      return;
    }
    ctx.log_limiter.Warn("request refused", {{"decision_id", id},
                                             {"endpoint", req.path},
                                             {"client", req.client_address},
                                             {"reason", reason}});
    nlohmann::json audit = AuditBase(ctx, req, id);
    audit["outcome"] = "unauthenticated";
    audit["reason"] = reason;
    ctx.audit->Write(audit);
    return;
  }
  std::string key = DecisionKey(ctx.policy.revision, docker, *verified);
  const CachedDecision* d = ctx.decisions.Find(key, now);
  if (!d) d = ctx.decisions.Put(std::move(key), Render(ctx.policy.policy, *verified, now, docker));
  resp.status = 200;
  resp.content_type = "application/json";
  resp.body = d->body;
  if (d->time_offset != std::string::npos)
    resp.body.replace(d->time_offset, d->time_length, FormatMountSetTime(now));
  resp.headers.emplace_back("cache-control", "no-store");
  resp.headers.emplace_back("x-vaultd-decision-id", id);
  // Keys in the order nlohmann writes them, so every audit line looks alike.
  std::string line = "{\"client\":" + Dump(req.client_address) + ",\"decision_id\":\"" + id +
                     "\",\"endpoint\":" + Dump(req.path) + ",\"groups\":" + d->groups_json +
                     ",\"mounts\":" + d->mounts_json +
                     ",\"outcome\":\"granted\",\"policy_revision\":" + d->revision_json +
                     ",\"time\":\"" + FormatRfc3339Millis(now) + "\",\"user\":" + d->user_json;
  if (!d->warnings_json.empty()) line += ",\"warnings\":" + d->warnings_json;
  line += "}";
  ctx.audit->WriteLine(std::move(line));
  ctx.metrics.CountDecision("granted");
}

void HandleMountSet(ServiceContext& ctx, const HttpRequest& req, HttpResponse& resp) {
  Decide(ctx, req, resp, /*docker=*/false);
}

void HandleDockerRunConfig(ServiceContext& ctx, const HttpRequest& req, HttpResponse& resp) {
  Decide(ctx, req, resp, /*docker=*/true);
}

// The admin key check of the admin endpoints: false (with the response filled in,
// and an audit line for a wrong key) unless the request carries the admin key.
bool AdminAuthorized(ServiceContext& ctx, const HttpRequest& req, HttpResponse& resp,
                     nlohmann::json* audit) {
  if (ctx.admin_key.empty()) {
    JsonResponse(resp, 403,
                 {{"error", "admin_disabled"},
                  {"error_description", "no admin_key_file is configured in AUTH.yaml"}});
    return false;
  }
  auto token = BearerToken(req.authorization);
  if (token && ConstantTimeEquals(*token, ctx.admin_key)) return true;
  ctx.log_limiter.Warn("admin request refused",
                       {{"decision_id", (*audit)["decision_id"].get<std::string>()},
                        {"endpoint", req.path},
                        {"client", req.client_address}});
  (*audit)["outcome"] = "admin_unauthenticated";
  ctx.audit->Write(*audit);
  ctx.metrics.CountDecision("admin_unauthenticated");
  UnauthorizedResponse(resp, token.has_value());
  return false;
}

// POST /v1/evaluate: the admin what-if. Body {user, groups, at, explain}.
void HandleEvaluate(ServiceContext& ctx, const HttpRequest& req, HttpResponse& resp) {
  const std::string id = NewDecisionId();
  nlohmann::json audit = AuditBase(ctx, req, id);
  if (!AdminAuthorized(ctx, req, resp, &audit)) return;
  auto bad = [&](const std::string& why) {
    JsonResponse(resp, 400, {{"error", "invalid_request"}, {"error_description", why}});
  };
  nlohmann::json body = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) return bad("body must be a JSON object");
  EvalRequest er;
  er.at = ctx.clock->Now();
  for (const auto& [key, value] : body.items()) {
    if (key == "user") {
      if (!value.is_string() || value.get_ref<const std::string&>().empty())
        return bad("\"user\" must be a non-empty string");
      er.user = value.get<std::string>();
    } else if (key == "groups") {
      if (!value.is_array()) return bad("\"groups\" must be an array of strings");
      for (const auto& g : value) {
        if (!g.is_string()) return bad("\"groups\" must be an array of strings");
        er.groups.push_back(g.get<std::string>());
      }
    } else if (key == "at") {
      if (value.is_null()) continue;
      if (!value.is_string()) return bad("\"at\" must be an RFC 3339 time");
      auto at = ParseRfc3339(value.get<std::string>());
      if (!at.ok()) return bad(at.status().message());
      er.at = *at;
    } else if (key == "explain") {
      if (!value.is_boolean()) return bad("\"explain\" must be true or false");
      er.explain = value.get<bool>();
    } else {
      return bad("unknown field \"" + key + "\" (expected user, groups, at, explain)");
    }
  }
  if (er.user.empty()) return bad("\"user\" is required");
  MountSet ms = Evaluate(ctx.policy.policy, er);
  JsonResponse(resp, 200, MountSetToJson(ms));
  resp.headers.emplace_back("cache-control", "no-store");
  resp.headers.emplace_back("x-vaultd-decision-id", id);
  audit["outcome"] = "what_if";
  audit["user"] = ms.user;
  audit["groups"] = ms.groups;
  audit["at"] = FormatRfc3339(er.at);
  audit["policy_revision"] = ms.policy_revision;
  audit["mounts"] = MountSummary(ms);
  ctx.audit->Write(audit);
  ctx.metrics.CountDecision("what_if");
}

// Unauthenticated: whether the file on disk loads, the revision in force and when,
// never why a load failed (the error can quote the file; it is for admins only).
void HandleHealthz(ServiceContext& ctx, const HttpRequest&, HttpResponse& resp) {
  const PolicyState& p = ctx.policy;
  nlohmann::json body = {{"status", p.reload_error ? "degraded" : "ok"},
                         {"policy_revision", p.revision},
                         {"loaded_at", FormatRfc3339(p.loaded_at)}};
  if (p.reload_error) body["reload_error_at"] = FormatRfc3339(p.reload_error_at);
  JsonResponse(resp, 200, body);
  resp.headers.emplace_back("cache-control", "no-store");
}

// GET /v1/policy-status (admin key): /healthz plus the load error's details.
void HandlePolicyStatus(ServiceContext& ctx, const HttpRequest& req, HttpResponse& resp) {
  nlohmann::json audit = AuditBase(ctx, req, NewDecisionId());
  if (!AdminAuthorized(ctx, req, resp, &audit)) return;
  HandleHealthz(ctx, req, resp);
  const PolicyState& p = ctx.policy;
  if (!p.reload_error) return;
  nlohmann::json body = nlohmann::json::parse(resp.body);
  body["reload_error"] = *p.reload_error;
  JsonResponse(resp, 200, body);
}

void HandleMetrics(ServiceContext& ctx, const HttpRequest&, HttpResponse& resp) {
  resp.status = 200;
  resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
  Metrics::CacheCounts caches;
  if (ctx.token_cache) {
    caches.token_hits = ctx.token_cache->hits();
    caches.token_misses = ctx.token_cache->misses();
  }
  caches.decision_hits = ctx.decisions.hits();
  caches.decision_misses = ctx.decisions.misses();
  resp.body = ctx.metrics.Render(ctx.policy, caches);
}

EndpointRegistrar mountset({"GET", "/v1/mountset", 0, &HandleMountSet});
EndpointRegistrar docker_run_config({"GET", "/v1/docker-run-config", 0, &HandleDockerRunConfig});
EndpointRegistrar evaluate({"POST", "/v1/evaluate", kMaxEvaluateBody, &HandleEvaluate});
EndpointRegistrar healthz({"GET", "/healthz", 0, &HandleHealthz});
EndpointRegistrar policy_status({"GET", "/v1/policy-status", 0, &HandlePolicyStatus});
EndpointRegistrar metrics({"GET", "/metrics", 0, &HandleMetrics});

}  // namespace

const CachedDecision* DecisionCache::Find(const std::string& key, WallTime now) {
  auto it = entries_.find(key);
  if (it != entries_.end() && now >= it->second.filled_at &&
      (!it->second.valid_until || now < *it->second.valid_until)) {
    ++hits_;
    return &it->second;
  }
  ++misses_;
  return nullptr;
}

const CachedDecision* DecisionCache::Put(std::string key, CachedDecision decision) {
  if (capacity_ == 0) {
    scratch_ = std::move(decision);
    return &scratch_;
  }
  if (entries_.size() >= capacity_)
    entries_.clear();  // crude but bounded; refills in one request each
  CachedDecision& slot = entries_[std::move(key)];
  slot = std::move(decision);
  return &slot;
}

EndpointTable& Endpoints() {
  static EndpointTable table;
  return table;
}

const Endpoint* EndpointTable::Find(std::string_view method, std::string_view path) const {
  for (const auto& e : endpoints_)
    if (e.method == method && e.path == path) return &e;
  return nullptr;
}

bool EndpointTable::KnowsPath(std::string_view path) const {
  for (const auto& e : endpoints_)
    if (e.path == path) return true;
  return false;
}

void JsonResponse(HttpResponse& resp, int status, const nlohmann::json& body) {
  resp.status = status;
  resp.content_type = "application/json";
  resp.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  resp.body.push_back('\n');
}

void UnauthorizedResponse(HttpResponse& resp, bool token_present) {
  if (token_present) {
    JsonResponse(resp, 401,
                 {{"error", "invalid_token"},
                  {"error_description", "the bearer token is invalid or expired"}});
    resp.headers.emplace_back("www-authenticate",
                              "Bearer realm=\"vaultd\", error=\"invalid_token\"");
  } else {
    // RFC 6750 §3.1: a request without credentials gets the challenge but no error code.
    JsonResponse(resp, 401,
                 {{"error", "missing_token"},
                  {"error_description", "an Authorization: Bearer token is required"}});
    resp.headers.emplace_back("www-authenticate", "Bearer realm=\"vaultd\"");
  }
}

std::string NewDecisionId() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    static uint64_t counter = 0;
    return "seq-" + std::to_string(++counter);
  }
  return HexEncode(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

}  // namespace vaultd::orchestrator::service
