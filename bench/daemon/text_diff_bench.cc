// DiffText on a 5 MB note: one typed word, 1 % of the lines edited, and a
// total rewrite. Beside each, in the same run, the floor: a plain O(n)
// common prefix/suffix scan of the same pair (what any diff pays first).
//
//   build/bin/bench_text_diff [--mb N] [--iterations N] [--seed S]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "vaultd/daemon/text_merge.h"

using vaultd::daemon::DiffText;
using Steady = std::chrono::steady_clock;

namespace {

const char* kWords[] = {"the",      "note", "meeting", "vault", "sync",  "draft",
                        "é",        "über", "中文",    "😀",     "- [ ]", "#tag",
                        "[[link]]", "and",  "with",    "lorem", "ipsum"};

std::string Line(std::mt19937_64& rng) {
  std::string line;
  size_t words = 4 + rng() % 12;
  for (size_t w = 0; w < words; ++w) {
    if (w) line += ' ';
    line += kWords[rng() % (sizeof kWords / sizeof *kWords)];
  }
  return line + "\n";
}

std::string Note(std::mt19937_64& rng, size_t bytes) {
  std::string s;
  while (s.size() < bytes) s += Line(rng);
  return s;
}

// The floor: common prefix and suffix by bytes, nothing else.
size_t PrefixSuffix(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size()), p = 0;
  while (p < n && a[p] == b[p]) ++p;
  size_t s = 0;
  while (s < n - p && a[a.size() - 1 - s] == b[b.size() - 1 - s]) ++s;
  return p + s;
}

double Ms(Steady::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double ThreadCpuMs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

struct Times {
  std::vector<double> wall, cpu;  // sorted
};

// Wall time includes waiting for a core on a shared machine; thread CPU time
// is the work itself.
template <typename F>
Times Time(int iterations, F&& f) {
  Times t;
  for (int i = 0; i < iterations; ++i) {
    double c0 = ThreadCpuMs();
    auto t0 = Steady::now();
    f();
    t.wall.push_back(Ms(Steady::now() - t0));
    t.cpu.push_back(ThreadCpuMs() - c0);
  }
  std::sort(t.wall.begin(), t.wall.end());
  std::sort(t.cpu.begin(), t.cpu.end());
  return t;
}

void Report(const char* name, std::string_view from, std::string_view to, int iterations) {
  size_t edits = 0;
  auto diff = Time(iterations, [&] { edits = DiffText(from, to).size(); });
  volatile size_t sink = 0;
  auto floor = Time(iterations, [&] { sink = sink + PrefixSuffix(from, to); });
  std::printf("| %s | %.2f | %.2f | %.2f | %.2f | %zu |\n", name, diff.cpu[diff.cpu.size() / 2],
              diff.cpu.back(), diff.wall[diff.wall.size() / 2], floor.cpu[floor.cpu.size() / 2],
              edits);
}

}  // namespace

int main(int argc, char** argv) {
  size_t mb = 5;
  int iterations = 15;
  uint64_t seed = 42;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--mb")) mb = std::strtoull(argv[i + 1], nullptr, 10);
    if (!std::strcmp(argv[i], "--iterations")) iterations = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--seed")) seed = std::strtoull(argv[i + 1], nullptr, 10);
  }
  std::mt19937_64 rng(seed);
  const std::string note = Note(rng, mb << 20);
  std::vector<size_t> starts;  // line starts
  for (size_t i = 0; i < note.size(); i = note.find('\n', i) + 1) starts.push_back(i);

  std::string typed = note;
  typed.insert(starts[starts.size() / 2] + 4, "typed ");

  std::string scattered;  // 1 % of the lines: a word inserted, or the line rewritten
  for (size_t l = 0; l < starts.size(); ++l) {
    size_t end = l + 1 < starts.size() ? starts[l + 1] : note.size();
    std::string line = note.substr(starts[l], end - starts[l]);
    if (rng() % 100 == 0) line = rng() % 2 ? "inserted " + line : Line(rng);
    scattered += line;
  }

  const std::string rewrite = Note(rng, mb << 20);

  std::printf("note: %zu bytes, %zu lines, seed %llu, %d iterations\n\n", note.size(),
              starts.size(), static_cast<unsigned long long>(seed), iterations);
  std::printf(
      "| case | DiffText CPU p50 (ms) | CPU max (ms) | wall p50 (ms) | floor: prefix/suffix CPU "
      "p50 (ms) | edits |\n");
  std::printf("|---|---:|---:|---:|---:|---:|\n");
  Report("one typed word", note, typed, iterations);
  Report("1 % of lines edited", note, scattered, iterations);
  Report("total rewrite", note, rewrite, iterations);
  return 0;
}
