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

enum class Mode { kRo, kRw };

TEST(YamlReader, ReadsOneOfAFixedSetOfStrings) {
  const MapSchema schema = {.allowed = {"a", "b", "c", "d"}};
  Problems problems("f.yaml");
  auto root = ParseDocument("a: rw\nb: [ro]\nc: rwx\nd:\n", problems);
  ASSERT_TRUE(root);
  MapReader map(*root, schema, problems);
  const std::initializer_list<std::pair<std::string_view, Mode>> kModes = {{"ro", Mode::kRo},
                                                                           {"rw", Mode::kRw}};
  EXPECT_EQ(map.Enum<Mode>("a", kModes), Mode::kRw);
  EXPECT_FALSE(map.Enum<Mode>("b", kModes));
  EXPECT_FALSE(map.Enum<Mode>("c", kModes, "rule.mode", "mode"));
  EXPECT_FALSE(map.Enum<int>("d", {{"x", 1}, {"y", 2}, {"z", 3}}));
  EXPECT_FALSE(map.Enum<Mode>("missing", kModes));
  EXPECT_EQ(Messages(problems),
            (std::vector<std::string>{"2: 'b' must be a string",
                                      "3: rule.mode: unknown mode 'rwx' (expected ro or rw)",
                                      "4: 'd' must be a string"}));
  EXPECT_EQ(problems.FirstAsStatus().message(), "f.yaml:2: 'b' must be a string");
  Problems empty("g.yaml");
  MapReader(*ParseDocument("d: \"\"\n", empty), schema, empty)
      .Enum<int>("d", {{"x", 1}, {"y", 2}, {"z", 3}});
  EXPECT_EQ(empty.FirstAsStatus().message(),
            "g.yaml:1: 'd': unknown value '' (expected x, y or z)");
}

TEST(YamlReader, ReadsAnRfc3339TimeFromAString) {
  const MapSchema schema = {.allowed = {"a", "b", "c", "d"}};
  Problems problems("f.yaml");
  auto root = ParseDocument(
      "a: 2026-06-01T12:00:00+02:00\nb: {t: 1}\nc: 2026-13-01T00:00:00Z\nd:\n", problems);
  ASSERT_TRUE(root);
  MapReader map(*root, schema, problems);
  EXPECT_EQ(map.Time("a"), ParseRfc3339("2026-06-01T10:00:00Z").value());
  EXPECT_FALSE(map.Time("b"));
  EXPECT_FALSE(map.Time("c", "rule.not_after"));
  EXPECT_FALSE(map.Time("d"));
  auto m = Messages(problems);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0], "2: 'b' must be a string");
  EXPECT_EQ(m[1].rfind("3: rule.not_after: bad RFC 3339 time '2026-13-01T00:00:00Z'", 0), 0u)
      << m[1];
  EXPECT_EQ(m[2], "4: 'd' must be a string");  // at the key: the value is empty
  EXPECT_EQ(problems.FirstAsStatus().message(), "f.yaml:2: 'b' must be a string");
}

TEST(YamlReader, ReadsEveryItemOfAListOfStrings) {
  const MapSchema schema = {.allowed = {"groups", "none", "scalar", "empty"}};
  Problems problems("f.yaml");
  auto root = ParseDocument("groups:\n  - a\n  - [b]\n  - \"\"\n  - c\nnone:\nscalar: x\nempty:\n",
                            problems);
  ASSERT_TRUE(root);
  MapReader map(*root, schema, problems);
  const ListRules rules = {.of = "group names", .item = "a group name", .empty_items = false};
  std::vector<std::pair<int, std::string>> seen;
  auto each = [&](const YAML::Node& item, const std::string& value) {
    seen.push_back({LineOf(item), value});
  };
  EXPECT_FALSE(map.Strings("groups", rules, "rule.groups", each));
  EXPECT_EQ(seen, (std::vector<std::pair<int, std::string>>{{2, "a"}, {5, "c"}}));
  EXPECT_TRUE(map.Strings("none", {.null_is_empty = true}, "", each));
  EXPECT_TRUE(map.Strings("missing", rules, "", each));
  EXPECT_FALSE(map.Strings("scalar", rules, "", each));
  EXPECT_FALSE(map.Strings("empty", rules, "", each));
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_EQ(Messages(problems), (std::vector<std::string>{
                                    "3: rule.groups[1] must be a group name",
                                    "4: rule.groups[2] must be a group name",
                                    "7: 'scalar' must be a list of group names",
                                    "8: 'empty' must be a list of group names",
                                }));
  EXPECT_EQ(problems.FirstAsStatus().message(), "f.yaml:3: rule.groups[1] must be a group name");
  Problems list_problems("g.yaml");
  MapReader list(*ParseDocument("tags: [a, {b: 1}]\n", list_problems), kSchema, list_problems);
  EXPECT_FALSE(list.StringList("tags"));
  EXPECT_EQ(list_problems.FirstAsStatus().message(), "g.yaml:1: 'tags'[1] must be a string");
}

TEST(YamlReader, RefusesInvalidUtf8WhenTheFormatAsksForIt) {
  MapSchema schema = {.allowed = {"name", "at", "mode", "tags"}};
  const std::string text =
      "name: a\xff\nat: \"\xc3\x28\"\nmode: \"\xfe\"\ntags: [ok, \"\xc0\xaf\"]\n";
  Problems lenient("f.yaml");
  EXPECT_EQ(MapReader(*ParseDocument(text, lenient), schema, lenient).String("name"), "a\xff");
  EXPECT_TRUE(lenient.empty());

  schema.utf8 = true;
  Problems problems("f.yaml");
  MapReader map(*ParseDocument(text, problems), schema, problems);
  EXPECT_FALSE(map.String("name"));
  EXPECT_FALSE(map.Time("at"));
  EXPECT_FALSE(map.Enum<int>("mode", {{"ro", 0}}));
  EXPECT_FALSE(map.StringList("tags"));
  EXPECT_EQ(Messages(problems), (std::vector<std::string>{
                                    "1: 'name' is not valid UTF-8",
                                    "2: 'at' is not valid UTF-8",
                                    "3: 'mode' is not valid UTF-8",
                                    "4: 'tags'[1] must be a string",
                                }));
  EXPECT_EQ(problems.FirstAsStatus().message(), "f.yaml:1: 'name' is not valid UTF-8");
}

TEST(YamlReader, ProblemsGoToASinkAsTheyAreFound) {
  std::vector<std::string> found;
  Problems problems("f.yaml", [&](Problem p) {
    found.push_back(std::to_string(p.line) + ":" + std::to_string(p.column) + ": " + p.message);
  });
  MapReader map(*ParseDocument("name: [a]\nnmae: b\n", problems), kSchema, problems);
  EXPECT_EQ(found, (std::vector<std::string>{
                       "2:1: unknown key 'nmae' (expected name, count, enabled, at, tags)"}));
  EXPECT_FALSE(map.String("name"));
  EXPECT_EQ(found.back(), "1:7: 'name' must be a string");
  EXPECT_EQ(problems.count(), 2u);
  EXPECT_FALSE(problems.empty());
  EXPECT_TRUE(problems.list().empty());
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
