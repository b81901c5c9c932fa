#include "vaultd/daemon/paths.h"

#include <cstdint>
#include <string_view>

#include "vaultd/common/fs.h"
#include "vaultd/common/utf8.h"

namespace vaultd::daemon {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Names editors and tools give files that are not notes.
bool IsTempName(std::string_view name) {
  if (StartsWith(name, kTempPrefix)) return true;
  if (StartsWith(name, ".vaultd-move-") && EndsWith(name, ".tmp")) return true;
  if (StartsWith(name, ".#")) return true;                        // emacs lock
  if (StartsWith(name, "#") && EndsWith(name, "#")) return true;  // emacs autosave
  if (EndsWith(name, "~")) return true;                           // backup files
  if (EndsWith(name, ".swp") || EndsWith(name, ".swx") || EndsWith(name, ".swo")) return true;
  if (name == ".DS_Store" || name == "Thumbs.db" || name == "4913") return true;  // vim probe file
  if (EndsWith(name, ".tmp") && StartsWith(name, ".")) return true;
  return false;
}

}  // namespace

bool IsIgnoredDirName(std::string_view segment) {
  return segment == ".obsidian" || segment == ".trash" || segment == ".vaultd" || segment == ".git";
}

bool IsIgnoredPath(std::string_view rel) {
  size_t start = 0;
  while (start <= rel.size()) {
    size_t slash = rel.find('/', start);
    std::string_view seg =
        rel.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (slash == std::string_view::npos) return IsIgnoredDirName(seg) || IsTempName(seg);
    if (IsIgnoredDirName(seg)) return true;
    start = slash + 1;
  }
  return false;
}

bool IsSafeDocKey(std::string_view key) {
  // Segments: not empty, "." or "..", no '\\', NUL or control character, at most 255 bytes.
  return key.size() <= 4096 && IsSafeRelativePath(key) && IsValidUtf8(key) && !IsIgnoredPath(key);
}

}  // namespace vaultd::daemon
