// UTF-8 validation (RFC 3629): shortest form only, no surrogates, nothing above U+10FFFF;
// and the UTF-16 length of UTF-8 text, which is what Yjs and JavaScript count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace vaultd {

bool IsValidUtf8(std::string_view text);

// Characters of text that may hold invalid bytes: a lead byte and as many continuation
// bytes as it announces (fewer if fewer follow); any other byte is a character of its
// own. For valid UTF-8 these are the code points; for invalid input it is one rule that
// code walking a text and code counting its length can share, never reading past the end.
//
// The bytes lead byte `c` announces: 1 for ASCII and for a byte that cannot lead.
inline size_t Utf8SequenceLength(unsigned char c) {
  return c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : c < 0xf8 ? 4 : 1;
}
// The bytes of the character at byte `i` (< utf8.size()).
inline size_t Utf8CharLength(std::string_view utf8, size_t i) {
  const size_t want = Utf8SequenceLength(static_cast<unsigned char>(utf8[i]));
  size_t len = 1;
  while (len < want && i + len < utf8.size() &&
         (static_cast<unsigned char>(utf8[i + len]) & 0xc0) == 0x80)
    ++len;
  return len;
}

// Number of UTF-16 code units of UTF-8 text: one per character, two for one outside the
// BMP (a 4-byte sequence); characters as above, so invalid bytes count one unit each.
uint64_t Utf16Length(std::string_view utf8);

}  // namespace vaultd
