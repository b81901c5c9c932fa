#include "vaultd/common/base64.h"

#include <gtest/gtest.h>

#include <random>

namespace vaultd {
namespace {

TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    EXPECT_EQ(Base64Decode(encoded), std::optional<std::string>(plain));
    std::string url = encoded;
    while (!url.empty() && url.back() == '=') url.pop_back();
    EXPECT_EQ(Base64UrlEncode(plain), url);
    EXPECT_EQ(Base64UrlDecode(url), std::optional<std::string>(plain));
  }
}

TEST(Base64, AlphabetsDiffer) {
  const std::string bytes("\xfb\xff\xbf", 3);
  EXPECT_EQ(Base64Encode(bytes), "+/+/");
  EXPECT_EQ(Base64UrlEncode(bytes), "-_-_");
  EXPECT_FALSE(Base64Decode("-_-_"));
  EXPECT_FALSE(Base64UrlDecode("+/+/"));
}

TEST(Base64, DecodersAreStrict) {
  for (const char* bad :
       {"Zg", "Zg=", "Zg===", "Z===", "Zh==", "Zm9v\n", " Zm9v", "Zm=v", "Zm9v====", "*m9v"})
    EXPECT_FALSE(Base64Decode(bad)) << bad;
  for (const char* bad : {"Zg==", "Z", "Zh", "Zm9", "Zm9v=", "Zm 9v", "Zm9v\n"})
    EXPECT_FALSE(Base64UrlDecode(bad)) << bad;
  EXPECT_EQ(Base64UrlDecode("Zm9"), std::nullopt);  // trailing bits of 'Zm9' are not zero
  EXPECT_EQ(Base64UrlDecode("Zm8"), std::optional<std::string>("fo"));
}

TEST(Base64, RoundTripsRandomBytes) {
  const unsigned seed = std::random_device{}();
  std::printf("[ seed    ] %u\n", seed);
  std::mt19937 rng(seed);
  for (int i = 0; i < 500; ++i) {
    std::string bytes(rng() % 64, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    EXPECT_EQ(Base64Decode(Base64Encode(bytes)), std::optional<std::string>(bytes));
    EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(bytes)), std::optional<std::string>(bytes));
  }
}

}  // namespace
}  // namespace vaultd
