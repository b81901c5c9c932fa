// JWT verification for the orchestrator service: compact JWS only, strict
// parsing, OpenSSL EVP for the signatures. What a token may be is decided by
// AUTH.yaml (see docs/orchestrator-service.md): issuer, audience, the
// allow-list of algorithms, and the keys (PEM public keys or certificates,
// JWKS files, an optional HS256 shared secret).
//
// Nothing here trusts the token's header to choose a key type: the algorithm
// must be on the allow-list AND the selected key must be of the type the
// algorithm needs, so "HS256 signed with the RSA public key" and "alg: none"
// fail whatever the configuration.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vaultd/common/clock.h"
#include "vaultd/common/status.h"

namespace vaultd::orchestrator {

enum class JwtAlg { kRS256, kES256, kHS256 };
std::string_view JwtAlgName(JwtAlg alg);
std::optional<JwtAlg> ParseJwtAlg(std::string_view name);

// How Keycloak-style full-path groups ("/parent/child") become policy group names.
enum class GroupPath {
  // "/parent/child" -> "child". Opt-in only: two subgroups with the same last
  // segment anywhere in the realm ("/corp/legal", "/partners/acme/legal") collide.
  kLast,
  // "/parent/child" -> "parent/child", "/engineering" -> "engineering" (default:
  // only the leading '/' is removed, so nested groups stay distinct).
  kFull,
};

// Where a key comes from in AUTH.yaml.
struct KeySource {
  enum class Kind { kPem, kJwks } kind = Kind::kPem;
  std::string path;  // absolute, or resolved against the AUTH.yaml directory
  std::string kid;   // PEM only: the kid tokens must name (empty = none)
  int line = 0;      // where it was declared, for error messages
};

// What a token must look like (the claim part of AUTH.yaml).
struct JwtVerifierOptions {
  std::string issuer;
  std::string audience;
  std::vector<JwtAlg> algorithms;
  std::string username_claim = "preferred_username";
  std::string groups_claim = "groups";
  GroupPath group_path = GroupPath::kFull;
  int64_t leeway_seconds = 60;
  size_t max_token_bytes = 16 * 1024;
};

// AUTH.yaml, validated.
struct AuthConfig {
  std::string source;  // the AUTH.yaml path (for messages)
  JwtVerifierOptions token;
  std::vector<KeySource> keys;
  std::string hs256_secret_file;       // empty = HS256 impossible
  std::string hs256_kid;               // optional kid of the shared secret
  std::string admin_key_file;          // empty = POST /v1/evaluate disabled
  size_t token_cache_entries = 10000;  // 0 disables the verified-token cache
};

// Parses and validates AUTH.yaml; errors read "AUTH.yaml:12: unknown key 'isuer'".
// Relative key/secret paths are resolved against the directory of `path`.
Result<AuthConfig> LoadAuthConfigFile(const std::string& path);

// Reads a secret file (HS256 secret, admin key) of at most `max_bytes`, without
// the trailing newline an editor adds: it is not part of the secret.
Result<std::string> ReadSecretFile(const std::string& path, uint64_t max_bytes);
Result<AuthConfig> ParseAuthConfig(std::string_view yaml, const std::string& path);

// One verification key.
class JwtKey;
using JwtKeyPtr = std::shared_ptr<const JwtKey>;

// A PEM file holding one or more public keys ("PUBLIC KEY", "RSA PUBLIC KEY")
// or certificates; every key gets `kid`. RSA keys must have >= 2048 bits, EC
// keys must be on P-256.
Result<std::vector<JwtKeyPtr>> LoadPemKeys(std::string_view pem, const std::string& kid,
                                           const std::string& what);
// A JWKS document ({"keys": [...]}): RSA (n, e) and EC P-256 (x, y) signature
// keys. Keys marked "use": "enc" and unsupported key types are skipped; a
// document with no usable key, a duplicate kid or a malformed key is an error.
Result<std::vector<JwtKeyPtr>> ParseJwks(std::string_view json, const std::string& what);
// An HS256 shared secret (>= 32 bytes).
Result<JwtKeyPtr> MakeHmacKey(std::string_view secret, const std::string& kid);

// The identity a verified token carries.
struct VerifiedToken {
  std::string subject;              // "sub", may be empty
  std::string username;             // the configured username claim
  std::vector<std::string> groups;  // normalized, de-duplicated, in token order
  std::optional<WallTime> expires_at;
  std::optional<WallTime> not_before;
  std::string alg;
  std::string kid;
};

// Verifies compact JWS tokens. Immutable after construction; thread-safe.
class JwtVerifier {
 public:
  JwtVerifier(JwtVerifierOptions options, std::vector<JwtKeyPtr> keys);
  ~JwtVerifier();

  // Loads every key named by `config`.
  static Result<std::unique_ptr<JwtVerifier>> FromConfig(const AuthConfig& config);

  // Unauthenticated with a reason (for logs, never for the client) on any failure.
  Result<VerifiedToken> Verify(std::string_view token, WallTime now) const;

  const JwtVerifierOptions& options() const { return options_; }
  size_t key_count() const { return keys_.size(); }

 private:
  JwtVerifierOptions options_;
  std::vector<JwtKeyPtr> keys_;
};

// A bounded LRU of verified tokens keyed by the token's SHA-256, so the
// per-request signature check does not dominate. A hit is re-checked against
// exp/nbf at `now`; entries past exp are dropped. Thread-safe.
class VerifiedTokenCache {
 public:
  VerifiedTokenCache(const JwtVerifier& verifier, size_t capacity);
  ~VerifiedTokenCache();

  Result<VerifiedToken> Verify(std::string_view token, WallTime now);

  uint64_t hits() const;
  uint64_t misses() const;
  size_t size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vaultd::orchestrator
