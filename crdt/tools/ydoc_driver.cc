// `ydoc driver`: the line-oriented JSON protocol the conformance harness uses
// to drive C++ docs (see docs/crdt.md, "Driver protocol").
#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "vaultd/crdt/update.h"
#include "ydoc_commands.h"
#include "ydoc_values.h"

namespace vaultd::crdt {
namespace {

using Json = nlohmann::ordered_json;
using namespace tool;

struct Peer {
  std::unique_ptr<Doc> doc;
  std::optional<std::vector<uint8_t>> last_update;
};

Result<std::vector<uint8_t>> B64Field(const Json& req, const char* name) {
  if (!req.contains(name) || !req[name].is_string())
    return Status::InvalidArgument(std::string("missing ") + name);
  std::vector<uint8_t> out;
  if (!Base64Decode(req[name].get<std::string>(), &out))
    return Status::InvalidArgument(std::string("bad base64 in ") + name);
  return out;
}

Result<uint64_t> UintField(const Json& req, const char* name) {
  if (!req.contains(name) || !req[name].is_number())
    return Status::InvalidArgument(std::string("missing number ") + name);
  double d = req[name].get<double>();
  if (d < 0 || d > 9007199254740991.0) return Status::InvalidArgument(std::string("bad ") + name);
  return static_cast<uint64_t>(d);
}

// Resolves `path` to a type; `kind` is the root's kind when the path has one element.
Result<TypeRef> Resolve(Doc& doc, const Json& path, TypeKind kind) {
  if (!path.is_array() || path.empty() || !path[0].is_string())
    return Status::InvalidArgument("bad path");
  const std::string root = path[0].get<std::string>();
  TypeKind want = path.size() == 1 ? kind : TypeKind::kUnknown;
  TypeRef cur;
  if (path.size() == 1) {
    if (want == TypeKind::kText)
      cur = doc.GetText(root);
    else if (want == TypeKind::kMap)
      cur = doc.GetMap(root);
    else
      cur = doc.GetArray(root);
    return cur;
  }
  // The root of a longer path is a map when the next element is a key, an array when an index.
  cur = path[1].is_string() ? TypeRef(doc.GetMap(root)) : TypeRef(doc.GetArray(root));
  for (size_t i = 1; i < path.size(); ++i) {
    std::optional<Output> o;
    if (path[i].is_string()) {
      o = cur.AsMap().Get(path[i].get<std::string>());
    } else if (path[i].is_number_unsigned() || path[i].is_number_integer()) {
      o = cur.AsArray().Get(path[i].get<uint64_t>());
    } else {
      return Status::InvalidArgument("bad path element");
    }
    if (!o || !o->is_type())
      return Status::NotFound("path element " + path[i].dump() + " is not a nested type");
    cur = o->AsType();
  }
  return cur;
}

Result<Json> Handle(std::map<int64_t, Peer>& peers, const Json& req) {
  if (!req.is_object() || !req.contains("op") || !req["op"].is_string())
    return Status::InvalidArgument("missing op");
  const std::string op = req["op"].get<std::string>();
  Json reply = {{"ok", true}};

  if (op == "merge") {
    if (!req.contains("updates") || !req["updates"].is_array())
      return Status::InvalidArgument("missing updates");
    std::vector<std::vector<uint8_t>> ups;
    for (const auto& u : req["updates"]) {
      std::vector<uint8_t> b;
      if (!u.is_string() || !Base64Decode(u.get<std::string>(), &b))
        return Status::InvalidArgument("bad update");
      ups.push_back(std::move(b));
    }
    if (ups.empty()) {
      ups.push_back({0, 0});
    }
    VAULTD_ASSIGN_OR_RETURN(auto m, MergeUpdates(ups));
    reply["update"] = Base64Encode(m);
    return reply;
  }
  if (op == "diff") {
    VAULTD_ASSIGN_OR_RETURN(auto u, B64Field(req, "update"));
    VAULTD_ASSIGN_OR_RETURN(auto sv, B64Field(req, "sv"));
    VAULTD_ASSIGN_OR_RETURN(auto d, DiffUpdate(u, sv));
    reply["update"] = Base64Encode(d);
    return reply;
  }
  if (op == "decode") {
    VAULTD_ASSIGN_OR_RETURN(auto u, B64Field(req, "update"));
    VAULTD_ASSIGN_OR_RETURN(std::string dump, DumpUpdateJson(u));
    reply["json"] = Json::parse(dump);
    return reply;
  }

  if (!req.contains("peer") || !req["peer"].is_number_integer())
    return Status::InvalidArgument("missing peer");
  int64_t id = req["peer"].get<int64_t>();
  if (op == "new") {
    VAULTD_ASSIGN_OR_RETURN(uint64_t client, UintField(req, "client"));
    bool gc = req.value("gc", true);
    Peer p;
    p.doc = std::make_unique<Doc>(DocOptions{.client_id = client, .gc = gc});
    peers[id] = std::move(p);
    Peer* pp = &peers[id];
    pp->doc->OnUpdate([pp](std::span<const uint8_t> u, const TransactionEvent&) {
      pp->last_update = std::vector<uint8_t>(u.begin(), u.end());
    });
    return reply;
  }
  auto it = peers.find(id);
  if (it == peers.end()) return Status::NotFound("no peer " + std::to_string(id));
  Peer& peer = it->second;
  Doc& doc = *peer.doc;
  if (op == "free") {
    peers.erase(it);
    return reply;
  }
  peer.last_update.reset();
  auto path = req.contains("path") ? req["path"] : Json::array();
  auto finish = [&](Status s) -> Result<Json> {
    if (!s.ok()) return s;
    if (peer.last_update)
      reply["update"] = Base64Encode(*peer.last_update);
    else
      reply["update"] = nullptr;
    return reply;
  };
  if (op == "text.insert" || op == "text.delete" || op == "text.format" || op == "text.embed") {
    VAULTD_ASSIGN_OR_RETURN(TypeRef t, Resolve(doc, path, TypeKind::kText));
    TextRef text = t.AsText();
    VAULTD_ASSIGN_OR_RETURN(uint64_t index, UintField(req, "index"));
    std::optional<Attributes> attrs;
    if (req.contains("attrs") && !req["attrs"].is_null()) {
      VAULTD_ASSIGN_OR_RETURN(attrs, JsonToAttributes(req["attrs"]));
    }
    if (op == "text.insert") {
      if (!req.contains("text") || !req["text"].is_string())
        return Status::InvalidArgument("missing text");
      return finish(text.Insert(index, req["text"].get<std::string>(), attrs ? &*attrs : nullptr));
    }
    if (op == "text.embed") {
      if (!req.contains("value")) return Status::InvalidArgument("missing value");
      VAULTD_ASSIGN_OR_RETURN(Any v, JsonToAny(req["value"]));
      return finish(text.InsertEmbed(index, v, attrs ? &*attrs : nullptr));
    }
    VAULTD_ASSIGN_OR_RETURN(uint64_t length, UintField(req, "length"));
    if (op == "text.delete") return finish(text.Delete(index, length));
    if (!attrs) return Status::InvalidArgument("missing attrs");
    return finish(text.Format(index, length, *attrs));
  }
  if (op == "map.set" || op == "map.delete") {
    VAULTD_ASSIGN_OR_RETURN(TypeRef t, Resolve(doc, path, TypeKind::kMap));
    MapRef map = t.AsMap();
    if (!req.contains("key") || !req["key"].is_string())
      return Status::InvalidArgument("missing key");
    std::string key = req["key"].get<std::string>();
    if (op == "map.delete") return finish(map.Delete(key));
    if (!req.contains("value")) return Status::InvalidArgument("missing value");
    VAULTD_ASSIGN_OR_RETURN(Input v, JsonToInput(req["value"]));
    return finish(map.Set(key, v));
  }
  if (op == "array.insert" || op == "array.delete") {
    VAULTD_ASSIGN_OR_RETURN(TypeRef t, Resolve(doc, path, TypeKind::kArray));
    ArrayRef arr = t.AsArray();
    VAULTD_ASSIGN_OR_RETURN(uint64_t index, UintField(req, "index"));
    if (op == "array.delete") {
      VAULTD_ASSIGN_OR_RETURN(uint64_t length, UintField(req, "length"));
      return finish(arr.Delete(index, length));
    }
    if (!req.contains("values") || !req["values"].is_array())
      return Status::InvalidArgument("missing values");
    std::vector<Input> values;
    for (const auto& v : req["values"]) {
      VAULTD_ASSIGN_OR_RETURN(Input in, JsonToInput(v));
      values.push_back(std::move(in));
    }
    return finish(arr.Insert(index, values));
  }
  if (op == "apply") {
    VAULTD_ASSIGN_OR_RETURN(auto u, B64Field(req, "update"));
    VAULTD_RETURN_IF_ERROR(doc.ApplyUpdate(u));
    return reply;
  }
  if (op == "encode") {
    std::vector<uint8_t> sv;
    if (req.contains("sv") && !req["sv"].is_null()) {
      VAULTD_ASSIGN_OR_RETURN(sv, B64Field(req, "sv"));
    }
    VAULTD_ASSIGN_OR_RETURN(auto u, doc.EncodeStateAsUpdate(sv));
    reply["update"] = Base64Encode(u);
    return reply;
  }
  if (op == "sv") {
    reply["sv"] = Base64Encode(doc.EncodeStateVector());
    return reply;
  }
  if (op == "json") {
    std::map<std::string, TypeKind> kinds;
    if (req.contains("roots") && req["roots"].is_object()) {
      for (const auto& [name, k] : req["roots"].items()) {
        if (!k.is_string()) return Status::InvalidArgument("bad roots");
        VAULTD_ASSIGN_OR_RETURN(kinds[name], ParseKind(k.get<std::string>()));
      }
    }
    reply["json"] = Json::parse(doc.ToJson(kinds));
    return reply;
  }
  if (op == "delta") {
    VAULTD_ASSIGN_OR_RETURN(TypeRef t, Resolve(doc, path, TypeKind::kText));
    reply["delta"] = Json::parse(t.AsText().DeltaJson());
    return reply;
  }
  return Status::InvalidArgument("unknown op '" + op + "'");
}

int RunDriver(const std::vector<std::string>& args) {
  if (!args.empty()) {
    std::cerr << "usage: ydoc driver  (JSON requests on stdin, one per line)\n";
    return cli::kExitUsage;
  }
  std::ios::sync_with_stdio(false);
  std::map<int64_t, Peer> peers;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    Json reply;
    try {
      Json req = Json::parse(line);
      auto r = Handle(peers, req);
      if (r.ok())
        reply = std::move(*r);
      else
        reply = {{"ok", false}, {"error", r.status().ToString()}};
    } catch (const std::exception& e) {
      reply = {{"ok", false}, {"error", std::string("bad request: ") + e.what()}};
    }
    std::cout << reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    std::cout.flush();
  }
  return cli::kExitOk;
}

cli::Registrar reg(
    YdocCommands(),
    {"driver", "conformance driver: JSON requests on stdin, replies on stdout",
     "driver\n  Reads one JSON request per line on stdin and writes one JSON reply per line.\n"
     "  Ops: new free text.insert text.delete text.format text.embed map.set map.delete\n"
     "  array.insert array.delete apply encode sv json delta merge diff decode.\n"
     "  See docs/crdt.md.",
     &RunDriver});

}  // namespace
}  // namespace vaultd::crdt
