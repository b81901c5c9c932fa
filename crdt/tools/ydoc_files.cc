// `ydoc inspect|merge|diff|sv|edit`: document files on the command line.
#include <iostream>

#include <nlohmann/json.hpp>

#include "vaultd/crdt/update.h"
#include "ydoc_commands.h"
#include "ydoc_update_files.h"
#include "ydoc_values.h"

namespace vaultd::crdt {
namespace {

using tool::ApplyFiles;

int Fail(const Status& s) {
  std::cerr << "ydoc: " << s.ToString() << "\n";
  return cli::kExitFailure;
}
int Usage(const std::string& msg) {
  std::cerr << "ydoc: " << msg << "\n";
  return cli::kExitUsage;
}

int RunInspect(const std::vector<std::string>& argv) {
  cli::Args args;
  std::string err;
  if (!cli::Args::Parse(argv, {"root"}, {}, &args, &err)) return Usage(err);
  if (args.positional().empty()) return Usage("inspect needs at least one FILE");
  std::map<std::string, TypeKind> kinds;
  for (const auto& r : args.GetAll("root")) {
    auto colon = r.rfind(':');
    if (colon == std::string::npos) return Usage("--root wants NAME:KIND, got '" + r + "'");
    auto k = tool::ParseKind(r.substr(colon + 1));
    if (!k.ok()) return Usage(k.status().message());
    kinds[r.substr(0, colon)] = *k;
  }
  Doc doc({.client_id = 1, .gc = true});
  Status s = ApplyFiles(doc, args.positional());
  if (!s.ok()) return Fail(s);
  if (doc.HasPending())
    std::cerr << "ydoc: warning: some structs wait for missing updates (not shown)\n";
  std::cout << doc.ToJson(kinds) << "\n";
  return cli::kExitOk;
}

int RunMerge(const std::vector<std::string>& argv) {
  cli::Args args;
  std::string err;
  if (!cli::Args::Parse(argv, {"o"}, {}, &args, &err)) return Usage(err);
  if (args.positional().empty() || !args.Has("o")) return Usage("usage: merge FILE... -o OUT");
  Doc doc({.client_id = 1, .gc = true});
  Status s = ApplyFiles(doc, args.positional());
  if (!s.ok()) return Fail(s);
  auto u = doc.EncodeStateAsUpdate();
  if (!u.ok()) return Fail(u.status());
  s = tool::WriteBinaryFile(*args.Get("o"), *u);
  return s.ok() ? cli::kExitOk : Fail(s);
}

int RunDiff(const std::vector<std::string>& argv) {
  cli::Args args;
  std::string err;
  if (!cli::Args::Parse(argv, {"o", "sv"}, {}, &args, &err)) return Usage(err);
  if (args.positional().empty() || !args.Has("o") || !args.Has("sv"))
    return Usage("usage: diff --sv SV FILE... -o OUT");
  auto sv = tool::ReadBinaryFile(*args.Get("sv"));
  if (!sv.ok()) return Fail(sv.status());
  if (auto d = DecodeStateVector(*sv); !d.ok())
    return Fail(d.status().WithContext(*args.Get("sv")));
  Doc doc({.client_id = 1, .gc = true});
  Status s = ApplyFiles(doc, args.positional());
  if (!s.ok()) return Fail(s);
  auto u = doc.EncodeStateAsUpdate(*sv);
  if (!u.ok()) return Fail(u.status());
  s = tool::WriteBinaryFile(*args.Get("o"), *u);
  return s.ok() ? cli::kExitOk : Fail(s);
}

int RunSv(const std::vector<std::string>& argv) {
  cli::Args args;
  std::string err;
  if (!cli::Args::Parse(argv, {"o"}, {}, &args, &err)) return Usage(err);
  if (args.positional().empty() || !args.Has("o")) return Usage("usage: sv FILE... -o OUT");
  Doc doc({.client_id = 1, .gc = true});
  Status s = ApplyFiles(doc, args.positional());
  if (!s.ok()) return Fail(s);
  s = tool::WriteBinaryFile(*args.Get("o"), doc.EncodeStateVector());
  return s.ok() ? cli::kExitOk : Fail(s);
}

// ydoc edit [--in FILE]... [--client N] [--no-gc] [--full] -o OUT OP ARGS [OP ARGS]...
int RunEdit(const std::vector<std::string>& argv) {
  cli::Args args;
  std::string err;
  if (!cli::Args::Parse(argv, {"o", "in", "client"}, {"full", "no-gc"}, &args, &err))
    return Usage(err);
  if (!args.Has("o")) return Usage("edit needs -o OUT");
  uint64_t client = 1;
  if (auto c = args.Get("client")) {
    try {
      client = std::stoull(*c);
    } catch (const std::exception&) {
      return Usage("--client wants a number");
    }
  }
  Doc doc({.client_id = client, .gc = !args.Has("no-gc")});
  Status s = ApplyFiles(doc, args.GetAll("in"));
  if (!s.ok()) return Fail(s);
  std::vector<std::vector<uint8_t>> updates;
  doc.OnUpdate([&](std::span<const uint8_t> u, const TransactionEvent&) {
    updates.emplace_back(u.begin(), u.end());
  });
  const auto& p = args.positional();
  auto num = [](const std::string& v, uint64_t* out) {
    try {
      size_t used = 0;
      *out = std::stoull(v, &used);
      return used == v.size();
    } catch (const std::exception&) {
      return false;
    }
  };
  for (size_t i = 0; i < p.size();) {
    const std::string& op = p[i];
    auto need = [&](size_t n) { return i + n < p.size(); };
    uint64_t a = 0, b = 0;
    if (op == "text.insert" && need(3) && num(p[i + 2], &a)) {
      s = doc.GetText(p[i + 1]).Insert(a, p[i + 3]);
      i += 4;
    } else if (op == "text.delete" && need(3) && num(p[i + 2], &a) && num(p[i + 3], &b)) {
      s = doc.GetText(p[i + 1]).Delete(a, b);
      i += 4;
    } else if ((op == "map.set" || op == "array.insert") && need(3)) {
      nlohmann::ordered_json j;
      try {
        j = nlohmann::ordered_json::parse(p[i + 3]);
      } catch (const std::exception& e) {
        return Usage(op + ": value is not JSON: " + p[i + 3]);
      }
      if (op == "map.set") {
        auto v = tool::JsonToInput(j);
        if (!v.ok()) return Usage(v.status().message());
        s = doc.GetMap(p[i + 1]).Set(p[i + 2], *v);
      } else {
        if (!num(p[i + 2], &a)) return Usage("array.insert wants ROOT INDEX JSON-ARRAY");
        if (!j.is_array()) return Usage("array.insert wants a JSON array of values");
        std::vector<Input> values;
        for (const auto& x : j) {
          auto v = tool::JsonToInput(x);
          if (!v.ok()) return Usage(v.status().message());
          values.push_back(*v);
        }
        s = doc.GetArray(p[i + 1]).Insert(a, values);
      }
      i += 4;
    } else if (op == "map.delete" && need(2)) {
      s = doc.GetMap(p[i + 1]).Delete(p[i + 2]);
      i += 3;
    } else if (op == "array.delete" && need(3) && num(p[i + 2], &a) && num(p[i + 3], &b)) {
      s = doc.GetArray(p[i + 1]).Delete(a, b);
      i += 4;
    } else {
      return Usage("bad edit operation at '" + op + "' (see ydoc edit --help)");
    }
    if (!s.ok()) return Fail(s.WithContext(op));
  }
  std::vector<uint8_t> out;
  if (args.Has("full")) {
    auto u = doc.EncodeStateAsUpdate();
    if (!u.ok()) return Fail(u.status());
    out = std::move(*u);
  } else if (updates.empty()) {
    out = {0, 0};
  } else {
    auto m = MergeUpdates(updates);
    if (!m.ok()) return Fail(m.status());
    out = std::move(*m);
  }
  s = tool::WriteBinaryFile(*args.Get("o"), out);
  return s.ok() ? cli::kExitOk : Fail(s);
}

cli::Registrar inspect(
    YdocCommands(),
    {"inspect", "print a document as canonical JSON",
     "inspect [--root NAME:KIND]... FILE...\n"
     "  Applies the update files in order (any order and duplicates are fine) and prints\n"
     "  the document as canonical JSON, one member per root. KIND is map|text|array;\n"
     "  roots without --root are inferred (keyed items: map, string content: text,\n"
     "  else array) and dropped when empty.",
     &RunInspect});
cli::Registrar merge(
    YdocCommands(),
    {"merge", "merge update files into one update",
     "merge FILE... -o OUT\n  Writes the full state of the applied files as one v1 update.",
     &RunMerge});
cli::Registrar diff(YdocCommands(),
                    {"diff", "what a state vector lacks, as one update",
                     "diff --sv SV FILE... -o OUT\n"
                     "  Writes only what the state vector file SV lacks of the applied files.",
                     &RunDiff});
cli::Registrar sv(YdocCommands(),
                  {"sv", "the state vector of update files",
                   "sv FILE... -o OUT\n  Writes the state vector of the applied files.", &RunSv});
cli::Registrar edit(
    YdocCommands(),
    {"edit", "produce an update from the command line",
     "edit [--in FILE]... [--client N] [--no-gc] [--full] -o OUT OP...\n"
     "  Loads the --in update files, applies the operations, each its own transaction,\n"
     "  and writes the update they produced (with --full: the whole document). OPs:\n"
     "    text.insert ROOT INDEX TEXT     text.delete ROOT INDEX LENGTH\n"
     "    map.set ROOT KEY JSON           map.delete ROOT KEY\n"
     "    array.insert ROOT INDEX JSON-ARRAY   array.delete ROOT INDEX LENGTH\n"
     "  JSON values use the driver's transport ({\"$binary\":b64}, {\"$type\":\"text\"}, ...).\n"
     "  Indices count UTF-16 code units. --client defaults to 1.",
     &RunEdit});

}  // namespace
}  // namespace vaultd::crdt
