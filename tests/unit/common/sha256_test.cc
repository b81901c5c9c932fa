#include "vaultd/common/sha256.h"

#include <gtest/gtest.h>

#include "vaultd/common/fs.h"

namespace vaultd {
namespace {

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, StreamingEqualsOneShotAndFileHash) {
  Sha256 h;
  h.Update("a");
  h.Update("bc");
  EXPECT_EQ(h.FinalHex(), Sha256Hex("abc"));
  std::string path = "/tmp/vaultd-sha-test-" + std::to_string(::getpid());
  std::string data(200000, 'q');
  ASSERT_TRUE(WriteFileAtomic(path, data).ok());
  auto fh = Sha256FileHex(path);
  ::unlink(path.c_str());
  ASSERT_TRUE(fh.ok());
  EXPECT_EQ(*fh, Sha256Hex(data));
  EXPECT_FALSE(Sha256FileHex("/nonexistent/x").ok());
}

}  // namespace
}  // namespace vaultd
