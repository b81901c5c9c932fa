#include "vaultd/common/yaml.h"

#include <gtest/gtest.h>

namespace vaultd::yaml {
namespace {

const MapSchema kSchema = {.allowed = {"name", "count", "enabled", "at", "tags"}};

std::vector<std::string> Messages(const Problems& p) {
  std::vector<std::string> out;
  for (const Problem& x : p.list()) out.push_back(std::to_string(x.line) + ": " + x.message);
  return out;
}

TEST(YamlReader, ReadsTypedFields) {
  Problems problems("f.yaml");
  auto root = ParseDocument(
      "name: a\ncount: 7\nenabled: true\nat: 2026-06-01T00:00:00Z\ntags: [x, y]\n", problems);
  ASSERT_TRUE(root);
  MapReader map(*root, kSchema, problems);
  EXPECT_EQ(map.String("name"), "a");
  EXPECT_EQ(map.Int("count", 0, 10), 7);
  EXPECT_EQ(map.Bool("enabled"), true);
  EXPECT_EQ(map.Time("at"), ParseRfc3339("2026-06-01T00:00:00Z").value());
  EXPECT_EQ(map.StringList("tags"), (std::vector<std::string>{"x", "y"}));
  EXPECT_FALSE(map.String("missing"));
  EXPECT_EQ(map.Keys(), (std::vector<std::string>{"name", "count", "enabled", "at", "tags"}));
  EXPECT_TRUE(problems.empty()) << problems.FirstAsStatus().ToString();
}

TEST(YamlReader, ReportsEveryKeyProblemWithItsLine) {
  Problems problems("f.yaml");
  auto root = ParseDocument("name: a\nnmae: b\nname: c\n[x]: 1\n", problems);
  ASSERT_TRUE(root);
  MapReader map(*root, kSchema, problems);
  EXPECT_EQ(
      Messages(problems),
      (std::vector<std::string>{"2: unknown key 'nmae' (expected name, count, enabled, at, tags)",
                                "3: duplicate key 'name'", "4: keys must be strings"}));
  EXPECT_EQ(map.String("name"), "a");  // the first occurrence
  EXPECT_EQ(problems.FirstAsStatus().message(),
            "f.yaml:2: unknown key 'nmae' (expected name, count, enabled, at, tags)");
}

TEST(YamlReader, ReportsWrongTypesAndRanges) {
  Problems problems("f.yaml");
  auto root =
      ParseDocument("name: [a]\ncount: 11\nenabled: yes\nat: tomorrow\ntags: x\n", problems);
  ASSERT_TRUE(root);
  MapReader map(*root, kSchema, problems);
  EXPECT_FALSE(map.String("name"));
  EXPECT_FALSE(map.Int("count", 0, 10));
  EXPECT_FALSE(map.Bool("enabled"));
  EXPECT_FALSE(map.Time("at", "the time"));
  EXPECT_FALSE(map.StringList("tags"));
  auto m = Messages(problems);
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(m[0], "1: 'name' must be a string");
  EXPECT_EQ(m[1], "2: 'count' must be between 0 and 10");
  EXPECT_EQ(m[2], "3: 'enabled' must be true or false");
  EXPECT_EQ(m[3].rfind("4: the time: ", 0), 0u) << m[3];
  EXPECT_EQ(m[4], "5: 'tags' must be a list of strings");
}

TEST(YamlReader, MessagesFollowTheFormatsWording) {
  const MapSchema schema = {.allowed = {"pem", "kid"},
                            .not_a_mapping = "an entry must be {pem: PATH}",
                            .unknown_key = "unknown key '{key}' in an entry (expected {allowed})"};
  Problems problems("f.yaml");
  MapReader(*ParseDocument("pem: a\npme: b\n", problems), schema, problems);
  MapReader(*ParseDocument("- x\n", problems), schema, problems);
  EXPECT_EQ(Messages(problems),
            (std::vector<std::string>{"2: unknown key 'pme' in an entry (expected pem, kid)",
                                      "1: an entry must be {pem: PATH}"}));
}

TEST(YamlReader, RefusesAliasesSecondDocumentsAndBadSyntax) {
  Problems problems("f.yaml");
  EXPECT_FALSE(ParseDocument("a: &x [1, 2]\nb: *x\n", problems));
  EXPECT_FALSE(ParseDocument("a: 1\n---\nb: 2\n", problems));
  EXPECT_FALSE(ParseDocument("a: [1\n", problems));
  auto m = Messages(problems);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0], "2: YAML alias: aliases (*name) are not allowed here; write the value out");
  EXPECT_EQ(m[1], "2: more than one YAML document");
  Problems bounded("f.yaml");
  EXPECT_TRUE(ParseDocument("a: &x 1\nb: *x\n", bounded, {.max_aliases = 1}));
  EXPECT_FALSE(ParseDocument("a: &x 1\nb: *x\nc: *x\n", bounded, {.max_aliases = 1}));
  EXPECT_EQ(Messages(bounded), (std::vector<std::string>{"3: YAML alias: more than 1 aliases"}));
}

}  // namespace
}  // namespace vaultd::yaml
