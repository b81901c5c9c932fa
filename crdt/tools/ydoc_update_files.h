// Update files as the ydoc subcommands read and write them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vaultd/common/status.h"
#include "vaultd/crdt/doc.h"

namespace vaultd::crdt::tool {

Result<std::vector<uint8_t>> ReadBinaryFile(const std::string& path);
Status WriteBinaryFile(const std::string& path, const std::vector<uint8_t>& data);
// Applies the files in order; the error names the file.
Status ApplyFiles(Doc& doc, const std::vector<std::string>& files);

}  // namespace vaultd::crdt::tool
