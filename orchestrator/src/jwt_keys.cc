// Verification keys: PEM public keys and certificates, JWKS documents, the
// HS256 shared secret, and the signature checks themselves (OpenSSL EVP).
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstring>
#include <set>

#include "jwt_key.h"
#include "vaultd/common/base64.h"

namespace vaultd::orchestrator {
namespace {

constexpr int kMinRsaBits = 2048;
constexpr size_t kMinHmacSecretBytes = 32;

// unique_ptr deleter calling an OpenSSL free function.
template <auto Free>
struct Freer {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
using BioPtr = std::unique_ptr<BIO, Freer<BIO_free>>;
using X509Ptr = std::unique_ptr<X509, Freer<X509_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Freer<BN_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Freer<OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Freer<OSSL_PARAM_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Freer<EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Freer<EVP_MD_CTX_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Freer<ECDSA_SIG_free>>;

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// Checks the key is one we can use and wraps it.
Result<std::shared_ptr<JwtKey>> WrapPublicKey(EvpPkeyPtr pkey, const std::string& kid,
                                              const std::string& what) {
  auto key = std::make_shared<JwtKey>();
  key->kid = kid;
  switch (EVP_PKEY_get_base_id(pkey.get())) {
    case EVP_PKEY_RSA: {
      int bits = EVP_PKEY_get_bits(pkey.get());
      if (bits < kMinRsaBits)
        return Status::InvalidArgument(what + ": RSA key has " + std::to_string(bits) +
                                       " bits; at least " + std::to_string(kMinRsaBits) +
                                       " are required");
      key->type = JwtKey::Type::kRsa;
      break;
    }
    case EVP_PKEY_EC: {
      char group[64] = {0};
      size_t len = 0;
      if (!EVP_PKEY_get_utf8_string_param(pkey.get(), OSSL_PKEY_PARAM_GROUP_NAME, group,
                                          sizeof group, &len) ||
          std::string_view(group) != "prime256v1")
        return Status::InvalidArgument(what + ": EC key is not on curve P-256 (" +
                                       std::string(group) + "); ES256 needs P-256");
      key->type = JwtKey::Type::kEcP256;
      break;
    }
    default:
      return Status::InvalidArgument(what + ": unsupported key type (want RSA or EC P-256)");
  }
  key->pkey = std::move(pkey);
  return key;
}

Result<std::string> B64Field(const nlohmann::json& jwk, const char* name, const std::string& what) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string())
    return Status::InvalidArgument(what + ": missing string field \"" + name + "\"");
  auto bytes = Base64UrlDecode(it->get<std::string>());
  if (!bytes || bytes->empty())
    return Status::InvalidArgument(what + ": field \"" + name + "\" is not valid base64url");
  return *bytes;
}

Result<EvpPkeyPtr> FromData(const char* type, OSSL_PARAM_BLD* bld, const std::string& what) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0)
    return Status::InvalidArgument(what + ": cannot build key: " + OpenSslError());
  return EvpPkeyPtr(raw);
}

Result<EvpPkeyPtr> RsaFromJwk(const nlohmann::json& jwk, const std::string& what) {
  VAULTD_ASSIGN_OR_RETURN(std::string n, B64Field(jwk, "n", what));
  VAULTD_ASSIGN_OR_RETURN(std::string e, B64Field(jwk, "e", what));
  BnPtr bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), static_cast<int>(n.size()),
                       nullptr));
  BnPtr bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), static_cast<int>(e.size()),
                       nullptr));
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()))
    return Status::Internal(what + ": " + OpenSslError());
  return FromData("RSA", bld.get(), what);
}

Result<EvpPkeyPtr> EcFromJwk(const nlohmann::json& jwk, const std::string& what) {
  auto crv = jwk.find("crv");
  if (crv == jwk.end() || !crv->is_string() || crv->get<std::string>() != "P-256")
    return Status::InvalidArgument(what + ": EC key must have \"crv\": \"P-256\"");
  VAULTD_ASSIGN_OR_RETURN(std::string x, B64Field(jwk, "x", what));
  VAULTD_ASSIGN_OR_RETURN(std::string y, B64Field(jwk, "y", what));
  if (x.size() != 32 || y.size() != 32)
    return Status::InvalidArgument(what + ": P-256 coordinates must be 32 bytes each");
  std::string point = "\x04" + x + y;  // uncompressed SEC1 point
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                        point.size()))
    return Status::Internal(what + ": " + OpenSslError());
  VAULTD_ASSIGN_OR_RETURN(EvpPkeyPtr pkey, FromData("EC", bld.get(), what));
  // fromdata does not prove the point is on the curve; a bogus point must not become a key.
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1)
    return Status::InvalidArgument(what + ": EC point is not on P-256");
  return pkey;
}

// floor(n / 2) for the P-256 group order n, big-endian.
constexpr unsigned char kP256HalfOrder[32] = {
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8};

// ES256 signatures in JWS are R||S (32 bytes each); EVP wants DER. (R, S) and
// (R, n - S) both verify, so a token could be re-signed into a second valid
// form without the key; only the low-S form (S <= n/2) is accepted, as
// libsecp256k1 does.
std::optional<std::string> RawEcdsaToDer(std::string_view raw) {
  if (raw.size() != 64) return std::nullopt;
  if (std::memcmp(raw.data() + 32, kP256HalfOrder, 32) > 0) return std::nullopt;
  EcdsaSigPtr sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr);
  if (!sig || !r || !s || !ECDSA_SIG_set0(sig.get(), r, s)) {
    BN_free(r);
    BN_free(s);
    return std::nullopt;
  }
  int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return std::nullopt;
  std::string der(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &p) != len) return std::nullopt;
  return der;
}

}  // namespace

bool JwtKey::Fits(JwtAlg a) const {
  if (alg && *alg != a) return false;
  switch (a) {
    case JwtAlg::kRS256:
      return type == Type::kRsa;
    case JwtAlg::kES256:
      return type == Type::kEcP256;
    case JwtAlg::kHS256:
      return type == Type::kHmac;
  }
  return false;
}

bool JwtKey::VerifySignature(JwtAlg a, std::string_view signing_input,
                             std::string_view signature) const {
  if (!Fits(a)) return false;
  if (a == JwtAlg::kHS256) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
              reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(),
              mac, &mac_len))
      return false;
    return signature.size() == mac_len && CRYPTO_memcmp(mac, signature.data(), mac_len) == 0;
  }
  std::string der;
  if (a == JwtAlg::kES256) {
    auto converted = RawEcdsaToDer(signature);
    if (!converted) return false;
    der = std::move(*converted);
    signature = der;
  } else if (a == JwtAlg::kRS256) {
    if (signature.size() != static_cast<size_t>(EVP_PKEY_get_size(pkey.get()))) return false;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  bool ok =
      ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey.get()) == 1 &&
      EVP_DigestVerify(
          ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
          reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
  ERR_clear_error();
  return ok;
}

Result<std::vector<JwtKeyPtr>> LoadPemKeys(std::string_view pem, const std::string& kid,
                                           const std::string& what) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Status::Internal(what + ": out of memory");
  std::vector<JwtKeyPtr> keys;
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) {
      ERR_clear_error();
      break;
    }
    std::string block = name;
    OPENSSL_free(name);
    OPENSSL_free(header);
    const unsigned char* p = data;
    EvpPkeyPtr pkey;
    if (block == "PUBLIC KEY") {
      pkey.reset(d2i_PUBKEY(nullptr, &p, len));
    } else if (block == "RSA PUBLIC KEY") {
      pkey.reset(d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, len));
    } else if (block == "CERTIFICATE") {
      X509Ptr cert(d2i_X509(nullptr, &p, len));
      if (cert) pkey.reset(X509_get_pubkey(cert.get()));
    } else {
      OPENSSL_free(data);
      if (block.find("PRIVATE") != std::string::npos)
        return Status::InvalidArgument(what +
                                       ": holds a private key; give the public key or certificate");
      continue;  // e.g. "EC PARAMETERS" before a key
    }
    OPENSSL_free(data);
    if (!pkey)
      return Status::InvalidArgument(what + ": cannot decode PEM block '" + block +
                                     "': " + OpenSslError());
    VAULTD_ASSIGN_OR_RETURN(std::shared_ptr<JwtKey> key, WrapPublicKey(std::move(pkey), kid, what));
    keys.push_back(std::move(key));
  }
  if (keys.empty())
    return Status::InvalidArgument(what + ": no PEM public key or certificate found");
  if (keys.size() > 1 && !kid.empty())
    return Status::InvalidArgument(what + ": holds " + std::to_string(keys.size()) +
                                   " keys but one kid; use a JWKS file for several kids");
  return keys;
}

Result<std::vector<JwtKeyPtr>> ParseJwks(std::string_view json, const std::string& what) {
  auto doc = ParseStrictJsonObject(json);
  if (!doc) return Status::InvalidArgument(what + ": not a JSON object (or duplicate keys)");
  auto it = doc->find("keys");
  if (it == doc->end() || !it->is_array())
    return Status::InvalidArgument(what + ": missing \"keys\" array");
  std::vector<JwtKeyPtr> keys;
  std::set<std::string> kids;
  size_t index = 0;
  for (const auto& jwk : *it) {
    std::string where = what + ": keys[" + std::to_string(index++) + "]";
    if (!jwk.is_object()) return Status::InvalidArgument(where + ": not an object");
    auto kty = jwk.find("kty");
    if (kty == jwk.end() || !kty->is_string())
      return Status::InvalidArgument(where + ": missing \"kty\"");
    if (auto use = jwk.find("use"); use != jwk.end()) {
      if (!use->is_string()) return Status::InvalidArgument(where + ": \"use\" is not a string");
      if (use->get<std::string>() != "sig")
        continue;  // encryption keys (Keycloak publishes RSA-OAEP ones)
    }
    std::optional<JwtAlg> alg;
    if (auto a = jwk.find("alg"); a != jwk.end()) {
      if (!a->is_string()) return Status::InvalidArgument(where + ": \"alg\" is not a string");
      alg = ParseJwtAlg(a->get<std::string>());
      if (!alg) continue;  // a key for an algorithm we never accept
    }
    std::string kid;
    if (auto k = jwk.find("kid"); k != jwk.end()) {
      if (!k->is_string()) return Status::InvalidArgument(where + ": \"kid\" is not a string");
      kid = k->get<std::string>();
    }
    EvpPkeyPtr pkey;
    const std::string type = kty->get<std::string>();
    if (type == "RSA") {
      VAULTD_ASSIGN_OR_RETURN(pkey, RsaFromJwk(jwk, where));
    } else if (type == "EC") {
      VAULTD_ASSIGN_OR_RETURN(pkey, EcFromJwk(jwk, where));
    } else {
      continue;  // "oct", "OKP": not verification keys we support
    }
    VAULTD_ASSIGN_OR_RETURN(std::shared_ptr<JwtKey> key,
                            WrapPublicKey(std::move(pkey), kid, where));
    if (alg) {
      if (!key->Fits(*alg))
        return Status::InvalidArgument(where + ": \"alg\" " + std::string(JwtAlgName(*alg)) +
                                       " does not match the key type");
      key->alg = alg;
    }
    if (!kid.empty() && !kids.insert(kid).second)
      return Status::InvalidArgument(where + ": duplicate kid '" + kid + "'");
    keys.push_back(std::move(key));
  }
  if (keys.empty())
    return Status::InvalidArgument(what + ": no usable RSA or EC P-256 signature key");
  return keys;
}

Result<JwtKeyPtr> MakeHmacKey(std::string_view secret, const std::string& kid) {
  if (secret.size() < kMinHmacSecretBytes)
    return Status::InvalidArgument("HS256 secret has " + std::to_string(secret.size()) +
                                   " bytes; at least " + std::to_string(kMinHmacSecretBytes) +
                                   " are required");
  auto key = std::make_shared<JwtKey>();
  key->type = JwtKey::Type::kHmac;
  key->kid = kid;
  key->secret = std::string(secret);
  return JwtKeyPtr(std::move(key));
}

}  // namespace vaultd::orchestrator
