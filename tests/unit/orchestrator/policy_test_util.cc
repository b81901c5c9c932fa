#include "policy_test_util.h"

#include <gtest/gtest.h>

namespace vaultd::orchestrator::testing {

WallTime T(const char* rfc3339) {
  Result<WallTime> t = ParseRfc3339(rfc3339);
  EXPECT_TRUE(t.ok()) << rfc3339;
  return t.value_or(WallTime{});
}

std::string Diagnostics(const LoadResult& r) {
  std::string out;
  for (const Diagnostic& d : r.diagnostics) out += d.ToString() + "\n";
  return out;
}

LoadResult LoadYaml(const std::string& yaml) {
  LoadOptions o;
  o.now = T(kNow);
  return LoadPolicyString(yaml, "p.yaml", o);
}

std::shared_ptr<const Policy> MustLoad(const std::string& yaml) {
  LoadResult r = LoadYaml(yaml);
  EXPECT_TRUE(r.ok()) << Diagnostics(r);
  return r.policy;
}

std::map<std::string, std::string> Modes(const std::shared_ptr<const Policy>& p,
                                         const std::string& user,
                                         const std::vector<std::string>& groups, const char* at) {
  MountSet m = Evaluate(p, {user, groups, T(at), false});
  std::map<std::string, std::string> out;
  for (const Mount& mount : m.mounts) out[std::string(mount.name)] = mount.mode;
  return out;
}

const Mount* FindMount(const MountSet& m, const std::string& name) {
  for (const Mount& mount : m.mounts) {
    if (mount.name == name) return &mount;
  }
  return nullptr;
}

}  // namespace vaultd::orchestrator::testing
