#include "vaultd/daemon/paths.h"

#include <cstdint>
#include <string_view>

namespace vaultd::daemon {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<uint8_t>(s[i]);
    if (c < 0x80) { ++i; continue; }
    int n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
    else return false;
    if (i + static_cast<size_t>(n) >= s.size()) return false;
    for (int k = 1; k <= n; ++k) {
      auto cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

namespace {

// Names editors and tools give files that are not notes.
bool IsTempName(std::string_view name) {
  if (StartsWith(name, kTempPrefix)) return true;
  if (StartsWith(name, ".vaultd-move-") && EndsWith(name, ".tmp")) return true;
  if (StartsWith(name, ".#")) return true;                       // emacs lock
  if (StartsWith(name, "#") && EndsWith(name, "#")) return true;  // emacs autosave
  if (EndsWith(name, "~")) return true;                           // backup files
  if (EndsWith(name, ".swp") || EndsWith(name, ".swx") || EndsWith(name, ".swo")) return true;
  if (name == ".DS_Store" || name == "Thumbs.db" || name == "4913") return true;  // vim probe file
  if (EndsWith(name, ".tmp") && StartsWith(name, ".")) return true;
  return false;
}

}  // namespace

bool IsIgnoredDirName(std::string_view segment) {
  return segment == ".obsidian" || segment == ".trash" || segment == ".vaultd" ||
         segment == ".git";
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
    std::string_view seg = key.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (seg.empty() || seg == "." || seg == ".." || seg.size() > 255) return false;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return !IsIgnoredPath(key);
}

}  // namespace vaultd::daemon
