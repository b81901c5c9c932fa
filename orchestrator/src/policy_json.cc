// The mount set JSON (docs/mountset.md) and the Docker SDK volumes form.
#include <nlohmann/json.hpp>

#include <map>
#include <set>

#include "policy_model.h"

namespace vaultd::orchestrator {
namespace {

nlohmann::json TimeOrNull(const std::optional<WallTime>& t) {
  if (!t) return nullptr;
  return FormatMountSetTime(*t);
}

std::string ContainerPath(const MountSet& m, const Mount& mount) {
  std::string out;
  out.reserve(m.vault_root.size() + 1 + mount.target.size());
  return out.append(m.vault_root).append("/").append(mount.target);
}

nlohmann::json Texts(const TextList& texts) {
  nlohmann::json out = nlohmann::json::array();
  for (std::string_view t : texts) out.push_back(t);
  return out;
}

}  // namespace

std::string FormatMountSetTime(WallTime t) {
  return t.time_since_epoch() % std::chrono::seconds(1) == std::chrono::nanoseconds(0)
             ? FormatRfc3339(t)
             : FormatRfc3339Millis(t);
}

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
                      {"because", Texts(mount.because)}});
  }
  j["mounts"] = std::move(mounts);
  j["sync"] = {{"url", m.sync_url ? nlohmann::json(*m.sync_url) : nlohmann::json(nullptr)}};
  j["warnings"] = m.warnings;
  if (m.explained) {
    nlohmann::json ng = nlohmann::json::array();
    for (const NotGranted& n : m.not_granted)
      ng.push_back({{"name", n.name}, {"reasons", n.reasons}});
    j["not_granted"] = std::move(ng);
  }
  return j;
}

nlohmann::json DockerRunConfigJson(const MountSet& m) {
  std::set<std::string_view> sources;
  bool twice = false;
  for (const Mount& mount : m.mounts) twice |= !sources.insert(mount.source).second;
  if (twice) {
    // A dict cannot hold one host path twice; docker-py also takes "host:container:mode" strings.
    nlohmann::json list = nlohmann::json::array();
    for (const Mount& mount : m.mounts) {
      list.push_back(std::string(mount.source)
                         .append(":")
                         .append(ContainerPath(m, mount))
                         .append(":")
                         .append(mount.mode));
    }
    return {{"volumes", std::move(list)}};
  }
  nlohmann::json vols = nlohmann::json::object();
  for (const Mount& mount : m.mounts) {
    vols[std::string(mount.source)] = {{"bind", ContainerPath(m, mount)}, {"mode", mount.mode}};
  }
  return {{"volumes", std::move(vols)}};
}

}  // namespace vaultd::orchestrator
