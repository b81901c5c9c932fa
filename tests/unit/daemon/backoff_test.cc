#include "vaultd/daemon/backoff.h"

#include <gtest/gtest.h>

#include <limits>

namespace vaultd::daemon {
namespace {

TEST(BackoffTest, CeilingDoublesPerAttemptUpToTheCap) {
  // random01 close to 1 gives the ceiling, 0 gives half of it.
  EXPECT_EQ(BackoffDelayMs(0, 500, 30000, 0.0), 250);
  EXPECT_EQ(BackoffDelayMs(0, 500, 30000, 0.999999), 499);
  EXPECT_EQ(BackoffDelayMs(1, 500, 30000, 0.0), 500);
  EXPECT_EQ(BackoffDelayMs(3, 500, 30000, 0.0), 2000);
  EXPECT_EQ(BackoffDelayMs(6, 500, 30000, 0.0), 15000);  // 32000 capped at 30000
  EXPECT_EQ(BackoffDelayMs(7, 500, 30000, 0.5), 22500);
}

TEST(BackoffTest, HugeAttemptCountsStayAtTheCap) {
  EXPECT_EQ(BackoffDelayMs(1000000, 500, 30000, 0.0), 15000);
  EXPECT_LE(BackoffDelayMs(2147483647, 500, 30000, 0.999), 30000);
}

TEST(BackoffTest, DelayIsNeverZeroAndWithinHalfToFullCeiling) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    for (double r : {0.0, 0.1, 0.5, 0.9, 0.999}) {
      const int64_t d = BackoffDelayMs(attempt, 100, 10000, r);
      int64_t ceiling = 100;
      for (int i = 0; i < attempt && ceiling < 10000; ++i) ceiling *= 2;
      if (ceiling > 10000) ceiling = 10000;
      EXPECT_GE(d, ceiling / 2) << attempt << " " << r;
      EXPECT_LE(d, ceiling) << attempt << " " << r;
      EXPECT_GT(d, 0);
    }
  }
}

TEST(BackoffTest, OutOfRangeInputsAreClamped) {
  EXPECT_EQ(BackoffDelayMs(-5, 500, 30000, 0.0), 250);
  EXPECT_EQ(BackoffDelayMs(0, 0, 0, 0.999), 1);
  EXPECT_EQ(BackoffDelayMs(3, 1000, 10, 0.0), 500);  // cap below base counts as base
  EXPECT_EQ(BackoffDelayMs(0, 1000, 5000, -1.0), 500);
  EXPECT_EQ(BackoffDelayMs(0, 1000, 5000, 7.0), 1000);
  EXPECT_EQ(BackoffDelayMs(0, 1000, 5000, std::numeric_limits<double>::quiet_NaN()), 500);
}

}  // namespace
}  // namespace vaultd::daemon
