#include "vaultd/common/log.h"

#include <gtest/gtest.h>

#include <vector>

namespace vaultd::log {
namespace {

TEST(LogTest, FormatsKeyValueFieldsAndQuotesWhenNeeded) {
  std::string line = FormatLine(
      Level::kWarn, "room lost",
      {{"room", "eng"}, {"path", "a b.md"}, {"count", 3}, {"quote", "say \"hi\"\n"}}, "T");
  EXPECT_EQ(line,
            "T level=warn msg=\"room lost\" room=eng path=\"a b.md\" count=3 "
            "quote=\"say \\\"hi\\\"\\n\"");
}

TEST(LogTest, LevelFiltersAndSinkReceivesLines) {
  std::vector<std::string> lines;
  SetSink([&](std::string_view l) { lines.emplace_back(l); });
  SetLevel(Level::kWarn);
  Info("hidden");
  Warn("shown", {{"k", "v"}});
  SetLevel(Level::kInfo);
  SetSink({});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("level=warn msg=shown k=v"), std::string::npos) << lines[0];
  Level l;
  EXPECT_TRUE(ParseLevel("debug", &l));
  EXPECT_EQ(l, Level::kDebug);
  EXPECT_FALSE(ParseLevel("loud", &l));
}

}  // namespace
}  // namespace vaultd::log
