#include "vaultd/common/clock.h"

#include <gtest/gtest.h>

namespace vaultd {
namespace {

TEST(ClockTest, ManualClockMovesOnlyWhenAdvanced) {
  ManualClock clock;
  WallTime t0 = clock.Now();
  MonoTime m0 = clock.Monotonic();
  EXPECT_EQ(clock.Now(), t0);
  clock.Advance(std::chrono::milliseconds(1500));
  EXPECT_EQ(clock.Now() - t0, std::chrono::milliseconds(1500));
  EXPECT_EQ(clock.Monotonic() - m0, std::chrono::milliseconds(1500));
}

TEST(ClockTest, Rfc3339RoundTrip) {
  auto t = ParseRfc3339("2026-07-01T00:00:00Z");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count(),
            1782864000);
  EXPECT_EQ(FormatRfc3339(*t), "2026-07-01T00:00:00Z");
}

TEST(ClockTest, Rfc3339OffsetsAndFractions) {
  auto a = ParseRfc3339("2026-01-01T01:30:00+01:30");
  auto b = ParseRfc3339("2026-01-01T00:00:00Z");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  auto c = ParseRfc3339("2026-01-01T00:00:00.250Z");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c - *b, std::chrono::milliseconds(250));
  EXPECT_EQ(FormatRfc3339Millis(*c), "2026-01-01T00:00:00.250Z");
}

TEST(ClockTest, Rfc3339RejectsBadInput) {
  for (const char* bad :
       {"", "2026-01-01", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z",
        "2026-01-01T00:00:00", "2026-01-01T00:00:00Zjunk", "2026-01-01T00:00:00+5", "yesterday",
        "7332-01-01T00:00:00Z", "0001-01-01T00:00:00Z"}) {
    auto r = ParseRfc3339(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("bad RFC 3339"), std::string::npos);
    }
  }
  EXPECT_TRUE(ParseRfc3339("2028-02-29T12:00:00Z").ok());
}

}  // namespace
}  // namespace vaultd
