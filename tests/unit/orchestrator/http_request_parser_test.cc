// The service's request-head parser: what it accepts, and the status each framing
// problem is refused with (RFC 9112).
#include <gtest/gtest.h>

#include "fuzz_support.h"
#include "http_request_fuzz_entry.h"
#include "vaultd/orchestrator/http_request_parser.h"

namespace vaultd::orchestrator::service {
namespace {

HttpParseResult Parse(std::string_view text, HttpParseLimits limits = {}) {
  size_t scanned = 0;
  return ParseHttpRequestHead(text, &scanned, limits);
}

int Refusal(std::string_view text) {
  HttpParseResult r = Parse(text);
  EXPECT_EQ(r.kind, HttpParseResult::Kind::kError) << text;
  return r.status;
}

TEST(HttpRequestParser, ReadsARequestHead) {
  const std::string text =
      "GET /v1/mountset?x=1 HTTP/1.1\r\nHost: a\r\nAuthorization:  Bearer t \r\nX-Y: z\r\n\r\nGET "
      "/next";
  HttpParseResult r = Parse(text);
  ASSERT_EQ(r.kind, HttpParseResult::Kind::kHead) << r.reason;
  EXPECT_EQ(r.consumed, text.find("GET /next"));
  EXPECT_EQ(r.head.method, "GET");
  EXPECT_EQ(r.head.path, "/v1/mountset");
  ASSERT_NE(r.head.Find("authorization"), nullptr);
  EXPECT_EQ(*r.head.Find("authorization"), "Bearer t");
  EXPECT_TRUE(r.head.keep_alive);
  EXPECT_FALSE(r.head.content_length);
}

TEST(HttpRequestParser, WaitsForTheWholeHeadAndKeepsScanningLinear) {
  const std::string text = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  size_t scanned = 0;
  for (size_t n = 0; n < text.size(); ++n) {
    HttpParseResult r = ParseHttpRequestHead(std::string_view(text).substr(0, n), &scanned, {});
    ASSERT_EQ(r.kind, HttpParseResult::Kind::kNeedMore) << n;
    EXPECT_EQ(scanned, n);
  }
  EXPECT_EQ(ParseHttpRequestHead(text, &scanned, {}).kind, HttpParseResult::Kind::kHead);
}

TEST(HttpRequestParser, KeepAliveFollowsVersionAndConnection) {
  EXPECT_FALSE(Parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").head.keep_alive);
  EXPECT_FALSE(Parse("GET / HTTP/1.0\r\n\r\n").head.keep_alive);
  EXPECT_TRUE(Parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").head.keep_alive);
}

TEST(HttpRequestParser, ContentLengthMustBeOneNumber) {
  EXPECT_EQ(Parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n").head.content_length,
            12u);
  EXPECT_EQ(Parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n").head.content_length,
            5u);
  EXPECT_EQ(Parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n")
                .head.content_length,
            5u);
  EXPECT_EQ(Refusal("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
            400);
  EXPECT_EQ(Refusal("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n"), 400);
  EXPECT_EQ(Refusal("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"), 400);
  EXPECT_EQ(Refusal("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n"), 400);
  EXPECT_EQ(Refusal("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n"),
            400);
}

TEST(HttpRequestParser, TransferEncodingIsRefused) {
  // Both framings at once: never answered by either (request smuggling).
  EXPECT_EQ(
      Refusal(
          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"),
      400);
  EXPECT_EQ(
      Refusal(
          "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"),
      400);
  EXPECT_EQ(Refusal("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"), 411);
  EXPECT_EQ(Refusal("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 411);
  EXPECT_EQ(Refusal("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"), 501);
}

TEST(HttpRequestParser, UpgradesAreRefused) {
  EXPECT_EQ(
      Refusal("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
              "HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"),
      400);
  EXPECT_EQ(
      Refusal("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
      400);
  EXPECT_EQ(Refusal("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 505);
}

TEST(HttpRequestParser, MalformedSyntaxIsRefused) {
  EXPECT_EQ(Refusal("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n folded\r\n\r\n"), 400);
  EXPECT_EQ(Refusal("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400);
  EXPECT_EQ(Refusal("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n"), 400);
  EXPECT_EQ(Refusal("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n"), 400);
  EXPECT_EQ(Refusal("GET / HTTP/1.1\r\nNo colon\r\n\r\n"), 400);
  EXPECT_EQ(Refusal("GET / HTTP/1.1\r\n\r\n"), 400);                        // no Host
  EXPECT_EQ(Refusal("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);  // two
  EXPECT_EQ(Refusal("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(Refusal("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(Refusal("GET / HTTP/3.0\r\nHost: a\r\n\r\n"), 505);
  EXPECT_EQ(Refusal("GET / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n"), 417);
  EXPECT_EQ(Refusal("\n\r\n\r\n"), 400);
}

TEST(HttpRequestParser, LimitsHeadSizeAndFieldCount) {
  HttpParseLimits small{64, 3};
  size_t scanned = 0;
  const std::string big = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(100, 'x');
  EXPECT_EQ(ParseHttpRequestHead(big, &scanned, small).status,
            431);  // before the head is even complete
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", small).status, 431);
}

TEST(HttpRequestFuzzCorpus, ReplaysCleanly) {
  EXPECT_GT(fuzzing::ReplayCorpus(VAULTD_SOURCE_DIR, "fuzz_http_request", &FuzzHttpRequestOne),
            10u);
}

}  // namespace
}  // namespace vaultd::orchestrator::service
