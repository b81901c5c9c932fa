#include "vaultd/orchestrator/jwt.h"

#include <gtest/gtest.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "jwt_test_tokens.h"

namespace vaultd::orchestrator {
namespace {

using nlohmann::json;
using testing::GenerateEc;
using testing::GenerateRsa;
using testing::Jwk;
using testing::MintAsym;
using testing::MintHmac;
using testing::PublicPem;
using testing::TestKey;

constexpr int64_t kNow = 1'800'000'000;
const WallTime kNowTime{std::chrono::seconds(kNow)};
const std::string kSecret = "0123456789abcdef0123456789abcdef-shared";

// Keys are slow-ish to generate; make them once for the whole suite.
struct Keys {
  TestKey rsa = GenerateRsa();
  TestKey rsa2 = GenerateRsa();
  TestKey ec = GenerateEc();
};
const Keys& K() {
  static Keys* keys = new Keys();
  return *keys;
}

json Claims(int64_t exp = kNow + 300) {
  return {{"iss", "https://idp.example/realms/corp"},
          {"aud", "vaultd"},
          {"exp", exp},
          {"iat", kNow - 10},
          {"sub", "u-1"},
          {"preferred_username", "alice"},
          {"groups", {"/engineering", "/corp/legal", "staff"}}};
}

JwtVerifierOptions Options(std::vector<JwtAlg> algs = {JwtAlg::kRS256, JwtAlg::kES256}) {
  JwtVerifierOptions o;
  o.issuer = "https://idp.example/realms/corp";
  o.audience = "vaultd";
  o.algorithms = std::move(algs);
  o.leeway_seconds = 30;
  return o;
}

std::vector<JwtKeyPtr> AsymKeys() {
  json jwks = {{"keys", {Jwk(K().rsa.get(), "rsa-1"), Jwk(K().ec.get(), "ec-1")}}};
  auto keys = ParseJwks(jwks.dump(), "test-jwks");
  EXPECT_TRUE(keys.ok()) << keys.status().ToString();
  return *keys;
}

JwtVerifier Verifier(std::vector<JwtAlg> algs = {JwtAlg::kRS256, JwtAlg::kES256}) {
  return JwtVerifier(Options(std::move(algs)), AsymKeys());
}

std::string Rs(const json& claims, const std::string& kid = "rsa-1") {
  json h = {{"alg", "RS256"}, {"typ", "JWT"}};
  if (!kid.empty()) h["kid"] = kid;
  return MintAsym(K().rsa.get(), h, claims);
}

void ExpectRejected(const JwtVerifier& v, const std::string& token,
                    const std::string& why_contains) {
  auto r = v.Verify(token, kNowTime);
  ASSERT_FALSE(r.ok()) << "accepted a token that should fail: " << why_contains;
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(r.status().message().find(why_contains), std::string::npos) << r.status().message();
}

TEST(Base64Url, DecodesCanonicalAndRejectsEverythingElse) {
  EXPECT_EQ(Base64UrlDecode("").value(), "");
  EXPECT_EQ(Base64UrlDecode("Zg").value(), "f");
  EXPECT_EQ(Base64UrlDecode("Zm8").value(), "fo");
  EXPECT_EQ(Base64UrlDecode("Zm9v").value(), "foo");
  EXPECT_EQ(Base64UrlDecode("-_8").value(), "\xfb\xff");
  EXPECT_FALSE(Base64UrlDecode("Zg=="));    // padding
  EXPECT_FALSE(Base64UrlDecode("Zm9v+A"));  // '+' is base64, not base64url
  EXPECT_FALSE(Base64UrlDecode("Zm9v/A"));
  EXPECT_FALSE(Base64UrlDecode("Zm9vY"));  // length 1 mod 4
  EXPECT_FALSE(Base64UrlDecode("Zh"));     // non-zero trailing bits: "Zg" is the canonical form
  EXPECT_FALSE(Base64UrlDecode("Zm 9v"));
  EXPECT_FALSE(Base64UrlDecode(std::string("Zm\0v", 4)));
}

TEST(Base64Url, RoundTripsRandomBytes) {
  std::random_device rd;
  const unsigned seed = rd();
  std::mt19937 rng(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  for (int i = 0; i < 500; ++i) {
    std::string bytes(rng() % 70, '\0');
    for (auto& c : bytes) c = static_cast<char>(rng());
    auto enc = Base64UrlEncode(bytes);
    EXPECT_EQ(enc.find('='), std::string::npos);
    ASSERT_EQ(Base64UrlDecode(enc).value(), bytes);
  }
}

TEST(JwtVerify, AcceptsRs256AndReturnsIdentity) {
  auto v = Verifier();
  auto r = v.Verify(Rs(Claims()), kNowTime);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->username, "alice");
  EXPECT_EQ(r->subject, "u-1");
  EXPECT_EQ(r->groups, (std::vector<std::string>{"engineering", "corp/legal", "staff"}));
  EXPECT_EQ(r->alg, "RS256");
  EXPECT_EQ(r->kid, "rsa-1");
  EXPECT_EQ(r->expires_at, WallTime(std::chrono::seconds(kNow + 300)));
}

TEST(JwtVerify, AcceptsEs256WithRawSignature) {
  auto v = Verifier();
  std::string t = MintAsym(K().ec.get(), {{"alg", "ES256"}, {"kid", "ec-1"}}, Claims());
  auto r = v.Verify(t, kNowTime);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->alg, "ES256");
  // A DER-encoded signature (what OpenSSL produces natively) is not a JWS ES256 signature.
  std::string input = t.substr(0, t.rfind('.'));
  std::string der = testing::SignDer(K().ec.get(), input);
  ExpectRejected(v, input + "." + Base64UrlEncode(der), "bad signature");
}

TEST(JwtVerify, RejectsEs256WithHighS) {
  // (R, n - S) verifies as well as (R, S); only the low-S form is accepted, so a token has one
  // encoding.
  auto v = Verifier();
  std::string t = MintAsym(K().ec.get(), {{"alg", "ES256"}, {"kid", "ec-1"}}, Claims());
  ASSERT_TRUE(v.Verify(t, kNowTime).ok());
  std::string input = t.substr(0, t.rfind('.'));
  auto raw = Base64UrlDecode(t.substr(t.rfind('.') + 1));
  ASSERT_TRUE(raw.has_value());
  ASSERT_FALSE(testing::IsHighS(*raw));
  std::string high = testing::FlipEcdsaS(*raw);
  ASSERT_TRUE(testing::IsHighS(high));
  ExpectRejected(v, input + "." + Base64UrlEncode(high), "bad signature");
}

TEST(JwtVerify, RejectsAlgNone) {
  auto v = Verifier();
  std::string input = testing::SigningInput({{"alg", "none"}}, Claims());
  ExpectRejected(v, input + ".", "unsigned");
  ExpectRejected(v, input + ".AAAA", "not allowed");
  ExpectRejected(v, testing::SigningInput({{"alg", "None"}}, Claims()) + ".AAAA", "not allowed");
}

TEST(JwtVerify, RejectsHs256SignedWithThePublicKey) {
  std::string pem = PublicPem(K().rsa.get());
  std::string forged = MintHmac(pem, {{"alg", "HS256"}, {"kid", "rsa-1"}}, Claims());
  std::string forged_nokid = MintHmac(pem, {{"alg", "HS256"}}, Claims());
  // HS256 not allowed at all.
  ExpectRejected(Verifier(), forged, "not allowed");
  // HS256 allowed with a real shared secret: the RSA key never becomes an HMAC key.
  auto keys = AsymKeys();
  keys.push_back(MakeHmacKey(kSecret, "").value());
  JwtVerifier v(Options({JwtAlg::kRS256, JwtAlg::kES256, JwtAlg::kHS256}), keys);
  ExpectRejected(v, forged, "is not a HS256 key");
  ExpectRejected(v, forged_nokid, "bad signature");
  // The genuine shared-secret token passes.
  auto ok = v.Verify(MintHmac(kSecret, {{"alg", "HS256"}}, Claims()), kNowTime);
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
}

TEST(JwtVerify, RejectsKeyOfTheWrongType) {
  auto v = Verifier();
  // An RS256 token that names the EC key.
  ExpectRejected(v, Rs(Claims(), "ec-1"), "is not a RS256 key");
  // An ES256 token signed by the EC key but naming the RSA kid.
  ExpectRejected(v, MintAsym(K().ec.get(), {{"alg", "ES256"}, {"kid", "rsa-1"}}, Claims()),
                 "is not a ES256 key");
}

TEST(JwtVerify, TimeClaimsWithLeeway) {
  auto v = Verifier();  // leeway 30 s
  ExpectRejected(v, Rs(Claims(kNow - 30)), "expired");
  EXPECT_TRUE(v.Verify(Rs(Claims(kNow - 29)), kNowTime).ok());
  auto nbf = Claims();
  nbf["nbf"] = kNow + 31;
  ExpectRejected(v, Rs(nbf), "not valid before");
  nbf["nbf"] = kNow + 30;
  EXPECT_TRUE(v.Verify(Rs(nbf), kNowTime).ok());
  auto iat = Claims();
  iat["iat"] = kNow + 3600;
  ExpectRejected(v, Rs(iat), "future");
  auto noexp = Claims();
  noexp.erase("exp");
  ExpectRejected(v, Rs(noexp), "no \"exp\"");
  auto strexp = Claims();
  strexp["exp"] = "2099-01-01";
  ExpectRejected(v, Rs(strexp), "not a number");
  auto fexp = Claims();
  fexp["exp"] = 1e300;
  ExpectRejected(v, Rs(fexp), "not a number");
}

TEST(JwtVerify, IssuerAndAudienceMustMatchExactly) {
  auto v = Verifier();
  auto c = Claims();
  c["iss"] = "https://idp.example/realms/corp/";
  ExpectRejected(v, Rs(c), "issuer");
  c = Claims();
  c.erase("iss");
  ExpectRejected(v, Rs(c), "issuer");
  c = Claims();
  c["aud"] = "vaultd-other";
  ExpectRejected(v, Rs(c), "audience");
  c["aud"] = json::array({"account", "vaultd"});
  EXPECT_TRUE(v.Verify(Rs(c), kNowTime).ok());
  c["aud"] = json::array({"account"});
  ExpectRejected(v, Rs(c), "audience");
  c["aud"] = json::array({"vaultd", 7});
  ExpectRejected(v, Rs(c), "non-string");
  c.erase("aud");
  ExpectRejected(v, Rs(c), "audience");
}

TEST(JwtVerify, RejectsTamperingAndMalformedTokens) {
  auto v = Verifier();
  std::string good = Rs(Claims());
  auto parts_at = [&](const std::string& t) {
    size_t a = t.find('.'), b = t.rfind('.');
    return std::make_pair(a, b);
  };
  auto [a, b] = parts_at(good);
  auto evil = Claims();
  evil["groups"] = {"admins"};
  std::string tampered = good.substr(0, a + 1) + Base64UrlEncode(evil.dump()) + good.substr(b);
  ExpectRejected(v, tampered, "bad signature");
  std::string flipped = good;
  flipped[b + 5] = flipped[b + 5] == 'A' ? 'B' : 'A';
  ExpectRejected(v, flipped, "signature");
  ExpectRejected(v, "", "empty");
  ExpectRejected(v, "abc", "three");
  ExpectRejected(v, good + ".x", "three");
  ExpectRejected(v, "!!!." + good.substr(a + 1), "base64url");
  ExpectRejected(v, Base64UrlEncode("{not json") + "." + good.substr(a + 1), "JSON");
  ExpectRejected(v, Base64UrlEncode("[1,2]") + "." + good.substr(a + 1), "JSON");
  ExpectRejected(v, Base64UrlEncode(R"({"alg":"RS256","alg":"none"})") + "." + good.substr(a + 1),
                 "duplicate");
  std::string padded = good.substr(0, b) + "." + good.substr(b + 1) + "==";
  ExpectRejected(v, padded, "base64url");
  // A valid signature over a payload that is not JSON.
  std::string input =
      Base64UrlEncode(R"({"alg":"RS256","kid":"rsa-1"})") + "." + Base64UrlEncode("nope");
  ExpectRejected(v, input + "." + Base64UrlEncode(testing::SignRaw(K().rsa.get(), input)),
                 "payload");
  // Duplicate claims inside a correctly signed payload.
  std::string dup = Base64UrlEncode(R"({"alg":"RS256","kid":"rsa-1"})") + "." +
                    Base64UrlEncode(R"({"iss":"x","iss":"https://idp.example/realms/corp"})");
  ExpectRejected(v, dup + "." + Base64UrlEncode(testing::SignRaw(K().rsa.get(), dup)), "duplicate");
  ExpectRejected(
      v, MintAsym(K().rsa.get(), {{"alg", "RS256"}, {"kid", "rsa-1"}, {"crit", {"exp"}}}, Claims()),
      "crit");
  ExpectRejected(
      v, MintAsym(K().rsa.get(), {{"alg", "RS256"}, {"kid", "rsa-1"}, {"typ", "JWE"}}, Claims()),
      "typ");
  ExpectRejected(v, MintAsym(K().rsa.get(), {{"kid", "rsa-1"}}, Claims()), "no \"alg\"");
}

TEST(JwtVerify, KidSelection) {
  auto v = Verifier();
  ExpectRejected(v, Rs(Claims(), "rsa-404"), "unknown kid");
  // No kid: exactly one RS256 key is configured (the other is EC), so it is chosen.
  EXPECT_TRUE(v.Verify(Rs(Claims(), ""), kNowTime).ok());
  // Two RSA keys and no kid: ambiguous.
  json jwks = {{"keys", {Jwk(K().rsa.get(), "a"), Jwk(K().rsa2.get(), "b")}}};
  JwtVerifier two(Options(), ParseJwks(jwks.dump(), "two").value());
  ExpectRejected(two, Rs(Claims(), ""), "2 RS256 keys fit");
  EXPECT_TRUE(two.Verify(Rs(Claims(), "a"), kNowTime).ok());
  // Right kid, wrong key material.
  ExpectRejected(two, Rs(Claims(), "b"), "bad signature");
}

TEST(JwtVerify, OversizedTokenIsRejectedBeforeParsing) {
  auto v = Verifier();
  auto c = Claims();
  c["padding"] = std::string(20000, 'x');
  ExpectRejected(v, Rs(c), "limit");
}

TEST(JwtVerify, GroupsAndUsernameClaims) {
  auto v = Verifier();
  auto c = Claims();
  // The default keeps nested paths distinct: "/a/b/c" must not become "c".
  c["groups"] = {"/a/b/c", "c", "/", "", "/x"};
  auto r = v.Verify(Rs(c), kNowTime);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->groups, (std::vector<std::string>{"a/b/c", "c", "x"}));

  auto last_opts = Options();
  last_opts.group_path = GroupPath::kLast;
  JwtVerifier last(last_opts, AsymKeys());
  c["groups"] = {"/a/b/c", "/a/b/c/", "c", "/", "", "/x"};
  r = last.Verify(Rs(c), kNowTime);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->groups, (std::vector<std::string>{"c", "x"}));

  auto o = Options();
  o.group_path = GroupPath::kFull;
  o.groups_claim = "roles";
  o.username_claim = "email";
  JwtVerifier full(o, AsymKeys());
  c = Claims();
  c["roles"] = {"/corp/legal", "ops"};
  c["email"] = "alice@example.com";
  r = full.Verify(Rs(c), kNowTime);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->groups, (std::vector<std::string>{"corp/legal", "ops"}));
  EXPECT_EQ(r->username, "alice@example.com");

  c = Claims();
  c.erase("groups");
  r = v.Verify(Rs(c), kNowTime);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->groups.empty());
  c["groups"] = "engineering";
  ExpectRejected(v, Rs(c), "not an array");
  c["groups"] = {"a", 1};
  ExpectRejected(v, Rs(c), "non-string");
  c = Claims();
  c.erase("preferred_username");
  ExpectRejected(v, Rs(c), "username claim");
  c["preferred_username"] = "";
  ExpectRejected(v, Rs(c), "username claim");
  // A hostile username is not the verifier's business (the policy refuses its personal folder).
  c["preferred_username"] = "../x";
  EXPECT_EQ(v.Verify(Rs(c), kNowTime)->username, "../x");
}

TEST(JwtKeys, JwksSkipsEncryptionKeysAndRejectsBadOnes) {
  auto enc = Jwk(K().rsa2.get(), "enc-1");
  enc["use"] = "enc";
  json jwks = {{"keys", {Jwk(K().rsa.get(), "r"), enc, {{"kty", "oct"}, {"k", "AAAA"}}}}};
  auto keys = ParseJwks(jwks.dump(), "j");
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(keys->size(), 1u);

  json dup = {{"keys", {Jwk(K().rsa.get(), "same"), Jwk(K().ec.get(), "same")}}};
  EXPECT_NE(ParseJwks(dup.dump(), "j").status().message().find("duplicate kid"), std::string::npos);

  auto bad_point = Jwk(K().ec.get(), "e");
  std::string x = Base64UrlDecode(bad_point["x"].get<std::string>()).value();
  x[5] ^= 1;
  bad_point["x"] = Base64UrlEncode(x);
  EXPECT_FALSE(ParseJwks(json({{"keys", {bad_point}}}).dump(), "j").ok());

  auto small = GenerateRsa(1024);
  EXPECT_NE(ParseJwks(json({{"keys", {Jwk(small.get(), "s")}}}).dump(), "j")
                .status()
                .message()
                .find("2048"),
            std::string::npos);
  EXPECT_FALSE(ParseJwks("{\"keys\": []}", "j").ok());
  EXPECT_FALSE(ParseJwks("not json", "j").ok());

  // A JWKS "alg" pins the key to that algorithm.
  auto pinned = Jwk(K().rsa.get(), "p");
  pinned["alg"] = "ES256";
  EXPECT_FALSE(ParseJwks(json({{"keys", {pinned}}}).dump(), "j").ok());
}

TEST(JwtKeys, PemPublicKeyAndCertificate) {
  auto keys = LoadPemKeys(PublicPem(K().ec.get()), "ec", "pem");
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(keys->size(), 1u);

  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, K().rsa.get());
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("idp"), -1, -1, 0);
  X509_set_issuer_name(cert, X509_get_subject_name(cert));
  X509_sign(cert, K().rsa.get(), EVP_sha256());
  std::string cert_pem = testing::WritePem([&](BIO* b) { PEM_write_bio_X509(b, cert); });
  X509_free(cert);
  auto from_cert = LoadPemKeys(cert_pem, "", "cert");
  ASSERT_TRUE(from_cert.ok()) << from_cert.status().ToString();
  JwtVerifier v(Options(), *from_cert);
  EXPECT_TRUE(v.Verify(Rs(Claims(), ""), kNowTime).ok());

  EXPECT_NE(LoadPemKeys(testing::PrivatePem(K().rsa.get()), "", "priv")
                .status()
                .message()
                .find("private key"),
            std::string::npos);
  EXPECT_FALSE(LoadPemKeys("garbage", "", "g").ok());
  auto p384 = GenerateEc("P-384");
  EXPECT_NE(LoadPemKeys(PublicPem(p384.get()), "", "p384").status().message().find("P-256"),
            std::string::npos);
  EXPECT_FALSE(MakeHmacKey("short", "").ok());
}

class AuthConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("jwt-config-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    auto p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  std::filesystem::path dir_;
};

TEST_F(AuthConfigTest, LoadsAValidConfigWithRelativePaths) {
  Write("idp.pem", PublicPem(K().rsa.get()));
  Write("jwks.json", json({{"keys", {Jwk(K().ec.get(), "ec-1")}}}).dump());
  Write("hs.secret", kSecret + "\n");
  std::string path = Write("AUTH.yaml", R"(issuer: https://idp.example/realms/corp
audience: vaultd
algorithms: [RS256, ES256, HS256]
keys:
  - pem: idp.pem
    kid: rsa-1
  - jwks: jwks.json
username_claim: preferred_username
groups_claim: groups
group_path: last
leeway_seconds: 30
hs256_secret_file: hs.secret
admin_key_file: admin.key
)");
  auto cfg = LoadAuthConfigFile(path);
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->keys.size(), 2u);
  EXPECT_EQ(cfg->keys[0].path, (dir_ / "idp.pem").string());
  EXPECT_EQ(cfg->admin_key_file, (dir_ / "admin.key").string());
  auto v = JwtVerifier::FromConfig(*cfg);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ((*v)->key_count(), 3u);
  EXPECT_TRUE((*v)->Verify(Rs(Claims()), kNowTime).ok());
  EXPECT_TRUE((*v)->Verify(MintHmac(kSecret, {{"alg", "HS256"}}, Claims()), kNowTime).ok());
}

TEST_F(AuthConfigTest, ErrorsNameFileAndLine) {
  auto err = [&](const std::string& yaml) {
    auto r = ParseAuthConfig(yaml, "AUTH.yaml");
    EXPECT_FALSE(r.ok());
    return r.status().message();
  };
  const std::string base = "issuer: i\naudience: a\nalgorithms: [RS256]\nkeys: {pem: k.pem}\n";
  EXPECT_EQ(err(base + "isuer: x\n"),
            "AUTH.yaml:5: unknown key 'isuer' (expected issuer, audience, algorithms, keys, "
            "username_claim, groups_claim, group_path, leeway_seconds, max_token_bytes, "
            "token_cache_entries, hs256_secret_file, hs256_kid, admin_key_file)");
  EXPECT_EQ(err(base + "group_path: middle\n"),
            "AUTH.yaml:5: 'group_path' must be 'last' or 'full', got 'middle'");
  EXPECT_EQ(err(base + "leeway_seconds: lots\n"),
            "AUTH.yaml:5: 'leeway_seconds' must be an integer, got 'lots'");
  EXPECT_EQ(err("issuer: i\naudience: a\nalgorithms: [RS256, none]\nkeys: {pem: k}\n"),
            "AUTH.yaml:3: unsupported algorithm 'none' (allowed: RS256, ES256, HS256)");
  EXPECT_EQ(err("issuer: i\naudience: a\nalgorithms: [HS256]\n"),
            "AUTH.yaml:3: HS256 is allowed but no 'hs256_secret_file' is configured");
  EXPECT_EQ(err(base + "issuer: j\n"), "AUTH.yaml:5: duplicate key 'issuer'");
  EXPECT_EQ(err("audience: a\nalgorithms: [RS256]\nkeys: {pem: k}\n"),
            "AUTH.yaml:1: missing 'issuer'");
  EXPECT_EQ(err("issuer: i\naudience: a\nalgorithms: [RS256]\nkeys:\n  - pem: a\n    jwks: b\n"),
            "AUTH.yaml:6: a key entry has exactly one of 'pem' or 'jwks'");
  EXPECT_NE(err("issuer: [unclosed\n").find("AUTH.yaml:"), std::string::npos);
  // A key entry's keys are checked for repeats too (a second kid used to win silently).
  EXPECT_EQ(err("issuer: i\naudience: a\nalgorithms: [RS256]\nkeys:\n  - pem: a\n    kid: one\n    "
                "kid: two\n"),
            "AUTH.yaml:7: duplicate key 'kid' in a key entry");
  EXPECT_EQ(err("issuer: &i i\naudience: *i\nalgorithms: [RS256]\nkeys: {pem: k}\n"),
            "AUTH.yaml:2: YAML alias: aliases (*name) are not allowed here; write the value out");
}

TEST_F(AuthConfigTest, AlgorithmWithoutAFittingKeyIsAnError) {
  Write("idp.pem", PublicPem(K().rsa.get()));
  auto cfg =
      ParseAuthConfig("issuer: i\naudience: a\nalgorithms: [RS256, ES256]\nkeys: {pem: idp.pem}\n",
                      (dir_ / "AUTH.yaml").string());
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  auto v = JwtVerifier::FromConfig(*cfg);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("ES256 but no configured key"), std::string::npos);
}

TEST(VerifiedTokenCache, HitsHonourExpiryAndCapacity) {
  auto v = Verifier();
  VerifiedTokenCache cache(v, 2);
  std::string t1 = Rs(Claims(kNow + 100));
  ASSERT_TRUE(cache.Verify(t1, kNowTime).ok());
  ASSERT_TRUE(cache.Verify(t1, kNowTime).ok());
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 1u);
  // Past exp + leeway the cached entry no longer counts.
  auto late = kNowTime + std::chrono::seconds(100 + 30);
  auto r = cache.Verify(t1, late);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("expired"), std::string::npos);
  // Failures are never cached; capacity bounds the size.
  EXPECT_FALSE(cache.Verify("a.b.c", kNowTime).ok());
  for (int i = 0; i < 5; ++i) {
    auto c = Claims(kNow + 200 + i);
    ASSERT_TRUE(cache.Verify(Rs(c), kNowTime).ok());
  }
  EXPECT_EQ(cache.size(), 2u);
}

}  // namespace
}  // namespace vaultd::orchestrator
