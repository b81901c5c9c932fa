// AUTH.yaml: parsing with file:line errors, and turning it into a verifier.
#include <yaml-cpp/yaml.h>

#include <set>

#include "jwt_key.h"
#include "vaultd/common/fs.h"

namespace vaultd::orchestrator {
namespace {

constexpr uint64_t kMaxKeyFileBytes = 1 << 20;

class ConfigParser {
 public:
  explicit ConfigParser(const std::string& path) : path_(path), dir_(DirName(path)) {}

  Status Error(const YAML::Node& node, const std::string& message) const {
    int line = node.IsDefined() ? node.Mark().line + 1 : 0;
    return Status::InvalidArgument(path_ + ":" + std::to_string(line > 0 ? line : 1) + ": " + message);
  }

  std::string Resolve(const std::string& p) const {
    if (p.empty() || p.front() == '/' || dir_ == ".") return p;
    return dir_ + "/" + p;
  }

  Result<std::string> String(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar()) return Error(node, "'" + key + "' must be a string");
    std::string v = node.Scalar();
    if (v.empty()) return Error(node, "'" + key + "' must not be empty");
    return v;
  }

  Result<int64_t> Integer(const YAML::Node& node, const std::string& key, int64_t lo, int64_t hi) const {
    if (!node.IsScalar()) return Error(node, "'" + key + "' must be an integer");
    int64_t v = 0;
    try {
      v = node.as<int64_t>();
    } catch (const YAML::Exception&) {
      return Error(node, "'" + key + "' must be an integer, got '" + node.Scalar() + "'");
    }
    if (v < lo || v > hi)
      return Error(node, "'" + key + "' must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    return v;
  }

  Status Key(const YAML::Node& entry, AuthConfig* out) const {
    if (!entry.IsMap()) return Error(entry, "each entry of 'keys' must be {pem: PATH[, kid: ID]} or {jwks: PATH}");
    KeySource src;
    src.line = entry.Mark().line + 1;
    bool have_path = false;
    for (const auto& kv : entry) {
      const std::string k = kv.first.Scalar();
      if (k == "pem" || k == "jwks") {
        if (have_path) return Error(kv.first, "a key entry has exactly one of 'pem' or 'jwks'");
        have_path = true;
        src.kind = k == "pem" ? KeySource::Kind::kPem : KeySource::Kind::kJwks;
        VAULTD_ASSIGN_OR_RETURN(std::string p, String(kv.second, k));
        src.path = Resolve(p);
      } else if (k == "kid") {
        VAULTD_ASSIGN_OR_RETURN(src.kid, String(kv.second, k));
      } else {
        return Error(kv.first, "unknown key '" + k + "' in a key entry (expected pem, jwks, kid)");
      }
    }
    if (!have_path) return Error(entry, "a key entry needs 'pem' or 'jwks'");
    if (src.kind == KeySource::Kind::kJwks && !src.kid.empty())
      return Error(entry, "'kid' belongs to 'pem' entries; a JWKS names its own kids");
    out->keys.push_back(std::move(src));
    return Status::Ok();
  }

  Result<AuthConfig> Parse(std::string_view yaml) const {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(yaml));
    } catch (const YAML::ParserException& e) {
      return Status::InvalidArgument(path_ + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
    } catch (const YAML::Exception& e) {
      return Status::InvalidArgument(path_ + ": " + e.what());
    }
    if (!root.IsMap()) return Status::InvalidArgument(path_ + ":1: AUTH.yaml must be a mapping");
    AuthConfig cfg;
    cfg.source = path_;
    std::set<std::string> seen;
    try {
      for (const auto& kv : root) {
        const YAML::Node& key = kv.first;
        const YAML::Node& value = kv.second;
        if (!key.IsScalar()) return Error(key, "keys must be strings");
        const std::string k = key.Scalar();
        if (!seen.insert(k).second) return Error(key, "duplicate key '" + k + "'");
        if (k == "issuer") {
          VAULTD_ASSIGN_OR_RETURN(cfg.token.issuer, String(value, k));
        } else if (k == "audience") {
          VAULTD_ASSIGN_OR_RETURN(cfg.token.audience, String(value, k));
        } else if (k == "algorithms") {
          if (!value.IsSequence() || value.size() == 0)
            return Error(value, "'algorithms' must be a non-empty list of RS256, ES256, HS256");
          for (const auto& a : value) {
            auto alg = a.IsScalar() ? ParseJwtAlg(a.Scalar()) : std::nullopt;
            if (!alg)
              return Error(a, "unsupported algorithm '" + (a.IsScalar() ? a.Scalar() : std::string("?")) +
                                  "' (allowed: RS256, ES256, HS256)");
            if (std::find(cfg.token.algorithms.begin(), cfg.token.algorithms.end(), *alg) != cfg.token.algorithms.end())
              return Error(a, "algorithm '" + a.Scalar() + "' listed twice");
            cfg.token.algorithms.push_back(*alg);
          }
        } else if (k == "keys") {
          if (value.IsMap()) {
            VAULTD_RETURN_IF_ERROR(Key(value, &cfg));
          } else if (value.IsSequence()) {
            for (const auto& entry : value) VAULTD_RETURN_IF_ERROR(Key(entry, &cfg));
          } else {
            return Error(value, "'keys' must be {pem: PATH} / {jwks: PATH} or a list of them");
          }
        } else if (k == "username_claim") {
          VAULTD_ASSIGN_OR_RETURN(cfg.token.username_claim, String(value, k));
        } else if (k == "groups_claim") {
          VAULTD_ASSIGN_OR_RETURN(cfg.token.groups_claim, String(value, k));
        } else if (k == "group_path") {
          VAULTD_ASSIGN_OR_RETURN(std::string gp, String(value, k));
          if (gp == "last") cfg.token.group_path = GroupPath::kLast;
          else if (gp == "full") cfg.token.group_path = GroupPath::kFull;
          else return Error(value, "'group_path' must be 'last' or 'full', got '" + gp + "'");
        } else if (k == "leeway_seconds") {
          VAULTD_ASSIGN_OR_RETURN(cfg.token.leeway_seconds, Integer(value, k, 0, 600));
        } else if (k == "max_token_bytes") {
          VAULTD_ASSIGN_OR_RETURN(int64_t v, Integer(value, k, 256, 1 << 20));
          cfg.token.max_token_bytes = static_cast<size_t>(v);
        } else if (k == "token_cache_entries") {
          VAULTD_ASSIGN_OR_RETURN(int64_t v, Integer(value, k, 0, 10'000'000));
          cfg.token_cache_entries = static_cast<size_t>(v);
        } else if (k == "hs256_secret_file") {
          VAULTD_ASSIGN_OR_RETURN(std::string p, String(value, k));
          cfg.hs256_secret_file = Resolve(p);
        } else if (k == "hs256_kid") {
          VAULTD_ASSIGN_OR_RETURN(cfg.hs256_kid, String(value, k));
        } else if (k == "admin_key_file") {
          VAULTD_ASSIGN_OR_RETURN(std::string p, String(value, k));
          cfg.admin_key_file = Resolve(p);
        } else {
          return Error(key,
                       "unknown key '" + k +
                           "' (expected issuer, audience, algorithms, keys, username_claim, groups_claim, "
                           "group_path, leeway_seconds, max_token_bytes, token_cache_entries, "
                           "hs256_secret_file, hs256_kid, admin_key_file)");
        }
      }
    } catch (const YAML::Exception& e) {
      return Status::InvalidArgument(path_ + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
    }
    const YAML::Node top = root;
    if (cfg.token.issuer.empty()) return Error(top, "missing 'issuer'");
    if (cfg.token.audience.empty()) return Error(top, "missing 'audience'");
    if (cfg.token.algorithms.empty()) return Error(top, "missing 'algorithms'");
    const bool hs = std::find(cfg.token.algorithms.begin(), cfg.token.algorithms.end(), JwtAlg::kHS256) != cfg.token.algorithms.end();
    if (hs && cfg.hs256_secret_file.empty())
      return Error(root["algorithms"], "HS256 is allowed but no 'hs256_secret_file' is configured");
    if (!hs && !cfg.hs256_secret_file.empty())
      return Error(root["hs256_secret_file"], "'hs256_secret_file' is set but HS256 is not in 'algorithms'");
    if (!cfg.hs256_kid.empty() && cfg.hs256_secret_file.empty())
      return Error(root["hs256_kid"], "'hs256_kid' needs 'hs256_secret_file'");
    const bool asym = std::any_of(cfg.token.algorithms.begin(), cfg.token.algorithms.end(),
                                  [](JwtAlg a) { return a != JwtAlg::kHS256; });
    if (asym && cfg.keys.empty()) return Error(top, "missing 'keys' for RS256/ES256");
    return cfg;
  }

 private:
  std::string path_;
  std::string dir_;
};

}  // namespace

Result<std::string> ReadSecretFile(const std::string& path, uint64_t max_bytes) {
  VAULTD_ASSIGN_OR_RETURN(std::string text, ReadFile(path, max_bytes));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

Result<AuthConfig> ParseAuthConfig(std::string_view yaml, const std::string& path) {
  return ConfigParser(path).Parse(yaml);
}

Result<AuthConfig> LoadAuthConfigFile(const std::string& path) {
  VAULTD_ASSIGN_OR_RETURN(std::string text, ReadFile(path, kMaxKeyFileBytes));
  return ParseAuthConfig(text, path);
}

Result<std::unique_ptr<JwtVerifier>> JwtVerifier::FromConfig(const AuthConfig& config) {
  std::vector<JwtKeyPtr> keys;
  for (const auto& src : config.keys) {
    const std::string what = config.source + ":" + std::to_string(src.line) + ": " + src.path;
    auto text = ReadFile(src.path, kMaxKeyFileBytes);
    if (!text.ok()) return text.status().WithContext(config.source + ":" + std::to_string(src.line));
    auto loaded = src.kind == KeySource::Kind::kPem ? LoadPemKeys(*text, src.kid, what) : ParseJwks(*text, what);
    if (!loaded.ok()) return loaded.status();
    for (auto& k : *loaded) keys.push_back(std::move(k));
  }
  if (!config.hs256_secret_file.empty()) {
    auto text = ReadSecretFile(config.hs256_secret_file, kMaxKeyFileBytes);
    if (!text.ok()) return text.status().WithContext(config.source + ": hs256_secret_file");
    auto key = MakeHmacKey(*text, config.hs256_kid);
    if (!key.ok()) return key.status().WithContext(config.source + ": " + config.hs256_secret_file);
    keys.push_back(std::move(*key));
  }
  std::set<std::string> kids;
  for (const auto& k : keys)
    if (!k->kid.empty() && !kids.insert(k->kid).second)
      return Status::InvalidArgument(config.source + ": kid '" + k->kid + "' is used by two keys");
  for (JwtAlg alg : config.token.algorithms) {
    bool any = std::any_of(keys.begin(), keys.end(), [&](const JwtKeyPtr& k) { return k->Fits(alg); });
    if (!any)
      return Status::InvalidArgument(config.source + ": 'algorithms' lists " + std::string(JwtAlgName(alg)) +
                                     " but no configured key can verify it");
  }
  return std::make_unique<JwtVerifier>(config.token, std::move(keys));
}

}  // namespace vaultd::orchestrator
