// The HTTP response parser behind HttpFetch, driven from bytes: the cases the
// split-independence work decided (EOF bodies, HEAD/204/304, the header cap).
#include "vaultd/orchestrator_client/http_response.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace vaultd::orchestrator_client::internal {
namespace {

struct Parsed {
  Status status = Status::Ok();
  bool ended_before_eof = false;
  HttpResponse resp;
};

// Feeds `raw` in reads of `piece` bytes (0: whole), then EOF.
Parsed Parse(const std::string& raw, size_t max_body, bool head_request = false, size_t piece = 0,
             size_t max_head = 0) {
  HttpResponseParser p(max_body, max_head ? max_head : HttpResponseParser::DefaultMaxHead(max_body),
                       head_request);
  Parsed out;
  const size_t step = piece ? piece : std::max<size_t>(raw.size(), 1);
  for (size_t at = 0; at < raw.size() && out.status.ok(); at += step)
    out.status = p.Feed(raw.substr(at, step));
  if (out.status.ok()) {
    out.ended_before_eof = p.done();
    out.status = p.FinishAtEof();
  }
  if (out.status.ok()) out.resp = p.response();
  return out;
}

TEST(HttpResponseParser, BodyEndingAtEofIsCappedWhateverTheReads) {
  const std::string head = "HTTP/1.0 200 OK\r\nServer: t\r\n\r\n";
  for (size_t piece : {0, 1, 7, 4096}) {
    auto at_cap = Parse(head + std::string(100, 'x'), 100, false, piece);
    ASSERT_TRUE(at_cap.status.ok()) << at_cap.status.ToString();
    EXPECT_FALSE(at_cap.ended_before_eof);
    EXPECT_EQ(at_cap.resp.body, std::string(100, 'x'));
    auto over = Parse(head + std::string(101, 'x'), 100, false, piece);
    EXPECT_EQ(over.status.code(), StatusCode::kCorruption) << piece;
    EXPECT_EQ(over.status.message(), "body without Content-Length exceeds the limit of 100 bytes");
  }
}

TEST(HttpResponseParser, HeadAnd204And304EndAtTheHeaders) {
  auto head = Parse("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n", 100, true);
  ASSERT_TRUE(head.status.ok()) << head.status.ToString();
  EXPECT_TRUE(head.ended_before_eof);
  EXPECT_EQ(head.resp.Header("content-length"), "50");
  EXPECT_EQ(head.resp.body, "");
  for (size_t piece : {0, 1, 3}) {
    auto no_content =
        Parse("HTTP/1.1 204 No Content\r\nX: y\r\n\r\nstray bytes", 100, false, piece);
    ASSERT_TRUE(no_content.status.ok()) << no_content.status.ToString();
    EXPECT_TRUE(no_content.ended_before_eof);
    EXPECT_EQ(no_content.resp.status, 204);
    EXPECT_EQ(no_content.resp.body, "");
  }
  auto not_modified = Parse("HTTP/1.1 304 Not Modified\r\n\r\n", 100);
  ASSERT_TRUE(not_modified.status.ok());
  EXPECT_EQ(not_modified.resp.status, 304);
}

TEST(HttpResponseParser, HeaderCapIsWhereTheBlankLineEnds) {
  const std::string raw = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  const size_t head_len = raw.size() - 2;
  for (size_t piece : {0, 1, 5}) {
    auto fits = Parse(raw, 100, false, piece, head_len);
    ASSERT_TRUE(fits.status.ok()) << fits.status.ToString();
    EXPECT_EQ(fits.resp.body, "ok");
    auto over = Parse(raw, 100, false, piece, head_len - 1);
    EXPECT_EQ(over.status.code(), StatusCode::kCorruption);
    EXPECT_EQ(over.status.message(), "response exceeds the size limit");
  }
}

TEST(HttpResponseParser, ChunkedWithExtensionsAndTrailersAtEverySplit) {
  const std::string raw =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n1\r\n "
      "\r\n5\r\nworld\r\n0\r\nT: 1\r\n\r\n";
  for (size_t piece = 0; piece < raw.size(); ++piece) {
    auto r = Parse(raw, 11, false, piece);
    ASSERT_TRUE(r.status.ok()) << piece << ": " << r.status.ToString();
    EXPECT_TRUE(r.ended_before_eof);
    EXPECT_EQ(r.resp.body, "hello world") << piece;
  }
  auto over = Parse(raw, 10);
  EXPECT_EQ(over.status.message(), "chunked body exceeds the limit of 10 bytes");
  auto cut = Parse(raw.substr(0, raw.size() - 10), 100);
  EXPECT_EQ(cut.status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(cut.status.message(), "before the end of the body");
}

}  // namespace
}  // namespace vaultd::orchestrator_client::internal
