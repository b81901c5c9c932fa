// WebSocket URLs: the relay address in vaultd.yaml and the per-room URL the
// transport connects to (`ws[s]://host[:port][/prefix]/<room>[?token=...]`).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "vaultd/common/status.h"

namespace vaultd::daemon {

struct WsUrl {
  bool tls = false;   // wss://
  std::string host;   // without brackets for an IPv6 literal
  uint16_t port = 0;  // 80 / 443 when the URL names none
  std::string path;   // from the first '/' on, query included; "/" when empty
};

// Accepts ws:// and wss:// with a host, an optional port (1..65535), an
// optional path and query. Rejects other schemes, user info ("user@"), a
// fragment ('#'), whitespace and control characters, with a message that
// quotes the URL.
Result<WsUrl> ParseWsUrl(std::string_view url);

// The URL of one room: the relay URL (no query, no fragment; a trailing '/'
// is dropped), '/', the room name, and `?token=<token>` when `token` is not
// empty. Characters outside URL paths/queries are percent-encoded (the room
// name keeps '/', so nested room names stay readable to the relay, which
// uses the raw path as the document name, as y-websocket clients do).
Result<std::string> RoomUrl(std::string_view relay_url, std::string_view room,
                            std::string_view token);

}  // namespace vaultd::daemon
