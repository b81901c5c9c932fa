// The verification key of vaultd_jwt and the strict JSON reader its files share.
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "vaultd/orchestrator/jwt.h"

namespace vaultd::orchestrator {

struct EvpPkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyDeleter>;

class JwtKey {
 public:
  enum class Type { kRsa, kEcP256, kHmac };

  Type type = Type::kRsa;
  std::string kid;            // empty = none
  std::optional<JwtAlg> alg;  // JWKS "alg", when given: the only algorithm this key may verify
  EvpPkeyPtr pkey;            // kRsa, kEcP256
  std::string secret;         // kHmac

  // True when this key may verify `a` (type matches, and the JWKS "alg" if any).
  bool Fits(JwtAlg a) const;
  // Verifies `signature` (raw JWS bytes) over `signing_input`.
  bool VerifySignature(JwtAlg a, std::string_view signing_input, std::string_view signature) const;
};

// Parses JSON that must be an object and has no duplicate keys at any depth;
// nullopt otherwise. (Duplicate claims are a classic way to make two parsers
// disagree about what a token says.) Never throws.
std::optional<nlohmann::json> ParseStrictJsonObject(std::string_view text);
}  // namespace vaultd::orchestrator
