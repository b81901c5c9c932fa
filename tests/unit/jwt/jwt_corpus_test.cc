// Replays the committed fuzz_jwt corpus through the fuzz target's body in the
// normal (and ASan) build, so a regression found by fuzzing stays fixed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "jwt_fuzz_entry.h"

namespace {

TEST(JwtFuzzCorpus, ReplaysCleanly) {
  const std::filesystem::path dir = std::filesystem::path(VAULTD_SOURCE_DIR) / "fuzz/corpus/fuzz_jwt";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string data = ss.str();
    SCOPED_TRACE(entry.path().filename().string());
    vaultd::orchestrator::FuzzJwtOne(reinterpret_cast<const uint8_t*>(data.data()), data.size());
    ++files;
  }
  EXPECT_GT(files, 10u);
}

}  // namespace
