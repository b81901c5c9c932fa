#include "journal_fuzz_entry.h"

#include "fuzz_support.h"
#include "move_journal_check.h"

namespace vaultd::move::internal {

void FuzzJournalOne(const uint8_t* data, size_t size) {
  const char* broken = CheckJournalInvariants(data, size);
  fuzzing::Check(broken == nullptr, "fuzz_move_journal", broken);
}

}  // namespace vaultd::move::internal
