// The transport: one binary WebSocket connection per room to the relay.
//
// It knows nothing of Yjs: it opens `url`, delivers whole binary messages,
// sends whole binary messages in order, and reports when the connection
// opened and when it ended (with why). Reconnecting is the room's decision
// (see RoomSession); a Connection that closed stays closed.
//
// NewLwsTransport runs libwebsockets on the daemon's own libuv loop. URL
// form, timeouts and limits: docs/daemon-transport.md.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "vaultd/common/status.h"

struct uv_loop_s;

namespace vaultd::daemon {

// Callbacks run on the loop thread, never from inside Transport::Connect or
// Connection::Close, and never after the Connection was destroyed.
struct ConnectionCallbacks {
  std::function<void()> on_open;
  // One whole binary message (fragments already joined); text messages are dropped.
  std::function<void(std::span<const uint8_t> message)> on_message;
  // Called exactly once per connection: it failed to open, ended, was closed
  // with Close(), or the transport shut down. `reason` is for logs and
  // `vaultd status` ("cannot connect to 10.0.0.5:1234: connection refused").
  std::function<void(const std::string& reason)> on_close;
};

class Connection {
 public:
  // Closes without calling on_close; safe from inside any of its callbacks.
  virtual ~Connection() = default;
  // Queues one binary message; fails when the connection is not open.
  // Messages go out whole and in order.
  virtual Status Send(std::span<const uint8_t> message) = 0;
  virtual bool is_open() const = 0;
  // Bytes queued but not yet written to the socket.
  virtual uint64_t queued_bytes() const = 0;
  // Ends the connection (a normal WebSocket close); on_close follows on a
  // later loop turn. No-op when already closed.
  virtual void Close() = 0;
};

struct TransportOptions {
  int connect_timeout_ms = 10000;
  // A connection with no message and no pong for this long is closed
  // (a relay that accepted and then stalled). 0 = never.
  int idle_timeout_ms = 60000;
  uint64_t max_message_bytes = 64ull << 20;  // larger incoming messages close the connection
};

class Transport {
 public:
  virtual ~Transport() = default;
  // `url`: ws://host[:port]/path[?query] or wss://... (see ParseWsUrl); a
  // malformed URL or a shut-down transport is an error here, anything that
  // goes wrong later is an on_close.
  virtual Result<std::unique_ptr<Connection>> Connect(const std::string& url,
                                                      ConnectionCallbacks callbacks) = 0;
  // Ends every connection (on_close "transport shut down" for each one still
  // open), then lets go of the loop: once the loop has run until it has no
  // more work (uv_run returns), nothing of the transport is left, even when
  // the Transport object was destroyed before. Connect fails afterwards.
  // The destructor calls it.
  virtual void Shutdown() = 0;
};

Result<std::unique_ptr<Transport>> NewLwsTransport(uv_loop_s* loop, TransportOptions options = {});

}  // namespace vaultd::daemon
