#include "vaultd/configgen/obsidian.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "vaultd/common/fs.h"

namespace vaultd::configgen {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

class ObsidianTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("configgen-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    fs::create_directories(base_ + "/vault");
    paths_ = DefaultObsidianPaths(base_ + "/vault", base_ + "/home");
    defaults_ = BuiltinObsidianDefaults();
    ASSERT_TRUE(ApplyObsidianDefaultsYaml(
                    "community_plugins:\n  allow: [dataview, calendar]\n  defaults: [dataview]\n",
                    "org.yaml", &defaults_)
                    .ok());
  }
  void TearDown() override { fs::remove_all(base_); }

  WriteReport Run() {
    WriteReport r;
    Status s = WriteObsidianConfig(paths_, defaults_, &r);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return r;
  }
  json Read(const std::string& path) { return json::parse(ReadFile(path).value()); }
  json Vault(const std::string& file) { return Read(paths_.vault + "/.obsidian/" + file); }
  void WriteJson(const std::string& path, const json& j) {
    fs::create_directories(DirName(path));
    ASSERT_TRUE(WriteFileAtomic(path, j.dump(), {.sync = false}).ok());
  }
  // The next session: a fresh vault root, the same persistent home.
  void NewSession() {
    fs::remove_all(paths_.vault);
    fs::create_directories(paths_.vault);
  }

  std::string base_;
  ObsidianPaths paths_;
  ObsidianDefaults defaults_;
};

TEST_F(ObsidianTest, AFreshVaultGetsEveryFileAndASecondRunTouchesNothing) {
  WriteReport first = Run();
  EXPECT_EQ(first.written.size(), 5u);
  json app = Vault("app.json");
  EXPECT_EQ(app["attachmentFolderPath"], "./");
  EXPECT_EQ(app["alwaysUpdateLinks"], true);
  EXPECT_EQ(Vault("core-plugins.json")["sync"], false);
  EXPECT_EQ(Vault("core-plugins.json")["file-explorer"], true);
  EXPECT_EQ(Vault("community-plugins.json"), json({"dataview"}));
  EXPECT_EQ(Vault("appearance.json"), json({{"theme", "system"}}));
  json o = Read(paths_.obsidian_json);
  ASSERT_EQ(o["vaults"].size(), 1u);
  EXPECT_EQ(o["vaults"].begin().value(), json({{"path", paths_.vault}, {"open", true}}));
  EXPECT_FALSE(fs::exists(paths_.profile_dir)) << "nothing of the user's to keep yet";

  const auto mtime = fs::last_write_time(paths_.vault + "/.obsidian/app.json");
  WriteReport second = Run();
  EXPECT_TRUE(second.written.empty()) << second.written[0];
  EXPECT_EQ(second.unchanged.size(), 5u);
  EXPECT_EQ(fs::last_write_time(paths_.vault + "/.obsidian/app.json"), mtime);
}

TEST_F(ObsidianTest, UserSettingsSurviveIntoTheNextSessionAndManagedKeysAreEnforced) {
  Run();
  json app = Vault("app.json");
  app["vimMode"] = true;
  app["alwaysUpdateLinks"] = false;                     // managed: enforced again
  app["userIgnoreFilters"] = {".vaultd/", "Archive/"};  // managed entries + one of the user's
  WriteJson(paths_.vault + "/.obsidian/app.json", app);
  WriteJson(paths_.vault + "/.obsidian/community-plugins.json", json({"calendar", "dataview"}));
  WriteJson(paths_.vault + "/.obsidian/appearance.json", json({{"theme", "moonstone"}}));
  // During the session custom_startup.sh copies them into the profile.
  WriteReport saved;
  ASSERT_TRUE(SaveUserSettings(paths_, defaults_, &saved).ok());
  EXPECT_EQ(saved.written.size(), 3u);
  NewSession();
  Run();
  app = Vault("app.json");
  EXPECT_EQ(app["vimMode"], true);
  EXPECT_EQ(app["alwaysUpdateLinks"], true);
  EXPECT_EQ(app["userIgnoreFilters"], json({".vaultd/", ".trash/", "Archive/"}));
  EXPECT_EQ(Vault("community-plugins.json"), json({"calendar", "dataview"}));
  EXPECT_EQ(Vault("appearance.json")["theme"], "moonstone");
  EXPECT_EQ(Read(paths_.profile_dir + "/app.json"),
            json({{"vimMode", true}, {"userIgnoreFilters", {"Archive/"}}}));
  EXPECT_TRUE(Run().written.empty());
}

TEST_F(ObsidianTest, APluginOutsideTheAllowListIsRemovedWithItsCode) {
  Run();
  WriteJson(paths_.vault + "/.obsidian/community-plugins.json", json({"dataview", "evil-exfil"}));
  WriteJson(paths_.vault + "/.obsidian/plugins/evil-exfil/manifest.json",
            json({{"id", "evil-exfil"}}));
  WriteJson(paths_.vault + "/.obsidian/plugins/dataview/manifest.json", json({{"id", "dataview"}}));
  WriteReport r = Run();
  EXPECT_EQ(r.removed_plugins, std::vector<std::string>{"evil-exfil"});
  EXPECT_EQ(Vault("community-plugins.json"), json({"dataview"}));
  EXPECT_FALSE(fs::exists(paths_.vault + "/.obsidian/plugins/evil-exfil"));
  EXPECT_TRUE(fs::exists(paths_.vault + "/.obsidian/plugins/dataview/manifest.json"));
  NewSession();
  EXPECT_TRUE(Run().removed_plugins.empty());
  EXPECT_EQ(Vault("community-plugins.json"), json({"dataview"}));
}

TEST_F(ObsidianTest, WithoutAnAllowListNoCommunityPluginStays) {
  defaults_ = BuiltinObsidianDefaults();
  fs::create_directories(paths_.vault + "/.obsidian");
  WriteJson(paths_.vault + "/.obsidian/community-plugins.json", json({"dataview"}));
  EXPECT_EQ(Run().removed_plugins, std::vector<std::string>{"dataview"});
  EXPECT_EQ(Vault("community-plugins.json"), json::array());
}

TEST_F(ObsidianTest, NothingIsWrittenBelowAReadOnlyPath) {
  paths_.read_only.push_back(paths_.vault);
  WriteReport r;
  Status s = WriteObsidianConfig(paths_, defaults_, &r);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("read-only mount " + paths_.vault), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(paths_.vault + "/.obsidian"));
}

TEST_F(ObsidianTest, ObsidianJsonKeepsOtherVaultsButOpensOurs) {
  WriteJson(paths_.obsidian_json,
            {{"vaults", {{"aaaa", {{"path", "/home/x/old"}, {"open", true}, {"ts", 5}}}}},
             {"frame", "hidden"}});
  Run();
  json o = Read(paths_.obsidian_json);
  EXPECT_EQ(o["frame"], "hidden");
  EXPECT_EQ(o["updateDisabled"], true);
  EXPECT_EQ(o["vaults"]["aaaa"], json({{"path", "/home/x/old"}, {"ts", 5}}));
  EXPECT_EQ(o["vaults"].size(), 2u);
}

TEST(ObsidianDefaults, UnknownKeysAndWrongTypesNameFileAndLine) {
  ObsidianDefaults d = BuiltinObsidianDefaults();
  Status s =
      ApplyObsidianDefaultsYaml("app:\n  defaults: {a: 1}\n  enforced: {b: 2}\n", "org.yaml", &d);
  EXPECT_EQ(s.message(),
            "org.yaml:3: unknown key 'enforced' in app (expected one of: defaults, enforce)");
  s = ApplyObsidianDefaultsYaml("core_plugins:\n  enforce:\n    graph: 'no'\n", "o.yaml", &d);
  EXPECT_EQ(s.message(), "o.yaml:3: core_plugins.enforce.graph must be true or false");
  s = ApplyObsidianDefaultsYaml("plugins: []\n", "o.yaml", &d);
  EXPECT_NE(s.message().find("o.yaml:1: unknown key 'plugins'"), std::string::npos) << s.message();
  s = ApplyObsidianDefaultsYaml("community_plugins:\n  allow: [a]\n  defaults: [b]\n", "o.yaml",
                                &d);
  EXPECT_NE(s.message().find("'b', which is not in community_plugins.allow"), std::string::npos);
  s = ApplyObsidianDefaultsYaml("app: [\n", "o.yaml", &d);
  EXPECT_EQ(s.message().rfind("o.yaml:", 0), 0u) << s.message();
}

TEST(ObsidianDefaults, ValuesKeepTheirYamlTypesAndLaterFilesWin) {
  ObsidianDefaults d = BuiltinObsidianDefaults();
  ASSERT_TRUE(ApplyObsidianDefaultsYaml(
                  "app:\n  defaults: {showLineNumber: true, tabSize: 4, zoom: 1.5, name: '10', "
                  "none: null}\n"
                  "  enforce: {promptDelete: false}\ncore_plugins:\n  enforce: {graph: false}\n",
                  "10-org.yaml", &d)
                  .ok());
  ASSERT_TRUE(
      ApplyObsidianDefaultsYaml("app:\n  defaults: {tabSize: 2}\n", "50-team.yaml", &d).ok());
  EXPECT_EQ(d.app.defaults, json({{"showLineNumber", true},
                                  {"tabSize", 2},
                                  {"zoom", 1.5},
                                  {"name", "10"},
                                  {"none", nullptr}}));
  EXPECT_EQ(d.app.enforced["promptDelete"], false);
  EXPECT_EQ(d.app.enforced["attachmentFolderPath"], "./");
  EXPECT_EQ(d.core_plugins.enforced["graph"], false);
  EXPECT_EQ(d.sources, (std::vector<std::string>{"10-org.yaml", "50-team.yaml"}));
}

}  // namespace
}  // namespace vaultd::configgen
