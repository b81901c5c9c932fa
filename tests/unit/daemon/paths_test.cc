#include "vaultd/daemon/paths.h"

#include <gtest/gtest.h>

#include <string>

namespace vaultd::daemon {
namespace {

TEST(PathsTest, ObsidianTrashAndOurStateAreIgnoredAnywhere) {
  EXPECT_TRUE(IsIgnoredPath(".obsidian/app.json"));
  EXPECT_TRUE(IsIgnoredPath("notes/.trash/a.md"));
  EXPECT_TRUE(IsIgnoredPath(".vaultd"));
  EXPECT_FALSE(IsIgnoredPath("notes/obsidian.md"));
  EXPECT_FALSE(IsIgnoredPath("a.md"));
}

TEST(PathsTest, TempAndSwapFilesAreIgnored) {
  EXPECT_TRUE(IsIgnoredPath("a/.vaultd-tmp-1234"));
  EXPECT_TRUE(IsIgnoredPath("a/.vaultd-move-0123abcd.tmp"));
  EXPECT_TRUE(IsIgnoredPath("a/.note.md.swp"));
  EXPECT_TRUE(IsIgnoredPath("a/note.md~"));
  EXPECT_FALSE(IsIgnoredPath("a/note.tmp.md"));
}

TEST(PathsTest, UnsafeDocKeysAreRefused) {
  EXPECT_TRUE(IsSafeDocKey("a.md"));
  EXPECT_TRUE(IsSafeDocKey("deep/er/\xF0\x9F\x98\x80.md"));
  for (std::string bad :
       {"", "/etc/passwd", "../x.md", "a/../../x", "a\\b.md", "a//b.md", "a/./b.md", "a/",
        "x\x01.md", ".obsidian/plugins/evil/main.js", "a/.trash/b.md", "bad\xC0\xAF.md"}) {
    EXPECT_FALSE(IsSafeDocKey(bad)) << bad;
  }
  EXPECT_FALSE(IsSafeDocKey(std::string("a\0b", 3)));
  EXPECT_FALSE(IsSafeDocKey(std::string(256, 'a')));
  EXPECT_TRUE(IsSafeDocKey(std::string(255, 'a')));
}

}  // namespace
}  // namespace vaultd::daemon
