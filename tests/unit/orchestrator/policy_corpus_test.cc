// Replays the committed fuzz corpus through the fuzz target's entry function,
// so the normal (and ASan) build keeps every input the fuzzer found interesting working.
#include <gtest/gtest.h>

#include "fuzz_support.h"
#include "policy_loader_entry.h"

TEST(PolicyFuzzCorpus, EveryInputRunsClean) {
  EXPECT_GE(vaultd::fuzzing::ReplayCorpus(VAULTD_SOURCE_DIR, "fuzz_policy_loader",
                                          &vaultd::orchestrator::FuzzPolicyLoaderOne),
            3u);
}
