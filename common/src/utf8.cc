#include "vaultd/common/utf8.h"

#include <cstdint>
#include <cstring>

namespace vaultd {

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp, min;
    if ((c & 0xe0) == 0xc0) {
      n = 2, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      n = 3, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      n = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (s.size() - i < n) return false;
    for (size_t k = 1; k < n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n;
  }
  return true;
}

uint64_t Utf16Length(std::string_view s) {
  uint64_t units = 0;
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    // ASCII runs eight bytes at a time: most notes are mostly ASCII.
    for (uint64_t word; i + 8 <= n; i += 8, units += 8) {
      std::memcpy(&word, s.data() + i, 8);
      if (word & 0x8080808080808080ULL) break;
    }
    if (i >= n) break;
    const size_t len = Utf8CharLength(s, i);
    units += len == 4 ? 2 : 1;  // outside the BMP: a surrogate pair
    i += len;
  }
  return units;
}

}  // namespace vaultd
