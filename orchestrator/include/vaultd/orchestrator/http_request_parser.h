// The request side of the service's HTTP/1.1 (RFC 9112): the request line and
// header section of one request, read strictly. The server feeds it what it
// has received so far; the parser says "need more", "here is a request head"
// or "refuse with this status and close". Bodies are framed only by
// Content-Length: Transfer-Encoding (chunked or otherwise) is refused, as is
// any request whose framing two readers could disagree on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vaultd::orchestrator::service {

struct HttpRequestHead {
  std::string method;     // as sent (case-sensitive, RFC 9110 §9.1)
  std::string path;       // the target up to '?' (no decoding, no normalisation)
  int minor_version = 1;  // HTTP/1.<minor>
  // Field names lower-cased, values without surrounding whitespace, in arrival order.
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<uint64_t> content_length;
  bool keep_alive = true;        // HTTP/1.1 unless "Connection: close"; 1.0 only with "keep-alive"
  bool expect_continue = false;  // "Expect: 100-continue"

  // The first value of a header (lower-case name), or nullptr.
  const std::string* Find(std::string_view name) const;
};

struct HttpParseLimits {
  size_t max_head_bytes = 64 * 1024;  // request line + headers + the blank line
  size_t max_headers = 100;
};

struct HttpParseResult {
  enum class Kind { kNeedMore, kHead, kError } kind = Kind::kNeedMore;
  size_t consumed = 0;  // kHead: bytes of the head, the body (if any) starts here
  HttpRequestHead head;
  int status = 0;      // kError: the status to answer with before closing
  std::string reason;  // kError: for the log (never echoes more than a few bytes of input)
};

// Parses the head at the start of `buffer`. `scanned` is how far a previous call
// already looked for the end of the head (to keep repeated calls linear); it is
// updated. Methods and paths are not judged here; framing and syntax are:
//   400 malformed line or field, obs-fold, whitespace before ':', bare CR or LF,
//       Content-Length together with Transfer-Encoding, conflicting or invalid
//       Content-Length, a missing or repeated Host in HTTP/1.1, an Upgrade request
//   411 Transfer-Encoding: chunked (a body needs Content-Length)
//   431 a head longer than max_head_bytes or with more than max_headers fields
//   501 any other Transfer-Encoding
//   505 a version other than HTTP/1.0 and HTTP/1.1
HttpParseResult ParseHttpRequestHead(std::string_view buffer, size_t* scanned,
                                     const HttpParseLimits& limits);

}  // namespace vaultd::orchestrator::service
