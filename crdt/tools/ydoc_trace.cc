// `ydoc apply-trace`: replay an editing trace into a Y.Text and time it.
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

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

int RunTrace(const std::vector<std::string>& args) {
  if (args.size() != 1) {
    std::cerr << "usage: ydoc apply-trace TRACE.json.gz\n";
    return cli::kExitUsage;
  }
  auto text = ReadGzip(args[0]);
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
    std::cerr << "ydoc: " << args[0] << ": not a trace: " << e.what() << "\n";
    return cli::kExitFailure;
  }
  Doc doc({.client_id = 1, .gc = true});
  TextRef t = doc.GetText("text");
  if (!start.empty()) (void)t.Insert(0, start);
  auto t0 = std::chrono::steady_clock::now();
  Status st;
  for (const auto& ps : txns) {
    for (const auto& p : ps) {
      // One transaction per patch.
      doc.Transact([&] {
        if (p.del) st = t.Delete(p.pos, p.del);
        if (st.ok() && !p.ins.empty()) st = t.Insert(p.pos, p.ins);
      });
      if (!st.ok()) break;
    }
    if (!st.ok()) break;
  }
  auto t1 = std::chrono::steady_clock::now();
  if (!st.ok()) {
    std::cerr << "ydoc: replay failed: " << st.ToString() << "\n";
    return cli::kExitFailure;
  }
  bool ok = t.ToString() == end;
  auto t2 = std::chrono::steady_clock::now();
  auto update = doc.EncodeStateAsUpdate();
  auto t3 = std::chrono::steady_clock::now();
  if (!update.ok()) {
    std::cerr << "ydoc: encode failed: " << update.status().ToString() << "\n";
    return cli::kExitFailure;
  }
  Doc copy({.client_id = 2});
  Status ds = copy.ApplyUpdate(*update);
  auto t4 = std::chrono::steady_clock::now();
  ok = ok && ds.ok() && copy.GetText("text").ToString() == end;
  if (!ok) std::cerr << "ydoc: the replayed document does not match endContent\n";
  char line[256];
  snprintf(line, sizeof line, "{\"replay_ms\":%.1f,\"encode_ms\":%.1f,\"decode_ms\":%.1f,\"bytes\":%zu,\"ok\":%s}",
           Ms(t0, t1), Ms(t2, t3), Ms(t3, t4), update->size(), ok ? "true" : "false");
  std::cout << line << "\n";
  return ok ? cli::kExitOk : cli::kExitFailure;
}

cli::Registrar reg(YdocCommands(), {"apply-trace", "replay an editing trace and time it",
                                    "apply-trace TRACE.json.gz\n"
                                    "  Replays {startContent, endContent, txns:[{patches:[[pos,nDeleted,insert]]}]} into a\n"
                                    "  Y.Text (one transaction per patch), checks endContent, then encodes and decodes the\n"
                                    "  document and prints {\"replay_ms\",\"encode_ms\",\"decode_ms\",\"bytes\",\"ok\"}.",
                                    &RunTrace});

}  // namespace
}  // namespace vaultd::crdt
