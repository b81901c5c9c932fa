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
       "version: 1\nfolders:\n  - {name: a, path: /a}\n  - {name: a, path: /b, target: b, room: "
       "b}\n",
       4, "duplicate folder name 'a'"},
      {"duplicate target",
       "version: 1\nfolders:\n  - {name: a, path: /a, target: x}\n  - {name: b, path: /b, target: "
       "x}\n",
       4, "duplicate target 'x'"},
      {"duplicate room",
       "version: 1\nfolders:\n  - {name: a, path: /a}\n  - name: b\n    path: /b\n    room: a\n", 6,
       "duplicate room 'a'"},
      {"nested target",
       "version: 1\nfolders:\n  - {name: a, path: /a, target: deals}\n  - {name: b, path: /b, "
       "target: deals/acme}\n",
       4, "nested inside target 'deals'"},
      {"nested in personal target",
       "version: 1\npersonal: {path: \"/u/{username}\"}\nfolders:\n  - name: b\n    path: /b\n    "
       "target: personal/x\n",
       6, "nested inside target 'personal' of personal.target"},
      {"relative path", "version: 1\nfolders:\n  - name: a\n    path: shared/a\n", 4,
       "must be an absolute host path"},
      {"dot-dot path", "version: 1\nfolders:\n  - name: a\n    path: /shared/../etc\n", 4,
       "must be an absolute host path"},
      {"dot-dot target", "version: 1\nfolders:\n  - name: a\n    path: /a\n    target: ../a\n", 5,
       "must be a relative path"},
      {"absolute target", "version: 1\nfolders:\n  - name: a\n    path: /a\n    target: /vault/a\n",
       5, "must be a relative path"},
      {"unknown key", "version: 1\nfolders:\n  - name: a\n    path: /a\n    acess: []\n", 5,
       "unknown key 'acess'"},
      {"unknown top-level key", "version: 1\nfoldrs: []\n", 2, "unknown key 'foldrs'"},
      {"unknown mode",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    access:\n      - groups: [g]\n        "
       "mode: rwx\n",
       7, "unknown mode 'rwx'"},
      {"unknown compound",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    access:\n      - groups: [g]\n        "
       "mode: ro\n"
       "        compound: both\n",
       8, "unknown value 'both'"},
      {"bad time",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    access:\n      - groups: [g]\n        "
       "mode: ro\n"
       "        not_after: \"2026-13-01T00:00:00Z\"\n",
       8, "not_after"},
      {"unknown inherit",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    inherit:\n      - nope\n", 6,
       "unknown folder 'nope'"},
      {"inherit cycle",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    inherit: [b]\n  - name: b\n    path: "
       "/b\n"
       "    inherit: [a]\n",
       5, "inherit cycle"},
      {"self inherit", "version: 1\nfolders:\n  - name: a\n    path: /a\n    inherit: [a]\n", 5,
       "inherit cycle"},
      {"username outside personal",
       "version: 1\nfolders:\n  - name: a\n    path: /home/{username}\n", 4,
       "{username} is allowed only"},
      {"username in a room",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    room: r-{username}\n", 5,
       "{username} is allowed only"},
      {"personal room without username",
       "version: 1\npersonal:\n  path: /u/{username}\n  room: personal\n", 4,
       "must contain {username}"},
      {"personal room with username twice",
       "version: 1\npersonal:\n  path: /u/{username}\n  room: \"{username}-{username}\"\n", 4,
       "exactly once"},
      {"personal path without username", "version: 1\npersonal:\n  path: /u/shared\n", 3,
       "must contain {username}"},
      {"folder room can equal a personal room",
       "version: 1\npersonal: {path: \"/u/{username}\"}\nfolders:\n  - name: a\n    path: /a\n    "
       "room: personal-bob\n",
       6, "can coincide with personal.room"},
      {"reserved name personal",
       "version: 1\npersonal: {path: \"/u/{username}\", target: home}\nfolders:\n  - name: "
       "personal\n    path: /a\n",
       4, "reserved"},
      {"missing name", "version: 1\nfolders:\n  - path: /a\n", 3, "missing required key 'name'"},
      {"missing path", "version: 1\nfolders:\n  - name: a\n", 3, "missing required key 'path'"},
      {"missing mode",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    access:\n      - groups: [g]\n", 6,
       "missing required key 'mode'"},
      {"missing groups",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    access:\n      - mode: ro\n", 6,
       "missing required key 'groups'"},
      {"missing version", "folders: []\n", 1, "missing required key 'version'"},
      {"version 2", "version: 2\n", 1, "version must be 1"},
      {"groups not a list",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    access:\n      - groups: legal\n      "
       "  mode: ro\n",
       6, "must be a list"},
      {"folders not a list", "version: 1\nfolders:\n  name: a\n", 3, "folders must be a list"},
      {"name not a string", "version: 1\nfolders:\n  - name: [a]\n    path: /a\n", 3,
       "must be a string"},
      {"duplicate key", "version: 1\nfolders:\n  - name: a\n    path: /a\n    path: /b\n", 5,
       "duplicate key 'path'"},
      {"yaml syntax", "version: 1\nfolders:\n  - name: a\n    path: [/a\n", 5, "YAML"},
      {"two documents", "version: 1\n---\nversion: 1\n", 2, "more than one YAML document"},
      {"empty", "", 1, "empty policy"},
      {"bad sync url", "version: 1\nsync:\n  url: http://relay\n", 3, "ws://"},
      {"invalid UTF-8", "version: 1\nfolders:\n  - name: a\n    path: /a\xff\n", 4,
       "not valid UTF-8"},
      {"invalid UTF-8 group",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    access:\n      - groups: [\xc3\x28]\n "
       "       mode: ro\n",
       6, "UTF-8 group name"},
      {"reserved target",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    target: .obsidian\n", 5, "reserved"},
      {"alias",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    access:\n      - groups: &g [x, y]\n  "
       "      mode: ro\n"
       "  - name: b\n    path: /b\n    access:\n      - groups: *g\n        mode: ro\n",
       11, "YAML alias: aliases (*name) are not allowed here"},
      {"too many groups in a rule",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    access:\n      - groups: [g0, g1, g2, "
       "g3, g4, g5, g6, g7, g8, g9, g10, g11, g12, g13, g14, g15, g16, g17, g18, g19, g20, g21, "
       "g22, g23, g24, g25, g26, g27, g28, g29, g30, g31, g32, g33, g34, g35, g36, g37, g38, g39, "
       "g40, g41, g42, g43, g44, g45, g46, g47, g48, g49, g50, g51, g52, g53, g54, g55, g56, g57, "
       "g58, g59, g60, g61, g62, g63, g64, g65, g66, g67, g68, g69, g70, g71, g72, g73, g74, g75, "
       "g76, g77, g78, g79, g80, g81, g82, g83, g84, g85, g86, g87, g88, g89, g90, g91, g92, g93, "
       "g94, g95, g96, g97, g98, g99, g100, g101, g102, g103, g104, g105, g106, g107, g108, g109, "
       "g110, g111, g112, g113, g114, g115, g116, g117, g118, g119, g120, g121, g122, g123, g124, "
       "g125, g126, g127, g128, g129, g130, g131, g132, g133, g134, g135, g136, g137, g138, g139, "
       "g140, g141, g142, g143, g144, g145, g146, g147, g148, g149, g150, g151, g152, g153, g154, "
       "g155, g156, g157, g158, g159, g160, g161, g162, g163, g164, g165, g166, g167, g168, g169, "
       "g170, g171, g172, g173, g174, g175, g176, g177, g178, g179, g180, g181, g182, g183, g184, "
       "g185, g186, g187, g188, g189, g190, g191, g192, g193, g194, g195, g196, g197, g198, g199, "
       "g200, g201, g202, g203, g204, g205, g206, g207, g208, g209, g210, g211, g212, g213, g214, "
       "g215, g216, g217, g218, g219, g220, g221, g222, g223, g224, g225, g226, g227, g228, g229, "
       "g230, g231, g232, g233, g234, g235, g236, g237, g238, g239, g240, g241, g242, g243, g244, "
       "g245, g246, g247, g248, g249, g250, g251, g252, g253, g254, g255, g256, g257, g258, g259, "
       "g260, g261, g262, g263, g264, g265, g266, g267, g268, g269, g270, g271, g272, g273, g274, "
       "g275, g276, g277, g278, g279, g280, g281, g282, g283, g284, g285, g286, g287, g288, g289, "
       "g290, g291, g292, g293, g294, g295, g296, g297, g298, g299, g300, g301, g302, g303, g304, "
       "g305, g306, g307, g308, g309, g310, g311, g312, g313, g314, g315, g316, g317, g318, g319, "
       "g320, g321, g322, g323, g324, g325, g326, g327, g328, g329, g330, g331, g332, g333, g334, "
       "g335, g336, g337, g338, g339, g340, g341, g342, g343, g344, g345, g346, g347, g348, g349, "
       "g350, g351, g352, g353, g354, g355, g356, g357, g358, g359, g360, g361, g362, g363, g364, "
       "g365, g366, g367, g368, g369, g370, g371, g372, g373, g374, g375, g376, g377, g378, g379, "
       "g380, g381, g382, g383, g384, g385, g386, g387, g388, g389, g390, g391, g392, g393, g394, "
       "g395, g396, g397, g398, g399, g400, g401, g402, g403, g404, g405, g406, g407, g408, g409, "
       "g410, g411, g412, g413, g414, g415, g416, g417, g418, g419, g420, g421, g422, g423, g424, "
       "g425, g426, g427, g428, g429, g430, g431, g432, g433, g434, g435, g436, g437, g438, g439, "
       "g440, g441, g442, g443, g444, g445, g446, g447, g448, g449, g450, g451, g452, g453, g454, "
       "g455, g456, g457, g458, g459, g460, g461, g462, g463, g464, g465, g466, g467, g468, g469, "
       "g470, g471, g472, g473, g474, g475, g476, g477, g478, g479, g480, g481, g482, g483, g484, "
       "g485, g486, g487, g488, g489, g490, g491, g492, g493, g494, g495, g496, g497, g498, g499, "
       "g500, g501, g502, g503, g504, g505, g506, g507, g508, g509, g510, g511, g512, g513, g514, "
       "g515, g516, g517, g518, g519, g520, g521, g522, g523, g524, g525, g526, g527, g528, g529, "
       "g530, g531, g532, g533, g534, g535, g536, g537, g538, g539, g540, g541, g542, g543, g544, "
       "g545, g546, g547, g548, g549, g550, g551, g552, g553, g554, g555, g556, g557, g558, g559, "
       "g560, g561, g562, g563, g564, g565, g566, g567, g568, g569, g570, g571, g572, g573, g574, "
       "g575, g576, g577, g578, g579, g580, g581, g582, g583, g584, g585, g586, g587, g588, g589, "
       "g590, g591, g592, g593, g594, g595, g596, g597, g598, g599, g600, g601, g602, g603, g604, "
       "g605, g606, g607, g608, g609, g610, g611, g612, g613, g614, g615, g616, g617, g618, g619, "
       "g620, g621, g622, g623, g624, g625, g626, g627, g628, g629, g630, g631, g632, g633, g634, "
       "g635, g636, g637, g638, g639, g640, g641, g642, g643, g644, g645, g646, g647, g648, g649, "
       "g650, g651, g652, g653, g654, g655, g656, g657, g658, g659, g660, g661, g662, g663, g664, "
       "g665, g666, g667, g668, g669, g670, g671, g672, g673, g674, g675, g676, g677, g678, g679, "
       "g680, g681, g682, g683, g684, g685, g686, g687, g688, g689, g690, g691, g692, g693, g694, "
       "g695, g696, g697, g698, g699, g700, g701, g702, g703, g704, g705, g706, g707, g708, g709, "
       "g710, g711, g712, g713, g714, g715, g716, g717, g718, g719, g720, g721, g722, g723, g724, "
       "g725, g726, g727, g728, g729, g730, g731, g732, g733, g734, g735, g736, g737, g738, g739, "
       "g740, g741, g742, g743, g744, g745, g746, g747, g748, g749, g750, g751, g752, g753, g754, "
       "g755, g756, g757, g758, g759, g760, g761, g762, g763, g764, g765, g766, g767, g768, g769, "
       "g770, g771, g772, g773, g774, g775, g776, g777, g778, g779, g780, g781, g782, g783, g784, "
       "g785, g786, g787, g788, g789, g790, g791, g792, g793, g794, g795, g796, g797, g798, g799, "
       "g800, g801, g802, g803, g804, g805, g806, g807, g808, g809, g810, g811, g812, g813, g814, "
       "g815, g816, g817, g818, g819, g820, g821, g822, g823, g824, g825, g826, g827, g828, g829, "
       "g830, g831, g832, g833, g834, g835, g836, g837, g838, g839, g840, g841, g842, g843, g844, "
       "g845, g846, g847, g848, g849, g850, g851, g852, g853, g854, g855, g856, g857, g858, g859, "
       "g860, g861, g862, g863, g864, g865, g866, g867, g868, g869, g870, g871, g872, g873, g874, "
       "g875, g876, g877, g878, g879, g880, g881, g882, g883, g884, g885, g886, g887, g888, g889, "
       "g890, g891, g892, g893, g894, g895, g896, g897, g898, g899, g900, g901, g902, g903, g904, "
       "g905, g906, g907, g908, g909, g910, g911, g912, g913, g914, g915, g916, g917, g918, g919, "
       "g920, g921, g922, g923, g924, g925, g926, g927, g928, g929, g930, g931, g932, g933, g934, "
       "g935, g936, g937, g938, g939, g940, g941, g942, g943, g944, g945, g946, g947, g948, g949, "
       "g950, g951, g952, g953, g954, g955, g956, g957, g958, g959, g960, g961, g962, g963, g964, "
       "g965, g966, g967, g968, g969, g970, g971, g972, g973, g974, g975, g976, g977, g978, g979, "
       "g980, g981, g982, g983, g984, g985, g986, g987, g988, g989, g990, g991, g992, g993, g994, "
       "g995, g996, g997, g998, g999, g1000]\n        mode: ro\n",
       6, "1001 groups; the limit is 1000"},
      {"unknown key that is no name", "version: 1\nroot:$6$salt$hash:19000:0: 1\n", 2,
       "unknown key 'root...'"},
      {"unknown key that is a name", "version: 1\nfolderz: []\n", 2, "unknown key 'folderz'"},
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
      if (d.error && d.line == c.line && d.message.find(c.message) != std::string::npos)
        found = true;
    }
    EXPECT_TRUE(found) << c.what << ": expected line " << c.line << " '" << c.message << "', got:\n"
                       << testing::Diagnostics(r);
    EXPECT_EQ(r.diagnostics[0].ToString().rfind("p.yaml:", 0), 0u);
  }
}

TEST(PolicyLoad, ReportsEveryErrorNotJustTheFirst) {
  LoadResult r = LoadYaml(
      "version: 1\nfolders:\n  - name: a\n    path: rel\n    access:\n      - groups: [g]\n        "
      "mode: xx\n");
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

TEST(PolicyLoad, FolderCountIsBounded) {
  std::string yaml = "version: 1\nfolders:\n";
  for (size_t i = 0; i <= kMaxPolicyFolders; ++i)
    yaml += "  - {name: f" + std::to_string(i) + ", path: /f" + std::to_string(i) + "}\n";
  LoadResult r = LoadPolicyString(yaml, "big.yaml", {});
  EXPECT_FALSE(r.policy);
  ASSERT_FALSE(r.diagnostics.empty());
  EXPECT_EQ(r.diagnostics[0].ToString(),
            "big.yaml:3: error: folders: 10001 entries; the limit is 10000");
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
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    access:\n      - groups: [eng]\n      "
       "  mode: rw\n"
       "      - groups: [eng, lead]\n        compound: all\n        mode: ro\n",
       8, "never matters"},
      {"expired window",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    access:\n      - groups: [g]\n        "
       "mode: ro\n"
       "        not_after: \"2020-01-01T00:00:00Z\"\n",
       6, "window ended"},
      {"empty window",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    access:\n      - groups: [g]\n        "
       "mode: ro\n"
       "        not_before: \"2027-01-01T00:00:00Z\"\n        not_after: "
       "\"2027-01-01T00:00:00Z\"\n",
       6, "never matches"},
      {"deny with no groups",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    access: [{groups: [g], mode: ro}]\n"
       "    deny:\n      - groups: []\n",
       7, "removes the folder for every user"},
      {"deny matching everyone the access rules grant",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    access: [{groups: [x, y], compound: "
       "all, mode: rw}]\n"
       "    deny:\n      - groups: [y]\n",
       7, "nobody gets the folder"},
      {"access with no groups",
       "version: 1\nfolders:\n  - name: a\n    path: /a\n    access:\n      - groups: []\n        "
       "mode: ro\n",
       6, "grants every user"},
      {"folder nobody gets", "version: 1\nfolders:\n  - name: a\n    path: /a\n", 3,
       "nobody gets it"},
  };
  for (const LintCase& c : cases) {
    SCOPED_TRACE(c.what);
    LoadResult r = LoadYaml(c.yaml);
    EXPECT_TRUE(r.ok()) << testing::Diagnostics(r);
    bool found = false;
    for (const Diagnostic& d : r.diagnostics) {
      if (!d.error && d.line == c.line && d.message.find(c.message) != std::string::npos)
        found = true;
    }
    EXPECT_TRUE(found) << "expected warning at line " << c.line << " '" << c.message << "', got:\n"
                       << testing::Diagnostics(r);
  }
}

TEST(PolicyLint, IdenticalRulesWarnOnlyOnce) {
  LoadResult r = LoadYaml(
      "version: 1\nfolders:\n  - name: a\n    path: /a\n    access:\n      - groups: [g]\n        "
      "mode: ro\n"
      "      - groups: [g]\n        mode: ro\n");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.diagnostics.size(), 1u) << testing::Diagnostics(r);
  EXPECT_EQ(r.diagnostics[0].line, 8);
}

TEST(PolicyLint, ExampleHasNoErrors) {
  LoadOptions o;
  o.now = testing::T(testing::kNow);
  LoadResult r =
      LoadPolicyFile(VAULTD_SOURCE_DIR "/orchestrator/examples/vault-permissions.yaml", o);
  EXPECT_TRUE(r.ok()) << testing::Diagnostics(r);
  EXPECT_TRUE(r.diagnostics.empty()) << testing::Diagnostics(r);
}

}  // namespace
}  // namespace vaultd::orchestrator
