// AUTH.yaml: parsing with file:line errors, and turning it into a verifier.
#include <algorithm>
#include <set>

#include "jwt_key.h"
#include "vaultd/common/fs.h"
#include "vaultd/common/yaml.h"

namespace vaultd::orchestrator {
namespace {

constexpr uint64_t kMaxKeyFileBytes = 1 << 20;

const yaml::MapSchema kAuthSchema = {
    .allowed = {"issuer", "audience", "algorithms", "keys", "username_claim", "groups_claim",
                "group_path", "leeway_seconds", "max_token_bytes", "token_cache_entries",
                "hs256_secret_file", "hs256_kid", "admin_key_file"},
    .not_a_mapping = "AUTH.yaml must be a mapping",
};

const yaml::MapSchema kKeyEntrySchema = {
    .allowed = {"pem", "jwks", "kid"},
    .not_a_mapping = "each entry of 'keys' must be {pem: PATH[, kid: ID]} or {jwks: PATH}",
    .unknown_key = "unknown key '{key}' in a key entry (expected {allowed})",
    .duplicate_key = "duplicate key '{key}' in a key entry",
};

class ConfigParser {
 public:
  explicit ConfigParser(const std::string& path)
      : path_(path), dir_(DirName(path)), problems_(path) {}

  std::string Resolve(const std::string& p) const {
    if (p.empty() || p.front() == '/' || dir_ == ".") return p;
    return dir_ + "/" + p;
  }

  void Key(const YAML::Node& entry, AuthConfig* out) {
    yaml::MapReader map(entry, kKeyEntrySchema, problems_);
    if (!map.is_mapping()) return;
    KeySource src;
    src.line = yaml::LineOf(entry);
    if (map.Has("pem") && map.Has("jwks")) {
      const bool pem_last = yaml::LineOf(map.Key("pem")) > yaml::LineOf(map.Key("jwks"));
      problems_.Add(map.Key(pem_last ? "pem" : "jwks"),
                    "a key entry has exactly one of 'pem' or 'jwks'");
      return;
    }
    const std::string kind = map.Has("pem") ? "pem" : "jwks";
    if (!map.Has(kind)) {
      problems_.Add(entry, "a key entry needs 'pem' or 'jwks'");
      return;
    }
    src.kind = kind == "pem" ? KeySource::Kind::kPem : KeySource::Kind::kJwks;
    if (auto p = map.String(kind)) src.path = Resolve(*p);
    if (auto kid = map.String("kid")) src.kid = *kid;
    if (src.kind == KeySource::Kind::kJwks && map.Has("kid")) {
      problems_.Add(entry, "'kid' belongs to 'pem' entries; a JWKS names its own kids");
      return;
    }
    out->keys.push_back(std::move(src));
  }

  void Algorithms(const YAML::Node& value, AuthConfig* cfg) {
    if (!value.IsSequence() || value.size() == 0) {
      problems_.Add(value, "'algorithms' must be a non-empty list of RS256, ES256, HS256");
      return;
    }
    for (const auto& a : value) {
      auto alg = a.IsScalar() ? ParseJwtAlg(a.Scalar()) : std::nullopt;
      if (!alg) {
        problems_.Add(a, "unsupported algorithm '" +
                             (a.IsScalar() ? a.Scalar() : std::string("?")) +
                             "' (allowed: RS256, ES256, HS256)");
        return;
      }
      if (std::find(cfg->token.algorithms.begin(), cfg->token.algorithms.end(), *alg) !=
          cfg->token.algorithms.end()) {
        problems_.Add(a, "algorithm '" + a.Scalar() + "' listed twice");
        return;
      }
      cfg->token.algorithms.push_back(*alg);
    }
  }

  Result<AuthConfig> Parse(std::string_view text) {
    auto root = yaml::ParseDocument(text, problems_);
    if (!root) return problems_.FirstAsStatus();
    yaml::MapReader map(*root, kAuthSchema, problems_);
    if (!map.is_mapping()) return problems_.FirstAsStatus();
    AuthConfig cfg;
    cfg.source = path_;
    try {
      if (auto v = map.String("issuer")) cfg.token.issuer = *v;
      if (auto v = map.String("audience")) cfg.token.audience = *v;
      if (map.Has("algorithms")) Algorithms(map.Value("algorithms"), &cfg);
      if (map.Has("keys")) {
        const YAML::Node keys = map.Value("keys");
        if (keys.IsMap()) {
          Key(keys, &cfg);
        } else if (keys.IsSequence()) {
          for (const auto& entry : keys) Key(entry, &cfg);
        } else {
          problems_.Add(keys, "'keys' must be {pem: PATH} / {jwks: PATH} or a list of them");
        }
      }
      if (auto v = map.String("username_claim")) cfg.token.username_claim = *v;
      if (auto v = map.String("groups_claim")) cfg.token.groups_claim = *v;
      if (auto gp = map.String("group_path")) {
        if (*gp == "last")
          cfg.token.group_path = GroupPath::kLast;
        else if (*gp == "full")
          cfg.token.group_path = GroupPath::kFull;
        else
          problems_.Add(map.Value("group_path"),
                        "'group_path' must be 'last' or 'full', got '" + *gp + "'");
      }
      if (auto v = map.Int("leeway_seconds", 0, 600)) cfg.token.leeway_seconds = *v;
      if (auto v = map.Int("max_token_bytes", 256, 1 << 20))
        cfg.token.max_token_bytes = static_cast<size_t>(*v);
      if (auto v = map.Int("token_cache_entries", 0, 10'000'000))
        cfg.token_cache_entries = static_cast<size_t>(*v);
      if (auto v = map.String("hs256_secret_file")) cfg.hs256_secret_file = Resolve(*v);
      if (auto v = map.String("hs256_kid")) cfg.hs256_kid = *v;
      if (auto v = map.String("admin_key_file")) cfg.admin_key_file = Resolve(*v);
    } catch (const YAML::Exception& e) {
      problems_.AddAt(e.mark.is_null() ? 0 : e.mark.line + 1, 0, e.msg);
    }
    if (!problems_.empty()) return problems_.FirstAsStatus();
    auto error = [&](const YAML::Node& at, const std::string& message) {
      problems_.Add(at, message);
      return problems_.FirstAsStatus();
    };
    const YAML::Node& top = *root;
    if (cfg.token.issuer.empty()) return error(top, "missing 'issuer'");
    if (cfg.token.audience.empty()) return error(top, "missing 'audience'");
    if (cfg.token.algorithms.empty()) return error(top, "missing 'algorithms'");
    const bool hs = std::find(cfg.token.algorithms.begin(), cfg.token.algorithms.end(),
                              JwtAlg::kHS256) != cfg.token.algorithms.end();
    if (hs && cfg.hs256_secret_file.empty())
      return error(map.Value("algorithms"),
                   "HS256 is allowed but no 'hs256_secret_file' is configured");
    if (!hs && !cfg.hs256_secret_file.empty())
      return error(map.Value("hs256_secret_file"),
                   "'hs256_secret_file' is set but HS256 is not in 'algorithms'");
    if (!cfg.hs256_kid.empty() && cfg.hs256_secret_file.empty())
      return error(map.Value("hs256_kid"), "'hs256_kid' needs 'hs256_secret_file'");
    const bool asym = std::any_of(cfg.token.algorithms.begin(), cfg.token.algorithms.end(),
                                  [](JwtAlg a) { return a != JwtAlg::kHS256; });
    if (asym && cfg.keys.empty()) return error(top, "missing 'keys' for RS256/ES256");
    return cfg;
  }

 private:
  std::string path_;
  std::string dir_;
  yaml::Problems problems_;
};

}  // namespace

Result<std::string> ReadSecretFile(const std::string& path, uint64_t max_bytes) {
  VAULTD_ASSIGN_OR_RETURN(std::string text, ReadFile(path, max_bytes));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

Result<AuthConfig> ParseAuthConfig(std::string_view yaml, const std::string& path) {
  ConfigParser parser(path);
  return parser.Parse(yaml);
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
    if (!text.ok())
      return text.status().WithContext(config.source + ":" + std::to_string(src.line));
    auto loaded = src.kind == KeySource::Kind::kPem ? LoadPemKeys(*text, src.kid, what)
                                                    : ParseJwks(*text, what);
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
    bool any =
        std::any_of(keys.begin(), keys.end(), [&](const JwtKeyPtr& k) { return k->Fits(alg); });
    if (!any)
      return Status::InvalidArgument(config.source + ": 'algorithms' lists " +
                                     std::string(JwtAlgName(alg)) +
                                     " but no configured key can verify it");
  }
  return std::make_unique<JwtVerifier>(config.token, std::move(keys));
}

}  // namespace vaultd::orchestrator
