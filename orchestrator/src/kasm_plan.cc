// The Kasm-native (Pattern A) translation. Kasm merges user, group and
// workspace mappings additively, so a group mapping is the only native
// building block: OR over groups works, everything else needs a workaround.
#include "vaultd/orchestrator/kasm_plan.h"

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "policy_model.h"

namespace vaultd::orchestrator {
namespace {

// Kasm's session user is uid/gid 1000 (Kasm's volume mapping guide); a ro
// mount cannot be chowned, so its ownership check is skipped.
nlohmann::json VolumeMapping(const std::string& container_path, const std::string& mode) {
  return {
      {"bind", container_path},    {"mode", mode}, {"uid", 1000}, {"gid", 1000}, {"required", true},
      {"skip_check", mode == "ro"}};
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& s : parts) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::string Bind(const std::string& target) { return std::string(kVaultRoot) + "/" + target; }

// One Kasm Volume Mappings object (a group's, the workspace's or a user's). It
// is a JSON object keyed by host path, so it holds one bind per host path: when
// a second folder of the same host path arrives, the first keeps the key and
// the second is listed under `not_mappable` with a warning naming both, never
// dropped silently. (Spelling the host path differently, e.g. with a trailing
// "/." to make a second key, would rely on how Kasm and Docker normalise paths
// and is not done.)
class MappingObject {
 public:
  explicit MappingObject(std::string owner) : owner_(std::move(owner)) {}

  void Add(const std::string& folder, const std::string& host, const std::string& bind,
           const std::string& mode, std::vector<std::string>& warnings) {
    auto [it, inserted] = holder_.emplace(host, folder);
    if (inserted) {
      vm_[host] = VolumeMapping(bind, mode);
      return;
    }
    const std::string kept_bind = vm_[host]["bind"].get<std::string>();
    not_mappable_.push_back({{"folder", folder},
                             {"host_path", host},
                             {"bind", bind},
                             {"mode", mode},
                             {"host_path_mapped_for", it->second}});
    warnings.push_back("folders '" + it->second + "' and '" + folder + "' share host path " + host +
                       ": the Volume " + "Mappings of " + owner_ +
                       " are keyed by host path and hold one entry for it, so Kasm maps " + host +
                       " -> " + kept_bind + " (folder '" + it->second + "') only and folder '" +
                       folder + "' (" + bind + ", " + mode +
                       ") is NOT mapped; docker-run-config (Pattern B) mounts both");
  }
  size_t size() const { return vm_.size(); }
  const nlohmann::json& volume_mappings() const { return vm_; }
  const nlohmann::json& not_mappable() const { return not_mappable_; }

 private:
  std::string owner_;
  nlohmann::json vm_ = nlohmann::json::object();
  nlohmann::json not_mappable_ = nlohmann::json::array();
  std::map<std::string, std::string> holder_;  // host path -> the folder that has its key
};

}  // namespace

nlohmann::json KasmPlanJson(const Policy& p) {
  // kasm group name -> folder index -> mode
  std::map<std::string, std::map<uint32_t, Mode>> by_group;
  std::set<std::string> synthetic;
  std::map<std::string, std::vector<uint32_t>> synthetic_members;
  std::map<uint32_t, Mode> everyone;  // workspace-level mappings
  nlohmann::json not_native = nlohmann::json::array();
  nlohmann::json conflicts = nlohmann::json::array();

  auto grant = [](std::map<uint32_t, Mode>& m, uint32_t f, Mode mode) {
    Mode& cur = m[f];
    if (mode > cur) cur = mode;
  };
  auto note = [&](const Folder& f, const std::string& rule, const char* kind,
                  const std::string& reason) {
    not_native.push_back({{"folder", f.name}, {"rule", rule}, {"kind", kind}, {"reason", reason}});
  };

  for (uint32_t fi : p.topo_order) {
    const Folder& f = p.folders[fi];
    for (size_t i = 0; i < f.access.size(); ++i) {
      const Rule& r = f.access[i];
      std::string rule = "access[" + std::to_string(i) + "]";
      if (r.Windowed()) {
        std::string window;
        if (r.not_before) window += "from " + FormatRfc3339(*r.not_before);
        if (r.not_after)
          window += std::string(window.empty() ? "" : " ") + "until " + FormatRfc3339(*r.not_after);
        note(f, rule, "time-window",
             "Kasm mappings have no validity period: an admin must add the mapping " + window +
                 " by hand (planned below as if always open)");
      }
      if (r.groups.empty()) {
        grant(everyone, fi, r.mode);
        continue;
      }
      if (r.compound == Compound::kAll && r.groups.size() > 1) {
        std::string name;
        for (uint32_t g : r.written) name += (name.empty() ? "" : "+") + p.GroupName(g);
        synthetic.insert(name);
        synthetic_members[name] = r.written;
        grant(by_group[name], fi, r.mode);
        note(f, rule, "and",
             "Kasm grants mappings to members of any one group (a union); 'all of [" +
                 GroupList(p, r.written) + "]' needs a synthetic Kasm group '" + name +
                 "' whose members an admin keeps equal to the intersection");
        continue;
      }
      for (uint32_t g : r.groups) grant(by_group[p.GroupName(g)], fi, r.mode);
    }
    for (uint32_t src : f.inherit) {
      // Derived permission: copy every mapping of the source, at the source's mode.
      for (auto& [group, folders] : by_group) {
        auto it = folders.find(src);
        if (it != folders.end()) grant(folders, fi, it->second);
      }
      auto it = everyone.find(src);
      if (it != everyone.end()) grant(everyone, fi, it->second);
      note(f, "inherit '" + p.folders[src].name + "'", "inherit",
           "Kasm has no derived permissions: each group mapping of '" + p.folders[src].name +
               "' is copied to this folder and must be kept in sync by hand");
    }
    for (size_t i = 0; i < f.deny.size(); ++i) {
      note(f, "deny[" + std::to_string(i) + "]", "deny",
           "Kasm merges mappings additively and cannot subtract: members of " +
               (f.deny[i].groups.empty() ? std::string("every group")
                                         : "[" + GroupList(p, f.deny[i].written) + "]") +
               " still get the folder through the group mappings below; remove them from those "
               "groups instead");
    }
  }

  nlohmann::json groups = nlohmann::json::array();
  std::vector<std::string> warnings;
  size_t group_mappings = 0, not_mappable = 0;
  // folder -> modes it is mapped with, to find ro/rw conflicts
  std::map<uint32_t, std::map<std::string, std::vector<std::string>>> modes_of;
  // host path -> folder -> the Kasm objects that map it, to find folders of one
  // host path reaching a user through different objects
  std::map<std::string, std::map<uint32_t, std::vector<std::string>>> objects_of;
  for (const auto& [group, folders] : by_group) {
    MappingObject vm("Kasm group '" + group + "'");
    for (const auto& [fi, mode] : folders) {
      const Folder& f = p.folders[fi];
      vm.Add(f.name, f.path, Bind(f.target), ModeName(mode), warnings);
      modes_of[fi][ModeName(mode)].push_back(group);
      objects_of[f.path][fi].push_back("group '" + group + "'");
    }
    group_mappings += vm.size();
    not_mappable += vm.not_mappable().size();
    nlohmann::json g = {{"name", group},
                        {"synthetic", synthetic.count(group) > 0},
                        {"volume_mappings", vm.volume_mappings()}};
    if (!vm.not_mappable().empty()) g["not_mappable"] = vm.not_mappable();
    if (synthetic.count(group)) g["members_must_be_in_all_of"] = nlohmann::json::array();
    if (synthetic.count(group)) {
      for (uint32_t id : synthetic_members[group])
        g["members_must_be_in_all_of"].push_back(p.GroupName(id));
    }
    groups.push_back(std::move(g));
  }
  for (const auto& [fi, modes] : modes_of) {
    if (modes.size() < 2) continue;
    const Folder& f = p.folders[fi];
    conflicts.push_back(
        {{"folder", f.name},
         {"reason", "mapped rw for [" + Join(modes.at("rw")) + "] and ro for [" +
                        Join(modes.at("ro")) + "]: a user in both gets two mappings of " + f.path +
                        " to " + Bind(f.target) +
                        "; Kasm does not document which wins, so these groups must not overlap"}});
  }

  MappingObject workspace("the workspace");
  for (const auto& [fi, mode] : everyone) {
    const Folder& f = p.folders[fi];
    workspace.Add(f.name, f.path, Bind(f.target), ModeName(mode), warnings);
    objects_of[f.path][fi].push_back("the workspace");
  }
  if (p.personal) {
    // Kasm substitutes {username} in volume mappings itself.
    workspace.Add("personal", p.personal->path, Bind(p.personal->target),
                  ModeName(p.personal->mode), warnings);
  }
  not_mappable += workspace.not_mappable().size();

  // Folders of one host path mapped by different objects: a user who gets both
  // objects gets two mappings of one host path, which Kasm merges without
  // documenting the outcome.
  for (const auto& [host, folders] : objects_of) {
    if (folders.size() < 2) continue;
    std::string each;
    std::set<std::string> objects;
    for (const auto& [fi, objs] : folders) {
      each += (each.empty() ? "" : "; ") + std::string("folder '") + p.folders[fi].name + "' -> " +
              Bind(p.folders[fi].target) + " by " + Join(objs);
      objects.insert(objs.begin(), objs.end());
    }
    if (objects.size() < 2) continue;  // all in one object: reported as not_mappable
    conflicts.push_back({{"folder", p.folders[folders.begin()->first].name},
                         {"reason", "host path " + host + " is shared by " +
                                        std::to_string(folders.size()) + " folders (" + each +
                                        "): a user who gets more than one of these objects gets "
                                        "several mappings of one host path; "
                                        "Kasm does not document how they merge, so at most one of "
                                        "these folders is certain"}});
  }

  size_t m = p.group_names.size(), n = p.folders.size();
  nlohmann::json counts = {
      {"folders", n},
      {"policy_groups", m},
      {"folders_x_groups", n * m},
      {"kasm_groups", by_group.size()},
      {"synthetic_groups", synthetic.size()},
      {"group_volume_mappings", group_mappings},
      {"workspace_volume_mappings", workspace.size()},
      {"admin_objects", by_group.size() + group_mappings + workspace.size()},
      {"rules_not_native", not_native.size()},
      {"conflicts", conflicts.size()},
      {"not_mappable", not_mappable},
  };
  return {{"schema", "vaultd.kasm-plan/1"},
          {"policy", p.file},
          {"policy_revision", p.revision},
          {"vault_root", kVaultRoot},
          {"kasm_groups", std::move(groups)},
          {"workspace_volume_mappings", workspace.volume_mappings()},
          {"workspace_not_mappable", workspace.not_mappable()},
          {"not_native", std::move(not_native)},
          {"conflicts", std::move(conflicts)},
          {"counts", std::move(counts)},
          {"warnings", std::move(warnings)}};
}

std::string KasmPlanText(const nlohmann::json& plan) {
  std::ostringstream o;
  auto mapping_lines = [&](const nlohmann::json& vm, const char* indent) {
    for (auto it = vm.begin(); it != vm.end(); ++it) {
      o << indent << it.key() << " -> " << it.value()["bind"].get<std::string>() << " ("
        << it.value()["mode"].get<std::string>() << ")\n";
    }
  };
  auto not_mappable_lines = [&](const nlohmann::json& list, const char* indent) {
    for (const auto& n : list) {
      o << indent << "NOT MAPPED " << n["host_path"].get<std::string>() << " -> "
        << n["bind"].get<std::string>() << " (" << n["mode"].get<std::string>() << ") for folder '"
        << n["folder"].get<std::string>() << "': host path already mapped for folder '"
        << n["host_path_mapped_for"].get<std::string>() << "'\n";
    }
  };
  o << "Kasm-native (Pattern A) plan for " << plan["policy"].get<std::string>() << " ("
    << plan["policy_revision"].get<std::string>() << ")\n\n";
  if (plan.contains("warnings") && !plan["warnings"].empty()) {
    o << "Warnings (" << plan["warnings"].size() << "):\n";
    for (const auto& w : plan["warnings"]) o << "  warning: " << w.get<std::string>() << "\n";
    o << "\n";
  }
  o << "Kasm groups, each with a Volume Mappings group setting:\n";
  for (const auto& g : plan["kasm_groups"]) {
    o << "  " << g["name"].get<std::string>();
    if (g["synthetic"].get<bool>()) {
      std::string all;
      for (const auto& x : g["members_must_be_in_all_of"])
        all += (all.empty() ? "" : ", ") + x.get<std::string>();
      o << "  [synthetic: keep members = users in all of " << all << "]";
    }
    o << "\n";
    mapping_lines(g["volume_mappings"], "    ");
    if (g.contains("not_mappable")) not_mappable_lines(g["not_mappable"], "    ");
  }
  o << "\nWorkspace Volume Mappings (every user of the workspace):\n";
  if (plan["workspace_volume_mappings"].empty()) o << "  (none)\n";
  mapping_lines(plan["workspace_volume_mappings"], "  ");
  if (plan.contains("workspace_not_mappable"))
    not_mappable_lines(plan["workspace_not_mappable"], "  ");
  o << "\nRules Kasm cannot express natively (" << plan["not_native"].size() << "):\n";
  if (plan["not_native"].empty()) o << "  (none)\n";
  for (const auto& r : plan["not_native"]) {
    o << "  " << r["folder"].get<std::string>() << " " << r["rule"].get<std::string>() << " ["
      << r["kind"].get<std::string>() << "]: " << r["reason"].get<std::string>() << "\n";
  }
  if (!plan["conflicts"].empty()) {
    o << "\nConflicts:\n";
    for (const auto& c : plan["conflicts"]) {
      o << "  " << c["folder"].get<std::string>() << ": " << c["reason"].get<std::string>() << "\n";
    }
  }
  const auto& c = plan["counts"];
  o << "\nCounts: " << c["folders"] << " folders x " << c["policy_groups"]
    << " groups = " << c["folders_x_groups"] << " possible group mappings.\n"
    << "  Kasm admin objects: " << c["kasm_groups"] << " groups (" << c["synthetic_groups"]
    << " synthetic) + " << c["group_volume_mappings"] << " group volume mappings + "
    << c["workspace_volume_mappings"] << " workspace volume mappings = " << c["admin_objects"]
    << "\n"
    << "  Rules Kasm cannot express: " << c["rules_not_native"] << "; conflicts: " << c["conflicts"]
    << "; folders not mappable (host path shared): " << c["not_mappable"] << "\n"
    << "  With the orchestrator (Pattern B): 1 policy file, 1 Docker Run Config Override.\n";
  return o.str();
}

nlohmann::json KasmUserVolumeMappings(const MountSet& m) {
  MappingObject vm("Kasm user '" + m.user + "'");
  std::vector<std::string> warnings;
  for (const Mount& mount : m.mounts) {
    vm.Add(std::string(mount.name), std::string(mount.source),
           m.vault_root + "/" + std::string(mount.target), std::string(mount.mode), warnings);
  }
  return {{"volume_mappings", vm.volume_mappings()},
          {"not_mappable", vm.not_mappable()},
          {"warnings", warnings}};
}

}  // namespace vaultd::orchestrator
