#include "ydoc_update_files.h"

#include "vaultd/common/fs.h"

namespace vaultd::crdt::tool {

Result<std::vector<uint8_t>> ReadBinaryFile(const std::string& path) {
  VAULTD_ASSIGN_OR_RETURN(std::string data, ReadFile(path, 1ull << 30));
  return std::vector<uint8_t>(data.begin(), data.end());
}

Status WriteBinaryFile(const std::string& path, const std::vector<uint8_t>& data) {
  return WriteFileAtomic(path,
                         std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
}

Status ApplyFiles(Doc& doc, const std::vector<std::string>& files) {
  for (const auto& f : files) {
    VAULTD_ASSIGN_OR_RETURN(auto bytes, ReadBinaryFile(f));
    Status s = doc.ApplyUpdate(bytes);
    if (!s.ok()) return s.WithContext(f);
  }
  return Status::Ok();
}

}  // namespace vaultd::crdt::tool
