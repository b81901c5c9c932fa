#include "vaultd/daemon/paths.h"

#include <cstdint>
#include <string_view>

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
  if (key.empty() || key.size() > 4096 || key.front() == '/' || key.back() == '/') return false;
  for (char ch : key) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F || c == '\\') return false;
  }
  if (!IsValidUtf8(key)) return false;
  size_t start = 0;
  while (true) {
    size_t slash = key.find('/', start);
    std::string_view seg =
        key.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (seg.empty() || seg == "." || seg == ".." || seg.size() > 255) return false;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return !IsIgnoredPath(key);
}

}  // namespace vaultd::daemon
