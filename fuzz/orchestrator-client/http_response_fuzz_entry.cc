#include "http_response_fuzz_entry.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "vaultd/orchestrator_client/http_response.h"

namespace vaultd::orchestrator_client {
namespace {

using internal::HttpResponseParser;

void Check(bool ok, const char* what) { fuzzing::Check(ok, "fuzz_http_response", what); }

struct Outcome {
  Status status = Status::Ok();
  bool ended_before_eof = false;  // complete before the EOF was reported
  bool chunked = false;
  std::optional<size_t> content_length;
  HttpResponse resp;
};

Outcome Parse(const std::vector<std::string_view>& reads, size_t max_body, size_t max_head,
              bool head_request) {
  HttpResponseParser parser(max_body, max_head, head_request);
  Outcome out;
  for (std::string_view r : reads) {
    out.status = parser.Feed(r);
    if (!out.status.ok()) break;
  }
  if (out.status.ok()) {
    out.ended_before_eof = parser.done();
    out.status = parser.FinishAtEof();
  }
  if (out.status.ok()) {
    Check(parser.done(), "parser not done after a clean EOF");
    out.resp = parser.response();
  }
  out.chunked = parser.chunked();
  out.content_length = parser.content_length();
  return out;
}

bool SameOutcome(const Outcome& a, const Outcome& b) {
  if (a.status.code() != b.status.code() || a.status.message() != b.status.message()) return false;
  if (!a.status.ok()) return true;
  return a.ended_before_eof == b.ended_before_eof && a.resp.status == b.resp.status &&
         a.resp.headers == b.resp.headers && a.resp.body == b.resp.body;
}

}  // namespace

void FuzzHttpResponseOne(const uint8_t* data, size_t size) {
  if (size < 3) return;
  const size_t max_body = data[0] == 255 ? HttpRequest{}.max_response_bytes : data[0];
  const bool head_request = (data[1] & 0x80) != 0;
  const unsigned head_sel = data[1] & 0x7f;
  const size_t max_head =
      head_sel == 127 ? HttpResponseParser::DefaultMaxHead(max_body) : 4 + 8 * head_sel;
  size_t k = data[2] % 8;
  size_t pos = 3;
  if (size < pos + k) return;
  std::vector<uint8_t> lengths(data + pos, data + pos + k);
  pos += k;
  const std::string_view response(reinterpret_cast<const char*>(data + pos), size - pos);

  std::vector<std::string_view> reads;
  for (size_t at = 0, i = 0; at < response.size(); ++i) {
    size_t n = k == 0 ? 1 : lengths[i % k] == 255 ? response.size() - at : lengths[i % k] + 1u;
    n = std::min(n, response.size() - at);
    reads.push_back(response.substr(at, n));
    at += n;
  }

  const Outcome whole = Parse({response}, max_body, max_head, head_request);
  const Outcome split = Parse(reads, max_body, max_head, head_request);
  Check(SameOutcome(whole, split), "the split response parses differently from the whole one");
  if (!whole.status.ok()) {
    Check(whole.status.code() == StatusCode::kCorruption ||
              whole.status.code() == StatusCode::kUnavailable,
          "an error other than Corruption or Unavailable");
    return;
  }
  const HttpResponse& r = whole.resp;
  Check(r.body.size() <= max_body, "a body longer than the cap");
  Check(r.status >= 0 && r.status <= 999, "status outside 000..999");
  const bool no_body = head_request || r.status == 204 || r.status == 304;
  if (no_body) {
    Check(r.body.empty(), "a body for HEAD, 204 or 304");
    return;
  }
  if (whole.chunked) {
    // The decoded body sent again as one chunk decodes to itself.
    char size_line[32];
    std::snprintf(size_line, sizeof size_line, "%zx\r\n", r.body.size());
    std::string again = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    if (!r.body.empty()) again += size_line + r.body + "\r\n";
    again += "0\r\n\r\n";
    const Outcome re =
        Parse({again}, max_body, HttpResponseParser::DefaultMaxHead(max_body), false);
    Check(re.status.ok() && re.ended_before_eof, "the body re-encoded as one chunk does not parse");
    Check(re.resp.body == r.body, "the body re-encoded as one chunk decodes differently");
  } else if (whole.content_length) {
    Check(whole.ended_before_eof && r.body.size() == *whole.content_length,
          "body length differs from Content-Length");
  } else {
    Check(!whole.ended_before_eof, "a body without length ended before EOF");
  }
}

}  // namespace vaultd::orchestrator_client
