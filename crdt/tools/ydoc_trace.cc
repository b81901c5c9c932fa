// `ydoc apply-trace`: replay an editing trace into a Y.Text and time it.
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>

#include <nlohmann/json.hpp>

#include "vaultd/common/cli.h"
#include "vaultd/crdt/doc.h"
#include "ydoc_commands.h"

namespace vaultd::crdt {
namespace {

Result<std::string> ReadGzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return Status::IoError("open " + path + ": cannot read");
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) {
    out.append(buf, n);
    if (out.size() > (1ull << 31)) {
      gzclose(f);
      return Status::InvalidArgument(path + ": trace larger than 2 GiB");
    }
  }
  int errnum = 0;
  const char* msg = gzerror(f, &errnum);
  bool bad = n < 0 || (errnum != Z_OK && errnum != Z_STREAM_END);
  std::string m = msg ? msg : "";
  gzclose(f);
  if (bad) return Status::Corruption(path + ": " + m);
  return out;
}

struct Patch {
  uint64_t pos;
  uint64_t del;
  std::string ins;
};

double Ms(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Streams the trace into patches (a DOM of the whole trace would dwarf the document).
struct TraceSax : nlohmann::json_sax<nlohmann::json> {
  std::string start, end, error, cur_key;
  bool has_end = false;
  std::vector<std::vector<Patch>> txns;
  int depth = 0;  // container nesting
  bool in_txns = false;
  std::vector<uint64_t> nums;
  std::string ins;
  bool Fail(const std::string& what) {
    error = what;
    return false;
  }
  bool null() override { return depth <= 1 || Fail("unexpected null"); }
  bool boolean(bool) override { return depth <= 1 || Fail("unexpected boolean"); }
  bool number_integer(number_integer_t v) override {
    if (v < 0) return Fail("negative number in a patch");
    return number_unsigned(static_cast<uint64_t>(v));
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (in_txns && depth == 5) nums.push_back(v);
    return true;
  }
  bool number_float(number_float_t, const string_t&) override { return Fail("fractional number"); }
  bool string(string_t& v) override {
    if (depth == 1 && cur_key == "startContent")
      start = std::move(v);
    else if (depth == 1 && cur_key == "endContent")
      end = std::move(v), has_end = true;
    else if (in_txns && depth == 5)
      ins = std::move(v);
    return true;
  }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    ++depth;
    if (in_txns && depth == 3) txns.emplace_back();
    return true;
  }
  bool end_object() override {
    --depth;
    return true;
  }
  bool key(string_t& k) override {
    cur_key = k;
    return true;
  }
  bool start_array(std::size_t) override {
    ++depth;
    if (depth == 2 && cur_key == "txns") in_txns = true;
    if (in_txns && depth == 5) {
      nums.clear();
      ins.clear();
    }
    return true;
  }
  bool end_array() override {
    if (in_txns && depth == 5) {
      if (nums.size() != 2 || txns.empty()) return Fail("a patch is not [pos, nDeleted, insert]");
      txns.back().push_back({nums[0], nums[1], std::move(ins)});
    }
    if (depth == 2) in_txns = false;
    --depth;
    return true;
  }
  bool parse_error(std::size_t pos, const std::string&,
                   const nlohmann::detail::exception& e) override {
    return Fail("byte " + std::to_string(pos) + ": " + e.what());
  }
};

struct Run {
  double replay_ms = 0, encode_ms = 0, decode_ms = 0;
  size_t bytes = 0;
  bool ok = false;
  std::vector<uint8_t> update;
};

Result<Run> ReplayOnce(const std::string& start, const std::string& end,
                       const std::vector<std::vector<Patch>>& txns) {
  Run r;
  Doc doc({.client_id = 1, .gc = true});
  TextRef t = doc.GetText("text");
  if (!start.empty()) VAULTD_RETURN_IF_ERROR(t.Insert(0, start));
  auto t0 = std::chrono::steady_clock::now();
  timespec c0{}, c1{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
  Status st;
  for (const auto& ps : txns) {
    for (const auto& p : ps) {
      // One transaction per patch.
      doc.Transact([&] {
        if (p.del) st = t.Delete(p.pos, p.del);
        if (st.ok() && !p.ins.empty()) st = t.Insert(p.pos, p.ins);
      });
      if (!st.ok()) return st.WithContext("replay");
    }
  }
  auto t1 = std::chrono::steady_clock::now();
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
  // The machine may be shared: the CPU time of the replay goes to stderr beside the wall time.
  if (getenv("YDOC_TRACE_CPU"))
    fprintf(stderr, "replay cpu_ms %.1f\n",
            (c1.tv_sec - c0.tv_sec) * 1e3 + (c1.tv_nsec - c0.tv_nsec) / 1e6);
  r.ok = t.ToString() == end;
  auto t2 = std::chrono::steady_clock::now();
  VAULTD_ASSIGN_OR_RETURN(r.update, doc.EncodeStateAsUpdate());
  auto t3 = std::chrono::steady_clock::now();
  {
    Doc copy({.client_id = 2});
    VAULTD_RETURN_IF_ERROR(copy.ApplyUpdate(r.update));
    auto t4 = std::chrono::steady_clock::now();
    r.decode_ms = Ms(t3, t4);
    r.ok = r.ok && copy.GetText("text").ToString() == end;
  }
  r.replay_ms = Ms(t0, t1);
  r.encode_ms = Ms(t2, t3);
  r.bytes = r.update.size();
  return r;
}

int RunTrace(const std::vector<std::string>& argv) {
  cli::Args args;
  std::string err;
  if (!cli::Args::Parse(argv, {"repeat", "o"}, {}, &args, &err) || args.positional().size() != 1) {
    std::cerr << "usage: ydoc apply-trace [--repeat N] [-o UPDATE] TRACE.json.gz\n";
    return cli::kExitUsage;
  }
  const std::string path = args.positional()[0];
  int repeat = std::max(1, std::atoi(args.GetOr("repeat", "1").c_str()));
  auto text = ReadGzip(path);
  if (!text.ok()) {
    std::cerr << "ydoc: " << text.status().ToString() << "\n";
    return cli::kExitFailure;
  }
  std::string start, end;
  std::vector<std::vector<Patch>> txns;
  TraceSax sax;
  bool parsed = false;
  try {
    parsed = nlohmann::json::sax_parse(*text, &sax);
  } catch (const std::exception& e) {
    sax.error = e.what();
  }
  if (!parsed || !sax.error.empty() || !sax.has_end) {
    std::cerr << "ydoc: " << path
              << ": not a trace: " << (sax.error.empty() ? "no endContent" : sax.error) << "\n";
    return cli::kExitFailure;
  }
  start = std::move(sax.start);
  end = std::move(sax.end);
  txns = std::move(sax.txns);
  text = std::string();
  // Figures are the best of --repeat runs (each on a fresh document).
  Run best;
  for (int i = 0; i < repeat; ++i) {
    auto r = ReplayOnce(start, end, txns);
    if (!r.ok()) {
      std::cerr << "ydoc: " << path << ": " << r.status().ToString() << "\n";
      return cli::kExitFailure;
    }
    if (i == 0) {
      best = std::move(*r);
      continue;
    }
    best.replay_ms = std::min(best.replay_ms, r->replay_ms);
    best.encode_ms = std::min(best.encode_ms, r->encode_ms);
    best.decode_ms = std::min(best.decode_ms, r->decode_ms);
    best.ok = best.ok && r->ok;
  }
  if (!best.ok) std::cerr << "ydoc: the replayed document does not match endContent\n";
  if (auto o = args.Get("o")) {
    FILE* f = fopen(o->c_str(), "wb");
    if (!f || fwrite(best.update.data(), 1, best.update.size(), f) != best.update.size()) {
      std::cerr << "ydoc: cannot write " << *o << "\n";
      if (f) fclose(f);
      return cli::kExitFailure;
    }
    fclose(f);
  }
  char line[256];
  snprintf(line, sizeof line,
           "{\"replay_ms\":%.1f,\"encode_ms\":%.1f,\"decode_ms\":%.1f,\"bytes\":%zu,\"ok\":%s}",
           best.replay_ms, best.encode_ms, best.decode_ms, best.bytes, best.ok ? "true" : "false");
  std::cout << line << "\n";
  return best.ok ? cli::kExitOk : cli::kExitFailure;
}

cli::Registrar reg(
    YdocCommands(),
    {"apply-trace", "replay an editing trace and time it",
     "apply-trace [--repeat N] [-o UPDATE] TRACE.json.gz\n"
     "  Replays {startContent, endContent, txns:[{patches:[[pos,nDeleted,insert]]}]} into a\n"
     "  Y.Text (one transaction per patch), checks endContent, then encodes and decodes the\n"
     "  document and prints {\"replay_ms\",\"encode_ms\",\"decode_ms\",\"bytes\",\"ok\"}\n"
     "  (best of N runs with --repeat; -o writes the encoded document).",
     &RunTrace});

}  // namespace
}  // namespace vaultd::crdt
