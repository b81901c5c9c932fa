// Validation: every error names file:line; lint warnings leave the policy loadable.
#include <gtest/gtest.h>

#include "policy_test_util.h"

namespace vaultd::orchestrator {
namespace {

using testing::LoadYaml;

struct BadCase {
  const char* what;
  std::string yaml;
  int line;             // the line the first error must name
  const char* message;  // a substring of that error
};

// Line numbers below count from the first line of each YAML string.
const std::vector<BadCase>& BadCases() {
  static const std::vector<BadCase> cases = {
      {"duplicate name",
       "version: 1\nfolders:\n  - {name: a, path: /a}\n  - {name: a, path: /b, target: b, room: b}\n", 4,
       "duplicate folder name 'a'"},
      {"duplicate target",
       "version: 1\nfolders:\n  - {name: a, path: /a, target: x}\n  - {name: b, path: /b, target: x}\n", 4,
       "duplicate target 'x'"},
      {"duplicate room",
       "version: 1\nfolders:\n  - {name: a, path: /a}\n  - name: b\n    path: /b\n    room: a\n", 6,
       "duplicate room 'a'"},
      {"nested target",
       "version: 1\nfolders:\n  - {name: a, path: /a, target: deals}\n  - {name: b, path: /b, target: deals/acme}\n",
       4, "nested inside target 'deals'"},
      {"nested in personal target",
       "version: 1\npersonal: {path: \"/u/{username}\"}\nfolders:\n  - name: b\n    path: /b\n    target: personal/x\n",
       6, "nested inside target 'personal' of personal.target"},
      {"relative path", "version: 1\nfolders:\n  - name: a\n    path: shared/a\n", 4, "must be an absolute host path"},
      {"dot-dot path", "version: 1\nfolders:\n  - name: a\n    path: /shared/../etc\n", 4,
       "must be an absolute host path"},
      {"dot-dot target", "version: 1\nfolders:\n  - name: a\n    path: /a\n    target: ../a\n", 5,
       "must be a relative path"},
      {"absolute target", "version: 1\nfolders:\n  - name: a\n    path: /a\n    target: /vault/a\n", 5,
       "must be a relative path"},
      {"unknown key", "version: 1\nfolders:\n  - name: a\n    path: /a\n    acess: []\n", 5, "unknown key 'acess'"},
      {"unknown top-level key", "version: 1\nfoldrs: []\n", 2, "unknown key 'foldrs'"},
      {"unknown mode",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    access:\n      - groups: [g]\n        mode: rwx\n", 7,
       "unknown mode 'rwx'"},
      {"unknown compound",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    access:\n      - groups: [g]\n        mode: ro\n"
       "        compound: both\n",
       8, "unknown value 'both'"},
      {"bad time",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    access:\n      - groups: [g]\n        mode: ro\n"
       "        not_after: \"2026-13-01T00:00:00Z\"\n",
       8, "not_after"},
      {"unknown inherit", "version: 1\nfolders:\n  - name: a\n    path: /a\n    inherit:\n      - nope\n", 6,
       "unknown folder 'nope'"},
      {"inherit cycle",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    inherit: [b]\n  - name: b\n    path: /b\n"
       "    inherit: [a]\n",
       5, "inherit cycle"},
      {"self inherit", "version: 1\nfolders:\n  - name: a\n    path: /a\n    inherit: [a]\n", 5, "inherit cycle"},
      {"username outside personal", "version: 1\nfolders:\n  - name: a\n    path: /home/{username}\n", 4,
       "{username} is allowed only"},
      {"username in a room", "version: 1\nfolders:\n  - name: a\n    path: /a\n    room: r-{username}\n", 5,
       "{username} is allowed only"},
      {"personal room without username", "version: 1\npersonal:\n  path: /u/{username}\n  room: personal\n", 4,
       "must contain {username}"},
      {"personal room with username twice",
       "version: 1\npersonal:\n  path: /u/{username}\n  room: \"{username}-{username}\"\n", 4,
       "exactly once"},
      {"personal path without username", "version: 1\npersonal:\n  path: /u/shared\n", 3,
       "must contain {username}"},
      {"folder room can equal a personal room",
       "version: 1\npersonal: {path: \"/u/{username}\"}\nfolders:\n  - name: a\n    path: /a\n    room: personal-bob\n",
       6, "can coincide with personal.room"},
      {"reserved name personal",
       "version: 1\npersonal: {path: \"/u/{username}\", target: home}\nfolders:\n  - name: personal\n    path: /a\n", 4,
       "reserved"},
      {"missing name", "version: 1\nfolders:\n  - path: /a\n", 3, "missing required key 'name'"},
      {"missing path", "version: 1\nfolders:\n  - name: a\n", 3, "missing required key 'path'"},
      {"missing mode", "version: 1\nfolders:\n  - name: a\n    path: /a\n    access:\n      - groups: [g]\n", 6,
       "missing required key 'mode'"},
      {"missing groups", "version: 1\nfolders:\n  - name: a\n    path: /a\n    access:\n      - mode: ro\n", 6,
       "missing required key 'groups'"},
      {"missing version", "folders: []\n", 1, "missing required key 'version'"},
      {"version 2", "version: 2\n", 1, "version must be 1"},
      {"groups not a list",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    access:\n      - groups: legal\n        mode: ro\n", 6,
       "must be a list"},
      {"folders not a list", "version: 1\nfolders:\n  name: a\n", 3, "folders must be a list"},
      {"name not a string", "version: 1\nfolders:\n  - name: [a]\n    path: /a\n", 3, "must be a string"},
      {"duplicate key", "version: 1\nfolders:\n  - name: a\n    path: /a\n    path: /b\n", 5,
       "duplicate key 'path'"},
      {"yaml syntax", "version: 1\nfolders:\n  - name: a\n    path: [/a\n", 5, "YAML"},
      {"two documents", "version: 1\n---\nversion: 1\n", 2, "more than one YAML document"},
      {"empty", "", 1, "empty policy"},
      {"bad sync url", "version: 1\nsync:\n  url: http://relay\n", 3, "ws://"},
      {"invalid UTF-8", "version: 1\nfolders:\n  - name: a\n    path: /a\xff\n", 4, "not valid UTF-8"},
      {"invalid UTF-8 group",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    access:\n      - groups: [\xc3\x28]\n        mode: ro\n", 6,
       "UTF-8 group name"},
      {"reserved target", "version: 1\nfolders:\n  - name: a\n    path: /a\n    target: .obsidian\n", 5, "reserved"},
  };
  return cases;
}

TEST(PolicyLoad, EveryErrorNamesItsLine) {
  for (const BadCase& c : BadCases()) {
    SCOPED_TRACE(c.what);
    LoadResult r = LoadYaml(c.yaml);
    EXPECT_FALSE(r.ok()) << c.what;
    ASSERT_FALSE(r.diagnostics.empty());
    bool found = false;
    for (const Diagnostic& d : r.diagnostics) {
      if (d.error && d.line == c.line && d.message.find(c.message) != std::string::npos) found = true;
    }
    EXPECT_TRUE(found) << c.what << ": expected line " << c.line << " '" << c.message << "', got:\n"
                       << testing::Diagnostics(r);
    EXPECT_EQ(r.diagnostics[0].ToString().rfind("p.yaml:", 0), 0u);
  }
}

TEST(PolicyLoad, ReportsEveryErrorNotJustTheFirst) {
  LoadResult r = LoadYaml(
      "version: 1\nfolders:\n  - name: a\n    path: rel\n    access:\n      - groups: [g]\n        mode: xx\n");
  int errors = 0;
  for (const Diagnostic& d : r.diagnostics) errors += d.error;
  EXPECT_EQ(errors, 2) << testing::Diagnostics(r);
}

TEST(PolicyLoad, ErrorListIsBounded) {
  std::string yaml = "version: 1\nfolders:\n";
  for (int i = 0; i < 3000; ++i) yaml += "  - {name: a, path: /a}\n";
  LoadResult r = LoadYaml(yaml);
  ASSERT_FALSE(r.ok());
  EXPECT_LE(r.diagnostics.size(), 501u);
  EXPECT_GE(r.diagnostics.size(), 500u);
}

TEST(PolicyLoad, OversizedInputIsRejectedBeforeParsing) {
  std::string big = "version: 1\n# " + std::string(kMaxPolicyBytes, 'x') + "\n";
  LoadResult r = LoadYaml(big);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.diagnostics[0].message.find("limit"), std::string::npos);
}

TEST(PolicyLoad, MissingFileIsAnError) {
  LoadResult r = LoadPolicyFile("/nonexistent/vault-permissions.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.diagnostics[0].file, "/nonexistent/vault-permissions.yaml");
}

TEST(PolicyLoad, RevisionIsTheHashOfTheBytes) {
  auto p = testing::MustLoad("version: 1\n");
  ASSERT_TRUE(p);
  // sha256("version: 1\n")
  EXPECT_EQ(PolicyRevision(*p).substr(0, 7), "sha256:");
  EXPECT_EQ(PolicyRevision(*p).size(), 7u + 64u);
  auto q = testing::MustLoad("version: 1\n\n");
  EXPECT_NE(PolicyRevision(*p), PolicyRevision(*q));
}

struct LintCase {
  const char* what;
  std::string yaml;
  int line;
  const char* message;
};

TEST(PolicyLint, WarningsKeepThePolicyAndNameTheLine) {
  const std::vector<LintCase> cases = {
      {"ro shadowed by rw with a subset of groups",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    access:\n      - groups: [eng]\n        mode: rw\n"
       "      - groups: [eng, lead]\n        compound: all\n        mode: ro\n",
       8, "never matters"},
      {"expired window",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    access:\n      - groups: [g]\n        mode: ro\n"
       "        not_after: \"2020-01-01T00:00:00Z\"\n",
       6, "window ended"},
      {"empty window",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    access:\n      - groups: [g]\n        mode: ro\n"
       "        not_before: \"2027-01-01T00:00:00Z\"\n        not_after: \"2027-01-01T00:00:00Z\"\n",
       6, "never matches"},
      {"deny with no groups",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    access: [{groups: [g], mode: ro}]\n"
       "    deny:\n      - groups: []\n",
       7, "removes the folder for every user"},
      {"deny matching everyone the access rules grant",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    access: [{groups: [x, y], compound: all, mode: rw}]\n"
       "    deny:\n      - groups: [y]\n",
       7, "nobody gets the folder"},
      {"access with no groups",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    access:\n      - groups: []\n        mode: ro\n", 6,
       "grants every user"},
      {"folder nobody gets", "version: 1\nfolders:\n  - name: a\n    path: /a\n", 3, "nobody gets it"},
  };
  for (const LintCase& c : cases) {
    SCOPED_TRACE(c.what);
    LoadResult r = LoadYaml(c.yaml);
    EXPECT_TRUE(r.ok()) << testing::Diagnostics(r);
    bool found = false;
    for (const Diagnostic& d : r.diagnostics) {
      if (!d.error && d.line == c.line && d.message.find(c.message) != std::string::npos) found = true;
    }
    EXPECT_TRUE(found) << "expected warning at line " << c.line << " '" << c.message << "', got:\n"
                       << testing::Diagnostics(r);
  }
}

TEST(PolicyLint, IdenticalRulesWarnOnlyOnce) {
  LoadResult r = LoadYaml(
      "version: 1\nfolders:\n  - name: a\n    path: /a\n    access:\n      - groups: [g]\n        mode: ro\n"
      "      - groups: [g]\n        mode: ro\n");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.diagnostics.size(), 1u) << testing::Diagnostics(r);
  EXPECT_EQ(r.diagnostics[0].line, 8);
}

TEST(PolicyLint, ExampleHasNoErrors) {
  LoadOptions o;
  o.now = testing::T(testing::kNow);
  LoadResult r = LoadPolicyFile(VAULTD_SOURCE_DIR "/orchestrator/examples/vault-permissions.yaml", o);
  EXPECT_TRUE(r.ok()) << testing::Diagnostics(r);
  EXPECT_TRUE(r.diagnostics.empty()) << testing::Diagnostics(r);
}

}  // namespace
}  // namespace vaultd::orchestrator
