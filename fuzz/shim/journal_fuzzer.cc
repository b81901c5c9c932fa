// libFuzzer target: the move journal's record and entries parsers (what recovery trusts).
#include "journal_fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vaultd::move::internal::FuzzJournalOne(data, size);
  return 0;
}
