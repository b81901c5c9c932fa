#include "vaultd/common/cli.h"

#include <gtest/gtest.h>

namespace vaultd::cli {
namespace {

TEST(ArgsTest, ParsesValuesSwitchesRepeatsAndPositionals) {
  Args a;
  std::string err;
  ASSERT_TRUE(Args::Parse({"--policy", "p.yaml", "--root=a:map", "--root", "b:text", "--explain",
                           "f1", "--", "--not-a-flag"},
                          {"policy", "root"}, {"explain"}, &a, &err))
      << err;
  EXPECT_EQ(a.Get("policy"), "p.yaml");
  EXPECT_EQ(a.GetAll("root"), (std::vector<std::string>{"a:map", "b:text"}));
  EXPECT_TRUE(a.Has("explain"));
  EXPECT_FALSE(a.Has("json"));
  EXPECT_EQ(a.positional(), (std::vector<std::string>{"f1", "--not-a-flag"}));
}

TEST(ArgsTest, RejectsUnknownAndMissingValues) {
  Args a;
  std::string err;
  EXPECT_FALSE(Args::Parse({"--bogus"}, {"policy"}, {}, &a, &err));
  EXPECT_NE(err.find("--bogus"), std::string::npos);
  EXPECT_FALSE(Args::Parse({"--policy"}, {"policy"}, {}, &a, &err));
  EXPECT_NE(err.find("needs a value"), std::string::npos);
  EXPECT_FALSE(Args::Parse({"--explain=1"}, {}, {"explain"}, &a, &err));
}

TEST(ArgsTest, SplitListTrimsAndDropsEmpty) {
  EXPECT_EQ(SplitList(" legal, executive,,hr "),
            (std::vector<std::string>{"legal", "executive", "hr"}));
  EXPECT_TRUE(SplitList("").empty());
}

int Hello(const std::vector<std::string>& args) { return static_cast<int>(args.size()) + 10; }

TEST(CommandTableTest, DispatchesHelpVersionAndUnbuiltCommands) {
  CommandTable t;
  t.Add({"hello", "say hello", "hello [ARGS]", &Hello});
  t.Add({"later", "not yet", "later", nullptr});
  auto run = [&](std::vector<std::string> v) {
    std::vector<char*> argv{const_cast<char*>("prog")};
    for (auto& s : v) argv.push_back(s.data());
    return t.Main(static_cast<int>(argv.size()), argv.data(), "prog", "test program");
  };
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  EXPECT_EQ(run({"hello", "a", "b"}), 12);
  EXPECT_EQ(run({"later"}), kExitUsage);
  EXPECT_EQ(run({"nope"}), kExitUsage);
  EXPECT_EQ(run({}), kExitUsage);
  EXPECT_EQ(run({"--help"}), kExitOk);
  EXPECT_EQ(run({"hello", "--help"}), kExitOk);
  EXPECT_EQ(run({"--version"}), kExitOk);
  std::string out = testing::internal::GetCapturedStdout();
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(out.find("later"), std::string::npos);
  EXPECT_NE(out.find("(not built yet)"), std::string::npos);
  EXPECT_NE(err.find("unknown command 'nope'"), std::string::npos);
  EXPECT_NE(out.find("prog " VAULTD_VERSION), std::string::npos);
}

}  // namespace
}  // namespace vaultd::cli
