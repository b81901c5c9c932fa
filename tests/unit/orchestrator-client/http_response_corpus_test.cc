// Replays the committed fuzz_http_response corpus in the normal (and ASan) build.
#include <gtest/gtest.h>

#include "fuzz_support.h"
#include "http_response_fuzz_entry.h"

TEST(HttpResponseFuzzCorpus, ReplaysCleanly) {
  EXPECT_GT(vaultd::fuzzing::ReplayCorpus(VAULTD_SOURCE_DIR, "fuzz_http_response",
                                          &vaultd::orchestrator_client::FuzzHttpResponseOne),
            10u);
}
