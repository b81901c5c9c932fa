// The service's HTTP/1.1 server on a libuv loop: its own listener (so it
// decides when to accept), connections with a timeout in every state, caps on
// connections per server and per client address, a bound on the memory held
// by unfinished requests, and strict request framing (http_request_parser.h).
// Requests are answered in order on the loop thread by the endpoint table.
#pragma once

#include <uv.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_set>

#include "service_context.h"
#include "vaultd/orchestrator/http_request_parser.h"

namespace vaultd::orchestrator::service {

class HttpServer {
 public:
  HttpServer(uv_loop_t* loop, ServiceContext& ctx);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens; returns the bound port (useful with port 0).
  Result<int> Listen(const std::string& host, int port);
  // Stops accepting and closes every connection; the loop can then finish.
  void Close();

  size_t open_connections() const { return connections_.size(); }
  size_t max_connections() const { return max_connections_; }

  struct Connection;

 private:
  friend struct Connection;
  static void OnListenReadable(uv_poll_t* h, int status, int events);
  static void OnBackoffOver(uv_timer_t* t);
  void AcceptSome();
  void OutOfDescriptors(int err);
  void Refuse(int fd, const char* reason);
  void Forget(Connection* c);

  uv_loop_t* loop_;
  ServiceContext& ctx_;
  int listen_fd_ = -1;
  int reserve_fd_ = -1;  // given up to accept-and-close when the process is out of descriptors
  uv_poll_t listen_poll_{};
  uv_timer_t backoff_{};
  bool polling_ = false;
  bool closed_ = false;
  size_t max_connections_ = 0;
  size_t buffered_bytes_ = 0;  // received bytes of unfinished requests, all connections
  std::unordered_set<Connection*> connections_;
  std::map<std::string, size_t> per_client_;
  char read_buffer_[64 * 1024];
};

}  // namespace vaultd::orchestrator::service
