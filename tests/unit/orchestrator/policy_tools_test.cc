// Outputs: mount set JSON, Docker run config (both forms), Kasm plan, policy cases.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "policy_test_util.h"
#include "vaultd/orchestrator/kasm_plan.h"
#include "vaultd/orchestrator/policy_cases.h"

namespace vaultd::orchestrator {
namespace {

using testing::MustLoad;
using testing::T;

const char* kTwoFolders = R"(version: 1
sync: {url: "wss://relay.example:443"}
personal: {path: "/users/{username}", target: me, mode: ro}
folders:
  - name: wiki
    path: /shared/wiki
    access:
      - {groups: [editors], mode: rw}
      - {groups: [staff], mode: ro, not_after: "2027-01-01T00:00:00Z"}
  - name: deal
    path: /shared/deal
    target: deals/acme
    room: deals-acme
    access:
      - {groups: [legal, executive], compound: all, mode: rw}
)";

TEST(MountSetJson, HasEveryFieldOfTheContract) {
  auto p = MustLoad(kTwoFolders);
  MountSet m =
      Evaluate(p, {"alice", {"staff", "legal", "executive"}, T("2026-06-01T12:00:00Z"), false});
  nlohmann::json j = MountSetToJson(m);
  EXPECT_EQ(j["schema"], "vaultd.mountset/1");
  EXPECT_EQ(j["user"], "alice");
  EXPECT_EQ(j["groups"], nlohmann::json({"staff", "legal", "executive"}));
  EXPECT_EQ(j["policy_revision"], PolicyRevision(*p));
  EXPECT_EQ(j["generated_at"], "2026-06-01T12:00:00Z");
  EXPECT_EQ(j["valid_until"], "2027-01-01T00:00:00Z");
  EXPECT_EQ(j["vault_root"], "/vault");
  EXPECT_EQ(j["sync"]["url"], "wss://relay.example:443");
  EXPECT_TRUE(j["warnings"].is_array());
  ASSERT_EQ(j["mounts"].size(), 3u);
  // Sorted by target: deals/acme, me, wiki.
  EXPECT_EQ(j["mounts"][0]["name"], "deal");
  EXPECT_EQ(j["mounts"][0]["target"], "deals/acme");
  EXPECT_EQ(j["mounts"][0]["room"], "deals-acme");
  EXPECT_EQ(j["mounts"][0]["expires_at"], nullptr);
  EXPECT_EQ(j["mounts"][1]["name"], "personal");
  EXPECT_EQ(j["mounts"][1]["source"], "/users/alice");
  EXPECT_EQ(j["mounts"][1]["mode"], "ro");
  EXPECT_EQ(j["mounts"][2]["name"], "wiki");
  EXPECT_EQ(j["mounts"][2]["expires_at"], "2027-01-01T00:00:00Z");
  EXPECT_EQ(
      j["mounts"][2]["because"][0],
      "folders[0] 'wiki' access[1]: member of any of [staff] until 2027-01-01T00:00:00Z -> ro");
}

TEST(MountSetJson, SyncUrlIsNullWithoutSync) {
  auto p = MustLoad("version: 1\n");
  nlohmann::json j = MountSetToJson(Evaluate(p, {"a", {}, T(testing::kNow), false}));
  EXPECT_TRUE(j["sync"]["url"].is_null());
  EXPECT_TRUE(j["mounts"].empty());
}

TEST(DockerRunConfig, DictForm) {
  auto p = MustLoad(kTwoFolders);
  MountSet m = Evaluate(p, {"alice", {"editors"}, T(testing::kNow), false});
  nlohmann::json j = DockerRunConfigJson(m);
  EXPECT_EQ(j, nlohmann::json::parse(R"({"volumes": {
      "/shared/wiki": {"bind": "/vault/wiki", "mode": "rw"},
      "/users/alice": {"bind": "/vault/me", "mode": "ro"}}})"));
}

TEST(DockerRunConfig, ListFormWhenOneHostPathMapsTwice) {
  auto p = MustLoad(R"(version: 1
folders:
  - {name: a, path: /shared/x, access: [{groups: [g], mode: rw}]}
  - {name: b, path: /shared/x, target: copy, access: [{groups: [g], mode: ro}]}
)");
  nlohmann::json j = DockerRunConfigJson(Evaluate(p, {"u", {"g"}, T(testing::kNow), false}));
  EXPECT_EQ(j, nlohmann::json::parse(
                   R"({"volumes": ["/shared/x:/vault/a:rw", "/shared/x:/vault/copy:ro"]})"));
  // The Kasm per-user object cannot hold it either: it keeps the first folder
  // (target order), lists the other as not mappable and warns naming both.
  nlohmann::json vm = KasmUserVolumeMappings(Evaluate(p, {"u", {"g"}, T(testing::kNow), false}));
  EXPECT_EQ(vm["volume_mappings"].size(), 1u);
  EXPECT_EQ(vm["volume_mappings"]["/shared/x"]["bind"], "/vault/a");
  EXPECT_EQ(vm["not_mappable"], nlohmann::json::parse(R"([{"folder": "b", "host_path": "/shared/x",
      "bind": "/vault/copy", "mode": "ro", "host_path_mapped_for": "a"}])"));
  ASSERT_EQ(vm["warnings"].size(), 1u);
  std::string w = vm["warnings"][0].get<std::string>();
  EXPECT_NE(w.find("folders 'a' and 'b' share host path /shared/x"), std::string::npos) << w;
  EXPECT_NE(w.find("Kasm user 'u'"), std::string::npos) << w;
  EXPECT_NE(w.find("'b' (/vault/copy, ro) is NOT mapped"), std::string::npos) << w;
}

// Two folders of one host path: the plan keeps both visible in every Kasm
// object that would map them, in JSON and text, instead of letting the second
// key overwrite the first.
TEST(KasmPlan, FoldersSharingAHostPathStayVisible) {
  auto p = MustLoad(R"(version: 1
folders:
  - {name: a, path: /shared/x, access: [{groups: [g], mode: rw}]}
  - {name: b, path: /shared/x, target: copy, access: [{groups: [g], mode: ro}]}
  - {name: c, path: /shared/y, access: [{groups: [], mode: ro}]}
  - {name: d, path: /shared/y, target: d2, access: [{groups: [], mode: rw}]}
  - {name: e, path: /shared/z, access: [{groups: [h], mode: ro}]}
  - {name: f, path: /shared/z, target: f2, access: [{groups: [k], mode: ro}]}
)");
  nlohmann::json plan = KasmPlanJson(*p);
  // Group g maps /shared/x for a; b stays listed beside it.
  const nlohmann::json* g = nullptr;
  for (const auto& x : plan["kasm_groups"])
    if (x["name"] == "g") g = &x;
  ASSERT_NE(g, nullptr) << plan.dump(2);
  EXPECT_EQ((*g)["volume_mappings"]["/shared/x"]["bind"], "/vault/a");
  EXPECT_EQ((*g)["volume_mappings"]["/shared/x"]["mode"], "rw");
  EXPECT_EQ((*g)["not_mappable"],
            nlohmann::json::parse(R"([{"folder": "b", "host_path": "/shared/x",
      "bind": "/vault/copy", "mode": "ro", "host_path_mapped_for": "a"}])"));
  // The workspace likewise (rules for everyone).
  EXPECT_EQ(plan["workspace_volume_mappings"]["/shared/y"]["bind"], "/vault/c");
  ASSERT_EQ(plan["workspace_not_mappable"].size(), 1u);
  EXPECT_EQ(plan["workspace_not_mappable"][0]["folder"], "d");
  EXPECT_EQ(plan["workspace_not_mappable"][0]["bind"], "/vault/d2");
  EXPECT_EQ(plan["counts"]["not_mappable"], 2);
  EXPECT_EQ(plan["counts"]["group_volume_mappings"],
            3);  // g: /shared/x, h: /shared/z, k: /shared/z
  EXPECT_EQ(plan["counts"]["workspace_volume_mappings"], 1);
  ASSERT_EQ(plan["warnings"].size(), 2u);
  EXPECT_NE(
      plan["warnings"][0].get<std::string>().find("folders 'a' and 'b' share host path /shared/x"),
      std::string::npos);
  EXPECT_NE(
      plan["warnings"][1].get<std::string>().find("folders 'c' and 'd' share host path /shared/y"),
      std::string::npos);
  // e and f reach a user in both h and k through two group objects: a conflict.
  bool z_conflict = false;
  for (const auto& c : plan["conflicts"]) {
    std::string r = c["reason"].get<std::string>();
    if (r.find("host path /shared/z is shared by 2 folders") != std::string::npos) {
      z_conflict = true;
      EXPECT_NE(r.find("folder 'e' -> /vault/e by group 'h'"), std::string::npos) << r;
      EXPECT_NE(r.find("folder 'f' -> /vault/f2 by group 'k'"), std::string::npos) << r;
    }
    EXPECT_EQ(r.find("/shared/x is shared"), std::string::npos)
        << "one object: not a conflict, " << r;
  }
  EXPECT_TRUE(z_conflict) << plan["conflicts"].dump(2);
  std::string text = KasmPlanText(plan);
  EXPECT_NE(text.find("warning: folders 'a' and 'b' share host path /shared/x"), std::string::npos)
      << text;
  EXPECT_NE(text.find("NOT MAPPED /shared/x -> /vault/copy (ro) for folder 'b'"), std::string::npos)
      << text;
  EXPECT_NE(text.find("NOT MAPPED /shared/y -> /vault/d2 (rw) for folder 'd'"), std::string::npos)
      << text;
}

TEST(KasmPlan, CountsAndNotNativeRules) {
  auto p = MustLoad(R"(version: 1
personal: {path: "/users/{username}"}
folders:
  - name: wiki
    path: /shared/wiki
    access:
      - {groups: [editors], mode: rw}
      - {groups: [staff], mode: ro}
    deny:
      - {groups: [offboarding]}
  - name: deal
    path: /shared/deal
    access:
      - {groups: [legal, executive], compound: all, mode: rw}
  - name: temp
    path: /shared/temp
    access:
      - {groups: [staff], mode: rw, not_after: "2027-01-01T00:00:00Z"}
  - name: derived
    path: /shared/derived
    inherit: [deal]
)");
  nlohmann::json plan = KasmPlanJson(*p);
  const auto& c = plan["counts"];
  EXPECT_EQ(c["folders"], 4);
  EXPECT_EQ(c["policy_groups"], 5);  // editors staff offboarding legal executive
  EXPECT_EQ(c["folders_x_groups"], 20);
  // Kasm groups: editors, staff, legal+executive (synthetic).
  EXPECT_EQ(c["kasm_groups"], 3);
  EXPECT_EQ(c["synthetic_groups"], 1);
  // editors->wiki, staff->wiki, staff->temp, legal+executive->deal, legal+executive->derived.
  EXPECT_EQ(c["group_volume_mappings"], 5);
  EXPECT_EQ(c["workspace_volume_mappings"], 1);  // personal with {username}
  EXPECT_EQ(c["admin_objects"], 3 + 5 + 1);
  std::multiset<std::string> kinds;
  for (const auto& r : plan["not_native"]) kinds.insert(r["kind"].get<std::string>());
  EXPECT_EQ(kinds, (std::multiset<std::string>{"and", "deny", "inherit", "time-window"}));
  EXPECT_EQ(c["rules_not_native"], 4);
  EXPECT_EQ(c["conflicts"], 1);  // wiki: rw for editors, ro for staff
  EXPECT_EQ(plan["workspace_volume_mappings"]["/users/{username}"]["bind"], "/vault/personal");
  std::string text = KasmPlanText(plan);
  EXPECT_NE(text.find("4 folders x 5 groups = 20"), std::string::npos) << text;
}

TEST(KasmPlan, PerUserVolumeMappings) {
  auto p = MustLoad(kTwoFolders);
  MountSet m = Evaluate(p, {"bob", {"staff", "legal", "executive"}, T(testing::kNow), false});
  nlohmann::json all = KasmUserVolumeMappings(m);
  EXPECT_TRUE(all["not_mappable"].empty());
  EXPECT_TRUE(all["warnings"].empty());
  const nlohmann::json* vm = &all["volume_mappings"];
  EXPECT_EQ((*vm)["/shared/deal"],
            nlohmann::json::parse(R"({"bind": "/vault/deals/acme", "mode": "rw",
      "uid": 1000, "gid": 1000, "required": true, "skip_check": false})"));
  EXPECT_EQ((*vm)["/shared/wiki"]["mode"], "ro");
  EXPECT_EQ((*vm)["/shared/wiki"]["skip_check"], true);
  EXPECT_EQ((*vm)["/users/bob"]["bind"], "/vault/me");
}

TEST(PolicyCases, ExampleCasesPass) {
  LoadOptions o;
  o.now = T(testing::kNow);
  LoadResult r =
      LoadPolicyFile(VAULTD_SOURCE_DIR "/orchestrator/examples/vault-permissions.yaml", o);
  ASSERT_TRUE(r.ok());
  CasesLoadResult cases = LoadCasesFile(VAULTD_SOURCE_DIR "/orchestrator/examples/cases.yaml");
  ASSERT_TRUE(cases.errors.empty());
  ASSERT_GE(cases.cases.size(), 10u);
  for (const PolicyCase& c : cases.cases) {
    CaseOutcome out = RunCase(r.policy, c);
    EXPECT_TRUE(out.passed) << c.name << ": " << ::testing::PrintToString(out.diff);
  }
}

TEST(PolicyCases, DiffNamesExtraMissingAndWrongMode) {
  auto p = MustLoad(kTwoFolders);
  CasesLoadResult cases = LoadCasesString(R"(- name: wrong
  user: alice
  groups: [staff]
  at: "2026-06-01T00:00:00Z"
  expect: {wiki: rw, deal: rw}
)",
                                          "c.yaml");
  ASSERT_TRUE(cases.errors.empty());
  CaseOutcome out = RunCase(p, cases.cases[0]);
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.diff, (std::vector<std::string>{"+ personal: ro (granted, not expected)",
                                                "~ wiki: got ro, expected rw",
                                                "- deal: rw (expected, not granted)"}));
}

TEST(PolicyCases, BadCasesFileNamesTheLine) {
  CasesLoadResult cases = LoadCasesString(
      "- name: x\n  user: a\n  at: \"2026-01-01T00:00:00Z\"\n  expect: {a: rwx}\n"
      "- name: y\n  user: b\n  expect: {}\n  colour: red\n",
      "c.yaml");
  ASSERT_EQ(cases.errors.size(), 3u);
  EXPECT_EQ(cases.errors[0].line, 4);  // bad mode
  EXPECT_EQ(cases.errors[1].line, 8);  // unknown key
  EXPECT_EQ(cases.errors[2].line, 5);  // missing at
  EXPECT_TRUE(cases.cases.empty());
}

TEST(PolicyCases, DuplicateKeysAndAliasesAreErrors) {
  CasesLoadResult dup = LoadCasesString(
      "- name: x\n  user: a\n  user: b\n  at: \"2026-01-01T00:00:00Z\"\n  expect: {}\n", "c.yaml");
  ASSERT_EQ(dup.errors.size(), 1u);
  EXPECT_EQ(dup.errors[0].ToString(), "c.yaml:3: error: cases[0]: duplicate key 'user'");
  CasesLoadResult alias = LoadCasesString(
      "- name: x\n  user: &u a\n  at: \"2026-01-01T00:00:00Z\"\n  expect: {}\n- name: y\n  user: "
      "*u\n",
      "c.yaml");
  ASSERT_FALSE(alias.errors.empty());
  EXPECT_EQ(alias.errors[0].line, 6);
  EXPECT_NE(alias.errors[0].message.find("YAML alias"), std::string::npos);
}

}  // namespace
}  // namespace vaultd::orchestrator
