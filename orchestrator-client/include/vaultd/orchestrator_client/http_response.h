// The HTTP/1.1 response parser behind HttpFetch, fed the received bytes as
// the reads split them. Callers use HttpFetch (http.h); this header is public
// so that the parser can be driven from bytes alone (its unit tests, the fuzz
// target fuzz_http_response and its corpus replay test).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "vaultd/common/status.h"
#include "vaultd/orchestrator_client/http.h"

namespace vaultd::orchestrator_client::internal {

// Decodes a chunked body as it arrives: every byte is looked at once, wherever
// the reads split it, so many tiny chunks cost linear time. The decoded body is
// capped; the framing is never kept (a size line is capped too).
class ChunkedDecoder {
 public:
  explicit ChunkedDecoder(size_t max_body) : max_body_(max_body) {}
  bool done() const { return state_ == State::kDone; }
  std::string& body() { return body_; }

  // Consumes all of `data` (bytes after the last chunk are ignored, as are trailers).
  Status Feed(std::string_view data);

  static constexpr size_t kMaxSizeLine = 4096;  // hex size plus chunk extensions

 private:
  enum class State { kSizeLine, kData, kDataCr, kDataLf, kDone };
  Status EndSizeLine();

  size_t max_body_;
  State state_ = State::kSizeLine;
  std::string line_;
  size_t remaining_ = 0;
  std::string body_;
};

// One response of a "Connection: close" exchange. The result does not depend
// on how the bytes are split into Feed calls. It ends at the end of the headers
// (HEAD request, status 204 or 304: no body), at Content-Length, at the last
// chunk, or at EOF (FinishAtEof) when the response has neither.
class HttpResponseParser {
 public:
  // The cap on the status line plus headers (with the blank line) that HttpFetch uses.
  static size_t DefaultMaxHead(size_t max_body) {
    constexpr size_t kExtra = 65536;
    return max_body > SIZE_MAX - kExtra ? SIZE_MAX : max_body + kExtra;
  }

  // max_body caps the body (decoded, for a chunked one); max_head the headers.
  HttpResponseParser(size_t max_body, size_t max_head, bool head_request)
      : max_body_(max_body), max_head_(max_head), head_request_(head_request) {}

  // The next received bytes. Errors are kCorruption with the reason (no peer
  // name); after an error every call returns it again. Bytes after the end of
  // the response are ignored.
  Status Feed(std::string_view data);
  // The peer closed the connection: ends a body delimited by EOF; otherwise
  // kUnavailable "before any response", "inside the response headers" or
  // "before the end of the body" (or the earlier kCorruption error).
  Status FinishAtEof();

  bool done() const { return done_; }
  bool chunked() const { return chunked_; }
  const std::optional<size_t>& content_length() const { return content_length_; }
  // Valid once done().
  HttpResponse& response() { return resp_; }

 private:
  Status FeedInner(std::string_view data);
  Status ParseHead(std::string_view head);
  Status FeedBody(std::string_view data);

  size_t max_body_;
  size_t max_head_;
  bool head_request_;
  Status error_ = Status::Ok();
  bool done_ = false;
  bool have_head_ = false;
  std::string head_;  // bytes received before the end of the headers was found
  bool chunked_ = false;
  bool no_body_ = false;
  std::optional<size_t> content_length_;
  std::optional<ChunkedDecoder> dechunk_;
  HttpResponse resp_;
};

}  // namespace vaultd::orchestrator_client::internal
