// Compact JWS parsing and claim checks. Everything that arrives in a token is
// attacker-controlled until the signature has been checked, so parsing is
// strict (canonical base64url, no duplicate JSON keys, bounded size and depth)
// and every failure is one Unauthenticated status whose message is for the
// server log only.
#include <algorithm>
#include <cmath>
#include <limits>
#include <list>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "jwt_key.h"
#include "vaultd/common/base64.h"
#include "vaultd/common/sha256.h"

namespace vaultd::orchestrator {
namespace {

constexpr int kMaxJsonDepth = 32;
constexpr size_t kMaxGroups = 1024;

Status Fail(std::string why) { return Status::Unauthenticated(std::move(why)); }

// A NumericDate claim as whole seconds; nullopt when it is not a finite number.
std::optional<int64_t> NumericDate(const nlohmann::json& v) {
  if (v.is_number_unsigned()) {
    auto u = v.get<uint64_t>();
    return u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
               ? std::numeric_limits<int64_t>::max()
               : static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (!std::isfinite(d) || std::fabs(d) > 1e15) return std::nullopt;
    return static_cast<int64_t>(std::floor(d));
  }
  return std::nullopt;
}

WallTime FromSeconds(int64_t s) {
  // Clamp to what system_clock can hold (about +-292 years around 1970 in ns).
  constexpr int64_t kLimit = 9'000'000'000;
  s = std::clamp<int64_t>(s, -kLimit, kLimit);
  return WallTime(std::chrono::seconds(s));
}

std::optional<std::string> NormalizeGroup(std::string g, GroupPath mode) {
  if (!g.empty() && g.front() == '/') {
    if (mode == GroupPath::kLast) {
      while (!g.empty() && g.back() == '/') g.pop_back();
      auto slash = g.rfind('/');
      g = g.substr(slash + 1);
    } else {
      g.erase(0, 1);
    }
  }
  if (g.empty()) return std::nullopt;
  return g;
}

}  // namespace

std::string_view JwtAlgName(JwtAlg alg) {
  switch (alg) {
    case JwtAlg::kRS256:
      return "RS256";
    case JwtAlg::kES256:
      return "ES256";
    case JwtAlg::kHS256:
      return "HS256";
  }
  return "?";
}

std::optional<JwtAlg> ParseJwtAlg(std::string_view name) {
  if (name == "RS256") return JwtAlg::kRS256;
  if (name == "ES256") return JwtAlg::kES256;
  if (name == "HS256") return JwtAlg::kHS256;
  return std::nullopt;
}

std::optional<nlohmann::json> ParseStrictJsonObject(std::string_view text) {
  // One hash set per open object: a token full of keys stays linear (this runs
  // on the header before the signature is checked, so it must be cheap).
  std::vector<std::unordered_set<std::string>> keys_stack;
  bool bad = false;
  auto cb = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (depth > kMaxJsonDepth) bad = true;
    switch (event) {
      case E::object_start:
        keys_stack.emplace_back();
        break;
      case E::object_end:
        if (!keys_stack.empty()) keys_stack.pop_back();
        break;
      case E::key: {
        if (keys_stack.empty() || !parsed.is_string()) {
          bad = true;
          break;
        }
        auto& seen = keys_stack.back();
        const auto& k = parsed.get_ref<const std::string&>();
        if (!seen.insert(k).second) bad = true;
        break;
      }
      default:
        break;
    }
    return !bad;
  };
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/false);
  } catch (...) {
    return std::nullopt;
  }
  if (bad || doc.is_discarded() || !doc.is_object()) return std::nullopt;
  return doc;
}

JwtVerifier::JwtVerifier(JwtVerifierOptions options, std::vector<JwtKeyPtr> keys)
    : options_(std::move(options)), keys_(std::move(keys)) {}

JwtVerifier::~JwtVerifier() = default;

Result<VerifiedToken> JwtVerifier::Verify(std::string_view token, WallTime now) const {
  if (token.empty()) return Fail("empty token");
  if (token.size() > options_.max_token_bytes)
    return Fail("token has " + std::to_string(token.size()) + " bytes; the limit is " +
                std::to_string(options_.max_token_bytes));
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return Fail("not a compact JWS (want three dot-separated parts)");
  const std::string_view header_b64 = token.substr(0, dot1);
  const std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view sig_b64 = token.substr(dot2 + 1);
  if (header_b64.empty() || payload_b64.empty()) return Fail("empty header or payload");
  if (sig_b64.empty()) return Fail("unsigned token (empty signature)");

  auto header_json = Base64UrlDecode(header_b64);
  if (!header_json) return Fail("header is not valid base64url");
  auto header = ParseStrictJsonObject(*header_json);
  if (!header) return Fail("header is not a JSON object (or has duplicate keys)");

  auto alg_it = header->find("alg");
  if (alg_it == header->end() || !alg_it->is_string()) return Fail("header has no \"alg\"");
  const std::string alg_name = alg_it->get<std::string>();
  auto alg = ParseJwtAlg(alg_name);
  if (!alg || std::find(options_.algorithms.begin(), options_.algorithms.end(), *alg) ==
                  options_.algorithms.end())
    return Fail("algorithm \"" + alg_name.substr(0, 32) + "\" is not allowed");
  if (header->contains("crit")) return Fail("header has \"crit\" extensions we do not understand");
  if (auto typ = header->find("typ"); typ != header->end()) {
    if (!typ->is_string()) return Fail("header \"typ\" is not a string");
    std::string t = typ->get<std::string>();
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
    if (t != "jwt" && t != "at+jwt" && t != "application/at+jwt")
      return Fail("header \"typ\" is not JWT");
  }

  // Key selection: the kid names exactly one key, which must fit the algorithm.
  // Without a kid, exactly one configured key may fit.
  const JwtKey* key = nullptr;
  std::string kid;
  if (auto kid_it = header->find("kid"); kid_it != header->end()) {
    if (!kid_it->is_string()) return Fail("header \"kid\" is not a string");
    kid = kid_it->get<std::string>();
    for (const auto& k : keys_)
      if (!k->kid.empty() && k->kid == kid) key = k.get();
    if (!key) return Fail("unknown kid \"" + kid.substr(0, 64) + "\"");
    if (!key->Fits(*alg))
      return Fail("kid \"" + kid.substr(0, 64) + "\" is not a " + alg_name + " key");
  } else {
    size_t fitting = 0;
    for (const auto& k : keys_)
      if (k->Fits(*alg)) {
        ++fitting;
        key = k.get();
      }
    if (fitting == 0) return Fail("no " + alg_name + " key is configured");
    if (fitting > 1)
      return Fail("token has no kid and " + std::to_string(fitting) + " " + alg_name + " keys fit");
  }

  auto signature = Base64UrlDecode(sig_b64);
  if (!signature) return Fail("signature is not valid base64url");
  const std::string_view signing_input = token.substr(0, dot2);
  if (!key->VerifySignature(*alg, signing_input, *signature)) return Fail("bad signature");

  // From here on the content is authentic; what remains is whether it is for us, now.
  auto payload_json = Base64UrlDecode(payload_b64);
  if (!payload_json) return Fail("payload is not valid base64url");
  auto claims = ParseStrictJsonObject(*payload_json);
  if (!claims) return Fail("payload is not a JSON object (or has duplicate keys)");

  auto iss = claims->find("iss");
  if (iss == claims->end() || !iss->is_string() || iss->get<std::string>() != options_.issuer)
    return Fail("wrong or missing issuer");
  auto aud = claims->find("aud");
  bool aud_ok = false;
  if (aud != claims->end()) {
    if (aud->is_string()) {
      aud_ok = aud->get<std::string>() == options_.audience;
    } else if (aud->is_array()) {
      for (const auto& a : *aud) {
        if (!a.is_string()) return Fail("\"aud\" array holds a non-string");
        if (a.get<std::string>() == options_.audience) aud_ok = true;
      }
    }
  }
  if (!aud_ok) return Fail("wrong or missing audience");

  const int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const int64_t leeway = options_.leeway_seconds;
  VerifiedToken out;
  auto exp_it = claims->find("exp");
  if (exp_it == claims->end()) return Fail("token has no \"exp\"");
  auto exp = NumericDate(*exp_it);
  if (!exp) return Fail("\"exp\" is not a number");
  if (now_s - leeway >= *exp) return Fail("token expired at " + FormatRfc3339(FromSeconds(*exp)));
  out.expires_at = FromSeconds(*exp);
  if (auto nbf_it = claims->find("nbf"); nbf_it != claims->end()) {
    auto nbf = NumericDate(*nbf_it);
    if (!nbf) return Fail("\"nbf\" is not a number");
    if (now_s + leeway < *nbf)
      return Fail("token not valid before " + FormatRfc3339(FromSeconds(*nbf)));
    out.not_before = FromSeconds(*nbf);
  }
  if (auto iat_it = claims->find("iat"); iat_it != claims->end()) {
    auto iat = NumericDate(*iat_it);
    if (!iat) return Fail("\"iat\" is not a number");
    if (now_s + leeway < *iat) return Fail("token issued in the future");
  }

  if (auto sub = claims->find("sub"); sub != claims->end()) {
    if (!sub->is_string()) return Fail("\"sub\" is not a string");
    out.subject = sub->get<std::string>();
  }
  auto user = claims->find(options_.username_claim);
  if (user == claims->end() || !user->is_string() || user->get_ref<const std::string&>().empty())
    return Fail("username claim \"" + options_.username_claim + "\" missing or not a string");
  out.username = user->get<std::string>();

  if (auto groups = claims->find(options_.groups_claim); groups != claims->end()) {
    if (!groups->is_array())
      return Fail("groups claim \"" + options_.groups_claim + "\" is not an array");
    if (groups->size() > kMaxGroups) return Fail("too many groups");
    for (const auto& g : *groups) {
      if (!g.is_string()) return Fail("groups claim holds a non-string");
      auto name = NormalizeGroup(g.get<std::string>(), options_.group_path);
      if (name && std::find(out.groups.begin(), out.groups.end(), *name) == out.groups.end())
        out.groups.push_back(std::move(*name));
    }
  }
  out.alg = alg_name;
  out.kid = kid;
  return out;
}

// ---- VerifiedTokenCache ----

struct VerifiedTokenCache::Impl {
  const JwtVerifier& verifier;
  size_t capacity;
  mutable std::mutex mu;
  using Entry = std::pair<std::string, VerifiedToken>;  // (token digest, identity)
  std::list<Entry> lru;                                 // front = most recent
  std::unordered_map<std::string, std::list<Entry>::iterator> index;
  uint64_t hits = 0;
  uint64_t misses = 0;

  Impl(const JwtVerifier& v, size_t c) : verifier(v), capacity(c) {}
};

VerifiedTokenCache::VerifiedTokenCache(const JwtVerifier& verifier, size_t capacity)
    : impl_(std::make_unique<Impl>(verifier, capacity)) {}
VerifiedTokenCache::~VerifiedTokenCache() = default;

Result<VerifiedToken> VerifiedTokenCache::Verify(std::string_view token, WallTime now) {
  Impl& im = *impl_;
  if (im.capacity == 0 || token.size() > im.verifier.options().max_token_bytes)
    return im.verifier.Verify(token, now);
  Sha256 h;
  h.Update(token);
  std::string digest = h.FinalRaw();
  const auto leeway = std::chrono::seconds(im.verifier.options().leeway_seconds);
  {
    std::lock_guard lock(im.mu);
    auto it = im.index.find(digest);
    if (it != im.index.end()) {
      const VerifiedToken& cached = it->second->second;
      // The signature and claims were checked once; only time can make the token invalid now.
      bool expired = cached.expires_at && now - leeway >= *cached.expires_at;
      bool early = cached.not_before && now + leeway < *cached.not_before;
      if (!expired && !early) {
        im.lru.splice(im.lru.begin(), im.lru, it->second);
        ++im.hits;
        return cached;
      }
      im.lru.erase(it->second);
      im.index.erase(it);
    }
    ++im.misses;
  }
  auto verified = im.verifier.Verify(token, now);
  if (!verified.ok()) return verified;
  std::lock_guard lock(im.mu);
  if (im.index.find(digest) == im.index.end()) {
    im.lru.emplace_front(digest, *verified);
    im.index.emplace(std::move(digest), im.lru.begin());
    while (im.lru.size() > im.capacity) {
      im.index.erase(im.lru.back().first);
      im.lru.pop_back();
    }
  }
  return verified;
}

uint64_t VerifiedTokenCache::hits() const {
  std::lock_guard lock(impl_->mu);
  return impl_->hits;
}
uint64_t VerifiedTokenCache::misses() const {
  std::lock_guard lock(impl_->mu);
  return impl_->misses;
}
size_t VerifiedTokenCache::size() const {
  std::lock_guard lock(impl_->mu);
  return impl_->lru.size();
}

}  // namespace vaultd::orchestrator
