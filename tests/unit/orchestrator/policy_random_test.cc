// The indexed evaluator against a brute-force reference on random policies:
// modes, expires_at and valid_until must agree exactly. Prints its seed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <random>
#include <set>

#include "policy_test_util.h"

namespace vaultd::orchestrator {
namespace {

struct RRule {
  std::vector<int> groups;
  bool all = false;
  int mode = 0;          // 1 ro, 2 rw, 0 deny
  int nb = -1, na = -1;  // day numbers, -1 = open
  bool Active(int t) const { return (nb < 0 || t >= nb) && (na < 0 || t < na); }
  bool Match(const std::set<int>& g) const {
    if (groups.empty()) return true;
    int hits = 0;
    for (int x : groups) hits += g.count(x);
    return all ? hits == static_cast<int>(groups.size()) : hits > 0;
  }
};
struct RFolder {
  std::vector<RRule> access, deny;
  std::vector<int> inherit;  // only lower indexes: acyclic by construction
};

int RefMode(const std::vector<RFolder>& fs, int f, const std::set<int>& g, int t) {
  for (const RRule& d : fs[f].deny) {
    if (d.Active(t) && d.Match(g)) return 0;
  }
  int m = 0;
  for (const RRule& r : fs[f].access) {
    if (r.Active(t) && r.Match(g)) m = std::max(m, r.mode);
  }
  for (int s : fs[f].inherit) m = std::max(m, RefMode(fs, s, g, t));
  return m;
}

std::string Day(int d) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "2026-%02d-%02dT00:00:00Z", 1 + d / 28, 1 + d % 28);
  return buf;
}

TEST(RandomPolicies, IndexedEvaluatorMatchesBruteForce) {
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("VAULTD_TEST_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::printf("RandomPolicies seed=%llu (replay with VAULTD_TEST_SEED)\n",
              static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  auto rnd = [&](int n) { return static_cast<int>(rng() % n); };
  const int kGroups = 6, kDays = 12 * 28;
  int iterations = 150;
#if defined(__SANITIZE_ADDRESS__)
  iterations = 40;
#endif
  for (int it = 0; it < iterations; ++it) {
    std::vector<RFolder> fs(1 + rnd(8));
    std::string yaml = "version: 1\nfolders:\n";
    auto rule_yaml = [&](RRule& r, bool deny) {
      int n = rnd(4) == 0 ? 0 : 1 + rnd(3);
      std::set<int> gs;
      for (int i = 0; i < n; ++i) gs.insert(rnd(kGroups));
      r.groups.assign(gs.begin(), gs.end());
      r.all = rnd(2);
      r.mode = deny ? 0 : 1 + rnd(2);
      if (rnd(2)) r.nb = rnd(kDays);
      if (rnd(2)) r.na = rnd(kDays);
      std::string y = "      - groups: [";
      for (size_t i = 0; i < r.groups.size(); ++i)
        y += (i ? ", g" : "g") + std::to_string(r.groups[i]);
      y += "]\n        compound: " + std::string(r.all ? "all" : "any") + "\n";
      if (!deny) y += std::string("        mode: ") + (r.mode == 2 ? "rw" : "ro") + "\n";
      if (r.nb >= 0) y += "        not_before: \"" + Day(r.nb) + "\"\n";
      if (r.na >= 0) y += "        not_after: \"" + Day(r.na) + "\"\n";
      return y;
    };
    for (size_t f = 0; f < fs.size(); ++f) {
      yaml += "  - name: f" + std::to_string(f) + "\n    path: /f" + std::to_string(f) + "\n";
      int na = rnd(3), nd = rnd(4) == 0 ? 1 : 0;
      if (na) yaml += "    access:\n";
      for (int i = 0; i < na; ++i) {
        fs[f].access.emplace_back();
        yaml += rule_yaml(fs[f].access.back(), false);
      }
      if (nd) yaml += "    deny:\n";
      for (int i = 0; i < nd; ++i) {
        fs[f].deny.emplace_back();
        yaml += rule_yaml(fs[f].deny.back(), true);
      }
      if (f > 0 && rnd(3) == 0) {
        int s = rnd(static_cast<int>(f));
        fs[f].inherit.push_back(s);
        yaml += "    inherit: [f" + std::to_string(s) + "]\n";
      }
    }
    LoadResult r = testing::LoadYaml(yaml);
    ASSERT_TRUE(r.ok()) << testing::Diagnostics(r) << yaml;
    std::set<int> groups;
    std::vector<std::string> names;
    for (int g = 0; g < kGroups; ++g) {
      if (rnd(2)) {
        groups.insert(g);
        names.push_back("g" + std::to_string(g));
      }
    }
    int at = rnd(kDays);
    MountSet m = Evaluate(r.policy, {"u", names, testing::T(Day(at).c_str()), false});
    // Reference: modes now, and the first later day on which anything changes.
    std::optional<int> valid_until;
    for (size_t f = 0; f < fs.size(); ++f) {
      int now = RefMode(fs, static_cast<int>(f), groups, at);
      std::optional<int> change;
      for (int t = at + 1; t < kDays && !change; ++t) {
        if (RefMode(fs, static_cast<int>(f), groups, t) != now) change = t;
      }
      if (change && (!valid_until || *change < *valid_until)) valid_until = change;
      const Mount* mount = testing::FindMount(m, "f" + std::to_string(f));
      SCOPED_TRACE(yaml + "groups: " + ::testing::PrintToString(names) + " at " + Day(at) +
                   " folder f" + std::to_string(f));
      if (now == 0) {
        EXPECT_EQ(mount, nullptr);
        continue;
      }
      ASSERT_NE(mount, nullptr);
      EXPECT_EQ(mount->mode, now == 2 ? "rw" : "ro");
      ASSERT_EQ(mount->expires_at.has_value(), change.has_value());
      if (change) {
        EXPECT_EQ(*mount->expires_at, testing::T(Day(*change).c_str()));
      }
    }
    ASSERT_EQ(m.valid_until.has_value(), valid_until.has_value()) << yaml;
    if (valid_until) {
      EXPECT_EQ(*m.valid_until, testing::T(Day(*valid_until).c_str())) << yaml;
    }
  }
}

}  // namespace
}  // namespace vaultd::orchestrator
