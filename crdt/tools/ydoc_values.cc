#include "ydoc_values.h"

namespace vaultd::crdt::tool {

Result<TypeKind> ParseKind(const std::string& s) {
  if (s == "map") return TypeKind::kMap;
  if (s == "text") return TypeKind::kText;
  if (s == "array") return TypeKind::kArray;
  return Status::InvalidArgument("unknown kind '" + s + "' (map|text|array)");
}

Result<Any> JsonToAny(const nlohmann::ordered_json& j) {
  // One conversion for library and tool: the value goes back to text (exact
  // for anything nlohmann parsed) and through the library's parser.
  return ParseJsonText(j.dump(), {.js_key_order = true, .transport = true});
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
