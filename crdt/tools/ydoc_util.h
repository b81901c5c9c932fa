// Helpers shared by the ydoc subcommands.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vaultd/common/status.h"
#include "vaultd/crdt/doc.h"

namespace vaultd::crdt::tool {

Result<std::vector<uint8_t>> ReadBinaryFile(const std::string& path);
Status WriteBinaryFile(const std::string& path, const std::vector<uint8_t>& data);
// Applies the files in order; the error names the file.
Status ApplyFiles(Doc& doc, const std::vector<std::string>& files);
Result<TypeKind> ParseKind(const std::string& s);

// JSON transport of Yjs values (see CRDT-DRIVER-PROTOCOL.md / docs/crdt.md):
// ParseJsonText with JavaScript key order and the $binary/$undefined/$bigint escapes.
Result<Any> JsonToAny(const nlohmann::ordered_json& j);
Result<Input> JsonToInput(const nlohmann::ordered_json& j);
Result<Attributes> JsonToAttributes(const nlohmann::ordered_json& j);

}  // namespace vaultd::crdt::tool
