// Replays the committed fuzz_move_journal corpus in the normal (and ASan) build.
#include <gtest/gtest.h>

#include "fuzz_support.h"
#include "journal_fuzz_entry.h"

TEST(MoveJournalFuzzCorpus, ReplaysCleanly) {
  EXPECT_GT(vaultd::fuzzing::ReplayCorpus(VAULTD_SOURCE_DIR, "fuzz_move_journal",
                                          &vaultd::move::internal::FuzzJournalOne),
            10u);
}
