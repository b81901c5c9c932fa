// Replays the committed fuzz_orchestrator_client corpus in the normal (and ASan) build.
#include <gtest/gtest.h>

#include "client_fuzz_entry.h"
#include "fuzz_support.h"

TEST(ClientFuzzCorpus, ReplaysCleanly) {
  EXPECT_GT(vaultd::fuzzing::ReplayCorpus(VAULTD_SOURCE_DIR, "fuzz_orchestrator_client",
                                          &vaultd::orchestrator_client::FuzzClientOne),
            10u);
}
