// The body of fuzz_move_journal, shared with the corpus replay test of the normal build.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vaultd::move::internal {
// First byte 'E': the rest is an entries file (ParseEntries). Anything else: the rest is a
// record file (ParseRecord). Whatever parses must describe a move recovery may act on (absolute
// paths, the temp name beside the destination, safe relative entry paths) and must survive a
// format-then-parse round trip unchanged. Aborts when an invariant does not hold.
void FuzzJournalOne(const uint8_t* data, size_t size);
}  // namespace vaultd::move::internal
