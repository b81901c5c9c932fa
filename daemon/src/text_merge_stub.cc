// Temporary: whole-text replacement until the diff lands.
#include "vaultd/daemon/text_merge.h"
namespace vaultd::daemon {
uint64_t Utf16Length(std::string_view s) {
  uint64_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) != 0x80) n += (c >= 0xF0) ? 2 : 1;
  }
  return n;
}
std::vector<TextEdit> DiffText(std::string_view from, std::string_view to) {
  if (from == to) return {};
  return {TextEdit{0, Utf16Length(from), std::string(to)}};
}
std::vector<TextEdit> MergeIntoTheirs(std::string_view base, std::string_view ours, std::string_view theirs) {
  if (ours == theirs || ours == base) return {};
  return {TextEdit{Utf16Length(theirs), 0, std::string(ours)}};
}
}  // namespace vaultd::daemon
