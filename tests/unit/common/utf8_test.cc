#include "vaultd/common/utf8.h"

#include <gtest/gtest.h>

namespace vaultd {
namespace {

TEST(Utf8, AcceptsWellFormedText) {
  for (const char* ok : {"", "ascii", "j\xc3\xbcrgen", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                         "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf"})
    EXPECT_TRUE(IsValidUtf8(ok)) << ok;
  EXPECT_TRUE(IsValidUtf8(std::string_view("a\0b", 3)));
}

TEST(Utf8, RefusesIllFormedText) {
  for (const char* bad : {
           "\x80",                  // continuation byte first
           "\xc3",                  // truncated
           "\xc3\x28",              // bad continuation
           "\xc0\xaf",              // overlong '/'
           "\xe0\x80\xaf",          // overlong
           "\xf0\x80\x80\xaf",      // overlong
           "\xed\xa0\x80",          // surrogate U+D800
           "\xed\xbf\xbf",          // surrogate U+DFFF
           "\xf4\x90\x80\x80",      // above U+10FFFF
           "\xf8\x88\x80\x80\x80",  // five-byte form
           "\xff",
           "ok\xe2\x82",
       })
    EXPECT_FALSE(IsValidUtf8(bad)) << bad;
}

TEST(Utf8, CountsUtf16UnitsAsJavaScriptDoes) {
  EXPECT_EQ(Utf16Length(""), 0u);
  EXPECT_EQ(Utf16Length("a\xf0\x9f\x98\x80"
                        "b"),
            4u);  // U+1F600 is a surrogate pair
  EXPECT_EQ(Utf16Length("\xc3\xa9\xe2\x82\xac\xe4\xb8\xad"), 3u);
  // Long ASCII runs around other characters, across the eight-byte steps.
  const std::string ascii(37, 'x');
  EXPECT_EQ(Utf16Length(ascii + "\xc3\xa9" + ascii + "\xf0\x9f\x98\x80" + ascii), 3 * 37 + 3u);
}

TEST(Utf8, CountsInvalidBytesAsCharactersOfTheirOwn) {
  // A stray continuation byte, a byte that cannot lead, a lead cut short by ASCII,
  // and a lead at the very end: each one character of one unit.
  EXPECT_EQ(Utf16Length("\x80"), 1u);
  EXPECT_EQ(Utf16Length("\xff\xfe"), 2u);
  EXPECT_EQ(Utf16Length("\xf0\x9f"
                        "a"),
            2u);
  EXPECT_EQ(Utf16Length("a\xf0"), 2u);
  EXPECT_EQ(Utf8CharLength("\xf0\x9f"
                           "a",
                           0),
            2u);
  EXPECT_EQ(Utf8CharLength("\xe2\x82\xac", 0), 3u);
  EXPECT_EQ(Utf8CharLength("\xe2\x82\xac", 1), 1u);
  EXPECT_EQ(Utf8SequenceLength(0xf8), 1u);
}

}  // namespace
}  // namespace vaultd
