// The libwebsockets transport: WebSocket client connections on the daemon's
// own libuv loop ("foreign loop" in lws terms).
//
// Ownership. Each connection's state (ConnState) is shared by the public
// Connection handle and, while the connection is alive or its on_close is
// still to be delivered, by the transport's `live_` map. libwebsockets finds
// the state through the wsi's opaque user data; the moment we let go of a wsi
// that pointer is cleared, so any later lws callback for that wsi sees null
// and only finishes closing it. That is what makes destroying a Connection
// safe at any time, also from inside its own callbacks.
//
// Teardown. With a foreign libuv loop, lws_context_destroy() only starts
// closing lws's uv handles; a second call, after the loop has run their close
// callbacks, frees the context. A small heap "reaper" (an idle handle) does
// both steps from the loop, so it works even when the Transport object is
// gone by then and when Shutdown() was called from inside an lws callback.
#include <libwebsockets.h>
#include <uv.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "vaultd/common/log.h"
#include "vaultd/daemon/transport.h"
#include "vaultd/daemon/ws_url.h"

namespace vaultd::daemon {
namespace {

constexpr char kProtocolName[] = "vaultd-relay";
// Outgoing messages are written as WebSocket fragments of at most this size,
// one per writeable callback, so a large message never sits whole in lws's
// own buffer and pings can go out between fragments.
constexpr size_t kWriteChunk = 64 * 1024;
constexpr size_t kRxBufferSize = 64 * 1024;
// Sockets lws may track. Setting it also makes lws index sockets by a table
// of this size rather than by the process's fd limit (which can be 1M).
constexpr unsigned kMaxSockets = 1024;
// A receive buffer grown by a large message is kept for reuse only up to this.
constexpr size_t kKeepRxCapacity = 1 << 20;
constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

class LwsTransport;

struct ConnState : std::enable_shared_from_this<ConnState> {
  enum class Phase { kConnecting, kOpen, kClosed };

  LwsTransport* transport = nullptr;  // set while in the transport's live_ map
  lws* wsi = nullptr;                 // null once we let go of the socket
  std::string peer;                   // "host:port", for messages
  ConnectionCallbacks cb;
  Phase phase = Phase::kConnecting;
  bool detached = false;       // the Connection is gone: no more callbacks
  bool close_pending = false;  // on_close waits for the timer
  std::string close_reason;
  std::string peer_close;  // the relay's close frame, if it sent one
  int depth = 0;           // callbacks of this connection running right now

  std::deque<std::vector<uint8_t>> out;  // each with LWS_PRE bytes of headroom
  size_t out_offset = 0;                 // payload bytes of out.front() already written
  uint64_t queued = 0;
  bool ping_wanted = false;  // write a ping at the next writeable callback
  bool ping_sent = false;    // a ping is out since the last thing we received

  std::vector<uint8_t> rx;  // the message being reassembled
  uint64_t start_ms = 0;
  uint64_t last_rx_ms = 0;

  // Runs one user callback; keeps this state alive through it and drops the
  // callbacks (and what they captured) once nothing can call them any more.
  template <typename F>
  void Invoke(F&& f) {
    std::shared_ptr<ConnState> keep = shared_from_this();
    ++depth;
    f();
    --depth;
    ReleaseCallbacksIfDone();
  }
  void ReleaseCallbacksIfDone() {
    if (depth == 0 && (detached || (phase == Phase::kClosed && !close_pending))) cb = {};
  }
};

enum class LetGo {
  kPolite,  // send a normal close frame first (the relay answered until now)
  kKill,    // drop the socket (the relay stalled, or we never got a handshake)
};

// Lets go of a wsi: lws callbacks for it find no state from now on.
void LetGoOfWsi(lws* wsi, bool established, LetGo how) {
  lws_set_opaque_user_data(wsi, nullptr);
  if (how == LetGo::kPolite && established) {
    // The close frame goes out from the writeable callback (see LwsCallback);
    // if the socket never becomes writeable, lws drops it after this timeout.
    lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, 3);
    lws_callback_on_writable(wsi);
  } else {
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
  }
}

std::string CallbackText(const void* in, size_t len) {
  if (in == nullptr) return "";
  const char* s = static_cast<const char*>(in);
  std::string text = len ? std::string(s, len) : std::string(s);
  while (!text.empty() && (text.back() == '\0' || text.back() == '\n')) text.pop_back();
  return text;
}

struct Reaper {
  uv_idle_t idle;
  lws_context* context = nullptr;
  int step = 0;  // 0: first destroy still to do; 1: waiting for lws's handles to close
};

void ReaperClosed(uv_handle_t* h) { delete static_cast<Reaper*>(h->data); }

void ReaperStep(uv_idle_t* h) {
  auto* r = static_cast<Reaper*>(h->data);
  if (r->step == 0) {
    lws_context_destroy(r->context);  // closes every wsi and starts closing lws's handles
    r->step = 1;
    return;
  }
  bool closing = false;
  uv_walk(
      h->loop,
      [](uv_handle_t* x, void* arg) {
        if (uv_is_closing(x)) *static_cast<bool*>(arg) = true;
      },
      &closing);
  if (closing) return;              // lws's close callbacks have not all run yet
  lws_context_destroy(r->context);  // the second call frees the context
  uv_idle_stop(h);
  uv_close(reinterpret_cast<uv_handle_t*>(h), ReaperClosed);
}

void EmitLwsLog(int level, const char* line) {
  std::string text = CallbackText(line, 0);
  if (level & LLL_ERR) {
    log::Warn("libwebsockets", {{"text", text}});
  } else {
    log::Debug("libwebsockets", {{"text", text}});
  }
}

int LwsCallback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len);

const lws_protocols kProtocols[] = {
    {kProtocolName, LwsCallback, 0, kRxBufferSize, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

class LwsConnection;

class LwsTransport final : public Transport {
 public:
  LwsTransport(uv_loop_t* loop, TransportOptions options) : loop_(loop), options_(options) {}
  ~LwsTransport() override { Shutdown(); }

  Status Init();
  Result<std::unique_ptr<Connection>> Connect(const std::string& url,
                                              ConnectionCallbacks callbacks) override;
  void Shutdown() override;

  int OnLws(ConnState& c, lws* wsi, lws_callback_reasons reason, void* in, size_t len);
  Status Send(ConnState& c, std::span<const uint8_t> message);
  void Close(ConnState& c);
  void Detach(ConnState& c);

 private:
  enum class When { kNow, kLater };
  // Marks `c` closed with `reason`, lets go of its socket, and delivers
  // on_close now or from the timer.
  void Finish(ConnState& c, std::string reason, When when, LetGo how);
  void DeliverClose(ConnState& c);
  void Forget(ConnState& c);
  void ArmTimer(uint64_t due_ms);
  void OnTimer();
  uint64_t Now() const { return uv_now(loop_); }

  uv_loop_t* loop_;
  TransportOptions options_;
  lws_context* context_ = nullptr;
  uv_timer_t* timer_ = nullptr;
  uint64_t timer_due_ = kNever;
  std::unordered_map<ConnState*, std::shared_ptr<ConnState>> live_;
  bool shut_down_ = false;
  int in_connect_ = 0;
};

class LwsConnection final : public Connection {
 public:
  explicit LwsConnection(std::shared_ptr<ConnState> state) : s_(std::move(state)) {}
  ~LwsConnection() override {
    if (s_->transport != nullptr) {
      s_->transport->Detach(*s_);
    } else {
      s_->detached = true;
      s_->ReleaseCallbacksIfDone();
    }
  }
  Status Send(std::span<const uint8_t> message) override {
    if (s_->phase != ConnState::Phase::kOpen || s_->transport == nullptr) {
      return Status::Unavailable("connection to " + s_->peer + " is not open");
    }
    return s_->transport->Send(*s_, message);
  }
  bool is_open() const override { return s_->phase == ConnState::Phase::kOpen; }
  uint64_t queued_bytes() const override { return s_->queued; }
  void Close() override {
    if (s_->phase != ConnState::Phase::kClosed && s_->transport != nullptr) {
      s_->transport->Close(*s_);
    }
  }

 private:
  std::shared_ptr<ConnState> s_;
};

int LwsCallback(lws* wsi, lws_callback_reasons reason, void* /*user*/, void* in, size_t len) {
  auto* c = wsi ? static_cast<ConnState*>(lws_get_opaque_user_data(wsi)) : nullptr;
  if (c == nullptr || c->transport == nullptr) {
    // A socket we let go of politely: send the close frame and end it.
    if (reason == LWS_CALLBACK_CLIENT_WRITEABLE) {
      lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, nullptr, 0);
      return -1;
    }
    return 0;
  }
  // The state must outlive this callback even if a user callback destroys
  // the Connection (the last other owner) from inside it.
  std::shared_ptr<ConnState> keep = c->shared_from_this();
  return c->transport->OnLws(*c, wsi, reason, in, len);
}

Status LwsTransport::Init() {
  static std::once_flag log_once;
  std::call_once(log_once, [] { lws_set_log_level(LLL_ERR | LLL_WARN, EmitLwsLog); });

  lws_context_creation_info info;
  std::memset(&info, 0, sizeof info);
  void* loops[1] = {loop_};
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = kProtocols;
  info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.foreign_loops = loops;
  info.fd_limit_per_thread = kMaxSockets;
  // lws's own handshake timeout only backs ours up.
  info.timeout_secs = static_cast<unsigned>(options_.connect_timeout_ms / 1000 + 10);
  context_ = lws_create_context(&info);
  if (context_ == nullptr) {
    return Status::Internal(
        "libwebsockets: cannot create a context on the libuv loop (is the libuv event "
        "library plugin, Debian package libwebsockets-evlib-uv, installed?)");
  }
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  return Status::Ok();
}

Result<std::unique_ptr<Connection>> LwsTransport::Connect(const std::string& url,
                                                          ConnectionCallbacks callbacks) {
  if (shut_down_) return Status::Unavailable("transport is shut down; cannot connect to " + url);
  Result<WsUrl> parsed = ParseWsUrl(url);
  if (!parsed.ok()) return parsed.status();
  const WsUrl& u = *parsed;

  auto c = std::make_shared<ConnState>();
  c->transport = this;
  c->peer = (u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host) + ":" +
            std::to_string(u.port);
  c->cb = std::move(callbacks);
  uv_update_time(loop_);
  c->start_ms = Now();
  live_[c.get()] = c;

  const bool default_port = u.port == (u.tls ? 443 : 80);
  const std::string host_header = default_port ? u.host : c->peer;
  lws_client_connect_info ci;
  std::memset(&ci, 0, sizeof ci);
  ci.context = context_;
  ci.address = u.host.c_str();
  ci.port = u.port;
  ci.ssl_connection = u.tls ? LCCSCF_USE_SSL : 0;
  ci.path = u.path.c_str();
  ci.host = host_header.c_str();
  ci.origin = host_header.c_str();
  ci.local_protocol_name = kProtocolName;  // and no Sec-WebSocket-Protocol on the wire
  ci.opaque_user_data = c.get();

  ++in_connect_;
  lws* wsi = lws_client_connect_via_info(&ci);
  --in_connect_;
  if (c->phase != ConnState::Phase::kClosed) {
    if (wsi == nullptr) {
      Finish(*c, "cannot connect to " + c->peer + ": libwebsockets refused the connection",
             When::kLater, LetGo::kKill);
    } else {
      c->wsi = wsi;
      ArmTimer(c->start_ms + static_cast<uint64_t>(options_.connect_timeout_ms));
    }
  }
  return std::unique_ptr<Connection>(std::make_unique<LwsConnection>(c));
}

int LwsTransport::OnLws(ConnState& c, lws* wsi, lws_callback_reasons reason, void* in, size_t len) {
  if (c.wsi == nullptr && c.phase != ConnState::Phase::kClosed) c.wsi = wsi;
  switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
      std::string why = CallbackText(in, len);
      c.wsi = nullptr;
      lws_set_opaque_user_data(wsi, nullptr);
      Finish(c, "cannot connect to " + c.peer + ": " + (why.empty() ? "connection failed" : why),
             in_connect_ ? When::kLater : When::kNow, LetGo::kKill);
      return 0;
    }

    case LWS_CALLBACK_CLIENT_ESTABLISHED:
      c.phase = ConnState::Phase::kOpen;
      c.last_rx_ms = Now();
      if (options_.idle_timeout_ms > 0) {
        ArmTimer(c.last_rx_ms + static_cast<uint64_t>(options_.idle_timeout_ms) / 2);
      }
      if (c.cb.on_open && !c.detached) c.Invoke([&] { c.cb.on_open(); });
      if (c.wsi == wsi && !c.out.empty()) lws_callback_on_writable(wsi);
      return 0;

    case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
      c.last_rx_ms = Now();
      c.ping_sent = false;
      return 0;

    case LWS_CALLBACK_CLIENT_RECEIVE: {
      if (c.phase != ConnState::Phase::kOpen) return 0;
      c.last_rx_ms = Now();
      c.ping_sent = false;
      if (c.rx.size() + len > options_.max_message_bytes) {
        // The socket is dropped from the loop (kill async), not by returning
        // -1 here: closing from the receive callback in the middle of a
        // fragmented message corrupted the heap with lws 4.1.6 in our tests.
        Finish(c,
               "message from " + c.peer + " larger than the limit of " +
                   std::to_string(options_.max_message_bytes) + " bytes",
               When::kNow, LetGo::kKill);
        return 0;
      }
      const auto* p = static_cast<const uint8_t*>(in);
      c.rx.insert(c.rx.end(), p, p + len);
      if (!lws_is_final_fragment(wsi)) return 0;
      std::vector<uint8_t> message;
      message.swap(c.rx);
      if (!lws_frame_is_binary(wsi)) {
        log::Debug("text message from the relay dropped",
                   {{"peer", c.peer}, {"bytes", static_cast<uint64_t>(message.size())}});
      } else if (c.cb.on_message && !c.detached) {
        c.Invoke([&] { c.cb.on_message(message); });
      }
      if (c.phase == ConnState::Phase::kOpen && c.rx.empty() &&
          message.capacity() <= kKeepRxCapacity) {
        message.clear();
        c.rx = std::move(message);  // reuse the buffer for the next message
      }
      return 0;
    }

    case LWS_CALLBACK_CLIENT_WRITEABLE: {
      if (c.phase != ConnState::Phase::kOpen) return 0;
      if (c.ping_wanted) {
        uint8_t ping[LWS_PRE + 1];
        c.ping_wanted = false;
        if (lws_write(wsi, ping + LWS_PRE, 0, LWS_WRITE_PING) < 0) {
          c.wsi = nullptr;
          lws_set_opaque_user_data(wsi, nullptr);
          Finish(c, "writing to " + c.peer + " failed", When::kNow, LetGo::kKill);
          return -1;
        }
        if (!c.out.empty()) lws_callback_on_writable(wsi);
        return 0;
      }
      if (c.out.empty()) return 0;
      std::vector<uint8_t>& m = c.out.front();
      const size_t total = m.size() - LWS_PRE;
      const size_t chunk = std::min(kWriteChunk, total - c.out_offset);
      const bool first = c.out_offset == 0;
      const bool last = c.out_offset + chunk == total;
      // Writing a fragment overwrites the LWS_PRE bytes before it with the
      // frame header: for later fragments those are payload bytes already
      // written (or copied into lws's buffer), so nothing is lost.
      const int flags = lws_write_ws_flags(LWS_WRITE_BINARY, first, last);
      if (lws_write(wsi, m.data() + LWS_PRE + c.out_offset, chunk,
                    static_cast<lws_write_protocol>(flags)) < 0) {
        c.wsi = nullptr;
        lws_set_opaque_user_data(wsi, nullptr);
        Finish(c, "writing to " + c.peer + " failed", When::kNow, LetGo::kKill);
        return -1;
      }
      c.out_offset += chunk;
      c.queued -= chunk;
      if (last) {
        c.out.pop_front();
        c.out_offset = 0;
      }
      if (!c.out.empty() || c.ping_wanted) lws_callback_on_writable(wsi);
      return 0;
    }

    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: {
      const auto* p = static_cast<const uint8_t*>(in);
      if (p != nullptr && len >= 2) {
        c.peer_close = "code " + std::to_string((p[0] << 8) | p[1]);
        if (len > 2)
          c.peer_close += " " + std::string(reinterpret_cast<const char*>(p + 2), len - 2);
      } else {
        c.peer_close = "no code";
      }
      return 0;
    }

    case LWS_CALLBACK_CLIENT_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY: {
      const bool was_open = c.phase == ConnState::Phase::kOpen;
      c.wsi = nullptr;
      lws_set_opaque_user_data(wsi, nullptr);
      std::string why;
      if (!c.peer_close.empty()) {
        why = "relay " + c.peer + " closed the connection (" + c.peer_close + ")";
      } else if (was_open) {
        why = "connection to " + c.peer + " lost";
      } else {
        why = "cannot connect to " + c.peer + ": connection ended before the handshake";
      }
      Finish(c, std::move(why), in_connect_ ? When::kLater : When::kNow, LetGo::kKill);
      return 0;
    }

    default:
      return 0;
  }
}

Status LwsTransport::Send(ConnState& c, std::span<const uint8_t> message) {
  std::vector<uint8_t> buf(LWS_PRE + message.size());
  if (!message.empty()) std::memcpy(buf.data() + LWS_PRE, message.data(), message.size());
  c.out.push_back(std::move(buf));
  c.queued += message.size();
  if (c.wsi != nullptr) lws_callback_on_writable(c.wsi);
  return Status::Ok();
}

void LwsTransport::Close(ConnState& c) {
  Finish(c, "closed by the daemon", When::kLater, LetGo::kPolite);
}

void LwsTransport::Detach(ConnState& c) {
  c.detached = true;
  if (c.wsi != nullptr) {
    LetGoOfWsi(c.wsi, c.phase == ConnState::Phase::kOpen, LetGo::kPolite);
    c.wsi = nullptr;
  }
  c.phase = ConnState::Phase::kClosed;
  c.close_pending = false;
  c.out.clear();
  c.queued = 0;
  Forget(c);
  c.ReleaseCallbacksIfDone();
}

void LwsTransport::Finish(ConnState& c, std::string reason, When when, LetGo how) {
  if (c.phase == ConnState::Phase::kClosed) return;
  if (c.wsi != nullptr) {
    LetGoOfWsi(c.wsi, c.phase == ConnState::Phase::kOpen, how);
    c.wsi = nullptr;
  }
  c.phase = ConnState::Phase::kClosed;
  c.out.clear();
  c.queued = 0;
  c.rx = {};
  c.close_reason = std::move(reason);
  log::Debug("relay connection closed", {{"peer", c.peer}, {"reason", c.close_reason}});
  if (c.detached) {
    Forget(c);
    return;
  }
  if (when == When::kLater) {
    c.close_pending = true;
    ArmTimer(Now());
    return;
  }
  DeliverClose(c);
}

void LwsTransport::DeliverClose(ConnState& c) {
  std::shared_ptr<ConnState> keep = c.shared_from_this();
  c.close_pending = false;
  Forget(c);
  if (c.cb.on_close && !c.detached) {
    c.Invoke([&] { c.cb.on_close(c.close_reason); });
  } else {
    c.ReleaseCallbacksIfDone();
  }
}

void LwsTransport::Forget(ConnState& c) {
  if (c.transport == nullptr) return;
  c.transport = nullptr;
  live_.erase(&c);  // may drop the last reference but one: callers hold their own
}

void LwsTransport::ArmTimer(uint64_t due_ms) {
  if (timer_ == nullptr || shut_down_ || due_ms >= timer_due_) return;
  timer_due_ = due_ms;
  const uint64_t now = Now();
  uv_timer_start(
      timer_, [](uv_timer_t* t) { static_cast<LwsTransport*>(t->data)->OnTimer(); },
      due_ms > now ? due_ms - now : 0, 0);
}

void LwsTransport::OnTimer() {
  timer_due_ = kNever;
  const uint64_t now = Now();
  std::vector<std::shared_ptr<ConnState>> all;
  all.reserve(live_.size());
  for (auto& [ptr, c] : live_) all.push_back(c);
  uint64_t next = kNever;
  for (auto& c : all) {
    if (c->transport == nullptr) continue;  // finished while we went through the list
    if (c->close_pending) {
      DeliverClose(*c);
      continue;
    }
    if (c->phase == ConnState::Phase::kConnecting) {
      const uint64_t due = c->start_ms + static_cast<uint64_t>(options_.connect_timeout_ms);
      if (now >= due) {
        Finish(*c,
               "cannot connect to " + c->peer + ": no WebSocket handshake within " +
                   std::to_string(options_.connect_timeout_ms) + " ms",
               When::kNow, LetGo::kKill);
      } else {
        next = std::min(next, due);
      }
    } else if (c->phase == ConnState::Phase::kOpen && options_.idle_timeout_ms > 0) {
      const auto idle = static_cast<uint64_t>(options_.idle_timeout_ms);
      const uint64_t hang_up = c->last_rx_ms + idle;
      const uint64_t ping_at = c->last_rx_ms + idle / 2;
      if (now >= hang_up) {
        Finish(*c,
               "relay " + c->peer + " stalled: no message or pong for " +
                   std::to_string(options_.idle_timeout_ms) + " ms",
               When::kNow, LetGo::kKill);
      } else if (now >= ping_at) {
        if (!c->ping_sent && c->wsi != nullptr) {
          c->ping_sent = true;
          c->ping_wanted = true;
          lws_callback_on_writable(c->wsi);
        }
        next = std::min(next, hang_up);
      } else {
        next = std::min(next, ping_at);
      }
    }
  }
  if (next != kNever) ArmTimer(next);
}

void LwsTransport::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  std::vector<std::shared_ptr<ConnState>> all;
  for (auto& [ptr, c] : live_) all.push_back(c);
  for (auto& c : all) {
    if (c->transport == nullptr) continue;
    if (c->wsi != nullptr) {
      lws_set_opaque_user_data(c->wsi, nullptr);  // the context's teardown closes it
      c->wsi = nullptr;
    }
    if (c->close_pending) {
      DeliverClose(*c);
    } else {
      Finish(*c, "transport shut down", When::kNow, LetGo::kKill);
    }
  }
  live_.clear();
  if (timer_ != nullptr) {
    uv_timer_stop(timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer_ = nullptr;
  }
  if (context_ != nullptr) {
    auto* r = new Reaper;
    r->context = context_;
    r->idle.data = r;
    uv_idle_init(loop_, &r->idle);
    uv_idle_start(&r->idle, ReaperStep);
    context_ = nullptr;
  }
}

}  // namespace

Result<std::unique_ptr<Transport>> NewLwsTransport(uv_loop_s* loop, TransportOptions options) {
  if (loop == nullptr) return Status::InvalidArgument("NewLwsTransport: no libuv loop");
  if (options.connect_timeout_ms <= 0) {
    return Status::InvalidArgument("transport: connect_timeout_ms must be > 0");
  }
  if (options.idle_timeout_ms < 0) {
    return Status::InvalidArgument("transport: idle_timeout_ms must be >= 0");
  }
  auto t = std::make_unique<LwsTransport>(loop, options);
  if (Status s = t->Init(); !s.ok()) return s;
  return std::unique_ptr<Transport>(std::move(t));
}

}  // namespace vaultd::daemon
