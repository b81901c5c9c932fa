#include "http_request_fuzz_entry.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "vaultd/orchestrator/http_request_parser.h"

namespace vaultd::orchestrator::service {
namespace {

void Check(bool ok, const char* what) { fuzzing::Check(ok, "fuzz_http_request", what); }

// Feeds `reads` the way the server does: append, parse from the start, remember `scanned`.
HttpParseResult Feed(const std::vector<std::string_view>& reads, const HttpParseLimits& limits) {
  std::string buffer;
  size_t scanned = 0;
  HttpParseResult r;
  for (std::string_view read : reads) {
    buffer.append(read);
    r = ParseHttpRequestHead(buffer, &scanned, limits);
    if (r.kind != HttpParseResult::Kind::kNeedMore) return r;
    Check(scanned <= buffer.size(), "scanned beyond the buffer");
  }
  return r;
}

bool Same(const HttpParseResult& a, const HttpParseResult& b) {
  if (a.kind != b.kind || a.status != b.status || a.consumed != b.consumed) return false;
  return a.head.method == b.head.method && a.head.path == b.head.path &&
         a.head.headers == b.head.headers && a.head.content_length == b.head.content_length &&
         a.head.keep_alive == b.head.keep_alive;
}

}  // namespace

void FuzzHttpRequestOne(const uint8_t* data, size_t size) {
  if (size < 2) return;
  HttpParseLimits limits;
  if (data[0] != 255) limits.max_head_bytes = 16 + 32u * data[0];
  const size_t k = data[1] % 8;
  size_t pos = 2;
  if (size < pos + k) return;
  std::vector<uint8_t> lengths(data + pos, data + pos + k);
  pos += k;
  const std::string_view input(reinterpret_cast<const char*>(data + pos), size - pos);

  size_t scanned = 0;
  const HttpParseResult whole = ParseHttpRequestHead(input, &scanned, limits);
  std::vector<std::string_view> reads;
  for (size_t at = 0, i = 0; at < input.size(); ++i) {
    size_t n = std::min<size_t>(k == 0 ? 1 : lengths[i % k] + 1u, input.size() - at);
    reads.push_back(input.substr(at, n));
    at += n;
  }
  const HttpParseResult split = Feed(reads, limits);
  // A split input can only stop earlier (an error or a head found in a prefix is final).
  if (whole.kind == HttpParseResult::Kind::kHead || split.kind == HttpParseResult::Kind::kHead)
    Check(Same(whole, split), "the split request parses differently from the whole one");

  if (whole.kind == HttpParseResult::Kind::kError) {
    const int s = whole.status;
    Check(s == 400 || s == 411 || s == 417 || s == 431 || s == 501 || s == 505,
          "an unexpected error status");
    return;
  }
  if (whole.kind == HttpParseResult::Kind::kNeedMore) {
    Check(input.size() <= limits.max_head_bytes,
          "more than the head limit buffered without an error");
    return;
  }
  const HttpRequestHead& h = whole.head;
  Check(whole.consumed <= input.size() && whole.consumed <= limits.max_head_bytes,
        "head beyond the input or limit");
  Check(input.substr(0, whole.consumed).size() >= 4 &&
            input.substr(whole.consumed - 4, 4) == "\r\n\r\n",
        "the head does not end with an empty line");
  Check(!h.method.empty(), "empty method");
  Check(h.method == "CONNECT" || h.method == "OPTIONS" || (!h.path.empty() && h.path[0] == '/'),
        "a path that is not absolute");
  Check(h.headers.size() <= limits.max_headers, "more headers than the limit");
  for (const auto& [name, value] : h.headers) {
    Check(!name.empty() && name.find_first_of(" \t\r\n:") == std::string::npos,
          "a malformed header name");
    Check(value.find_first_of("\r\n") == std::string::npos, "CR or LF in a header value");
    Check(name != "transfer-encoding" && name != "upgrade", "a refused header in an accepted head");
  }
  if (h.minor_version == 1) Check(h.Find("host") != nullptr, "HTTP/1.1 without Host accepted");
}

}  // namespace vaultd::orchestrator::service
