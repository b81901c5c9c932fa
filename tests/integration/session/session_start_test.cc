// Session start end to end: `vault-orchestrator serve` on loopback with keys
// made here, and `vaultd first-launch` run in a private mount namespace (a
// forked child: unshare, a tmpfs for the host folders, bind mounts under the
// vault) the way a Kasm container sees its composite vault.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "jwt_test_tokens.h"
#include "process.h"
#include "vaultd/common/fs.h"
#include "wait_until.h"

namespace vaultd {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kIssuer = "https://idp.test/realms/corp";
const std::string kSourceDir = std::string(VAULTD_SOURCE_DIR) + "/tests/integration/session";

using vaultd::testing::WaitUntil;

std::string Slurp(const std::string& path) { return ReadFile(path).value_or(""); }

void Replace(std::string* s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s->find(from, pos)) != std::string::npos; pos += to.size())
    s->replace(pos, from.size(), to);
}

// One bind mount of the simulated container: host folder (under the tmpfs) -> vault target.
struct Mount {
  std::string source;  // relative to <root>/src
  std::string target;  // relative to the vault
  bool ro = false;
};

// The mounts alice's mount set asks for.
std::vector<Mount> AliceMounts() {
  return {{"engineering", "engineering", false},
          {"wiki", "wiki", true},
          {"deals/acme", "deals/acme", false},
          {"users/alice/personal", "personal", false}};
}

struct Outcome {
  int exit_code = -1;
  std::string out, err;
};

class SessionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { rsa_ = testing::GenerateRsa().release(); }
  static void TearDownTestSuite() { EVP_PKEY_free(rsa_); }

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root for mount namespaces";
    root_ = (fs::temp_directory_path() /
             ("session-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name()))
                .string();
    fs::remove_all(root_);
    for (const char* d : {"orch", "src", "vault", "home"}) fs::create_directories(root_ + "/" + d);
    Write("orch/jwks.json", json({{"keys", {testing::Jwk(rsa_, "rsa-1")}}}).dump());
    Write("orch/AUTH.yaml",
          std::string("issuer: ") + kIssuer +
              "\naudience: vaultd\nalgorithms: [RS256]\nkeys:\n  - jwks: jwks.json\n"
              "username_claim: preferred_username\ngroups_claim: groups\n");
    const std::string src = root_ + "/src";
    Write("orch/policy.yaml",
          "version: 1\nsync:\n  url: ws://relay.test:1234\npersonal:\n  path: " + src +
              "/users/{username}/personal\nfolders:\n"
              "  - name: engineering\n    path: " +
              src +
              "/engineering\n"
              "    access: [{groups: [engineering], mode: rw}]\n"
              "  - name: wiki\n    path: " +
              src +
              "/wiki\n"
              "    access: [{groups: [all-employees], mode: ro}]\n"
              "  - name: deals-acme\n    path: " +
              src +
              "/deals/acme\n    target: deals/acme\n"
              "    access: [{groups: [legal], mode: rw}]\n");
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    Write("token", testing::MintAsym(rsa_, {{"alg", "RS256"}, {"typ", "JWT"}, {"kid", "rsa-1"}},
                                     {{"iss", kIssuer},
                                      {"aud", "vaultd"},
                                      {"exp", now + 600},
                                      {"iat", now},
                                      {"preferred_username", "alice"},
                                      {"groups", {"engineering", "all-employees", "legal"}}}));
    StartOrchestrator();
  }

  void TearDown() override {
    StopOrchestrator();
    if (!root_.empty()) fs::remove_all(root_);
  }

  void Write(const std::string& rel, const std::string& text) {
    fs::create_directories(DirName(root_ + "/" + rel));
    ASSERT_TRUE(WriteFileAtomic(root_ + "/" + rel, text, {.sync = false}).ok());
  }
  std::string P(const std::string& rel) const { return root_ + "/" + rel; }
  std::string Vault() const { return P("vault"); }
  std::string StateDir() const { return P("home/.local/state/vaultd"); }

  void StartOrchestrator() {
    const std::string bin = std::string(VAULTD_BIN_DIR) + "/vault-orchestrator";
    std::vector<std::string> args = {
        bin,           "serve",  "--policy",          P("orch/policy.yaml"), "--listen",
        "127.0.0.1:0", "--auth", P("orch/AUTH.yaml"), "--port-file",         P("orch/port")};
    orchestrator_ = std::make_unique<testing::Process>();
    ASSERT_TRUE(orchestrator_->Start(args, {.log = P("orch/serve.log")}));
    ASSERT_TRUE(WaitUntil([&] { return !Slurp(P("orch/port")).empty(); }, std::chrono::seconds(30)))
        << "serve did not start: " << Slurp(P("orch/serve.log"));
    url_ = "http://127.0.0.1:" + Slurp(P("orch/port"));
    while (!url_.empty() && (url_.back() == '\n' || url_.back() == ' ')) url_.pop_back();
  }

  void StopOrchestrator() {
    if (orchestrator_) orchestrator_->Stop(std::chrono::seconds(20));
    orchestrator_.reset();
  }

  std::vector<std::string> OrchestratorArgs() const {
    return {"--orchestrator",
            url_,
            "--token-file",
            P("token"),
            "--vault",
            Vault(),
            "--state-dir",
            StateDir(),
            "--obsidian-defaults",
            kSourceDir + "/obsidian-defaults"};
  }

  // Runs `vaultd first-launch ARGS` in a forked child with its own mount
  // namespace: a tmpfs on <root>/src holds the host folders, bound under the
  // vault as `mounts` says. Returns its exit code and output.
  Outcome FirstLaunch(const std::vector<Mount>& mounts, const std::vector<std::string>& args) {
    Outcome o;
    const std::string out = P("fl.out"), err = P("fl.err");
    pid_t pid = ::fork();
    if (pid == 0) {
      auto die = [](const std::string& what) {
        std::fprintf(stderr, "test child: %s: %s\n", what.c_str(), std::strerror(errno));
        ::_exit(99);
      };
      int fd_out = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int fd_err = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd_out, 1);
      ::dup2(fd_err, 2);
      if (::unshare(CLONE_NEWNS) != 0) die("unshare");
      if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) die("make / private");
      if (::mount("sessionsrc", P("src").c_str(), "tmpfs", 0, "size=4m") != 0) die("tmpfs");
      for (const auto& m : mounts) {
        const std::string from = P("src/" + m.source), to = Vault() + "/" + m.target;
        std::error_code ec;
        fs::create_directories(from, ec);
        fs::create_directories(to, ec);
        if (::mount(from.c_str(), to.c_str(), nullptr, MS_BIND, nullptr) != 0) die("bind " + to);
        if (m.ro &&
            ::mount(nullptr, to.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0)
          die("remount ro " + to);
      }
      std::vector<std::string> argv_s = {std::string(VAULTD_BIN_DIR) + "/vaultd", "first-launch"};
      argv_s.insert(argv_s.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& a : argv_s) argv.push_back(a.data());
      argv.push_back(nullptr);
      std::string home = "HOME=" + P("home");
      std::vector<char*> envp = {home.data(), const_cast<char*>("USER=alice"),
                                 const_cast<char*>("PATH=/usr/bin:/bin"), nullptr};
      ::execve(argv[0], argv.data(), envp.data());
      die("exec");
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    o.out = Slurp(out);
    o.err = Slurp(err);
    return o;
  }

  // Every file first-launch writes, by a short name.
  std::map<std::string, std::string> Generated() const {
    std::map<std::string, std::string> files = {
        {"app.json", Vault() + "/.obsidian/app.json"},
        {"appearance.json", Vault() + "/.obsidian/appearance.json"},
        {"core-plugins.json", Vault() + "/.obsidian/core-plugins.json"},
        {"community-plugins.json", Vault() + "/.obsidian/community-plugins.json"},
        {"obsidian.json", P("home/.config/obsidian/obsidian.json")},
        {"vaultd.yaml", StateDir() + "/vaultd.yaml"}};
    return files;
  }

  // Nothing of first-launch's output exists (a refused run wrote nothing).
  void ExpectNothingWritten() {
    for (const auto& [name, path] : Generated()) EXPECT_FALSE(fs::exists(path)) << name;
    EXPECT_FALSE(fs::exists(Vault() + "/.obsidian"));
    EXPECT_FALSE(fs::exists(StateDir() + "/mountset.json"));
  }

  // The next session: a new container, so a fresh vault root; $HOME persists.
  void NewSession() { fs::remove_all(Vault() + "/.obsidian"); }

  std::string Expect(const std::string& text, const std::string& what, const Outcome& o) {
    return "expected " + what + " in:\n--- stdout\n" + o.out + "--- stderr\n" + o.err +
           "--- text\n" + text;
  }

  static inline EVP_PKEY* rsa_ = nullptr;
  std::string root_;
  std::string url_;
  std::unique_ptr<testing::Process> orchestrator_;
};

#define EXPECT_CONTAINS(text, needle, outcome) \
  EXPECT_NE((text).find(needle), std::string::npos) << Expect(text, needle, outcome)

TEST_F(SessionTest, GeneratedFilesEqualTheGoldenFilesAndASecondRunChangesNothing) {
  Outcome o = FirstLaunch(AliceMounts(), OrchestratorArgs());
  ASSERT_EQ(o.exit_code, 0) << o.out << o.err;
  const bool update = std::getenv("VAULTD_UPDATE_GOLDEN") != nullptr;
  std::map<std::string, fs::file_time_type> mtimes;
  for (const auto& [name, path] : Generated()) {
    std::string got = Slurp(path);
    Replace(&got, root_, "@ROOT@");
    if (name ==
        "obsidian.json") {  // the vault id is derived from the vault path, which has the pid in it
      auto j = json::parse(got, nullptr, false);
      if (j.is_object() && j["vaults"].is_object() && !j["vaults"].empty())
        Replace(&got, j["vaults"].begin().key(), "@VAULT_ID@");
    }
    const std::string golden = kSourceDir + "/golden/" + name;
    if (update) {
      ASSERT_TRUE(WriteFileAtomic(golden, got, {.sync = false}).ok());
    }
    EXPECT_EQ(got, Slurp(golden)) << name << " differs from " << golden
                                  << " (see golden/README.md)";
    mtimes[path] = fs::last_write_time(path);
  }
  // A second run: byte-identical, and no file even rewritten.
  std::map<std::string, std::string> before;
  for (const auto& [name, path] : Generated()) before[name] = Slurp(path);
  Outcome again = FirstLaunch(AliceMounts(), OrchestratorArgs());
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_CONTAINS(again.out, "0 file(s) written", again);
  for (const auto& [name, path] : Generated()) {
    EXPECT_EQ(Slurp(path), before[name]) << name;
    EXPECT_EQ(fs::last_write_time(path), mtimes[path]) << name << " was rewritten";
  }
}

TEST_F(SessionTest, AUserKeySurvivesIntoTheNextSessionAndAPluginOutsideTheAllowListIsRemoved) {
  ASSERT_EQ(FirstLaunch(AliceMounts(), OrchestratorArgs()).exit_code, 0);
  // During the session Obsidian writes the user's choices into the vault.
  json app = json::parse(Slurp(Vault() + "/.obsidian/app.json"));
  app["vimMode"] = true;
  app["promptDelete"] = true;  // managed by the org: enforced again
  Write("vault/.obsidian/app.json", app.dump(2));
  Write("vault/.obsidian/community-plugins.json",
        json({"dataview", "calendar", "untrusted-sync"}).dump());
  Write("vault/.obsidian/plugins/untrusted-sync/main.js", "exfiltrate();\n");
  // custom_startup.sh saves the settings into the profile while the session runs.
  Outcome save =
      FirstLaunch(AliceMounts(), {"--save-settings", "--vault", Vault(), "--obsidian-defaults",
                                  kSourceDir + "/obsidian-defaults"});
  ASSERT_EQ(save.exit_code, 0) << save.err;
  NewSession();
  Outcome o = FirstLaunch(AliceMounts(), OrchestratorArgs());
  ASSERT_EQ(o.exit_code, 0) << o.err;
  app = json::parse(Slurp(Vault() + "/.obsidian/app.json"));
  EXPECT_EQ(app["vimMode"], true);
  EXPECT_EQ(app["promptDelete"], false);
  EXPECT_EQ(json::parse(Slurp(Vault() + "/.obsidian/community-plugins.json")),
            json({"dataview", "calendar"}));

  // In the same session: a plugin outside the allow-list is removed, its code too.
  Write("vault/.obsidian/community-plugins.json", json({"calendar", "untrusted-sync"}).dump());
  Write("vault/.obsidian/plugins/untrusted-sync/main.js", "exfiltrate();\n");
  o = FirstLaunch(AliceMounts(), OrchestratorArgs());
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_CONTAINS(o.out, "removed community plugin 'untrusted-sync'", o);
  EXPECT_EQ(json::parse(Slurp(Vault() + "/.obsidian/community-plugins.json")), json({"calendar"}));
  EXPECT_FALSE(fs::exists(Vault() + "/.obsidian/plugins/untrusted-sync"));
}

TEST_F(SessionTest, MissingExtraAndModeMismatchedMountsAreReportedAndStrictRefuses) {
  std::vector<Mount> wrong = {{"engineering", "engineering", true},  // rw granted, mounted ro
                              {"deals/acme", "deals/acme", false},
                              {"users/alice/personal", "personal", false},
                              {"elsewhere", "extra", false}};  // wiki missing, extra not granted
  Outcome strict = FirstLaunch(wrong, [&] {
    auto a = OrchestratorArgs();
    a.push_back("--strict");
    return a;
  }());
  EXPECT_EQ(strict.exit_code, 3) << strict.err;
  for (const char* s : {"missing", "extra", "ro/rw-mismatch", "/wiki", "/extra", "/engineering"})
    EXPECT_CONTAINS(strict.err, s, strict);
  for (const auto& [name, path] : Generated()) EXPECT_FALSE(fs::exists(path)) << name;

  Outcome lax = FirstLaunch(wrong, OrchestratorArgs());
  EXPECT_EQ(lax.exit_code, 0) << lax.err;
  EXPECT_CONTAINS(lax.err, "ro/rw-mismatch", lax);
  // The missing folder gets no room; the one mounted ro is receive-only.
  const std::string yaml = Slurp(StateDir() + "/vaultd.yaml");
  EXPECT_EQ(yaml.find("name: wiki"), std::string::npos) << yaml;
  EXPECT_CONTAINS(
      yaml, "  - name: engineering\n    room: engineering\n    path: engineering\n    mode: ro\n",
      lax);
}

TEST_F(SessionTest, OrchestratorDownUsesTheCacheDegradedAndWithoutACacheExits2) {
  ASSERT_EQ(FirstLaunch(AliceMounts(), OrchestratorArgs()).exit_code, 0);
  const std::string yaml = Slurp(StateDir() + "/vaultd.yaml");
  StopOrchestrator();
  Outcome cached = FirstLaunch(AliceMounts(), OrchestratorArgs());
  EXPECT_EQ(cached.exit_code, 0) << cached.err;
  EXPECT_CONTAINS(cached.err, "degraded", cached);
  EXPECT_CONTAINS(cached.out, "(degraded)", cached);
  EXPECT_EQ(Slurp(StateDir() + "/vaultd.yaml"), yaml);

  fs::remove_all(P("home"));
  NewSession();
  Outcome none = FirstLaunch(AliceMounts(), OrchestratorArgs());
  EXPECT_EQ(none.exit_code, 2) << none.err;
  EXPECT_CONTAINS(none.err, "no mount set obtainable", none);
  EXPECT_CONTAINS(none.err, "check: is the orchestrator running and reachable", none);
  EXPECT_CONTAINS(none.err, url_, none);
  ExpectNothingWritten();
}

TEST_F(SessionTest, AHostileMountSetIsRefusedAndNothingIsWritten) {
  json good = {{"schema", "vaultd.mountset/1"},
               {"user", "alice"},
               {"groups", json::array()},
               {"policy_revision", "sha256:00"},
               {"generated_at", "2026-01-01T00:00:00Z"},
               {"valid_until", nullptr},
               {"vault_root", "/vault"},
               {"sync", {{"url", "ws://r:1"}}},
               {"mounts",
                {{{"name", "x"},
                  {"source", "/s"},
                  {"target", "x"},
                  {"mode", "rw"},
                  {"room", "x"},
                  {"expires_at", nullptr},
                  {"because", json::array()}}}}};
  struct Case {
    const char* what;
    json doc;
    const char* message;
  };
  std::vector<Case> cases;
  json dotdot = good, absolute = good, schema = good;
  dotdot["mounts"][0]["target"] = "../etc";
  absolute["mounts"][0]["target"] = "/etc";
  schema["schema"] = "vaultd.mountset/2";
  cases.push_back({"a target ../etc", dotdot, "mounts[0].target"});
  cases.push_back({"an absolute target", absolute, "mounts[0].target"});
  cases.push_back({"an unknown schema", schema, "schema"});
  cases.push_back({"not JSON", json("{not json"), "mount set"});
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    Write("hostile.json", c.doc.is_string() ? c.doc.get<std::string>() : c.doc.dump());
    Outcome o = FirstLaunch(
        {}, {"--mountset", P("hostile.json"), "--vault", Vault(), "--state-dir", StateDir()});
    EXPECT_EQ(o.exit_code, 2) << o.err;
    EXPECT_CONTAINS(o.err, "refusing the mount set", o);
    EXPECT_CONTAINS(o.err, c.message, o);
    EXPECT_CONTAINS(o.err, "nothing was written", o);
    if (std::string(c.message) == "mounts[0].target") {
      EXPECT_CONTAINS(o.err, "inside the vault", o);
    }
    ExpectNothingWritten();
    EXPECT_FALSE(fs::exists(P("home/.config")));
  }
  // A hostile cached copy is refused the same way when the orchestrator is down.
  StopOrchestrator();
  Write("home/.local/state/vaultd/mountset.json", dotdot.dump());
  Outcome o = FirstLaunch({}, OrchestratorArgs());
  EXPECT_EQ(o.exit_code, 2) << o.err;
  EXPECT_CONTAINS(o.err, "mounts[0].target", o);
  for (const auto& [name, path] : Generated()) EXPECT_FALSE(fs::exists(path)) << name;
  EXPECT_FALSE(fs::exists(Vault() + "/.obsidian"));
}

TEST_F(SessionTest, PatternADiscoveryGivesTheSameVaultdYamlAsTheOrchestrator) {
  ASSERT_EQ(FirstLaunch(AliceMounts(), OrchestratorArgs()).exit_code, 0);
  const std::string from_orchestrator = Slurp(StateDir() + "/vaultd.yaml");
  fs::remove_all(P("home"));
  NewSession();
  // Every Kasm container runs as the same account: $USER cannot name the personal room.
  Outcome anonymous = FirstLaunch(AliceMounts(), {"--vault", Vault(), "--state-dir", StateDir()});
  EXPECT_EQ(anonymous.exit_code, 2) << anonymous.err;
  EXPECT_CONTAINS(anonymous.err, "set VAULTD_USER", anonymous);
  ExpectNothingWritten();
  Outcome o =
      FirstLaunch(AliceMounts(),
                  {"--vault", Vault(), "--state-dir", StateDir(), "--relay", "ws://relay.test:1234",
                   "--user", "alice", "--obsidian-defaults", kSourceDir + "/obsidian-defaults"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_CONTAINS(o.out, "Pattern A", o);
  EXPECT_EQ(Slurp(StateDir() + "/vaultd.yaml"), from_orchestrator);
  EXPECT_CONTAINS(from_orchestrator, "path: deals/acme", o);
  EXPECT_CONTAINS(from_orchestrator, "room: personal-alice", o);
}

}  // namespace
}  // namespace vaultd
