// Mount set parsing/validation, fetching with retries, and the on-disk cache.
#include "vaultd/orchestrator_client/mountset.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "vaultd/common/fs.h"
#include "vaultd/orchestrator_client/http.h"

namespace vaultd::orchestrator_client {
namespace {

using nlohmann::json;

constexpr uint64_t kMaxCacheBytes = 16u << 20;

class Checker {
 public:
  Status Error(const std::string& where, const std::string& what) const {
    return Status::InvalidArgument("mount set: " + where + ": " + what);
  }

  Result<std::string> String(const json& obj, const char* key, const std::string& where,
                             bool allow_empty = false) const {
    auto it = obj.find(key);
    if (it == obj.end()) return Error(where + key, "missing");
    if (!it->is_string()) return Error(where + key, "must be a string");
    if (!allow_empty && it->get_ref<const std::string&>().empty())
      return Error(where + key, "must not be empty");
    return it->get<std::string>();
  }

  Result<std::optional<WallTime>> OptionalTime(const json& obj, const char* key,
                                               const std::string& where) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::optional<WallTime>();
    if (!it->is_string()) return Error(where + key, "must be an RFC 3339 time or null");
    auto t = ParseRfc3339(it->get<std::string>());
    if (!t.ok()) return Error(where + key, t.status().message());
    return std::optional<WallTime>(*t);
  }

  Result<std::vector<std::string>> Strings(const json& obj, const char* key,
                                           const std::string& where, bool required) const {
    std::vector<std::string> out;
    auto it = obj.find(key);
    if (it == obj.end()) {
      if (required) return Error(where + key, "missing");
      return out;
    }
    if (!it->is_array()) return Error(where + key, "must be an array of strings");
    for (const auto& v : *it) {
      if (!v.is_string()) return Error(where + key, "must be an array of strings");
      out.push_back(v.get<std::string>());
    }
    return out;
  }
};

std::string Excerpt(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, 200)) out.push_back(static_cast<unsigned char>(c) < 0x20 ? ' ' : c);
  if (body.size() > 200) out += "...";
  return out;
}

}  // namespace

Result<MountSetDoc> ParseMountSet(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::InvalidArgument("mount set: not valid JSON");
  if (!doc.is_object()) return Status::InvalidArgument("mount set: not a JSON object");
  Checker c;
  MountSetDoc out;
  VAULTD_ASSIGN_OR_RETURN(std::string schema, c.String(doc, "schema", ""));
  if (schema != kMountSetSchema)
    return c.Error("schema", "unsupported schema '" + schema.substr(0, 64) + "' (want " +
                                 std::string(kMountSetSchema) + ")");
  VAULTD_ASSIGN_OR_RETURN(out.user, c.String(doc, "user", ""));
  VAULTD_ASSIGN_OR_RETURN(out.groups, c.Strings(doc, "groups", "", true));
  VAULTD_ASSIGN_OR_RETURN(out.policy_revision, c.String(doc, "policy_revision", ""));
  VAULTD_ASSIGN_OR_RETURN(auto generated, c.OptionalTime(doc, "generated_at", ""));
  if (!generated) return c.Error("generated_at", "missing");
  out.generated_at = *generated;
  VAULTD_ASSIGN_OR_RETURN(out.valid_until, c.OptionalTime(doc, "valid_until", ""));
  VAULTD_ASSIGN_OR_RETURN(out.vault_root, c.String(doc, "vault_root", ""));
  if (out.vault_root.front() != '/' ||
      (out.vault_root.size() > 1 &&
       !IsSafeRelativePath(std::string_view(out.vault_root).substr(1))))
    return c.Error("vault_root",
                   "must be a normalized absolute path, got '" + out.vault_root + "'");
  VAULTD_ASSIGN_OR_RETURN(out.warnings, c.Strings(doc, "warnings", "", false));

  auto mounts = doc.find("mounts");
  if (mounts == doc.end() || !mounts->is_array())
    return c.Error("mounts", "missing or not an array");
  std::set<std::string> names, targets, rooms;
  for (size_t i = 0; i < mounts->size(); ++i) {
    const json& m = (*mounts)[i];
    const std::string where = "mounts[" + std::to_string(i) + "].";
    if (!m.is_object()) return c.Error("mounts[" + std::to_string(i) + "]", "not an object");
    MountEntry e;
    VAULTD_ASSIGN_OR_RETURN(e.name, c.String(m, "name", where));
    VAULTD_ASSIGN_OR_RETURN(e.source, c.String(m, "source", where));
    if (e.source.front() != '/') return c.Error(where + "source", "must be an absolute path");
    VAULTD_ASSIGN_OR_RETURN(e.target, c.String(m, "target", where));
    if (!IsSafeRelativePath(e.target))
      return c.Error(where + "target", "'" + e.target + "' is not a safe relative path");
    VAULTD_ASSIGN_OR_RETURN(e.mode, c.String(m, "mode", where));
    if (e.mode != "ro" && e.mode != "rw")
      return c.Error(where + "mode", "must be ro or rw, got '" + e.mode + "'");
    VAULTD_ASSIGN_OR_RETURN(e.room, c.String(m, "room", where));
    VAULTD_ASSIGN_OR_RETURN(e.expires_at, c.OptionalTime(m, "expires_at", where));
    VAULTD_ASSIGN_OR_RETURN(e.because, c.Strings(m, "because", where, false));
    if (!names.insert(e.name).second) return c.Error(where + "name", "duplicate '" + e.name + "'");
    if (!rooms.insert(e.room).second) return c.Error(where + "room", "duplicate '" + e.room + "'");
    for (const auto& t : targets) {
      const auto& [a, b] =
          t.size() < e.target.size() ? std::pair(t, e.target) : std::pair(e.target, t);
      if (a == b) return c.Error(where + "target", "duplicate '" + e.target + "'");
      if (b.compare(0, a.size(), a) == 0 && b[a.size()] == '/')
        return c.Error(where + "target", "'" + b + "' is nested inside '" + a + "'");
    }
    targets.insert(e.target);
    out.mounts.push_back(std::move(e));
  }
  if (auto sync = doc.find("sync"); sync != doc.end() && !sync->is_null()) {
    if (!sync->is_object()) return c.Error("sync", "must be an object");
    if (auto url = sync->find("url"); url != sync->end() && !url->is_null()) {
      if (!url->is_string()) return c.Error("sync.url", "must be a string or null");
      out.sync_url = url->get<std::string>();
    }
  }
  out.raw_json = std::string(text);
  return out;
}

std::chrono::milliseconds BackoffDelay(int retry, std::chrono::milliseconds initial,
                                       std::chrono::milliseconds max, uint64_t random) {
  int64_t cap = initial.count();
  for (int i = 1; i < retry && cap < max.count(); ++i) cap *= 2;
  cap = std::min<int64_t>(cap, max.count());
  if (cap <= 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(static_cast<int64_t>(random % static_cast<uint64_t>(cap + 1)));
}

Result<MountSetDoc> FetchMountSet(const FetchOptions& options) {
  const int attempts = std::max(1, options.max_attempts);
  std::mt19937_64 rng(options.jitter_seed ? options.jitter_seed : std::random_device{}());
  auto sleep = options.sleep ? options.sleep
                             : [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  for (int attempt = 1;; ++attempt) {
    HttpRequest req;
    req.url = options.url;
    req.connect_timeout = options.connect_timeout;
    req.read_timeout = options.read_timeout;
    req.headers.emplace_back("Authorization", "Bearer " + options.token);
    auto resp = HttpFetch(req);
    Status err;
    bool retry = false;
    if (!resp.ok()) {
      err = resp.status();
      retry = err.code() == StatusCode::kUnavailable;
    } else if (resp->status == 200) {
      auto parsed = ParseMountSet(resp->body);
      if (parsed.ok()) return parsed;
      err = Status(StatusCode::kCorruption, parsed.status().message());
    } else {
      std::string what = "HTTP " + std::to_string(resp->status) + ": " + Excerpt(resp->body);
      if (resp->status == 401) {
        err = Status::Unauthenticated(what);
      } else if (resp->status == 403) {
        err = Status::PermissionDenied(what);
      } else if (resp->status == 429 || resp->status >= 500) {
        err = Status::Unavailable(what);
        retry = true;
      } else {
        err = Status::InvalidArgument(what);
      }
    }
    if (!retry || attempt >= attempts)
      return err.WithContext("fetching the mount set from " + options.url + " (attempt " +
                             std::to_string(attempt) + "/" + std::to_string(attempts) + ")");
    sleep(BackoffDelay(attempt, options.initial_backoff, options.max_backoff, rng()));
  }
}

Status SaveMountSetCache(const std::string& path, const MountSetDoc& doc) {
  return WriteFileAtomic(path, doc.raw_json, {.mode = 0600, .sync = true})
      .WithContext("saving the mount set cache");
}

Result<MountSetDoc> LoadMountSetCache(const std::string& path) {
  auto text = ReadFile(path, kMaxCacheBytes);
  if (!text.ok()) return text.status().WithContext("loading the mount set cache");
  auto doc = ParseMountSet(*text);
  if (!doc.ok()) return doc.status().WithContext("loading the mount set cache " + path);
  return doc;
}

Result<FetchOutcome> FetchMountSetWithCache(const FetchOptions& options,
                                            const std::string& cache_path, WallTime now) {
  auto fetched = FetchMountSet(options);
  if (fetched.ok()) {
    FetchOutcome out{std::move(*fetched), false, {}};
    VAULTD_RETURN_IF_ERROR(SaveMountSetCache(cache_path, out.doc));
    return out;
  }
  if (fetched.status().code() != StatusCode::kUnavailable) return fetched.status();
  auto cached = LoadMountSetCache(cache_path);
  if (!cached.ok())
    return Status(StatusCode::kUnavailable, fetched.status().message() + "; and no usable cache: " +
                                                cached.status().message());
  FetchOutcome out{std::move(*cached), true, fetched.status().message()};
  // A time window that closed while the orchestrator was away must not stay open.
  auto& mounts = out.doc.mounts;
  size_t before = mounts.size();
  std::erase_if(mounts, [&](const MountEntry& m) { return m.expires_at && *m.expires_at <= now; });
  if (mounts.size() != before) {
    out.fetch_error += "; " + std::to_string(before - mounts.size()) +
                       " cached mount(s) dropped: expired since the cache was written";
  }
  return out;
}

}  // namespace vaultd::orchestrator_client
