#include "http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "vaultd/common/log.h"

namespace vaultd::orchestrator::service {
namespace {

// Descriptors kept free for everything that is not a connection: the listener, the
// reserve, libuv's own, the audit log, policy reads, the inotify watch.
constexpr size_t kDescriptorMargin = 32;
// Accepts per loop turn, so a connect flood cannot starve the connections already open.
constexpr int kAcceptBatch = 64;
// Received bytes a request may hold before the shared budget applies to it: ordinary
// requests always get through, only the large unfinished ones are refused.
constexpr size_t kAlwaysAllowedBytes = 8 * 1024;
// Stop reading a connection's pipelined requests while this much of its answers is unsent.
constexpr size_t kMaxQueuedResponseBytes = 1 << 20;

const char* ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 417:
      return "Expectation Failed";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

bool IsKnownMethod(std::string_view m) {
  for (std::string_view k : {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"})
    if (m == k) return true;
  return false;
}

std::string PeerAddress(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(ss).sin_addr, buf, sizeof buf);
  } else if (ss.ss_family == AF_INET6) {
    const auto& a6 = reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
      inet_ntop(AF_INET, a6.s6_addr + 12, buf, sizeof buf);
    } else {
      inet_ntop(AF_INET6, &a6, buf, sizeof buf);
    }
  }
  return buf;
}

struct WriteRequest {
  uv_write_t req;
  std::string data;
};

}  // namespace

struct HttpServer::Connection {
  enum class State { kHead, kBody, kIdle };
  HttpServer* server;
  uv_tcp_t tcp{};
  uv_timer_t timer{};
  int open_handles = 2;
  std::string client;
  std::string in;        // received, not yet consumed
  size_t scanned = 0;    // how far `in` was searched for the end of a head
  size_t accounted = 0;  // this connection's share of server->buffered_bytes_
  State state = State::kHead;
  HttpRequestHead head;
  const Endpoint* endpoint = nullptr;
  MonoTime start;
  size_t queued = 0;  // response bytes handed to libuv, not yet written
  bool reading = false;
  bool closing = false;
  bool close_after = false;  // no more requests on this connection once the queue drains

  void Account() {
    size_t want = state == State::kIdle ? 0 : in.size();
    server->buffered_bytes_ += want;
    server->buffered_bytes_ -= accounted;
    accounted = want;
  }

  void Arm(uint32_t ms) {
    if (!closing) uv_timer_start(&timer, OnTimeout, ms, 0);
  }
  // The timeout that fits what the connection is waiting for now.
  void ArmForState() {
    const ServiceLimits& l = server->ctx_.options.limits;
    if (queued > 0) return Arm(l.write_timeout_ms);
    switch (state) {
      case State::kIdle:
        return Arm(l.idle_timeout_ms);
      case State::kHead:
        return Arm(l.header_timeout_ms);
      case State::kBody:
        return Arm(l.body_timeout_ms);
    }
  }

  static void OnTimeout(uv_timer_t* t) {
    auto* c = static_cast<Connection*>(t->data);
    if (c->queued == 0 &&
        (c->state == State::kBody || (c->state == State::kHead && !c->in.empty()))) {
      c->server->ctx_.metrics.CountConnectionEvent("timeout");
      c->Fail(408, "request not complete in time");
      return;
    }
    c->server->ctx_.metrics.CountConnectionEvent(c->queued > 0 ? "write_timeout" : "idle_timeout");
    c->Close();
  }

  void Close() {
    if (closing) return;
    closing = true;
    in.clear();
    Account();
    server->Forget(this);
    uv_timer_stop(&timer);
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp), OnHandleClosed);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer), OnHandleClosed);
  }
  static void OnHandleClosed(uv_handle_t* h) {
    auto* c = static_cast<Connection*>(h->data);
    if (--c->open_handles == 0) delete c;
  }

  void StartReading() {
    if (reading || closing) return;
    reading = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp), OnAlloc, OnRead) == 0;
  }
  void StopReading() {
    if (!reading) return;
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp));
    reading = false;
  }

  static void OnAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
    auto* c = static_cast<Connection*>(h->data);
    *buf = uv_buf_init(c->server->read_buffer_, sizeof c->server->read_buffer_);
  }
  static void OnRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
    auto* c = static_cast<Connection*>(s->data);
    if (n < 0) {
      c->Close();
      return;
    }
    if (n == 0 || c->close_after) return;  // after a refusal, whatever else arrives is dropped
    c->in.append(buf->base, static_cast<size_t>(n));
    if (c->state == State::kIdle) {
      c->state = State::kHead;
      c->ArmForState();  // the head timeout runs from the first byte of a request
    }
    c->Account();
    HttpServer& server = *c->server;
    if (c->in.size() > kAlwaysAllowedBytes &&
        server.buffered_bytes_ > server.ctx_.options.limits.max_buffered_bytes) {
      server.ctx_.metrics.CountConnectionEvent("buffer_budget");
      c->Fail(503, "too many unfinished requests buffered");
      return;
    }
    c->Process();
  }

  // Answers the requests that are complete in `in`, in order.
  void Process() {
    while (!closing && !close_after) {
      if (queued > kMaxQueuedResponseBytes) {
        StopReading();  // resumed once the client reads its answers
        return;
      }
      if (state == State::kIdle) {
        if (in.empty()) return;
        state = State::kHead;
        ArmForState();
      }
      if (state == State::kHead) {
        const ServiceLimits& l = server->ctx_.options.limits;
        HttpParseResult r = ParseHttpRequestHead(in, &scanned, {l.max_head_bytes, l.max_headers});
        if (r.kind == HttpParseResult::Kind::kNeedMore) return;
        if (r.kind == HttpParseResult::Kind::kError) return Fail(r.status, r.reason);
        in.erase(0, r.consumed);
        scanned = 0;
        head = std::move(r.head);
        start = server->ctx_.clock->Monotonic();
        if (!StartRequest()) continue;
      }
      if (state == State::kBody) {
        const size_t need = static_cast<size_t>(head.content_length.value_or(0));
        if (in.size() < need) return;
        HttpRequest req = MakeRequest();
        req.body = in.substr(0, need);
        in.erase(0, need);
        Dispatch(req);
      }
    }
  }

  HttpRequest MakeRequest() const {
    HttpRequest req;
    req.method = head.method;
    req.path = head.path;
    if (const std::string* a = head.Find("authorization")) req.authorization = *a;
    req.client_address = client;
    return req;
  }

  // After a head: answer now (returns false) or wait for the body (true, state kBody).
  bool StartRequest() {
    endpoint = nullptr;
    HttpResponse resp;
    if (!IsKnownMethod(head.method)) {
      JsonResponse(resp, 501,
                   {{"error", "not_implemented"}, {"error_description", "unsupported method"}});
      close_after = true;
      Respond(resp);
      return false;
    }
    endpoint = Endpoints().Find(head.method, head.path);
    const uint64_t length = head.content_length.value_or(0);
    if (!endpoint) {
      JsonResponse(
          resp, Endpoints().KnowsPath(head.path) ? 405 : 404,
          {{"error", Endpoints().KnowsPath(head.path) ? "method_not_allowed" : "not_found"}});
      if (length > 0) close_after = true;  // the body is not read
      Respond(resp);
      return false;
    }
    if (endpoint->max_body_bytes == 0) {
      if (length > 0) close_after = true;
      Dispatch(MakeRequest());
      return false;
    }
    if (!head.content_length) {
      JsonResponse(resp, 411,
                   {{"error", "length_required"},
                    {"error_description", "a request body needs Content-Length"}});
      close_after = true;
      Respond(resp);
      return false;
    }
    if (length > endpoint->max_body_bytes) {
      JsonResponse(
          resp, 413,
          {{"error", "body_too_large"},
           {"error_description", "the request body is larger than " +
                                     std::to_string(endpoint->max_body_bytes) + " bytes"}});
      close_after = true;
      Respond(resp);
      return false;
    }
    state = State::kBody;
    Account();
    ArmForState();
    if (head.expect_continue && in.size() < length) Send("HTTP/1.1 100 Continue\r\n\r\n");
    return true;
  }

  void Dispatch(const HttpRequest& req) {
    HttpResponse resp;
    try {
      endpoint->handle(server->ctx_, req, resp);
    } catch (const std::exception& e) {
      server->ctx_.log_limiter.Error("handler failed",
                                     {{"endpoint", req.path}, {"error", e.what()}});
      resp = HttpResponse{};
      JsonResponse(resp, 500, {{"error", "internal_error"}});
    }
    Respond(resp);
  }

  // A framing error: answer, then close.
  void Fail(int status, const std::string& reason) {
    server->ctx_.log_limiter.Warn("http request refused",
                                  {{"client", client}, {"status", status}, {"reason", reason}});
    HttpResponse resp;
    JsonResponse(resp, status, {{"error", "bad_request"}, {"error_description", reason}});
    endpoint = nullptr;
    start = server->ctx_.clock->Monotonic();
    close_after = true;
    Respond(resp);
  }

  void Respond(const HttpResponse& resp) {
    ServiceContext& ctx = server->ctx_;
    const double seconds = std::chrono::duration<double>(ctx.clock->Monotonic() - start).count();
    ctx.metrics.CountRequest(endpoint ? endpoint->path : "other", resp.status, seconds);
    if (!head.keep_alive) close_after = true;
    std::string out;
    out.reserve(160 + resp.body.size());
    out.append("HTTP/1.1 ")
        .append(std::to_string(resp.status))
        .append(" ")
        .append(ReasonPhrase(resp.status));
    out.append("\r\nserver: vaultd\r\ncontent-type: ").append(resp.content_type);
    out.append("\r\ncontent-length: ").append(std::to_string(resp.body.size()));
    for (const auto& [name, value] : resp.headers)
      out.append("\r\n").append(name).append(": ").append(value);
    if (close_after) {
      out.append("\r\nconnection: close");
    } else if (head.minor_version == 0) {
      out.append("\r\nconnection: keep-alive");
    }
    out.append("\r\n\r\n");
    if (head.method != "HEAD") out.append(resp.body);  // HEAD: the length, never the body
    state = State::kIdle;
    head = HttpRequestHead{};
    Account();
    Send(std::move(out));
    if (!closing) ArmForState();
  }

  // Writes now what the socket takes, queues the rest.
  void Send(std::string data) {
    if (closing) return;
    auto* stream = reinterpret_cast<uv_stream_t*>(&tcp);
    size_t done = 0;
    if (queued == 0) {
      uv_buf_t b = uv_buf_init(data.data(), static_cast<unsigned>(data.size()));
      int n = uv_try_write(stream, &b, 1);
      if (n > 0)
        done = static_cast<size_t>(n);
      else if (n != UV_EAGAIN)
        return Close();
    }
    if (done == data.size()) {
      if (close_after) Shutdown();
      return;
    }
    auto* w = new WriteRequest;
    w->data = data.substr(done);
    w->req.data = this;
    queued += w->data.size();
    uv_buf_t b = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    if (uv_write(&w->req, stream, &b, 1, OnWritten) != 0) {
      queued -= w->data.size();
      delete w;
      Close();
    }
  }
  static void OnWritten(uv_write_t* req, int status) {
    auto* w = reinterpret_cast<WriteRequest*>(req);
    auto* c = static_cast<Connection*>(req->data);
    c->queued -= w->data.size();
    delete w;
    if (c->closing) return;
    if (status < 0) return c->Close();
    if (c->queued > 0) return;
    if (c->close_after) return c->Shutdown();
    c->ArmForState();
    c->StartReading();
    c->Process();
  }

  // The answer is out; half-close so the client sees it before the connection goes.
  void Shutdown() {
    auto* s = new uv_shutdown_t;
    s->data = this;
    Arm(server->ctx_.options.limits.write_timeout_ms);
    if (uv_shutdown(s, reinterpret_cast<uv_stream_t*>(&tcp), OnShutdown) != 0) {
      delete s;
      Close();
    }
  }
  static void OnShutdown(uv_shutdown_t* s, int) {
    auto* c = static_cast<Connection*>(s->data);
    delete s;
    c->Close();
  }
};

HttpServer::HttpServer(uv_loop_t* loop, ServiceContext& ctx) : loop_(loop), ctx_(ctx) {
  uv_timer_init(loop_, &backoff_);
  backoff_.data = this;
}

HttpServer::~HttpServer() {
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (reserve_fd_ >= 0) ::close(reserve_fd_);
}

Result<int> HttpServer::Listen(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
      rc != 0)
    return Status::InvalidArgument("cannot resolve listen address " + host + ": " +
                                   gai_strerror(rc));
  int err = 0;
  for (addrinfo* ai = res; ai && listen_fd_ < 0; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      err = errno;
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, 511) != 0) {
      err = errno;
      ::close(fd);
      continue;
    }
    listen_fd_ = fd;
  }
  freeaddrinfo(res);
  if (listen_fd_ < 0)
    return Status::FromErrno(err, "cannot listen on " + host + ":" + std::to_string(port));
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  const int bound = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(ss).sin6_port
                                                   : reinterpret_cast<sockaddr_in&>(ss).sin_port);

  reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  rlimit rl{};
  size_t by_descriptors = SIZE_MAX;
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    by_descriptors =
        rl.rlim_cur > kDescriptorMargin * 2 ? rl.rlim_cur - kDescriptorMargin : rl.rlim_cur / 2;
  max_connections_ = std::min(ctx_.options.limits.max_connections, by_descriptors);
  if (max_connections_ < ctx_.options.limits.max_connections)
    log::Warn("connection cap lowered to fit the descriptor limit",
              {{"max_connections", static_cast<unsigned long>(max_connections_)},
               {"rlimit_nofile", static_cast<unsigned long>(rl.rlim_cur)}});

  uv_poll_init(loop_, &listen_poll_, listen_fd_);
  listen_poll_.data = this;
  uv_poll_start(&listen_poll_, UV_READABLE, OnListenReadable);
  polling_ = true;
  return bound;
}

void HttpServer::Close() {
  if (closed_) return;
  closed_ = true;
  if (listen_fd_ >= 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&listen_poll_), nullptr);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&backoff_), nullptr);
  std::vector<Connection*> all(connections_.begin(), connections_.end());
  for (Connection* c : all) c->Close();
}

void HttpServer::OnListenReadable(uv_poll_t* h, int status, int) {
  auto* server = static_cast<HttpServer*>(h->data);
  if (status < 0) return;
  server->AcceptSome();
}

void HttpServer::OnBackoffOver(uv_timer_t* t) {
  auto* server = static_cast<HttpServer*>(t->data);
  if (server->closed_ || server->polling_) return;
  server->polling_ = uv_poll_start(&server->listen_poll_, UV_READABLE, OnListenReadable) == 0;
}

void HttpServer::AcceptSome() {
  for (int i = 0; i < kAcceptBatch && !closed_; ++i) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int fd =
        ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
        return OutOfDescriptors(errno);
      ctx_.log_limiter.Warn("accept failed", {{"error", std::strerror(errno)}});
      return;
    }
    std::string client = PeerAddress(ss);
    if (connections_.size() >= max_connections_) {
      Refuse(fd, "server_limit");
      continue;
    }
    size_t& mine = per_client_[client];
    if (mine >= ctx_.options.limits.max_connections_per_client) {
      Refuse(fd, "client_limit");
      continue;
    }
    auto* c = new Connection;
    c->server = this;
    c->client = std::move(client);
    c->tcp.data = c;
    c->timer.data = c;
    uv_tcp_init(loop_, &c->tcp);
    uv_timer_init(loop_, &c->timer);
    if (uv_tcp_open(&c->tcp, fd) != 0) {
      ::close(fd);
      c->closing = true;
      uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), Connection::OnHandleClosed);
      uv_close(reinterpret_cast<uv_handle_t*>(&c->timer), Connection::OnHandleClosed);
      if (mine == 0) per_client_.erase(c->client);
      continue;
    }
    ++mine;
    connections_.insert(c);
    uv_tcp_nodelay(&c->tcp, 1);
    c->ArmForState();
    c->StartReading();
  }
}

// accept() failed for want of a descriptor: the pending connections would make the
// listener readable forever. Give up the reserve descriptor, take each pending
// connection and close it at once, take the reserve back, and pause accepting.
void HttpServer::OutOfDescriptors(int err) {
  ctx_.metrics.CountConnectionEvent("no_descriptors");
  ctx_.log_limiter.Error("out of file descriptors; refusing new connections",
                         {{"error", std::strerror(err)},
                          {"open_connections", static_cast<unsigned long>(connections_.size())}});
  if (reserve_fd_ >= 0) {
    ::close(reserve_fd_);
    reserve_fd_ = -1;
    for (int i = 0; i < kAcceptBatch; ++i) {
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) break;
      ::close(fd);
    }
    reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  if (polling_) {
    uv_poll_stop(&listen_poll_);
    polling_ = false;
  }
  uv_timer_start(&backoff_, OnBackoffOver, ctx_.options.limits.accept_backoff_ms, 0);
}

// Over a cap: a short answer if the socket takes it, then close; nothing is kept.
void HttpServer::Refuse(int fd, const char* reason) {
  static constexpr char kBusy[] =
      "HTTP/1.1 503 Service Unavailable\r\nserver: vaultd\r\ncontent-length: 0\r\nconnection: "
      "close\r\n\r\n";
  ssize_t ignored = ::send(fd, kBusy, sizeof kBusy - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
  (void)ignored;
  ::close(fd);
  ctx_.metrics.CountConnectionEvent(reason);
}

void HttpServer::Forget(Connection* c) {
  if (!connections_.erase(c)) return;
  auto it = per_client_.find(c->client);
  if (it != per_client_.end() && --it->second == 0) per_client_.erase(it);
}

}  // namespace vaultd::orchestrator::service
