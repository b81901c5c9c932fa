// Replays the committed libFuzzer corpora (fuzz/corpus/crdt_update/, crdt_sync/, crdt_json/) and the golden files
// through the fuzz targets' own entry points, so a regression the fuzzer once found fails `scripts/test`.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "crdt_fuzz.h"

namespace {

namespace fs = std::filesystem;

std::vector<fs::path> FilesIn(const fs::path& dir, const std::string& ext) {
  std::vector<fs::path> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file() && (ext.empty() || e.path().extension() == ext)) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<uint8_t> Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(CrdtFuzzCorpus, EveryCommittedCorpusFileIsHandled) {
  auto files = FilesIn(fs::path(VAULTD_SOURCE_DIR) / "fuzz/corpus/crdt_update", "");
  ASSERT_FALSE(files.empty()) << "no corpus in fuzz/corpus/crdt_update";
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    auto bytes = Read(f);
    vaultd::crdt::fuzz::FuzzUpdate(bytes);  // aborts on a broken invariant, ASan on memory errors
  }
  std::printf("replayed %zu corpus files\n", files.size());
}

TEST(CrdtFuzzCorpus, EveryCommittedSyncCorpusFileIsHandled) {
  auto files = FilesIn(fs::path(VAULTD_SOURCE_DIR) / "fuzz/corpus/crdt_sync", "");
  ASSERT_FALSE(files.empty()) << "no corpus in fuzz/corpus/crdt_sync";
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    auto bytes = Read(f);
    vaultd::crdt::fuzz::FuzzSync(bytes);
  }
  std::printf("replayed %zu sync corpus files\n", files.size());
}

TEST(CrdtFuzzCorpus, EveryCommittedJsonCorpusFileIsHandled) {
  auto files = FilesIn(fs::path(VAULTD_SOURCE_DIR) / "fuzz/corpus/crdt_json", "");
  ASSERT_FALSE(files.empty()) << "no corpus in fuzz/corpus/crdt_json";
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    auto bytes = Read(f);
    vaultd::crdt::fuzz::FuzzJson(bytes);
  }
  std::printf("replayed %zu json corpus files\n", files.size());
}

TEST(CrdtFuzzCorpus, GoldenFilesAndTheirPrefixes) {
  auto files = FilesIn(fs::path(VAULTD_SOURCE_DIR) / "tests/conformance/crdt/golden", ".bin");
  ASSERT_FALSE(files.empty());
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    auto bytes = Read(f);
    vaultd::crdt::fuzz::FuzzUpdate(bytes);
    // Every truncation of a valid update must be rejected or handled, never crash.
    for (size_t n = 0; n < bytes.size(); n += 1 + bytes.size() / 64) {
      vaultd::crdt::fuzz::FuzzUpdate(std::span<const uint8_t>(bytes.data(), n));
    }
  }
}

}  // namespace
