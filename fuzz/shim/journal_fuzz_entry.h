// The body of fuzz_move_journal, shared with the corpus replay test of the normal build.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vaultd::move::internal {
// CheckJournalInvariants (tests/support/move_journal_check.h) on `data`; aborts when an
// invariant does not hold.
void FuzzJournalOne(const uint8_t* data, size_t size);
}  // namespace vaultd::move::internal
