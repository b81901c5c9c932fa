// The real `vault-orchestrator` binary of this build on the example files.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace {

struct CliResult {
  int code = -1;
  std::string out;  // stdout and stderr together
};

// Runs the binary; `with_stderr` folds stderr into the output (JSON tests read stdout only).
CliResult Run(const std::string& args, bool with_stderr) {
  std::string cmd = std::string(VAULTD_BIN_DIR) + "/vault-orchestrator " + args +
                    (with_stderr ? " 2>&1" : " 2>/dev/null");
  CliResult r;
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) r.out.append(buf, n);
  int status = pclose(f);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}
CliResult Cli(const std::string& args) { return Run(args, true); }
CliResult CliStdout(const std::string& args) { return Run(args, false); }

const std::string kPolicy = VAULTD_SOURCE_DIR "/orchestrator/examples/vault-permissions.yaml";
const std::string kCases = VAULTD_SOURCE_DIR "/orchestrator/examples/cases.yaml";

std::string TempFile(const std::string& name, const std::string& content) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << content;
  return path;
}

TEST(Cli, CheckValidExample) {
  CliResult r = Cli("check --policy " + kPolicy);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find(": valid (sha256:"), std::string::npos) << r.out;
}

TEST(Cli, CheckInvalidPrintsEveryErrorWithFileAndLine) {
  std::string path =
      TempFile("bad.yaml", "version: 1\nfolders:\n  - name: a\n    path: rel\n    mdoe: rw\n");
  CliResult r = Cli("check --policy " + path);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find(path + ":4: error: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(path + ":5: error: folders[0] 'a': unknown key 'mdoe'"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("invalid: 2 error(s)"), std::string::npos) << r.out;
}

TEST(Cli, CheckPrintsWarningsAndStillSucceeds) {
  std::string path =
      TempFile("warn.yaml",
               "version: 1\nfolders:\n  - name: a\n    path: /a\n    access:\n"
               "      - {groups: [g], mode: ro, not_after: \"2001-01-01T00:00:00Z\"}\n");
  CliResult r = Cli("check --policy " + path);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find(path + ":6: warning: "), std::string::npos) << r.out;
}

TEST(Cli, TestExampleCasesPass) {
  CliResult r = Cli("test --policy " + kPolicy + " --cases " + kCases);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("PASS deal room needs legal AND executive"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" passed, 0 failed"), std::string::npos) << r.out;
}

TEST(Cli, TestFailingCaseExitsOneWithDiff) {
  std::string cases =
      TempFile("cases.yaml",
               "- name: wrong on purpose\n  user: a\n  groups: [legal]\n"
               "  at: \"2026-03-01T00:00:00Z\"\n  expect: {deal-room-acme: rw}\n"
               "- name: right\n  user: a\n  groups: []\n  at: \"2026-03-01T00:00:00Z\"\n"
               "  expect: {personal: rw}\n");
  CliResult r = Cli("test --policy " + kPolicy + " --cases " + cases);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("FAIL wrong on purpose"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("- deal-room-acme: rw (expected, not granted)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS right"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 passed, 1 failed"), std::string::npos) << r.out;
}

TEST(Cli, EvalPrintsTheMountSet) {
  CliResult r =
      CliStdout("eval --policy " + kPolicy +
                " --user alice --groups legal,executive --at 2026-03-01T00:00:00Z --explain");
  ASSERT_EQ(r.code, 0) << r.out;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["schema"], "vaultd.mountset/1");
  EXPECT_EQ(j["mounts"].size(), 2u);
  EXPECT_EQ(j["mounts"][0]["name"], "deal-room-acme");
  EXPECT_TRUE(j["not_granted"].is_array());
  EXPECT_FALSE(j["not_granted"].empty());
}

TEST(Cli, DockerRunConfig) {
  CliResult r = CliStdout("docker-run-config --policy " + kPolicy +
                          " --user bob --groups wiki-editors --at 2026-03-01T00:00:00Z");
  ASSERT_EQ(r.code, 0) << r.out;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["volumes"]["/shared/wiki"]["bind"], "/vault/wiki");
  EXPECT_EQ(j["volumes"]["/shared/wiki"]["mode"], "rw");
  EXPECT_EQ(j["volumes"]["/users/bob/personal"]["bind"], "/vault/personal");
}

TEST(Cli, KasmPlanJsonAndUser) {
  CliResult r = CliStdout("kasm-plan --json --policy " + kPolicy +
                          " --user carol --groups hr,engineering --at 2026-03-01T00:00:00Z");
  ASSERT_EQ(r.code, 0) << r.out;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["counts"]["folders"], 12);
  EXPECT_EQ(j["user"]["volume_mappings"]["/shared/hr/engineering"]["mode"], "rw");
  EXPECT_EQ(j["user"]["volume_mappings"]["/shared/hr/marketing"]["mode"], "ro");
  CliResult text = Cli("kasm-plan --policy " + kPolicy);
  EXPECT_EQ(text.code, 0);
  EXPECT_NE(text.out.find("Rules Kasm cannot express natively"), std::string::npos) << text.out;
}

// Two vault folders mapped from one host directory: kasm-plan keeps both
// (the second as NOT MAPPED with a warning naming both) and still succeeds.
TEST(Cli, KasmPlanKeepsFoldersSharingAHostPath) {
  std::string path = TempFile("shared-host.yaml", R"(version: 1
folders:
  - {name: a, path: /shared/x, access: [{groups: [g], mode: rw}]}
  - {name: b, path: /shared/x, target: copy, access: [{groups: [g], mode: ro}]}
)");
  CliResult r = CliStdout("kasm-plan --json --policy " + path +
                          " --user u --groups g --at 2026-03-01T00:00:00Z");
  ASSERT_EQ(r.code, 0) << r.out;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["kasm_groups"][0]["volume_mappings"]["/shared/x"]["bind"], "/vault/a");
  EXPECT_EQ(j["kasm_groups"][0]["not_mappable"][0]["folder"], "b");
  EXPECT_EQ(j["user"]["volume_mappings"]["/shared/x"]["bind"], "/vault/a");
  EXPECT_EQ(j["user"]["not_mappable"][0]["folder"], "b");
  EXPECT_EQ(j["user"]["not_mappable"][0]["bind"], "/vault/copy");
  ASSERT_EQ(j["warnings"].size(), 2u);  // group g and user u
  for (const auto& w : j["warnings"]) {
    EXPECT_NE(w.get<std::string>().find("folders 'a' and 'b' share host path /shared/x"),
              std::string::npos)
        << w;
  }
  CliResult text =
      Cli("kasm-plan --policy " + path + " --user u --groups g --at 2026-03-01T00:00:00Z");
  ASSERT_EQ(text.code, 0) << text.out;
  EXPECT_NE(
      text.out.find(
          "warning: folders 'a' and 'b' share host path /shared/x: the Volume Mappings of Kasm "
          "group 'g'"),
      std::string::npos)
      << text.out;
  EXPECT_NE(
      text.out.find(
          "warning: folders 'a' and 'b' share host path /shared/x: the Volume Mappings of Kasm "
          "user 'u'"),
      std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("    NOT MAPPED /shared/x -> /vault/copy (ro) for folder 'b'"),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("NOT MAPPED for 'u': /shared/x -> /vault/copy (ro) for folder 'b'"),
            std::string::npos)
      << text.out;
}

TEST(Cli, HelpAndUsageErrors) {
  for (const char* cmd : {"eval", "check", "test", "docker-run-config", "kasm-plan"}) {
    CliResult help = Cli(std::string(cmd) + " --help");
    EXPECT_EQ(help.code, 0) << cmd;
    EXPECT_NE(help.out.find("--policy"), std::string::npos) << cmd << help.out;
    EXPECT_EQ(help.out.find("not built yet"), std::string::npos) << cmd;
  }
  EXPECT_EQ(Cli("eval --user a").code, 2);
  EXPECT_EQ(Cli("eval --policy " + kPolicy).code, 2);  // no --user
  EXPECT_EQ(Cli("eval --policy " + kPolicy + " --user a --at yesterday").code, 2);
  EXPECT_EQ(Cli("check --policy " + kPolicy + " --bogus").code, 2);
  EXPECT_EQ(Cli("check --policy /nonexistent.yaml").code, 1);
}

}  // namespace
