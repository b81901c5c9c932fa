// CheckMove (the pre-check of a move) on its own: the answer rename(2) gives
// inside one mount, for two tmpfs mounts, with nothing written anywhere.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>

#include "shim_test_util.h"
#include "vaultd/shim/move.h"

namespace vaultd::shimtest {
namespace {

using move::CheckMove;
using move::kRenameExchange;
using move::kRenameNoReplace;

class ShimPrecheckTest : public TwoMountsTest {
 protected:
  int Check(const std::string& src, const std::string& dst, unsigned flags = 0) {
    return CheckMove((vault_ + "/" + src).c_str(), (vault_ + "/" + dst).c_str(), flags);
  }
};

TEST_F(ShimPrecheckTest, AnswersLikeRenameInsideOneMountAndChangesNothing) {
  WriteFile(a_ + "/f", "f");
  WriteFile(b_ + "/g", "g");
  MakeDirs(a_ + "/d/sub");
  MakeDirs(b_ + "/empty");
  MakeDirs(b_ + "/full/x");
  ASSERT_EQ(link((a_ + "/f").c_str(), (a_ + "/f2").c_str()), 0);
  std::string before = Describe(vault_);
  EXPECT_EQ(Check("a/f", "b/new"), 0);
  EXPECT_EQ(Check("a/f", "b/g"), 0) << "replacing a file";
  EXPECT_EQ(Check("a/missing", "b/new"), -ENOENT);
  EXPECT_EQ(Check("a/f", "b/g", kRenameNoReplace), -EEXIST);
  EXPECT_EQ(Check("a/f", "b/g", kRenameNoReplace | kRenameExchange), -EINVAL);
  EXPECT_EQ(Check("a/f", "b/g", 1u << 7), -EINVAL);
  EXPECT_EQ(Check("a/f", "b/g", kRenameExchange), -EXDEV);
  EXPECT_EQ(Check("a/f", "b/empty"), -EISDIR);
  EXPECT_EQ(Check("a/d", "b/g"), -ENOTDIR);
  EXPECT_EQ(Check("a/f/", "b/new"), -ENOTDIR);
  EXPECT_EQ(Check("a/d", "b/full"), -ENOTEMPTY);
  EXPECT_EQ(Check("a/d", "b/empty"), 0);
  EXPECT_EQ(Check("a/d", "a/d/sub/x"), -EINVAL);
  EXPECT_EQ(Check("a/d/.", "b/new"), -EBUSY);
  EXPECT_EQ(Check("a/d/..", "b/new"), -EBUSY);
  EXPECT_EQ(Check("a/f", "b/empty/.."), -EBUSY);
  EXPECT_EQ(Check("a/f", "b/empty/.", kRenameNoReplace), -EEXIST);
  EXPECT_EQ(Check("a/f", "a/f2"), 1) << "two names of one file: a no-op";
  EXPECT_EQ(CheckMove("relative", (b_ + "/x").c_str(), 0), -EINVAL);
  EXPECT_EQ(Describe(vault_), before);
}

TEST_F(ShimPrecheckTest, AMountPointIsBusy) {
  MakeDirs(a_ + "/m");
  std::string inner = box_->MountTmpfs("vault/a/m/inner");
  EXPECT_EQ(Check("a/m/inner", "b/inner"), -EBUSY);
}

}  // namespace
}  // namespace vaultd::shimtest
