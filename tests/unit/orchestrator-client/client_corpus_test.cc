// Replays the committed fuzz_orchestrator_client corpus in the normal (and ASan) build.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "client_fuzz_entry.h"

namespace {

TEST(ClientFuzzCorpus, ReplaysCleanly) {
  const std::filesystem::path dir = std::filesystem::path(VAULTD_SOURCE_DIR) / "fuzz/corpus/fuzz_orchestrator_client";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string data = ss.str();
    SCOPED_TRACE(entry.path().filename().string());
    vaultd::orchestrator_client::FuzzClientOne(reinterpret_cast<const uint8_t*>(data.data()), data.size());
    ++files;
  }
  EXPECT_GE(files, 3u);
}

}  // namespace
