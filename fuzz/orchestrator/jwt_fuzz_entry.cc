#include "jwt_fuzz_entry.h"

#include <openssl/hmac.h>

#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "vaultd/common/base64.h"
#include "vaultd/orchestrator/jwt.h"

namespace vaultd::orchestrator {
namespace {

// Public halves of throwaway keys; the corpus seeds were signed with their
// private halves, which were discarded (the fuzzer cannot forge either way).
constexpr const char* kRsaPem = R"(-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAv4SY2k6ezTGvJsMW7ULj
InkuisGPda4QsEzmYlkUgjTuRfzeBMbdFs44nMrI2bmQ3zcQfaGz+9f3wMWJMQrP
4s6jiDSFBUyFWIMgR3JMi5MzjzcKUGg+LngWwsSMVOOil4jZp8TBb+Xeg/zK7fia
nG/581imaQPNAR6JgMsNx2SihGcFkf1V37b3TNBMBpBMWgp7vWKAUXr0/nds4f92
p+0MFEW40W92rVx8HzJBOpWOjTg4A4fM758ay5R5zB8tesbSwnvAZAk7Q8uiLnOB
xb3WWgt2tISdw/8oTFalnuED1pnENCvsfv8deCHbAUmz3YZytypyQnQ3czmOB+aJ
qwIDAQAB
-----END PUBLIC KEY-----
)";
constexpr const char* kEcPem = R"(-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEn5jH92sSR/kyu3uqnhs9EFrF+M94
bMX0y3vUQBS1AsuCEYS9TX1JqpgDQy4XCtI5Itf8f0+YJ4kX4Pe+kNmiAQ==
-----END PUBLIC KEY-----
)";
constexpr std::string_view kSecret = "fuzz-shared-secret-0123456789abcdef";
const WallTime kNow{std::chrono::seconds(1'800'000'000)};

void Check(bool ok, const char* what) { fuzzing::Check(ok, "fuzz_jwt", what); }

const JwtVerifier& Verifier() {
  static const JwtVerifier* v = [] {
    std::vector<JwtKeyPtr> keys;
    auto rsa = LoadPemKeys(kRsaPem, "rsa-1", "rsa");
    auto ec = LoadPemKeys(kEcPem, "ec-1", "ec");
    Check(rsa.ok() && ec.ok(), "the fixed keys load");
    keys.insert(keys.end(), rsa->begin(), rsa->end());
    keys.insert(keys.end(), ec->begin(), ec->end());
    keys.push_back(MakeHmacKey(kSecret, "hs-1").value());
    JwtVerifierOptions o;
    o.issuer = "https://idp.fuzz/realms/corp";
    o.audience = "vaultd";
    o.algorithms = {JwtAlg::kRS256, JwtAlg::kES256, JwtAlg::kHS256};
    o.leeway_seconds = 30;
    o.max_token_bytes = 8192;
    return new JwtVerifier(o, std::move(keys));
  }();
  return *v;
}

void CheckVerified(const Result<VerifiedToken>& r) {
  if (!r.ok()) {
    Check(r.status().code() == StatusCode::kUnauthenticated, "a refusal is always Unauthenticated");
    return;
  }
  Check(!r->username.empty(), "a verified token has a username");
  for (const auto& g : r->groups) Check(!g.empty() && g.front() != '/', "groups are normalized");
  Check(r->expires_at.has_value() && *r->expires_at > kNow - std::chrono::seconds(30),
        "exp was checked");
}

void CheckBase64(std::string_view s) {
  // Strict decoding means one string per byte sequence: decode(s) == d implies encode(d) == s.
  if (auto d = Base64UrlDecode(s))
    Check(Base64UrlEncode(*d) == s, "base64url decoding is canonical");
}

}  // namespace

void FuzzJwtOne(const uint8_t* data, size_t size) {
  if (size == 0) return;
  const char mode = static_cast<char>(data[0]);
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (mode) {
    case 'S': {
      size_t nl = in.find('\n');
      std::string header(in.substr(0, nl));
      std::string payload(nl == std::string_view::npos ? "" : in.substr(nl + 1));
      std::string input = Base64UrlEncode(header) + "." + Base64UrlEncode(payload);
      unsigned char mac[EVP_MAX_MD_SIZE];
      unsigned int len = 0;
      HMAC(EVP_sha256(), kSecret.data(), static_cast<int>(kSecret.size()),
           reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
      std::string token =
          input + "." + Base64UrlEncode(std::string_view(reinterpret_cast<char*>(mac), len));
      CheckVerified(Verifier().Verify(token, kNow));
      break;
    }
    case 'J': {
      auto keys = ParseJwks(in, "fuzz");
      if (keys.ok()) Check(!keys->empty(), "a parsed JWKS has keys");
      break;
    }
    case 'P': {
      auto keys = LoadPemKeys(in, "", "fuzz");
      if (keys.ok()) Check(!keys->empty(), "a parsed PEM has keys");
      break;
    }
    case 'A': {
      auto cfg = ParseAuthConfig(in, "AUTH.yaml");
      if (cfg.ok())
        Check(!cfg->token.issuer.empty() && !cfg->token.algorithms.empty(),
              "a parsed AUTH.yaml is complete");
      else
        Check(cfg.status().message().rfind("AUTH.yaml", 0) == 0, "AUTH.yaml errors name the file");
      break;
    }
    default: {
      CheckVerified(Verifier().Verify(in, kNow));
      size_t start = 0;
      for (size_t i = 0; i <= in.size(); ++i) {
        if (i == in.size() || in[i] == '.') {
          CheckBase64(in.substr(start, i - start));
          start = i + 1;
        }
      }
      break;
    }
  }
}

}  // namespace vaultd::orchestrator
