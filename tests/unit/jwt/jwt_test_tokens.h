// Test-only token minting: keys generated at test time with OpenSSL, tokens
// signed here so every test controls exactly what the verifier sees. Shared
// by the JWT unit tests, the service integration tests and the fuzz target.
#pragma once

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "vaultd/common/base64.h"
#include "vaultd/orchestrator/jwt.h"

namespace vaultd::testing {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using TestKey = std::unique_ptr<EVP_PKEY, PkeyFree>;

inline TestKey GenerateRsa(unsigned bits = 2048) {
  TestKey k(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)));
  if (!k) throw std::runtime_error("RSA keygen failed");
  return k;
}

inline TestKey GenerateEc(const char* curve = "P-256") {
  TestKey k(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
  if (!k) throw std::runtime_error("EC keygen failed");
  return k;
}

// Runs `write(bio)` on a memory BIO and returns what it wrote.
template <typename Write>
std::string WritePem(Write write) {
  BIO* bio = BIO_new(BIO_s_mem());
  write(bio);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

inline std::string PublicPem(EVP_PKEY* k) {
  return WritePem([&](BIO* b) { PEM_write_bio_PUBKEY(b, k); });
}

inline std::string PrivatePem(EVP_PKEY* k) {
  return WritePem(
      [&](BIO* b) { PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr); });
}

inline std::string BnBytes(EVP_PKEY* k, const char* param, int pad_to = 0) {
  BIGNUM* bn = nullptr;
  if (!EVP_PKEY_get_bn_param(k, param, &bn)) throw std::runtime_error("get_bn_param failed");
  int n = std::max(BN_num_bytes(bn), pad_to);
  std::string out(static_cast<size_t>(n), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), n);
  BN_free(bn);
  return out;
}

// The public JWK of a generated key.
inline nlohmann::json Jwk(EVP_PKEY* k, const std::string& kid) {
  using vaultd::Base64UrlEncode;
  nlohmann::json j;
  if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA) {
    j = {{"kty", "RSA"},
         {"n", Base64UrlEncode(BnBytes(k, OSSL_PKEY_PARAM_RSA_N))},
         {"e", Base64UrlEncode(BnBytes(k, OSSL_PKEY_PARAM_RSA_E))}};
  } else {
    j = {{"kty", "EC"},
         {"crv", "P-256"},
         {"x", Base64UrlEncode(BnBytes(k, OSSL_PKEY_PARAM_EC_PUB_X, 32))},
         {"y", Base64UrlEncode(BnBytes(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32))}};
  }
  if (!kid.empty()) j["kid"] = kid;
  j["use"] = "sig";
  return j;
}

// What OpenSSL produces: PKCS#1 v1.5 for RSA, DER-encoded ECDSA for EC.
inline std::string SignDer(EVP_PKEY* k, std::string_view input) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, k);
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                 input.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  return sig;
}

// (R, S) -> (R, n - S) for P-256: the other signature that verifies the same message.
inline std::string FlipEcdsaS(std::string raw) {
  BIGNUM* n = nullptr;
  BN_hex2bn(&n, "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551");
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr);
  BN_sub(s, n, s);
  BN_bn2binpad(s, reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  BN_free(s);
  BN_free(n);
  return raw;
}

// Is S above n/2 (the high, non-canonical form)?
inline bool IsHighS(const std::string& raw) {
  static const unsigned char kHalf[32] = {0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00,
                                          0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                          0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42,
                                          0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8};
  return std::memcmp(raw.data() + 32, kHalf, 32) > 0;
}

// The JWS signature bytes: as OpenSSL signs for RSA, R||S for EC (low S, as JOSE
// libraries send it; OpenSSL picks either form at random).
inline std::string SignRaw(EVP_PKEY* k, std::string_view input) {
  std::string sig = SignDer(k, input);
  if (EVP_PKEY_get_base_id(k) == EVP_PKEY_EC) {  // DER -> JWS R||S
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(es);
    return IsHighS(raw) ? FlipEcdsaS(raw) : raw;
  }
  return sig;
}

inline std::string HmacRaw(std::string_view secret, std::string_view input) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return std::string(reinterpret_cast<char*>(mac), len);
}

// header.payload, base64url-encoded, without the signature.
inline std::string SigningInput(const nlohmann::json& header, const nlohmann::json& payload) {
  return vaultd::Base64UrlEncode(header.dump()) + "." + vaultd::Base64UrlEncode(payload.dump());
}

inline std::string MintAsym(EVP_PKEY* k, const nlohmann::json& header,
                            const nlohmann::json& payload) {
  std::string input = SigningInput(header, payload);
  return input + "." + vaultd::Base64UrlEncode(SignRaw(k, input));
}

inline std::string MintHmac(std::string_view secret, const nlohmann::json& header,
                            const nlohmann::json& payload) {
  std::string input = SigningInput(header, payload);
  return input + "." + vaultd::Base64UrlEncode(HmacRaw(secret, input));
}

}  // namespace vaultd::testing
