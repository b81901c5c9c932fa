// The mount set JSON (docs/mountset.md) and the Docker SDK volumes form.
#include <nlohmann/json.hpp>

#include <map>
#include <set>

#include "policy_model.h"

namespace vaultd::orchestrator {
namespace {

nlohmann::json TimeOrNull(const std::optional<WallTime>& t) {
  if (!t) return nullptr;
  auto since = t->time_since_epoch();
  return since % std::chrono::seconds(1) == std::chrono::nanoseconds(0) ? FormatRfc3339(*t)
                                                                        : FormatRfc3339Millis(*t);
}

std::string ContainerPath(const MountSet& m, const Mount& mount) {
  return m.vault_root + "/" + mount.target;
}

}  // namespace

nlohmann::json MountSetToJson(const MountSet& m) {
  nlohmann::json j;
  j["schema"] = m.schema;
  j["user"] = m.user;
  j["groups"] = m.groups;
  j["policy_revision"] = m.policy_revision;
  j["generated_at"] = TimeOrNull(m.generated_at);
  j["valid_until"] = TimeOrNull(m.valid_until);
  j["vault_root"] = m.vault_root;
  nlohmann::json mounts = nlohmann::json::array();
  for (const Mount& mount : m.mounts) {
    mounts.push_back({{"name", mount.name},
                      {"source", mount.source},
                      {"target", mount.target},
                      {"mode", mount.mode},
                      {"room", mount.room},
                      {"expires_at", TimeOrNull(mount.expires_at)},
                      {"because", mount.because}});
  }
  j["mounts"] = std::move(mounts);
  j["sync"] = {{"url", m.sync_url ? nlohmann::json(*m.sync_url) : nlohmann::json(nullptr)}};
  j["warnings"] = m.warnings;
  if (m.explained) {
    nlohmann::json ng = nlohmann::json::array();
    for (const NotGranted& n : m.not_granted) ng.push_back({{"name", n.name}, {"reasons", n.reasons}});
    j["not_granted"] = std::move(ng);
  }
  return j;
}

nlohmann::json DockerRunConfigJson(const MountSet& m) {
  std::set<std::string> sources;
  bool twice = false;
  for (const Mount& mount : m.mounts) twice |= !sources.insert(mount.source).second;
  if (twice) {
    // A dict cannot hold one host path twice; docker-py also takes "host:container:mode" strings.
    nlohmann::json list = nlohmann::json::array();
    for (const Mount& mount : m.mounts) list.push_back(mount.source + ":" + ContainerPath(m, mount) + ":" + mount.mode);
    return {{"volumes", std::move(list)}};
  }
  nlohmann::json vols = nlohmann::json::object();
  for (const Mount& mount : m.mounts) {
    vols[mount.source] = {{"bind", ContainerPath(m, mount)}, {"mode", mount.mode}};
  }
  return {{"volumes", std::move(vols)}};
}

}  // namespace vaultd::orchestrator
