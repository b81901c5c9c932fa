// JSON objects with many keys: ParseJsonText (builds an Any) and
// ValidateJsonText (awareness states, ContentJSON) must stay linear in the
// number of keys. Prints ms and ns/key per size beside two anchors measured in
// this run on the same text: nlohmann::json::accept (the SAX parser alone, the
// floor) and nlohmann::ordered_json::parse (what ParseJsonText used before;
// quadratic, so only run up to --ordered-max keys).
//
//   build/bin/bench_crdt_json_keys [--max N] [--ordered-max N] [--reps N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vaultd/crdt/any.h"

namespace {

using Steady = std::chrono::steady_clock;

std::string ManyKeys(int n) {
  std::string s = "{";
  for (int i = 0; i < n; ++i) {
    if (i) s += ',';
    s += "\"key" + std::to_string(i) + "\":" + std::to_string(i);
  }
  return s + "}";
}

// Median wall time in ms of `reps` runs of f.
template <typename F>
double MedianMs(int reps, F&& f) {
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    auto t0 = Steady::now();
    if (!f()) {
      std::fprintf(stderr, "bench_crdt_json_keys: a parse failed\n");
      std::exit(1);
    }
    ms.push_back(std::chrono::duration<double, std::milli>(Steady::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int max_keys = 400000, ordered_max = 25000, reps = 3;
  for (int i = 1; i < argc; ++i) {
    auto val = [&] {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_crdt_json_keys: %s wants a number\n", argv[i]);
        std::exit(2);
      }
      return std::atoi(argv[++i]);
    };
    if (!std::strcmp(argv[i], "--max"))
      max_keys = val();
    else if (!std::strcmp(argv[i], "--ordered-max"))
      ordered_max = val();
    else if (!std::strcmp(argv[i], "--reps"))
      reps = val();
    else if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::printf(
          "usage: bench_crdt_json_keys [--max N] [--ordered-max N] [--reps N]\n"
          "Times ParseJsonText/ValidateJsonText on objects of 25,000.. N keys (default 400000)\n"
          "beside nlohmann accept and ordered_json::parse (once, up to --ordered-max keys, default "
          "25000).\n");
      return 0;
    } else {
      std::fprintf(stderr, "bench_crdt_json_keys: unknown option %s (see --help)\n", argv[i]);
      return 2;
    }
  }
  if (max_keys < 1 || reps < 1) {
    std::fprintf(stderr, "bench_crdt_json_keys: --max and --reps must be positive\n");
    return 2;
  }
  std::printf(
      "| keys | text (KiB) | ParseJsonText ms | ns/key | ValidateJsonText ms | ns/key | "
      "anchor: json::accept ms | anchor: ordered_json::parse ms "
      "|\n|---|---|---|---|---|---|---|---|\n");
  for (int n = 25000; n <= max_keys; n *= 2) {
    std::string text = ManyKeys(n);
    double parse = MedianMs(reps, [&] { return vaultd::crdt::ParseJsonText(text).ok(); });
    double validate = MedianMs(reps, [&] { return vaultd::crdt::ValidateJsonText(text).ok(); });
    double accept = MedianMs(reps, [&] { return nlohmann::json::accept(text); });
    std::string ordered = "-";
    if (n <= ordered_max) {
      double o = MedianMs(1, [&] { return !nlohmann::ordered_json::parse(text).empty(); });
      ordered = std::to_string(static_cast<int>(o + 0.5));
    }
    std::printf("| %d | %zu | %.1f | %.0f | %.1f | %.0f | %.1f | %s |\n", n, text.size() / 1024,
                parse, parse * 1e6 / n, validate, validate * 1e6 / n, accept, ordered.c_str());
  }
  return 0;
}
