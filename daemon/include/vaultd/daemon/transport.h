// The transport: one binary WebSocket connection per room to the relay.
//
// It knows nothing of Yjs: it opens `url`, delivers whole binary messages,
// sends whole binary messages in order, and reports when the connection
// opened and when it ended (with why). Reconnecting is the room's decision
// (see RoomSession); a Connection that closed stays closed.
//
// NewLwsTransport runs libwebsockets on the daemon's own libuv loop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "vaultd/common/status.h"

struct uv_loop_s;

namespace vaultd::daemon {

struct ConnectionCallbacks {
  std::function<void()> on_open;
  std::function<void(std::span<const uint8_t> message)> on_message;
  // Called once, when the connection failed to open or ended (also after
  // Close()). `reason` is for logs and `vaultd status`.
  std::function<void(const std::string& reason)> on_close;
};

class Connection {
 public:
  virtual ~Connection() = default;  // closes without calling on_close
  // Queues one binary message; fails when the connection is not open.
  virtual Status Send(std::span<const uint8_t> message) = 0;
  virtual bool is_open() const = 0;
  // Bytes queued but not yet written to the socket.
  virtual uint64_t queued_bytes() const = 0;
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
  // `url`: ws://host[:port]/path[?query] or wss://... . Callbacks run on the loop thread.
  virtual Result<std::unique_ptr<Connection>> Connect(const std::string& url,
                                                      ConnectionCallbacks callbacks) = 0;
  // Stops every connection and releases the library's hold on the loop.
  virtual void Shutdown() = 0;
};

Result<std::unique_ptr<Transport>> NewLwsTransport(uv_loop_s* loop, TransportOptions options = {});

}  // namespace vaultd::daemon
