// The service's defences against floods, driven by a ManualClock: the log rate
// limit, the refusal aggregation, and the limits' command-line form.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "service_context.h"
#include "vaultd/common/log.h"

namespace vaultd::orchestrator::service {
namespace {

TEST(LogLimiter, HoldsBackLinesBeyondTheRateAndCountsThem) {
  std::vector<std::string> lines;
  log::SetSink([&](std::string_view line) { lines.emplace_back(line); });
  ManualClock clock;
  const Clock* clock_ptr = &clock;
  Metrics metrics;
  LogLimiter limiter(&metrics, &clock_ptr);
  limiter.set_per_second(3);
  for (int i = 0; i < 10; ++i) limiter.Warn("request refused", {{"n", i}});
  EXPECT_EQ(lines.size(), 3u);
  clock.Advance(std::chrono::milliseconds(999));
  limiter.Warn("request refused", {});
  EXPECT_EQ(lines.size(), 3u);  // still the same second
  clock.Advance(std::chrono::milliseconds(2));
  limiter.Warn("request refused", {});
  log::SetSink(nullptr);
  ASSERT_EQ(lines.size(), 5u);  // the count of what was held back, then the line
  EXPECT_NE(lines[3].find("count=8"), std::string::npos) << lines[3];
  Metrics::CacheCounts none;
  EXPECT_NE(metrics.Render(PolicyState{}, none).find("vaultd_log_lines_suppressed_total 8"),
            std::string::npos);
}

TEST(RefusalAggregator, FirstRefusalInFullThenOneLinePerClientAndReason) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("refusals-" + std::to_string(::getpid()) + ".log"))
          .string();
  auto audit = AuditLog::Open(path, false);
  ASSERT_TRUE(audit.ok());
  ManualClock clock;
  RefusalAggregator agg;
  EXPECT_TRUE(agg.Admit("10.0.0.1", "/v1/mountset", "token expired"));
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(agg.Admit("10.0.0.1", "/v1/mountset", "token expired"));
  EXPECT_TRUE(agg.Admit("10.0.0.2", "/v1/mountset", "token expired"));
  EXPECT_TRUE(agg.Admit("10.0.0.1", "/v1/mountset", "bad signature"));
  clock.Advance(std::chrono::seconds(10));
  agg.Flush(clock.Now(), **audit);
  // A new period: the first refusal is written in full again.
  EXPECT_TRUE(agg.Admit("10.0.0.1", "/v1/mountset", "token expired"));
  std::ifstream in(path);
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  std::filesystem::remove(path);
  ASSERT_EQ(lines.size(), 1u);  // only the pair that repeated
  EXPECT_EQ(lines[0]["client"], "10.0.0.1");
  EXPECT_EQ(lines[0]["reason"], "token expired");
  EXPECT_EQ(lines[0]["repeated"], 5);
  EXPECT_EQ(lines[0]["time"], FormatRfc3339Millis(clock.Now()));
}

TEST(RefusalAggregator, TracksABoundedNumberOfPairs) {
  RefusalAggregator agg;
  for (size_t i = 0; i < RefusalAggregator::kMaxKeys; ++i)
    EXPECT_TRUE(agg.Admit("c" + std::to_string(i), "/", "r"));
  EXPECT_TRUE(agg.Admit("one-more", "/", "r"));  // the shared overflow entry, first use
  EXPECT_FALSE(agg.Admit("and-another", "/", "r"));
}

TEST(ServiceLimits, SetByName) {
  ServiceLimits limits;
  ASSERT_TRUE(SetServiceLimit("max_connections_per_client=64", &limits).ok());
  ASSERT_TRUE(SetServiceLimit("header_timeout_ms=5000", &limits).ok());
  EXPECT_EQ(limits.max_connections_per_client, 64u);
  EXPECT_EQ(limits.header_timeout_ms, 5000u);
  EXPECT_EQ(SetServiceLimit("max_conections=1", &limits).message().substr(0, 30),
            "unknown limit 'max_conections'");
  EXPECT_FALSE(SetServiceLimit("header_timeout_ms=0", &limits).ok());
  EXPECT_FALSE(SetServiceLimit("header_timeout_ms=5s", &limits).ok());
  EXPECT_FALSE(SetServiceLimit("header_timeout_ms", &limits).ok());
}

}  // namespace
}  // namespace vaultd::orchestrator::service
