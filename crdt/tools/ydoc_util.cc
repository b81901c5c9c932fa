#include "ydoc_util.h"

#include <algorithm>
#include <cmath>

#include "vaultd/common/fs.h"

namespace vaultd::crdt::tool {

Result<std::vector<uint8_t>> ReadBinaryFile(const std::string& path) {
  VAULTD_ASSIGN_OR_RETURN(std::string data, ReadFile(path, 1ull << 30));
  return std::vector<uint8_t>(data.begin(), data.end());
}

Status WriteBinaryFile(const std::string& path, const std::vector<uint8_t>& data) {
  return WriteFileAtomic(path, std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
}

Status ApplyFiles(Doc& doc, const std::vector<std::string>& files) {
  for (const auto& f : files) {
    VAULTD_ASSIGN_OR_RETURN(auto bytes, ReadBinaryFile(f));
    Status s = doc.ApplyUpdate(bytes);
    if (!s.ok()) return s.WithContext(f);
  }
  return Status::Ok();
}

Result<TypeKind> ParseKind(const std::string& s) {
  if (s == "map") return TypeKind::kMap;
  if (s == "text") return TypeKind::kText;
  if (s == "array") return TypeKind::kArray;
  return Status::InvalidArgument("unknown kind '" + s + "' (map|text|array)");
}

namespace {
// JavaScript orders integer-like keys first (ascending), then insertion order.
bool IsArrayIndex(const std::string& k) {
  if (k.empty() || k.size() > 10) return false;
  if (k.size() > 1 && k[0] == '0') return false;
  for (char c : k)
    if (c < '0' || c > '9') return false;
  return std::stoull(k) < 4294967295ull;
}
}  // namespace

Result<Any> JsonToAny(const nlohmann::ordered_json& j) {
  using V = nlohmann::json::value_t;
  switch (j.type()) {
    case V::null: return Any(nullptr);
    case V::boolean: return Any(j.get<bool>());
    case V::number_integer: return Any(static_cast<double>(j.get<int64_t>()));
    case V::number_unsigned: return Any(static_cast<double>(j.get<uint64_t>()));
    case V::number_float: return Any(j.get<double>());
    case V::string: return Any(j.get<std::string>());
    case V::array: {
      AnyArray arr;
      for (const auto& x : j) {
        VAULTD_ASSIGN_OR_RETURN(Any a, JsonToAny(x));
        arr.push_back(std::move(a));
      }
      return Any(std::move(arr));
    }
    case V::object: {
      if (j.size() == 1 && j.contains("$binary") && j["$binary"].is_string()) {
        std::vector<uint8_t> b;
        if (!Base64Decode(j["$binary"].get<std::string>(), &b)) return Status::InvalidArgument("bad base64 in $binary");
        return Any(Binary(std::move(b)));
      }
      if (j.size() == 1 && j.contains("$undefined")) return Any();
      if (j.size() == 1 && j.contains("$bigint")) {
        try {
          return Any(BigInt{std::stoll(j["$bigint"].get<std::string>())});
        } catch (const std::exception&) {
          return Status::InvalidArgument("bad $bigint");
        }
      }
      AnyObject ints, rest;
      for (const auto& [k, x] : j.items()) {
        VAULTD_ASSIGN_OR_RETURN(Any a, JsonToAny(x));
        (IsArrayIndex(k) ? ints : rest).emplace_back(k, std::move(a));
      }
      std::stable_sort(ints.begin(), ints.end(),
                       [](const auto& a, const auto& b) { return std::stoull(a.first) < std::stoull(b.first); });
      for (auto& p : rest) ints.push_back(std::move(p));
      return Any(std::move(ints));
    }
    default: return Status::InvalidArgument("unsupported JSON value");
  }
}

Result<Input> JsonToInput(const nlohmann::ordered_json& j) {
  if (j.is_object() && j.size() == 1 && j.contains("$type")) {
    if (!j["$type"].is_string()) return Status::InvalidArgument("$type must be a string");
    VAULTD_ASSIGN_OR_RETURN(TypeKind k, ParseKind(j["$type"].get<std::string>()));
    return Input(NewType{k});
  }
  VAULTD_ASSIGN_OR_RETURN(Any a, JsonToAny(j));
  return Input(std::move(a));
}

Result<Attributes> JsonToAttributes(const nlohmann::ordered_json& j) {
  if (!j.is_object()) return Status::InvalidArgument("attrs must be an object");
  Attributes out;
  for (const auto& [k, x] : j.items()) {
    VAULTD_ASSIGN_OR_RETURN(Any a, JsonToAny(x));
    out.emplace_back(k, std::move(a));
  }
  return out;
}

}  // namespace vaultd::crdt::tool
