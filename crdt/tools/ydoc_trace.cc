// `ydoc apply-trace`: replay an editing trace into a Y.Text and time it.
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "vaultd/crdt/doc.h"
#include "vaultd/common/cli.h"
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

struct Run {
  double replay_ms = 0, encode_ms = 0, decode_ms = 0;
  size_t bytes = 0;
  bool ok = false;
  std::vector<uint8_t> update;
};

Result<Run> ReplayOnce(const std::string& start, const std::string& end, const std::vector<std::vector<Patch>>& txns) {
  Run r;
  Doc doc({.client_id = 1, .gc = true});
  TextRef t = doc.GetText("text");
  if (!start.empty()) VAULTD_RETURN_IF_ERROR(t.Insert(0, start));
  auto t0 = std::chrono::steady_clock::now();
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
  try {
    auto j = nlohmann::json::parse(*text);
    start = j.value("startContent", "");
    end = j.at("endContent").get<std::string>();
    for (const auto& t : j.at("txns")) {
      std::vector<Patch> ps;
      for (const auto& p : t.at("patches"))
        ps.push_back({p.at(0).get<uint64_t>(), p.at(1).get<uint64_t>(), p.at(2).get<std::string>()});
      txns.push_back(std::move(ps));
    }
  } catch (const std::exception& e) {
    std::cerr << "ydoc: " << path << ": not a trace: " << e.what() << "\n";
    return cli::kExitFailure;
  }
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
  snprintf(line, sizeof line, "{\"replay_ms\":%.1f,\"encode_ms\":%.1f,\"decode_ms\":%.1f,\"bytes\":%zu,\"ok\":%s}",
           best.replay_ms, best.encode_ms, best.decode_ms, best.bytes, best.ok ? "true" : "false");
  std::cout << line << "\n";
  return best.ok ? cli::kExitOk : cli::kExitFailure;
}

cli::Registrar reg(YdocCommands(), {"apply-trace", "replay an editing trace and time it",
                                    "apply-trace [--repeat N] [-o UPDATE] TRACE.json.gz\n"
                                    "  Replays {startContent, endContent, txns:[{patches:[[pos,nDeleted,insert]]}]} into a\n"
                                    "  Y.Text (one transaction per patch), checks endContent, then encodes and decodes the\n"
                                    "  document and prints {\"replay_ms\",\"encode_ms\",\"decode_ms\",\"bytes\",\"ok\"}\n"
                                    "  (best of N runs with --repeat; -o writes the encoded document).",
                                    &RunTrace});

}  // namespace
}  // namespace vaultd::crdt
