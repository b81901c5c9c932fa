#include <gtest/gtest.h>
#include <climits>
#include <cmath>
#include <memory>
#include <string>

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
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128}, uint64_t{16383},
                     uint64_t{16384}, uint64_t{0xffffffff}, kMaxSafeInteger}) {
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
  for (double v :
       {0.0, -0.0, 1.0, -1.0, 63.0, 64.0, -64.0, 2147483647.0, -2147483648.0, 9007199254740991.0}) {
    auto b = Enc([&](Encoder& e) { e.WriteVarInt(v); });
    Decoder d(b);
    auto r = d.ReadVarInt();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, v);
    EXPECT_EQ(std::signbit(*r), std::signbit(v)) << v;
  }
}

TEST(Lib0, StringsAreUtf8AndLengthsCountUtf16) {
  EXPECT_EQ(Utf16Length("a😀"), 3u);
  EXPECT_EQ(Utf16Length("😀"), 2u);
  bool mid = false;
  EXPECT_EQ(Utf8OffsetOfUnit("a😀", 3, &mid), 5u);
  EXPECT_FALSE(mid);
  EXPECT_EQ(Utf8OffsetOfUnit("a😀", 2, &mid), 1u);  // between the halves of the pair
  EXPECT_TRUE(mid);
  EXPECT_EQ(Utf8OfUnit("a😀", 0), "a");
  // A lone surrogate is written as U+FFFD, as TextEncoder does.
  EXPECT_EQ(Utf8OfUnit("a😀", 1), "\xef\xbf\xbd");
  EXPECT_EQ(Utf8OfUnit("a😀", 2), "\xef\xbf\xbd");
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
  EXPECT_EQ(
      json,
      R"({"a":[1,{"$binary":"CQ=="}],"b":"-5","d":0.1,"f":1.5,"i":-42,"n":null,"s":"x😀","t":true,"u":null})");
}

TEST(Lib0, DeeplyNestedAnyIsRejectedNotOverflowed) {
  std::vector<uint8_t> b(100000, 117);  // arrays of one array of ...
  for (size_t i = 1; i < b.size(); i += 2) b[i] = 1;
  Decoder d(b);
  EXPECT_FALSE(ReadAny(d).ok());
}

// `{"k0":0,"k1":1,...}` with n keys.
std::string ManyKeys(int n) {
  std::string s = "{";
  for (int i = 0; i < n; ++i) {
    if (i) s += ',';
    s += "\"k" + std::to_string(i) + "\":" + std::to_string(i);
  }
  return s;
}

// No size cap bounds a JSON text here (ContentJSON, embeds, formats and
// awareness states are as long as their frame). Parsing through
// nlohmann::ordered_json looked every key up linearly: 100,000 keys took
// about 40 s (quadratic) and ran into this test's timeout.
TEST(Json, HundredThousandKeysParseInTextOrderAndLinearTime) {
  const int n = 100000;
  std::string text = ManyKeys(n) + ",\"k5\":\"again\"}";  // a repeated key overwrites in place
  ASSERT_TRUE(ValidateJsonText(text).ok());
  auto r = ParseJsonText(text);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& obj = *std::get<std::shared_ptr<AnyObject>>(r->v);
  ASSERT_EQ(obj.size(), static_cast<size_t>(n));
  EXPECT_EQ(obj[0].first, "k0");
  EXPECT_TRUE(obj[5].second == Any("again"));
  EXPECT_EQ(obj[n - 1].first, "k" + std::to_string(n - 1));
  EXPECT_TRUE(obj[n - 1].second == Any(n - 1));
  // Broken after all the keys: still an error, from both.
  EXPECT_FALSE(ValidateJsonText(ManyKeys(n) + ",}").ok());
  EXPECT_FALSE(ParseJsonText(ManyKeys(n) + ",}").ok());
  EXPECT_FALSE(ParseJsonText(ManyKeys(n) + "} x").ok());
  // JavaScript key order (the ydoc transport) on as many integer keys.
  std::string ints = "{\"z\":0";
  for (int i = n; i > 0; --i) ints += ",\"" + std::to_string(i) + "\":" + std::to_string(i);
  ints += "}";
  auto js = ParseJsonText(ints, {.js_key_order = true});
  ASSERT_TRUE(js.ok()) << js.status().ToString();
  const auto& jobj = *std::get<std::shared_ptr<AnyObject>>(js->v);
  ASSERT_EQ(jobj.size(), static_cast<size_t>(n + 1));
  EXPECT_EQ(jobj[0].first, "1");
  EXPECT_EQ(jobj[n - 1].first, std::to_string(n));
  EXPECT_EQ(jobj[n].first, "z");
}

TEST(Json, ValidateAgreesWithParse) {
  const char* cases[] = {
      "1",
      "-0",
      "1e400",
      "\"s\"",
      "null",
      "[]",
      "{}",
      "{\"a\":1,\"a\":2}",
      "[1,]",
      "{\"a\"}",
      "{'a':1}",
      "[1] 2",
      "[1] ",
      "// c\n1",
      "\"\\ud800\"",
      "\"\xff\"",
      "",
      "undefined",
      "{\"a\":[{\"b\":[]}]}",
      "tru",
  };
  for (const char* c : cases) {
    EXPECT_EQ(ValidateJsonText(c).ok(), ParseJsonText(c).ok()) << c;
  }
  std::string deep(201, '['), ok_deep(200, '[');
  deep += std::string(201, ']');
  ok_deep += std::string(200, ']');
  EXPECT_FALSE(ValidateJsonText(deep).ok());
  EXPECT_FALSE(ParseJsonText(deep).ok());
  EXPECT_TRUE(ValidateJsonText(ok_deep).ok());
  EXPECT_TRUE(ParseJsonText(ok_deep).ok());
  EXPECT_NE(ValidateJsonText(deep).message().find("nested too deeply"), std::string::npos);
  EXPECT_NE(ParseJsonText(deep).status().message().find("nested too deeply"), std::string::npos);
  std::string deep_objects;
  for (int i = 0; i < 201; ++i) deep_objects += "{\"a\":";
  deep_objects += "1" + std::string(201, '}');
  EXPECT_NE(ValidateJsonText(deep_objects).message().find("nested too deeply"), std::string::npos);
  EXPECT_NE(ParseJsonText(deep_objects).status().message().find("nested too deeply"),
            std::string::npos);
  auto bad = ParseJsonText("{\"a\":");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("invalid JSON content: [json.exception.parse_error"),
            std::string::npos)
      << bad.status().ToString();
}

TEST(Json, ParseKeepsTextOrderAndReadsTheTransportOnlyWhenAsked) {
  auto canon = [](const Any& a) {
    std::string out;
    AppendCanonicalJson(a, &out);
    return out;
  };
  // Plain JSON.parse data: duplicate keys keep the first place, last value.
  auto r = ParseJsonText(R"({"b":1,"2":[true,null,1.5],"a":{"x":"y"},"b":3})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ToJsonText(*r), R"({"b":3,"2":[true,null,1.5],"a":{"x":"y"}})");
  r = ParseJsonText(R"({"b":1,"2":2,"1":1})", {.js_key_order = true});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ToJsonText(*r), R"({"1":1,"2":2,"b":1})");
  r = ParseJsonText(R"({"01":1,"4294967295":2,"4294967294":3,"-1":4,"0":5})",
                    {.js_key_order = true});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ToJsonText(*r), R"({"0":5,"4294967294":3,"01":1,"4294967295":2,"-1":4})");
  // The escapes are data unless the transport is asked for.
  const char* escaped =
      R"([{"$binary":"AQI="},{"$undefined":true},{"$bigint":"-9223372036854775808"},{"$binary":1}])";
  r = ParseJsonText(escaped);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(
      canon(*r),
      R"([{"$binary":"AQI="},{"$undefined":true},{"$bigint":"-9223372036854775808"},{"$binary":1}])");
  r = ParseJsonText(escaped, {.transport = true});
  ASSERT_TRUE(r.ok());
  const auto& arr = *std::get<std::shared_ptr<AnyArray>>(r->v);
  ASSERT_EQ(arr.size(), 4u);
  EXPECT_TRUE(arr[0] == Any(Binary{1, 2}));
  EXPECT_TRUE(arr[1].IsUndefined());
  EXPECT_TRUE(arr[2] == Any(BigInt{INT64_MIN}));
  EXPECT_EQ(canon(arr[3]), R"({"$binary":1})");  // not a string: an ordinary object
  // Transport errors: reported for a value that stays, as a walk over the tree would.
  auto err = [](const char* t) {
    auto x = ParseJsonText(t, {.js_key_order = true, .transport = true});
    return x.ok() ? std::string("ok") : std::string(x.status().message());
  };
  EXPECT_EQ(err(R"({"$binary":"!!"})"), "bad base64 in $binary");
  EXPECT_EQ(err(R"({"$bigint":"x"})"), "bad $bigint");
  EXPECT_EQ(err(R"({"$bigint":5})"), "bad $bigint");
  EXPECT_EQ(err(R"([1,{"$bigint":"x"},{"$binary":"!!"}])"), "bad $bigint");
  EXPECT_EQ(err(R"({"a":{"$binary":"!!"},"b":{"$bigint":"x"}})"), "bad base64 in $binary");
  EXPECT_EQ(err(R"({"b":{"$bigint":"x"},"1":{"$binary":"!!"}})"),
            "bad $bigint");                                    // text order, not key order
  EXPECT_EQ(err(R"({"$undefined":{"$binary":"!!"}})"), "ok");  // dropped with its value
  EXPECT_EQ(err(R"({"a":{"$binary":"!!"},"a":1})"), "ok");     // overwritten
  EXPECT_EQ(err(R"({"$bigint":{"$binary":"!!"}})"), "bad $bigint");
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
