// Shared by fuzz targets and their corpus replay tests: an invariant check that
// aborts (so libFuzzer records the input), and the replay of a committed corpus
// through a target's body in a normal test build, so what fuzzing found stays fixed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace vaultd::fuzzing {

inline void Check(bool ok, const char* target, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "%s invariant failed: %s\n", target, what);
    std::abort();
  }
}

// Runs `one` on every file of fuzz/corpus/<target>/ under `source_dir`; returns how many ran
// (0 when the directory is missing).
inline size_t ReplayCorpus(const std::string& source_dir, const std::string& target,
                           void (*one)(const uint8_t*, size_t)) {
  const std::filesystem::path dir = std::filesystem::path(source_dir) / "fuzz/corpus" / target;
  if (!std::filesystem::is_directory(dir)) return 0;
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string data = ss.str();
    one(reinterpret_cast<const uint8_t*>(data.data()), data.size());
    ++files;
  }
  return files;
}

}  // namespace vaultd::fuzzing
