// The JSON transport of Yjs values used by `ydoc driver` and `ydoc edit` (docs/crdt.md; the
// driver protocol in docs/crdt-conformance.md): ParseJsonText with JavaScript key order and the
// $binary/$undefined/$bigint escapes, {"$type":kind} for a new nested type, and kind names.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "vaultd/common/status.h"
#include "vaultd/crdt/doc.h"

namespace vaultd::crdt::tool {

// "map" | "text" | "array".
Result<TypeKind> ParseKind(const std::string& s);
Result<Any> JsonToAny(const nlohmann::ordered_json& j);
Result<Input> JsonToInput(const nlohmann::ordered_json& j);
Result<Attributes> JsonToAttributes(const nlohmann::ordered_json& j);

}  // namespace vaultd::crdt::tool
