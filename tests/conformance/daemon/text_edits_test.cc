// DiffText and MergeIntoTheirs edits applied by the real yjs to a Y.Text: the
// UTF-16 positions (a character outside the BMP counting 2) must land where
// ApplyEdits puts them. Cases are random (seed printed, VAULTD_TEST_SEED
// replays) and rich in astral characters, CRLF and combining marks.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "vaultd/daemon/text_merge.h"

namespace vaultd::daemon {
namespace {

uint64_t TestSeed() {
  uint64_t seed = std::random_device{}();
  if (const char* env = std::getenv("VAULTD_TEST_SEED")) seed = std::strtoull(env, nullptr, 10);
  std::printf("seed %llu (replay with VAULTD_TEST_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  return seed;
}

std::string RandomText(std::mt19937_64& rng, size_t pieces) {
  static const std::vector<std::string> kPieces = {"a", "bc",      " ",           "\n", "\r\n",
                                                   "é", "e\u0301", "€",           "中", "😀",
                                                   "😁", "🎉",       "👩‍💻", "𝄞",  "x"};
  std::string s;
  for (size_t i = 0; i < pieces; ++i) s += kPieces[rng() % kPieces.size()];
  return s;
}

std::string Mutate(std::mt19937_64& rng, const std::string& s) {
  std::string out = s;
  for (int e = 0, n = 1 + static_cast<int>(rng() % 4); e < n; ++e) {
    std::vector<size_t> b;
    for (size_t i = 0; i <= out.size(); ++i) {
      if (i == out.size() || (static_cast<uint8_t>(out[i]) & 0xC0) != 0x80) b.push_back(i);
    }
    size_t i = rng() % b.size();
    size_t j = std::min(b.size() - 1, i + rng() % 4);
    out.replace(b[i], b[j] - b[i], rng() % 3 ? RandomText(rng, rng() % 4) : "");
  }
  return out;
}

nlohmann::json Case(const std::string& name, const std::string& start,
                    const std::vector<TextEdit>& edits, const std::string& expect) {
  nlohmann::json list = nlohmann::json::array();
  for (const TextEdit& e : edits) {
    list.push_back({{"index", e.index}, {"delete", e.delete_units}, {"insert", e.insert}});
  }
  return {{"name", name},
          {"start", start},
          {"start_units", Utf16Length(start)},
          {"edits", list},
          {"expect", expect}};
}

TEST(TextEditsConformanceTest, EditsLandWhereYjsPutsThem) {
  std::mt19937_64 rng(TestSeed());
  nlohmann::json cases = nlohmann::json::array();
  for (int i = 0; i < 40; ++i) {
    std::string from = RandomText(rng, rng() % 30);
    std::string to = i % 5 == 0 ? RandomText(rng, rng() % 30) : Mutate(rng, from);
    auto edits = DiffText(from, to);
    ASSERT_EQ(ApplyEdits(from, edits), to);
    cases.push_back(Case("diff " + std::to_string(i), from, edits, to));
  }
  for (int i = 0; i < 40; ++i) {
    std::string base = RandomText(rng, rng() % 30);
    std::string ours = Mutate(rng, base), theirs = Mutate(rng, base);
    auto edits = MergeIntoTheirs(base, ours, theirs);
    cases.push_back(Case("merge " + std::to_string(i), theirs, edits, ApplyEdits(theirs, edits)));
  }
  std::string path = testing::TempDir() + "/daemon_text_edits_cases.json";
  {
    std::ofstream out(path);
    out << cases.dump();
    ASSERT_TRUE(out.good()) << "cannot write " << path;
  }
  std::string command =
      std::string("'") + VAULTD_NODE_BIN + "' '" + VAULTD_TEXT_EDITS_JS + "' '" + path + "'";
  int status = std::system(command.c_str());
  EXPECT_EQ(status, 0) << command << " failed (its output is above)";
  std::remove(path.c_str());
}

}  // namespace
}  // namespace vaultd::daemon
