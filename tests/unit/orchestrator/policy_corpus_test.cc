// Replays the committed fuzz corpus through the fuzz target's entry function,
// so the normal (and ASan) build keeps every input the fuzzer found interesting working.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "policy_loader_entry.h"

namespace vaultd::orchestrator {
namespace {

TEST(PolicyFuzzCorpus, EveryInputRunsClean) {
  std::filesystem::path dir = VAULTD_SOURCE_DIR "/fuzz/corpus/fuzz_policy_loader";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream buf;
    buf << in.rdbuf();
    std::string data = buf.str();
    SCOPED_TRACE(entry.path().string());
    FuzzPolicyLoaderOne(reinterpret_cast<const uint8_t*>(data.data()), data.size());
    ++n;
  }
  EXPECT_GE(n, 3u);
}

}  // namespace
}  // namespace vaultd::orchestrator
