// Replays the committed fuzz_jwt corpus in the normal (and ASan) build.
#include <gtest/gtest.h>

#include "fuzz_support.h"
#include "jwt_fuzz_entry.h"

TEST(JwtFuzzCorpus, ReplaysCleanly) {
  EXPECT_GT(vaultd::fuzzing::ReplayCorpus(VAULTD_SOURCE_DIR, "fuzz_jwt",
                                          &vaultd::orchestrator::FuzzJwtOne),
            10u);
}
