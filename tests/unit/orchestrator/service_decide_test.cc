// GET /v1/mountset through the endpoint table on a ManualClock: a rendered
// answer is reused only until the mount set could change, and a cached token
// only until it expires — checked by moving the clock, not by waiting.
#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "jwt_test_tokens.h"
#include "service_context.h"

namespace vaultd::orchestrator::service {
namespace {

using nlohmann::json;

class DecideTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rsa_.reset(testing::GenerateRsa().release());
    clock_.SetWall(ParseRfc3339("2026-06-01T12:00:00Z").value());
    ctx_.clock = &clock_;
    JwtVerifierOptions o;
    o.issuer = "https://idp.test";
    o.audience = "vaultd";
    o.algorithms = {JwtAlg::kRS256};
    o.leeway_seconds = 0;
    auto keys = ParseJwks(json({{"keys", {testing::Jwk(rsa_.get(), "k")}}}).dump(), "jwks");
    ASSERT_TRUE(keys.ok());
    ctx_.verifier = std::make_unique<JwtVerifier>(o, std::move(*keys));
    ctx_.token_cache = std::make_unique<VerifiedTokenCache>(*ctx_.verifier, 100);
    audit_path_ =
        std::filesystem::temp_directory_path() / ("decide-" + std::to_string(::getpid()) + ".log");
    auto audit = AuditLog::Open(audit_path_.string(), false);
    ASSERT_TRUE(audit.ok());
    ctx_.audit = std::move(*audit);
    // "briefing" is granted until 12:00:03.
    LoadResult loaded = LoadPolicyString(R"(version: 1
folders:
  - name: engineering
    path: /shared/engineering
    access:
      - groups: [engineering]
        mode: rw
  - name: briefing
    path: /shared/briefing
    access:
      - groups: [engineering]
        mode: ro
        not_after: "2026-06-01T12:00:03Z"
)",
                                         "p.yaml", {});
    ASSERT_TRUE(loaded.policy);
    ctx_.policy.policy = loaded.policy;
    ctx_.policy.revision = PolicyRevision(*loaded.policy);
  }
  void TearDown() override { std::filesystem::remove(audit_path_); }

  std::string Token(int64_t exp_after_s) {
    const int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count();
    return testing::MintAsym(rsa_.get(), {{"alg", "RS256"}, {"kid", "k"}},
                             {{"iss", "https://idp.test"},
                              {"aud", "vaultd"},
                              {"exp", now + exp_after_s},
                              {"preferred_username", "erin"},
                              {"groups", {"engineering"}}});
  }

  HttpResponse Get(const std::string& token) {
    const Endpoint* e = Endpoints().Find("GET", "/v1/mountset");
    EXPECT_NE(e, nullptr);
    HttpRequest req{"GET", "/v1/mountset", "Bearer " + token, "127.0.0.1", ""};
    HttpResponse resp;
    e->handle(ctx_, req, resp);
    return resp;
  }
  static std::vector<std::string> Names(const HttpResponse& r) {
    std::vector<std::string> names;
    const json body = json::parse(r.body);
    for (const auto& m : body["mounts"]) names.push_back(m["name"]);
    return names;
  }

  struct PkeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
  };
  std::unique_ptr<EVP_PKEY, PkeyFree> rsa_;
  ManualClock clock_;
  ServiceContext ctx_;
  std::filesystem::path audit_path_;
};

TEST_F(DecideTest, ACachedAnswerEndsWhereTheTimeWindowEnds) {
  const std::string token = Token(3600);
  auto first = Get(token);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(Names(first), (std::vector<std::string>{"briefing", "engineering"})) << first.body;
  clock_.Advance(std::chrono::seconds(2));
  auto again = Get(token);
  EXPECT_EQ(Names(again), (std::vector<std::string>{"briefing", "engineering"}));
  EXPECT_EQ(json::parse(again.body)["generated_at"],
            "2026-06-01T12:00:02Z");  // only the time is rewritten
  EXPECT_EQ(ctx_.decisions.hits(), 1u);
  clock_.Advance(std::chrono::seconds(1));  // 12:00:03, not_after is exclusive
  EXPECT_EQ(Names(Get(token)), (std::vector<std::string>{"engineering"}));
}

TEST_F(DecideTest, ACachedTokenEndsAtItsExpiry) {
  const std::string token = Token(10);
  EXPECT_EQ(Get(token).status, 200);
  clock_.Advance(std::chrono::seconds(9));
  EXPECT_EQ(Get(token).status, 200);
  EXPECT_EQ(ctx_.token_cache->hits(), 1u);
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(Get(token).status, 401);
}

}  // namespace
}  // namespace vaultd::orchestrator::service
