// kill -9 at random instants while local and remote edits stream in: after
// each restart every edit is present, and no reader ever saw a truncated or
// half-written file. VAULTD_CRASH_TRIALS (default 50) and VAULTD_CRASH_SEED
// replay a run; the seed is printed.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <set>
#include <thread>

#include "daemon_harness.h"

namespace vaultd::itest {
namespace {

// A file the daemon writes must always hold whole lines "R<t>-<k>\n".
bool WholeLines(const std::string& s) {
  if (s == "<missing>") return true;
  size_t i = 0;
  while (i < s.size()) {
    size_t nl = s.find('\n', i);
    if (nl == std::string::npos || s[i] != 'R') return false;
    size_t dash = s.find('-', i);
    if (dash == std::string::npos || dash > nl || dash == i + 1 || dash + 1 == nl) return false;
    for (size_t k = i + 1; k < nl; ++k)
      if (k != dash && !isdigit(static_cast<unsigned char>(s[k]))) return false;
    i = nl + 1;
  }
  return true;
}

TEST(CrashTest, KillDashNineDuringEditsLosesNothing) {
  int trials = 50;
  if (const char* t = std::getenv("VAULTD_CRASH_TRIALS")) trials = std::atoi(t);
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("VAULTD_CRASH_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::printf("crash test: seed %llu, %d trials (replay: VAULTD_CRASH_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), trials, static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);

  fs::path root = fs::temp_directory_path() / ("vaultd-crash-" + std::to_string(getpid()));
  fs::remove_all(root);
  fs::create_directories(root);
  Relay relay(root);
  ASSERT_TRUE(relay.Start());
  Daemon a(root / "alice", "alice");
  a.Configure(relay.url(), {{"eng", "eng"}});
  Peer peer;
  ASSERT_TRUE(peer.Start(relay.url() + "/eng", root / "peer.log"));
  ASSERT_EQ(peer.Do({{"cmd", "set"}, {"path", "remote.md"}, {"text", ""}})["ok"], true);

  std::vector<std::string> local_lines[3];
  std::string remote_text;
  fs::path remote = a.vault / "eng" / "remote.md";
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0};
  std::string torn_seen;
  std::thread reader([&] {
    while (!stop) {
      std::string s = Slurp(remote);
      if (!WholeLines(s) && torn++ == 0) torn_seen = s;
    }
  });

  for (int t = 0; t < trials && !::testing::Test::HasFailure(); ++t) {
    ASSERT_TRUE(a.Start()) << a.Log();
    ASSERT_TRUE(a.WaitSynced()) << a.Log();
    auto until = Clock::now() + std::chrono::milliseconds(20 + rng() % 300);
    int k = 0;
    while (Clock::now() < until) {
      if (rng() % 2) {
        int f = static_cast<int>(rng() % 3);
        local_lines[f].push_back("L" + std::to_string(t) + "-" + std::to_string(k++) + "\n");
        std::string all;
        for (auto& l : local_lines[f]) all += l;
        Spit(a.vault / "eng" / ("local-" + std::to_string(f) + ".md"), all);
      } else {
        std::string l = "R" + std::to_string(t) + "-" + std::to_string(k++) + "\n";
        ASSERT_EQ(peer.Do({{"cmd", "append"}, {"path", "remote.md"}, {"text", l}})["ok"], true);
        remote_text += l;
      }
    }
    ASSERT_EQ(a.Stop(SIGKILL) & 0x7f, SIGKILL);
  }
  ASSERT_TRUE(a.Start());
  ASSERT_TRUE(a.WaitSynced());
  for (int f = 0; f < 3; ++f) {
    std::string all;
    for (auto& l : local_lines[f]) all += l;
    std::string rel = "local-" + std::to_string(f) + ".md";
    if (all.empty()) continue;
    EXPECT_TRUE(WaitFor([&] {
      return Slurp(a.vault / "eng" / rel) == all && peer.Text(rel) == all;
    })) << rel
        << ": disk has " << Slurp(a.vault / "eng" / rel).size() << " bytes, the peer "
        << peer.Text(rel).size() << ", want " << all.size() << " (seed " << seed << ")";
  }
  EXPECT_TRUE(WaitFor([&] { return Slurp(remote) == remote_text; }))
      << "remote.md on disk has " << Slurp(remote).size() << " bytes, want " << remote_text.size()
      << " (seed " << seed << ")";
  stop = true;
  reader.join();
  EXPECT_EQ(torn.load(), 0) << "a reader saw a torn file: '" << torn_seen.substr(0, 200)
                            << "' (seed " << seed << ")";
  a.Stop();
  relay.Stop();
  if (!::testing::Test::HasFailure()) fs::remove_all(root);
}

}  // namespace
}  // namespace vaultd::itest
