// The service's endpoints. Each registers itself in the endpoint table; the
// HTTP layer (service.cc) knows none of them by name.
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "service_internal.h"
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

// GET /v1/mountset and GET /v1/docker-run-config: who is this token, and what do they get now.
void Decide(ServiceContext& ctx, const HttpRequest& req, HttpResponse& resp, bool docker) {
  const WallTime now = ctx.clock->Now();
  const std::string id = NewDecisionId();
  nlohmann::json audit = AuditBase(ctx, req, id);
  auto token = BearerToken(req.authorization);
  Result<VerifiedToken> verified =
      !token ? Result<VerifiedToken>(Status::Unauthenticated("no bearer token"))
             : (ctx.token_cache ? ctx.token_cache->Verify(*token, now) : ctx.verifier->Verify(*token, now));
  if (!verified.ok()) {
    log::Warn("request refused", {{"decision_id", id}, {"endpoint", req.path}, {"client", req.client_address},
                                  {"reason", verified.status().message()}});
    audit["outcome"] = "unauthenticated";
    audit["reason"] = verified.status().message();
    ctx.audit->Write(audit);
    ctx.metrics.CountDecision("unauthenticated");
    UnauthorizedResponse(resp, token.has_value());
    resp.headers.emplace_back("x-vaultd-decision-id", id);
    return;
  }
  EvalRequest er;
  er.user = verified->username;
  er.groups = verified->groups;
  er.at = now;
  MountSet ms = Evaluate(*ctx.policy.policy, er);
  JsonResponse(resp, 200, docker ? DockerRunConfigJson(ms) : MountSetToJson(ms));
  resp.headers.emplace_back("cache-control", "no-store");
  resp.headers.emplace_back("x-vaultd-decision-id", id);
  audit["outcome"] = "granted";
  audit["user"] = ms.user;
  audit["groups"] = ms.groups;
  audit["policy_revision"] = ms.policy_revision;
  audit["mounts"] = MountSummary(ms);
  if (!ms.warnings.empty()) audit["warnings"] = ms.warnings;
  ctx.audit->Write(audit);
  ctx.metrics.CountDecision("granted");
}

void HandleMountSet(ServiceContext& ctx, const HttpRequest& req, HttpResponse& resp) {
  Decide(ctx, req, resp, /*docker=*/false);
}

void HandleDockerRunConfig(ServiceContext& ctx, const HttpRequest& req, HttpResponse& resp) {
  Decide(ctx, req, resp, /*docker=*/true);
}

// POST /v1/evaluate: the admin what-if. Body {user, groups, at, explain}.
void HandleEvaluate(ServiceContext& ctx, const HttpRequest& req, HttpResponse& resp) {
  const std::string id = NewDecisionId();
  nlohmann::json audit = AuditBase(ctx, req, id);
  if (ctx.admin_key.empty()) {
    JsonResponse(resp, 403, {{"error", "admin_disabled"},
                             {"error_description", "no admin_key_file is configured in AUTH.yaml"}});
    return;
  }
  auto token = BearerToken(req.authorization);
  if (!token || !ConstantTimeEquals(*token, ctx.admin_key)) {
    log::Warn("admin request refused", {{"decision_id", id}, {"client", req.client_address}});
    audit["outcome"] = "admin_unauthenticated";
    ctx.audit->Write(audit);
    ctx.metrics.CountDecision("admin_unauthenticated");
    UnauthorizedResponse(resp, token.has_value());
    return;
  }
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
  MountSet ms = Evaluate(*ctx.policy.policy, er);
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

void HandleHealthz(ServiceContext& ctx, const HttpRequest&, HttpResponse& resp) {
  const PolicyState& p = ctx.policy;
  nlohmann::json body = {{"status", p.reload_error ? "degraded" : "ok"},
                         {"policy_revision", p.revision},
                         {"loaded_at", FormatRfc3339(p.loaded_at)}};
  if (p.reload_error) {
    body["reload_error"] = *p.reload_error;
    body["reload_error_at"] = FormatRfc3339(p.reload_error_at);
  }
  JsonResponse(resp, 200, body);
  resp.headers.emplace_back("cache-control", "no-store");
}

void HandleMetrics(ServiceContext& ctx, const HttpRequest&, HttpResponse& resp) {
  resp.status = 200;
  resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
  resp.body = ctx.metrics.Render(ctx.policy, ctx.token_cache ? ctx.token_cache->hits() : 0,
                                 ctx.token_cache ? ctx.token_cache->misses() : 0);
}

EndpointRegistrar mountset({"GET", "/v1/mountset", 0, &HandleMountSet});
EndpointRegistrar docker_run_config({"GET", "/v1/docker-run-config", 0, &HandleDockerRunConfig});
EndpointRegistrar evaluate({"POST", "/v1/evaluate", kMaxEvaluateBody, &HandleEvaluate});
EndpointRegistrar healthz({"GET", "/healthz", 0, &HandleHealthz});
EndpointRegistrar metrics({"GET", "/metrics", 0, &HandleMetrics});

}  // namespace

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
    JsonResponse(resp, 401, {{"error", "invalid_token"},
                             {"error_description", "the bearer token is invalid or expired"}});
    resp.headers.emplace_back("www-authenticate", "Bearer realm=\"vaultd\", error=\"invalid_token\"");
  } else {
    // RFC 6750 §3.1: a request without credentials gets the challenge but no error code.
    JsonResponse(resp, 401, {{"error", "missing_token"},
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
