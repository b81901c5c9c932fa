// `vault-orchestrator serve` over real HTTP: the built binary on 127.0.0.1 with
// a kernel-chosen port, keys generated now, tokens minted here.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "jwt_test_tokens.h"
#include "vaultd/common/clock.h"
#include "vaultd/common/fs.h"
#include "vaultd/common/sha256.h"
#include "vaultd/orchestrator_client/http.h"

extern char** environ;

namespace vaultd {
namespace {

using nlohmann::json;
using orchestrator::Base64UrlEncode;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kIssuer = "https://idp.test/realms/corp";
constexpr const char* kAdminKey = "admin-key-for-tests-0123456789";

#if defined(__SANITIZE_ADDRESS__)
constexpr auto kStartDeadline = std::chrono::seconds(30);
#else
constexpr auto kStartDeadline = std::chrono::seconds(10);
#endif

const char* kPolicy = R"(version: 1
sync:
  url: ws://relay.test:1234
personal:
  path: /users/{username}/personal
folders:
  - name: engineering
    path: /shared/engineering
    access:
      - groups: [engineering]
        mode: rw
  - name: deal-room
    path: /shared/deals/acme
    target: deals/acme
    access:
      - groups: [legal, executive]
        compound: all
        mode: rw
)";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Polls `cond` until it holds or the deadline passes (no fixed sleeps as synchronisation).
template <typename F>
bool WaitUntil(F cond, std::chrono::milliseconds deadline) {
  const auto end = SteadyClock::now() + deadline;
  while (SteadyClock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return cond();
}

class ServeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = testing::GenerateRsa().release();
    ec_ = testing::GenerateEc().release();
  }
  static void TearDownTestSuite() {
    EVP_PKEY_free(rsa_);
    EVP_PKEY_free(ec_);
  }

  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("serve-test-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    Write("jwks.json", json({{"keys", {testing::Jwk(rsa_, "rsa-1"), testing::Jwk(ec_, "ec-1")}}}).dump(2));
    Write("admin.key", std::string(kAdminKey) + "\n");
    Write("AUTH.yaml", std::string("issuer: ") + kIssuer +
                           "\naudience: vaultd\nalgorithms: [RS256, ES256]\nkeys:\n  - jwks: jwks.json\n"
                           "username_claim: preferred_username\ngroups_claim: groups\nleeway_seconds: 5\n"
                           "admin_key_file: admin.key\n");
    Write("policy.yaml", kPolicy);
    Start();
  }

  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      bool exited = WaitUntil([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, std::chrono::seconds(10));
      if (!exited) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
      }
      EXPECT_TRUE(exited && WIFEXITED(status) && WEXITSTATUS(status) == 0)
          << "serve did not stop cleanly on SIGTERM; log:\n" << ReadAll(Path("serve.log"));
    }
    std::filesystem::remove_all(dir_);
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  void Write(const std::string& name, const std::string& text) const {
    ASSERT_TRUE(WriteFileAtomic(Path(name), text, {.mode = 0644, .sync = false}).ok());
  }

  void Start() {
    const std::string bin = std::string(VAULTD_BIN_DIR) + "/vault-orchestrator";
    std::vector<std::string> args = {bin,      "serve",          "--policy",       Path("policy.yaml"),
                                     "--listen", "127.0.0.1:0",  "--auth",         Path("AUTH.yaml"),
                                     "--audit",  Path("audit.log"), "--port-file", Path("port")};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, Path("serve.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    ASSERT_EQ(posix_spawn(&pid_, bin.c_str(), &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    ASSERT_TRUE(WaitUntil(
        [&] {
          std::string p = ReadAll(Path("port"));
          if (p.empty()) return false;
          port_ = std::stoi(p);
          return true;
        },
        kStartDeadline))
        << "serve did not start; log:\n" << ReadAll(Path("serve.log"));
  }

  orchestrator_client::HttpResponse Request(const std::string& method, const std::string& path,
                                            const std::string& authorization = "", const std::string& body = "") {
    orchestrator_client::HttpRequest req;
    req.method = method;
    req.url = "http://127.0.0.1:" + std::to_string(port_) + path;
    if (!authorization.empty()) req.headers.emplace_back("Authorization", authorization);
    req.body = body;
    auto r = orchestrator_client::HttpFetch(req);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : orchestrator_client::HttpResponse{};
  }
  orchestrator_client::HttpResponse Get(const std::string& path, const std::string& token) {
    return Request("GET", path, token.empty() ? "" : "Bearer " + token);
  }

  static int64_t Now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  static json Claims(const std::string& user = "alice",
                     json groups = json::array({"/engineering", "/legal", "executive"})) {
    return {{"iss", kIssuer}, {"aud", "vaultd"}, {"exp", Now() + 300}, {"iat", Now()},
            {"sub", "id-" + user}, {"preferred_username", user}, {"groups", groups}};
  }
  static std::string Rs(const json& claims, const std::string& kid = "rsa-1") {
    return testing::MintAsym(rsa_, {{"alg", "RS256"}, {"typ", "JWT"}, {"kid", kid}}, claims);
  }

  static std::vector<std::string> MountNames(const json& ms) {
    std::vector<std::string> names;
    for (const auto& m : ms["mounts"]) names.push_back(m["name"]);
    return names;
  }

  void ExpectUnauthorized(const std::string& token, const std::string& what) {
    SCOPED_TRACE(what);
    auto r = Get("/v1/mountset", token);
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.Header("www-authenticate").rfind("Bearer ", 0), 0u) << r.Header("www-authenticate");
    if (!token.empty()) {
      EXPECT_NE(r.Header("www-authenticate").find("error=\"invalid_token\""), std::string::npos);
    }
    // Nothing about mounts, folders or the policy may leak on a refusal.
    for (const char* secret : {"mount", "shared", "engineering", "deal", "personal", "sha256", "vault"})
      EXPECT_EQ(r.body.find(secret), std::string::npos) << "body leaks '" << secret << "': " << r.body;
    auto body = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << r.body;
    EXPECT_EQ(body.size(), 2u);  // error + error_description, nothing else
  }

  static inline EVP_PKEY* rsa_ = nullptr;
  static inline EVP_PKEY* ec_ = nullptr;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

TEST_F(ServeTest, ValidTokensGetTheirMounts) {
  auto r = Get("/v1/mountset", Rs(Claims()));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("content-type"), "application/json");
  auto ms = json::parse(r.body);
  EXPECT_EQ(ms["schema"], "vaultd.mountset/1");
  EXPECT_EQ(ms["user"], "alice");
  EXPECT_EQ(ms["groups"], json({"engineering", "legal", "executive"}));
  EXPECT_EQ(MountNames(ms), (std::vector<std::string>{"deal-room", "engineering", "personal"}));
  EXPECT_EQ(ms["sync"]["url"], "ws://relay.test:1234");

  // ES256 from the same JWKS; a user with only one of the AND groups gets no deal room.
  auto es = Get("/v1/mountset",
                testing::MintAsym(ec_, {{"alg", "ES256"}, {"kid", "ec-1"}}, Claims("bob", {"engineering", "legal"})));
  ASSERT_EQ(es.status, 200) << es.body;
  EXPECT_EQ(MountNames(json::parse(es.body)), (std::vector<std::string>{"engineering", "personal"}));

  auto drc = Get("/v1/docker-run-config", Rs(Claims()));
  ASSERT_EQ(drc.status, 200) << drc.body;
  auto volumes = json::parse(drc.body)["volumes"];
  EXPECT_EQ(volumes["/shared/engineering"], json({{"bind", "/vault/engineering"}, {"mode", "rw"}}));
  EXPECT_EQ(volumes["/users/alice/personal"]["bind"], "/vault/personal");
}

TEST_F(ServeTest, EveryForgedOrInvalidTokenIsRefusedWithNothingLeaked) {
  const std::string good = Rs(Claims());
  const size_t dot1 = good.find('.'), dot2 = good.rfind('.');
  const std::string header = good.substr(0, dot1), payload = good.substr(dot1 + 1, dot2 - dot1 - 1);

  ExpectUnauthorized(testing::SigningInput({{"alg", "none"}, {"typ", "JWT"}}, Claims()) + ".", "alg none");
  ExpectUnauthorized(testing::SigningInput({{"alg", "none"}}, Claims()) + "." + Base64UrlEncode("x"), "alg none + sig");
  ExpectUnauthorized(testing::MintHmac(testing::PublicPem(rsa_), {{"alg", "HS256"}, {"kid", "rsa-1"}}, Claims()),
                     "HS256 with the RSA public key as secret");
  ExpectUnauthorized(testing::MintHmac(testing::PublicPem(rsa_), {{"alg", "HS256"}}, Claims()),
                     "HS256 with the RSA public key, no kid");
  auto expired = Claims();
  expired["exp"] = Now() - 60;
  ExpectUnauthorized(Rs(expired), "expired");
  auto early = Claims();
  early["nbf"] = Now() + 3600;
  ExpectUnauthorized(Rs(early), "not yet valid");
  auto iss = Claims();
  iss["iss"] = "https://evil.test/realms/corp";
  ExpectUnauthorized(Rs(iss), "wrong iss");
  auto aud = Claims();
  aud["aud"] = "another-service";
  ExpectUnauthorized(Rs(aud), "wrong aud");
  auto more = Claims();
  more["groups"] = {"engineering", "legal", "executive", "admins"};
  ExpectUnauthorized(header + "." + Base64UrlEncode(more.dump()) + good.substr(dot2), "tampered payload");
  ExpectUnauthorized(Rs(Claims(), "rsa-404"), "unknown kid");
  ExpectUnauthorized(header + "." + payload + "." + "$$$", "malformed base64 signature");
  ExpectUnauthorized("eyJhbGciOiJSUzI1NiJ9=." + payload + good.substr(dot2), "padded base64 header");
  ExpectUnauthorized(Base64UrlEncode("{\"alg\": \"RS256\",") + "." + payload + good.substr(dot2), "malformed JSON header");
  ExpectUnauthorized("not-a-jwt", "not a JWT");
  ExpectUnauthorized("", "missing header");
  auto big = Claims();
  big["padding"] = std::string(20000, 'x');
  ExpectUnauthorized(Rs(big), "oversized token");

  auto basic = Request("GET", "/v1/mountset", "Basic YWxpY2U6c2VjcmV0");
  EXPECT_EQ(basic.status, 401);
  auto drc = Get("/v1/docker-run-config", Rs(expired));
  EXPECT_EQ(drc.status, 401);
  EXPECT_EQ(drc.body.find("volumes"), std::string::npos);
}

TEST_F(ServeTest, UnsafeUsernameGetsNoPersonalFolder) {
  auto r = Get("/v1/mountset", Rs(Claims("../x", {"engineering"})));
  ASSERT_EQ(r.status, 200) << r.body;
  auto ms = json::parse(r.body);
  EXPECT_EQ(MountNames(ms), (std::vector<std::string>{"engineering"}));
  EXPECT_FALSE(ms["warnings"].empty());
  EXPECT_EQ(r.body.find("/users/../x"), std::string::npos);
}

TEST_F(ServeTest, HotReloadPicksUpAValidEditAndSurvivesABrokenOne) {
  auto health = [&] { return json::parse(Get("/healthz", "").body); };
  const json before = health();
  ASSERT_EQ(before["status"], "ok");
  const std::string rev0 = before["policy_revision"];
  // Answer once before the edit, so a cached answer exists that must not survive the reload.
  ASSERT_EQ(MountNames(json::parse(Get("/v1/mountset", Rs(Claims("carol", {"engineering"}))).body)),
            (std::vector<std::string>{"engineering", "personal"}));

  // A valid edit, written the way editors do it (temp file + rename over the original).
  const std::string edited = std::string(kPolicy) +
                             "  - name: wiki\n    path: /shared/wiki\n    access:\n      - groups: [engineering]\n"
                             "        mode: ro\n";
  const auto t0 = SteadyClock::now();
  Write("policy.yaml", edited);
  std::string rev1;
  ASSERT_TRUE(WaitUntil(
      [&] {
        rev1 = health()["policy_revision"];
        return rev1 != rev0;
      },
      std::chrono::milliseconds(1000)))
      << "the valid edit was not picked up within 1 s; log:\n" << ReadAll(Path("serve.log"));
  const auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0);
  std::printf("[ reload  ] valid edit visible after %lld ms\n", static_cast<long long>(latency.count()));
  EXPECT_EQ(rev1, "sha256:" + Sha256Hex(edited));
  auto ms = json::parse(Get("/v1/mountset", Rs(Claims("carol", {"engineering"}))).body);
  EXPECT_EQ(MountNames(ms), (std::vector<std::string>{"engineering", "personal", "wiki"}));
  EXPECT_EQ(ms["policy_revision"], rev1);

  // A broken edit in place: the last good policy keeps being served, /healthz says so.
  {
    std::ofstream out(Path("policy.yaml"), std::ios::app);
    out << "  - name: broken\n    path: relative/path\n    acess: []\n";
  }
  json degraded;
  ASSERT_TRUE(WaitUntil(
      [&] {
        degraded = health();
        return degraded["status"] == "degraded";
      },
      std::chrono::milliseconds(2000)))
      << degraded.dump();
  EXPECT_EQ(degraded["policy_revision"], rev1);
  EXPECT_NE(degraded["reload_error"].get<std::string>().find("policy.yaml:"), std::string::npos) << degraded.dump();
  auto still = Get("/v1/mountset", Rs(Claims("carol", {"engineering"})));
  ASSERT_EQ(still.status, 200);
  EXPECT_EQ(json::parse(still.body)["policy_revision"], rev1);
  auto metrics = Get("/metrics", "").body;
  EXPECT_NE(metrics.find("vaultd_policy_reloads_total{result=\"failure\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("vaultd_policy_reload_ok 0"), std::string::npos);

  // Fixing the file clears the degraded state.
  Write("policy.yaml", kPolicy);
  ASSERT_TRUE(WaitUntil([&] { return health()["status"] == "ok"; }, std::chrono::milliseconds(2000)));
  EXPECT_EQ(health()["policy_revision"], rev0);
}

TEST_F(ServeTest, AdminEvaluate) {
  const std::string body = R"({"user": "dave", "groups": ["legal"], "at": "2026-06-01T00:00:00Z", "explain": true})";
  auto wrong = Request("POST", "/v1/evaluate", "Bearer admin-key-for-tests-012345678X", body);
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.body.find("mount"), std::string::npos);
  EXPECT_EQ(Request("POST", "/v1/evaluate", "", body).status, 401);
  // A user's valid JWT is not an admin key.
  EXPECT_EQ(Request("POST", "/v1/evaluate", "Bearer " + Rs(Claims()), body).status, 401);

  auto ok = Request("POST", "/v1/evaluate", std::string("Bearer ") + kAdminKey, body);
  ASSERT_EQ(ok.status, 200) << ok.body;
  auto ms = json::parse(ok.body);
  EXPECT_EQ(ms["user"], "dave");
  EXPECT_EQ(ms["generated_at"].get<std::string>().substr(0, 10), "2026-06-01");
  EXPECT_EQ(MountNames(ms), (std::vector<std::string>{"personal"}));
  ASSERT_TRUE(ms.contains("not_granted")) << ok.body;
  EXPECT_FALSE(ms["not_granted"].empty());

  EXPECT_EQ(Request("POST", "/v1/evaluate", std::string("Bearer ") + kAdminKey, "{\"user\": 5}").status, 400);
  EXPECT_EQ(Request("POST", "/v1/evaluate", std::string("Bearer ") + kAdminKey, "{\"user\":\"a\",\"x\":1}").status, 400);
  EXPECT_EQ(Request("POST", "/v1/evaluate", std::string("Bearer ") + kAdminKey, "not json").status, 400);
  auto huge = Request("POST", "/v1/evaluate", std::string("Bearer ") + kAdminKey,
                      "{\"user\":\"a\",\"groups\":[\"" + std::string(100000, 'g') + "\"]}");
  EXPECT_EQ(huge.status, 413);
  EXPECT_EQ(Request("GET", "/v1/evaluate").status, 405);
  EXPECT_EQ(Request("GET", "/v1/nothing").status, 404);
}

TEST_F(ServeTest, AuditLineForEveryDecisionAndMetrics) {
  auto granted = Get("/v1/mountset", Rs(Claims()));
  ASSERT_EQ(granted.status, 200);
  auto refused = Get("/v1/mountset", "garbage.token.here");
  ASSERT_EQ(refused.status, 401);
  // The same question again is answered from the rendered-decision cache: same content, fresh time.
  auto again = Get("/v1/mountset", Rs(Claims()));
  ASSERT_EQ(again.status, 200);
  auto first_body = json::parse(granted.body), again_body = json::parse(again.body);
  EXPECT_LE(ParseRfc3339(first_body["generated_at"].get<std::string>()).value(),
            ParseRfc3339(again_body["generated_at"].get<std::string>()).value());
  first_body.erase("generated_at");
  again_body.erase("generated_at");
  EXPECT_EQ(first_body, again_body);
  const std::string id_again = again.Header("x-vaultd-decision-id");
  const std::string id_ok = granted.Header("x-vaultd-decision-id");
  const std::string id_bad = refused.Header("x-vaultd-decision-id");
  ASSERT_EQ(id_ok.size(), 32u);
  std::map<std::string, json> lines;
  ASSERT_TRUE(WaitUntil(
      [&] {
        lines.clear();
        std::istringstream in(ReadAll(Path("audit.log")));
        for (std::string line; std::getline(in, line);) {
          auto j = json::parse(line, nullptr, false);
          if (j.is_object()) lines[j.value("decision_id", "")] = j;
        }
        return lines.count(id_ok) && lines.count(id_bad) && lines.count(id_again);
      },
      std::chrono::milliseconds(2000)));
  const json& a = lines[id_ok];
  EXPECT_EQ(a["outcome"], "granted");
  EXPECT_EQ(a["user"], "alice");
  EXPECT_EQ(a["groups"], json({"engineering", "legal", "executive"}));
  EXPECT_EQ(a["client"], "127.0.0.1");
  EXPECT_EQ(a["endpoint"], "/v1/mountset");
  EXPECT_EQ(a["policy_revision"], "sha256:" + Sha256Hex(kPolicy));
  EXPECT_EQ(a["mounts"], json::parse(R"([{"name":"deal-room","mode":"rw"},{"name":"engineering","mode":"rw"},
                                         {"name":"personal","mode":"rw"}])"));
  EXPECT_TRUE(ParseRfc3339(a["time"].get<std::string>()).ok());
  json cached = lines[id_again], fresh = a;
  for (auto* j : {&cached, &fresh}) {
    j->erase("decision_id");
    j->erase("time");
  }
  EXPECT_EQ(cached, fresh);
  EXPECT_EQ(lines[id_bad]["outcome"], "unauthenticated");
  EXPECT_FALSE(lines[id_bad]["reason"].get<std::string>().empty());

  auto metrics = Get("/metrics", "");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.Header("content-type").rfind("text/plain", 0), 0u);
  for (const char* want : {"vaultd_http_requests_total{endpoint=\"/v1/mountset\",code=\"200\"} 2",
                           "vaultd_http_requests_total{endpoint=\"/v1/mountset\",code=\"401\"} 1",
                           "vaultd_decisions_total{outcome=\"granted\"} 2",
                           "vaultd_decision_cache_lookups_total{result=\"hit\"} 1",
                           "vaultd_decisions_total{outcome=\"unauthenticated\"} 1",
                           "vaultd_http_request_duration_seconds_count{endpoint=\"/v1/mountset\"} 3",
                           "vaultd_policy_info{revision=\"sha256:"})
    EXPECT_NE(metrics.body.find(want), std::string::npos) << want << "\n" << metrics.body;
}

TEST_F(ServeTest, AnswersChangeWhenATimeWindowEnds) {
  // A folder granted for the next two to three seconds only: the cached answer must not outlive it.
  const std::string until = FormatRfc3339(std::chrono::system_clock::now() + std::chrono::seconds(3));
  const std::string windowed = std::string(kPolicy) +
                               "  - name: briefing\n    path: /shared/briefing\n    access:\n"
                               "      - groups: [engineering]\n        mode: ro\n        not_after: \"" + until + "\"\n";
  Write("policy.yaml", windowed);
  const std::string rev = "sha256:" + Sha256Hex(windowed);
  ASSERT_TRUE(WaitUntil([&] { return json::parse(Get("/healthz", "").body)["policy_revision"] == rev; },
                        std::chrono::milliseconds(2000)));
  const std::string token = Rs(Claims("erin", {"engineering"}));
  auto first = json::parse(Get("/v1/mountset", token).body);
  ASSERT_EQ(MountNames(first), (std::vector<std::string>{"briefing", "engineering", "personal"}));
  EXPECT_EQ(first["valid_until"], until);
  EXPECT_EQ(MountNames(json::parse(Get("/v1/mountset", token).body)),
            (std::vector<std::string>{"briefing", "engineering", "personal"}));
  ASSERT_TRUE(WaitUntil(
      [&] {
        return MountNames(json::parse(Get("/v1/mountset", token).body)) ==
               std::vector<std::string>{"engineering", "personal"};
      },
      std::chrono::milliseconds(6000)))
      << "the windowed folder was still served after not_after";
}

TEST_F(ServeTest, TokenCacheNeverOutlivesExpiry) {
  // The same expired token, again and again: never served from the cache.
  auto c = Claims();
  c["exp"] = Now() - 6;  // beyond the 5 s leeway
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Get("/v1/mountset", Rs(c)).status, 401);
  const std::string t = Rs(Claims());
  for (int i = 0; i < 20; ++i) ASSERT_EQ(Get("/v1/mountset", t).status, 200);
  auto metrics = Get("/metrics", "").body;
  EXPECT_NE(metrics.find("vaultd_token_cache_lookups_total{result=\"hit\"} 19"), std::string::npos) << metrics;
}

}  // namespace
}  // namespace vaultd
