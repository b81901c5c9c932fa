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

}  // namespace
}  // namespace vaultd
