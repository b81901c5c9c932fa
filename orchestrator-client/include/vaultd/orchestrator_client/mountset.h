// The mount set as the container sees it (schema "vaultd.mountset/1", the one
// contract with the orchestrator; docs/mountset.md): parse and validate it,
// fetch it over HTTP with retries, cache the last good one on disk.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vaultd/common/clock.h"
#include "vaultd/common/status.h"

namespace vaultd::orchestrator_client {

inline constexpr std::string_view kMountSetSchema = "vaultd.mountset/1";

struct MountEntry {
  std::string name;
  std::string source;  // host path (empty for Pattern-A discovery when unknown)
  std::string target;  // relative to the vault root
  std::string mode;    // "ro" | "rw"
  std::string room;
  std::optional<WallTime> expires_at;
  std::vector<std::string> because;
};

struct MountSetDoc {
  std::string user;
  std::vector<std::string> groups;
  std::string policy_revision;
  WallTime generated_at;
  std::optional<WallTime> valid_until;
  std::string vault_root;
  std::vector<MountEntry> mounts;
  std::optional<std::string> sync_url;
  std::vector<std::string> warnings;
  std::string raw_json;  // exactly what was parsed (what the cache stores)
};

// Validates the whole contract: schema, types, absolute vault_root, targets
// that are safe relative paths, unique names/targets/rooms, modes ro|rw,
// RFC 3339 times. Unknown fields are ignored (forward compatible); an unknown
// schema is refused. Errors read "mount set: mounts[2].mode: ...".
Result<MountSetDoc> ParseMountSet(std::string_view json);

struct FetchOptions {
  std::string url;    // e.g. http://orchestrator.internal:8080/v1/mountset
  std::string token;  // the user's IdP access token (sent as Bearer)
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds read_timeout{5000};
  int max_attempts = 4;  // >= 1
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{5000};
  uint64_t jitter_seed = 0;  // 0 = random
  // Seam for tests: how to wait between attempts (default: sleep).
  std::function<void(std::chrono::milliseconds)> sleep;
};

// Fetches and validates the mount set. Transport failures, 429 and 5xx are
// retried with exponential backoff and full jitter; 4xx, bad JSON and a wrong
// schema are not (retrying cannot fix them). The error names the URL, the
// attempt and what failed, with an excerpt of the body for HTTP errors.
Result<MountSetDoc> FetchMountSet(const FetchOptions& options);

// The delay before retry number `retry` (1-based): uniform in [0, min(max, initial * 2^(retry-1))].
std::chrono::milliseconds BackoffDelay(int retry, std::chrono::milliseconds initial,
                                       std::chrono::milliseconds max, uint64_t random);

// Stores the mount set's JSON atomically (crash-safe) at `path`.
Status SaveMountSetCache(const std::string& path, const MountSetDoc& doc);
Result<MountSetDoc> LoadMountSetCache(const std::string& path);

struct FetchOutcome {
  MountSetDoc doc;
  bool from_cache = false;
  std::string fetch_error;  // why the cache was used
};

// Fetch, and on success refresh the cache. When the orchestrator cannot be
// reached (Unavailable: DNS, connect, timeout, 5xx) the cached mount set is
// returned instead; a refusal (401/403), bad JSON or a wrong schema is never
// papered over with the cache. A cached mount whose expires_at is not after
// `now` is dropped (offline we cannot know what its mode became), and
// fetch_error says so.
Result<FetchOutcome> FetchMountSetWithCache(const FetchOptions& options,
                                            const std::string& cache_path,
                                            WallTime now = std::chrono::system_clock::now());

}  // namespace vaultd::orchestrator_client
