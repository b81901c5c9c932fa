// A minimal HTTP/1.1 client over plain sockets: enough to fetch a mount set
// from the orchestrator on the internal network (http:// only), with
// connect/read deadlines and errors that say which step failed.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vaultd/common/status.h"

namespace vaultd::orchestrator_client {

struct HttpUrl {
  std::string host;  // without brackets for IPv6 literals
  int port = 80;
  std::string target;  // path + query, at least "/"
  std::string ToString() const;
};

// "http://host[:port][/path[?query]]". https:// and userinfo are refused with a clear message.
Result<HttpUrl> ParseHttpUrl(std::string_view url);

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // For the DNS lookup and the connect together. A numeric host is never looked
  // up; a name is resolved on a helper thread that is abandoned at the deadline.
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds read_timeout{
      5000};  // for sending the request and reading the whole answer
  // The body (decoded, for a chunked body, whose framing is not kept; also a
  // body that ends at EOF); the status line and headers may take 64 KiB more.
  size_t max_response_bytes = 8u << 20;
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  // The first header with this (lower-case) name, or "".
  std::string Header(std::string_view name) const;
};

// One attempt, no retries. Errors:
//   Unavailable  "DNS lookup of 'h' failed: ...", "DNS lookup of 'h' timed out after 3000 ms",
//   "connect to 10.0.0.1:80: Connection refused",
//                "timed out after 5000 ms reading the response from ...", "connection closed ..."
//   Corruption   "malformed HTTP response from ...: ..."
//   InvalidArgument  a bad URL
// Any HTTP status is a successful fetch; the caller decides what it means.
Result<HttpResponse> HttpFetch(const HttpRequest& request);

}  // namespace vaultd::orchestrator_client
