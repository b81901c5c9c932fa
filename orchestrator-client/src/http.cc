// HTTP/1.1 over a plain TCP socket with poll() deadlines. One request per
// connection ("Connection: close"), so the response ends at Content-Length,
// the last chunk, or EOF.
#include "vaultd/orchestrator_client/http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

namespace vaultd::orchestrator_client {
namespace {

using Clock = std::chrono::steady_clock;

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string AddressString(const sockaddr* sa) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
  inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
  port = ntohs(in6->sin6_port);
  return "[" + std::string(host) + "]:" + std::to_string(port);
}

long long RemainingMs(Clock::time_point deadline) {
  return std::max<long long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
}

// Waits for `events` on fd until the deadline; false on timeout.
Result<bool> WaitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, static_cast<int>(RemainingMs(deadline)));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return Status::FromErrno(errno, "poll");
  }
}

Result<Fd> Connect(const HttpUrl& url, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(url.port);
  int rc = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0)
    return Status::Unavailable("DNS lookup of '" + url.host + "' failed: " +
                               (rc == EAI_SYSTEM ? std::string(strerror(errno)) : gai_strerror(rc)));
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(res, ::freeaddrinfo);
  const auto deadline = Clock::now() + timeout;
  std::string errors;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    const std::string where = AddressString(ai->ai_addr);
    Fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (fd.get() < 0) {
      errors += (errors.empty() ? "" : "; ") + std::string("socket: ") + strerror(errno);
      continue;
    }
    int err = 0;
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        err = errno;
      } else {
        auto ready = WaitFor(fd.get(), POLLOUT, deadline);
        if (!ready.ok()) return ready.status();
        if (!*ready) {
          errors += (errors.empty() ? "" : "; ") + std::string("connect to ") + where + ": timed out after " +
                    std::to_string(timeout.count()) + " ms";
          continue;
        }
        socklen_t len = sizeof err;
        ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      }
    }
    if (err != 0) {
      errors += (errors.empty() ? "" : "; ") + std::string("connect to ") + where + ": " + strerror(err);
      continue;
    }
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
  }
  return Status::Unavailable(errors.empty() ? "no address for '" + url.host + "'" : errors);
}

// Decodes a chunked body; nullopt while incomplete, Corruption when malformed.
Result<std::optional<std::string>> Dechunk(std::string_view data) {
  std::string out;
  size_t pos = 0;
  for (;;) {
    size_t eol = data.find("\r\n", pos);
    if (eol == std::string_view::npos) return std::optional<std::string>();
    std::string_view size_line = data.substr(pos, eol - pos);
    size_line = size_line.substr(0, size_line.find(';'));
    size_t size = 0;
    if (size_line.empty() || size_line.size() > 8) return Status::Corruption("bad chunk size");
    for (char c : size_line) {
      int v = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
              : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
              : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                          : -1;
      if (v < 0) return Status::Corruption("bad chunk size");
      size = size * 16 + static_cast<size_t>(v);
    }
    pos = eol + 2;
    if (size == 0) return std::optional<std::string>(std::move(out));  // trailers ignored
    if (data.size() < pos + size + 2) return std::optional<std::string>();
    out.append(data.substr(pos, size));
    if (data.substr(pos + size, 2) != "\r\n") return Status::Corruption("chunk not followed by CRLF");
    pos += size + 2;
  }
}

}  // namespace

std::string HttpUrl::ToString() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return "http://" + h + ":" + std::to_string(port) + target;
}

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return {};
}

Result<HttpUrl> ParseHttpUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, 8) == "https://")
    return Status::InvalidArgument("'" + std::string(url) +
                                   "': https:// is not supported by the built-in client; use http:// on the "
                                   "internal network or a local TLS proxy");
  if (url.substr(0, kScheme.size()) != kScheme)
    return Status::InvalidArgument("'" + std::string(url) + "' is not an http:// URL");
  std::string_view rest = url.substr(kScheme.size());
  size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  HttpUrl out;
  out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (out.target.front() == '?') out.target.insert(0, "/");
  if (authority.find('@') != std::string_view::npos)
    return Status::InvalidArgument("'" + std::string(url) + "': credentials in the URL are not supported");
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return Status::InvalidArgument("'" + std::string(url) + "': bad IPv6 literal");
    out.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return Status::InvalidArgument("'" + std::string(url) + "': bad authority");
      port_text = authority.substr(close + 2);
    }
  } else {
    size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (out.host.empty()) return Status::InvalidArgument("'" + std::string(url) + "': missing host");
  for (char c : out.target)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return Status::InvalidArgument("'" + std::string(url) + "': the path holds a space or control character");
  if (!port_text.empty() || (port_text.empty() && authority.back() == ':')) {
    int port = 0;
    if (port_text.empty() || port_text.size() > 5) return Status::InvalidArgument("'" + std::string(url) + "': bad port");
    for (char c : port_text) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return Status::InvalidArgument("'" + std::string(url) + "': bad port");
      port = port * 10 + (c - '0');
    }
    if (port < 1 || port > 65535) return Status::InvalidArgument("'" + std::string(url) + "': bad port");
    out.port = port;
  }
  return out;
}

Result<HttpResponse> HttpFetch(const HttpRequest& request) {
  VAULTD_ASSIGN_OR_RETURN(HttpUrl url, ParseHttpUrl(request.url));
  const std::string where = url.ToString();
  for (const auto& [k, v] : request.headers)
    if (k.find_first_of("\r\n:") != std::string::npos || v.find_first_of("\r\n") != std::string::npos)
      return Status::InvalidArgument("header '" + k + "' holds CR, LF or ':'");
  auto connected = Connect(url, request.connect_timeout);
  if (!connected.ok()) return connected.status();
  Fd fd = std::move(*connected);

  std::string host_header = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  if (url.port != 80) host_header += ":" + std::to_string(url.port);
  std::string out = request.method + " " + url.target + " HTTP/1.1\r\nHost: " + host_header +
                    "\r\nUser-Agent: vaultd-orchestrator-client\r\nAccept: application/json\r\nConnection: close\r\n";
  for (const auto& [k, v] : request.headers) out += k + ": " + v + "\r\n";
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT")
    out += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
  out += "\r\n";
  out += request.body;

  const auto deadline = Clock::now() + request.read_timeout;
  auto timed_out = [&](const char* doing) {
    return Status::Unavailable("timed out after " + std::to_string(request.read_timeout.count()) + " ms " + doing +
                               " " + where);
  };
  std::string_view pending = out;
  while (!pending.empty()) {
    ssize_t n = ::send(fd.get(), pending.data(), pending.size(), MSG_NOSIGNAL);
    if (n > 0) {
      pending.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      VAULTD_ASSIGN_OR_RETURN(bool ready, WaitFor(fd.get(), POLLOUT, deadline));
      if (!ready) return timed_out("sending the request to");
      continue;
    }
    return Status::Unavailable("sending the request to " + where + ": " + strerror(errno));
  }

  auto malformed = [&](const std::string& why) {
    return Status::Corruption("malformed HTTP response from " + where + ": " + why);
  };
  std::string in;
  HttpResponse resp;
  size_t header_end = std::string::npos;
  std::optional<size_t> content_length;
  bool chunked = false;
  bool eof = false;
  char buf[16384];
  for (;;) {
    if (header_end == std::string::npos) {
      header_end = in.find("\r\n\r\n");
      if (header_end != std::string::npos) {
        std::string_view head(in.data(), header_end);
        size_t eol = head.find("\r\n");
        std::string_view status_line = head.substr(0, eol);
        if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ')
          return malformed("bad status line '" + std::string(status_line.substr(0, 64)) + "'");
        int code = 0;
        for (size_t i = 9; i < 12; ++i) {
          if (!std::isdigit(static_cast<unsigned char>(status_line[i]))) return malformed("bad status code");
          code = code * 10 + (status_line[i] - '0');
        }
        resp.status = code;
        size_t pos = eol == std::string_view::npos ? head.size() : eol + 2;
        while (pos < head.size()) {
          size_t next = head.find("\r\n", pos);
          if (next == std::string_view::npos) next = head.size();
          std::string_view line = head.substr(pos, next - pos);
          size_t colon = line.find(':');
          if (colon == std::string_view::npos) return malformed("header line without ':'");
          std::string name = Lower(std::string(line.substr(0, colon)));
          std::string_view value = line.substr(colon + 1);
          while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
          while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
          if (name == "content-length") {
            size_t v = 0;
            if (value.empty() || value.size() > 12) return malformed("bad Content-Length");
            for (char c : value) {
              if (!std::isdigit(static_cast<unsigned char>(c))) return malformed("bad Content-Length");
              v = v * 10 + static_cast<size_t>(c - '0');
            }
            if (content_length && *content_length != v) return malformed("two different Content-Length headers");
            content_length = v;
          } else if (name == "transfer-encoding") {
            chunked = Lower(std::string(value)).find("chunked") != std::string::npos;
          }
          resp.headers.emplace_back(std::move(name), std::string(value));
          pos = next + 2;
        }
        if (content_length && *content_length > request.max_response_bytes)
          return malformed("body of " + std::to_string(*content_length) + " bytes exceeds the limit");
      }
    }
    if (header_end != std::string::npos) {
      std::string_view body(in.data() + header_end + 4, in.size() - header_end - 4);
      if (chunked) {
        auto decoded = Dechunk(body);
        if (!decoded.ok()) return malformed(decoded.status().message());
        if (*decoded) {
          resp.body = std::move(**decoded);
          return resp;
        }
      } else if (content_length) {
        if (body.size() >= *content_length) {
          resp.body = std::string(body.substr(0, *content_length));
          return resp;
        }
      } else if (eof || request.method == "HEAD" || resp.status == 204 || resp.status == 304) {
        resp.body = std::string(body);
        return resp;
      }
    }
    if (eof) {
      if (header_end == std::string::npos)
        return Status::Unavailable("connection closed by " + where +
                                   (in.empty() ? " before any response" : " inside the response headers"));
      return Status::Unavailable("connection closed by " + where + " before the end of the body");
    }
    if (in.size() > request.max_response_bytes + 65536) return malformed("response exceeds the size limit");
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n > 0) {
      in.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      eof = true;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      VAULTD_ASSIGN_OR_RETURN(bool ready, WaitFor(fd.get(), POLLIN, deadline));
      if (!ready) return timed_out("reading the response from");
      continue;
    }
    return Status::Unavailable("reading the response from " + where + ": " + strerror(errno));
  }
}

}  // namespace vaultd::orchestrator_client
