// Evaluation semantics: the seed scenarios, time windows and expiry, inherit, deny, explain.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <thread>

#include "policy_test_util.h"

namespace vaultd::orchestrator {
namespace {

using testing::FindMount;
using testing::Modes;
using testing::MustLoad;
using testing::T;
using ModeMap = std::map<std::string, std::string>;

std::shared_ptr<const Policy> Example() {
  LoadOptions o;
  o.now = T(testing::kNow);
  LoadResult r =
      LoadPolicyFile(VAULTD_SOURCE_DIR "/orchestrator/examples/vault-permissions.yaml", o);
  EXPECT_TRUE(r.ok()) << testing::Diagnostics(r);
  return r.policy;
}

// --- the seed's scenarios, on the example policy --------------------------------------

TEST(SeedScenarios, DealRoomNeedsLegalAndExecutive) {
  auto p = Example();
  EXPECT_EQ(Modes(p, "a", {"legal", "executive"}).count("deal-room-acme"), 1u);
  EXPECT_EQ(Modes(p, "a", {"legal", "executive"})["deal-room-acme"], "rw");
  EXPECT_EQ(Modes(p, "a", {"legal"}).count("deal-room-acme"), 0u);
  EXPECT_EQ(Modes(p, "a", {"executive"}).count("deal-room-acme"), 0u);
}

TEST(SeedScenarios, HrEditsOwnDepartmentReadsOthers) {
  auto p = Example();
  ModeMap m = Modes(p, "h", {"hr", "engineering"});
  EXPECT_EQ(m["hr-engineering"], "rw");
  EXPECT_EQ(m["hr-marketing"], "ro");
  m = Modes(p, "h", {"hr"});
  EXPECT_EQ(m["hr-engineering"], "ro");
  EXPECT_EQ(m["hr-marketing"], "ro");
  EXPECT_EQ(Modes(p, "e", {"engineering"}).count("hr-engineering"), 0u);
}

TEST(SeedScenarios, AuditorsAndRegion) {
  auto p = Example();
  ModeMap m = Modes(p, "a", {"auditors", "region-emea"});
  EXPECT_EQ(m["audit-emea"], "ro");
  EXPECT_EQ(m.count("audit-apac"), 0u);
  EXPECT_EQ(Modes(p, "a", {"auditors"}).count("audit-emea"), 0u);
  EXPECT_EQ(Modes(p, "a", {"region-emea"}).count("audit-emea"), 0u);
}

TEST(SeedScenarios, ProjectTeamAndFinance) {
  auto p = Example();
  EXPECT_EQ(Modes(p, "f", {"project-alpha", "finance"})["project-alpha-budget"], "rw");
  EXPECT_EQ(Modes(p, "f", {"finance"}).count("project-alpha-budget"), 0u);
  EXPECT_EQ(Modes(p, "f", {"project-alpha"}).count("project-alpha-budget"), 0u);
}

TEST(SeedScenarios, CrossFunctionalProjectAndDepartment) {
  auto p = Example();
  EXPECT_EQ(Modes(p, "e", {"project-alpha", "engineering"})["project-alpha"], "rw");
  EXPECT_EQ(Modes(p, "m", {"project-alpha", "marketing"})["project-alpha"], "ro");
  EXPECT_EQ(Modes(p, "e", {"engineering"}).count("project-alpha"), 0u);
}

TEST(SeedScenarios, ExternalConsultantAndEngagement) {
  auto p = Example();
  EXPECT_EQ(Modes(p, "x", {"external-consultant", "engagement-globex"})["client-globex"], "rw");
  EXPECT_EQ(Modes(p, "x", {"external-consultant"}).count("client-globex"), 0u);
  EXPECT_EQ(Modes(p, "x", {"external-consultant", "engagement-initech"}).count("client-globex"),
            0u);
}

TEST(SeedScenarios, WikiEditorsRwReadersRo) {
  auto p = Example();
  EXPECT_EQ(Modes(p, "w", {"wiki-editors", "all-employees"})["wiki"], "rw");
  EXPECT_EQ(Modes(p, "r", {"all-employees"})["wiki"], "ro");
  EXPECT_EQ(Modes(p, "n", {"visitors"}).count("wiki"), 0u);
}

TEST(SeedScenarios, PersonalFolderPerUser) {
  auto p = Example();
  MountSet a = Evaluate(p, {"alice", {}, T(testing::kNow), false});
  MountSet b = Evaluate(p, {"bob", {}, T(testing::kNow), false});
  const Mount* pa = FindMount(a, "personal");
  const Mount* pb = FindMount(b, "personal");
  ASSERT_TRUE(pa && pb);
  EXPECT_EQ(pa->source, "/users/alice/personal");
  EXPECT_EQ(pa->target, "personal");
  EXPECT_EQ(pa->mode, "rw");
  EXPECT_EQ(pa->room, "personal-alice");
  EXPECT_EQ(pb->room, "personal-bob");
  EXPECT_NE(pa->room, pb->room);
  EXPECT_EQ(a.sync_url.value_or(""), "ws://relay.internal:1234");
}

TEST(SeedScenarios, DefaultDenyAndUnknownGroupsIgnored) {
  auto p = Example();
  EXPECT_EQ(Modes(p, "z", {"nobody-knows-this-group"}), (ModeMap{{"personal", "rw"}}));
}

// --- unsafe user names ------------------------------------------------------------------

TEST(Personal, UnsafeUserNamesGetNoPersonalFolder) {
  auto p = Example();
  for (const char* user : {"../x", "a/b", "..", "", ".", "{username}", "a\nb", "a:b", "x,y"}) {
    SCOPED_TRACE(user);
    MountSet m = Evaluate(p, {user, {"all-employees"}, T(testing::kNow), false});
    EXPECT_EQ(FindMount(m, "personal"), nullptr);
    ASSERT_EQ(m.warnings.size(), 1u);
    EXPECT_NE(m.warnings[0].find("not a safe path segment"), std::string::npos);
    EXPECT_NE(FindMount(m, "wiki"), nullptr);  // the rest of the mount set is unaffected
  }
}

TEST(Personal, UserNamesOutsideTheAllowListGetNoPersonalFolder) {
  auto p = Example();
  for (const char* user :
       {" alice", "alice ", "$(id)", "a`id`", "\u202Eevil", "j\u00fcrgen", "-rf", "a;b", "a\\b",
        "a+b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}) {
    SCOPED_TRACE(user);
    MountSet m = Evaluate(p, {user, {"all-employees"}, T(testing::kNow), false});
    EXPECT_EQ(FindMount(m, "personal"), nullptr);
    ASSERT_EQ(m.warnings.size(), 1u);
    EXPECT_NE(FindMount(m, "wiki"), nullptr);
  }
  for (const char* user : {"alice", "alice.smith", "a_b-c", "alice@example.com", "7up"}) {
    SCOPED_TRACE(user);
    EXPECT_NE(
        FindMount(Evaluate(p, {user, {"all-employees"}, T(testing::kNow), false}), "personal"),
        nullptr);
  }
}

TEST(Personal, ExtraUserNameCharactersAreConfigurable) {
  auto loaded = LoadPolicyString(
      "version: 1\npersonal:\n  path: /users/{username}\n  username_extra_chars: \"+~\"\nfolders: "
      "[]\n",
      "p.yaml", {});
  ASSERT_TRUE(loaded.policy) << (loaded.diagnostics.empty() ? ""
                                                            : loaded.diagnostics[0].ToString());
  EXPECT_NE(FindMount(Evaluate(loaded.policy, {"a+b~c", {}, T(testing::kNow), false}), "personal"),
            nullptr);
  EXPECT_EQ(FindMount(Evaluate(loaded.policy, {"a b", {}, T(testing::kNow), false}), "personal"),
            nullptr);
  auto refused = LoadPolicyString(
      "version: 1\npersonal:\n  path: /users/{username}\n  username_extra_chars: \"/\"\nfolders: "
      "[]\n",
      "p.yaml", {});
  EXPECT_FALSE(refused.policy);
  ASSERT_FALSE(refused.diagnostics.empty());
  EXPECT_EQ(refused.diagnostics[0].ToString(),
            "p.yaml:4: error: personal.username_extra_chars: '/' cannot be allowed (choose from "
            "+~=!#$%&'^`)");
}

// --- time windows -------------------------------------------------------------------------

const char* kWindowed = R"(version: 1
folders:
  - name: c
    path: /c
    access:
      - groups: [contractors]
        mode: rw
        not_before: "2026-01-01T00:00:00Z"
        not_after: "2026-07-01T00:00:00Z"
)";

TEST(TimeWindows, BeforeInsideAtNotAfterAndAfter) {
  auto p = MustLoad(kWindowed);
  ASSERT_TRUE(p);
  auto eval = [&](const char* at) { return Evaluate(p, {"u", {"contractors"}, T(at), false}); };

  MountSet before = eval("2025-12-31T23:59:59Z");
  EXPECT_TRUE(before.mounts.empty());
  EXPECT_EQ(before.valid_until, T("2026-01-01T00:00:00Z"));  // the folder appears then

  MountSet start = eval("2026-01-01T00:00:00Z");  // not_before is inclusive
  ASSERT_EQ(start.mounts.size(), 1u);
  EXPECT_EQ(start.mounts[0].mode, "rw");
  EXPECT_EQ(start.mounts[0].expires_at, T("2026-07-01T00:00:00Z"));
  EXPECT_EQ(start.valid_until, T("2026-07-01T00:00:00Z"));

  MountSet inside = eval("2026-03-01T00:00:00Z");
  ASSERT_EQ(inside.mounts.size(), 1u);
  EXPECT_EQ(inside.mounts[0].expires_at, T("2026-07-01T00:00:00Z"));

  MountSet at_end = eval("2026-07-01T00:00:00Z");  // not_after is exclusive
  EXPECT_TRUE(at_end.mounts.empty());
  EXPECT_FALSE(at_end.valid_until.has_value());

  MountSet after = eval("2027-01-01T00:00:00Z");
  EXPECT_TRUE(after.mounts.empty());
  EXPECT_FALSE(after.valid_until.has_value());
}

TEST(TimeWindows, ExpiresAtIsWhenTheModeReallyChanges) {
  auto p = MustLoad(R"(version: 1
folders:
  - name: overlap
    path: /o
    access:
      - {groups: [g], mode: rw, not_before: "2026-01-01T00:00:00Z", not_after: "2026-07-01T00:00:00Z"}
      - {groups: [g], mode: rw, not_before: "2026-06-01T00:00:00Z", not_after: "2026-12-01T00:00:00Z"}
  - name: downgrade
    path: /d
    access:
      - {groups: [g], mode: ro}
      - {groups: [g], mode: rw, not_after: "2026-05-01T00:00:00Z"}
  - name: other-user
    path: /x
    access:
      - {groups: [h], mode: rw, not_after: "2026-02-01T00:00:00Z"}
  - name: suspended
    path: /s
    access:
      - {groups: [g], mode: rw}
    deny:
      - {groups: [g], not_before: "2026-04-01T00:00:00Z", not_after: "2026-04-02T00:00:00Z"}
)");
  ASSERT_TRUE(p);
  MountSet m = Evaluate(p, {"u", {"g"}, T("2026-03-01T00:00:00Z"), false});
  // The boundary at 2026-06-01 and 2026-07-01 change nothing: rw continues until 2026-12-01.
  ASSERT_TRUE(FindMount(m, "overlap"));
  EXPECT_EQ(FindMount(m, "overlap")->expires_at, T("2026-12-01T00:00:00Z"));
  // rw until 2026-05-01, then ro forever: the mode changes at 2026-05-01.
  ASSERT_TRUE(FindMount(m, "downgrade"));
  EXPECT_EQ(FindMount(m, "downgrade")->mode, "rw");
  EXPECT_EQ(FindMount(m, "downgrade")->expires_at, T("2026-05-01T00:00:00Z"));
  // A windowed deny removes the folder at its start.
  ASSERT_TRUE(FindMount(m, "suspended"));
  EXPECT_EQ(FindMount(m, "suspended")->expires_at, T("2026-04-01T00:00:00Z"));
  // Rules of groups the user is not in never shorten validity.
  EXPECT_EQ(m.valid_until, T("2026-04-01T00:00:00Z"));

  MountSet later = Evaluate(p, {"u", {"g"}, T("2026-06-15T00:00:00Z"), false});
  EXPECT_EQ(FindMount(later, "downgrade")->mode, "ro");
  EXPECT_FALSE(FindMount(later, "downgrade")->expires_at.has_value());
  EXPECT_FALSE(FindMount(later, "suspended")->expires_at.has_value());
}

// --- inherit ------------------------------------------------------------------------------

const char* kInherit = R"(version: 1
folders:
  - name: alpha
    path: /alpha
    access:
      - {groups: [alpha-rw], mode: rw}
      - {groups: [alpha-ro], mode: ro}
      - {groups: [alpha-temp], mode: rw, not_after: "2026-09-01T00:00:00Z"}
  - name: resources
    path: /resources
    inherit: [alpha]
    access:
      - {groups: [res-rw], mode: rw}
    deny:
      - {groups: [blocked]}
  - name: archive
    path: /archive
    inherit: [resources]
)";

TEST(Inherit, GrantedWithTheSourceAtMostItsMode) {
  auto p = MustLoad(kInherit);
  ASSERT_TRUE(p);
  EXPECT_EQ(Modes(p, "u", {"alpha-rw"}),
            (ModeMap{{"alpha", "rw"}, {"resources", "rw"}, {"archive", "rw"}}));
  // Capped: the source is only ro, so the dependents are ro.
  EXPECT_EQ(Modes(p, "u", {"alpha-ro"}),
            (ModeMap{{"alpha", "ro"}, {"resources", "ro"}, {"archive", "ro"}}));
  // The dependent's own rule can give more than the source.
  EXPECT_EQ(Modes(p, "u", {"alpha-ro", "res-rw"}),
            (ModeMap{{"alpha", "ro"}, {"resources", "rw"}, {"archive", "rw"}}));
  // Nothing without the source.
  EXPECT_EQ(Modes(p, "u", {"other"}), ModeMap{});
}

TEST(Inherit, BecauseNamesTheSource) {
  auto p = MustLoad(kInherit);
  MountSet m = Evaluate(p, {"u", {"alpha-ro"}, T(testing::kNow), false});
  const Mount* archive = FindMount(m, "archive");
  ASSERT_TRUE(archive);
  ASSERT_EQ(archive->because.size(), 1u);
  EXPECT_NE(archive->because[0].find("inherit 'resources'"), std::string::npos)
      << archive->because[0];
}

TEST(Inherit, ExpiryFollowsTheSourceTransitively) {
  auto p = MustLoad(kInherit);
  MountSet m = Evaluate(p, {"u", {"alpha-temp"}, T(testing::kNow), false});
  ASSERT_EQ(m.mounts.size(), 3u);
  for (const Mount& mount : m.mounts) {
    EXPECT_EQ(mount.mode, "rw") << mount.name;
    EXPECT_EQ(mount.expires_at, T("2026-09-01T00:00:00Z")) << mount.name;
  }
  MountSet both = Evaluate(p, {"u", {"alpha-temp", "alpha-ro"}, T(testing::kNow), false});
  EXPECT_EQ(FindMount(both, "archive")->expires_at, T("2026-09-01T00:00:00Z"));  // rw -> ro
  MountSet after = Evaluate(p, {"u", {"alpha-temp", "alpha-ro"}, T("2026-10-01T00:00:00Z"), false});
  EXPECT_EQ(FindMount(after, "archive")->mode, "ro");
}

TEST(Inherit, DenyBeatsInherit) {
  auto p = MustLoad(kInherit);
  // 'blocked' removes resources, and archive inherits only from resources.
  EXPECT_EQ(Modes(p, "u", {"alpha-rw", "blocked"}), (ModeMap{{"alpha", "rw"}}));
}

TEST(Inherit, CycleIsRejectedWithTheLine) {
  LoadResult r = testing::LoadYaml(R"(version: 1
folders:
  - name: a
    path: /a
    inherit: [c]
  - name: b
    path: /b
    inherit: [a]
  - name: c
    path: /c
    inherit:
      - b
  - name: d
    path: /d
    inherit: [c]
)");
  ASSERT_FALSE(r.ok());
  int cycles = 0;
  for (const Diagnostic& d : r.diagnostics) {
    if (d.message.find("inherit cycle") == std::string::npos) continue;
    ++cycles;
    EXPECT_TRUE(d.line == 5 || d.line == 8 || d.line == 12) << d.ToString();
    EXPECT_NE(d.message.find("'a'"), std::string::npos) << d.ToString();
  }
  EXPECT_EQ(cycles, 1) << testing::Diagnostics(r);  // d only hangs off the cycle
}

// --- deny ---------------------------------------------------------------------------------

TEST(Deny, BeatsRw) {
  auto p = MustLoad(R"(version: 1
folders:
  - name: a
    path: /a
    access:
      - {groups: [eng, all], mode: rw}
    deny:
      - {groups: [contractor, intern], compound: all}
)");
  EXPECT_EQ(Modes(p, "u", {"eng"}), (ModeMap{{"a", "rw"}}));
  EXPECT_EQ(Modes(p, "u", {"eng", "contractor"}), (ModeMap{{"a", "rw"}}));  // deny needs both
  EXPECT_EQ(Modes(p, "u", {"eng", "contractor", "intern"}), ModeMap{});
}

TEST(Deny, EmptyGroupsWindowIsABlackout) {
  auto p = MustLoad(R"(version: 1
folders:
  - name: a
    path: /a
    access:
      - {groups: [eng], mode: rw}
    deny:
      - {groups: [], not_before: "2026-12-24T00:00:00Z", not_after: "2026-12-27T00:00:00Z"}
)");
  EXPECT_EQ(Modes(p, "u", {"eng"}, "2026-12-25T00:00:00Z"), ModeMap{});
  MountSet m = Evaluate(p, {"u", {"eng"}, T("2026-12-01T00:00:00Z"), false});
  ASSERT_EQ(m.mounts.size(), 1u);
  EXPECT_EQ(m.mounts[0].expires_at, T("2026-12-24T00:00:00Z"));
  MountSet during = Evaluate(p, {"u", {"eng"}, T("2026-12-25T00:00:00Z"), false});
  EXPECT_EQ(during.valid_until, T("2026-12-27T00:00:00Z"));  // granted again after the blackout
}

// --- explain --------------------------------------------------------------------------------

TEST(Explain, SaysWhyEachFolderIsNotGranted) {
  auto p = MustLoad(R"(version: 1
folders:
  - name: deal
    path: /deal
    access:
      - {groups: [legal, executive], compound: all, mode: rw}
  - name: either
    path: /either
    access:
      - {groups: [x, y], mode: ro}
  - name: later
    path: /later
    access:
      - {groups: [legal], mode: ro, not_before: "2027-01-01T00:00:00Z"}
  - name: ended
    path: /ended
    access:
      - {groups: [legal], mode: ro, not_after: "2026-01-01T00:00:00Z"}
  - name: walled
    path: /walled
    access:
      - {groups: [legal], mode: rw}
    deny:
      - {groups: [conflicted]}
  - name: derived
    path: /derived
    inherit: [either]
)");
  MountSet m = Evaluate(p, {"u", {"legal", "conflicted"}, T(testing::kNow), true});
  EXPECT_TRUE(m.mounts.empty());
  std::map<std::string, std::vector<std::string>> why;
  for (const NotGranted& n : m.not_granted) why[n.name] = n.reasons;
  ASSERT_EQ(why.size(), 6u);
  EXPECT_EQ(why["deal"], std::vector<std::string>{"access[0]: missing group executive"});
  EXPECT_EQ(why["either"],
            std::vector<std::string>{"access[0]: missing all of [x, y] (needs any one)"});
  EXPECT_EQ(why["later"],
            std::vector<std::string>{"access[0]: outside window (starts at 2027-01-01T00:00:00Z)"});
  EXPECT_EQ(why["ended"],
            std::vector<std::string>{"access[0]: outside window (ended at 2026-01-01T00:00:00Z)"});
  ASSERT_FALSE(why["walled"].empty());
  EXPECT_EQ(why["walled"][0], "denied by deny[0] (member of any of [conflicted])");
  EXPECT_EQ(why["derived"], std::vector<std::string>{"inherit 'either': source not granted"});
  // Explain off: no not_granted in the JSON at all.
  nlohmann::json j = MountSetToJson(Evaluate(p, {"u", {"legal"}, T(testing::kNow), false}));
  EXPECT_FALSE(j.contains("not_granted"));
}

}  // namespace
}  // namespace vaultd::orchestrator

namespace vaultd::orchestrator {
namespace {

// A Policy is shared by the service's worker threads: concurrent evaluations
// (each with its own per-thread scratch) must give the single-threaded answers.
TEST(Concurrency, ParallelEvaluationsAgree) {
  auto p = Example();
  ASSERT_TRUE(p);
  const std::vector<std::vector<std::string>> group_sets = {
      {"legal", "executive"},
      {"hr", "engineering"},
      {"project-alpha", "finance"},
      {"wiki-editors", "all-employees", "offboarding"},
      {"contractors"},
      {}};
  std::vector<nlohmann::json> expected;
  for (const auto& g : group_sets) {
    expected.push_back(MountSetToJson(Evaluate(p, {"u", g, T("2026-10-01T00:00:00Z"), true})));
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        size_t k = static_cast<size_t>(i + t) % group_sets.size();
        nlohmann::json got =
            MountSetToJson(Evaluate(p, {"u", group_sets[k], T("2026-10-01T00:00:00Z"), true}));
        if (got != expected[k]) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// --- the mount set's views of policy-owned texts ---------------------------------------

TEST(MountSetLifetime, ACopyOutlivesThePolicyAndTheOriginal) {
  auto p = Example();
  auto m = std::make_unique<MountSet>(
      Evaluate(p, {"alice", {"legal", "executive", "all-employees"}, T(testing::kNow), false}));
  const std::string expected = MountSetToJson(*m).dump();
  ASSERT_GT(m->mounts.size(), 2u);
  MountSet copy = *m;
  MountSet moved = std::move(*m);
  m.reset();
  p.reset();  // the mount sets are now the only owners of the policy
  EXPECT_EQ(MountSetToJson(copy).dump(), expected);
  EXPECT_EQ(MountSetToJson(moved).dump(), expected);
  const Mount* personal = FindMount(copy, "personal");
  ASSERT_TRUE(personal);
  EXPECT_EQ(personal->source, "/users/alice/personal");
  EXPECT_EQ(personal->room, "personal-alice");
  EXPECT_EQ(personal->because, (TextList{"personal"}));
}

TEST(MountSetLifetime, EveryMatchingRuleIsListedInFileOrder) {
  auto p = MustLoad(R"(version: 1
folders:
  - name: src1
    path: /s1
    access: [{groups: [a], mode: ro}]
  - name: src2
    path: /s2
    access: [{groups: [a], mode: rw}]
  - name: many
    path: /m
    inherit: [src1, src2]
    access:
      - {groups: [c], mode: ro}
      - {groups: [a], mode: ro}
      - {groups: [b], mode: rw}
      - {groups: [a, b], compound: all, mode: ro}
)");
  MountSet m = Evaluate(p, {"u", {"b", "a"}, T(testing::kNow), false});
  const Mount* many = FindMount(m, "many");
  ASSERT_TRUE(many);
  EXPECT_EQ(many->mode, "rw");
  std::vector<std::string> want = {
      "folders[2] 'many' access[1]: member of any of [a] -> ro",
      "folders[2] 'many' access[2]: member of any of [b] -> rw",
      "folders[2] 'many' access[3]: member of all of [a, b] -> ro",
      "folders[2] 'many' inherit 'src1' (granted ro) -> ro",
      "folders[2] 'many' inherit 'src2' (granted rw) -> rw",
  };
  EXPECT_EQ(many->because.ToStrings(), want);
  MountSet copy = m;
  m = MountSet();
  EXPECT_EQ(FindMount(copy, "many")->because.ToStrings(), want);
}

TEST(TextList, KeepsOrderPastTheInlineRoomAndCopiesIndependently) {
  TextList a;
  EXPECT_TRUE(a.empty());
  const char* words[] = {"one", "two", "three", "four", "five"};
  for (const char* w : words) a.push_back(w);
  ASSERT_EQ(a.size(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(a[i], words[i]);
  TextList b = a;
  b.push_back("six");
  EXPECT_EQ(a.size(), 5u);
  EXPECT_EQ(b.back(), "six");
  EXPECT_FALSE(a == b);
  TextList small{"x"};
  TextList small_copy = small;
  small_copy.push_back("y");
  EXPECT_EQ(small.size(), 1u);
  EXPECT_EQ(small_copy.ToStrings(), (std::vector<std::string>{"x", "y"}));
}

TEST(MountSetTime, WholeSecondsOrMilliseconds) {
  EXPECT_EQ(FormatMountSetTime(T("2026-06-01T00:00:00Z")), "2026-06-01T00:00:00Z");
  EXPECT_EQ(FormatMountSetTime(T("2026-06-01T00:00:01.250Z")), "2026-06-01T00:00:01.250Z");
  WallTime odd = T("2026-06-01T00:00:00Z") + std::chrono::milliseconds(1500);
  nlohmann::json j =
      MountSetToJson(Evaluate(MustLoad("version: 1\nfolders:\n  - name: f\n    path: /f\n    "
                                       "access: [{groups: [g], mode: ro}]\n"),
                              {"u", {}, odd, false}));
  EXPECT_EQ(j["generated_at"], FormatMountSetTime(odd));
}

}  // namespace
}  // namespace vaultd::orchestrator
