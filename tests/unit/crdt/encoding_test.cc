#include <cmath>
#include <gtest/gtest.h>

#include "vaultd/crdt/any.h"
#include "vaultd/crdt/encoding.h"

namespace vaultd::crdt {
namespace {

std::vector<uint8_t> Enc(auto f) {
  Encoder e;
  f(e);
  return e.Take();
}

TEST(Lib0, VarUintRoundTripsUpTo2Pow53) {
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128}, uint64_t{16383}, uint64_t{16384},
                     uint64_t{0xffffffff}, kMaxSafeInteger}) {
    auto b = Enc([&](Encoder& e) { e.WriteVarUint(v); });
    Decoder d(b);
    auto r = d.ReadVarUint();
    ASSERT_TRUE(r.ok()) << v;
    EXPECT_EQ(*r, v);
    EXPECT_TRUE(d.AtEnd());
  }
  EXPECT_EQ(Enc([](Encoder& e) { e.WriteVarUint(128); }), (std::vector<uint8_t>{0x80, 0x01}));
}

TEST(Lib0, VarUintBeyond2Pow53IsAnError) {
  auto b = Enc([](Encoder& e) { e.WriteVarUint(kMaxSafeInteger + 1); });
  Decoder d(b);
  EXPECT_FALSE(d.ReadVarUint().ok());
  std::vector<uint8_t> endless(20, 0xff);
  Decoder d2(endless);
  EXPECT_FALSE(d2.ReadVarUint().ok());
}

TEST(Lib0, VarIntKeepsSignAndNegativeZero) {
  EXPECT_EQ(Enc([](Encoder& e) { e.WriteVarInt(-0.0); }), (std::vector<uint8_t>{0x40}));
  EXPECT_EQ(Enc([](Encoder& e) { e.WriteVarInt(0.0); }), (std::vector<uint8_t>{0x00}));
  for (double v : {0.0, -0.0, 1.0, -1.0, 63.0, 64.0, -64.0, 2147483647.0, -2147483648.0, 9007199254740991.0}) {
    auto b = Enc([&](Encoder& e) { e.WriteVarInt(v); });
    Decoder d(b);
    auto r = d.ReadVarInt();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, v);
    EXPECT_EQ(std::signbit(*r), std::signbit(v)) << v;
  }
}

TEST(Lib0, StringsAreUtf8AndLengthsCountUtf16) {
  std::u16string u;
  ASSERT_TRUE(Utf8ToUtf16("a😀", &u));
  EXPECT_EQ(u.size(), 3u);
  EXPECT_EQ(Utf16Length("😀"), 2u);
  EXPECT_EQ(Utf16ToUtf8(u), "a😀");
  // A lone surrogate is written as U+FFFD, as TextEncoder does.
  EXPECT_EQ(Utf16ToUtf8(std::u16string(1, u'\xd83d')), "\xef\xbf\xbd");
  // Invalid UTF-8 is rejected when reading (lib0 decodes with fatal: true).
  std::vector<uint8_t> bad{0x02, 0xc3, 0x28};
  Decoder d(bad);
  EXPECT_FALSE(d.ReadVarString().ok());
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));  // an encoded surrogate
}

TEST(Lib0, LengthsAreCappedByTheInput) {
  std::vector<uint8_t> huge{0xff, 0xff, 0xff, 0xff, 0x0f, 'a'};
  Decoder d(huge);
  EXPECT_FALSE(d.ReadVarBytes().ok());
  Decoder d2(huge);
  EXPECT_FALSE(d2.ReadLength().ok());
}

TEST(Lib0, AnyPicksTagsLikeWriteAny) {
  auto tag = [](const Any& a) {
    Encoder e;
    WriteAny(e, a);
    return e.data()[0];
  };
  EXPECT_EQ(tag(Any()), 127);
  EXPECT_EQ(tag(Any(nullptr)), 126);
  EXPECT_EQ(tag(Any(5)), 125);
  EXPECT_EQ(tag(Any(2147483648.0)), 124);  // beyond BITS31, exact in float32
  EXPECT_EQ(tag(Any(0.5)), 124);
  EXPECT_EQ(tag(Any(0.1)), 123);
  EXPECT_EQ(tag(Any(BigInt{7})), 122);
  EXPECT_EQ(tag(Any(false)), 121);
  EXPECT_EQ(tag(Any(true)), 120);
  EXPECT_EQ(tag(Any("s")), 119);
  EXPECT_EQ(tag(Any(AnyObject{})), 118);
  EXPECT_EQ(tag(Any(AnyArray{})), 117);
  EXPECT_EQ(tag(Any(Binary{1, 2})), 116);
}

TEST(Lib0, AnyRoundTripsEveryTag) {
  Any v(AnyObject{{"u", Any()},
                  {"n", Any(nullptr)},
                  {"i", Any(-42)},
                  {"f", Any(1.5)},
                  {"d", Any(0.1)},
                  {"b", Any(BigInt{-5})},
                  {"t", Any(true)},
                  {"s", Any("x😀")},
                  {"a", Any(AnyArray{Any(1), Any(Binary{9})})}});
  Encoder e;
  WriteAny(e, v);
  Decoder d(e.data());
  auto r = ReadAny(d);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(*r == v);
  std::string json;
  AppendCanonicalJson(*r, &json);
  EXPECT_EQ(json,
            R"({"a":[1,{"$binary":"CQ=="}],"b":"-5","d":0.1,"f":1.5,"i":-42,"n":null,"s":"x😀","t":true,"u":null})");
}

TEST(Lib0, DeeplyNestedAnyIsRejectedNotOverflowed) {
  std::vector<uint8_t> b(100000, 117);  // arrays of one array of ...
  for (size_t i = 1; i < b.size(); i += 2) b[i] = 1;
  Decoder d(b);
  EXPECT_FALSE(ReadAny(d).ok());
}

TEST(Base64, RoundTrips) {
  for (size_t n = 0; n < 8; ++n) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 37 + 1);
    std::vector<uint8_t> back;
    ASSERT_TRUE(Base64Decode(Base64Encode(v), &back));
    EXPECT_EQ(back, v);
  }
}

}  // namespace
}  // namespace vaultd::crdt
