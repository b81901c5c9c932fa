#include "vaultd/orchestrator/http_request_parser.h"

#include <algorithm>

namespace vaultd::orchestrator::service {
namespace {

// RFC 9110 §5.6.2 tchar.
bool IsTokenChar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return IsTokenChar(static_cast<unsigned char>(c));
  });
}

// field-vchar / obs-text / SP / HTAB; no controls (so no bare CR, LF or NUL).
bool IsFieldValueChar(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

// Request-target in origin-form: '/' then visible ASCII.
bool IsOriginForm(std::string_view s) {
  if (s.empty() || s[0] != '/') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
  });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Does a comma-separated header value contain `token` (case-insensitive)?
bool ListHas(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = Trim(value.substr(0, comma));
    if (Lower(item) == token) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

HttpParseResult Error(int status, std::string reason) {
  HttpParseResult r;
  r.kind = HttpParseResult::Kind::kError;
  r.status = status;
  r.reason = std::move(reason);
  return r;
}

}  // namespace

const std::string* HttpRequestHead::Find(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (n == name) return &v;
  return nullptr;
}

HttpParseResult ParseHttpRequestHead(std::string_view buffer, size_t* scanned,
                                     const HttpParseLimits& limits) {
  // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line.
  size_t start = 0;
  while (start < buffer.size() && start < 4 && (buffer[start] == '\r' || buffer[start] == '\n'))
    ++start;
  const size_t from = std::max(*scanned, start) >= 3 ? std::max(*scanned, start) - 3 : start;
  size_t end = buffer.find("\r\n\r\n", from);
  if (end == std::string_view::npos) {
    *scanned = buffer.size();
    if (buffer.size() > limits.max_head_bytes)
      return Error(431,
                   "request head larger than " + std::to_string(limits.max_head_bytes) + " bytes");
    return {};
  }
  if (end < start) return Error(400, "empty request line");
  const size_t head_end = end + 4;
  if (head_end > limits.max_head_bytes)
    return Error(431,
                 "request head larger than " + std::to_string(limits.max_head_bytes) + " bytes");

  HttpParseResult r;
  r.kind = HttpParseResult::Kind::kHead;
  r.consumed = head_end;
  HttpRequestHead& h = r.head;
  std::string_view text = buffer.substr(start, end + 2 - start);  // every line ends in CRLF

  // Request line: method SP request-target SP HTTP-version.
  size_t eol = text.find("\r\n");
  std::string_view line = text.substr(0, eol);
  text.remove_prefix(eol + 2);
  if (line.find_first_of("\r\n") != std::string_view::npos)
    return Error(400, "bare CR or LF in the request line");
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return Error(400, "malformed request line");
  std::string_view method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1),
                   version = line.substr(sp2 + 1);
  if (!IsToken(method)) return Error(400, "malformed method");
  if (version.size() != 8 || version.substr(0, 7) != "HTTP/1.") {
    if (version.size() == 8 && version.substr(0, 5) == "HTTP/" &&
        std::isdigit(static_cast<unsigned char>(version[5])))
      return Error(505, "unsupported HTTP version");
    return Error(400, "malformed HTTP version");
  }
  if (version[7] != '0' && version[7] != '1') return Error(505, "unsupported HTTP version");
  h.minor_version = version[7] - '0';
  h.method = std::string(method);
  // CONNECT's authority-form and OPTIONS' "*" are not origin-form; the server refuses those methods
  // anyway.
  if (method != "CONNECT" && !(method == "OPTIONS" && target == "*") && !IsOriginForm(target))
    return Error(400, "request target is not an absolute path");
  h.path = std::string(target.substr(0, target.find('?')));

  // Header fields.
  bool connection_close = false, connection_keep_alive = false;
  int hosts = 0;
  bool transfer_encoding = false;
  std::string transfer_codings;
  while (!text.empty()) {
    eol = text.find("\r\n");
    line = text.substr(0, eol);
    text.remove_prefix(eol + 2);
    if (line.empty()) break;
    if (line[0] == ' ' || line[0] == '\t') return Error(400, "obsolete line folding");
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return Error(400, "header line without ':'");
    std::string_view name = line.substr(0, colon);
    if (!IsToken(name)) return Error(400, "malformed header name (whitespace before ':'?)");
    std::string_view value = Trim(line.substr(colon + 1));
    if (!std::all_of(value.begin(), value.end(),
                     [](char c) { return IsFieldValueChar(static_cast<unsigned char>(c)); }))
      return Error(400, "control character in a header value");
    if (h.headers.size() >= limits.max_headers)
      return Error(431, "more than " + std::to_string(limits.max_headers) + " header fields");
    std::string lname = Lower(name);
    if (lname == "content-length") {
      // A list of identical values is one length (RFC 9112 §6.3 item 5); anything else is refused.
      std::string_view rest = value;
      do {
        size_t comma = rest.find(',');
        std::string_view item = Trim(rest.substr(0, comma));
        if (item.empty() || item.size() > 15 ||
            !std::all_of(item.begin(), item.end(), [](char c) { return c >= '0' && c <= '9'; }))
          return Error(400, "invalid Content-Length");
        uint64_t n = std::stoull(std::string(item));
        if (h.content_length && *h.content_length != n)
          return Error(400, "conflicting Content-Length values");
        h.content_length = n;
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      } while (!rest.empty());
    } else if (lname == "transfer-encoding") {
      transfer_encoding = true;
      transfer_codings += std::string(transfer_codings.empty() ? "" : ",") + std::string(value);
    } else if (lname == "host") {
      ++hosts;
    } else if (lname == "connection") {
      connection_close |= ListHas(value, "close");
      connection_keep_alive |= ListHas(value, "keep-alive");
    } else if (lname == "upgrade") {
      return Error(400, "protocol upgrades are not supported");
    } else if (lname == "expect") {
      if (Lower(value) != "100-continue") return Error(417, "unsupported Expect");
      h.expect_continue = true;
    }
    h.headers.emplace_back(std::move(lname), std::string(value));
  }
  if (transfer_encoding) {
    // RFC 9112 §6.1: a request with both is a smuggling attempt or a broken proxy; never guess.
    if (h.content_length) return Error(400, "both Content-Length and Transfer-Encoding");
    if (ListHas(transfer_codings, "chunked"))
      return Error(411, "chunked request bodies are not accepted");
    return Error(501, "unsupported Transfer-Encoding");
  }
  if (h.minor_version == 1 && hosts != 1)
    return Error(400, hosts == 0 ? "missing Host" : "more than one Host");
  if (hosts > 1) return Error(400, "more than one Host");
  h.keep_alive =
      h.minor_version == 1 ? !connection_close : (connection_keep_alive && !connection_close);
  return r;
}

}  // namespace vaultd::orchestrator::service
