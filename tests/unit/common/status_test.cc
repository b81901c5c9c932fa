#include "vaultd/common/status.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace vaultd {
namespace {

Result<int> ParsePositive(int v) {
  if (v <= 0) return Status::InvalidArgument("value " + std::to_string(v) + " is not positive");
  return v;
}

Result<int> DoubleIt(int v) {
  VAULTD_ASSIGN_OR_RETURN(int x, ParsePositive(v));
  return x * 2;
}

Status CheckBoth(int a, int b) {
  VAULTD_RETURN_IF_ERROR(ParsePositive(a).status());
  VAULTD_RETURN_IF_ERROR(ParsePositive(b).status().WithContext("second"));
  return Status::Ok();
}

TEST(StatusTest, ResultCarriesErrorsThroughCallers) {
  Result<int> good = DoubleIt(21);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 42);

  Result<int> bad = DoubleIt(-3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "value -3 is not positive");
}

TEST(StatusTest, ReturnIfErrorStopsAtFirstFailureAndAddsContext) {
  EXPECT_TRUE(CheckBoth(1, 2).ok());
  Status s = CheckBoth(1, 0);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "second: value 0 is not positive");
  EXPECT_EQ(s.ToString(), "InvalidArgument: second: value 0 is not positive");
}

TEST(StatusTest, FromErrnoMapsCodesAndNamesThePath) {
  Status s = Status::FromErrno(ENOENT, "open /vault/a.md");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.sys_errno(), ENOENT);
  EXPECT_NE(s.message().find("/vault/a.md"), std::string::npos);
  EXPECT_EQ(Status::FromErrno(EROFS, "x").code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(Status::FromErrno(EIO, "x").code(), StatusCode::kIoError);
  EXPECT_EQ(Status::FromErrno(EIO, "x").WithContext("ctx").sys_errno(), EIO);
}

TEST(StatusTest, OkStatusIsOkAndContextKeepsItOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_TRUE(s.WithContext("anything").ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, MoveOnlyValuesWork) {
  Result<std::unique_ptr<int>> r(std::make_unique<int>(7));
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

}  // namespace
}  // namespace vaultd
