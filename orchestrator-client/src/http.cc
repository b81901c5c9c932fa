// HTTP/1.1 over a plain TCP socket with poll() deadlines. One request per
// connection ("Connection: close"), so the response ends at Content-Length,
// the last chunk, or EOF (the parsing is in http_response.cc). The name
// lookup counts against the connect timeout.
#include "vaultd/orchestrator_client/http.h"

#include "vaultd/orchestrator_client/http_response.h"

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
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

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
  return std::max<long long>(
      0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
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

using AddrInfo = std::unique_ptr<addrinfo, void (*)(addrinfo*)>;

std::string GaiError(int rc, int err) {
  return rc == EAI_SYSTEM ? std::string(strerror(err)) : std::string(gai_strerror(rc));
}

// One name lookup, shared by the caller and the thread that runs getaddrinfo;
// whichever lets go last frees the result.
struct Lookup {
  std::string host, port;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  int rc = 0;
  int err = 0;
  addrinfo* res = nullptr;
  ~Lookup() {
    if (res) ::freeaddrinfo(res);
  }
};

// Resolves host:port by the deadline. A numeric address (IPv4 or IPv6
// literal) is converted in place by getaddrinfo with AI_NUMERICHOST, which
// never touches the network. A name is looked up by getaddrinfo on a detached
// helper thread while this thread waits on a condition variable until the
// deadline: getaddrinfo itself has no timeout and cannot be cancelled, so on
// timeout the lookup is abandoned, not stopped; its thread ends when the
// resolver gives up (resolv.conf timeout x attempts) and frees the result.
// getaddrinfo_a was the alternative; its gai_cancel cannot stop a lookup in
// progress either, and its request block would then have to outlive us, so
// the plain thread with shared ownership is the simpler correct form.
Result<AddrInfo> Resolve(const std::string& host, const std::string& port,
                         Clock::time_point deadline, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc == 0) return AddrInfo(res, ::freeaddrinfo);
  if (rc != EAI_NONAME)
    return Status::Unavailable("address '" + host + "' is not usable: " + GaiError(rc, errno));

  auto lookup = std::make_shared<Lookup>();
  lookup->host = host;
  lookup->port = port;
  try {
    std::thread([lookup] {
      addrinfo hints{};
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      hints.ai_flags = AI_NUMERICSERV;
      addrinfo* res = nullptr;
      int rc = ::getaddrinfo(lookup->host.c_str(), lookup->port.c_str(), &hints, &res);
      int err = errno;
      std::lock_guard lock(lookup->mu);
      lookup->done = true;
      lookup->rc = rc;
      lookup->err = err;
      lookup->res = rc == 0 ? res : nullptr;
      lookup->cv.notify_all();
    }).detach();
  } catch (const std::system_error& e) {
    return Status::Unavailable("DNS lookup of '" + host +
                               "': cannot start the lookup thread: " + e.what());
  }
  std::unique_lock lock(lookup->mu);
  if (!lookup->cv.wait_until(lock, deadline, [&] { return lookup->done; }))
    return Status::Unavailable("DNS lookup of '" + host + "' timed out after " +
                               std::to_string(timeout.count()) + " ms");
  if (lookup->rc != 0)
    return Status::Unavailable("DNS lookup of '" + host +
                               "' failed: " + GaiError(lookup->rc, lookup->err));
  return AddrInfo(std::exchange(lookup->res, nullptr), ::freeaddrinfo);
}

// Resolves and connects within `timeout` in all (DNS lookup included).
Result<Fd> Connect(const HttpUrl& url, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  VAULTD_ASSIGN_OR_RETURN(AddrInfo res,
                          Resolve(url.host, std::to_string(url.port), deadline, timeout));
  std::string errors;
  for (addrinfo* ai = res.get(); ai; ai = ai->ai_next) {
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
          errors += (errors.empty() ? "" : "; ") + std::string("connect to ") + where +
                    ": timed out after " + std::to_string(timeout.count()) + " ms";
          continue;
        }
        socklen_t len = sizeof err;
        ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      }
    }
    if (err != 0) {
      errors +=
          (errors.empty() ? "" : "; ") + std::string("connect to ") + where + ": " + strerror(err);
      continue;
    }
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
  }
  return Status::Unavailable(errors.empty() ? "no address for '" + url.host + "'" : errors);
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
    return Status::InvalidArgument(
        "'" + std::string(url) +
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
    return Status::InvalidArgument("'" + std::string(url) +
                                   "': credentials in the URL are not supported");
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos)
      return Status::InvalidArgument("'" + std::string(url) + "': bad IPv6 literal");
    out.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':')
        return Status::InvalidArgument("'" + std::string(url) + "': bad authority");
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
      return Status::InvalidArgument("'" + std::string(url) +
                                     "': the path holds a space or control character");
  if (!port_text.empty() || (port_text.empty() && authority.back() == ':')) {
    int port = 0;
    if (port_text.empty() || port_text.size() > 5)
      return Status::InvalidArgument("'" + std::string(url) + "': bad port");
    for (char c : port_text) {
      if (!std::isdigit(static_cast<unsigned char>(c)))
        return Status::InvalidArgument("'" + std::string(url) + "': bad port");
      port = port * 10 + (c - '0');
    }
    if (port < 1 || port > 65535)
      return Status::InvalidArgument("'" + std::string(url) + "': bad port");
    out.port = port;
  }
  return out;
}

Result<HttpResponse> HttpFetch(const HttpRequest& request) {
  VAULTD_ASSIGN_OR_RETURN(HttpUrl url, ParseHttpUrl(request.url));
  const std::string where = url.ToString();
  for (const auto& [k, v] : request.headers)
    if (k.find_first_of("\r\n:") != std::string::npos ||
        v.find_first_of("\r\n") != std::string::npos)
      return Status::InvalidArgument("header '" + k + "' holds CR, LF or ':'");
  auto connected = Connect(url, request.connect_timeout);
  if (!connected.ok()) return connected.status();
  Fd fd = std::move(*connected);

  std::string host_header =
      url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  if (url.port != 80) host_header += ":" + std::to_string(url.port);
  std::string out = request.method + " " + url.target + " HTTP/1.1\r\nHost: " + host_header +
                    "\r\nUser-Agent: vaultd-orchestrator-client\r\nAccept: "
                    "application/json\r\nConnection: close\r\n";
  for (const auto& [k, v] : request.headers) out += k + ": " + v + "\r\n";
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT")
    out += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
  out += "\r\n";
  out += request.body;

  const auto deadline = Clock::now() + request.read_timeout;
  auto timed_out = [&](const char* doing) {
    return Status::Unavailable("timed out after " + std::to_string(request.read_timeout.count()) +
                               " ms " + doing + " " + where);
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
  // The parser sees each read as it arrives; its result does not depend on
  // how the reads split the response.
  internal::HttpResponseParser parser(
      request.max_response_bytes,
      internal::HttpResponseParser::DefaultMaxHead(request.max_response_bytes),
      request.method == "HEAD");
  char buf[16384];
  for (;;) {
    if (parser.done()) return std::move(parser.response());
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n > 0) {
      Status fed = parser.Feed(std::string_view(buf, static_cast<size_t>(n)));
      if (!fed.ok()) return malformed(fed.message());
      continue;
    }
    if (n == 0) {
      Status end = parser.FinishAtEof();
      if (end.code() == StatusCode::kUnavailable)
        return Status::Unavailable("connection closed by " + where + " " + end.message());
      if (!end.ok()) return malformed(end.message());
      return std::move(parser.response());
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
