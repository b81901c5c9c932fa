// Replays the committed libFuzzer corpora (fuzz/corpus/crdt_update/, crdt_sync/, crdt_json/) and
// the golden files through the fuzz targets' own entry points, so a regression the fuzzer once
// found fails `scripts/test`.
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
    if (e.is_regular_file() && (ext.empty() || e.path().extension() == ext))
      out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<uint8_t> Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Every file of fuzz/corpus/<target> through the target's entry point: it aborts on a broken
// invariant, ASan on memory errors.
void ReplayCorpus(const std::string& target, void (*entry)(std::span<const uint8_t>)) {
  auto files = FilesIn(fs::path(VAULTD_SOURCE_DIR) / "fuzz/corpus" / target, "");
  ASSERT_FALSE(files.empty()) << "no corpus in fuzz/corpus/" << target;
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    entry(Read(f));
  }
  std::printf("replayed %zu %s corpus files\n", files.size(), target.c_str());
}

TEST(CrdtFuzzCorpus, EveryCommittedCorpusFileIsHandled) {
  ReplayCorpus("crdt_update", vaultd::crdt::fuzz::FuzzUpdate);
}

TEST(CrdtFuzzCorpus, EveryCommittedSyncCorpusFileIsHandled) {
  ReplayCorpus("crdt_sync", vaultd::crdt::fuzz::FuzzSync);
}

TEST(CrdtFuzzCorpus, EveryCommittedJsonCorpusFileIsHandled) {
  ReplayCorpus("crdt_json", vaultd::crdt::fuzz::FuzzJson);
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
